//! What the VM controller knows of DataVolumes and PersistentVolumeClaims, and the pure rules
//! built on it: DataVolume readiness, the DataVolume manifests of a VM's templates, and the
//! storage-related printable statuses.
//!
//! DataVolumes are CDI objects (`cdi.kubevirt.io/v1beta1`); when CDI is not installed the view
//! is simply empty.

use std::collections::BTreeMap;

use api::keys::CREATED_BY_LABEL;
use api::{VirtualMachine, Volume};
use serde_json::{Value, json};

use super::util::{ALLOW_CLAIM_ADOPTION_ANNOTATION, controller_ref};

pub const DV_PHASE_SUCCEEDED: &str = "Succeeded";
pub const DV_PHASE_FAILED: &str = "Failed";
pub const DV_PHASE_PENDING_POPULATION: &str = "PendingPopulation";
pub const DV_PHASE_WAIT_FOR_FIRST_CONSUMER: &str = "WaitForFirstConsumer";
pub const PVC_PHASE_BOUND: &str = "Bound";

/// A DataVolume as the controller sees it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct DataVolumeState {
    pub phase: String,
    /// Condition `Bound` is True.
    pub bound: bool,
    /// Condition `Running` is False with reason `Error` or `ImagePullFailed`: its message.
    pub running_error: Option<String>,
    /// UID of the controlling owner, if any.
    pub controller_uid: Option<String>,
}

impl DataVolumeState {
    /// Reads the state of a DataVolume object (any JSON shape; missing fields are empty).
    pub fn from_object(obj: &Value) -> DataVolumeState {
        let status = &obj["status"];
        let cond = |t: &str| {
            status["conditions"]
                .as_array()
                .and_then(|cs| cs.iter().find(|c| c["type"] == t))
                .cloned()
        };
        let running_error = cond("Running").and_then(|c| {
            let reason = c["reason"].as_str().unwrap_or_default();
            (c["status"] == "False" && (reason == "Error" || reason == "ImagePullFailed"))
                .then(|| c["message"].as_str().unwrap_or_default().to_string())
        });
        let controller_uid = obj["metadata"]["ownerReferences"]
            .as_array()
            .and_then(|refs| refs.iter().find(|r| r["controller"] == true))
            .and_then(|r| r["uid"].as_str())
            .map(String::from);
        DataVolumeState {
            phase: status["phase"].as_str().unwrap_or_default().to_string(),
            bound: cond("Bound").is_some_and(|c| c["status"] == "True"),
            running_error,
            controller_uid,
        }
    }

    /// Ready to be used by a VMI: Succeeded, WaitForFirstConsumer or PendingPopulation.
    pub fn is_ready(&self) -> bool {
        matches!(
            self.phase.as_str(),
            DV_PHASE_SUCCEEDED | DV_PHASE_WAIT_FOR_FIRST_CONSUMER | DV_PHASE_PENDING_POPULATION
        )
    }
}

/// DataVolumes and claim phases of the VM's namespace, by name.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct StorageView {
    pub data_volumes: BTreeMap<String, DataVolumeState>,
    /// Claim name → phase (`Pending`, `Bound`, `Lost`, or empty).
    pub pvcs: BTreeMap<String, String>,
}

/// The claim a volume uses: its DataVolume's, PVC's or memory dump's.
pub fn claim_name(volume: &Volume) -> Option<&str> {
    if let Some(dv) = &volume.data_volume {
        return Some(&dv.name);
    }
    if let Some(pvc) = &volume.persistent_volume_claim {
        return Some(&pvc.claim_name);
    }
    volume.memory_dump.as_ref().map(|m| m.claim_name.as_str())
}

fn template_volumes(vm: &VirtualMachine) -> impl Iterator<Item = &Volume> {
    vm.spec
        .template
        .spec
        .iter()
        .flat_map(|s| s.volumes.iter().flatten())
}

