//! The CustomResourceDefinitions kubevirtd serves, in the shape upstream KubeVirt and CDI
//! install them: names, scope, short names, categories, printer columns, subresources, labels and
//! versions.
//!
//! The four core `kubevirt.io` kinds are served as `v1` (storage) and `v1alpha3` (deprecated)
//! with the same schema. The other kinds keep their upstream version layout: presets are
//! deprecated in both versions and stored as `v1alpha3`; pools are served as `v1alpha1` and
//! `v1beta1` (storage) with one schema; instancetypes, preferences, migration policies, data
//! volumes and data sources have a single version.

use std::collections::BTreeMap;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::{
    CustomResourceConversion, CustomResourceDefinition, CustomResourceDefinitionVersion,
    JSONSchemaProps,
};
use kube::core::CustomResourceExt;
use serde_json::{Value, json};

use crate::keys::{APP_LABEL, DEPRECATED_VERSION};
use crate::preset::{PRESET_V1_DEPRECATION_WARNING, PRESET_V1ALPHA3_DEPRECATION_WARNING};
use crate::{
    DataSource, DataVolume, MigrationPolicy, VirtualMachine, VirtualMachineClusterInstancetype,
    VirtualMachineClusterPreference, VirtualMachineInstance, VirtualMachineInstanceMigration,
    VirtualMachineInstancePreset, VirtualMachineInstanceReplicaSet, VirtualMachineInstancetype,
    VirtualMachinePool, VirtualMachinePreference,
};

/// Label upstream CDI puts on the objects it installs.
const CDI_LABEL: &str = "cdi.kubevirt.io";

/// Warning returned to clients that use the deprecated version.
pub const DEPRECATION_WARNING: &str =
    "kubevirt.io/v1alpha3 is now deprecated and will be removed in a future release.";

const API_VERSION_DESCRIPTION: &str = "APIVersion defines the versioned schema of this representation of an object.\nServers should convert recognized schemas to the latest internal value, and\nmay reject unrecognized values.\nMore info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#resources";
const KIND_DESCRIPTION: &str = "Kind is a string value representing the REST resource this object represents.\nServers may infer this from the endpoint the client submits requests to.\nCannot be updated.\nIn CamelCase.\nMore info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#types-kinds";

/// Descriptions of `spec` and `status` at the root of each kind, as upstream documents them;
/// `None` removes the description.
struct RootDocs {
    spec: Option<&'static str>,
    status: Option<&'static str>,
}

/// Every CRD kubevirtd serves: VirtualMachine, VirtualMachineInstance,
/// VirtualMachineInstanceReplicaSet and VirtualMachineInstanceMigration first, in that order,
/// then VirtualMachineInstancePreset, VirtualMachinePool, VirtualMachineInstancetype,
/// VirtualMachineClusterInstancetype, VirtualMachinePreference, VirtualMachineClusterPreference,
/// MigrationPolicy, DataVolume and DataSource.
///
/// All versions of a CRD carry the same structural `openAPIV3Schema`; the
/// VirtualMachineInstance CRD has no subresources because its status lives in the main resource.
pub fn crds() -> Vec<CustomResourceDefinition> {
    let mut all = core_crds();
    all.extend([
        preset_crd(),
        pool_crd(),
        single_version(
            VirtualMachineInstancetype::crd(),
            APP_LABEL,
            &INSTANCETYPE_DOCS,
            true,
        ),
        single_version(
            VirtualMachineClusterInstancetype::crd(),
            APP_LABEL,
            &INSTANCETYPE_DOCS,
            true,
        ),
        single_version(
            VirtualMachinePreference::crd(),
            APP_LABEL,
            &PREFERENCE_DOCS,
            true,
        ),
        single_version(
            VirtualMachineClusterPreference::crd(),
            APP_LABEL,
            &PREFERENCE_DOCS,
            true,
        ),
        single_version(
            MigrationPolicy::crd(),
            APP_LABEL,
            &RootDocs {
                spec: None,
                status: None,
            },
            false,
        ),
        single_version(
            DataVolume::crd(),
            CDI_LABEL,
            &RootDocs {
                spec: Some("DataVolumeSpec defines the DataVolume type specification"),
                status: Some("DataVolumeStatus contains the current status of the DataVolume"),
            },
            false,
        ),
        without_subresources(single_version(
            DataSource::crd(),
            CDI_LABEL,
            &RootDocs {
                spec: Some("DataSourceSpec defines specification for DataSource"),
                status: Some(
                    "DataSourceStatus provides the most recently observed status of the DataSource",
                ),
            },
            false,
        )),
    ]);
    all
}

