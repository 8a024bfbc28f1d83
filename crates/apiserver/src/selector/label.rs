//! Label selectors: the string grammar of apimachinery's `labels.Parse` and the structured
//! `metav1.LabelSelector`.

use std::collections::BTreeMap;
use std::fmt;

use serde_json::{Map, Value};

use super::SelectorError;
use super::validation::{invalid, label_value_errors, qualified_name_errors};

/// The operator of one requirement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operator {
    /// `k=v`
    Equals,
    /// `k==v` (kept apart from `=` so the string form round-trips)
    DoubleEquals,
    /// `k!=v`
    NotEquals,
    /// `k in (a,b)`
    In,
    /// `k notin (a,b)`
    NotIn,
    /// `k`
    Exists,
    /// `!k`
    DoesNotExist,
    /// `k>5` (integers only)
    GreaterThan,
    /// `k<5` (integers only)
    LessThan,
}

/// One `key operator values` term; a selector is the conjunction of its requirements.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requirement {
    key: String,
    operator: Operator,
    /// Sorted and de-duplicated.
    values: Vec<String>,
}

impl Requirement {
    /// Builds a requirement with apimachinery's `NewRequirement` checks. `key_path` names the
    /// key in error messages (`<nil>` for the string parser, `key` for structured selectors).
    pub fn new(
        key: &str,
        operator: Operator,
        values: Vec<String>,
        key_path: &str,
    ) -> Result<Requirement, SelectorError> {
        let mut errs = Vec::new();
        let key_errs = qualified_name_errors(key);
        if !key_errs.is_empty() {
            errs.push(invalid(key_path, key, &key_errs));
        }
        let mut values = values;
        values.sort();
        values.dedup();
        let quoted: Vec<String> = values.iter().map(|v| format!("{v:?}")).collect();
        let values_err = |detail: &str| {
            format!(
                "values: Invalid value: []string{{{}}}: {detail}",
                quoted.join(", ")
            )
        };
        match operator {
            Operator::In | Operator::NotIn if values.is_empty() => errs.push(values_err(
                "for 'in', 'notin' operators, values set can't be empty",
            )),
            Operator::Equals | Operator::DoubleEquals | Operator::NotEquals
                if values.len() != 1 =>
            {
                errs.push(values_err(
                    "exact-match compatibility requires one single value",
                ))
            }
            Operator::Exists | Operator::DoesNotExist if !values.is_empty() => errs.push(
                values_err("values set must be empty for exists and does not exist"),
            ),
            Operator::GreaterThan | Operator::LessThan => {
                if values.len() != 1 {
                    errs.push(values_err(
                        "for 'Gt', 'Lt' operators, exactly one value is required",
                    ));
                }
                for (i, v) in values.iter().enumerate() {
                    if v.parse::<i64>().is_err() {
                        errs.push(invalid(
                            &format!("values[{i}]"),
                            v,
                            &[
                                "for 'Gt', 'Lt' operators, the value must be an integer"
                                    .to_string(),
                            ],
                        ));
                    }
                }
            }
            _ => {}
        }
        for (i, v) in values.iter().enumerate() {
            let value_errs = label_value_errors(v);
            if !value_errs.is_empty() {
                errs.push(invalid(&format!("values[{i}][{key}]"), v, &value_errs));
            }
        }
        match errs.len() {
            0 => Ok(Requirement {
                key: key.to_string(),
                operator,
                values,
            }),
            1 => Err(SelectorError::Parse(errs.remove(0))),
            _ => Err(SelectorError::Parse(format!("[{}]", errs.join(", ")))),
        }
    }

    pub fn key(&self) -> &str {
        &self.key
    }

    pub fn operator(&self) -> Operator {
        self.operator
    }

    /// The values, sorted.
    pub fn values(&self) -> &[String] {
        &self.values
    }

