//! What the node drivers' gateways (virt-api's view of the node) have in common: finding the
//! guest of a VMI on this node with the same checks and errors, the VMI's Paused condition
//! write, and the events the node reports for virt-api's requests.
//!
//! Each driver keeps its own guest records; the functions here take the driver's view of them
//! (is the VMI's node served here, the guest record found by VMI UID, is it running), so the
//! checks, their order and their messages are one.

use api::VirtualMachineInstance;
use api::keys::vmi_condition;
use jiff::Timestamp;
use k8s_openapi::api::core::v1::ObjectReference;
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::events::{Event, EventType, Recorder};
use serde_json::{Value, json};
use virt_api::node::NodeError;

use crate::simulated::vmi::{paused_condition, remove_condition, set_condition};

/// The answer about a VMI whose guest exists on this node but does not run.
pub const NOT_RUNNING: &str = "VMI is not running";
/// The answer of operations a paused guest cannot serve.
pub const PAUSED: &str = "VMI is paused";
/// The reason of the event a reset of a guest reports (as upstream virt-handler).
pub const RESET_REASON: &str = "Reset";
/// The note of the event a reset of a guest reports (as upstream virt-handler).
pub const RESET_NOTE: &str = "VirtualMachineInstance reset";

/// Conflicting writes retried before giving up.
const WRITE_ATTEMPTS: usize = 5;

/// The node the VMI's status names (empty when it names none).
pub fn node_of(vmi: &VirtualMachineInstance) -> &str {
    vmi.status
        .as_ref()
        .and_then(|s| s.node_name.as_deref())
        .unwrap_or_default()
}

/// The VMI's UID (empty when it has none).
pub fn uid_of(vmi: &VirtualMachineInstance) -> &str {
    vmi.metadata.uid.as_deref().unwrap_or_default()
}

/// [`NodeError::Unavailable`]: the VMI's guest is not on `place` (e.g. "this node").
pub fn not_here(vmi: &VirtualMachineInstance, place: &str) -> NodeError {
    NodeError::Unavailable(format!(
        "VMI {}/{} does not run on {place}",
        vmi.metadata.namespace.as_deref().unwrap_or_default(),
        vmi.metadata.name.as_deref().unwrap_or_default()
    ))
}

/// [`NodeError::Failed`] with the error's message.
pub fn failed(e: impl std::fmt::Display) -> NodeError {
    NodeError::Failed(e.to_string())
}

/// The guest record of `vmi`, checked in upstream's order: the VMI's node must be served here
/// (`on_this_node`), the driver must know its guest (`guest`, looked up by VMI UID), and the
/// guest must run (`running`, paused or not).
///
/// Errors: [`not_here`] for the first two, [`NOT_RUNNING`] (failed) for the last.
pub fn running_guest<G>(
    vmi: &VirtualMachineInstance,
    place: &str,
    on_this_node: bool,
    guest: Option<G>,
    running: impl FnOnce(&G) -> bool,
) -> Result<G, NodeError> {
    if !on_this_node {
        return Err(not_here(vmi, place));
    }
    let guest = guest.ok_or_else(|| not_here(vmi, place))?;
    if !running(&guest) {
        return Err(NodeError::Failed(NOT_RUNNING.into()));
    }
    Ok(guest)
}

/// Refuses operations a paused guest cannot serve (soft reboot).
pub fn refuse_paused(paused: bool) -> Result<(), NodeError> {
    if paused {
        Err(NodeError::Failed(PAUSED.into()))
    } else {
        Ok(())
    }
}

/// What a Paused condition write does when the VMI it was asked about changed meanwhile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WhenGone {
    /// Nothing to write when the VMI was replaced by another of the same name or is final.
    Skip,
    /// Fail with this error when the VMI was replaced by another of the same name.
    Fail(NodeError),
}

/// The merge patch that sets (`paused`) or removes the Paused condition of `current`, guarded
/// by its resourceVersion; `None` when the conditions are already as asked.
pub fn paused_condition_patch(
    current: &VirtualMachineInstance,
    paused: bool,
    now: Timestamp,
) -> Option<Value> {
    let old = current
        .status
        .as_ref()
        .and_then(|s| s.conditions.clone())
        .unwrap_or_default();
    let mut conditions = old.clone();
    if paused {
        set_condition(&mut conditions, paused_condition(now));
    } else {
        remove_condition(&mut conditions, vmi_condition::PAUSED);
    }
    (conditions != old).then(|| {
        json!({
            "metadata": {"resourceVersion": current.metadata.resource_version},
            "status": {"conditions": conditions},
        })
    })
}

/// Sets or removes the Paused condition of `vmi` (guarded by resourceVersion, retried on
/// conflicts), so that it is there when virt-api answers.
pub async fn write_paused_condition(
    client: &kube::Client,
    vmi: &VirtualMachineInstance,
    paused: bool,
    when_gone: WhenGone,
) -> Result<(), NodeError> {
    let ns = vmi.metadata.namespace.as_deref().unwrap_or_default();
    let name = vmi.metadata.name.as_deref().unwrap_or_default();
    let api: Api<VirtualMachineInstance> = Api::namespaced(client.clone(), ns);
    for _ in 0..WRITE_ATTEMPTS {
        let current = api.get(name).await.map_err(failed)?;
        let replaced = current.metadata.uid != vmi.metadata.uid;
        match &when_gone {
            WhenGone::Skip if replaced || current.is_final() => return Ok(()),
            WhenGone::Fail(e) if replaced => return Err(e.clone()),
            _ => {}
        }
        let Some(body) = paused_condition_patch(&current, paused, Timestamp::now()) else {
            return Ok(());
        };
        match api
            .patch(name, &PatchParams::default(), &Patch::Merge(body))
            .await
        {
            Ok(_) => return Ok(()),
            Err(kube::Error::Api(e)) if e.code == 409 => continue,
            Err(e) => return Err(failed(e)),
        }
    }
    Err(NodeError::Failed(
        "the VMI kept changing; the Paused condition was not written".into(),
    ))
}

