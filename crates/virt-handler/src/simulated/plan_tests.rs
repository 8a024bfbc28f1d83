use super::*;
use crate::simulated::actions::{EVENT_CRASHED, EVENT_SHUT_DOWN, EVENT_STARTED, EventSpec};
use serde_json::Value;

fn t(s: i64) -> Timestamp {
    Timestamp::from_second(1_700_000_000 + s).unwrap()
}

fn settings() -> Settings {
    Settings {
        boot_delay: Duration::from_secs(2),
        shutdown_delay: Duration::from_secs(1),
        image_pull_backoff: Duration::from_secs(5),
    }
}

fn config() -> NodeConfig {
    NodeConfig {
        name: "node01".into(),
        cpu: "8".into(),
        memory: "32Gi".into(),
        pods: 110,
        ephemeral_storage: "100Gi".into(),
        labels: Default::default(),
        internal_ip: "192.168.66.101".into(),
        pod_cidr: "10.244.0.0/24".into(),
        os_image: "Simulated".into(),
        container_runtime_version: "sim://1.0".into(),
        kubelet_version: "v1.32.0".into(),
    }
}

fn merge(base: &mut Value, patch: Value) {
    match (base, patch) {
        (Value::Object(b), Value::Object(p)) => {
            for (k, v) in p {
                merge(b.entry(k).or_insert(Value::Null), v);
            }
        }
        (b, p) => *b = p,
    }
}

fn node_object() -> Arc<Node> {
    Arc::new(crate::node::node_object(&config(), t(0)))
}

fn launcher(extra: Value) -> Arc<Pod> {
    let mut p = json!({
        "metadata": {"name": "virt-launcher-v-x", "namespace": "ns", "uid": "pod-1", "resourceVersion": "10",
                     "labels": {"kubevirt.io": "virt-launcher", "kubevirt.io/created-by": "uid-1"}},
        "spec": {"nodeName": "node01", "containers": [{"name": "compute", "image": "virt-launcher"}]},
        "status": {"phase": "Running", "podIP": "10.244.0.2"},
    });
    merge(&mut p, extra);
    Arc::new(serde_json::from_value(p).unwrap())
}

fn vmi(phase: &str, extra: Value) -> Arc<VirtualMachineInstance> {
    let mut v = json!({
        "apiVersion": "kubevirt.io/v1", "kind": "VirtualMachineInstance",
        "metadata": {"name": "v", "namespace": "ns", "uid": "uid-1", "resourceVersion": "7"},
        "spec": {"domain": {"devices": {}}},
        "status": {"phase": phase, "nodeName": "node01"},
    });
    merge(&mut v, extra);
    Arc::new(serde_json::from_value(v).unwrap())
}

struct Sim {
    nodes: Vec<NodeConfig>,
    node_objects: Vec<Arc<Node>>,
    claims: Vec<Arc<PersistentVolumeClaim>>,
    domains: Domains,
    memo: Memo,
}

impl Sim {
    fn new() -> Sim {
        Sim {
            nodes: vec![config()],
            node_objects: vec![node_object()],
            claims: Vec::new(),
            domains: Domains::new(),
            memo: Memo::new(),
        }
    }

    /// One pass with the driver's memo; every pass is checked against a full pass from the
    /// same state, so each scenario also shows that skipping unchanged objects changes nothing.
    fn pass(&mut self, pods: &[Arc<Pod>], vmis: &[Arc<VirtualMachineInstance>], at: i64) -> Pass {
        let world = World {
            nodes: &self.nodes,
            node_objects: &self.node_objects,
            pods,
            vmis,
            claims: &self.claims,
        };
        let mut full_domains = self.domains.clone();
        let full = plan(&world, &mut full_domains, &settings(), t(at));
        let pass = plan_with(
            &world,
            &mut self.domains,
            &mut self.memo,
            &settings(),
            t(at),
        );
        assert_eq!(
            pass, full,
            "a pass with the memo plans what a full pass plans"
        );
        assert_eq!(self.domains, full_domains);
        pass
    }
}

