//! The resources the server serves, registered with their names, scope, versions, schemas,
//! printer columns and subresources. The server has no knowledge of any particular kind:
//! built-in kinds and custom resources alike are [`ResourceDef`]s, and a custom resource is
//! registered straight from its apiextensions/v1 `CustomResourceDefinition`.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::Value;

use crate::error::ApiError;
use crate::plugin::EventKindAlias;

/// `group/resource`, the identity of a resource independent of version.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct GroupResource {
    pub group: String,
    pub resource: String,
}

impl GroupResource {
    pub fn new(group: &str, resource: &str) -> Self {
        GroupResource {
            group: group.into(),
            resource: resource.into(),
        }
    }
}

/// A printer column (`additionalPrinterColumns`).
#[derive(Clone, Debug, PartialEq)]
pub struct PrinterColumn {
    pub name: String,
    /// integer, number, string, boolean or date.
    pub type_: String,
    pub format: String,
    pub description: String,
    pub priority: i32,
    /// A JSONPath such as `.status.conditions[?(@.type=='Ready')].status`.
    pub json_path: String,
}

/// The scale subresource (`/scale` ⇄ autoscaling/v1 Scale).
#[derive(Clone, Debug, PartialEq)]
pub struct ScaleDef {
    pub spec_replicas_path: String,
    pub status_replicas_path: String,
    pub label_selector_path: Option<String>,
}

/// One served version of a resource.
#[derive(Clone, Debug)]
pub struct VersionDef {
    pub name: String,
    pub served: bool,
    pub storage: bool,
    pub deprecated: bool,
    pub deprecation_warning: Option<String>,
    /// The `openAPIV3Schema`; `None` means "preserve unknown fields" (no pruning).
    pub schema: Option<Value>,
    pub printer_columns: Vec<PrinterColumn>,
    pub status_subresource: bool,
    pub scale: Option<ScaleDef>,
}

/// Converts objects between the form a client sees and the stored form, for resources served
/// as a view of another resource's storage (e.g. an old kind name) or whose versions differ in
/// shape. Plain version changes (only `apiVersion` differs) need no converter.
pub trait Converter: Send + Sync {
    /// From the requested version/kind to the stored form.
    fn to_storage(&self, version: &str, object: Value) -> Result<Value, ApiError>;
    /// From the stored form to the requested version/kind.
    #[allow(clippy::wrong_self_convention)]
    fn from_storage(&self, version: &str, object: Value) -> Result<Value, ApiError>;
}

/// A custom table renderer, for kinds whose columns are computed (e.g. a Pod's READY "1/1").
pub trait TableRenderer: Send + Sync {
    fn columns(&self) -> Vec<PrinterColumn>;
    /// One cell per column, in order.
    fn cells(&self, object: &Value) -> Vec<Value>;
}

/// A kind-specific field for `fieldSelector` (beyond `metadata.name`/`metadata.namespace`),
/// e.g. `status.phase` or `involvedObject.uid`: the selector name and the object path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SelectableField {
    /// The name used in selectors, e.g. `spec.nodeName`.
    pub name: String,
    /// Dotted path in the object, usually the same as `name`.
    pub path: String,
}

impl SelectableField {
    pub fn same(name: &str) -> Self {
        SelectableField {
            name: name.into(),
            path: name.into(),
        }
    }
}

/// Everything the server needs to serve a resource.
#[derive(Clone)]
pub struct ResourceDef {
    pub group: String,
    pub kind: String,
    pub list_kind: String,
    pub plural: String,
    pub singular: String,
    pub short_names: Vec<String>,
    pub categories: Vec<String>,
    pub namespaced: bool,
    pub versions: Vec<VersionDef>,
    /// Built-in kinds accept strategic merge patch; custom resources answer 415.
    pub builtin: bool,
    pub selectable_fields: Vec<SelectableField>,
    /// Where objects are stored and how they convert: another resource's key space (a view, such
    /// as an old kind name), or this resource's own (for versions whose shape differs).
    pub storage_of: Option<(GroupResource, Arc<dyn Converter>)>,
    /// A computed table for built-in kinds; custom resources use printer columns.
    pub table: Option<Arc<dyn TableRenderer>>,
    /// Labels and annotations of the CRD itself (e.g. `kubevirt.io: ""`), kept for export.
    pub crd_labels: BTreeMap<String, String>,
}

