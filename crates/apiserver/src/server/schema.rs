//! Structural-schema handling of custom resources: pruning of unknown fields (reported for
//! `fieldValidation=Strict|Warn`) and validation of types, enums and required fields.
//!
//! Divergence from Kubernetes: formats, patterns, numeric bounds and CEL rules are not checked.

use serde_json::{Map, Value};

use crate::error::Cause;

/// What walking an object against its schema found.
#[derive(Debug, Default, PartialEq)]
pub struct Report {
    /// Paths of fields that were pruned, as `spec.foo` (dotted, list indexes as `[i]`).
    pub unknown: Vec<String>,
    /// Type, enum and required-field violations.
    pub errors: Vec<Cause>,
}

/// The fields of `metadata` Kubernetes keeps; anything else is unknown.
const OBJECT_META_FIELDS: &[&str] = &[
    "name",
    "generateName",
    "namespace",
    "selfLink",
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "labels",
    "annotations",
    "ownerReferences",
    "finalizers",
    "managedFields",
];

/// Prunes `object` in place against `schema` (an `openAPIV3Schema`) and validates it.
pub fn prune_and_validate(schema: &Value, object: &mut Value) -> Report {
    let mut report = Report::default();
    if let Some(obj) = object.as_object_mut() {
        // apiVersion, kind and metadata are always allowed at the root; metadata is ObjectMeta.
        if let Some(meta) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
            let unknown: Vec<String> = meta
                .keys()
                .filter(|k| !OBJECT_META_FIELDS.contains(&k.as_str()))
                .cloned()
                .collect();
            for k in unknown {
                meta.remove(&k);
                report.unknown.push(format!("metadata.{k}"));
            }
        }
        walk_object(schema, obj, "", true, &mut report);
    }
    report
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

fn preserves_unknown(schema: &Value) -> bool {
    schema
        .get("x-kubernetes-preserve-unknown-fields")
        .and_then(Value::as_bool)
        == Some(true)
}

