//! The VirtualMachineInstance kind and the top level of its spec.

use crate::access_credentials::AccessCredential;
use crate::domain::DomainSpec;
use crate::networks::Network;
use crate::vmi_status::VirtualMachineInstanceStatus;
use crate::volumes::Volume;
use k8s_openapi::api::core::v1 as corev1;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// VirtualMachineInstanceSpec is a description of a VirtualMachineInstance.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema, CustomResource)]
#[kube(
    group = "kubevirt.io",
    version = "v1",
    kind = "VirtualMachineInstance",
    namespaced,
    status = "VirtualMachineInstanceStatus",
    shortname = "vmi",
    shortname = "vmis",
    category = "all",
    printcolumn = r#"{"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}"#,
    printcolumn = r#"{"name": "Phase", "type": "string", "jsonPath": ".status.phase"}"#,
    printcolumn = r#"{"name": "IP", "type": "string", "jsonPath": ".status.interfaces[0].ipAddress"}"#,
    printcolumn = r#"{"name": "NodeName", "type": "string", "jsonPath": ".status.nodeName"}"#,
    printcolumn = r#"{"name": "Ready", "type": "string", "jsonPath": ".status.conditions[?(@.type=='Ready')].status"}"#,
    printcolumn = r#"{"name": "Live-Migratable", "type": "string", "jsonPath": ".status.conditions[?(@.type=='LiveMigratable')].status", "priority": 1}"#,
    printcolumn = r#"{"name": "Paused", "type": "string", "jsonPath": ".status.conditions[?(@.type=='Paused')].status", "priority": 1}"#,
    doc = "VirtualMachineInstance is *the* VirtualMachineInstance Definition. It represents a virtual machine in the runtime environment of kubernetes.",
    derive = "PartialEq"
)]
#[serde(rename_all = "camelCase")]
pub struct VirtualMachineInstanceSpec {
    /// If specified, indicates the pod's priority.
    /// If not specified, the pod priority will be default or zero if there is no
    /// default.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub priority_class_name: Option<String>,
    /// Specification of the desired behavior of the VirtualMachineInstance on the host.
    pub domain: DomainSpec,
    /// NodeSelector is a selector which must be true for the vmi to fit on a node.
    /// Selector which must match a node's labels for the vmi to be scheduled on that node.
    /// More info: https://kubernetes.io/docs/concepts/configuration/assign-pod-node/
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node_selector: Option<BTreeMap<String, String>>,
    /// If affinity is specifies, obey all the affinity rules
    #[serde(skip_serializing_if = "Option::is_none")]
    pub affinity: Option<corev1::Affinity>,
    /// If specified, the VMI will be dispatched by specified scheduler.
    /// If not specified, the VMI will be dispatched by default scheduler.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scheduler_name: Option<String>,
    /// ServiceAccountName is the name of the ServiceAccount to use to run the
    /// virt-launcher pod. This sets pod.spec.serviceAccountName but does NOT
    /// automatically expose the service account token to the VM guest.
    /// To expose the token to the VM, use a serviceAccount volume.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service_account_name: Option<String>,
    /// If toleration is specified, obey all the toleration rules.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tolerations: Option<Vec<corev1::Toleration>>,
    /// TopologySpreadConstraints describes how a group of VMIs will be spread across a given
    /// topology
    /// domains. K8s scheduler will schedule VMI pods in a way which abides by the constraints.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(extend("x-kubernetes-list-type" = "map"), extend("x-kubernetes-list-map-keys" = ["topologyKey", "whenUnsatisfiable"]))]
    pub topology_spread_constraints: Option<Vec<corev1::TopologySpreadConstraint>>,
    /// EvictionStrategy describes the strategy to follow when a node drain occurs.
    /// The possible options are:
    /// - "None": No action will be taken, according to the specified 'RunStrategy' the
    ///   VirtualMachine will be restarted or shutdown.
    /// - "LiveMigrate": the VirtualMachineInstance will be migrated instead of being shutdown.
    /// - "LiveMigrateIfPossible": the same as "LiveMigrate" but only if the VirtualMachine is
    ///   Live-Migratable, otherwise it will behave as "None".
    /// - "External": the VirtualMachineInstance will be protected and
    ///   `vmi.Status.EvacuationNodeName` will be set on eviction. This is mainly useful for
    ///   cluster-api-provider-kubevirt (capk) which needs a way for VMI's to be blocked from
    ///   eviction, yet signal capk that eviction has been called on the VMI so the capk controller
    ///   can handle tearing the VMI down. Details can be found in the commit description
    ///   https://github.com/kubevirt/kubevirt/commit/c1d77face705c8b126696bac9a3ee3825f27f1fa.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub eviction_strategy: Option<String>,
    /// StartStrategy can be set to "Paused" if Virtual Machine should be started in paused state.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_strategy: Option<String>,
    /// Grace period observed after signalling a VirtualMachineInstance to stop after which the
    /// VirtualMachineInstance is force terminated.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub termination_grace_period_seconds: Option<i64>,
    /// List of volumes that can be mounted by disks belonging to the vmi.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(extend("maxItems" = 256))]
    pub volumes: Option<Vec<Volume>>,
    /// Periodic probe of VirtualMachineInstance liveness.
    /// VirtualmachineInstances will be stopped if the probe fails.
    /// Cannot be updated.
    /// More info: https://kubernetes.io/docs/concepts/workloads/pods/pod-lifecycle#container-probes
    #[serde(skip_serializing_if = "Option::is_none")]
    pub liveness_probe: Option<Probe>,
    /// Periodic probe of VirtualMachineInstance service readiness.
    /// VirtualmachineInstances will be removed from service endpoints if the probe fails.
    /// Cannot be updated.
    /// More info: https://kubernetes.io/docs/concepts/workloads/pods/pod-lifecycle#container-probes
    #[serde(skip_serializing_if = "Option::is_none")]
    pub readiness_probe: Option<Probe>,
    /// Specifies the hostname of the vmi
    /// If not specified, the hostname will be set to the name of the vmi, if dhcp or cloud-init is
    /// configured properly.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    /// If specified, the fully qualified vmi hostname will be "<hostname>.<subdomain>.<pod
    /// namespace>.svc.<cluster domain>".
    /// If not specified, the vmi will not have a domainname at all. The DNS entry will resolve to
    /// the vmi,
    /// no matter if the vmi itself can pick up a hostname.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subdomain: Option<String>,
    /// List of networks that can be attached to a vm's virtual interface.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(extend("maxItems" = 256))]
    pub networks: Option<Vec<Network>>,
    /// Set DNS policy for the pod.
    /// Defaults to "ClusterFirst".
    /// Valid values are 'ClusterFirstWithHostNet', 'ClusterFirst', 'Default' or 'None'.
    /// DNS parameters given in DNSConfig will be merged with the policy selected with DNSPolicy.
    /// To have DNS options set along with hostNetwork, you have to specify DNS policy
    /// explicitly to 'ClusterFirstWithHostNet'.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dns_policy: Option<String>,
    /// Specifies the DNS parameters of a pod.
    /// Parameters specified here will be merged to the generated DNS
    /// configuration based on DNSPolicy.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dns_config: Option<corev1::PodDNSConfig>,
    /// Specifies a set of public keys to inject into the vm guest
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(extend("x-kubernetes-list-type" = "atomic"), extend("maxItems" = 256))]
    pub access_credentials: Option<Vec<AccessCredential>>,
    /// Specifies the architecture of the vm guest you are attempting to run. Defaults to the
    /// compiled architecture of the KubeVirt components
    #[serde(skip_serializing_if = "Option::is_none")]
    pub architecture: Option<String>,
    /// ResourceClaims define which ResourceClaims must be allocated
    /// and reserved before the VMI, hence virt-launcher pod is allowed to start. The resources
    /// will be made available to the domain which consumes them
    /// by name.
    ///
    /// This is an alpha field and requires enabling the
    /// DynamicResourceAllocation feature gate in kubernetes
    ///  https://kubernetes.io/docs/concepts/scheduling-eviction/dynamic-resource-allocation/
    /// This field should only be configured if one of the feature-gates GPUsWithDRA,
    /// HostDevicesWithDRA,
    /// or NetworkDevicesWithDRA is enabled.
    /// This feature is in alpha.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(extend("x-kubernetes-list-type" = "map"), extend("x-kubernetes-list-map-keys" = ["name"]))]
    pub resource_claims: Option<Vec<VirtualMachineInstanceResourceClaim>>,
    /// List of utility volumes that can be mounted to the vmi virt-launcher pod
    /// without having a matching disk in the domain.
    /// Used to collect data for various operational workflows.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(extend("maxItems" = 256), extend("x-kubernetes-list-type" = "map"), extend("x-kubernetes-list-map-keys" = ["name"]))]
    pub utility_volumes: Option<Vec<UtilityVolume>>,
}

