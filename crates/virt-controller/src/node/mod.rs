//! The node controller: it watches the node agents' heartbeats and, when one stops, keeps new
//! VMIs away from the node and fails the VMIs stuck there (see [`reconcile`]).
//!
//! Nodes are checked on every change and again every `recheck_interval`. As upstream, VMIs
//! whose launcher pod still looks alive are left alone (their pods must go first), unless
//! [`NodeControllerOptions::fail_vmis_with_live_pods`] is set for setups without a node
//! lifecycle controller. Upstream's warning about orphaned VMIs on nodes without a virt-handler
//! pod (read from the virt-handler DaemonSet) is not reproduced.

mod controller;
pub mod reconcile;

use std::time::Duration;

pub use controller::{REPORTER, run};

/// Options of the node controller.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeControllerOptions {
    /// Age of the last heartbeat after which a node is unresponsive.
    pub heartbeat_timeout: Duration,
    /// How often every node is checked again.
    pub recheck_interval: Duration,
    /// Also fail VMIs whose pods on the unresponsive node still look alive.
    pub fail_vmis_with_live_pods: bool,
    /// Concurrent reconcile workers.
    pub workers: usize,
}

impl Default for NodeControllerOptions {
    fn default() -> Self {
        NodeControllerOptions {
            heartbeat_timeout: Duration::from_secs(5 * 60),
            recheck_interval: Duration::from_secs(60),
            fail_vmis_with_live_pods: false,
            workers: 3,
        }
    }
}

/// Errors of a node pass; the pass is retried with backoff.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    /// An API request failed.
    #[error("API request failed: {0}")]
    Kube(#[from] kube::Error),
    /// A patch could not be encoded.
    #[error("cannot encode a patch: {0}")]
    Encode(#[from] serde_json::Error),
    /// Some VMIs could not be moved to Failed.
    #[error("{0}")]
    FailVmis(String),
}
