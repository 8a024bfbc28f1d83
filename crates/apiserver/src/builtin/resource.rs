//! resource.k8s.io/v1 `ResourceClaimTemplate` and `ResourceClaim` (dynamic resource allocation),
//! the kinds VMIs reference in `spec.resourceClaims`.
//!
//! The schemas are those of `resource.k8s.io/v1beta2` of Kubernetes 1.33, the API the stable
//! `v1` of 1.34 was promoted from with the same shape; fields added in 1.34 itself (such as
//! consumable capacity requests) are not in it and are pruned.

use k8s_openapi::api::resource::v1beta2::{ResourceClaim, ResourceClaimTemplate};
use serde_json::{Value, json};

use super::core::Table;
use super::schema::structural;
use super::{Builtin, age_cell, age_column, column};
use crate::registry::ResourceDef;

pub fn resource_claim_templates() -> ResourceDef {
    Builtin {
        group: "resource.k8s.io",
        version: "v1",
        kind: "ResourceClaimTemplate",
        plural: "resourceclaimtemplates",
        short_names: &[],
        categories: &[],
        namespaced: true,
        status_subresource: false,
        selectable: &[],
        schema: structural::<ResourceClaimTemplate>(),
        table: Table::new(|| vec![age_column()], |o| vec![age_cell(o)]),
    }
    .build()
}

pub fn resource_claims() -> ResourceDef {
    Builtin {
        group: "resource.k8s.io",
        version: "v1",
        kind: "ResourceClaim",
        plural: "resourceclaims",
        short_names: &[],
        categories: &[],
        namespaced: true,
        status_subresource: true,
        selectable: &[],
        schema: structural::<ResourceClaim>(),
        table: Table::new(
            || {
                vec![
                    column(
                        "State",
                        "string",
                        0,
                        "A summary of the current state (allocated, pending, reserved, etc.).",
                    ),
                    age_column(),
                ]
            },
            |o| vec![json!(claim_state(o)), age_cell(o)],
        ),
    }
    .build()
}

/// `deleted`, then `pending` or `allocated` (and `reserved` when reserved for a consumer),
/// joined by commas, as kubectl prints a claim's state.
fn claim_state(o: &Value) -> String {
    let deleted = o
        .pointer("/metadata/deletionTimestamp")
        .is_some_and(|t| !t.is_null());
    let allocated = o
        .pointer("/status/allocation")
        .is_some_and(|a| !a.is_null());
    let reserved = o
        .pointer("/status/reservedFor")
        .and_then(Value::as_array)
        .is_some_and(|r| !r.is_empty());
    let mut states = Vec::new();
    if deleted {
        states.push("deleted");
    }
    if !allocated {
        if !deleted {
            states.push("pending");
        }
    } else {
        states.push("allocated");
        if reserved {
            states.push("reserved");
        }
    }
    states.join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claim_template_keeps_the_device_requests_of_the_example() {
        let def = resource_claim_templates();
        assert!(def.namespaced);
        assert_eq!(def.versions[0].name, "v1");
        let schema = def.versions[0].schema.as_ref().unwrap();
        let request =
            "/properties/spec/properties/spec/properties/devices/properties/requests/items";
        let exactly = schema
            .pointer(&format!("{request}/properties/exactly/properties"))
            .unwrap();
        assert_eq!(exactly["deviceClassName"]["type"], "string");
        assert_eq!(
            schema.pointer(&format!("{request}/properties/name/type")),
            Some(&json!("string"))
        );
        assert!(
            schema
                .pointer("/properties/spec/properties/metadata")
                .is_some()
        );
        let names: Vec<_> = def
            .table
            .unwrap()
            .columns()
            .into_iter()
            .map(|c| c.name)
            .collect();
        assert_eq!(names, ["Age"]);
    }

    #[test]
    fn claim_state_summarises_allocation_reservation_and_deletion() {
        let pending = json!({"spec": {}});
        assert_eq!(claim_state(&pending), "pending");
        let allocated = json!({"status": {"allocation": {"devices": {}}}});
        assert_eq!(claim_state(&allocated), "allocated");
        let reserved = json!({"status": {"allocation": {}, "reservedFor": [{"name": "p"}]}});
        assert_eq!(claim_state(&reserved), "allocated,reserved");
        let deleted = json!({"metadata": {"deletionTimestamp": "2025-01-01T00:00:00Z"}});
        assert_eq!(claim_state(&deleted), "deleted");
        let def = resource_claims();
        assert!(def.versions[0].status_subresource);
        assert_eq!(
            def.table.unwrap().cells(&reserved)[0],
            json!("allocated,reserved")
        );
    }
}
