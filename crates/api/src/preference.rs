//! The `instancetype.kubevirt.io/v1beta1` kinds VirtualMachinePreference (namespaced) and
//! VirtualMachineClusterPreference (cluster-scoped), which share one spec.

use std::collections::BTreeMap;
use std::ops::{Deref, DerefMut};

use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::devices::{BlockSize, Rng, TpmDevice, VgpuOptions};
use crate::domain::{CpuFeature, Efi, LaunchSecurity};
use crate::features::{
    ClockOffsetUtc, FeatureApic, FeatureHyperv, FeatureKvm, FeatureState, Timer,
};
use crate::networks::InterfaceMasquerade;

/// VirtualMachinePreferenceSpec is a description of the VirtualMachinePreference or
/// VirtualMachineClusterPreference.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema, CustomResource)]
#[kube(
    group = "instancetype.kubevirt.io",
    version = "v1beta1",
    kind = "VirtualMachinePreference",
    namespaced,
    shortname = "vmpref",
    shortname = "vmprefs",
    shortname = "vmp",
    shortname = "vmps",
    category = "all",
    doc = "VirtualMachinePreference resource contains optional preferences related to the VirtualMachine.",
    derive = "PartialEq"
)]
#[serde(rename_all = "camelCase")]
pub struct VirtualMachinePreferenceSpec {
    /// Clock optionally defines preferences associated with the Clock attribute of a
    /// VirtualMachineInstance DomainSpec
    #[serde(skip_serializing_if = "Option::is_none")]
    pub clock: Option<ClockPreferences>,
    /// CPU optionally defines preferences associated with the CPU attribute of a
    /// VirtualMachineInstance DomainSpec
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpu: Option<CpuPreferences>,
    /// Devices optionally defines preferences associated with the Devices attribute of a
    /// VirtualMachineInstance DomainSpec
    #[serde(skip_serializing_if = "Option::is_none")]
    pub devices: Option<DevicePreferences>,
    /// Features optionally defines preferences associated with the Features attribute of a
    /// VirtualMachineInstance DomainSpec
    #[serde(skip_serializing_if = "Option::is_none")]
    pub features: Option<FeaturePreferences>,
    /// Firmware optionally defines preferences associated with the Firmware attribute of a
    /// VirtualMachineInstance DomainSpec
    #[serde(skip_serializing_if = "Option::is_none")]
    pub firmware: Option<FirmwarePreferences>,
    /// Machine optionally defines preferences associated with the Machine attribute of a
    /// VirtualMachineInstance DomainSpec
    #[serde(skip_serializing_if = "Option::is_none")]
    pub machine: Option<MachinePreferences>,
    /// Volumes optionally defines preferences associated with the Volumes attribute of a
    /// VirtualMachineInstace DomainSpec
    #[serde(skip_serializing_if = "Option::is_none")]
    pub volumes: Option<VolumePreferences>,
    /// Subdomain of the VirtualMachineInstance
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preferred_subdomain: Option<String>,
    /// Grace period observed after signalling a VirtualMachineInstance to stop after which the
    /// VirtualMachineInstance is force terminated.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preferred_termination_grace_period_seconds: Option<i64>,
    /// Requirements defines the minium amount of instance type defined resources required by a
    /// set of preferences
    #[serde(skip_serializing_if = "Option::is_none")]
    pub requirements: Option<PreferenceRequirements>,
    /// Optionally defines preferred Annotations to be applied to the VirtualMachineInstance
    #[serde(skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
    /// PreferSpreadSocketToCoreRatio defines the ratio to spread vCPUs between cores and sockets,
    /// it defaults to 2.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prefer_spread_socket_to_core_ratio: Option<u32>,
    /// PreferredArchitecture defines a prefeerred architecture for the VirtualMachine
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preferred_architecture: Option<String>,
    /// Optionally defines the preferred LaunchSecurity
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preferred_launch_security: Option<LaunchSecurity>,
}

/// The spec of a VirtualMachineClusterPreference: the same as that of a
/// VirtualMachinePreference, which it dereferences to.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema, CustomResource)]
#[kube(
    group = "instancetype.kubevirt.io",
    version = "v1beta1",
    kind = "VirtualMachineClusterPreference",
    shortname = "vmcp",
    shortname = "vmcps",
    doc = "VirtualMachineClusterPreference is a cluster scoped version of the VirtualMachinePreference resource.",
    derive = "PartialEq"
)]
#[serde(transparent)]
pub struct VirtualMachineClusterPreferenceSpec(pub VirtualMachinePreferenceSpec);

impl Deref for VirtualMachineClusterPreferenceSpec {
    type Target = VirtualMachinePreferenceSpec;

    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl DerefMut for VirtualMachineClusterPreferenceSpec {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.0
    }
}

