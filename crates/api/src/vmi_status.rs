//! Status of a VirtualMachineInstance.

use crate::domain::Machine;
use crate::lifecycle::VirtualMachineInstancePhase;
use crate::migration_state::VirtualMachineInstanceMigrationState;
use crate::vm_status::ChangedBlockTrackingStatus;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1 as metav1;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// VirtualMachineInstanceStatus represents information about the status of a
/// VirtualMachineInstance. Status may trail the actual
/// state of a system.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VirtualMachineInstanceStatus {
    /// NodeName is the name where the VirtualMachineInstance is currently running.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node_name: Option<String>,
    /// A brief CamelCase message indicating details about why the VMI is in this state. e.g.
    /// 'NodeUnresponsive'
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Conditions are specific points in VirtualMachineInstance's pod runtime.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub conditions: Option<Vec<VirtualMachineInstanceCondition>>,
    /// Phase is the status of the VirtualMachineInstance in kubernetes world. It is not the
    /// VirtualMachineInstance status, but partially correlates to it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phase: Option<VirtualMachineInstancePhase>,
    /// PhaseTransitionTimestamp is the timestamp of when the last phase change occurred
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(extend("x-kubernetes-list-type" = "atomic"))]
    pub phase_transition_timestamps: Option<Vec<VirtualMachineInstancePhaseTransitionTimestamp>>,
    /// Interfaces represent the details of available network interfaces.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interfaces: Option<Vec<VirtualMachineInstanceNetworkInterface>>,
    /// Guest OS Information
    #[serde(rename = "guestOSInfo", skip_serializing_if = "Option::is_none")]
    pub guest_os_info: Option<VirtualMachineInstanceGuestOsInfo>,
    /// Represents the status of a live migration
    #[serde(skip_serializing_if = "Option::is_none")]
    pub migration_state: Option<VirtualMachineInstanceMigrationState>,
    /// Represents the method using which the vmi can be migrated: live migration or block migration
    #[serde(skip_serializing_if = "Option::is_none")]
    pub migration_method: Option<String>,
    /// This represents the migration transport
    #[serde(skip_serializing_if = "Option::is_none")]
    pub migration_transport: Option<String>,
    /// The Quality of Service (QOS) classification assigned to the virtual machine instance based
    /// on resource requirements
    /// See PodQOSClass type for available QOS classes
    /// More info: https://git.k8s.io/community/contributors/design-proposals/node/resource-qos.md
    #[serde(skip_serializing_if = "Option::is_none")]
    pub qos_class: Option<String>,
    /// LauncherContainerImageVersion indicates what container image is currently active for the
    /// vmi.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub launcher_container_image_version: Option<String>,
    /// EvacuationNodeName is used to track the eviction process of a VMI. It stores the name of the
    /// node that we want
    /// to evacuate. It is meant to be used by KubeVirt core components only and can't be set or
    /// modified by users.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub evacuation_node_name: Option<String>,
    /// ActivePods is a mapping of pod UID to node name.
    /// It is possible for multiple pods to be running for a single VMI during migration.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub active_pods: Option<BTreeMap<String, String>>,
    /// VolumeStatus contains the statuses of all the volumes
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(extend("x-kubernetes-list-type" = "atomic"))]
    pub volume_status: Option<Vec<VolumeStatus>>,
    /// KernelBootStatus contains info about the kernelBootContainer
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kernel_boot_status: Option<KernelBootStatus>,
    /// FSFreezeStatus indicates whether a freeze operation was requested for the guest filesystem.
    /// It will be set to "frozen" if the request was made, or unset otherwise.
    /// This does not reflect the actual state of the guest filesystem.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fs_freeze_status: Option<String>,
    /// Hints about the host topology needed to schedule the VirtualMachineInstance.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub topology_hints: Option<TopologyHints>,
    /// VirtualMachineRevisionName is used to get the vm revision of the vmi when doing
    /// an online vm snapshot
    #[serde(skip_serializing_if = "Option::is_none")]
    pub virtual_machine_revision_name: Option<String>,
    /// RuntimeUser is used to determine what user will be used in launcher
    #[serde(skip_serializing_if = "Option::is_none")]
    pub runtime_user: Option<u64>,
    /// VSOCKCID is used to track the allocated VSOCK CID in the VM.
    #[serde(rename = "VSOCKCID", skip_serializing_if = "Option::is_none")]
    #[schemars(extend("minimum" = 0), extend("maximum" = 4294967295i64))]
    pub vsock_cid: Option<u32>,
    /// SELinuxContext is the actual SELinux context of the virt-launcher pod
    #[serde(skip_serializing_if = "Option::is_none")]
    pub selinux_context: Option<String>,
    /// Machine shows the final resulting qemu machine type. This can be different
    /// than the machine type selected in the spec, due to qemus machine type alias mechanism.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub machine: Option<Machine>,
    /// CurrentCPUTopology specifies the current CPU topology used by the VM workload.
    /// Current topology may differ from the desired topology in the spec while CPU hotplug
    /// takes place.
    #[serde(rename = "currentCPUTopology", skip_serializing_if = "Option::is_none")]
    pub current_cpu_topology: Option<CpuTopology>,
    /// Memory shows various informations about the VirtualMachine memory.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory: Option<MemoryStatus>,
    /// MigratedVolumes lists the source and destination volumes during the volume migration
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(extend("x-kubernetes-list-type" = "atomic"))]
    pub migrated_volumes: Option<Vec<StorageMigratedVolumeInfo>>,
    /// ChangedBlockTracking represents the status of the changedBlockTracking
    #[serde(skip_serializing_if = "Option::is_none")]
    pub changed_block_tracking: Option<ChangedBlockTrackingStatus>,
}

