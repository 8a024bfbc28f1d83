//! Events: core/v1 `Event` (stored) and events.k8s.io/v1 `Event`, served as a view of the same
//! objects through [`EventsV1Converter`], as the real server does.

use std::sync::Arc;

use k8s_openapi::api::core::v1 as core;
use k8s_openapi::api::events::v1 as events;
use serde_json::{Map, Value, json};

use super::schema::structural;
use super::{Builtin, column, date_cell, str_at};
use crate::error::ApiError;
use crate::plugin::EventKindAlias;
use crate::registry::{
    Converter, GroupResource, PrinterColumn, Registry, ResourceDef, SelectableField, TableRenderer,
};
use crate::selector::FieldSelector;

/// Fields that are renamed between events.k8s.io/v1 (left) and core/v1 (right). All other
/// fields (`metadata`, `eventTime`, `series`, `action`, `related`, `reason`, `type`,
/// `reportingInstance`) have the same name and shape in both.
const RENAMED: &[(&str, &str)] = &[
    ("regarding", "involvedObject"),
    ("note", "message"),
    ("deprecatedSource", "source"),
    ("deprecatedFirstTimestamp", "firstTimestamp"),
    ("deprecatedLastTimestamp", "lastTimestamp"),
    ("deprecatedCount", "count"),
    ("reportingController", "reportingComponent"),
];

/// core/v1 events.
pub fn core_events() -> ResourceDef {
    let mut def = Builtin {
        group: "",
        version: "v1",
        kind: "Event",
        plural: "events",
        short_names: &["ev"],
        categories: &[],
        namespaced: true,
        status_subresource: false,
        selectable: &[
            "involvedObject.kind",
            "involvedObject.namespace",
            "involvedObject.name",
            "involvedObject.uid",
            "involvedObject.apiVersion",
            "involvedObject.resourceVersion",
            "involvedObject.fieldPath",
            "reason",
            "reportingComponent",
            "type",
        ],
        schema: structural::<core::Event>(),
        table: Arc::new(EventTable),
    }
    .build();
    def.selectable_fields.push(SelectableField {
        name: "source".into(),
        path: "source.component".into(),
    });
    def
}

/// events.k8s.io/v1 events: a view of the core/v1 events. Its selectable fields name paths in
/// the events.k8s.io shape (`regarding.uid`, `reportingController`, ...).
pub fn events_v1() -> ResourceDef {
    let mut def = Builtin {
        group: "events.k8s.io",
        version: "v1",
        kind: "Event",
        plural: "events",
        short_names: &["ev"],
        categories: &[],
        namespaced: true,
        status_subresource: false,
        selectable: &[
            "regarding.kind",
            "regarding.namespace",
            "regarding.name",
            "regarding.uid",
            "regarding.apiVersion",
            "regarding.resourceVersion",
            "regarding.fieldPath",
            "reason",
            "reportingController",
            "type",
        ],
        schema: structural::<events::Event>(),
        table: Arc::new(EventTable),
    }
    .build();
    def.storage_of = Some((
        GroupResource::new("", "events"),
        Arc::new(EventsV1Converter),
    ));
    def
}

/// The selectable fields naming the kind and the API version of the object an event is about,
/// in core/v1 and events.k8s.io/v1.
const INVOLVED_FIELDS: &[(&str, &str)] = &[
    ("involvedObject.kind", "involvedObject.apiVersion"),
    ("regarding.kind", "regarding.apiVersion"),
];

/// Whether `def` is core/v1 or events.k8s.io/v1 events.
fn is_events(def: &ResourceDef) -> bool {
    def.plural == "events" && (def.group.is_empty() || def.group == "events.k8s.io")
}

