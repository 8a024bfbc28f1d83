//! Table tests of the VMI lifecycle: pod actions and the status that follows from the pod.

use api::VirtualMachineInstance;
use jiff::Timestamp;
use k8s_openapi::api::core::v1::Pod;
use serde_json::{Value, json};
use virt_controller::vmi::lifecycle::{
    PodPatch, StatusInput, StatusPlan, SyncError, VmiWrite, plan_status, plan_sync,
};
use virt_controller::vmi::template::TemplateError;

const IMAGE: &str = "kubevirt/virt-launcher:v1.9.0";

fn now() -> Timestamp {
    Timestamp::from_second(1_700_000_000).unwrap()
}

fn vmi(phase: Option<&str>, extra_meta: Value, extra_status: Value) -> VirtualMachineInstance {
    let mut meta = json!({"name": "testvmi", "namespace": "default", "uid": "vmi-uid",
                          "finalizers": ["kubevirt.io/foregroundDeleteVirtualMachine"]});
    merge(&mut meta, extra_meta);
    let mut status = json!({});
    if let Some(p) = phase {
        status["phase"] = json!(p);
    }
    merge(&mut status, extra_status);
    serde_json::from_value(json!({
        "apiVersion": "kubevirt.io/v1", "kind": "VirtualMachineInstance",
        "metadata": meta,
        "spec": {"domain": {"resources": {"requests": {"memory": "64Mi"}}, "devices": {}}},
        "status": status,
    }))
    .unwrap()
}

fn merge(into: &mut Value, from: Value) {
    if let (Some(a), Value::Object(b)) = (into.as_object_mut(), from) {
        for (k, v) in b {
            a.insert(k, v);
        }
    }
}

/// A launcher pod of `testvmi`, in `phase`, with extra status fields.
fn pod(name: &str, phase: &str, extra_meta: Value, extra_status: Value) -> Pod {
    let mut meta = json!({"name": name, "namespace": "default", "uid": format!("{name}-uid"),
        "creationTimestamp": "2024-01-01T00:00:00Z",
        "annotations": {"kubevirt.io/migrationTransportUnix": "true"},
        "ownerReferences": [{"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachineInstance",
                             "name": "testvmi", "uid": "vmi-uid", "controller": true}]});
    merge(&mut meta, extra_meta);
    let mut status = json!({"phase": phase, "qosClass": "Burstable"});
    merge(&mut status, extra_status);
    serde_json::from_value(json!({
        "metadata": meta,
        "spec": {"nodeName": "node01", "containers": [{"name": "compute", "image": IMAGE}]},
        "status": status,
    }))
    .unwrap()
}

fn ready_pod() -> Pod {
    pod(
        "launcher",
        "Running",
        json!({}),
        json!({
            "containerStatuses": [{"name": "compute", "ready": true, "restartCount": 0,
                "image": IMAGE, "imageID": "", "state": {"running": {}}}],
            "conditions": [
                {"type": "Ready", "status": "True"},
                {"type": "kubevirt.io/virtual-machine-unpaused", "status": "True"}],
        }),
    )
}

fn status(vmi: &VirtualMachineInstance, pod: Option<&Pod>, error: Option<SyncError>) -> StatusPlan {
    status_with_owner(vmi, pod, error, false)
}

fn status_with_owner(
    vmi: &VirtualMachineInstance,
    pod: Option<&Pod>,
    error: Option<SyncError>,
    owner_vm_exists: bool,
) -> StatusPlan {
    let pods: Vec<&Pod> = pod.into_iter().collect();
    plan_status(StatusInput {
        vmi,
        pod,
        pods: &pods,
        error,
        owner_vm_exists,
        launcher_image: IMAGE,
        now: now(),
    })
}

fn updated(plan: &StatusPlan) -> &VirtualMachineInstance {
    match &plan.write {
        VmiWrite::Update(v) => v,
        other => panic!("expected an update, got {other:?}"),
    }
}

