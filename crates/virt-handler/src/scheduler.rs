//! Pod placement, as kube-scheduler's default profile decides it for the filters that matter to
//! launcher pods: unschedulable nodes, taints and tolerations, `nodeSelector` and required node
//! affinity, the pod count and resource requests (CPU, memory, ephemeral storage, hugepages and
//! extended resources such as `devices.kubevirt.io/kvm`).
//!
//! [`Cluster::schedule`] is pure: it reads nodes and the pods already assigned to them and either
//! names a node or returns a [`FitError`] whose message is kube-scheduler's
//! (`0/3 nodes are available: 3 Insufficient memory. preemption: ...`). Among the nodes that fit,
//! the least allocated one wins (CPU and memory weighted equally), ties broken by name, so
//! placement is deterministic. Preemption is never attempted.

pub mod quantity;

use std::collections::{BTreeMap, HashMap};
use std::fmt;

use k8s_openapi::api::core::v1::{
    Node, NodeSelectorRequirement, NodeSelectorTerm, Pod, ResourceRequirements, Taint, Toleration,
};

pub use quantity::{Milli, QuantityError};

/// Scheduler names this scheduler answers for (an empty name means the default).
pub const DEFAULT_SCHEDULER_NAME: &str = "default-scheduler";
/// Taint-equivalent key of `spec.unschedulable`.
pub const UNSCHEDULABLE_TAINT_KEY: &str = "node.kubernetes.io/unschedulable";

const REASON_UNSCHEDULABLE: &str = "node(s) were unschedulable";
const REASON_AFFINITY: &str = "node(s) didn't match Pod's node affinity/selector";
const REASON_TOO_MANY_PODS: &str = "Too many pods";
const PREEMPTION_NOT_HELPFUL: &str = "Preemption is not helpful for scheduling";
const PREEMPTION_NO_VICTIMS: &str = "No preemption victims found for incoming pod";

/// Why no node can take a pod. Its `Display` is kube-scheduler's message, the one it writes to
/// the pod's `PodScheduled` condition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FitError {
    /// Number of nodes considered.
    pub num_nodes: usize,
    /// Each node's failure reasons and whether preemption could have helped.
    pub nodes: BTreeMap<String, NodeFailure>,
}

/// The reasons one node was filtered out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeFailure {
    pub reasons: Vec<String>,
    /// True when removing pods could not make the node fit (taints, selectors, cordons).
    pub unresolvable: bool,
}

impl std::error::Error for FitError {}

impl fmt::Display for FitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.num_nodes == 0 {
            return f.write_str("no nodes available to schedule pods");
        }
        let histogram = |reasons: &mut dyn Iterator<Item = &str>| {
            let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
            for r in reasons {
                *counts.entry(r).or_default() += 1;
            }
            let mut lines: Vec<String> = counts.iter().map(|(r, n)| format!("{n} {r}")).collect();
            lines.sort();
            lines.join(", ")
        };
        let filters = histogram(
            &mut self
                .nodes
                .values()
                .flat_map(|n| n.reasons.iter().map(String::as_str)),
        );
        let preemption = histogram(&mut self.nodes.values().map(|n| {
            if n.unresolvable {
                PREEMPTION_NOT_HELPFUL
            } else {
                PREEMPTION_NO_VICTIMS
            }
        }));
        let n = self.num_nodes;
        write!(
            f,
            "0/{n} nodes are available: {filters}. preemption: 0/{n} nodes are available: {preemption}."
        )
    }
}

/// What a pod asks of a node, in thousandths per resource name.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Requests(pub BTreeMap<String, Milli>);