const INSTANCETYPE_DOCS: RootDocs = RootDocs {
    spec: Some("Required spec describing the instancetype"),
    status: None,
};

const PREFERENCE_DOCS: RootDocs = RootDocs {
    spec: Some("Required spec describing the preferences"),
    status: None,
};

/// The four core `kubevirt.io` kinds.
fn core_crds() -> Vec<CustomResourceDefinition> {
    vec![
        finish(
            VirtualMachine::crd(),
            &RootDocs {
                spec: Some("Spec contains the specification of VirtualMachineInstance created"),
                status: Some(
                    "Status holds the current state of the controller and brief information\n\
                     about its associated VirtualMachineInstance",
                ),
            },
        ),
        without_subresources(finish(
            VirtualMachineInstance::crd(),
            &RootDocs {
                spec: Some(
                    "VirtualMachineInstance Spec contains the VirtualMachineInstance specification.",
                ),
                status: Some(
                    "Status is the high level overview of how the VirtualMachineInstance is doing. It contains information available to controllers and users.",
                ),
            },
        )),
        finish(
            VirtualMachineInstanceReplicaSet::crd(),
            &RootDocs {
                spec: Some(
                    "VirtualMachineInstanceReplicaSetSpec describes the desired replicas and their template.",
                ),
                status: Some(
                    "VirtualMachineInstanceReplicaSetStatus reports the observed replicas.",
                ),
            },
        ),
        finish(
            VirtualMachineInstanceMigration::crd(),
            &RootDocs {
                spec: Some(
                    "VirtualMachineInstanceMigrationSpec names the VirtualMachineInstance to migrate and how.",
                ),
                status: None,
            },
        ),
    ]
}

/// [`crds`] as a multi-document YAML stream, documents separated by `---`.
pub fn crd_yaml() -> String {
    crds()
        .iter()
        .map(|crd| {
            // Serializing plain data with string keys cannot fail.
            serde_saphyr::to_string(crd).expect("a CRD serializes to YAML")
        })
        .map(|doc| format!("---\n{doc}"))
        .collect()
}

/// A core kind: `v1` (storage) and `v1alpha3` (served, deprecated) with the same content.
fn finish(crd: CustomResourceDefinition, docs: &RootDocs) -> CustomResourceDefinition {
    let (mut crd, v1) = prepare(crd, APP_LABEL, docs);
    let v1alpha3 = CustomResourceDefinitionVersion {
        name: DEPRECATED_VERSION.to_owned(),
        served: true,
        storage: false,
        deprecated: Some(true),
        deprecation_warning: Some(DEPRECATION_WARNING.to_owned()),
        ..v1.clone()
    };
    crd.spec.versions = vec![v1, v1alpha3];
    crd
}

/// Labels the CRD and takes out its single derived version with the upstream-shaped schema.
fn prepare(
    mut crd: CustomResourceDefinition,
    label: &str,
    docs: &RootDocs,
) -> (CustomResourceDefinition, CustomResourceDefinitionVersion) {
    crd.metadata.labels = Some(BTreeMap::from([(label.to_owned(), String::new())]));
    let mut version = crd
        .spec
        .versions
        .pop()
        .expect("the derive emits one version");
    if let Some(validation) = version.schema.as_mut()
        && let Some(schema) = validation.open_api_v3_schema.take()
    {
        validation.open_api_v3_schema = Some(finish_schema(schema, docs));
    }
    (crd, version)
}

