//! Sets of field paths in the `FieldsV1` form of `metadata.managedFields`.
//!
//! A path is a sequence of path elements written as in `FieldsV1`: `f:<field>`, `k:<json>` (a
//! list item by its key fields), `v:<json>` (a set item by value) or `i:<index>`. A set is a
//! tree; a node is a *member* when its path itself is in the set (written `{}` for a leaf or
//! `".": {}` beside children).

use std::collections::BTreeMap;

use serde_json::{Map, Value};

/// A set of field paths.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldSet {
    member: bool,
    children: BTreeMap<String, FieldSet>,
}

/// One path: its elements, e.g. `["f:spec", "f:containers", "k:{\"name\":\"a\"}", "f:image"]`.
pub type FieldPath = Vec<String>;

impl FieldSet {
    /// Parses a `fieldsV1` object; anything that is not an object yields the empty set.
    pub fn from_fields_v1(v: &Value) -> FieldSet {
        let mut set = FieldSet::default();
        if let Value::Object(m) = v {
            for (k, child) in m {
                if k == "." {
                    set.member = true;
                } else {
                    let mut node = FieldSet::from_fields_v1(child);
                    if node.children.is_empty() {
                        node.member = true;
                    }
                    set.children.insert(k.clone(), node);
                }
            }
        }
        set
    }

    /// The `fieldsV1` object (children sorted, `"."` first).
    pub fn to_fields_v1(&self) -> Value {
        let mut m = Map::new();
        if self.member && !self.children.is_empty() {
            m.insert(".".into(), Value::Object(Map::new()));
        }
        for (k, child) in &self.children {
            m.insert(k.clone(), child.to_fields_v1());
        }
        Value::Object(m)
    }

    pub fn is_empty(&self) -> bool {
        !self.member && self.children.is_empty()
    }

    /// Adds a path as a member.
    pub fn insert(&mut self, path: &[String]) {
        let mut node = self;
        for pe in path {
            node = node.children.entry(pe.clone()).or_default();
        }
        node.member = true;
    }

    /// Removes one path's membership (not its descendants).
    pub fn remove(&mut self, path: &[String]) {
        let Some((first, rest)) = path.split_first() else {
            self.member = false;
            return;
        };
        if let Some(child) = self.children.get_mut(first) {
            child.remove(rest);
            if child.is_empty() {
                self.children.remove(first);
            }
        }
    }

    pub fn contains(&self, path: &[String]) -> bool {
        self.node(path).is_some_and(|n| n.member)
    }

    /// Whether the path or any path below it is a member.
    pub fn has_at_or_under(&self, path: &[String]) -> bool {
        self.node(path).is_some_and(|n| !n.is_empty())
    }

    fn node(&self, path: &[String]) -> Option<&FieldSet> {
        path.iter().try_fold(self, |n, pe| n.children.get(pe))
    }

    /// The child node of one path element, if any.
    pub fn child(&self, pe: &str) -> Option<&FieldSet> {
        self.children.get(pe)
    }

    /// Whether this node's own path is a member.
    pub fn is_member(&self) -> bool {
        self.member
    }

    /// The path elements directly below this node.
    pub fn children(&self) -> impl Iterator<Item = (&String, &FieldSet)> {
        self.children.iter()
    }

    pub fn union(&self, other: &FieldSet) -> FieldSet {
        let mut out = self.clone();
        out.member |= other.member;
        for (k, c) in &other.children {
            let merged = match out.children.get(k) {
                Some(mine) => mine.union(c),
                None => c.clone(),
            };
            out.children.insert(k.clone(), merged);
        }
        out
    }

    /// Members of `self` that are not members of `other`.
    pub fn difference(&self, other: &FieldSet) -> FieldSet {
        let mut out = FieldSet {
            member: self.member && !other.member,
            children: BTreeMap::new(),
        };
        for (k, c) in &self.children {
            let d = match other.children.get(k) {
                Some(o) => c.difference(o),
                None => c.clone(),
            };
            if !d.is_empty() {
                out.children.insert(k.clone(), d);
            }
        }
        out
    }

    /// Members of both sets.
    pub fn intersection(&self, other: &FieldSet) -> FieldSet {
        let mut out = FieldSet {
            member: self.member && other.member,
            children: BTreeMap::new(),
        };
        for (k, c) in &self.children {
            if let Some(o) = other.children.get(k) {
                let i = c.intersection(o);
                if !i.is_empty() {
                    out.children.insert(k.clone(), i);
                }
            }
        }
        out
    }