impl Requests {
    /// The pod's effective requests: per resource, the larger of the sum over its containers and
    /// the largest init container, plus the pod overhead. A container's limit stands in for a
    /// missing request, as API defaulting does.
    pub fn of_pod(pod: &Pod) -> Requests {
        let Some(spec) = &pod.spec else {
            return Requests::default();
        };
        let mut sum: BTreeMap<String, Milli> = BTreeMap::new();
        for c in &spec.containers {
            for (name, value) in container_requests(c.resources.as_ref()) {
                let e = sum.entry(name).or_default();
                *e = *e + value;
            }
        }
        for c in spec.init_containers.iter().flatten() {
            for (name, value) in container_requests(c.resources.as_ref()) {
                let e = sum.entry(name).or_default();
                *e = (*e).max(value);
            }
        }
        for (name, q) in spec.overhead.iter().flatten() {
            if let Ok(v) = quantity::parse(&q.0) {
                let e = sum.entry(name.clone()).or_default();
                *e = *e + v;
            }
        }
        sum.retain(|_, v| *v > Milli::ZERO);
        Requests(sum)
    }

    fn get(&self, name: &str) -> Milli {
        self.0.get(name).copied().unwrap_or_default()
    }

    fn add(&mut self, other: &Requests) {
        for (name, v) in &other.0 {
            let e = self.0.entry(name.clone()).or_default();
            *e = *e + *v;
        }
    }
}

fn container_requests(resources: Option<&ResourceRequirements>) -> BTreeMap<String, Milli> {
    let mut out = BTreeMap::new();
    let Some(r) = resources else { return out };
    for (name, q) in r.limits.iter().flatten() {
        if let Ok(v) = quantity::parse(&q.0) {
            out.insert(name.clone(), v);
        }
    }
    for (name, q) in r.requests.iter().flatten() {
        if let Ok(v) = quantity::parse(&q.0) {
            out.insert(name.clone(), v);
        }
    }
    out
}

/// A node as the scheduler sees it: what it offers and what is already placed there.
#[derive(Clone, Debug)]
struct NodeSlot {
    name: String,
    labels: BTreeMap<String, String>,
    unschedulable: bool,
    taints: Vec<Taint>,
    allocatable: BTreeMap<String, Milli>,
    used: Requests,
    pods: i128,
}

/// The nodes a scheduler may place pods on, with the pods already assigned to them.
#[derive(Clone, Debug, Default)]
pub struct Cluster {
    nodes: Vec<NodeSlot>,
    index: HashMap<String, usize>,
}

/// True for pods that kube-scheduler counts on their node: assigned and not terminal.
pub fn occupies_node(pod: &Pod) -> bool {
    let phase = pod.status.as_ref().and_then(|s| s.phase.as_deref());
    let node = pod.spec.as_ref().and_then(|s| s.node_name.as_deref());
    node.is_some_and(|n| !n.is_empty()) && !matches!(phase, Some("Succeeded" | "Failed"))
}

/// True for pods waiting for the default scheduler: no node yet, not deleting, not terminal.
pub fn wants_default_scheduler(pod: &Pod) -> bool {
    let Some(spec) = &pod.spec else { return false };
    let unassigned = spec.node_name.as_deref().unwrap_or("").is_empty();
    let ours = matches!(
        spec.scheduler_name.as_deref(),
        None | Some("") | Some(DEFAULT_SCHEDULER_NAME)
    );
    let phase = pod.status.as_ref().and_then(|s| s.phase.as_deref());
    let gated = spec
        .scheduling_gates
        .as_ref()
        .is_some_and(|g| !g.is_empty());
    unassigned
        && ours
        && !gated
        && pod.metadata.deletion_timestamp.is_none()
        && !matches!(phase, Some("Succeeded" | "Failed"))
}

