//! The driver's record of each guest it runs, by VMI UID, and the files it keeps in the guest's
//! run directory next to the launcher's (`guest.json`: which VMI and pod the guest belongs to,
//! the graceful stop in progress, why it runs without KVM).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use tokio::time::Instant;

use super::domain::{DomainStatus, Observed};
use super::status::Emulation;
use super::stop::{GracefulStop, StopRecord};
use crate::simulated::actions::ObjectKey;

/// Name of the driver's own file in a run directory.
pub const GUEST_FILE: &str = "guest.json";

/// One guest of this node.
#[derive(Clone, Debug, PartialEq)]
pub struct Guest {
    pub vmi: ObjectKey,
    /// UID of the launcher pod the guest runs in.
    pub pod_uid: String,
    pub run_dir: PathBuf,
    pub observed: Observed,
    /// A start (disk preparation and launcher spawn) is in flight.
    pub starting: bool,
    /// Why the latest start failed; retried at `retry_at`.
    pub start_error: Option<String>,
    pub retry_at: Option<Instant>,
    pub stop: Option<GracefulStop>,
    pub emulation: Option<Emulation>,
    /// The machine type QEMU resolved.
    pub machine: Option<String>,
    /// When the driver first saw the guest running (for the pod's container state).
    pub since: Timestamp,
    /// Counts the pauses and unpauses sent through the gateway: a state read before one of
    /// them is stale.
    pub control_epoch: u64,
}

/// The guests of this node, by VMI UID.
pub type Guests = BTreeMap<String, Guest>;

impl Guest {
    /// A guest about to be started.
    pub fn starting(vmi: ObjectKey, pod_uid: String, run_dir: PathBuf, now: Timestamp) -> Guest {
        Guest {
            vmi,
            pod_uid,
            run_dir,
            observed: Observed::NotStarted,
            starting: true,
            start_error: None,
            retry_at: None,
            stop: None,
            emulation: None,
            machine: None,
            since: now,
            control_epoch: 0,
        }
    }

    /// True while the launcher runs the guest (paused or not) or is bringing QEMU up.
    pub fn domain_alive(&self) -> bool {
        self.observed == Observed::Launching
            || self.observed.domain().is_some_and(DomainStatus::is_alive)
    }

    /// True while the guest runs or is being started.
    pub fn is_alive(&self) -> bool {
        self.starting || self.domain_alive()
    }

    /// The persistent part of the record.
    pub fn file(&self, now: Instant, wall_now: SystemTime) -> GuestFile {
        GuestFile {
            namespace: self.vmi.namespace.clone(),
            name: self.vmi.name.clone(),
            uid: self.vmi.uid.clone(),
            pod_uid: self.pod_uid.clone(),
            stop: self.stop.map(|s| s.record(now, wall_now)),
            emulation: self.emulation.clone().map(|e| (e.reason, e.message)),
            machine: self.machine.clone(),
        }
    }
}

/// `guest.json`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GuestFile {
    pub namespace: String,
    pub name: String,
    pub uid: String,
    pub pod_uid: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop: Option<StopRecord>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub emulation: Option<(String, String)>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub machine: Option<String>,
}

impl GuestFile {
    /// Reads `guest.json` of a run directory.
    pub fn read(run_dir: &Path) -> std::io::Result<GuestFile> {
        let bytes = std::fs::read(run_dir.join(GUEST_FILE))?;
        serde_json::from_slice(&bytes).map_err(std::io::Error::other)
    }

    /// Writes `guest.json` atomically (a temporary file renamed over it).
    pub fn write(&self, run_dir: &Path) -> std::io::Result<()> {
        let tmp = run_dir.join(format!("{GUEST_FILE}.tmp"));
        let bytes = serde_json::to_vec_pretty(self).map_err(std::io::Error::other)?;
        std::fs::write(&tmp, bytes)?;
        std::fs::rename(tmp, run_dir.join(GUEST_FILE))
    }