fn vmi_writes(pass: &Pass) -> Vec<(String, Vec<EventSpec>)> {
    pass.actions
        .iter()
        .filter_map(|a| match a {
            Action::VmiStatus { body, events, .. } => Some((
                body["status"]["phase"].as_str().unwrap_or("-").to_string(),
                events.clone(),
            )),
            _ => None,
        })
        .collect()
}

fn events(pass: &Pass) -> Vec<&'static str> {
    pass.actions
        .iter()
        .filter_map(|a| match a {
            Action::Event { event, .. } => Some(event.reason),
            _ => None,
        })
        .collect()
}

fn claim(name: &str, phase: &str) -> Arc<PersistentVolumeClaim> {
    Arc::new(
        serde_json::from_value(json!({
            "metadata": {"name": name, "namespace": "ns"},
            "status": {"phase": phase},
        }))
        .unwrap(),
    )
}

#[test]
fn a_launcher_waits_unscheduled_until_its_claims_are_bound() {
    let mut sim = Sim::new();
    let pods = [launcher(
        json!({"spec": {"nodeName": null}, "status": null}),
    )];
    let vmis = [vmi(
        "Scheduling",
        json!({"spec": {"volumes": [
            {"name": "a", "persistentVolumeClaim": {"claimName": "disk"}},
            {"name": "b", "dataVolume": {"name": "imported"}},
            {"name": "c", "persistentVolumeClaim": {"claimName": "hot", "hotpluggable": true}},
        ]}, "status": {"nodeName": null}}),
    )];
    let binds = |pass: &Pass| {
        pass.actions
            .iter()
            .filter(|a| matches!(a, Action::Bind { .. } | Action::PodStatus { .. }))
            .count()
    };
    sim.claims = vec![
        claim("disk", "Pending"),
        claim("imported", "Bound"),
        claim("hot", "Pending"),
    ];
    let pass = sim.pass(&pods, &vmis, 0);
    assert_eq!(
        binds(&pass),
        0,
        "no binding and no condition: {:?}",
        pass.actions
    );
    sim.claims[1] = claim("imported", "Pending");
    sim.claims[0] = claim("disk", "Bound");
    assert_eq!(binds(&sim.pass(&pods, &vmis, 1)), 0);
    sim.claims[1] = claim("imported", "Bound");
    let pass = sim.pass(&pods, &vmis, 2);
    assert!(
        pass.actions
            .iter()
            .any(|a| matches!(a, Action::Bind { .. })),
        "bound once every mounted claim is: {:?}",
        pass.actions
    );
}

#[test]
fn unassigned_pods_are_bound_to_a_node_with_room() {
    let mut sim = Sim::new();
    let pod = launcher(json!({"spec": {"nodeName": null}, "status": null}));
    let pass = sim.pass(&[pod], &[], 0);
    let bind = pass.actions.iter().find_map(|a| match a {
        Action::Bind {
            node,
            resource_version,
            status,
            ..
        } => Some((node.clone(), resource_version.clone(), status.clone())),
        _ => None,
    });
    let (node, rv, status) = bind.expect("a bind");
    assert_eq!((node.as_str(), rv.as_str()), ("node01", "10"));
    assert_eq!(status["status"]["conditions"][0]["status"], "True");
}

#[test]
fn pods_that_fit_nowhere_are_marked_unschedulable_once() {
    let mut sim = Sim::new();
    let big = json!({"spec": {"nodeName": null, "containers": [{"name": "compute", "resources": {"requests": {"memory": "1Ei"}}}]}, "status": null});
    let pod = launcher(big.clone());
    let pass = sim.pass(&[pod], &[], 0);
    let Some(Action::PodStatus { body, .. }) = pass.actions.first() else {
        panic!("{:?}", pass.actions)
    };
    let condition = &body["status"]["conditions"][0];
    assert_eq!(condition["reason"], "Unschedulable");
    let message = condition["message"].as_str().unwrap();
    assert!(
        message.starts_with("0/1 nodes are available: 1 Insufficient memory."),
        "{message}"
    );

    let mut marked = big;
    merge(&mut marked, json!({"status": body["status"].clone()}));
    let again = sim.pass(&[launcher(marked)], &[], 1);
    assert!(again.actions.is_empty(), "{:?}", again.actions);
}

