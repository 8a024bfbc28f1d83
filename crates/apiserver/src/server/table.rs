//! `meta.k8s.io/v1` Table responses: a Name column, then the resource's printer columns (or a
//! built-in renderer's), with `date` cells shown as ages the way `kubectl` expects.

use serde_json::{Value, json};

use super::meta;
use super::options::IncludeObject;
use crate::builtin::human_duration;
use crate::jsonpath;
use crate::registry::{PrinterColumn, ResourceDef};

const NAME_DESCRIPTION: &str = "Name must be unique within a namespace. Is required when creating resources, although some resources may allow a client to request the generation of an appropriate name automatically. Name is primarily intended for creation idempotence and configuration definition. Cannot be updated. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names";

const AGE_DESCRIPTION: &str =
    "CreationTimestamp is a timestamp representing the server time when this object was created.";

/// Columns after Name: the renderer's, the version's printer columns, or Age.
pub fn columns(def: &ResourceDef, version: &str) -> Vec<PrinterColumn> {
    if let Some(r) = &def.table {
        return r.columns();
    }
    let cols = def
        .version(version)
        .map(|v| v.printer_columns.clone())
        .unwrap_or_default();
    if cols.is_empty() {
        vec![PrinterColumn {
            name: "Age".into(),
            type_: "date".into(),
            format: String::new(),
            description: AGE_DESCRIPTION.into(),
            priority: 0,
            json_path: ".metadata.creationTimestamp".into(),
        }]
    } else {
        cols
    }
}

/// Whether the columns already include the name (events put it last, shown only in wide output).
fn has_name_column(cols: &[PrinterColumn]) -> bool {
    cols.iter().any(|c| c.format == "name")
}

fn column_definitions(cols: &[PrinterColumn]) -> Vec<Value> {
    let mut defs = Vec::new();
    if !has_name_column(cols) {
        defs.push(json!({"name": "Name", "type": "string", "format": "name", "description": NAME_DESCRIPTION, "priority": 0}));
    }
    defs.extend(cols.iter().map(|c| {
        json!({"name": c.name, "type": c.type_, "format": c.format, "description": c.description, "priority": c.priority})
    }));
    defs
}

/// A Table of `objects` (already in the client's version).
pub fn table(
    def: &ResourceDef,
    version: &str,
    objects: &[Value],
    include: IncludeObject,
    list_meta: Value,
) -> Value {
    let cols = columns(def, version);
    let now = jiff::Timestamp::now();
    let rows: Vec<Value> = objects
        .iter()
        .map(|o| row(def, &cols, o, include, now))
        .collect();
    json!({
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": list_meta,
        "columnDefinitions": column_definitions(&cols),
        "rows": rows,
    })
}

fn row(
    def: &ResourceDef,
    cols: &[PrinterColumn],
    obj: &Value,
    include: IncludeObject,
    now: jiff::Timestamp,
) -> Value {
    let mut cells = if has_name_column(cols) {
        vec![]
    } else {
        vec![json!(meta::name(obj))]
    };
    let raw: Vec<Value> = match &def.table {
        Some(r) => r.cells(obj),
        None => cols.iter().map(|c| cell(c, obj)).collect(),
    };
    for (c, v) in cols.iter().zip(raw) {
        cells.push(if c.type_ == "date" {
            age_cell(&v, now)
        } else {
            v
        });
    }
    let object = match include {
        IncludeObject::None => Value::Null,
        IncludeObject::Object => obj.clone(),
        IncludeObject::Metadata => partial_metadata(obj),
    };
    let mut r = json!({"cells": cells});
    if !object.is_null() {
        r["object"] = object;
    }
    r
}

/// `PartialObjectMetadata` of an object.
pub fn partial_metadata(obj: &Value) -> Value {
    let mut m = meta::metadata(obj).clone();
    m.remove("managedFields");
    json!({
        "kind": "PartialObjectMetadata",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": m,
    })
}

/// The first value a column's JSONPath selects, converted to the column type.
fn cell(c: &PrinterColumn, obj: &Value) -> Value {
    let found = jsonpath::select(&c.json_path, obj);
    let Some(v) = found.into_iter().next() else {
        return Value::Null;
    };
    match c.type_.as_str() {
        "integer" => v.as_i64().map(Value::from).unwrap_or(Value::Null),
        "number" => v.as_f64().map(Value::from).unwrap_or(Value::Null),
        "boolean" => v.as_bool().map(Value::from).unwrap_or(Value::Null),
        "string" => match v {
            Value::String(_) => v,
            Value::Null => Value::Null,
            other => Value::String(other.to_string()),
        },
        _ => v,
    }
}

fn age_cell(v: &Value, now: jiff::Timestamp) -> Value {
    match v.as_str().and_then(|s| s.parse::<jiff::Timestamp>().ok()) {
        Some(t) => Value::String(human_duration(now.as_second() - t.as_second())),
        None => Value::String("<unknown>".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_renderer_with_its_own_name_column_gets_no_second_one() {
        let cols = vec![PrinterColumn {
            name: "Name".into(),
            type_: "string".into(),
            format: "name".into(),
            description: String::new(),
            priority: 1,
            json_path: String::new(),
        }];
        assert_eq!(column_definitions(&cols).len(), 1);
        assert_eq!(column_definitions(&[]).len(), 1);
        assert_eq!(column_definitions(&[]).first().unwrap()["name"], "Name");
    }

    #[test]
    fn partial_metadata_drops_managed_fields() {
        let o = json!({"metadata": {"name": "a", "managedFields": [{}], "labels": {"x": "y"}}});
        let p = partial_metadata(&o);
        assert_eq!(p["kind"], "PartialObjectMetadata");
        assert!(p["metadata"].get("managedFields").is_none());
        assert_eq!(p["metadata"]["labels"]["x"], "y");
    }
}
