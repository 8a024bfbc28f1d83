//! The garbage collector and the namespace controller.
//!
//! The collector keeps a graph of every object's owner references (from one full list, then the
//! store's watch) and acts as Kubernetes' does:
//! - an object whose owners are all gone is deleted (with the policy its own finalizers ask for);
//! - an owner deleted in the foreground (`foregroundDeletion` finalizer) has its dependents
//!   deleted, and loses the finalizer once no dependent with `blockOwnerDeletion` remains;
//! - an owner deleted with `orphan` has its reference stripped from every dependent, then loses
//!   the finalizer.
//!
//! The namespace controller deletes everything in a terminating namespace, then clears the
//! namespace's `spec.finalizers` so that it goes away.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use serde_json::{Value, json};

use super::delete::{FINALIZER_FOREGROUND, FINALIZER_ORPHAN};
use super::options::{DeleteOptions, ListOptions, PatchType, Propagation, WriteOptions};
use super::write::Sub;
use super::{Api, Scope, meta};
use crate::error::ApiError;
use crate::plugin::UserInfo;
use crate::registry::ResourceDef;
use crate::store::{EventKind, KeyValue, ListRequest};

const GC_USER: &str = "system:serviceaccount:kube-system:generic-garbage-collector";
const NS_USER: &str = "system:serviceaccount:kube-system:namespace-controller";

#[derive(Clone, Debug, PartialEq)]
struct OwnerRef {
    uid: String,
    api_version: String,
    kind: String,
    name: String,
    block: bool,
}

#[derive(Clone, Debug)]
struct Node {
    def: Arc<ResourceDef>,
    namespace: Option<String>,
    name: String,
    owners: Vec<OwnerRef>,
    deleting: bool,
    finalizers: Vec<String>,
}

/// The ownership graph: objects by uid and dependents by owner uid.
#[derive(Default)]
struct Graph {
    nodes: HashMap<String, Node>,
    dependents: HashMap<String, HashSet<String>>,
    uid_by_key: HashMap<String, String>,
}

impl Graph {
    fn remove(&mut self, uid: &str) -> Option<Node> {
        let node = self.nodes.remove(uid)?;
        for o in &node.owners {
            if let Some(d) = self.dependents.get_mut(&o.uid) {
                d.remove(uid);
                if d.is_empty() {
                    self.dependents.remove(&o.uid);
                }
            }
        }
        Some(node)
    }

    fn insert(&mut self, uid: String, key: String, node: Node) {
        self.remove(&uid);
        for o in &node.owners {
            self.dependents
                .entry(o.uid.clone())
                .or_default()
                .insert(uid.clone());
        }
        self.uid_by_key.insert(key, uid.clone());
        self.nodes.insert(uid, node);
    }
}

fn owner_refs(obj: &Value) -> Vec<OwnerRef> {
    meta::owner_references(obj)
        .iter()
        .filter_map(|r| {
            Some(OwnerRef {
                uid: r.get("uid")?.as_str()?.to_string(),
                api_version: r
                    .get("apiVersion")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string(),
                kind: r
                    .get("kind")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string(),
                name: r
                    .get("name")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string(),
                block: r
                    .get("blockOwnerDeletion")
                    .and_then(Value::as_bool)
                    .unwrap_or(false),
            })
        })
        .collect()
}