#[test]
fn a_scheduled_vmi_boots_after_the_delay_and_reports_started() {
    let mut sim = Sim::new();
    let pods = [launcher(json!({}))];
    let booting = sim.pass(&pods, &[vmi("Scheduled", json!({}))], 0);
    assert!(vmi_writes(&booting).is_empty());
    assert_eq!(booting.wakeup, Some(t(2)));
    let ran = sim.pass(&pods, &[vmi("Scheduled", json!({}))], 2);
    assert_eq!(
        vmi_writes(&ran),
        vec![("Running".to_string(), vec![EVENT_STARTED])]
    );
}

#[test]
fn the_boot_delay_annotation_wins() {
    let mut sim = Sim::new();
    let pods = [launcher(json!({}))];
    let v = vmi(
        "Scheduled",
        json!({"metadata": {"annotations": {"simulation.kubevirt.io/boot-delay": "10s"}}}),
    );
    sim.pass(&pods, std::slice::from_ref(&v), 0);
    assert!(vmi_writes(&sim.pass(&pods, std::slice::from_ref(&v), 5)).is_empty());
    assert_eq!(vmi_writes(&sim.pass(&pods, &[v], 10)).len(), 1);
}

#[test]
fn deleting_a_running_vmi_shuts_the_guest_down_gracefully() {
    let mut sim = Sim::new();
    let pods = [launcher(json!({}))];
    sim.pass(&pods, &[vmi("Scheduled", json!({}))], 0);
    sim.pass(&pods, &[vmi("Scheduled", json!({}))], 2);
    let deleting = vmi(
        "Running",
        json!({"metadata": {"deletionTimestamp": "2023-11-14T22:13:25Z"}}),
    );
    let signalled = sim.pass(&pods, std::slice::from_ref(&deleting), 5);
    assert_eq!(events(&signalled), vec!["ShuttingDown"]);
    assert_eq!(signalled.wakeup, Some(t(6)));
    let done = sim.pass(&pods, &[deleting], 6);
    assert_eq!(
        vmi_writes(&done),
        vec![("Succeeded".to_string(), vec![EVENT_SHUT_DOWN])]
    );
    let pod_phase = done.actions.iter().find_map(|a| match a {
        Action::PodStatus { body, .. } => body["status"]["phase"].as_str().map(str::to_string),
        _ => None,
    });
    assert_eq!(pod_phase.as_deref(), Some("Succeeded"));
}

#[test]
fn grace_zero_kills_at_once() {
    let mut sim = Sim::new();
    let pods = [launcher(json!({}))];
    sim.pass(&pods, &[vmi("Scheduled", json!({}))], 0);
    sim.pass(&pods, &[vmi("Scheduled", json!({}))], 2);
    let deleting = vmi(
        "Running",
        json!({"metadata": {"deletionTimestamp": "2023-11-14T22:13:25Z"}, "spec": {"terminationGracePeriodSeconds": 0}}),
    );
    let pass = sim.pass(&pods, &[deleting], 5);
    assert_eq!(events(&pass), vec!["Deleted"]);
    assert_eq!(
        vmi_writes(&pass),
        vec![("Succeeded".to_string(), vec![EVENT_SHUT_DOWN])]
    );
}

