//! Facts about launcher pods, as upstream's controller helpers read them.

use api::VirtualMachineInstance;
use k8s_openapi::api::core::v1::{Pod, PodCondition};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};

use super::template::COMPUTE_CONTAINER;

/// Container waiting reason of a failed image pull.
pub const ERR_IMAGE_PULL: &str = "ErrImagePull";
/// Container waiting reason of a backed-off image pull.
pub const IMAGE_PULL_BACK_OFF: &str = "ImagePullBackOff";

/// The owner reference marked as controller.
pub fn controller_of(meta: &ObjectMeta) -> Option<&OwnerReference> {
    meta.owner_references
        .iter()
        .flatten()
        .find(|r| r.controller == Some(true))
}

/// Whether the pod's controller is the object with this uid.
pub fn is_controlled_by(pod: &Pod, uid: &str) -> bool {
    controller_of(&pod.metadata).is_some_and(|r| r.uid == uid)
}

fn phase(pod: &Pod) -> &str {
    pod.status
        .as_ref()
        .and_then(|s| s.phase.as_deref())
        .unwrap_or("")
}

/// Succeeded or Failed.
pub fn is_final(pod: &Pod) -> bool {
    matches!(phase(pod), "Succeeded" | "Failed")
}

fn compute_status(pod: &Pod) -> Option<&k8s_openapi::api::core::v1::ContainerStatus> {
    let statuses = pod.status.as_ref()?.container_statuses.as_ref()?;
    statuses.iter().find(|c| c.name == COMPUTE_CONTAINER)
}

fn compute_terminated(pod: &Pod) -> Option<&k8s_openapi::api::core::v1::ContainerStateTerminated> {
    compute_status(pod)?.state.as_ref()?.terminated.as_ref()
}

/// Final, compute container terminated, or being deleted.
pub fn is_down_or_going_down(pod: &Pod) -> bool {
    is_final(pod) || compute_terminated(pod).is_some() || pod.metadata.deletion_timestamp.is_some()
}

/// Failed, compute container terminated with an error, or being deleted.
pub fn is_failed_or_going_down(pod: &Pod) -> bool {
    phase(pod) == "Failed"
        || compute_terminated(pod).is_some_and(|t| t.exit_code != 0)
        || pod.metadata.deletion_timestamp.is_some()
}

/// Ready to be handed to the node agent: Running, not going down, the `compute` container
/// started and every other container ready (`istio-proxy` only needs to run).
pub fn is_ready(pod: &Pod) -> bool {
    if is_down_or_going_down(pod) {
        return false;
    }
    let statuses = pod
        .status
        .as_ref()
        .and_then(|s| s.container_statuses.as_ref());
    for status in statuses.into_iter().flatten() {
        let running = status.state.as_ref().is_some_and(|s| s.running.is_some());
        let ok = match status.name.as_str() {
            COMPUTE_CONTAINER | "istio-proxy" => running,
            _ => status.ready,
        };
        if !ok {
            return false;
        }
    }
    phase(pod) == "Running"
}

/// The pod condition of a type.
pub fn condition<'a>(pod: &'a Pod, type_: &str) -> Option<&'a PodCondition> {
    pod.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == type_)
}

/// The pod's current launcher for `vmi`: the newest pod it controls, restricted to the VMI's
/// node once it has one.
pub fn current_pod<'a>(vmi: &VirtualMachineInstance, pods: &[&'a Pod]) -> Option<&'a Pod> {
    let uid = vmi.metadata.uid.as_deref()?;
    let node = vmi
        .status
        .as_ref()
        .and_then(|s| s.node_name.as_deref())
        .filter(|n| !n.is_empty());
    let mut current: Option<&'a Pod> = None;
    for &pod in pods {
        if !is_controlled_by(pod, uid) {
            continue;
        }
        let pod_node = pod.spec.as_ref().and_then(|s| s.node_name.as_deref());
        if node.is_some() && node != pod_node {
            continue;
        }
        let newer = match current {
            None => true,
            Some(c) => {
                c.metadata.creation_timestamp.as_ref().map(|t| t.0)
                    < pod.metadata.creation_timestamp.as_ref().map(|t| t.0)
            }
        };
        if newer {
            current = Some(pod);
        }
    }
    current
}

/// An image pull problem of any container: its reason and message.
pub fn image_error(pod: &Pod) -> Option<(String, String)> {
    let status = pod.status.as_ref()?;
    let all = status
        .init_container_statuses
        .iter()
        .flatten()
        .chain(status.container_statuses.iter().flatten());
    for container in all {
        let Some(waiting) = container.state.as_ref().and_then(|s| s.waiting.as_ref()) else {
            continue;
        };
        let reason = waiting.reason.as_deref().unwrap_or_default();
        if reason == ERR_IMAGE_PULL || reason == IMAGE_PULL_BACK_OFF {
            return Some((
                reason.to_string(),
                waiting.message.clone().unwrap_or_default(),
            ));
        }
    }
    None
}

