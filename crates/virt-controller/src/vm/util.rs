//! Small shared pieces of the VirtualMachine controller: well-known keys that are not part of the
//! API crate, condition bookkeeping with upstream's replace rules, owner references, and VMI
//! predicates.

use api::keys::{GROUP, VERSION};
use api::{
    VirtualMachine, VirtualMachineCondition, VirtualMachineInstance,
    VirtualMachineInstanceCondition, VirtualMachineInstancePhase,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use k8s_openapi::jiff::Timestamp;

/// Reporter name of the controller's events (upstream's component name).
pub const CONTROLLER_NAME: &str = "virtualmachine-controller";

/// Finalizer Kubernetes sets on an owner deleted with the Orphan propagation policy.
pub const ORPHAN_FINALIZER: &str = "orphan";

/// VMI annotation marking a migration receiver.
pub const CREATE_MIGRATION_TARGET_ANNOTATION: &str = "kubevirt.io/create-migration-target";
/// VM annotation holding the run strategy to restore after a receiver migration.
pub const RESTORE_RUN_STRATEGY_ANNOTATION: &str = "kubevirt.io/restore-run-strategy";
/// DataVolume annotation allowing CDI to adopt an existing claim.
pub const ALLOW_CLAIM_ADOPTION_ANNOTATION: &str = "cdi.kubevirt.io/allowClaimAdoption";
/// Descheduler annotations kept in sync from the template onto a running VMI.
pub const DESCHEDULER_EVICT_ANNOTATION: &str = "descheduler.alpha.kubernetes.io/evict";
pub const DESCHEDULER_PREFER_NO_EVICTION_ANNOTATION: &str =
    "descheduler.alpha.kubernetes.io/prefer-no-eviction";
/// Backup-hook annotation synced from the VM's own metadata onto its VMI.
pub const SKIP_BACKUP_HOOKS_ANNOTATION: &str = "kubevirt.io/skip-backup-hooks";

/// Key of the `paused` entry in a Start request's data, and its "true" value.
pub const START_REQUEST_PAUSED_KEY: &str = "paused";
pub const START_REQUEST_PAUSED_TRUE: &str = "true";

/// Ready condition reasons of a VM.
pub const REASON_VMI_NOT_EXISTS: &str = "VMINotExists";
pub const MESSAGE_VMI_NOT_EXISTS: &str = "VMI does not exist";
pub const REASON_VMI_CONDITION_MISSING: &str = "VMIConditionMissing";
pub const MESSAGE_VMI_CONDITION_MISSING: &str = "VMI is missing the Ready condition";

/// VMI Synchronized-condition reasons that shape the printable status.
pub const REASON_FAILED_PVC_NOT_FOUND: &str = "FailedPvcNotFound";
pub const REASON_ERR_IMAGE_PULL: &str = "ErrImagePull";
pub const REASON_IMAGE_PULL_BACK_OFF: &str = "ImagePullBackOff";
pub const REASON_UNSCHEDULABLE: &str = "Unschedulable";

/// `ns/name`, the queue and expectations key of an object.
pub fn key(namespace: &str, name: &str) -> String {
    format!("{namespace}/{name}")
}

/// The controller reference an object of this VM carries.
pub fn controller_ref(vm: &VirtualMachine) -> OwnerReference {
    OwnerReference {
        api_version: format!("{GROUP}/{VERSION}"),
        kind: "VirtualMachine".into(),
        name: vm.metadata.name.clone().unwrap_or_default(),
        uid: vm.metadata.uid.clone().unwrap_or_default(),
        controller: Some(true),
        block_owner_deletion: Some(true),
    }
}

/// The owner reference marked `controller: true`, if any.
pub fn controller_of(refs: Option<&Vec<OwnerReference>>) -> Option<&OwnerReference> {
    refs?.iter().find(|r| r.controller == Some(true))
}

pub fn has_finalizer(finalizers: Option<&Vec<String>>, name: &str) -> bool {
    finalizers.is_some_and(|f| f.iter().any(|x| x == name))
}

pub fn vm_condition<'a>(
    vm: &'a VirtualMachine,
    type_: &str,
) -> Option<&'a VirtualMachineCondition> {
    vm.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == type_)
}

pub fn vm_has_condition_status(vm: &VirtualMachine, type_: &str, status: &str) -> bool {
    vm_condition(vm, type_).is_some_and(|c| c.status == status)
}

pub fn vmi_condition<'a>(
    vmi: Option<&'a VirtualMachineInstance>,
    type_: &str,
) -> Option<&'a VirtualMachineInstanceCondition> {
    vmi?.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == type_)
}

pub fn vmi_has_condition(
    vmi: Option<&VirtualMachineInstance>,
    type_: &str,
    status: &str,
    reason: Option<&str>,
) -> bool {
    vmi_condition(vmi, type_).is_some_and(|c| {
        c.status == status && reason.is_none_or(|r| c.reason.as_deref() == Some(r))
    })
}

/// Upstream's condition manager: an existing condition is only replaced when its status or
/// reason changes, so a new message or timestamp alone keeps the old entry.
pub fn update_condition(
    conditions: &mut Vec<VirtualMachineCondition>,
    cond: VirtualMachineCondition,
) {
    match conditions.iter_mut().find(|c| c.type_ == cond.type_) {
        Some(existing) => {
            if existing.status != cond.status || existing.reason != cond.reason {
                *existing = cond;
            }
        }
        None => conditions.push(cond),
    }
}

pub fn remove_condition(conditions: &mut Vec<VirtualMachineCondition>, type_: &str) {
    conditions.retain(|c| c.type_ != type_);
}

pub fn phase(vmi: &VirtualMachineInstance) -> VirtualMachineInstancePhase {
    vmi.phase()
}

/// Whether a migration of the VMI has started and not yet ended at `now`.
pub fn is_migrating(vmi: &VirtualMachineInstance, now: Timestamp) -> bool {
    let Some(state) = vmi.status.as_ref().and_then(|s| s.migration_state.as_ref()) else {
        return false;
    };
    let started = state.start_timestamp.as_ref().is_some_and(|t| now >= t.0);
    let ended = state.end_timestamp.as_ref().is_some_and(|t| now >= t.0);
    started && !ended
}

pub fn migration_completed(vmi: &VirtualMachineInstance) -> bool {
    vmi.status
        .as_ref()
        .and_then(|s| s.migration_state.as_ref())
        .and_then(|m| m.completed)
        .unwrap_or(false)
}

/// `now` without sub-second digits, as Kubernetes stores timestamps.
pub fn truncate_to_seconds(now: Timestamp) -> Timestamp {
    Timestamp::from_second(now.as_second()).unwrap_or(now)
}
