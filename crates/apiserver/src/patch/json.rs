//! RFC 6902 JSON patch. Operations apply in order to a copy of the document, so a failing
//! operation leaves nothing half-applied. Error messages follow the wording of the JSON-patch
//! library the Kubernetes API server uses (`testing value /x failed: test failed`, `remove
//! operation does not apply: doc is missing path: "/x": missing value`, ...).

use serde_json::Value;

use super::PatchError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OpKind {
    Add,
    Remove,
    Replace,
    Move,
    Copy,
    Test,
}

#[derive(Debug)]
struct Op {
    kind: OpKind,
    path: String,
    from: Option<String>,
    value: Option<Value>,
}

/// Applies an RFC 6902 JSON patch (all six ops, `-` append, `~0`/`~1` escapes).
pub fn json_patch(doc: &Value, patch: &Value) -> Result<Value, PatchError> {
    let ops = parse(patch)?;
    let mut out = doc.clone();
    for op in &ops {
        apply_op(&mut out, op)?;
    }
    Ok(out)
}

fn parse(patch: &Value) -> Result<Vec<Op>, PatchError> {
    let Value::Array(items) = patch else {
        return Err(PatchError::Malformed(format!(
            "json: cannot unmarshal {} into Go value of type jsonpatch.Patch",
            json_type(patch)
        )));
    };
    items.iter().map(parse_op).collect()
}

fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn parse_op(item: &Value) -> Result<Op, PatchError> {
    let Value::Object(m) = item else {
        return Err(PatchError::Malformed(format!(
            "json: cannot unmarshal {} into Go value of type jsonpatch.Operation",
            json_type(item)
        )));
    };
    let name = m.get("op").and_then(Value::as_str).unwrap_or("unknown");
    let kind = match name {
        "add" => OpKind::Add,
        "remove" => OpKind::Remove,
        "replace" => OpKind::Replace,
        "move" => OpKind::Move,
        "copy" => OpKind::Copy,
        "test" => OpKind::Test,
        other => return Err(PatchError::Malformed(format!("Unexpected kind: {other}"))),
    };
    let pointer = |field: &str| -> Result<String, PatchError> {
        match m.get(field) {
            Some(Value::String(p)) if p.is_empty() || p.starts_with('/') => Ok(p.clone()),
            Some(Value::String(p)) => Err(PatchError::Malformed(format!(
                "{name} operation has an invalid {field}: {p:?}"
            ))),
            _ => Err(PatchError::Malformed(format!(
                "{name} operation failed to decode {field}"
            ))),
        }
    };
    let path = pointer("path")?;
    let from = match kind {
        OpKind::Move | OpKind::Copy => Some(pointer("from")?),
        _ => None,
    };
    let value = m.get("value").cloned();
    if value.is_none() && matches!(kind, OpKind::Add | OpKind::Replace | OpKind::Test) {
        return Err(PatchError::Malformed(format!(
            "{name} operation missing value: {path}"
        )));
    }
    Ok(Op {
        kind,
        path,
        from,
        value,
    })
}

/// The unescaped reference tokens of a JSON pointer (`""` is the whole document).
fn tokens(pointer: &str) -> Vec<String> {
    if pointer.is_empty() {
        return Vec::new();
    }
    pointer[1..]
        .split('/')
        .map(|t| t.replace("~1", "/").replace("~0", "~"))
        .collect()
}

/// An array index token: decimal without leading zeros.
fn index(token: &str) -> Option<usize> {
    if token.is_empty()
        || (token.len() > 1 && token.starts_with('0'))
        || !token.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    token.parse().ok()
}

fn get<'a>(doc: &'a Value, toks: &[String]) -> Option<&'a Value> {
    toks.iter().try_fold(doc, |cur, t| match cur {
        Value::Object(m) => m.get(t),
        Value::Array(a) => index(t).and_then(|i| a.get(i)),
        _ => None,
    })
}

fn get_mut<'a>(doc: &'a mut Value, toks: &[String]) -> Option<&'a mut Value> {
    toks.iter().try_fold(doc, |cur, t| match cur {
        Value::Object(m) => m.get_mut(t),
        Value::Array(a) => index(t).and_then(|i| a.get_mut(i)),
        _ => None,
    })
}

fn missing(op: &str, path: &str) -> PatchError {
    PatchError::Failed(format!(
        "{op} operation does not apply: doc is missing path: {path:?}: missing value"
    ))
}

fn add(doc: &mut Value, path: &str, value: Value) -> Result<(), PatchError> {
    let toks = tokens(path);
    let Some((last, parent)) = toks.split_last() else {
        *doc = value;
        return Ok(());
    };
    match get_mut(doc, parent) {
        Some(Value::Object(m)) => {
            m.insert(last.clone(), value);
            Ok(())
        }
        Some(Value::Array(a)) => {
            let i = if last == "-" {
                Some(a.len())
            } else {
                index(last)
            };
            match i {
                Some(i) if i <= a.len() => {
                    a.insert(i, value);
                    Ok(())
                }
                _ => Err(PatchError::Failed(format!(
                    "error in add for path: '{path}': Unable to access invalid index: {last}: \
                     invalid index referenced"
                ))),
            }
        }
        _ => Err(missing("add", path)),
    }
}

