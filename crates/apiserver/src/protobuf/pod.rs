//! `core/v1` Pod: metadata, the commonly used part of the spec, and the status basics. Fields
//! outside these tables (probes, security contexts, affinity, most volume sources...) are
//! skipped like any unknown field.

use super::core_v1::{LOCAL_OBJECT_REFERENCE, RESOURCE_LIST};
use super::meta::OBJECT_META;
use super::schema::{Field as F, Kind as K, Message};

pub static POD: Message = Message {
    name: "Pod",
    fields: &[
        F::new(1, "metadata", K::Message(&OBJECT_META)),
        F::new(2, "spec", K::Message(&POD_SPEC)),
        F::new(3, "status", K::Message(&POD_STATUS)),
    ],
};

static POD_SPEC: Message = Message {
    name: "PodSpec",
    fields: &[
        F::new(1, "volumes", K::Message(&VOLUME)).repeated(),
        F::new(20, "initContainers", K::Message(&CONTAINER)).repeated(),
        F::new(2, "containers", K::Message(&CONTAINER)).repeated(),
        F::new(3, "restartPolicy", K::String),
        F::new(4, "terminationGracePeriodSeconds", K::Int64).optional(),
        F::new(5, "activeDeadlineSeconds", K::Int64).optional(),
        F::new(6, "dnsPolicy", K::String),
        F::new(7, "nodeSelector", K::Map(&K::String)),
        F::new(8, "serviceAccountName", K::String),
        F::new(9, "serviceAccount", K::String),
        F::new(21, "automountServiceAccountToken", K::Bool).optional(),
        F::new(10, "nodeName", K::String),
        F::new(11, "hostNetwork", K::Bool),
        F::new(12, "hostPID", K::Bool),
        F::new(13, "hostIPC", K::Bool),
        F::new(27, "shareProcessNamespace", K::Bool).optional(),
        F::new(15, "imagePullSecrets", K::Message(&LOCAL_OBJECT_REFERENCE)).repeated(),
        F::new(16, "hostname", K::String),
        F::new(17, "subdomain", K::String),
        F::new(19, "schedulerName", K::String),
        F::new(22, "tolerations", K::Message(&TOLERATION)).repeated(),
        F::new(24, "priorityClassName", K::String),
        F::new(25, "priority", K::Int32).optional(),
        F::new(28, "readinessGates", K::Message(&POD_READINESS_GATE)).repeated(),
        F::new(29, "runtimeClassName", K::String).optional(),
        F::new(30, "enableServiceLinks", K::Bool).optional(),
        F::new(31, "preemptionPolicy", K::String).optional(),
        F::new(32, "overhead", RESOURCE_LIST),
        F::new(35, "setHostnameAsFQDN", K::Bool).optional(),
        F::new(37, "hostUsers", K::Bool).optional(),
    ],
};

static POD_READINESS_GATE: Message = Message {
    name: "PodReadinessGate",
    fields: &[F::new(1, "conditionType", K::String).always()],
};

static CONTAINER: Message = Message {
    name: "Container",
    fields: &[
        F::new(1, "name", K::String).always(),
        F::new(2, "image", K::String),
        F::new(3, "command", K::String).repeated(),
        F::new(4, "args", K::String).repeated(),
        F::new(5, "workingDir", K::String),
        F::new(6, "ports", K::Message(&CONTAINER_PORT)).repeated(),
        F::new(19, "envFrom", K::Message(&ENV_FROM_SOURCE)).repeated(),
        F::new(7, "env", K::Message(&ENV_VAR)).repeated(),
        F::new(8, "resources", K::Message(&RESOURCE_REQUIREMENTS)),
        F::new(24, "restartPolicy", K::String).optional(),
        F::new(9, "volumeMounts", K::Message(&VOLUME_MOUNT)).repeated(),
        F::new(13, "terminationMessagePath", K::String),
        F::new(20, "terminationMessagePolicy", K::String),
        F::new(14, "imagePullPolicy", K::String),
        F::new(16, "stdin", K::Bool),
        F::new(17, "stdinOnce", K::Bool),
        F::new(18, "tty", K::Bool),
    ],
};

static CONTAINER_PORT: Message = Message {
    name: "ContainerPort",
    fields: &[
        F::new(1, "name", K::String),
        F::new(2, "hostPort", K::Int32),
        F::new(3, "containerPort", K::Int32).always(),
        F::new(4, "protocol", K::String),
        F::new(5, "hostIP", K::String),
    ],
};