    /// Whether a label set satisfies this requirement (apimachinery's `Requirement.Matches`).
    pub fn matches<'a>(&self, get: impl Fn(&str) -> Option<&'a str>) -> bool {
        let has = |v: &str| self.values.iter().any(|x| x == v);
        match self.operator {
            Operator::Equals | Operator::DoubleEquals | Operator::In => {
                get(&self.key).is_some_and(has)
            }
            Operator::NotEquals | Operator::NotIn => !get(&self.key).is_some_and(has),
            Operator::Exists => get(&self.key).is_some(),
            Operator::DoesNotExist => get(&self.key).is_none(),
            Operator::GreaterThan | Operator::LessThan => {
                let Some(actual) = get(&self.key).and_then(|v| v.parse::<i64>().ok()) else {
                    return false;
                };
                let Some(bound) = self.values.first().and_then(|v| v.parse::<i64>().ok()) else {
                    return false;
                };
                if self.operator == Operator::GreaterThan {
                    actual > bound
                } else {
                    actual < bound
                }
            }
        }
    }
}

impl fmt::Display for Requirement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let values = self.values.join(",");
        match self.operator {
            Operator::Exists => write!(f, "{}", self.key),
            Operator::DoesNotExist => write!(f, "!{}", self.key),
            Operator::Equals => write!(f, "{}={values}", self.key),
            Operator::DoubleEquals => write!(f, "{}=={values}", self.key),
            Operator::NotEquals => write!(f, "{}!={values}", self.key),
            Operator::In => write!(f, "{} in ({values})", self.key),
            Operator::NotIn => write!(f, "{} notin ({values})", self.key),
            Operator::GreaterThan => write!(f, "{}>{values}", self.key),
            Operator::LessThan => write!(f, "{}<{values}", self.key),
        }
    }
}

/// A parsed label selector. The default (no requirements) matches everything; the selector
/// built from a JSON `null` matches nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LabelSelector {
    /// Sorted by key (stable for equal keys).
    requirements: Vec<Requirement>,
    nothing: bool,
}

impl LabelSelector {
    /// Parses the string form used in `?labelSelector=`, with apimachinery's error wording.
    pub fn parse(s: &str) -> Result<Self, SelectorError> {
        let requirements = super::parser::parse(s)?;
        Ok(Self::from_requirements(requirements))
    }

    /// Builds one from a `metav1.LabelSelector` JSON object (`null` matches nothing, `{}`
    /// matches everything).
    pub fn from_json(selector: &Value) -> Result<Self, SelectorError> {
        let obj = match selector {
            Value::Null => {
                return Ok(LabelSelector {
                    requirements: Vec::new(),
                    nothing: true,
                });
            }
            Value::Object(o) => o,
            other => {
                return Err(SelectorError::Parse(format!(
                    "invalid label selector: {other}"
                )));
            }
        };
        let mut requirements = Vec::new();
        match obj.get("matchLabels") {
            None | Some(Value::Null) => {}
            Some(Value::Object(labels)) => {
                for (k, v) in labels {
                    let v = v.as_str().ok_or_else(|| {
                        SelectorError::Parse(format!(
                            "matchLabels: value of {k:?} must be a string"
                        ))
                    })?;
                    requirements.push(Requirement::new(
                        k,
                        Operator::Equals,
                        vec![v.to_string()],
                        "key",
                    )?);
                }
            }
            Some(_) => return Err(SelectorError::Parse("matchLabels must be an object".into())),
        }
        match obj.get("matchExpressions") {
            None | Some(Value::Null) => {}
            Some(Value::Array(exprs)) => {
                for e in exprs {
                    requirements.push(expression(e)?);
                }
            }
            Some(_) => {
                return Err(SelectorError::Parse(
                    "matchExpressions must be a list".into(),
                ));
            }
        }
        Ok(Self::from_requirements(requirements))
    }

    /// A selector from requirements (sorted by key here).
    pub fn from_requirements(mut requirements: Vec<Requirement>) -> Self {
        requirements.sort_by(|a, b| a.key.cmp(&b.key));
        LabelSelector {
            requirements,
            nothing: false,
        }
    }

