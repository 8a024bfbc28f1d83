//! The cluster-wide settings admission depends on (upstream: the `KubeVirt` CR's
//! `spec.configuration`, read through `virtconfig.ClusterConfig`).

use std::collections::BTreeMap;

/// Maturity of a feature gate. Beta and GA gates are on unless explicitly disabled (GA gates
/// cannot be disabled); alpha gates are off unless listed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GateState {
    Alpha,
    Beta,
    Ga,
}

/// The feature gates admission consults, with their upstream maturity.
pub mod gate {
    pub const CPU_MANAGER: &str = "CPUManager";
    pub const IGNITION: &str = "ExperimentalIgnitionSupport";
    pub const SIDECAR: &str = "Sidecar";
    pub const HOST_DEVICES: &str = "HostDevices";
    pub const HOST_DISK: &str = "HostDisk";
    pub const DOWNWARD_METRICS: &str = "DownwardMetrics";
    pub const ROOT: &str = "Root";
    pub const WORKLOAD_ENCRYPTION_SEV: &str = "WorkloadEncryptionSEV";
    pub const WORKLOAD_ENCRYPTION_TDX: &str = "WorkloadEncryptionTDX";
    pub const VSOCK: &str = "VSOCK";
    pub const VIRTIOFS_STORAGE: &str = "EnableVirtioFsStorageVolumes";
    pub const DECENTRALIZED_LIVE_MIGRATION: &str = "DecentralizedLiveMigration";
    pub const DECLARATIVE_HOTPLUG_VOLUMES: &str = "DeclarativeHotplugVolumes";
    pub const PASST_BINDING: &str = "PasstBinding";
    pub const REBOOT_POLICY: &str = "RebootPolicy";
    pub const RESERVED_OVERHEAD_MEMLOCK: &str = "ReservedOverheadMemlock";
    pub const PORT_RANGES_SPEC: &str = "PortRangesSpec";
    pub const NUMA: &str = "NUMA";
    pub const PERSISTENT_RESERVATION: &str = "PersistentReservation";
    pub const NETWORK_DEVICES_WITH_DRA: &str = "NetworkDevicesWithDRA";
}

/// Upstream maturity of the gates above (pkg/virt-config/featuregate/active.go). Gates that
/// graduated upstream (NUMA, PersistentReservation) are GA.
const GATES: &[(&str, GateState)] = &[
    (gate::CPU_MANAGER, GateState::Alpha),
    (gate::IGNITION, GateState::Alpha),
    (gate::SIDECAR, GateState::Alpha),
    (gate::HOST_DEVICES, GateState::Alpha),
    (gate::HOST_DISK, GateState::Alpha),
    (gate::DOWNWARD_METRICS, GateState::Alpha),
    (gate::ROOT, GateState::Alpha),
    (gate::WORKLOAD_ENCRYPTION_SEV, GateState::Beta),
    (gate::WORKLOAD_ENCRYPTION_TDX, GateState::Alpha),
    (gate::VSOCK, GateState::Alpha),
    (gate::VIRTIOFS_STORAGE, GateState::Alpha),
    (gate::DECENTRALIZED_LIVE_MIGRATION, GateState::Beta),
    (gate::DECLARATIVE_HOTPLUG_VOLUMES, GateState::Beta),
    (gate::PASST_BINDING, GateState::Beta),
    (gate::REBOOT_POLICY, GateState::Beta),
    (gate::RESERVED_OVERHEAD_MEMLOCK, GateState::Alpha),
    (gate::PORT_RANGES_SPEC, GateState::Alpha),
    (gate::NUMA, GateState::Ga),
    (gate::PERSISTENT_RESERVATION, GateState::Ga),
    (gate::NETWORK_DEVICES_WITH_DRA, GateState::Alpha),
];

/// How VirtualMachine template changes reach a running VMI.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum RolloutStrategy {
    /// Changes are applied live where possible (CPU sockets, memory): VMIs get hotplug room.
    #[default]
    LiveUpdate,
    /// Changes wait for a restart.
    Stage,
}

/// The binding of the pod network interface added to VMIs without networks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum DefaultInterface {
    #[default]
    Bridge,
    Masquerade,
}