static ENV_VAR: Message = Message {
    name: "EnvVar",
    fields: &[
        F::new(1, "name", K::String).always(),
        F::new(2, "value", K::String),
        F::new(3, "valueFrom", K::Message(&ENV_VAR_SOURCE)),
    ],
};

static ENV_VAR_SOURCE: Message = Message {
    name: "EnvVarSource",
    fields: &[
        F::new(1, "fieldRef", K::Message(&OBJECT_FIELD_SELECTOR)),
        F::new(2, "resourceFieldRef", K::Message(&RESOURCE_FIELD_SELECTOR)),
        F::new(3, "configMapKeyRef", K::Message(&KEY_SELECTOR)),
        F::new(4, "secretKeyRef", K::Message(&KEY_SELECTOR)),
    ],
};

static OBJECT_FIELD_SELECTOR: Message = Message {
    name: "ObjectFieldSelector",
    fields: &[
        F::new(1, "apiVersion", K::String),
        F::new(2, "fieldPath", K::String).always(),
    ],
};

static RESOURCE_FIELD_SELECTOR: Message = Message {
    name: "ResourceFieldSelector",
    fields: &[
        F::new(1, "containerName", K::String),
        F::new(2, "resource", K::String).always(),
        F::new(3, "divisor", K::Quantity),
    ],
};

/// `ConfigMapKeySelector` and `SecretKeySelector`, which share their layout.
static KEY_SELECTOR: Message = Message {
    name: "KeySelector",
    fields: &[
        F::new(1, "", K::Inline(&LOCAL_OBJECT_REFERENCE)),
        F::new(2, "key", K::String).always(),
        F::new(3, "optional", K::Bool).optional(),
    ],
};

static ENV_FROM_SOURCE: Message = Message {
    name: "EnvFromSource",
    fields: &[
        F::new(1, "prefix", K::String),
        F::new(2, "configMapRef", K::Message(&ENV_SOURCE)),
        F::new(3, "secretRef", K::Message(&ENV_SOURCE)),
    ],
};

/// `ConfigMapEnvSource` and `SecretEnvSource`.
static ENV_SOURCE: Message = Message {
    name: "EnvSource",
    fields: &[
        F::new(1, "", K::Inline(&LOCAL_OBJECT_REFERENCE)),
        F::new(2, "optional", K::Bool).optional(),
    ],
};

pub static RESOURCE_REQUIREMENTS: Message = Message {
    name: "ResourceRequirements",
    fields: &[
        F::new(1, "limits", RESOURCE_LIST),
        F::new(2, "requests", RESOURCE_LIST),
        F::new(3, "claims", K::Message(&RESOURCE_CLAIM)).repeated(),
    ],
};

static RESOURCE_CLAIM: Message = Message {
    name: "ResourceClaim",
    fields: &[
        F::new(1, "name", K::String).always(),
        F::new(2, "request", K::String),
    ],
};

static VOLUME_MOUNT: Message = Message {
    name: "VolumeMount",
    fields: &[
        F::new(1, "name", K::String).always(),
        F::new(2, "readOnly", K::Bool),
        F::new(7, "recursiveReadOnly", K::String).optional(),
        F::new(3, "mountPath", K::String).always(),
        F::new(4, "subPath", K::String),
        F::new(5, "mountPropagation", K::String).optional(),
        F::new(6, "subPathExpr", K::String),
    ],
};

pub static TOLERATION: Message = Message {
    name: "Toleration",
    fields: &[
        F::new(1, "key", K::String),
        F::new(2, "operator", K::String),
        F::new(3, "value", K::String),
        F::new(4, "effect", K::String),
        F::new(5, "tolerationSeconds", K::Int64).optional(),
    ],
};

/// A volume with its common sources; `name` is inline with the source in Go's JSON.
static VOLUME: Message = Message {
    name: "Volume",
    fields: &[
        F::new(1, "name", K::String).always(),
        F::new(2, "", K::Inline(&VOLUME_SOURCE)),
    ],
};

static VOLUME_SOURCE: Message = Message {
    name: "VolumeSource",
    fields: &[
        F::new(1, "hostPath", K::Message(&HOST_PATH)),
        F::new(2, "emptyDir", K::Message(&EMPTY_DIR)),
        F::new(6, "secret", K::Message(&SECRET_VOLUME)),
        F::new(10, "persistentVolumeClaim", K::Message(&PVC_VOLUME)),
        F::new(19, "configMap", K::Message(&CONFIG_MAP_VOLUME)),
    ],
};

