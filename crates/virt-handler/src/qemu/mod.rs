//! The QEMU node driver: this machine as one KubeVirt node running real guests, one detached
//! `virt-launcher` (and its QEMU) per VMI. It plays four roles against the API, through kube-rs
//! only:
//!
//! - **kubelet registration**: one `Node` named after the host (or
//!   [`QemuOptions::node_name`]) with the machine's CPUs and memory as capacity, the labels
//!   `kubernetes.io/hostname`, `kubernetes.io/arch`, `kubernetes.io/os` and
//!   `kubevirt.io/schedulable: "true"`, a Ready condition, the `kubevirt.io/heartbeat`
//!   annotation and a Lease, renewed every heartbeat interval (see [`crate::node`]);
//! - **kube-scheduler**: pending pods of the default scheduler are bound to this node when
//!   they fit ([`crate::scheduler`]), or get `PodScheduled=False`/`Unschedulable`;
//! - **kubelet**: a pod bound to this node runs at once (its `compute` container `Running`,
//!   `Ready`, an IP from the node's pod CIDR `10.244.0.0/24`). As in KubeVirt, the launcher
//!   pod stands for a virt-launcher that waits for its domain: the guest starts when the VMI is
//!   `Scheduled` here, not when the pod is bound. The readiness gate
//!   `kubevirt.io/virtual-machine-unpaused` follows the guest's pause state; a pod whose guest
//!   ended completes, and a deleted pod stops its guest gracefully and goes (grace 0) once the
//!   VMI shows its final phase. A pod whose VMI uses a container disk image that the image
//!   store lacks stays `Pending` with its `compute` container waiting (`ErrImagePull`, then
//!   `ImagePullBackOff`, alternating) until the image is imported. The kubelet logic is the
//!   simulated driver's ([`crate::simulated::pod`]);
//! - **virt-handler**: a `Scheduled` VMI on this node gets its disks prepared (container disks
//!   from the image store under a per-VMI qcow2 overlay, empty disks, host disks, claims from
//!   the local provisioner ([`crate::storage`]), cloud-init NoCloud/ConfigDrive, config map and
//!   secret disks) and a launcher; the domain state it reports becomes the VMI phase (§7.2 of
//!   the behaviour spec, [`domain::vmi_phase`]) with the events `Started` and `Stopped`, the
//!   Paused condition (PausedByUser) and, while running, interfaces, machine, CPU topology and
//!   memory. A deleted VMI (or launcher pod) is shut down gracefully ([`stop`]): ACPI
//!   power-down resent every `min(5 s, time left)` (event `ShuttingDown` on the first), a kill
//!   at grace expiry (event `Deleted`); grace 0 kills at once. A start that fails (disks, a
//!   guest QEMU refuses) is retried with a `SyncFailed` event, as upstream's failed domain
//!   syncs; a launcher that dies while starting (its QEMU with it) fails the VMI, as a crashed
//!   virt-launcher pod does.
//!
//! # Addresses
//!
//! The pod IP comes from the node's pod CIDR, unique per pod, and is what the VMI reports as
//! the address of its pod-network interface, as KubeVirt does for masquerade bindings. Inside
//! the guest the interface has QEMU user networking's `10.0.2.15`. Neither address is routable
//! from the host.
//!
//! # Acceleration
//!
//! KVM is used when [`QemuOptions::kvm_device`] opens and a probe guest really runs with it
//! ([`virt_launcher::probe_accel`]); else guests run with TCG, and every guest started so gets
//! a Warning event `AccelerationUnavailable` and the condition `SoftwareEmulation` saying why.
//! [`QemuOptions::accel`] forces the choice; so does the environment variable
//! `KUBEVIRT_RS_ACCEL=tcg|kvm` when the KVM device opens.
//!
//! # Fail-static
//!
//! Launchers are detached processes: stopping the driver (or kubevirtd) leaves guests running.
//! On start the driver reattaches to every run directory under `<data_dir>/vmis`; guests that
//! ended meanwhile are reported from the launcher's final state, and a VMI that was running
//! without a run directory is Failed.
//!
//! # Files
//!
//! - `<data_dir>/vmis/<namespace>/<name>/<uid>/`: a guest's run directory (launcher sockets,
//!   `state.json`, `serial.log`, overlays, ISOs, the driver's `guest.json`), removed once the
//!   VMI is final and its pod gone;
//! - `<data_dir>/images/`: the container disk image store ([`import_image`]);
//! - `<data_dir>/volumes/`: disk images of PersistentVolumeClaims.

