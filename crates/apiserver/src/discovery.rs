//! Discovery documents: legacy (`/api`, `/apis`, per group and version) and aggregated v2.
//!
//! All functions are pure: they read the [`Registry`] and return the JSON body. The legacy
//! forms are served as `application/json`; the aggregated form ([`aggregated`]) must be
//! served with [`AGGREGATED_CONTENT_TYPE`], because client-go picks its decoder by the
//! response's content type. Plug-in groups ([`PluginGroup`]) appear in both forms.
//!
//! Ordering: groups in registration order (the registry's), then plug-in groups; versions
//! preferred first; resources sorted by name, each followed by its subresources.

use base64::Engine;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use crate::registry::{PluginGroup, PluginResource, Registry, ResourceDef, VersionDef};

/// The content type of an aggregated discovery response (`APIGroupDiscoveryList`, v2).
pub const AGGREGATED_CONTENT_TYPE: &str =
    "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList";

/// The verbs of every stored resource.
pub const RESOURCE_VERBS: [&str; 8] = [
    "create",
    "delete",
    "deletecollection",
    "get",
    "list",
    "patch",
    "update",
    "watch",
];

/// The verbs of the `status` and `scale` subresources.
pub const SUBRESOURCE_VERBS: [&str; 3] = ["get", "patch", "update"];

/// `GET /api`: the `APIVersions` of the core group.
pub fn api_versions() -> Value {
    json!({
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": ""}],
    })
}

/// Every non-core group with its served versions, preferred first: registered resources'
/// groups, then plug-in groups (a plug-in group sharing a name with a resource group adds its
/// versions to that group).
fn all_groups(reg: &Registry) -> Vec<(String, Vec<String>)> {
    let mut groups: Vec<(String, Vec<String>)> = reg
        .groups()
        .into_iter()
        .filter(|(g, _)| !g.is_empty())
        .collect();
    for p in reg.plugin_groups() {
        match groups.iter_mut().find(|(g, _)| *g == p.group) {
            Some((_, versions)) => {
                for v in &p.versions {
                    if !versions.contains(v) {
                        versions.push(v.clone());
                    }
                }
            }
            None => groups.push((p.group.clone(), p.versions.clone())),
        }
    }
    groups
}

fn group_json(name: &str, versions: &[String]) -> Value {
    let gv = |v: &String| json!({"groupVersion": format!("{name}/{v}"), "version": v});
    json!({
        "name": name,
        "versions": versions.iter().map(gv).collect::<Vec<_>>(),
        "preferredVersion": versions.first().map(gv).unwrap_or(Value::Null),
    })
}

/// `GET /apis`: the legacy `APIGroupList` of every non-core group, plug-in groups included.
pub fn api_group_list(reg: &Registry) -> Value {
    let groups: Vec<Value> = all_groups(reg)
        .iter()
        .map(|(g, vs)| group_json(g, vs))
        .collect();
    json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
}

/// `GET /apis/{group}`: the `APIGroup`, or `None` if no such group is served.
pub fn api_group(reg: &Registry, group: &str) -> Option<Value> {
    let groups = all_groups(reg);
    let (name, versions) = groups.iter().find(|(g, _)| g == group)?;
    let mut body = json!({"kind": "APIGroup", "apiVersion": "v1"});
    if let (Some(obj), Value::Object(fields)) = (body.as_object_mut(), group_json(name, versions)) {
        obj.extend(fields);
    }
    Some(body)
}

/// `base64(sha256("group/version/kind")[..8])`, as the real server computes
/// `storageVersionHash` from the storage version's kind.
pub fn storage_version_hash(group: &str, version: &str, kind: &str) -> String {
    let digest = Sha256::digest(format!("{group}/{version}/{kind}").as_bytes());
    base64::engine::general_purpose::STANDARD.encode(&digest[..8])
}

/// The hash of the kind a resource's objects are stored as (the target's, for views).
fn resource_hash(reg: &Registry, def: &ResourceDef) -> String {
    let stored = def
        .storage_of
        .as_ref()
        .and_then(|(target, _)| reg.get(&target.group, &target.resource))
        .map_or(def, |arc| arc.as_ref());
    storage_version_hash(&stored.group, &stored.storage_version().name, &stored.kind)
}

fn sorted_resources<'a>(reg: &'a Registry, group: &str, version: &str) -> Vec<&'a ResourceDef> {
    let mut defs: Vec<&ResourceDef> = reg
        .in_group_version(group, version)
        .into_iter()
        .map(|a| a.as_ref())
        .collect();
    defs.sort_by(|a, b| a.plural.cmp(&b.plural));
    defs
}

