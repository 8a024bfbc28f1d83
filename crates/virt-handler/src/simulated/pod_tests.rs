use super::*;
use crate::simulated::domain::{DomainState, ShutoffReason};
use serde_json::{Value, json};

fn t(s: i64) -> Timestamp {
    Timestamp::from_second(1_700_000_000 + s).unwrap()
}

fn launcher(extra: Value) -> Pod {
    let mut p = json!({
        "metadata": {"name": "virt-launcher-v-abcde", "namespace": "ns", "uid": "pod-1",
                     "labels": {"kubevirt.io": "virt-launcher", "kubevirt.io/created-by": "uid-1"}},
        "spec": {
            "nodeName": "node01",
            "containers": [{"name": "compute", "image": "quay.io/kubevirt/virt-launcher:v1",
                            "resources": {"requests": {"cpu": "100m", "memory": "1Gi"}}}],
            "readinessGates": [{"conditionType": "kubevirt.io/virtual-machine-unpaused"}],
        },
        "status": {"phase": "Pending", "conditions": [{"type": "PodScheduled", "status": "True"}]},
    });
    merge(&mut p, extra);
    serde_json::from_value(p).unwrap()
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

fn vmi(phase: &str, extra: Value) -> VirtualMachineInstance {
    let mut v = json!({
        "apiVersion": "kubevirt.io/v1", "kind": "VirtualMachineInstance",
        "metadata": {"name": "v", "namespace": "ns", "uid": "uid-1"},
        "spec": {"domain": {"devices": {}}},
        "status": {"phase": phase},
    });
    merge(&mut v, extra);
    serde_json::from_value(v).unwrap()
}

fn domain(state: DomainState, paused: bool) -> Domain {
    Domain {
        vmi_uid: "uid-1".into(),
        namespace: "ns".into(),
        name: "v".into(),
        node: "node01".into(),
        pod_uid: "pod-1".into(),
        state,
        paused,
        acpi: true,
        injection: Injection::default(),
        shutdown_delay: Duration::from_secs(1),
        shutdown: None,
    }
}

fn running_domain() -> Domain {
    domain(DomainState::Running { since: t(0) }, false)
}

fn ctx<'a>(
    vmi: Option<&'a VirtualMachineInstance>,
    d: Option<&'a Domain>,
    inj: &'a Injection,
    now: i64,
) -> PodContext<'a> {
    PodContext {
        vmi,
        domain: d,
        injection: inj,
        pod_ip: Some("10.244.0.2".into()),
        host_ip: "192.168.66.101",
        now: t(now),
        image_pull_backoff: Duration::from_secs(5),
    }
}

