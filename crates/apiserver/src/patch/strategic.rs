//! Strategic merge patch for built-in kinds, following apimachinery's `strategicpatch`
//! (`StrategicMergeMapPatch` with the options the API server uses).
//!
//! Lists with a merge key (see [`super::schema`]) merge item by item, set-like scalar lists
//! merge as sets, every other list is replaced. Directives: `$patch: replace|delete` in maps,
//! `$patch: replace|delete` items in keyed lists, `$retainKeys`, `$deleteFromPrimitiveList/<f>`
//! and `$setElementOrder/<f>` (including apimachinery's interleaving of server-only items).
//! Without `$setElementOrder`, list order also follows apimachinery: items named in the patch
//! keep the patch's order and new ones come before the server-only items that follow them.
//!
//! Differences from apimachinery: directives inside a value that is added whole (a key the
//! document lacks) or that replaces a map (`$patch: replace`) are processed or stripped rather
//! than copied into the object; and list/map patch strategies come from the hand-kept table in
//! [`super::schema`] rather than the Go type tags, so fields missing there replace.

use serde_json::{Map, Value};

use super::PatchError;
use super::schema::{ListKind, Ty};

const DIRECTIVE: &str = "$patch";
const RETAIN_KEYS: &str = "$retainKeys";
const DELETE_PRIMITIVE: &str = "$deleteFromPrimitiveList/";
const SET_ORDER: &str = "$setElementOrder/";

/// Applies a strategic merge patch to a built-in kind: lists with a known merge key (containers,
/// volumes, ports, env, conditions, ...) merge by key, `$patch: delete|replace|merge` and
/// `$setElementOrder`/`$retainKeys`/`$deleteFromPrimitiveList` directives are honoured; other
/// lists replace as in a merge patch. `kind` is the object's kind (e.g. "Pod").
pub fn strategic_merge_patch(doc: &Value, patch: &Value, kind: &str) -> Result<Value, PatchError> {
    let Value::Object(patch) = patch else {
        return Err(PatchError::Malformed("Invalid JSON document".to_string()));
    };
    let api_version = doc
        .get("apiVersion")
        .and_then(Value::as_str)
        .unwrap_or("v1");
    let group = api_version.rsplit_once('/').map(|(g, _)| g).unwrap_or("");
    let ty = Ty::root(group, kind);
    let original = doc.as_object().cloned().unwrap_or_default();
    merge_map(original, patch.clone(), ty).map(Value::Object)
}

fn bad(msg: impl Into<String>) -> PatchError {
    PatchError::Malformed(msg.into())
}

fn merge_map(
    mut original: Map<String, Value>,
    mut patch: Map<String, Value>,
    ty: Ty,
) -> Result<Map<String, Value>, PatchError> {
    if let Some(d) = patch.get(DIRECTIVE) {
        return match d.as_str() {
            Some("replace") => {
                patch.shift_remove(DIRECTIVE);
                Ok(strip_directives(patch, ty)?)
            }
            Some("delete") => Ok(Map::new()),
            _ => Err(bad(format!(
                "unknown patch type: {d} in map: {}",
                Value::Object(patch.clone())
            ))),
        };
    }
    if let Some(retain) = patch.shift_remove(RETAIN_KEYS) {
        let keys: Vec<String> = retain
            .as_array()
            .and_then(|a| a.iter().map(|k| k.as_str().map(String::from)).collect())
            .ok_or_else(|| bad("invalid patch format of retainKeys"))?;
        for (k, v) in &patch {
            if !v.is_null() && !k.starts_with('$') && !keys.contains(k) {
                return Err(bad("invalid patch format of retainKeys"));
            }
        }
        original.retain(|k, _| keys.contains(k));
    }
    apply_element_orders(&mut original, &mut patch, ty)?;
    for (k, pv) in patch {
        let (key, delete_list) = match k.strip_prefix(DELETE_PRIMITIVE) {
            Some(field) => {
                if !pv.is_array() {
                    return Err(bad("invalid patch format of primitive list"));
                }
                (field.to_string(), true)
            }
            None if k.starts_with('$') => continue,
            None => (k, false),
        };
        if delete_list && !original.contains_key(&key) {
            continue;
        }
        if pv.is_null() {
            original.shift_remove(&key);
            continue;
        }
        // Taken out in place (not removed) so the key keeps its position.
        let existing = original.get_mut(&key).map(std::mem::take);
        let merged = match (existing, pv) {
            (None, pv) => fresh(pv, ty, &key)?,
            (Some(Value::Object(o)), Value::Object(p)) => {
                Value::Object(merge_map(o, p, ty.field(&key))?)
            }
            (Some(Value::Array(o)), Value::Array(p)) => {
                let kind = ty.list(&key, &[&o, &p]);
                if kind == ListKind::Atomic && !delete_list {
                    Value::Array(p)
                } else {
                    Value::Array(merge_list(o, p, kind, ty.field(&key), delete_list)?)
                }
            }
            (Some(old), _) if delete_list => old,
            (Some(_), pv) => fresh(pv, ty, &key)?,
        };
        original.insert(key, merged);
    }
    Ok(original)
}

