//! Label selectors (the full Kubernetes grammar) and field selectors.
//!
//! Label grammar: `k=v`, `k==v`, `k!=v`, `k in (a,b)`, `k notin (a,b)`, `k`, `!k`, comma-joined;
//! also `metav1.LabelSelector` (`matchLabels` + `matchExpressions` with In/NotIn/Exists/
//! DoesNotExist). Field grammar: `f=v`, `f==v`, `f!=v`, comma-joined, over `metadata.name`,
//! `metadata.namespace` and the kind's selectable fields.

use std::fmt;

use serde_json::Value;

use crate::registry::SelectableField;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SelectorError {
    /// Worded like apimachinery's parser errors; reported as 400 BadRequest.
    #[error("unable to parse requirement: {0}")]
    Parse(String),
    /// `field label not supported: <name>`; reported as 400 BadRequest.
    #[error("field label not supported: {0}")]
    UnsupportedField(String),
}

/// A parsed label selector; empty matches everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LabelSelector {
    _private: (),
}

impl LabelSelector {
    /// Parses the string form used in `?labelSelector=`.
    pub fn parse(s: &str) -> Result<Self, SelectorError> {
        let _ = s;
        todo!("LabelSelector::parse")
    }
    /// Builds one from a `metav1.LabelSelector` JSON object.
    pub fn from_json(selector: &Value) -> Result<Self, SelectorError> {
        let _ = selector;
        todo!("LabelSelector::from_json")
    }
    pub fn is_empty(&self) -> bool {
        todo!()
    }
    /// Whether an object's `metadata.labels` satisfy the selector.
    pub fn matches(&self, object: &Value) -> bool {
        let _ = object;
        todo!()
    }
}

/// The canonical string form (as apimachinery's `Selector.String()`: requirements sorted by key).
impl fmt::Display for LabelSelector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let _ = f;
        todo!()
    }
}

/// A parsed field selector; empty matches everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldSelector {
    _private: (),
}

impl FieldSelector {
    /// Parses `?fieldSelector=`, rejecting fields not in `metadata.name`, `metadata.namespace`
    /// or `allowed`.
    pub fn parse(s: &str, allowed: &[SelectableField]) -> Result<Self, SelectorError> {
        let _ = (s, allowed);
        todo!()
    }
    pub fn is_empty(&self) -> bool {
        todo!()
    }
    /// The value required for `metadata.name`, if the selector pins one (lets a list read one key).
    pub fn exact_name(&self) -> Option<&str> {
        todo!()
    }
    pub fn matches(&self, object: &Value) -> bool {
        let _ = object;
        todo!()
    }
}
