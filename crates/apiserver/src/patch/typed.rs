//! Walks over objects guided by [`Ty`] list semantics: the field set an applied configuration
//! owns, the comparison of two objects, the apply merge and removal of owned fields. These are
//! the structured-merge-diff operations server-side apply is built from.

use serde_json::{Map, Value};

use super::fieldset::{FieldPath, FieldSet, field_pe, key_pe, value_pe};
use super::schema::{ListKind, Ty};

/// The path element of each item, or `None` when some item lacks the key (the list is then
/// treated as atomic).
fn item_pes(items: &[Value], kind: ListKind) -> Option<Vec<String>> {
    items
        .iter()
        .map(|i| match kind {
            ListKind::Map(k) => key_pe(i, k),
            ListKind::Set => Some(value_pe(i)),
            ListKind::Atomic => None,
        })
        .collect()
}

/// The list kind for a field, downgraded to atomic when an item has no identity.
fn effective_kind(parent: Ty, name: &str, lists: &[&[Value]]) -> ListKind {
    let kind = parent.list(name, lists);
    if kind != ListKind::Atomic && lists.iter().any(|l| item_pes(l, kind).is_none()) {
        return ListKind::Atomic;
    }
    kind
}

/// The fields an applied configuration sets: scalars, atomic lists and empty maps are leaves,
/// list items are members with their fields below, and non-empty maps only hold children.
/// A `null` is owned too (the apply merge deletes the field), as in Kubernetes.
pub fn applied_set(obj: &Value, ty: Ty) -> FieldSet {
    let mut set = FieldSet::default();
    if let Value::Object(m) = obj {
        fields_of(m, ty, &mut Vec::new(), &mut set);
    }
    set
}

fn fields_of(m: &Map<String, Value>, ty: Ty, path: &mut FieldPath, set: &mut FieldSet) {
    for (k, v) in m {
        path.push(field_pe(k));
        match v {
            Value::Object(o) if !o.is_empty() => fields_of(o, ty.field(k), path, set),
            Value::Array(items) => match effective_kind(ty, k, &[items]) {
                ListKind::Atomic => set.insert(path),
                kind => {
                    let pes = item_pes(items, kind).unwrap_or_default();
                    for (item, pe) in items.iter().zip(pes) {
                        path.push(pe);
                        set.insert(path);
                        if let Value::Object(o) = item {
                            fields_of(o, ty.field(k), path, set);
                        }
                        path.pop();
                    }
                }
            },
            _ => set.insert(path),
        }
        path.pop();
    }
}

/// The differences between two objects, as field sets.
#[derive(Debug, Default)]
pub struct Comparison {
    /// Paths only in the new object (new maps and list items are members themselves).
    pub added: FieldSet,
    /// Leaves whose value changed.
    pub modified: FieldSet,
    /// Paths only in the old object.
    pub removed: FieldSet,
}

impl Comparison {
    /// Added or modified.
    pub fn changed(&self) -> FieldSet {
        self.added.union(&self.modified)
    }
}

/// Compares two objects field by field.
pub fn compare(old: &Value, new: &Value, ty: Ty) -> Comparison {
    let mut c = Comparison::default();
    let empty = Map::new();
    let o = old.as_object().unwrap_or(&empty);
    let n = new.as_object().unwrap_or(&empty);
    compare_maps(o, n, ty, &mut Vec::new(), &mut c);
    c
}

fn compare_maps(
    old: &Map<String, Value>,
    new: &Map<String, Value>,
    ty: Ty,
    path: &mut FieldPath,
    c: &mut Comparison,
) {
    for (k, ov) in old {
        path.push(field_pe(k));
        match new.get(k) {
            Some(nv) => compare_values(ov, nv, ty, k, path, c),
            None => whole(ov, ty, k, path, &mut c.removed),
        }
        path.pop();
    }
    for (k, nv) in new {
        if !old.contains_key(k) {
            path.push(field_pe(k));
            whole(nv, ty, k, path, &mut c.added);
            path.pop();
        }
    }
}

