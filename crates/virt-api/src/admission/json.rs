//! Small operations on JSON objects that keep every field they do not touch.

use serde_json::{Map, Value};

/// Writes `typed` (an encoding of a typed struct) over `original`: objects merge key by key,
/// arrays element by element, anything else is replaced. Keys and elements only `original` has
/// are kept, so fields the typed struct does not know survive a typed mutation.
pub fn overlay(original: &mut Value, typed: Value) {
    match (original, typed) {
        (Value::Object(orig), Value::Object(new)) => {
            for (k, v) in new {
                match orig.get_mut(&k) {
                    Some(slot) => overlay(slot, v),
                    None => {
                        orig.insert(k, v);
                    }
                }
            }
        }
        (Value::Array(orig), Value::Array(new)) => {
            let len = new.len();
            for (i, v) in new.into_iter().enumerate() {
                match orig.get_mut(i) {
                    Some(slot) => overlay(slot, v),
                    None => orig.push(v),
                }
            }
            orig.truncate(len);
        }
        (slot, v) => *slot = v,
    }
}

/// The object at `path` under `root`, created (with every missing parent) if absent or not an
/// object.
pub fn object_at<'a>(root: &'a mut Value, path: &[&str]) -> &'a mut Map<String, Value> {
    let mut cur = root;
    for key in path {
        if !cur.is_object() {
            *cur = Value::Object(Map::new());
        }
        let map = cur.as_object_mut().expect("just made an object");
        cur = map
            .entry(key.to_string())
            .or_insert_with(|| Value::Object(Map::new()));
    }
    if !cur.is_object() {
        *cur = Value::Object(Map::new());
    }
    cur.as_object_mut().expect("just made an object")
}

/// The string at a JSON pointer, if it is one.
pub fn str_at<'a>(v: &'a Value, pointer: &str) -> Option<&'a str> {
    v.pointer(pointer).and_then(Value::as_str)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn overlay_keeps_fields_the_typed_side_does_not_know() {
        let mut orig = json!({"a": {"x": 1, "unknown": true}, "list": [{"n": 1, "extra": 2}]});
        overlay(
            &mut orig,
            json!({"a": {"x": 2}, "list": [{"n": 1}, {"n": 3}], "b": "new"}),
        );
        assert_eq!(
            orig,
            json!({"a": {"x": 2, "unknown": true}, "list": [{"n": 1, "extra": 2}, {"n": 3}], "b": "new"})
        );
    }

    #[test]
    fn overlay_shortens_arrays_to_the_typed_length() {
        let mut orig = json!({"l": [1, 2, 3]});
        overlay(&mut orig, json!({"l": [9]}));
        assert_eq!(orig, json!({"l": [9]}));
    }

    #[test]
    fn object_at_creates_missing_parents() {
        let mut v = json!({"metadata": {"name": "x"}});
        object_at(&mut v, &["metadata", "annotations"]).insert("k".into(), json!("v"));
        assert_eq!(
            v,
            json!({"metadata": {"name": "x", "annotations": {"k": "v"}}})
        );
    }
}
