//! Label selectors (the full Kubernetes grammar) and field selectors.
//!
//! Label grammar: `k=v`, `k==v`, `k!=v`, `k in (a,b)`, `k notin (a,b)`, `k`, `!k`, `k>n`,
//! `k<n`, comma-joined, whitespace-tolerant; also `metav1.LabelSelector` (`matchLabels` +
//! `matchExpressions` with In/NotIn/Exists/DoesNotExist). Field grammar: `f=v`, `f==v`,
//! `f!=v`, comma-joined, over `metadata.name`, `metadata.namespace` and the kind's selectable
//! fields. Parsing, matching, error wording and the canonical string forms follow
//! apimachinery's `labels` and `fields` packages.

mod field;
mod label;
mod parser;
mod validation;

pub use field::{FieldSelector, FieldTerm, escape as escape_field_value};
pub use label::{LabelSelector, Operator, Requirement};
pub use validation::{label_value_errors, qualified_name_errors};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SelectorError {
    /// Worded like apimachinery's parser errors (e.g. `unable to parse requirement: …` or
    /// `invalid selector: 'x'; can't understand 'x'`); reported as 400 BadRequest.
    #[error("{0}")]
    Parse(String),
    /// `field label not supported: <name>`; reported as 400 BadRequest.
    #[error("field label not supported: {0}")]
    UnsupportedField(String),
}
