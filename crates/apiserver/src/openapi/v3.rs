//! One OpenAPI 3.0 document per group/version, shaped as kube-apiserver publishes them:
//! `components.schemas` with a schema per kind and list kind (each carrying
//! `x-kubernetes-group-version-kind`) plus the apimachinery schemas they reference, and
//! `paths` with the operations of every resource path (each operation carrying the GVK and
//! `x-kubernetes-action`).

use std::sync::{Arc, OnceLock};

use k8s_openapi::api::autoscaling::v1::Scale;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{
    DeleteOptions, ListMeta, ObjectMeta, Patch, Status,
};
use schemars::generate::{SchemaGenerator, SchemaSettings};
use serde_json::{Map, Value, json};

use super::paths::Paths;
use super::{COMPONENTS, INFO_VERSION, TITLE, definition_name};
use crate::registry::ResourceDef;

const OBJECT_META: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta";
const LIST_META: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.ListMeta";
pub(super) const STATUS: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.Status";
pub(super) const DELETE_OPTIONS: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions";
pub(super) const PATCH: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.Patch";
const SCALE: &str = "io.k8s.api.autoscaling.v1.Scale";

const API_VERSION_DOC: &str = "APIVersion defines the versioned schema of this representation of an object. Servers should convert recognized schemas to the latest internal value, and may reject unrecognized values. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#resources";
const KIND_DOC: &str = "Kind is a string value representing the REST resource this object represents. Servers may infer this from the endpoint the client submits requests to. Cannot be updated. In CamelCase. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#types-kinds";
const METADATA_DOC: &str = "Standard object's metadata. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata";
const LIST_METADATA_DOC: &str = "Standard list metadata. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#types-kinds";

/// Patch content types every PATCH operation accepts (see the module documentation of
/// [`super`] for why strategic merge patch is not listed).
pub(super) const PATCH_TYPES: [&str; 3] = [
    "application/json-patch+json",
    "application/merge-patch+json",
    "application/apply-patch+yaml",
];

fn generator() -> SchemaGenerator {
    SchemaSettings::openapi3()
        .with(|s| s.meta_schema = None)
        .into_generator()
}

fn gvk(group: &str, version: &str, kind: &str) -> Value {
    json!({"group": group, "kind": kind, "version": version})
}

/// ObjectMeta, ListMeta, Status, DeleteOptions and Patch with everything they reference.
fn meta_schemas() -> &'static Map<String, Value> {
    static META: OnceLock<Map<String, Value>> = OnceLock::new();
    META.get_or_init(|| {
        let mut g = generator();
        g.subschema_for::<ObjectMeta>();
        g.subschema_for::<ListMeta>();
        g.subschema_for::<Status>();
        g.subschema_for::<DeleteOptions>();
        g.subschema_for::<Patch>();
        let mut defs = g.take_definitions(true);
        if let Some(Value::Object(status)) = defs.get_mut(STATUS) {
            status.insert(
                "x-kubernetes-group-version-kind".into(),
                json!([gvk("", "v1", "Status")]),
            );
        }
        defs
    })
}

/// autoscaling/v1 Scale with everything it references.
fn scale_schemas() -> &'static Map<String, Value> {
    static SCALES: OnceLock<Map<String, Value>> = OnceLock::new();
    SCALES.get_or_init(|| {
        let mut g = generator();
        g.subschema_for::<Scale>();
        let mut defs = g.take_definitions(true);
        if let Some(Value::Object(scale)) = defs.get_mut(SCALE) {
            scale.insert(
                "x-kubernetes-group-version-kind".into(),
                json!([gvk("autoscaling", "v1", "Scale")]),
            );
        }
        defs
    })
}

pub(super) fn reference(name: &str) -> Value {
    json!({"$ref": format!("{COMPONENTS}{name}")})
}

/// A reference with a description, in the `allOf` form kube-openapi uses.
fn described_reference(name: &str, description: &str) -> Value {
    json!({"allOf": [reference(name)], "default": {}, "description": description})
}

fn string_property(description: &str) -> Value {
    json!({"type": "string", "description": description})
}

