//! The VMI lifecycle as pure functions: what to do with the launcher pod ([`plan_sync`]) and
//! the VMI status that follows from the pod ([`plan_status`]).
//!
//! Phases move Pending → Scheduling when a pod exists, Scheduling → Scheduled when the pod is
//! ready, and to Failed when the pod disappears or goes down early; Scheduled → Running is the
//! node agent's. Final VMIs lose the `kubevirt.io/foregroundDeleteVirtualMachine` finalizer
//! once no pod is left. While Scheduled or Running (owned by the node agent) the status is
//! written as a JSON patch guarded by `test` operations; otherwise with an update of the
//! whole object, and only when something changed.

use std::collections::BTreeMap;

use api::keys::{self, condition_status, vmi_condition};
use api::{
    VirtualMachineInstance, VirtualMachineInstanceCondition, VirtualMachineInstancePhase as Phase,
    VirtualMachineInstancePhaseTransitionTimestamp, VirtualMachineInstanceStatus,
};
use jiff::Timestamp;
use k8s_openapi::api::core::v1::{Pod, PodCondition};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use serde_json::{Value, json};

use super::pod;
use super::template::{MIGRATION_TRANSPORT_UNIX_ANNOTATION, TemplateError};

/// Synchronized reason: a PersistentVolumeClaim of the VMI does not exist.
pub const REASON_FAILED_PVC_NOT_FOUND: &str = "FailedPvcNotFound";
/// Synchronized reason: the launcher pod could not be created.
pub const REASON_FAILED_CREATE: &str = "FailedCreate";
/// Synchronized reason: a launcher pod could not be deleted.
pub const REASON_FAILED_DELETE: &str = "FailedDelete";
/// Pod condition reason of the readiness gate while the guest is paused.
pub const REASON_POD_PAUSED: &str = "Paused";
/// Pod condition reason of the readiness gate while the guest is not paused.
pub const REASON_POD_NOT_PAUSED: &str = "NotPaused";
/// Annotations the node agent and the descheduler read from the pod, kept equal to the VMI's.
pub const DESCHEDULER_ANNOTATIONS: [&str; 2] = [
    "descheduler.alpha.kubernetes.io/evict",
    "descheduler.alpha.kubernetes.io/prefer-no-eviction",
];
/// `status.migrationTransport` of launchers that migrate over unix sockets.
pub const MIGRATION_TRANSPORT_UNIX: &str = "Unix";

/// A failed or postponed step of a pass; it becomes the Synchronized=False condition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyncError {
    pub reason: String,
    pub message: String,
    /// Whether the key is retried with backoff (false for conditions only an event can fix).
    pub requeue: bool,
}

impl SyncError {
    pub fn new(reason: &str, message: impl Into<String>) -> SyncError {
        SyncError {
            reason: reason.into(),
            message: message.into(),
            requeue: true,
        }
    }
}

/// An event to record on the VMI.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VmiEvent {
    pub warning: bool,
    pub reason: String,
    pub message: String,
}

/// What the pod side of a pass must do.
#[derive(Debug, Default)]
pub struct SyncPlan {
    /// Pods to delete (the VMI is being deleted).
    pub delete_pods: Vec<String>,
    /// The launcher pod to create.
    pub create_pod: Option<Pod>,
    /// An error known before acting.
    pub error: Option<SyncError>,
    /// Events known before acting.
    pub events: Vec<VmiEvent>,
}

