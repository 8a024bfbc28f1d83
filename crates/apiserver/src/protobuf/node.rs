//! `core/v1` Node: spec (unschedulable, taints, CIDRs) and the status a node agent reports.

use super::core_v1::RESOURCE_LIST;
use super::meta::OBJECT_META;
use super::schema::{Field as F, Kind as K, Message};

pub static NODE: Message = Message {
    name: "Node",
    fields: &[
        F::new(1, "metadata", K::Message(&OBJECT_META)),
        F::new(2, "spec", K::Message(&NODE_SPEC)),
        F::new(3, "status", K::Message(&NODE_STATUS)),
    ],
};

static NODE_SPEC: Message = Message {
    name: "NodeSpec",
    fields: &[
        F::new(1, "podCIDR", K::String),
        F::new(7, "podCIDRs", K::String).repeated(),
        F::new(3, "providerID", K::String),
        F::new(4, "unschedulable", K::Bool),
        F::new(5, "taints", K::Message(&TAINT)).repeated(),
        F::new(2, "externalID", K::String),
    ],
};

static TAINT: Message = Message {
    name: "Taint",
    fields: &[
        F::new(1, "key", K::String).always(),
        F::new(2, "value", K::String),
        F::new(3, "effect", K::String).always(),
        F::new(4, "timeAdded", K::Time),
    ],
};

static NODE_STATUS: Message = Message {
    name: "NodeStatus",
    fields: &[
        F::new(1, "capacity", RESOURCE_LIST),
        F::new(2, "allocatable", RESOURCE_LIST),
        F::new(3, "phase", K::String),
        F::new(4, "conditions", K::Message(&NODE_CONDITION)).repeated(),
        F::new(5, "addresses", K::Message(&NODE_ADDRESS)).repeated(),
        F::new(6, "daemonEndpoints", K::Message(&NODE_DAEMON_ENDPOINTS)),
        F::new(7, "nodeInfo", K::Message(&NODE_SYSTEM_INFO)),
        F::new(8, "images", K::Message(&CONTAINER_IMAGE)).repeated(),
        F::new(9, "volumesInUse", K::String).repeated(),
        F::new(10, "volumesAttached", K::Message(&ATTACHED_VOLUME)).repeated(),
    ],
};

static NODE_CONDITION: Message = Message {
    name: "NodeCondition",
    fields: &[
        F::new(1, "type", K::String).always(),
        F::new(2, "status", K::String).always(),
        F::new(3, "lastHeartbeatTime", K::Time),
        F::new(4, "lastTransitionTime", K::Time),
        F::new(5, "reason", K::String),
        F::new(6, "message", K::String),
    ],
};

static NODE_ADDRESS: Message = Message {
    name: "NodeAddress",
    fields: &[
        F::new(1, "type", K::String).always(),
        F::new(2, "address", K::String).always(),
    ],
};

static NODE_DAEMON_ENDPOINTS: Message = Message {
    name: "NodeDaemonEndpoints",
    fields: &[F::new(1, "kubeletEndpoint", K::Message(&DAEMON_ENDPOINT))],
};

// The JSON name really is capitalised, for compatibility with early releases.
static DAEMON_ENDPOINT: Message = Message {
    name: "DaemonEndpoint",
    fields: &[F::new(1, "Port", K::Int32).always()],
};

static NODE_SYSTEM_INFO: Message = Message {
    name: "NodeSystemInfo",
    fields: &[
        F::new(1, "machineID", K::String).always(),
        F::new(2, "systemUUID", K::String).always(),
        F::new(3, "bootID", K::String).always(),
        F::new(4, "kernelVersion", K::String).always(),
        F::new(5, "osImage", K::String).always(),
        F::new(6, "containerRuntimeVersion", K::String).always(),
        F::new(7, "kubeletVersion", K::String).always(),
        F::new(8, "kubeProxyVersion", K::String).always(),
        F::new(9, "operatingSystem", K::String).always(),
        F::new(10, "architecture", K::String).always(),
    ],
};

static CONTAINER_IMAGE: Message = Message {
    name: "ContainerImage",
    fields: &[
        F::new(1, "names", K::String).repeated(),
        F::new(2, "sizeBytes", K::Int64),
    ],
};

static ATTACHED_VOLUME: Message = Message {
    name: "AttachedVolume",
    fields: &[
        F::new(1, "name", K::String).always(),
        F::new(2, "devicePath", K::String).always(),
    ],
};

#[cfg(test)]
mod tests {
    use super::super::schema::decode_message;
    use super::super::testenc::{Enc, new_meta, time};
    use super::*;
    use serde_json::{Value, json};

    #[test]
    fn a_cordoned_tainted_node_with_status_decodes() {
        let spec = Enc::new()
            .string(1, "10.244.0.0/24")
            .string(7, "10.244.0.0/24")
            .int(4, 1)
            .msg(
                5,
                Enc::new()
                    .string(1, "node.kubernetes.io/unschedulable")
                    .string(3, "NoSchedule")
                    .msg(4, time(1_700_000_000, 0)),
            );
        let info = Enc::new()
            .string(4, "6.8.0")
            .string(9, "linux")
            .string(10, "amd64");
        let status = Enc::new()
            .msg_entry(1, "cpu", Enc::new().string(1, "4"))
            .msg_entry(2, "devices.kubevirt.io/kvm", Enc::new().string(1, "1k"))
            .msg(
                4,
                Enc::new()
                    .string(1, "Ready")
                    .string(2, "True")
                    .msg(3, time(1_700_000_000, 0))
                    .string(5, "KubeletReady"),
            )
            .msg(
                5,
                Enc::new().string(1, "InternalIP").string(2, "192.0.2.10"),
            )
            .msg(6, Enc::new().msg(1, Enc::new().int(1, 10250)))
            .msg(7, info);
        let e = Enc::new()
            .msg(1, new_meta("n1", ""))
            .msg(2, spec)
            .msg(3, status);
        let v = Value::Object(decode_message(&NODE, &e.build()).expect("decodes"));
        assert_eq!(
            v,
            json!({
                "metadata": {"name": "n1"},
                "spec": {"podCIDR": "10.244.0.0/24", "podCIDRs": ["10.244.0.0/24"], "unschedulable": true,
                    "taints": [{"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule",
                        "timeAdded": "2023-11-14T22:13:20Z"}]},
                "status": {
                    "capacity": {"cpu": "4"}, "allocatable": {"devices.kubevirt.io/kvm": "1k"},
                    "conditions": [{"type": "Ready", "status": "True", "lastHeartbeatTime": "2023-11-14T22:13:20Z",
                        "reason": "KubeletReady"}],
                    "addresses": [{"type": "InternalIP", "address": "192.0.2.10"}],
                    "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
                    "nodeInfo": {"machineID": "", "systemUUID": "", "bootID": "", "kernelVersion": "6.8.0",
                        "osImage": "", "containerRuntimeVersion": "", "kubeletVersion": "", "kubeProxyVersion": "",
                        "operatingSystem": "linux", "architecture": "amd64"}
                }
            })
        );
    }
}
