//! Domain states, as KubeVirt reads them from libvirt, and the `state.json` file of a run
//! directory.
//!
//! The launcher rewrites `<run-dir>/state.json` (atomically: write then rename) on every
//! change, and writes the final state before it exits, so a node driver that was down while
//! the guest ended can still tell why.
//!
//! How a node driver maps states to VMI phases (KubeVirt's rules):
//! - `Running`, `Paused` → Running (a paused VMI has the Paused condition);
//! - `Shutoff{Shutdown}` → Succeeded (guest power-off, ACPI shutdown honoured, guest reboot
//!   with `rebootPolicy: Terminate`);
//! - `Shutoff{Destroyed}` → Succeeded, or Failed when a graceful shutdown was in progress and
//!   its grace period expired;
//! - `Shutoff{Crashed}` (QEMU died without being asked to), `Shutoff{Failed}` (QEMU could not
//!   start), `Crashed{Panicked}` → Failed;
//! - `NoState`: the launcher is still preparing QEMU (no domain yet).
//!
//! A state file whose launcher process is gone while the state is not final
//! ([`StateFile::effective_state`]) means the launcher was killed: treat it as
//! `Shutoff{Crashed}`.

use crate::spec::{Accel, STATE_FILE};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// Why a domain is paused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum PausedReason {
    /// Paused on request (control `pause`, or `startStrategy: Paused`).
    User,
    /// Paused by an incoming or outgoing migration.
    Migration,
    /// Paused because a disk returned an I/O error (error policy `stop`).
    IOError,
    /// Paused by the watchdog.
    Watchdog,
    /// Paused for a reason QEMU reported that has no name here.
    Unknown,
}

/// Why a domain is off.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ShutoffReason {
    /// The guest powered off (or rebooted under `-no-reboot`).
    Shutdown,
    /// The launcher killed QEMU on request (control `kill`).
    Destroyed,
    /// QEMU ended without being asked to (killed by a signal, or exited with an error).
    Crashed,
    /// QEMU could not be started.
    Failed,
}

/// Why a domain crashed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum CrashedReason {
    /// The guest kernel panicked and reported it through a panic device.
    Panicked,
}

/// The state of the domain (the QEMU process and its guest).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state")]
pub enum DomainState {
    /// The launcher is preparing QEMU; no domain exists yet.
    NoState,
    Running,
    Paused {
        reason: PausedReason,
    },
    Shutoff {
        reason: ShutoffReason,
    },
    Crashed {
        reason: CrashedReason,
    },
}

impl DomainState {
    /// True when QEMU has ended: the state will not change any more.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            DomainState::Shutoff { .. } | DomainState::Crashed { .. }
        )
    }

    /// The state QMP's `query-status` `status` field describes, for a live QEMU.
    pub fn from_run_state(status: &str) -> DomainState {
        use PausedReason::*;
        let paused = |reason| DomainState::Paused { reason };
        match status {
            "running" => DomainState::Running,
            "paused" | "prelaunch" | "suspended" | "debug" | "save-vm" | "restore-vm" => {
                paused(User)
            }
            "io-error" => paused(IOError),
            "watchdog" => paused(Watchdog),
            "inmigrate" | "postmigrate" | "finish-migrate" | "colo" => paused(Migration),
            "guest-panicked" => DomainState::Crashed {
                reason: CrashedReason::Panicked,
            },
            "shutdown" => DomainState::Shutoff {
                reason: ShutoffReason::Shutdown,
            },
            _ => paused(Unknown),
        }
    }
}

/// How the QEMU process ended.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct QemuExit {
    /// Exit status, when QEMU exited by itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<i32>,
    /// Signal number, when QEMU was killed by a signal.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signal: Option<i32>,
}

/// What the launcher saw happen before QEMU ended.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EndFacts {
    pub exit: QemuExit,
    /// The launcher itself killed QEMU (control `kill`).
    pub killed_by_launcher: bool,
    /// A `GUEST_PANICKED` event arrived.
    pub guest_panicked: bool,
    /// The `reason` of the first `SHUTDOWN` event that ended the guest (`guest-shutdown`,
    /// `guest-panic`, ...); a later one (QEMU told to quit after it) does not replace it.
    pub shutdown_reason: Option<String>,
}

