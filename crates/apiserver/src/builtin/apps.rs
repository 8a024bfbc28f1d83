//! apps/v1 `ControllerRevision` and coordination.k8s.io/v1 `Lease`.

use k8s_openapi::api::apps::v1::ControllerRevision;
use k8s_openapi::api::coordination::v1::Lease;
use serde_json::{Value, json};

use super::core::Table;
use super::schema::structural;
use super::{Builtin, age_cell, age_column, array_at, column, str_at};
use crate::registry::ResourceDef;

pub fn controller_revisions() -> ResourceDef {
    Builtin {
        group: "apps",
        version: "v1",
        kind: "ControllerRevision",
        plural: "controllerrevisions",
        short_names: &[],
        categories: &[],
        namespaced: true,
        status_subresource: false,
        selectable: &[],
        schema: structural::<ControllerRevision>(),
        table: Table::new(
            || {
                vec![
                    column("Controller", "string", 0, "Controller of the object."),
                    column(
                        "Revision",
                        "integer",
                        0,
                        "Revision indicates the revision of the state represented by Data.",
                    ),
                    age_column(),
                ]
            },
            |o| {
                let revision = o.get("revision").and_then(Value::as_i64).unwrap_or(0);
                vec![json!(controller_of(o)), json!(revision), age_cell(o)]
            },
        ),
    }
    .build()
}

/// `kind.group/name` of the controlling owner, lower-cased kind, or `<none>`.
fn controller_of(o: &Value) -> String {
    let owner = array_at(o, "/metadata/ownerReferences")
        .iter()
        .find(|r| r.get("controller").and_then(Value::as_bool) == Some(true));
    let Some(owner) = owner else {
        return "<none>".into();
    };
    let api_version = str_at(owner, "/apiVersion");
    let group = api_version.rsplit_once('/').map_or("", |(g, _)| g);
    let kind = str_at(owner, "/kind");
    let group_kind = if group.is_empty() {
        kind.to_string()
    } else {
        format!("{kind}.{group}")
    };
    format!("{}/{}", group_kind.to_lowercase(), str_at(owner, "/name"))
}

pub fn leases() -> ResourceDef {
    Builtin {
        group: "coordination.k8s.io",
        version: "v1",
        kind: "Lease",
        plural: "leases",
        short_names: &[],
        categories: &[],
        namespaced: true,
        status_subresource: false,
        selectable: &[],
        schema: structural::<Lease>(),
        table: Table::new(
            || {
                vec![
                    column("Holder", "string", 0, "The holder of the lease."),
                    age_column(),
                ]
            },
            |o| vec![json!(str_at(o, "/spec/holderIdentity")), age_cell(o)],
        ),
    }
    .build()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controller_revision_row_names_its_controller() {
        let def = controller_revisions();
        let rev = json!({"metadata": {"ownerReferences": [
                {"apiVersion": "v1", "kind": "Pod", "name": "other"},
                {"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachine", "name": "vm1", "controller": true}]},
            "revision": 3});
        let cells = def.table.as_ref().unwrap().cells(&rev);
        assert_eq!(
            cells[..2],
            [json!("virtualmachine.kubevirt.io/vm1"), json!(3)]
        );
        let orphan = json!({"revision": 1});
        assert_eq!(
            def.table.as_ref().unwrap().cells(&orphan)[0],
            json!("<none>")
        );
        let core_owner = json!({"metadata": {"ownerReferences": [
            {"apiVersion": "v1", "kind": "Pod", "name": "p", "controller": true}]}});
        assert_eq!(
            def.table.as_ref().unwrap().cells(&core_owner)[0],
            json!("pod/p")
        );
    }

    #[test]
    fn lease_row_shows_its_holder() {
        let def = leases();
        let lease = json!({"metadata": {"creationTimestamp": "2025-01-01T00:00:00Z"},
                           "spec": {"holderIdentity": "node1"}});
        let table = def.table.as_ref().unwrap();
        assert_eq!(
            table
                .columns()
                .iter()
                .map(|c| c.name.as_str())
                .collect::<Vec<_>>(),
            vec!["Holder", "Age"]
        );
        assert_eq!(
            table.cells(&lease),
            vec![json!("node1"), json!("2025-01-01T00:00:00Z")]
        );
    }
}
