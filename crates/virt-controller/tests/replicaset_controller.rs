//! The replica set controller against a real API server (scenarios 55–59). The tests play the
//! node by writing VMI and pod status; the garbage collector of the API server handles
//! background and orphan deletion of the replica set's VMIs.

mod common;

use std::time::Duration;

use anyhow::Result;
use api::{VirtualMachineInstance, VirtualMachineInstanceReplicaSet};
use common::{TestCluster, eventually, patch_vmi_status};
use k8s_openapi::api::core::v1::Pod;
use kube::Api;
use kube::api::{DeleteParams, ListParams, Patch, PatchParams, PostParams};
use serde_json::{Value, json};
use virt_controller::replicaset::{self, ReplicaSetControllerOptions};
use virt_controller::vmi::{self, DEFAULT_LAUNCHER_IMAGE};

const WAIT: Duration = Duration::from_secs(30);

struct Env {
    cluster: TestCluster,
    sets: Api<VirtualMachineInstanceReplicaSet>,
    vmis: Api<VirtualMachineInstance>,
    _tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Drop for Env {
    fn drop(&mut self) {
        for t in &self._tasks {
            t.abort();
        }
    }
}

async fn start(burst: usize, with_vmi_controller: bool) -> Result<Env> {
    let cluster = TestCluster::start().await?;
    let options = ReplicaSetControllerOptions {
        burst_replicas: burst,
        ..Default::default()
    };
    let mut tasks = vec![tokio::spawn(replicaset::run(
        cluster.controller.clone(),
        options,
    ))];
    if with_vmi_controller {
        tasks.push(tokio::spawn(vmi::run(
            cluster.controller.clone(),
            Default::default(),
        )));
    }
    Ok(Env {
        sets: Api::namespaced(cluster.admin.clone(), "default"),
        vmis: Api::namespaced(cluster.admin.clone(), "default"),
        cluster,
        _tasks: tasks,
    })
}

fn manifest(
    name: &str,
    replicas: i32,
    template_meta: Value,
) -> Result<VirtualMachineInstanceReplicaSet> {
    let mut meta = json!({"labels": {"app": name}});
    if let (Some(m), Value::Object(extra)) = (meta.as_object_mut(), template_meta) {
        m.extend(extra);
    }
    Ok(serde_json::from_value(json!({
        "apiVersion": "kubevirt.io/v1", "kind": "VirtualMachineInstanceReplicaSet",
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": meta,
                         "spec": {"domain": {"resources": {"requests": {"memory": "64Mi"}}, "devices": {}}}},
        },
    }))?)
}

impl Env {
    async fn create(&self, rs: &VirtualMachineInstanceReplicaSet) -> Result<()> {
        self.sets.create(&PostParams::default(), rs).await?;
        Ok(())
    }

    /// VMIs of `app` that are not being deleted.
    async fn live(&self, app: &str) -> Result<Vec<VirtualMachineInstance>> {
        let lp = ListParams::default().labels(&format!("app={app}"));
        Ok(self
            .vmis
            .list(&lp)
            .await?
            .items
            .into_iter()
            .filter(|v| v.metadata.deletion_timestamp.is_none())
            .collect())
    }

    async fn wait_count(&self, app: &str, n: usize) -> Result<Vec<VirtualMachineInstance>> {
        eventually(WAIT, &format!("{n} VMIs of {app}"), || async {
            let live = self.live(app).await.ok()?;
            (live.len() == n).then_some(live)
        })
        .await
    }

    async fn wait_status(
        &self,
        name: &str,
        what: &str,
        check: impl Fn(&api::VirtualMachineInstanceReplicaSetStatus) -> bool,
    ) -> Result<VirtualMachineInstanceReplicaSet> {
        eventually(WAIT, what, || async {
            let rs = self.sets.get(name).await.ok()?;
            check(&rs.status.clone().unwrap_or_default()).then_some(rs)
        })
        .await
    }

    async fn set_replicas(&self, name: &str, n: i32) -> Result<()> {
        let patch = Patch::Merge(json!({"spec": {"replicas": n}}));
        self.sets
            .patch(name, &PatchParams::default(), &patch)
            .await?;
        Ok(())
    }
}

fn replicas(s: &api::VirtualMachineInstanceReplicaSetStatus) -> i32 {
    s.replicas.unwrap_or(0)
}