/// Probe describes a health check to be performed against a VirtualMachineInstance to determine
/// whether it is
/// alive or ready to receive traffic.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Probe {
    /// One and only one of the following should be specified.
    /// Exec specifies the action to take, it will be executed on the guest through the
    /// qemu-guest-agent.
    /// If the guest agent is not available, this probe will fail.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exec: Option<corev1::ExecAction>,
    /// GuestAgentPing contacts the qemu-guest-agent for availability checks.
    /// Probe failures are automatically suppressed when the guest agent is
    /// unreachable for a non-fault reason: during live migration (guest paused
    /// on one pod while memory is transferred) and whenever the VM is paused
    /// for an intentional or transient reason such as a user pause, snapshot,
    /// save, or dump. Failures are not suppressed when the VM is paused due to
    /// a fault (IO error, crash, or postcopy failure).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub guest_agent_ping: Option<GuestAgentPing>,
    /// HTTPGet specifies the http request to perform.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http_get: Option<corev1::HTTPGetAction>,
    /// TCPSocket specifies an action involving a TCP port.
    /// TCP hooks not yet supported
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tcp_socket: Option<corev1::TCPSocketAction>,
    /// Number of seconds after the VirtualMachineInstance has started before liveness probes are
    /// initiated.
    /// More info: https://kubernetes.io/docs/concepts/workloads/pods/pod-lifecycle#container-probes
    #[serde(skip_serializing_if = "Option::is_none")]
    pub initial_delay_seconds: Option<i32>,
    /// Number of seconds after which the probe times out.
    /// For exec probes the timeout fails the probe but does not terminate the command running on
    /// the guest.
    /// This means a blocking command can result in an increasing load on the guest.
    /// A small buffer will be added to the resulting workload exec probe to compensate for delays
    /// caused by the qemu guest exec mechanism.
    /// Defaults to 1 second. Minimum value is 1.
    /// More info: https://kubernetes.io/docs/concepts/workloads/pods/pod-lifecycle#container-probes
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeout_seconds: Option<i32>,
    /// How often (in seconds) to perform the probe.
    /// Default to 10 seconds. Minimum value is 1.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub period_seconds: Option<i32>,
    /// Minimum consecutive successes for the probe to be considered successful after having failed.
    /// Defaults to 1. Must be 1 for liveness. Minimum value is 1.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub success_threshold: Option<i32>,
    /// Minimum consecutive failures for the probe to be considered failed after having succeeded.
    /// Defaults to 3. Minimum value is 1.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure_threshold: Option<i32>,
}