/// The published schema of a kind: its registered schema with `apiVersion`, `kind` and a
/// reference to ObjectMeta for `metadata`, tagged with its GVK.
fn kind_schema(def: &ResourceDef, version: &str) -> Value {
    let registered = def.version(version).and_then(|v| v.schema.clone());
    let mut schema = match registered {
        Some(Value::Object(map)) => map,
        _ => {
            let mut map = Map::new();
            map.insert("type".into(), "object".into());
            map.insert("x-kubernetes-preserve-unknown-fields".into(), true.into());
            map
        }
    };
    let props = schema.entry("properties").or_insert_with(|| json!({}));
    if let Some(props) = props.as_object_mut() {
        props
            .entry("apiVersion")
            .or_insert_with(|| string_property(API_VERSION_DOC));
        props
            .entry("kind")
            .or_insert_with(|| string_property(KIND_DOC));
        props.insert(
            "metadata".into(),
            described_reference(OBJECT_META, METADATA_DOC),
        );
    }
    schema.insert(
        "x-kubernetes-group-version-kind".into(),
        json!([gvk(&def.group, version, &def.kind)]),
    );
    Value::Object(schema)
}

fn list_schema(def: &ResourceDef, version: &str, item: &str) -> Value {
    json!({
        "description": format!("{} is a list of {}", def.list_kind, def.kind),
        "type": "object",
        "required": ["items"],
        "properties": {
            "apiVersion": string_property(API_VERSION_DOC),
            "items": {
                "description": format!("List of {}. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md", def.plural),
                "type": "array",
                "items": reference(item),
            },
            "kind": string_property(KIND_DOC),
            "metadata": described_reference(LIST_META, LIST_METADATA_DOC),
        },
        "x-kubernetes-group-version-kind": [gvk(&def.group, version, &def.list_kind)],
    })
}

/// `kubevirt.io` + `v1` → `KubevirtIoV1`; the core group is `Core`.
fn camel_group_version(group: &str, version: &str) -> String {
    let group = if group.is_empty() { "core" } else { group };
    group
        .split(['.', '-'])
        .chain(std::iter::once(version))
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map(|f| f.to_uppercase().chain(c).collect::<String>())
                .unwrap_or_default()
        })
        .collect()
}

