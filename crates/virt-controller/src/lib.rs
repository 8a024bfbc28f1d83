//! KubeVirt's cluster-wide controllers. They talk only through the Kubernetes API (kube-rs), so
//! they run the same against `kubevirtd`'s embedded server and against a real cluster.
//!
//! Each controller separates a pure reconcile function (observed state and the clock in, a list
//! of actions out) from an executor that performs the actions through the API.

pub mod expectations;
pub mod leader;
pub mod node;
pub mod replicaset;
pub mod vm;
pub mod vmi;
