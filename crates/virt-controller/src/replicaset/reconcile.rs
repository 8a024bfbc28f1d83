//! The VirtualMachineInstanceReplicaSet decisions as pure functions: spec validation, claiming
//! VMIs by selector, partitioning them, the burst-limited scale step and the status.

use api::keys::{condition_status, replica_set_condition, vmi_condition};
use api::{
    VirtualMachineInstance, VirtualMachineInstanceReplicaSet,
    VirtualMachineInstanceReplicaSetCondition, VirtualMachineInstanceReplicaSetStatus,
};
use apiserver::selector::LabelSelector;
use jiff::Timestamp;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference, Time};
use serde_json::{Value, json};

use crate::vmi::pod::controller_of;

/// Kind of the owner references this controller writes.
pub const KIND: &str = "VirtualMachineInstanceReplicaSet";

/// A spec the controller cannot act on; the key is dropped without retry.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SpecError {
    #[error("the replica set has no template")]
    NoTemplate,
    #[error("the template has no labels")]
    NoTemplateLabels,
    #[error("invalid selector: {0}")]
    Selector(String),
    #[error("the selector does not match the template labels")]
    SelectorMismatch,
}

/// The selector of a replica set whose spec is usable.
pub fn validate(rs: &VirtualMachineInstanceReplicaSet) -> Result<LabelSelector, SpecError> {
    let template = rs
        .spec
        .template
        .metadata
        .as_ref()
        .ok_or(SpecError::NoTemplate)?;
    if rs.spec.template.spec.is_none() {
        return Err(SpecError::NoTemplate);
    }
    let labels = template.labels.clone().unwrap_or_default();
    if labels.is_empty() {
        return Err(SpecError::NoTemplateLabels);
    }
    let json = serde_json::to_value(&rs.spec.selector).unwrap_or(Value::Null);
    let selector =
        LabelSelector::from_json(&json).map_err(|e| SpecError::Selector(e.to_string()))?;
    if !selector.matches_labels(&labels) {
        return Err(SpecError::SelectorMismatch);
    }
    Ok(selector)
}

/// The controller owner reference of a replica set.
pub fn owner_reference(rs: &VirtualMachineInstanceReplicaSet) -> OwnerReference {
    OwnerReference {
        api_version: "kubevirt.io/v1".into(),
        kind: KIND.into(),
        name: rs.metadata.name.clone().unwrap_or_default(),
        uid: rs.metadata.uid.clone().unwrap_or_default(),
        controller: Some(true),
        block_owner_deletion: Some(true),
    }
}

/// The merge patch that makes the replica set the only owner of a VMI.
pub fn adopt_patch(rs: &VirtualMachineInstanceReplicaSet, vmi: &VirtualMachineInstance) -> Value {
    json!({"metadata": {"ownerReferences": [owner_reference(rs)], "uid": vmi.metadata.uid}})
}

/// The merge patch that frees a VMI from its owners.
pub fn release_patch() -> Value {
    json!({"metadata": {"ownerReferences": []}})
}

/// What claiming decided for the namespace's VMIs.
#[derive(Debug, Default)]
pub struct Claim<'a> {
    /// Owned and matching.
    pub owned: Vec<&'a VirtualMachineInstance>,
    /// Orphans that match: owned once adopted.
    pub adopt: Vec<&'a VirtualMachineInstance>,
    /// Owned but no longer matching.
    pub release: Vec<&'a VirtualMachineInstance>,
}

/// Sorts the namespace's VMIs into owned, to adopt and to release.
pub fn claim<'a>(
    rs: &VirtualMachineInstanceReplicaSet,
    selector: &LabelSelector,
    vmis: &[&'a VirtualMachineInstance],
) -> Claim<'a> {
    let uid = rs.metadata.uid.as_deref().unwrap_or_default();
    let deleting = rs.metadata.deletion_timestamp.is_some();
    let matches = |v: &VirtualMachineInstance| {
        selector.matches_labels(&v.metadata.labels.clone().unwrap_or_default())
    };
    let mut claim = Claim::default();
    for &vmi in vmis {
        match controller_of(&vmi.metadata) {
            Some(owner) if owner.uid != uid => {}
            Some(_) if matches(vmi) => claim.owned.push(vmi),
            Some(_) if !deleting => claim.release.push(vmi),
            Some(_) => {}
            None if deleting || !matches(vmi) || vmi.metadata.deletion_timestamp.is_some() => {}
            None => claim.adopt.push(vmi),
        }
    }
    claim
}

