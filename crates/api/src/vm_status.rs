//! Status of a VirtualMachine.

use crate::devices::Disk;
use crate::lifecycle::{RunStrategy, StateChangeRequestAction, VirtualMachinePrintableStatus};
use crate::vmi_status::StorageMigratedVolumeInfo;
use crate::volumes::{DataVolumeSource, PersistentVolumeClaimVolumeSource};
use k8s_openapi::apimachinery::pkg::apis::meta::v1 as metav1;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// VirtualMachineStatus represents the status returned by the
/// controller to describe how the VirtualMachine is doing
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VirtualMachineStatus {
    /// SnapshotInProgress is the name of the VirtualMachineSnapshot currently executing
    #[serde(skip_serializing_if = "Option::is_none")]
    pub snapshot_in_progress: Option<String>,
    /// RestoreInProgress is the name of the VirtualMachineRestore currently executing
    #[serde(skip_serializing_if = "Option::is_none")]
    pub restore_in_progress: Option<String>,
    /// Created indicates if the virtual machine is created in the cluster
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created: Option<bool>,
    /// Ready indicates if the virtual machine is running and ready
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ready: Option<bool>,
    /// PrintableStatus is a human readable, high-level representation of the status of the virtual
    /// machine
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = "Stopped"))]
    pub printable_status: Option<VirtualMachinePrintableStatus>,
    /// Hold the state information of the VirtualMachine and its VirtualMachineInstance
    #[serde(skip_serializing_if = "Option::is_none")]
    pub conditions: Option<Vec<VirtualMachineCondition>>,
    /// StateChangeRequests indicates a list of actions that should be taken on a VMI
    /// e.g. stop a specific VMI then start a new one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state_change_requests: Option<Vec<VirtualMachineStateChangeRequest>>,
    /// VolumeRequests indicates a list of volumes add or remove from the VMI template and
    /// hotplug on an active running VMI.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(extend("x-kubernetes-list-type" = "atomic"))]
    pub volume_requests: Option<Vec<VirtualMachineVolumeRequest>>,
    /// VolumeSnapshotStatuses indicates a list of statuses whether snapshotting is
    /// supported by each volume.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub volume_snapshot_statuses: Option<Vec<VolumeSnapshotStatus>>,
    /// StartFailure tracks consecutive VMI startup failures for the purposes of
    /// crash loop backoffs
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_failure: Option<VirtualMachineStartFailure>,
    /// MemoryDumpRequest tracks memory dump request phase and info of getting a memory
    /// dump to the given pvc
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory_dump_request: Option<VirtualMachineMemoryDumpRequest>,
    /// ObservedGeneration is the generation observed by the vmi when started.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// DesiredGeneration is the generation which is desired for the VMI.
    /// This will be used in comparisons with ObservedGeneration to understand when
    /// the VMI is out of sync. This will be changed at the same time as
    /// ObservedGeneration to remove errors which could occur if Generation is
    /// updated through an Update() before ObservedGeneration in Status.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub desired_generation: Option<i64>,
    /// RunStrategy tracks the last recorded RunStrategy used by the VM.
    /// This is needed to correctly process the next strategy (for now only the RerunOnFailure)
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run_strategy: Option<RunStrategy>,
    /// VolumeUpdateState contains the information about the volumes set
    /// updates related to the volumeUpdateStrategy
    #[serde(skip_serializing_if = "Option::is_none")]
    pub volume_update_state: Option<VolumeUpdateState>,
    /// ChangedBlockTracking represents the status of the changedBlockTracking
    #[serde(skip_serializing_if = "Option::is_none")]
    pub changed_block_tracking: Option<ChangedBlockTrackingStatus>,
    /// InstancetypeRef captures the state of any referenced instance type from the VirtualMachine
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instancetype_ref: Option<InstancetypeStatusRef>,
    /// PreferenceRef captures the state of any referenced preference from the VirtualMachine
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preference_ref: Option<InstancetypeStatusRef>,
}

