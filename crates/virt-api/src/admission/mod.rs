//! KubeVirt's admission webhooks as [`apiserver::Admission`] plug-ins: defaults and validation of
//! VirtualMachines, VirtualMachineInstances, ReplicaSets and migrations.
//!
//! Objects arrive in the storage version (`kubevirt.io/v1`), also when a client used an older
//! version or a view such as `OfflineVirtualMachine`. Mutations change only the fields they
//! default: the typed spec is decoded, defaulted and written back over the original JSON, so no
//! field is lost. Rejections are 422s worded as the real API server words a webhook denial
//! (`admission webhook "<name>" denied the request: <messages>`) with upstream's causes.

pub mod config;
pub mod defaults;
mod dns;
pub mod field;
mod json;
mod migration;
pub mod quantity;
pub mod spec;
mod vm;
mod vmi;
mod vmirs;

use std::collections::BTreeMap;
use std::sync::Arc;

use apiserver::{Admission, ApiError, Cause, ResourceDef, Target, UserInfo};
use serde::de::DeserializeOwned;
use serde_json::Value;

pub use config::ClusterConfig;
pub use migration::MigrationAdmission;
pub use vm::VirtualMachineAdmission;
pub use vmi::VirtualMachineInstanceAdmission;
pub use vmirs::ReplicaSetAdmission;

/// Names of the upstream webhooks, used in denial messages.
pub mod webhook {
    pub const VM_MUTATOR: &str = "virtualmachines-mutator.kubevirt.io";
    pub const VMI_MUTATOR: &str = "virtualmachineinstances-mutator.kubevirt.io";
    pub const VM_VALIDATOR: &str = "virtualmachine-validator.kubevirt.io";
    pub const VMI_CREATE_VALIDATOR: &str = "virtualmachineinstances-create-validator.kubevirt.io";
    pub const VMI_UPDATE_VALIDATOR: &str = "virtualmachineinstances-update-validator.kubevirt.io";
    pub const VMIRS_VALIDATOR: &str = "virtualmachinereplicaset-validator.kubevirt.io";
    pub const MIGRATION_CREATE_VALIDATOR: &str = "migration-create-validator.kubevirt.io";
    pub const MIGRATION_UPDATE_VALIDATOR: &str = "migration-update-validator.kubevirt.io";
}

/// The admission plug-ins of KubeVirt, configured by `config`.
pub fn plugins(config: ClusterConfig) -> Vec<Arc<dyn Admission>> {
    let config = Arc::new(config);
    vec![
        Arc::new(VirtualMachineAdmission::new(config.clone())),
        Arc::new(VirtualMachineInstanceAdmission::new(config.clone())),
        Arc::new(ReplicaSetAdmission::new(config.clone())),
        Arc::new(MigrationAdmission::new(config)),
    ]
}

/// Whether `def` stores its objects as `kubevirt.io/<plural>` (directly or as a view).
fn stores(def: &ResourceDef, plural: &str) -> bool {
    match &def.storage_of {
        Some((gr, _)) => gr.group == api::keys::GROUP && gr.resource == plural,
        None => def.group == api::keys::GROUP && def.plural == plural,
    }
}

/// KubeVirt's own components, which may do what users may not.
fn is_kubevirt(user: &UserInfo) -> bool {
    user.is_service_account_of("kubevirt")
}

/// At most this many causes are reported, as upstream does.
const MAX_CAUSES: usize = 10;

/// A webhook denial with causes: 422 Invalid.
pub fn deny(webhook: &str, mut causes: Vec<Cause>) -> ApiError {
    let more = causes.len().saturating_sub(MAX_CAUSES);
    causes.truncate(MAX_CAUSES);
    let mut message = causes
        .iter()
        .map(|c| c.message.as_str())
        .collect::<Vec<_>>()
        .join(", ");
    if more > 0 {
        message.push_str(&format!(", and {more} more validation errors"));
    }
    ApiError::Invalid {
        message: format!("admission webhook \"{webhook}\" denied the request: {message}"),
        target: Target::default(),
        kind: String::new(),
        causes,
    }
}

/// A webhook that could not process the request: 400 BadRequest.
fn refuse(webhook: &str, message: impl std::fmt::Display) -> ApiError {
    ApiError::bad_request(format!(
        "admission webhook \"{webhook}\" denied the request: {message}"
    ))
}

/// Decodes the value at `pointer` (or `T::default()` when absent).
fn decode<T: DeserializeOwned + Default>(
    webhook: &str,
    obj: &Value,
    pointer: &str,
) -> Result<T, ApiError> {
    match obj.pointer(pointer) {
        None | Some(Value::Null) => Ok(T::default()),
        Some(v) => serde_json::from_value(v.clone()).map_err(|e| refuse(webhook, e)),
    }
}

/// A string map (labels, annotations) at `pointer`; non-string values are skipped.
fn string_map(obj: &Value, pointer: &str) -> BTreeMap<String, String> {
    obj.pointer(pointer)
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                .collect()
        })
        .unwrap_or_default()
}

fn is_deleting(obj: &Value) -> bool {
    obj.pointer("/metadata/deletionTimestamp")
        .is_some_and(|v| !v.is_null())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn denials_join_messages_and_cap_the_causes() {
        let causes: Vec<Cause> = (0..12)
            .map(|i| field::invalid(format!("f{i}"), format!("m{i}")))
            .collect();
        let ApiError::Invalid {
            message, causes, ..
        } = deny("x.kubevirt.io", causes)
        else {
            panic!()
        };
        assert!(
            message.starts_with("admission webhook \"x.kubevirt.io\" denied the request: m0, m1")
        );
        assert!(message.ends_with("m9, and 2 more validation errors"));
        assert_eq!(causes.len(), 10);
    }

    #[test]
    fn denials_are_unprocessable_entities_with_causes() {
        let e = deny(
            "x",
            vec![field::required(
                "spec.running",
                "RunStrategy must be specified",
            )],
        );
        assert_eq!(e.status().0.as_u16(), 422);
        let s = e.to_status();
        assert_eq!(s["reason"], "Invalid");
        assert_eq!(s["details"]["causes"][0]["field"], "spec.running");
    }
}