fn summary(plan: &PodPlan) -> Value {
    let Some(s) = &plan.status else {
        return json!({"delete": plan.delete});
    };
    let s = serde_json::to_value(s).unwrap();
    let cond = |t: &str| {
        s["conditions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["type"] == t)
            .map(|c| {
                format!(
                    "{}{}",
                    c["status"].as_str().unwrap(),
                    c["reason"]
                        .as_str()
                        .map(|r| format!("/{r}"))
                        .unwrap_or_default()
                )
            })
    };
    let state = &s["containerStatuses"][0]["state"];
    let container = if state["running"].is_object() {
        "running".to_string()
    } else if state["waiting"].is_object() {
        format!("waiting/{}", state["waiting"]["reason"].as_str().unwrap())
    } else {
        format!(
            "terminated/{}/{}",
            state["terminated"]["exitCode"],
            state["terminated"]["reason"].as_str().unwrap()
        )
    };
    json!({
        "phase": s["phase"],
        "compute": container,
        "ready": cond("Ready"),
        "gate": cond("kubevirt.io/virtual-machine-unpaused"),
    })
}

#[test]
fn kubelet_table() {
    let none = Injection::default();
    let fail = Injection {
        fail_to_start: true,
        ..Default::default()
    };
    let pull = Injection {
        image_pull_error: true,
        ..Default::default()
    };
    let scheduled = vmi("Scheduled", json!({}));
    let paused_vmi = vmi(
        "Running",
        json!({"status": {"conditions": [{"type": "Paused", "status": "True"}]}}),
    );
    let succeeded = vmi("Succeeded", json!({}));
    let bad_disk = vmi(
        "Scheduling",
        json!({"spec": {"volumes": [{"name": "d", "containerDisk": {"image": "no-such-image"}}]}}),
    );
    let running = running_domain();
    let paused = domain(DomainState::Running { since: t(0) }, true);
    let off = domain(
        DomainState::Shutoff {
            reason: ShutoffReason::Shutdown,
            at: t(1),
        },
        false,
    );
    let deleting = json!({"metadata": {"deletionTimestamp": "2024-01-01T00:00:00Z"}});
    let run_ok = json!({"phase": "Running", "compute": "running", "ready": "True", "gate": "True/NotPaused"});
    let cases: Vec<(&str, Pod, PodContext, Value)> = vec![
        (
            "a bound launcher runs and is ready",
            launcher(json!({})),
            ctx(Some(&scheduled), None, &none, 0),
            run_ok.clone(),
        ),
        (
            "a paused guest fails the readiness gate",
            launcher(json!({})),
            ctx(Some(&paused_vmi), Some(&paused), &none, 0),
            json!({"phase": "Running", "compute": "running", "ready": "False/ReadinessGatesNotReady", "gate": "False/Paused"}),
        ),
        (
            "the VMI condition decides without a domain",
            launcher(json!({})),
            ctx(Some(&paused_vmi), None, &none, 0),
            json!({"phase": "Running", "compute": "running", "ready": "False/ReadinessGatesNotReady", "gate": "False/Paused"}),
        ),
        (
            "a launcher told to fail exits with an error",
            launcher(json!({})),
            ctx(Some(&scheduled), None, &fail, 0),
            json!({"phase": "Failed", "compute": "terminated/1/Error", "ready": "False/ContainersNotReady", "gate": "True/NotPaused"}),
        ),
        (
            "an unpullable launcher image starts with ErrImagePull",
            launcher(json!({})),
            ctx(Some(&scheduled), None, &pull, 0),
            json!({"phase": "Pending", "compute": "waiting/ErrImagePull", "ready": "False/ContainersNotReady", "gate": "True/NotPaused"}),
        ),
        (
            "then backs off",
            launcher(json!({"status": {"startTime": "2023-11-14T22:13:20Z"}})),
            ctx(Some(&scheduled), None, &pull, 6),
            json!({"phase": "Pending", "compute": "waiting/ImagePullBackOff", "ready": "False/ContainersNotReady", "gate": "True/NotPaused"}),
        ),
        (
            "and pulls again",
            launcher(json!({"status": {"startTime": "2023-11-14T22:13:20Z"}})),
            ctx(Some(&scheduled), None, &pull, 11),
            json!({"phase": "Pending", "compute": "waiting/ErrImagePull", "ready": "False/ContainersNotReady", "gate": "True/NotPaused"}),
        ),
        (
            "a containerDisk named no-such-image cannot be pulled",
            launcher(json!({})),
            ctx(Some(&bad_disk), None, &none, 0),
            json!({"phase": "Pending", "compute": "waiting/ErrImagePull", "ready": "False/ContainersNotReady", "gate": "True/NotPaused"}),
        ),
        (
            "a stopped guest completes the pod",
            launcher(json!({"status": {"phase": "Running"}})),
            ctx(Some(&scheduled), Some(&off), &none, 0),
            json!({"phase": "Succeeded", "compute": "terminated/0/Completed", "ready": "False/PodCompleted", "gate": "True/NotPaused"}),
        ),
        (
            "a deleted pod with a live guest keeps running",
            launcher(deleting.clone()),
            ctx(Some(&scheduled), Some(&running), &none, 0),
            run_ok.clone(),
        ),
        (
            "a deleted pod goes once the VMI shows the final phase",
            launcher(deleting.clone()),
            ctx(Some(&succeeded), Some(&off), &none, 0),
            json!({"delete": true}),
        ),
        (
            "a deleted pod without a guest goes at once",
            launcher(deleting.clone()),
            ctx(Some(&scheduled), None, &none, 0),
            json!({"delete": true}),
        ),
        (
            "a deleted terminal pod goes",
            launcher(
                json!({"metadata": {"deletionTimestamp": "2024-01-01T00:00:00Z"}, "status": {"phase": "Failed"}}),
            ),
            ctx(Some(&scheduled), None, &fail, 0),
            json!({"delete": true}),
        ),
        (
            "a terminal pod is left alone",
            launcher(json!({"status": {"phase": "Succeeded"}})),
            ctx(Some(&succeeded), Some(&off), &none, 0),
            json!({"delete": false}),
        ),
    ];
    for (name, pod, ctx, want) in cases {
        assert_eq!(summary(&plan(&pod, &ctx)), want, "{name}");
    }
}

#[test]
fn a_deleted_pod_waits_for_the_vmi_to_show_the_final_phase() {
    let scheduled = vmi("Running", json!({}));
    let off = domain(
        DomainState::Shutoff {
            reason: ShutoffReason::Shutdown,
            at: t(1),
        },
        false,
    );
    let pod = launcher(
        json!({"metadata": {"deletionTimestamp": "2024-01-01T00:00:00Z"}, "status": {"phase": "Running"}}),
    );
    let none = Injection::default();
    let plan = plan(&pod, &ctx(Some(&scheduled), Some(&off), &none, 0));
    assert!(!plan.delete);
    assert_eq!(
        plan.status.and_then(|s| s.phase).as_deref(),
        Some("Succeeded")
    );
}

#[test]
fn an_applied_status_is_stable() {
    let scheduled = vmi("Scheduled", json!({}));
    let none = Injection::default();
    let mut pod = launcher(json!({}));
    let first = plan(&pod, &ctx(Some(&scheduled), None, &none, 0));
    pod.status = first.status;
    let again = plan(&pod, &ctx(Some(&scheduled), None, &none, 30));
    assert_eq!(again.status, None, "timestamps are kept, nothing to write");
}

#[test]
fn running_status_has_ips_and_container_details() {
    let scheduled = vmi("Scheduled", json!({}));
    let none = Injection::default();
    let s = plan(&launcher(json!({})), &ctx(Some(&scheduled), None, &none, 0))
        .status
        .unwrap();
    assert_eq!(s.pod_ip.as_deref(), Some("10.244.0.2"));
    assert_eq!(s.host_ip.as_deref(), Some("192.168.66.101"));
    assert_eq!(s.qos_class.as_deref(), Some("Burstable"));
    let c = &s.container_statuses.unwrap()[0];
    assert_eq!(
        (c.name.as_str(), c.image.as_str(), c.ready, c.started),
        (
            "compute",
            "quay.io/kubevirt/virt-launcher:v1",
            true,
            Some(true)
        )
    );
    assert!(
        c.container_id
            .as_deref()
            .unwrap()
            .starts_with("containerd://")
    );
}

#[test]
fn image_pull_wakes_up_at_the_next_switch() {
    let scheduled = vmi("Scheduled", json!({}));
    let pull = Injection {
        image_pull_error: true,
        ..Default::default()
    };
    let pod = launcher(json!({"status": {"startTime": "2023-11-14T22:13:20Z"}}));
    assert_eq!(
        plan(&pod, &ctx(Some(&scheduled), None, &pull, 6)).wakeup,
        Some(t(10))
    );
}

#[test]
fn ordinary_pods_run_and_go_at_once_when_deleted() {
    let pod: Pod = serde_json::from_value(json!({
        "metadata": {"name": "nginx", "namespace": "ns", "uid": "p2"},
        "spec": {"nodeName": "node01", "containers": [{"name": "c", "image": "nginx"}]},
    }))
    .unwrap();
    let none = Injection::default();
    let s = plan(&pod, &ctx(None, None, &none, 0)).status.unwrap();
    assert_eq!(s.phase.as_deref(), Some("Running"));
    assert_eq!(s.qos_class.as_deref(), Some("BestEffort"));
    let mut deleted = pod.clone();
    deleted.metadata.deletion_timestamp = Some(Time(t(0)));
    assert!(plan(&deleted, &ctx(None, None, &none, 0)).delete);
}

#[test]
fn qos_classes() {
    let pod = |resources: Value| -> Pod {
        serde_json::from_value(
            json!({"spec": {"containers": [{"name": "c", "resources": resources}]}}),
        )
        .unwrap()
    };
    assert_eq!(qos_class(&pod(json!({}))), "BestEffort");
    assert_eq!(
        qos_class(&pod(json!({"limits": {"cpu": "1", "memory": "1Gi"}}))),
        "Guaranteed"
    );
    assert_eq!(
        qos_class(&pod(
            json!({"requests": {"cpu": "1", "memory": "1Gi"}, "limits": {"cpu": "1", "memory": "1Gi"}})
        )),
        "Guaranteed"
    );
    assert_eq!(
        qos_class(&pod(json!({"requests": {"cpu": "1"}}))),
        "Burstable"
    );
}

#[test]
fn addresses_are_the_lowest_free_ones() {
    let used: BTreeSet<String> = ["10.244.3.2".to_string(), "10.244.3.3".to_string()].into();
    assert_eq!(
        allocate_ip("10.244.3.0/24", &used).as_deref(),
        Some("10.244.3.4")
    );
    let full: BTreeSet<String> = (2..=254).map(|h| format!("10.244.3.{h}")).collect();
    assert_eq!(allocate_ip("10.244.3.0/24", &full), None);
}
