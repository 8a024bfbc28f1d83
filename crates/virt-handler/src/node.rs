//! Node registration and heartbeat, shared by the node drivers: the `Node` object kubelet would
//! register (capacity, allocatable, conditions, addresses, node info), the labels and the
//! `kubevirt.io/heartbeat` annotation virt-handler keeps fresh, and the node's
//! `coordination.k8s.io` Lease in `kube-node-lease`.
//!
//! The object builders are pure; [`register`] and [`heartbeat`] write them. A heartbeat of a
//! node that was deleted registers it again, as kubelet does.

use std::collections::BTreeMap;
use std::time::Duration;

use jiff::Timestamp;
use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::api::core::v1::{
    Node, NodeAddress, NodeCondition, NodeDaemonEndpoints, NodeSpec, NodeStatus, NodeSystemInfo,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta, Time};
use kube::api::{Api, Patch, PatchParams, PostParams};

/// Annotation virt-handler refreshes on its node (RFC 3339, seconds).
pub const HEARTBEAT_ANNOTATION: &str = "kubevirt.io/heartbeat";
/// Label telling whether the CPU manager runs on the node.
pub const CPU_MANAGER_LABEL: &str = "cpumanager";
/// Namespace of the node leases.
pub const NODE_LEASE_NAMESPACE: &str = "kube-node-lease";
/// Lease duration kubelet uses.
pub const NODE_LEASE_DURATION_SECONDS: i32 = 40;
/// Extended resources KubeVirt's device plugins advertise, with the count they advertise.
pub const KUBEVIRT_DEVICES: &[(&str, &str)] = &[
    ("devices.kubevirt.io/kvm", "1k"),
    ("devices.kubevirt.io/tun", "1k"),
    ("devices.kubevirt.io/vhost-net", "1k"),
];

/// Registration or heartbeat failed.
#[derive(Debug, thiserror::Error)]
pub enum RegistrationError {
    #[error("cannot register node {node}: {source}")]
    Register { node: String, source: kube::Error },
    #[error("cannot renew the heartbeat of node {node}: {source}")]
    Heartbeat { node: String, source: kube::Error },
}

/// What a node offers and how it describes itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeConfig {
    pub name: String,
    pub cpu: String,
    pub memory: String,
    pub pods: u32,
    pub ephemeral_storage: String,
    /// Labels added to the well-known ones.
    pub labels: BTreeMap<String, String>,
    pub internal_ip: String,
    /// Pod CIDR of the node (`10.244.N.0/24`).
    pub pod_cidr: String,
    pub os_image: String,
    pub container_runtime_version: String,
    pub kubelet_version: String,
}

