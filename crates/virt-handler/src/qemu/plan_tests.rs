use super::*;
use crate::qemu::domain::{DomainStatus, PauseReason, ShutoffReason};
use crate::qemu::merge_json;
use crate::simulated::actions::{EVENT_CRASHED, EVENT_STARTED};
use serde_json::Value;

fn t(s: i64) -> Timestamp {
    Timestamp::from_second(1_700_000_000 + s).unwrap()
}

fn config() -> NodeConfig {
    crate::qemu::host::HostFacts {
        hostname: "box".into(),
        cpus: 2,
        memory_kib: 8 * 1024 * 1024,
        address: "192.168.1.5".parse().unwrap(),
        os_image: "Debian".into(),
    }
    .node_config("box", "qemu://7.2.0")
}

fn launcher(extra: Value) -> Arc<Pod> {
    let mut p = json!({
        "metadata": {"name": "virt-launcher-v-x", "namespace": "ns", "uid": "pod-1", "resourceVersion": "10",
                     "labels": {"kubevirt.io": "virt-launcher", "kubevirt.io/created-by": "uid-1"}},
        "spec": {"nodeName": "box", "containers": [{"name": "compute", "image": "virt-launcher"}]},
        "status": {"phase": "Running", "podIP": "10.244.0.2"},
    });
    merge_json(&mut p, extra);
    Arc::new(serde_json::from_value(p).unwrap())
}

fn vmi(phase: &str, extra: Value) -> Arc<VirtualMachineInstance> {
    let mut v = json!({
        "apiVersion": "kubevirt.io/v1", "kind": "VirtualMachineInstance",
        "metadata": {"name": "v", "namespace": "ns", "uid": "uid-1", "resourceVersion": "7"},
        "spec": {"domain": {"devices": {}}},
        "status": {"phase": phase, "nodeName": "box"},
    });
    merge_json(&mut v, extra);
    Arc::new(serde_json::from_value(v).unwrap())
}

struct Fixture {
    node: NodeConfig,
    node_objects: Vec<Arc<Node>>,
    dir: std::path::PathBuf,
    guests: Guests,
    missing_images: BTreeSet<String>,
}

impl Fixture {
    fn new() -> Fixture {
        let node = config();
        let node_objects = vec![Arc::new(crate::node::node_object(&node, t(0)))];
        Fixture {
            node,
            node_objects,
            dir: "/data".into(),
            guests: Guests::new(),
            missing_images: BTreeSet::new(),
        }
    }

    fn pass(
        &mut self,
        pods: &[Arc<Pod>],
        vmis: &[Arc<VirtualMachineInstance>],
        now: Instant,
    ) -> Pass {
        let world = World {
            node: &self.node,
            data_dir: &self.dir,
            node_objects: &self.node_objects,
            pods,
            vmis,
            missing_images: &self.missing_images,
        };
        plan(&world, &mut self.guests, now, t(10))
    }

    fn running_guest(&mut self, status: DomainStatus) {
        let key = ObjectKey {
            namespace: "ns".into(),
            name: "v".into(),
            uid: "uid-1".into(),
        };
        let mut g = Guest::starting(key, "pod-1".into(), "/data/vmis/ns/v/uid-1".into(), t(0));
        g.starting = false;
        g.observed = Observed::Domain(status);
        self.guests.insert("uid-1".into(), g);
    }
}

