//! Built-in Kubernetes kinds the product needs, as resource definitions.
//!
//! [`resources`] returns core/v1 `Namespace`, `Pod`, `Service`, `Event`, `Node`, `ConfigMap`,
//! `Secret`, `PersistentVolumeClaim`, `ServiceAccount` and `Endpoints`, apps/v1
//! `ControllerRevision`, coordination.k8s.io/v1 `Lease`, events.k8s.io/v1 `Event` (a view of
//! the core/v1 events, see [`events::EventsV1Converter`]), scheduling.k8s.io/v1 `PriorityClass`,
//! and resource.k8s.io/v1 `ResourceClaimTemplate` and `ResourceClaim`. Each carries its
//! structural schema (see [`schema`]), the short names and categories of the real server, its
//! selectable fields, and a [`TableRenderer`] with the columns `kubectl get` shows.
//!
//! # Table contract
//!
//! The renderers follow the contract of the server's table code:
//! - [`TableRenderer::columns`] does **not** include the `Name` column: the server prepends it,
//!   with the object's `metadata.name` as the first cell. The one exception is a renderer whose
//!   columns already hold a column with `format` `name` (the events table, where the real
//!   server shows the name only in wide output, last): the server must then not prepend one.
//! - A cell of a column of type `date` is the raw RFC 3339 timestamp string (possibly with
//!   fractional seconds, as in `MicroTime`), or `null` when the object has no such timestamp;
//!   the server renders it as a human duration since then (`<unknown>` for `null`).
//! - Columns with `priority` > 0 are shown by `kubectl get -o wide` only.

pub mod apps;
pub mod core;
pub mod events;
pub mod pods;
pub mod resource;
pub mod scheduling;
pub mod schema;

use std::sync::Arc;

use serde_json::Value;

use crate::registry::{PrinterColumn, ResourceDef, SelectableField, TableRenderer, VersionDef};

/// Every built-in kind, in discovery order (core/v1 first).
pub fn resources() -> Vec<ResourceDef> {
    vec![
        core::namespaces(),
        pods::pods(),
        core::services(),
        events::core_events(),
        core::nodes(),
        core::config_maps(),
        core::secrets(),
        core::persistent_volume_claims(),
        core::service_accounts(),
        core::endpoints(),
        apps::controller_revisions(),
        apps::leases(),
        events::events_v1(),
        scheduling::priority_classes(),
        resource::resource_claim_templates(),
        resource::resource_claims(),
    ]
}

/// The identity and behaviour of one built-in kind; [`Builtin::build`] makes the definition.
pub(crate) struct Builtin {
    pub group: &'static str,
    pub version: &'static str,
    pub kind: &'static str,
    pub plural: &'static str,
    pub short_names: &'static [&'static str],
    pub categories: &'static [&'static str],
    pub namespaced: bool,
    pub status_subresource: bool,
    pub selectable: &'static [&'static str],
    pub schema: Value,
    pub table: Arc<dyn TableRenderer>,
}

impl Builtin {
    pub fn build(self) -> ResourceDef {
        let strings = |s: &[&str]| s.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        ResourceDef {
            group: self.group.into(),
            kind: self.kind.into(),
            list_kind: format!("{}List", self.kind),
            plural: self.plural.into(),
            singular: self.kind.to_lowercase(),
            short_names: strings(self.short_names),
            categories: strings(self.categories),
            namespaced: self.namespaced,
            versions: vec![VersionDef {
                name: self.version.into(),
                served: true,
                storage: true,
                deprecated: false,
                deprecation_warning: None,
                schema: Some(self.schema),
                printer_columns: Vec::new(),
                status_subresource: self.status_subresource,
                scale: None,
            }],
            builtin: true,
            selectable_fields: self
                .selectable
                .iter()
                .map(|f| SelectableField::same(f))
                .collect(),
            storage_of: None,
            table: Some(self.table),
            crd_labels: Default::default(),
        }
    }
}

/// A column computed by a renderer (it has no JSONPath).
pub(crate) fn column(name: &str, type_: &str, priority: i32, description: &str) -> PrinterColumn {
    PrinterColumn {
        name: name.into(),
        type_: type_.into(),
        format: String::new(),
        description: description.into(),
        priority,
        json_path: String::new(),
    }
}

/// The `Age` column: `metadata.creationTimestamp` as a `date` cell.
pub(crate) fn age_column() -> PrinterColumn {
    column(
        "Age",
        "date",
        0,
        "CreationTimestamp is a timestamp representing the server time when this object was created.",
    )
}

/// The cell of a `date` column: the timestamp string at `pointer`, or null.
pub(crate) fn date_cell(object: &Value, pointer: &str) -> Value {
    match object.pointer(pointer).and_then(Value::as_str) {
        Some(s) if !s.is_empty() => Value::String(s.to_string()),
        _ => Value::Null,
    }
}

/// The age cell of an object.
pub(crate) fn age_cell(object: &Value) -> Value {
    date_cell(object, "/metadata/creationTimestamp")
}

/// The string at `pointer`, or "".
pub(crate) fn str_at<'a>(object: &'a Value, pointer: &str) -> &'a str {
    object
        .pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or("")
}

/// The array at `pointer`, or an empty slice.
pub(crate) fn array_at<'a>(object: &'a Value, pointer: &str) -> &'a [Value] {
    object
        .pointer(pointer)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

/// The number of entries of the map at `pointer`.
pub(crate) fn map_len(object: &Value, pointer: &str) -> usize {
    object
        .pointer(pointer)
        .and_then(Value::as_object)
        .map_or(0, |m| m.len())
}