fn plugin_groups_for<'a>(
    reg: &'a Registry,
    group: &'a str,
    version: &'a str,
) -> impl Iterator<Item = &'a PluginGroup> {
    reg.plugin_groups()
        .iter()
        .filter(move |p| p.group == group && p.versions.iter().any(|v| v == version))
}

fn legacy_resource(reg: &Registry, def: &ResourceDef) -> Value {
    let mut r = json!({
        "name": def.plural,
        "singularName": def.singular,
        "namespaced": def.namespaced,
        "kind": def.kind,
        "verbs": RESOURCE_VERBS,
    });
    if !def.short_names.is_empty() {
        r["shortNames"] = json!(def.short_names);
    }
    if !def.categories.is_empty() {
        r["categories"] = json!(def.categories);
    }
    r["storageVersionHash"] = json!(resource_hash(reg, def));
    r
}

fn legacy_subresources(def: &ResourceDef, v: &VersionDef) -> Vec<Value> {
    let mut out = Vec::new();
    if v.scale.is_some() {
        out.push(json!({
            "name": format!("{}/scale", def.plural),
            "singularName": "",
            "namespaced": def.namespaced,
            "group": "autoscaling",
            "version": "v1",
            "kind": "Scale",
            "verbs": SUBRESOURCE_VERBS,
        }));
    }
    if v.status_subresource {
        out.push(json!({
            "name": format!("{}/status", def.plural),
            "singularName": "",
            "namespaced": def.namespaced,
            "kind": def.kind,
            "verbs": SUBRESOURCE_VERBS,
        }));
    }
    out
}

fn legacy_plugin_resource(r: &PluginResource) -> Value {
    json!({
        "name": r.name,
        "singularName": "",
        "namespaced": r.namespaced,
        "kind": r.kind,
        "verbs": r.verbs,
    })
}

/// `GET /api/v1` and `GET /apis/{group}/{version}`: the `APIResourceList`, or `None` if the
/// group/version is not served.
pub fn api_resource_list(reg: &Registry, group: &str, version: &str) -> Option<Value> {
    let defs = sorted_resources(reg, group, version);
    let plugins: Vec<&PluginGroup> = plugin_groups_for(reg, group, version).collect();
    if defs.is_empty() && plugins.is_empty() {
        return None;
    }
    let mut resources = Vec::new();
    for def in defs {
        resources.push(legacy_resource(reg, def));
        if let Some(v) = def.version(version) {
            resources.extend(legacy_subresources(def, v));
        }
    }
    for p in plugins {
        resources.extend(p.resources.iter().map(legacy_plugin_resource));
    }
    let mut body = Map::new();
    body.insert("kind".into(), "APIResourceList".into());
    if !group.is_empty() {
        body.insert("apiVersion".into(), "v1".into());
    }
    let group_version = if group.is_empty() {
        version.to_string()
    } else {
        format!("{group}/{version}")
    };
    body.insert("groupVersion".into(), group_version.into());
    body.insert("resources".into(), resources.into());
    Some(Value::Object(body))
}

fn gvk(group: &str, version: &str, kind: &str) -> Value {
    json!({"group": group, "version": version, "kind": kind})
}

fn scope(namespaced: bool) -> &'static str {
    if namespaced { "Namespaced" } else { "Cluster" }
}

fn aggregated_resource(def: &ResourceDef, v: &VersionDef) -> Value {
    let mut r = json!({
        "resource": def.plural,
        "responseKind": gvk(&def.group, &v.name, &def.kind),
        "scope": scope(def.namespaced),
        "singularResource": def.singular,
        "verbs": RESOURCE_VERBS,
    });
    if !def.short_names.is_empty() {
        r["shortNames"] = json!(def.short_names);
    }
    if !def.categories.is_empty() {
        r["categories"] = json!(def.categories);
    }
    let mut subs = Vec::new();
    if v.scale.is_some() {
        subs.push(json!({
            "subresource": "scale",
            "responseKind": gvk("autoscaling", "v1", "Scale"),
            "verbs": SUBRESOURCE_VERBS,
        }));
    }
    if v.status_subresource {
        subs.push(json!({
            "subresource": "status",
            "responseKind": gvk(&def.group, &v.name, &def.kind),
            "verbs": SUBRESOURCE_VERBS,
        }));
    }
    if !subs.is_empty() {
        r["subresources"] = subs.into();
    }
    r
}