/// A patch value for a key the document lacks (or holds with another type): merged into an
/// empty value so directives are applied and nulls dropped.
fn fresh(pv: Value, ty: Ty, key: &str) -> Result<Value, PatchError> {
    Ok(match pv {
        Value::Object(p) => Value::Object(merge_map(Map::new(), p, ty.field(key))?),
        Value::Array(p) => {
            let kind = ty.list(key, &[&p]);
            if kind == ListKind::Atomic {
                Value::Array(p)
            } else {
                Value::Array(merge_list(Vec::new(), p, kind, ty.field(key), false)?)
            }
        }
        other => other,
    })
}

fn strip_directives(map: Map<String, Value>, ty: Ty) -> Result<Map<String, Value>, PatchError> {
    merge_map(Map::new(), map, ty)
}

/// `$setElementOrder/<field>`: merges that field's list now and orders it as the directive says.
fn apply_element_orders(
    original: &mut Map<String, Value>,
    patch: &mut Map<String, Value>,
    ty: Ty,
) -> Result<(), PatchError> {
    let directives: Vec<String> = patch
        .keys()
        .filter(|k| k.starts_with(SET_ORDER))
        .cloned()
        .collect();
    for d in directives {
        let order = patch.shift_remove(&d).unwrap_or_default();
        let Value::Array(order) = order else {
            return Err(bad("invalid patch format of setElementOrder list"));
        };
        let field = d[SET_ORDER.len()..].to_string();
        let orig_list = match original.get(&field) {
            Some(Value::Array(a)) => Some(a.clone()),
            _ => None,
        };
        let patch_list = match patch.get(&field) {
            Some(Value::Array(a)) => Some(a.clone()),
            _ => None,
        };
        if orig_list.is_none() && patch_list.is_none() {
            continue;
        }
        let patch_list_given = patch_list.is_some();
        let o = orig_list.clone().unwrap_or_default();
        let p = patch_list.unwrap_or_default();
        let kind = ty.list(&field, &[&o, &p, &order]);
        let merged = match (kind, patch_list_given) {
            (ListKind::Atomic, true) => p,
            (ListKind::Atomic, false) => o.clone(),
            _ => merge_list(o.clone(), p, kind, ty.field(&field), false)?,
        };
        let key = match kind {
            ListKind::Map(k) => Some(k),
            _ => None,
        };
        let (in_order, server_only): (Vec<Value>, Vec<Value>) = merged
            .into_iter()
            .partition(|item| position(&order, item, key).is_some());
        original.insert(
            field.clone(),
            Value::Array(normalize_order(in_order, server_only, &order, &o, key)),
        );
        patch.shift_remove(&field);
    }
    Ok(())
}

/// What identifies a list item: its merge-key value, or the item itself for scalar lists.
fn identity<'a>(item: &'a Value, key: Option<&str>) -> Option<&'a Value> {
    match key {
        Some(k) => item.get(k),
        None => Some(item),
    }
}