/// VirtualMachineInstanceCondition represents the state of a VirtualMachineInstance at a point in
/// time.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VirtualMachineInstanceCondition {
    /// Type of the condition.
    #[serde(rename = "type")]
    pub type_: String,
    /// Status of the condition: one of True, False or Unknown.
    pub status: String,
    /// Last time the condition was probed.
    pub last_probe_time: Option<metav1::Time>,
    /// Last time the condition transitioned from one status to another.
    pub last_transition_time: Option<metav1::Time>,
    /// Machine-readable reason for the condition's last transition.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Human-readable message with details about the last transition.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// CPUTopology allows specifying the amount of cores, sockets
/// and threads.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CpuTopology {
    /// Cores specifies the number of cores inside the vmi.
    /// Must be a value greater or equal 1.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cores: Option<u32>,
    /// Sockets specifies the number of sockets inside the vmi.
    /// Must be a value greater or equal 1.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sockets: Option<u32>,
    /// Threads specifies the number of threads inside the vmi.
    /// Must be a value greater or equal 1.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub threads: Option<u32>,
}

/// VirtualMachineInstanceGuestOSInfo describes the guest operating system, as reported by the guest
/// agent.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VirtualMachineInstanceGuestOsInfo {
    /// Name of the Guest OS
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Guest OS Kernel Release
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kernel_release: Option<String>,
    /// Guest OS Version
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Guest OS Pretty Name
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pretty_name: Option<String>,
    /// Version ID of the Guest OS
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version_id: Option<String>,
    /// Kernel version of the Guest OS
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kernel_version: Option<String>,
    /// Machine type of the Guest OS
    #[serde(skip_serializing_if = "Option::is_none")]
    pub machine: Option<String>,
    /// Guest OS Id
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
}