/// Cluster configuration used by the admission plug-ins. [`Default`] is KubeVirt's out-of-the-box
/// configuration on amd64.
#[derive(Clone, Debug, PartialEq)]
pub struct ClusterConfig {
    /// Explicitly enabled gates (`developerConfiguration.featureGates`).
    pub feature_gates: Vec<String>,
    /// Explicitly disabled gates (`developerConfiguration.disabledFeatureGates`).
    pub disabled_feature_gates: Vec<String>,
    /// Architecture given to objects that name none.
    pub default_architecture: String,
    /// Machine type per architecture (`architectureConfiguration.<arch>.machineType`).
    pub machine_types: BTreeMap<String, String>,
    /// Glob patterns of accepted machine types per architecture.
    pub emulated_machines: BTreeMap<String, Vec<String>>,
    /// `network.defaultNetworkInterface`.
    pub default_network_interface: DefaultInterface,
    /// `network.permitBridgeInterfaceOnPodNetwork`.
    pub permit_bridge_interface_on_pod_network: bool,
    /// `evictionStrategy`: None, LiveMigrate, LiveMigrateIfPossible or External; unset is None.
    pub eviction_strategy: Option<String>,
    /// `vmRolloutStrategy`.
    pub vm_rollout_strategy: RolloutStrategy,
    /// `liveUpdateConfiguration.maxHotplugRatio`.
    pub max_hotplug_ratio: u32,
    /// `liveUpdateConfiguration.maxCpuSockets`.
    pub max_cpu_sockets: Option<u32>,
    /// `cpuModel`; empty means `host-model`.
    pub cpu_model: String,
}

impl Default for ClusterConfig {
    fn default() -> Self {
        let arch = |a: &str, v: &[&str]| (a.to_string(), v.iter().map(|s| s.to_string()).collect());
        ClusterConfig {
            feature_gates: Vec::new(),
            disabled_feature_gates: Vec::new(),
            default_architecture: "amd64".into(),
            machine_types: [
                ("amd64", "q35"),
                ("arm64", "virt"),
                ("s390x", "s390-ccw-virtio"),
            ]
            .into_iter()
            .map(|(a, m)| (a.to_string(), m.to_string()))
            .collect(),
            emulated_machines: [
                arch("amd64", &["q35*", "pc-q35*"]),
                arch("arm64", &["virt*"]),
                arch("s390x", &["s390-ccw-virtio*"]),
            ]
            .into_iter()
            .collect(),
            default_network_interface: DefaultInterface::Bridge,
            permit_bridge_interface_on_pod_network: true,
            eviction_strategy: None,
            vm_rollout_strategy: RolloutStrategy::LiveUpdate,
            max_hotplug_ratio: 4,
            max_cpu_sockets: None,
            cpu_model: String::new(),
        }
    }
}

impl ClusterConfig {
    /// Whether a gate is on: GA always; listed gates; beta gates unless disabled.
    pub fn is_enabled(&self, name: &str) -> bool {
        let state = GATES.iter().find(|(g, _)| *g == name).map(|(_, s)| *s);
        match state {
            Some(GateState::Ga) => true,
            _ if self.feature_gates.iter().any(|g| g == name) => true,
            _ if self.disabled_feature_gates.iter().any(|g| g == name) => false,
            Some(GateState::Beta) => true,
            _ => false,
        }
    }

    /// The architecture an object without one gets.
    pub fn architecture_or_default<'a>(&'a self, arch: &'a str) -> &'a str {
        if arch.is_empty() {
            &self.default_architecture
        } else {
            arch
        }
    }

    /// The default machine type of an architecture.
    pub fn machine_type(&self, arch: &str) -> String {
        let arch = self.architecture_or_default(arch);
        self.machine_types.get(arch).cloned().unwrap_or_default()
    }

    /// The accepted machine type patterns of an architecture.
    pub fn emulated_machines(&self, arch: &str) -> &[String] {
        let arch = self.architecture_or_default(arch);
        self.emulated_machines
            .get(arch)
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }

    pub fn live_update(&self) -> bool {
        self.vm_rollout_strategy == RolloutStrategy::LiveUpdate
    }

    /// The CPU model VMIs without one get.
    pub fn cpu_model(&self) -> &str {
        if self.cpu_model.is_empty() {
            "host-model"
        } else {
            &self.cpu_model
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn beta_gates_are_on_unless_disabled() {
        let mut c = ClusterConfig::default();
        assert!(c.is_enabled(gate::DECENTRALIZED_LIVE_MIGRATION));
        c.disabled_feature_gates
            .push(gate::DECENTRALIZED_LIVE_MIGRATION.into());
        assert!(!c.is_enabled(gate::DECENTRALIZED_LIVE_MIGRATION));
    }

    #[test]
    fn alpha_gates_are_off_unless_listed() {
        let mut c = ClusterConfig::default();
        assert!(!c.is_enabled(gate::HOST_DISK));
        c.feature_gates.push(gate::HOST_DISK.into());
        assert!(c.is_enabled(gate::HOST_DISK));
    }

    #[test]
    fn ga_gates_cannot_be_disabled_and_unknown_gates_are_off() {
        let mut c = ClusterConfig::default();
        c.disabled_feature_gates.push(gate::NUMA.into());
        assert!(c.is_enabled(gate::NUMA));
        assert!(!c.is_enabled("NoSuchGate"));
    }

    #[test]
    fn machine_defaults_follow_the_architecture() {
        let c = ClusterConfig::default();
        assert_eq!(c.machine_type(""), "q35");
        assert_eq!(c.machine_type("arm64"), "virt");
        assert_eq!(c.emulated_machines("amd64"), ["q35*", "pc-q35*"]);
        assert_eq!(c.cpu_model(), "host-model");
    }
}