/// ChangedBlockTrackingStatus represents the status of ChangedBlockTracking for a VM
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ChangedBlockTrackingStatus {
    /// State represents the current CBT state
    pub state: String,
    /// BackupStatus represents the status of vmi backup
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backup_status: Option<VirtualMachineInstanceBackupStatus>,
}

/// VirtualMachineCondition represents the state of VirtualMachine
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VirtualMachineCondition {
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

/// InstancetypeStatusRef records the instancetype or preference that was applied.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct InstancetypeStatusRef {
    /// Name is the name of resource
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Kind specifies the kind of resource
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// ControllerRef specifies the ControllerRevision storing a copy of the object captured
    /// when it is first seen by the VirtualMachine controller
    #[serde(skip_serializing_if = "Option::is_none")]
    pub controller_revision_ref: Option<ControllerRevisionRef>,
    /// InferFromVolume lists the name of a volume that should be used to infer or discover the
    /// resource
    #[serde(skip_serializing_if = "Option::is_none")]
    pub infer_from_volume: Option<String>,
    /// InferFromVolumeFailurePolicy controls what should happen on failure when inferring the
    /// resource
    #[serde(skip_serializing_if = "Option::is_none")]
    pub infer_from_volume_failure_policy: Option<String>,
}

/// VirtualMachineMemoryDumpRequest represent the memory dump request phase and info
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VirtualMachineMemoryDumpRequest {
    /// ClaimName is the name of the pvc that will contain the memory dump
    pub claim_name: String,
    /// Phase represents the memory dump phase
    pub phase: String,
    /// Remove represents request of dissociating the memory dump pvc
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remove: Option<bool>,
    /// StartTimestamp represents the time the memory dump started
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_timestamp: Option<metav1::Time>,
    /// EndTimestamp represents the time the memory dump was completed
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_timestamp: Option<metav1::Time>,
    /// FileName represents the name of the output file
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file_name: Option<String>,
    /// Message is a detailed message about failure of the memory dump
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// VirtualMachineStartFailure tracks VMIs which failed to transition successfully
/// to running using the VM status
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VirtualMachineStartFailure {
    /// Number of consecutive failed starts of the VirtualMachineInstance.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub consecutive_fail_count: Option<i32>,
    /// UID of the VirtualMachineInstance that failed last.
    #[serde(rename = "lastFailedVMIUID", skip_serializing_if = "Option::is_none")]
    pub last_failed_vmiuid: Option<String>,
    /// The VirtualMachineInstance is not started again before this time.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_after_timestamp: Option<metav1::Time>,
}

/// VirtualMachineStateChangeRequest asks the VirtualMachine controller to start or stop the
/// VirtualMachineInstance.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VirtualMachineStateChangeRequest {
    /// Indicates the type of action that is requested. e.g. Start or Stop
    pub action: StateChangeRequestAction,
    /// Provides additional data in order to perform the Action
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<BTreeMap<String, String>>,
    /// Indicates the UUID of an existing Virtual Machine Instance that this change request applies
    /// to -- if applicable
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uid: Option<String>,
}

/// VirtualMachineVolumeRequest asks for a volume to be hotplugged or unplugged.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VirtualMachineVolumeRequest {
    /// AddVolumeOptions when set indicates a volume should be added. The details
    /// within this field specify how to add the volume
    #[serde(skip_serializing_if = "Option::is_none")]
    pub add_volume_options: Option<AddVolumeOptions>,
    /// RemoveVolumeOptions when set indicates a volume should be removed. The details
    /// within this field specify how to add the volume
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remove_volume_options: Option<RemoveVolumeOptions>,
}

/// VolumeSnapshotStatus tells whether a volume supports snapshots.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VolumeSnapshotStatus {
    /// Volume name
    pub name: String,
    /// True if the volume supports snapshotting
    pub enabled: bool,
    /// Empty if snapshotting is enabled, contains reason otherwise
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// VolumeUpdateState tracks an in-progress update of the volumes.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VolumeUpdateState {
    /// VolumeMigrationState tracks the information related to the volume migration
    #[serde(skip_serializing_if = "Option::is_none")]
    pub volume_migration_state: Option<VolumeMigrationState>,
}

