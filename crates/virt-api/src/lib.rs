//! KubeVirt's API extensions, plugged into the generic API server: admission (defaults and
//! validation of VirtualMachines, VirtualMachineInstances and ReplicaSets), the
//! `subresources.kubevirt.io` group (start, stop, restart, pause, ...), and the old API versions
//! served by conversion.

pub mod admission;
pub mod conversion;
pub mod node;
pub mod subresources;