/// Widens a selector on events (core/v1 or events.k8s.io/v1) by the registry's
/// [`crate::EventKindAlias`]es: a kind term naming an aliased kind also matches the kind events
/// are recorded about, and an apiVersion term then also matches the recorded API version. An
/// apiVersion term alone is left as it is, as are selectors on other resources.
pub fn widen_event_kinds(def: &ResourceDef, selector: &mut FieldSelector, registry: &Registry) {
    if !is_events(def) {
        return;
    }
    for (kind_field, version_field) in INVOLVED_FIELDS {
        let asked: Vec<&String> = selector
            .terms()
            .iter()
            .filter(|t| t.field == *kind_field && !t.negated)
            .map(|t| &t.value)
            .collect();
        let aliases: Vec<EventKindAlias> = registry
            .event_kind_aliases()
            .iter()
            .filter(|a| asked.contains(&&a.kind))
            .cloned()
            .collect();
        let kinds = |value: &str| recorded(&aliases, |a| (&a.kind, &a.recorded_kind), value);
        selector.widen(kind_field, kinds);
        let versions = |value: &str| {
            recorded(
                &aliases,
                |a| (&a.api_version, &a.recorded_api_version),
                value,
            )
        };
        selector.widen(version_field, versions);
    }
}

/// The recorded values of `aliases` whose asked value (as `pick` pairs them) is `value`.
fn recorded(
    aliases: &[EventKindAlias],
    pick: fn(&EventKindAlias) -> (&String, &String),
    value: &str,
) -> Vec<String> {
    aliases
        .iter()
        .map(pick)
        .filter(|(asked, _)| *asked == value)
        .map(|(_, recorded)| recorded.clone())
        .collect()
}

/// Converts events.k8s.io/v1 events to and from the stored core/v1 form. Fields unknown to
/// the mapping are carried over unchanged, so a round trip loses nothing.
pub struct EventsV1Converter;

/// The event with its fields renamed (`v1_to_core`: from events.k8s.io/v1 to core/v1), or
/// `None` if it is not a JSON object.
fn rename(object: Value, v1_to_core: bool, api_version: &str) -> Option<Value> {
    let Value::Object(map) = object else {
        return None;
    };
    let mut out = Map::with_capacity(map.len());
    for (k, v) in map {
        let renamed = RENAMED
            .iter()
            .find(|(v1, core)| if v1_to_core { k == *v1 } else { k == *core })
            .map(|(v1, core)| if v1_to_core { *core } else { *v1 });
        out.insert(renamed.map_or(k, String::from), v);
    }
    out.insert("apiVersion".into(), api_version.into());
    out.insert("kind".into(), "Event".into());
    Some(Value::Object(out))
}

/// The conversion, or the message of a bad request.
fn convert(version: &str, object: Value, v1_to_core: bool) -> Result<Value, String> {
    if version != "v1" {
        return Err(format!("events.k8s.io has no version {version}"));
    }
    let api_version = if v1_to_core { "v1" } else { "events.k8s.io/v1" };
    rename(object, v1_to_core, api_version).ok_or_else(|| "an event must be a JSON object".into())
}

impl Converter for EventsV1Converter {
    fn to_storage(&self, version: &str, object: Value) -> Result<Value, ApiError> {
        convert(version, object, true).map_err(ApiError::bad_request)
    }

    fn from_storage(&self, version: &str, object: Value) -> Result<Value, ApiError> {
        convert(version, object, false).map_err(ApiError::bad_request)
    }
}

/// The events table (LAST SEEN TYPE REASON OBJECT MESSAGE), for either shape. Unlike other
/// kinds, the real server shows the name only in wide output, as the last column; that column
/// has format `name`, which tells the server not to prepend its own Name column.
pub struct EventTable;

