//! The VMI controller against a real API server; the tests play the node (scheduler and
//! kubelet) by binding launcher pods and writing their status.

mod common;

use std::time::Duration;

use anyhow::Result;
use api::VirtualMachineInstance;
use common::{TestCluster, eventually, set_vmi_phase};
use k8s_openapi::api::core::v1::{PersistentVolumeClaim, Pod};
use kube::Api;
use kube::api::{DeleteParams, ListParams, Patch, PatchParams, PostParams};
use serde_json::{Value, json};
use virt_controller::vmi::{self, DEFAULT_LAUNCHER_IMAGE, VmiControllerOptions};

const WAIT: Duration = Duration::from_secs(20);

struct Env {
    cluster: TestCluster,
    vmis: Api<VirtualMachineInstance>,
    pods: Api<Pod>,
    _controller: tokio::task::JoinHandle<()>,
}

async fn start() -> Result<Env> {
    let cluster = TestCluster::start().await?;
    let controller = tokio::spawn(vmi::run(
        cluster.controller.clone(),
        VmiControllerOptions::default(),
    ));
    Ok(Env {
        vmis: Api::namespaced(cluster.admin.clone(), "default"),
        pods: Api::namespaced(cluster.admin.clone(), "default"),
        cluster,
        _controller: controller,
    })
}

/// A VMI as admission leaves it: Pending, with the VMI finalizer.
fn vmi_manifest(name: &str, volumes: Value) -> VirtualMachineInstance {
    serde_json::from_value(json!({
        "apiVersion": "kubevirt.io/v1", "kind": "VirtualMachineInstance",
        "metadata": {"name": name, "labels": {"app": "demo"},
                     "finalizers": ["kubevirt.io/foregroundDeleteVirtualMachine"]},
        "spec": {"domain": {"resources": {"requests": {"memory": "128Mi"}},
                            "cpu": {"sockets": 1, "cores": 1, "threads": 1}, "devices": {}},
                 "volumes": volumes},
        "status": {"phase": "Pending"},
    }))
    .expect("valid VMI")
}

impl Env {
    async fn create(&self, name: &str) -> Result<VirtualMachineInstance> {
        Ok(self
            .vmis
            .create(&PostParams::default(), &vmi_manifest(name, json!([])))
            .await?)
    }

    async fn launcher_pods(&self, uid: &str) -> Result<Vec<Pod>> {
        let lp = ListParams::default().labels(&format!("kubevirt.io/created-by={uid}"));
        Ok(self.pods.list(&lp).await?.items)
    }

    async fn wait_pod(&self, uid: &str) -> Result<Pod> {
        eventually(WAIT, "a launcher pod", || async {
            self.launcher_pods(uid).await.ok()?.into_iter().next()
        })
        .await
    }

    async fn wait_vmi(
        &self,
        name: &str,
        what: &str,
        check: impl Fn(&VirtualMachineInstance) -> bool,
    ) -> Result<VirtualMachineInstance> {
        eventually(WAIT, what, || async {
            self.vmis.get_opt(name).await.ok()?.filter(|v| check(v))
        })
        .await
    }

    async fn wait_phase(&self, name: &str, phase: &str) -> Result<VirtualMachineInstance> {
        self.wait_vmi(name, &format!("{name} in phase {phase}"), |v| {
            v.phase().as_str() == phase
        })
        .await
    }

    /// Binds the pod to `node01` and reports it running and ready, as a kubelet would.
    async fn run_pod(&self, pod: &Pod) -> Result<()> {
        let name = pod.metadata.name.as_deref().unwrap_or_default();
        self.pods
            .patch(
                name,
                &PatchParams::default(),
                &Patch::Merge(json!({"spec": {"nodeName": "node01"}})),
            )
            .await?;
        let status = json!({"status": {
            "phase": "Running",
            "conditions": [{"type": "Ready", "status": "True"}, {"type": "PodScheduled", "status": "True"}],
            "containerStatuses": [{"name": "compute", "ready": true, "restartCount": 0,
                                   "image": DEFAULT_LAUNCHER_IMAGE, "imageID": "", "state": {"running": {}}}],
        }});
        self.pods
            .patch_status(name, &PatchParams::default(), &Patch::Merge(status))
            .await?;
        Ok(())
    }
}