static HOST_PATH: Message = Message {
    name: "HostPathVolumeSource",
    fields: &[
        F::new(1, "path", K::String).always(),
        F::new(2, "type", K::String).optional(),
    ],
};

static EMPTY_DIR: Message = Message {
    name: "EmptyDirVolumeSource",
    fields: &[
        F::new(1, "medium", K::String),
        F::new(2, "sizeLimit", K::Quantity),
    ],
};

static KEY_TO_PATH: Message = Message {
    name: "KeyToPath",
    fields: &[
        F::new(1, "key", K::String).always(),
        F::new(2, "path", K::String).always(),
        F::new(3, "mode", K::Int32).optional(),
    ],
};

static SECRET_VOLUME: Message = Message {
    name: "SecretVolumeSource",
    fields: &[
        F::new(1, "secretName", K::String),
        F::new(2, "items", K::Message(&KEY_TO_PATH)).repeated(),
        F::new(3, "defaultMode", K::Int32).optional(),
        F::new(4, "optional", K::Bool).optional(),
    ],
};

static CONFIG_MAP_VOLUME: Message = Message {
    name: "ConfigMapVolumeSource",
    fields: &[
        F::new(1, "", K::Inline(&LOCAL_OBJECT_REFERENCE)),
        F::new(2, "items", K::Message(&KEY_TO_PATH)).repeated(),
        F::new(3, "defaultMode", K::Int32).optional(),
        F::new(4, "optional", K::Bool).optional(),
    ],
};

static PVC_VOLUME: Message = Message {
    name: "PersistentVolumeClaimVolumeSource",
    fields: &[
        F::new(1, "claimName", K::String).always(),
        F::new(2, "readOnly", K::Bool),
    ],
};

static POD_STATUS: Message = Message {
    name: "PodStatus",
    fields: &[
        F::new(17, "observedGeneration", K::Int64),
        F::new(1, "phase", K::String),
        F::new(2, "conditions", K::Message(&POD_CONDITION)).repeated(),
        F::new(3, "message", K::String),
        F::new(4, "reason", K::String),
        F::new(11, "nominatedNodeName", K::String),
        F::new(5, "hostIP", K::String),
        F::new(16, "hostIPs", K::Message(&IP_ADDRESS)).repeated(),
        F::new(6, "podIP", K::String),
        F::new(12, "podIPs", K::Message(&IP_ADDRESS)).repeated(),
        F::new(7, "startTime", K::Time),
        F::new(9, "qosClass", K::String),
    ],
};

static POD_CONDITION: Message = Message {
    name: "PodCondition",
    fields: &[
        F::new(1, "type", K::String).always(),
        F::new(7, "observedGeneration", K::Int64),
        F::new(2, "status", K::String).always(),
        F::new(3, "lastProbeTime", K::Time),
        F::new(4, "lastTransitionTime", K::Time),
        F::new(5, "reason", K::String),
        F::new(6, "message", K::String),
    ],
};

/// `HostIP` and `PodIP`.
static IP_ADDRESS: Message = Message {
    name: "PodIP",
    fields: &[F::new(1, "ip", K::String).always()],
};

#[cfg(test)]
mod tests {
    use super::super::schema::decode_message;
    use super::super::testenc::{Enc, new_meta, time};
    use super::*;
    use serde_json::{Value, json};

