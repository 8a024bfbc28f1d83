//! `core/v1` kinds that `kubectl create <generator>` builds: Namespace, ConfigMap, Secret,
//! ServiceAccount and Service; plus Endpoints and PersistentVolumeClaim, and the references they
//! share with other kinds.

use super::meta::{CONDITION, LABEL_SELECTOR, OBJECT_META};
use super::schema::{Field as F, Kind as K, Message};

pub static NAMESPACE: Message = Message {
    name: "Namespace",
    fields: &[
        F::new(1, "metadata", K::Message(&OBJECT_META)),
        F::new(2, "spec", K::Message(&NAMESPACE_SPEC)),
        F::new(3, "status", K::Message(&NAMESPACE_STATUS)),
    ],
};

static NAMESPACE_SPEC: Message = Message {
    name: "NamespaceSpec",
    fields: &[F::new(1, "finalizers", K::String).repeated()],
};

static NAMESPACE_STATUS: Message = Message {
    name: "NamespaceStatus",
    fields: &[
        F::new(1, "phase", K::String),
        F::new(2, "conditions", K::Message(&NAMESPACE_CONDITION)).repeated(),
    ],
};

static NAMESPACE_CONDITION: Message = Message {
    name: "NamespaceCondition",
    fields: &[
        F::new(1, "type", K::String).always(),
        F::new(2, "status", K::String).always(),
        F::new(4, "lastTransitionTime", K::Time),
        F::new(5, "reason", K::String),
        F::new(6, "message", K::String),
    ],
};

pub static CONFIG_MAP: Message = Message {
    name: "ConfigMap",
    fields: &[
        F::new(1, "metadata", K::Message(&OBJECT_META)),
        F::new(4, "immutable", K::Bool).optional(),
        F::new(2, "data", K::Map(&K::String)),
        F::new(3, "binaryData", K::Map(&K::Bytes)),
    ],
};

pub static SECRET: Message = Message {
    name: "Secret",
    fields: &[
        F::new(1, "metadata", K::Message(&OBJECT_META)),
        F::new(5, "immutable", K::Bool).optional(),
        F::new(2, "data", K::Map(&K::Bytes)),
        F::new(4, "stringData", K::Map(&K::String)),
        F::new(3, "type", K::String),
    ],
};

pub static SERVICE_ACCOUNT: Message = Message {
    name: "ServiceAccount",
    fields: &[
        F::new(1, "metadata", K::Message(&OBJECT_META)),
        F::new(2, "secrets", K::Message(&OBJECT_REFERENCE)).repeated(),
        F::new(3, "imagePullSecrets", K::Message(&LOCAL_OBJECT_REFERENCE)).repeated(),
        F::new(4, "automountServiceAccountToken", K::Bool).optional(),
    ],
};

pub static OBJECT_REFERENCE: Message = Message {
    name: "ObjectReference",
    fields: &[
        F::new(1, "kind", K::String),
        F::new(2, "namespace", K::String),
        F::new(3, "name", K::String),
        F::new(4, "uid", K::String),
        F::new(5, "apiVersion", K::String),
        F::new(6, "resourceVersion", K::String),
        F::new(7, "fieldPath", K::String),
    ],
};

pub static LOCAL_OBJECT_REFERENCE: Message = Message {
    name: "LocalObjectReference",
    fields: &[F::new(1, "name", K::String)],
};

/// `core/v1` `ResourceList`: resource name to quantity.
pub const RESOURCE_LIST: K = K::Map(&K::Quantity);

pub static SERVICE: Message = Message {
    name: "Service",
    fields: &[
        F::new(1, "metadata", K::Message(&OBJECT_META)),
        F::new(2, "spec", K::Message(&SERVICE_SPEC)),
        F::new(3, "status", K::Message(&SERVICE_STATUS)),
    ],
};

