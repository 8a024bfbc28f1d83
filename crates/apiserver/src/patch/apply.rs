//! Server-side apply and `metadata.managedFields` bookkeeping: a documented subset of
//! structured-merge-diff as the Kubernetes API server uses it.
//!
//! Every write that names a field manager records which fields that manager set, as a field
//! set in the `FieldsV1` format, in one `managedFields` entry per (manager, operation,
//! subresource) — and, for `Update`, per apiVersion.
//!
//! * **Apply** ([`apply`](super::apply())): the applied configuration is merged into the
//!   live object (maps merge, keyed and set lists merge by item, other lists and scalars are
//!   replaced, `null` deletes). The manager's `Apply` entry then owns exactly the applied
//!   fields. Fields it applied last time and omits now are removed from the object unless
//!   another manager owns them or something below them. A field another manager owns whose
//!   value the apply adds, changes or deletes is a conflict (409) unless `force`, which moves
//!   ownership to the applier.
//! * **Update** ([`record_update`](super::record_update)): the manager's `Update` entry gains
//!   every field whose value the write added or changed; every other entry loses those fields
//!   and the removed ones.
//! * Entries whose set becomes empty are dropped. An entry's time changes only when the object
//!   changes, so re-applying the same configuration changes nothing.
//! * `apiVersion`, `kind`, `metadata` itself and `metadata.{name, namespace, uid,
//!   resourceVersion, generation, creationTimestamp, selfLink, managedFields}` are never owned.
//! * Applying to an object that has no `managedFields` first gives all of its fields to an
//!   `Update` entry of manager `before-first-apply`, as Kubernetes does.
//!
//! Where this diverges from Kubernetes:
//! * List semantics come from a hand-kept table of built-in merge keys (single keys only: e.g.
//!   container ports are keyed by `containerPort` alone, not `containerPort`+`protocol`), not
//!   from OpenAPI `x-kubernetes-list-type`/`-map-keys`. Lists of built-in kinds missing from
//!   the table are atomic. In custom resources a list whose items all carry distinct `name`s
//!   is a map keyed by `name`, every other list is atomic — the schema's list annotations are
//!   not read (Kubernetes treats unannotated CRD lists as atomic).
//! * Every field is treated as a struct field: map entries that are objects (rare outside
//!   `labels`/`annotations`-like string maps) are not owned as units, and `x-kubernetes-map-type:
//!   atomic` is not honoured.
//! * No defaulting, validation or version conversion of the applied configuration; field sets
//!   of other apiVersions are compared as if they were the same version.
//! * Removing a field applied earlier leaves its (possibly empty) parent map in place, except
//!   that empty `metadata.labels`/`metadata.annotations` are dropped.
//! * Not implemented: the "ancient-changes" cap on Update entries, the update of the
//!   `last-applied-configuration` annotation when `kubectl` applies server-side, and
//!   union (discriminator) normalisation.
//! * An applied `null` deletes the field and the applier owns it (deleting a value another
//!   manager owns is a conflict); Kubernetes keeps the `null` in built-in objects only until
//!   decoding drops it, and prunes it from custom resources, so the stored result matches.
//! * Status subresource reset (status ignored on the main resource and vice versa) is the
//!   caller's job: pass the applied configuration with those fields already stripped.

use serde_json::{Map, Value, json};

use super::PatchError;
use super::fieldset::{FieldPath, FieldSet, display_path};
use super::schema::Ty;
use super::typed;

const APPLY: &str = "Apply";
const UPDATE: &str = "Update";

/// One `metadata.managedFields` entry.
#[derive(Debug, Clone, PartialEq)]
pub struct ManagedFieldsEntry {
    pub manager: String,
    /// `Apply` or `Update`.
    pub operation: String,
    pub api_version: String,
    pub time: Option<String>,
    /// Empty for the main resource.
    pub subresource: String,
    pub fields: FieldSet,
}

