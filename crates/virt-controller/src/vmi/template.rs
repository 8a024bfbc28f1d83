//! The launcher pod of a VirtualMachineInstance (`virt-launcher-<vmi>-xxxxx`).
//!
//! Guarantees of [`render_launcher_pod`], as upstream renders it:
//! - `generateName: virt-launcher-<vmi>-`, a controller owner reference to the VMI;
//! - labels: the VMI's labels plus `kubevirt.io: virt-launcher`, `kubevirt.io/created-by:
//!   <vmi uid>`, `vm.kubevirt.io/name: <hostname>` and `vmi.kubevirt.io/id` ([`vmi_id`]);
//! - annotations: the VMI's (minus `kubectl.kubernetes.io/*` and the observed-api-version
//!   ones) plus `kubevirt.io/domain`, the default container and the migration transport;
//! - one container, `compute`, with the launcher image and the resources of
//!   [`super::resources::compute_resources`];
//! - `restartPolicy: Never`, `terminationGracePeriodSeconds` = the VMI grace period + 30, the
//!   readiness gate `kubevirt.io/virtual-machine-unpaused`;
//! - the VMI's scheduling constraints (node selector, affinity, tolerations, topology spread,
//!   scheduler and priority class), plus `kubevirt.io/schedulable: "true"` and the node labels
//!   KubeVirt's node labeller publishes (architecture, machine type, CPU model and features).
//!
//! Not rendered: volumes and mounts, container-disk and sidecar containers, probes, SELinux
//! and seccomp options; the node agent reads those from the VMI itself.

use std::collections::BTreeMap;

