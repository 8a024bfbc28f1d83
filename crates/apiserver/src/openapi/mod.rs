//! OpenAPI documents: v2 (JSON and protobuf) and v3 (an index plus one document per
//! group/version), built from the registered schemas. All functions are pure and
//! deterministic: the same registry yields byte-identical documents, so callers may cache them.
//!
//! # What kubectl does with them
//!
//! - `/openapi/v3` and its group/version documents drive `kubectl explain` (it finds the
//!   resource's GVK on the operations of its paths, then the schema carrying that GVK in
//!   `x-kubernetes-group-version-kind`), and kubectl's check for server-side field validation
//!   (a PATCH operation of the GVK must list the `fieldValidation` query parameter). When that
//!   check passes, kubectl validates nothing on the client side.
//! - PATCH operations list only the JSON patch, merge patch and apply patch content types, for
//!   built-in kinds too. kubectl computes a strategic merge patch from the v3 schema only when
//!   the operation lists that content type; the schemas here carry no patch merge keys, so such
//!   a patch would replace lists the server merges by key. Without it, kubectl falls back to
//!   its compiled-in types for built-in kinds (a correct strategic merge patch) and to a JSON
//!   merge patch for custom resources, exactly as with a real server.
//! - `/openapi/v2` is only downloaded: kubectl fails `create`/`apply` when it cannot be fetched,
//!   but uses it only if the v3 check fails. It therefore lists **no** definitions and no paths:
//!   kubectl skips client-side validation for kinds missing from it, and a v2 schema that
//!   disagreed with the server would make kubectl reject valid manifests.

mod paths;
mod v2;
mod v3;

use serde_json::{Value, json};
use sha2::{Digest, Sha512};

use crate::registry::{Registry, ResourceDef};

pub use v2::{v2_json, v2_protobuf};

/// The content type of the protobuf OpenAPI v2 document (dotted, as kube-openapi serves it).
pub const V2_PROTOBUF_CONTENT_TYPE: &str =
    "application/com.github.proto-openapi.spec.v2.v1.0+protobuf";

/// The content type of the OpenAPI v3 documents.
pub const V3_CONTENT_TYPE: &str = "application/json";

/// `info.title` of every document.
pub const TITLE: &str = "Kubernetes";

/// `info.version` of every document: the Kubernetes version the server reports.
pub const INFO_VERSION: &str = "v1.33.0";

/// Where the apimachinery schemas live in a v3 document.
pub const COMPONENTS: &str = "#/components/schemas/";

/// The name of a kind's schema, as the real server names it: built-in kinds under
/// `io.k8s.api.<group>.<version>` (`core` for the core group, the `.k8s.io` suffix dropped),
/// other kinds under the reversed group domain (`kubevirt.io` → `io.kubevirt.v1.Kind`).
pub fn definition_name(def: &ResourceDef, version: &str, kind: &str) -> String {
    let prefix = if def.builtin {
        let group = match def.group.as_str() {
            "" => "core",
            g => g.strip_suffix(".k8s.io").unwrap_or(g),
        };
        format!("io.k8s.api.{group}")
    } else {
        def.group.split('.').rev().collect::<Vec<_>>().join(".")
    };
    format!("{prefix}.{version}.{kind}")
}

/// The index key of a group/version: `api/v1` or `apis/<group>/<version>`.
pub fn group_version_path(group: &str, version: &str) -> String {
    if group.is_empty() {
        format!("api/{version}")
    } else {
        format!("apis/{group}/{version}")
    }
}

/// Uppercase hex SHA-512 of the serialized document, as kube-openapi computes the `hash`
/// query parameter (clients cache documents by it).
pub fn document_hash(doc: &Value) -> String {
    let bytes = serde_json::to_vec(doc).unwrap_or_default();
    hex::encode_upper(Sha512::digest(&bytes))
}

/// Every group/version with at least one served resource (plug-in groups have no schemas and
/// are not listed).
fn group_versions(reg: &Registry) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (group, versions) in reg.groups() {
        for version in versions {
            out.push((group.clone(), version));
        }
    }
    out
}

/// `GET /openapi/v3`: the index of group/version documents, each with its
/// `serverRelativeURL` carrying the document's hash.
pub fn v3_index(reg: &Registry) -> Value {
    let mut paths = serde_json::Map::new();
    for (group, version) in group_versions(reg) {
        let Some(doc) = v3_group_version(reg, &group, &version) else {
            continue;
        };
        let key = group_version_path(&group, &version);
        let url = format!("/openapi/v3/{key}?hash={}", document_hash(&doc));
        paths.insert(key, json!({"serverRelativeURL": url}));
    }
    json!({"paths": paths})
}

