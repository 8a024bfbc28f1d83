//! The JSONPath subset used by printer columns and scale paths (kubectl's dialect):
//! `.a.b`, `.a[0]`, `.a[-1]`, `.a[*].b`, `.a.*`, `['a.b']` (quoted keys, e.g. annotation keys
//! with dots), `[1:3]` slices and filters `.a[?(@.type=='Ready')].status` (`==`, `!=`, `<`,
//! `<=`, `>`, `>=` against string, number or boolean literals, or `[?(@.a)]` for presence),
//! with or without surrounding `{}` and a leading `$`.
//!
//! Not supported (they select nothing): recursive descent `..`, unions `[0,1]`, `range`/`end`
//! templates and functions. A path that does not parse selects nothing.

use std::cmp::Ordering;

use serde_json::Value;

/// All values `path` selects in `object` (empty when nothing matches).
pub fn select(path: &str, object: &Value) -> Vec<Value> {
    let Some(steps) = parse(path) else {
        return Vec::new();
    };
    let mut current = vec![object];
    for step in &steps {
        current = current.into_iter().flat_map(|v| step.apply(v)).collect();
        if current.is_empty() {
            break;
        }
    }
    current.into_iter().cloned().collect()
}

#[derive(Debug, Clone, PartialEq)]
enum Step {
    Field(String),
    Wildcard,
    Index(i64),
    Slice(Option<i64>, Option<i64>),
    Filter(Filter),
}

#[derive(Debug, Clone, PartialEq)]
struct Filter {
    /// The field names after `@`.
    path: Vec<String>,
    /// `None` tests presence.
    test: Option<(CmpOp, Value)>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl Step {
    fn apply<'a>(&self, v: &'a Value) -> Vec<&'a Value> {
        match (self, v) {
            (Step::Field(name), Value::Object(m)) => m.get(name).into_iter().collect(),
            (Step::Wildcard, Value::Array(a)) => a.iter().collect(),
            (Step::Wildcard, Value::Object(m)) => m.values().collect(),
            (Step::Index(i), Value::Array(a)) => {
                let idx = if *i < 0 { a.len() as i64 + i } else { *i };
                usize::try_from(idx)
                    .ok()
                    .and_then(|i| a.get(i))
                    .into_iter()
                    .collect()
            }
            (Step::Slice(start, end), Value::Array(a)) => {
                let len = a.len() as i64;
                let clamp = |x: i64| if x < 0 { (len + x).max(0) } else { x.min(len) };
                let s = clamp(start.unwrap_or(0)) as usize;
                let e = clamp(end.unwrap_or(len)) as usize;
                if s < e {
                    a[s..e].iter().collect()
                } else {
                    Vec::new()
                }
            }
            (Step::Filter(f), Value::Array(a)) => a.iter().filter(|item| f.holds(item)).collect(),
            (Step::Filter(f), Value::Object(m)) => {
                m.values().filter(|item| f.holds(item)).collect()
            }
            _ => Vec::new(),
        }
    }
}

impl Filter {
    fn holds(&self, item: &Value) -> bool {
        let mut cur = item;
        for p in &self.path {
            match cur.get(p) {
                Some(v) => cur = v,
                None => return false,
            }
        }
        let Some((op, lit)) = &self.test else {
            return true;
        };
        let ord = match (cur, lit) {
            (Value::Number(a), Value::Number(b)) => a
                .as_f64()
                .zip(b.as_f64())
                .and_then(|(a, b)| a.partial_cmp(&b)),
            (Value::String(a), Value::String(b)) => Some(a.cmp(b)),
            (a, b) if a == b => Some(Ordering::Equal),
            _ => None,
        };
        match op {
            CmpOp::Eq => ord == Some(Ordering::Equal),
            CmpOp::Ne => ord != Some(Ordering::Equal),
            CmpOp::Lt => ord == Some(Ordering::Less),
            CmpOp::Le => matches!(ord, Some(Ordering::Less | Ordering::Equal)),
            CmpOp::Gt => ord == Some(Ordering::Greater),
            CmpOp::Ge => matches!(ord, Some(Ordering::Greater | Ordering::Equal)),
        }
    }
}