fn pod_terminating(vmi: &VirtualMachineInstance) -> bool {
    vmi.status
        .iter()
        .flat_map(|s| s.conditions.iter().flatten())
        .any(|c| {
            c.type_ == vmi_condition::READY
                && c.status == condition_status::FALSE
                && c.reason.as_deref() == Some(vmi_condition::REASON_POD_TERMINATING)
        })
}

/// Owned VMIs by state.
#[derive(Debug, Default)]
pub struct Partitions<'a> {
    /// Not final, not deleting, pod not terminating: these count as replicas.
    pub active: Vec<&'a VirtualMachineInstance>,
    /// Final and not deleting: deleted after a successful scale step.
    pub finished: Vec<&'a VirtualMachineInstance>,
    /// Not final, not deleting, pod terminating: replaced at once, then deleted.
    pub unknown: Vec<&'a VirtualMachineInstance>,
}

/// Splits owned VMIs, keeping their order.
pub fn partition<'a>(owned: &[&'a VirtualMachineInstance]) -> Partitions<'a> {
    let mut p = Partitions::default();
    for &vmi in owned {
        if vmi.metadata.deletion_timestamp.is_some() {
            continue;
        }
        if vmi.is_final() {
            p.finished.push(vmi);
        } else if pod_terminating(vmi) {
            p.unknown.push(vmi);
        } else {
            p.active.push(vmi);
        }
    }
    p
}

/// Wanted replicas (1 when unset).
pub fn wanted(rs: &VirtualMachineInstanceReplicaSet) -> i64 {
    i64::from(rs.spec.replicas.unwrap_or(1))
}

/// Active VMIs minus wanted replicas.
pub fn diff(rs: &VirtualMachineInstanceReplicaSet, active: usize) -> i64 {
    active as i64 - wanted(rs)
}

/// One scale step.
#[derive(Debug, PartialEq)]
pub enum ScaleStep<'a> {
    Nothing,
    /// Create this many VMIs from the template.
    Create(usize),
    /// Delete these VMIs (the first active ones, in order).
    Delete(Vec<&'a VirtualMachineInstance>),
}

/// The scale step: at most `burst` creations or deletions.
pub fn scale_step<'a>(
    rs: &VirtualMachineInstanceReplicaSet,
    active: &[&'a VirtualMachineInstance],
    burst: usize,
) -> ScaleStep<'a> {
    let diff = diff(rs, active.len());
    let n = (diff.unsigned_abs() as usize).min(burst);
    match diff {
        0 => ScaleStep::Nothing,
        d if d > 0 => ScaleStep::Delete(active[..n].to_vec()),
        _ => ScaleStep::Create(n),
    }
}

/// Finished and unknown VMIs to delete after a successful scale step (at most `burst`).
pub fn cleanup<'a>(p: &Partitions<'a>, burst: usize) -> Vec<&'a VirtualMachineInstance> {
    p.finished
        .iter()
        .chain(p.unknown.iter())
        .take(burst)
        .copied()
        .collect()
}

/// `generateName` of new VMIs: the template name, else its generateName, else the replica
/// set name. Like upstream, no dash is appended (`foo` creates `fooab12c`).
pub fn base_name(rs: &VirtualMachineInstanceReplicaSet) -> String {
    let meta = rs.spec.template.metadata.as_ref();
    let non_empty = |s: Option<&String>| s.filter(|s| !s.is_empty()).cloned();
    non_empty(meta.and_then(|m| m.name.as_ref()))
        .or_else(|| non_empty(meta.and_then(|m| m.generate_name.as_ref())))
        .unwrap_or_else(|| rs.metadata.name.clone().unwrap_or_default())
}