fn phase(v: &VirtualMachineInstance) -> &str {
    v.phase().as_str()
}

fn cond<'a>(v: &'a VirtualMachineInstance, t: &str) -> Option<(&'a str, &'a str, &'a str)> {
    let c = v
        .status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == t)?;
    Some((
        c.status.as_str(),
        c.reason.as_deref().unwrap_or(""),
        c.message.as_deref().unwrap_or(""),
    ))
}

fn never_render() -> Result<Pod, TemplateError> {
    panic!("no pod may be rendered")
}

#[test]
fn unprocessed_vmi_without_pod_gets_one_and_moves_to_scheduling() {
    let v = vmi(Some("Pending"), json!({}), json!({}));
    let plan = plan_sync(&v, None, &[], &[], || {
        Ok(pod("new", "Pending", json!({}), json!({})))
    });
    let created = plan.create_pod.expect("a pod is created");
    assert!(plan.delete_pods.is_empty() && plan.error.is_none());
    let s = status(&v, Some(&created), None);
    let new = updated(&s);
    assert_eq!(phase(new), "Scheduling");
    assert_eq!(cond(new, "Ready").map(|c| c.1), Some("GuestNotRunning"));
    let stamps = new
        .status
        .as_ref()
        .unwrap()
        .phase_transition_timestamps
        .clone()
        .unwrap();
    assert_eq!(stamps.last().unwrap().phase.unwrap().as_str(), "Scheduling");
    assert_eq!(
        new.status
            .as_ref()
            .unwrap()
            .launcher_container_image_version
            .as_deref(),
        Some(IMAGE)
    );
    assert_eq!(
        new.status.as_ref().unwrap().active_pods.as_ref().unwrap()["new-uid"],
        "node01"
    );
}

#[test]
fn unset_phase_counts_as_unprocessed() {
    let v = vmi(None, json!({}), json!({}));
    let s = status(&v, None, None);
    let new = updated(&s);
    assert_eq!(phase(new), "Pending");
    assert_eq!(
        cond(new, "Ready"),
        Some((
            "False",
            "PodNotExists",
            "virt-launcher pod has not yet been scheduled"
        ))
    );
}

#[test]
fn a_pending_vmi_without_changes_is_not_written_again() {
    let v = vmi(Some("Pending"), json!({}), json!({}));
    let first = updated(&status(&v, None, None)).clone();
    assert_eq!(status(&first, None, None).write, VmiWrite::Nothing);
}

#[test]
fn render_failure_is_reported_as_failed_create() {
    let v = vmi(Some("Pending"), json!({}), json!({}));
    let plan = plan_sync(&v, None, &[], &[], || {
        Err(TemplateError::MissingMetadata("uid"))
    });
    let error = plan.error.expect("an error");
    assert_eq!(error.reason, "FailedCreate");
    assert!(
        error
            .message
            .starts_with("failed to render launch manifest"),
        "{}",
        error.message
    );
    let s = status(&v, None, Some(error));
    let new = updated(&s);
    assert_eq!(phase(new), "Pending");
    assert_eq!(cond(new, "Synchronized").map(|c| c.1), Some("FailedCreate"));
    assert!(s.error.unwrap().requeue);
}

#[test]
fn missing_pvc_blocks_the_pod_and_marks_the_vmi_unschedulable() {
    let v = vmi(Some("Pending"), json!({}), json!({}));
    let plan = plan_sync(&v, None, &[], &["disk-a".to_string()], never_render);
    assert!(plan.create_pod.is_none());
    assert_eq!(plan.events[0].reason, "FailedPvcNotFound");
    let error = plan.error.expect("an error");
    assert_eq!(
        error.message,
        "PVC default/disk-a does not exist, waiting for it to appear"
    );
    assert!(!error.requeue, "only the PVC appearing can fix it");
    let s = status(&v, None, Some(error));
    let new = updated(&s);
    assert_eq!(phase(new), "Pending");
    assert_eq!(
        cond(new, "PodScheduled").map(|c| (c.0, c.1)),
        Some(("False", "Unschedulable"))
    );
    assert_eq!(
        cond(new, "Synchronized").map(|c| (c.0, c.1)),
        Some(("False", "FailedPvcNotFound"))
    );
}