    /// Every member path, in sorted order (a parent before its children).
    pub fn members(&self) -> Vec<FieldPath> {
        let mut out = Vec::new();
        self.collect(&mut Vec::new(), &mut out);
        out
    }

    fn collect(&self, prefix: &mut FieldPath, out: &mut Vec<FieldPath>) {
        if self.member {
            out.push(prefix.clone());
        }
        for (k, c) in &self.children {
            prefix.push(k.clone());
            c.collect(prefix, out);
            prefix.pop();
        }
    }
}

/// The path element of an object field.
pub fn field_pe(name: &str) -> String {
    format!("f:{name}")
}

/// The path element of a keyed list item (`k:{"name":"x"}`), if the item has the key.
pub fn key_pe(item: &Value, key: &str) -> Option<String> {
    let v = item.get(key)?;
    let mut m = Map::new();
    m.insert(key.to_string(), v.clone());
    Some(format!("k:{}", Value::Object(m)))
}

/// The path element of a set item (`v:"x"`).
pub fn value_pe(item: &Value) -> String {
    format!("v:{item}")
}

/// A path as the API server prints it in conflicts, e.g. `.spec.containers[name="a"].image`.
pub fn display_path(path: &[String]) -> String {
    let mut out = String::new();
    for pe in path {
        if let Some(f) = pe.strip_prefix("f:") {
            out.push('.');
            out.push_str(f);
        } else if let Some(k) = pe.strip_prefix("k:") {
            let fields = match serde_json::from_str::<Value>(k) {
                Ok(Value::Object(m)) => m
                    .iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect::<Vec<_>>()
                    .join(","),
                _ => k.to_string(),
            };
            out.push_str(&format!("[{fields}]"));
        } else if let Some(v) = pe.strip_prefix("v:") {
            out.push_str(&format!("[={v}]"));
        } else if let Some(i) = pe.strip_prefix("i:") {
            out.push_str(&format!("[{i}]"));
        } else {
            out.push_str(pe);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn p(elems: &[&str]) -> FieldPath {
        elems.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn fields_v1_round_trips_with_dot_members() {
        let v = json!({
            "f:metadata": {"f:labels": {".": {}, "f:app": {}}},
            "f:spec": {"f:containers": {"k:{\"name\":\"a\"}": {".": {}, "f:image": {}, "f:name": {}}}, "f:replicas": {}}
        });
        let set = FieldSet::from_fields_v1(&v);
        assert!(set.contains(&p(&["f:metadata", "f:labels"])));
        assert!(!set.contains(&p(&["f:metadata"])));
        assert!(set.contains(&p(&["f:spec", "f:replicas"])));
        assert!(set.contains(&p(&["f:spec", "f:containers", "k:{\"name\":\"a\"}"])));
        assert_eq!(set.to_fields_v1(), v);
        assert_eq!(set.members().len(), 6);
    }

    #[test]
    fn set_algebra_works_on_members() {
        let mut a = FieldSet::default();
        a.insert(&p(&["f:spec", "f:a"]));
        a.insert(&p(&["f:spec", "f:b"]));
        let mut b = FieldSet::default();
        b.insert(&p(&["f:spec", "f:b"]));
        b.insert(&p(&["f:spec"]));
        assert_eq!(a.difference(&b).members(), vec![p(&["f:spec", "f:a"])]);
        assert_eq!(a.intersection(&b).members(), vec![p(&["f:spec", "f:b"])]);
        assert_eq!(a.union(&b).members().len(), 3);
        assert!(b.has_at_or_under(&p(&["f:spec"])));
        assert!(!a.has_at_or_under(&p(&["f:status"])));
        a.remove(&p(&["f:spec", "f:a"]));
        a.remove(&p(&["f:spec", "f:b"]));
        assert!(a.is_empty());
        assert_eq!(a.to_fields_v1(), json!({}));
    }

    #[test]
    fn paths_print_like_the_api_server() {
        let path = p(&[
            "f:spec",
            "f:containers",
            "k:{\"name\":\"nginx\"}",
            "f:image",
        ]);
        assert_eq!(
            display_path(&path),
            ".spec.containers[name=\"nginx\"].image"
        );
        assert_eq!(
            display_path(&p(&["f:metadata", "f:finalizers", "v:\"x\""])),
            ".metadata.finalizers[=\"x\"]"
        );
        assert_eq!(
            key_pe(&json!({"containerPort": 80}), "containerPort").unwrap(),
            "k:{\"containerPort\":80}"
        );
        assert_eq!(value_pe(&json!("a")), "v:\"a\"");
        assert_eq!(key_pe(&json!({"x": 1}), "name"), None);
    }
}
