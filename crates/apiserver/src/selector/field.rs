//! Field selectors: apimachinery's `fields.ParseSelector` grammar (`f=v`, `f==v`, `f!=v`,
//! comma-joined, `\` escapes `\`, `,` and `=` in values) over a fixed set of fields.

use std::fmt;

use serde_json::Value;

use super::SelectorError;
use crate::registry::SelectableField;

/// One `field=value` or `field!=value` term.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldTerm {
    /// The field as written in the selector, e.g. `spec.nodeName`.
    pub field: String,
    /// The dotted path read from the object (usually the same as `field`).
    pub path: String,
    /// The unescaped value.
    pub value: String,
    /// `true` for `!=`.
    pub negated: bool,
    /// Further values the server counts as `value` (see [`FieldSelector::widen`]); empty for
    /// a parsed selector.
    pub alternatives: Vec<String>,
}

impl FieldTerm {
    fn matches(&self, object: &Value) -> bool {
        let actual = field_string(object, &self.path);
        (actual == self.value || self.alternatives.contains(&actual)) != self.negated
    }
}

/// A parsed field selector; empty matches everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldSelector {
    /// In the order apimachinery keeps them (terms sorted as strings before parsing).
    terms: Vec<FieldTerm>,
}

impl FieldSelector {
    /// Parses `?fieldSelector=`, rejecting fields not in `metadata.name`, `metadata.namespace`
    /// or `allowed`.
    pub fn parse(s: &str, allowed: &[SelectableField]) -> Result<Self, SelectorError> {
        let mut parts = split_terms(s);
        parts.sort();
        let mut terms = Vec::new();
        for part in parts.iter().filter(|p| !p.is_empty()) {
            let Some((field, op, raw)) = split_term(part) else {
                return Err(SelectorError::Parse(format!(
                    "invalid selector: '{s}'; can't understand '{part}'"
                )));
            };
            let value = unescape(raw)?;
            let path = match field {
                "metadata.name" | "metadata.namespace" => field.to_string(),
                _ => allowed
                    .iter()
                    .find(|f| f.name == field)
                    .map(|f| f.path.trim_start_matches('.').to_string())
                    .ok_or_else(|| SelectorError::UnsupportedField(field.to_string()))?,
            };
            terms.push(FieldTerm {
                field: field.to_string(),
                path,
                value,
                negated: op == "!=",
                alternatives: Vec::new(),
            });
        }
        Ok(FieldSelector { terms })
    }

    pub fn is_empty(&self) -> bool {
        self.terms.is_empty()
    }

    pub fn terms(&self) -> &[FieldTerm] {
        &self.terms
    }

    /// Makes the terms on `field` also accept the values `alternatives_of(value)` gives for
    /// their value: `field=v` then holds where the field is `v` or one of those, and
    /// `field!=v` where it is none of them. The canonical form is unchanged.
    pub fn widen(&mut self, field: &str, alternatives_of: impl Fn(&str) -> Vec<String>) {
        for t in self.terms.iter_mut().filter(|t| t.field == field) {
            for alt in alternatives_of(&t.value) {
                if alt != t.value && !t.alternatives.contains(&alt) {
                    t.alternatives.push(alt);
                }
            }
        }
    }

    /// The value required for `metadata.name`, if the selector pins one (lets a list read one key).
    pub fn exact_name(&self) -> Option<&str> {
        self.terms
            .iter()
            .find(|t| t.field == "metadata.name" && !t.negated)
            .map(|t| t.value.as_str())
    }

    /// Whether every term holds: the object's value at the term's path, as a string (numbers
    /// and booleans stringified, a missing field or `null` as `""`), equals (or for `!=`
    /// differs from) the term's value.
    pub fn matches(&self, object: &Value) -> bool {
        self.terms.iter().all(|t| t.matches(object))
    }
}

/// The canonical form: terms in parsed order, `==` written as `=`, values escaped.
impl fmt::Display for FieldSelector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, t) in self.terms.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            let op = if t.negated { "!=" } else { "=" };
            write!(f, "{}{op}{}", t.field, escape(&t.value))?;
        }
        Ok(())
    }
}

