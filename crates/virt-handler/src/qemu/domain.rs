//! What the driver knows about a guest, in libvirt's vocabulary (the states virt-handler sees
//! from virt-launcher), and the VMI phase it implies (§7.2 of the behaviour spec).

use api::VirtualMachineInstancePhase;

/// Why a domain is paused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PauseReason {
    User,
    Migration,
    IoError,
    /// Paused before the guest ever ran (start strategy `Paused`) or for another reason.
    Other,
}

/// Why a domain is off.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ShutoffReason {
    /// The guest powered itself off (or obeyed an ACPI request, or rebooted with
    /// `rebootPolicy: Terminate`).
    Shutdown,
    /// The driver killed it.
    Destroyed,
    /// The hypervisor died.
    Crashed,
    /// The hypervisor could not run the guest.
    Failed,
}

/// A domain state as the launcher reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DomainStatus {
    Running,
    Paused(PauseReason),
    Shutoff(ShutoffReason),
    /// The guest panicked (pvpanic).
    Panicked,
}

impl DomainStatus {
    /// True while QEMU runs the guest (paused or not).
    pub fn is_alive(self) -> bool {
        matches!(self, DomainStatus::Running | DomainStatus::Paused(_))
    }

    pub fn is_paused(self) -> bool {
        matches!(self, DomainStatus::Paused(_))
    }
}

/// What the driver knows about a guest's launcher.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Observed {
    /// No launcher yet: disks are being prepared, or the start failed and waits for a retry.
    NotStarted,
    /// The launcher runs but QEMU is not up yet.
    Launching,
    /// The launcher answers; the domain is in this state.
    Domain(DomainStatus),
    /// The launcher is gone without recording how the guest ended.
    Unresponsive,
}

impl Observed {
    /// The domain state, when known.
    pub fn domain(&self) -> Option<DomainStatus> {
        match self {
            Observed::Domain(d) => Some(*d),
            _ => None,
        }
    }

    /// True while a guest runs or may still come up.
    pub fn is_alive(&self) -> bool {
        match self {
            Observed::NotStarted | Observed::Launching => true,
            Observed::Domain(d) => d.is_alive(),
            Observed::Unresponsive => false,
        }
    }
}

impl From<virt_launcher::state::DomainState> for Observed {
    fn from(state: virt_launcher::state::DomainState) -> Observed {
        use virt_launcher::state::{DomainState as L, PausedReason as P, ShutoffReason as S};
        let status = match state {
            L::NoState => return Observed::Launching,
            L::Running => DomainStatus::Running,
            L::Paused { reason } => DomainStatus::Paused(match reason {
                P::User => PauseReason::User,
                P::Migration => PauseReason::Migration,
                P::IOError => PauseReason::IoError,
                P::Watchdog | P::Unknown => PauseReason::Other,
            }),
            L::Shutoff { reason } => DomainStatus::Shutoff(match reason {
                S::Shutdown => ShutoffReason::Shutdown,
                S::Destroyed => ShutoffReason::Destroyed,
                S::Crashed => ShutoffReason::Crashed,
                S::Failed => ShutoffReason::Failed,
            }),
            L::Crashed { .. } => DomainStatus::Panicked,
        };
        Observed::Domain(status)
    }
}

/// Whether a destroyed domain counts as killed after a failed graceful shutdown: the VMI has a
/// grace period (its own, else the domain's default of 30 s) and ACPI is not disabled.
pub fn acpi_in_play(vmi: &api::VirtualMachineInstance) -> bool {
    let acpi = vmi
        .spec
        .domain
        .features
        .as_ref()
        .and_then(|f| f.acpi.as_ref())
        .is_none_or(|a| a.enabled != Some(false));
    acpi && vmi.spec.grace_period_seconds() > 0
}