/// Decides the pod actions of a pass.
///
/// `pods` are all pods the VMI controls, `missing_claims` the claims of its (non-hotplug) PVC
/// and DataVolume volumes that do not exist, and `render` builds the launcher pod.
pub fn plan_sync(
    vmi: &VirtualMachineInstance,
    current: Option<&Pod>,
    pods: &[&Pod],
    missing_claims: &[String],
    render: impl FnOnce() -> Result<Pod, TemplateError>,
) -> SyncPlan {
    let mut plan = SyncPlan::default();
    if vmi.metadata.deletion_timestamp.is_some() {
        // Pods already going away are left alone unless they are final.
        plan.delete_pods = pods
            .iter()
            .filter(|p| p.metadata.deletion_timestamp.is_none() || pod::is_final(p))
            .filter_map(|p| p.metadata.name.clone())
            .collect();
        return plan;
    }
    if vmi.is_final() {
        return plan;
    }
    if let Some(claim) = missing_claims.first() {
        let namespace = vmi.metadata.namespace.as_deref().unwrap_or_default();
        let message = format!("PVC {namespace}/{claim} does not exist, waiting for it to appear");
        plan.events.push(VmiEvent {
            warning: false,
            reason: REASON_FAILED_PVC_NOT_FOUND.into(),
            message: message.clone(),
        });
        plan.error = Some(SyncError {
            requeue: false,
            ..SyncError::new(REASON_FAILED_PVC_NOT_FOUND, message)
        });
        return plan;
    }
    if current.is_some() || !vmi.is_unprocessed() {
        return plan;
    }
    match render() {
        Ok(p) => plan.create_pod = Some(p),
        Err(e) => {
            plan.error = Some(SyncError::new(
                REASON_FAILED_CREATE,
                format!("failed to render launch manifest: {e}"),
            ));
        }
    }
    plan
}

/// How the VMI is written back.
#[derive(Clone, Debug, PartialEq)]
pub enum VmiWrite {
    /// Nothing changed.
    Nothing,
    /// Replace the whole object (phases the controller owns).
    Update(Box<VirtualMachineInstance>),
    /// A JSON patch with `test` guards (phases the node agent owns).
    Patch(Value),
}

/// A JSON patch for a pod.
#[derive(Clone, Debug, PartialEq)]
pub struct PodPatch {
    pub pod: String,
    pub ops: Value,
}

/// What the status side of a pass must write.
#[derive(Clone, Debug, PartialEq)]
pub struct StatusPlan {
    /// Readiness-gate condition of the pod (status subresource).
    pub pod_conditions: Option<PodPatch>,
    /// Labels and annotations the pod mirrors from the VMI.
    pub pod_metadata: Option<PodPatch>,
    pub write: VmiWrite,
    /// The pass's error after the status was computed (image pull problems replace it).
    pub error: Option<SyncError>,
}

/// The observed state for [`plan_status`].
pub struct StatusInput<'a> {
    pub vmi: &'a VirtualMachineInstance,
    /// The current launcher pod, including one created in this pass.
    pub pod: Option<&'a Pod>,
    /// Every pod the VMI controls, including one created in this pass.
    pub pods: &'a [&'a Pod],
    pub error: Option<SyncError>,
    /// A VirtualMachine owning the VMI (controller reference, same uid) exists.
    pub owner_vm_exists: bool,
    /// The launcher image pods are created with now.
    pub launcher_image: &'a str,
    pub now: Timestamp,
}

fn conditions(status: &VirtualMachineInstanceStatus) -> &[VirtualMachineInstanceCondition] {
    status.conditions.as_deref().unwrap_or_default()
}

fn find<'a>(
    status: &'a VirtualMachineInstanceStatus,
    type_: &str,
) -> Option<&'a VirtualMachineInstanceCondition> {
    conditions(status).iter().find(|c| c.type_ == type_)
}

fn remove_condition(status: &mut VirtualMachineInstanceStatus, type_: &str) {
    if let Some(list) = status.conditions.as_mut() {
        list.retain(|c| c.type_ != type_);
        if list.is_empty() {
            status.conditions = None;
        }
    }
}

/// Replaces a condition of the same type only when its status or reason differs.
fn update_condition(
    status: &mut VirtualMachineInstanceStatus,
    cond: VirtualMachineInstanceCondition,
) {
    let list = status.conditions.get_or_insert_with(Vec::new);
    match list.iter_mut().find(|c| c.type_ == cond.type_) {
        Some(existing) => {
            if existing.status != cond.status || existing.reason != cond.reason {
                *existing = cond;
            }
        }
        None => list.push(cond),
    }
}