/// `s`, or `<none>` when empty.
pub(crate) fn or_none(s: &str) -> String {
    if s.is_empty() {
        "<none>".into()
    } else {
        s.into()
    }
}

/// A duration as Kubernetes prints ages (`duration.HumanDuration`): "45s", "5m10s", "3h",
/// "2d4h", "1y20d"; "<invalid>" for more than a second in the future.
pub fn human_duration(seconds: i64) -> String {
    if seconds < -1 {
        return "<invalid>".into();
    }
    if seconds < 0 {
        return "0s".into();
    }
    if seconds < 120 {
        return format!("{seconds}s");
    }
    let minutes = seconds / 60;
    if minutes < 10 {
        let s = seconds % 60;
        return if s == 0 {
            format!("{minutes}m")
        } else {
            format!("{minutes}m{s}s")
        };
    }
    if minutes < 180 {
        return format!("{minutes}m");
    }
    let hours = seconds / 3600;
    if hours < 8 {
        let m = minutes % 60;
        return if m == 0 {
            format!("{hours}h")
        } else {
            format!("{hours}h{m}m")
        };
    }
    if hours < 48 {
        return format!("{hours}h");
    }
    let days = hours / 24;
    if hours < 24 * 8 {
        let h = hours % 24;
        return if h == 0 {
            format!("{days}d")
        } else {
            format!("{days}d{h}h")
        };
    }
    if hours < 24 * 365 * 2 {
        return format!("{days}d");
    }
    let years = days / 365;
    if hours < 24 * 365 * 8 {
        let d = days % 365;
        return if d == 0 {
            format!("{years}y")
        } else {
            format!("{years}y{d}d")
        };
    }
    format!("{years}y")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn human_durations_match_kubernetes() {
        let cases = [
            (-5, "<invalid>"),
            (-1, "0s"),
            (0, "0s"),
            (119, "119s"),
            (120, "2m"),
            (125, "2m5s"),
            (310, "5m10s"),
            (600, "10m"),
            (179 * 60, "179m"),
            (3 * 3600, "3h"),
            (3 * 3600 + 60, "3h1m"),
            (3 * 3600 + 120, "3h2m"),
            (8 * 3600, "8h"),
            (47 * 3600, "47h"),
            (48 * 3600, "2d"),
            (50 * 3600, "2d2h"),
            (52 * 3600, "2d4h"),
            (8 * 86400, "8d"),
            (730 * 86400, "2y"),
            (750 * 86400, "2y20d"),
            (9 * 365 * 86400, "9y"),
        ];
        for (secs, want) in cases {
            assert_eq!(human_duration(secs), want, "{secs}s");
        }
    }

    #[test]
    fn builtins_are_unique_and_marked_builtin() {
        let all = resources();
        let names: BTreeSet<_> = all
            .iter()
            .map(|r| (r.group.clone(), r.plural.clone()))
            .collect();
        assert_eq!(names.len(), all.len());
        assert!(all.iter().all(|r| r.builtin && r.table.is_some()));
        assert!(all.iter().all(|r| r.versions[0].schema.is_some()));
    }

    #[test]
    fn builtin_schemas_are_self_contained_objects() {
        for r in resources() {
            let schema = r.versions[0].schema.as_ref().unwrap();
            assert_eq!(schema["type"], "object", "{}", r.kind);
            assert!(
                !schema.to_string().contains("$ref"),
                "{} has a reference",
                r.kind
            );
            assert!(
                schema.pointer("/properties/apiVersion").is_some(),
                "{}",
                r.kind
            );
        }
    }

    #[test]
    fn short_names_are_those_of_the_real_server() {
        let all = resources();
        let short = |g: &str, p: &str| {
            all.iter()
                .find(|r| r.group == g && r.plural == p)
                .unwrap()
                .short_names
                .join(",")
        };
        assert_eq!(short("", "namespaces"), "ns");
        assert_eq!(short("", "pods"), "po");
        assert_eq!(short("", "services"), "svc");
        assert_eq!(short("", "events"), "ev");
        assert_eq!(short("", "nodes"), "no");
        assert_eq!(short("", "configmaps"), "cm");
        assert_eq!(short("", "persistentvolumeclaims"), "pvc");
        assert_eq!(short("", "serviceaccounts"), "sa");
        assert_eq!(short("", "endpoints"), "ep");
        assert_eq!(short("", "secrets"), "");
        assert_eq!(short("coordination.k8s.io", "leases"), "");
        assert_eq!(short("apps", "controllerrevisions"), "");
        assert_eq!(short("events.k8s.io", "events"), "ev");
    }

    #[test]
    fn all_category_holds_pods_and_services_only() {
        let in_all: Vec<_> = resources()
            .into_iter()
            .filter(|r| r.categories.iter().any(|c| c == "all"))
            .map(|r| r.plural)
            .collect();
        assert_eq!(in_all, vec!["pods", "services"]);
    }

    #[test]
    fn cluster_scoped_kinds_are_namespaces_nodes_and_priority_classes() {
        let cluster: Vec<_> = resources()
            .into_iter()
            .filter(|r| !r.namespaced)
            .map(|r| r.plural)
            .collect();
        assert_eq!(cluster, vec!["namespaces", "nodes", "priorityclasses"]);
    }

    #[test]
    fn no_renderer_declares_the_name_column_except_events() {
        for r in resources() {
            let cols = r.table.as_ref().unwrap().columns();
            let has_name = cols.iter().any(|c| c.name == "Name");
            assert_eq!(has_name, r.plural == "events", "{}.{}", r.plural, r.group);
        }
    }
}
