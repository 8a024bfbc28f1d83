//! VirtualMachine admission: `vm-mutator.go` and `vms-admitter.go`.

use std::sync::Arc;

use api::keys::PCI_TOPOLOGY_VERSION_ANNOTATION;
use api::{Firmware, VirtualMachineInstanceSpec};
use apiserver::{Admission, AdmissionRequest, ApiError, Cause, Operation, ResourceDef};
use serde_json::{Value, json};

use super::config::{ClusterConfig, gate};
use super::defaults::{
    live_update_memory_error, set_vm_template_defaults, set_vmi_spec_defaults,
    supports_pcie_hotplug,
};
use super::field::{self, Path};
use super::{
    decode, deny, is_deleting, is_kubevirt, json as js, refuse, spec, stores, string_map, webhook,
};

/// Warning for the deprecated `spec.running`.
pub const RUNNING_DEPRECATED: &str =
    "spec.running is deprecated, please use spec.runStrategy instead.";

const RUN_STRATEGIES: &[&str] = &["Halted", "Manual", "Always", "RerunOnFailure", "Once"];

/// Defaults and validation of VirtualMachines (and their views such as OfflineVirtualMachine).
pub struct VirtualMachineAdmission {
    config: Arc<ClusterConfig>,
}

impl VirtualMachineAdmission {
    pub fn new(config: Arc<ClusterConfig>) -> Self {
        VirtualMachineAdmission { config }
    }
}

/// The requests the webhooks see: CREATE and UPDATE of the main resource.
fn applies(req: &AdmissionRequest<'_>) -> bool {
    matches!(req.operation, Operation::Create | Operation::Update) && req.subresource.is_none()
}

impl Admission for VirtualMachineAdmission {
    fn handles(&self, resource: &ResourceDef) -> bool {
        stores(resource, "virtualmachines")
    }

    fn mutate(
        &self,
        req: &AdmissionRequest<'_>,
        object: &mut Value,
        _old: Option<&Value>,
    ) -> Result<Vec<String>, ApiError> {
        if !applies(req) || is_deleting(object) {
            return Ok(vec![]);
        }
        mutate_vm(&self.config, req.operation == Operation::Create, object)?;
        Ok(vec![])
    }

    fn validate(
        &self,
        req: &AdmissionRequest<'_>,
        object: &Value,
        old: Option<&Value>,
    ) -> Result<Vec<String>, ApiError> {
        if !applies(req) || is_deleting(object) {
            return Ok(vec![]);
        }
        let causes = validate_vm(&self.config, req, object, old)?;
        if !causes.is_empty() {
            return Err(deny(webhook::VM_VALIDATOR, causes));
        }
        let mut warnings = Vec::new();
        if object
            .pointer("/spec/running")
            .is_some_and(|v| !v.is_null())
        {
            warnings.push(RUNNING_DEPRECATED.to_string());
        }
        Ok(warnings)
    }
}

/// The VM mutator: firmware UUID and serial on create, architecture and machine type always,
/// the PCI topology annotation on create.
pub fn mutate_vm(config: &ClusterConfig, create: bool, object: &mut Value) -> Result<(), ApiError> {
    if object.pointer("/spec/template").is_none_or(Value::is_null) {
        // Nothing to default; validation reports the missing template.
        return Ok(());
    }
    let mut tspec: VirtualMachineInstanceSpec =
        decode(webhook::VM_MUTATOR, object, "/spec/template/spec")?;
    if create {
        let fw = tspec.domain.firmware.get_or_insert_with(Firmware::default);
        if fw.uuid.as_deref().unwrap_or("").is_empty() {
            fw.uuid = Some(uuid::Uuid::new_v4().to_string());
        }
        if fw.serial.as_deref().unwrap_or("").is_empty() {
            fw.serial = Some(uuid::Uuid::new_v4().to_string());
        }
    }
    set_vm_template_defaults(config, &mut tspec);
    let encoded = serde_json::to_value(&tspec).map_err(|e| refuse(webhook::VM_MUTATOR, e))?;
    let template = js::object_at(object, &["spec", "template"]);
    match template.get_mut("spec") {
        Some(slot) if slot.is_object() => js::overlay(slot, encoded),
        _ => {
            template.insert("spec".into(), encoded);
        }
    }
    if create && supports_pcie_hotplug(&tspec) {
        let annotations = js::object_at(object, &["spec", "template", "metadata", "annotations"]);
        annotations
            .entry(PCI_TOPOLOGY_VERSION_ANNOTATION)
            .or_insert_with(|| json!("v3"));
    }
    Ok(())
}