fn parse(path: &str) -> Option<Vec<Step>> {
    let mut s = path.trim();
    if let Some(inner) = s.strip_prefix('{').and_then(|r| r.strip_suffix('}')) {
        s = inner.trim();
    }
    s = s.strip_prefix('$').unwrap_or(s);
    let chars: Vec<char> = s.chars().collect();
    let mut steps = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        match chars[i] {
            '.' => {
                i += 1;
                if chars.get(i) == Some(&'.') {
                    return None;
                }
                let start = i;
                while i < chars.len() && chars[i] != '.' && chars[i] != '[' {
                    i += 1;
                }
                let name: String = chars[start..i].iter().collect();
                match name.as_str() {
                    "" => {}
                    "*" => steps.push(Step::Wildcard),
                    _ => steps.push(Step::Field(name)),
                }
            }
            '[' => {
                let end = closing_bracket(&chars, i)?;
                let inner: String = chars[i + 1..end].iter().collect();
                steps.push(bracket(inner.trim())?);
                i = end + 1;
            }
            _ if steps.is_empty() && i == 0 => {
                // kubectl also accepts a path without the leading dot (`metadata.name`).
                let start = i;
                while i < chars.len() && chars[i] != '.' && chars[i] != '[' {
                    i += 1;
                }
                steps.push(Step::Field(chars[start..i].iter().collect()));
            }
            _ => return None,
        }
    }
    Some(steps)
}

/// The index of the `]` closing the `[` at `open`, skipping quoted strings and nested brackets.
fn closing_bracket(chars: &[char], open: usize) -> Option<usize> {
    let mut depth = 0;
    let mut quote: Option<char> = None;
    for (j, &c) in chars.iter().enumerate().skip(open) {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None => match c {
                '\'' | '"' => quote = Some(c),
                '[' => depth += 1,
                ']' => {
                    depth -= 1;
                    if depth == 0 {
                        return Some(j);
                    }
                }
                _ => {}
            },
        }
    }
    None
}

fn bracket(inner: &str) -> Option<Step> {
    if inner == "*" {
        return Some(Step::Wildcard);
    }
    if let Some(lit) = quoted(inner) {
        return Some(Step::Field(lit));
    }
    if let Some(f) = inner.strip_prefix('?') {
        let f = f.trim().strip_prefix('(')?.strip_suffix(')')?.trim();
        return filter(f).map(Step::Filter);
    }
    if let Some((a, b)) = inner.split_once(':') {
        let num = |s: &str| -> Option<Option<i64>> {
            let s = s.trim();
            if s.is_empty() {
                Some(None)
            } else {
                s.parse().ok().map(Some)
            }
        };
        // A step (`[a:b:c]`) is not supported.
        return Some(Step::Slice(num(a)?, num(b)?));
    }
    inner.parse().ok().map(Step::Index)
}

fn quoted(s: &str) -> Option<String> {
    let first = s.chars().next()?;
    if (first == '\'' || first == '"') && s.len() >= 2 && s.ends_with(first) {
        Some(s[1..s.len() - 1].to_string())
    } else {
        None
    }
}

fn filter(f: &str) -> Option<Filter> {
    let rest = f.strip_prefix('@')?;
    let ops = [
        ("==", CmpOp::Eq),
        ("!=", CmpOp::Ne),
        ("<=", CmpOp::Le),
        (">=", CmpOp::Ge),
        ("<", CmpOp::Lt),
        (">", CmpOp::Gt),
    ];
    let found = ops
        .iter()
        .filter_map(|(s, op)| rest.find(s).map(|at| (at, *s, *op)))
        .min_by_key(|(at, s, _)| (*at, usize::MAX - s.len()));
    let (lhs, test) = match found {
        Some((at, s, op)) => (
            &rest[..at],
            Some((op, literal(rest[at + s.len()..].trim())?)),
        ),
        None => (rest, None),
    };
    let path = lhs
        .trim()
        .split('.')
        .filter(|p| !p.is_empty())
        .map(String::from)
        .collect();
    Some(Filter { path, test })
}