static SERVICE_SPEC: Message = Message {
    name: "ServiceSpec",
    fields: &[
        F::new(1, "ports", K::Message(&SERVICE_PORT)).repeated(),
        F::new(2, "selector", K::Map(&K::String)),
        F::new(3, "clusterIP", K::String),
        F::new(18, "clusterIPs", K::String).repeated(),
        F::new(4, "type", K::String),
        F::new(5, "externalIPs", K::String).repeated(),
        F::new(7, "sessionAffinity", K::String),
        F::new(8, "loadBalancerIP", K::String),
        F::new(9, "loadBalancerSourceRanges", K::String).repeated(),
        F::new(10, "externalName", K::String),
        F::new(11, "externalTrafficPolicy", K::String),
        F::new(12, "healthCheckNodePort", K::Int32),
        F::new(13, "publishNotReadyAddresses", K::Bool),
        F::new(
            14,
            "sessionAffinityConfig",
            K::Message(&SESSION_AFFINITY_CONFIG),
        ),
        F::new(19, "ipFamilies", K::String).repeated(),
        F::new(17, "ipFamilyPolicy", K::String).optional(),
        F::new(20, "allocateLoadBalancerNodePorts", K::Bool).optional(),
        F::new(21, "loadBalancerClass", K::String).optional(),
        F::new(22, "internalTrafficPolicy", K::String).optional(),
        F::new(23, "trafficDistribution", K::String).optional(),
    ],
};

static SERVICE_PORT: Message = Message {
    name: "ServicePort",
    fields: &[
        F::new(1, "name", K::String),
        F::new(2, "protocol", K::String),
        F::new(6, "appProtocol", K::String).optional(),
        F::new(3, "port", K::Int32).always(),
        F::new(4, "targetPort", K::IntOrString),
        F::new(5, "nodePort", K::Int32),
    ],
};

static SESSION_AFFINITY_CONFIG: Message = Message {
    name: "SessionAffinityConfig",
    fields: &[F::new(1, "clientIP", K::Message(&CLIENT_IP_CONFIG))],
};

static CLIENT_IP_CONFIG: Message = Message {
    name: "ClientIPConfig",
    fields: &[F::new(1, "timeoutSeconds", K::Int32).optional()],
};

static SERVICE_STATUS: Message = Message {
    name: "ServiceStatus",
    fields: &[
        F::new(1, "loadBalancer", K::Message(&LOAD_BALANCER_STATUS)),
        F::new(2, "conditions", K::Message(&CONDITION)).repeated(),
    ],
};

static LOAD_BALANCER_STATUS: Message = Message {
    name: "LoadBalancerStatus",
    fields: &[F::new(1, "ingress", K::Message(&LOAD_BALANCER_INGRESS)).repeated()],
};

static LOAD_BALANCER_INGRESS: Message = Message {
    name: "LoadBalancerIngress",
    fields: &[
        F::new(1, "ip", K::String),
        F::new(2, "hostname", K::String),
        F::new(3, "ipMode", K::String).optional(),
        F::new(4, "ports", K::Message(&PORT_STATUS)).repeated(),
    ],
};

static PORT_STATUS: Message = Message {
    name: "PortStatus",
    fields: &[
        F::new(1, "port", K::Int32).always(),
        F::new(2, "protocol", K::String).always(),
        F::new(3, "error", K::String).optional(),
    ],
};

pub static ENDPOINTS: Message = Message {
    name: "Endpoints",
    fields: &[
        F::new(1, "metadata", K::Message(&OBJECT_META)),
        F::new(2, "subsets", K::Message(&ENDPOINT_SUBSET)).repeated(),
    ],
};

static ENDPOINT_SUBSET: Message = Message {
    name: "EndpointSubset",
    fields: &[
        F::new(1, "addresses", K::Message(&ENDPOINT_ADDRESS)).repeated(),
        F::new(2, "notReadyAddresses", K::Message(&ENDPOINT_ADDRESS)).repeated(),
        F::new(3, "ports", K::Message(&ENDPOINT_PORT)).repeated(),
    ],
};

static ENDPOINT_ADDRESS: Message = Message {
    name: "EndpointAddress",
    fields: &[
        F::new(1, "ip", K::String).always(),
        F::new(3, "hostname", K::String),
        F::new(4, "nodeName", K::String).optional(),
        F::new(2, "targetRef", K::Message(&OBJECT_REFERENCE)),
    ],
};

