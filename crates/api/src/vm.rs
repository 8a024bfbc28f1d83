//! The VirtualMachine kind and its spec.

use crate::cdi;
use crate::vm_status::VirtualMachineStatus;
use crate::vmi::VirtualMachineInstanceSpec;
use k8s_openapi::apimachinery::pkg::apis::meta::v1 as metav1;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// VirtualMachineSpec describes how the proper VirtualMachine
/// should look like
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema, CustomResource)]
#[kube(
    group = "kubevirt.io",
    version = "v1",
    kind = "VirtualMachine",
    namespaced,
    status = "VirtualMachineStatus",
    shortname = "vm",
    shortname = "vms",
    category = "all",
    printcolumn = r#"{"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}"#,
    printcolumn = r#"{"name": "Status", "type": "string", "jsonPath": ".status.printableStatus", "description": "Human Readable Status"}"#,
    printcolumn = r#"{"name": "Ready", "type": "string", "jsonPath": ".status.conditions[?(@.type=='Ready')].status"}"#,
    doc = "VirtualMachine handles the VirtualMachines that are not running or are in a stopped state. The VirtualMachine contains the template to create the VirtualMachineInstance. It also mirrors the running state of the created VirtualMachineInstance in its status.",
    derive = "PartialEq"
)]
#[serde(rename_all = "camelCase")]
pub struct VirtualMachineSpec {
    /// Running controls whether the associatied VirtualMachineInstance is created or not
    /// Mutually exclusive with RunStrategy
    /// Deprecated: VirtualMachineInstance field "Running" is now deprecated, please use RunStrategy
    /// instead.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub running: Option<bool>,
    /// Running state indicates the requested running state of the VirtualMachineInstance
    /// mutually exclusive with Running
    /// Following are allowed values:
    /// - "Always": VMI should always be running.
    /// - "Halted": VMI should never be running.
    /// - "Manual": VMI can be started/stopped using API endpoints.
    /// - "RerunOnFailure": VMI will initially be running and restarted if a failure occurs, but
    ///   will not be restarted upon successful completion.
    /// - "Once": VMI will run once and not be restarted upon completion regardless if the
    ///   completion is of phase Failure or Success.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run_strategy: Option<String>,
    /// InstancetypeMatcher references a instancetype that is used to fill fields in Template
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instancetype: Option<InstancetypeMatcher>,
    /// PreferenceMatcher references a set of preference that is used to fill fields in Template
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preference: Option<PreferenceMatcher>,
    /// Template is the direct specification of VirtualMachineInstance
    pub template: VirtualMachineInstanceTemplateSpec,
    /// dataVolumeTemplates is a list of dataVolumes that the VirtualMachineInstance template can
    /// reference.
    /// DataVolumes in this list are dynamically created for the VirtualMachine and are tied to the
    /// VirtualMachine's life-cycle.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_volume_templates: Option<Vec<DataVolumeTemplateSpec>>,
    /// UpdateVolumesStrategy is the strategy to apply on volumes updates
    #[serde(skip_serializing_if = "Option::is_none")]
    pub update_volumes_strategy: Option<String>,
}

/// DataVolumeTemplateSpec describes a DataVolume that the VirtualMachine creates and owns.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DataVolumeTemplateSpec {
    /// Kind is a string value representing the REST resource this object represents. Servers may
    /// infer this from the endpoint the client submits requests to. Cannot be updated. In
    /// CamelCase. More info:
    /// https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#types-kinds
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// APIVersion defines the versioned schema of this representation of an object. Servers should
    /// convert recognized schemas to the latest internal value, and may reject unrecognized values.
    /// More info:
    /// https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#resources
    #[serde(skip_serializing_if = "Option::is_none")]
    pub api_version: Option<String>,
    /// Standard object metadata of the DataVolume to create.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "crate::schema::embedded_object_meta")]
    pub metadata: Option<metav1::ObjectMeta>,
    /// DataVolumeSpec contains the DataVolume specification.
    pub spec: cdi::DataVolumeSpec,
    /// DataVolumeTemplateDummyStatus is here simply for backwards compatibility with
    /// a previous API.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<DataVolumeTemplateDummyStatus>,
}

/// InstancetypeMatcher references a instancetype that is used to fill fields in the VMI template.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct InstancetypeMatcher {
    /// Name is the name of the VirtualMachineInstancetype or VirtualMachineClusterInstancetype
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Kind specifies which instancetype resource is referenced.
    /// Allowed values are: "VirtualMachineInstancetype" and "VirtualMachineClusterInstancetype".
    /// If not specified, "VirtualMachineClusterInstancetype" is used by default.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// RevisionName specifies a ControllerRevision containing a specific copy of the
    /// VirtualMachineInstancetype or VirtualMachineClusterInstancetype to be used. This is
    /// initially
    /// captured the first time the instancetype is applied to the VirtualMachineInstance.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revision_name: Option<String>,
    /// InferFromVolume lists the name of a volume that should be used to infer or discover the
    /// instancetype
    /// to be used through known annotations on the underlying resource. Once applied to the
    /// InstancetypeMatcher
    /// this field is removed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub infer_from_volume: Option<String>,
    /// InferFromVolumeFailurePolicy controls what should happen on failure when inferring the
    /// instancetype.
    /// Allowed values are: "RejectInferFromVolumeFailure" and "IgnoreInferFromVolumeFailure".
    /// If not specified, "RejectInferFromVolumeFailure" is used by default.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub infer_from_volume_failure_policy: Option<String>,
}

/// PreferenceMatcher references a set of preference that is used to fill fields in the VMI
/// template.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PreferenceMatcher {
    /// Name is the name of the VirtualMachinePreference or VirtualMachineClusterPreference
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Kind specifies which preference resource is referenced.
    /// Allowed values are: "VirtualMachinePreference" and "VirtualMachineClusterPreference".
    /// If not specified, "VirtualMachineClusterPreference" is used by default.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// RevisionName specifies a ControllerRevision containing a specific copy of the
    /// VirtualMachinePreference or VirtualMachineClusterPreference to be used. This is
    /// initially captured the first time the instancetype is applied to the VirtualMachineInstance.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revision_name: Option<String>,
    /// InferFromVolume lists the name of a volume that should be used to infer or discover the
    /// preference
    /// to be used through known annotations on the underlying resource. Once applied to the
    /// PreferenceMatcher
    /// this field is removed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub infer_from_volume: Option<String>,
    /// InferFromVolumeFailurePolicy controls what should happen on failure when preference the
    /// instancetype.
    /// Allowed values are: "RejectInferFromVolumeFailure" and "IgnoreInferFromVolumeFailure".
    /// If not specified, "RejectInferFromVolumeFailure" is used by default.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub infer_from_volume_failure_policy: Option<String>,
}

/// VirtualMachineInstanceTemplateSpec describes the VirtualMachineInstance to create.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VirtualMachineInstanceTemplateSpec {
    /// Metadata of the VirtualMachineInstance to create. Its labels and annotations are copied to
    /// the VirtualMachineInstance.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "crate::schema::embedded_object_meta")]
    pub metadata: Option<metav1::ObjectMeta>,
    /// VirtualMachineInstance Spec contains the VirtualMachineInstance specification.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub spec: Option<VirtualMachineInstanceSpec>,
}

/// DataVolumeTemplateDummyStatus is kept for backwards compatibility with a previous API.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DataVolumeTemplateDummyStatus {}