    /// The guest this file describes, observed as `observed`.
    pub fn guest(
        &self,
        run_dir: PathBuf,
        observed: Observed,
        now: Instant,
        wall_now: SystemTime,
    ) -> Guest {
        Guest {
            vmi: ObjectKey {
                namespace: self.namespace.clone(),
                name: self.name.clone(),
                uid: self.uid.clone(),
            },
            pod_uid: self.pod_uid.clone(),
            run_dir,
            observed,
            starting: false,
            start_error: None,
            retry_at: None,
            stop: self.stop.map(|s| s.restore(now, wall_now)),
            emulation: self
                .emulation
                .clone()
                .map(|(reason, message)| Emulation { reason, message }),
            machine: self.machine.clone(),
            since: Timestamp::now(),
            control_epoch: 0,
        }
    }
}

/// Where the run directory of a VMI lives: `<data_dir>/vmis/<namespace>/<name>/<uid>`.
pub fn run_dir(data_dir: &Path, vmi: &ObjectKey) -> PathBuf {
    data_dir
        .join("vmis")
        .join(&vmi.namespace)
        .join(&vmi.name)
        .join(&vmi.uid)
}

/// Every run directory under `<data_dir>/vmis`.
pub fn run_dirs(data_dir: &Path) -> Vec<PathBuf> {
    let subdirs = |p: &Path| -> Vec<PathBuf> {
        std::fs::read_dir(p)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.is_dir())
            .collect()
    };
    let mut out = Vec::new();
    for ns in subdirs(&data_dir.join("vmis")) {
        for name in subdirs(&ns) {
            out.extend(subdirs(&name));
        }
    }
    out.sort();
    out
}

/// Removes a run directory and the name and namespace directories it leaves empty.
pub fn remove_run_dir(run_dir: &Path) -> std::io::Result<()> {
    match std::fs::remove_dir_all(run_dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    // Only empty directories go; a sibling run directory keeps its parents.
    let mut parent = run_dir.parent();
    for _ in 0..2 {
        let Some(p) = parent else { break };
        if std::fs::remove_dir(p).is_err() {
            break;
        }
        parent = p.parent();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> ObjectKey {
        ObjectKey {
            namespace: "ns".into(),
            name: "vm1".into(),
            uid: "u-1".into(),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn the_guest_file_round_trips_and_keeps_the_stop_deadline() {
        let dir = tempfile::tempdir().unwrap();
        let run = run_dir(dir.path(), &key());
        std::fs::create_dir_all(&run).unwrap();
        let wall = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_700_000_000);
        let mut g = Guest::starting(key(), "pod-1".into(), run.clone(), Timestamp::UNIX_EPOCH);
        g.stop = Some(GracefulStop::begin(Instant::now()));
        g.emulation = Some(Emulation {
            reason: "AccelerationUnavailable".into(),
            message: "no KVM".into(),
        });
        g.file(Instant::now(), wall).write(&run).unwrap();
        tokio::time::advance(std::time::Duration::from_secs(7)).await;
        let file = GuestFile::read(&run).unwrap();
        assert_eq!((file.uid.as_str(), file.pod_uid.as_str()), ("u-1", "pod-1"));
        let back = file.guest(
            run.clone(),
            Observed::Unresponsive,
            Instant::now(),
            wall + std::time::Duration::from_secs(3),
        );
        assert_eq!(
            Instant::now() - back.stop.unwrap().started,
            std::time::Duration::from_secs(3)
        );
        assert_eq!(back.emulation, g.emulation);
        assert_eq!(back.vmi, key());
    }

    #[test]
    fn run_dirs_are_found_and_removed_with_their_empty_parents() {
        let dir = tempfile::tempdir().unwrap();
        let a = run_dir(dir.path(), &key());
        let mut other = key();
        other.uid = "u-2".into();
        let b = run_dir(dir.path(), &other);
        std::fs::create_dir_all(&a).unwrap();
        std::fs::create_dir_all(&b).unwrap();
        std::fs::write(a.join("state.json"), "{}").unwrap();
        assert_eq!(run_dirs(dir.path()), vec![a.clone(), b.clone()]);
        remove_run_dir(&a).unwrap();
        assert!(!a.exists() && b.exists(), "the sibling stays");
        remove_run_dir(&b).unwrap();
        assert!(!dir.path().join("vmis/ns").exists(), "empty parents go");
        assert!(dir.path().join("vmis").exists());
        remove_run_dir(&b).unwrap();
    }
}