/// VirtualMachineInstanceBackupStatus tracks the information of the executed backup
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VirtualMachineInstanceBackupStatus {
    /// BackupName is the name of the executed backup
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backup_name: Option<String>,
    /// StartTimestamp is the timestamp when the backup started
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_timestamp: Option<metav1::Time>,
    /// EndTimestamp is the timestamp when the backup ended
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_timestamp: Option<metav1::Time>,
    /// Completed indicates the backup completed
    #[serde(skip_serializing_if = "Option::is_none")]
    pub completed: Option<bool>,
    /// Failed indicates that the backup failed
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failed: Option<bool>,
    /// BackupMsg resturns any relevant information like failure reason
    /// unfreeze failed etc...
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backup_msg: Option<String>,
    /// CheckpointName is the name of the checkpoint created for the backup
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checkpoint_name: Option<String>,
    /// Volumes lists the volumes included in the backup
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(extend("x-kubernetes-list-type" = "atomic"))]
    pub volumes: Option<Vec<VirtualMachineInstanceBackupVolumeInfo>>,
    /// QuiesceStatus indicates whether filesystem freeze succeeded, failed, or was skipped.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quiesce_status: Option<String>,
}

/// ControllerRevisionRef names a ControllerRevision.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ControllerRevisionRef {
    /// Name of the ControllerRevision
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// AddVolumeOptions is provided when dynamically hot plugging a volume and disk
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AddVolumeOptions {
    /// Name represents the name that will be used to map the
    /// disk to the corresponding volume. This overrides any name
    /// set inside the Disk struct itself.
    pub name: String,
    /// Disk represents the hotplug disk that will be plugged into the running VMI
    pub disk: Disk,
    /// VolumeSource represents the source of the volume to map to the disk.
    pub volume_source: HotplugVolumeSource,
    /// When present, indicates that modifications should not be
    /// persisted. An invalid or unrecognized dryRun directive will
    /// result in an error response and no further processing of the
    /// request. Valid values are:
    /// - All: all dry run stages will be processed
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(extend("x-kubernetes-list-type" = "atomic"))]
    pub dry_run: Option<Vec<String>>,
}

/// RemoveVolumeOptions is provided when dynamically hot unplugging volume and disk
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RemoveVolumeOptions {
    /// Name represents the name that maps to both the disk and volume that
    /// should be removed
    pub name: String,
    /// When present, indicates that modifications should not be
    /// persisted. An invalid or unrecognized dryRun directive will
    /// result in an error response and no further processing of the
    /// request. Valid values are:
    /// - All: all dry run stages will be processed
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(extend("x-kubernetes-list-type" = "atomic"))]
    pub dry_run: Option<Vec<String>>,
}

/// VolumeMigrationState lists the volumes being migrated.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VolumeMigrationState {
    /// MigratedVolumes lists the source and destination volumes during the volume migration
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(extend("x-kubernetes-list-type" = "atomic"))]
    pub migrated_volumes: Option<Vec<StorageMigratedVolumeInfo>>,
}

/// VirtualMachineInstanceBackupVolumeInfo contains information about a volume included in a backup
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VirtualMachineInstanceBackupVolumeInfo {
    /// VolumeName is the volume name from VMI spec
    pub volume_name: String,
}

/// HotplugVolumeSource Represents the source of a volume to mount which are capable
/// of being hotplugged on a live running VMI.
/// Only one of its members may be specified.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct HotplugVolumeSource {
    /// PersistentVolumeClaimVolumeSource represents a reference to a PersistentVolumeClaim in the
    /// same namespace.
    /// Directly attached to the vmi via qemu.
    /// More info:
    /// https://kubernetes.io/docs/concepts/storage/persistent-volumes#persistentvolumeclaims
    #[serde(skip_serializing_if = "Option::is_none")]
    pub persistent_volume_claim: Option<PersistentVolumeClaimVolumeSource>,
    /// DataVolume represents the dynamic creation a PVC for this volume as well as
    /// the process of populating that PVC with a disk image.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_volume: Option<DataVolumeSource>,
}