/// Plug-in resources in the aggregated shape: `parent/sub` names become subresources of
/// `parent`. A parent the plug-in does not serve itself is listed without `responseKind`,
/// which clients read as "not a resource, only the holder of subresources".
fn aggregated_plugin_resources(
    group: &str,
    version: &str,
    resources: &[PluginResource],
) -> Vec<Value> {
    let mut out: Vec<Value> = Vec::new();
    let find = |out: &mut Vec<Value>, name: &str| out.iter().position(|r| r["resource"] == name);
    for r in resources.iter().filter(|r| !r.name.contains('/')) {
        out.push(json!({
            "resource": r.name,
            "responseKind": gvk(group, version, &r.kind),
            "scope": scope(r.namespaced),
            "singularResource": "",
            "verbs": r.verbs,
        }));
    }
    for r in resources {
        let Some((parent, sub)) = r.name.split_once('/') else {
            continue;
        };
        let i = match find(&mut out, parent) {
            Some(i) => i,
            None => {
                out.push(json!({
                    "resource": parent,
                    "scope": scope(r.namespaced),
                    "singularResource": "",
                    "verbs": [],
                }));
                out.len() - 1
            }
        };
        let entry = json!({
            "subresource": sub,
            "responseKind": gvk(group, version, &r.kind),
            "verbs": r.verbs,
        });
        match out[i].get_mut("subresources").and_then(Value::as_array_mut) {
            Some(subs) => subs.push(entry),
            None => out[i]["subresources"] = json!([entry]),
        }
    }
    out
}

fn aggregated_group(reg: &Registry, group: &str, versions: &[String]) -> Value {
    let versions: Vec<Value> = versions
        .iter()
        .map(|version| {
            let mut resources: Vec<Value> = sorted_resources(reg, group, version)
                .into_iter()
                .filter_map(|def| def.version(version).map(|v| aggregated_resource(def, v)))
                .collect();
            for p in plugin_groups_for(reg, group, version) {
                resources.extend(aggregated_plugin_resources(group, version, &p.resources));
            }
            json!({"version": version, "resources": resources, "freshness": "Current"})
        })
        .collect();
    let metadata = if group.is_empty() {
        json!({"creationTimestamp": null})
    } else {
        json!({"name": group, "creationTimestamp": null})
    };
    json!({"metadata": metadata, "versions": versions})
}

