//! `kubevirt.io/v1alpha1` OfflineVirtualMachine, the first name of today's VirtualMachine,
//! served as a view of the stored VirtualMachines.
//!
//! Conversion to v1 keeps `spec.running` (the only run control v1alpha1 had) and the template,
//! in the old disk shape ([`super::shape`]); the status gains `virtualMachine` (the name of the
//! VM when one was created). Reading a VM whose `runStrategy` is `Always` or `Halted` shows it
//! as `running: true`/`false`, so the documented `kubectl patch ... {"spec":{"running":true}}`
//! works on any VM; a write through this view then stores `running`. Other run strategies are
//! shown as `runStrategy`.

use std::collections::BTreeMap;
use std::sync::Arc;

use apiserver::ApiError;
use apiserver::registry::{Converter, ResourceDef};
use serde_json::{Value, json};

use super::{ConversionError, column, deprecated_version, shape, virtual_machines};

pub const KIND: &str = "OfflineVirtualMachine";
pub const PLURAL: &str = "offlinevirtualmachines";
pub const VERSION: &str = "v1alpha1";

/// The resource definition of the view.
pub fn offline_virtual_machines() -> ResourceDef {
    let columns = vec![
        column("Age", "date", ".metadata.creationTimestamp"),
        column("Running", "boolean", ".spec.running"),
        column("Created", "boolean", ".status.created"),
        column("Ready", "boolean", ".status.ready"),
    ];
    let mut version = deprecated_version(
        VERSION,
        "kubevirt.io/v1alpha1 OfflineVirtualMachine is deprecated; use kubevirt.io/v1 VirtualMachine".into(),
        columns,
    );
    version.storage = true;
    ResourceDef {
        group: api::keys::GROUP.into(),
        kind: KIND.into(),
        list_kind: format!("{KIND}List"),
        plural: PLURAL.into(),
        singular: "offlinevirtualmachine".into(),
        short_names: vec!["ovm".into(), "ovms".into()],
        categories: vec![],
        namespaced: true,
        versions: vec![version],
        builtin: false,
        selectable_fields: vec![],
        storage_of: Some((virtual_machines(), Arc::new(OfflineVirtualMachineConverter))),
        table: None,
        crd_labels: BTreeMap::from([(api::keys::APP_LABEL.to_string(), String::new())]),
    }
}

/// Converts OfflineVirtualMachines to and from stored VirtualMachines.
pub struct OfflineVirtualMachineConverter;

fn name_of(object: &Value) -> String {
    object
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string()
}

/// v1alpha1 → stored v1 VirtualMachine.
pub fn to_v1(mut object: Value) -> Result<Value, ConversionError> {
    let name = name_of(&object);
    let obj = object.as_object_mut().ok_or(ConversionError::NotAnObject)?;
    obj.insert("apiVersion".into(), json!("kubevirt.io/v1"));
    obj.insert("kind".into(), json!("VirtualMachine"));
    if let Some(status) = obj.get_mut("status").and_then(Value::as_object_mut) {
        status.remove("virtualMachine");
    }
    shape::to_v1(&mut object).map_err(|causes| ConversionError::Invalid {
        kind: KIND,
        plural: PLURAL,
        name,
        causes,
    })?;
    Ok(object)
}

/// Stored v1 VirtualMachine → v1alpha1.
pub fn from_v1(mut object: Value) -> Result<Value, ConversionError> {
    let name = name_of(&object);
    let obj = object.as_object_mut().ok_or(ConversionError::NotAnObject)?;
    obj.insert("apiVersion".into(), json!(format!("kubevirt.io/{VERSION}")));
    obj.insert("kind".into(), json!(KIND));
    if let Some(spec) = obj.get_mut("spec").and_then(Value::as_object_mut)
        && spec.get("running").is_none_or(|r| r.is_null())
    {
        let running = match spec.get("runStrategy").and_then(Value::as_str) {
            Some("Always") => Some(true),
            Some("Halted") => Some(false),
            _ => None,
        };
        if let Some(r) = running {
            spec.remove("runStrategy");
            spec.insert("running".into(), json!(r));
        }
    }
    if let Some(status) = obj.get_mut("status").and_then(Value::as_object_mut)
        && status.get("created").and_then(Value::as_bool) == Some(true)
    {
        status.insert("virtualMachine".into(), json!(name));
    }
    shape::from_v1(&mut object);
    Ok(object)
}