/// The causes `VMsAdmitter` finds; an error when the object cannot be processed at all.
pub fn validate_vm(
    config: &ClusterConfig,
    req: &AdmissionRequest<'_>,
    object: &Value,
    old: Option<&Value>,
) -> Result<Vec<Cause>, ApiError> {
    let root = Path::new("spec");
    let has_template = object
        .pointer("/spec/template")
        .is_some_and(|t| !t.is_null());
    let mut copy: VirtualMachineInstanceSpec =
        decode(webhook::VM_VALIDATOR, object, "/spec/template/spec")?;
    // Defaults are applied to a copy only, so that the template is validated as VMIs will be.
    set_vmi_spec_defaults(config, &mut copy).map_err(|e| refuse(webhook::VM_VALIDATOR, e))?;
    if req.operation == Operation::Create {
        let causes = spec::validate_network_creation(&root, &copy);
        if !causes.is_empty() {
            return Ok(causes);
        }
    }
    let mut causes = Vec::new();
    if !has_template {
        causes.push(field::required(
            root.child("template"),
            "missing virtual machine template.",
        ));
        return Ok(causes);
    }
    let meta = root.children(&["template", "metadata"]);
    causes.extend(spec::validate_metadata(
        &meta,
        &string_map(object, "/spec/template/metadata/labels"),
        &string_map(object, "/spec/template/metadata/annotations"),
        config,
        is_kubevirt(req.user),
    ));
    causes.extend(spec::validate_spec(
        &root.children(&["template", "spec"]),
        &copy,
        config,
    ));
    causes.extend(validate_data_volume_templates(&root, object));
    causes.extend(validate_run_strategy(&root, object, config));
    if config.live_update() {
        causes.extend(validate_live_update(&root, &copy));
    }
    if causes.is_empty() {
        causes.extend(validate_data_volume_namespaces(req, object, old));
    }
    Ok(causes)
}

/// `validateRunStrategy`: exactly one of `running` and `runStrategy`, with a known value.
pub fn validate_run_strategy(root: &Path, object: &Value, config: &ClusterConfig) -> Vec<Cause> {
    let running = object.pointer("/spec/running").filter(|v| !v.is_null());
    let strategy = object.pointer("/spec/runStrategy").filter(|v| !v.is_null());
    let mut causes = Vec::new();
    if running.is_some() && strategy.is_some() {
        causes.push(field::invalid(
            root.child("running"),
            "Running and RunStrategy are mutually exclusive. Note that Running is deprecated, please use RunStrategy instead",
        ));
    }
    if running.is_none() && strategy.is_none() {
        causes.push(field::invalid(
            root.child("running"),
            "RunStrategy must be specified",
        ));
    }
    if let Some(s) = strategy {
        let s = s.as_str().unwrap_or("");
        if s == "WaitAsReceiver" {
            if !config.is_enabled(gate::DECENTRALIZED_LIVE_MIGRATION) {
                causes.push(field::invalid(
                    root.child("runStrategy"),
                    "Invalid RunStrategy (WaitAsReceiver), DecentralizedLiveMigration feature gate is not enabled in kubevirt resource",
                ));
            }
        } else if !RUN_STRATEGIES.contains(&s) {
            causes.push(field::invalid(
                root.child("runStrategy"),
                format!("Invalid RunStrategy ({s})"),
            ));
        }
    }
    causes
}