/// The final domain state and a human-readable explanation of it.
pub fn final_state(facts: &EndFacts) -> (DomainState, String) {
    let shutoff = |reason| DomainState::Shutoff { reason };
    let reason = facts.shutdown_reason.as_deref();
    if facts.guest_panicked || reason == Some("guest-panic") {
        return (
            DomainState::Crashed {
                reason: CrashedReason::Panicked,
            },
            "the guest kernel panicked".into(),
        );
    }
    if facts.killed_by_launcher {
        return (
            shutoff(ShutoffReason::Destroyed),
            "QEMU was killed on request".into(),
        );
    }
    match (facts.exit.code, facts.exit.signal) {
        (Some(0), _) => {
            let why = match reason {
                Some("guest-reset") => "the guest rebooted and its reboot policy is Terminate",
                Some("host-qmp-system-reset") => {
                    "the guest was reset and its reboot policy is Terminate"
                }
                Some("host-qmp-quit") => "QEMU was asked to quit",
                _ => "the guest powered off",
            };
            (shutoff(ShutoffReason::Shutdown), why.into())
        }
        (_, Some(signal)) => (
            shutoff(ShutoffReason::Crashed),
            format!("QEMU was killed by signal {signal}"),
        ),
        (Some(code), None) => (
            shutoff(ShutoffReason::Crashed),
            format!("QEMU exited with status {code}"),
        ),
        (None, None) => (
            shutoff(ShutoffReason::Crashed),
            "QEMU ended for an unknown reason".into(),
        ),
    }
}

/// Reading or writing `state.json` failed.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("cannot write {path}: {source}")]
    Write {
        path: String,
        source: std::io::Error,
    },
    #[error("{path} is not a valid state file: {source}")]
    Parse {
        path: String,
        source: serde_json::Error,
    },
}

/// The content of `<run-dir>/state.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StateFile {
    pub launcher_pid: u32,
    /// Set once QEMU was started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub qemu_pid: Option<u32>,
    #[serde(flatten)]
    pub state: DomainState,
    /// Human-readable detail: why QEMU ended or failed to start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    pub accel: Accel,
    /// When the launcher started.
    pub started_at: Timestamp,
    /// When the domain state last changed.
    pub updated_at: Timestamp,
    /// Set once QEMU ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub qemu_exit: Option<QemuExit>,
}

impl StateFile {
    /// Reads `<run_dir>/state.json`.
    pub fn read(run_dir: &Path) -> Result<StateFile, StateError> {
        let path = run_dir.join(STATE_FILE);
        let display = path.display().to_string();
        let bytes = std::fs::read(&path).map_err(|source| StateError::Read {
            path: display.clone(),
            source,
        })?;
        serde_json::from_slice(&bytes).map_err(|source| StateError::Parse {
            path: display,
            source,
        })
    }

    /// Replaces `<run_dir>/state.json` atomically.
    pub fn write(&self, run_dir: &Path) -> Result<(), StateError> {
        let path = run_dir.join(STATE_FILE);
        let tmp = run_dir.join(format!(".{STATE_FILE}.tmp"));
        let err = |source| StateError::Write {
            path: path.display().to_string(),
            source,
        };
        let bytes = serde_json::to_vec_pretty(self).expect("state serializes");
        std::fs::write(&tmp, bytes).map_err(err)?;
        std::fs::rename(&tmp, &path).map_err(err)
    }