#[test]
fn deleted_unprocessed_vmi_without_pod_fails() {
    let v = vmi(
        Some("Pending"),
        json!({"deletionTimestamp": "2024-01-01T00:00:00Z"}),
        json!({}),
    );
    let plan = plan_sync(&v, None, &[], &[], never_render);
    assert!(plan.create_pod.is_none() && plan.delete_pods.is_empty());
    assert_eq!(phase(updated(&status(&v, None, None))), "Failed");
}

#[test]
fn deleted_vmi_deletes_its_pods_but_not_those_already_going() {
    let v = vmi(
        Some("Running"),
        json!({"deletionTimestamp": "2024-01-01T00:00:00Z"}),
        json!({}),
    );
    let alive = pod("alive", "Running", json!({}), json!({}));
    let going = pod(
        "going",
        "Running",
        json!({"deletionTimestamp": "2024-01-01T00:00:00Z"}),
        json!({}),
    );
    let done = pod(
        "done",
        "Succeeded",
        json!({"deletionTimestamp": "2024-01-01T00:00:00Z"}),
        json!({}),
    );
    let plan = plan_sync(
        &v,
        Some(&alive),
        &[&alive, &going, &done],
        &[],
        never_render,
    );
    assert_eq!(
        plan.delete_pods,
        vec!["alive".to_string(), "done".to_string()]
    );
}

#[test]
fn scheduling_copies_unschedulable_and_qos_from_the_pod() {
    let v = vmi(Some("Scheduling"), json!({}), json!({}));
    let p = pod(
        "launcher",
        "Pending",
        json!({}),
        json!({"conditions": [{"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
                           "message": "0/1 nodes are available"}]}),
    );
    let s = status(&v, Some(&p), None);
    let new = updated(&s);
    assert_eq!(phase(new), "Scheduling");
    assert_eq!(
        cond(new, "PodScheduled"),
        Some(("False", "Unschedulable", "0/1 nodes are available"))
    );
    assert_eq!(
        new.status.as_ref().unwrap().qos_class.as_deref(),
        Some("Burstable")
    );
    // Once the pod is scheduled the copied condition goes away.
    let scheduled = pod("launcher", "Pending", json!({}), json!({}));
    let again = status(new, Some(&scheduled), None);
    assert_eq!(cond(updated(&again), "PodScheduled"), None);
}

#[test]
fn ready_pod_hands_the_vmi_to_the_node() {
    let v = vmi(Some("Scheduling"), json!({}), json!({}));
    let p = ready_pod();
    let s = status(&v, Some(&p), None);
    let new = updated(&s);
    assert_eq!(phase(new), "Scheduled");
    let st = new.status.as_ref().unwrap();
    assert_eq!(st.node_name.as_deref(), Some("node01"));
    assert_eq!(st.migration_transport.as_deref(), Some("Unix"));
    assert_eq!(
        new.metadata.labels.as_ref().unwrap()["kubevirt.io/nodeName"],
        "node01"
    );
}

#[test]
fn pod_going_down_or_gone_while_scheduling_fails_the_vmi() {
    let v = vmi(Some("Scheduling"), json!({}), json!({}));
    let deleting = pod(
        "launcher",
        "Pending",
        json!({"deletionTimestamp": "2024-01-01T00:00:00Z"}),
        json!({}),
    );
    let s = status(&v, Some(&deleting), None);
    assert_eq!(phase(updated(&s)), "Failed");
    assert_eq!(
        cond(updated(&s), "Ready").map(|c| c.1),
        Some("PodTerminating")
    );
    assert_eq!(phase(updated(&status(&v, None, None))), "Failed");
}