/// The document of `group/version` serving `defs` (all served in that version).
pub(super) fn document(group: &str, version: &str, defs: &[&Arc<ResourceDef>]) -> Value {
    let mut schemas = meta_schemas().clone();
    let mut paths = Map::new();
    let prefix = if group.is_empty() {
        format!("/api/{version}")
    } else {
        format!("/apis/{group}/{version}")
    };
    let gv = camel_group_version(group, version);
    let tag = {
        let group_camel = camel_group_version(group, "");
        let mut c = group_camel.chars();
        let lower = c
            .next()
            .map(|f| f.to_lowercase().chain(c).collect::<String>())
            .unwrap_or_default();
        format!("{lower}_{version}")
    };
    for def in defs {
        let Some(v) = def.version(version) else {
            continue;
        };
        let kind_name = definition_name(def, version, &def.kind);
        let list_name = definition_name(def, version, &def.list_kind);
        schemas.insert(kind_name.clone(), kind_schema(def, version));
        schemas.insert(list_name.clone(), list_schema(def, version, &kind_name));
        let p = Paths {
            def,
            tag: tag.clone(),
            id: gv.clone(),
            kind_ref: reference(&kind_name),
            list_ref: reference(&list_name),
            gvk: gvk(&def.group, version, &def.kind),
        };
        let (base, ns) = if def.namespaced {
            paths.insert(format!("{prefix}/{}", def.plural), p.collection("", true));
            (
                format!("{prefix}/namespaces/{{namespace}}/{}", def.plural),
                "Namespaced",
            )
        } else {
            (format!("{prefix}/{}", def.plural), "")
        };
        paths.insert(base.clone(), p.collection(ns, false));
        paths.insert(
            format!("{base}/{{name}}"),
            p.object(ns, "", &p.kind_ref, &p.gvk),
        );
        if v.status_subresource {
            paths.insert(
                format!("{base}/{{name}}/status"),
                p.object(ns, "Status", &p.kind_ref, &p.gvk),
            );
        }
        if v.scale.is_some() {
            schemas.extend(scale_schemas().iter().map(|(k, v)| (k.clone(), v.clone())));
            let scale_gvk = gvk("autoscaling", "v1", "Scale");
            paths.insert(
                format!("{base}/{{name}}/scale"),
                p.object(ns, "Scale", &reference(SCALE), &scale_gvk),
            );
        }
    }
    json!({
        "openapi": "3.0.0",
        "info": {"title": TITLE, "version": INFO_VERSION},
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "BearerToken": {"type": "apiKey", "description": "Bearer Token authentication", "name": "authorization", "in": "header"}
            }
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::Registry;

    fn crd() -> Value {
        json!({
            "spec": {
                "group": "example.com",
                "scope": "Namespaced",
                "names": {"kind": "Widget", "plural": "widgets", "listKind": "WidgetList"},
                "versions": [{"name": "v1", "served": true, "storage": true,
                    "subresources": {"status": {}, "scale": {"specReplicasPath": ".spec.replicas",
                                                             "statusReplicasPath": ".status.replicas"}},
                    "schema": {"openAPIV3Schema": {"type": "object", "properties": {
                        "metadata": {"type": "object"},
                        "spec": {"type": "object", "description": "The widget's spec.",
                                 "properties": {"size": {"type": "integer", "description": "How big."}}}}}}}]
            }
        })
    }

    fn registry() -> Registry {
        Registry::builtin_with_crds(&[crd()])
    }

    fn doc(group: &str, version: &str) -> Value {
        super::super::v3_group_version(&registry(), group, version).unwrap()
    }

    fn resolve<'a>(doc: &'a Value, reference: &str) -> Option<&'a Value> {
        doc.pointer(reference.strip_prefix('#')?)
    }

    fn refs(node: &Value, out: &mut Vec<String>) {
        match node {
            Value::Object(m) => {
                if let Some(Value::String(r)) = m.get("$ref") {
                    out.push(r.clone());
                }
                m.values().for_each(|v| refs(v, out));
            }
            Value::Array(a) => a.iter().for_each(|v| refs(v, out)),
            _ => {}
        }
    }

    /// What `kubectl explain` does: the GVK from the resource's operations, then the schema
    /// carrying it.
    fn explain<'a>(doc: &'a Value, prefix: &str, plural: &str) -> &'a Value {
        let candidates = [
            format!("{prefix}/{plural}"),
            format!("{prefix}/namespaces/{{namespace}}/{plural}"),
        ];
        let gvk = candidates
            .iter()
            .filter_map(|p| doc["paths"].get(p))
            .find_map(|item| {
                item.get("get")
                    .and_then(|op| op.get("x-kubernetes-group-version-kind"))
            })
            .expect("a GVK on the resource's operations");
        doc["components"]["schemas"]
            .as_object()
            .unwrap()
            .values()
            .find(|s| {
                s["x-kubernetes-group-version-kind"]
                    .as_array()
                    .is_some_and(|a| a.contains(gvk))
            })
            .expect("a schema with the GVK")
    }

    #[test]
    fn every_reference_resolves() {
        for (g, v) in [
            ("", "v1"),
            ("example.com", "v1"),
            ("events.k8s.io", "v1"),
            ("apps", "v1"),
        ] {
            let d = doc(g, v);
            let mut all = Vec::new();
            refs(&d, &mut all);
            assert!(!all.is_empty());
            for r in all {
                assert!(resolve(&d, &r).is_some(), "{g}/{v}: unresolved {r}");
            }
        }
    }

    #[test]
    fn custom_kind_schema_is_found_by_its_gvk_like_explain_does() {
        let d = doc("example.com", "v1");
        let schema = explain(&d, "/apis/example.com/v1", "widgets");
        assert_eq!(
            schema["properties"]["spec"]["description"],
            json!("The widget's spec.")
        );
        assert_eq!(
            schema["properties"]["spec"]["properties"]["size"]["type"],
            json!("integer")
        );
        let meta = &schema["properties"]["metadata"]["allOf"][0]["$ref"];
        assert_eq!(meta, &json!(format!("{COMPONENTS}{OBJECT_META}")));
        assert_eq!(schema["properties"]["kind"]["type"], json!("string"));
        assert!(
            d["components"]["schemas"]
                .get("com.example.v1.Widget")
                .is_some()
        );
        let list = &d["components"]["schemas"]["com.example.v1.WidgetList"];
        assert_eq!(
            list["x-kubernetes-group-version-kind"][0]["kind"],
            json!("WidgetList")
        );
        assert_eq!(
            list["properties"]["items"]["items"]["$ref"],
            json!(format!("{COMPONENTS}com.example.v1.Widget"))
        );
    }

    #[test]
    fn builtin_kind_schemas_are_found_by_their_gvk() {
        let d = doc("", "v1");
        let pod = explain(&d, "/api/v1", "pods");
        assert_eq!(
            pod["x-kubernetes-group-version-kind"],
            json!([gvk("", "v1", "Pod")])
        );
        assert!(pod["properties"]["spec"]["properties"]["containers"].is_object());
        let ns = explain(&d, "/api/v1", "namespaces");
        assert_eq!(
            ns["x-kubernetes-group-version-kind"][0]["kind"],
            json!("Namespace")
        );
        assert!(
            d["components"]["schemas"]
                .get("io.k8s.api.core.v1.Pod")
                .is_some()
        );
        assert!(d["components"]["schemas"].get(OBJECT_META).is_some());
    }

    #[test]
    fn every_patch_operation_offers_field_validation_and_names_its_gvk() {
        for (g, v) in [
            ("", "v1"),
            ("example.com", "v1"),
            ("coordination.k8s.io", "v1"),
        ] {
            let d = doc(g, v);
            let mut patches = 0;
            for (path, item) in d["paths"].as_object().unwrap() {
                let Some(op) = item.get("patch") else {
                    continue;
                };
                patches += 1;
                let gvk = op["x-kubernetes-group-version-kind"].as_object().unwrap();
                assert!(gvk.values().all(Value::is_string), "{path}");
                let params = op["parameters"].as_array().unwrap();
                assert!(
                    params
                        .iter()
                        .any(|p| p["name"] == "fieldValidation" && p["in"] == "query"),
                    "{path} lacks fieldValidation"
                );
                let types: Vec<&String> = op["requestBody"]["content"]
                    .as_object()
                    .unwrap()
                    .keys()
                    .collect();
                assert!(!types.iter().any(|t| t.contains("strategic")), "{path}");
                assert!(types.iter().any(|t| *t == "application/merge-patch+json"));
            }
            assert!(patches > 0);
        }
    }

    #[test]
    fn namespaced_and_cluster_paths_follow_the_scope() {
        let d = doc("", "v1");
        let paths = d["paths"].as_object().unwrap();
        for p in [
            "/api/v1/pods",
            "/api/v1/namespaces/{namespace}/pods",
            "/api/v1/namespaces/{namespace}/pods/{name}",
            "/api/v1/namespaces/{namespace}/pods/{name}/status",
            "/api/v1/namespaces",
            "/api/v1/namespaces/{name}",
            "/api/v1/nodes/{name}/status",
        ] {
            assert!(paths.contains_key(p), "missing {p}");
        }
        assert!(!paths.contains_key("/api/v1/namespaces/{namespace}/namespaces"));
        let list = &paths["/api/v1/namespaces/{namespace}/pods"]["get"];
        assert_eq!(list["x-kubernetes-action"], json!("list"));
        assert_eq!(
            list["x-kubernetes-group-version-kind"]["kind"],
            json!("Pod")
        );
        assert_eq!(list["operationId"], json!("listCoreV1NamespacedPod"));
    }

    #[test]
    fn scale_subresource_answers_with_autoscaling_scale() {
        let d = doc("example.com", "v1");
        let scale = &d["paths"]["/apis/example.com/v1/namespaces/{namespace}/widgets/{name}/scale"];
        assert_eq!(
            scale["patch"]["x-kubernetes-group-version-kind"],
            gvk("autoscaling", "v1", "Scale")
        );
        assert_eq!(
            scale["get"]["responses"]["200"]["content"]["application/json"]["schema"]["$ref"],
            json!(format!("{COMPONENTS}{SCALE}"))
        );
        assert!(d["components"]["schemas"][SCALE]["properties"]["spec"].is_object());
        assert!(doc("", "v1")["components"]["schemas"].get(SCALE).is_none());
    }

    #[test]
    fn group_versions_become_camel_case_ids() {
        assert_eq!(camel_group_version("", "v1"), "CoreV1");
        assert_eq!(
            camel_group_version("snapshot.kubevirt.io", "v1beta1"),
            "SnapshotKubevirtIoV1beta1"
        );
        let d = doc("example.com", "v1");
        let tags = &d["paths"]["/apis/example.com/v1/widgets"]["get"]["tags"];
        assert_eq!(tags, &json!(["exampleCom_v1"]));
    }
}