#[tokio::test]
async fn scaling_up_and_down_through_the_spec_and_the_scale_subresource() -> Result<()> {
    let env = start(250, false).await?;
    env.create(&manifest("foo", 0, json!({}))?).await?;
    env.wait_status("foo", "the label selector published", |s| {
        s.label_selector.as_deref() == Some("app=foo")
    })
    .await?;

    env.set_replicas("foo", 3).await?;
    let vmis = env.wait_count("foo", 3).await?;
    for v in &vmis {
        let name = v.metadata.name.clone().unwrap();
        assert!(
            name.starts_with("foo") && !name.starts_with("foo-"),
            "no dash: {name}"
        );
        assert_eq!(name.len(), 8);
        let owner = &v.metadata.owner_references.as_ref().unwrap()[0];
        assert_eq!(
            (owner.kind.as_str(), owner.controller),
            ("VirtualMachineInstanceReplicaSet", Some(true))
        );
    }
    env.wait_status("foo", "3 replicas", |s| replicas(s) == 3)
        .await?;
    let message = env
        .cluster
        .wait_for_event("default", "foo", "SuccessfulCreate")
        .await?;
    assert!(message.starts_with(
        "Started the virtual machine by creating the new virtual machine instance foo"
    ));

    let scale = Patch::Merge(json!({"spec": {"replicas": 2}}));
    env.sets
        .patch_scale("foo", &PatchParams::default(), &scale)
        .await?;
    env.wait_count("foo", 2).await?;
    env.wait_status("foo", "2 replicas", |s| replicas(s) == 2)
        .await?;
    assert_eq!(
        env.sets.get_scale("foo").await?.status.map(|s| s.replicas),
        Some(2)
    );
    env.cluster
        .wait_for_event("default", "foo", "SuccessfulDelete")
        .await?;

    env.set_replicas("foo", 0).await?;
    env.wait_count("foo", 0).await?;
    env.wait_status("foo", "no replicas", |s| s.replicas.is_none())
        .await?;
    Ok(())
}

#[tokio::test]
async fn burst_limits_each_pass_but_the_target_is_reached() -> Result<()> {
    let env = start(2, false).await?;
    env.create(&manifest("burst", 5, json!({}))?).await?;
    env.wait_count("burst", 5).await?;
    env.wait_status("burst", "5 replicas", |s| replicas(s) == 5)
        .await?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        env.live("burst").await?.len(),
        5,
        "expectations prevent extra VMIs"
    );
    Ok(())
}

#[tokio::test]
async fn ready_replicas_follow_the_vmis_ready_condition() -> Result<()> {
    let env = start(250, false).await?;
    env.create(&manifest("web", 2, json!({}))?).await?;
    let vmis = env.wait_count("web", 2).await?;
    for v in &vmis {
        let now = k8s_openapi::jiff::Timestamp::now();
        let now = format!("{}", now.strftime("%Y-%m-%dT%H:%M:%SZ"));
        let status = json!({"phase": "Running", "conditions": [
            {"type": "Ready", "status": "True", "lastProbeTime": null, "lastTransitionTime": now}]});
        patch_vmi_status(
            &env.cluster.admin,
            "default",
            v.metadata.name.as_deref().unwrap(),
            status,
        )
        .await?;
    }
    env.wait_status("web", "2 ready replicas", |s| {
        s.ready_replicas == Some(2) && replicas(s) == 2
    })
    .await?;

    // The server-side table shows Desired/Current/Ready.
    let request = http::Request::get(
        "/apis/kubevirt.io/v1/namespaces/default/virtualmachineinstancereplicasets",
    )
    .header("Accept", "application/json;as=Table;v=v1;g=meta.k8s.io")
    .body(Vec::new())?;
    let table: Value = env.cluster.admin.request(request).await?;
    let columns: Vec<&str> = table["columnDefinitions"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["name"].as_str())
        .collect();
    assert_eq!(columns, ["Name", "Desired", "Current", "Ready", "Age"]);
    let cells = &table["rows"][0]["cells"];
    assert_eq!(
        (&cells[1], &cells[2], &cells[3]),
        (&json!(2), &json!(2), &json!(2))
    );
    Ok(())
}

