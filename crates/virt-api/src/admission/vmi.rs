//! VirtualMachineInstance admission: `vmi-mutator.go`, `vmi-create-admitter.go` and
//! `vmi-update-admitter.go`.

use std::sync::Arc;

use api::VirtualMachineInstanceSpec;
use api::keys::{PCI_TOPOLOGY_VERSION_ANNOTATION, VIRTUAL_MACHINE_INSTANCE_FINALIZER};
use apiserver::{Admission, AdmissionRequest, ApiError, Cause, Operation, ResourceDef};
use serde_json::{Value, json};

use super::config::{ClusterConfig, gate};
use super::defaults::{set_vmi_defaults, supports_pcie_hotplug};
use super::field::{self, Path};
use super::{decode, deny, is_kubevirt, json as js, refuse, spec, stores, string_map, webhook};

/// The user id VMIs run as when not running as root.
const NON_ROOT_UID: u64 = 107;

/// Defaults and validation of VirtualMachineInstances.
pub struct VirtualMachineInstanceAdmission {
    config: Arc<ClusterConfig>,
}

impl VirtualMachineInstanceAdmission {
    pub fn new(config: Arc<ClusterConfig>) -> Self {
        VirtualMachineInstanceAdmission { config }
    }
}

impl Admission for VirtualMachineInstanceAdmission {
    fn handles(&self, resource: &ResourceDef) -> bool {
        stores(resource, "virtualmachineinstances")
    }

    fn mutate(
        &self,
        req: &AdmissionRequest<'_>,
        object: &mut Value,
        old: Option<&Value>,
    ) -> Result<Vec<String>, ApiError> {
        match (req.operation, old) {
            (Operation::Create, _) => mutate_create(&self.config, object, &meta_now())?,
            (Operation::Update, Some(old)) if !is_kubevirt(req.user) => revert_status(object, old),
            _ => {}
        }
        Ok(vec![])
    }

    fn validate(
        &self,
        req: &AdmissionRequest<'_>,
        object: &Value,
        old: Option<&Value>,
    ) -> Result<Vec<String>, ApiError> {
        let (hook, causes) = match (req.operation, old) {
            (Operation::Create, _) => {
                let spec: VirtualMachineInstanceSpec =
                    decode(webhook::VMI_CREATE_VALIDATOR, object, "/spec")?;
                let causes = validate_create(&self.config, &spec, object, is_kubevirt(req.user));
                (webhook::VMI_CREATE_VALIDATOR, causes)
            }
            (Operation::Update, Some(old)) => (
                webhook::VMI_UPDATE_VALIDATOR,
                validate_update(object, old, is_kubevirt(req.user))?,
            ),
            _ => return Ok(vec![]),
        };
        if causes.is_empty() {
            Ok(vec![])
        } else {
            Err(deny(hook, causes))
        }
    }
}

fn meta_now() -> String {
    apiserver::server::meta::now()
}

/// The VMI mutator on create: every default, the PCI topology annotation, the foreground
/// finalizer, and a `Pending` status with its transition time `now`.
pub fn mutate_create(
    config: &ClusterConfig,
    object: &mut Value,
    now: &str,
) -> Result<(), ApiError> {
    let mut spec: VirtualMachineInstanceSpec = decode(webhook::VMI_MUTATOR, object, "/spec")?;
    let seed = set_vmi_defaults(config, &mut spec).map_err(|e| refuse(webhook::VMI_MUTATOR, e))?;
    let encoded = serde_json::to_value(&spec).map_err(|e| refuse(webhook::VMI_MUTATOR, e))?;
    match object.get_mut("spec") {
        Some(slot) if slot.is_object() => js::overlay(slot, encoded),
        _ => object["spec"] = encoded,
    }
    if supports_pcie_hotplug(&spec) {
        let annotations = js::object_at(object, &["metadata", "annotations"]);
        annotations
            .entry(PCI_TOPOLOGY_VERSION_ANNOTATION)
            .or_insert_with(|| json!("v3"));
    }
    let metadata = js::object_at(object, &["metadata"]);
    let finalizers = metadata.entry("finalizers").or_insert_with(|| json!([]));
    if !finalizers.is_array() {
        *finalizers = json!([]);
    }
    let list = finalizers.as_array_mut().expect("just made an array");
    if !list
        .iter()
        .any(|f| f.as_str() == Some(VIRTUAL_MACHINE_INSTANCE_FINALIZER))
    {
        list.push(json!(VIRTUAL_MACHINE_INSTANCE_FINALIZER));
    }
    let status = js::object_at(object, &["status"]);
    if let Some(m) = seed.memory {
        status.insert(
            "memory".into(),
            serde_json::to_value(m).map_err(|e| refuse(webhook::VMI_MUTATOR, e))?,
        );
    }
    if let Some(t) = seed.current_cpu_topology
        && !status.contains_key("currentCPUTopology")
    {
        status.insert(
            "currentCPUTopology".into(),
            serde_json::to_value(t).map_err(|e| refuse(webhook::VMI_MUTATOR, e))?,
        );
    }
    if !config.is_enabled(gate::ROOT) {
        status.insert("runtimeUser".into(), json!(NON_ROOT_UID));
    }
    status.insert("phase".into(), json!("Pending"));
    let transitions = status
        .entry("phaseTransitionTimestamps")
        .or_insert_with(|| json!([]));
    if !transitions.is_array() {
        *transitions = json!([]);
    }
    transitions
        .as_array_mut()
        .expect("just made an array")
        .push(json!({"phase": "Pending", "phaseTransitionTimestamp": now}));
    Ok(())
}

