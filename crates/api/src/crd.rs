//! The CustomResourceDefinitions of the four kinds, in the shape upstream KubeVirt installs:
//! versions `v1` (served, storage) and `v1alpha3` (served, deprecated) with the same schema,
//! category `all`, label `kubevirt.io: ""`, short names, printer columns and subresources.

use std::collections::BTreeMap;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::{
    CustomResourceDefinition, CustomResourceDefinitionVersion, JSONSchemaProps,
};
use kube::core::CustomResourceExt;
use serde_json::{Value, json};

use crate::keys::{APP_LABEL, DEPRECATED_VERSION};
use crate::{
    VirtualMachine, VirtualMachineInstance, VirtualMachineInstanceMigration,
    VirtualMachineInstanceReplicaSet,
};

/// Warning returned to clients that use the deprecated version.
pub const DEPRECATION_WARNING: &str =
    "kubevirt.io/v1alpha3 is now deprecated and will be removed in a future release.";

const API_VERSION_DESCRIPTION: &str = "APIVersion defines the versioned schema of this representation of an object.\nServers should convert recognized schemas to the latest internal value, and\nmay reject unrecognized values.\nMore info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#resources";
const KIND_DESCRIPTION: &str = "Kind is a string value representing the REST resource this object represents.\nServers may infer this from the endpoint the client submits requests to.\nCannot be updated.\nIn CamelCase.\nMore info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#types-kinds";

/// Descriptions of `spec` and `status` at the root of each kind, as upstream documents them.
struct RootDocs {
    spec: &'static str,
    status: Option<&'static str>,
}

/// The CRDs of VirtualMachine, VirtualMachineInstance, VirtualMachineInstanceReplicaSet and
/// VirtualMachineInstanceMigration, in that order.
///
/// Both versions of a CRD carry the same structural `openAPIV3Schema`; the
/// VirtualMachineInstance CRD has no subresources because its status lives in the main resource.
pub fn crds() -> Vec<CustomResourceDefinition> {
    vec![
        finish(
            VirtualMachine::crd(),
            &RootDocs {
                spec: "Spec contains the specification of VirtualMachineInstance created",
                status: Some(
                    "Status holds the current state of the controller and brief information\n\
                     about its associated VirtualMachineInstance",
                ),
            },
        ),
        {
            let mut crd = finish(
                VirtualMachineInstance::crd(),
                &RootDocs {
                    spec: "VirtualMachineInstance Spec contains the VirtualMachineInstance specification.",
                    status: Some(
                        "Status is the high level overview of how the VirtualMachineInstance is doing. It contains information available to controllers and users.",
                    ),
                },
            );
            for version in &mut crd.spec.versions {
                version.subresources = None;
            }
            crd
        },
        finish(
            VirtualMachineInstanceReplicaSet::crd(),
            &RootDocs {
                spec: "VirtualMachineInstanceReplicaSetSpec describes the desired replicas and their template.",
                status: Some(
                    "VirtualMachineInstanceReplicaSetStatus reports the observed replicas.",
                ),
            },
        ),
        finish(
            VirtualMachineInstanceMigration::crd(),
            &RootDocs {
                spec: "VirtualMachineInstanceMigrationSpec names the VirtualMachineInstance to migrate and how.",
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

fn finish(mut crd: CustomResourceDefinition, docs: &RootDocs) -> CustomResourceDefinition {
    crd.metadata.labels = Some(BTreeMap::from([(APP_LABEL.to_owned(), String::new())]));
    let mut v1 = crd
        .spec
        .versions
        .pop()
        .expect("the derive emits one version");
    if let Some(validation) = v1.schema.as_mut()
        && let Some(schema) = validation.open_api_v3_schema.take()
    {
        validation.open_api_v3_schema = Some(finish_schema(schema, docs));
    }
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
            spec.insert("description".into(), docs.spec.into());
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
