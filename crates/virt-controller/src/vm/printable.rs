//! `status.printableStatus` (pure): the first matching status of a fixed precedence list wins,
//! as upstream evaluates them (Terminating, Stopping, Migrating, Paused, Running,
//! ErrorPvcNotFound, DataVolumeError, ErrorUnschedulable, Provisioning,
//! WaitingForVolumeBinding, ErrImagePull, ImagePullBackOff, Starting, CrashLoopBackOff, Stopped,
//! WaitingForReceiver, else Unknown).

use api::keys::vmi_condition;
use api::{
    RunStrategy, StateChangeRequestAction, VirtualMachine, VirtualMachineInstance,
    VirtualMachineInstancePhase as Phase, VirtualMachinePrintableStatus as Printable,
};
use k8s_openapi::jiff::Timestamp;

use super::build::first_request;
use super::storage::{
    StorageView, data_volume_error, has_data_volume_provisioning, has_unbound_pvc,
};
use super::util::{
    REASON_ERR_IMAGE_PULL, REASON_FAILED_PVC_NOT_FOUND, REASON_IMAGE_PULL_BACK_OFF,
    REASON_UNSCHEDULABLE, is_migrating, vmi_has_condition,
};

/// Whether the first request is a Start.
pub fn has_start_request(vm: &VirtualMachine) -> bool {
    first_request(vm).is_some_and(|r| r.action == StateChangeRequestAction::Start)
}

/// Whether the first request is a Stop naming this VMI's uid.
pub fn has_stop_request_for(vm: &VirtualMachine, vmi: &VirtualMachineInstance) -> bool {
    first_request(vm).is_some_and(|r| {
        r.action == StateChangeRequestAction::Stop && r.uid.is_some() && r.uid == vmi.metadata.uid
    })
}

/// RerunOnFailure without a VMI starts on a Start request, or when the recorded strategy differs
/// (never started, or just switched to RerunOnFailure).
pub fn should_start_rerun_on_failure(vm: &VirtualMachine) -> bool {
    let recorded = vm.status.as_ref().and_then(|s| s.run_strategy);
    has_start_request(vm) || recorded != Some(RunStrategy::RerunOnFailure)
}

/// Whether the VM is meant to be running.
pub fn is_set_to_start(vm: &VirtualMachine, vmi: Option<&VirtualMachineInstance>) -> bool {
    match vm.spec.run_strategy() {
        Ok(RunStrategy::Always) => true,
        Ok(RunStrategy::Manual) => match vmi {
            Some(vmi) => !has_stop_request_for(vm, vmi),
            None => has_start_request(vm),
        },
        Ok(RunStrategy::RerunOnFailure) => match vmi {
            Some(vmi) => vmi.phase() != Phase::Succeeded,
            None => should_start_rerun_on_failure(vm),
        },
        Ok(RunStrategy::Once) => vmi.is_none(),
        _ => false,
    }
}

fn synchronized_false_with(vmi: Option<&VirtualMachineInstance>, reason: &str) -> bool {
    vmi_has_condition(vmi, vmi_condition::SYNCHRONIZED, "False", Some(reason))
}

/// The printable status of `vm` (whose status already carries this pass's start failure).
pub fn printable_status(
    vm: &VirtualMachine,
    vmi: Option<&VirtualMachineInstance>,
    storage: &StorageView,
    start_expected: bool,
    stop_expected: bool,
    now: Timestamp,
) -> Printable {
    let phase = vmi.map(|v| v.phase());
    let paused = vmi_has_condition(vmi, vmi_condition::PAUSED, "True", None);
    let vmi_final = vmi.is_some_and(|v| v.is_final());
    let strategy = vm.spec.run_strategy().ok();

    if vm.metadata.deletion_timestamp.is_some() {
        return Printable::Terminating;
    }
    if vmi.is_some_and(|v| !v.is_final() && (v.is_marked_for_deletion() || stop_expected)) {
        return Printable::Stopping;
    }
    if vmi.is_some_and(|v| is_migrating(v, now)) {
        return Printable::Migrating;
    }
    if phase == Some(Phase::Running) {
        return if paused {
            Printable::Paused
        } else {
            Printable::Running
        };
    }
    if synchronized_false_with(vmi, REASON_FAILED_PVC_NOT_FOUND) {
        return Printable::ErrorPvcNotFound;
    }
    if data_volume_error(vm, storage).is_some() {
        return Printable::DataVolumeError;
    }
    if vmi_has_condition(
        vmi,
        vmi_condition::POD_SCHEDULED,
        "False",
        Some(REASON_UNSCHEDULABLE),
    ) {
        return Printable::ErrorUnschedulable;
    }
    if has_data_volume_provisioning(vm, storage) {
        return Printable::Provisioning;
    }
    if is_set_to_start(vm, vmi) && has_unbound_pvc(vm, storage) {
        return Printable::WaitingForVolumeBinding;
    }
    if synchronized_false_with(vmi, REASON_ERR_IMAGE_PULL) {
        return Printable::ErrImagePull;
    }
    if synchronized_false_with(vmi, REASON_IMAGE_PULL_BACK_OFF) {
        return Printable::ImagePullBackOff;
    }
    let starting = match phase {
        None => start_expected,
        Some(p) => matches!(
            p,
            Phase::Unset | Phase::Pending | Phase::Scheduling | Phase::Scheduled
        ),
    };
    if starting {
        return Printable::Starting;
    }
    let failures = vm
        .status
        .as_ref()
        .and_then(|s| s.start_failure.as_ref())
        .and_then(|f| f.consecutive_fail_count)
        .unwrap_or(0);
    let restarting = matches!(
        strategy,
        Some(RunStrategy::Always | RunStrategy::RerunOnFailure | RunStrategy::Once)
    );
    if (vmi.is_none() || vmi_final) && !start_expected && failures > 0 && restarting {
        return Printable::CrashLoopBackOff;
    }
    let stopped = match vmi {
        Some(_) => vmi_final,
        None => !start_expected,
    };
    if stopped {
        return Printable::Stopped;
    }
    if (vmi.is_none() || phase == Some(Phase::WaitingForSync))
        && strategy == Some(RunStrategy::WaitAsReceiver)
    {
        return Printable::WaitingForReceiver;
    }
    Printable::Unknown
}

#[cfg(test)]
#[path = "printable_tests.rs"]
mod tests;
