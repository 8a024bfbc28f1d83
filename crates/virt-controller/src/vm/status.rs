//! The VM status the controller writes after each pass (pure): `created`/`ready`, generation
//! fields, the recorded run strategy, trimming of handled requests, start-failure bookkeeping
//! with crash-loop backoff, conditions, and the printable status ([`super::printable`]).

use std::time::Duration;

use api::keys::{
    VIRTUAL_MACHINE_CONTROLLER_FINALIZER, VM_GENERATION_ANNOTATION, vm_condition, vmi_condition,
};
use api::{
    RunStrategy, StateChangeRequestAction, VirtualMachine, VirtualMachineCondition,
    VirtualMachineInstance, VirtualMachineInstancePhase, VirtualMachineStartFailure,
    VirtualMachineStatus,
};
use k8s_openapi::api::apps::v1::ControllerRevision;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::{SignedDuration, Timestamp};

use super::printable::printable_status;
use super::revision::{find_revision, generation_from_name};
use super::storage::StorageView;
use super::util::{
    MESSAGE_VMI_CONDITION_MISSING, MESSAGE_VMI_NOT_EXISTS, REASON_VMI_CONDITION_MISSING,
    REASON_VMI_NOT_EXISTS, has_finalizer, remove_condition, truncate_to_seconds, update_condition,
    vmi_condition as find_vmi_condition, vmi_has_condition,
};

/// Upper bound of the crash-loop backoff.
pub const MAX_CRASH_LOOP_BACKOFF: Duration = Duration::from_secs(300);

/// An error of a sync pass that becomes the VM's `Failure` condition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyncError {
    pub reason: String,
    pub message: String,
}

impl SyncError {
    pub fn new(reason: &str, message: impl Into<String>) -> Self {
        SyncError {
            reason: reason.into(),
            message: message.into(),
        }
    }
}

impl std::fmt::Display for SyncError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// Source of the random part of the backoff delay.
pub trait Jitter {
    /// A value in `0..=max`.
    fn up_to(&mut self, max: u64) -> u64;
}

/// Jitter from the thread-local random generator.
pub struct RandomJitter;

impl Jitter for RandomJitter {
    fn up_to(&mut self, max: u64) -> u64 {
        use rand::Rng;
        rand::rng().random_range(0..=max)
    }
}

/// Seconds to wait before the next start after `fail_count` consecutive failures:
/// `max(max_delay/30, 10) × count²` plus up to half of that at random, capped at `max_delay`.
pub fn start_backoff_seconds(fail_count: i32, max_delay: u64, jitter: &mut dyn Jitter) -> u64 {
    let count = u64::try_from(fail_count.max(1)).unwrap_or(1);
    let interval = (max_delay / 30).max(10);
    let mut delay = interval.saturating_mul(count.saturating_mul(count));
    delay = delay.saturating_add(jitter.up_to(delay / 2));
    delay.min(max_delay)
}

/// Seconds until `retryAfterTimestamp` (0 when it has passed or there is no failure).
pub fn backoff_time_left(vm: &VirtualMachine, now: Timestamp) -> u64 {
    let retry = vm
        .status
        .as_ref()
        .and_then(|s| s.start_failure.as_ref())
        .and_then(|f| f.retry_after_timestamp.as_ref());
    match retry {
        Some(t) => u64::try_from(t.0.as_second() - now.as_second()).unwrap_or(0),
        None => 0,
    }
}

pub fn was_running(vmi: Option<&VirtualMachineInstance>) -> bool {
    vmi.and_then(|v| v.status.as_ref())
        .and_then(|s| s.phase_transition_timestamps.as_ref())
        .is_some_and(|ts| {
            ts.iter()
                .any(|t| t.phase == Some(VirtualMachineInstancePhase::Running))
        })
}

/// Updates `startFailure`: cleared once a VMI ran or when the strategy does not restart failed
/// VMIs; a final VMI that never ran counts as one more failure (once per VMI uid).
pub fn sync_start_failure(
    status: &mut VirtualMachineStatus,
    vm: &VirtualMachine,
    vmi: Option<&VirtualMachineInstance>,
    now: Timestamp,
    jitter: &mut dyn Jitter,
) {
    let restarting = matches!(
        vm.spec.run_strategy(),
        Ok(RunStrategy::Always | RunStrategy::RerunOnFailure | RunStrategy::Once)
    );
    let clear = was_running(vmi) || (vm.spec.run_strategy().is_ok() && !restarting);
    if clear {
        status.start_failure = None;
        return;
    }
    let Some(vmi) = vmi.filter(|v| v.is_final()) else {
        return;
    };
    let uid = vmi.metadata.uid.clone().unwrap_or_default();
    if status
        .start_failure
        .as_ref()
        .and_then(|f| f.last_failed_vmiuid.as_deref())
        == Some(uid.as_str())
    {
        return;
    }
    let count = status
        .start_failure
        .as_ref()
        .map_or(1, |f| f.consecutive_fail_count.unwrap_or(0) + 1);
    let delay = start_backoff_seconds(count, MAX_CRASH_LOOP_BACKOFF.as_secs(), jitter);
    let now = truncate_to_seconds(now);
    let retry_after = now
        .checked_add(SignedDuration::from_secs(
            i64::try_from(delay).unwrap_or(i64::MAX),
        ))
        .unwrap_or(now);
    status.start_failure = Some(VirtualMachineStartFailure {
        consecutive_fail_count: Some(count),
        last_failed_vmiuid: Some(uid),
        retry_after_timestamp: Some(Time(retry_after)),
    });
}