/// The image of the `compute` container.
pub fn compute_image(pod: &Pod) -> Option<&str> {
    pod.spec
        .as_ref()?
        .containers
        .iter()
        .find(|c| c.name == COMPUTE_CONTAINER)?
        .image
        .as_deref()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn pod(v: Value) -> Pod {
        serde_json::from_value(v).unwrap()
    }

    fn running(extra: Value) -> Pod {
        let mut p = json!({"metadata": {"name": "p"}, "spec": {"containers": [{"name": "compute"}]},
            "status": {"phase": "Running", "containerStatuses": [
                {"name": "compute", "ready": false, "restartCount": 0, "image": "i", "imageID": "",
                 "state": {"running": {}}}]}});
        if let (Some(p), Some(e)) = (p.as_object_mut(), extra.as_object()) {
            for (k, v) in e {
                p.insert(k.clone(), v.clone());
            }
        }
        pod(p)
    }

    #[test]
    fn running_pod_with_started_compute_container_is_ready() {
        assert!(is_ready(&running(json!({}))));
    }

    #[test]
    fn pending_deleting_or_unstarted_pods_are_not_ready() {
        let pending = pod(json!({"metadata": {"name": "p"}, "status": {"phase": "Pending"}}));
        assert!(!is_ready(&pending));
        let deleting = running(
            json!({"metadata": {"name": "p", "deletionTimestamp": "2024-01-01T00:00:00Z"}}),
        );
        assert!(!is_ready(&deleting) && is_down_or_going_down(&deleting));
        let waiting = running(json!({"status": {"phase": "Running", "containerStatuses": [
            {"name": "compute", "ready": false, "restartCount": 0, "image": "i", "imageID": "",
             "state": {"waiting": {"reason": "ContainerCreating"}}}]}}));
        assert!(!is_ready(&waiting));
        let sidecar = running(json!({"status": {"phase": "Running", "containerStatuses": [
            {"name": "compute", "ready": false, "restartCount": 0, "image": "i", "imageID": "", "state": {"running": {}}},
            {"name": "hook", "ready": false, "restartCount": 0, "image": "i", "imageID": "", "state": {"running": {}}}]}}));
        assert!(!is_ready(&sidecar));
    }

    #[test]
    fn terminated_compute_container_means_down_and_failed_only_on_error() {
        let ok = running(json!({"status": {"phase": "Running", "containerStatuses": [
            {"name": "compute", "ready": false, "restartCount": 0, "image": "i", "imageID": "",
             "state": {"terminated": {"exitCode": 0}}}]}}));
        assert!(is_down_or_going_down(&ok) && !is_failed_or_going_down(&ok));
        let bad = running(json!({"status": {"phase": "Running", "containerStatuses": [
            {"name": "compute", "ready": false, "restartCount": 0, "image": "i", "imageID": "",
             "state": {"terminated": {"exitCode": 2}}}]}}));
        assert!(is_failed_or_going_down(&bad));
    }

    #[test]
    fn image_errors_are_found_in_any_container() {
        let p = pod(
            json!({"metadata": {"name": "p"}, "status": {"phase": "Pending", "initContainerStatuses": [
            {"name": "init", "ready": false, "restartCount": 0, "image": "i", "imageID": "",
             "state": {"waiting": {"reason": "ImagePullBackOff", "message": "Back-off pulling"}}}]}}),
        );
        assert_eq!(
            image_error(&p),
            Some(("ImagePullBackOff".into(), "Back-off pulling".into()))
        );
        assert_eq!(image_error(&running(json!({}))), None);
    }

    #[test]
    fn current_pod_is_the_newest_on_the_vmi_node() {
        let vmi: VirtualMachineInstance = serde_json::from_value(json!({
            "apiVersion": "kubevirt.io/v1", "kind": "VirtualMachineInstance",
            "metadata": {"name": "v", "uid": "u1"}, "spec": {"domain": {"devices": {}}}}))
        .unwrap();
        let mk = |name: &str, uid: &str, created: &str, node: &str| {
            pod(json!({
            "metadata": {"name": name, "creationTimestamp": created,
                         "ownerReferences": [{"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachineInstance",
                                              "name": "v", "uid": uid, "controller": true}]},
            "spec": {"containers": [], "nodeName": node}}))
        };
        let old = mk("old", "u1", "2024-01-01T00:00:00Z", "n1");
        let new = mk("new", "u1", "2024-01-02T00:00:00Z", "n2");
        let other = mk("other", "u2", "2024-01-03T00:00:00Z", "n1");
        let pods = [&old, &new, &other];
        assert_eq!(
            current_pod(&vmi, &pods).unwrap().metadata.name.as_deref(),
            Some("new")
        );
        let mut on_n1 = vmi.clone();
        on_n1.status = Some(api::VirtualMachineInstanceStatus {
            node_name: Some("n1".into()),
            ..Default::default()
        });
        assert_eq!(
            current_pod(&on_n1, &pods).unwrap().metadata.name.as_deref(),
            Some("old")
        );
    }
}
