//! Table tests of the node heartbeat decisions.

use std::time::Duration;

use api::VirtualMachineInstance;
use jiff::Timestamp;
use k8s_openapi::api::core::v1::{Node, Pod};
use serde_json::{Value, json};
use virt_controller::node::reconcile::{
    active_vmis_on, failed_patch, is_alive, is_schedulable, is_unresponsive, unschedulable_patch,
    without_alive_pods,
};

const TIMEOUT: Duration = Duration::from_secs(300);

fn now() -> Timestamp {
    "2024-06-01T12:00:00Z".parse().unwrap()
}

fn node(annotations: Value, labels: Value) -> Node {
    serde_json::from_value(
        json!({"metadata": {"name": "node01", "annotations": annotations, "labels": labels}}),
    )
    .unwrap()
}

#[test]
fn heartbeat_age_decides_responsiveness() {
    let cases = [
        (
            json!({"kubevirt.io/heartbeat": "2024-06-01T11:59:00Z"}),
            false,
        ),
        (
            json!({"kubevirt.io/heartbeat": "2024-06-01T11:55:01Z"}),
            false,
        ),
        (
            json!({"kubevirt.io/heartbeat": "2024-06-01T11:54:59Z"}),
            true,
        ),
        (
            json!({"kubevirt.io/heartbeat": "2024-05-01T00:00:00Z"}),
            true,
        ),
        (json!({}), false),
    ];
    for (annotations, want) in cases {
        let n = node(annotations.clone(), json!({}));
        assert_eq!(
            is_unresponsive(Some(&n), TIMEOUT, now()),
            Ok(want),
            "{annotations}"
        );
    }
    assert_eq!(
        is_unresponsive(None, TIMEOUT, now()),
        Ok(true),
        "a missing node is unresponsive"
    );
    let garbage = node(json!({"kubevirt.io/heartbeat": "yesterday"}), json!({}));
    assert!(is_unresponsive(Some(&garbage), TIMEOUT, now()).is_err());
}

#[test]
fn only_nodes_labelled_true_are_schedulable() {
    assert!(is_schedulable(Some(&node(
        json!({}),
        json!({"kubevirt.io/schedulable": "true"})
    ))));
    assert!(!is_schedulable(Some(&node(
        json!({}),
        json!({"kubevirt.io/schedulable": "false"})
    ))));
    assert!(!is_schedulable(Some(&node(json!({}), json!({})))));
    assert!(!is_schedulable(None));
    assert_eq!(
        unschedulable_patch()["metadata"]["labels"]["kubevirt.io/schedulable"],
        "false"
    );
}

fn vmi(name: &str, node: &str, phase: &str) -> VirtualMachineInstance {
    serde_json::from_value(json!({
        "apiVersion": "kubevirt.io/v1", "kind": "VirtualMachineInstance",
        "metadata": {"name": name, "namespace": "default", "uid": format!("{name}-uid"),
                     "labels": {"kubevirt.io/nodeName": node}},
        "spec": {"domain": {"devices": {}}},
        "status": {"phase": phase, "nodeName": node},
    }))
    .unwrap()
}

fn pod(owner_uid: &str, phase: &str, containers: Value) -> Pod {
    serde_json::from_value(json!({
        "metadata": {"name": format!("p-{owner_uid}"), "namespace": "default",
            "ownerReferences": [{"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachineInstance",
                                 "name": "x", "uid": owner_uid, "controller": true}]},
        "spec": {"containers": [], "nodeName": "node01"},
        "status": {"phase": phase, "containerStatuses": containers},
    }))
    .unwrap()
}

fn names(v: &[&VirtualMachineInstance]) -> Vec<String> {
    v.iter().map(|v| v.metadata.name.clone().unwrap()).collect()
}

#[test]
fn running_and_scheduled_vmis_of_the_node_are_active() {
    let vmis = [
        vmi("running", "node01", "Running"),
        vmi("scheduled", "node01", "Scheduled"),
        vmi("scheduling", "node01", "Scheduling"),
        vmi("done", "node01", "Succeeded"),
        vmi("elsewhere", "node02", "Running"),
    ];
    let refs: Vec<&VirtualMachineInstance> = vmis.iter().collect();
    assert_eq!(
        names(&active_vmis_on("node01", &refs)),
        ["running", "scheduled"]
    );
}

#[test]
fn vmis_with_an_alive_pod_are_spared() {
    let container = |state: Value| {
        json!([{"name": "compute", "ready": false, "restartCount": 0,
        "image": "i", "imageID": "", "state": state}])
    };
    let alive = pod("a-uid", "Running", container(json!({"running": {}})));
    let terminated = pod(
        "b-uid",
        "Running",
        container(json!({"terminated": {"exitCode": 0}})),
    );
    let failed = pod("c-uid", "Failed", json!([]));
    assert!(is_alive(&alive));
    assert!(!is_alive(&terminated));
    assert!(!is_alive(&failed));
    let vmis = [
        vmi("a", "node01", "Running"),
        vmi("b", "node01", "Running"),
        vmi("c", "node01", "Running"),
        vmi("d", "node01", "Running"),
    ];
    let refs: Vec<&VirtualMachineInstance> = vmis.iter().collect();
    let stuck = without_alive_pods(&refs, &[&alive, &terminated, &failed]);
    assert_eq!(names(&stuck), ["b", "c", "d"]);
}

#[test]
fn failed_patch_sets_phase_and_reason() {
    assert_eq!(
        failed_patch(),
        json!([{"op": "replace", "path": "/status/phase", "value": "Failed"},
               {"op": "add", "path": "/status/reason", "value": "NodeUnresponsive"}])
    );
}