#[test]
fn image_pull_errors_surface_as_synchronized_false() {
    let v = vmi(Some("Scheduling"), json!({}), json!({}));
    for reason in ["ErrImagePull", "ImagePullBackOff"] {
        let p = pod(
            "launcher",
            "Pending",
            json!({}),
            json!({"containerStatuses": [{"name": "compute", "ready": false, "restartCount": 0,
                "image": IMAGE, "imageID": "",
                "state": {"waiting": {"reason": reason, "message": "pull access denied"}}}]}),
        );
        let s = status(&v, Some(&p), None);
        assert_eq!(
            cond(updated(&s), "Synchronized"),
            Some(("False", reason, "pull access denied"))
        );
        assert_eq!(phase(updated(&s)), "Scheduling");
        assert!(s.error.is_some());
    }
}

fn patch_ops(plan: &StatusPlan) -> Vec<Value> {
    match &plan.write {
        VmiWrite::Patch(Value::Array(ops)) => ops.clone(),
        other => panic!("expected a JSON patch, got {other:?}"),
    }
}

#[test]
fn scheduled_vmi_losing_its_pod_is_patched_to_failed_with_a_test() {
    let v = vmi(Some("Scheduled"), json!({}), json!({"nodeName": "node01"}));
    let ops = patch_ops(&status(&v, None, None));
    let i = ops
        .iter()
        .position(|o| o["path"] == "/status/phase" && o["op"] == "test")
        .unwrap();
    assert_eq!(ops[i]["value"], "Scheduled");
    assert_eq!(
        ops[i + 1],
        json!({"op": "replace", "path": "/status/phase", "value": "Failed"})
    );
}

#[test]
fn running_vmi_mirrors_the_pod_ready_condition() {
    let v = vmi(
        Some("Running"),
        json!({"labels": {"kubevirt.io/nodeName": "node01"}}),
        json!({"nodeName": "node01", "launcherContainerImageVersion": IMAGE,
               "activePods": {"launcher-uid": "node01"},
               "conditions": [{"type": "Ready", "status": "False", "reason": "GuestNotRunning",
                               "lastProbeTime": null, "lastTransitionTime": null}]}),
    );
    let p = ready_pod();
    let ops = patch_ops(&status(&v, Some(&p), None));
    let replace = ops
        .iter()
        .find(|o| o["path"] == "/status/conditions" && o["op"] == "replace")
        .unwrap();
    assert_eq!(replace["value"][0]["status"], "True");
    assert!(
        ops.iter()
            .any(|o| o["path"] == "/status/conditions" && o["op"] == "test")
    );
    // The same pass on the result changes nothing.
    let mut after = v.clone();
    let mut st = after.status.take().unwrap();
    st.conditions = Some(vec![api::VirtualMachineInstanceCondition {
        type_: "Ready".into(),
        status: "True".into(),
        ..Default::default()
    }]);
    after.status = Some(st);
    assert_eq!(status(&after, Some(&p), None).write, VmiWrite::Nothing);
}

#[test]
fn final_vmi_loses_its_finalizer_only_when_no_pod_is_left() {
    let v = vmi(
        Some("Succeeded"),
        json!({"labels": {"kubevirt.io/outdatedLauncherImage": ""}}),
        json!({"launcherContainerImageVersion": "old-image"}),
    );
    let p = pod("launcher", "Succeeded", json!({}), json!({}));
    let kept = status(&v, Some(&p), None);
    assert!(
        updated(&kept)
            .metadata
            .finalizers
            .as_ref()
            .is_some_and(|f| !f.is_empty())
    );
    let gone = status(&v, None, None);
    let new = updated(&gone);
    assert_eq!(new.metadata.finalizers, None);
    assert_eq!(
        new.status
            .as_ref()
            .unwrap()
            .launcher_container_image_version,
        None
    );
    assert!(
        !new.metadata
            .labels
            .as_ref()
            .unwrap()
            .contains_key("kubevirt.io/outdatedLauncherImage")
    );
}