/// The VMI phase the node agent reports for `observed`, given the current phase (upstream's
/// `calculateVmPhaseForStatusReason`).
pub fn vmi_phase(
    observed: &Observed,
    current: VirtualMachineInstancePhase,
    acpi_in_play: bool,
) -> VirtualMachineInstancePhase {
    use VirtualMachineInstancePhase::*;
    match observed {
        Observed::NotStarted | Observed::Launching => current,
        Observed::Unresponsive => match current {
            Scheduled | Running => Failed,
            other => other,
        },
        Observed::Domain(status) => match status {
            DomainStatus::Running | DomainStatus::Paused(_) => Running,
            DomainStatus::Panicked => Failed,
            DomainStatus::Shutoff(reason) => match reason {
                ShutoffReason::Shutdown => Succeeded,
                ShutoffReason::Crashed | ShutoffReason::Failed => Failed,
                ShutoffReason::Destroyed if acpi_in_play => Failed,
                ShutoffReason::Destroyed => Succeeded,
            },
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use VirtualMachineInstancePhase::*;
    use serde_json::json;

    #[test]
    fn phase_table() {
        let cases: Vec<(
            &str,
            Observed,
            VirtualMachineInstancePhase,
            bool,
            VirtualMachineInstancePhase,
        )> = vec![
            (
                "starting guest keeps Scheduled",
                Observed::NotStarted,
                Scheduled,
                true,
                Scheduled,
            ),
            (
                "running domain",
                Observed::Domain(DomainStatus::Running),
                Scheduled,
                true,
                Running,
            ),
            (
                "paused domain is Running",
                Observed::Domain(DomainStatus::Paused(PauseReason::User)),
                Scheduled,
                true,
                Running,
            ),
            (
                "guest poweroff",
                Observed::Domain(DomainStatus::Shutoff(ShutoffReason::Shutdown)),
                Running,
                true,
                Succeeded,
            ),
            (
                "qemu died",
                Observed::Domain(DomainStatus::Shutoff(ShutoffReason::Crashed)),
                Running,
                true,
                Failed,
            ),
            (
                "qemu failed",
                Observed::Domain(DomainStatus::Shutoff(ShutoffReason::Failed)),
                Scheduled,
                false,
                Failed,
            ),
            (
                "guest panic",
                Observed::Domain(DomainStatus::Panicked),
                Running,
                true,
                Failed,
            ),
            (
                "killed at grace expiry",
                Observed::Domain(DomainStatus::Shutoff(ShutoffReason::Destroyed)),
                Running,
                true,
                Failed,
            ),
            (
                "killed with grace 0",
                Observed::Domain(DomainStatus::Shutoff(ShutoffReason::Destroyed)),
                Running,
                false,
                Succeeded,
            ),
            (
                "launcher gone while running",
                Observed::Unresponsive,
                Running,
                true,
                Failed,
            ),
            (
                "launcher gone while scheduled",
                Observed::Unresponsive,
                Scheduled,
                true,
                Failed,
            ),
            (
                "launcher gone of a final VMI",
                Observed::Unresponsive,
                Succeeded,
                true,
                Succeeded,
            ),
        ];
        for (name, observed, current, acpi, want) in cases {
            assert_eq!(vmi_phase(&observed, current, acpi), want, "{name}");
        }
    }

    #[test]
    fn launcher_states_map_to_domain_states() {
        use virt_launcher::state::{
            CrashedReason, DomainState as L, PausedReason, ShutoffReason as S,
        };
        let cases = [
            (L::NoState, Observed::Launching),
            (L::Running, Observed::Domain(DomainStatus::Running)),
            (
                L::Paused {
                    reason: PausedReason::User,
                },
                Observed::Domain(DomainStatus::Paused(PauseReason::User)),
            ),
            (
                L::Paused {
                    reason: PausedReason::IOError,
                },
                Observed::Domain(DomainStatus::Paused(PauseReason::IoError)),
            ),
            (
                L::Shutoff {
                    reason: S::Shutdown,
                },
                Observed::Domain(DomainStatus::Shutoff(ShutoffReason::Shutdown)),
            ),
            (
                L::Shutoff {
                    reason: S::Destroyed,
                },
                Observed::Domain(DomainStatus::Shutoff(ShutoffReason::Destroyed)),
            ),
            (
                L::Shutoff { reason: S::Crashed },
                Observed::Domain(DomainStatus::Shutoff(ShutoffReason::Crashed)),
            ),
            (
                L::Crashed {
                    reason: CrashedReason::Panicked,
                },
                Observed::Domain(DomainStatus::Panicked),
            ),
        ];
        for (state, want) in cases {
            assert_eq!(Observed::from(state), want, "{state:?}");
        }
    }

    fn vmi(spec: serde_json::Value) -> api::VirtualMachineInstance {
        serde_json::from_value(json!({
            "apiVersion": "kubevirt.io/v1", "kind": "VirtualMachineInstance",
            "metadata": {"name": "v"}, "spec": spec,
        }))
        .unwrap()
    }

    #[test]
    fn acpi_is_in_play_with_a_grace_period_and_acpi() {
        assert!(acpi_in_play(&vmi(json!({"domain": {"devices": {}}}))));
        assert!(!acpi_in_play(&vmi(
            json!({"domain": {"devices": {}}, "terminationGracePeriodSeconds": 0})
        )));
        assert!(!acpi_in_play(&vmi(
            json!({"domain": {"devices": {}, "features": {"acpi": {"enabled": false}}}})
        )));
        assert!(acpi_in_play(&vmi(
            json!({"domain": {"devices": {}, "features": {"acpi": {}}}, "terminationGracePeriodSeconds": 5})
        )));
    }
}