/// VMIs have no status subresource; a status change by anyone but KubeVirt is undone.
pub fn revert_status(object: &mut Value, old: &Value) {
    if object.get("status") == old.get("status") {
        return;
    }
    let Some(obj) = object.as_object_mut() else {
        return;
    };
    match old.get("status") {
        Some(s) => {
            obj.insert("status".into(), s.clone());
        }
        None => {
            obj.remove("status");
        }
    }
}

/// The rules of `VMICreateAdmitter`.
pub fn validate_create(
    config: &ClusterConfig,
    spec: &VirtualMachineInstanceSpec,
    object: &Value,
    is_kubevirt: bool,
) -> Vec<Cause> {
    let root = Path::new("spec");
    let mut causes = spec::validate_spec(&root, spec, config);
    causes.extend(spec::validate_volume_disks(&root, spec));
    causes.extend(spec::validate_mandatory_memory(&root, spec));
    causes.extend(spec::validate_metadata(
        &Path::new("metadata"),
        &string_map(object, "/metadata/labels"),
        &string_map(object, "/metadata/annotations"),
        config,
        is_kubevirt,
    ));
    causes.extend(spec::validate_per_arch(&root, spec));
    causes
}

/// The rules of `VMIUpdateAdmitter`: users may not change the spec or reserved labels;
/// KubeVirt may change the spec but not the hotplug limits.
pub fn validate_update(
    object: &Value,
    old: &Value,
    is_kubevirt: bool,
) -> Result<Vec<Cause>, ApiError> {
    let new_spec: VirtualMachineInstanceSpec =
        decode(webhook::VMI_UPDATE_VALIDATOR, object, "/spec")?;
    let old_spec: VirtualMachineInstanceSpec = decode(webhook::VMI_UPDATE_VALIDATOR, old, "/spec")?;
    if new_spec != old_spec {
        if !is_kubevirt {
            return Ok(vec![field::not_supported(
                "",
                "update of VMI object is restricted",
            )]);
        }
        let max_sockets =
            |s: &VirtualMachineInstanceSpec| s.domain.cpu.as_ref().and_then(|c| c.max_sockets);
        if max_sockets(&new_spec) != max_sockets(&old_spec) {
            return Ok(vec![field::invalid("", "CPU topology maxSockets changed")]);
        }
        let max_guest = |s: &VirtualMachineInstanceSpec| {
            s.domain
                .memory
                .as_ref()
                .and_then(|m| m.max_guest.as_ref())
                .map(|q| super::defaults::quantity_of(Some(q)))
        };
        if let (Some(a), Some(b)) = (max_guest(&old_spec), max_guest(&new_spec))
            && a != b
        {
            return Ok(vec![field::invalid("", "Memory maxGuest changed")]);
        }
    }
    if !is_kubevirt
        && spec::reserved_labels_changed(
            &string_map(old, "/metadata/labels"),
            &string_map(object, "/metadata/labels"),
        )
    {
        return Ok(vec![field::not_supported(
            "",
            "modification of the following reserved kubevirt.io/ labels on a VMI object is prohibited",
        )]);
    }
    Ok(vec![])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vmi(spec: Value) -> Value {
        json!({"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachineInstance",
               "metadata": {"name": "v", "namespace": "default"}, "spec": spec})
    }

    fn created(spec: Value) -> Value {
        let mut obj = vmi(spec);
        mutate_create(&ClusterConfig::default(), &mut obj, "2026-01-01T00:00:00Z").unwrap();
        obj
    }

    #[test]
    fn creation_sets_finalizer_pending_phase_and_status_seeds() {
        let obj = created(
            json!({"domain": {"devices": {}, "resources": {"requests": {"memory": "64Mi"}}}}),
        );
        assert_eq!(
            obj["metadata"]["finalizers"],
            json!([VIRTUAL_MACHINE_INSTANCE_FINALIZER])
        );
        assert_eq!(
            obj["metadata"]["annotations"][PCI_TOPOLOGY_VERSION_ANNOTATION],
            "v3"
        );
        let status = &obj["status"];
        assert_eq!(status["phase"], "Pending");
        assert_eq!(
            status["phaseTransitionTimestamps"],
            json!([{"phase": "Pending", "phaseTransitionTimestamp": "2026-01-01T00:00:00Z"}])
        );
        assert_eq!(status["memory"]["guestAtBoot"], "64Mi");
        assert_eq!(
            status["currentCPUTopology"],
            json!({"cores": 1, "sockets": 1, "threads": 1})
        );
        assert_eq!(status["runtimeUser"], 107);
        assert_eq!(obj["spec"]["domain"]["memory"]["guest"], "64Mi");
    }

    #[test]
    fn creation_keeps_fields_outside_the_typed_spec() {
        let obj = created(json!({"domain": {"devices": {}, "clock": {"utc": {}, "custom": 1}}}));
        assert_eq!(obj["spec"]["domain"]["clock"]["custom"], 1);
    }

    #[test]
    fn creation_is_refused_when_bridge_is_not_permitted() {
        let config = ClusterConfig {
            permit_bridge_interface_on_pod_network: false,
            ..Default::default()
        };
        let mut obj = vmi(json!({"domain": {"devices": {}}}));
        let err = mutate_create(&config, &mut obj, "t").unwrap_err();
        assert!(
            err.to_string()
                .ends_with("bridge interface is not enabled in kubevirt-config")
        );
        assert_eq!(err.status().0.as_u16(), 400);
    }

    #[test]
    fn status_edits_are_reverted() {
        let old = json!({"spec": {}, "status": {"phase": "Running"}});
        let mut new = json!({"spec": {}, "status": {"phase": "Failed"}});
        revert_status(&mut new, &old);
        assert_eq!(new["status"]["phase"], "Running");
        let mut added = json!({"spec": {}, "status": {"phase": "Failed"}});
        revert_status(&mut added, &json!({"spec": {}}));
        assert!(added.get("status").is_none());
    }

    #[test]
    fn spec_changes_are_restricted_to_kubevirt() {
        let old = vmi(json!({"domain": {"devices": {}, "cpu": {"sockets": 1, "maxSockets": 4}}}));
        let mut new = old.clone();
        new["spec"]["domain"]["cpu"]["sockets"] = json!(2);
        let c = validate_update(&new, &old, false).unwrap();
        assert_eq!(c[0].message, "update of VMI object is restricted");
        assert_eq!(c[0].reason, "FieldValueNotSupported");
        assert!(validate_update(&new, &old, true).unwrap().is_empty());
        new["spec"]["domain"]["cpu"]["maxSockets"] = json!(8);
        assert_eq!(
            validate_update(&new, &old, true).unwrap()[0].message,
            "CPU topology maxSockets changed"
        );
    }

    #[test]
    fn reserved_label_changes_are_restricted_to_kubevirt() {
        let old = vmi(json!({"domain": {"devices": {}}}));
        let mut new = old.clone();
        new["metadata"]["labels"] = json!({"kubevirt.io/nodeName": "n1", "app": "x"});
        assert!(
            validate_update(&new, &old, false).unwrap()[0]
                .message
                .starts_with("modification of the following")
        );
        assert!(validate_update(&new, &old, true).unwrap().is_empty());
        let mut plain = old.clone();
        plain["metadata"]["labels"] = json!({"app": "x"});
        assert!(validate_update(&plain, &old, false).unwrap().is_empty());
    }

    #[test]
    fn creation_reports_every_disk_without_a_volume() {
        let obj = created(json!({
            "domain": {"devices": {"disks": [
                {"name": "ok", "disk": {}}, {"name": "a", "disk": {}}, {"name": "b", "disk": {}}]},
                "resources": {"requests": {"memory": "64Mi"}}},
            "volumes": [{"name": "ok", "containerDisk": {"image": "i"}}],
        }));
        let spec: VirtualMachineInstanceSpec = serde_json::from_value(obj["spec"].clone()).unwrap();
        let causes = validate_create(&ClusterConfig::default(), &spec, &obj, false);
        let fields: Vec<&str> = causes.iter().map(|c| c.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "spec.domain.devices.disks[1].name",
                "spec.domain.devices.disks[2].name"
            ]
        );
        assert_eq!(
            causes[0].message,
            "spec.domain.devices.disks[1].Name 'a' not found."
        );
    }

    #[test]
    fn creation_without_memory_is_rejected() {
        let obj = created(json!({"domain": {"devices": {}}}));
        let spec: VirtualMachineInstanceSpec = serde_json::from_value(obj["spec"].clone()).unwrap();
        let causes = validate_create(&ClusterConfig::default(), &spec, &obj, false);
        assert_eq!(causes.len(), 1);
        assert_eq!(
            causes[0].message,
            "no memory requested, at least one of 'spec.domain.memory.guest', 'spec.domain.memory.hugepages.pageSize' or 'spec.domain.resources.requests.memory' must be set"
        );
    }

    #[test]
    fn reserved_labels_may_only_be_set_by_kubevirt() {
        let mut obj = created(json!({"domain": {"devices": {}, "memory": {"guest": "64Mi"}}}));
        obj["metadata"]["labels"] = json!({"kubevirt.io/created-by": "x"});
        let spec: VirtualMachineInstanceSpec = serde_json::from_value(obj["spec"].clone()).unwrap();
        let c = validate_create(&ClusterConfig::default(), &spec, &obj, false);
        assert_eq!(c[0].field, "metadata.labels");
        assert!(validate_create(&ClusterConfig::default(), &spec, &obj, true).is_empty());
    }
}