fn condition(
    type_: &str,
    status: &str,
    reason: &str,
    message: &str,
    now: Timestamp,
) -> VirtualMachineInstanceCondition {
    VirtualMachineInstanceCondition {
        type_: type_.into(),
        status: status.into(),
        last_probe_time: Some(Time(now)),
        last_transition_time: Some(Time(now)),
        reason: Some(reason.into()),
        message: Some(message.into()),
    }
}

fn from_pod_condition(c: &PodCondition) -> VirtualMachineInstanceCondition {
    VirtualMachineInstanceCondition {
        type_: c.type_.clone(),
        status: c.status.clone(),
        last_probe_time: c.last_probe_time.clone(),
        last_transition_time: c.last_transition_time.clone(),
        reason: c.reason.clone(),
        message: c.message.clone(),
    }
}

fn sync_ready(
    status: &mut VirtualMachineInstanceStatus,
    running: bool,
    pod: Option<&Pod>,
    now: Timestamp,
) {
    let f = condition_status::FALSE;
    let cond = match pod {
        None => condition(
            vmi_condition::READY,
            f,
            vmi_condition::REASON_POD_NOT_EXISTS,
            "virt-launcher pod has not yet been scheduled",
            now,
        ),
        Some(p) if pod::is_down_or_going_down(p) => condition(
            vmi_condition::READY,
            f,
            vmi_condition::REASON_POD_TERMINATING,
            "virt-launcher pod is terminating",
            now,
        ),
        Some(_) if !running => condition(
            vmi_condition::READY,
            f,
            vmi_condition::REASON_GUEST_NOT_RUNNING,
            "Guest VM is not reported as running",
            now,
        ),
        Some(p) => match pod::condition(p, "Ready") {
            Some(ready) => from_pod_condition(ready),
            None => condition(
                vmi_condition::READY,
                f,
                vmi_condition::REASON_POD_CONDITION_MISSING,
                "virt-launcher pod is missing the Ready condition",
                now,
            ),
        },
    };
    update_condition(status, cond);
}

fn remove_finalizer(vmi: &mut VirtualMachineInstance, finalizer: &str) {
    if let Some(list) = vmi.metadata.finalizers.as_mut() {
        list.retain(|f| f != finalizer);
        if list.is_empty() {
            vmi.metadata.finalizers = None;
        }
    }
}

fn remove_label(vmi: &mut VirtualMachineInstance, label: &str) {
    if let Some(labels) = vmi.metadata.labels.as_mut() {
        labels.remove(label);
    }
}

fn set_launcher_info(vmi: &mut VirtualMachineInstance, image: &str, launcher_image: &str) {
    if !image.is_empty() && image != launcher_image {
        vmi.metadata
            .labels
            .get_or_insert_with(BTreeMap::new)
            .insert(keys::OUTDATED_LAUNCHER_IMAGE_LABEL.into(), String::new());
    } else {
        remove_label(vmi, keys::OUTDATED_LAUNCHER_IMAGE_LABEL);
    }
    let status = vmi.status.get_or_insert_with(Default::default);
    status.launcher_container_image_version = (!image.is_empty()).then(|| image.to_string());
}

