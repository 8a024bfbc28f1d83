//! VirtualMachineInstanceMigration admission: the object-local rules of
//! `migration-create-admitter.go` and `migration-update-admitter.go`. Checks that need other
//! objects (the VMI exists, is migratable, no migration in flight) are the controller's.

use std::sync::Arc;

use apiserver::{Admission, AdmissionRequest, ApiError, Cause, Operation, ResourceDef, UserInfo};
use serde_json::Value;

use super::config::{ClusterConfig, gate};
use super::field::{self, Path};
use super::{deny, is_kubevirt, json as js, stores, webhook};

/// Labels migrations by the VMI they move.
pub const MIGRATION_SELECTOR_LABEL: &str = "kubevirt.io/vmi-name";

/// Validation of migrations.
pub struct MigrationAdmission {
    config: Arc<ClusterConfig>,
}

impl MigrationAdmission {
    pub fn new(config: Arc<ClusterConfig>) -> Self {
        MigrationAdmission { config }
    }
}

impl Admission for MigrationAdmission {
    fn handles(&self, resource: &ResourceDef) -> bool {
        stores(resource, "virtualmachineinstancemigrations")
    }

    fn validate(
        &self,
        req: &AdmissionRequest<'_>,
        object: &Value,
        old: Option<&Value>,
    ) -> Result<Vec<String>, ApiError> {
        if req.subresource.is_some() {
            return Ok(vec![]);
        }
        let (hook, causes) = match (req.operation, old) {
            (Operation::Create, _) => (
                webhook::MIGRATION_CREATE_VALIDATOR,
                validate_create(&self.config, object, req.user),
            ),
            (Operation::Update, Some(old)) => (
                webhook::MIGRATION_UPDATE_VALIDATOR,
                validate_update(object, old),
            ),
            _ => return Ok(vec![]),
        };
        if causes.is_empty() {
            Ok(vec![])
        } else {
            Err(deny(hook, causes))
        }
    }
}

fn is_controller(user: &UserInfo) -> bool {
    is_kubevirt(user) && user.username.ends_with("virt-controller")
}

pub fn validate_create(config: &ClusterConfig, object: &Value, user: &UserInfo) -> Vec<Cause> {
    let root = Path::new("spec");
    if js::str_at(object, "/spec/vmiName").unwrap_or("").is_empty() {
        return vec![field::required(root.child("vmiName"), "vmiName is missing")];
    }
    if object
        .pointer("/spec/priority")
        .is_some_and(|v| !v.is_null())
        && !is_controller(user)
    {
        return vec![field::forbidden(
            "spec.migrationPriority",
            "Migration priority queue, only virt-controller is allowed to set priority field",
        )];
    }
    let send = js::str_at(object, "/spec/sendTo/migrationID");
    let receive = js::str_at(object, "/spec/receive/migrationID");
    let decentralized = object.pointer("/spec/sendTo").is_some_and(|v| !v.is_null())
        || object
            .pointer("/spec/receive")
            .is_some_and(|v| !v.is_null());
    if decentralized {
        if !config.is_enabled(gate::DECENTRALIZED_LIVE_MIGRATION) {
            return vec![field::not_supported(
                "",
                "DecentralizedLiveMigration feature gate is not enabled in kubevirt resource",
            )];
        }
        if let (Some(s), Some(r)) = (send, receive)
            && s != r
        {
            return vec![field::invalid(
                "",
                format!("sendTo migrationID {s} does not match receive migrationID {r}"),
            )];
        }
    }
    vec![]
}

pub fn validate_update(object: &Value, old: &Value) -> Vec<Cause> {
    if object.get("spec") != old.get("spec") {
        return vec![field::not_supported(
            "",
            "update of Migration object's spec is restricted",
        )];
    }
    let phase = js::str_at(object, "/status/phase").unwrap_or("");
    let old_labels = old.pointer("/metadata/labels").and_then(Value::as_object);
    if matches!(phase, "Succeeded" | "Failed") || old_labels.is_none() {
        return vec![];
    }
    let Some(old_label) = old_labels.and_then(|l| l.get(MIGRATION_SELECTOR_LABEL)) else {
        return vec![];
    };
    match object
        .pointer("/metadata/labels")
        .and_then(Value::as_object)
    {
        None => vec![field::not_supported(
            "",
            "selector label can't be removed from an in-flight migration",
        )],
        Some(l) if l.get(MIGRATION_SELECTOR_LABEL) != Some(old_label) => {
            vec![field::not_supported(
                "",
                "selector label can't be modified on an in-flight migration",
            )]
        }
        Some(_) => vec![],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn user() -> UserInfo {
        UserInfo::new("alice", &["system:authenticated"])
    }

    #[test]
    fn a_migration_needs_a_vmi_name() {
        let c = validate_create(&ClusterConfig::default(), &json!({"spec": {}}), &user());
        assert_eq!(
            (c[0].field.as_str(), c[0].message.as_str()),
            ("spec.vmiName", "vmiName is missing")
        );
        assert!(
            validate_create(
                &ClusterConfig::default(),
                &json!({"spec": {"vmiName": "v"}}),
                &user()
            )
            .is_empty()
        );
    }

    #[test]
    fn only_the_controller_sets_a_priority() {
        let obj = json!({"spec": {"vmiName": "v", "priority": "system-critical"}});
        assert_eq!(
            validate_create(&ClusterConfig::default(), &obj, &user())[0].reason,
            "FieldValueForbidden"
        );
        assert!(
            validate_create(
                &ClusterConfig::default(),
                &obj,
                &UserInfo::system("virt-controller")
            )
            .is_empty()
        );
    }

    #[test]
    fn decentralized_migration_ids_must_match() {
        let obj = json!({"spec": {"vmiName": "v", "sendTo": {"migrationID": "a", "connectURL": "u"},
                                  "receive": {"migrationID": "b"}}});
        let c = validate_create(&ClusterConfig::default(), &obj, &user());
        assert_eq!(
            c[0].message,
            "sendTo migrationID a does not match receive migrationID b"
        );
        let off = ClusterConfig {
            disabled_feature_gates: vec![gate::DECENTRALIZED_LIVE_MIGRATION.into()],
            ..Default::default()
        };
        assert!(
            validate_create(&off, &obj, &user())[0]
                .message
                .contains("feature gate is not enabled")
        );
    }

    #[test]
    fn spec_and_selector_label_are_immutable_in_flight() {
        let old = json!({"metadata": {"labels": {MIGRATION_SELECTOR_LABEL: "v"}}, "spec": {"vmiName": "v"}});
        let mut new = old.clone();
        new["spec"]["vmiName"] = json!("w");
        assert_eq!(
            validate_update(&new, &old)[0].message,
            "update of Migration object's spec is restricted"
        );
        let mut relabeled = old.clone();
        relabeled["metadata"]["labels"][MIGRATION_SELECTOR_LABEL] = json!("w");
        assert!(
            validate_update(&relabeled, &old)[0]
                .message
                .contains("can't be modified")
        );
        relabeled["status"] = json!({"phase": "Succeeded"});
        assert!(validate_update(&relabeled, &old).is_empty());
    }
}
