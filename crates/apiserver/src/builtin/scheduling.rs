//! scheduling.k8s.io/v1 `PriorityClass`, the cluster-scoped kind pods and VMIs name in
//! `priorityClassName`.

use k8s_openapi::api::scheduling::v1::PriorityClass;
use serde_json::{Value, json};

use super::core::Table;
use super::schema::structural;
use super::{Builtin, age_cell, age_column, column, str_at};
use crate::registry::{PrinterColumn, ResourceDef};

pub fn priority_classes() -> ResourceDef {
    Builtin {
        group: "scheduling.k8s.io",
        version: "v1",
        kind: "PriorityClass",
        plural: "priorityclasses",
        short_names: &["pc"],
        categories: &[],
        namespaced: false,
        status_subresource: false,
        selectable: &[],
        schema: structural::<PriorityClass>(),
        table: Table::new(priority_class_columns, priority_class_cells),
    }
    .build()
}

fn priority_class_columns() -> Vec<PrinterColumn> {
    vec![
        column(
            "Value",
            "integer",
            0,
            "value represents the integer value of this priority class. This is the actual priority that pods receive when they have the name of this class in their pod spec.",
        ),
        column(
            "Global-Default",
            "boolean",
            0,
            "globalDefault specifies whether this PriorityClass should be considered as the default priority for pods that do not have any priority class.",
        ),
        age_column(),
        column(
            "PreemptionPolicy",
            "string",
            0,
            "preemptionPolicy is the Policy for preempting pods with lower priority. One of Never, PreemptLowerPriority. Defaults to PreemptLowerPriority if unset.",
        ),
    ]
}

/// Value, global default (false when unset), age, and the preemption policy ("" when unset).
fn priority_class_cells(o: &Value) -> Vec<Value> {
    let value = o.get("value").and_then(Value::as_i64).unwrap_or(0);
    let global_default = o
        .get("globalDefault")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    vec![
        json!(value),
        json!(global_default),
        age_cell(o),
        json!(str_at(o, "/preemptionPolicy")),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn priority_class_is_cluster_scoped_with_short_name_pc() {
        let def = priority_classes();
        assert!(!def.namespaced);
        assert_eq!(def.short_names, ["pc"]);
        assert_eq!(def.group, "scheduling.k8s.io");
        assert_eq!(def.versions[0].name, "v1");
        let schema = def.versions[0].schema.as_ref().unwrap();
        assert_eq!(
            schema.pointer("/properties/value/type"),
            Some(&json!("integer"))
        );
        assert_eq!(
            schema.pointer("/properties/preemptionPolicy/type"),
            Some(&json!("string"))
        );
    }

    #[test]
    fn priority_class_row_shows_value_default_and_policy() {
        let def = priority_classes();
        let table = def.table.as_ref().unwrap();
        let names: Vec<_> = table.columns().into_iter().map(|c| c.name).collect();
        assert_eq!(
            names,
            ["Value", "Global-Default", "Age", "PreemptionPolicy"]
        );
        let pc = json!({"metadata": {"name": "non-preemtible", "creationTimestamp": "2025-01-01T00:00:00Z"},
                        "value": 999999999, "preemptionPolicy": "Never"});
        assert_eq!(
            table.cells(&pc),
            [
                json!(999999999),
                json!(false),
                json!("2025-01-01T00:00:00Z"),
                json!("Never")
            ]
        );
        let default = json!({"value": -5, "globalDefault": true});
        assert_eq!(
            table.cells(&default),
            [json!(-5), json!(true), Value::Null, json!("")]
        );
    }
}