    /// `k1=v1,k2=v2` for every label of the map.
    pub fn from_labels(labels: &BTreeMap<String, String>) -> Result<Self, SelectorError> {
        let reqs = labels
            .iter()
            .map(|(k, v)| Requirement::new(k, Operator::Equals, vec![v.clone()], "key"))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self::from_requirements(reqs))
    }

    /// Whether the selector matches everything.
    pub fn is_empty(&self) -> bool {
        !self.nothing && self.requirements.is_empty()
    }

    /// Whether the selector matches nothing (built from a `null` structured selector).
    pub fn is_nothing(&self) -> bool {
        self.nothing
    }

    pub fn requirements(&self) -> &[Requirement] {
        &self.requirements
    }

    /// Whether an object's `metadata.labels` satisfy the selector (missing labels count as
    /// an empty set).
    pub fn matches(&self, object: &Value) -> bool {
        static EMPTY: std::sync::OnceLock<Map<String, Value>> = std::sync::OnceLock::new();
        let labels = object
            .pointer("/metadata/labels")
            .and_then(Value::as_object)
            .unwrap_or_else(|| EMPTY.get_or_init(Map::new));
        self.matches_map(labels)
    }

    /// Whether a JSON label map satisfies the selector (non-string values count as absent).
    pub fn matches_map(&self, labels: &Map<String, Value>) -> bool {
        !self.nothing
            && self
                .requirements
                .iter()
                .all(|r| r.matches(|k| labels.get(k).and_then(Value::as_str)))
    }

    /// Whether a label map satisfies the selector.
    pub fn matches_labels(&self, labels: &BTreeMap<String, String>) -> bool {
        !self.nothing
            && self
                .requirements
                .iter()
                .all(|r| r.matches(|k| labels.get(k).map(String::as_str)))
    }
}

/// The canonical string form (apimachinery's `Selector.String()`: requirements sorted by key,
/// set values sorted, joined by `,`).
impl fmt::Display for LabelSelector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, r) in self.requirements.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{r}")?;
        }
        Ok(())
    }
}