/// `GET /api` (`core`) or `GET /apis` (not `core`) with the aggregated Accept: an
/// `apidiscovery.k8s.io/v2` `APIGroupDiscoveryList`. Serve it with
/// [`AGGREGATED_CONTENT_TYPE`].
pub fn aggregated(reg: &Registry, core: bool) -> Value {
    let items: Vec<Value> = if core {
        reg.groups()
            .into_iter()
            .filter(|(g, _)| g.is_empty())
            .map(|(g, versions)| aggregated_group(reg, &g, &versions))
            .collect()
    } else {
        all_groups(reg)
            .iter()
            .map(|(g, versions)| aggregated_group(reg, g, versions))
            .collect()
    };
    json!({
        "kind": "APIGroupDiscoveryList",
        "apiVersion": "apidiscovery.k8s.io/v2",
        "metadata": {},
        "items": items,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::PluginResource;
    use kube::core::discovery::v2::APIGroupDiscoveryList;

    fn crd() -> Value {
        json!({
            "metadata": {"name": "widgets.example.com"},
            "spec": {
                "group": "example.com",
                "scope": "Namespaced",
                "names": {"kind": "Widget", "plural": "widgets", "singular": "widget",
                          "shortNames": ["wd"], "categories": ["all"]},
                "versions": [
                    {"name": "v1", "served": true, "storage": true,
                     "subresources": {"status": {}, "scale": {"specReplicasPath": ".spec.replicas",
                        "statusReplicasPath": ".status.replicas"}}},
                    {"name": "v1alpha1", "served": true, "storage": false, "deprecated": true}
                ]
            }
        })
    }

    fn registry() -> Registry {
        let mut reg = Registry::builtin_with_crds(&[crd()]);
        reg.register_plugin_group(PluginGroup {
            group: "sub.example.com".into(),
            versions: vec!["v1".into(), "v1alpha3".into()],
            resources: vec![
                PluginResource {
                    name: "widgets/start".into(),
                    namespaced: true,
                    kind: "Status".into(),
                    verbs: vec!["update".into()],
                },
                PluginResource {
                    name: "widgets/stop".into(),
                    namespaced: true,
                    kind: "Status".into(),
                    verbs: vec!["update".into()],
                },
                PluginResource {
                    name: "version".into(),
                    namespaced: false,
                    kind: "Version".into(),
                    verbs: vec!["get".into()],
                },
            ],
        });
        reg
    }

    fn find<'a>(list: &'a Value, name: &str) -> &'a Value {
        list["resources"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["name"] == name)
            .unwrap()
    }

    #[test]
    fn api_versions_lists_v1() {
        let v = api_versions();
        assert_eq!(v["kind"], json!("APIVersions"));
        assert_eq!(v["versions"], json!(["v1"]));
        assert_eq!(
            v["serverAddressByClientCIDRs"][0]["clientCIDR"],
            json!("0.0.0.0/0")
        );
    }

    #[test]
    fn group_list_holds_resource_and_plugin_groups_but_not_core() {
        let list = api_group_list(&registry());
        let names: Vec<&str> = list["groups"]
            .as_array()
            .unwrap()
            .iter()
            .map(|g| g["name"].as_str().unwrap())
            .collect();
        assert_eq!(
            names,
            vec![
                "apps",
                "coordination.k8s.io",
                "events.k8s.io",
                "scheduling.k8s.io",
                "resource.k8s.io",
                "example.com",
                "sub.example.com"
            ]
        );
        let ex = &list["groups"][5];
        assert_eq!(
            ex["preferredVersion"],
            json!({"groupVersion": "example.com/v1", "version": "v1"})
        );
        assert_eq!(
            ex["versions"][1]["groupVersion"],
            json!("example.com/v1alpha1")
        );
    }

    #[test]
    fn single_group_is_found_or_absent() {
        let reg = registry();
        let g = api_group(&reg, "sub.example.com").unwrap();
        assert_eq!(g["kind"], json!("APIGroup"));
        assert_eq!(g["preferredVersion"]["version"], json!("v1"));
        assert!(api_group(&reg, "nothing.example.com").is_none());
        assert!(api_group(&reg, "").is_none());
    }

    #[test]
    fn resource_list_describes_resources_and_subresources() {
        let reg = registry();
        let list = api_resource_list(&reg, "example.com", "v1").unwrap();
        assert_eq!(list["groupVersion"], json!("example.com/v1"));
        let w = find(&list, "widgets");
        assert_eq!(w["singularName"], json!("widget"));
        assert_eq!(w["namespaced"], json!(true));
        assert_eq!(w["kind"], json!("Widget"));
        assert_eq!(w["verbs"], json!(RESOURCE_VERBS));
        assert_eq!(w["shortNames"], json!(["wd"]));
        assert_eq!(w["categories"], json!(["all"]));
        assert_eq!(
            w["storageVersionHash"],
            json!(storage_version_hash("example.com", "v1", "Widget"))
        );
        let scale = find(&list, "widgets/scale");
        assert_eq!(
            (&scale["group"], &scale["version"], &scale["kind"]),
            (&json!("autoscaling"), &json!("v1"), &json!("Scale"))
        );
        assert_eq!(
            find(&list, "widgets/status")["verbs"],
            json!(["get", "patch", "update"])
        );
        let old = api_resource_list(&reg, "example.com", "v1alpha1").unwrap();
        assert_eq!(old["resources"].as_array().unwrap().len(), 1);
        assert!(api_resource_list(&reg, "example.com", "v2").is_none());
    }

    #[test]
    fn core_resource_list_has_no_api_version_and_sorted_names() {
        let list = api_resource_list(&registry(), "", "v1").unwrap();
        assert!(list.get("apiVersion").is_none());
        assert_eq!(list["groupVersion"], json!("v1"));
        let names: Vec<&str> = list["resources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["name"].as_str().unwrap())
            .collect();
        assert_eq!(&names[..3], &["configmaps", "endpoints", "events"]);
        assert!(names.contains(&"pods/status"));
        assert_eq!(find(&list, "namespaces")["namespaced"], json!(false));
        assert_eq!(find(&list, "pods")["shortNames"], json!(["po"]));
    }

    #[test]
    fn events_view_hashes_like_its_storage() {
        let reg = registry();
        let list = api_resource_list(&reg, "events.k8s.io", "v1").unwrap();
        assert_eq!(
            find(&list, "events")["storageVersionHash"],
            json!(storage_version_hash("", "v1", "Event"))
        );
    }

    #[test]
    fn storage_version_hash_is_stable() {
        let a = storage_version_hash("apps", "v1", "Deployment");
        assert_eq!(a, storage_version_hash("apps", "v1", "Deployment"));
        assert_ne!(a, storage_version_hash("apps", "v1", "StatefulSet"));
        assert_eq!(a.len(), 12);
    }

    #[test]
    fn plugin_group_resources_are_listed_per_version() {
        let reg = registry();
        let list = api_resource_list(&reg, "sub.example.com", "v1alpha3").unwrap();
        assert_eq!(find(&list, "widgets/start")["kind"], json!("Status"));
        assert_eq!(find(&list, "version")["verbs"], json!(["get"]));
        assert!(api_resource_list(&reg, "sub.example.com", "v2").is_none());
    }

    #[test]
    fn aggregated_documents_parse_as_the_v2_types() {
        let reg = registry();
        for core in [true, false] {
            let doc = aggregated(&reg, core);
            assert_eq!(doc["apiVersion"], json!("apidiscovery.k8s.io/v2"));
            let parsed: APIGroupDiscoveryList = serde_json::from_value(doc).unwrap();
            assert!(!parsed.items.is_empty());
        }
    }

    #[test]
    fn aggregated_core_has_only_the_core_group() {
        let doc = aggregated(&registry(), true);
        let items = doc["items"].as_array().unwrap();
        assert_eq!(items.len(), 1);
        assert!(items[0]["metadata"].get("name").is_none());
        let v1 = &items[0]["versions"][0];
        assert_eq!(v1["version"], json!("v1"));
        assert_eq!(v1["freshness"], json!("Current"));
        let pods = v1["resources"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["resource"] == "pods")
            .unwrap();
        assert_eq!(
            pods["responseKind"],
            json!({"group": "", "version": "v1", "kind": "Pod"})
        );
        assert_eq!(pods["scope"], json!("Namespaced"));
        assert_eq!(pods["subresources"][0]["subresource"], json!("status"));
        let ns = v1["resources"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["resource"] == "namespaces")
            .unwrap();
        assert_eq!(ns["scope"], json!("Cluster"));
    }

    #[test]
    fn aggregated_groups_list_preferred_version_first_with_subresources() {
        let doc = aggregated(&registry(), false);
        let items = doc["items"].as_array().unwrap();
        assert!(items.iter().all(|g| g["metadata"]["name"] != ""));
        let ex = items
            .iter()
            .find(|g| g["metadata"]["name"] == "example.com")
            .unwrap();
        assert_eq!(ex["versions"][0]["version"], json!("v1"));
        assert_eq!(ex["versions"][1]["version"], json!("v1alpha1"));
        let w = &ex["versions"][0]["resources"][0];
        assert_eq!(w["shortNames"], json!(["wd"]));
        let subs: Vec<&Value> = w["subresources"].as_array().unwrap().iter().collect();
        assert_eq!(
            subs[0]["responseKind"],
            json!({"group": "autoscaling", "version": "v1", "kind": "Scale"})
        );
        assert_eq!(subs[1]["responseKind"]["kind"], json!("Widget"));
        assert!(
            ex["versions"][1]["resources"][0]
                .get("subresources")
                .is_none()
        );
    }

    #[test]
    fn aggregated_plugin_subresources_hang_off_a_kindless_parent() {
        let doc = aggregated(&registry(), false);
        let sub = doc["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|g| g["metadata"]["name"] == "sub.example.com")
            .unwrap();
        assert_eq!(sub["versions"].as_array().unwrap().len(), 2);
        let resources = sub["versions"][0]["resources"].as_array().unwrap();
        let version = resources
            .iter()
            .find(|r| r["resource"] == "version")
            .unwrap();
        assert_eq!(version["responseKind"]["kind"], json!("Version"));
        assert_eq!(version["scope"], json!("Cluster"));
        let parent = resources
            .iter()
            .find(|r| r["resource"] == "widgets")
            .unwrap();
        assert!(parent.get("responseKind").is_none());
        let names: Vec<&Value> = parent["subresources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| &s["subresource"])
            .collect();
        assert_eq!(names, vec!["start", "stop"]);
        assert_eq!(
            parent["subresources"][0]["responseKind"]["group"],
            json!("sub.example.com")
        );
    }

    #[test]
    fn aggregated_content_type_is_the_v2_list() {
        assert_eq!(
            AGGREGATED_CONTENT_TYPE,
            "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
        );
    }
}