fn check_version(version: &str) -> Result<(), ConversionError> {
    if version == VERSION {
        Ok(())
    } else {
        Err(ConversionError::UnknownVersion {
            kind: KIND,
            version: version.into(),
        })
    }
}

impl Converter for OfflineVirtualMachineConverter {
    fn to_storage(&self, version: &str, object: Value) -> Result<Value, ApiError> {
        check_version(version)?;
        Ok(to_v1(object)?)
    }

    fn from_storage(&self, version: &str, object: Value) -> Result<Value, ApiError> {
        check_version(version)?;
        Ok(from_v1(object)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seed() -> Value {
        json!({
            "apiVersion": "kubevirt.io/v1alpha1",
            "kind": "OfflineVirtualMachine",
            "metadata": {"name": "myvm"},
            "spec": {
                "running": false,
                "template": {
                    "metadata": {"labels": {"my": "label"}},
                    "spec": {
                        "domain": {"resources": {"requests": {"memory": "8Mi"}},
                                   "devices": {"disks": [{"name": "disk0", "volumeName": "mypvc"}]}},
                        "volumes": [{"name": "mypvc", "persistentVolumeClaim": {"claimName": "myclaim"}}]
                    }
                }
            }
        })
    }

    #[test]
    fn an_offline_vm_is_stored_as_a_v1_vm() {
        let v1 = to_v1(seed()).unwrap();
        assert_eq!(v1["apiVersion"], "kubevirt.io/v1");
        assert_eq!(v1["kind"], "VirtualMachine");
        assert_eq!(v1["spec"]["running"], false);
        assert_eq!(
            v1["spec"]["template"]["spec"]["domain"]["devices"]["disks"],
            json!([{"name": "mypvc"}])
        );
    }

    #[test]
    fn a_stored_vm_reads_as_an_offline_vm_with_its_created_vm() {
        let mut v1 = to_v1(seed()).unwrap();
        v1["status"] = json!({"created": true, "ready": false, "printableStatus": "Starting"});
        let back = from_v1(v1).unwrap();
        assert_eq!(back["kind"], KIND);
        assert_eq!(back["apiVersion"], "kubevirt.io/v1alpha1");
        assert_eq!(back["status"]["virtualMachine"], "myvm");
        assert_eq!(back["status"]["printableStatus"], "Starting");
        assert_eq!(
            back["spec"]["template"]["spec"]["domain"]["devices"]["disks"][0]["volumeName"],
            "mypvc"
        );
        assert_eq!(
            to_v1(back).unwrap()["status"],
            json!({"created": true, "ready": false, "printableStatus": "Starting"})
        );
    }

    #[test]
    fn simple_run_strategies_read_as_running() {
        let vm = |s: &str| json!({"metadata": {"name": "v"}, "spec": {"runStrategy": s, "template": {}}});
        assert_eq!(
            from_v1(vm("Always")).unwrap()["spec"],
            json!({"running": true, "template": {}})
        );
        assert_eq!(
            from_v1(vm("Halted")).unwrap()["spec"],
            json!({"running": false, "template": {}})
        );
        assert_eq!(
            from_v1(vm("Manual")).unwrap()["spec"],
            json!({"runStrategy": "Manual", "template": {}})
        );
    }

    #[test]
    fn the_seed_typo_is_rejected_with_the_volumes_it_could_mean() {
        let mut typo = seed();
        typo["spec"]["template"]["spec"]["domain"]["devices"]["disks"][0]["volumeName"] =
            json!("mypcv");
        let e: ApiError = to_v1(typo).unwrap_err().into();
        assert_eq!(
            e.to_string(),
            "OfflineVirtualMachine.kubevirt.io \"myvm\" is invalid: spec.template.spec.domain.devices.disks[0].volumeName: Invalid value: \"mypcv\": no volume named mypcv; volumes are [mypvc]"
        );
    }

    #[test]
    fn other_versions_are_refused() {
        let c = OfflineVirtualMachineConverter;
        assert_eq!(
            c.to_storage("v1", seed()).unwrap_err().status().0.as_u16(),
            400
        );
    }
}