impl From<VirtualMachinePreferenceSpec> for VirtualMachineClusterPreferenceSpec {
    fn from(spec: VirtualMachinePreferenceSpec) -> Self {
        VirtualMachineClusterPreferenceSpec(spec)
    }
}

/// ClockPreferences contains various optional defaults for Clock.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ClockPreferences {
    /// ClockOffset allows specifying the UTC offset or the timezone of the guest clock.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preferred_clock_offset: Option<ClockOffset>,
    /// Timer specifies whih timers are attached to the vmi.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preferred_timer: Option<Timer>,
}

/// Exactly one of its members must be set.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ClockOffset {
    /// UTC sets the guest clock to UTC on each boot. If an offset is specified,
    /// guest changes to the clock will be kept during reboots and are not reset.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub utc: Option<ClockOffsetUtc>,
    /// Timezone sets the guest clock to the specified timezone.
    /// Zone name follows the TZ environment variable format (e.g. 'America/New_York').
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
}

/// CPUPreferences contains various optional CPU preferences.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CpuPreferences {
    /// PreferredCPUTopology optionally defines the preferred guest visible CPU topology, defaults
    /// to PreferSockets.
    #[serde(
        rename = "preferredCPUTopology",
        skip_serializing_if = "Option::is_none"
    )]
    pub preferred_cpu_topology: Option<String>,
    /// Options of the `spread` topology.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub spread_options: Option<SpreadOptions>,
    /// PreferredCPUFeatures optionally defines a slice of preferred CPU features.
    #[serde(
        rename = "preferredCPUFeatures",
        skip_serializing_if = "Option::is_none"
    )]
    pub preferred_cpu_features: Option<Vec<CpuFeature>>,
}

/// SpreadOptions controls how the `spread` topology distributes vCPUs.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SpreadOptions {
    /// Across optionally defines how to spread vCPUs across the guest visible topology.
    /// Default: SocketsCores
    #[serde(skip_serializing_if = "Option::is_none")]
    pub across: Option<String>,
    /// Ratio optionally defines the ratio to spread vCPUs across the guest visible topology:
    ///
    /// CoresThreads        - 1:2   - Controls the ratio of cores to threads. Only a ratio of 2 is
    /// currently accepted.
    /// SocketsCores        - 1:N   - Controls the ratio of socket to cores.
    /// SocketsCoresThreads - 1:N:2 - Controls the ratio of socket to cores. Each core providing 2
    /// threads.
    ///
    /// Default: 2
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ratio: Option<u32>,
}

/// DevicePreferences contains various optional Device preferences.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DevicePreferences {
    /// PreferredAutoattachGraphicsDevice optionally defines the preferred value of
    /// AutoattachGraphicsDevice
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preferred_autoattach_graphics_device: Option<bool>,
    /// PreferredAutoattachMemBalloon optionally defines the preferred value of
    /// AutoattachMemBalloon
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preferred_autoattach_mem_balloon: Option<bool>,
    /// PreferredAutoattachPodInterface optionally defines the preferred value of
    /// AutoattachPodInterface
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preferred_autoattach_pod_interface: Option<bool>,
    /// PreferredAutoattachSerialConsole optionally defines the preferred value of
    /// AutoattachSerialConsole
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preferred_autoattach_serial_console: Option<bool>,
    /// PreferredAutoattachInputDevice optionally defines the preferred value of
    /// AutoattachInputDevice
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preferred_autoattach_input_device: Option<bool>,
    /// PreferredDisableHotplug optionally defines the preferred value of DisableHotplug
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preferred_disable_hotplug: Option<bool>,
    /// PreferredVirtualGPUOptions optionally defines the preferred value of VirtualGPUOptions
    #[serde(
        rename = "preferredVirtualGPUOptions",
        skip_serializing_if = "Option::is_none"
    )]
    pub preferred_virtual_gpu_options: Option<VgpuOptions>,
    /// PreferredSoundModel optionally defines the preferred model for Sound devices.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preferred_sound_model: Option<String>,
    /// PreferredUseVirtioTransitional optionally defines the preferred value of
    /// UseVirtioTransitional
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preferred_use_virtio_transitional: Option<bool>,
    /// PreferredInputBus optionally defines the preferred bus for Input devices.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preferred_input_bus: Option<String>,
    /// PreferredInputType optionally defines the preferred type for Input devices.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preferred_input_type: Option<String>,
    /// PreferredDiskBus optionally defines the preferred bus for Disk Disk devices.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preferred_disk_bus: Option<String>,
    /// PreferredLunBus optionally defines the preferred bus for Lun Disk devices.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preferred_lun_bus: Option<String>,
    /// PreferredCdromBus optionally defines the preferred bus for Cdrom Disk devices.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preferred_cdrom_bus: Option<String>,
    /// PreferredDedicatedIoThread optionally enables dedicated IO threads for Disk devices using
    /// the virtio bus.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preferred_disk_dedicated_io_thread: Option<bool>,
    /// PreferredCache optionally defines the DriverCache to be used by Disk devices.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preferred_disk_cache: Option<String>,
    /// PreferredIo optionally defines the QEMU disk IO mode to be used by Disk devices.
    #[serde(rename = "preferredDiskIO", skip_serializing_if = "Option::is_none")]
    pub preferred_disk_io: Option<String>,
    /// PreferredBlockSize optionally defines the block size of Disk devices.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preferred_disk_block_size: Option<BlockSize>,
    /// PreferredInterfaceModel optionally defines the preferred model to be used by Interface
    /// devices.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preferred_interface_model: Option<String>,
    /// PreferredRng optionally defines the preferred rng device to be used.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preferred_rng: Option<Rng>,
    /// PreferredBlockMultiQueue optionally enables the vhost multiqueue feature for virtio disks.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preferred_block_multi_queue: Option<bool>,
    /// PreferredNetworkInterfaceMultiQueue optionally enables the vhost multiqueue feature for
    /// virtio interfaces.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preferred_network_interface_multi_queue: Option<bool>,
    /// PreferredTPM optionally defines the preferred TPM device to be used.
    #[serde(rename = "preferredTPM", skip_serializing_if = "Option::is_none")]
    pub preferred_tpm: Option<TpmDevice>,
    /// PreferredInterfaceMasquerade optionally defines the preferred masquerade configuration to
    /// use with each network interface.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preferred_interface_masquerade: Option<InterfaceMasquerade>,
    /// PreferredPanicDeviceModel optionally defines the preferred panic device model to use with
    /// panic devices.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preferred_panic_device_model: Option<String>,
    /// PreferredVideoType optionally defines the preferred type for Video devices.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preferred_video_type: Option<String>,
}