pub mod domain;
mod driver;
mod gateway;
pub mod guest;
pub mod host;
mod launcher;
pub mod plan;
mod start;
pub mod status;
pub mod stop;

use std::path::{Path, PathBuf};
use std::time::Duration;

pub use driver::QemuDriver;
pub use gateway::QemuGateway;
pub use virt_launcher::Accel;
pub use virt_launcher::client::LauncherCommand;

/// Directory of the container disk image store under the data directory.
pub const IMAGES_DIR: &str = "images";
/// Event reason of a guest started without KVM.
pub const REASON_ACCELERATION_UNAVAILABLE: &str = "AccelerationUnavailable";
/// Condition reason of a guest started with TCG on request.
pub const REASON_EMULATION_REQUESTED: &str = "SoftwareEmulationRequested";
/// Event reason of a failed start, as upstream.
pub const REASON_SYNC_FAILED: &str = "SyncFailed";
/// What `guest_os_info` answers: the test guest has no guest agent.
pub const NO_GUEST_AGENT: &str = "VMI does not have guest agent connected";

/// The QEMU driver failed.
#[derive(Debug, thiserror::Error)]
pub enum QemuError {
    #[error("cannot create the data directory {path}: {source}")]
    DataDir {
        path: String,
        source: std::io::Error,
    },
    #[error("the watch of {0} ended")]
    WatchEnded(&'static str),
    #[error("cannot import image {image}: {message}")]
    Import { image: String, message: String },
}

/// How the driver runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QemuOptions {
    /// Name of the node; the host name when unset.
    pub node_name: Option<String>,
    /// Root of run directories, the image store and volumes.
    pub data_dir: PathBuf,
    /// Forces KVM or TCG; probed when unset (see the module documentation).
    pub accel: Option<Accel>,
    /// The KVM device (`/dev/kvm`); when it does not open, guests run with TCG without a
    /// probe.
    pub kvm_device: PathBuf,
    pub heartbeat_interval: Duration,
    /// Labels added to the node.
    pub labels: std::collections::BTreeMap<String, String>,
    /// How to run a launcher; the `virt-launcher` binary found by
    /// [`LauncherCommand::find`] when unset.
    pub launcher: Option<LauncherCommand>,
}

impl QemuOptions {
    /// Defaults with `data_dir`.
    pub fn new(data_dir: impl Into<PathBuf>) -> QemuOptions {
        QemuOptions {
            node_name: None,
            data_dir: data_dir.into(),
            accel: None,
            kvm_device: PathBuf::from("/dev/kvm"),
            heartbeat_interval: Duration::from_secs(30),
            labels: Default::default(),
            launcher: None,
        }
    }
}

/// Registers this machine as a node and runs guests on it until the future is dropped.
pub async fn run(client: kube::Client, options: QemuOptions) -> Result<(), QemuError> {
    QemuDriver::new(client, options)?.run().await
}

/// Imports `file` (raw or qcow2) into the image store of `data_dir` as the container disk
/// image `image_ref`, so VMIs can use it as `containerDisk.image`. Returns the stored path.
pub fn import_image(data_dir: &Path, image_ref: &str, file: &Path) -> Result<PathBuf, QemuError> {
    virt_launcher::disks::import_image(&data_dir.join(IMAGES_DIR), image_ref, file).map_err(|e| {
        QemuError::Import {
            image: image_ref.to_string(),
            message: e.to_string(),
        }
    })
}

/// Merges `patch` into `base` as a JSON merge patch would (objects recursively, other values
/// replaced, nulls kept).
#[cfg(test)]
pub(crate) fn merge_json(base: &mut serde_json::Value, patch: serde_json::Value) {
    use serde_json::Value;
    match (base, patch) {
        (Value::Object(b), Value::Object(p)) => {
            for (k, v) in p {
                merge_json(b.entry(k).or_insert(Value::Null), v);
            }
        }
        (b, p) => *b = p,
    }
}
