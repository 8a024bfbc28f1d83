//! The node heartbeat decisions as pure functions.
//!
//! A node is unresponsive when it no longer exists, or when its `kubevirt.io/heartbeat`
//! annotation (refreshed by the node agent) is older than the timeout; a node without the
//! annotation is not judged. An unresponsive node labelled `kubevirt.io/schedulable: "true"`
//! is relabelled `"false"`, which keeps new launcher pods away (they select on the label). Its
//! Scheduled and Running VMIs whose launcher pod is no longer alive are moved to Failed with
//! `status.reason: NodeUnresponsive`.

use std::collections::HashSet;
use std::time::Duration;

use api::keys;
use api::{VirtualMachineInstance, VirtualMachineInstancePhase as Phase};
use jiff::Timestamp;
use k8s_openapi::api::core::v1::{Node, Pod};
use serde_json::{Value, json};

use crate::vmi::pod::controller_of;

/// Node annotation holding the last heartbeat of the node agent (RFC 3339).
pub const HEARTBEAT_ANNOTATION: &str = "kubevirt.io/heartbeat";
/// Reason of the events and of `status.reason` when a node stops responding.
pub const NODE_UNRESPONSIVE: &str = "NodeUnresponsive";

/// A heartbeat annotation that is not a timestamp.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the heartbeat {0:?} is not an RFC 3339 time")]
pub struct HeartbeatError(pub String);

/// Whether the node agent of `node` stopped responding.
pub fn is_unresponsive(
    node: Option<&Node>,
    timeout: Duration,
    now: Timestamp,
) -> Result<bool, HeartbeatError> {
    let Some(node) = node else { return Ok(true) };
    let Some(beat) = node
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(HEARTBEAT_ANNOTATION))
    else {
        return Ok(false);
    };
    let at: Timestamp = beat.parse().map_err(|_| HeartbeatError(beat.clone()))?;
    let timeout = jiff::SignedDuration::try_from(timeout).unwrap_or(jiff::SignedDuration::MAX);
    Ok(at < now.checked_sub(timeout).unwrap_or(now))
}

/// Whether the node is labelled schedulable for VMIs.
pub fn is_schedulable(node: Option<&Node>) -> bool {
    node.and_then(|n| n.metadata.labels.as_ref())
        .and_then(|l| l.get(keys::NODE_SCHEDULABLE_LABEL))
        .is_some_and(|v| v == "true")
}

/// The merge patch that marks a node unschedulable for VMIs.
pub fn unschedulable_patch() -> Value {
    json!({"metadata": {"labels": {keys::NODE_SCHEDULABLE_LABEL: "false"}}})
}

/// The JSON patch that fails a VMI of an unresponsive node.
pub fn failed_patch() -> Value {
    json!([
        {"op": "replace", "path": "/status/phase", "value": "Failed"},
        {"op": "add", "path": "/status/reason", "value": NODE_UNRESPONSIVE},
    ])
}

/// Scheduled and Running VMIs labelled with the node.
pub fn active_vmis_on<'a>(
    node: &str,
    vmis: &[&'a VirtualMachineInstance],
) -> Vec<&'a VirtualMachineInstance> {
    vmis.iter()
        .copied()
        .filter(|v| {
            v.metadata
                .labels
                .as_ref()
                .and_then(|l| l.get(keys::NODE_NAME_LABEL))
                .is_some_and(|n| n == node)
        })
        .filter(|v| matches!(v.phase(), Phase::Running | Phase::Scheduled))
        .collect()
}

/// A VMI's pod that still runs: not final and not every container terminated.
pub fn is_alive(pod: &Pod) -> bool {
    if controller_of(&pod.metadata).is_none_or(|r| r.kind != "VirtualMachineInstance") {
        return false;
    }
    let status = pod.status.as_ref();
    let containers = status
        .and_then(|s| s.container_statuses.as_deref())
        .unwrap_or_default();
    let all_terminated = !containers.is_empty()
        && containers
            .iter()
            .all(|c| c.state.as_ref().is_some_and(|s| s.terminated.is_some()));
    let phase = status.and_then(|s| s.phase.as_deref()).unwrap_or_default();
    !all_terminated && phase != "Failed" && phase != "Succeeded"
}

/// VMIs with no alive pod among `pods` (the pods of the node).
pub fn without_alive_pods<'a>(
    vmis: &[&'a VirtualMachineInstance],
    pods: &[&Pod],
) -> Vec<&'a VirtualMachineInstance> {
    let alive: HashSet<(String, String)> = pods
        .iter()
        .filter(|p| is_alive(p))
        .filter_map(|p| {
            let owner = controller_of(&p.metadata)?;
            Some((
                p.metadata.namespace.clone().unwrap_or_default(),
                owner.uid.clone(),
            ))
        })
        .collect();
    vmis.iter()
        .copied()
        .filter(|v| {
            let key = (
                v.metadata.namespace.clone().unwrap_or_default(),
                v.metadata.uid.clone().unwrap_or_default(),
            );
            !alive.contains(&key)
        })
        .collect()
}