    #[test]
    fn a_pod_with_containers_env_ports_resources_and_volumes_decodes() {
        let env_literal = Enc::new().string(1, "MODE").string(2, "fast");
        let env_secret = Enc::new().string(1, "PASS").msg(
            3,
            Enc::new().msg(
                4,
                Enc::new()
                    .msg(1, Enc::new().string(1, "creds"))
                    .string(2, "pass")
                    .int(3, 1),
            ),
        );
        let env_field = Enc::new().string(1, "NODE").msg(
            3,
            Enc::new().msg(1, Enc::new().string(1, "v1").string(2, "spec.nodeName")),
        );
        let resources = Enc::new()
            .msg_entry(1, "memory", Enc::new().string(1, "1Gi"))
            .msg_entry(2, "cpu", Enc::new().string(1, "100m"));
        let container = Enc::new()
            .string(1, "compute")
            .string(2, "registry.example/launcher:v1")
            .string(3, "/usr/bin/launcher")
            .string(4, "--debug")
            .msg(
                6,
                Enc::new().string(1, "http").int(3, 8080).string(4, "TCP"),
            )
            .msg(
                19,
                Enc::new()
                    .string(1, "CFG_")
                    .msg(2, Enc::new().msg(1, Enc::new().string(1, "settings"))),
            )
            .msg(7, env_literal)
            .msg(7, env_secret)
            .msg(7, env_field)
            .msg(8, resources)
            .msg(9, Enc::new().string(1, "data").int(2, 1).string(3, "/data"))
            .string(14, "IfNotPresent")
            .int(16, 0);
        let volume_pvc = Enc::new()
            .string(1, "data")
            .msg(2, Enc::new().msg(10, Enc::new().string(1, "claim-1")));
        let volume_cm = Enc::new().string(1, "cfg").msg(
            2,
            Enc::new().msg(
                19,
                Enc::new()
                    .msg(1, Enc::new().string(1, "settings"))
                    .int(3, 420),
            ),
        );
        let spec = Enc::new()
            .msg(1, volume_pvc)
            .msg(1, volume_cm)
            .msg(2, container)
            .string(3, "Never")
            .int(4, 60)
            .entry(7, "kubernetes.io/hostname", "n1")
            .string(10, "n1")
            .msg(
                22,
                Enc::new()
                    .string(1, "k")
                    .string(2, "Exists")
                    .string(4, "NoSchedule")
                    .int(5, 0),
            )
            .msg(
                28,
                Enc::new().string(1, "kubevirt.io/virtual-machine-unpaused"),
            );
        let status = Enc::new()
            .string(1, "Running")
            .msg(
                2,
                Enc::new()
                    .string(1, "Ready")
                    .string(2, "True")
                    .msg(3, Enc::new())
                    .msg(4, time(1_700_000_000, 0)),
            )
            .string(6, "10.1.0.5")
            .msg(12, Enc::new().string(1, "10.1.0.5"))
            .msg(7, time(1_700_000_000, 0))
            .string(9, "Burstable");
        let e = Enc::new()
            .msg(1, new_meta("virt-launcher-vm1-abcde", "default"))
            .msg(2, spec)
            .msg(3, status);
        let v = Value::Object(decode_message(&POD, &e.build()).expect("decodes"));
        assert_eq!(
            v,
            json!({
                "metadata": {"name": "virt-launcher-vm1-abcde", "namespace": "default"},
                "spec": {
                    "volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": "claim-1"}},
                        {"name": "cfg", "configMap": {"name": "settings", "defaultMode": 420}}],
                    "containers": [{
                        "name": "compute", "image": "registry.example/launcher:v1",
                        "command": ["/usr/bin/launcher"], "args": ["--debug"],
                        "ports": [{"name": "http", "containerPort": 8080, "protocol": "TCP"}],
                        "envFrom": [{"prefix": "CFG_", "configMapRef": {"name": "settings"}}],
                        "env": [{"name": "MODE", "value": "fast"},
                            {"name": "PASS", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "pass", "optional": true}}},
                            {"name": "NODE", "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "spec.nodeName"}}}],
                        "resources": {"limits": {"memory": "1Gi"}, "requests": {"cpu": "100m"}},
                        "volumeMounts": [{"name": "data", "readOnly": true, "mountPath": "/data"}],
                        "imagePullPolicy": "IfNotPresent"
                    }],
                    "restartPolicy": "Never", "terminationGracePeriodSeconds": 60,
                    "nodeSelector": {"kubernetes.io/hostname": "n1"}, "nodeName": "n1",
                    "tolerations": [{"key": "k", "operator": "Exists", "effect": "NoSchedule", "tolerationSeconds": 0}],
                    "readinessGates": [{"conditionType": "kubevirt.io/virtual-machine-unpaused"}]
                },
                "status": {
                    "phase": "Running",
                    "conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": "2023-11-14T22:13:20Z"}],
                    "podIP": "10.1.0.5", "podIPs": [{"ip": "10.1.0.5"}], "startTime": "2023-11-14T22:13:20Z",
                    "qosClass": "Burstable"
                }
            })
        );
    }

    #[test]
    fn fields_outside_the_tables_are_skipped() {
        // a livenessProbe (10) and securityContext (15) on the container, affinity (18) on the pod
        let container = Enc::new()
            .string(1, "c")
            .msg(10, Enc::new().int(4, 5))
            .msg(15, Enc::new().int(5, 1));
        let spec = Enc::new()
            .msg(2, container)
            .msg(18, Enc::new().msg(1, Enc::new()));
        let e = Enc::new().msg(2, spec);
        let v = Value::Object(decode_message(&POD, &e.build()).expect("decodes"));
        assert_eq!(v, json!({"spec": {"containers": [{"name": "c"}]}}));
    }
}
