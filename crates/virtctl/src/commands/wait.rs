//! `--wait` of start, stop and restart: polls the VM and its VMI until the change has taken
//! effect or the timeout passes.

use std::time::Duration;

use serde_json::Value;

use super::{CommandError, Connection};
use crate::flags::format_duration;

const POLL: Duration = Duration::from_millis(500);

/// What one poll saw.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Observed {
    /// The VM's `status.printableStatus`.
    pub printable: String,
    /// The VMI's UID and phase, when it exists.
    pub vmi: Option<(String, String)>,
}

/// The goal of a wait.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Goal {
    /// Running (or Paused when started paused).
    Running { paused: bool },
    /// No VMI, and the VM says Stopped.
    Stopped,
    /// A running VMI whose UID is not the old one.
    Restarted { old_uid: Option<String> },
}

impl Goal {
    /// Whether `seen` reaches the goal.
    pub fn reached(&self, seen: &Observed) -> bool {
        match self {
            Goal::Running { paused } => {
                let wanted = if *paused { "Paused" } else { "Running" };
                seen.printable == wanted
                    && seen
                        .vmi
                        .as_ref()
                        .is_some_and(|(_, phase)| phase == "Running")
            }
            Goal::Stopped => seen.vmi.is_none() && seen.printable == "Stopped",
            Goal::Restarted { old_uid } => match &seen.vmi {
                Some((uid, phase)) if phase == "Running" => {
                    old_uid.as_deref() != Some(uid.as_str())
                }
                _ => false,
            },
        }
    }

    fn done_message(&self, name: &str) -> String {
        match self {
            Goal::Running { paused: false } => format!("VM {name} is running"),
            Goal::Running { paused: true } => format!("VM {name} is paused"),
            Goal::Stopped => format!("VM {name} is stopped"),
            Goal::Restarted { .. } => format!("VM {name} was restarted"),
        }
    }

    fn describe(&self) -> &'static str {
        match self {
            Goal::Running { paused: false } => "run",
            Goal::Running { paused: true } => "run paused",
            Goal::Stopped => "stop",
            Goal::Restarted { .. } => "run a new instance",
        }
    }
}

async fn observe(conn: &Connection, name: &str) -> Result<Observed, CommandError> {
    let text = |v: &Value, pointer: &str| {
        v.pointer(pointer)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    let vm: Value = conn
        .client
        .get_kubevirt(&conn.namespace, "virtualmachines", name)
        .await?;
    let printable = text(&vm, "/status/printableStatus");
    let vmi = match conn
        .client
        .get_kubevirt::<Value>(&conn.namespace, "virtualmachineinstances", name)
        .await
    {
        Ok(vmi) => Some((text(&vmi, "/metadata/uid"), text(&vmi, "/status/phase"))),
        Err(e) if e.is_not_found() => None,
        Err(e) => return Err(e.into()),
    };
    Ok(Observed { printable, vmi })
}

async fn until(
    conn: &Connection,
    name: &str,
    goal: Goal,
    timeout: Duration,
) -> Result<(), CommandError> {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let seen = observe(conn, name).await?;
        if goal.reached(&seen) {
            println!("{}", goal.done_message(name));
            return Ok(());
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(CommandError::failed(format!(
                "timed out after {} waiting for VM {name} to {}: its status is {:?}",
                format_duration(timeout),
                goal.describe(),
                seen.printable
            )));
        }
        tokio::time::sleep(POLL).await;
    }
}

pub async fn running(
    conn: &Connection,
    name: &str,
    paused: bool,
    timeout: Duration,
) -> Result<(), CommandError> {
    until(conn, name, Goal::Running { paused }, timeout).await
}

pub async fn stopped(conn: &Connection, name: &str, timeout: Duration) -> Result<(), CommandError> {
    until(conn, name, Goal::Stopped, timeout).await
}

pub async fn restarted(
    conn: &Connection,
    name: &str,
    old_uid: Option<&str>,
    timeout: Duration,
) -> Result<(), CommandError> {
    let goal = Goal::Restarted {
        old_uid: old_uid.map(str::to_owned),
    };
    until(conn, name, goal, timeout).await
}

#[cfg(test)]
mod tests {
    use super::*;

    const RUNNING: &str = "Running";
    const SCHEDULED: &str = "Scheduled";
    const SCHEDULING: &str = "Scheduling";
    const SUCCEEDED: &str = "Succeeded";

    fn seen(printable: &str, vmi: Option<(&str, &str)>) -> Observed {
        Observed {
            printable: printable.into(),
            vmi: vmi.map(|(u, p)| (u.to_owned(), p.to_owned())),
        }
    }

    #[test]
    fn running_needs_a_running_vmi_and_status() {
        let goal = Goal::Running { paused: false };
        assert!(!goal.reached(&seen("Starting", Some(("a", SCHEDULED)))));
        assert!(!goal.reached(&seen("Running", None)));
        assert!(goal.reached(&seen("Running", Some(("a", RUNNING)))));
        let paused = Goal::Running { paused: true };
        assert!(!paused.reached(&seen("Running", Some(("a", RUNNING)))));
        assert!(paused.reached(&seen("Paused", Some(("a", RUNNING)))));
    }

    #[test]
    fn stopped_needs_the_vmi_gone() {
        assert!(!Goal::Stopped.reached(&seen("Stopping", Some(("a", RUNNING)))));
        assert!(!Goal::Stopped.reached(&seen("Stopped", Some(("a", SUCCEEDED)))));
        assert!(Goal::Stopped.reached(&seen("Stopped", None)));
    }

    #[test]
    fn restarted_needs_a_new_running_vmi() {
        let goal = Goal::Restarted {
            old_uid: Some("a".into()),
        };
        assert!(!goal.reached(&seen("Running", Some(("a", RUNNING)))));
        assert!(!goal.reached(&seen("Starting", Some(("b", SCHEDULING)))));
        assert!(goal.reached(&seen("Running", Some(("b", RUNNING)))));
    }
}