fn uid(v: &VirtualMachineInstance) -> String {
    v.metadata.uid.clone().unwrap_or_default()
}

#[tokio::test]
async fn vmi_gets_a_launcher_pod_and_follows_it_to_scheduled() -> Result<()> {
    let env = start().await?;
    let vmi = env.create("testvmi").await?;
    let pod = env.wait_pod(&uid(&vmi)).await?;
    let pod_name = pod.metadata.name.clone().unwrap();
    assert!(pod_name.starts_with("virt-launcher-testvmi-"), "{pod_name}");
    let labels = pod.metadata.labels.clone().unwrap();
    assert_eq!(labels["kubevirt.io"], "virt-launcher");
    assert_eq!(labels["kubevirt.io/created-by"], uid(&vmi));
    assert_eq!(labels["vmi.kubevirt.io/id"], "testvmi");
    assert_eq!(labels["app"], "demo");
    let owner = &pod.metadata.owner_references.as_ref().unwrap()[0];
    assert_eq!(
        (owner.kind.as_str(), owner.uid.as_str()),
        ("VirtualMachineInstance", uid(&vmi).as_str())
    );
    let spec = pod.spec.clone().unwrap();
    assert_eq!(spec.containers[0].name, "compute");
    assert_eq!(spec.termination_grace_period_seconds, Some(60));

    let scheduling = env.wait_phase("testvmi", "Scheduling").await?;
    let annotations = scheduling.metadata.annotations.clone().unwrap_or_default();
    assert_eq!(
        annotations
            .get("kubevirt.io/latest-observed-api-version")
            .map(String::as_str),
        Some("v1")
    );
    let message = env
        .cluster
        .wait_for_event("default", "testvmi", "SuccessfulCreate")
        .await?;
    assert_eq!(message, format!("Created virtual machine pod {pod_name}"));

    env.run_pod(&pod).await?;
    let scheduled = env.wait_phase("testvmi", "Scheduled").await?;
    let status = scheduled.status.clone().unwrap();
    assert_eq!(status.node_name.as_deref(), Some("node01"));
    assert_eq!(
        status.launcher_container_image_version.as_deref(),
        Some(DEFAULT_LAUNCHER_IMAGE)
    );
    assert_eq!(
        scheduled.metadata.labels.as_ref().unwrap()["kubevirt.io/nodeName"],
        "node01"
    );

    // The readiness gate is set on the pod, and the node label mirrored.
    eventually(WAIT, "the readiness gate condition", || async {
        let p = env.pods.get(&pod_name).await.ok()?;
        let gate = p
            .status?
            .conditions?
            .into_iter()
            .find(|c| c.type_ == "kubevirt.io/virtual-machine-unpaused")?;
        let labelled = p
            .metadata
            .labels?
            .get("kubevirt.io/nodeName")
            .is_some_and(|n| n == "node01");
        (gate.status == "True" && labelled).then_some(())
    })
    .await?;

    // The node agent starts the guest: Ready follows the pod.
    set_vmi_phase(&env.cluster.controller, "default", "testvmi", "Running").await?;
    env.wait_vmi("testvmi", "Ready=True mirrored from the pod", |v| {
        let conds = v
            .status
            .as_ref()
            .and_then(|s| s.conditions.clone())
            .unwrap_or_default();
        v.phase().as_str() == "Running"
            && conds
                .iter()
                .any(|c| c.type_ == "Ready" && c.status == "True")
    })
    .await?;
    assert_eq!(
        env.launcher_pods(&uid(&vmi)).await?.len(),
        1,
        "exactly one launcher pod"
    );
    Ok(())
}

#[tokio::test]
async fn deleting_the_pod_fails_the_vmi_which_then_loses_its_finalizer() -> Result<()> {
    let env = start().await?;
    let vmi = env.create("victim").await?;
    let pod = env.wait_pod(&uid(&vmi)).await?;
    env.run_pod(&pod).await?;
    env.wait_phase("victim", "Scheduled").await?;
    set_vmi_phase(&env.cluster.controller, "default", "victim", "Running").await?;
    env.wait_phase("victim", "Running").await?;

    let name = pod.metadata.name.clone().unwrap();
    env.pods
        .delete(
            &name,
            &DeleteParams {
                grace_period_seconds: Some(0),
                ..Default::default()
            },
        )
        .await?;
    env.wait_phase("victim", "Failed").await?;
    env.wait_vmi("victim", "the VMI finalizer removed", |v| {
        v.metadata.finalizers.is_none()
    })
    .await?;
    // No replacement pod for a failed VMI.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(env.launcher_pods(&uid(&vmi)).await?.is_empty());
    Ok(())
}