fn position(list: &[Value], item: &Value, key: Option<&str>) -> Option<usize> {
    let id = identity(item, key)?;
    list.iter().position(|x| identity(x, key) == Some(id))
}

fn merge_list(
    original: Vec<Value>,
    patch: Vec<Value>,
    kind: ListKind,
    elem: Ty,
    delete_list: bool,
) -> Result<Vec<Value>, PatchError> {
    if original.is_empty() && patch.is_empty() {
        return Ok(original);
    }
    let all = original.iter().chain(patch.iter());
    let objects = all.clone().filter(|v| v.is_object()).count();
    if all.clone().any(Value::is_array) {
        return Err(PatchError::Failed(
            "lists of lists are not supported".to_string(),
        ));
    }
    if objects != 0 && objects != original.len() + patch.len() {
        return Err(PatchError::Failed(
            "types of list elements need to be the same".to_string(),
        ));
    }
    if objects == 0 {
        let merged = if delete_list {
            original
                .iter()
                .filter(|v| !patch.contains(v))
                .cloned()
                .collect()
        } else {
            let mut out: Vec<Value> = Vec::new();
            for v in original.iter().chain(patch.iter()) {
                if !out.contains(v) {
                    out.push(v.clone());
                }
            }
            out
        };
        let (from_patch, server_only): (Vec<Value>, Vec<Value>) =
            merged.into_iter().partition(|v| patch.contains(v));
        return Ok(normalize_order(
            from_patch,
            server_only,
            &patch,
            &original,
            None,
        ));
    }
    let ListKind::Map(key) = kind else {
        return Err(PatchError::Failed(
            "cannot merge lists without merge key".to_string(),
        ));
    };
    let mut original = original;
    let mut items = Vec::new();
    let mut replace = false;
    for item in patch {
        match item.get(DIRECTIVE) {
            None => items.push(item),
            Some(Value::String(d)) if d == "delete" => {
                let id = item
                    .get(key)
                    .cloned()
                    .ok_or_else(|| no_merge_key(&item, key))?;
                original.retain(|o| o.get(key) != Some(&id));
            }
            Some(Value::String(d)) if d == "replace" => replace = true,
            Some(Value::String(d)) if d == "merge" => {
                return Err(bad("merging lists cannot yet be specified in the patch"));
            }
            Some(d) => return Err(bad(format!("unknown patch type: {d} in map: {item}"))),
        }
    }
    let patch_order = items.clone();
    let mut merged = if replace {
        Vec::new()
    } else {
        original.clone()
    };
    for item in items {
        let Value::Object(p) = item else { continue };
        let id = p
            .get(key)
            .cloned()
            .ok_or_else(|| no_merge_key(&Value::Object(p.clone()), key))?;
        match merged.iter_mut().find(|o| o.get(key) == Some(&id)) {
            Some(Value::Object(o)) => *o = merge_map(std::mem::take(o), p, elem)?,
            _ => merged.push(Value::Object(merge_map(Map::new(), p, elem)?)),
        }
    }
    let (from_patch, server_only): (Vec<Value>, Vec<Value>) = merged
        .into_iter()
        .partition(|v| position(&patch_order, v, Some(key)).is_some());
    Ok(normalize_order(
        from_patch,
        server_only,
        &patch_order,
        &original,
        Some(key),
    ))
}

fn no_merge_key(item: &Value, key: &str) -> PatchError {
    PatchError::Failed(format!(
        "map: {item} does not contain declared merge key: {key}"
    ))
}