fn vmi_writes(pass: &Pass) -> Vec<(Value, Vec<&'static str>)> {
    pass.actions
        .iter()
        .filter_map(|a| match a {
            Action::VmiStatus { body, events, .. } => Some((
                body["status"].clone(),
                events.iter().map(|e| e.reason).collect(),
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

#[tokio::test(start_paused = true)]
async fn a_scheduled_vmi_with_a_running_pod_is_started_once() {
    let mut f = Fixture::new();
    let pods = [launcher(json!({}))];
    let vmis = [vmi("Scheduled", json!({}))];
    let pass = f.pass(&pods, &vmis, Instant::now());
    assert!(matches!(pass.commands.as_slice(), [Command::Start { .. }]));
    let g = &f.guests["uid-1"];
    assert!(g.starting);
    assert_eq!(g.run_dir, std::path::Path::new("/data/vmis/ns/v/uid-1"));
    assert_eq!(g.pod_uid, "pod-1");
    let again = f.pass(&pods, &vmis, Instant::now());
    assert!(
        again.commands.is_empty(),
        "a start in flight is not repeated"
    );
}

#[tokio::test(start_paused = true)]
async fn a_vmi_is_not_started_before_its_pod_runs_or_while_deleting() {
    let mut f = Fixture::new();
    let pending = [launcher(json!({"status": {"phase": "Pending"}}))];
    assert!(
        f.pass(&pending, &[vmi("Scheduled", json!({}))], Instant::now())
            .commands
            .iter()
            .all(|c| !matches!(c, Command::Start { .. }))
    );
    let deleting = vmi(
        "Scheduled",
        json!({"metadata": {"deletionTimestamp": "2023-11-14T22:13:20Z"}}),
    );
    let pass = f.pass(&[launcher(json!({}))], &[deleting], Instant::now());
    assert!(pass.commands.is_empty());
    assert!(f.guests.is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_running_domain_makes_the_vmi_running_with_a_started_event() {
    let mut f = Fixture::new();
    f.running_guest(DomainStatus::Running);
    let pass = f.pass(
        &[launcher(json!({}))],
        &[vmi("Scheduled", json!({}))],
        Instant::now(),
    );
    let writes = vmi_writes(&pass);
    assert_eq!(writes.len(), 1);
    assert_eq!(writes[0].0["phase"], "Running");
    assert_eq!(writes[0].0["interfaces"][0]["ipAddress"], "10.244.0.2");
    assert_eq!(writes[0].1, vec![EVENT_STARTED.reason]);
}

#[tokio::test(start_paused = true)]
async fn deleting_a_running_vmi_signals_acpi_then_kills_at_grace_expiry() {
    let mut f = Fixture::new();
    f.running_guest(DomainStatus::Running);
    let pods = [launcher(json!({}))];
    let vmis = [vmi(
        "Running",
        json!({"metadata": {"deletionTimestamp": "2023-11-14T22:13:20Z"}, "spec": {"terminationGracePeriodSeconds": 7}}),
    )];
    let pass = f.pass(&pods, &vmis, Instant::now());
    assert_eq!(events(&pass), vec!["ShuttingDown"]);
    assert_eq!(
        pass.commands,
        vec![Command::Signal {
            uid: "uid-1".into()
        }]
    );
    assert_eq!(pass.persist, vec!["uid-1".to_string()]);
    assert_eq!(pass.wakeup, Some(Instant::now() + Duration::from_secs(5)));

    tokio::time::advance(Duration::from_secs(5)).await;
    let pass = f.pass(&pods, &vmis, Instant::now());
    assert!(
        events(&pass).is_empty(),
        "only the first request is reported"
    );
    assert_eq!(
        pass.commands,
        vec![Command::Signal {
            uid: "uid-1".into()
        }]
    );
    assert_eq!(pass.wakeup, Some(Instant::now() + Duration::from_secs(2)));

    tokio::time::advance(Duration::from_secs(2)).await;
    let pass = f.pass(&pods, &vmis, Instant::now());
    assert_eq!(events(&pass), vec!["Deleted"]);
    assert_eq!(
        pass.commands,
        vec![Command::Kill {
            uid: "uid-1".into()
        }]
    );
}

#[tokio::test(start_paused = true)]
async fn grace_zero_kills_at_once_and_ends_succeeded() {
    let mut f = Fixture::new();
    f.running_guest(DomainStatus::Running);
    let deleting = json!({"metadata": {"deletionTimestamp": "2023-11-14T22:13:20Z"}, "spec": {"terminationGracePeriodSeconds": 0}});
    let pass = f.pass(
        &[launcher(json!({}))],
        &[vmi("Running", deleting.clone())],
        Instant::now(),
    );
    assert_eq!(events(&pass), vec!["Deleted"]);
    assert_eq!(
        pass.commands,
        vec![Command::Kill {
            uid: "uid-1".into()
        }]
    );
    f.guests.get_mut("uid-1").unwrap().observed =
        Observed::Domain(DomainStatus::Shutoff(ShutoffReason::Destroyed));
    let pass = f.pass(
        &[launcher(json!({}))],
        &[vmi("Running", deleting)],
        Instant::now(),
    );
    let writes = vmi_writes(&pass);
    assert_eq!(writes[0].0["phase"], "Succeeded");
    assert_eq!(writes[0].1, vec!["Stopped"]);
}

#[tokio::test(start_paused = true)]
async fn a_deleted_pod_stops_the_guest_and_goes_once_the_vmi_is_final() {
    let mut f = Fixture::new();
    f.running_guest(DomainStatus::Running);
    let pod = launcher(json!({"metadata": {"deletionTimestamp": "2099-01-01T00:00:00Z"}}));
    let pass = f.pass(
        std::slice::from_ref(&pod),
        &[vmi("Running", json!({}))],
        Instant::now(),
    );
    assert_eq!(
        pass.commands,
        vec![Command::Signal {
            uid: "uid-1".into()
        }]
    );
    assert!(
        !pass
            .actions
            .iter()
            .any(|a| matches!(a, Action::DeletePod { .. })),
        "the guest still runs"
    );

    f.guests.get_mut("uid-1").unwrap().observed =
        Observed::Domain(DomainStatus::Shutoff(ShutoffReason::Shutdown));
    let pass = f.pass(
        std::slice::from_ref(&pod),
        &[vmi("Running", json!({}))],
        Instant::now(),
    );
    assert_eq!(vmi_writes(&pass)[0].0["phase"], "Succeeded");
    assert!(
        !pass
            .actions
            .iter()
            .any(|a| matches!(a, Action::DeletePod { .. })),
        "not before the VMI is final"
    );

    let pass = f.pass(&[pod], &[vmi("Succeeded", json!({}))], Instant::now());
    assert!(
        pass.actions
            .iter()
            .any(|a| matches!(a, Action::DeletePod { .. }))
    );
    let pass = f.pass(&[], &[vmi("Succeeded", json!({}))], Instant::now());
    assert_eq!(
        pass.commands,
        vec![Command::Forget {
            uid: "uid-1".into()
        }]
    );
}

#[tokio::test(start_paused = true)]
async fn a_pod_past_its_deadline_takes_the_guest_along() {
    let mut f = Fixture::new();
    f.running_guest(DomainStatus::Running);
    let pod = launcher(json!({"metadata": {"deletionTimestamp": "2000-01-01T00:00:00Z"}}));
    let pass = f.pass(&[pod], &[vmi("Running", json!({}))], Instant::now());
    assert_eq!(
        pass.commands,
        vec![Command::Kill {
            uid: "uid-1".into()
        }]
    );
    let pass = f.pass(&[], &[vmi("Running", json!({}))], Instant::now());
    assert_eq!(
        pass.commands,
        vec![Command::Kill {
            uid: "uid-1".into()
        }],
        "a vanished pod too"
    );
}

#[tokio::test(start_paused = true)]
async fn a_crashed_guest_fails_the_vmi_and_completes_its_pod() {
    let mut f = Fixture::new();
    f.running_guest(DomainStatus::Shutoff(ShutoffReason::Crashed));
    let pods = [launcher(json!({}))];
    let pass = f.pass(&pods, &[vmi("Running", json!({}))], Instant::now());
    let writes = vmi_writes(&pass);
    assert_eq!(writes[0].0["phase"], "Failed");
    assert_eq!(writes[0].1, vec![EVENT_CRASHED.reason]);
    let pod_status = pass.actions.iter().find_map(|a| match a {
        Action::PodStatus { body, .. } => Some(body["status"]["phase"].clone()),
        _ => None,
    });
    assert_eq!(pod_status, Some(json!("Succeeded")));
}

#[tokio::test(start_paused = true)]
async fn a_paused_guest_keeps_its_pod_unready() {
    let mut f = Fixture::new();
    f.running_guest(DomainStatus::Paused(PauseReason::User));
    let pods = [launcher(
        json!({"spec": {"readinessGates": [{"conditionType": "kubevirt.io/virtual-machine-unpaused"}]}}),
    )];
    let pass = f.pass(&pods, &[vmi("Running", json!({}))], Instant::now());
    let body = pass.actions.iter().find_map(|a| match a {
        Action::PodStatus { body, .. } => Some(body.clone()),
        _ => None,
    });
    let conditions = body.unwrap()["status"]["conditions"].clone();
    let gate = conditions
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["type"] == "kubevirt.io/virtual-machine-unpaused")
        .unwrap()
        .clone();
    assert_eq!(gate["status"], "False");
    let ready = conditions
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["type"] == "Ready")
        .unwrap()
        .clone();
    assert_eq!(ready["status"], "False");
}

#[tokio::test(start_paused = true)]
async fn a_running_vmi_without_a_guest_failed_while_the_driver_was_away() {
    let mut f = Fixture::new();
    let pass = f.pass(
        &[launcher(json!({}))],
        &[vmi("Running", json!({}))],
        Instant::now(),
    );
    let writes = vmi_writes(&pass);
    assert_eq!(writes[0].0["phase"], "Failed");
    assert!(pass.commands.is_empty(), "nothing is restarted");
}

#[tokio::test(start_paused = true)]
async fn a_failed_start_is_retried_after_a_pause() {
    let mut f = Fixture::new();
    f.running_guest(DomainStatus::Running);
    let g = f.guests.get_mut("uid-1").unwrap();
    g.observed = Observed::NotStarted;
    g.start_error = Some("no such image".into());
    g.retry_at = Some(Instant::now() + START_RETRY);
    let pods = [launcher(json!({}))];
    let vmis = [vmi("Scheduled", json!({}))];
    let pass = f.pass(&pods, &vmis, Instant::now());
    assert!(pass.commands.is_empty());
    assert_eq!(pass.wakeup, Some(Instant::now() + START_RETRY));
    assert_eq!(
        vmi_writes(&pass)[0].0["conditions"][0]["type"],
        "Synchronized"
    );
    tokio::time::advance(START_RETRY).await;
    let pass = f.pass(&pods, &vmis, Instant::now());
    assert!(matches!(pass.commands.as_slice(), [Command::Start { .. }]));
}

#[tokio::test(start_paused = true)]
async fn guests_of_vanished_vmis_are_killed_then_forgotten() {
    let mut f = Fixture::new();
    f.running_guest(DomainStatus::Running);
    assert_eq!(
        f.pass(&[], &[], Instant::now()).commands,
        vec![Command::Kill {
            uid: "uid-1".into()
        }]
    );
    f.guests.get_mut("uid-1").unwrap().observed =
        Observed::Domain(DomainStatus::Shutoff(ShutoffReason::Destroyed));
    assert_eq!(
        f.pass(&[], &[], Instant::now()).commands,
        vec![Command::Forget {
            uid: "uid-1".into()
        }]
    );
}

#[tokio::test(start_paused = true)]
async fn pending_pods_are_bound_to_this_node() {
    let mut f = Fixture::new();
    let pod = launcher(
        json!({"spec": {"nodeName": null}, "status": {"phase": "Pending", "podIP": null}}),
    );
    let pass = f.pass(&[pod], &[], Instant::now());
    assert!(
        pass.actions
            .iter()
            .any(|a| matches!(a, Action::Bind { node, .. } if node == "box"))
    );
}

#[tokio::test(start_paused = true)]
async fn a_missing_container_disk_image_keeps_the_pod_pulling_it() {
    let mut f = Fixture::new();
    f.missing_images.insert("registry/guest:1".into());
    let disk = json!({"spec": {"volumes": [{"name": "root", "containerDisk": {"image": "registry/guest:1"}}]}});
    let v = vmi("Scheduling", disk);
    let pod = launcher(json!({"status": {"phase": "Pending", "podIP": null}}));
    let pass = f.pass(
        std::slice::from_ref(&pod),
        std::slice::from_ref(&v),
        Instant::now(),
    );
    let status = pass
        .actions
        .iter()
        .find_map(|a| match a {
            Action::PodStatus { body, .. } => Some(body["status"].clone()),
            _ => None,
        })
        .expect("a pod status");
    assert_eq!(status["phase"], "Pending");
    let waiting = &status["containerStatuses"][0]["state"]["waiting"];
    assert_eq!(waiting["reason"], "ErrImagePull");
    let message = waiting["message"].as_str().unwrap();
    assert!(
        message.starts_with("Failed to pull image \"registry/guest:1\""),
        "{message}"
    );
    assert!(pass.wakeup.is_some(), "the back-off alternates by itself");
    assert!(pass.commands.is_empty());

    // Once written, the same status is not written again.
    let mut written = serde_json::to_value(&*pod).unwrap();
    written["status"] = status;
    let pod = Arc::new(serde_json::from_value::<Pod>(written).unwrap());
    let again = f.pass(
        std::slice::from_ref(&pod),
        std::slice::from_ref(&v),
        Instant::now(),
    );
    assert!(
        !again
            .actions
            .iter()
            .any(|a| matches!(a, Action::PodStatus { .. })),
        "{:?}",
        again.actions
    );

    // Imported: the pod runs.
    f.missing_images.clear();
    let after = f.pass(std::slice::from_ref(&pod), &[v], Instant::now());
    let running = after.actions.iter().any(
        |a| matches!(a, Action::PodStatus { body, .. } if body["status"]["phase"] == "Running"),
    );
    assert!(running, "{:?}", after.actions);
}