/// VirtualMachineInstanceNetworkInterface reports the state of one guest network interface.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VirtualMachineInstanceNetworkInterface {
    /// IP address of a Virtual Machine interface. It is always the first item of
    /// IPs
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ip_address: Option<String>,
    /// Hardware address of a Virtual Machine interface
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mac: Option<String>,
    /// Name of the interface, corresponds to name of the network assigned to the interface
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// List of all IP addresses of a Virtual Machine interface
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ip_addresses: Option<Vec<String>>,
    /// PodInterfaceName represents the name of the pod network interface
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pod_interface_name: Option<String>,
    /// The interface name inside the Virtual Machine
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interface_name: Option<String>,
    /// Specifies the origin of the interface data collected. values: domain, guest-agent,
    /// multus-status.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub info_source: Option<String>,
    /// Specifies how many queues are allocated by MultiQueue
    #[serde(skip_serializing_if = "Option::is_none")]
    pub queue_count: Option<i32>,
    /// LinkState Reports the current operational link state`. values: up, down.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub link_state: Option<String>,
}

/// KernelBootStatus contains info about the kernelBootContainer
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct KernelBootStatus {
    /// KernelInfo show info about the kernel image
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kernel_info: Option<KernelInfo>,
    /// InitrdInfo show info about the initrd file
    #[serde(skip_serializing_if = "Option::is_none")]
    pub initrd_info: Option<InitrdInfo>,
}

/// MemoryStatus reports the guest memory sizes.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct MemoryStatus {
    /// GuestAtBoot specifies with how much memory the VirtualMachine intiallly booted with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "crate::schema::quantity")]
    pub guest_at_boot: Option<Quantity>,
    /// GuestCurrent specifies how much memory is currently available for the VirtualMachine.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "crate::schema::quantity")]
    pub guest_current: Option<Quantity>,
    /// GuestRequested specifies how much memory was requested (hotplug) for the VirtualMachine.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "crate::schema::quantity")]
    pub guest_requested: Option<Quantity>,
    /// MemoryOverhead specifies the memory overhead added by the virtualization infrastructure
    /// for the virt-launcher pod.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "crate::schema::quantity")]
    pub memory_overhead: Option<Quantity>,
}

/// StorageMigratedVolumeInfo tracks the information about the source and destination volumes during
/// the volume migration
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct StorageMigratedVolumeInfo {
    /// VolumeName is the name of the volume that is being migrated
    pub volume_name: String,
    /// SourcePVCInfo contains the information about the source PVC
    #[serde(rename = "sourcePVCInfo", skip_serializing_if = "Option::is_none")]
    pub source_pvc_info: Option<PersistentVolumeClaimInfo>,
    /// DestinationPVCInfo contains the information about the destination PVC
    #[serde(rename = "destinationPVCInfo", skip_serializing_if = "Option::is_none")]
    pub destination_pvc_info: Option<PersistentVolumeClaimInfo>,
}

/// VirtualMachineInstancePhaseTransitionTimestamp gives a timestamp in relation to when a phase is
/// set on a vmi
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VirtualMachineInstancePhaseTransitionTimestamp {
    /// Phase is the status of the VirtualMachineInstance in kubernetes world. It is not the
    /// VirtualMachineInstance status, but partially correlates to it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phase: Option<VirtualMachineInstancePhase>,
    /// PhaseTransitionTimestamp is the timestamp of when the phase change occurred
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phase_transition_timestamp: Option<metav1::Time>,
}

/// TopologyHints holds host topology facts used for scheduling.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TopologyHints {
    /// TSC frequency of the host, in Hz.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tsc_frequency: Option<i64>,
}