impl ManagedFieldsEntry {
    fn from_json(v: &Value) -> Option<ManagedFieldsEntry> {
        let s = |k: &str| v.get(k).and_then(Value::as_str).map(String::from);
        Some(ManagedFieldsEntry {
            manager: s("manager").unwrap_or_default(),
            operation: s("operation")?,
            api_version: s("apiVersion").unwrap_or_default(),
            time: s("time"),
            subresource: s("subresource").unwrap_or_default(),
            fields: v
                .get("fieldsV1")
                .map(FieldSet::from_fields_v1)
                .unwrap_or_default(),
        })
    }

    /// The entry in the API's field order.
    pub fn to_json(&self) -> Value {
        let mut m = Map::new();
        m.insert("manager".into(), json!(self.manager));
        m.insert("operation".into(), json!(self.operation));
        m.insert("apiVersion".into(), json!(self.api_version));
        if let Some(t) = &self.time {
            m.insert("time".into(), json!(t));
        }
        m.insert("fieldsType".into(), json!("FieldsV1"));
        m.insert("fieldsV1".into(), self.fields.to_fields_v1());
        if !self.subresource.is_empty() {
            m.insert("subresource".into(), json!(self.subresource));
        }
        Value::Object(m)
    }

    /// The manager as the API server names it in conflicts: `"kubectl"` for an applier,
    /// `"kubectl-client-side-apply" using v1` for an updater.
    pub fn describe(&self) -> String {
        let mut s = format!("{:?}", self.manager);
        if !self.subresource.is_empty() {
            s.push_str(&format!(" with subresource {:?}", self.subresource));
        }
        if self.operation == UPDATE {
            s.push_str(&format!(" using {}", self.api_version));
        }
        s
    }

    fn is(&self, manager: &str, operation: &str, subresource: &str, api_version: &str) -> bool {
        self.manager == manager
            && self.operation == operation
            && self.subresource == subresource
            && (operation == APPLY || self.api_version == api_version)
    }
}

/// The `managedFields` entries of an object (entries that do not parse are dropped).
pub fn managed_fields(obj: &Value) -> Vec<ManagedFieldsEntry> {
    obj.pointer("/metadata/managedFields")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(ManagedFieldsEntry::from_json).collect())
        .unwrap_or_default()
}

/// Writes entries (sorted as the API server sorts them) into `metadata.managedFields`, or
/// removes the field when there are none.
fn set_managed_fields(obj: &mut Value, mut entries: Vec<ManagedFieldsEntry>) {
    entries.retain(|e| !e.fields.is_empty());
    entries.sort_by(|a, b| {
        (
            &a.operation,
            &a.time,
            &a.manager,
            &a.api_version,
            &a.subresource,
        )
            .cmp(&(
                &b.operation,
                &b.time,
                &b.manager,
                &b.api_version,
                &b.subresource,
            ))
    });
    let Some(meta) = obj.get_mut("metadata").and_then(Value::as_object_mut) else {
        if entries.is_empty() {
            return;
        }
        obj["metadata"] = json!({});
        return set_managed_fields(obj, entries);
    };
    if entries.is_empty() {
        meta.shift_remove("managedFields");
    } else {
        meta.insert(
            "managedFields".into(),
            Value::Array(entries.iter().map(|e| e.to_json()).collect()),
        );
    }
}

fn without_managed_fields(obj: &Value) -> Value {
    let mut out = obj.clone();
    if let Some(meta) = out.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.shift_remove("managedFields");
    }
    out
}

/// Drops the paths no manager may own.
fn strip(set: &FieldSet) -> FieldSet {
    let mut out = set.clone();
    let p = |elems: &[&str]| -> FieldPath { elems.iter().map(|e| format!("f:{e}")).collect() };
    out.remove(&p(&["apiVersion"]));
    out.remove(&p(&["kind"]));
    out.remove(&p(&["metadata"]));
    for f in [
        "name",
        "namespace",
        "uid",
        "resourceVersion",
        "generation",
        "creationTimestamp",
        "selfLink",
        "managedFields",
    ] {
        out.remove(&p(&["metadata", f]));
    }
    out
}