/// Removes the first request once it is handled: a Stop when there is no VMI, it names no uid,
/// or it names another VMI; a Start once a live, non-final VMI exists.
pub fn trim_first_request(status: &mut VirtualMachineStatus, vmi: Option<&VirtualMachineInstance>) {
    let Some(first) = status
        .state_change_requests
        .as_ref()
        .and_then(|r| r.first())
    else {
        return;
    };
    let trim = match first.action {
        StateChangeRequestAction::Stop => match vmi {
            None => true,
            Some(vmi) => first.uid.is_none() || first.uid != vmi.metadata.uid,
        },
        StateChangeRequestAction::Start => {
            vmi.is_some_and(|v| !v.is_marked_for_deletion() && !v.is_final())
        }
    };
    if trim && let Some(requests) = status.state_change_requests.as_mut() {
        requests.remove(0);
    }
}

/// Drops volume requests the template already reflects (added and present, or removed and gone).
pub fn trim_done_volume_requests(status: &mut VirtualMachineStatus, vm: &VirtualMachine) {
    let Some(requests) = status.volume_requests.as_mut() else {
        return;
    };
    let spec = vm.spec.template.spec.as_ref();
    let has_volume =
        |n: &str| spec.is_some_and(|s| s.volumes.iter().flatten().any(|v| v.name == n));
    let has_disk = |n: &str| {
        spec.is_some_and(|s| s.domain.devices.disks.iter().flatten().any(|d| d.name == n))
    };
    requests.retain(|r| {
        if let Some(add) = &r.add_volume_options {
            !(has_volume(&add.name) && has_disk(&add.name))
        } else if let Some(remove) = &r.remove_volume_options {
            has_volume(&remove.name) || has_disk(&remove.name)
        } else {
            true
        }
    });
}

/// Ready and Failure conditions, and the VMI's other conditions mirrored onto the VM.
pub fn sync_conditions(
    conditions: &mut Vec<VirtualMachineCondition>,
    vmi: Option<&VirtualMachineInstance>,
    sync_error: Option<&SyncError>,
    now: Timestamp,
) {
    let now = Some(Time(truncate_to_seconds(now)));
    let ready = match (vmi, find_vmi_condition(vmi, vmi_condition::READY)) {
        (None, _) => VirtualMachineCondition {
            type_: vm_condition::READY.into(),
            status: "False".into(),
            reason: Some(REASON_VMI_NOT_EXISTS.into()),
            message: Some(MESSAGE_VMI_NOT_EXISTS.into()),
            last_probe_time: now.clone(),
            last_transition_time: now.clone(),
        },
        (Some(_), None) => VirtualMachineCondition {
            type_: vm_condition::READY.into(),
            status: "False".into(),
            reason: Some(REASON_VMI_CONDITION_MISSING.into()),
            message: Some(MESSAGE_VMI_CONDITION_MISSING.into()),
            last_probe_time: now.clone(),
            last_transition_time: now.clone(),
        },
        (Some(_), Some(c)) => VirtualMachineCondition {
            type_: vm_condition::READY.into(),
            status: c.status.clone(),
            reason: c.reason.clone(),
            message: c.message.clone(),
            last_probe_time: c.last_probe_time.clone(),
            last_transition_time: c.last_transition_time.clone(),
        },
    };
    update_condition(conditions, ready);

    match sync_error {
        None => remove_condition(conditions, vm_condition::FAILURE),
        Some(err) => update_condition(
            conditions,
            VirtualMachineCondition {
                type_: vm_condition::FAILURE.into(),
                status: "True".into(),
                reason: Some(err.reason.clone()),
                message: Some(err.message.clone()),
                last_probe_time: None,
                last_transition_time: now,
            },
        ),
    }

    let Some(vmi) = vmi else { return };
    let ignored = [
        vm_condition::READY,
        vm_condition::FAILURE,
        vm_condition::RESTART_REQUIRED,
    ];
    let vmi_conditions = vmi.status.as_ref().and_then(|s| s.conditions.as_ref());
    let mut mirrored = Vec::new();
    for c in vmi_conditions.into_iter().flatten() {
        if ignored.contains(&c.type_.as_str()) {
            continue;
        }
        mirrored.push(c.type_.clone());
        update_condition(
            conditions,
            VirtualMachineCondition {
                type_: c.type_.clone(),
                status: c.status.clone(),
                reason: c.reason.clone(),
                message: c.message.clone(),
                last_probe_time: c.last_probe_time.clone(),
                last_transition_time: c.last_transition_time.clone(),
            },
        );
    }
    conditions.retain(|c| ignored.contains(&c.type_.as_str()) || mirrored.contains(&c.type_));
}

