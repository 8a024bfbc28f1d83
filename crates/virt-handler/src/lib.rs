//! The node agent. On a machine without a cluster it also plays kubelet for the virt-launcher
//! pods bound to its node. Two drivers: `simulated` (no guests; a product feature for scale
//! tests and demos) and the QEMU driver that runs real guests.

mod gateway;
pub mod node;
pub mod qemu;
pub mod scheduler;
pub mod simulated;
pub mod storage;