fn compare_values(
    ov: &Value,
    nv: &Value,
    parent: Ty,
    name: &str,
    path: &mut FieldPath,
    c: &mut Comparison,
) {
    match (ov, nv) {
        (Value::Object(o), Value::Object(n)) if !(o.is_empty() && n.is_empty()) => {
            compare_maps(o, n, parent.field(name), path, c)
        }
        (Value::Array(o), Value::Array(n)) if !(o.is_empty() && n.is_empty()) => {
            let kind = effective_kind(parent, name, &[o, n]);
            if kind == ListKind::Atomic {
                if o != n {
                    c.modified.insert(path);
                }
                return;
            }
            let ope = item_pes(o, kind).unwrap_or_default();
            let npe = item_pes(n, kind).unwrap_or_default();
            let elem = parent.field(name);
            for (item, pe) in o.iter().zip(&ope) {
                path.push(pe.clone());
                match npe.iter().position(|x| x == pe) {
                    Some(j) => {
                        if let (Value::Object(a), Value::Object(b)) = (item, &n[j]) {
                            compare_maps(a, b, elem, path, c);
                        }
                    }
                    None => whole_item(item, elem, path, &mut c.removed),
                }
                path.pop();
            }
            for (item, pe) in n.iter().zip(&npe) {
                if !ope.contains(pe) {
                    path.push(pe.clone());
                    whole_item(item, elem, path, &mut c.added);
                    path.pop();
                }
            }
        }
        _ => {
            if ov != nv {
                c.modified.insert(path);
            }
        }
    }
}

/// Adds a whole value (present on one side only) to `set`: the value's own path and every path
/// below it.
fn whole(v: &Value, parent: Ty, name: &str, path: &mut FieldPath, set: &mut FieldSet) {
    set.insert(path);
    match v {
        Value::Object(m) => {
            let ty = parent.field(name);
            for (k, child) in m {
                path.push(field_pe(k));
                whole(child, ty, k, path, set);
                path.pop();
            }
        }
        Value::Array(items) => {
            let kind = effective_kind(parent, name, &[items]);
            if kind == ListKind::Atomic {
                return;
            }
            let pes = item_pes(items, kind).unwrap_or_default();
            for (item, pe) in items.iter().zip(pes) {
                path.push(pe);
                whole_item(item, parent.field(name), path, set);
                path.pop();
            }
        }
        _ => {}
    }
}

fn whole_item(item: &Value, elem: Ty, path: &mut FieldPath, set: &mut FieldSet) {
    set.insert(path);
    if let Value::Object(m) = item {
        for (k, child) in m {
            path.push(field_pe(k));
            whole(child, elem, k, path, set);
            path.pop();
        }
    }
}

/// Merges an applied configuration into the live object: maps merge recursively, keyed and set
/// lists merge item by item (live-only items keep their place, shared and new items follow
/// the applied order), atomic lists and scalars are replaced, `null` deletes.
pub fn merge(live: &mut Value, applied: &Value, ty: Ty) {
    match (live, applied) {
        (Value::Object(l), Value::Object(a)) => merge_maps(l, a, ty),
        (live, applied) => *live = without_nulls(applied),
    }
}

fn merge_maps(live: &mut Map<String, Value>, applied: &Map<String, Value>, ty: Ty) {
    for (k, av) in applied {
        if av.is_null() {
            live.shift_remove(k);
            continue;
        }
        match (live.get_mut(k), av) {
            (Some(Value::Object(l)), Value::Object(a)) => merge_maps(l, a, ty.field(k)),
            (Some(Value::Array(l)), Value::Array(a)) => {
                let kind = effective_kind(ty, k, &[l, a]);
                *l = if kind == ListKind::Atomic {
                    a.iter().map(without_nulls).collect()
                } else {
                    merge_lists(std::mem::take(l), a, kind, ty.field(k))
                };
            }
            _ => {
                live.insert(k.clone(), without_nulls(av));
            }
        }
    }
}

/// structured-merge-diff's list merge order: live-only items keep their place, items both
/// lists share follow the applied order, new items come where the applied list has them.
fn merge_lists(live: Vec<Value>, applied: &[Value], kind: ListKind, elem: Ty) -> Vec<Value> {
    let lpe = item_pes(&live, kind).unwrap_or_default();
    let ape = item_pes(applied, kind).unwrap_or_default();
    let mut live: Vec<Option<Value>> = live.into_iter().map(Some).collect();
    let mut shared = ape.iter().filter(|pe| lpe.contains(pe));
    let mut next_shared = shared.next();
    let mut merged = std::collections::HashSet::new();
    let mut out = Vec::with_capacity(live.len() + applied.len());
    let (mut li, mut ai) = (0, 0);
    let merge_item = |live_item: Option<Value>, a: &Value| {
        let mut item = live_item.unwrap_or(Value::Null);
        match (&mut item, a) {
            (Value::Object(l), Value::Object(a)) => merge_maps(l, a, elem),
            (item, a) => *item = without_nulls(a),
        }
        item
    };
    while li < lpe.len() || ai < ape.len() {
        if li < lpe.len() && ai < ape.len() {
            let pe = &lpe[li];
            if *pe == ape[ai] {
                out.push(merge_item(live[li].take(), &applied[ai]));
                merged.insert(pe.clone());
                li += 1;
                ai += 1;
                next_shared = shared.next();
                continue;
            }
            // A shared item that is not the next one the applied order wants: it is placed
            // when the applied list reaches it.
            if ape.contains(pe) && next_shared.is_some_and(|n| n != pe) {
                li += 1;
                continue;
            }
        }
        if li < lpe.len() {
            let pe = &lpe[li];
            if !ape.contains(pe) {
                out.extend(live[li].take());
                li += 1;
                continue;
            }
            if merged.contains(pe) {
                li += 1;
                continue;
            }
        }
        if ai < ape.len() {
            let pe = &ape[ai];
            merged.insert(pe.clone());
            let live_item = lpe
                .iter()
                .position(|x| x == pe)
                .and_then(|j| live[j].take());
            out.push(merge_item(live_item, &applied[ai]));
            ai += 1;
            if next_shared == Some(pe) {
                next_shared = shared.next();
            }
        }
    }
    out
}