/// apimachinery's `normalizeElementOrder`: patch items in patch order, server-only items in
/// server order, interleaved so that an item that was already on the server keeps its place
/// relative to server-only items.
fn normalize_order(
    mut from_patch: Vec<Value>,
    mut server_only: Vec<Value>,
    patch_order: &[Value],
    server_order: &[Value],
    key: Option<&str>,
) -> Vec<Value> {
    from_patch.sort_by_key(|v| position(patch_order, v, key).unwrap_or(usize::MAX));
    server_only.sort_by_key(|v| position(server_order, v, key).unwrap_or(usize::MAX));
    let mut out = Vec::with_capacity(from_patch.len() + server_only.len());
    let (mut left, mut right) = (
        server_only.into_iter().peekable(),
        from_patch.into_iter().peekable(),
    );
    loop {
        match (left.peek(), right.peek()) {
            (None, None) => break,
            (Some(_), None) => out.extend(left.next()),
            (None, Some(_)) => out.extend(right.next()),
            (Some(l), Some(r)) => {
                let li = position(server_order, l, key);
                let ri = position(server_order, r, key);
                match (li, ri) {
                    (Some(li), Some(ri)) if li < ri => out.extend(left.next()),
                    _ => out.extend(right.next()),
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn pod() -> Value {
        json!({
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "p", "labels": {"a": "1"}, "finalizers": ["x", "y"],
                "ownerReferences": [{"uid": "u1", "name": "o1"}]},
            "spec": {
                "containers": [
                    {"name": "a", "image": "a:1", "ports": [{"containerPort": 80, "name": "http"}],
                     "env": [{"name": "E1", "value": "1"}, {"name": "E2", "value": "2"}]},
                    {"name": "b", "image": "b:1"}
                ],
                "tolerations": [{"key": "t1"}],
                "volumes": [{"name": "v1", "emptyDir": {}}]
            },
            "status": {"conditions": [{"type": "Ready", "status": "False"}, {"type": "Initialized", "status": "True"}]}
        })
    }

    fn smp(patch: Value) -> Value {
        strategic_merge_patch(&pod(), &patch, "Pod").unwrap()
    }

    fn names(list: &Value, key: &str) -> Vec<Value> {
        list.as_array()
            .unwrap()
            .iter()
            .map(|i| i[key].clone())
            .collect()
    }

    #[test]
    fn keyed_lists_merge_by_their_merge_key() {
        let r = smp(
            json!({"spec": {"containers": [{"name": "b", "image": "b:2"}, {"name": "c", "image": "c:1"}]}}),
        );
        let cs = &r["spec"]["containers"];
        assert_eq!(names(cs, "name"), [json!("a"), json!("b"), json!("c")]);
        assert_eq!(cs[0]["image"], "a:1");
        assert_eq!(cs[1]["image"], "b:2");
        let r = smp(
            json!({"spec": {"containers": [{"name": "a", "env": [{"name": "E2", "value": "x"}]}]}}),
        );
        assert_eq!(
            r["spec"]["containers"][0]["env"],
            json!([{"name": "E1", "value": "1"}, {"name": "E2", "value": "x"}])
        );
        let r = smp(json!({"status": {"conditions": [{"type": "Ready", "status": "True"}]}}));
        assert_eq!(
            r["status"]["conditions"][0],
            json!({"type": "Ready", "status": "True"})
        );
        assert_eq!(r["status"]["conditions"].as_array().unwrap().len(), 2);
        // Without $setElementOrder, apimachinery places new items before the server-only ones.
        let r = smp(
            json!({"spec": {"containers": [{"name": "a", "ports": [{"containerPort": 443}]}]}}),
        );
        assert_eq!(
            names(&r["spec"]["containers"][0]["ports"], "containerPort"),
            [json!(443), json!(80)]
        );
        let r = smp(json!({"metadata": {"ownerReferences": [{"uid": "u2", "name": "o2"}]}}));
        assert_eq!(
            names(&r["metadata"]["ownerReferences"], "uid"),
            [json!("u2"), json!("u1")]
        );
    }

    #[test]
    fn lists_without_merge_key_are_replaced() {
        let r = smp(json!({"spec": {"tolerations": [{"key": "t2"}]}}));
        assert_eq!(r["spec"]["tolerations"], json!([{"key": "t2"}]));
        let cm =
            json!({"apiVersion": "v1", "kind": "ConfigMap", "data": {"a": "1"}, "list": [1, 2]});
        let r = strategic_merge_patch(&cm, &json!({"list": [3], "data": {"b": "2"}}), "ConfigMap")
            .unwrap();
        assert_eq!(
            r,
            json!({"apiVersion": "v1", "kind": "ConfigMap", "data": {"a": "1", "b": "2"}, "list": [3]})
        );
    }

    #[test]
    fn finalizers_merge_as_a_set() {
        let r = smp(json!({"metadata": {"finalizers": ["y", "z"]}}));
        assert_eq!(r["metadata"]["finalizers"], json!(["x", "y", "z"]));
    }

    #[test]
    fn delete_from_primitive_list_removes_values() {
        let r = smp(json!({"metadata": {"$deleteFromPrimitiveList/finalizers": ["x"]}}));
        assert_eq!(r["metadata"]["finalizers"], json!(["y"]));
        let r = smp(json!({"metadata": {"$deleteFromPrimitiveList/nothing": ["x"]}}));
        assert!(r["metadata"].get("nothing").is_none());
        let e = strategic_merge_patch(
            &pod(),
            &json!({"metadata": {"$deleteFromPrimitiveList/finalizers": "x"}}),
            "Pod",
        );
        assert!(matches!(e, Err(PatchError::Malformed(_))));
    }

    #[test]
    fn patch_delete_and_replace_items_in_keyed_lists() {
        let r = smp(json!({"spec": {"containers": [{"name": "a", "$patch": "delete"}]}}));
        assert_eq!(names(&r["spec"]["containers"], "name"), [json!("b")]);
        let r = smp(
            json!({"spec": {"containers": [{"name": "z", "image": "z"}, {"$patch": "replace"}]}}),
        );
        assert_eq!(
            r["spec"]["containers"],
            json!([{"name": "z", "image": "z"}])
        );
        let e = strategic_merge_patch(
            &pod(),
            &json!({"spec": {"containers": [{"$patch": "delete"}]}}),
            "Pod",
        );
        assert!(
            matches!(e, Err(PatchError::Failed(m)) if m.contains("does not contain declared merge key: name"))
        );
        let e = strategic_merge_patch(
            &pod(),
            &json!({"spec": {"containers": [{"name": "a", "$patch": "merge"}]}}),
            "Pod",
        );
        assert!(matches!(e, Err(PatchError::Malformed(_))));
    }

    #[test]
    fn patch_directives_in_maps_replace_or_delete_them() {
        let r = smp(json!({"metadata": {"labels": {"b": "2", "$patch": "replace"}}}));
        assert_eq!(r["metadata"]["labels"], json!({"b": "2"}));
        let r = smp(json!({"metadata": {"labels": {"$patch": "delete"}}}));
        assert_eq!(r["metadata"]["labels"], json!({}));
        let e = strategic_merge_patch(
            &pod(),
            &json!({"metadata": {"labels": {"$patch": "merge"}}}),
            "Pod",
        );
        assert!(
            matches!(e, Err(PatchError::Malformed(m)) if m.starts_with("unknown patch type: \"merge\""))
        );
    }

    #[test]
    fn retain_keys_drops_unlisted_fields() {
        let r = smp(
            json!({"spec": {"volumes": [{"name": "v1", "hostPath": {"path": "/x"}, "$retainKeys": ["name", "hostPath"]}]}}),
        );
        assert_eq!(
            r["spec"]["volumes"],
            json!([{"name": "v1", "hostPath": {"path": "/x"}}])
        );
        let e = strategic_merge_patch(
            &pod(),
            &json!({"spec": {"$retainKeys": ["x"], "y": 1}}),
            "Pod",
        );
        assert!(matches!(e, Err(PatchError::Malformed(_))));
    }

    #[test]
    fn set_element_order_orders_the_merged_list() {
        let r = smp(json!({"spec": {
            "$setElementOrder/containers": [{"name": "b"}, {"name": "a"}],
            "containers": [{"name": "a", "image": "a:2"}]
        }}));
        assert_eq!(
            names(&r["spec"]["containers"], "name"),
            [json!("b"), json!("a")]
        );
        assert_eq!(r["spec"]["containers"][1]["image"], "a:2");
        let r = smp(json!({"metadata": {"$setElementOrder/finalizers": ["y", "x"]}}));
        assert_eq!(r["metadata"]["finalizers"], json!(["y", "x"]));
        // kubectl deletes a container by listing the survivors and a delete item.
        let r = smp(json!({"spec": {
            "$setElementOrder/containers": [{"name": "b"}],
            "containers": [{"name": "a", "$patch": "delete"}]
        }}));
        assert_eq!(names(&r["spec"]["containers"], "name"), [json!("b")]);
    }

    #[test]
    fn nulls_delete_and_new_values_lose_their_directives() {
        let r = smp(json!({"metadata": {"labels": {"a": null}}, "spec": {"nodeName": "n1"}}));
        assert_eq!(r["metadata"]["labels"], json!({}));
        assert_eq!(r["spec"]["nodeName"], "n1");
        let r = smp(
            json!({"spec": {"initContainers": [{"name": "i", "x": null, "$patch": "replace"}]}}),
        );
        assert_eq!(r["spec"]["initContainers"], json!([]));
        let r = smp(json!({"spec": {"affinity": {"a": {"b": null, "c": 1}}}}));
        assert_eq!(r["spec"]["affinity"], json!({"a": {"c": 1}}));
    }

    #[test]
    fn deployments_and_services_use_their_templates_keys() {
        let d = json!({"apiVersion": "apps/v1", "kind": "Deployment", "spec": {"template": {"spec": {
            "containers": [{"name": "a", "image": "1"}]}}}});
        let p =
            json!({"spec": {"template": {"spec": {"containers": [{"name": "b", "image": "2"}]}}}});
        let r = strategic_merge_patch(&d, &p, "Deployment").unwrap();
        assert_eq!(
            names(&r["spec"]["template"]["spec"]["containers"], "name"),
            [json!("b"), json!("a")]
        );
        let p = json!({"spec": {"template": {"spec": {
            "$setElementOrder/containers": [{"name": "a"}, {"name": "b"}],
            "containers": [{"name": "b", "image": "2"}]}}}});
        let r = strategic_merge_patch(&d, &p, "Deployment").unwrap();
        assert_eq!(
            names(&r["spec"]["template"]["spec"]["containers"], "name"),
            [json!("a"), json!("b")]
        );
        let s = json!({"apiVersion": "v1", "kind": "Service", "spec": {"ports": [{"port": 80, "name": "a"}]}});
        let r = strategic_merge_patch(
            &s,
            &json!({"spec": {"ports": [{"port": 80, "name": "b"}]}}),
            "Service",
        )
        .unwrap();
        assert_eq!(r["spec"]["ports"], json!([{"port": 80, "name": "b"}]));
    }

    #[test]
    fn key_order_of_the_object_is_kept() {
        let r = smp(json!({"metadata": {"name": "q"}}));
        let keys: Vec<&String> = r.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["apiVersion", "kind", "metadata", "spec", "status"]);
        let mkeys: Vec<&String> = r["metadata"].as_object().unwrap().keys().collect();
        assert_eq!(mkeys[0], "name");
    }

    #[test]
    fn bad_patch_documents_are_rejected() {
        assert!(matches!(
            strategic_merge_patch(&pod(), &json!([1]), "Pod"),
            Err(PatchError::Malformed(_))
        ));
        let e = strategic_merge_patch(&pod(), &json!({"spec": {"containers": [["x"]]}}), "Pod");
        assert!(matches!(e, Err(PatchError::Failed(_))));
        let e = strategic_merge_patch(
            &pod(),
            &json!({"spec": {"containers": [{"name": "a"}, "x"]}}),
            "Pod",
        );
        assert!(matches!(e, Err(PatchError::Failed(_))));
    }
}