/// The event reference of a VMI.
pub fn vmi_reference(namespace: &str, name: &str, uid: &str) -> ObjectReference {
    ObjectReference {
        api_version: Some(format!("{}/{}", api::keys::GROUP, api::keys::VERSION)),
        kind: Some("VirtualMachineInstance".into()),
        name: Some(name.to_owned()),
        namespace: Some(namespace.to_owned()),
        uid: Some(uid.to_owned()),
        ..Default::default()
    }
}

/// A Normal event about a node operation (`reason` doubles as the action).
pub fn normal_event(reason: &str, note: &str) -> Event {
    Event {
        type_: EventType::Normal,
        reason: reason.into(),
        note: Some(note.into()),
        action: reason.into(),
        secondary: None,
    }
}

/// Reports `event` about `vmi`; a failure to report is logged, never returned: the operation
/// itself succeeded.
pub async fn report(recorder: &Recorder, vmi: &VirtualMachineInstance, event: &Event) {
    let reference = vmi_reference(
        vmi.metadata.namespace.as_deref().unwrap_or_default(),
        vmi.metadata.name.as_deref().unwrap_or_default(),
        uid_of(vmi),
    );
    if let Err(e) = recorder.publish(event, &reference).await {
        tracing::warn!(error = %e, reason = %event.reason, vmi = ?reference.name, "cannot report event");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use api::{
        VirtualMachineInstanceCondition, VirtualMachineInstanceSpec, VirtualMachineInstanceStatus,
    };

    fn vmi(node: Option<&str>) -> VirtualMachineInstance {
        let mut vmi = VirtualMachineInstance::new("vm1", VirtualMachineInstanceSpec::default());
        vmi.metadata.namespace = Some("ns".into());
        vmi.metadata.uid = Some("uid-1".into());
        vmi.metadata.resource_version = Some("7".into());
        vmi.status = Some(VirtualMachineInstanceStatus {
            node_name: node.map(Into::into),
            ..Default::default()
        });
        vmi
    }

    #[test]
    fn a_vmi_names_its_node_and_uid() {
        assert_eq!(node_of(&vmi(Some("node01"))), "node01");
        assert_eq!(node_of(&vmi(None)), "");
        assert_eq!(uid_of(&vmi(None)), "uid-1");
    }

    #[test]
    fn the_guest_is_checked_for_node_presence_and_running_in_that_order() {
        let v = vmi(Some("node01"));
        let here = "this node";
        let gone = Err(NodeError::Unavailable(
            "VMI ns/vm1 does not run on this node".into(),
        ));
        // Another node: the guest record is not even looked at.
        assert_eq!(running_guest(&v, here, false, Some(1), |_| true), gone);
        assert_eq!(running_guest::<u8>(&v, here, true, None, |_| true), gone);
        assert_eq!(
            running_guest(&v, here, true, Some(1), |_| false),
            Err(NodeError::Failed(NOT_RUNNING.into()))
        );
        assert_eq!(running_guest(&v, here, true, Some(1), |g| *g == 1), Ok(1));
    }

    #[test]
    fn paused_guests_are_refused() {
        assert_eq!(refuse_paused(true), Err(NodeError::Failed(PAUSED.into())));
        assert_eq!(refuse_paused(false), Ok(()));
    }

    #[test]
    fn the_paused_condition_patch_is_guarded_and_skipped_when_nothing_changes() {
        let now = Timestamp::from_second(1_700_000_000).unwrap();
        let mut v = vmi(Some("node01"));
        let patch = paused_condition_patch(&v, true, now).expect("a condition to add");
        assert_eq!(patch["metadata"]["resourceVersion"], "7");
        assert_eq!(patch["status"]["conditions"][0]["type"], "Paused");
        assert_eq!(patch["status"]["conditions"][0]["status"], "True");
        assert_eq!(paused_condition_patch(&v, false, now), None);

        v.status.as_mut().unwrap().conditions = Some(vec![
            paused_condition(now),
            VirtualMachineInstanceCondition {
                type_: "Ready".into(),
                status: "True".into(),
                ..Default::default()
            },
        ]);
        assert_eq!(paused_condition_patch(&v, true, now), None);
        let removed = paused_condition_patch(&v, false, now).expect("a condition to remove");
        let kept = removed["status"]["conditions"].as_array().unwrap();
        assert_eq!(kept.len(), 1);
        assert_eq!(kept[0]["type"], "Ready");
    }

    #[test]
    fn events_name_the_vmi_and_reuse_the_reason_as_action() {
        let reference = vmi_reference("ns", "vm1", "uid-1");
        assert_eq!(reference.kind.as_deref(), Some("VirtualMachineInstance"));
        assert_eq!(reference.api_version.as_deref(), Some("kubevirt.io/v1"));
        let event = normal_event(RESET_REASON, RESET_NOTE);
        assert_eq!(
            (event.reason.as_str(), event.action.as_str()),
            ("Reset", "Reset")
        );
        assert_eq!(event.note.as_deref(), Some("VirtualMachineInstance reset"));
        assert!(matches!(event.type_, EventType::Normal));
    }
}
