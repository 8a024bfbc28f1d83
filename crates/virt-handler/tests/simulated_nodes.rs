//! The simulated driver's node, scheduler and kubelet roles against a real API server.

mod common;

use std::time::Duration;

use anyhow::Result;
use common::{Cluster, NS, eventually, fast_options, pod_condition};
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::api::{DeleteParams, PostParams};
use serde_json::json;
use virt_handler::simulated::SimulatedOptions;

fn pod(name: &str, spec: serde_json::Value) -> Pod {
    let mut value = json!({
        "metadata": {"name": name, "namespace": NS},
        "spec": {"containers": [{"name": "app", "image": "nginx", "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}}}]},
    });
    common::merge(&mut value, spec);
    serde_json::from_value(value).unwrap()
}

async fn wait_pod<T>(
    cluster: &Cluster,
    name: &str,
    what: &str,
    check: impl Fn(&Pod) -> Option<T>,
) -> Result<T> {
    eventually(Duration::from_secs(20), what, || async {
        check(&cluster.pods().get(name).await.ok()?)
    })
    .await
}

#[tokio::test]
async fn nodes_register_with_capacity_labels_heartbeat_and_lease() -> Result<()> {
    let mut cluster = Cluster::start().await?;
    let options = SimulatedOptions {
        nodes: 2,
        labels: [("zone".to_string(), "a".to_string())].into(),
        ..fast_options()
    };
    cluster.simulate(options);
    let nodes: kube::Api<Node> = kube::Api::all(cluster.admin.clone());
    let node = eventually(
        Duration::from_secs(20),
        "node02 with its status",
        || async {
            let node = nodes.get("node02").await.ok()?;
            node.status.as_ref()?.allocatable.as_ref()?;
            Some(node)
        },
    )
    .await?;
    let labels = node.metadata.labels.clone().unwrap_or_default();
    assert_eq!(
        labels.get("kubernetes.io/hostname").map(String::as_str),
        Some("node02")
    );
    assert_eq!(
        labels.get("kubevirt.io/schedulable").map(String::as_str),
        Some("true")
    );
    assert_eq!(labels.get("zone").map(String::as_str), Some("a"));
    let status = node.status.clone().unwrap_or_default();
    assert_eq!(
        status.allocatable.as_ref().map(|a| a["memory"].0.as_str()),
        Some("32Gi")
    );
    assert_eq!(
        status.capacity.as_ref().map(|a| a["cpu"].0.as_str()),
        Some("8")
    );
    let ready = status
        .conditions
        .unwrap_or_default()
        .into_iter()
        .find(|c| c.type_ == "Ready")
        .map(|c| c.status);
    assert_eq!(ready.as_deref(), Some("True"));

    let first = node.metadata.annotations.unwrap_or_default()["kubevirt.io/heartbeat"].clone();
    let later = eventually(Duration::from_secs(10), "a newer heartbeat", || async {
        let n = nodes.get("node01").await.ok()?;
        let beat = n
            .metadata
            .annotations?
            .get("kubevirt.io/heartbeat")?
            .clone();
        (beat > first).then_some(beat)
    })
    .await?;
    assert!(later.ends_with('Z'));

    let leases: kube::Api<Lease> = kube::Api::namespaced(cluster.admin.clone(), "kube-node-lease");
    let lease = leases.get("node01").await?;
    assert_eq!(
        lease.spec.and_then(|s| s.holder_identity).as_deref(),
        Some("node01")
    );
    Ok(())
}

#[tokio::test]
async fn a_deleted_node_is_registered_again() -> Result<()> {
    let mut cluster = Cluster::start().await?;
    cluster.simulate(fast_options());
    let nodes: kube::Api<Node> = kube::Api::all(cluster.admin.clone());
    let first = eventually(Duration::from_secs(20), "node01", || async {
        nodes.get("node01").await.ok()
    })
    .await?;
    nodes.delete("node01", &DeleteParams::default()).await?;
    eventually(Duration::from_secs(20), "node01 again", || async {
        let n = nodes.get("node01").await.ok()?;
        (n.metadata.uid != first.metadata.uid).then_some(())
    })
    .await
}

#[tokio::test]
async fn an_unassigned_pod_is_bound_and_runs() -> Result<()> {
    let mut cluster = Cluster::start().await?;
    cluster.simulate(SimulatedOptions {
        nodes: 2,
        ..fast_options()
    });
    cluster
        .pods()
        .create(&PostParams::default(), &pod("web", json!({})))
        .await?;
    let running = wait_pod(&cluster, "web", "web running", |p| {
        (p.status.as_ref()?.phase.as_deref() == Some("Running")).then(|| p.clone())
    })
    .await?;
    let node = running
        .spec
        .as_ref()
        .and_then(|s| s.node_name.clone())
        .unwrap_or_default();
    assert!(node == "node01" || node == "node02", "{node}");
    let status = running.status.clone().unwrap_or_default();
    assert!(
        status
            .pod_ip
            .as_deref()
            .is_some_and(|ip| ip.starts_with("10.244.")),
        "{:?}",
        status.pod_ip
    );
    assert!(
        status
            .host_ip
            .as_deref()
            .is_some_and(|ip| ip.starts_with("192.168."))
    );
    assert_eq!(
        pod_condition(&running, "PodScheduled")
            .map(|c| c.0)
            .as_deref(),
        Some("True")
    );
    assert_eq!(
        pod_condition(&running, "Ready").map(|c| c.0).as_deref(),
        Some("True")
    );
    let container = &status.container_statuses.unwrap_or_default()[0];
    assert!(
        container.ready
            && container
                .state
                .as_ref()
                .is_some_and(|s| s.running.is_some())
    );

    // A graceful delete of an ordinary pod completes at once.
    cluster
        .pods()
        .delete("web", &DeleteParams::default())
        .await?;
    eventually(Duration::from_secs(20), "web gone", || async {
        matches!(cluster.pods().get_opt("web").await, Ok(None)).then_some(())
    })
    .await
}

#[tokio::test]
async fn pods_that_fit_nowhere_are_unschedulable_with_the_scheduler_message() -> Result<()> {
    let mut cluster = Cluster::start().await?;
    cluster.simulate(SimulatedOptions {
        nodes: 2,
        ..fast_options()
    });
    let huge = pod(
        "huge",
        json!({"spec": {"containers": [{"name": "app", "image": "nginx", "resources": {"requests": {"memory": "1Ei"}}}]}}),
    );
    let picky = pod("picky", json!({"spec": {"nodeSelector": {"disk": "nvme"}}}));
    cluster.pods().create(&PostParams::default(), &huge).await?;
    cluster
        .pods()
        .create(&PostParams::default(), &picky)
        .await?;
    for (name, reason) in [
        ("huge", "2 Insufficient memory."),
        (
            "picky",
            "2 node(s) didn't match Pod's node affinity/selector.",
        ),
    ] {
        let message = wait_pod(&cluster, name, "unschedulable", |p| {
            let c = p
                .status
                .as_ref()?
                .conditions
                .as_ref()?
                .iter()
                .find(|c| c.type_ == "PodScheduled")?
                .clone();
            (c.status == "False" && c.reason.as_deref() == Some("Unschedulable"))
                .then_some(c.message.unwrap_or_default())
        })
        .await?;
        assert!(
            message.starts_with(&format!("0/2 nodes are available: {reason}")),
            "{message}"
        );
        let p = cluster.pods().get(name).await?;
        assert_eq!(p.spec.and_then(|s| s.node_name), None);
    }

    // A node that starts to match takes the pod; the old reason does not linger.
    let nodes: kube::Api<Node> = kube::Api::all(cluster.admin.clone());
    let label = json!({"metadata": {"labels": {"disk": "nvme"}}});
    nodes
        .patch(
            "node02",
            &kube::api::PatchParams::default(),
            &kube::api::Patch::Merge(label),
        )
        .await?;
    let running = wait_pod(&cluster, "picky", "picky running", |p| {
        (p.status.as_ref()?.phase.as_deref() == Some("Running")).then(|| p.clone())
    })
    .await?;
    assert_eq!(
        running.spec.as_ref().and_then(|s| s.node_name.as_deref()),
        Some("node02")
    );
    assert_eq!(
        pod_condition(&running, "PodScheduled"),
        Some(("True".to_string(), None))
    );
    assert_eq!(
        pod_condition(&running, "Ready"),
        Some(("True".to_string(), None))
    );
    Ok(())
}

#[tokio::test]
async fn cordoned_nodes_get_no_pods_and_other_schedulers_are_left_alone() -> Result<()> {
    let mut cluster = Cluster::start().await?;
    cluster.simulate(SimulatedOptions {
        nodes: 2,
        ..fast_options()
    });
    let nodes: kube::Api<Node> = kube::Api::all(cluster.admin.clone());
    eventually(Duration::from_secs(20), "node01", || async {
        nodes.get("node01").await.ok()
    })
    .await?;
    let cordon = json!({"spec": {"unschedulable": true}});
    nodes
        .patch(
            "node01",
            &kube::api::PatchParams::default(),
            &kube::api::Patch::Merge(cordon),
        )
        .await?;
    // Let the driver see the cordon before the pods arrive.
    eventually(Duration::from_secs(20), "cordon visible", || async {
        nodes
            .get("node01")
            .await
            .ok()?
            .spec?
            .unschedulable?
            .then_some(())
    })
    .await?;
    tokio::time::sleep(Duration::from_millis(300)).await;
    for i in 0..3 {
        cluster
            .pods()
            .create(&PostParams::default(), &pod(&format!("p{i}"), json!({})))
            .await?;
    }
    cluster
        .pods()
        .create(
            &PostParams::default(),
            &pod("other", json!({"spec": {"schedulerName": "my-scheduler"}})),
        )
        .await?;
    for i in 0..3 {
        let node = wait_pod(&cluster, &format!("p{i}"), "bound", |p| {
            p.spec.as_ref()?.node_name.clone()
        })
        .await?;
        assert_eq!(node, "node02");
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let other = cluster.pods().get("other").await?;
    assert_eq!(other.spec.and_then(|s| s.node_name), None);
    assert!(
        other
            .status
            .and_then(|s| s.conditions)
            .is_none_or(|c| c.is_empty())
    );
    Ok(())
}