impl std::fmt::Debug for ResourceDef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResourceDef")
            .field("group", &self.group)
            .field("plural", &self.plural)
            .field("kind", &self.kind)
            .finish()
    }
}

impl ResourceDef {
    pub fn group_resource(&self) -> GroupResource {
        GroupResource::new(&self.group, &self.plural)
    }

    /// The version objects are stored in.
    pub fn storage_version(&self) -> &VersionDef {
        self.versions
            .iter()
            .find(|v| v.storage)
            .unwrap_or(&self.versions[0])
    }

    pub fn version(&self, name: &str) -> Option<&VersionDef> {
        self.versions.iter().find(|v| v.name == name && v.served)
    }

    /// `group/version` as it appears in `apiVersion`.
    pub fn api_version(&self, version: &str) -> String {
        if self.group.is_empty() {
            version.to_string()
        } else {
            format!("{}/{}", self.group, version)
        }
    }

    /// The version discovery prefers: the storage version if served, else the first served.
    pub fn preferred_version(&self) -> &VersionDef {
        self.versions
            .iter()
            .find(|v| v.storage && v.served)
            .or_else(|| self.versions.iter().find(|v| v.served))
            .unwrap_or(&self.versions[0])
    }

    /// Builds a definition from an apiextensions/v1 `CustomResourceDefinition` (as JSON).
    pub fn from_crd(crd: &Value) -> Result<ResourceDef, RegistryError> {
        let spec = crd.get("spec").ok_or(RegistryError::Missing("spec"))?;
        let names = spec
            .get("names")
            .ok_or(RegistryError::Missing("spec.names"))?;
        let s = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).unwrap_or("").to_string();
        let strings = |v: &Value, k: &str| -> Vec<String> {
            v.get(k)
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(|x| x.as_str().map(String::from))
                        .collect()
                })
                .unwrap_or_default()
        };
        let kind = s(names, "kind");
        let plural = s(names, "plural");
        if kind.is_empty() || plural.is_empty() {
            return Err(RegistryError::Missing("spec.names.kind/plural"));
        }
        let mut versions = Vec::new();
        for v in spec
            .get("versions")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let printer_columns = v
                .get("additionalPrinterColumns")
                .and_then(Value::as_array)
                .map(|cols| {
                    cols.iter()
                        .map(|c| PrinterColumn {
                            name: s(c, "name"),
                            type_: s(c, "type"),
                            format: s(c, "format"),
                            description: s(c, "description"),
                            priority: c.get("priority").and_then(Value::as_i64).unwrap_or(0) as i32,
                            json_path: s(c, "jsonPath"),
                        })
                        .collect()
                })
                .unwrap_or_default();
            let sub = v.get("subresources");
            let scale = sub.and_then(|s| s.get("scale")).map(|sc| ScaleDef {
                spec_replicas_path: s(sc, "specReplicasPath"),
                status_replicas_path: s(sc, "statusReplicasPath"),
                label_selector_path: sc
                    .get("labelSelectorPath")
                    .and_then(Value::as_str)
                    .map(String::from),
            });
            versions.push(VersionDef {
                name: s(v, "name"),
                served: v.get("served").and_then(Value::as_bool).unwrap_or(true),
                storage: v.get("storage").and_then(Value::as_bool).unwrap_or(false),
                deprecated: v
                    .get("deprecated")
                    .and_then(Value::as_bool)
                    .unwrap_or(false),
                deprecation_warning: v
                    .get("deprecationWarning")
                    .and_then(Value::as_str)
                    .map(String::from),
                schema: v
                    .get("schema")
                    .and_then(|s| s.get("openAPIV3Schema"))
                    .cloned(),
                printer_columns,
                status_subresource: sub.and_then(|s| s.get("status")).is_some(),
                scale,
            });
        }
        if versions.is_empty() {
            return Err(RegistryError::Missing("spec.versions"));
        }
        let selectable_fields = spec
            .get("selectableFields")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|f| f.get("jsonPath").and_then(Value::as_str))
                    .map(|p| SelectableField::same(p.trim_start_matches('.')))
                    .collect()
            })
            .unwrap_or_default();
        let crd_labels = crd
            .pointer("/metadata/labels")
            .and_then(Value::as_object)
            .map(|m| {
                m.iter()
                    .map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_string()))
                    .collect()
            })
            .unwrap_or_default();
        Ok(ResourceDef {
            group: s(spec, "group"),
            list_kind: names
                .get("listKind")
                .and_then(Value::as_str)
                .map(String::from)
                .unwrap_or_else(|| format!("{kind}List")),
            singular: {
                let sg = s(names, "singular");
                if sg.is_empty() {
                    kind.to_lowercase()
                } else {
                    sg
                }
            },
            kind,
            plural,
            short_names: strings(names, "shortNames"),
            categories: strings(names, "categories"),
            namespaced: spec.get("scope").and_then(Value::as_str) != Some("Cluster"),
            versions,
            builtin: false,
            selectable_fields,
            storage_of: None,
            table: None,
            crd_labels,
        })
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RegistryError {
    #[error("the definition has no {0}")]
    Missing(&'static str),
    #[error("{0} is registered twice")]
    Duplicate(String),
}

/// A resource of a plug-in API group (e.g. `virtualmachines/start` in
/// `subresources.kubevirt.io`), for discovery only: the plug-in serves the requests itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PluginResource {
    /// e.g. `virtualmachines/start`.
    pub name: String,
    pub namespaced: bool,
    pub kind: String,
    pub verbs: Vec<String>,
}