#[test]
fn a_guest_ignoring_acpi_is_killed_at_grace_expiry_and_fails() {
    let mut sim = Sim::new();
    let pods = [launcher(json!({}))];
    let ann = json!({"metadata": {"annotations": {"simulation.kubevirt.io/ignore-acpi": "true"}}, "spec": {"terminationGracePeriodSeconds": 5}});
    sim.pass(&pods, &[vmi("Scheduled", ann.clone())], 0);
    sim.pass(&pods, &[vmi("Scheduled", ann.clone())], 2);
    let mut deleting = ann;
    merge(
        &mut deleting,
        json!({"metadata": {"deletionTimestamp": "2023-11-14T22:13:23Z"}}),
    );
    let deleting = vmi("Running", deleting);
    assert_eq!(
        events(&sim.pass(&pods, std::slice::from_ref(&deleting), 3)),
        vec!["ShuttingDown"]
    );
    let waiting = sim.pass(&pods, std::slice::from_ref(&deleting), 7);
    assert!(
        vmi_writes(&waiting).iter().all(|(phase, _)| phase == "-"),
        "still running at 7s"
    );
    let killed = sim.pass(&pods, &[deleting], 8);
    assert_eq!(events(&killed), vec!["Deleted"]);
    assert_eq!(
        vmi_writes(&killed),
        vec![("Failed".to_string(), vec![EVENT_CRASHED])]
    );
}

#[test]
fn a_deleted_launcher_pod_stops_the_guest() {
    let mut sim = Sim::new();
    let pods = [launcher(json!({}))];
    sim.pass(&pods, &[vmi("Scheduled", json!({}))], 0);
    sim.pass(&pods, &[vmi("Scheduled", json!({}))], 2);
    let deleted = [launcher(
        json!({"metadata": {"deletionTimestamp": "2023-11-14T22:14:25Z"}}),
    )];
    assert_eq!(
        events(&sim.pass(&deleted, &[vmi("Running", json!({}))], 3)),
        vec!["ShuttingDown"]
    );
    let stopped = sim.pass(&deleted, &[vmi("Running", json!({}))], 4);
    assert_eq!(
        vmi_writes(&stopped),
        vec![("Succeeded".to_string(), vec![EVENT_SHUT_DOWN])]
    );
    assert!(
        !stopped
            .actions
            .iter()
            .any(|a| matches!(a, Action::DeletePod { .. })),
        "waits for the VMI"
    );
    let removed = sim.pass(&deleted, &[vmi("Succeeded", json!({}))], 5);
    assert!(
        removed
            .actions
            .iter()
            .any(|a| matches!(a, Action::DeletePod { .. }))
    );
}

#[test]
fn a_vanished_launcher_pod_fails_the_guest() {
    let mut sim = Sim::new();
    let pods = [launcher(json!({}))];
    sim.pass(&pods, &[vmi("Scheduled", json!({}))], 0);
    sim.pass(&pods, &[vmi("Scheduled", json!({}))], 2);
    let pass = sim.pass(&[], &[vmi("Running", json!({}))], 3);
    assert_eq!(
        vmi_writes(&pass),
        vec![("Failed".to_string(), vec![EVENT_CRASHED])]
    );
}

#[test]
fn a_crash_injection_fails_the_guest() {
    let mut sim = Sim::new();
    let pods = [launcher(json!({}))];
    let v = |phase| {
        vmi(
            phase,
            json!({"metadata": {"annotations": {"simulation.kubevirt.io/crash-after": "3s"}}}),
        )
    };
    sim.pass(&pods, &[v("Scheduled")], 0);
    sim.pass(&pods, &[v("Scheduled")], 2);
    assert_eq!(
        vmi_writes(&sim.pass(&pods, &[v("Running")], 5)),
        vec![("Failed".to_string(), vec![EVENT_CRASHED])]
    );
}

