//! Choosing between KVM and TCG by actually trying KVM.
//!
//! `/dev/kvm` existing is not enough: nested or restricted KVM may refuse the host CPU model or
//! hang. The probe starts QEMU with KVM and the `host` CPU model, lets the vCPUs run (firmware
//! only, no disks) for a moment, checks that QMP reports them running, and quits. Anything else
//! within a few seconds means TCG, with the reason kept for the user.

use crate::spec::Accel;
use serde_json::Value;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Forces the choice: `tcg` or `kvm` (no probe).
pub const ACCEL_ENV: &str = "KUBEVIRT_RS_ACCEL";

/// How long the probe may take before KVM counts as unusable.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(3);

/// The accelerator to use and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccelChoice {
    pub accel: Accel,
    /// Why: "forced by KUBEVIRT_RS_ACCEL=tcg", "KVM works", or why KVM is not usable.
    pub reason: String,
    /// True when KVM was tried and found unusable (the reason says why): users should be told
    /// that guests run with slow software emulation.
    pub kvm_unusable: bool,
}

/// Decides the accelerator: [`ACCEL_ENV`] when set, else a real KVM probe with
/// `qemu-system-x86_64` from `PATH`. Blocks for up to [`PROBE_TIMEOUT`]; call it once at
/// start-up (from async code, in `spawn_blocking`).
pub fn probe_accel() -> AccelChoice {
    let forced = std::env::var(ACCEL_ENV).ok();
    choose(
        forced.as_deref(),
        Path::new("qemu-system-x86_64"),
        PROBE_TIMEOUT,
    )
}

fn choose(forced: Option<&str>, qemu: &Path, timeout: Duration) -> AccelChoice {
    match forced.map(str::trim) {
        Some("tcg") => {
            return AccelChoice {
                accel: Accel::Tcg,
                reason: format!("forced by {ACCEL_ENV}=tcg"),
                kvm_unusable: false,
            };
        }
        Some("kvm") => {
            return AccelChoice {
                accel: Accel::Kvm,
                reason: format!("forced by {ACCEL_ENV}=kvm"),
                kvm_unusable: false,
            };
        }
        _ => {}
    }
    match probe_kvm(qemu, timeout) {
        Ok(()) => AccelChoice {
            accel: Accel::Kvm,
            reason: "KVM works".into(),
            kvm_unusable: false,
        },
        Err(reason) => AccelChoice {
            accel: Accel::Tcg,
            reason,
            kvm_unusable: true,
        },
    }
}

/// Tries to run vCPUs under KVM with the `host` CPU model. `Err` carries a one-line reason.
pub fn probe_kvm(qemu: &Path, timeout: Duration) -> Result<(), String> {
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/kvm")
        .map_err(|e| format!("cannot open /dev/kvm: {e}"))?;
    let mut child = Command::new(qemu)
        .args([
            "-machine",
            "q35,accel=kvm",
            "-cpu",
            "host",
            "-m",
            "64",
            "-S",
            "-nodefaults",
            "-no-user-config",
            "-display",
            "none",
            "-qmp",
            "stdio",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run {}: {e}", qemu.display()))?;
    let mut stdin = child.stdin.take().expect("piped");
    let stdout = child.stdout.take().expect("piped");
    let mut stderr = child.stderr.take().expect("piped");
    let (tx, rx) = mpsc::channel::<Value>();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if let Ok(v) = serde_json::from_str::<Value>(&line)
                && tx.send(v).is_err()
            {
                break;
            }
        }
    });
    let stderr_text = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });
    let deadline = Instant::now() + timeout;
    let mut step = |command: Option<&str>| -> Result<Value, String> {
        if let Some(command) = command {
            writeln!(stdin, "{{\"execute\": \"{command}\"}}")
                .map_err(|_| "QEMU exited during the KVM probe".to_string())?;
        }
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let msg = rx.recv_timeout(left).map_err(|e| match e {
                mpsc::RecvTimeoutError::Timeout => format!(
                    "QEMU did not answer within {} s with KVM",
                    timeout.as_secs()
                ),
                mpsc::RecvTimeoutError::Disconnected => {
                    "QEMU exited during the KVM probe".to_string()
                }
            })?;
            if msg.get("event").is_none() {
                return Ok(msg);
            }
        }
    };
    let outcome = (|| {
        step(None)?;
        step(Some("qmp_capabilities"))?;
        step(Some("cont"))?;
        std::thread::sleep(Duration::from_millis(300));
        let status = step(Some("query-status"))?;
        let running = status["return"]["status"]
            .as_str()
            .unwrap_or("")
            .to_string();
        if running != "running" {
            return Err(format!(
                "the vCPUs did not run under KVM (status {running:?})"
            ));
        }
        let _ = step(Some("quit"));
        Ok(())
    })();
    let _ = child.kill();
    let _ = child.wait();
    let stderr = stderr_text.join().unwrap_or_default();
    outcome.map_err(|reason| {
        match stderr.lines().find(|l| !l.trim().is_empty()).map(|l| {
            l.trim_start_matches("qemu-system-x86_64: ")
                .trim_start_matches("error: ")
                .trim()
        }) {
            Some(first) => format!("{reason}: {first}"),
            None => reason,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_environment_variable_forces_the_choice_without_probing() {
        let missing = Path::new("/nonexistent/qemu");
        let tcg = choose(Some("tcg"), missing, PROBE_TIMEOUT);
        assert_eq!(tcg.accel, Accel::Tcg);
        assert!(!tcg.kvm_unusable);
        assert_eq!(tcg.reason, "forced by KUBEVIRT_RS_ACCEL=tcg");
        assert_eq!(
            choose(Some("kvm"), missing, PROBE_TIMEOUT).accel,
            Accel::Kvm
        );
    }

    #[test]
    fn a_failing_probe_falls_back_to_tcg_with_a_reason() {
        let choice = choose(None, Path::new("/nonexistent/qemu"), PROBE_TIMEOUT);
        assert_eq!(choice.accel, Accel::Tcg);
        assert!(choice.kvm_unusable);
        // Either /dev/kvm is missing or the binary is.
        assert!(
            choice.reason.starts_with("cannot open /dev/kvm")
                || choice.reason.starts_with("cannot run /nonexistent/qemu"),
            "{}",
            choice.reason
        );
    }
}
