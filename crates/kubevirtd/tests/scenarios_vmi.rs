//! Acceptance scenarios of virt-controller's VMI and launcher pod logic ([VMI] in §8 of the
//! behaviour spec, with §7.1), end to end against the real `kubevirtd` with its simulated
//! nodes. VMIs are created with the real `kubectl`.
//!
//! Covers scenario 47.

mod common;
#[path = "common/scenario.rs"]
mod scenario;

use scenario::*;
use serde_json::{Value, json};

/// Creates `manifest` with `kubectl create -f -`.
fn kubectl_create(sc: &Scenario, manifest: &Value) {
    let out = sc.kubectl_stdin(&["create", "-f", "-"], &manifest.to_string());
    assert!(
        out.status.success(),
        "kubectl create: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn transitions(vmi: &Value) -> Vec<String> {
    vmi["status"]["phaseTransitionTimestamps"]
        .as_array()
        .map(|a| a.iter().map(|t| s(t, "/phase").to_string()).collect())
        .unwrap_or_default()
}

// Scenario 47.
#[tokio::test(flavor = "multi_thread")]
async fn a_vmi_gets_a_launcher_pod_and_goes_through_the_phases_to_running() {
    let sc = Scenario::new("vmi-s47").await;
    let mut manifest = vmi_manifest("testvmi");
    set(
        &mut manifest,
        "/spec/terminationGracePeriodSeconds",
        json!(45),
    );
    set(&mut manifest, "/metadata/labels", json!({"app": "demo"}));
    kubectl_create(&sc, &manifest);
    let vmi = sc.wait_running("testvmi", &[]).await;
    let vmi_uid = uid(&vmi);

    assert_eq!(
        transitions(&vmi),
        ["Pending", "Scheduling", "Scheduled", "Running"],
        "{}",
        vmi["status"]
    );
    let node = s(&vmi, "/status/nodeName").to_string();
    assert!(!node.is_empty(), "{}", vmi["status"]);
    assert_eq!(s(&vmi, "/metadata/labels/kubevirt.io~1nodeName"), node);

    let pods = sc.pods_of(&vmi_uid).await;
    assert_eq!(pods.len(), 1, "one launcher pod");
    let pod = &pods[0];
    let pod_name = s(pod, "/metadata/name");
    let suffix = pod_name
        .strip_prefix("virt-launcher-testvmi-")
        .unwrap_or_else(|| panic!("pod name {pod_name}"));
    assert_eq!(suffix.len(), 5, "generated suffix of {pod_name}");
    assert_eq!(s(pod, "/metadata/labels/kubevirt.io"), "virt-launcher");
    assert_eq!(s(pod, "/metadata/labels/kubevirt.io~1created-by"), vmi_uid);
    assert_eq!(s(pod, "/metadata/labels/vmi.kubevirt.io~1id"), "testvmi");
    assert_eq!(
        s(pod, "/metadata/labels/app"),
        "demo",
        "the VMI labels are copied"
    );
    let owner = &pod["metadata"]["ownerReferences"][0];
    assert_eq!(owner["kind"], "VirtualMachineInstance");
    assert_eq!(owner["uid"], vmi_uid.as_str());
    assert_eq!(owner["controller"], true);
    assert_eq!(s(pod, "/spec/nodeName"), node);
    assert_eq!(s(pod, "/spec/restartPolicy"), "Never");
    assert_eq!(
        pod["spec"]["terminationGracePeriodSeconds"], 75,
        "the VMI grace period plus 30 s"
    );
    assert_eq!(
        pod["spec"]["readinessGates"][0]["conditionType"],
        "kubevirt.io/virtual-machine-unpaused"
    );
    let compute = pod["spec"]["containers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "compute")
        .expect("a compute container");
    let image = s(compute, "/image");
    assert!(!image.is_empty());
    assert_eq!(s(&vmi, "/status/launcherContainerImageVersion"), image);

    let ready = sc
        .wait_vmi("testvmi", "Ready=True", |v| {
            condition(v, "Ready").is_some_and(|c| c["status"] == "True")
        })
        .await;
    assert_eq!(uid(&ready), vmi_uid);

    // kubectl's columns: Age, Phase, IP, NodeName, Ready.
    let row = sc.kubectl_ok(&["get", "vmi", "testvmi", "--no-headers"]);
    let cols: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(cols[0], "testvmi", "{row}");
    assert_eq!(cols[2], "Running", "{row}");
    assert_eq!(cols[4], node, "{row}");
    assert_eq!(cols[5], "True", "{row}");
}

// §7.1: a deleted VMI takes its pod along, and its finalizer goes once the pod is gone.
#[tokio::test(flavor = "multi_thread")]
async fn deleting_a_vmi_deletes_its_pod_and_then_the_vmi() {
    let sc = Scenario::new("vmi-delete").await;
    kubectl_create(&sc, &vmi_manifest("short"));
    let vmi = sc.wait_running("short", &[]).await;
    assert!(
        vmi["metadata"]["finalizers"].as_array().is_some_and(|f| f
            .iter()
            .any(|f| f == "kubevirt.io/foregroundDeleteVirtualMachine")),
        "{}",
        vmi["metadata"]
    );
    assert_eq!(sc.pods_of(&uid(&vmi)).await.len(), 1);
    sc.kubectl_ok(&["delete", "vmi", "short", "--wait=false"]);
    sc.wait_vmi_gone("short").await;
    until(TIMEOUT, "the launcher pod to go", async || {
        let pods = sc.pods_of(&uid(&vmi)).await;
        if pods.is_empty() {
            Ok(())
        } else {
            Err(format!("{} pods", pods.len()))
        }
    })
    .await;
}

// §7.1: a VMI whose pod cannot be scheduled shows why, and is not Ready.
#[tokio::test(flavor = "multi_thread")]
async fn an_unschedulable_vmi_copies_pod_scheduled_and_is_not_ready() {
    let sc = Scenario::new("vmi-unsched").await;
    let mut manifest = vmi_manifest("nowhere");
    set(
        &mut manifest,
        "/spec/nodeSelector",
        json!({"example.com/no-such-node": "true"}),
    );
    kubectl_create(&sc, &manifest);
    let vmi = sc
        .wait_vmi("nowhere", "PodScheduled=False", |v| {
            condition(v, "PodScheduled").is_some_and(|c| c["status"] == "False")
        })
        .await;
    assert_eq!(phase(&vmi), "Scheduling");
    let scheduled = condition(&vmi, "PodScheduled").unwrap();
    assert_eq!(scheduled["reason"], "Unschedulable");
    assert!(
        s(scheduled, "/message").contains("node affinity/selector"),
        "{scheduled}"
    );
    let ready = condition(&vmi, "Ready").expect("Ready condition");
    assert_eq!(ready["status"], "False", "{ready}");
    assert!(vmi["status"].get("nodeName").is_none_or(Value::is_null));
}