/// An API group served by a plug-in rather than by the generic resource handlers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PluginGroup {
    pub group: String,
    /// Served versions, preferred first.
    pub versions: Vec<String>,
    /// The same resources are listed in every version.
    pub resources: Vec<PluginResource>,
}

/// All registered resources, looked up by group/version/plural or by kind.
#[derive(Clone, Default, Debug)]
pub struct Registry {
    resources: Vec<Arc<ResourceDef>>,
    plugin_groups: Vec<PluginGroup>,
    event_kind_aliases: Vec<EventKindAlias>,
}

impl Registry {
    pub fn new() -> Self {
        Registry::default()
    }

    /// A registry of the built-in resources ([`crate::builtin::resources`]).
    pub fn with_builtins() -> Self {
        let mut reg = Registry::new();
        for def in crate::builtin::resources() {
            reg.register(def)
                .expect("built-in resources have distinct names");
        }
        reg
    }

    pub fn register(&mut self, def: ResourceDef) -> Result<(), RegistryError> {
        if self
            .resources
            .iter()
            .any(|r| r.group == def.group && r.plural == def.plural)
        {
            return Err(RegistryError::Duplicate(format!(
                "{}.{}",
                def.plural, def.group
            )));
        }
        self.resources.push(Arc::new(def));
        Ok(())
    }

    /// Adds a plug-in group to discovery.
    pub fn register_plugin_group(&mut self, group: PluginGroup) {
        self.plugin_groups.push(group);
    }

    /// Changes a registered resource in place (e.g. to add a version served by conversion).
    /// Returns false if it is not registered.
    pub fn modify(&mut self, group: &str, plural: &str, f: impl FnOnce(&mut ResourceDef)) -> bool {
        match self
            .resources
            .iter_mut()
            .find(|r| r.group == group && r.plural == plural)
        {
            Some(r) => {
                f(Arc::make_mut(r));
                true
            }
            None => false,
        }
    }

    /// Declares that events about `alias.kind` are recorded about `alias.recorded_as` (see
    /// [`EventKindAlias`]). Idempotent.
    pub fn add_event_kind_alias(&mut self, alias: EventKindAlias) {
        if !self.event_kind_aliases.contains(&alias) {
            self.event_kind_aliases.push(alias);
        }
    }

    /// The declared event kind aliases.
    pub fn event_kind_aliases(&self) -> &[EventKindAlias] {
        &self.event_kind_aliases
    }

    pub fn plugin_groups(&self) -> &[PluginGroup] {
        &self.plugin_groups
    }

    pub fn all(&self) -> &[Arc<ResourceDef>] {
        &self.resources
    }

    pub fn get(&self, group: &str, plural: &str) -> Option<&Arc<ResourceDef>> {
        self.resources
            .iter()
            .find(|r| r.group == group && r.plural == plural)
    }

    /// The resource served at `group/version/plural`, if that version is served.
    pub fn lookup(&self, group: &str, version: &str, plural: &str) -> Option<&Arc<ResourceDef>> {
        self.get(group, plural)
            .filter(|r| r.version(version).is_some())
    }

    pub fn by_kind(&self, group: &str, kind: &str) -> Option<&Arc<ResourceDef>> {
        self.resources
            .iter()
            .find(|r| r.group == group && r.kind == kind)
    }