fn validate_live_update(root: &Path, spec: &VirtualMachineInstanceSpec) -> Vec<Cause> {
    let mut causes = Vec::new();
    if let Some(cpu) = &spec.domain.cpu {
        let (sockets, max) = (cpu.sockets.unwrap_or(0), cpu.max_sockets.unwrap_or(0));
        if sockets != 0 && max != 0 && sockets > max {
            causes.push(field::invalid(
                root.children(&["template", "spec", "domain", "cpu", "sockets"]),
                "Number of sockets in CPU topology is greater than the maximum sockets allowed",
            ));
        }
    }
    if let Some(max) = spec
        .domain
        .memory
        .as_ref()
        .and_then(|m| m.max_guest.as_ref())
        && let Some(err) = live_update_memory_error(spec, Some(max))
    {
        causes.push(field::invalid(
            root.children(&["template", "spec", "domain", "memory", "guest"]),
            err,
        ));
    }
    causes
}

/// `ValidateDataVolumeTemplate`: named, one storage definition, a source, and used by a volume.
fn validate_data_volume_templates(root: &Path, object: &Value) -> Vec<Cause> {
    let mut causes = Vec::new();
    let templates = object
        .pointer("/spec/dataVolumeTemplates")
        .and_then(Value::as_array);
    let volumes = object
        .pointer("/spec/template/spec/volumes")
        .and_then(Value::as_array);
    for (idx, dv) in templates.into_iter().flatten().enumerate() {
        let at = root.child("dataVolumeTemplate").index(idx);
        let name = js::str_at(dv, "/metadata/name").unwrap_or("");
        if name.is_empty() {
            let p = at.child("name");
            causes.push(field::required(
                &p,
                format!("'name' field must not be empty for DataVolumeTemplate entry {p}."),
            ));
            continue;
        }
        let pvc = dv.pointer("/spec/pvc").filter(|v| !v.is_null());
        let storage = dv.pointer("/spec/storage").filter(|v| !v.is_null());
        let target = match (pvc, storage) {
            (None, None) => {
                causes.push(field::invalid(
                    at.children(&["PVC", "Storage"]),
                    "Missing Data volume PVC or Storage",
                ));
                continue;
            }
            (Some(_), Some(_)) => {
                causes.push(field::invalid(
                    at.children(&["PVC", "Storage"]),
                    "Duplicate storage definition, both target storage and target pvc defined",
                ));
                continue;
            }
            (Some(t), None) | (None, Some(t)) => t,
        };
        let populated = ["dataSourceRef", "dataSource"]
            .iter()
            .any(|k| target.get(*k).is_some_and(|v| !v.is_null()));
        let source = dv.pointer("/spec/source").filter(|v| !v.is_null());
        let source_ref = dv.pointer("/spec/sourceRef").filter(|v| !v.is_null());
        if populated && (source.is_some() || source_ref.is_some()) {
            causes.push(field::invalid(
                at.child("source"),
                "External population is incompatible with Source and SourceRef",
            ));
            continue;
        }
        if !populated && source.is_none() && source_ref.is_none() {
            causes.push(field::invalid(
                at.children(&["source", "sourceRef"]),
                "Data volume should have either Source, SourceRef, or be externally populated",
            ));
            continue;
        }
        if let Some(src) = source {
            let n = src
                .as_object()
                .map_or(0, |o| o.values().filter(|v| !v.is_null()).count());
            if n == 0 {
                causes.push(field::invalid(
                    at.child("source"),
                    "Missing dataVolume valid source",
                ));
                continue;
            }
            if n > 1 {
                causes.push(field::invalid(
                    at.child("source"),
                    "Multiple dataVolume sources",
                ));
                continue;
            }
        }
        let used = volumes.into_iter().flatten().any(|v| {
            js::str_at(v, "/persistentVolumeClaim/claimName") == Some(name)
                || js::str_at(v, "/dataVolume/name") == Some(name)
        });
        if !used {
            causes.push(field::required(
                &at,
                format!("DataVolumeTemplate entry {at} must be referenced in the VMI template's 'volumes' list"),
            ));
        }
    }
    causes
}

