//! The deprecated `kubevirt.io` VirtualMachineInstancePreset kind.
//!
//! Upstream serves it as `v1` and `v1alpha3`, both deprecated, and stores it as `v1alpha3`.

use k8s_openapi::apimachinery::pkg::apis::meta::v1 as metav1;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::domain::DomainSpec;

/// Warning returned to clients that use the `v1` version of presets.
pub const PRESET_V1_DEPRECATION_WARNING: &str =
    "kubevirt.io/v1 VirtualMachineInstancePresets is now deprecated and will be removed in v2.";

/// Warning returned to clients that use the `v1alpha3` version of presets.
pub const PRESET_V1ALPHA3_DEPRECATION_WARNING: &str = "kubevirt.io/v1alpha3 VirtualMachineInstancePresets is now deprecated and will be removed in v2.";

/// VirtualMachineInstancePresetSpec selects VMIs and the domain settings to apply to them.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema, CustomResource)]
#[kube(
    group = "kubevirt.io",
    version = "v1",
    kind = "VirtualMachineInstancePreset",
    namespaced,
    shortname = "vmipreset",
    shortname = "vmipresets",
    category = "all",
    doc = "Deprecated for removal in v2, please use VirtualMachineInstanceType and VirtualMachinePreference instead.\n\nVirtualMachineInstancePreset defines a VMI spec.domain to be applied to all VMIs that match the provided label selector\nMore info: https://kubevirt.io/user-guide/virtual_machines/presets/#overrides",
    derive = "PartialEq"
)]
#[serde(rename_all = "camelCase")]
pub struct VirtualMachineInstancePresetSpec {
    /// Selector is a label query over a set of VMIs.
    /// Required.
    pub selector: metav1::LabelSelector,
    /// Domain is the same object type as contained in VirtualMachineInstanceSpec
    #[serde(skip_serializing_if = "Option::is_none")]
    pub domain: Option<DomainSpec>,
}
