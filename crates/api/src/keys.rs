//! Well-known finalizers, annotations, labels and condition types shared by the KubeVirt
//! components, with their upstream spellings.

/// API group of the KubeVirt kinds.
pub const GROUP: &str = "kubevirt.io";
/// Preferred (and storage) version of the API group.
pub const VERSION: &str = "v1";
/// Older version of the API group, still served with a deprecation warning.
pub const DEPRECATED_VERSION: &str = "v1alpha3";
/// API group of the KubeVirt subresources (start, stop, console, ...).
pub const SUBRESOURCE_GROUP: &str = "subresources.kubevirt.io";

/// Label marking resources that belong to KubeVirt; its value names the component.
pub const APP_LABEL: &str = "kubevirt.io";
/// Value of [`APP_LABEL`] on launcher pods.
pub const VIRT_LAUNCHER_APP: &str = "virt-launcher";

/// Finalizer put on a VirtualMachine and on the VirtualMachineInstances its controller creates.
pub const VIRTUAL_MACHINE_CONTROLLER_FINALIZER: &str =
    "kubevirt.io/virtualMachineControllerFinalize";
/// Finalizer every VirtualMachineInstance receives when it is created.
pub const VIRTUAL_MACHINE_INSTANCE_FINALIZER: &str = "kubevirt.io/foregroundDeleteVirtualMachine";

/// VirtualMachineInstance annotation recording the VirtualMachine generation it was built from.
pub const VM_GENERATION_ANNOTATION: &str = "kubevirt.io/vm-generation";
/// VirtualMachine annotation recording the latest API version the controllers observed.
pub const LATEST_OBSERVED_API_VERSION_ANNOTATION: &str = "kubevirt.io/latest-observed-api-version";
/// VirtualMachine annotation recording the storage API version the controllers observed.
pub const STORAGE_OBSERVED_API_VERSION_ANNOTATION: &str =
    "kubevirt.io/storage-observed-api-version";
/// VirtualMachine annotation asking for the DataVolumes to be created before the first start.
pub const IMMEDIATE_DATA_VOLUME_CREATION_ANNOTATION: &str =
    "kubevirt.io/immediate-data-volume-creation";
/// Annotation naming the PCI topology layout of a VirtualMachine (`v3` for q35 and virt).
pub const PCI_TOPOLOGY_VERSION_ANNOTATION: &str = "kubevirt.io/pci-topology-version";

/// Launcher pod label holding the UID of its VirtualMachineInstance.
pub const CREATED_BY_LABEL: &str = "kubevirt.io/created-by";
/// Launcher pod label holding the VirtualMachine name (deprecated upstream, still written).
pub const VM_NAME_LABEL: &str = "vm.kubevirt.io/name";
/// Launcher pod label holding a stable identifier of the VirtualMachineInstance name.
pub const VMI_ID_LABEL: &str = "vmi.kubevirt.io/id";
/// VirtualMachineInstance label holding the node it runs on.
pub const NODE_NAME_LABEL: &str = "kubevirt.io/nodeName";
/// VirtualMachineInstance label set when its launcher image is older than the installed one.
pub const OUTDATED_LAUNCHER_IMAGE_LABEL: &str = "kubevirt.io/outdatedLauncherImage";
/// Label holding the UID of the migration a target pod belongs to.
pub const MIGRATION_JOB_LABEL: &str = "kubevirt.io/migrationJobUID";
/// VirtualMachineInstance label holding the target node of a running migration.
pub const MIGRATION_TARGET_NODE_NAME_LABEL: &str = "kubevirt.io/migrationTargetNodeName";
/// Node label telling whether VirtualMachineInstances can be scheduled there.
pub const NODE_SCHEDULABLE_LABEL: &str = "kubevirt.io/schedulable";
/// Label of the install strategy of the KubeVirt operator.
pub const INSTALL_STRATEGY_LABEL: &str = "kubevirt.io/install-strategy";

/// Labels that only KubeVirt itself may set on a VirtualMachineInstance.
pub const RESERVED_VMI_LABELS: &[&str] = &[
    CREATED_BY_LABEL,
    MIGRATION_JOB_LABEL,
    NODE_NAME_LABEL,
    MIGRATION_TARGET_NODE_NAME_LABEL,
    NODE_SCHEDULABLE_LABEL,
    INSTALL_STRATEGY_LABEL,
];

/// Readiness gate of launcher pods; it is true while the guest is not paused.
pub const VIRTUAL_MACHINE_UNPAUSED_POD_CONDITION: &str = "kubevirt.io/virtual-machine-unpaused";

/// The only accepted value of the `dryRun` option of subresource requests.
pub const DRY_RUN_ALL: &str = "All";

