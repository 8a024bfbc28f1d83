//! The VirtualMachineInstanceReplicaSet controller.
