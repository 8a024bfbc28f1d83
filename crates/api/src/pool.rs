//! The `pool.kubevirt.io` VirtualMachinePool kind (served as `v1beta1`, the storage version,
//! and `v1alpha1`, which share one schema).

use k8s_openapi::api::core::v1 as corev1;
use k8s_openapi::apimachinery::pkg::apis::meta::v1 as metav1;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::vm::VirtualMachineSpec;

/// API group of VirtualMachinePools.
pub const POOL_GROUP: &str = "pool.kubevirt.io";

/// VirtualMachinePoolSpec describes the desired replicas and the VirtualMachine template.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema, CustomResource)]
#[kube(
    group = "pool.kubevirt.io",
    version = "v1beta1",
    kind = "VirtualMachinePool",
    namespaced,
    status = "VirtualMachinePoolStatus",
    shortname = "vmpool",
    shortname = "vmpools",
    category = "all",
    printcolumn = r#"{"name": "Desired", "type": "integer", "jsonPath": ".spec.replicas", "description": "Number of desired VirtualMachines"}"#,
    printcolumn = r#"{"name": "Current", "type": "integer", "jsonPath": ".status.replicas", "description": "Number of managed and not final or deleted VirtualMachines"}"#,
    printcolumn = r#"{"name": "Ready", "type": "integer", "jsonPath": ".status.readyReplicas", "description": "Number of managed VirtualMachines which are ready to receive traffic"}"#,
    printcolumn = r#"{"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}"#,
    scale(
        spec_replicas_path = ".spec.replicas",
        status_replicas_path = ".status.replicas",
        label_selector_path = ".status.labelSelector"
    ),
    doc = "VirtualMachinePool resource contains a VirtualMachine configuration\nthat can be used to replicate multiple VirtualMachine resources.",
    derive = "PartialEq"
)]
#[serde(rename_all = "camelCase")]
pub struct VirtualMachinePoolSpec {
    /// Number of desired pods. This is a pointer to distinguish between explicit
    /// zero and not specified. Defaults to 1.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub replicas: Option<i32>,
    /// Label selector for pods. Existing Poolss whose pods are
    /// selected by this will be the ones affected by this deployment.
    pub selector: metav1::LabelSelector,
    /// Template describes the VM that will be created.
    pub virtual_machine_template: VirtualMachineTemplateSpec,
    /// Indicates that the pool is paused.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub paused: Option<bool>,
    /// Options for the name generation in a pool.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name_generation: Option<VirtualMachinePoolNameGeneration>,
    /// (Defaults to 100%) Integer or string pointer, that when set represents either a percentage
    /// or number of VMs in a pool that can be unavailable (ready condition false) at a time during
    /// automated update.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_unavailable: Option<IntOrString>,
    /// ScaleInStrategy specifies how the VMPool controller manages scaling in VMs within a VMPool
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scale_in_strategy: Option<VirtualMachinePoolScaleInStrategy>,
    /// UpdateStrategy specifies how the VMPool controller manages updating VMs within a VMPool
    #[serde(skip_serializing_if = "Option::is_none")]
    pub update_strategy: Option<VirtualMachinePoolUpdateStrategy>,
    /// Autohealing specifies when a VMpool should replace a failing VM with a reprovisioned
    /// instance
    #[serde(skip_serializing_if = "Option::is_none")]
    pub autohealing: Option<VirtualMachinePoolAutohealingStrategy>,
}

/// VirtualMachineTemplateSpec describes the VirtualMachines a pool creates.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VirtualMachineTemplateSpec {
    /// Metadata of the VirtualMachines to create.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "crate::schema::embedded_object_meta")]
    pub metadata: Option<metav1::ObjectMeta>,
    /// VirtualMachineSpec contains the VirtualMachine specification.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub spec: Option<VirtualMachineSpec>,
}

/// VirtualMachinePoolStatus reports the observed replicas of a pool.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VirtualMachinePoolStatus {
    /// Number of VirtualMachines of the pool.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replicas: Option<i32>,
    /// Number of ready VirtualMachines of the pool.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ready_replicas: Option<i32>,
    /// Conditions of the pool: ReplicaFailure and ReplicaPaused.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(extend("x-kubernetes-list-type" = "atomic"))]
    pub conditions: Option<Vec<VirtualMachinePoolCondition>>,
    /// Canonical form of the label selector for HPA which consumes it through the scale
    /// subresource.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label_selector: Option<String>,
}

/// VirtualMachinePoolCondition represents the state of a pool at a point in time.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VirtualMachinePoolCondition {
    /// Type of the condition: ReplicaFailure or ReplicaPaused.
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

/// VirtualMachinePoolNameGeneration controls the names of the objects a pool creates.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VirtualMachinePoolNameGeneration {
    /// Append the VM index to the names of referenced ConfigMaps.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub append_index_to_config_map_refs: Option<bool>,
    /// Append the VM index to the names of referenced Secrets.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub append_index_to_secret_refs: Option<bool>,
}

/// VirtualMachinePoolAutohealingStrategy decides when a failing VM is replaced.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VirtualMachinePoolAutohealingStrategy {
    /// StartUpFailureThreshold is the number of consecutive VMI start failures (it tracks the
    /// value of Status.StartFailure.ConsecutiveFailCount field) before replacing the VM.
    /// Defaults to 3
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub start_up_failure_threshold: Option<u32>,
    /// MinFailingToStartDuration is the minimum time a VM must be in a failing status (applies to
    /// status conditions like CrashLoopBackOff, Unschedulable) before being replaced.
    /// It measures the duration since the VM's Ready condition transitioned to False.
    /// Defaults to 5 minutes
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_failing_to_start_duration: Option<String>,
}