/// Embedded DataVolumes live in the VM's namespace (checked when the templates change).
fn validate_data_volume_namespaces(
    req: &AdmissionRequest<'_>,
    object: &Value,
    old: Option<&Value>,
) -> Vec<Cause> {
    let templates = object.pointer("/spec/dataVolumeTemplates");
    if let Some(old) = old
        && old.pointer("/spec/dataVolumeTemplates") == templates
    {
        return vec![];
    }
    let ns = js::str_at(object, "/metadata/namespace")
        .filter(|s| !s.is_empty())
        .unwrap_or(req.namespace);
    let mut causes = Vec::new();
    for (idx, dv) in templates
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        let dv_ns = js::str_at(dv, "/metadata/namespace").unwrap_or("");
        if !dv_ns.is_empty() && dv_ns != ns {
            causes.push(field::invalid(
                Path::new("spec").child("dataVolumeTemplates").index(idx),
                format!("Embedded DataVolume namespace {dv_ns} differs from VM namespace {ns}"),
            ));
        }
    }
    causes
}

#[cfg(test)]
mod tests {
    use super::*;
    use apiserver::UserInfo;
    use apiserver::registry::ResourceDef;

    fn vm(spec: Value) -> Value {
        json!({"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachine",
               "metadata": {"name": "vm", "namespace": "default"}, "spec": spec})
    }

    fn template() -> Value {
        json!({"spec": {"domain": {"devices": {}}}})
    }

    fn run_causes(
        running: Option<bool>,
        strategy: Option<&str>,
        config: &ClusterConfig,
    ) -> Vec<(String, String)> {
        let mut spec = json!({"template": template()});
        if let Some(r) = running {
            spec["running"] = json!(r);
        }
        if let Some(s) = strategy {
            spec["runStrategy"] = json!(s);
        }
        validate_run_strategy(&Path::new("spec"), &vm(spec), config)
            .into_iter()
            .map(|c| (c.field, c.message))
            .collect()
    }

    #[test]
    fn exactly_one_known_run_strategy_is_required() {
        let c = ClusterConfig::default();
        let both = run_causes(Some(true), Some("Always"), &c);
        assert_eq!(both[0].0, "spec.running");
        assert!(
            both[0]
                .1
                .starts_with("Running and RunStrategy are mutually exclusive.")
        );
        assert_eq!(
            run_causes(None, None, &c),
            [(
                "spec.running".into(),
                "RunStrategy must be specified".into()
            )]
        );
        assert_eq!(
            run_causes(None, Some("invalid"), &c),
            [(
                "spec.runStrategy".into(),
                "Invalid RunStrategy (invalid)".into()
            )]
        );
        for s in [
            "Always",
            "Halted",
            "Manual",
            "RerunOnFailure",
            "Once",
            "WaitAsReceiver",
        ] {
            assert!(run_causes(None, Some(s), &c).is_empty(), "{s}");
        }
        assert!(run_causes(Some(false), None, &c).is_empty());
    }

    #[test]
    fn wait_as_receiver_needs_decentralized_live_migration() {
        let off = ClusterConfig {
            disabled_feature_gates: vec![gate::DECENTRALIZED_LIVE_MIGRATION.into()],
            ..Default::default()
        };
        let c = run_causes(None, Some("WaitAsReceiver"), &off);
        assert_eq!(
            c[0].1,
            "Invalid RunStrategy (WaitAsReceiver), DecentralizedLiveMigration feature gate is not enabled in kubevirt resource"
        );
    }

    #[test]
    fn creation_sets_firmware_identity_machine_and_topology_annotation() {
        let mut obj = vm(json!({"runStrategy": "Halted", "template": template()}));
        mutate_vm(&ClusterConfig::default(), true, &mut obj).unwrap();
        let fw = &obj["spec"]["template"]["spec"]["domain"]["firmware"];
        assert!(uuid::Uuid::parse_str(fw["uuid"].as_str().unwrap()).is_ok());
        assert!(uuid::Uuid::parse_str(fw["serial"].as_str().unwrap()).is_ok());
        assert_ne!(fw["uuid"], fw["serial"]);
        assert_eq!(
            obj["spec"]["template"]["spec"]["domain"]["machine"]["type"],
            "q35"
        );
        assert_eq!(obj["spec"]["template"]["spec"]["architecture"], "amd64");
        assert_eq!(
            obj["spec"]["template"]["metadata"]["annotations"][PCI_TOPOLOGY_VERSION_ANNOTATION],
            "v3"
        );
    }

