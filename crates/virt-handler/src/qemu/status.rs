//! The VMI status a real guest implies: phase (§7.2), phase transition timestamps, the events
//! of phase changes, the Paused condition (set by the node agent once the domain is paused, as
//! upstream), `SoftwareEmulation` when the guest runs without KVM, `Synchronized=False` after a
//! failed start, and while running: interfaces, machine, CPU topology, memory and
//! `LiveMigratable`.

use api::keys::{condition_status, vmi_condition};
use api::{
    CpuTopology, Machine, MemoryStatus, VirtualMachineInstance, VirtualMachineInstanceCondition,
    VirtualMachineInstancePhase, VirtualMachineInstancePhaseTransitionTimestamp,
};
use jiff::Timestamp;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use super::domain::{Observed, PauseReason, acpi_in_play, vmi_phase};
use crate::simulated::actions::{EVENT_CRASHED, EVENT_SHUT_DOWN, EVENT_STARTED};
use crate::simulated::vmi::{
    StatusUpdate, interfaces, live_migratable, paused_condition, remove_condition, set_condition,
};

/// Condition type telling that the guest runs with software emulation.
pub const SOFTWARE_EMULATION_CONDITION: &str = "SoftwareEmulation";
/// Reason of `Synchronized=False` after a failed sync, as upstream.
pub const REASON_SYNC_FAILED: &str = "Synchronizing with the Domain failed.";

/// Why a guest runs with TCG instead of KVM.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Emulation {
    pub reason: String,
    pub message: String,
}

/// What the node knows about a guest beyond its domain state.
#[derive(Clone, Copy, Debug, Default)]
pub struct Report<'a> {
    /// The launcher pod's IP, reported as the pod network interface's address.
    pub pod_ip: Option<&'a str>,
    /// The machine type QEMU resolved (`pc-q35-7.2`).
    pub machine: Option<&'a str>,
    /// Set when the guest runs without KVM.
    pub emulation: Option<&'a Emulation>,
    /// The latest failure to start or sync the guest.
    pub sync_error: Option<&'a str>,
}

fn time(now: Timestamp) -> Time {
    Time(Timestamp::from_second(now.as_second()).unwrap_or(now))
}

fn condition(
    type_: &str,
    status: &str,
    reason: &str,
    message: &str,
    now: Timestamp,
) -> VirtualMachineInstanceCondition {
    VirtualMachineInstanceCondition {
        type_: type_.into(),
        status: status.into(),
        last_probe_time: None,
        last_transition_time: Some(time(now)),
        reason: Some(reason.into()),
        message: Some(message.into()),
    }
}

fn cpu_topology(vmi: &VirtualMachineInstance) -> CpuTopology {
    let cpu = vmi.spec.domain.cpu.as_ref();
    CpuTopology {
        cores: Some(cpu.and_then(|c| c.cores).unwrap_or(1)),
        sockets: Some(cpu.and_then(|c| c.sockets).unwrap_or(1)),
        threads: Some(cpu.and_then(|c| c.threads).unwrap_or(1)),
    }
}

fn memory(vmi: &VirtualMachineInstance) -> Option<MemoryStatus> {
    let domain = &vmi.spec.domain;
    let guest = domain
        .memory
        .as_ref()
        .and_then(|m| m.guest.clone())
        .or_else(|| {
            domain
                .resources
                .as_ref()
                .and_then(|r| r.requests.as_ref())
                .and_then(|r| r.get("memory").cloned())
        })?;
    Some(MemoryStatus {
        guest_at_boot: Some(guest.clone()),
        guest_current: Some(guest.clone()),
        guest_requested: Some(guest),
        ..Default::default()
    })
}

/// The status write that makes `vmi` reflect the guest, or `None` when it already does. A
/// final VMI is never rewritten.
pub fn status_update(
    vmi: &VirtualMachineInstance,
    observed: &Observed,
    report: &Report,
    now: Timestamp,
) -> Option<StatusUpdate> {
    use VirtualMachineInstancePhase::*;
    let old_phase = vmi.phase();
    if old_phase.is_final() {
        return None;
    }
    let phase = vmi_phase(observed, old_phase, acpi_in_play(vmi));
    let old = vmi.status.clone().unwrap_or_default();
    let mut status = old.clone();
    let mut conditions = status.conditions.take().unwrap_or_default();
    let mut events = Vec::new();
    status.phase = Some(phase);
    if phase != old_phase {
        status
            .phase_transition_timestamps
            .get_or_insert_with(Vec::new)
            .push(VirtualMachineInstancePhaseTransitionTimestamp {
                phase: Some(phase),
                phase_transition_timestamp: Some(time(now)),
            });
        match phase {
            Running => events.push(EVENT_STARTED),
            Succeeded => events.push(EVENT_SHUT_DOWN),
            Failed => events.push(EVENT_CRASHED),
            _ => {}
        }
    }
    match report.sync_error.filter(|_| !phase.is_final()) {
        Some(message) => set_condition(
            &mut conditions,
            condition(
                vmi_condition::SYNCHRONIZED,
                condition_status::FALSE,
                REASON_SYNC_FAILED,
                message,
                now,
            ),
        ),
        None => remove_condition(&mut conditions, vmi_condition::SYNCHRONIZED),
    }
    if phase == Running {
        let paused = observed.domain().is_some_and(|d| d.is_paused());
        let has_paused = conditions.iter().any(|c| c.type_ == vmi_condition::PAUSED);
        if paused && !has_paused {
            let by_user = matches!(
                observed.domain(),
                Some(super::domain::DomainStatus::Paused(
                    PauseReason::User | PauseReason::Other
                ))
            );
            if by_user {
                conditions.push(paused_condition(now));
            }
        } else if !paused {
            remove_condition(&mut conditions, vmi_condition::PAUSED);
        }
        set_condition(&mut conditions, live_migratable(vmi, now));
        match report.emulation {
            Some(e) => set_condition(
                &mut conditions,
                condition(
                    SOFTWARE_EMULATION_CONDITION,
                    condition_status::TRUE,
                    &e.reason,
                    &e.message,
                    now,
                ),
            ),
            None => remove_condition(&mut conditions, SOFTWARE_EMULATION_CONDITION),
        }
        status.interfaces = Some(interfaces(vmi, report.pod_ip, false));
        if let Some(machine) = report.machine {
            status.machine = Some(Machine {
                type_: Some(machine.to_string()),
            });
        }
        status.current_cpu_topology = Some(cpu_topology(vmi));
        if let Some(m) = memory(vmi) {
            status.memory = Some(m);
        }
    } else if phase.is_final() {
        remove_condition(&mut conditions, vmi_condition::PAUSED);
        remove_condition(&mut conditions, vmi_condition::AGENT_CONNECTED);
    }
    status.conditions = (!conditions.is_empty() || old.conditions.is_some()).then_some(conditions);
    let changed = crate::simulated::vmi::status_diff(&old, &status);
    (!changed.is_empty()).then_some(StatusUpdate {
        status: changed,
        events,
    })
}

#[cfg(test)]
#[path = "status_tests.rs"]
mod tests;