/// Everything [`compute_status`] looks at.
pub struct StatusInput<'a> {
    /// The VM after the sync pass; its status is the starting point.
    pub vm: &'a VirtualMachine,
    /// The run strategy of the VM as observed at the start of the pass.
    pub observed_run_strategy: Option<RunStrategy>,
    pub vmi: Option<&'a VirtualMachineInstance>,
    pub revisions: &'a [ControllerRevision],
    pub storage: &'a StorageView,
    pub sync_error: Option<&'a SyncError>,
    /// A VMI creation is expected and not yet observed.
    pub start_expected: bool,
    /// A VMI deletion is expected and not yet observed.
    pub stop_expected: bool,
    pub now: Timestamp,
}

/// The status to write and what to do around writing it.
#[derive(Clone, Debug, PartialEq)]
pub struct StatusOutcome {
    pub status: VirtualMachineStatus,
    /// The VMI lacks a readable generation annotation: write this one (taken from its revision
    /// name) onto it before writing the status.
    pub backfill_generation: Option<i64>,
    /// After the status is written, remove the controller finalizer from the (final) VMI.
    pub remove_vmi_finalizer: bool,
}

/// The observed generation of a VMI: its annotation, else the suffix of its revision name (only
/// when that revision exists).
pub fn observed_generation(
    vmi: &VirtualMachineInstance,
    revisions: &[ControllerRevision],
) -> (Option<i64>, bool) {
    let annotation = vmi
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(VM_GENERATION_ANNOTATION))
        .and_then(|v| v.parse::<i64>().ok());
    if annotation.is_some() {
        return (annotation, false);
    }
    let name = vmi
        .status
        .as_ref()
        .and_then(|s| s.virtual_machine_revision_name.as_deref())
        .unwrap_or_default();
    let from_revision = find_revision(revisions, name).and_then(|_| generation_from_name(name));
    (from_revision, from_revision.is_some())
}

pub fn compute_status(input: &StatusInput<'_>, jitter: &mut dyn Jitter) -> StatusOutcome {
    let vm = input.vm;
    let vmi = input.vmi;
    let mut status = vm.status.clone().unwrap_or_default();
    let created = vmi.is_some();
    status.created = created.then_some(true);
    let ready = vmi_has_condition(vmi, vmi_condition::READY, "True", None);
    let mut backfill_generation = None;
    if let Some(vmi) = vmi {
        let (observed, backfill) = observed_generation(vmi, input.revisions);
        if let Some(observed) = observed {
            if backfill {
                backfill_generation = Some(observed);
            }
            status.observed_generation = Some(observed);
            status.desired_generation = vm.metadata.generation;
        }
    }
    status.ready = ready.then_some(true);

    if status.run_strategy.is_some() || created {
        status.run_strategy = input.observed_run_strategy.or(status.run_strategy);
    }

    trim_done_volume_requests(&mut status, vm);
    trim_first_request(&mut status, vmi);
    sync_start_failure(&mut status, vm, vmi, input.now, jitter);

    let mut conditions = status.conditions.take().unwrap_or_default();
    sync_conditions(&mut conditions, vmi, input.sync_error, input.now);
    status.conditions = (!conditions.is_empty()).then_some(conditions);
    if status
        .state_change_requests
        .as_ref()
        .is_some_and(Vec::is_empty)
    {
        status.state_change_requests = None;
    }
    if status.volume_requests.as_ref().is_some_and(Vec::is_empty) {
        status.volume_requests = None;
    }

    let mut for_printable = vm.clone();
    for_printable.status = Some(status.clone());
    status.printable_status = Some(printable_status(
        &for_printable,
        vmi,
        input.storage,
        input.start_expected,
        input.stop_expected,
        input.now,
    ));

    let remove_vmi_finalizer = vmi.is_some_and(|v| {
        let waiting_and_deleting =
            v.phase() == VirtualMachineInstancePhase::WaitingForSync && v.is_marked_for_deletion();
        (v.is_final() || waiting_and_deleting)
            && has_finalizer(
                v.metadata.finalizers.as_ref(),
                VIRTUAL_MACHINE_CONTROLLER_FINALIZER,
            )
    });

    StatusOutcome {
        status,
        backfill_generation,
        remove_vmi_finalizer,
    }
}

#[cfg(test)]
#[path = "status_tests.rs"]
mod tests;