/// The readiness-gate condition follows the VMI's Paused condition.
fn paused_pod_patch(vmi: &VirtualMachineInstance, pod: &Pod, now: Timestamp) -> Option<PodPatch> {
    let gate = keys::VIRTUAL_MACHINE_UNPAUSED_POD_CONDITION;
    let paused = vmi
        .status
        .as_ref()
        .and_then(|s| find(s, vmi_condition::PAUSED))
        .is_some_and(|c| c.status == condition_status::TRUE);
    let unpaused = pod::condition(pod, gate).is_some_and(|c| c.status == condition_status::TRUE);
    let (status, reason, message) = match (paused, unpaused) {
        (true, true) => (
            condition_status::FALSE,
            REASON_POD_PAUSED,
            "the virtual machine is paused",
        ),
        (false, false) => (
            condition_status::TRUE,
            REASON_POD_NOT_PAUSED,
            "the virtual machine is not paused",
        ),
        _ => return None,
    };
    let old = pod.status.as_ref().and_then(|s| s.conditions.clone());
    let mut new = old.clone().unwrap_or_default();
    let cond = PodCondition {
        type_: gate.into(),
        status: status.into(),
        reason: Some(reason.into()),
        message: Some(message.into()),
        last_probe_time: Some(Time(now)),
        last_transition_time: Some(Time(now)),
        observed_generation: None,
    };
    match new.iter_mut().find(|c| c.type_ == gate) {
        Some(existing) => *existing = cond,
        None => new.push(cond),
    }
    let ops = match (&pod.status, old) {
        (None, _) => json!([{"op": "add", "path": "/status", "value": {"conditions": new}}]),
        (Some(_), None) => json!([{"op": "add", "path": "/status/conditions", "value": new}]),
        (Some(_), Some(old)) => json!([
            {"op": "test", "path": "/status/conditions", "value": old},
            {"op": "replace", "path": "/status/conditions", "value": new},
        ]),
    };
    Some(PodPatch {
        pod: pod.metadata.name.clone().unwrap_or_default(),
        ops,
    })
}

/// Replaces a string map at `path` (`/metadata/labels`) guarded by a test of the old value.
fn map_ops(
    path: &str,
    old: Option<&BTreeMap<String, String>>,
    new: &BTreeMap<String, String>,
) -> Vec<Value> {
    match old {
        None => vec![json!({"op": "add", "path": path, "value": new})],
        Some(old) => vec![
            json!({"op": "test", "path": path, "value": old}),
            json!({"op": "replace", "path": path, "value": new}),
        ],
    }
}

/// Mirrors the VMI's node and outdated-image labels and descheduler annotations on the pod.
fn pod_metadata_patch(vmi: &VirtualMachineInstance, pod: &Pod) -> Option<PodPatch> {
    let mut ops = Vec::new();
    let mut sync = |keys: &[&str],
                    vmi_map: Option<&BTreeMap<String, String>>,
                    pod_map: Option<&BTreeMap<String, String>>,
                    path: &str| {
        let mut new = pod_map.cloned().unwrap_or_default();
        let mut changed = false;
        for key in keys {
            let want = vmi_map.and_then(|m| m.get(*key));
            if want != new.get(*key) {
                changed = true;
                match want {
                    Some(v) => new.insert(key.to_string(), v.clone()),
                    None => new.remove(*key),
                };
            }
        }
        if changed {
            ops.extend(map_ops(path, pod_map, &new));
        }
    };
    sync(
        &[keys::NODE_NAME_LABEL, keys::OUTDATED_LAUNCHER_IMAGE_LABEL],
        vmi.metadata.labels.as_ref(),
        pod.metadata.labels.as_ref(),
        "/metadata/labels",
    );
    sync(
        &DESCHEDULER_ANNOTATIONS,
        vmi.metadata.annotations.as_ref(),
        pod.metadata.annotations.as_ref(),
        "/metadata/annotations",
    );
    (!ops.is_empty()).then(|| PodPatch {
        pod: pod.metadata.name.clone().unwrap_or_default(),
        ops: Value::Array(ops),
    })
}

/// Conditions are equal when the same types carry the same status, reason and message.
fn conditions_equal(a: &VirtualMachineInstanceStatus, b: &VirtualMachineInstanceStatus) -> bool {
    let (a, b) = (conditions(a), conditions(b));
    a.len() == b.len()
        && a.iter().all(|x| {
            b.iter().any(|y| {
                y.type_ == x.type_
                    && y.status == x.status
                    && y.reason == x.reason
                    && y.message == x.message
            })
        })
}