impl Cluster {
    /// The cluster made of `nodes`; pods assigned to one of them (and not terminal) use its
    /// capacity.
    pub fn new<'a>(
        nodes: impl IntoIterator<Item = &'a Node>,
        pods: impl IntoIterator<Item = &'a Pod>,
    ) -> Cluster {
        Cluster::with_requests(nodes, pods, Requests::of_pod)
    }

    /// Like [`Cluster::new`], with each pod's requests from `requests_of` (which must agree with
    /// [`Requests::of_pod`]; callers pass a cache, since a pod's requests do not change).
    pub fn with_requests<'a>(
        nodes: impl IntoIterator<Item = &'a Node>,
        pods: impl IntoIterator<Item = &'a Pod>,
        mut requests_of: impl FnMut(&Pod) -> Requests,
    ) -> Cluster {
        let mut cluster = Cluster::default();
        for node in nodes {
            let Some(name) = node.metadata.name.clone() else {
                continue;
            };
            let spec = node.spec.clone().unwrap_or_default();
            let status = node.status.as_ref();
            let offered = status.and_then(|s| s.allocatable.as_ref().or(s.capacity.as_ref()));
            let allocatable = offered
                .iter()
                .flat_map(|m| m.iter())
                .filter_map(|(k, q)| quantity::parse(&q.0).ok().map(|v| (k.clone(), v)))
                .collect();
            cluster.index.insert(name.clone(), cluster.nodes.len());
            cluster.nodes.push(NodeSlot {
                name,
                labels: node.metadata.labels.clone().unwrap_or_default(),
                unschedulable: spec.unschedulable.unwrap_or(false),
                taints: spec.taints.unwrap_or_default(),
                allocatable,
                used: Requests::default(),
                pods: 0,
            });
        }
        for pod in pods {
            if occupies_node(pod) {
                let node = pod
                    .spec
                    .as_ref()
                    .and_then(|s| s.node_name.as_deref())
                    .unwrap_or_default();
                cluster.assume(&requests_of(pod), node);
            }
        }
        cluster
    }

    /// Accounts a pod just bound to `node` (no effect for unknown nodes).
    pub fn assume(&mut self, requests: &Requests, node: &str) {
        if let Some(&i) = self.index.get(node) {
            let slot = &mut self.nodes[i];
            slot.used.add(requests);
            slot.pods += 1;
        }
    }

    /// The node `pod` should be bound to.
    pub fn schedule(&self, pod: &Pod) -> Result<String, FitError> {
        let requests = Requests::of_pod(pod);
        let mut failures = BTreeMap::new();
        let mut best: Option<(i128, &NodeSlot)> = None;
        for slot in &self.nodes {
            match fit(pod, &requests, slot) {
                Ok(()) => {
                    let score = least_allocated_score(&requests, slot);
                    if best.is_none_or(|(s, b)| score > s || score == s && slot.name < b.name) {
                        best = Some((score, slot));
                    }
                }
                Err(failure) => {
                    failures.insert(slot.name.clone(), failure);
                }
            }
        }
        match best {
            Some((_, slot)) => Ok(slot.name.clone()),
            None => Err(FitError {
                num_nodes: self.nodes.len(),
                nodes: failures,
            }),
        }
    }
}

/// Free share of CPU and memory after placing the pod, in millionths (higher is better).
fn least_allocated_score(requests: &Requests, slot: &NodeSlot) -> i128 {
    let share = |name: &str| {
        let total = slot.allocatable.get(name).copied().unwrap_or_default().0;
        if total <= 0 {
            return 0;
        }
        let used = (slot.used.get(name) + requests.get(name)).0;
        (total - used).max(0) * 1_000_000 / total
    };
    (share("cpu") + share("memory")) / 2
}