#[test]
fn final_vmi_without_owner_vm_loses_the_vm_finalizer() {
    let v = vmi(
        Some("Failed"),
        json!({"finalizers": ["kubevirt.io/virtualMachineControllerFinalize"]}),
        json!({}),
    );
    let p = pod("launcher", "Failed", json!({}), json!({}));
    assert_eq!(
        updated(&status_with_owner(&v, Some(&p), None, false))
            .metadata
            .finalizers,
        None
    );
    let with_owner = status_with_owner(&v, Some(&p), None, true);
    assert_eq!(
        updated(&with_owner).metadata.finalizers,
        Some(vec![
            "kubevirt.io/virtualMachineControllerFinalize".to_string()
        ])
    );
}

fn pod_patch(plan: &StatusPlan) -> &PodPatch {
    plan.pod_conditions.as_ref().expect("a pod condition patch")
}

#[test]
fn paused_vmi_turns_the_readiness_gate_false_and_back() {
    let paused = vmi(
        Some("Running"),
        json!({}),
        json!({"conditions": [{"type": "Paused", "status": "True", "reason": "PausedByUser",
                           "lastProbeTime": null, "lastTransitionTime": null}]}),
    );
    let p = ready_pod();
    let s = status(&paused, Some(&p), None);
    let ops = &pod_patch(&s).ops;
    assert_eq!(ops[0]["op"], "test");
    let gate = ops[1]["value"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["type"] == "kubevirt.io/virtual-machine-unpaused")
        .unwrap();
    assert_eq!(
        (&gate["status"], &gate["reason"]),
        (&json!("False"), &json!("Paused"))
    );

    let unpaused = vmi(Some("Running"), json!({}), json!({}));
    let fresh = pod("launcher", "Running", json!({}), json!({"conditions": []}));
    let s = status(&unpaused, Some(&fresh), None);
    let value = &pod_patch(&s).ops[1]["value"][0];
    assert_eq!(
        (&value["status"], &value["reason"]),
        (&json!("True"), &json!("NotPaused"))
    );
    assert_eq!(
        status(&unpaused, Some(&p), None).pod_conditions,
        None,
        "nothing to do"
    );
}

#[test]
fn outdated_launcher_image_is_labelled() {
    let v = vmi(Some("Scheduling"), json!({}), json!({}));
    let mut p = pod("launcher", "Pending", json!({}), json!({}));
    p.spec.as_mut().unwrap().containers[0].image = Some("old/launcher:v1".into());
    let s = status(&v, Some(&p), None);
    let new = updated(&s);
    assert!(
        new.metadata
            .labels
            .as_ref()
            .unwrap()
            .contains_key("kubevirt.io/outdatedLauncherImage")
    );
    assert_eq!(
        new.status
            .as_ref()
            .unwrap()
            .launcher_container_image_version
            .as_deref(),
        Some("old/launcher:v1")
    );
    let labels = &s.pod_metadata.as_ref().expect("pod label sync").ops;
    assert!(
        labels
            .to_string()
            .contains("kubevirt.io/outdatedLauncherImage")
    );
}

#[test]
fn node_label_of_the_vmi_is_mirrored_on_the_pod() {
    let v = vmi(
        Some("Running"),
        json!({"labels": {"kubevirt.io/nodeName": "node01"}}),
        json!({}),
    );
    let p = ready_pod();
    let s = status(&v, Some(&p), None);
    let ops = &s.pod_metadata.as_ref().unwrap().ops;
    assert_eq!(ops[0]["op"], "add");
    assert_eq!(ops[0]["value"]["kubevirt.io/nodeName"], "node01");
}