/// VolumeStatus represents information about the status of volumes attached to the
/// VirtualMachineInstance.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VolumeStatus {
    /// Name is the name of the volume
    pub name: String,
    /// Target is the target name used when adding the volume to the VM, eg: vda
    pub target: String,
    /// Phase is the phase
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phase: Option<String>,
    /// Reason is a brief description of why we are in the current hotplug volume phase
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Message is a detailed message about the current hotplug volume phase
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// PersistentVolumeClaimInfo is information about the PVC that handler requires during start
    /// flow
    #[serde(skip_serializing_if = "Option::is_none")]
    pub persistent_volume_claim_info: Option<PersistentVolumeClaimInfo>,
    /// If the volume is hotplug, this will contain the hotplug status.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hotplug_volume: Option<HotplugVolumeStatus>,
    /// Represents the size of the volume
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size: Option<i64>,
    /// If the volume is memorydump volume, this will contain the memorydump info.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory_dump_volume: Option<DomainMemoryDumpInfo>,
    /// ContainerDiskVolume shows info about the containerdisk, if the volume is a containerdisk
    #[serde(skip_serializing_if = "Option::is_none")]
    pub container_disk_volume: Option<ContainerDiskInfo>,
}

/// InitrdInfo show info about the initrd file
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct InitrdInfo {
    /// deprecated; Checksum is the checksum of the initrd file
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(extend("minimum" = 0), extend("maximum" = 4294967295i64))]
    pub checksum: Option<u32>,
}

/// KernelInfo show info about the kernel image
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct KernelInfo {
    /// deprecated; Checksum is the checksum of the kernel image
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(extend("minimum" = 0), extend("maximum" = 4294967295i64))]
    pub checksum: Option<u32>,
}

/// PersistentVolumeClaimInfo contains the relavant information virt-handler needs cached about a
/// PVC
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PersistentVolumeClaimInfo {
    /// ClaimName is the name of the PVC
    #[serde(skip_serializing_if = "Option::is_none")]
    pub claim_name: Option<String>,
    /// AccessModes contains the desired access modes the volume should have.
    /// More info: https://kubernetes.io/docs/concepts/storage/persistent-volumes#access-modes-1
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(extend("x-kubernetes-list-type" = "atomic"))]
    pub access_modes: Option<Vec<String>>,
    /// VolumeMode defines what type of volume is required by the claim.
    /// Value of Filesystem is implied when not included in claim spec.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub volume_mode: Option<String>,
    /// Capacity represents the capacity set on the corresponding PVC status
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "crate::schema::quantity_map")]
    pub capacity: Option<BTreeMap<String, Quantity>>,
    /// Requests represents the resources requested by the corresponding PVC spec
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "crate::schema::quantity_map")]
    pub requests: Option<BTreeMap<String, Quantity>>,
    /// Preallocated indicates if the PVC's storage is preallocated or not
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preallocated: Option<bool>,
    /// Percentage of filesystem's size to be reserved when resizing the PVC
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(extend("pattern" = "^(0(?:\\.\\d{1,3})?|1)$"))]
    pub filesystem_overhead: Option<String>,
}

/// ContainerDiskInfo shows info about the containerdisk
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ContainerDiskInfo {
    /// deprecated; Checksum is the checksum of the rootdisk or kernel artifacts inside the
    /// containerdisk
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(extend("minimum" = 0), extend("maximum" = 4294967295i64))]
    pub checksum: Option<u32>,
}

/// HotplugVolumeStatus represents the hotplug status of the volume
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct HotplugVolumeStatus {
    /// AttachPodName is the name of the pod used to attach the volume to the node.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attach_pod_name: Option<String>,
    /// AttachPodUID is the UID of the pod used to attach the volume to the node.
    #[serde(rename = "attachPodUID", skip_serializing_if = "Option::is_none")]
    pub attach_pod_uid: Option<String>,
}

/// DomainMemoryDumpInfo represents the memory dump information
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DomainMemoryDumpInfo {
    /// StartTimestamp is the time when the memory dump started
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_timestamp: Option<metav1::Time>,
    /// EndTimestamp is the time when the memory dump completed
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_timestamp: Option<metav1::Time>,
    /// ClaimName is the name of the pvc the memory was dumped to
    #[serde(skip_serializing_if = "Option::is_none")]
    pub claim_name: Option<String>,
    /// TargetFileName is the name of the memory dump output
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_file_name: Option<String>,
}
