//! The VirtualMachineInstanceReplicaSet kind.

use crate::vm::VirtualMachineInstanceTemplateSpec;
use k8s_openapi::apimachinery::pkg::apis::meta::v1 as metav1;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// VirtualMachineInstanceReplicaSetSpec describes the desired replicas and their template.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema, CustomResource)]
#[kube(
    group = "kubevirt.io",
    version = "v1",
    kind = "VirtualMachineInstanceReplicaSet",
    namespaced,
    status = "VirtualMachineInstanceReplicaSetStatus",
    shortname = "vmirs",
    shortname = "vmirss",
    category = "all",
    printcolumn = r#"{"name": "Desired", "type": "integer", "jsonPath": ".spec.replicas", "description": "Number of desired VirtualMachineInstances"}"#,
    printcolumn = r#"{"name": "Current", "type": "integer", "jsonPath": ".status.replicas", "description": "Number of managed and not final or deleted VirtualMachineInstances"}"#,
    printcolumn = r#"{"name": "Ready", "type": "integer", "jsonPath": ".status.readyReplicas", "description": "Number of managed VirtualMachineInstances which are ready to receive traffic"}"#,
    printcolumn = r#"{"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}"#,
    scale(
        spec_replicas_path = ".spec.replicas",
        status_replicas_path = ".status.replicas",
        label_selector_path = ".status.labelSelector"
    ),
    doc = "VirtualMachineInstanceReplicaSet keeps a number of VirtualMachineInstances, created from one template, running.",
    derive = "PartialEq"
)]
#[serde(rename_all = "camelCase")]
pub struct VirtualMachineInstanceReplicaSetSpec {
    /// Number of desired pods. This is a pointer to distinguish between explicit
    /// zero and not specified. Defaults to 1.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replicas: Option<i32>,
    /// Label selector for pods. Existing ReplicaSets whose pods are
    /// selected by this will be the ones affected by this deployment.
    pub selector: metav1::LabelSelector,
    /// Template describes the pods that will be created.
    pub template: VirtualMachineInstanceTemplateSpec,
    /// Indicates that the replica set is paused.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub paused: Option<bool>,
}

/// VirtualMachineInstanceReplicaSetStatus reports the observed replicas.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VirtualMachineInstanceReplicaSetStatus {
    /// Total number of non-terminated pods targeted by this deployment (their labels match the
    /// selector).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replicas: Option<i32>,
    /// The number of ready replicas for this replica set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ready_replicas: Option<i32>,
    /// Conditions of the replica set: ReplicaFailure and ReplicaPaused.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub conditions: Option<Vec<VirtualMachineInstanceReplicaSetCondition>>,
    /// Canonical form of the label selector for HPA which consumes it through the scale
    /// subresource.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label_selector: Option<String>,
}

/// VirtualMachineInstanceReplicaSetCondition represents the state of a replica set at a point in
/// time.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VirtualMachineInstanceReplicaSetCondition {
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