/// A new VMI from the template, owned by the replica set.
pub fn new_vmi(rs: &VirtualMachineInstanceReplicaSet) -> VirtualMachineInstance {
    let template = rs.spec.template.metadata.clone().unwrap_or_default();
    let metadata = ObjectMeta {
        name: None,
        generate_name: Some(base_name(rs)),
        namespace: rs.metadata.namespace.clone(),
        labels: template.labels.clone(),
        owner_references: Some(vec![owner_reference(rs)]),
        uid: None,
        resource_version: None,
        creation_timestamp: None,
        ..template
    };
    VirtualMachineInstance {
        metadata,
        spec: rs.spec.template.spec.clone().unwrap_or_default(),
        status: None,
    }
}

fn has_condition(status: &VirtualMachineInstanceReplicaSetStatus, type_: &str) -> bool {
    status.conditions.iter().flatten().any(|c| c.type_ == type_)
}

fn remove_condition(status: &mut VirtualMachineInstanceReplicaSetStatus, type_: &str) {
    if let Some(list) = status.conditions.as_mut() {
        list.retain(|c| c.type_ != type_);
        if list.is_empty() {
            status.conditions = None;
        }
    }
}

fn add_condition(
    status: &mut VirtualMachineInstanceReplicaSetStatus,
    type_: &str,
    reason: &str,
    message: &str,
    now: Timestamp,
) {
    status.conditions.get_or_insert_with(Vec::new).push(
        VirtualMachineInstanceReplicaSetCondition {
            type_: type_.into(),
            status: condition_status::TRUE.into(),
            last_probe_time: None,
            last_transition_time: Some(Time(now)),
            reason: Some(reason.into()),
            message: Some(message.into()),
        },
    );
}

/// Whether a VMI has Ready=True.
pub fn is_ready(vmi: &VirtualMachineInstance) -> bool {
    vmi.status
        .iter()
        .flat_map(|s| s.conditions.iter().flatten())
        .any(|c| c.type_ == vmi_condition::READY && c.status == condition_status::TRUE)
}

/// The status after a pass, or `None` when it is unchanged.
///
/// `scale_error` is the first error of the scale step; `diff` is computed before scaling.
pub fn next_status(
    rs: &VirtualMachineInstanceReplicaSet,
    selector: &LabelSelector,
    active: &[&VirtualMachineInstance],
    scale_error: Option<&str>,
    now: Timestamp,
) -> Option<VirtualMachineInstanceReplicaSetStatus> {
    let old = rs.status.clone().unwrap_or_default();
    let mut new = old.clone();
    let count = |n: usize| Some(n as i32).filter(|n| *n != 0);
    new.replicas = count(active.len());
    new.ready_replicas = count(active.iter().filter(|v| is_ready(v)).count());
    new.label_selector = Some(selector.to_string()).filter(|s| !s.is_empty());
    let paused = rs.spec.paused.unwrap_or(false);
    let paused_type = replica_set_condition::REPLICA_PAUSED;
    if paused && !has_condition(&new, paused_type) {
        add_condition(
            &mut new,
            paused_type,
            replica_set_condition::REASON_PAUSED,
            replica_set_condition::MESSAGE_PAUSED,
            now,
        );
    } else if !paused {
        remove_condition(&mut new, paused_type);
    }
    let failure_type = replica_set_condition::REPLICA_FAILURE;
    match scale_error {
        Some(message) if !has_condition(&new, failure_type) => {
            let reason = if diff(rs, active.len()) < 0 {
                replica_set_condition::REASON_FAILED_CREATE
            } else {
                replica_set_condition::REASON_FAILED_DELETE
            };
            add_condition(&mut new, failure_type, reason, message, now);
        }
        Some(_) => {}
        None => remove_condition(&mut new, failure_type),
    }
    (new != old).then_some(new)
}

/// The event after a status write that changed the paused state.
pub fn pause_event(rs: &VirtualMachineInstanceReplicaSet) -> Option<(&'static str, &'static str)> {
    let status = rs.status.clone().unwrap_or_default();
    let paused = rs.spec.paused.unwrap_or(false);
    match (
        paused,
        has_condition(&status, replica_set_condition::REPLICA_PAUSED),
    ) {
        (true, false) => Some(("SuccessfulPaused", "Paused")),
        (false, true) => Some(("SuccessfulResumed", "Resumed")),
        _ => None,
    }
}
