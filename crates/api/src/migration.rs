//! The VirtualMachineInstanceMigration kind.

use crate::lifecycle::VirtualMachineInstanceMigrationPhase;
use crate::migration_state::VirtualMachineInstanceMigrationState;
use k8s_openapi::apimachinery::pkg::apis::meta::v1 as metav1;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// VirtualMachineInstanceMigrationSpec names the VirtualMachineInstance to migrate and how.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema, CustomResource)]
#[kube(
    group = "kubevirt.io",
    version = "v1",
    kind = "VirtualMachineInstanceMigration",
    namespaced,
    status = "VirtualMachineInstanceMigrationStatus",
    shortname = "vmim",
    shortname = "vmims",
    category = "all",
    printcolumn = r#"{"name": "Phase", "type": "string", "jsonPath": ".status.phase", "description": "The current phase of VM instance migration"}"#,
    printcolumn = r#"{"name": "VMI", "type": "string", "jsonPath": ".spec.vmiName", "description": "The name of the VMI to perform the migration on"}"#,
    doc = "VirtualMachineInstanceMigration represents the object tracking a VMI's migration to another host in the cluster",
    derive = "PartialEq"
)]
#[serde(rename_all = "camelCase")]
pub struct VirtualMachineInstanceMigrationSpec {
    /// The name of the VMI to perform the migration on. VMI must exist in the migration objects
    /// namespace
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vmi_name: Option<String>,
    /// AddedNodeSelector is an additional selector that can be used to
    /// complement a NodeSelector or NodeAffinity as set on the VM
    /// to restrict the set of allowed target nodes for a migration.
    /// In case of key collisions, values set on the VM objects
    /// are going to be preserved to ensure that addedNodeSelector
    /// can only restrict but not bypass constraints already set on the VM object.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub added_node_selector: Option<BTreeMap<String, String>>,
    /// If sendTo is specified, this VirtualMachineInstanceMigration will be considered the source
    #[serde(skip_serializing_if = "Option::is_none")]
    pub send_to: Option<VirtualMachineInstanceMigrationSource>,
    /// If receieve is specified, this VirtualMachineInstanceMigration will be considered the target
    #[serde(skip_serializing_if = "Option::is_none")]
    pub receive: Option<VirtualMachineInstanceMigrationTarget>,
    /// Priority of the migration. This can be one of `system-critical`, `user-triggered`,
    /// `system-maintenance`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub priority: Option<String>,
}

/// VirtualMachineInstanceMigration reprents information pertaining to a VMI's migration.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VirtualMachineInstanceMigrationStatus {
    /// Phase of the migration.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phase: Option<VirtualMachineInstanceMigrationPhase>,
    /// Conditions of the migration.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub conditions: Option<Vec<VirtualMachineInstanceMigrationCondition>>,
    /// PhaseTransitionTimestamp is the timestamp of when the last phase change occurred
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(extend("x-kubernetes-list-type" = "atomic"))]
    pub phase_transition_timestamps:
        Option<Vec<VirtualMachineInstanceMigrationPhaseTransitionTimestamp>>,
    /// Represents the status of a live migration
    #[serde(skip_serializing_if = "Option::is_none")]
    pub migration_state: Option<VirtualMachineInstanceMigrationState>,
    /// The synchronization addresses one can use to connect to the synchronization controller,
    /// includes the port, if multiple
    /// addresses are available, the first one is reported in the synchronizationAddress field.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(extend("x-kubernetes-list-type" = "atomic"))]
    pub synchronization_addresses: Option<Vec<String>>,
}

/// VirtualMachineInstanceMigrationTarget describes the receiving side of a decentralized migration.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VirtualMachineInstanceMigrationTarget {
    /// A unique identifier to identify this migration.
    #[serde(rename = "migrationID")]
    pub migration_id: String,
}

/// VirtualMachineInstanceMigrationSource describes the sending side of a decentralized migration.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VirtualMachineInstanceMigrationSource {
    /// A unique identifier to identify this migration.
    #[serde(rename = "migrationID")]
    pub migration_id: String,
    /// The synchronization controller URL to connect to.
    #[serde(rename = "connectURL")]
    pub connect_url: String,
}

/// VirtualMachineInstanceMigrationCondition represents the state of a migration at a point in time.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VirtualMachineInstanceMigrationCondition {
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

/// VirtualMachineInstanceMigrationPhaseTransitionTimestamp gives a timestamp in relation to when a
/// phase is set on a vmi
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VirtualMachineInstanceMigrationPhaseTransitionTimestamp {
    /// Phase is the status of the VirtualMachineInstanceMigrationPhase in kubernetes world. It is
    /// not the VirtualMachineInstanceMigrationPhase status, but partially correlates to it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phase: Option<VirtualMachineInstanceMigrationPhase>,
    /// PhaseTransitionTimestamp is the timestamp of when the phase change occurred
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phase_transition_timestamp: Option<metav1::Time>,
}
