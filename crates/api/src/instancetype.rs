//! The `instancetype.kubevirt.io/v1beta1` kinds VirtualMachineInstancetype (namespaced) and
//! VirtualMachineClusterInstancetype (cluster-scoped), which share one spec.

use std::collections::BTreeMap;
use std::ops::{Deref, DerefMut};

use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use kube::CustomResource;
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Serialize};

use crate::devices::{Gpu, HostDevice};
use crate::domain::{DiskIoThreads, Hugepages, LaunchSecurity, Numa, Realtime};

/// API group of instancetypes and preferences.
pub const INSTANCETYPE_GROUP: &str = "instancetype.kubevirt.io";

/// VirtualMachineInstancetypeSpec is a description of the VirtualMachineInstancetype or
/// VirtualMachineClusterInstancetype.
///
/// CPU and Memory are required attributes with both requiring that their Guest attribute is
/// defined, ensuring a number of vCPUs and amount of RAM is always provided by each instancetype.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema, CustomResource)]
#[kube(
    group = "instancetype.kubevirt.io",
    version = "v1beta1",
    kind = "VirtualMachineInstancetype",
    namespaced,
    shortname = "vminstancetype",
    shortname = "vminstancetypes",
    shortname = "vmf",
    shortname = "vmfs",
    category = "all",
    doc = "VirtualMachineInstancetype resource contains quantitative and resource related VirtualMachine configuration\nthat can be used by multiple VirtualMachine resources.",
    derive = "PartialEq"
)]
#[serde(rename_all = "camelCase")]
pub struct VirtualMachineInstancetypeSpec {
    /// NodeSelector is a selector which must be true for the vmi to fit on a node.
    /// Selector which must match a node's labels for the vmi to be scheduled on that node.
    /// More info: https://kubernetes.io/docs/concepts/configuration/assign-pod-node/
    ///
    /// NodeSelector is the name of the custom node selector for the instancetype.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node_selector: Option<BTreeMap<String, String>>,
    /// If specified, the VMI will be dispatched by specified scheduler.
    /// If not specified, the VMI will be dispatched by default scheduler.
    ///
    /// SchedulerName is the name of the custom K8s scheduler for the instancetype.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scheduler_name: Option<String>,
    /// Required CPU related attributes of the instancetype.
    pub cpu: CpuInstancetype,
    /// Required Memory related attributes of the instancetype.
    pub memory: MemoryInstancetype,
    /// Optionally defines any GPU devices associated with the instancetype.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(extend("x-kubernetes-list-type" = "atomic"))]
    pub gpus: Option<Vec<Gpu>>,
    /// Optionally defines any HostDevices associated with the instancetype.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(extend("x-kubernetes-list-type" = "atomic"))]
    pub host_devices: Option<Vec<HostDevice>>,
    /// Optionally defines the IOThreadsPolicy to be used by the instancetype.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub io_threads_policy: Option<String>,
    /// Optionally specifies the IOThreads options to be used by the instancetype.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub io_threads: Option<DiskIoThreads>,
    /// Optionally defines the LaunchSecurity to be used by the instancetype.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub launch_security: Option<LaunchSecurity>,
    /// Optionally defines the required Annotations to be used by the instance type and applied to
    /// the VirtualMachineInstance
    #[serde(skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
}

/// The spec of a VirtualMachineClusterInstancetype: the same as that of a
/// VirtualMachineInstancetype, which it dereferences to.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema, CustomResource)]
#[kube(
    group = "instancetype.kubevirt.io",
    version = "v1beta1",
    kind = "VirtualMachineClusterInstancetype",
    shortname = "vmclusterinstancetype",
    shortname = "vmclusterinstancetypes",
    shortname = "vmcf",
    shortname = "vmcfs",
    doc = "VirtualMachineClusterInstancetype is a cluster scoped version of VirtualMachineInstancetype resource.",
    derive = "PartialEq"
)]
#[serde(transparent)]
pub struct VirtualMachineClusterInstancetypeSpec(pub VirtualMachineInstancetypeSpec);