fn expression(e: &Value) -> Result<Requirement, SelectorError> {
    let key = e.get("key").and_then(Value::as_str).unwrap_or_default();
    let op = e
        .get("operator")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let operator = match op {
        "In" => Operator::In,
        "NotIn" => Operator::NotIn,
        "Exists" => Operator::Exists,
        "DoesNotExist" => Operator::DoesNotExist,
        other => {
            return Err(SelectorError::Parse(format!(
                "{other:?} is not a valid label selector operator"
            )));
        }
    };
    let values = match e.get("values") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(vs)) => vs
            .iter()
            .map(|v| v.as_str().map(String::from))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| {
                SelectorError::Parse("matchExpressions values must be strings".into())
            })?,
        Some(_) => {
            return Err(SelectorError::Parse(
                "matchExpressions values must be a list".into(),
            ));
        }
    };
    Requirement::new(key, operator, values, "key")
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde_json::json;

    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> Value {
        let m: Map<String, Value> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), json!(v)))
            .collect();
        json!({"metadata": {"labels": m}})
    }

    fn parse_err(s: &str) -> String {
        LabelSelector::parse(s).unwrap_err().to_string()
    }

    #[test]
    fn every_operator_parses_and_prints_canonically() {
        let cases = [
            ("app=web", "app=web"),
            ("app==web", "app==web"),
            ("app!=web", "app!=web"),
            ("app in (b,a)", "app in (a,b)"),
            ("app notin (x)", "app notin (x)"),
            ("app", "app"),
            ("!app", "!app"),
            ("n>5", "n>5"),
            ("n<5", "n<5"),
            ("tier!=x,app in (b, a)", "app in (a,b),tier!=x"),
            ("  a = b ,  c  ", "a=b,c"),
            ("a=", "a="),
            ("a in (b,,c)", "a in (,b,c)"),
            ("a in ()", "a in ()"),
            (
                "kubevirt.io/vm=x,app.kubernetes.io/name in (in,notin)",
                "app.kubernetes.io/name in (in,notin),kubevirt.io/vm=x",
            ),
            ("", ""),
        ];
        for (input, canonical) in cases {
            let sel = LabelSelector::parse(input).unwrap_or_else(|e| panic!("{input}: {e}"));
            assert_eq!(sel.to_string(), canonical, "{input}");
        }
    }

    #[test]
    fn matching_follows_apimachinery_semantics() {
        let obj = labels(&[("app", "web"), ("tier", "front"), ("n", "7")]);
        let yes = [
            "",
            "app=web",
            "app==web",
            "app!=db",
            "missing!=x",
            "app in (db,web)",
            "missing notin (x)",
            "app notin (db)",
            "app",
            "!missing",
            "n>5",
            "n<8",
            "app=web,tier=front",
        ];
        let no = [
            "app=db",
            "missing=x",
            "app!=web",
            "app in (db)",
            "missing in (x)",
            "app notin (web)",
            "missing",
            "!app",
            "n>7",
            "n<7",
            "tier>1",
            "app=web,tier=back",
        ];
        for s in yes {
            assert!(
                LabelSelector::parse(s).unwrap().matches(&obj),
                "{s} should match"
            );
        }
        for s in no {
            assert!(
                !LabelSelector::parse(s).unwrap().matches(&obj),
                "{s} should not match"
            );
        }
        assert!(
            LabelSelector::parse("!app")
                .unwrap()
                .matches(&json!({"metadata": {}}))
        );
    }

    #[test]
    fn syntax_errors_are_worded_like_apimachinery() {
        assert_eq!(
            parse_err("a b"),
            "unable to parse requirement: found 'b', expected: in, notin, =, ==, !=, gt, lt"
        );
        assert_eq!(
            parse_err("a=b,"),
            "found '', expected: identifier after ','"
        );
        assert_eq!(
            parse_err("a=b c"),
            "found 'c', expected: ',' or 'end of string'"
        );
        assert_eq!(
            parse_err(",a"),
            "found ',', expected: !, identifier, or 'end of string'"
        );
        assert_eq!(
            parse_err("a in b"),
            "unable to parse requirement: found 'b' expected: '('"
        );
        assert_eq!(
            parse_err("a in (b"),
            "unable to parse requirement: found '', expected: ',' or ')'"
        );
        assert_eq!(
            parse_err("a in (="),
            "unable to parse requirement: found '=', expected: ',', ')' or identifier"
        );
        assert_eq!(
            parse_err("!=a"),
            "found '!=', expected: !, identifier, or 'end of string'"
        );
        assert_eq!(
            parse_err("! =a"),
            "unable to parse requirement: found '=', expected: identifier"
        );
        assert_eq!(
            parse_err("!a=b"),
            "found '=', expected: ',' or 'end of string'"
        );
        assert_eq!(
            parse_err("a=(b)"),
            "unable to parse requirement: found '(', expected: identifier"
        );
        assert!(
            parse_err("n>x").contains("for 'Gt', 'Lt' operators, the value must be an integer")
        );
    }

    #[test]
    fn invalid_keys_and_values_are_rejected_with_paths() {
        let e = parse_err("app:monolith");
        assert!(
            e.starts_with("unable to parse requirement: <nil>: Invalid value: \"app:monolith\": name part must consist"),
            "{e}"
        );
        let long = "z".repeat(64);
        assert_eq!(
            parse_err(&format!("good-key={long}")),
            format!(
                "unable to parse requirement: values[0][good-key]: Invalid value: \"{long}\": must be no more than 63 characters"
            )
        );
        assert!(parse_err("a/b/c=x").contains("a qualified name must consist"));
    }

    #[test]
    fn structured_selectors_cover_labels_and_expressions() {
        let sel = LabelSelector::from_json(&json!({
            "matchLabels": {"tier": "x"},
            "matchExpressions": [
                {"key": "app", "operator": "In", "values": ["b", "a"]},
                {"key": "gone", "operator": "DoesNotExist"},
                {"key": "env", "operator": "NotIn", "values": ["prod"]},
                {"key": "z", "operator": "Exists"}
            ]
        }))
        .unwrap();
        assert_eq!(
            sel.to_string(),
            "app in (a,b),env notin (prod),!gone,tier=x,z"
        );
        assert!(sel.matches(&labels(&[("app", "a"), ("tier", "x"), ("z", "")])));
        assert!(!sel.matches(&labels(&[("app", "a"), ("tier", "x")])));
        assert!(LabelSelector::from_json(&json!({})).unwrap().is_empty());
        assert!(
            LabelSelector::from_json(&json!({}))
                .unwrap()
                .matches(&json!({}))
        );
    }

    #[test]
    fn null_structured_selector_matches_nothing() {
        let sel = LabelSelector::from_json(&Value::Null).unwrap();
        assert!(sel.is_nothing() && !sel.is_empty());
        assert!(!sel.matches(&labels(&[("a", "b")])));
    }

    #[test]
    fn bad_structured_selectors_are_errors() {
        let empty_in = LabelSelector::from_json(
            &json!({"matchExpressions": [{"key": "a", "operator": "In", "values": []}]}),
        );
        assert_eq!(
            empty_in.unwrap_err().to_string(),
            "values: Invalid value: []string{}: for 'in', 'notin' operators, values set can't be empty"
        );
        let missing = LabelSelector::from_json(
            &json!({"matchExpressions": [{"key": "a", "operator": "NotIn"}]}),
        );
        assert!(missing.is_err());
        let op = LabelSelector::from_json(
            &json!({"matchExpressions": [{"key": "a", "operator": "Gt", "values": ["1"]}]}),
        );
        assert_eq!(
            op.unwrap_err().to_string(),
            "\"Gt\" is not a valid label selector operator"
        );
        let exists_vals = LabelSelector::from_json(
            &json!({"matchExpressions": [{"key": "a", "operator": "Exists", "values": ["x"]}]}),
        );
        assert!(
            exists_vals
                .unwrap_err()
                .to_string()
                .contains("values set must be empty")
        );
        let bad_key = LabelSelector::from_json(&json!({"matchLabels": {"a b": "x"}}));
        assert!(
            bad_key
                .unwrap_err()
                .to_string()
                .starts_with("key: Invalid value: \"a b\"")
        );
    }

    #[test]
    fn label_maps_match_directly() {
        let sel = LabelSelector::parse("app=web,!x").unwrap();
        let mut m = BTreeMap::new();
        m.insert("app".to_string(), "web".to_string());
        assert!(sel.matches_labels(&m));
        m.insert("x".to_string(), "1".to_string());
        assert!(!sel.matches_labels(&m));
        let from = LabelSelector::from_labels(&m).unwrap();
        assert_eq!(from.to_string(), "app=web,x=1");
    }

    fn key() -> impl Strategy<Value = String> {
        prop_oneof![
            "[a-z][a-z0-9]{0,6}",
            "[a-z]{1,4}\\.[a-z]{2,3}/[A-Za-z][A-Za-z0-9_.-]{0,5}[a-z]",
        ]
        .prop_filter("keywords are not keys", |k| k != "in" && k != "notin")
    }

    fn value() -> impl Strategy<Value = String> {
        "([A-Za-z0-9]([A-Za-z0-9_.-]{0,6}[A-Za-z0-9])?)?"
    }

    fn requirement() -> impl Strategy<Value = String> {
        (
            key(),
            prop::sample::select(vec!["=", "==", "!=", " in ", " notin ", "", "!", ">"]),
            prop::collection::vec(value(), 1..4),
        )
            .prop_map(|(k, op, vs)| match op {
                "" => k,
                "!" => format!("!{k}"),
                ">" => format!("{k}>{}", vs.len()),
                // apimachinery cannot parse a trailing empty value (`(a,,)`), so the input lists
                // the values sorted, as the canonical form does.
                " in " | " notin " => {
                    let mut vs = vs;
                    vs.sort();
                    vs.dedup();
                    format!("{k}{op}({})", vs.join(","))
                }
                _ => format!("{k}{op}{}", vs[0]),
            })
    }

    proptest! {
        #[test]
        fn display_round_trips_through_parse(reqs in prop::collection::vec(requirement(), 0..5)) {
            let input = reqs.join(",");
            let sel = LabelSelector::parse(&input).unwrap();
            let printed = sel.to_string();
            let again = LabelSelector::parse(&printed).unwrap();
            prop_assert_eq!(&again, &sel);
            prop_assert_eq!(again.to_string(), printed);
        }

        #[test]
        fn parse_never_panics(s in "[a-z=!(), \\t<>/.]{0,20}") {
            let _ = LabelSelector::parse(&s);
        }

        #[test]
        fn equality_selector_from_labels_matches_them(m in prop::collection::btree_map(key(), value(), 0..5)) {
            let sel = LabelSelector::from_labels(&m).unwrap();
            prop_assert!(sel.matches_labels(&m));
            let reparsed = LabelSelector::parse(&sel.to_string()).unwrap();
            prop_assert!(reparsed.matches_labels(&m));
        }
    }
}
