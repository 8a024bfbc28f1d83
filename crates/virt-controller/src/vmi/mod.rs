//! The VirtualMachineInstance controller: it creates one launcher pod per VMI, moves the VMI
//! through Pending → Scheduling → Scheduled (or Failed) from what it sees of the pod, mirrors
//! the pod's readiness into the VMI's Ready condition and the VMI's pause state into the pod's
//! readiness gate, deletes the pods of deleted VMIs, and removes the VMI finalizer once a
//! final VMI has no pod left.
//!
//! The decisions are pure functions ([`lifecycle::plan_sync`], [`lifecycle::plan_status`],
//! [`template::render_launcher_pod`], [`resources::compute_resources`]); [`run`] executes them
//! against the API with kube-rs. [`runtime`] is the informer and work-queue machinery the
//! other cluster controllers share.

mod controller;
pub mod lifecycle;
pub mod pod;
pub mod quantity;
pub mod resources;
pub mod runtime;
pub mod template;

pub use controller::{REPORTER, run};
pub use template::{DEFAULT_LAUNCHER_IMAGE, LauncherOptions};

/// Options of the VMI controller.
#[derive(Clone, Debug, PartialEq)]
pub struct VmiControllerOptions {
    /// How launcher pods are rendered (image, resources, node selectors).
    pub launcher: LauncherOptions,
    /// Concurrent reconcile workers (upstream's default VMI threadiness is 10).
    pub workers: usize,
}

impl Default for VmiControllerOptions {
    fn default() -> Self {
        VmiControllerOptions {
            launcher: LauncherOptions::default(),
            workers: 10,
        }
    }
}

/// Errors of a VMI reconcile pass; the pass is retried with backoff.
#[derive(Debug, thiserror::Error)]
pub enum VmiError {
    /// An API request failed.
    #[error("API request failed: {0}")]
    Kube(#[from] kube::Error),
    /// A patch could not be encoded.
    #[error("cannot encode a patch: {0}")]
    Encode(#[from] serde_json::Error),
    /// A step of the pass failed; it is also recorded in the Synchronized condition.
    #[error("{reason}: {message}")]
    Sync { reason: String, message: String },
}
