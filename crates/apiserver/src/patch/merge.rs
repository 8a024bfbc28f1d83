//! RFC 7396 JSON merge patch.

use serde_json::{Map, Value};

use super::PatchError;

/// Applies an RFC 7396 merge patch (`null` deletes, arrays replace). The API server only
/// accepts an object as the patch document.
pub fn merge_patch(doc: &Value, patch: &Value) -> Result<Value, PatchError> {
    if !patch.is_object() {
        return Err(PatchError::Malformed("Invalid JSON Patch".to_string()));
    }
    let mut out = doc.clone();
    merge_into(&mut out, patch);
    Ok(out)
}

/// Merges `patch` into `target` in place (RFC 7396 `MergePatch`): objects merge key by key,
/// `null` members delete, anything else replaces.
pub(crate) fn merge_into(target: &mut Value, patch: &Value) {
    let Value::Object(p) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    let Value::Object(t) = target else { return };
    for (k, v) in p {
        if v.is_null() {
            t.shift_remove(k);
        } else {
            merge_into(t.entry(k.clone()).or_insert(Value::Null), v);
        }
    }
}

/// The merge patch that turns `from` into `to` (objects diffed key by key; anything else,
/// including arrays, replaced whole).
pub fn merge_diff(from: &Value, to: &Value) -> Value {
    match (from, to) {
        (Value::Object(a), Value::Object(b)) => {
            let mut out = Map::new();
            for (k, av) in a {
                match b.get(k) {
                    None => {
                        out.insert(k.clone(), Value::Null);
                    }
                    Some(bv) if bv != av => {
                        out.insert(k.clone(), merge_diff(av, bv));
                    }
                    Some(_) => {}
                }
            }
            for (k, bv) in b {
                if !a.contains_key(k) {
                    out.insert(k.clone(), bv.clone());
                }
            }
            Value::Object(out)
        }
        _ => to.clone(),
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde_json::json;

    use super::*;

    #[test]
    fn rfc_7396_examples_hold() {
        let cases = [
            (json!({"a": "b"}), json!({"a": "c"}), json!({"a": "c"})),
            (
                json!({"a": "b"}),
                json!({"b": "c"}),
                json!({"a": "b", "b": "c"}),
            ),
            (json!({"a": "b"}), json!({"a": null}), json!({})),
            (
                json!({"a": "b", "b": "c"}),
                json!({"a": null}),
                json!({"b": "c"}),
            ),
            (json!({"a": ["b"]}), json!({"a": "c"}), json!({"a": "c"})),
            (json!({"a": "c"}), json!({"a": ["b"]}), json!({"a": ["b"]})),
            (
                json!({"a": {"b": "c"}}),
                json!({"a": {"b": "d", "c": null}}),
                json!({"a": {"b": "d"}}),
            ),
            (
                json!({"a": [{"b": "c"}]}),
                json!({"a": [1]}),
                json!({"a": [1]}),
            ),
            (
                json!({"e": null}),
                json!({"a": 1}),
                json!({"e": null, "a": 1}),
            ),
            (
                json!([1, 2]),
                json!({"a": "b", "c": null}),
                json!({"a": "b"}),
            ),
            (
                json!({}),
                json!({"a": {"bb": {"ccc": null}}}),
                json!({"a": {"bb": {}}}),
            ),
        ];
        for (doc, patch, want) in cases {
            assert_eq!(merge_patch(&doc, &patch).unwrap(), want, "{doc} + {patch}");
        }
    }

    #[test]
    fn non_object_patches_are_malformed() {
        for p in [json!([1]), json!("x"), json!(null)] {
            assert!(matches!(
                merge_patch(&json!({}), &p),
                Err(PatchError::Malformed(_))
            ));
        }
    }

    #[test]
    fn key_order_of_the_document_is_kept() {
        let r = merge_patch(
            &json!({"a": 1, "b": 2, "c": 3}),
            &json!({"b": null, "a": 5}),
        )
        .unwrap();
        assert_eq!(
            r.as_object().unwrap().keys().collect::<Vec<_>>(),
            ["a", "c"]
        );
    }

    fn json_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            any::<bool>().prop_map(Value::from),
            (-5i64..5).prop_map(Value::from),
            "[a-c]{0,2}".prop_map(Value::from),
        ];
        leaf.prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..3).prop_map(Value::from),
                prop::collection::btree_map("[a-d]", inner, 0..4)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    fn json_object() -> impl Strategy<Value = Value> {
        prop::collection::btree_map("[a-d]", json_value(), 0..4)
            .prop_map(|m| Value::Object(m.into_iter().collect()))
    }

    proptest! {
        #[test]
        fn the_diff_patch_turns_a_into_b(a in json_object(), b in json_object()) {
            let patch = merge_diff(&a, &b);
            prop_assert_eq!(merge_patch(&a, &patch).unwrap(), b);
        }

        #[test]
        fn applying_a_patch_twice_changes_nothing_more(a in json_object(), p in json_object()) {
            let once = merge_patch(&a, &p).unwrap();
            prop_assert_eq!(merge_patch(&once, &p).unwrap(), once);
        }

        #[test]
        fn the_empty_patch_is_the_identity(a in json_object()) {
            prop_assert_eq!(merge_patch(&a, &json!({})).unwrap(), a);
        }
    }
}