fn api_version(obj: &Value) -> String {
    obj.get("apiVersion")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

/// Server-side apply with an explicit subresource (`""` for the main resource); see
/// [`apply`](super::apply()).
pub fn apply_subresource(
    live: Option<&Value>,
    applied: &Value,
    manager: &str,
    subresource: &str,
    force: bool,
    now: &str,
) -> Result<Value, PatchError> {
    if !applied.is_object() {
        return Err(PatchError::Malformed(
            "the applied configuration must be an object".into(),
        ));
    }
    if manager.is_empty() {
        return Err(PatchError::Malformed(
            "fieldManager is required for apply requests".into(),
        ));
    }
    if applied
        .pointer("/metadata/managedFields")
        .is_some_and(|m| !m.is_null())
    {
        return Err(PatchError::Malformed(
            "metadata.managedFields must be nil".into(),
        ));
    }
    let ty = Ty::of_object(applied);
    let live_clean = live
        .map(without_managed_fields)
        .unwrap_or_else(|| json!({}));
    let mut entries = live.map(managed_fields).unwrap_or_default();
    if live.is_some() && entries.is_empty() {
        let owned = strip(&typed::compare(&json!({}), &live_clean, ty).changed());
        entries.push(ManagedFieldsEntry {
            manager: "before-first-apply".into(),
            operation: UPDATE.into(),
            api_version: api_version(&live_clean),
            time: Some(now.to_string()),
            subresource: String::new(),
            fields: owned,
        });
    }

    let mut merged = live_clean.clone();
    typed::merge(&mut merged, applied, ty);
    let applied_set = strip(&typed::applied_set(applied, ty));
    let mine = entries
        .iter()
        .position(|e| e.is(manager, APPLY, subresource, ""));
    if let Some(i) = mine {
        let others = entries
            .iter()
            .enumerate()
            .filter(|(j, _)| *j != i)
            .fold(FieldSet::default(), |acc, (_, e)| acc.union(&e.fields));
        let mut prune = FieldSet::default();
        for path in entries[i].fields.difference(&applied_set).members() {
            if !others.has_at_or_under(&path) && !applied_set.has_at_or_under(&path) {
                prune.insert(&path);
            }
        }
        if !prune.is_empty() {
            let before = merged.clone();
            typed::remove(&mut merged, &prune, ty);
            drop_emptied_metadata_maps(&before, applied, &mut merged);
        }
    }

    let cmp = typed::compare(&live_clean, &merged, ty);
    let changed = strip(&cmp.changed());
    let removed = strip(&cmp.removed);
    let mut conflicts: Vec<(String, String)> = Vec::new();
    for (j, e) in entries.iter().enumerate() {
        if Some(j) != mine {
            // Deleting a value another manager owns (an applied `null`) clashes too; pruned
            // fields never do, since they are owned by no one else.
            let clash = e.fields.intersection(&changed.union(&removed));
            conflicts.extend(
                clash
                    .members()
                    .iter()
                    .map(|p| (e.describe(), display_path(p))),
            );
        }
    }
    if !force && !conflicts.is_empty() {
        conflicts.sort();
        return Err(PatchError::Conflicts(conflicts));
    }
    for (j, e) in entries.iter_mut().enumerate() {
        if Some(j) != mine {
            e.fields = e.fields.difference(&changed).difference(&removed);
        }
    }
    let object_changed = merged != live_clean;
    match mine {
        Some(i) => {
            let e = &mut entries[i];
            e.fields = applied_set;
            e.api_version = api_version(applied);
            if object_changed || e.time.is_none() {
                e.time = Some(now.to_string());
            }
        }
        None => entries.push(ManagedFieldsEntry {
            manager: manager.to_string(),
            operation: APPLY.into(),
            api_version: api_version(applied),
            time: Some(now.to_string()),
            subresource: subresource.to_string(),
            fields: applied_set,
        }),
    }
    set_managed_fields(&mut merged, entries);
    Ok(merged)
}

/// Drops `metadata.labels`/`annotations` that pruning emptied (Kubernetes omits empty ones),
/// unless the applied configuration sets them itself.
fn drop_emptied_metadata_maps(before: &Value, applied: &Value, obj: &mut Value) {
    let was_empty = |k: &str| {
        before
            .pointer(&format!("/metadata/{k}"))
            .and_then(Value::as_object)
            .is_none_or(Map::is_empty)
    };
    let drop: Vec<&str> = ["labels", "annotations"]
        .into_iter()
        .filter(|k| !was_empty(k) && applied.pointer(&format!("/metadata/{k}")).is_none())
        .collect();
    if let Some(meta) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
        for k in drop {
            if meta
                .get(k)
                .and_then(Value::as_object)
                .is_some_and(Map::is_empty)
            {
                meta.shift_remove(k);
            }
        }
    }
}