fn remove(doc: &mut Value, path: &str, op: &str) -> Result<Value, PatchError> {
    let toks = tokens(path);
    let Some((last, parent)) = toks.split_last() else {
        return Err(PatchError::Failed(format!(
            "{op} operation does not apply: cannot remove the whole document"
        )));
    };
    let removed = match get_mut(doc, parent) {
        Some(Value::Object(m)) => m.shift_remove(last),
        Some(Value::Array(a)) => index(last).filter(|i| *i < a.len()).map(|i| a.remove(i)),
        _ => None,
    };
    removed.ok_or_else(|| missing(op, path))
}

fn apply_op(doc: &mut Value, op: &Op) -> Result<(), PatchError> {
    let value = || op.value.clone().unwrap_or(Value::Null);
    match op.kind {
        OpKind::Add => add(doc, &op.path, value()),
        OpKind::Remove => remove(doc, &op.path, "remove").map(drop),
        OpKind::Replace => {
            let toks = tokens(&op.path);
            if let Some(target) = get_mut(doc, &toks) {
                *target = value();
                return Ok(());
            }
            // As evanphx/json-patch in the real server: a missing key of an existing object is
            // set (KubeVirt's subresources rely on `test null` + `replace`); a missing parent
            // or an array index out of range fails.
            let missing = || {
                PatchError::Failed(format!(
                    "replace operation does not apply: doc is missing key: {}: missing value",
                    op.path
                ))
            };
            let (last, parent) = toks.split_last().ok_or_else(missing)?;
            match get_mut(doc, parent) {
                Some(Value::Object(map)) => {
                    map.insert(last.clone(), value());
                    Ok(())
                }
                _ => Err(missing()),
            }
        }
        OpKind::Move => {
            let from = op.from.as_deref().unwrap_or_default();
            if from == op.path {
                return Ok(());
            }
            if op.path.starts_with(&format!("{from}/")) {
                return Err(PatchError::Failed(format!(
                    "move operation does not apply: cannot move {from} into its own child {}",
                    op.path
                )));
            }
            if get(doc, &tokens(from)).is_none() {
                return Err(PatchError::Failed(format!(
                    "move operation does not apply: doc is missing from path: {from}: missing value"
                )));
            }
            let v = remove(doc, from, "move")?;
            add(doc, &op.path, v)
        }
        OpKind::Copy => {
            let from = op.from.as_deref().unwrap_or_default();
            let v = get(doc, &tokens(from)).cloned().ok_or_else(|| {
                PatchError::Failed(format!(
                    "copy operation does not apply: doc is missing from path: {from}: missing value"
                ))
            })?;
            add(doc, &op.path, v)
        }
        OpKind::Test => {
            let expected = value();
            let ok = match get(doc, &tokens(&op.path)) {
                Some(actual) => json_equal(actual, &expected),
                // As in the API server's library, testing a missing path for null passes.
                None => expected.is_null(),
            };
            if ok {
                Ok(())
            } else {
                Err(PatchError::Failed(format!(
                    "testing value {} failed: test failed",
                    op.path
                )))
            }
        }
    }
}