#[tokio::test]
async fn a_paused_replica_set_does_not_scale() -> Result<()> {
    let env = start(250, false).await?;
    env.create(&manifest("calm", 0, json!({}))?).await?;
    let patch = Patch::Merge(json!({"spec": {"paused": true}}));
    env.sets
        .patch("calm", &PatchParams::default(), &patch)
        .await?;
    let paused = env
        .wait_status("calm", "the ReplicaPaused condition", |s| {
            s.conditions
                .iter()
                .flatten()
                .any(|c| c.type_ == "ReplicaPaused")
        })
        .await?;
    let conds = paused.status.unwrap().conditions.unwrap();
    assert_eq!(conds.len(), 1);
    assert_eq!(
        (conds[0].reason.as_deref(), conds[0].message.as_deref()),
        (Some("Paused"), Some("Controller got paused"))
    );
    env.cluster
        .wait_for_event("default", "calm", "SuccessfulPaused")
        .await?;

    env.set_replicas("calm", 2).await?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(env.live("calm").await?.is_empty(), "paused: no VMI created");
    let status = env.sets.get("calm").await?.status.unwrap_or_default();
    assert_eq!(
        status.conditions.map(|c| c.len()),
        Some(1),
        "only the paused condition"
    );

    let patch = Patch::Merge(json!({"spec": {"paused": false}}));
    env.sets
        .patch("calm", &PatchParams::default(), &patch)
        .await?;
    env.wait_count("calm", 2).await?;
    env.wait_status("calm", "no conditions and 2 replicas", |s| {
        s.conditions.is_none() && replicas(s) == 2
    })
    .await?;
    env.cluster
        .wait_for_event("default", "calm", "SuccessfulResumed")
        .await?;
    Ok(())
}

/// Binds and runs every launcher pod of the VMI, then reports the guest running.
async fn run_vmi(env: &Env, vmi: &VirtualMachineInstance) -> Result<String> {
    let pods: Api<Pod> = Api::namespaced(env.cluster.admin.clone(), "default");
    let uid = vmi.metadata.uid.clone().unwrap_or_default();
    let pod = eventually(WAIT, "a launcher pod", || async {
        let lp = ListParams::default().labels(&format!("kubevirt.io/created-by={uid}"));
        pods.list(&lp).await.ok()?.items.into_iter().next()
    })
    .await?;
    let name = pod.metadata.name.clone().unwrap_or_default();
    pods.patch(
        &name,
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"nodeName": "node01"}})),
    )
    .await?;
    let status = json!({"status": {"phase": "Running",
        "conditions": [{"type": "Ready", "status": "True"}],
        "containerStatuses": [{"name": "compute", "ready": true, "restartCount": 0,
            "image": DEFAULT_LAUNCHER_IMAGE, "imageID": "", "state": {"running": {}}}]}});
    pods.patch_status(&name, &PatchParams::default(), &Patch::Merge(status))
        .await?;
    let vmi_name = vmi.metadata.name.clone().unwrap_or_default();
    eventually(WAIT, "the VMI scheduled", || async {
        let v = env.vmis.get(&vmi_name).await.ok()?;
        (v.phase().as_str() == "Scheduled").then_some(())
    })
    .await?;
    patch_vmi_status(
        &env.cluster.controller,
        "default",
        &vmi_name,
        json!({"phase": "Running"}),
    )
    .await?;
    Ok(name)
}

#[tokio::test]
async fn a_vmi_whose_pod_terminates_is_replaced_at_once() -> Result<()> {
    let env = start(250, true).await?;
    let finalizer = json!({"finalizers": ["kubevirt.io/foregroundDeleteVirtualMachine"]});
    env.create(&manifest("ha", 2, finalizer)?).await?;
    let vmis = env.wait_count("ha", 2).await?;
    let mut pods = Vec::new();
    for v in &vmis {
        pods.push(run_vmi(&env, v).await?);
    }
    let victim = vmis[0].metadata.name.clone().unwrap();
    let pod_api: Api<Pod> = Api::namespaced(env.cluster.admin.clone(), "default");
    // A graceful delete: the pod lingers, terminating, as with a long grace period.
    pod_api.delete(&pods[0], &DeleteParams::default()).await?;

    let replaced = eventually(WAIT, "a third VMI while the old one terminates", || async {
        let all = env
            .vmis
            .list(&ListParams::default().labels("app=ha"))
            .await
            .ok()?
            .items;
        let old = all
            .iter()
            .find(|v| v.metadata.name.as_deref() == Some(victim.as_str()))?;
        let terminating = old
            .status
            .iter()
            .flat_map(|s| s.conditions.iter().flatten())
            .any(|c| {
                c.type_ == "Ready"
                    && c.status == "False"
                    && c.reason.as_deref() == Some("PodTerminating")
            });
        (all.len() == 3 && terminating && old.metadata.deletion_timestamp.is_some()).then_some(all)
    })
    .await?;
    assert_eq!(replaced.len(), 3);

    // The node finishes the pod; the old VMI fails and goes away.
    pod_api
        .delete(
            &pods[0],
            &DeleteParams {
                grace_period_seconds: Some(0),
                ..Default::default()
            },
        )
        .await?;
    eventually(WAIT, "the old VMI gone", || async {
        env.vmis
            .get_opt(&victim)
            .await
            .ok()?
            .is_none()
            .then_some(())
    })
    .await?;
    env.wait_count("ha", 2).await?;
    Ok(())
}

