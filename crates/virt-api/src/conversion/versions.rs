//! The versions of `virtualmachines.kubevirt.io`: `v1` (storage), `v1alpha3` (same shape) and
//! `v1alpha2`, served by conversion: its templates name volumes in `disks[].volumeName` and
//! use `registryDisk` volumes.

use std::sync::Arc;

use apiserver::ApiError;
use apiserver::registry::{Converter, ResourceDef};
use serde_json::{Value, json};

use super::{ConversionError, deprecated_version, shape, virtual_machines};

pub const V1ALPHA2: &str = "v1alpha2";
const KIND: &str = "VirtualMachine";
const PLURAL: &str = "virtualmachines";

/// Adds the v1alpha2 version (no schema; printer columns of v1) and the converter.
pub fn add_v1alpha2(def: &mut ResourceDef) {
    if def.versions.iter().any(|v| v.name == V1ALPHA2) {
        return;
    }
    let columns = def.storage_version().printer_columns.clone();
    def.versions.push(deprecated_version(
        V1ALPHA2,
        "kubevirt.io/v1alpha2 is now deprecated and will be removed in a future release.".into(),
        columns,
    ));
    if def.storage_of.is_none() {
        def.storage_of = Some((
            virtual_machines(),
            Arc::new(VirtualMachineVersionsConverter),
        ));
    }
}

/// Converts VirtualMachines between their served versions and the stored v1.
pub struct VirtualMachineVersionsConverter;

fn check_version(version: &str) -> Result<(), ConversionError> {
    match version {
        "v1" | "v1alpha3" | V1ALPHA2 => Ok(()),
        other => Err(ConversionError::UnknownVersion {
            kind: KIND,
            version: other.into(),
        }),
    }
}

fn set_type(object: &mut Value, version: &str) -> Result<(), ConversionError> {
    let obj = object.as_object_mut().ok_or(ConversionError::NotAnObject)?;
    obj.insert("apiVersion".into(), json!(format!("kubevirt.io/{version}")));
    obj.insert("kind".into(), json!(KIND));
    Ok(())
}

/// A VirtualMachine of `version` → stored v1.
pub fn to_v1(version: &str, mut object: Value) -> Result<Value, ConversionError> {
    check_version(version)?;
    set_type(&mut object, "v1")?;
    if version == V1ALPHA2 {
        let name = object
            .pointer("/metadata/name")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        shape::to_v1(&mut object).map_err(|causes| ConversionError::Invalid {
            kind: KIND,
            plural: PLURAL,
            name,
            causes,
        })?;
    }
    Ok(object)
}

/// Stored v1 → a VirtualMachine of `version`.
pub fn from_v1(version: &str, mut object: Value) -> Result<Value, ConversionError> {
    check_version(version)?;
    set_type(&mut object, version)?;
    if version == V1ALPHA2 {
        shape::from_v1(&mut object);
    }
    Ok(object)
}

impl Converter for VirtualMachineVersionsConverter {
    fn to_storage(&self, version: &str, object: Value) -> Result<Value, ApiError> {
        Ok(to_v1(version, object)?)
    }

    fn from_storage(&self, version: &str, object: Value) -> Result<Value, ApiError> {
        Ok(from_v1(version, object)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seed() -> Value {
        json!({
            "apiVersion": "kubevirt.io/v1alpha2",
            "kind": "VirtualMachine",
            "metadata": {"name": "vm-cirros"},
            "spec": {"running": false, "template": {"spec": {
                "domain": {"devices": {"disks": [
                    {"disk": {"bus": "virtio"}, "name": "containerdisk", "volumeName": "registryvolume"},
                    {"disk": {"bus": "virtio"}, "name": "cloudinitdisk", "volumeName": "cloudinitvolume"}]}},
                "volumes": [
                    {"name": "registryvolume", "containerDisk": {"image": "kubevirt/cirros-container-disk-demo:latest"}},
                    {"name": "cloudinitvolume", "cloudInitNoCloud": {"userDataBase64": "IyEvYmluL3NoCg=="}}]}}}
        })
    }

    #[test]
    fn v1alpha2_templates_are_reshaped() {
        let v1 = to_v1(V1ALPHA2, seed()).unwrap();
        assert_eq!(v1["apiVersion"], "kubevirt.io/v1");
        let disks = &v1["spec"]["template"]["spec"]["domain"]["devices"]["disks"];
        assert_eq!(
            disks[0],
            json!({"disk": {"bus": "virtio"}, "name": "registryvolume"})
        );
        assert_eq!(disks[1]["name"], "cloudinitvolume");
        let back = from_v1(V1ALPHA2, v1).unwrap();
        assert_eq!(back["apiVersion"], "kubevirt.io/v1alpha2");
        assert_eq!(
            back["spec"]["template"]["spec"]["volumes"][0]["registryDisk"]["image"],
            "kubevirt/cirros-container-disk-demo:latest"
        );
    }

    #[test]
    fn newer_versions_only_change_the_api_version() {
        let vm = json!({"apiVersion": "kubevirt.io/v1alpha3", "kind": "VirtualMachine", "metadata": {"name": "v"},
            "spec": {"template": {"spec": {"domain": {"devices": {"disks": [{"name": "d", "volumeName": "x"}]}}}}}});
        let v1 = to_v1("v1alpha3", vm.clone()).unwrap();
        assert_eq!(v1["spec"], vm["spec"]);
        assert_eq!(from_v1("v1alpha3", v1).unwrap(), vm);
    }

    #[test]
    fn unknown_versions_are_refused() {
        assert!(matches!(
            to_v1("v2", seed()),
            Err(ConversionError::UnknownVersion { .. })
        ));
    }
}