    /// Groups in registration order (core group "" first if present), each with its served
    /// versions, preferred version first.
    pub fn groups(&self) -> Vec<(String, Vec<String>)> {
        let mut out: Vec<(String, Vec<String>)> = Vec::new();
        for r in &self.resources {
            let entry = match out.iter_mut().position(|(g, _)| *g == r.group) {
                Some(i) => &mut out[i],
                None => {
                    out.push((r.group.clone(), Vec::new()));
                    out.last_mut().expect("just pushed")
                }
            };
            let preferred = r.preferred_version().name.clone();
            if !entry.1.contains(&preferred) {
                entry.1.insert(0, preferred);
            }
            for v in r.versions.iter().filter(|v| v.served) {
                if !entry.1.contains(&v.name) {
                    entry.1.push(v.name.clone());
                }
            }
        }
        out.sort_by_key(|(g, _)| !g.is_empty());
        out
    }

    /// Resources served in `group/version`.
    pub fn in_group_version(&self, group: &str, version: &str) -> Vec<&Arc<ResourceDef>> {
        self.resources
            .iter()
            .filter(|r| r.group == group && r.version(version).is_some())
            .collect()
    }
}

#[cfg(test)]
impl Registry {
    /// The built-in resources and the resources of `crds`.
    pub(crate) fn builtin_with_crds(crds: &[Value]) -> Registry {
        let mut reg = Registry::with_builtins();
        for crd in crds {
            reg.register(ResourceDef::from_crd(crd).unwrap()).unwrap();
        }
        reg
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn crd() -> Value {
        json!({
            "apiVersion": "apiextensions.k8s.io/v1",
            "kind": "CustomResourceDefinition",
            "metadata": {"name": "widgets.example.com", "labels": {"example.com": ""}},
            "spec": {
                "group": "example.com",
                "scope": "Namespaced",
                "names": {"kind": "Widget", "plural": "widgets", "singular": "widget",
                          "shortNames": ["wd"], "categories": ["all"]},
                "versions": [
                    {"name": "v1alpha1", "served": true, "storage": false, "deprecated": true},
                    {"name": "v1", "served": true, "storage": true,
                     "schema": {"openAPIV3Schema": {"type": "object"}},
                     "subresources": {"status": {}, "scale": {"specReplicasPath": ".spec.replicas",
                        "statusReplicasPath": ".status.replicas", "labelSelectorPath": ".status.sel"}},
                     "additionalPrinterColumns": [{"name": "Age", "type": "date",
                        "jsonPath": ".metadata.creationTimestamp"}]}
                ]
            }
        })
    }

    #[test]
    fn crd_becomes_a_resource_definition() {
        let d = ResourceDef::from_crd(&crd()).unwrap();
        assert_eq!(d.kind, "Widget");
        assert_eq!(d.list_kind, "WidgetList");
        assert_eq!(d.short_names, vec!["wd"]);
        assert!(d.namespaced);
        assert_eq!(d.storage_version().name, "v1");
        assert_eq!(d.preferred_version().name, "v1");
        let v1 = d.version("v1").unwrap();
        assert!(v1.status_subresource);
        assert_eq!(
            v1.scale.as_ref().unwrap().label_selector_path.as_deref(),
            Some(".status.sel")
        );
        assert_eq!(
            v1.printer_columns[0].json_path,
            ".metadata.creationTimestamp"
        );
        assert!(d.version("v1alpha1").unwrap().deprecated);
        assert_eq!(
            d.crd_labels.get("example.com").map(String::as_str),
            Some("")
        );
    }

    #[test]
    fn groups_list_preferred_version_first() {
        let mut r = Registry::new();
        r.register(ResourceDef::from_crd(&crd()).unwrap()).unwrap();
        assert_eq!(
            r.groups(),
            vec![(
                "example.com".to_string(),
                vec!["v1".to_string(), "v1alpha1".to_string()]
            )]
        );
        assert!(r.lookup("example.com", "v1alpha1", "widgets").is_some());
        assert!(r.lookup("example.com", "v2", "widgets").is_none());
    }

    #[test]
    fn registering_twice_is_refused() {
        let mut r = Registry::new();
        r.register(ResourceDef::from_crd(&crd()).unwrap()).unwrap();
        assert!(matches!(
            r.register(ResourceDef::from_crd(&crd()).unwrap()),
            Err(RegistryError::Duplicate(_))
        ));
    }
}
