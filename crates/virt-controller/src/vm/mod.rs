//! The VirtualMachine controller: keeps one VirtualMachineInstance per VirtualMachine according
//! to its run strategy and state change requests, records the spec each VMI was started from in
//! a ControllerRevision, and mirrors the VMI into the VM status (printable status, conditions,
//! start failures and crash-loop backoff, generations, RestartRequired).
//!
//! Layout:
//! - [`reconcile`]: the pure sync pass (observed state and clock → ordered actions);
//! - [`status`] and [`printable`]: the pure status computation;
//! - [`build`], [`revision`], [`restart_required`], [`live_update`], [`storage`]: pure pieces;
//! - [`executor`]: performs actions with kube-rs;
//! - `controller`, [`informer`], [`queue`]: watches, caches and the work queue.
//!
//! Guarantees: a VMI is only created while no VMI of the VM's name that the VM owns or that is
//! being deleted is in the cache, and while no creation or deletion is pending (expectations, as
//! upstream's); VMIs are named after their VM, so the API server rejects any duplicate (a
//! same-named VMI owned by another controller yields upstream's FailedCreate). The status is
//! written only when it changed, with the resourceVersion read, so it never overwrites a newer
//! request.
//!
//! Not implemented (documented divergences): instance types and preferences (treated as absent),
//! volume hotplug requests, memory dumps, declarative hotplug, volume migration and
//! ManualRecoveryRequired bookkeeping (the condition is honoured when present), memory hotplug
//! (a changed guest memory needs a restart), decentralized migration, changed block tracking,
//! PCI topology annotations, clone authorization and quota checks of DataVolumes, and
//! interface/network hotplug (network changes need a restart as upstream decides).

pub mod build;
mod controller;
pub mod executor;
pub mod informer;
pub mod live_update;
pub mod printable;
pub mod queue;
pub mod reconcile;
pub mod restart_required;
pub mod revision;
pub mod status;
pub mod storage;
pub mod util;

#[cfg(test)]
mod testing;

use std::time::Duration;

pub use reconcile::SyncConfig;
pub use status::SyncError;

/// Settings of [`run`].
#[derive(Clone, Debug)]
pub struct VmControllerOptions {
    /// Concurrent reconcile workers. Upstream runs 3 threads; a pass here is mostly waiting for
    /// its serial API writes, so more workers (tasks, not threads) keep starts flowing when the
    /// server answers slowly under load.
    pub workers: usize,
    /// Every VM is looked at again this often (zero disables it).
    pub resync: Duration,
    /// Cluster configuration (rollout strategy, label and annotation sync lists).
    pub sync: SyncConfig,
}

impl Default for VmControllerOptions {
    fn default() -> Self {
        VmControllerOptions {
            workers: 16,
            resync: Duration::from_secs(300),
            sync: SyncConfig::default(),
        }
    }
}

/// Why a pass over a VM failed (the VM is retried with backoff).
#[derive(Debug, thiserror::Error)]
pub enum VmControllerError {
    #[error("{0}")]
    Sync(SyncError),
    #[error(transparent)]
    Executor(#[from] executor::ExecutorError),
    #[error("{0}")]
    Adopt(String),
    #[error(transparent)]
    Kube(#[from] kube::Error),
}

/// Runs the VirtualMachine controller against the API server behind `client` until the returned
/// future is dropped. Needs list/watch on VMs, VMIs, ControllerRevisions, PVCs and (if CDI is
/// installed) DataVolumes, and write access to VMs (and their status), VMIs,
/// ControllerRevisions, DataVolumes and events.
pub async fn run(client: kube::Client, options: VmControllerOptions) {
    controller::run(client, options).await
}