static ENDPOINT_PORT: Message = Message {
    name: "EndpointPort",
    fields: &[
        F::new(1, "name", K::String),
        F::new(2, "port", K::Int32).always(),
        F::new(3, "protocol", K::String),
        F::new(4, "appProtocol", K::String).optional(),
    ],
};

pub static PERSISTENT_VOLUME_CLAIM: Message = Message {
    name: "PersistentVolumeClaim",
    fields: &[
        F::new(1, "metadata", K::Message(&OBJECT_META)),
        F::new(2, "spec", K::Message(&PVC_SPEC)),
        F::new(3, "status", K::Message(&PVC_STATUS)),
    ],
};

static PVC_SPEC: Message = Message {
    name: "PersistentVolumeClaimSpec",
    fields: &[
        F::new(1, "accessModes", K::String).repeated(),
        F::new(4, "selector", K::Message(&LABEL_SELECTOR)),
        F::new(2, "resources", K::Message(&VOLUME_RESOURCE_REQUIREMENTS)),
        F::new(3, "volumeName", K::String),
        F::new(5, "storageClassName", K::String).optional(),
        F::new(6, "volumeMode", K::String).optional(),
        F::new(7, "dataSource", K::Message(&TYPED_LOCAL_OBJECT_REFERENCE)),
        F::new(8, "dataSourceRef", K::Message(&TYPED_OBJECT_REFERENCE)),
        F::new(9, "volumeAttributesClassName", K::String).optional(),
    ],
};

static VOLUME_RESOURCE_REQUIREMENTS: Message = Message {
    name: "VolumeResourceRequirements",
    fields: &[
        F::new(1, "limits", RESOURCE_LIST),
        F::new(2, "requests", RESOURCE_LIST),
    ],
};

static TYPED_LOCAL_OBJECT_REFERENCE: Message = Message {
    name: "TypedLocalObjectReference",
    fields: &[
        // A pointer in Go, but without omitempty: `null` when unset, which we leave out.
        F::new(1, "apiGroup", K::String).optional(),
        F::new(2, "kind", K::String).always(),
        F::new(3, "name", K::String).always(),
    ],
};

static TYPED_OBJECT_REFERENCE: Message = Message {
    name: "TypedObjectReference",
    fields: &[
        F::new(1, "apiGroup", K::String).optional(),
        F::new(2, "kind", K::String).always(),
        F::new(3, "name", K::String).always(),
        F::new(4, "namespace", K::String).optional(),
    ],
};

static PVC_STATUS: Message = Message {
    name: "PersistentVolumeClaimStatus",
    fields: &[
        F::new(1, "phase", K::String),
        F::new(2, "accessModes", K::String).repeated(),
        F::new(3, "capacity", RESOURCE_LIST),
        F::new(4, "conditions", K::Message(&PVC_CONDITION)).repeated(),
        F::new(5, "allocatedResources", RESOURCE_LIST),
        F::new(7, "allocatedResourceStatuses", K::Map(&K::String)),
        F::new(8, "currentVolumeAttributesClassName", K::String).optional(),
        F::new(9, "modifyVolumeStatus", K::Message(&MODIFY_VOLUME_STATUS)),
    ],
};

static PVC_CONDITION: Message = Message {
    name: "PersistentVolumeClaimCondition",
    fields: &[
        F::new(1, "type", K::String).always(),
        F::new(2, "status", K::String).always(),
        F::new(3, "lastProbeTime", K::Time),
        F::new(4, "lastTransitionTime", K::Time),
        F::new(5, "reason", K::String),
        F::new(6, "message", K::String),
    ],
};

static MODIFY_VOLUME_STATUS: Message = Message {
    name: "ModifyVolumeStatus",
    fields: &[
        F::new(1, "targetVolumeAttributesClassName", K::String),
        F::new(2, "status", K::String).always(),
    ],
};