impl Deref for VirtualMachineClusterInstancetypeSpec {
    type Target = VirtualMachineInstancetypeSpec;

    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl DerefMut for VirtualMachineClusterInstancetypeSpec {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.0
    }
}

impl From<VirtualMachineInstancetypeSpec> for VirtualMachineClusterInstancetypeSpec {
    fn from(spec: VirtualMachineInstancetypeSpec) -> Self {
        VirtualMachineClusterInstancetypeSpec(spec)
    }
}

/// CPUInstancetype contains the CPU related configuration of a given
/// VirtualMachineInstancetypeSpec.
///
/// Guest is a required attribute and defines the number of vCPUs to be exposed to the guest by the
/// instancetype.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CpuInstancetype {
    /// Required number of vCPUs to expose to the guest.
    ///
    /// The resulting CPU topology being derived from the optional PreferredCPUTopology attribute
    /// of CPUPreferences that itself defaults to PreferSockets.
    pub guest: u32,
    /// Model specifies the CPU model inside the VMI.
    /// List of available models https://github.com/libvirt/libvirt/tree/master/src/cpu_map.
    /// It is possible to specify special cases like "host-passthrough" to get the same CPU as the
    /// node
    /// and "host-model" to get CPU closest to the node one.
    /// Defaults to host-model.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// DedicatedCPUPlacement requests the scheduler to place the VirtualMachineInstance on a node
    /// with enough dedicated pCPUs and pin the vCPUs to it.
    #[serde(
        rename = "dedicatedCPUPlacement",
        skip_serializing_if = "Option::is_none"
    )]
    pub dedicated_cpu_placement: Option<bool>,
    /// NUMA allows specifying settings for the guest NUMA topology
    #[serde(skip_serializing_if = "Option::is_none")]
    pub numa: Option<Numa>,
    /// IsolateEmulatorThread requests one more dedicated pCPU to be allocated for the VMI to place
    /// the emulator thread on it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub isolate_emulator_thread: Option<bool>,
    /// Realtime instructs the virt-launcher to tune the VMI for lower latency, optional for real
    /// time workloads
    #[serde(skip_serializing_if = "Option::is_none")]
    pub realtime: Option<Realtime>,
    /// MaxSockets specifies the maximum amount of sockets that can be hotplugged
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_sockets: Option<u32>,
}

/// MemoryInstancetype contains the Memory related configuration of a given
/// VirtualMachineInstancetypeSpec.
///
/// Guest is a required attribute and defines the amount of RAM to be exposed to the guest by the
/// instancetype.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct MemoryInstancetype {
    /// Required amount of memory which is visible inside the guest OS.
    #[schemars(schema_with = "crate::schema::quantity")]
    pub guest: Quantity,
    /// Optionally enables the use of hugepages for the VirtualMachineInstance instead of regular
    /// memory.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hugepages: Option<Hugepages>,
    /// OvercommitPercent is the percentage of the guest memory which will be overcommitted.
    /// This means that the VMIs parent pod (virt-launcher) will request less
    /// physical memory by a factor specified by the OvercommitPercent.
    /// Overcommits can lead to memory exhaustion, which in turn can lead to crashes. Use
    /// carefully.
    /// Defaults to 0
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "percent")]
    pub overcommit_percent: Option<i64>,
    /// MaxGuest allows to specify the maximum amount of memory which is visible inside the Guest
    /// OS.
    /// The delta between MaxGuest and Guest is the amount of memory that can be hot(un)plugged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "crate::schema::quantity")]
    pub max_guest: Option<Quantity>,
}

/// Schema of a percentage: upstream declares it a plain `int` bounded to 0..=100.
fn percent(_: &mut SchemaGenerator) -> Schema {
    json_schema!({"type": "integer", "minimum": 0, "maximum": 100})
}