/// The error text when a referenced DataVolume failed or its importer stopped with an error.
pub fn data_volume_error(vm: &VirtualMachine, storage: &StorageView) -> Option<String> {
    for volume in template_volumes(vm) {
        let Some(dv) = volume.data_volume.as_ref() else {
            continue;
        };
        let Some(state) = storage.data_volumes.get(&dv.name) else {
            continue;
        };
        if state.phase == DV_PHASE_FAILED {
            return Some(format!("DataVolume {} is in Failed phase", dv.name));
        }
        if let Some(msg) = &state.running_error {
            return Some(format!(
                "DataVolume {} importer has stopped running due to an error: {msg}",
                dv.name
            ));
        }
    }
    None
}

/// A referenced DataVolume is still being populated (bound, or not waiting for a consumer).
pub fn has_data_volume_provisioning(vm: &VirtualMachine, storage: &StorageView) -> bool {
    template_volumes(vm).any(|volume| {
        let Some(dv) = volume.data_volume.as_ref() else {
            return false;
        };
        let Some(state) = storage.data_volumes.get(&dv.name) else {
            return false;
        };
        if state.phase == DV_PHASE_SUCCEEDED || state.phase == DV_PHASE_PENDING_POPULATION {
            return false;
        }
        state.bound || state.phase != DV_PHASE_WAIT_FOR_FIRST_CONSUMER
    })
}

/// A referenced claim exists and is not Bound.
pub fn has_unbound_pvc(vm: &VirtualMachine, storage: &StorageView) -> bool {
    template_volumes(vm).any(|volume| {
        claim_name(volume)
            .and_then(|c| storage.pvcs.get(c))
            .is_some_and(|phase| phase != PVC_PHASE_BOUND)
    })
}

/// The DataVolume to create for a template of `vm`: the template's metadata and spec, the
/// claim-adoption annotation, the created-by label, the VM's controller reference, and the
/// VMI's priority class unless the template names one.
pub fn data_volume_manifest(vm: &VirtualMachine, index: usize) -> Option<Value> {
    let template = vm.spec.data_volume_templates.as_ref()?.get(index)?;
    let meta = template.metadata.clone().unwrap_or_default();
    let mut labels = meta.labels.clone().unwrap_or_default();
    labels.insert(
        CREATED_BY_LABEL.into(),
        vm.metadata.uid.clone().unwrap_or_default(),
    );
    let mut annotations = meta.annotations.clone().unwrap_or_default();
    annotations.insert(ALLOW_CLAIM_ADOPTION_ANNOTATION.into(), "true".into());
    let mut spec = serde_json::to_value(&template.spec).ok()?;
    let priority = vm
        .spec
        .template
        .spec
        .as_ref()
        .and_then(|s| s.priority_class_name.clone());
    if let (Some(p), Some(obj)) = (priority, spec.as_object_mut())
        && obj
            .get("priorityClassName")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .is_empty()
    {
        obj.insert("priorityClassName".into(), Value::String(p));
    }
    Some(json!({
        "apiVersion": "cdi.kubevirt.io/v1beta1",
        "kind": "DataVolume",
        "metadata": {
            "name": meta.name,
            "namespace": vm.metadata.namespace,
            "labels": labels,
            "annotations": annotations,
            "ownerReferences": [controller_ref(vm)],
        },
        "spec": spec,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_volume_state_reads_phase_and_conditions() {
        let dv = json!({
            "metadata": {"ownerReferences": [{"uid": "vm1", "controller": true}]},
            "status": {"phase": "ImportInProgress", "conditions": [
                {"type": "Bound", "status": "True"},
                {"type": "Running", "status": "False", "reason": "Error", "message": "boom"}
            ]}
        });
        let s = DataVolumeState::from_object(&dv);
        assert_eq!(s.phase, "ImportInProgress");
        assert!(s.bound);
        assert_eq!(s.running_error.as_deref(), Some("boom"));
        assert_eq!(s.controller_uid.as_deref(), Some("vm1"));
        assert!(!s.is_ready());
        assert!(
            DataVolumeState {
                phase: "WaitForFirstConsumer".into(),
                ..Default::default()
            }
            .is_ready()
        );
    }
}