/// The value at a dotted path as a field selector compares it.
fn field_string(object: &Value, path: &str) -> String {
    let mut cur = object;
    for part in path.split('.').filter(|p| !p.is_empty()) {
        match cur.get(part) {
            Some(v) => cur = v,
            None => return String::new(),
        }
    }
    match cur {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        other => other.to_string(),
    }
}

/// Splits on commas not preceded by an escaping backslash.
fn split_terms(s: &str) -> Vec<&str> {
    if s.is_empty() {
        return Vec::new();
    }
    let mut terms = Vec::new();
    let mut start = 0;
    let mut in_slash = false;
    for (i, c) in s.char_indices() {
        if in_slash {
            in_slash = false;
        } else if c == '\\' {
            in_slash = true;
        } else if c == ',' {
            terms.push(&s[start..i]);
            start = i + 1;
        }
    }
    terms.push(&s[start..]);
    terms
}

/// Splits a term at its first operator (`!=`, `==`, `=`, tried in that order at each position).
fn split_term(term: &str) -> Option<(&str, &'static str, &str)> {
    for (i, _) in term.char_indices() {
        let rest = &term[i..];
        for op in ["!=", "==", "="] {
            if rest.starts_with(op) {
                return Some((&term[..i], op, &term[i + op.len()..]));
            }
        }
    }
    None
}