/// VirtualMachinePoolScaleInStrategy specifies how the VMPool controller manages scaling in VMs
/// within a VMPool
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VirtualMachinePoolScaleInStrategy {
    /// The VM is never touched after creation. Users are responsible for scaling in the pool
    /// manually.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unmanaged: Option<VirtualMachinePoolUnmanagedStrategy>,
    /// Opportunistic scale-in is a strategy when vms are deleted by some other means than the
    /// scale-in action.
    /// For example, when the VM is deleted by the user or when the VM is deleted by the node that
    /// is hosting the VM.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub opportunistic: Option<VirtualMachinePoolOpportunisticScaleInStrategy>,
    /// Proactive scale-in by forcing VMs to shutdown during scale-in (Default)
    #[serde(skip_serializing_if = "Option::is_none")]
    pub proactive: Option<VirtualMachinePoolProactiveScaleInStrategy>,
}

/// VirtualMachinePoolOpportunisticScaleInStrategy represents opportunistic scale-in strategy
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VirtualMachinePoolOpportunisticScaleInStrategy {
    /// Specifies if and how to preserve the state of the VMs selected during scale-in.
    /// Disabled - (Default) all state for VMs selected for scale-in will be deleted.
    /// Offline - PVCs for VMs selected for scale-in will be preserved and reused on scale-out
    /// (decreases provisioning time during scale out).
    /// Online - PVCs and memory for VMs selected for scale-in will be preserved and reused on
    /// scale-out (decreases provisioning and boot time during scale out).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(extend("enum" = ["Disabled", "Offline", "Online"]))]
    pub state_preservation: Option<String>,
}

/// VirtualMachinePoolProactiveScaleInStrategy represents proactive scale-in strategy
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VirtualMachinePoolProactiveScaleInStrategy {
    /// SelectionPolicy defines the priority in which VM instances are selected for proactive
    /// scale-in
    /// Defaults to "Random" base policy when no SelectionPolicy is configured
    #[serde(skip_serializing_if = "Option::is_none")]
    pub selection_policy: Option<VirtualMachinePoolSelectionPolicy>,
    /// Specifies if and how to preserve the state of the VMs selected during scale-in.
    /// Disabled - (Default) all state for VMs selected for scale-in will be deleted.
    /// Offline - PVCs for VMs selected for scale-in will be preserved and reused on scale-out
    /// (decreases provisioning time during scale out).
    /// Online - PVCs and memory for VMs selected for scale-in will be preserved and reused on
    /// scale-out (decreases provisioning and boot time during scale out).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(extend("enum" = ["Disabled", "Offline", "Online"]))]
    pub state_preservation: Option<String>,
}

/// VirtualMachinePoolSelectionPolicy defines the priority in which VM instances are selected for
/// proactive scale-in or update
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VirtualMachinePoolSelectionPolicy {
    /// SortPolicy is a catch-all policy [AscendingOrder|DescendingOrder|Newest|Oldest|Random]
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(extend("enum" = ["AscendingOrder", "DescendingOrder", "Newest", "Oldest", "Random"]))]
    pub sort_policy: Option<String>,
    /// Selectors is a list of selection policies.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub selectors: Option<VirtualMachinePoolSelectors>,
}

/// VirtualMachinePoolSelectors specifies filtering criteria for VM selection.
/// If both are specified, both must match for a VM to be selected.
/// If only one is specified, only that one must match for a VM to be selected.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VirtualMachinePoolSelectors {
    /// LabelSelector is a list of label selector for VMs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label_selector: Option<metav1::LabelSelector>,
    /// NodeSelectorRequirementMatcher is a list of node selector requirement for VMs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node_selector_requirement_matcher: Option<Vec<corev1::NodeSelectorRequirement>>,
}

/// VirtualMachinePoolUpdateStrategy specifies how the VMPool controller manages updating VMs
/// within a VMPool, by default it is proactive update.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VirtualMachinePoolUpdateStrategy {
    /// Unmanaged indicates that no automatic update of VMs within a VMPool is performed. When
    /// this is set, the VMPool controller will not update the VMs within the pool.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unmanaged: Option<VirtualMachinePoolUnmanagedStrategy>,
    /// Opportunistic update only gets applied to the VM, VMI is updated naturally upon the
    /// restart. Whereas proactive it applies both the VM and VMI right away.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub opportunistic: Option<VirtualMachineOpportunisticUpdateStrategy>,
    /// Proactive update by forcing the VMs to restart during update
    #[serde(skip_serializing_if = "Option::is_none")]
    pub proactive: Option<VirtualMachinePoolProactiveUpdateStrategy>,
}

/// VirtualMachinePoolUnmanagedStrategy: the pool controller leaves its VMs alone.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct VirtualMachinePoolUnmanagedStrategy {}

/// VirtualMachineOpportunisticUpdateStrategy: updates reach a VMI when it restarts.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct VirtualMachineOpportunisticUpdateStrategy {}

/// VirtualMachinePoolProactiveUpdateStrategy represents proactive update strategy
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VirtualMachinePoolProactiveUpdateStrategy {
    /// SelectionPolicy defines the priority in which VM instances are selected for proactive
    /// update
    /// Defaults to "Random" base policy when no SelectionPolicy is configured
    #[serde(skip_serializing_if = "Option::is_none")]
    pub selection_policy: Option<VirtualMachinePoolSelectionPolicy>,
}