impl TableRenderer for EventTable {
    fn columns(&self) -> Vec<PrinterColumn> {
        let mut name = column("Name", "string", 1, "Name of the event.");
        name.format = "name".into();
        vec![
            column(
                "Last Seen",
                "date",
                0,
                "The time at which the most recent occurrence of this event was recorded.",
            ),
            column("Type", "string", 0, "Type of this event (Normal, Warning)."),
            column(
                "Reason",
                "string",
                0,
                "The reason for the transition into the object's current status.",
            ),
            column(
                "Object",
                "string",
                0,
                "The object that this event is about.",
            ),
            column(
                "Subobject",
                "string",
                1,
                "The field of the object that this event is about.",
            ),
            column("Source", "string", 1, "The component reporting this event."),
            column(
                "Message",
                "string",
                0,
                "A human-readable description of the status of this operation.",
            ),
            column(
                "First Seen",
                "date",
                1,
                "The time at which the event was first recorded.",
            ),
            column(
                "Count",
                "string",
                1,
                "The number of times this event has occurred.",
            ),
            name,
        ]
    }

    fn cells(&self, object: &Value) -> Vec<Value> {
        let core_form;
        let e = if object.get("regarding").is_some()
            || str_at(object, "/apiVersion").starts_with("events.k8s.io/")
        {
            core_form = rename(object.clone(), true, "v1").unwrap_or(Value::Null);
            &core_form
        } else {
            object
        };
        event_cells(e)
    }
}

fn event_cells(e: &Value) -> Vec<Value> {
    let first = match date_cell(e, "/firstTimestamp") {
        Value::Null => date_cell(e, "/eventTime"),
        t => t,
    };
    let mut last = match date_cell(e, "/lastTimestamp") {
        Value::Null => first.clone(),
        t => t,
    };
    let mut count = e.get("count").and_then(Value::as_i64).unwrap_or(0);
    if e.get("series").is_some_and(Value::is_object) {
        last = date_cell(e, "/series/lastObservedTime");
        count = e
            .pointer("/series/count")
            .and_then(Value::as_i64)
            .unwrap_or(0);
    } else if count == 0 {
        count = 1;
    }
    let kind = str_at(e, "/involvedObject/kind").to_lowercase();
    let name = str_at(e, "/involvedObject/name");
    let target = if name.is_empty() {
        kind
    } else {
        format!("{kind}/{name}")
    };
    vec![
        last,
        json!(str_at(e, "/type")),
        json!(str_at(e, "/reason")),
        json!(target),
        json!(str_at(e, "/involvedObject/fieldPath")),
        json!(event_source(e)),
        json!(str_at(e, "/message").trim()),
        first,
        json!(count),
        json!(str_at(e, "/metadata/name")),
    ]
}

