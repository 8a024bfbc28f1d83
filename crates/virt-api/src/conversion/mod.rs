//! Old KubeVirt API versions served by conversion of the stored `kubevirt.io/v1` objects:
//!
//! * `kubevirt.io/v1alpha1` **OfflineVirtualMachine** (`ovm`, `ovms`): a view of the stored
//!   VirtualMachines under their first name ([`ovm`]).
//! * `kubevirt.io/v1alpha2` **VirtualMachine**: a version of `virtualmachines` whose templates
//!   have the old disk/volume shape ([`versions`]).
//!
//! Neither version has a schema of its own: the server checks the converted object against
//! the v1 schema, so fields v1 does not know (e.g. a misnested `spec.selector.template`) are
//! reported as unknown fields of the request, or pruned, as `fieldValidation` says.

pub mod ovm;
mod shape;
pub mod versions;

use apiserver::registry::{GroupResource, PrinterColumn, VersionDef};
use apiserver::{ApiError, Cause, EventKindAlias, Registry, Target};

pub use ovm::{OfflineVirtualMachineConverter, offline_virtual_machines};
pub use versions::{V1ALPHA2, VirtualMachineVersionsConverter};

/// Conversion failures.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ConversionError {
    #[error("the object is not a JSON object")]
    NotAnObject,
    #[error("{kind} has no version {version} in kubevirt.io")]
    UnknownVersion { kind: &'static str, version: String },
    /// Fields of the old shape that have no v1 meaning (a disk naming a missing volume).
    #[error("the object cannot be converted")]
    Invalid {
        kind: &'static str,
        plural: &'static str,
        name: String,
        causes: Vec<Cause>,
    },
}

impl From<ConversionError> for ApiError {
    fn from(e: ConversionError) -> Self {
        match e {
            ConversionError::Invalid {
                kind,
                plural,
                name,
                causes,
            } => ApiError::invalid(kind, Target::new(api::keys::GROUP, plural, &name), causes),
            other => ApiError::bad_request(other.to_string()),
        }
    }
}

/// The stored resource both old versions convert to.
pub fn virtual_machines() -> GroupResource {
    GroupResource::new(api::keys::GROUP, "virtualmachines")
}

fn column(name: &str, type_: &str, json_path: &str) -> PrinterColumn {
    PrinterColumn {
        name: name.into(),
        type_: type_.into(),
        format: String::new(),
        description: String::new(),
        priority: 0,
        json_path: json_path.into(),
    }
}

fn deprecated_version(
    name: &str,
    warning: String,
    printer_columns: Vec<PrinterColumn>,
) -> VersionDef {
    VersionDef {
        name: name.into(),
        served: true,
        storage: false,
        deprecated: true,
        deprecation_warning: Some(warning),
        schema: None,
        printer_columns,
        status_subresource: true,
        scale: None,
    }
}

/// Adds the OfflineVirtualMachine view and the v1alpha2 version of VirtualMachines. Idempotent;
/// the v1alpha2 version is added only if `virtualmachines.kubevirt.io` is registered. Events
/// asked for about an OfflineVirtualMachine are those recorded about its VirtualMachine (same
/// name and uid), so `kubectl describe offlinevirtualmachine` lists them.
pub fn register(reg: &mut Registry) {
    if reg.get(api::keys::GROUP, ovm::PLURAL).is_none() {
        // Cannot fail: the name was just checked to be free.
        let _ = reg.register(offline_virtual_machines());
    }
    reg.add_event_kind_alias(EventKindAlias::new(
        (&format!("{}/{}", api::keys::GROUP, ovm::VERSION), ovm::KIND),
        (&format!("{}/v1", api::keys::GROUP), "VirtualMachine"),
    ));
    reg.modify(api::keys::GROUP, "virtualmachines", versions::add_v1alpha2);
}

#[cfg(test)]
mod tests {
    use super::*;
    use apiserver::registry::ResourceDef;

    fn registry() -> Registry {
        let mut reg = Registry::new();
        for crd in api::crds() {
            reg.register(ResourceDef::from_crd(&serde_json::to_value(&crd).unwrap()).unwrap())
                .unwrap();
        }
        reg
    }

    #[test]
    fn registration_adds_the_view_and_the_old_version_once() {
        let mut reg = registry();
        register(&mut reg);
        register(&mut reg);
        let ovm = reg
            .lookup("kubevirt.io", "v1alpha1", "offlinevirtualmachines")
            .unwrap();
        assert_eq!(ovm.kind, "OfflineVirtualMachine");
        assert_eq!(ovm.short_names, ["ovm", "ovms"]);
        assert_eq!(ovm.storage_of.as_ref().unwrap().0, virtual_machines());
        let vm = reg
            .lookup("kubevirt.io", "v1alpha2", "virtualmachines")
            .unwrap();
        assert_eq!(vm.versions.iter().filter(|v| v.name == V1ALPHA2).count(), 1);
        assert_eq!(vm.storage_version().name, "v1");
        assert_eq!(vm.storage_of.as_ref().unwrap().0, virtual_machines());
        assert_eq!(
            reg.event_kind_aliases(),
            [EventKindAlias::new(
                ("kubevirt.io/v1alpha1", "OfflineVirtualMachine"),
                ("kubevirt.io/v1", "VirtualMachine")
            )]
        );
    }

    #[test]
    fn typos_become_invalid_errors_naming_the_object() {
        let e: ApiError = ConversionError::Invalid {
            kind: "OfflineVirtualMachine",
            plural: "offlinevirtualmachines",
            name: "myvm".into(),
            causes: vec![Cause::invalid("spec.x", "Invalid value: \"a\": bad")],
        }
        .into();
        assert_eq!(e.status().0.as_u16(), 422);
        assert_eq!(
            e.to_string(),
            "OfflineVirtualMachine.kubevirt.io \"myvm\" is invalid: spec.x: Invalid value: \"a\": bad"
        );
    }
}