/// FeaturePreferences contains various optional defaults for Features.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct FeaturePreferences {
    /// PreferredAcpi optionally enables the ACPI feature
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preferred_acpi: Option<FeatureState>,
    /// PreferredApic optionally enables and configures the APIC feature
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preferred_apic: Option<FeatureApic>,
    /// PreferredHyperv optionally enables and configures HyperV features
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preferred_hyperv: Option<FeatureHyperv>,
    /// PreferredKvm optionally enables and configures KVM features
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preferred_kvm: Option<FeatureKvm>,
    /// PreferredPvspinlock optionally enables the Pvspinlock feature
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preferred_pvspinlock: Option<FeatureState>,
    /// PreferredSmm optionally enables the SMM feature
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preferred_smm: Option<FeatureState>,
}

/// FirmwarePreferences contains various optional defaults for Firmware.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct FirmwarePreferences {
    /// PreferredUseBios optionally enables BIOS
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preferred_use_bios: Option<bool>,
    /// PreferredUseBiosSerial optionally transmitts BIOS output over the serial.
    ///
    /// Requires PreferredUseBios to be enabled.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preferred_use_bios_serial: Option<bool>,
    /// PreferredUseEfi optionally enables EFI
    ///
    /// Deprecated: Will be removed with v1beta2 or v1
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preferred_use_efi: Option<bool>,
    /// PreferredUseSecureBoot optionally enables SecureBoot and the OVMF roms will be swapped for
    /// SecureBoot-enabled ones.
    ///
    /// Requires PreferredUseEfi and PreferredSmm to be enabled.
    ///
    /// Deprecated: Will be removed with v1beta2 or v1
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preferred_use_secure_boot: Option<bool>,
    /// PreferredEfi optionally enables EFI
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preferred_efi: Option<Efi>,
}

/// MachinePreferences contains various optional defaults for Machine.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct MachinePreferences {
    /// PreferredMachineType optionally defines the preferred machine type to use.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preferred_machine_type: Option<String>,
}

/// VolumePreferences contains various optional defaults for volumes.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VolumePreferences {
    /// PreffereedStorageClassName optionally defines the preferred storageClass
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preferred_storage_class_name: Option<String>,
}

/// PreferenceRequirements lists the minimum resources an instancetype must provide.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PreferenceRequirements {
    /// Required CPU related attributes of the instancetype.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpu: Option<CpuPreferenceRequirement>,
    /// Required Memory related attributes of the instancetype.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory: Option<MemoryPreferenceRequirement>,
    /// Required Architecture of the VM referencing this preference
    #[serde(skip_serializing_if = "Option::is_none")]
    pub architecture: Option<String>,
}

/// CPUPreferenceRequirement is the minimum number of vCPUs a preference needs.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CpuPreferenceRequirement {
    /// Minimal number of vCPUs required by the preference.
    pub guest: u32,
}

/// MemoryPreferenceRequirement is the minimum amount of memory a preference needs.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct MemoryPreferenceRequirement {
    /// Minimal amount of memory required by the preference.
    #[schemars(schema_with = "crate::schema::quantity")]
    pub guest: Quantity,
}