/// JSON equality with numbers compared by value (`1` equals `1.0`).
fn json_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x == y || x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| json_equal(a, b))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| json_equal(v, w)))
        }
        _ => a == b,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn doc() -> Value {
        json!({"metadata": {"name": "x", "finalizers": ["a", "b"], "labels": {"a/b": "1", "m~n": "2"}}, "spec": {"n": 1}})
    }

    fn ok(patch: Value) -> Value {
        json_patch(&doc(), &patch).unwrap()
    }

    fn failed(patch: Value) -> String {
        match json_patch(&doc(), &patch) {
            Err(PatchError::Failed(m)) => m,
            other => panic!("expected Failed, got {other:?}"),
        }
    }

    fn malformed(patch: Value) -> String {
        match json_patch(&doc(), &patch) {
            Err(PatchError::Malformed(m)) => m,
            other => panic!("expected Malformed, got {other:?}"),
        }
    }

    #[test]
    fn add_inserts_into_objects_and_arrays() {
        assert_eq!(
            ok(json!([{"op": "add", "path": "/spec/m", "value": 2}]))["spec"],
            json!({"n": 1, "m": 2})
        );
        let r = ok(json!([{"op": "add", "path": "/metadata/finalizers/-", "value": "c"}]));
        assert_eq!(r["metadata"]["finalizers"], json!(["a", "b", "c"]));
        let r = ok(json!([{"op": "add", "path": "/metadata/finalizers/0", "value": "z"}]));
        assert_eq!(r["metadata"]["finalizers"], json!(["z", "a", "b"]));
        let r = ok(json!([{"op": "add", "path": "/metadata/finalizers/2", "value": "z"}]));
        assert_eq!(r["metadata"]["finalizers"], json!(["a", "b", "z"]));
        assert_eq!(
            ok(json!([{"op": "add", "path": "", "value": {"x": 1}}])),
            json!({"x": 1})
        );
    }

    #[test]
    fn escaped_tokens_address_keys_with_slash_and_tilde() {
        let r = ok(json!([
            {"op": "replace", "path": "/metadata/labels/a~1b", "value": "9"},
            {"op": "remove", "path": "/metadata/labels/m~0n"}
        ]));
        assert_eq!(r["metadata"]["labels"], json!({"a/b": "9"}));
    }

    #[test]
    fn remove_replace_move_copy_work() {
        let r = ok(json!([{"op": "remove", "path": "/metadata/finalizers/0"}]));
        assert_eq!(r["metadata"]["finalizers"], json!(["b"]));
        let r = ok(json!([{"op": "replace", "path": "/spec/n", "value": 5}]));
        assert_eq!(r["spec"]["n"], json!(5));
        let r = ok(json!([{"op": "move", "from": "/spec/n", "path": "/spec/m"}]));
        assert_eq!(r["spec"], json!({"m": 1}));
        let r = ok(json!([{"op": "copy", "from": "/metadata/name", "path": "/spec/name"}]));
        assert_eq!(r["spec"], json!({"n": 1, "name": "x"}));
    }

    #[test]
    fn passing_test_lets_later_ops_apply() {
        let r = ok(json!([
            {"op": "test", "path": "/metadata/finalizers/0", "value": "a"},
            {"op": "remove", "path": "/metadata/finalizers/0"}
        ]));
        assert_eq!(r["metadata"]["finalizers"], json!(["b"]));
        ok(json!([{"op": "test", "path": "/spec/n", "value": 1.0}]));
        ok(json!([{"op": "test", "path": "/spec/none", "value": null}]));
    }

    #[test]
    fn replace_of_a_missing_key_in_an_existing_object_sets_it() {
        let r = ok(json!([
            {"op": "test", "path": "/spec/absent", "value": null},
            {"op": "replace", "path": "/spec/absent", "value": 5}
        ]));
        assert_eq!(r["spec"]["absent"], 5);
    }

    #[test]
    fn failed_operations_are_reported_like_the_api_server() {
        assert_eq!(
            failed(json!([{"op": "test", "path": "/metadata/finalizers/0", "value": "b"}])),
            "testing value /metadata/finalizers/0 failed: test failed"
        );
        assert_eq!(
            failed(json!([{"op": "remove", "path": "/metadata/labels/foo"}])),
            "remove operation does not apply: doc is missing path: \"/metadata/labels/foo\": missing value"
        );
        assert!(
            failed(json!([{"op": "replace", "path": "/nope/x", "value": 1}]))
                .starts_with("replace operation does not apply")
        );
        assert!(
            failed(json!([{"op": "replace", "path": "/metadata/finalizers/7", "value": "x"}]))
                .starts_with("replace operation does not apply")
        );
        assert!(
            failed(json!([{"op": "add", "path": "/nope/x", "value": 1}]))
                .starts_with("add operation does not apply")
        );
        assert!(
            failed(json!([{"op": "add", "path": "/metadata/finalizers/5", "value": 1}]))
                .contains("invalid index")
        );
        assert!(
            failed(json!([{"op": "remove", "path": "/metadata/finalizers/01"}]))
                .starts_with("remove operation")
        );
        assert!(
            failed(json!([{"op": "move", "from": "/spec", "path": "/spec/x"}]))
                .contains("own child")
        );
        assert!(
            failed(json!([{"op": "copy", "from": "/none", "path": "/x"}]))
                .starts_with("copy operation")
        );
    }

    #[test]
    fn failure_leaves_no_partial_result() {
        let patch = json!([{"op": "remove", "path": "/spec/n"}, {"op": "test", "path": "/spec/n", "value": 1}]);
        let d = doc();
        assert!(json_patch(&d, &patch).is_err());
        assert_eq!(d, doc());
    }

    #[test]
    fn malformed_documents_are_bad_requests() {
        assert!(malformed(json!({"op": "add"})).contains("cannot unmarshal object"));
        assert_eq!(
            malformed(json!([{"op": "frob", "path": "/x"}])),
            "Unexpected kind: frob"
        );
        assert!(malformed(json!([{"op": "add", "path": "/x"}])).contains("missing value"));
        assert!(malformed(json!([{"op": "remove"}])).contains("path"));
        assert!(malformed(json!([{"op": "move", "path": "/x"}])).contains("from"));
        assert!(malformed(json!([{"op": "remove", "path": "x"}])).contains("invalid path"));
        assert!(malformed(json!([1])).contains("cannot unmarshal number"));
    }
}