    #[test]
    fn updates_keep_the_firmware_as_it_is() {
        let mut obj = vm(json!({"runStrategy": "Halted", "template": template()}));
        mutate_vm(&ClusterConfig::default(), false, &mut obj).unwrap();
        assert!(
            obj["spec"]["template"]["spec"]["domain"]
                .get("firmware")
                .is_none()
        );
        assert!(obj["spec"]["template"].get("metadata").is_none());
        let mut fixed = vm(
            json!({"runStrategy": "Halted", "template": {"spec": {"domain": {"devices": {},
            "firmware": {"uuid": "u1", "serial": "s1"}, "machine": {"type": "pc-q35-rhel9.4.0"}}}}}),
        );
        mutate_vm(&ClusterConfig::default(), true, &mut fixed).unwrap();
        let d = &fixed["spec"]["template"]["spec"]["domain"];
        assert_eq!(
            (
                d["firmware"]["uuid"].as_str(),
                d["firmware"]["serial"].as_str()
            ),
            (Some("u1"), Some("s1"))
        );
        assert_eq!(d["machine"]["type"], "pc-q35-rhel9.4.0");
    }

    fn validate(obj: &Value) -> Vec<Cause> {
        static DEF: std::sync::OnceLock<ResourceDef> = std::sync::OnceLock::new();
        let def = DEF.get_or_init(|| {
            ResourceDef::from_crd(&serde_json::to_value(&api::crds()[0]).unwrap()).unwrap()
        });
        let user = UserInfo::new("alice", &["system:authenticated"]);
        let req = AdmissionRequest {
            operation: Operation::Create,
            resource: def,
            version: "v1",
            subresource: None,
            namespace: "default",
            name: "vm",
            user: &user,
            dry_run: false,
        };
        validate_vm(&ClusterConfig::default(), &req, obj, None).unwrap()
    }

    #[test]
    fn a_template_without_memory_is_accepted() {
        assert!(
            validate(&vm(
                json!({"runStrategy": "Always", "template": template()})
            ))
            .is_empty()
        );
    }

    #[test]
    fn template_rules_are_reported_under_the_template() {
        let obj = vm(
            json!({"runStrategy": "Always", "template": {"spec": {"domain": {"devices": {
            "disks": [{"name": "d", "disk": {"bus": "ide"}}]}}, "volumes": [{"name": "d", "emptyDisk": {"capacity": "1Gi"}}]}}}),
        );
        let c = validate(&obj);
        assert_eq!(
            c[0].field,
            "spec.template.spec.domain.devices.disks[0].disk.bus"
        );
        assert_eq!(c[0].message, "IDE bus is not supported");
    }

    #[test]
    fn data_volume_templates_must_be_used() {
        let dv =
            json!({"metadata": {"name": "dv1"}, "spec": {"storage": {}, "source": {"blank": {}}}});
        let unused = vm(
            json!({"runStrategy": "Always", "dataVolumeTemplates": [dv], "template": template()}),
        );
        let c = validate(&unused);
        assert_eq!(
            c[0].message,
            "DataVolumeTemplate entry spec.dataVolumeTemplate[0] must be referenced in the VMI template's 'volumes' list"
        );
        let used = vm(json!({"runStrategy": "Always", "dataVolumeTemplates": [dv],
            "template": {"spec": {"domain": {"devices": {}}, "volumes": [{"name": "v", "dataVolume": {"name": "dv1"}}]}}}));
        assert!(validate(&used).is_empty());
    }

    #[test]
    fn reserved_template_labels_are_rejected_for_users() {
        let obj = vm(
            json!({"runStrategy": "Always", "template": {"metadata": {"labels": {"kubevirt.io/nodeName": "n"}},
            "spec": {"domain": {"devices": {}}}}}),
        );
        assert_eq!(validate(&obj)[0].field, "spec.template.metadata.labels");
    }
}