fn literal(s: &str) -> Option<Value> {
    if let Some(q) = quoted(s) {
        return Some(Value::String(q));
    }
    match s {
        "true" => Some(Value::Bool(true)),
        "false" => Some(Value::Bool(false)),
        "null" => Some(Value::Null),
        _ => serde_json::from_str::<serde_json::Number>(s)
            .ok()
            .map(Value::Number),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn vm() -> Value {
        json!({
            "metadata": {"name": "vm1", "annotations": {"kubevirt.io/latest-observed-api-version": "v1"}},
            "spec": {"replicas": 3, "running": true},
            "status": {
                "ready": false,
                "conditions": [
                    {"type": "Ready", "status": "True", "priority": 1},
                    {"type": "Paused", "status": "False", "priority": 2},
                    {"type": "Migrating", "status": "False", "priority": 3}
                ],
                "interfaces": [{"ipAddress": "10.0.0.1", "name": "default"}, {"ipAddress": "10.0.0.2"}]
            }
        })
    }

    #[test]
    fn dotted_paths_select_fields_in_every_spelling() {
        for p in [
            ".spec.replicas",
            "{.spec.replicas}",
            "$.spec.replicas",
            "{$.spec.replicas}",
            "spec.replicas",
        ] {
            assert_eq!(select(p, &vm()), vec![json!(3)], "{p}");
        }
        assert_eq!(select(".status.ready", &vm()), vec![json!(false)]);
        assert_eq!(select(".", &vm()), vec![vm()]);
    }

    #[test]
    fn missing_fields_select_nothing() {
        assert!(select(".spec.nothing", &vm()).is_empty());
        assert!(select(".spec.replicas.deeper", &vm()).is_empty());
        assert!(select(".status.conditions[9]", &vm()).is_empty());
        assert!(select(".status.conditions[?(@.type=='Gone')].status", &vm()).is_empty());
    }

    #[test]
    fn indexes_wildcards_and_slices_select_list_items() {
        assert_eq!(
            select(".status.conditions[0].type", &vm()),
            vec![json!("Ready")]
        );
        assert_eq!(
            select(".status.conditions[-1].type", &vm()),
            vec![json!("Migrating")]
        );
        assert_eq!(
            select(".status.conditions[*].type", &vm()),
            vec![json!("Ready"), json!("Paused"), json!("Migrating")]
        );
        assert_eq!(select(".status.interfaces[*].ipAddress", &vm()).len(), 2);
        assert_eq!(
            select(".status.interfaces[*].name", &vm()),
            vec![json!("default")]
        );
        assert_eq!(
            select(".status.conditions[1:].type", &vm()),
            vec![json!("Paused"), json!("Migrating")]
        );
        assert_eq!(
            select(".status.conditions[:1].type", &vm()),
            vec![json!("Ready")]
        );
        assert_eq!(select(".spec.*", &vm()), vec![json!(3), json!(true)]);
    }

    #[test]
    fn quoted_keys_reach_keys_with_dots() {
        let p = ".metadata.annotations['kubevirt.io/latest-observed-api-version']";
        assert_eq!(select(p, &vm()), vec![json!("v1")]);
        let p = ".metadata.annotations[\"kubevirt.io/latest-observed-api-version\"]";
        assert_eq!(select(p, &vm()), vec![json!("v1")]);
    }

    #[test]
    fn filters_compare_strings_numbers_and_presence() {
        assert_eq!(
            select(".status.conditions[?(@.type=='Ready')].status", &vm()),
            vec![json!("True")]
        );
        assert_eq!(
            select(".status.conditions[?(@.type==\"Paused\")].status", &vm()),
            vec![json!("False")]
        );
        assert_eq!(
            select(".status.conditions[?(@.type != 'Ready')].type", &vm()).len(),
            2
        );
        assert_eq!(
            select(".status.conditions[?(@.priority>=2)].type", &vm()),
            vec![json!("Paused"), json!("Migrating")]
        );
        assert_eq!(
            select(".status.conditions[?(@.priority<2)].type", &vm()),
            vec![json!("Ready")]
        );
        assert_eq!(
            select(".status.conditions[?(@.priority==3)].type", &vm()),
            vec![json!("Migrating")]
        );
        assert_eq!(
            select(".status.interfaces[?(@.name)].ipAddress", &vm()),
            vec![json!("10.0.0.1")]
        );
        let nested = json!({"items": [{"a": {"b": "x"}, "v": 1}, {"a": {"b": "y"}, "v": 2}]});
        assert_eq!(select("{.items[?(@.a.b=='y')].v}", &nested), vec![json!(2)]);
    }

    #[test]
    fn unparsable_paths_select_nothing() {
        for p in [
            ".a[",
            ".a..b",
            ".status.conditions[?(@.type=='Ready'",
            "..a",
            ".a[x]",
        ] {
            assert!(select(p, &json!({"a": {"b": 1}})).is_empty(), "{p}");
        }
    }
}