/// VirtualMachineInstanceResourceClaim references a ResourceClaim or ResourceClaimTemplate for
/// dynamic resource allocation.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VirtualMachineInstanceResourceClaim {
    /// Name uniquely identifies this resource claim inside the VMI.
    /// This field is required and must be a DNS_LABEL.
    pub name: String,
    /// ResourceClaimName is the name of a ResourceClaim object in the same
    /// namespace as this VMI.
    ///
    /// Exactly one of ResourceClaimName and ResourceClaimTemplateName must
    /// be set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource_claim_name: Option<String>,
    /// ResourceClaimTemplateName is the name of a ResourceClaimTemplate
    /// object in the same namespace as this VMI.
    ///
    /// The template name is passed through to the generated virt-launcher Pod
    /// spec. From the Pod spec, the template is used to create a new
    /// ResourceClaim, which is bound to the virt-launcher Pod. When the
    /// virt-launcher Pod is deleted, the ResourceClaim is also deleted. The
    /// generated ResourceClaim name is unique and is recorded in
    /// pod.status.resourceClaimStatuses.
    ///
    /// Exactly one of ResourceClaimName and ResourceClaimTemplateName must
    /// be set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource_claim_template_name: Option<String>,
}

/// UtilityVolume is a volume used by KubeVirt itself rather than the guest.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct UtilityVolume {
    /// UtilityVolume's name.
    /// Must be unique within the vmi, including regular Volumes.
    pub name: String,
    /// claimName is the name of a PersistentVolumeClaim in the same namespace as the pod using this
    /// volume. More info:
    /// https://kubernetes.io/docs/concepts/storage/persistent-volumes#persistentvolumeclaims
    pub claim_name: String,
    /// readOnly Will force the ReadOnly setting in VolumeMounts. Default false.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub read_only: Option<bool>,
    /// Type represents the type of the utility volume.
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub type_: Option<String>,
}

/// GuestAgentPing configures the guest-agent based ping probe
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct GuestAgentPing {}