/// Records an `Update` with an explicit subresource (`""` for the main resource); see
/// [`record_update`](super::record_update).
pub fn record_update_subresource(
    old: Option<&Value>,
    new: &mut Value,
    manager: &str,
    subresource: &str,
    now: &str,
) {
    let sent = managed_fields(new);
    let reset = new
        .pointer("/metadata/managedFields")
        .and_then(Value::as_array)
        .is_some_and(|a| a.len() == 1 && a[0].as_object().is_some_and(Map::is_empty));
    // As the API server does: managedFields sent with a main-resource write replace the stored
    // ones, `[{}]` clears them, and otherwise the stored ones carry over.
    let mut entries = if reset {
        Vec::new()
    } else if !sent.is_empty() && subresource.is_empty() {
        sent
    } else {
        old.map(managed_fields).unwrap_or_default()
    };
    let old_clean = old.map(without_managed_fields).unwrap_or_else(|| json!({}));
    let new_clean = without_managed_fields(new);
    let ty = Ty::of_object(&new_clean);
    let cmp = typed::compare(&old_clean, &new_clean, ty);
    let changed = strip(&cmp.changed());
    let removed = strip(&cmp.removed);
    for e in entries.iter_mut() {
        e.fields = e.fields.difference(&changed).difference(&removed);
    }
    if !changed.is_empty() {
        let version = api_version(&new_clean);
        match entries
            .iter_mut()
            .find(|e| e.is(manager, UPDATE, subresource, &version))
        {
            Some(e) => {
                e.fields = e.fields.union(&changed);
                e.time = Some(now.to_string());
            }
            None => entries.push(ManagedFieldsEntry {
                manager: manager.to_string(),
                operation: UPDATE.into(),
                api_version: version,
                time: Some(now.to_string()),
                subresource: subresource.to_string(),
                fields: changed,
            }),
        }
    }
    set_managed_fields(new, entries);
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::patch::{apply, record_update};

    const T1: &str = "2025-01-01T00:00:00Z";
    const T2: &str = "2025-01-02T00:00:00Z";

    fn deployment(replicas: i64, image: &str) -> Value {
        json!({
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "default", "labels": {"app": "web"}},
            "spec": {
                "replicas": replicas,
                "template": {"spec": {"containers": [{"name": "nginx", "image": image}]}}
            }
        })
    }

    /// What the store would hold after a create (server-set metadata included).
    fn stored(mut obj: Value) -> Value {
        let meta = obj["metadata"].as_object_mut().unwrap();
        meta.insert("uid".into(), json!("u-1"));
        meta.insert("resourceVersion".into(), json!("5"));
        meta.insert("creationTimestamp".into(), json!(T1));
        obj
    }

    fn entry<'a>(obj: &'a Value, manager: &str, op: &str) -> Option<&'a Value> {
        obj["metadata"]["managedFields"]
            .as_array()?
            .iter()
            .find(|e| e["manager"] == manager && e["operation"] == op)
    }

    fn owns(obj: &Value, manager: &str, op: &str, path: &[&str]) -> bool {
        let e = entry(obj, manager, op).expect("entry exists");
        let set = FieldSet::from_fields_v1(&e["fieldsV1"]);
        set.contains(&path.iter().map(|p| p.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn apply_on_create_records_the_applied_fields() {
        let obj = apply(None, &deployment(2, "nginx:1"), "kubectl", false, T1).unwrap();
        let e = entry(&obj, "kubectl", "Apply").unwrap();
        assert_eq!(e["apiVersion"], "apps/v1");
        assert_eq!(e["time"], T1);
        assert_eq!(e["fieldsType"], "FieldsV1");
        assert_eq!(
            e["fieldsV1"],
            json!({
                "f:metadata": {"f:labels": {"f:app": {}}},
                "f:spec": {"f:replicas": {}, "f:template": {"f:spec": {"f:containers": {
                    "k:{\"name\":\"nginx\"}": {".": {}, "f:image": {}, "f:name": {}}}}}}
            })
        );
        let keys: Vec<&String> = e.as_object().unwrap().keys().collect();
        assert_eq!(
            keys,
            [
                "manager",
                "operation",
                "apiVersion",
                "time",
                "fieldsType",
                "fieldsV1"
            ]
        );
        assert_eq!(obj["spec"]["replicas"], 2);
    }

    #[test]
    fn applying_the_same_configuration_twice_changes_nothing() {
        let live = stored(apply(None, &deployment(2, "nginx:1"), "kubectl", false, T1).unwrap());
        let again = apply(Some(&live), &deployment(2, "nginx:1"), "kubectl", false, T2).unwrap();
        assert_eq!(again, live);
    }

    #[test]
    fn fields_dropped_from_the_configuration_are_removed() {
        let live = stored(apply(None, &deployment(2, "nginx:1"), "kubectl", false, T1).unwrap());
        let mut cfg = deployment(2, "nginx:1");
        cfg["metadata"].as_object_mut().unwrap().remove("labels");
        cfg["spec"].as_object_mut().unwrap().remove("replicas");
        let out = apply(Some(&live), &cfg, "kubectl", false, T2).unwrap();
        assert!(out["spec"].get("replicas").is_none());
        assert!(out["metadata"].get("labels").is_none());
        assert_eq!(out["metadata"]["uid"], "u-1");
        assert_eq!(entry(&out, "kubectl", "Apply").unwrap()["time"], T2);
    }

    #[test]
    fn dropped_fields_that_another_manager_owns_stay() {
        let live = stored(apply(None, &deployment(2, "nginx:1"), "a", false, T1).unwrap());
        let live = apply(Some(&live), &deployment(2, "nginx:1"), "b", false, T1).unwrap();
        let mut cfg = deployment(2, "nginx:1");
        cfg["spec"].as_object_mut().unwrap().remove("replicas");
        let out = apply(Some(&live), &cfg, "a", false, T2).unwrap();
        assert_eq!(out["spec"]["replicas"], 2);
        assert!(owns(&out, "b", "Apply", &["f:spec", "f:replicas"]));
        assert!(!owns(&out, "a", "Apply", &["f:spec", "f:replicas"]));
    }

    #[test]
    fn server_side_apply_conflicts_with_client_side_apply_on_changed_values() {
        let mut live = stored(deployment(2, "nginx:1"));
        record_update(None, &mut live, "kubectl-client-side-apply", T1);
        assert!(owns(
            &live,
            "kubectl-client-side-apply",
            "Update",
            &["f:spec", "f:replicas"]
        ));
        let err = apply(Some(&live), &deployment(3, "nginx:1"), "kubectl", false, T2).unwrap_err();
        assert_eq!(
            err,
            PatchError::Conflicts(vec![(
                "\"kubectl-client-side-apply\" using apps/v1".into(),
                ".spec.replicas".into()
            )])
        );
        assert_eq!(
            err.to_string(),
            "Apply failed with 1 conflict: conflict with \"kubectl-client-side-apply\" using apps/v1: .spec.replicas"
        );
        assert_eq!(
            err.conflict_causes(),
            vec![(
                "conflict with \"kubectl-client-side-apply\" using apps/v1".to_string(),
                ".spec.replicas".to_string()
            )]
        );
    }

    #[test]
    fn equal_values_are_shared_without_conflict() {
        let mut live = stored(deployment(2, "nginx:1"));
        record_update(None, &mut live, "kubectl-client-side-apply", T1);
        let out = apply(Some(&live), &deployment(2, "nginx:1"), "kubectl", false, T2).unwrap();
        assert!(owns(
            &out,
            "kubectl-client-side-apply",
            "Update",
            &["f:spec", "f:replicas"]
        ));
        assert!(owns(&out, "kubectl", "Apply", &["f:spec", "f:replicas"]));
    }

    #[test]
    fn force_moves_ownership_to_the_applier() {
        let mut live = stored(deployment(2, "nginx:1"));
        record_update(None, &mut live, "kubectl-client-side-apply", T1);
        let out = apply(Some(&live), &deployment(3, "nginx:2"), "kubectl", true, T2).unwrap();
        assert_eq!(out["spec"]["replicas"], 3);
        assert!(!owns(
            &out,
            "kubectl-client-side-apply",
            "Update",
            &["f:spec", "f:replicas"]
        ));
        assert!(owns(
            &out,
            "kubectl-client-side-apply",
            "Update",
            &["f:metadata", "f:labels", "f:app"]
        ));
        assert!(owns(&out, "kubectl", "Apply", &["f:spec", "f:replicas"]));
    }

    #[test]
    fn applied_nulls_delete_and_clash_with_other_owners() {
        let mut live = stored(deployment(2, "nginx:1"));
        record_update(None, &mut live, "creator", T1);
        let mut cfg = deployment(2, "nginx:1");
        cfg["spec"]["replicas"] = Value::Null;
        let err = apply(Some(&live), &cfg, "kubectl", false, T2).unwrap_err();
        assert_eq!(
            err.to_string(),
            "Apply failed with 1 conflict: conflict with \"creator\" using apps/v1: .spec.replicas"
        );
        let out = apply(Some(&live), &cfg, "kubectl", true, T2).unwrap();
        assert!(out["spec"].get("replicas").is_none());
        assert!(owns(&out, "kubectl", "Apply", &["f:spec", "f:replicas"]));
        assert!(!owns(&out, "creator", "Update", &["f:spec", "f:replicas"]));
        let again = apply(Some(&stored(out.clone())), &cfg, "kubectl", false, T2).unwrap();
        assert_eq!(again, stored(out));
    }

    #[test]
    fn several_conflicts_are_grouped_by_manager() {
        let live = stored(apply(None, &deployment(2, "nginx:1"), "a", false, T1).unwrap());
        let err = apply(Some(&live), &deployment(3, "nginx:2"), "b", false, T2).unwrap_err();
        assert_eq!(
            err.to_string(),
            "Apply failed with 2 conflicts: conflicts with \"a\":\n- .spec.replicas\n- \
             .spec.template.spec.containers[name=\"nginx\"].image"
        );
    }

    #[test]
    fn applying_to_an_object_without_managed_fields_gives_them_to_before_first_apply() {
        let live = stored(deployment(2, "nginx:1"));
        let err = apply(Some(&live), &deployment(3, "nginx:1"), "kubectl", false, T2).unwrap_err();
        assert!(
            err.to_string()
                .contains("conflict with \"before-first-apply\" using apps/v1: .spec.replicas")
        );
        let out = apply(Some(&live), &deployment(2, "nginx:1"), "kubectl", false, T2).unwrap();
        assert!(owns(
            &out,
            "before-first-apply",
            "Update",
            &["f:spec", "f:replicas"]
        ));
    }

    #[test]
    fn updates_take_fields_from_other_managers() {
        let live = stored(apply(None, &deployment(2, "nginx:1"), "kubectl", false, T1).unwrap());
        let mut new = live.clone();
        new["spec"]["replicas"] = json!(5);
        new["spec"]["paused"] = json!(true);
        record_update(Some(&live), &mut new, "hpa", T2);
        assert!(!owns(&new, "kubectl", "Apply", &["f:spec", "f:replicas"]));
        assert!(owns(&new, "hpa", "Update", &["f:spec", "f:replicas"]));
        assert!(owns(&new, "hpa", "Update", &["f:spec", "f:paused"]));
        assert_eq!(entry(&new, "hpa", "Update").unwrap()["time"], T2);
        assert_eq!(
            entry(&new, "hpa", "Update").unwrap()["apiVersion"],
            "apps/v1"
        );
        // Entries sort Apply before Update.
        assert_eq!(new["metadata"]["managedFields"][0]["operation"], "Apply");
    }

    #[test]
    fn removed_fields_leave_every_owner_and_empty_entries_go() {
        let mut live = stored(
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"a": "1"}}),
        );
        record_update(None, &mut live, "m1", T1);
        let mut new = live.clone();
        new.as_object_mut().unwrap().remove("data");
        record_update(Some(&live), &mut new, "m2", T2);
        assert!(new["metadata"].get("managedFields").is_none());
    }

    #[test]
    fn unchanged_updates_record_nothing_new() {
        let mut live = stored(deployment(2, "nginx:1"));
        record_update(None, &mut live, "creator", T1);
        let mut same = live.clone();
        record_update(Some(&live), &mut same, "editor", T2);
        assert_eq!(same, live);
    }

    #[test]
    fn server_metadata_is_never_owned() {
        let mut obj = stored(deployment(1, "x"));
        obj["metadata"]["generation"] = json!(1);
        record_update(None, &mut obj, "m", T1);
        let fields = &entry(&obj, "m", "Update").unwrap()["fieldsV1"];
        let meta = fields["f:metadata"].as_object().unwrap();
        for k in [
            ".",
            "f:name",
            "f:namespace",
            "f:uid",
            "f:resourceVersion",
            "f:creationTimestamp",
            "f:generation",
        ] {
            assert!(!meta.contains_key(k), "{k} owned");
        }
        assert!(fields.get("f:apiVersion").is_none() && fields.get("f:kind").is_none());
        assert!(meta.contains_key("f:labels"));
    }

    #[test]
    fn managed_fields_sent_with_an_update_replace_or_reset_the_stored_ones() {
        let mut live = stored(deployment(2, "nginx:1"));
        record_update(None, &mut live, "creator", T1);
        let mut reset = live.clone();
        reset["metadata"]["managedFields"] = json!([{}]);
        record_update(Some(&live), &mut reset, "editor", T2);
        assert!(reset["metadata"].get("managedFields").is_none());
    }

    #[test]
    fn custom_resource_lists_of_named_items_are_shared_between_appliers() {
        let vm = |disks: Value| {
            json!({"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachine",
            "metadata": {"name": "vm"}, "spec": {"template": {"spec": {"domain": {"devices": {"disks": disks}}}}}})
        };
        let live = stored(
            apply(
                None,
                &vm(json!([{"name": "root", "disk": {"bus": "virtio"}}])),
                "a",
                false,
                T1,
            )
            .unwrap(),
        );
        let live = apply(
            Some(&live),
            &vm(json!([{"name": "data", "disk": {"bus": "scsi"}}])),
            "b",
            false,
            T1,
        )
        .unwrap();
        let disks = |v: &Value| v["spec"]["template"]["spec"]["domain"]["devices"]["disks"].clone();
        assert_eq!(disks(&live).as_array().unwrap().len(), 2);
        let out = apply(Some(&live), &vm(json!([])), "a", false, T2).unwrap();
        assert_eq!(
            disks(&out),
            json!([{"name": "data", "disk": {"bus": "scsi"}}])
        );
    }

    #[test]
    fn subresource_applies_get_their_own_entry() {
        let live = stored(apply(None, &deployment(2, "nginx:1"), "kubectl", false, T1).unwrap());
        let status = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"}, "status": {"replicas": 2}});
        let out = apply_subresource(Some(&live), &status, "ctrl", "status", false, T2).unwrap();
        let e = entry(&out, "ctrl", "Apply").unwrap();
        assert_eq!(e["subresource"], "status");
        assert_eq!(out["status"]["replicas"], 2);
        assert!(entry(&out, "kubectl", "Apply").is_some());
    }

    #[test]
    fn bad_apply_requests_are_malformed() {
        assert!(matches!(
            apply(None, &deployment(1, "x"), "", false, T1),
            Err(PatchError::Malformed(_))
        ));
        let mut cfg = deployment(1, "x");
        cfg["metadata"]["managedFields"] = json!([{"manager": "x"}]);
        let err = apply(None, &cfg, "m", false, T1).unwrap_err();
        assert_eq!(
            err,
            PatchError::Malformed("metadata.managedFields must be nil".into())
        );
        assert!(matches!(
            apply(None, &json!([1]), "m", false, T1),
            Err(PatchError::Malformed(_))
        ));
    }

    fn config() -> impl proptest::strategy::Strategy<Value = Value> {
        use proptest::prelude::*;
        let scalar = prop_oneof![
            any::<bool>().prop_map(Value::from),
            (0i64..4).prop_map(Value::from),
            "[a-c]{1,2}".prop_map(Value::from),
        ];
        let named = (prop::sample::select(vec!["a", "b", "c"]), scalar.clone())
            .prop_map(|(n, v)| json!({"name": n, "v": v}));
        let list = prop_oneof![
            prop::collection::vec(named, 0..3).prop_map(|items| {
                let mut seen = std::collections::HashSet::new();
                Value::Array(
                    items
                        .into_iter()
                        .filter(|i| seen.insert(i["name"].clone()))
                        .collect(),
                )
            }),
            prop::collection::vec(scalar.clone(), 0..3).prop_map(Value::Array),
        ];
        let field = prop_oneof![scalar, list];
        let spec = prop::collection::btree_map("[p-s]", field, 0..4)
            .prop_map(|m| Value::Object(m.into_iter().collect()));
        let labels = prop::collection::btree_map("[x-z]", "[a-b]", 0..3);
        (spec, labels).prop_map(|(spec, labels)| {
            json!({"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachine",
                "metadata": {"name": "vm", "labels": labels}, "spec": spec})
        })
    }

    proptest::proptest! {
        #[test]
        fn reapplying_any_configuration_is_a_no_op(cfg in config()) {
            let live = stored(apply(None, &cfg, "kubectl", false, T1).unwrap());
            let again = apply(Some(&live), &cfg, "kubectl", false, T2).unwrap();
            proptest::prop_assert_eq!(again, live);
        }

        #[test]
        fn a_second_manager_applying_equal_values_never_conflicts(cfg in config()) {
            let live = stored(apply(None, &cfg, "a", false, T1).unwrap());
            let out = apply(Some(&live), &cfg, "b", false, T2).unwrap();
            proptest::prop_assert_eq!(without_managed_fields(&out), without_managed_fields(&live));
        }

        #[test]
        fn applying_then_applying_another_config_converges(a in config(), b in config()) {
            let live = stored(apply(None, &a, "m", false, T1).unwrap());
            let once = apply(Some(&live), &b, "m", false, T2).unwrap();
            let twice = apply(Some(&once), &b, "m", false, T2).unwrap();
            proptest::prop_assert_eq!(twice, once);
        }
    }
}