/// Runs the garbage collector and namespace controller until the process ends.
pub async fn run(api: Api) {
    loop {
        if let Err(e) = run_once(&api).await {
            tracing::warn!(error = %e, "garbage collector restarting");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

impl Api {
    /// The resource a storage key belongs to (views excluded).
    fn def_for_key(&self, key: &str) -> Option<(Arc<ResourceDef>, Option<String>, String)> {
        let mut parts = key.trim_start_matches('/').splitn(4, '/');
        let group = parts.next()?;
        let plural = parts.next()?;
        let group = if group == "core" { "" } else { group };
        let def = self.registry().get(group, plural)?.clone();
        // Views of another resource's storage are that resource's objects, not separate ones.
        if def
            .storage_of
            .as_ref()
            .is_some_and(|(gr, _)| gr.group != def.group || gr.resource != def.plural)
        {
            return None;
        }
        let a = parts.next()?;
        match parts.next() {
            Some(name) if def.namespaced => Some((def, Some(a.to_string()), name.to_string())),
            None if !def.namespaced => Some((def, None, a.to_string())),
            _ => None,
        }
    }

    fn scope_of(&self, def: &Arc<ResourceDef>, namespace: Option<&str>) -> Scope {
        Scope {
            def: def.clone(),
            version: def.storage_version().name.clone(),
            namespace: namespace.map(String::from),
        }
    }
}

async fn run_once(api: &Api) -> Result<(), ApiError> {
    let store = api.store().clone();
    let listed = store
        .list(ListRequest {
            prefix: "/".into(),
            ..Default::default()
        })
        .await
        .map_err(|e| ApiError::internal(e.to_string()))?;
    let mut graph = Graph::default();
    let mut dirty: BTreeSet<String> = BTreeSet::new();
    for kv in &listed.items {
        if let Some(uid) = observe(api, &mut graph, kv) {
            dirty.insert(uid);
        }
    }
    let mut watch = store
        .watch("/", listed.revision)
        .await
        .map_err(|e| ApiError::internal(e.to_string()))?;
    loop {
        for uid in std::mem::take(&mut dirty) {
            process(api, &graph, &uid).await;
        }
        let mut resync = tokio::time::interval_at(
            tokio::time::Instant::now() + Duration::from_secs(30),
            Duration::from_secs(30),
        );
        tokio::select! {
            next = watch.next() => {
                let Some(event) = next else { return Ok(()) };
                let event = event.map_err(|e| ApiError::internal(e.to_string()))?;
                apply_event(api, &mut graph, &mut dirty, &event);
                // Drain what is already queued before acting, to batch bursts.
                while let Some(Some(Ok(e))) = watch.now_or_never_opt() {
                    apply_event(api, &mut graph, &mut dirty, &e);
                }
            }
            _ = resync.tick() => {
                // Periodically retry work that failed (e.g. a conflict) by revisiting deleting objects.
                dirty.extend(graph.nodes.iter().filter(|(_, n)| n.deleting || !n.owners.is_empty()).map(|(u, _)| u.clone()));
            }
        }
    }
}

/// Small helper so the drain loop can poll without waiting.
trait NowOrNever: futures::Stream + Unpin {
    fn now_or_never_opt(&mut self) -> Option<Option<Self::Item>> {
        futures::FutureExt::now_or_never(self.next())
    }
}
impl<S: futures::Stream + Unpin> NowOrNever for S {}

/// Updates the graph from one store event and marks what needs attention: the object itself,
/// and for a deletion its dependents (maybe orphaned now), its owners (maybe unblocked) and its
/// namespace (maybe empty now).
fn apply_event(
    api: &Api,
    graph: &mut Graph,
    dirty: &mut BTreeSet<String>,
    event: &crate::store::Event,
) {
    if event.kind != EventKind::Deleted {
        if let Some(uid) = observe(api, graph, &event.kv) {
            dirty.insert(uid);
        }
        return;
    }
    let Some(uid) = graph.uid_by_key.remove(&event.kv.key) else {
        return;
    };
    if let Some(deps) = graph.dependents.get(&uid) {
        dirty.extend(deps.iter().cloned());
    }
    if let Some(n) = graph.remove(&uid) {
        dirty.extend(n.owners.iter().map(|o| o.uid.clone()));
        if let Some(ns_uid) = n.namespace.and_then(|ns| namespace_uid(graph, &ns)) {
            dirty.insert(ns_uid);
        }
    }
}

fn namespace_uid(graph: &Graph, ns: &str) -> Option<String> {
    graph
        .uid_by_key
        .get(&format!("/core/namespaces/{ns}"))
        .cloned()
}

/// Updates the graph from a stored object; returns its uid if it needs attention.
fn observe(api: &Api, graph: &mut Graph, kv: &KeyValue) -> Option<String> {
    let (def, namespace, name) = api.def_for_key(&kv.key)?;
    let obj: Value = serde_json::from_slice(&kv.value).ok()?;
    let uid = meta::uid(&obj).to_string();
    if uid.is_empty() {
        return None;
    }
    let mut finalizers = meta::finalizers(&obj);
    let is_ns = def.builtin && def.group.is_empty() && def.plural == "namespaces";
    if is_ns && meta::has_pending_finalizers(&obj, true) && meta::finalizers(&obj).is_empty() {
        finalizers.push("kubernetes".into());
    }
    let node = Node {
        def,
        namespace,
        name,
        owners: owner_refs(&obj),
        deleting: meta::is_deleting(&obj),
        finalizers,
    };
    let interesting = node.deleting || !node.owners.is_empty();
    graph.insert(uid.clone(), kv.key.clone(), node);
    interesting.then_some(uid)
}

fn gc_user() -> UserInfo {
    UserInfo::new(GC_USER, &["system:serviceaccounts", "system:authenticated"])
}

async fn process(api: &Api, graph: &Graph, uid: &str) {
    let Some(node) = graph.nodes.get(uid) else {
        return;
    };
    let result = if node.deleting
        && node.def.builtin
        && node.def.group.is_empty()
        && node.def.plural == "namespaces"
    {
        finalize_namespace(api, graph, node).await
    } else if node.deleting && node.finalizers.iter().any(|f| f == FINALIZER_ORPHAN) {
        orphan_dependents(api, graph, uid, node).await
    } else if node.deleting && node.finalizers.iter().any(|f| f == FINALIZER_FOREGROUND) {
        delete_dependents(api, graph, uid, node).await
    } else if !node.owners.is_empty() {
        collect_if_orphaned(api, graph, node).await
    } else {
        Ok(())
    };
    if let Err(e) = result {
        match e {
            ApiError::NotFound(_) | ApiError::Conflict { .. } => {}
            e => tracing::debug!(error = %e, object = %node.name, "garbage collection step failed"),
        }
    }
}

/// Whether an owner reference points at a live object (checked against the API, not only the
/// graph, so that a reference to an object created a moment ago is never taken as dangling).
async fn owner_state(api: &Api, graph: &Graph, dependent: &Node, o: &OwnerRef) -> OwnerState {
    if let Some(owner) = graph.nodes.get(&o.uid) {
        let waiting = owner.deleting && owner.finalizers.iter().any(|f| f == FINALIZER_FOREGROUND);
        return if waiting {
            OwnerState::Waiting
        } else {
            OwnerState::Solid
        };
    }
    let (group, version) = match o.api_version.split_once('/') {
        Some((g, v)) => (g, v),
        None => ("", o.api_version.as_str()),
    };
    let Some(def) = api.registry().by_kind(group, &o.kind).cloned() else {
        return OwnerState::Dangling;
    };
    let ns = if def.namespaced {
        dependent.namespace.as_deref()
    } else {
        None
    };
    let scope = Scope {
        def: def.clone(),
        version: def
            .version(version)
            .map(|v| v.name.clone())
            .unwrap_or_else(|| def.storage_version().name.clone()),
        namespace: ns.map(String::from),
    };
    match api.get(&scope, &o.name).await {
        Ok(obj) if meta::uid(&obj) == o.uid => OwnerState::Solid,
        Ok(_) | Err(ApiError::NotFound(_)) => OwnerState::Dangling,
        Err(_) => OwnerState::Solid,
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum OwnerState {
    Solid,
    Waiting,
    Dangling,
}

async fn collect_if_orphaned(api: &Api, graph: &Graph, node: &Node) -> Result<(), ApiError> {
    let mut states = Vec::new();
    for o in &node.owners {
        states.push(owner_state(api, graph, node, o).await);
    }
    let scope = api.scope_of(&node.def, node.namespace.as_deref());
    if states.contains(&OwnerState::Solid) {
        if states.iter().all(|s| *s == OwnerState::Solid) {
            return Ok(());
        }
        // Keep the object; drop references to owners that are gone or being deleted.
        let keep: Vec<&OwnerRef> = node
            .owners
            .iter()
            .zip(&states)
            .filter(|(_, s)| **s == OwnerState::Solid)
            .map(|(o, _)| o)
            .collect();
        return strip_owner_refs(api, &scope, &node.name, |r| {
            keep.iter()
                .any(|k| Some(k.uid.as_str()) == r.get("uid").and_then(Value::as_str))
        })
        .await;
    }
    if node.deleting {
        return Ok(());
    }
    let propagation = if states.contains(&OwnerState::Waiting) {
        Propagation::Foreground
    } else if node.finalizers.iter().any(|f| f == FINALIZER_ORPHAN) {
        Propagation::Orphan
    } else if node.finalizers.iter().any(|f| f == FINALIZER_FOREGROUND) {
        Propagation::Foreground
    } else {
        Propagation::Background
    };
    let opts = DeleteOptions {
        propagation: Some(propagation),
        ..Default::default()
    };
    api.delete(&scope, &node.name, &opts, &gc_user())
        .await
        .map(|_| ())
}

/// Rewrites `ownerReferences` keeping only the entries for which `keep` holds.
async fn strip_owner_refs(
    api: &Api,
    scope: &Scope,
    name: &str,
    keep: impl Fn(&Value) -> bool,
) -> Result<(), ApiError> {
    let obj = api.get(scope, name).await?;
    let refs = meta::owner_references(&obj);
    let kept: Vec<Value> = refs.iter().filter(|r| keep(r)).cloned().collect();
    if kept.len() == refs.len() {
        return Ok(());
    }
    replace_metadata(api, scope, &obj, "ownerReferences", json!(kept)).await
}

/// Replaces `metadata.<field>` of `obj` as the garbage collector, if `obj` is still at the
/// resourceVersion it was read at (a conflict otherwise).
async fn replace_metadata(
    api: &Api,
    scope: &Scope,
    obj: &Value,
    field: &str,
    value: Value,
) -> Result<(), ApiError> {
    let patch = json!([
        {"op": "test", "path": "/metadata/resourceVersion",
            "value": meta::resource_version(obj).unwrap_or("")},
        {"op": "replace", "path": format!("/metadata/{field}"), "value": value},
    ]);
    let body = serde_json::to_vec(&patch).expect("serializable");
    api.patch(
        scope,
        meta::name(obj),
        Sub::Main,
        PatchType::Json,
        &body,
        &WriteOptions::default(),
        &gc_user(),
        Some("garbage-collector"),
    )
    .await
    .map(|_| ())
}

async fn remove_finalizer(
    api: &Api,
    scope: &Scope,
    name: &str,
    finalizer: &str,
) -> Result<(), ApiError> {
    let obj = api.get(scope, name).await?;
    let fins = meta::finalizers(&obj);
    if !fins.iter().any(|f| f == finalizer) {
        return Ok(());
    }
    let kept: Vec<String> = fins.into_iter().filter(|f| f != finalizer).collect();
    replace_metadata(api, scope, &obj, "finalizers", json!(kept)).await
}

async fn orphan_dependents(
    api: &Api,
    graph: &Graph,
    uid: &str,
    node: &Node,
) -> Result<(), ApiError> {
    for dep_uid in graph.dependents.get(uid).into_iter().flatten() {
        let Some(dep) = graph.nodes.get(dep_uid) else {
            continue;
        };
        let scope = api.scope_of(&dep.def, dep.namespace.as_deref());
        match strip_owner_refs(api, &scope, &dep.name, |r| {
            r.get("uid").and_then(Value::as_str) != Some(uid)
        })
        .await
        {
            Ok(()) | Err(ApiError::NotFound(_)) => {}
            Err(e) => return Err(e),
        }
    }
    let scope = api.scope_of(&node.def, node.namespace.as_deref());
    remove_finalizer(api, &scope, &node.name, FINALIZER_ORPHAN).await
}

async fn delete_dependents(
    api: &Api,
    graph: &Graph,
    uid: &str,
    node: &Node,
) -> Result<(), ApiError> {
    let mut blocking = 0;
    for dep_uid in graph.dependents.get(uid).into_iter().flatten() {
        let Some(dep) = graph.nodes.get(dep_uid) else {
            continue;
        };
        if dep.owners.iter().any(|o| o.uid == uid && o.block) {
            blocking += 1;
        }
        if !dep.deleting {
            collect_if_orphaned(api, graph, dep)
                .await
                .or_else(ignore_gone)?;
        }
    }
    if blocking == 0 {
        let scope = api.scope_of(&node.def, node.namespace.as_deref());
        remove_finalizer(api, &scope, &node.name, FINALIZER_FOREGROUND).await?;
    }
    Ok(())
}

fn ignore_gone(e: ApiError) -> Result<(), ApiError> {
    match e {
        ApiError::NotFound(_) => Ok(()),
        e => Err(e),
    }
}

/// Deletes the contents of a terminating namespace; once it is empty, clears its finalizers.
async fn finalize_namespace(api: &Api, graph: &Graph, node: &Node) -> Result<(), ApiError> {
    let ns = node.name.as_str();
    let user = UserInfo::new(NS_USER, &["system:serviceaccounts", "system:authenticated"]);
    let mut remaining = 0usize;
    for (_, n) in graph
        .nodes
        .iter()
        .filter(|(_, n)| n.namespace.as_deref() == Some(ns))
    {
        remaining += 1;
        if !n.deleting {
            let scope = api.scope_of(&n.def, Some(ns));
            let opts = DeleteOptions {
                propagation: Some(Propagation::Background),
                ..Default::default()
            };
            api.delete(&scope, &n.name, &opts, &user)
                .await
                .map(|_| ())
                .or_else(ignore_gone)?;
        }
    }
    if remaining > 0 {
        return Ok(());
    }
    // Double-check against the store before finalizing: nothing may be left behind.
    for def in api.registry().all().iter().filter(|d| {
        d.namespaced
            && d.storage_of
                .as_ref()
                .is_none_or(|(gr, _)| gr.group == d.group && gr.resource == d.plural)
    }) {
        let scope = api.scope_of(def, Some(ns));
        let (items, _, _) = api
            .list_items(
                &scope,
                &ListOptions {
                    limit: Some(1),
                    ..Default::default()
                },
                &super::read::Filter {
                    labels: None,
                    fields: None,
                },
            )
            .await?;
        if !items.is_empty() {
            return Ok(());
        }
    }
    let scope = api.scope_of(&node.def, None);
    let obj = api.get(&scope, ns).await?;
    let patch = json!([
        {"op": "test", "path": "/metadata/resourceVersion", "value": meta::resource_version(&obj).unwrap_or("")},
        {"op": "replace", "path": "/spec/finalizers", "value": []},
    ]);
    let body = serde_json::to_vec(&patch).expect("serializable");
    api.patch(
        &scope,
        ns,
        Sub::Main,
        PatchType::Json,
        &body,
        &WriteOptions::default(),
        &user,
        Some("namespace-controller"),
    )
    .await?;
    Ok(())
}
