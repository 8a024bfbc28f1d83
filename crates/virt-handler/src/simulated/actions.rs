//! What a planning pass asks the executor to do through the API.

use serde_json::Value;

/// Namespace, name and UID of an object (the UID guards against acting on a successor with the
/// same name).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ObjectKey {
    pub namespace: String,
    pub name: String,
    pub uid: String,
}

impl ObjectKey {
    pub fn of(meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta) -> ObjectKey {
        ObjectKey {
            namespace: meta.namespace.clone().unwrap_or_default(),
            name: meta.name.clone().unwrap_or_default(),
            uid: meta.uid.clone().unwrap_or_default(),
        }
    }
}

/// An event about a VMI, reported by the node agent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventSpec {
    pub warning: bool,
    pub reason: &'static str,
    pub message: &'static str,
}

pub const EVENT_STARTED: EventSpec = EventSpec {
    warning: false,
    reason: "Started",
    message: "VirtualMachineInstance started.",
};
pub const EVENT_SHUT_DOWN: EventSpec = EventSpec {
    warning: false,
    reason: "Stopped",
    message: "The VirtualMachineInstance was shut down.",
};
pub const EVENT_CRASHED: EventSpec = EventSpec {
    warning: true,
    reason: "Stopped",
    message: "The VirtualMachineInstance crashed.",
};
pub const EVENT_SHUTTING_DOWN: EventSpec = EventSpec {
    warning: false,
    reason: "ShuttingDown",
    message: "Signaled Graceful Shutdown",
};
pub const EVENT_DELETED: EventSpec = EventSpec {
    warning: false,
    reason: "Deleted",
    message: "VirtualMachineInstance stopping",
};

/// One write through the API.
#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    /// Set `spec.nodeName` (guarded by the observed resourceVersion), then merge-patch `status`
    /// into the status subresource (guarded by the version the bind produced) to record
    /// PodScheduled=True.
    Bind {
        pod: ObjectKey,
        resource_version: String,
        node: String,
        status: Value,
    },
    /// Merge patch of the pod's status subresource; the body carries the observed
    /// resourceVersion as a precondition and whole lists (conditions, container statuses).
    PodStatus {
        pod: ObjectKey,
        resource_version: String,
        body: Value,
    },
    /// Delete the pod with grace period 0, guarded by its UID.
    DeletePod {
        pod: ObjectKey,
        resource_version: String,
    },
    /// Merge patch of the VMI (the body carries the observed resourceVersion as a
    /// precondition); `events` are reported by the agent of `node` once it succeeded.
    VmiStatus {
        vmi: ObjectKey,
        resource_version: String,
        node: String,
        body: Value,
        events: Vec<EventSpec>,
    },
    /// An event on a VMI, reported by the agent of `node`.
    Event {
        vmi: ObjectKey,
        node: String,
        event: EventSpec,
    },
}

impl Action {
    /// The object written and the resourceVersion it was planned from (`None` for events,
    /// which are never deduplicated).
    pub fn target(&self) -> Option<(&str, &str)> {
        match self {
            Action::Bind {
                pod,
                resource_version,
                ..
            }
            | Action::PodStatus {
                pod,
                resource_version,
                ..
            }
            | Action::DeletePod {
                pod,
                resource_version,
            } => Some((&pod.uid, resource_version)),
            Action::VmiStatus {
                vmi,
                resource_version,
                ..
            } => Some((&vmi.uid, resource_version)),
            Action::Event { .. } => None,
        }
    }
}

/// FNV-1a over the parts, separated; for stable fake identifiers (MACs, container IDs).
pub fn stable_hash(parts: &[&str]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for b in part.bytes().chain([0]) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    h
}