/// apimachinery's `EscapeValue`.
pub fn escape(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for c in v.chars() {
        if matches!(c, '\\' | ',' | '=') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// apimachinery's `UnescapeValue`: only `\\`, `\,` and `\=` are escapes, and bare `,`/`=` are
/// errors.
fn unescape(s: &str) -> Result<String, SelectorError> {
    let mut out = String::with_capacity(s.len());
    let mut in_slash = false;
    for c in s.chars() {
        if in_slash {
            if !matches!(c, '\\' | ',' | '=') {
                return Err(SelectorError::Parse(format!(
                    "invalid field selector: invalid escape sequence: \\{c}"
                )));
            }
            out.push(c);
            in_slash = false;
            continue;
        }
        match c {
            '\\' => in_slash = true,
            ',' | '=' => {
                return Err(SelectorError::Parse(format!(
                    "invalid field selector: unescaped character in value: {}",
                    c as u32
                )));
            }
            _ => out.push(c),
        }
    }
    if in_slash {
        return Err(SelectorError::Parse(
            "invalid field selector: invalid escape sequence: \\".to_string(),
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde_json::json;

    use super::*;

    fn allowed() -> Vec<SelectableField> {
        vec![
            SelectableField::same("spec.nodeName"),
            SelectableField::same("status.phase"),
            SelectableField {
                name: "involvedObject.uid".into(),
                path: ".involvedObject.uid".into(),
            },
            SelectableField::same("spec.replicas"),
            SelectableField::same("spec.unschedulable"),
        ]
    }

    fn pod() -> Value {
        json!({
            "metadata": {"name": "p1", "namespace": "ns"},
            "spec": {"nodeName": "node-a", "replicas": 3, "unschedulable": false},
            "status": {"phase": "Running"},
            "involvedObject": {"uid": "u-1"}
        })
    }

    fn matches(s: &str) -> bool {
        FieldSelector::parse(s, &allowed()).unwrap().matches(&pod())
    }

    #[test]
    fn equality_and_inequality_terms_match() {
        assert!(matches(""));
        assert!(matches("metadata.name=p1"));
        assert!(matches("metadata.name==p1"));
        assert!(matches("metadata.namespace!=other"));
        assert!(matches("metadata.name=p1,status.phase=Running"));
        assert!(matches("involvedObject.uid=u-1"));
        assert!(!matches("metadata.name=p2"));
        assert!(!matches("metadata.name=p1,status.phase!=Running"));
    }

    #[test]
    fn numbers_and_booleans_compare_as_strings_and_missing_is_empty() {
        assert!(matches("spec.replicas=3"));
        assert!(matches("spec.unschedulable=false"));
        let no_node = json!({"metadata": {"name": "p"}});
        let sel = FieldSelector::parse("spec.nodeName=", &allowed()).unwrap();
        assert!(sel.matches(&no_node));
        assert!(!sel.matches(&pod()));
        assert!(
            FieldSelector::parse("spec.nodeName!=", &allowed())
                .unwrap()
                .matches(&pod())
        );
    }

    #[test]
    fn unknown_fields_are_unsupported() {
        let e = FieldSelector::parse("spec.foo=x", &allowed()).unwrap_err();
        assert_eq!(e, SelectorError::UnsupportedField("spec.foo".into()));
        assert_eq!(e.to_string(), "field label not supported: spec.foo");
    }

    #[test]
    fn malformed_terms_and_escapes_are_errors() {
        assert_eq!(
            FieldSelector::parse("metadata.name", &allowed())
                .unwrap_err()
                .to_string(),
            "invalid selector: 'metadata.name'; can't understand 'metadata.name'"
        );
        assert_eq!(
            FieldSelector::parse("metadata.name=a\\b", &allowed())
                .unwrap_err()
                .to_string(),
            "invalid field selector: invalid escape sequence: \\b"
        );
        assert!(FieldSelector::parse("metadata.name=a=b", &allowed()).is_err());
        assert!(FieldSelector::parse("metadata.name=a\\", &allowed()).is_err());
    }

    #[test]
    fn escaped_values_unescape_and_print_back() {
        let sel = FieldSelector::parse("metadata.name=a\\,b\\=c\\\\d", &allowed()).unwrap();
        assert_eq!(sel.exact_name(), Some("a,b=c\\d"));
        assert_eq!(sel.to_string(), "metadata.name=a\\,b\\=c\\\\d");
        assert!(sel.matches(&json!({"metadata": {"name": "a,b=c\\d"}})));
    }

    #[test]
    fn exact_name_only_for_positive_name_terms() {
        let p = |s| FieldSelector::parse(s, &allowed()).unwrap();
        assert_eq!(
            p("metadata.namespace=ns,metadata.name==x").exact_name(),
            Some("x")
        );
        assert_eq!(p("metadata.name!=x").exact_name(), None);
        assert_eq!(p("status.phase=Running").exact_name(), None);
        assert!(p("").is_empty());
        assert!(!p("metadata.name=x").is_empty());
    }

    #[test]
    fn widened_terms_accept_the_alternative_values() {
        let alternatives = |v: &str| {
            if v == "node-old" {
                vec!["node-a".to_string()]
            } else {
                vec![]
            }
        };
        let mut sel = FieldSelector::parse("spec.nodeName=node-old", &allowed()).unwrap();
        assert!(!sel.matches(&pod()));
        sel.widen("spec.nodeName", alternatives);
        assert!(sel.matches(&pod()));
        assert!(sel.matches(&json!({"spec": {"nodeName": "node-old"}})));
        assert!(!sel.matches(&json!({"spec": {"nodeName": "node-b"}})));
        assert_eq!(sel.to_string(), "spec.nodeName=node-old");

        let mut negated = FieldSelector::parse("spec.nodeName!=node-old", &allowed()).unwrap();
        negated.widen("spec.nodeName", alternatives);
        assert!(!negated.matches(&pod()));
        assert!(negated.matches(&json!({"spec": {"nodeName": "node-b"}})));

        let mut other = FieldSelector::parse("status.phase=node-old", &allowed()).unwrap();
        other.widen("spec.nodeName", alternatives);
        assert!(!other.matches(&json!({"status": {"phase": "node-a"}})));
    }

    #[test]
    fn terms_are_kept_in_sorted_order() {
        let sel =
            FieldSelector::parse("status.phase=Running,metadata.name==x", &allowed()).unwrap();
        assert_eq!(sel.to_string(), "metadata.name=x,status.phase=Running");
    }

    proptest! {
        #[test]
        fn display_round_trips_through_parse(
            terms in prop::collection::vec(
                (prop::sample::select(vec!["metadata.name", "metadata.namespace", "status.phase"]),
                 any::<bool>(), "[a-z,=\\\\ -]{0,8}"),
                0..4)
        ) {
            let input = terms
                .iter()
                .map(|(f, neg, v)| format!("{f}{}{}", if *neg { "!=" } else { "=" }, escape(v)))
                .collect::<Vec<_>>()
                .join(",");
            let sel = FieldSelector::parse(&input, &allowed()).unwrap();
            let again = FieldSelector::parse(&sel.to_string(), &allowed()).unwrap();
            prop_assert_eq!(again, sel);
        }
    }
}