#[cfg(test)]
mod tests {
    use super::super::schema::decode_message;
    use super::super::testenc::{Enc, new_meta, time};
    use super::*;
    use serde_json::{Value, json};

    fn decode(m: &Message, e: Enc) -> Value {
        Value::Object(decode_message(m, &e.build()).expect("decodes"))
    }

    #[test]
    fn namespace_status_and_conditions_decode() {
        let cond = Enc::new()
            .string(1, "NamespaceDeletionContentFailure")
            .string(2, "False")
            .msg(4, time(1_700_000_000, 0));
        let e = Enc::new()
            .msg(1, new_meta("team-a", ""))
            .msg(2, Enc::new().string(1, "kubernetes"))
            .msg(3, Enc::new().string(1, "Terminating").msg(2, cond));
        assert_eq!(
            decode(&NAMESPACE, e),
            json!({"metadata": {"name": "team-a"}, "spec": {"finalizers": ["kubernetes"]},
                "status": {"phase": "Terminating", "conditions": [{"type": "NamespaceDeletionContentFailure",
                    "status": "False", "lastTransitionTime": "2023-11-14T22:13:20Z"}]}})
        );
    }

    #[test]
    fn immutable_secrets_keep_data_as_base64_and_string_data_as_text() {
        let e = Enc::new()
            .msg(1, new_meta("s", "default"))
            .int(5, 1)
            .bytes_entry(2, "key", b"\x00\x01")
            .entry(4, "plain", "text")
            .string(3, "Opaque");
        assert_eq!(
            decode(&SECRET, e),
            json!({"metadata": {"name": "s", "namespace": "default"}, "immutable": true,
                "data": {"key": "AAE="}, "stringData": {"plain": "text"}, "type": "Opaque"})
        );
    }

    #[test]
    fn a_mutable_config_map_says_so_when_told() {
        let e = Enc::new()
            .msg(1, new_meta("c", ""))
            .int(4, 0)
            .entry(2, "a", "");
        assert_eq!(
            decode(&CONFIG_MAP, e),
            json!({"metadata": {"name": "c"}, "immutable": false, "data": {"a": ""}})
        );
    }

    #[test]
    fn service_accounts_list_their_secrets() {
        let e = Enc::new()
            .msg(1, new_meta("sa", ""))
            .msg(2, Enc::new().string(3, "tok").string(1, ""))
            .msg(3, Enc::new().string(1, "pull"))
            .int(4, 0);
        assert_eq!(
            decode(&SERVICE_ACCOUNT, e),
            json!({"metadata": {"name": "sa"}, "secrets": [{"name": "tok"}], "imagePullSecrets": [{"name": "pull"}],
                "automountServiceAccountToken": false})
        );
    }