/// A kind with one served storage version. Upstream installs the instancetype and preference
/// CRDs with an explicit `None` conversion strategy.
fn single_version(
    crd: CustomResourceDefinition,
    label: &str,
    docs: &RootDocs,
    none_conversion: bool,
) -> CustomResourceDefinition {
    let (mut crd, version) = prepare(crd, label, docs);
    crd.spec.versions = vec![version];
    if none_conversion {
        crd.spec.conversion = Some(CustomResourceConversion {
            strategy: "None".to_owned(),
            webhook: None,
        });
    }
    crd
}

/// The CRD without status or scale subresources in any version.
fn without_subresources(mut crd: CustomResourceDefinition) -> CustomResourceDefinition {
    for version in &mut crd.spec.versions {
        version.subresources = None;
    }
    crd
}

/// VirtualMachineInstancePreset: `v1` and `v1alpha3`, both deprecated with their own warnings,
/// stored as `v1alpha3`. Upstream's schema does not require `spec`.
fn preset_crd() -> CustomResourceDefinition {
    let (mut crd, mut v1) = prepare(
        VirtualMachineInstancePreset::crd(),
        APP_LABEL,
        &RootDocs {
            spec: Some(
                "VirtualMachineInstance Spec contains the VirtualMachineInstance specification.",
            ),
            status: None,
        },
    );
    if let Some(schema) = v1
        .schema
        .as_mut()
        .and_then(|s| s.open_api_v3_schema.as_mut())
    {
        schema.required = None;
    }
    let v1 = CustomResourceDefinitionVersion {
        served: true,
        storage: false,
        deprecated: Some(true),
        deprecation_warning: Some(PRESET_V1_DEPRECATION_WARNING.to_owned()),
        subresources: None,
        ..v1
    };
    let v1alpha3 = CustomResourceDefinitionVersion {
        name: DEPRECATED_VERSION.to_owned(),
        storage: true,
        deprecation_warning: Some(PRESET_V1ALPHA3_DEPRECATION_WARNING.to_owned()),
        ..v1.clone()
    };
    crd.spec.versions = vec![v1, v1alpha3];
    crd
}

/// VirtualMachinePool: `v1alpha1` (served) and `v1beta1` (storage) with the same content.
fn pool_crd() -> CustomResourceDefinition {
    let (mut crd, v1beta1) = prepare(
        VirtualMachinePool::crd(),
        APP_LABEL,
        &RootDocs {
            spec: None,
            status: None,
        },
    );
    let v1alpha1 = CustomResourceDefinitionVersion {
        name: "v1alpha1".to_owned(),
        storage: false,
        ..v1beta1.clone()
    };
    crd.spec.versions = vec![v1alpha1, v1beta1];
    crd
}

fn finish_schema(schema: JSONSchemaProps, docs: &RootDocs) -> JSONSchemaProps {
    let mut value = serde_json::to_value(schema).expect("a schema converts to JSON");
    crate::schema::normalize(&mut value);
    if let Value::Object(root) = &mut value {
        root.remove("title");
        let props = root
            .entry("properties")
            .or_insert_with(|| json!({}))
            .as_object_mut()
            .expect("root properties are an object");
        props.insert(
            "apiVersion".into(),
            json!({"description": API_VERSION_DESCRIPTION, "type": "string"}),
        );
        props.insert(
            "kind".into(),
            json!({"description": KIND_DESCRIPTION, "type": "string"}),
        );
        props.insert("metadata".into(), json!({"type": "object"}));
        if let Some(Value::Object(spec)) = props.get_mut("spec") {
            match docs.spec {
                Some(description) => spec.insert("description".into(), description.into()),
                None => spec.remove("description"),
            };
        }
        if let Some(Value::Object(status)) = props.get_mut("status") {
            match docs.status {
                Some(description) => status.insert("description".into(), description.into()),
                None => status.remove("description"),
            };
        }
    }
    serde_json::from_value(value).expect("a normalized schema is still a schema")
}