/// The default profile's filters, in its order; the first failing one decides.
fn fit(pod: &Pod, requests: &Requests, slot: &NodeSlot) -> Result<(), NodeFailure> {
    // Borrowed: this runs for every node and every waiting pod.
    let default_spec;
    let spec = match &pod.spec {
        Some(spec) => spec,
        None => {
            default_spec = k8s_openapi::api::core::v1::PodSpec::default();
            &default_spec
        }
    };
    let tolerations = spec.tolerations.as_deref().unwrap_or_default();
    let unresolvable = |reason: String| NodeFailure {
        reasons: vec![reason],
        unresolvable: true,
    };
    if slot.unschedulable {
        let cordon = Taint {
            key: UNSCHEDULABLE_TAINT_KEY.into(),
            effect: "NoSchedule".into(),
            ..Default::default()
        };
        if !tolerations.iter().any(|t| tolerates(t, &cordon)) {
            return Err(unresolvable(REASON_UNSCHEDULABLE.into()));
        }
    }
    if let Some(taint) = slot
        .taints
        .iter()
        .filter(|t| t.effect == "NoSchedule" || t.effect == "NoExecute")
        .find(|t| !tolerations.iter().any(|tol| tolerates(tol, t)))
    {
        let value = taint.value.as_deref().unwrap_or("");
        return Err(unresolvable(format!(
            "node(s) had untolerated taint {{{}: {value}}}",
            taint.key
        )));
    }
    if !matches_node_selector(spec, slot) {
        return Err(unresolvable(REASON_AFFINITY.into()));
    }
    let mut reasons = Vec::new();
    let max_pods = slot
        .allocatable
        .get("pods")
        .copied()
        .unwrap_or_default()
        .units();
    if slot.pods + 1 > max_pods {
        reasons.push(REASON_TOO_MANY_PODS.to_string());
    }
    for (name, wanted) in &requests.0 {
        let offered = slot.allocatable.get(name).copied().unwrap_or_default();
        if *wanted > offered - slot.used.get(name) {
            reasons.push(format!("Insufficient {name}"));
        }
    }
    if reasons.is_empty() {
        Ok(())
    } else {
        Err(NodeFailure {
            reasons,
            unresolvable: false,
        })
    }
}

/// Whether a toleration tolerates a taint (upstream `Toleration.ToleratesTaint`).
pub fn tolerates(toleration: &Toleration, taint: &Taint) -> bool {
    let effect = toleration.effect.as_deref().unwrap_or("");
    if !effect.is_empty() && effect != taint.effect {
        return false;
    }
    let key = toleration.key.as_deref().unwrap_or("");
    if !key.is_empty() && key != taint.key {
        return false;
    }
    match toleration.operator.as_deref().unwrap_or("Equal") {
        "Exists" => true,
        "Equal" => {
            !key.is_empty()
                && toleration.value.as_deref().unwrap_or("") == taint.value.as_deref().unwrap_or("")
        }
        _ => false,
    }
}

fn matches_node_selector(spec: &k8s_openapi::api::core::v1::PodSpec, slot: &NodeSlot) -> bool {
    let selector_ok = spec
        .node_selector
        .iter()
        .flatten()
        .all(|(k, v)| slot.labels.get(k) == Some(v));
    let required = spec
        .affinity
        .as_ref()
        .and_then(|a| a.node_affinity.as_ref())
        .and_then(|na| {
            na.required_during_scheduling_ignored_during_execution
                .as_ref()
        });
    // Terms are ORed; a selector without terms matches nothing.
    let affinity_ok =
        required.is_none_or(|r| r.node_selector_terms.iter().any(|t| matches_term(t, slot)));
    selector_ok && affinity_ok
}

fn matches_term(term: &NodeSelectorTerm, slot: &NodeSlot) -> bool {
    let exprs = term.match_expressions.as_deref().unwrap_or_default();
    let fields = term.match_fields.as_deref().unwrap_or_default();
    if exprs.is_empty() && fields.is_empty() {
        return false;
    }
    exprs
        .iter()
        .all(|r| matches_requirement(r, slot.labels.get(&r.key).map(String::as_str)))
        && fields.iter().all(|r| {
            let value = (r.key == "metadata.name").then_some(slot.name.as_str());
            matches_requirement(r, value)
        })
}