/// `test`+`replace`, `add` or `test`+`remove` of one field, depending on presence.
fn field_ops<T: serde::Serialize + PartialEq>(
    path: &str,
    old: Option<&T>,
    new: Option<&T>,
) -> Vec<Value> {
    match (old, new) {
        (None, None) => vec![],
        (None, Some(n)) => vec![json!({"op": "add", "path": path, "value": n})],
        (Some(o), None) => vec![
            json!({"op": "test", "path": path, "value": o}),
            json!({"op": "remove", "path": path}),
        ],
        (Some(o), Some(n)) => vec![
            json!({"op": "test", "path": path, "value": o}),
            json!({"op": "replace", "path": path, "value": n}),
        ],
    }
}

fn status_patch(old: &VirtualMachineInstance, new: &VirtualMachineInstance) -> Vec<Value> {
    let default = VirtualMachineInstanceStatus::default();
    let os = old.status.as_ref().unwrap_or(&default);
    let ns = new.status.as_ref().unwrap_or(&default);
    let mut ops = Vec::new();
    if old.status.is_none() {
        ops.push(json!({"op": "add", "path": "/status", "value": {}}));
    }
    if !conditions_equal(os, ns) {
        ops.extend(field_ops(
            "/status/conditions",
            os.conditions.as_ref(),
            ns.conditions.as_ref(),
        ));
    }
    if os.active_pods != ns.active_pods {
        ops.extend(field_ops(
            "/status/activePods",
            os.active_pods.as_ref(),
            ns.active_pods.as_ref(),
        ));
    }
    if os.phase.unwrap_or_default() != ns.phase.unwrap_or_default() {
        ops.extend(field_ops(
            "/status/phase",
            os.phase.as_ref(),
            ns.phase.as_ref(),
        ));
    }
    if os.launcher_container_image_version != ns.launcher_container_image_version {
        ops.extend(field_ops(
            "/status/launcherContainerImageVersion",
            os.launcher_container_image_version.as_ref(),
            ns.launcher_container_image_version.as_ref(),
        ));
    }
    if old.metadata.labels != new.metadata.labels {
        ops.extend(field_ops(
            "/metadata/labels",
            old.metadata.labels.as_ref(),
            new.metadata.labels.as_ref(),
        ));
    }
    // Nothing but the guard of an absent status: no write.
    if ops.len() == 1 && old.status.is_none() {
        ops.clear();
    }
    ops
}

/// Records when the phase was entered, once per phase.
fn set_transition_timestamp(old: Phase, status: &mut VirtualMachineInstanceStatus, now: Timestamp) {
    let phase = status.phase.unwrap_or_default();
    if old == phase {
        return;
    }
    let list = status
        .phase_transition_timestamps
        .get_or_insert_with(Vec::new);
    if list.iter().any(|t| t.phase == Some(phase)) {
        return;
    }
    list.push(VirtualMachineInstancePhaseTransitionTimestamp {
        phase: Some(phase),
        phase_transition_timestamp: Some(Time(now)),
    });
}

/// The Synchronized condition carries the pass's error; a clean pass removes it.
fn check_failure(
    status: &mut VirtualMachineInstanceStatus,
    error: Option<&SyncError>,
    now: Timestamp,
) {
    match error {
        Some(e) => {
            let same = find(status, vmi_condition::SYNCHRONIZED).is_some_and(|c| {
                c.status == condition_status::FALSE
                    && c.reason.as_deref() == Some(e.reason.as_str())
            });
            if !same {
                remove_condition(status, vmi_condition::SYNCHRONIZED);
                let c = condition(
                    vmi_condition::SYNCHRONIZED,
                    condition_status::FALSE,
                    &e.reason,
                    &e.message,
                    now,
                );
                status.conditions.get_or_insert_with(Vec::new).push(c);
            }
        }
        None => remove_condition(status, vmi_condition::SYNCHRONIZED),
    }
}