#[tokio::test]
async fn deleting_the_replica_set_deletes_or_orphans_its_vmis() -> Result<()> {
    let env = start(250, false).await?;
    env.create(&manifest("gone", 2, json!({}))?).await?;
    env.wait_count("gone", 2).await?;
    env.sets.delete("gone", &DeleteParams::background()).await?;
    env.wait_count("gone", 0).await?;

    env.create(&manifest("kept", 2, json!({}))?).await?;
    env.wait_count("kept", 2).await?;
    env.sets.delete("kept", &DeleteParams::orphan()).await?;
    eventually(WAIT, "the replica set gone", || async {
        env.sets.get_opt("kept").await.ok()?.is_none().then_some(())
    })
    .await?;
    let orphans = eventually(WAIT, "VMIs without owners", || async {
        let live = env.live("kept").await.ok()?;
        let free = live.iter().all(|v| {
            v.metadata
                .owner_references
                .as_ref()
                .is_none_or(|o| o.is_empty())
        });
        (live.len() == 2 && free).then_some(live)
    })
    .await?;
    assert_eq!(orphans.len(), 2);
    Ok(())
}

#[tokio::test]
async fn matching_orphans_are_adopted_and_non_matching_vmis_released() -> Result<()> {
    let env = start(250, false).await?;
    let orphan: VirtualMachineInstance = serde_json::from_value(json!({
        "apiVersion": "kubevirt.io/v1", "kind": "VirtualMachineInstance",
        "metadata": {"name": "stray", "labels": {"app": "adopt"}},
        "spec": {"domain": {"resources": {"requests": {"memory": "64Mi"}}, "devices": {}}},
    }))?;
    env.vmis.create(&PostParams::default(), &orphan).await?;
    env.create(&manifest("adopt", 1, json!({}))?).await?;
    let rs_uid = env
        .sets
        .get("adopt")
        .await?
        .metadata
        .uid
        .unwrap_or_default();
    let adopted = eventually(WAIT, "the orphan adopted", || async {
        let v = env.vmis.get("stray").await.ok()?;
        let owner = v.metadata.owner_references.clone()?.into_iter().next()?;
        (owner.uid == rs_uid).then_some(v)
    })
    .await?;
    assert!(adopted.metadata.owner_references.unwrap()[0].controller == Some(true));
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        env.live("adopt").await?.len(),
        1,
        "the adopted VMI counts as the replica"
    );

    let relabel = Patch::Merge(json!({"metadata": {"labels": {"app": "elsewhere"}}}));
    env.vmis
        .patch("stray", &PatchParams::default(), &relabel)
        .await?;
    eventually(WAIT, "the VMI released", || async {
        let v = env.vmis.get("stray").await.ok()?;
        v.metadata
            .owner_references
            .is_none_or(|o| o.is_empty())
            .then_some(())
    })
    .await?;
    env.wait_count("adopt", 1).await?;
    Ok(())
}

#[tokio::test]
async fn a_failing_create_sets_replica_failure_until_it_succeeds() -> Result<()> {
    let env = start(250, false).await?;
    // The template name becomes the generateName of new VMIs; this one is not a valid name.
    env.create(&manifest("broken", 1, json!({"name": "Not_A_Name"}))?)
        .await?;
    let failed = env
        .wait_status("broken", "the ReplicaFailure condition", |s| {
            s.conditions
                .iter()
                .flatten()
                .any(|c| c.type_ == "ReplicaFailure")
        })
        .await?;
    let conds = failed.status.unwrap().conditions.unwrap();
    assert_eq!(conds[0].reason.as_deref(), Some("FailedCreate"));
    let message = env
        .cluster
        .wait_for_event("default", "broken", "FailedCreate")
        .await?;
    assert!(
        message.starts_with("Error creating virtual machine instance:"),
        "{message}"
    );

    let fix = Patch::Merge(json!({"spec": {"template": {"metadata": {"name": "fixed"}}}}));
    env.sets
        .patch("broken", &PatchParams::default(), &fix)
        .await?;
    let vmis = env.wait_count("broken", 1).await?;
    assert!(
        vmis[0]
            .metadata
            .name
            .as_deref()
            .unwrap()
            .starts_with("fixed")
    );
    env.wait_status("broken", "the failure cleared", |s| {
        s.conditions.is_none() && replicas(s) == 1
    })
    .await?;
    Ok(())
}