impl NodeConfig {
    /// The well-known labels plus the configured ones.
    pub fn labels(&self) -> BTreeMap<String, String> {
        let mut labels: BTreeMap<String, String> = [
            ("kubernetes.io/hostname", self.name.as_str()),
            ("kubernetes.io/os", "linux"),
            ("kubernetes.io/arch", "amd64"),
            ("beta.kubernetes.io/os", "linux"),
            ("beta.kubernetes.io/arch", "amd64"),
            (api::keys::NODE_SCHEDULABLE_LABEL, "true"),
            (CPU_MANAGER_LABEL, "false"),
            // What upstream's node labeller publishes for the machine types QEMU offers; launcher
            // pods select on them (configured labels may add more).
            ("machine-type.node.kubevirt.io/q35", "true"),
            ("machine-type.node.kubevirt.io/pc-q35", "true"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        labels.extend(self.labels.clone());
        labels
    }

    fn resources(&self) -> BTreeMap<String, Quantity> {
        let mut r: BTreeMap<String, Quantity> = [
            ("cpu", self.cpu.clone()),
            ("memory", self.memory.clone()),
            ("pods", self.pods.to_string()),
            ("ephemeral-storage", self.ephemeral_storage.clone()),
            ("hugepages-1Gi", "0".into()),
            ("hugepages-2Mi", "0".into()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), Quantity(v)))
        .collect();
        for (k, v) in KUBEVIRT_DEVICES {
            r.insert(k.to_string(), Quantity(v.to_string()));
        }
        r
    }
}

/// The heartbeat annotation value for `now`.
pub fn heartbeat_value(now: Timestamp) -> String {
    Timestamp::from_second(now.as_second())
        .unwrap_or(now)
        .to_string()
}

fn time(now: Timestamp) -> Time {
    Time(Timestamp::from_second(now.as_second()).unwrap_or(now))
}

/// The node conditions kubelet reports when healthy, keeping the transition times of
/// conditions whose status did not change.
pub fn conditions(previous: &[NodeCondition], now: Timestamp) -> Vec<NodeCondition> {
    let wanted = [
        (
            "MemoryPressure",
            "False",
            "KubeletHasSufficientMemory",
            "kubelet has sufficient memory available",
        ),
        (
            "DiskPressure",
            "False",
            "KubeletHasNoDiskPressure",
            "kubelet has no disk pressure",
        ),
        (
            "PIDPressure",
            "False",
            "KubeletHasSufficientPID",
            "kubelet has sufficient PID available",
        ),
        (
            "Ready",
            "True",
            "KubeletReady",
            "kubelet is posting ready status",
        ),
    ];
    wanted
        .into_iter()
        .map(|(type_, status, reason, message)| {
            let old = previous.iter().find(|c| c.type_ == type_);
            let transition = match old {
                Some(c) if c.status == status => c.last_transition_time.clone(),
                _ => None,
            };
            NodeCondition {
                type_: type_.into(),
                status: status.into(),
                reason: Some(reason.into()),
                message: Some(message.into()),
                last_heartbeat_time: Some(time(now)),
                last_transition_time: transition.or_else(|| Some(time(now))),
            }
        })
        .collect()
}

/// The node status for `config`, keeping what `previous` says about condition transitions.
pub fn node_status(
    config: &NodeConfig,
    previous: Option<&NodeStatus>,
    now: Timestamp,
) -> NodeStatus {
    let old_conditions = previous
        .and_then(|s| s.conditions.clone())
        .unwrap_or_default();
    NodeStatus {
        capacity: Some(config.resources()),
        allocatable: Some(config.resources()),
        conditions: Some(conditions(&old_conditions, now)),
        addresses: Some(vec![
            NodeAddress {
                type_: "InternalIP".into(),
                address: config.internal_ip.clone(),
            },
            NodeAddress {
                type_: "Hostname".into(),
                address: config.name.clone(),
            },
        ]),
        daemon_endpoints: Some(NodeDaemonEndpoints {
            kubelet_endpoint: Some(k8s_openapi::api::core::v1::DaemonEndpoint { port: 10250 }),
        }),
        node_info: Some(NodeSystemInfo {
            architecture: "amd64".into(),
            boot_id: uuid_like(&config.name, "boot"),
            container_runtime_version: config.container_runtime_version.clone(),
            kernel_version: "6.12.0".into(),
            kube_proxy_version: String::new(),
            kubelet_version: config.kubelet_version.clone(),
            machine_id: uuid_like(&config.name, "machine").replace('-', ""),
            operating_system: "linux".into(),
            os_image: config.os_image.clone(),
            system_uuid: uuid_like(&config.name, "system"),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// A stable identifier derived from the node name (no randomness, so re-registration keeps it).
fn uuid_like(name: &str, salt: &str) -> String {
    let mut h: u128 = 0x6c62_272e_07bb_0142_62b8_2175_6295_c58d;
    for b in salt.bytes().chain([0]).chain(name.bytes()) {
        h ^= u128::from(b);
        h = h.wrapping_mul(0x0000_0000_0100_0000_0000_0000_0000_013B);
    }
    let s = format!("{h:032x}");
    format!(
        "{}-{}-{}-{}-{}",
        &s[0..8],
        &s[8..12],
        &s[12..16],
        &s[16..20],
        &s[20..32]
    )
}

/// The Node object to create for `config`.
pub fn node_object(config: &NodeConfig, now: Timestamp) -> Node {
    Node {
        metadata: ObjectMeta {
            name: Some(config.name.clone()),
            labels: Some(config.labels()),
            annotations: Some(BTreeMap::from([(
                HEARTBEAT_ANNOTATION.to_string(),
                heartbeat_value(now),
            )])),
            ..Default::default()
        },
        spec: Some(NodeSpec {
            pod_cidr: Some(config.pod_cidr.clone()),
            pod_cidrs: Some(vec![config.pod_cidr.clone()]),
            ..Default::default()
        }),
        status: Some(node_status(config, None, now)),
    }
}

/// The merge patch of the node's metadata a heartbeat sends: the heartbeat annotation and the
/// schedulable label (a returning agent makes its node schedulable again).
pub fn heartbeat_patch(config: &NodeConfig, now: Timestamp) -> serde_json::Value {
    serde_json::json!({
        "metadata": {
            "labels": config.labels(),
            "annotations": {HEARTBEAT_ANNOTATION: heartbeat_value(now)},
        }
    })
}

/// The node's Lease in [`NODE_LEASE_NAMESPACE`], renewed at `now`.
pub fn lease_object(config: &NodeConfig, now: Timestamp) -> Lease {
    Lease {
        metadata: ObjectMeta {
            name: Some(config.name.clone()),
            namespace: Some(NODE_LEASE_NAMESPACE.into()),
            ..Default::default()
        },
        spec: Some(LeaseSpec {
            holder_identity: Some(config.name.clone()),
            lease_duration_seconds: Some(NODE_LEASE_DURATION_SECONDS),
            renew_time: Some(MicroTime(now)),
            ..Default::default()
        }),
    }
}

/// Creates the node (or refreshes an existing one) and its lease.
pub async fn register(client: &kube::Client, config: &NodeConfig) -> Result<(), RegistrationError> {
    let err = |source| RegistrationError::Register {
        node: config.name.clone(),
        source,
    };
    let nodes: Api<Node> = Api::all(client.clone());
    let now = Timestamp::now();
    match nodes
        .create(&PostParams::default(), &node_object(config, now))
        .await
    {
        Ok(_) => {}
        Err(kube::Error::Api(e)) if e.code == 409 => {}
        Err(e) => return Err(err(e)),
    }
    // A create does not set the status of a resource with a status subresource.
    write_heartbeat(client, config, now).await.map_err(err)
}

/// Refreshes the heartbeat annotation, the node conditions and the lease; registers the node
/// again if it was deleted.
pub async fn heartbeat(
    client: &kube::Client,
    config: &NodeConfig,
) -> Result<(), RegistrationError> {
    match write_heartbeat(client, config, Timestamp::now()).await {
        Ok(()) => Ok(()),
        Err(kube::Error::Api(e)) if e.code == 404 => register(client, config).await,
        Err(source) => Err(RegistrationError::Heartbeat {
            node: config.name.clone(),
            source,
        }),
    }
}

async fn write_heartbeat(
    client: &kube::Client,
    config: &NodeConfig,
    now: Timestamp,
) -> Result<(), kube::Error> {
    let nodes: Api<Node> = Api::all(client.clone());
    let params = PatchParams::default();
    let node = nodes
        .patch(
            &config.name,
            &params,
            &Patch::Merge(heartbeat_patch(config, now)),
        )
        .await?;
    let status = node_status(config, node.status.as_ref(), now);
    let body = serde_json::json!({"status": status});
    nodes
        .patch_status(&config.name, &params, &Patch::Merge(body))
        .await?;

    let leases: Api<Lease> = Api::namespaced(client.clone(), NODE_LEASE_NAMESPACE);
    let lease = lease_object(config, now);
    match leases.create(&PostParams::default(), &lease).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(e)) if e.code == 409 => {
            let body = serde_json::json!({"spec": lease.spec});
            leases
                .patch(&config.name, &params, &Patch::Merge(body))
                .await
                .map(|_| ())
        }
        Err(e) => Err(e),
    }
}

/// Registers every node, then renews their heartbeats every `interval`, forever. Failures are
/// logged and retried at the next beat.
pub async fn run_heartbeats(client: kube::Client, configs: Vec<NodeConfig>, interval: Duration) {
    let mut tick = tokio::time::interval(interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        for config in &configs {
            if let Err(e) = heartbeat(&client, config).await {
                tracing::warn!(error = %e, "node heartbeat failed");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> NodeConfig {
        NodeConfig {
            name: "node01".into(),
            cpu: "8".into(),
            memory: "32Gi".into(),
            pods: 110,
            ephemeral_storage: "100Gi".into(),
            labels: BTreeMap::from([("zone".to_string(), "z1".to_string())]),
            internal_ip: "192.168.66.101".into(),
            pod_cidr: "10.244.0.0/24".into(),
            os_image: "Simulated".into(),
            container_runtime_version: "sim://1.0".into(),
            kubelet_version: "v1.32.0".into(),
        }
    }

    #[test]
    fn node_offers_its_capacity_and_kubevirt_devices() {
        let now: Timestamp = "2025-01-02T03:04:05.678Z".parse().unwrap();
        let node = node_object(&config(), now);
        let status = node.status.unwrap();
        let alloc = status.allocatable.unwrap();
        assert_eq!(alloc["cpu"].0, "8");
        assert_eq!(alloc["memory"].0, "32Gi");
        assert_eq!(alloc["pods"].0, "110");
        assert_eq!(alloc["devices.kubevirt.io/kvm"].0, "1k");
        let labels = node.metadata.labels.unwrap();
        assert_eq!(labels["kubernetes.io/hostname"], "node01");
        assert_eq!(labels["kubevirt.io/schedulable"], "true");
        assert_eq!(
            labels["machine-type.node.kubevirt.io/q35"], "true",
            "launcher pods select it"
        );
        assert_eq!(labels["zone"], "z1");
        assert_eq!(
            node.metadata.annotations.unwrap()[HEARTBEAT_ANNOTATION],
            "2025-01-02T03:04:05Z"
        );
        let ready = status
            .conditions
            .unwrap()
            .into_iter()
            .find(|c| c.type_ == "Ready")
            .unwrap();
        assert_eq!(
            (ready.status.as_str(), ready.reason.as_deref()),
            ("True", Some("KubeletReady"))
        );
    }

    #[test]
    fn unchanged_conditions_keep_their_transition_time() {
        let t0: Timestamp = "2025-01-01T00:00:00Z".parse().unwrap();
        let t1: Timestamp = "2025-01-01T00:01:00Z".parse().unwrap();
        let first = conditions(&[], t0);
        let mut previous = first.clone();
        previous[0].status = "True".into(); // memory pressure was reported
        let next = conditions(&previous, t1);
        let ready = next.iter().find(|c| c.type_ == "Ready").unwrap();
        assert_eq!(ready.last_transition_time, Some(Time(t0)));
        assert_eq!(ready.last_heartbeat_time, Some(Time(t1)));
        let memory = next.iter().find(|c| c.type_ == "MemoryPressure").unwrap();
        assert_eq!(memory.last_transition_time, Some(Time(t1)));
    }

    #[test]
    fn identifiers_are_stable_per_node() {
        assert_eq!(uuid_like("node01", "system"), uuid_like("node01", "system"));
        assert_ne!(uuid_like("node01", "system"), uuid_like("node02", "system"));
        assert_eq!(uuid_like("a", "b").len(), 36);
    }
}