    /// The state, taking into account that a launcher that died before QEMU ended could not
    /// record the end: then the domain is gone too (QEMU dies with its launcher).
    pub fn effective_state(&self) -> DomainState {
        if !self.state.is_final() && !crate::process::is_alive(self.launcher_pid) {
            DomainState::Shutoff {
                reason: ShutoffReason::Crashed,
            }
        } else {
            self.state
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn end(code: Option<i32>, signal: Option<i32>) -> EndFacts {
        EndFacts {
            exit: QemuExit { code, signal },
            ..Default::default()
        }
    }

    #[test]
    fn guest_power_off_is_a_shutdown() {
        let mut facts = end(Some(0), None);
        facts.shutdown_reason = Some("guest-shutdown".into());
        assert_eq!(
            final_state(&facts).0,
            DomainState::Shutoff {
                reason: ShutoffReason::Shutdown
            }
        );
    }

    #[test]
    fn an_external_kill_is_a_crash_and_our_kill_is_destroyed() {
        let facts = end(None, Some(9));
        let (state, message) = final_state(&facts);
        assert_eq!(
            state,
            DomainState::Shutoff {
                reason: ShutoffReason::Crashed
            }
        );
        assert_eq!(message, "QEMU was killed by signal 9");
        let mut ours = facts;
        ours.killed_by_launcher = true;
        assert_eq!(
            final_state(&ours).0,
            DomainState::Shutoff {
                reason: ShutoffReason::Destroyed
            }
        );
    }

    #[test]
    fn a_guest_panic_wins_over_everything_else() {
        let mut facts = end(Some(0), None);
        facts.shutdown_reason = Some("guest-panic".into());
        assert_eq!(
            final_state(&facts).0,
            DomainState::Crashed {
                reason: CrashedReason::Panicked
            }
        );
        let mut facts = end(None, Some(9));
        facts.guest_panicked = true;
        facts.killed_by_launcher = true;
        assert_eq!(
            final_state(&facts).0,
            DomainState::Crashed {
                reason: CrashedReason::Panicked
            }
        );
    }

    #[test]
    fn a_failing_exit_status_is_a_crash() {
        assert_eq!(
            final_state(&end(Some(1), None)),
            (
                DomainState::Shutoff {
                    reason: ShutoffReason::Crashed
                },
                "QEMU exited with status 1".to_string()
            )
        );
    }

    #[test]
    fn qmp_run_states_map_to_domain_states() {
        assert_eq!(DomainState::from_run_state("running"), DomainState::Running);
        assert_eq!(
            DomainState::from_run_state("paused"),
            DomainState::Paused {
                reason: PausedReason::User
            }
        );
        assert_eq!(
            DomainState::from_run_state("io-error"),
            DomainState::Paused {
                reason: PausedReason::IOError
            }
        );
        assert!(DomainState::from_run_state("guest-panicked").is_final());
    }

    #[test]
    fn state_files_round_trip_with_a_flat_state() {
        let dir = tempfile::tempdir().unwrap();
        let now = Timestamp::now();
        let file = StateFile {
            launcher_pid: 10,
            qemu_pid: Some(11),
            state: DomainState::Paused {
                reason: PausedReason::User,
            },
            message: None,
            accel: Accel::Tcg,
            started_at: now,
            updated_at: now,
            qemu_exit: None,
        };
        file.write(dir.path()).unwrap();
        let json: serde_json::Value =
            serde_json::from_slice(&std::fs::read(dir.path().join(STATE_FILE)).unwrap()).unwrap();
        assert_eq!(json["state"], "Paused");
        assert_eq!(json["reason"], "User");
        assert_eq!(json["qemuPid"], 11);
        assert_eq!(StateFile::read(dir.path()).unwrap(), file);
    }

    #[test]
    fn a_dead_launcher_with_a_live_state_means_a_crash() {
        let now = Timestamp::now();
        let mut file = StateFile {
            // PIDs are below 2^22 on Linux.
            launcher_pid: u32::MAX - 1,
            qemu_pid: None,
            state: DomainState::Running,
            message: None,
            accel: Accel::Tcg,
            started_at: now,
            updated_at: now,
            qemu_exit: None,
        };
        assert_eq!(
            file.effective_state(),
            DomainState::Shutoff {
                reason: ShutoffReason::Crashed
            }
        );
        file.launcher_pid = std::process::id();
        assert_eq!(file.effective_state(), DomainState::Running);
    }
}