/// A copy with `null` members of objects dropped (an applied `null` is a deletion).
fn without_nulls(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k.clone(), without_nulls(v)))
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(without_nulls).collect()),
        other => other.clone(),
    }
}

/// Removes every member path of `set` from the object (a member map or list item goes whole).
pub fn remove(obj: &mut Value, set: &FieldSet, ty: Ty) {
    if let Value::Object(m) = obj {
        remove_fields(m, set, ty);
    }
}

fn remove_fields(m: &mut Map<String, Value>, set: &FieldSet, ty: Ty) {
    for (pe, node) in set.children() {
        let Some(name) = pe.strip_prefix("f:") else {
            continue;
        };
        if node.is_member() {
            m.shift_remove(name);
            continue;
        }
        match m.get_mut(name) {
            Some(Value::Object(o)) => remove_fields(o, node, ty.field(name)),
            Some(Value::Array(items)) => {
                let kind = effective_kind(ty, name, &[items]);
                let Some(pes) = item_pes(items, kind) else {
                    continue;
                };
                let mut keep = Vec::with_capacity(items.len());
                for (mut item, pe) in std::mem::take(items).into_iter().zip(pes) {
                    match node.child(&pe) {
                        Some(n) if n.is_member() => continue,
                        Some(n) => {
                            if let Value::Object(o) = &mut item {
                                remove_fields(o, n, ty.field(name));
                            }
                        }
                        None => {}
                    }
                    keep.push(item);
                }
                *items = keep;
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn deploy_ty() -> Ty {
        Ty::root("apps", "Deployment")
    }

    fn members(set: &FieldSet) -> Vec<String> {
        set.members().iter().map(|p| p.join(".")).collect()
    }

    #[test]
    fn applied_set_owns_leaves_items_and_atomic_lists() {
        let obj = json!({
            "metadata": {"name": "d", "labels": {"app": "x"}, "finalizers": ["f1"]},
            "spec": {
                "replicas": 2,
                "selector": {},
                "gone": null,
                "template": {"spec": {
                    "containers": [{"name": "c", "image": "i", "args": ["a", "b"]}],
                    "tolerations": [{"key": "k"}]
                }}
            }
        });
        let set = applied_set(&obj, deploy_ty());
        assert_eq!(
            members(&set),
            [
                "f:metadata.f:finalizers.v:\"f1\"",
                "f:metadata.f:labels.f:app",
                "f:metadata.f:name",
                "f:spec.f:gone",
                "f:spec.f:replicas",
                "f:spec.f:selector",
                "f:spec.f:template.f:spec.f:containers.k:{\"name\":\"c\"}",
                "f:spec.f:template.f:spec.f:containers.k:{\"name\":\"c\"}.f:args",
                "f:spec.f:template.f:spec.f:containers.k:{\"name\":\"c\"}.f:image",
                "f:spec.f:template.f:spec.f:containers.k:{\"name\":\"c\"}.f:name",
                "f:spec.f:template.f:spec.f:tolerations",
            ]
        );
    }

    #[test]
    fn keyed_items_without_their_key_make_the_list_atomic() {
        let obj = json!({"spec": {"template": {"spec": {"containers": [{"image": "i"}]}}}});
        let set = applied_set(&obj, deploy_ty());
        assert_eq!(members(&set), ["f:spec.f:template.f:spec.f:containers"]);
    }

    #[test]
    fn comparison_reports_added_modified_and_removed_paths() {
        let old = json!({"spec": {"replicas": 1, "a": "x", "tolerations": [1],
            "template": {"spec": {"containers": [{"name": "c", "image": "1"}, {"name": "d"}]}}}});
        let new = json!({"spec": {"replicas": 2, "labels": {"k": "v"}, "tolerations": [2],
            "template": {"spec": {"containers": [{"name": "c", "image": "2"}, {"name": "e"}]}}}});
        let c = compare(&old, &new, deploy_ty());
        let item =
            |n: &str| format!("f:spec.f:template.f:spec.f:containers.k:{{\"name\":\"{n}\"}}");
        assert_eq!(
            members(&c.added),
            [
                "f:spec.f:labels".to_string(),
                "f:spec.f:labels.f:k".into(),
                item("e"),
                format!("{}.f:name", item("e"))
            ]
        );
        assert_eq!(
            members(&c.modified),
            [
                "f:spec.f:replicas".to_string(),
                format!("{}.f:image", item("c")),
                "f:spec.f:tolerations".into()
            ]
        );
        assert_eq!(
            members(&c.removed),
            [
                "f:spec.f:a".to_string(),
                item("d"),
                format!("{}.f:name", item("d"))
            ]
        );
        assert!(compare(&new, &new, deploy_ty()).changed().is_empty());
    }

    #[test]
    fn merge_combines_maps_and_keyed_lists_and_replaces_atomic_ones() {
        let mut live = json!({"metadata": {"labels": {"a": "1"}, "finalizers": ["x"]},
            "spec": {"replicas": 1, "keep": true, "template": {"spec": {
                "containers": [{"name": "a", "image": "1", "x": 1}, {"name": "b"}],
                "tolerations": [{"key": "1"}]}}}});
        let applied = json!({"metadata": {"labels": {"b": "2"}, "finalizers": ["y"]},
            "spec": {"replicas": 3, "keep": null, "template": {"spec": {
                "containers": [{"name": "a", "image": "2"}, {"name": "c", "v": null}],
                "tolerations": [{"key": "2"}]}}}});
        merge(&mut live, &applied, deploy_ty());
        assert_eq!(
            live,
            json!({"metadata": {"labels": {"a": "1", "b": "2"}, "finalizers": ["x", "y"]},
            "spec": {"replicas": 3, "template": {"spec": {
                "containers": [{"name": "a", "image": "2", "x": 1}, {"name": "b"}, {"name": "c"}],
                "tolerations": [{"key": "2"}]}}}})
        );
    }

    #[test]
    fn merge_orders_list_items_like_structured_merge_diff() {
        let ty = Ty::CustomRoot;
        let names = |v: &Value| {
            v["spec"]["disks"]
                .as_array()
                .unwrap()
                .iter()
                .map(|d| d["name"].clone())
                .collect::<Vec<_>>()
        };
        let mut live = json!({"spec": {"disks": [{"name": "a"}, {"name": "x"}, {"name": "b"}]}});
        merge(
            &mut live,
            &json!({"spec": {"disks": [{"name": "b"}, {"name": "a"}]}}),
            ty,
        );
        assert_eq!(names(&live), [json!("x"), json!("b"), json!("a")]);
        let mut live = json!({"spec": {"disks": [{"name": "a"}, {"name": "b"}]}});
        merge(
            &mut live,
            &json!({"spec": {"disks": [{"name": "n"}, {"name": "b"}]}}),
            ty,
        );
        assert_eq!(names(&live), [json!("a"), json!("n"), json!("b")]);
    }

    #[test]
    fn remove_deletes_member_fields_and_items() {
        let mut obj = json!({"metadata": {"labels": {"a": "1", "b": "2"}, "finalizers": ["x", "y"]},
            "spec": {"template": {"spec": {"containers": [{"name": "a", "image": "1"}, {"name": "b", "image": "2"}]}}}});
        let mut set = FieldSet::default();
        let p = |s: &[&str]| s.iter().map(|e| e.to_string()).collect::<Vec<_>>();
        set.insert(&p(&["f:metadata", "f:labels", "f:a"]));
        set.insert(&p(&["f:metadata", "f:finalizers", "v:\"y\""]));
        set.insert(&p(&[
            "f:spec",
            "f:template",
            "f:spec",
            "f:containers",
            "k:{\"name\":\"a\"}",
        ]));
        set.insert(&p(&[
            "f:spec",
            "f:template",
            "f:spec",
            "f:containers",
            "k:{\"name\":\"b\"}",
            "f:image",
        ]));
        remove(&mut obj, &set, deploy_ty());
        assert_eq!(
            obj,
            json!({"metadata": {"labels": {"b": "2"}, "finalizers": ["x"]},
            "spec": {"template": {"spec": {"containers": [{"name": "b"}]}}}})
        );
    }
}