    #[test]
    fn every_service_spec_field_decodes() {
        let port = Enc::new()
            .string(1, "http")
            .string(2, "TCP")
            .string(6, "kubernetes.io/h2c")
            .int(3, 80)
            .msg(4, Enc::new().int(1, 1).int(2, 0).string(3, "web"))
            .int(5, 30080);
        let spec = Enc::new()
            .msg(1, port)
            .entry(2, "app", "web")
            .string(3, "10.0.0.10")
            .string(18, "10.0.0.10")
            .string(18, "fd00::a")
            .string(4, "LoadBalancer")
            .string(5, "192.0.2.1")
            .string(7, "ClientIP")
            .string(8, "192.0.2.2")
            .string(9, "10.0.0.0/8")
            .string(10, "")
            .string(11, "Local")
            .int(12, 31000)
            .int(13, 1)
            .msg(14, Enc::new().msg(1, Enc::new().int(1, 600)))
            .string(19, "IPv4")
            .string(19, "IPv6")
            .string(17, "PreferDualStack")
            .int(20, 0)
            .string(21, "example.com/lb")
            .string(22, "Cluster")
            .string(23, "PreferClose");
        let status = Enc::new().msg(
            1,
            Enc::new().msg(
                1,
                Enc::new()
                    .string(1, "192.0.2.9")
                    .string(3, "VIP")
                    .msg(4, Enc::new().int(1, 80).string(2, "TCP")),
            ),
        );
        let e = Enc::new()
            .msg(1, new_meta("web", "default"))
            .msg(2, spec)
            .msg(3, status);
        assert_eq!(
            decode(&SERVICE, e),
            json!({
                "metadata": {"name": "web", "namespace": "default"},
                "spec": {
                    "ports": [{"name": "http", "protocol": "TCP", "appProtocol": "kubernetes.io/h2c", "port": 80,
                        "targetPort": "web", "nodePort": 30080}],
                    "selector": {"app": "web"}, "clusterIP": "10.0.0.10", "clusterIPs": ["10.0.0.10", "fd00::a"],
                    "type": "LoadBalancer", "externalIPs": ["192.0.2.1"], "sessionAffinity": "ClientIP",
                    "loadBalancerIP": "192.0.2.2", "loadBalancerSourceRanges": ["10.0.0.0/8"],
                    "externalTrafficPolicy": "Local", "healthCheckNodePort": 31000, "publishNotReadyAddresses": true,
                    "sessionAffinityConfig": {"clientIP": {"timeoutSeconds": 600}}, "ipFamilies": ["IPv4", "IPv6"],
                    "ipFamilyPolicy": "PreferDualStack", "allocateLoadBalancerNodePorts": false,
                    "loadBalancerClass": "example.com/lb", "internalTrafficPolicy": "Cluster",
                    "trafficDistribution": "PreferClose"
                },
                "status": {"loadBalancer": {"ingress": [{"ip": "192.0.2.9", "ipMode": "VIP",
                    "ports": [{"port": 80, "protocol": "TCP"}]}]}}
            })
        );
    }

    #[test]
    fn endpoints_keep_addresses_and_ports() {
        let addr = Enc::new()
            .string(1, "10.1.0.5")
            .string(4, "n1")
            .msg(2, Enc::new().string(1, "Pod").string(3, "p"));
        let subset = Enc::new()
            .msg(1, addr)
            .msg(3, Enc::new().int(2, 8080).string(3, "TCP"));
        let e = Enc::new().msg(1, new_meta("web", "")).msg(2, subset);
        assert_eq!(
            decode(&ENDPOINTS, e),
            json!({"metadata": {"name": "web"}, "subsets": [{
                "addresses": [{"ip": "10.1.0.5", "nodeName": "n1", "targetRef": {"kind": "Pod", "name": "p"}}],
                "ports": [{"port": 8080, "protocol": "TCP"}]}]})
        );
    }

    #[test]
    fn claims_decode_spec_and_status() {
        let spec = Enc::new()
            .string(1, "ReadWriteOnce")
            .msg(
                2,
                Enc::new().msg_entry(2, "storage", Enc::new().string(1, "10Gi")),
            )
            .string(3, "pv-1")
            .string(5, "")
            .string(6, "Block")
            .msg(
                7,
                Enc::new()
                    .string(2, "VolumeSnapshot")
                    .string(3, "snap")
                    .string(1, "snapshot.storage.k8s.io"),
            );
        let status = Enc::new()
            .string(1, "Bound")
            .string(2, "ReadWriteOnce")
            .msg_entry(3, "storage", Enc::new().string(1, "10Gi"))
            .msg(4, Enc::new().string(1, "Resizing").string(2, "True"));
        let e = Enc::new()
            .msg(1, new_meta("data", "default"))
            .msg(2, spec)
            .msg(3, status);
        assert_eq!(
            decode(&PERSISTENT_VOLUME_CLAIM, e),
            json!({
                "metadata": {"name": "data", "namespace": "default"},
                "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "10Gi"}},
                    "volumeName": "pv-1", "storageClassName": "", "volumeMode": "Block",
                    "dataSource": {"apiGroup": "snapshot.storage.k8s.io", "kind": "VolumeSnapshot", "name": "snap"}},
                "status": {"phase": "Bound", "accessModes": ["ReadWriteOnce"], "capacity": {"storage": "10Gi"},
                    "conditions": [{"type": "Resizing", "status": "True"}]}
            })
        );
    }
}