/// Computes the VMI status (and the pod's mirrored state) from the launcher pod.
pub fn plan_status(input: StatusInput<'_>) -> StatusPlan {
    let StatusInput {
        vmi,
        pod,
        pods,
        mut error,
        owner_vm_exists,
        launcher_image,
        now,
    } = input;
    let old_phase = vmi.phase();
    let deleting = vmi.metadata.deletion_timestamp.is_some();
    let mut new = vmi.clone();
    let mut plan = StatusPlan {
        pod_conditions: None,
        pod_metadata: None,
        write: VmiWrite::Nothing,
        error: None,
    };

    let active: BTreeMap<String, String> = pods
        .iter()
        .filter_map(|p| {
            let uid = p.metadata.uid.clone()?;
            Some((
                uid,
                p.spec
                    .as_ref()
                    .and_then(|s| s.node_name.clone())
                    .unwrap_or_default(),
            ))
        })
        .collect();
    {
        let status = new.status.get_or_insert_with(Default::default);
        if !(active.is_empty() && status.active_pods.is_none()) {
            status.active_pods = Some(active);
        }
        sync_ready(status, old_phase == Phase::Running, pod, now);
    }
    if let Some(p) = pod {
        set_launcher_info(
            &mut new,
            pod::compute_image(p).unwrap_or_default(),
            launcher_image,
        );
        plan.pod_conditions = paused_pod_patch(&new, p, now);
        plan.pod_metadata = pod_metadata_patch(&new, p);
    }

    match old_phase {
        Phase::Unset | Phase::Pending => {
            let status = new.status.get_or_insert_with(Default::default);
            if pod.is_some() {
                status.phase = Some(Phase::Scheduling);
            } else if deleting {
                status.phase = Some(Phase::Failed);
            } else {
                status.phase = Some(Phase::Pending);
                if let Some(e) = error
                    .as_ref()
                    .filter(|e| e.reason == REASON_FAILED_PVC_NOT_FOUND)
                {
                    remove_condition(status, vmi_condition::POD_SCHEDULED);
                    let c = condition(
                        vmi_condition::POD_SCHEDULED,
                        condition_status::FALSE,
                        "Unschedulable",
                        &e.message,
                        now,
                    );
                    status.conditions.get_or_insert_with(Vec::new).push(c);
                }
            }
        }
        Phase::Scheduling => {
            remove_condition(
                new.status.get_or_insert_with(Default::default),
                vmi_condition::PROVISIONING,
            );
            match pod {
                Some(p) => {
                    let status = new.status.get_or_insert_with(Default::default);
                    status.qos_class = p
                        .status
                        .as_ref()
                        .and_then(|s| s.qos_class.clone())
                        .filter(|q| !q.is_empty());
                    match pod::condition(p, "PodScheduled")
                        .filter(|c| c.status == condition_status::FALSE)
                    {
                        Some(unscheduled) => {
                            if find(status, vmi_condition::POD_SCHEDULED).is_none() {
                                status
                                    .conditions
                                    .get_or_insert_with(Vec::new)
                                    .push(from_pod_condition(unscheduled));
                            }
                        }
                        None => remove_condition(status, vmi_condition::POD_SCHEDULED),
                    }
                    if let Some((reason, message)) = pod::image_error(p) {
                        error = Some(SyncError::new(&reason, message));
                    }
                    if pod::is_ready(p) && !deleting {
                        let node = p
                            .spec
                            .as_ref()
                            .and_then(|s| s.node_name.clone())
                            .unwrap_or_default();
                        status.phase = Some(Phase::Scheduled);
                        status.node_name = Some(node.clone());
                        let annotations = p.metadata.annotations.as_ref();
                        if annotations
                            .is_some_and(|a| a.contains_key(MIGRATION_TRANSPORT_UNIX_ANNOTATION))
                        {
                            status.migration_transport = Some(MIGRATION_TRANSPORT_UNIX.into());
                        }
                        new.metadata
                            .labels
                            .get_or_insert_with(BTreeMap::new)
                            .insert(keys::NODE_NAME_LABEL.into(), node);
                    } else if pod::is_down_or_going_down(p) {
                        status.phase = Some(Phase::Failed);
                    }
                }
                None => new.status.get_or_insert_with(Default::default).phase = Some(Phase::Failed),
            }
        }
        Phase::Succeeded | Phase::Failed => {
            if pods.is_empty() {
                remove_finalizer(&mut new, keys::VIRTUAL_MACHINE_INSTANCE_FINALIZER);
                remove_label(&mut new, keys::OUTDATED_LAUNCHER_IMAGE_LABEL);
                new.status
                    .get_or_insert_with(Default::default)
                    .launcher_container_image_version = None;
            }
            if !owner_vm_exists {
                remove_finalizer(&mut new, keys::VIRTUAL_MACHINE_CONTROLLER_FINALIZER);
            }
        }
        Phase::Running | Phase::Scheduled => {
            if pod.is_none() {
                new.status.get_or_insert_with(Default::default).phase = Some(Phase::Failed);
            }
        }
        Phase::WaitingForSync => {
            if deleting {
                remove_finalizer(&mut new, keys::VIRTUAL_MACHINE_INSTANCE_FINALIZER);
                if !owner_vm_exists {
                    remove_finalizer(&mut new, keys::VIRTUAL_MACHINE_CONTROLLER_FINALIZER);
                }
            } else if pod.is_some() {
                new.status.get_or_insert_with(Default::default).phase = Some(Phase::Scheduling);
            }
        }
        // QUIRK (§1.3), reproduced: nothing sets Unknown any more; a VMI in it is left alone.
        Phase::Unknown => {}
    }

    if matches!(old_phase, Phase::Running | Phase::Scheduled) {
        let ops = status_patch(vmi, &new);
        if !ops.is_empty() {
            plan.write = VmiWrite::Patch(Value::Array(ops));
        }
        plan.error = error;
        return plan;
    }

    let status = new.status.get_or_insert_with(Default::default);
    check_failure(status, error.as_ref(), now);
    set_transition_timestamp(old_phase, status, now);
    let changed = vmi.status.clone().unwrap_or_default() != new.status.clone().unwrap_or_default()
        || vmi.metadata.finalizers != new.metadata.finalizers
        || vmi.metadata.annotations != new.metadata.annotations
        || vmi.metadata.labels != new.metadata.labels;
    if changed {
        plan.write = VmiWrite::Update(Box::new(new));
    }
    plan.error = error;
    plan
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status_with(conds: Vec<VirtualMachineInstanceCondition>) -> VirtualMachineInstanceStatus {
        VirtualMachineInstanceStatus {
            conditions: Some(conds),
            ..Default::default()
        }
    }

    #[test]
    fn a_condition_is_replaced_only_when_status_or_reason_change() {
        let t0 = Timestamp::from_second(1_000).unwrap();
        let t1 = Timestamp::from_second(2_000).unwrap();
        let mut s = status_with(vec![condition("Ready", "False", "A", "first", t0)]);
        update_condition(&mut s, condition("Ready", "False", "A", "second", t1));
        assert_eq!(conditions(&s)[0].message.as_deref(), Some("first"));
        update_condition(&mut s, condition("Ready", "False", "B", "third", t1));
        assert_eq!(conditions(&s)[0].message.as_deref(), Some("third"));
        remove_condition(&mut s, "Ready");
        assert_eq!(s.conditions, None, "an empty list is dropped");
    }

    #[test]
    fn field_ops_guard_replacements_with_tests() {
        let ops = field_ops("/status/phase", Some(&"Running"), Some(&"Failed"));
        assert_eq!(ops[0]["op"], "test");
        assert_eq!(ops[0]["value"], "Running");
        assert_eq!(ops[1]["op"], "replace");
        assert_eq!(field_ops::<String>("/x", None, None), Vec::<Value>::new());
        assert_eq!(field_ops("/x", None, Some(&1))[0]["op"], "add");
        assert_eq!(field_ops("/x", Some(&1), None)[1]["op"], "remove");
    }
}