#[test]
fn paused_start_strategy_runs_paused() {
    let mut sim = Sim::new();
    let pods = [launcher(json!({}))];
    let v = |phase| vmi(phase, json!({"spec": {"startStrategy": "Paused"}}));
    sim.pass(&pods, &[v("Scheduled")], 0);
    let pass = sim.pass(&pods, &[v("Scheduled")], 2);
    let Some(Action::VmiStatus { body, .. }) = pass
        .actions
        .iter()
        .find(|a| matches!(a, Action::VmiStatus { .. }))
    else {
        panic!()
    };
    let paused = body["status"]["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["type"] == "Paused")
        .cloned();
    assert_eq!(
        paused.map(|c| c["reason"].clone()),
        Some(json!("PausedByUser"))
    );
}

#[test]
fn running_vmis_are_adopted_after_a_restart() {
    let mut sim = Sim::new();
    let pass = sim.pass(&[launcher(json!({}))], &[vmi("Running", json!({}))], 0);
    assert!(sim.domains.get("uid-1").is_some_and(|d| d.is_running()));
    assert!(
        vmi_writes(&pass).iter().all(|(_, e)| e.is_empty()),
        "no second Started event"
    );
}

#[test]
fn domains_of_vanished_vmis_are_dropped() {
    let mut sim = Sim::new();
    let pods = [launcher(json!({}))];
    sim.pass(&pods, &[vmi("Scheduled", json!({}))], 0);
    let pass = sim.pass(&pods, &[], 1);
    assert_eq!(pass.removed, vec!["uid-1".to_string()]);
    assert!(sim.domains.is_empty());
}

#[test]
fn vmis_on_other_nodes_are_not_touched() {
    let mut sim = Sim::new();
    let other = vmi("Scheduled", json!({"status": {"nodeName": "elsewhere"}}));
    let pass = sim.pass(
        &[launcher(json!({"spec": {"nodeName": "elsewhere"}}))],
        &[other],
        0,
    );
    assert!(pass.actions.is_empty(), "{:?}", pass.actions);
    assert!(sim.domains.is_empty());
}

#[test]
fn bad_annotations_are_reported() {
    let mut sim = Sim::new();
    let v = vmi(
        "Scheduled",
        json!({"metadata": {"annotations": {"simulation.kubevirt.io/poweroff-after": "later"}}}),
    );
    let pass = sim.pass(&[launcher(json!({}))], &[v], 0);
    assert_eq!(
        pass.warnings,
        vec!["ns/v: simulation.kubevirt.io/poweroff-after: later".to_string()]
    );
}

#[test]
fn objects_with_nothing_to_do_are_skipped_until_they_change() {
    let mut sim = Sim::new();
    let pod = launcher(json!({}));
    let scheduled = vmi("Scheduled", json!({}));
    sim.pass(
        std::slice::from_ref(&pod),
        std::slice::from_ref(&scheduled),
        0,
    );
    let booted = sim.pass(
        std::slice::from_ref(&pod),
        std::slice::from_ref(&scheduled),
        3,
    );
    assert_eq!(
        vmi_writes(&booted).len(),
        1,
        "the guest runs: one VMI write"
    );
    assert!(
        !sim.memo.quiet_vmis.contains_key("uid-1"),
        "a VMI with a write to make is not skipped"
    );

    // The VMI as the write left it: nothing more to do, so later passes skip it.
    let Action::VmiStatus { body, .. } = &booted.actions[0] else {
        panic!("expected the VMI write first: {:?}", booted.actions)
    };
    let mut running = serde_json::to_value(&*scheduled).unwrap();
    merge(&mut running, body.clone());
    running["metadata"]["resourceVersion"] = json!("8");
    let running: Arc<VirtualMachineInstance> = Arc::new(serde_json::from_value(running).unwrap());
    let quiet = sim.pass(
        std::slice::from_ref(&pod),
        std::slice::from_ref(&running),
        4,
    );
    assert!(vmi_writes(&quiet).is_empty(), "{:?}", quiet.actions);
    assert_eq!(
        sim.memo
            .quiet_vmis
            .get("uid-1")
            .map(|i| i.resource_version.as_str()),
        Some("8")
    );

    // Gone objects are forgotten.
    sim.pass(&[], &[], 5);
    assert!(sim.memo.quiet_vmis.is_empty() && sim.memo.quiet_pods.is_empty());
}