use api::VirtualMachineInstance;
use api::keys;
use k8s_openapi::api::core::v1::{
    Affinity, Capabilities, Container, ContainerPort, EnvVar, EnvVarSource, NodeAffinity,
    NodeSelector, NodeSelectorRequirement, NodeSelectorTerm, ObjectFieldSelector, Pod,
    PodReadinessGate, PodSecurityContext, PodSpec, SecurityContext,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use sha1::{Digest, Sha1};

use super::quantity::QuantityError;
use super::resources::{ResourceOptions, compute_resources};

/// Name of the launcher's main container.
pub const COMPUTE_CONTAINER: &str = "compute";
/// Default launcher image.
pub const DEFAULT_LAUNCHER_IMAGE: &str = "kubevirt/virt-launcher:v1.9.0";
/// Pod annotation naming the domain.
pub const DOMAIN_ANNOTATION: &str = "kubevirt.io/domain";
/// Pod annotation telling that migrations of this launcher use unix sockets.
pub const MIGRATION_TRANSPORT_UNIX_ANNOTATION: &str = "kubevirt.io/migrationTransportUnix";
/// Pod annotation asking the descheduler to evict through the eviction API only.
pub const EVICT_ONLY_ANNOTATION: &str = "descheduler.alpha.kubernetes.io/request-evict-only";
/// Pod annotation naming the container `kubectl exec` and `logs` default to.
pub const DEFAULT_CONTAINER_ANNOTATION: &str = "kubectl.kubernetes.io/default-container";
/// Node label prefix of supported machine types.
pub const MACHINE_TYPE_LABEL_PREFIX: &str = "machine-type.node.kubevirt.io/";
/// Node label prefix of supported CPU models.
pub const CPU_MODEL_LABEL_PREFIX: &str = "cpu-model.node.kubevirt.io/";
/// Node label prefix of supported CPU features.
pub const CPU_FEATURE_LABEL_PREFIX: &str = "cpu-feature.node.kubevirt.io/";
/// Node label of nodes whose host-model CPU is obsolete.
pub const OBSOLETE_HOST_MODEL_LABEL: &str = "node-labeller.kubevirt.io/obsolete-host-model";
/// Node label of nodes with the CPU manager enabled.
pub const CPU_MANAGER_LABEL: &str = "cpumanager";
/// Padding added twice to the VMI grace period for the pod's.
const GRACE_PERIOD_PADDING_SECONDS: i64 = 15;
/// User id of the non-root launcher.
pub const NON_ROOT_UID: i64 = 107;
/// Longest label value.
const LABEL_VALUE_MAX: usize = 63;

/// Errors of rendering a launcher pod.
#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    /// The VMI lacks a name, namespace or uid.
    #[error("the VirtualMachineInstance has no {0}")]
    MissingMetadata(&'static str),
    /// A resource quantity of the VMI does not parse.
    #[error("invalid resource quantity: {0}")]
    Quantity(#[from] QuantityError),
}

/// How launcher pods are rendered.
#[derive(Clone, Debug, PartialEq)]
pub struct LauncherOptions {
    /// Image of the `compute` container.
    pub image: String,
    /// Pull policy of the `compute` container.
    pub image_pull_policy: String,
    /// Seconds the launcher waits for qemu to start (a random 0–119 s is added per pod).
    pub qemu_timeout_seconds: u32,
    /// Require the node labels KubeVirt's node labeller sets (`kubevirt.io/schedulable`,
    /// architecture, machine type, CPU model and features). Without them only the VMI's own
    /// node selector is used.
    pub node_label_selectors: bool,
    /// Node selector added to every launcher pod (`nodePlacement` of the cluster config).
    pub node_selectors: BTreeMap<String, String>,
    /// Resource computation.
    pub resources: ResourceOptions,
}

impl Default for LauncherOptions {
    fn default() -> Self {
        LauncherOptions {
            image: DEFAULT_LAUNCHER_IMAGE.into(),
            image_pull_policy: "IfNotPresent".into(),
            qemu_timeout_seconds: 240,
            node_label_selectors: true,
            node_selectors: BTreeMap::new(),
            resources: ResourceOptions::default(),
        }
    }
}

/// The `vmi.kubevirt.io/id` label value: the VMI name, or for names longer than 63
/// characters the first 54 characters, `-` and the first 8 hex digits of the name's SHA-1.
pub fn vmi_id(name: &str) -> String {
    if name.len() <= LABEL_VALUE_MAX {
        return name.to_string();
    }
    let digest = Sha1::digest(name.as_bytes());
    let hex: String = digest.iter().take(4).map(|b| format!("{b:02x}")).collect();
    let cut = LABEL_VALUE_MAX - 8 - 1;
    format!("{}-{hex}", &name[..cut])
}

/// The guest hostname: `spec.hostname`, else the VMI name up to its first dot, cut to 63
/// characters.
pub fn hostname(vmi: &VirtualMachineInstance) -> String {
    if let Some(h) = vmi.spec.hostname.as_deref().filter(|h| !h.is_empty()) {
        return h.to_string();
    }
    let name = vmi.metadata.name.as_deref().unwrap_or_default();
    let first = name.split('.').next().unwrap_or_default();
    first.chars().take(LABEL_VALUE_MAX).collect()
}

/// The controller owner reference of a VMI.
pub fn owner_reference(vmi: &VirtualMachineInstance) -> OwnerReference {
    OwnerReference {
        api_version: "kubevirt.io/v1".into(),
        kind: "VirtualMachineInstance".into(),
        name: vmi.metadata.name.clone().unwrap_or_default(),
        uid: vmi.metadata.uid.clone().unwrap_or_default(),
        controller: Some(true),
        block_owner_deletion: Some(true),
    }
}

fn is_non_root(vmi: &VirtualMachineInstance) -> bool {
    vmi.status
        .as_ref()
        .and_then(|s| s.runtime_user)
        .is_some_and(|u| u != 0)
}

fn pod_labels(
    vmi: &VirtualMachineInstance,
    host: &str,
    uid: &str,
    name: &str,
) -> BTreeMap<String, String> {
    let mut labels = vmi.metadata.labels.clone().unwrap_or_default();
    labels.insert(keys::APP_LABEL.into(), keys::VIRT_LAUNCHER_APP.into());
    labels.insert(keys::CREATED_BY_LABEL.into(), uid.into());
    labels.insert(keys::VM_NAME_LABEL.into(), host.into());
    labels.insert(keys::VMI_ID_LABEL.into(), vmi_id(name));
    labels
}

fn pod_annotations(vmi: &VirtualMachineInstance, name: &str) -> BTreeMap<String, String> {
    let mut annotations = BTreeMap::from([(DOMAIN_ANNOTATION.to_string(), name.to_string())]);
    for (k, v) in vmi.metadata.annotations.iter().flatten() {
        let skipped = k.starts_with("kubectl.kubernetes.io")
            || k.starts_with(keys::STORAGE_OBSERVED_API_VERSION_ANNOTATION)
            || k.starts_with(keys::LATEST_OBSERVED_API_VERSION_ANNOTATION);
        if !skipped {
            annotations.insert(k.clone(), v.clone());
        }
    }
    annotations.insert(
        DEFAULT_CONTAINER_ANNOTATION.into(),
        COMPUTE_CONTAINER.into(),
    );
    annotations.insert(MIGRATION_TRANSPORT_UNIX_ANNOTATION.into(), "true".into());
    annotations.insert(EVICT_ONLY_ANNOTATION.into(), String::new());
    annotations
}

fn node_selector(vmi: &VirtualMachineInstance, opts: &LauncherOptions) -> BTreeMap<String, String> {
    let mut selector = BTreeMap::new();
    let enable = |s: &mut BTreeMap<String, String>, label: String| {
        s.insert(label, "true".to_string());
    };
    if opts.node_label_selectors {
        enable(&mut selector, keys::NODE_SCHEDULABLE_LABEL.into());
        if let Some(arch) = vmi.spec.architecture.as_deref().filter(|a| !a.is_empty()) {
            selector.insert("kubernetes.io/arch".into(), arch.to_lowercase());
        }
    }
    selector.extend(opts.node_selectors.clone());
    selector.extend(vmi.spec.node_selector.clone().unwrap_or_default());
    if !opts.node_label_selectors {
        return selector;
    }
    let cpu = vmi.spec.domain.cpu.as_ref();
    if cpu.and_then(|c| c.dedicated_cpu_placement).unwrap_or(false) {
        enable(&mut selector, CPU_MANAGER_LABEL.into());
    }
    let model = cpu.and_then(|c| c.model.as_deref()).unwrap_or_default();
    if !matches!(model, "" | "host-model" | "host-passthrough") {
        enable(&mut selector, format!("{CPU_MODEL_LABEL_PREFIX}{model}"));
    }
    for feature in cpu.and_then(|c| c.features.as_ref()).into_iter().flatten() {
        if matches!(feature.policy.as_deref(), None | Some("") | Some("require")) {
            enable(
                &mut selector,
                format!("{CPU_FEATURE_LABEL_PREFIX}{}", feature.name),
            );
        }
    }
    let status_machine = vmi
        .status
        .as_ref()
        .and_then(|s| s.machine.as_ref())
        .and_then(|m| m.type_.as_deref());
    let spec_machine = vmi
        .spec
        .domain
        .machine
        .as_ref()
        .and_then(|m| m.type_.as_deref());
    if let Some(machine) = status_machine
        .filter(|m| !m.is_empty())
        .or(spec_machine.filter(|m| !m.is_empty()))
    {
        enable(
            &mut selector,
            format!("{MACHINE_TYPE_LABEL_PREFIX}{machine}"),
        );
    }
    selector
}

/// Adds a `DoesNotExist` requirement on `label` to every required node-affinity term.
fn reject_node_label(affinity: Option<Affinity>, label: &str) -> Affinity {
    let requirement = NodeSelectorRequirement {
        key: label.into(),
        operator: "DoesNotExist".into(),
        values: None,
    };
    let mut affinity = affinity.unwrap_or_default();
    let node = affinity
        .node_affinity
        .get_or_insert_with(NodeAffinity::default);
    match node
        .required_during_scheduling_ignored_during_execution
        .as_mut()
    {
        Some(required) => {
            for term in &mut required.node_selector_terms {
                term.match_expressions
                    .get_or_insert_with(Vec::new)
                    .push(requirement.clone());
            }
        }
        None => {
            node.required_during_scheduling_ignored_during_execution = Some(NodeSelector {
                node_selector_terms: vec![NodeSelectorTerm {
                    match_expressions: Some(vec![requirement]),
                    match_fields: None,
                }],
            });
        }
    }
    affinity
}

fn affinity(vmi: &VirtualMachineInstance, opts: &LauncherOptions) -> Option<Affinity> {
    let mut affinity = vmi.spec.affinity.clone();
    if !opts.node_label_selectors {
        return affinity;
    }
    let cpu = vmi.spec.domain.cpu.as_ref();
    let model = cpu.and_then(|c| c.model.as_deref()).unwrap_or("");
    if model.is_empty() || model == "host-model" {
        affinity = Some(reject_node_label(affinity, OBSOLETE_HOST_MODEL_LABEL));
    }
    for feature in cpu.and_then(|c| c.features.as_ref()).into_iter().flatten() {
        if feature.policy.as_deref() == Some("forbid") {
            let label = format!("{CPU_FEATURE_LABEL_PREFIX}{}", feature.name);
            affinity = Some(reject_node_label(affinity, &label));
        }
    }
    affinity
}

fn container_ports(vmi: &VirtualMachineInstance) -> Option<Vec<ContainerPort>> {
    let ports: Vec<ContainerPort> = vmi
        .spec
        .domain
        .devices
        .interfaces
        .iter()
        .flatten()
        .flat_map(|i| i.ports.iter().flatten())
        .map(|p| ContainerPort {
            name: p.name.clone().filter(|n| !n.is_empty()),
            protocol: Some(
                p.protocol
                    .clone()
                    .filter(|p| !p.is_empty())
                    .unwrap_or_else(|| "TCP".into()),
            ),
            container_port: p.port,
            ..Default::default()
        })
        .collect();
    (!ports.is_empty()).then_some(ports)
}

fn compute_security_context(non_root: bool) -> SecurityContext {
    if non_root {
        SecurityContext {
            allow_privilege_escalation: Some(false),
            run_as_non_root: Some(true),
            run_as_user: Some(NON_ROOT_UID),
            run_as_group: Some(NON_ROOT_UID),
            capabilities: Some(Capabilities {
                add: Some(vec!["NET_BIND_SERVICE".into()]),
                drop: Some(vec!["ALL".into()]),
            }),
            ..Default::default()
        }
    } else {
        SecurityContext {
            privileged: Some(false),
            run_as_user: Some(0),
            capabilities: Some(Capabilities {
                add: Some(vec!["NET_BIND_SERVICE".into(), "SYS_NICE".into()]),
                drop: Some(vec!["NET_RAW".into()]),
            }),
            ..Default::default()
        }
    }
}

fn service_account(vmi: &VirtualMachineInstance) -> (Option<String>, bool) {
    let from_volume = vmi
        .spec
        .volumes
        .iter()
        .flatten()
        .find_map(|v| v.service_account.as_ref())
        .and_then(|s| s.service_account_name.clone())
        .filter(|n| !n.is_empty());
    let name = vmi
        .spec
        .service_account_name
        .clone()
        .filter(|n| !n.is_empty())
        .or(from_volume.clone());
    (name, from_volume.is_some())
}

/// Renders the launcher pod of `vmi`. `qemu_timeout_seconds` is the launcher's qemu start
/// timeout (the caller adds upstream's random jitter).
pub fn render_launcher_pod(
    vmi: &VirtualMachineInstance,
    opts: &LauncherOptions,
    qemu_timeout_seconds: u32,
) -> Result<Pod, TemplateError> {
    let name = vmi
        .metadata
        .name
        .clone()
        .ok_or(TemplateError::MissingMetadata("name"))?;
    let namespace = vmi
        .metadata
        .namespace
        .clone()
        .ok_or(TemplateError::MissingMetadata("namespace"))?;
    let uid = vmi
        .metadata
        .uid
        .clone()
        .ok_or(TemplateError::MissingMetadata("uid"))?;
    let host = hostname(vmi);
    let non_root = is_non_root(vmi);
    let grace = vmi.spec.grace_period_seconds() + GRACE_PERIOD_PADDING_SECONDS;
    let kill_after = grace + GRACE_PERIOD_PADDING_SECONDS;

    let mut args: Vec<String> = [
        "--qemu-timeout",
        &format!("{qemu_timeout_seconds}s"),
        "--name",
        &name,
        "--uid",
        &uid,
        "--namespace",
        &namespace,
        "--kubevirt-share-dir",
        "/var/run/kubevirt",
        "--ephemeral-disk-dir",
        "/var/run/kubevirt-ephemeral-disks",
        "--container-disk-dir",
        "/var/run/kubevirt/container-disks",
        "--grace-period-seconds",
        &grace.to_string(),
        "--hook-sidecars",
        "0",
        "--ovmf-path",
        "/usr/share/OVMF",
        "--disk-memory-limit",
        "2097152000",
        "--hypervisor",
        "kvm",
    ]
    .into_iter()
    .map(String::from)
    .collect();
    if non_root {
        args.push("--run-as-nonroot".into());
    }
    if opts.resources.allow_emulation {
        args.push("--allow-emulation".into());
    }

    let compute = Container {
        name: COMPUTE_CONTAINER.into(),
        image: Some(opts.image.clone()),
        image_pull_policy: Some(opts.image_pull_policy.clone()),
        command: Some(vec!["/usr/bin/virt-launcher-monitor".into()]),
        args: Some(args),
        env: Some(vec![EnvVar {
            name: "POD_NAME".into(),
            value: None,
            value_from: Some(EnvVarSource {
                field_ref: Some(ObjectFieldSelector {
                    field_path: "metadata.name".into(),
                    api_version: None,
                }),
                ..Default::default()
            }),
        }]),
        resources: Some(compute_resources(vmi, &opts.resources)?),
        ports: container_ports(vmi),
        security_context: Some(compute_security_context(non_root)),
        ..Default::default()
    };

    let pod_security = if non_root {
        PodSecurityContext {
            fs_group: Some(NON_ROOT_UID),
            run_as_user: Some(NON_ROOT_UID),
            run_as_group: Some(NON_ROOT_UID),
            run_as_non_root: Some(true),
            ..Default::default()
        }
    } else {
        PodSecurityContext {
            fs_group: Some(NON_ROOT_UID),
            run_as_user: Some(0),
            ..Default::default()
        }
    };
    let (service_account_name, automount) = service_account(vmi);
    let spec = &vmi.spec;
    Ok(Pod {
        metadata: ObjectMeta {
            generate_name: Some(format!("virt-launcher-{name}-")),
            namespace: Some(namespace),
            labels: Some(pod_labels(vmi, &host, &uid, &name)),
            annotations: Some(pod_annotations(vmi, &name)),
            owner_references: Some(vec![owner_reference(vmi)]),
            ..Default::default()
        },
        spec: Some(PodSpec {
            hostname: Some(host),
            subdomain: spec.subdomain.clone(),
            security_context: Some(pod_security),
            termination_grace_period_seconds: Some(kill_after),
            restart_policy: Some("Never".into()),
            containers: vec![compute],
            node_selector: Some(node_selector(vmi, opts)).filter(|s| !s.is_empty()),
            dns_config: spec.dns_config.clone(),
            dns_policy: spec.dns_policy.clone(),
            readiness_gates: Some(vec![PodReadinessGate {
                condition_type: keys::VIRTUAL_MACHINE_UNPAUSED_POD_CONDITION.into(),
            }]),
            enable_service_links: Some(false),
            scheduler_name: spec.scheduler_name.clone(),
            tolerations: spec.tolerations.clone(),
            topology_spread_constraints: spec.topology_spread_constraints.clone(),
            priority_class_name: spec.priority_class_name.clone().filter(|p| !p.is_empty()),
            affinity: affinity(vmi, opts),
            service_account_name,
            automount_service_account_token: Some(automount),
            ..Default::default()
        }),
        status: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn vmi(metadata: Value, spec: Value) -> VirtualMachineInstance {
        serde_json::from_value(json!({
            "apiVersion": "kubevirt.io/v1", "kind": "VirtualMachineInstance",
            "metadata": metadata, "spec": spec,
        }))
        .unwrap()
    }

    fn basic() -> VirtualMachineInstance {
        vmi(
            json!({"name": "testvmi", "namespace": "default", "uid": "1234",
                   "labels": {"app": "web"},
                   "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{}",
                                   "kubevirt.io/latest-observed-api-version": "v1",
                                   "custom": "x"}}),
            json!({"domain": {"resources": {"requests": {"memory": "1Gi"}},
                              "cpu": {"sockets": 1, "model": "host-model"},
                              "machine": {"type": "q35"}, "devices": {}},
                   "architecture": "amd64"}),
        )
    }

    fn render(v: &VirtualMachineInstance) -> Pod {
        render_launcher_pod(v, &LauncherOptions::default(), 240).unwrap()
    }

    #[test]
    fn pod_is_named_labelled_and_owned_after_the_vmi() {
        let pod = render(&basic());
        let meta = &pod.metadata;
        assert_eq!(
            meta.generate_name.as_deref(),
            Some("virt-launcher-testvmi-")
        );
        let labels = meta.labels.as_ref().unwrap();
        assert_eq!(labels["kubevirt.io"], "virt-launcher");
        assert_eq!(labels["kubevirt.io/created-by"], "1234");
        assert_eq!(labels["vm.kubevirt.io/name"], "testvmi");
        assert_eq!(labels["vmi.kubevirt.io/id"], "testvmi");
        assert_eq!(labels["app"], "web");
        let owner = &meta.owner_references.as_ref().unwrap()[0];
        assert_eq!(
            (owner.kind.as_str(), owner.uid.as_str()),
            ("VirtualMachineInstance", "1234")
        );
        assert_eq!(
            (owner.controller, owner.block_owner_deletion),
            (Some(true), Some(true))
        );
    }

    #[test]
    fn annotations_drop_kubectl_and_api_version_keys() {
        let pod = render(&basic());
        let a = pod.metadata.annotations.unwrap();
        assert_eq!(a["kubevirt.io/domain"], "testvmi");
        assert_eq!(a["custom"], "x");
        assert_eq!(a["kubectl.kubernetes.io/default-container"], "compute");
        assert!(!a.contains_key("kubectl.kubernetes.io/last-applied-configuration"));
        assert!(!a.contains_key("kubevirt.io/latest-observed-api-version"));
    }

    #[test]
    fn spec_has_one_compute_container_grace_and_readiness_gate() {
        let pod = render(&basic());
        let spec = pod.spec.unwrap();
        assert_eq!(spec.containers.len(), 1);
        assert_eq!(spec.containers[0].name, "compute");
        assert_eq!(
            spec.containers[0].image.as_deref(),
            Some("kubevirt/virt-launcher:v1.9.0")
        );
        assert_eq!(spec.restart_policy.as_deref(), Some("Never"));
        assert_eq!(spec.termination_grace_period_seconds, Some(60));
        let gates = spec.readiness_gates.unwrap();
        assert_eq!(
            gates[0].condition_type,
            "kubevirt.io/virtual-machine-unpaused"
        );
        let args = spec.containers[0].args.clone().unwrap();
        let grace = args
            .iter()
            .position(|a| a == "--grace-period-seconds")
            .unwrap();
        assert_eq!(args[grace + 1], "45");
    }

    #[test]
    fn grace_period_follows_the_vmi() {
        let mut v = basic();
        v.spec.termination_grace_period_seconds = Some(0);
        assert_eq!(
            render(&v).spec.unwrap().termination_grace_period_seconds,
            Some(30)
        );
        v.spec.termination_grace_period_seconds = Some(600);
        assert_eq!(
            render(&v).spec.unwrap().termination_grace_period_seconds,
            Some(630)
        );
    }

    #[test]
    fn long_names_get_a_truncated_hashed_id() {
        let long = "a".repeat(70);
        let id = vmi_id(&long);
        assert_eq!(id.len(), 63);
        assert!(id.starts_with(&"a".repeat(54)));
        assert_eq!(&id[54..55], "-");
        // sha1("a" × 70) starts with these 8 hex digits.
        let digest = Sha1::digest(long.as_bytes());
        assert_eq!(
            &id[55..],
            format!(
                "{:02x}{:02x}{:02x}{:02x}",
                digest[0], digest[1], digest[2], digest[3]
            )
        );
        assert_eq!(vmi_id(&"b".repeat(63)), "b".repeat(63));
        let mut v = basic();
        v.metadata.name = Some(long.clone());
        let pod = render(&v);
        let labels = pod.metadata.labels.unwrap();
        assert_eq!(labels["vmi.kubevirt.io/id"], id);
        assert_eq!(labels["vm.kubevirt.io/name"], "a".repeat(63));
    }

    #[test]
    fn scheduling_constraints_come_from_the_vmi() {
        let v = vmi(
            json!({"name": "s", "namespace": "ns", "uid": "u"}),
            json!({"domain": {"resources": {"requests": {"memory": "64Mi"}}, "devices": {},
                              "cpu": {"model": "Haswell", "features": [{"name": "vmx"}, {"name": "avx", "policy": "forbid"}]}},
                   "nodeSelector": {"disk": "ssd"},
                   "tolerations": [{"key": "k", "operator": "Exists"}],
                   "schedulerName": "sched", "priorityClassName": "high"}),
        );
        let spec = render(&v).spec.unwrap();
        let selector = spec.node_selector.unwrap();
        assert_eq!(selector["disk"], "ssd");
        assert_eq!(selector["kubevirt.io/schedulable"], "true");
        assert_eq!(selector["cpu-model.node.kubevirt.io/Haswell"], "true");
        assert_eq!(selector["cpu-feature.node.kubevirt.io/vmx"], "true");
        assert!(!selector.contains_key("cpu-feature.node.kubevirt.io/avx"));
        assert_eq!(spec.tolerations.unwrap()[0].key.as_deref(), Some("k"));
        assert_eq!(spec.scheduler_name.as_deref(), Some("sched"));
        assert_eq!(spec.priority_class_name.as_deref(), Some("high"));
        let terms = spec
            .affinity
            .unwrap()
            .node_affinity
            .unwrap()
            .required_during_scheduling_ignored_during_execution
            .unwrap()
            .node_selector_terms;
        let exprs = terms[0].match_expressions.clone().unwrap();
        assert_eq!(exprs[0].key, "cpu-feature.node.kubevirt.io/avx");
        assert_eq!(exprs[0].operator, "DoesNotExist");
    }

    #[test]
    fn node_labeller_selectors_can_be_turned_off() {
        let opts = LauncherOptions {
            node_label_selectors: false,
            ..Default::default()
        };
        let spec = render_launcher_pod(&basic(), &opts, 240)
            .unwrap()
            .spec
            .unwrap();
        assert_eq!(spec.node_selector, None);
        assert_eq!(spec.affinity, None);
        let spec = render(&basic()).spec.unwrap();
        let selector = spec.node_selector.unwrap();
        assert_eq!(selector["kubernetes.io/arch"], "amd64");
        assert_eq!(selector["machine-type.node.kubevirt.io/q35"], "true");
        assert!(
            spec.affinity.is_some(),
            "host-model rejects obsolete host models"
        );
    }

    #[test]
    fn non_root_vmis_run_as_qemu_user() {
        let mut v = basic();
        v.status = Some(api::VirtualMachineInstanceStatus {
            runtime_user: Some(107),
            ..Default::default()
        });
        let spec = render(&v).spec.unwrap();
        assert_eq!(spec.security_context.unwrap().run_as_user, Some(107));
        assert!(
            spec.containers[0]
                .args
                .as_ref()
                .unwrap()
                .contains(&"--run-as-nonroot".to_string())
        );
    }

    #[test]
    fn interface_ports_become_container_ports() {
        let v = vmi(
            json!({"name": "p", "namespace": "ns", "uid": "u"}),
            json!({"domain": {"resources": {"requests": {"memory": "64Mi"}}, "devices": {
                "interfaces": [{"name": "default", "masquerade": {}, "ports": [{"port": 80}, {"name": "dns", "port": 53, "protocol": "UDP"}]}]}}}),
        );
        let ports = render(&v).spec.unwrap().containers[0]
            .ports
            .clone()
            .unwrap();
        assert_eq!(
            (ports[0].container_port, ports[0].protocol.as_deref()),
            (80, Some("TCP"))
        );
        assert_eq!(
            (ports[1].name.as_deref(), ports[1].protocol.as_deref()),
            (Some("dns"), Some("UDP"))
        );
    }
}