fn walk_object(
    schema: &Value,
    obj: &mut Map<String, Value>,
    path: &str,
    root: bool,
    report: &mut Report,
) {
    let props = schema.get("properties").and_then(Value::as_object);
    let additional = schema.get("additionalProperties");
    let keys: Vec<String> = obj.keys().cloned().collect();
    for k in keys {
        if root && matches!(k.as_str(), "apiVersion" | "kind" | "metadata") {
            continue;
        }
        let child_path = join(path, &k);
        let child_schema = props.and_then(|p| p.get(&k)).or_else(|| match additional {
            Some(a) if a.is_object() => Some(a),
            _ => None,
        });
        match child_schema {
            Some(s) => {
                let v = obj.get_mut(&k).expect("key from map");
                walk_value(s, v, &child_path, report);
            }
            None => {
                let allowed =
                    preserves_unknown(schema) || additional.and_then(Value::as_bool) == Some(true);
                if !allowed
                    && (props.is_some() || additional.is_some() || !preserves_unknown(schema))
                {
                    obj.remove(&k);
                    report.unknown.push(child_path);
                }
            }
        }
    }
    if let Some(required) = schema.get("required").and_then(Value::as_array) {
        for r in required.iter().filter_map(Value::as_str) {
            if !obj.contains_key(r) {
                report
                    .errors
                    .push(Cause::required(join(path, r), "Required value"));
            }
        }
    }
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn walk_value(schema: &Value, v: &mut Value, path: &str, report: &mut Report) {
    if v.is_null() {
        // Null is dropped by the real server's decoder unless the schema is nullable.
        return;
    }
    if schema
        .get("x-kubernetes-int-or-string")
        .and_then(Value::as_bool)
        == Some(true)
    {
        if !(v.is_string() || v.is_i64() || v.is_u64()) {
            report.errors.push(Cause::invalid(
                path,
                format!(
                    "Invalid value: \"{}\": {path} in body must be of type integer,string: \"{}\"",
                    type_name(v),
                    type_name(v)
                ),
            ));
        }
        return;
    }
    if let Some(expected) = schema.get("type").and_then(Value::as_str) {
        let actual = type_name(v);
        let ok = actual == expected || (expected == "number" && actual == "integer");
        if !ok {
            report.errors.push(Cause::invalid(
                path,
                format!("Invalid value: \"{actual}\": {path} in body must be of type {expected}: \"{actual}\""),
            ));
            return;
        }
    }
    if let Some(values) = schema.get("enum").and_then(Value::as_array)
        && !values.contains(v)
    {
        let list = values
            .iter()
            .map(|e| e.to_string())
            .collect::<Vec<_>>()
            .join(", ");
        report.errors.push(Cause::new(
            "FieldValueNotSupported",
            format!("Unsupported value: {v}: supported values: {list}"),
            path,
        ));
    }
    match v {
        Value::Object(o)
            if schema.get("properties").is_some()
                || schema.get("additionalProperties").is_some()
                || !preserves_unknown(schema) =>
        {
            walk_object(schema, o, path, false, report);
        }
        Value::Array(items) => {
            if let Some(item_schema) = schema.get("items") {
                for (i, item) in items.iter_mut().enumerate() {
                    walk_value(item_schema, item, &format!("{path}[{i}]"), report);
                }
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schema() -> Value {
        json!({
            "type": "object",
            "properties": {
                "spec": {
                    "type": "object",
                    "required": ["template"],
                    "properties": {
                        "replicas": {"type": "integer"},
                        "strategy": {"type": "string", "enum": ["A", "B"]},
                        "template": {"type": "object", "x-kubernetes-preserve-unknown-fields": true},
                        "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                        "items": {"type": "array", "items": {"type": "object", "properties": {"n": {"type": "string"}}}},
                        "mem": {"x-kubernetes-int-or-string": true}
                    }
                },
                "status": {"type": "object", "properties": {"ok": {"type": "boolean"}}}
            }
        })
    }

    #[test]
    fn unknown_fields_are_pruned_and_reported_with_their_path() {
        let mut o = json!({"apiVersion": "x/v1", "kind": "K", "metadata": {"name": "a", "bogus": 1},
            "spec": {"template": {"anything": 1}, "foo": 1, "items": [{"n": "a", "m": 2}]}, "extra": true});
        let r = prune_and_validate(&schema(), &mut o);
        assert_eq!(
            r.unknown,
            vec!["metadata.bogus", "spec.foo", "spec.items[0].m", "extra"]
        );
        assert!(r.errors.is_empty(), "{:?}", r.errors);
        assert_eq!(
            o["spec"]["template"]["anything"], 1,
            "preserve-unknown-fields keeps data"
        );
        assert!(o.get("extra").is_none());
    }

    #[test]
    fn wrong_types_and_values_are_errors() {
        let mut o =
            json!({"spec": {"template": {}, "replicas": "three", "strategy": "C", "mem": 1.5}});
        let r = prune_and_validate(&schema(), &mut o);
        let fields: Vec<_> = r.errors.iter().map(|c| c.field.as_str()).collect();
        assert_eq!(fields, vec!["spec.replicas", "spec.strategy", "spec.mem"]);
        assert!(r.errors[0].message.contains("must be of type integer"));
    }

    #[test]
    fn missing_required_fields_are_reported() {
        let mut o = json!({"spec": {}});
        let r = prune_and_validate(&schema(), &mut o);
        assert_eq!(
            r.errors,
            vec![Cause::required("spec.template", "Required value")]
        );
    }

    #[test]
    fn additional_properties_validate_map_values() {
        let mut o = json!({"spec": {"template": {}, "labels": {"a": "b", "c": 3}}});
        let r = prune_and_validate(&schema(), &mut o);
        assert_eq!(r.errors.len(), 1);
        assert_eq!(r.errors[0].field, "spec.labels.c");
    }
}