/// Condition types and reasons of VirtualMachines.
pub mod vm_condition {
    /// The VirtualMachineInstance of the VirtualMachine is ready.
    pub const READY: &str = "Ready";
    /// The last synchronization of the VirtualMachine failed.
    pub const FAILURE: &str = "Failure";
    /// The guest is paused.
    pub const PAUSED: &str = "Paused";
    /// A spec change needs a restart to take effect.
    pub const RESTART_REQUIRED: &str = "RestartRequired";
    /// The VirtualMachine needs a manual action to recover.
    pub const MANUAL_RECOVERY_REQUIRED: &str = "ManualRecoveryRequired";
}

/// Condition types and reasons of VirtualMachineInstances.
pub mod vmi_condition {
    /// The guest is ready.
    pub const READY: &str = "Ready";
    /// The guest is paused.
    pub const PAUSED: &str = "Paused";
    /// The VirtualMachineInstance can be live migrated.
    pub const LIVE_MIGRATABLE: &str = "LiveMigratable";
    /// The storage of the VirtualMachineInstance can be live migrated.
    pub const STORAGE_LIVE_MIGRATABLE: &str = "StorageLiveMigratable";
    /// The guest agent is connected.
    pub const AGENT_CONNECTED: &str = "AgentConnected";
    /// The guest agent version is not supported.
    pub const AGENT_VERSION_NOT_SUPPORTED: &str = "AgentVersionNotSupported";
    /// The access credentials were propagated to the guest.
    pub const ACCESS_CREDENTIALS_SYNCHRONIZED: &str = "AccessCredentialsSynchronized";
    /// The node agent synchronized the domain.
    pub const SYNCHRONIZED: &str = "Synchronized";
    /// Resources of the VirtualMachineInstance are being provisioned.
    pub const PROVISIONING: &str = "Provisioning";
    /// All DataVolumes of the VirtualMachineInstance are ready.
    pub const DATA_VOLUMES_READY: &str = "DataVolumesReady";
    /// A CPU hotplug is in progress.
    pub const HOT_VCPU_CHANGE: &str = "HotVCPUChange";
    /// A memory hotplug is in progress.
    pub const HOT_MEMORY_CHANGE: &str = "HotMemoryChange";
    /// A volume update is in progress.
    pub const VOLUMES_CHANGE: &str = "VolumesChange";
    /// A migration is required to apply a change.
    pub const MIGRATION_REQUIRED: &str = "MigrationRequired";
    /// An eviction of the VirtualMachineInstance was requested.
    pub const EVICTION_REQUESTED: &str = "EvictionRequested";
    /// Pod condition copied from the launcher pod.
    pub const POD_SCHEDULED: &str = "PodScheduled";

    /// Ready reason: the launcher pod does not exist.
    pub const REASON_POD_NOT_EXISTS: &str = "PodNotExists";
    /// Ready reason: the launcher pod is terminating.
    pub const REASON_POD_TERMINATING: &str = "PodTerminating";
    /// Ready reason: the guest is not running.
    pub const REASON_GUEST_NOT_RUNNING: &str = "GuestNotRunning";
    /// Ready reason: the launcher pod reports no Ready condition.
    pub const REASON_POD_CONDITION_MISSING: &str = "PodConditionMissing";
    /// Paused reason: a user paused the guest.
    pub const REASON_PAUSED_BY_USER: &str = "PausedByUser";
    /// Paused reason: the migration monitor paused the guest.
    pub const REASON_PAUSED_BY_MIGRATION_MONITOR: &str = "PausedByMigrationMonitor";
    /// Paused reason: the guest was paused after an I/O error.
    pub const REASON_PAUSED_IO_ERROR: &str = "PausedIOError";
    /// Message of the Paused condition when a user paused the guest.
    pub const MESSAGE_PAUSED_BY_USER: &str = "VMI was paused by user";
}

/// Condition types and reasons of VirtualMachineInstanceReplicaSets.
pub mod replica_set_condition {
    /// Creating or deleting a replica failed.
    pub const REPLICA_FAILURE: &str = "ReplicaFailure";
    /// The replica set is paused.
    pub const REPLICA_PAUSED: &str = "ReplicaPaused";
    /// ReplicaFailure reason: creating a replica failed.
    pub const REASON_FAILED_CREATE: &str = "FailedCreate";
    /// ReplicaFailure reason: deleting a replica failed.
    pub const REASON_FAILED_DELETE: &str = "FailedDelete";
    /// ReplicaPaused reason.
    pub const REASON_PAUSED: &str = "Paused";
    /// ReplicaPaused message.
    pub const MESSAGE_PAUSED: &str = "Controller got paused";
}

/// Values of a condition `status`.
pub mod condition_status {
    /// The condition holds.
    pub const TRUE: &str = "True";
    /// The condition does not hold.
    pub const FALSE: &str = "False";
    /// It is not known whether the condition holds.
    pub const UNKNOWN: &str = "Unknown";
}
