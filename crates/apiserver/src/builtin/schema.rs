//! Structural OpenAPI v3 schemas for built-in kinds, derived from k8s-openapi's JSON schemas.
//!
//! k8s-openapi describes every type with schemars, naming definitions exactly as Kubernetes
//! does (`io.k8s.api.core.v1.Pod`). The schema a [`VersionDef`](crate::registry::VersionDef)
//! carries must be *structural* and self-contained, like a CRD's `openAPIV3Schema`, because the
//! server prunes and validates objects with it. [`structural`] therefore:
//!
//! - inlines every subschema (no `$ref`, no definitions);
//! - keeps only the keywords a structural schema allows;
//! - drops `required`: Kubernetes enforces required fields of built-in kinds in code, and the
//!   OpenAPI lists are both stricter in places (e.g. `ContainerStatus.imageID`) and looser than
//!   that code, so enforcing them would reject objects the real server accepts;
//! - marks objects with neither `properties` nor `additionalProperties` (`RawExtension`,
//!   `FieldsV1`) with `x-kubernetes-preserve-unknown-fields`, so their content survives pruning;
//! - replaces the top-level `metadata` with `{"type": "object"}`, as in a CRD: object metadata
//!   is handled by the server, not by the kind's schema.

use schemars::JsonSchema;
use schemars::generate::SchemaSettings;
use serde_json::{Map, Value, json};

/// Keywords kept in a structural schema node; anything else is dropped.
const KEPT: &[&str] = &[
    "description",
    "type",
    "format",
    "properties",
    "items",
    "additionalProperties",
    "enum",
    "default",
    "nullable",
    "maximum",
    "minimum",
    "exclusiveMaximum",
    "exclusiveMinimum",
    "maxLength",
    "minLength",
    "pattern",
    "maxItems",
    "minItems",
    "uniqueItems",
    "maxProperties",
    "minProperties",
];

/// The structural schema of a built-in kind `T` (see the module documentation).
pub fn structural<T: JsonSchema>() -> Value {
    let generator = SchemaSettings::openapi3()
        .with(|s| {
            s.inline_subschemas = true;
            s.meta_schema = None;
        })
        .into_generator();
    let root = generator.into_root_schema_for::<T>();
    let mut schema = clean(&Value::from(root));
    if let Some(props) = schema.get_mut("properties").and_then(Value::as_object_mut)
        && props.contains_key("metadata")
    {
        props.insert("metadata".into(), json!({"type": "object"}));
    }
    schema
}

/// One node, recursively. A `$ref` left by a recursive type cannot be inlined and becomes an
/// object that preserves unknown fields.
fn clean(node: &Value) -> Value {
    let Some(obj) = node.as_object() else {
        return node.clone();
    };
    if obj.contains_key("$ref") {
        let mut out = Map::new();
        if let Some(d) = obj.get("description") {
            out.insert("description".into(), d.clone());
        }
        out.insert("type".into(), "object".into());
        out.insert("x-kubernetes-preserve-unknown-fields".into(), true.into());
        return Value::Object(out);
    }
    let mut out = Map::new();
    for (k, v) in obj {
        let kept = KEPT.contains(&k.as_str()) || k.starts_with("x-kubernetes-");
        if !kept {
            continue;
        }
        let v = match k.as_str() {
            "properties" => Value::Object(
                v.as_object()
                    .into_iter()
                    .flatten()
                    .map(|(name, sub)| (name.clone(), clean(sub)))
                    .collect(),
            ),
            "items" => clean(v),
            "additionalProperties" if v.is_object() => clean(v),
            _ => v.clone(),
        };
        out.insert(k.clone(), v);
    }
    let is_object = out.get("type").and_then(Value::as_str) == Some("object");
    if is_object
        && !out.contains_key("properties")
        && !out.contains_key("additionalProperties")
        && !out.contains_key("x-kubernetes-preserve-unknown-fields")
    {
        out.insert("x-kubernetes-preserve-unknown-fields".into(), true.into());
    }
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::apps::v1::ControllerRevision;
    use k8s_openapi::api::core::v1::{Pod, Secret};

    fn walk(node: &Value, path: &str, visit: &mut dyn FnMut(&str, &Map<String, Value>)) {
        let Some(obj) = node.as_object() else { return };
        visit(path, obj);
        for (name, sub) in obj
            .get("properties")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
        {
            walk(sub, &format!("{path}.{name}"), visit);
        }
        if let Some(items) = obj.get("items") {
            walk(items, &format!("{path}[]"), visit);
        }
        if let Some(ap) = obj.get("additionalProperties") {
            walk(ap, &format!("{path}{{}}"), visit);
        }
    }

    #[test]
    fn pod_schema_is_inline_and_keeps_only_structural_keywords() {
        let s = structural::<Pod>();
        let mut bad = Vec::new();
        walk(&s, "", &mut |path, obj| {
            for k in obj.keys() {
                if !(KEPT.contains(&k.as_str()) || k.starts_with("x-kubernetes-")) {
                    bad.push(format!("{path}: {k}"));
                }
            }
        });
        assert!(bad.is_empty(), "unexpected keywords: {bad:?}");
        assert!(!s.to_string().contains("$ref"));
        assert_eq!(
            s.pointer("/properties/metadata"),
            Some(&json!({"type": "object"}))
        );
        assert_eq!(
            s.pointer("/properties/spec/properties/containers/items/properties/image/type"),
            Some(&json!("string"))
        );
        assert!(s.get("required").is_none());
    }

    #[test]
    fn opaque_objects_preserve_unknown_fields() {
        let s = structural::<ControllerRevision>();
        let data = s.pointer("/properties/data").unwrap();
        assert_eq!(data["x-kubernetes-preserve-unknown-fields"], json!(true));
    }

    #[test]
    fn secret_data_is_a_map_of_bytes() {
        let s = structural::<Secret>();
        assert_eq!(
            s.pointer("/properties/data/additionalProperties"),
            Some(&json!({"type": "string", "format": "byte"}))
        );
    }

    #[test]
    fn every_object_node_can_hold_fields() {
        let s = structural::<Pod>();
        let mut empty = Vec::new();
        walk(&s, "", &mut |path, obj| {
            let object = obj.get("type").and_then(Value::as_str) == Some("object");
            let holds = obj.contains_key("properties")
                || obj.contains_key("additionalProperties")
                || obj.contains_key("x-kubernetes-preserve-unknown-fields");
            // The top-level metadata is left to the server, as in a CRD.
            if object && !holds && path != ".metadata" {
                empty.push(path.to_string());
            }
        });
        assert!(
            empty.is_empty(),
            "objects that would be pruned to nothing: {empty:?}"
        );
    }
}