fn matches_requirement(r: &NodeSelectorRequirement, value: Option<&str>) -> bool {
    let values = r.values.as_deref().unwrap_or_default();
    let as_int = |s: &str| s.parse::<i64>().ok();
    match r.operator.as_str() {
        "In" => value.is_some_and(|v| values.iter().any(|x| x == v)),
        "NotIn" => value.is_none_or(|v| !values.iter().any(|x| x == v)),
        "Exists" => value.is_some(),
        "DoesNotExist" => value.is_none(),
        "Gt" | "Lt" => {
            let (Some(have), Some(bound)) = (
                value.and_then(as_int),
                values.first().and_then(|s| as_int(s)),
            ) else {
                return false;
            };
            if r.operator == "Gt" {
                have > bound
            } else {
                have < bound
            }
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn node(name: &str, cpu: &str, memory: &str, extra: serde_json::Value) -> Node {
        let mut n = json!({
            "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name}},
            "spec": {},
            "status": {"allocatable": {"cpu": cpu, "memory": memory, "pods": "110"}},
        });
        merge(&mut n, extra);
        serde_json::from_value(n).unwrap()
    }

    fn pod(cpu: &str, memory: &str, extra: serde_json::Value) -> Pod {
        let mut p = json!({
            "metadata": {"name": "p", "namespace": "default"},
            "spec": {"containers": [{"name": "compute", "resources": {"requests": {"cpu": cpu, "memory": memory}}}]},
        });
        merge(&mut p, extra);
        serde_json::from_value(p).unwrap()
    }

    fn on(node: &str, cpu: &str, memory: &str) -> Pod {
        pod(
            cpu,
            memory,
            json!({"spec": {"nodeName": node}, "status": {"phase": "Running"}}),
        )
    }

    fn merge(base: &mut serde_json::Value, patch: serde_json::Value) {
        match (base, patch) {
            (serde_json::Value::Object(b), serde_json::Value::Object(p)) => {
                for (k, v) in p {
                    merge(b.entry(k).or_insert(serde_json::Value::Null), v);
                }
            }
            (b, p) => *b = p,
        }
    }

    fn place(nodes: &[Node], placed: &[Pod], p: &Pod) -> Result<String, String> {
        Cluster::new(nodes, placed)
            .schedule(p)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn placement_table() {
        let two = || {
            vec![
                node("a", "4", "8Gi", json!({})),
                node("b", "4", "8Gi", json!({})),
            ]
        };
        type Case<'a> = (&'a str, Vec<Node>, Vec<Pod>, Pod, Result<&'a str, &'a str>);
        let cases: Vec<Case> = vec![
            (
                "an empty cluster takes the first node by name",
                two(),
                vec![],
                pod("1", "1Gi", json!({})),
                Ok("a"),
            ),
            (
                "the least allocated node wins",
                two(),
                vec![on("a", "2", "4Gi")],
                pod("1", "1Gi", json!({})),
                Ok("b"),
            ),
            (
                "memory that fits nowhere is reported per node",
                two(),
                vec![],
                pod("1", "1Ei", json!({})),
                Err(
                    "0/2 nodes are available: 2 Insufficient memory. preemption: 0/2 nodes are available: 2 No preemption victims found for incoming pod.",
                ),
            ),
            (
                "capacity used by running pods counts",
                vec![node("a", "4", "8Gi", json!({}))],
                vec![on("a", "3500m", "1Gi")],
                pod("1", "1Gi", json!({})),
                Err(
                    "0/1 nodes are available: 1 Insufficient cpu. preemption: 0/1 nodes are available: 1 No preemption victims found for incoming pod.",
                ),
            ),
            (
                "terminal pods free their capacity",
                vec![node("a", "4", "8Gi", json!({}))],
                vec![pod(
                    "4",
                    "8Gi",
                    json!({"spec": {"nodeName": "a"}, "status": {"phase": "Succeeded"}}),
                )],
                pod("1", "1Gi", json!({})),
                Ok("a"),
            ),
            (
                "a nodeSelector no node matches",
                two(),
                vec![],
                pod(
                    "1",
                    "1Gi",
                    json!({"spec": {"nodeSelector": {"disk": "ssd"}}}),
                ),
                Err(
                    "0/2 nodes are available: 2 node(s) didn't match Pod's node affinity/selector. preemption: 0/2 nodes are available: 2 Preemption is not helpful for scheduling.",
                ),
            ),
            (
                "a nodeSelector picks the labelled node",
                vec![
                    node("a", "4", "8Gi", json!({})),
                    node(
                        "b",
                        "4",
                        "8Gi",
                        json!({"metadata": {"labels": {"disk": "ssd"}}}),
                    ),
                ],
                vec![],
                pod(
                    "1",
                    "1Gi",
                    json!({"spec": {"nodeSelector": {"disk": "ssd"}}}),
                ),
                Ok("b"),
            ),
            (
                "cordoned nodes are skipped",
                vec![
                    node("a", "4", "8Gi", json!({"spec": {"unschedulable": true}})),
                    node("b", "1", "1Gi", json!({})),
                ],
                vec![],
                pod("500m", "512Mi", json!({})),
                Ok("b"),
            ),
            (
                "mixed reasons are sorted and counted",
                vec![
                    node("a", "4", "8Gi", json!({"spec": {"unschedulable": true}})),
                    node("b", "1", "1Gi", json!({})),
                ],
                vec![],
                pod("2", "2Gi", json!({})),
                Err(
                    "0/2 nodes are available: 1 Insufficient cpu, 1 Insufficient memory, 1 node(s) were unschedulable. preemption: 0/2 nodes are available: 1 No preemption victims found for incoming pod, 1 Preemption is not helpful for scheduling.",
                ),
            ),
            (
                "a cordon can be tolerated",
                vec![node(
                    "a",
                    "4",
                    "8Gi",
                    json!({"spec": {"unschedulable": true}}),
                )],
                vec![],
                pod(
                    "1",
                    "1Gi",
                    json!({"spec": {"tolerations": [{"key": UNSCHEDULABLE_TAINT_KEY, "operator": "Exists"}]}}),
                ),
                Ok("a"),
            ),
            (
                "untolerated taints filter nodes",
                vec![node(
                    "a",
                    "4",
                    "8Gi",
                    json!({"spec": {"taints": [{"key": "k", "value": "v", "effect": "NoSchedule"}]}}),
                )],
                vec![],
                pod("1", "1Gi", json!({})),
                Err(
                    "0/1 nodes are available: 1 node(s) had untolerated taint {k: v}. preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling.",
                ),
            ),
            (
                "PreferNoSchedule taints do not filter",
                vec![node(
                    "a",
                    "4",
                    "8Gi",
                    json!({"spec": {"taints": [{"key": "k", "effect": "PreferNoSchedule"}]}}),
                )],
                vec![],
                pod("1", "1Gi", json!({})),
                Ok("a"),
            ),
            (
                "required node affinity with In",
                vec![
                    node("a", "4", "8Gi", json!({})),
                    node(
                        "b",
                        "4",
                        "8Gi",
                        json!({"metadata": {"labels": {"zone": "z2"}}}),
                    ),
                ],
                vec![],
                pod(
                    "1",
                    "1Gi",
                    json!({"spec": {"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
                    "nodeSelectorTerms": [{"matchExpressions": [{"key": "zone", "operator": "In", "values": ["z1", "z2"]}]}]}}}}}),
                ),
                Ok("b"),
            ),
            (
                "required node affinity on the node name",
                two(),
                vec![],
                pod(
                    "1",
                    "1Gi",
                    json!({"spec": {"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
                    "nodeSelectorTerms": [{"matchFields": [{"key": "metadata.name", "operator": "NotIn", "values": ["a"]}]}]}}}}}),
                ),
                Ok("b"),
            ),
            (
                "extended resources must be offered",
                two(),
                vec![],
                pod(
                    "1",
                    "1Gi",
                    json!({"spec": {"containers": [{"name": "compute", "resources": {"limits": {"devices.kubevirt.io/kvm": "1"}}}]}}),
                ),
                Err(
                    "0/2 nodes are available: 2 Insufficient devices.kubevirt.io/kvm. preemption: 0/2 nodes are available: 2 No preemption victims found for incoming pod.",
                ),
            ),
            (
                "the pod count is bounded",
                vec![node(
                    "a",
                    "4",
                    "8Gi",
                    json!({"status": {"allocatable": {"pods": "1"}}}),
                )],
                vec![on("a", "0", "0")],
                pod("1", "1Gi", json!({})),
                Err(
                    "0/1 nodes are available: 1 Too many pods. preemption: 0/1 nodes are available: 1 No preemption victims found for incoming pod.",
                ),
            ),
            (
                "no nodes at all",
                vec![],
                vec![],
                pod("1", "1Gi", json!({})),
                Err("no nodes available to schedule pods"),
            ),
        ];
        for (name, nodes, placed, p, want) in cases {
            let got = place(&nodes, &placed, &p);
            assert_eq!(got, want.map(String::from).map_err(String::from), "{name}");
        }
    }

    #[test]
    fn assumed_pods_use_capacity_within_a_pass() {
        let nodes = [node("a", "2", "4Gi", json!({}))];
        let mut cluster = Cluster::new(&nodes, &[]);
        let p = pod("1500m", "1Gi", json!({}));
        let first = cluster.schedule(&p).unwrap();
        cluster.assume(&Requests::of_pod(&p), &first);
        assert!(cluster.schedule(&p).is_err());
    }

    #[test]
    fn requests_take_limits_init_containers_and_overhead_into_account() {
        let p = pod(
            "100m",
            "1Gi",
            json!({"spec": {
                "containers": [
                    {"name": "a", "resources": {"requests": {"cpu": "100m"}}},
                    {"name": "b", "resources": {"limits": {"cpu": "200m", "memory": "1Gi"}}},
                ],
                "initContainers": [{"name": "i", "resources": {"requests": {"cpu": "1"}}}],
                "overhead": {"memory": "100Mi"},
            }}),
        );
        let r = Requests::of_pod(&p);
        assert_eq!(r.get("cpu"), Milli(1000));
        assert_eq!(r.get("memory"), quantity::parse("1124Mi").unwrap());
    }

    #[test]
    fn toleration_matching_follows_upstream() {
        let taint = Taint {
            key: "k".into(),
            value: Some("v".into()),
            effect: "NoSchedule".into(),
            ..Default::default()
        };
        let tol = |key: Option<&str>,
                   op: Option<&str>,
                   value: Option<&str>,
                   effect: Option<&str>| Toleration {
            key: key.map(Into::into),
            operator: op.map(Into::into),
            value: value.map(Into::into),
            effect: effect.map(Into::into),
            ..Default::default()
        };
        assert!(tolerates(&tol(Some("k"), None, Some("v"), None), &taint));
        assert!(!tolerates(&tol(Some("k"), None, Some("w"), None), &taint));
        assert!(tolerates(&tol(None, Some("Exists"), None, None), &taint));
        assert!(!tolerates(
            &tol(Some("k"), Some("Exists"), None, Some("NoExecute")),
            &taint
        ));
        assert!(
            !tolerates(&tol(None, None, Some("v"), None), &taint),
            "Equal needs a key"
        );
    }

    #[test]
    fn only_unassigned_default_scheduler_pods_are_taken() {
        assert!(wants_default_scheduler(&pod("1", "1Gi", json!({}))));
        assert!(wants_default_scheduler(&pod(
            "1",
            "1Gi",
            json!({"spec": {"schedulerName": "default-scheduler"}})
        )));
        assert!(!wants_default_scheduler(&pod(
            "1",
            "1Gi",
            json!({"spec": {"schedulerName": "other"}})
        )));
        assert!(!wants_default_scheduler(&on("a", "1", "1Gi")));
        assert!(!wants_default_scheduler(&pod(
            "1",
            "1Gi",
            json!({"metadata": {"deletionTimestamp": "2024-01-01T00:00:00Z"}})
        )));
    }
}
