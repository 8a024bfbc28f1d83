//! The VirtualMachineInstanceReplicaSet controller: it claims the namespace's VMIs by selector
//! (adopting matching orphans, releasing owned VMIs that stopped matching), keeps the number of
//! active VMIs at `spec.replicas` with at most `burstReplicas` parallel creates or deletes per
//! pass, deletes finished VMIs and those whose pod is terminating, and reports `replicas`,
//! `readyReplicas`, the canonical `labelSelector` and the ReplicaPaused / ReplicaFailure
//! conditions.
//!
//! The decisions are the pure functions of [`reconcile`]; [`run`] executes them with kube-rs.
//! Upstream quirks kept: new VMIs are named `<base><5 random>` without a dash, and scale-down
//! deletes the first active VMIs with no ranking (here: in name order).

mod controller;
pub mod reconcile;

pub use controller::{REPORTER, run};

/// Options of the replica set controller.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReplicaSetControllerOptions {
    /// Most creates or deletes per pass.
    pub burst_replicas: usize,
    /// Concurrent reconcile workers.
    pub workers: usize,
}

impl Default for ReplicaSetControllerOptions {
    fn default() -> Self {
        ReplicaSetControllerOptions {
            burst_replicas: 250,
            workers: 3,
        }
    }
}

/// Errors of a replica set pass; the pass is retried with backoff.
#[derive(Debug, thiserror::Error)]
pub enum RsError {
    /// An API request failed.
    #[error("API request failed: {0}")]
    Kube(#[from] kube::Error),
    /// The replica set was replaced by another object of the same name.
    #[error("the replica set is gone")]
    Gone,
    /// The replica set is being deleted, so it adopts nothing.
    #[error("the replica set is being deleted")]
    Deleting,
    /// Creating or deleting a VMI failed.
    #[error("scaling failed: {0}")]
    Scale(String),
}
