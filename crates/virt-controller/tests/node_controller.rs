//! The node controller against a real API server: the tests play the node agent by writing
//! (or not refreshing) the heartbeat annotation.

mod common;

use std::time::Duration;

use anyhow::Result;
use api::VirtualMachineInstance;
use common::{TestCluster, eventually, patch_vmi_status};
use jiff::Timestamp;
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::Api;
use kube::api::{Patch, PatchParams, PostParams};
use serde_json::json;
use virt_controller::node::{self, NodeControllerOptions};

const WAIT: Duration = Duration::from_secs(20);

async fn start(fail_all: bool) -> Result<(TestCluster, tokio::task::JoinHandle<()>)> {
    let cluster = TestCluster::start().await?;
    let options = NodeControllerOptions {
        heartbeat_timeout: Duration::from_secs(2),
        recheck_interval: Duration::from_millis(300),
        fail_vmis_with_live_pods: fail_all,
        ..Default::default()
    };
    let task = tokio::spawn(node::run(cluster.controller.clone(), options));
    Ok((cluster, task))
}

fn rfc3339(t: Timestamp) -> String {
    t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

async fn create_node(cluster: &TestCluster, name: &str, heartbeat: Timestamp) -> Result<()> {
    let nodes: Api<Node> = Api::all(cluster.admin.clone());
    let node: Node = serde_json::from_value(json!({
        "metadata": {"name": name, "labels": {"kubevirt.io/schedulable": "true"},
                     "annotations": {"kubevirt.io/heartbeat": rfc3339(heartbeat)}},
    }))?;
    nodes.create(&PostParams::default(), &node).await?;
    Ok(())
}

/// A VMI the node agent runs on `node`.
async fn running_vmi(
    cluster: &TestCluster,
    name: &str,
    node: &str,
) -> Result<VirtualMachineInstance> {
    let vmis: Api<VirtualMachineInstance> = Api::namespaced(cluster.admin.clone(), "default");
    let vmi: VirtualMachineInstance = serde_json::from_value(json!({
        "apiVersion": "kubevirt.io/v1", "kind": "VirtualMachineInstance",
        "metadata": {"name": name, "labels": {"kubevirt.io/nodeName": node}},
        "spec": {"domain": {"resources": {"requests": {"memory": "64Mi"}}, "devices": {}}},
    }))?;
    let created = vmis.create(&PostParams::default(), &vmi).await?;
    patch_vmi_status(
        &cluster.controller,
        "default",
        name,
        json!({"phase": "Running", "nodeName": node}),
    )
    .await?;
    Ok(created)
}

async fn alive_pod(cluster: &TestCluster, vmi: &VirtualMachineInstance, node: &str) -> Result<()> {
    let pods: Api<Pod> = Api::namespaced(cluster.admin.clone(), "default");
    let pod: Pod = serde_json::from_value(json!({
        "metadata": {"name": format!("virt-launcher-{}", vmi.metadata.name.as_deref().unwrap_or_default()),
            "ownerReferences": [{"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachineInstance",
                "name": vmi.metadata.name, "uid": vmi.metadata.uid, "controller": true}]},
        "spec": {"containers": [{"name": "compute", "image": "launcher"}], "nodeName": node},
    }))?;
    let name = pod.metadata.name.clone().unwrap_or_default();
    pods.create(&PostParams::default(), &pod).await?;
    let status = json!({"status": {"phase": "Running"}});
    pods.patch_status(&name, &PatchParams::default(), &Patch::Merge(status))
        .await?;
    Ok(())
}

async fn phase_and_reason(cluster: &TestCluster, name: &str) -> Option<(String, Option<String>)> {
    let vmis: Api<VirtualMachineInstance> = Api::namespaced(cluster.admin.clone(), "default");
    let v = vmis.get(name).await.ok()?;
    Some((
        v.phase().as_str().to_string(),
        v.status.and_then(|s| s.reason),
    ))
}

#[tokio::test]
async fn a_silent_node_is_marked_unschedulable_and_its_vmis_failed() -> Result<()> {
    let (cluster, _task) = start(false).await?;
    create_node(&cluster, "node01", Timestamp::now()).await?;
    let vmi = running_vmi(&cluster, "stuck", "node01").await?;
    let spared = running_vmi(&cluster, "spared", "node01").await?;
    alive_pod(&cluster, &spared, "node01").await?;
    let _ = vmi;

    // The heartbeat ages past the timeout.
    let nodes: Api<Node> = Api::all(cluster.admin.clone());
    eventually(WAIT, "the node labelled unschedulable", || async {
        let n = nodes.get("node01").await.ok()?;
        let label = n.metadata.labels?.get("kubevirt.io/schedulable").cloned()?;
        (label == "false").then_some(())
    })
    .await?;
    let failed = eventually(WAIT, "the VMI failed", || async {
        let (phase, reason) = phase_and_reason(&cluster, "stuck").await?;
        (phase == "Failed").then_some(reason)
    })
    .await?;
    assert_eq!(failed.as_deref(), Some("NodeUnresponsive"));
    let message = cluster
        .wait_for_event("default", "stuck", "NodeUnresponsive")
        .await?;
    assert_eq!(
        message,
        "virt-handler on node node01 is not responsive, marking VMI as failed"
    );
    let node_message = cluster
        .wait_for_event("default", "node01", "NodeUnresponsive")
        .await?;
    assert_eq!(
        node_message,
        "virt-handler is not responsive, marking node as unresponsive"
    );
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(
        phase_and_reason(&cluster, "spared")
            .await
            .map(|p| p.0)
            .as_deref(),
        Some("Running"),
        "a VMI whose pod is alive stays"
    );
    Ok(())
}

#[tokio::test]
async fn a_beating_node_is_left_alone() -> Result<()> {
    let (cluster, _task) = start(false).await?;
    create_node(&cluster, "node01", Timestamp::now()).await?;
    running_vmi(&cluster, "fine", "node01").await?;
    let nodes: Api<Node> = Api::all(cluster.admin.clone());
    for _ in 0..10 {
        let beat = json!({"metadata": {"annotations": {"kubevirt.io/heartbeat": rfc3339(Timestamp::now())}}});
        nodes
            .patch("node01", &PatchParams::default(), &Patch::Merge(beat))
            .await?;
        tokio::time::sleep(Duration::from_millis(400)).await;
    }
    let n = nodes.get("node01").await?;
    assert_eq!(
        n.metadata.labels.unwrap()["kubevirt.io/schedulable"],
        "true"
    );
    assert_eq!(
        phase_and_reason(&cluster, "fine")
            .await
            .map(|p| p.0)
            .as_deref(),
        Some("Running")
    );
    Ok(())
}

#[tokio::test]
async fn live_pods_can_be_ignored_when_no_one_else_reaps_them() -> Result<()> {
    let (cluster, _task) = start(true).await?;
    create_node(&cluster, "node01", Timestamp::now()).await?;
    let vmi = running_vmi(&cluster, "orphaned", "node01").await?;
    alive_pod(&cluster, &vmi, "node01").await?;
    eventually(WAIT, "the VMI failed despite its pod", || async {
        let (phase, _) = phase_and_reason(&cluster, "orphaned").await?;
        (phase == "Failed").then_some(())
    })
    .await?;
    Ok(())
}
