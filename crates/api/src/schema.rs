//! JSON-schema pieces the derived schemas cannot express, and the normalisation that turns the
//! derived CRD schemas into the shape upstream KubeVirt publishes.

use schemars::{Schema, SchemaGenerator, json_schema};
use serde_json::{Map, Value, json};

/// Pattern upstream CRDs put on every resource quantity.
pub const QUANTITY_PATTERN: &str = r"^(\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))))?$";

const LOCAL_OBJECT_REFERENCE_NAME_DESCRIPTION: &str = "Name of the referent.\nThis field is effectively required, but due to backwards compatibility is\nallowed to be empty. Instances of this type with an empty value here are\nalmost certainly wrong.\nMore info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names/#names";

/// Start of the description k8s-openapi gives its `Quantity` schema.
const QUANTITY_DESCRIPTION_PREFIX: &str = "Quantity is a fixed-point representation";

/// Schema of an embedded `ObjectMeta` (template metadata): kept as-is by the API server.
pub(crate) fn embedded_object_meta(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": "object",
        "nullable": true,
        "x-kubernetes-preserve-unknown-fields": true,
    })
}

/// Schema of a `LocalObjectReference`: an atomic object whose `name` defaults to `""`.
pub(crate) fn local_object_reference(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": "object",
        "properties": {
            "name": {
                "default": "",
                "description": LOCAL_OBJECT_REFERENCE_NAME_DESCRIPTION,
                "type": "string",
            },
        },
        "x-kubernetes-map-type": "atomic",
    })
}

/// Schema of a resource quantity: an integer or a string in quantity syntax.
pub(crate) fn quantity(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "x-kubernetes-int-or-string": true,
        "pattern": QUANTITY_PATTERN,
    })
}

/// Schema of a resource list: a map from resource name to quantity.
pub(crate) fn quantity_map(generator: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": "object",
        "additionalProperties": quantity(generator),
    })
}

/// Rewrites a derived CRD schema into the conventions of the upstream CRDs.
///
/// * An int-or-string node gets `anyOf: [integer, string]`, which the structural rewriter of the
///   derive would have stripped from the variants had it been present earlier.
/// * A k8s-openapi `Quantity` schema becomes the upstream quantity schema.
/// * Unsigned integer formats become `int64` with explicit bounds (the API server knows no
///   `uint*` formats).
/// * An `enum` loses the `null` the derive adds for optional fields; `nullable` already allows it.
pub(crate) fn normalize(schema: &mut Value) {
    let Value::Object(node) = schema else {
        return;
    };
    for key in ["properties", "patternProperties"] {
        if let Some(Value::Object(props)) = node.get_mut(key) {
            props.values_mut().for_each(normalize);
        }
    }
    for key in ["items", "additionalProperties"] {
        if let Some(child) = node.get_mut(key) {
            normalize(child);
        }
    }
    for key in ["anyOf", "oneOf", "allOf"] {
        if let Some(Value::Array(children)) = node.get_mut(key) {
            children.iter_mut().for_each(normalize);
        }
    }

    let is_k8s_quantity = node
        .get("description")
        .and_then(Value::as_str)
        .is_some_and(|d| d.starts_with(QUANTITY_DESCRIPTION_PREFIX));
    if is_k8s_quantity {
        node.remove("description");
        node.insert("pattern".into(), QUANTITY_PATTERN.into());
    }
    if node.get("x-kubernetes-int-or-string") == Some(&Value::Bool(true)) {
        node.remove("type");
        node.entry("anyOf")
            .or_insert_with(|| json!([{"type": "integer"}, {"type": "string"}]));
    }
    if let Some(Value::Array(values)) = node.get_mut("enum") {
        values.retain(|v| !v.is_null());
    }
    normalize_unsigned(node);
}

fn normalize_unsigned(node: &mut Map<String, Value>) {
    let max = match node.get("format").and_then(Value::as_str) {
        Some("uint8") => Some(u64::from(u8::MAX)),
        Some("uint16") => Some(u64::from(u16::MAX)),
        Some("uint32") => Some(u64::from(u32::MAX)),
        Some("uint64" | "uint") => None,
        _ => return,
    };
    node.insert("format".into(), "int64".into());
    node.entry("minimum").or_insert_with(|| 0.into());
    if let Some(max) = max {
        node.entry("maximum").or_insert_with(|| max.into());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn int_or_string_gets_both_variants() {
        let mut schema = json!({"x-kubernetes-int-or-string": true, "nullable": true});
        normalize(&mut schema);
        assert_eq!(
            schema["anyOf"],
            json!([{"type": "integer"}, {"type": "string"}])
        );
    }

    #[test]
    fn k8s_quantity_becomes_upstream_quantity() {
        let mut schema = json!({"type": "object", "additionalProperties": {
            "description": "Quantity is a fixed-point representation of a number.",
            "x-kubernetes-int-or-string": true,
        }});
        normalize(&mut schema);
        let value = &schema["additionalProperties"];
        assert!(value.get("description").is_none());
        assert_eq!(value["pattern"], QUANTITY_PATTERN);
        assert!(value["anyOf"].is_array());
    }

    #[test]
    fn unsigned_formats_become_bounded_int64() {
        let mut schema = json!({"properties": {"a": {"type": "integer", "format": "uint32"}}});
        normalize(&mut schema);
        assert_eq!(
            schema["properties"]["a"],
            json!({"type": "integer", "format": "int64", "minimum": 0, "maximum": 4294967295u64})
        );
    }

    #[test]
    fn enum_drops_null_but_keeps_nullable() {
        let mut schema = json!({"type": "string", "nullable": true, "enum": ["A", null]});
        normalize(&mut schema);
        assert_eq!(schema["enum"], json!(["A"]));
        assert_eq!(schema["nullable"], true);
    }
}
