//! Rules on a `VirtualMachineInstanceSpec`, shared by VMI creation, VirtualMachine templates and
//! ReplicaSet templates (upstream `ValidateVirtualMachineInstanceSpec` and friends). Each rule
//! is a pure function from the spec (and the cluster configuration) to the causes it finds.

mod compute;
mod devices;
mod network;
mod storage;

use std::collections::BTreeMap;

use api::VirtualMachineInstanceSpec;
use api::keys::RESERVED_VMI_LABELS;
use apiserver::Cause;

use super::config::{ClusterConfig, gate};
use super::field::{self, Path};

pub use compute::validate_mandatory_memory;
pub use devices::validate_per_arch;
pub use network::validate_creation as validate_network_creation;
pub use storage::validate_volume_disks;

/// Every rule of `ValidateVirtualMachineInstanceSpec`, rooted at `field`.
pub fn validate_spec(
    field: &Path,
    spec: &VirtualMachineInstanceSpec,
    config: &ClusterConfig,
) -> Vec<Cause> {
    let mut causes = Vec::new();
    causes.extend(compute::validate_names(field, spec));
    causes.extend(compute::validate_memory(field, spec, config));
    causes.extend(compute::validate_machine(field, spec, config));
    causes.extend(compute::validate_cpu(field, spec, config));
    causes.extend(devices::validate_strategies(field, spec, config));
    causes.extend(network::validate(field, spec, config));
    causes.extend(storage::validate_boot_order(field, spec, config));
    causes.extend(devices::validate_inputs(field, spec));
    causes.extend(devices::validate_io_threads(field, spec));
    causes.extend(devices::validate_probes(field, spec));
    causes.extend(storage::validate_disks(
        &field.children(&["domain", "devices", "disks"]),
        spec.domain.devices.disks.as_deref().unwrap_or(&[]),
    ));
    causes.extend(compute::validate_firmware(field, spec));
    causes.extend(storage::validate_volumes(
        &field.child("volumes"),
        spec.volumes.as_deref().unwrap_or(&[]),
        config,
    ));
    causes.extend(storage::validate_storage_features(field, spec, config));
    causes.extend(devices::validate_access_credentials(field, spec));
    causes.extend(devices::validate_dns(field, spec));
    causes.extend(compute::validate_launch_security(field, spec, config));
    causes.extend(devices::validate_devices(field, spec, config));
    causes
}

/// `ValidateVirtualMachineInstanceMetadata`: reserved labels (for users) and the annotations of
/// gated features.
pub fn validate_metadata(
    field: &Path,
    labels: &BTreeMap<String, String>,
    annotations: &BTreeMap<String, String>,
    config: &ClusterConfig,
    is_kubevirt: bool,
) -> Vec<Cause> {
    let mut causes = Vec::new();
    if !is_kubevirt
        && labels
            .keys()
            .any(|k| RESERVED_VMI_LABELS.contains(&k.as_str()))
    {
        causes.push(field::not_supported(
            field.child("labels"),
            "creation of the following reserved kubevirt.io/ labels on a VMI object is prohibited",
        ));
    }
    let set = |k: &str| annotations.get(k).is_some_and(|v| !v.is_empty());
    if set(IGNITION_ANNOTATION) && !config.is_enabled(gate::IGNITION) {
        causes.push(field::invalid(
            field.child("annotations"),
            format!(
                "ExperimentalIgnitionSupport feature gate is not enabled in kubevirt-config, invalid entry {}",
                field.child("annotations").child(IGNITION_ANNOTATION)
            ),
        ));
    }
    if set(SIDECAR_ANNOTATION) && !config.is_enabled(gate::SIDECAR) {
        causes.push(field::invalid(
            field.child("annotations"),
            format!(
                "sidecar feature gate is not enabled in kubevirt-config, invalid entry {}",
                field.children(&["annotations", SIDECAR_ANNOTATION])
            ),
        ));
    }
    causes
}

/// Ignition data for the guest.
pub const IGNITION_ANNOTATION: &str = "kubevirt.io/ignitiondata";
/// Hook sidecars of the launcher pod.
pub const SIDECAR_ANNOTATION: &str = "hooks.kubevirt.io/hookSidecars";

/// Reserved labels whose values differ between two label sets.
pub fn reserved_labels_changed(
    old: &BTreeMap<String, String>,
    new: &BTreeMap<String, String>,
) -> bool {
    let reserved = |m: &BTreeMap<String, String>| -> BTreeMap<String, String> {
        m.iter()
            .filter(|(k, _)| RESERVED_VMI_LABELS.contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    };
    reserved(old) != reserved(new)
}

#[cfg(test)]
mod tests;