#[tokio::test]
async fn deleting_the_vmi_deletes_its_pod() -> Result<()> {
    let env = start().await?;
    let vmi = env.create("doomed").await?;
    let pod = env.wait_pod(&uid(&vmi)).await?;
    env.run_pod(&pod).await?;
    env.wait_phase("doomed", "Scheduled").await?;
    let name = pod.metadata.name.clone().unwrap();

    env.vmis.delete("doomed", &DeleteParams::default()).await?;
    // The bound pod is deleted gracefully; the node then finishes it.
    eventually(WAIT, "the launcher pod marked for deletion", || async {
        env.pods
            .get(&name)
            .await
            .ok()?
            .metadata
            .deletion_timestamp
            .map(|_| ())
    })
    .await?;
    let message = env
        .cluster
        .wait_for_event("default", "doomed", "SuccessfulDelete")
        .await?;
    assert_eq!(message, format!("Deleted virtual machine pod {name}"));
    env.pods
        .delete(
            &name,
            &DeleteParams {
                grace_period_seconds: Some(0),
                ..Default::default()
            },
        )
        .await?;
    eventually(WAIT, "the VMI gone", || async {
        env.vmis
            .get_opt("doomed")
            .await
            .ok()?
            .is_none()
            .then_some(())
    })
    .await?;
    Ok(())
}

#[tokio::test]
async fn long_vmi_names_get_a_hashed_id_label() -> Result<()> {
    let env = start().await?;
    // Each dot-separated part stays a valid label; together they exceed 63 characters.
    let name = format!("{}.{}", "a".repeat(40), "b".repeat(30));
    let vmi = env.create(&name).await?;
    let pod = env.wait_pod(&uid(&vmi)).await?;
    let labels = pod.metadata.labels.unwrap();
    let id = &labels["vmi.kubevirt.io/id"];
    assert_eq!(id.len(), 63);
    assert!(name.starts_with(&id[..54]));
    assert_eq!(labels["vm.kubevirt.io/name"], "a".repeat(40));
    assert_eq!(id, &virt_controller::vmi::template::vmi_id(&name));
    Ok(())
}

#[tokio::test]
async fn missing_pvc_holds_the_pod_until_the_claim_appears() -> Result<()> {
    let env = start().await?;
    let volumes = json!([{"name": "data", "persistentVolumeClaim": {"claimName": "data-pvc"}}]);
    let vmi = env
        .vmis
        .create(&PostParams::default(), &vmi_manifest("needs-pvc", volumes))
        .await?;
    let waiting = env
        .wait_vmi("needs-pvc", "Synchronized=False FailedPvcNotFound", |v| {
            let conds = v
                .status
                .as_ref()
                .and_then(|s| s.conditions.clone())
                .unwrap_or_default();
            conds.iter().any(|c| {
                c.type_ == "Synchronized" && c.reason.as_deref() == Some("FailedPvcNotFound")
            })
        })
        .await?;
    assert_eq!(waiting.phase().as_str(), "Pending");
    assert!(env.launcher_pods(&uid(&vmi)).await?.is_empty());
    env.cluster
        .wait_for_event("default", "needs-pvc", "FailedPvcNotFound")
        .await?;

    let pvcs: Api<PersistentVolumeClaim> = Api::namespaced(env.cluster.admin.clone(), "default");
    let pvc: PersistentVolumeClaim = serde_json::from_value(json!({
        "metadata": {"name": "data-pvc"},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}},
    }))?;
    pvcs.create(&PostParams::default(), &pvc).await?;
    env.wait_pod(&uid(&vmi)).await?;
    env.wait_vmi("needs-pvc", "the Synchronized condition cleared", |v| {
        let conds = v
            .status
            .as_ref()
            .and_then(|s| s.conditions.clone())
            .unwrap_or_default();
        v.phase().as_str() == "Scheduling" && !conds.iter().any(|c| c.type_ == "Synchronized")
    })
    .await?;
    Ok(())
}