/// `component, host` from `source`, else `reportingController, reportingInstance`.
fn event_source(e: &Value) -> String {
    let (component, host) = match str_at(e, "/source/component") {
        "" => (
            str_at(e, "/reportingComponent"),
            str_at(e, "/reportingInstance"),
        ),
        c => (c, str_at(e, "/source/host")),
    };
    if host.is_empty() {
        component.to_string()
    } else {
        format!("{component}, {host}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v1_event() -> Value {
        json!({
            "apiVersion": "events.k8s.io/v1",
            "kind": "Event",
            "metadata": {"name": "vm1.1", "namespace": "default"},
            "eventTime": "2025-01-01T00:00:00.000000Z",
            "series": {"count": 2, "lastObservedTime": "2025-01-01T00:05:00.000000Z"},
            "reportingController": "kubevirt.io/virt-controller",
            "reportingInstance": "node1",
            "action": "Start",
            "reason": "Started",
            "regarding": {"kind": "VirtualMachine", "name": "vm1", "namespace": "default", "uid": "u1"},
            "related": {"kind": "Pod", "name": "virt-launcher-vm1"},
            "note": "VM started",
            "type": "Normal",
            "deprecatedSource": {"component": "virt-controller"},
            "deprecatedFirstTimestamp": "2025-01-01T00:00:00Z",
            "deprecatedLastTimestamp": "2025-01-01T00:05:00Z",
            "deprecatedCount": 2,
        })
    }

    #[test]
    fn events_v1_maps_to_core_fields() {
        let core = EventsV1Converter.to_storage("v1", v1_event()).unwrap();
        assert_eq!(core["apiVersion"], json!("v1"));
        assert_eq!(core["involvedObject"]["uid"], json!("u1"));
        assert_eq!(core["message"], json!("VM started"));
        assert_eq!(core["source"]["component"], json!("virt-controller"));
        assert_eq!(core["firstTimestamp"], json!("2025-01-01T00:00:00Z"));
        assert_eq!(core["lastTimestamp"], json!("2025-01-01T00:05:00Z"));
        assert_eq!(core["count"], json!(2));
        assert_eq!(
            core["reportingComponent"],
            json!("kubevirt.io/virt-controller")
        );
        assert_eq!(core["reportingInstance"], json!("node1"));
        assert_eq!(core["series"]["count"], json!(2));
        assert_eq!(core["related"]["name"], json!("virt-launcher-vm1"));
        for gone in [
            "regarding",
            "note",
            "deprecatedSource",
            "deprecatedCount",
            "reportingController",
        ] {
            assert!(core.get(gone).is_none(), "{gone} left in the core form");
        }
    }

    #[test]
    fn events_round_trip_through_storage_unchanged() {
        let original = v1_event();
        let core = EventsV1Converter
            .to_storage("v1", original.clone())
            .unwrap();
        let back = EventsV1Converter.from_storage("v1", core.clone()).unwrap();
        assert_eq!(back, original);
        let again = EventsV1Converter.to_storage("v1", back).unwrap();
        assert_eq!(again, core);
    }

    #[test]
    fn core_events_read_through_the_view() {
        let core = json!({"apiVersion": "v1", "kind": "Event", "metadata": {"name": "e"},
            "involvedObject": {"kind": "Pod", "name": "p"}, "message": "hello", "count": 1,
            "source": {"component": "kubelet"}});
        let v1 = EventsV1Converter.from_storage("v1", core).unwrap();
        assert_eq!(v1["apiVersion"], json!("events.k8s.io/v1"));
        assert_eq!(v1["regarding"]["name"], json!("p"));
        assert_eq!(v1["note"], json!("hello"));
        assert_eq!(v1["deprecatedCount"], json!(1));
        assert_eq!(v1["deprecatedSource"]["component"], json!("kubelet"));
    }

    #[test]
    fn unknown_versions_and_non_objects_are_refused() {
        assert!(EventsV1Converter.to_storage("v1beta1", v1_event()).is_err());
        assert!(EventsV1Converter.from_storage("v1", json!([1])).is_err());
    }

    #[test]
    fn view_is_stored_as_core_events() {
        let def = events_v1();
        let (target, _) = def.storage_of.as_ref().unwrap();
        assert_eq!(target, &GroupResource::new("", "events"));
        assert!(
            def.selectable_fields
                .iter()
                .any(|f| f.name == "regarding.uid")
        );
        let core = core_events();
        assert!(core.selectable_fields.contains(&SelectableField {
            name: "source".into(),
            path: "source.component".into()
        }));
        assert!(
            core.selectable_fields
                .contains(&SelectableField::same("involvedObject.uid"))
        );
    }

    fn ovm_alias() -> EventKindAlias {
        EventKindAlias::new(
            ("kubevirt.io/v1alpha1", "OfflineVirtualMachine"),
            ("kubevirt.io/v1", "VirtualMachine"),
        )
    }

    fn recorded() -> Value {
        json!({"involvedObject": {"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachine",
            "name": "vm1", "namespace": "default", "uid": "u1"}})
    }

    fn widened(def: &ResourceDef, selector: &str, reg: &Registry) -> FieldSelector {
        let mut sel = FieldSelector::parse(selector, &def.selectable_fields).unwrap();
        widen_event_kinds(def, &mut sel, reg);
        sel
    }

    #[test]
    fn kind_aliases_widen_event_selectors_only() {
        let mut reg = Registry::new();
        reg.add_event_kind_alias(ovm_alias());
        reg.add_event_kind_alias(ovm_alias());
        assert_eq!(reg.event_kind_aliases(), [ovm_alias()]);
        // As `kubectl describe offlinevirtualmachine vm1` asks for the events.
        let describe = "involvedObject.kind=OfflineVirtualMachine,involvedObject.name=vm1,\
            involvedObject.namespace=default,involvedObject.uid=u1";
        let core = core_events();
        assert!(!widened(&core, describe, &Registry::new()).matches(&recorded()));
        let sel = widened(&core, describe, &reg);
        assert!(sel.matches(&recorded()));
        let mut pod = recorded();
        pod["involvedObject"]["kind"] = json!("Pod");
        assert!(!sel.matches(&pod));
        let mut other_uid = recorded();
        other_uid["involvedObject"]["uid"] = json!("u2");
        assert!(!sel.matches(&other_uid));

        let v1 = events_v1();
        let sel = widened(&v1, "regarding.kind=OfflineVirtualMachine", &reg);
        assert!(sel.matches(&json!({"regarding": {"kind": "VirtualMachine"}})));

        let mut not_events = core_events();
        not_events.plural = "things".into();
        assert!(!widened(&not_events, describe, &reg).matches(&recorded()));
    }

    #[test]
    fn api_versions_are_widened_only_with_an_aliased_kind() {
        let mut reg = Registry::new();
        reg.add_event_kind_alias(ovm_alias());
        let core = core_events();
        // As `kubectl events --for offlinevirtualmachine/vm1` asks for the events.
        let events_for = "involvedObject.kind=OfflineVirtualMachine,\
            involvedObject.apiVersion=kubevirt.io/v1alpha1,involvedObject.name=vm1";
        assert!(widened(&core, events_for, &reg).matches(&recorded()));
        let version_only = "involvedObject.apiVersion=kubevirt.io/v1alpha1";
        assert!(!widened(&core, version_only, &reg).matches(&recorded()));
        let other_kind = "involvedObject.kind=VirtualMachine,\
            involvedObject.apiVersion=kubevirt.io/v1alpha1";
        assert!(!widened(&core, other_kind, &reg).matches(&recorded()));
    }

    #[test]
    fn event_row_reads_either_shape_alike() {
        let v1 = v1_event();
        let core = EventsV1Converter.to_storage("v1", v1.clone()).unwrap();
        let a = EventTable.cells(&v1);
        assert_eq!(a, EventTable.cells(&core));
        assert_eq!(a.len(), EventTable.columns().len());
        assert_eq!(a[0], json!("2025-01-01T00:05:00.000000Z"));
        assert_eq!(
            a[1..4],
            [
                json!("Normal"),
                json!("Started"),
                json!("virtualmachine/vm1")
            ]
        );
        assert_eq!(a[6], json!("VM started"));
        assert_eq!(a[8], json!(2));
        assert_eq!(a[9], json!("vm1.1"));
    }

    #[test]
    fn singleton_event_counts_once_and_falls_back_to_first_seen() {
        let e = json!({"involvedObject": {"kind": "Node"}, "eventTime": "2025-01-01T00:00:00.5Z",
            "reportingComponent": "kubelet", "reportingInstance": "node1"});
        let c = EventTable.cells(&e);
        assert_eq!(c[0], json!("2025-01-01T00:00:00.5Z"));
        assert_eq!(c[3], json!("node"));
        assert_eq!(c[5], json!("kubelet, node1"));
        assert_eq!(c[8], json!(1));
    }

    #[test]
    fn events_table_shows_last_seen_type_reason_object_message() {
        let cols = EventTable.columns();
        let normal: Vec<_> = cols
            .iter()
            .filter(|c| c.priority == 0)
            .map(|c| c.name.as_str())
            .collect();
        assert_eq!(
            normal,
            vec!["Last Seen", "Type", "Reason", "Object", "Message"]
        );
        assert_eq!(cols.last().unwrap().format, "name");
    }
}