/// `GET /openapi/v3/api/v1` or `/openapi/v3/apis/<group>/<version>`: an OpenAPI 3.0 document
/// with a schema per kind and list kind, the apimachinery schemas they reference, and the
/// operations of each resource path; `None` if the group/version serves no resource.
pub fn v3_group_version(reg: &Registry, group: &str, version: &str) -> Option<Value> {
    let defs = reg.in_group_version(group, version);
    if defs.is_empty() {
        return None;
    }
    Some(v3::document(group, version, &defs))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::ResourceDef;

    fn crd() -> Value {
        json!({
            "spec": {
                "group": "snapshot.example.com",
                "scope": "Namespaced",
                "names": {"kind": "Widget", "plural": "widgets"},
                "versions": [{"name": "v1beta1", "served": true, "storage": true,
                    "schema": {"openAPIV3Schema": {"type": "object", "properties": {
                        "spec": {"type": "object", "description": "The widget's spec.",
                                 "properties": {"size": {"type": "integer"}}}}}}}]
            }
        })
    }

    fn registry() -> Registry {
        Registry::builtin_with_crds(&[crd()])
    }

    #[test]
    fn definitions_are_named_like_the_real_server() {
        let reg = registry();
        let pod = reg.get("", "pods").unwrap();
        assert_eq!(definition_name(pod, "v1", "Pod"), "io.k8s.api.core.v1.Pod");
        let lease = reg.get("coordination.k8s.io", "leases").unwrap();
        assert_eq!(
            definition_name(lease, "v1", "Lease"),
            "io.k8s.api.coordination.v1.Lease"
        );
        let widget = reg.get("snapshot.example.com", "widgets").unwrap();
        assert_eq!(
            definition_name(widget, "v1beta1", "WidgetList"),
            "com.example.snapshot.v1beta1.WidgetList"
        );
    }

    #[test]
    fn index_lists_every_group_version_with_its_hash() {
        let reg = registry();
        let index = v3_index(&reg);
        let paths = index["paths"].as_object().unwrap();
        let keys: Vec<&str> = paths.keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            vec![
                "api/v1",
                "apis/apps/v1",
                "apis/coordination.k8s.io/v1",
                "apis/events.k8s.io/v1",
                "apis/scheduling.k8s.io/v1",
                "apis/resource.k8s.io/v1",
                "apis/snapshot.example.com/v1beta1"
            ]
        );
        let doc = v3_group_version(&reg, "snapshot.example.com", "v1beta1").unwrap();
        let url = paths["apis/snapshot.example.com/v1beta1"]["serverRelativeURL"]
            .as_str()
            .unwrap();
        assert_eq!(
            url,
            format!(
                "/openapi/v3/apis/snapshot.example.com/v1beta1?hash={}",
                document_hash(&doc)
            )
        );
    }

    #[test]
    fn hashes_are_stable_uppercase_sha512_and_follow_content() {
        let reg = registry();
        let a = document_hash(&v3_group_version(&reg, "", "v1").unwrap());
        let b = document_hash(&v3_group_version(&reg, "", "v1").unwrap());
        assert_eq!(a, b);
        assert_eq!(a.len(), 128);
        assert!(
            a.chars()
                .all(|c| c.is_ascii_digit() || c.is_ascii_uppercase())
        );
        assert_eq!(v3_index(&reg), v3_index(&reg));
        let mut other = registry();
        let mut crd2 = crd();
        crd2["spec"]["names"] = json!({"kind": "Gadget", "plural": "gadgets"});
        other
            .register(ResourceDef::from_crd(&crd2).unwrap())
            .unwrap();
        let key = "apis/snapshot.example.com/v1beta1";
        assert_ne!(v3_index(&reg)["paths"][key], v3_index(&other)["paths"][key]);
        assert_eq!(
            v3_index(&reg)["paths"]["api/v1"],
            v3_index(&other)["paths"]["api/v1"]
        );
    }

    #[test]
    fn unknown_group_versions_have_no_document() {
        let reg = registry();
        assert!(v3_group_version(&reg, "snapshot.example.com", "v1").is_none());
        assert!(v3_group_version(&reg, "nothing", "v1").is_none());
    }
}
