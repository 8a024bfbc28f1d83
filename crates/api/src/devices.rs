//! Guest devices: disks, inputs, watchdog, GPUs, host devices, filesystems and more.

use crate::features::FeatureState;
use crate::networks::Interface;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Devices lists the virtual devices of the guest.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Devices {
    /// Fall back to legacy virtio 0.9 support if virtio bus is selected on devices.
    /// This is helpful for old machines like CentOS6 or RHEL6 which
    /// do not understand virtio_non_transitional (virtio 1.0).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub use_virtio_transitional: Option<bool>,
    /// DisableHotplug disabled the ability to hotplug disks.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disable_hotplug: Option<bool>,
    /// Disks describes disks, cdroms and luns which are connected to the vmi.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(extend("maxItems" = 256))]
    pub disks: Option<Vec<Disk>>,
    /// Watchdog describes a watchdog device which can be added to the vmi.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub watchdog: Option<Watchdog>,
    /// Interfaces describe network interfaces which are added to the vmi.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(extend("maxItems" = 256))]
    pub interfaces: Option<Vec<Interface>>,
    /// Inputs describe input devices
    #[serde(skip_serializing_if = "Option::is_none")]
    pub inputs: Option<Vec<Input>>,
    /// Whether to attach a pod network interface. Defaults to true.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub autoattach_pod_interface: Option<bool>,
    /// Whether to attach the default graphics device or not.
    /// VNC will not be available if set to false. Defaults to true.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub autoattach_graphics_device: Option<bool>,
    /// Whether to attach the default virtio-serial console or not.
    /// Serial console access will not be available if set to false. Defaults to true.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub autoattach_serial_console: Option<bool>,
    /// Whether to log the auto-attached default serial console or not.
    /// Serial console logs will be collect to a file and then streamed from a named
    /// `guest-console-log`.
    /// Not relevant if autoattachSerialConsole is disabled.
    /// Defaults to cluster wide setting on VirtualMachineOptions.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_serial_console: Option<bool>,
    /// Whether to attach the Memory balloon device with default period.
    /// Period can be adjusted in virt-config.
    /// Defaults to true.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub autoattach_mem_balloon: Option<bool>,
    /// Whether to attach an Input Device.
    /// Defaults to false.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub autoattach_input_device: Option<bool>,
    /// Whether to attach the VSOCK CID to the VM or not.
    /// VSOCK access will be available if set to true. Defaults to false.
    #[serde(rename = "autoattachVSOCK", skip_serializing_if = "Option::is_none")]
    pub autoattach_vsock: Option<bool>,
    /// Whether to have random number generator from host
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rng: Option<Rng>,
    /// Whether or not to enable virtio multi-queue for block devices.
    /// Defaults to false.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub block_multi_queue: Option<bool>,
    /// If specified, virtual network interfaces configured with a virtio bus will also enable the
    /// vhost multiqueue feature for network devices. The number of queues created depends on
    /// additional factors of the VirtualMachineInstance, like the number of guest CPUs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub network_interface_multiqueue: Option<bool>,
    /// Whether to attach a GPU device to the vmi.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(extend("x-kubernetes-list-type" = "atomic"))]
    pub gpus: Option<Vec<Gpu>>,
    /// DownwardMetrics creates a virtio serials for exposing the downward metrics to the vmi.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub downward_metrics: Option<DownwardMetrics>,
    /// PanicDevices provides additional crash information when a guest crashes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub panic_devices: Option<Vec<PanicDevice>>,
    /// Filesystems describes filesystem which is connected to the vmi.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(extend("x-kubernetes-list-type" = "atomic"))]
    pub filesystems: Option<Vec<Filesystem>>,
    /// Whether to attach a host device to the vmi.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(extend("x-kubernetes-list-type" = "atomic"))]
    pub host_devices: Option<Vec<HostDevice>>,
    /// To configure and access client devices such as redirecting USB
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_passthrough: Option<ClientPassthroughDevices>,
    /// Whether to emulate a sound device.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sound: Option<SoundDevice>,
    /// Whether to emulate a TPM device.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tpm: Option<TpmDevice>,
    /// Video describes the video device configuration for the vmi.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub video: Option<VideoDevice>,
}

/// Disk attaches a volume to the guest as a disk, LUN or CD-ROM.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Disk {
    /// Name is the device name
    pub name: String,
    /// Attach a volume as a disk to the vmi.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disk: Option<DiskTarget>,
    /// Attach a volume as a LUN to the vmi.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lun: Option<LunTarget>,
    /// Attach a volume as a cdrom to the vmi.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cdrom: Option<CdRomTarget>,
    /// BootOrder is an integer value > 0, used to determine ordering of boot devices.
    /// Lower values take precedence.
    /// Each disk or interface that has a boot order must have a unique value.
    /// Disks without a boot order are not tried if a disk with a boot order exists.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub boot_order: Option<u64>,
    /// Serial provides the ability to specify a serial number for the disk device.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub serial: Option<String>,
    /// dedicatedIOThread indicates this disk should have an exclusive IO Thread.
    /// Enabling this implies useIOThreads = true.
    /// Defaults to false.
    #[serde(rename = "dedicatedIOThread", skip_serializing_if = "Option::is_none")]
    pub dedicated_io_thread: Option<bool>,
    /// Cache specifies which kvm disk cache mode should be used.
    /// Supported values are:
    /// none: Guest I/O not cached on the host, but may be kept in a disk cache.
    /// writethrough: Guest I/O cached on the host but written through to the physical medium.
    /// Slowest but with most guarantees.
    /// writeback: Guest I/O cached on the host.
    /// Defaults to none if the storage supports O_DIRECT, otherwise writethrough.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cache: Option<String>,
    /// IO specifies which QEMU disk IO mode should be used.
    /// Supported values are: native, default, threads.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub io: Option<String>,
    /// If specified, disk address and its tag will be provided to the guest via config drive
    /// metadata
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
    /// If specified, the virtual disk will be presented with the given block sizes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub block_size: Option<BlockSize>,
    /// If specified the disk is made sharable and multiple write from different VMs are permitted
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shareable: Option<bool>,
    /// If specified, it can change the default error policy (stop) for the disk
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_policy: Option<String>,
    /// ChangedBlockTracking indicates this disk should have CBT option
    /// Defaults to false.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub changed_block_tracking: Option<bool>,
}

/// Represent a subset of client devices that can be accessed by VMI. At the
/// moment only, USB devices using Usbredir's library and tooling. Another fit
/// would be a smartcard with libcacard.
///
/// The struct is currently empty as there is no immediate request for
/// user-facing APIs. This structure simply turns on USB redirection of
/// UsbClientPassthroughMaxNumberOf devices.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ClientPassthroughDevices {}

/// Marker: expose the downward metrics through a virtio-serial port.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DownwardMetrics {}

/// Filesystem shares a volume with the guest as a filesystem.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Filesystem {
    /// Name is the device name
    pub name: String,
    /// Virtiofs is supported
    pub virtiofs: FilesystemVirtiofs,
}

/// GPU passes a GPU through to the guest.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Gpu {
    /// Name of the GPU device as exposed by a device plugin
    pub name: String,
    /// DeviceName is the name of the device provisioned by device-plugins
    #[serde(skip_serializing_if = "Option::is_none")]
    pub device_name: Option<String>,
    /// ClaimName references the name of an entry in the
    /// VMI's spec.resourceClaims[] array. The referenced
    /// entry may use either resourceClaimName or
    /// resourceClaimTemplateName.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub claim_name: Option<String>,
    /// RequestName specifies which request from the
    /// ResourceClaim/ResourceClaimTemplate spec.devices.requests array this
    /// claim request corresponds to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_name: Option<String>,
    /// Options of a virtual GPU.
    #[serde(rename = "virtualGPUOptions", skip_serializing_if = "Option::is_none")]
    pub virtual_gpu_options: Option<VgpuOptions>,
    /// If specified, the virtual network interface address and its tag will be provided to the
    /// guest via config drive
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
}

/// HostDevice passes a host device through to the guest.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct HostDevice {
    /// Name of the host device.
    pub name: String,
    /// DeviceName is the name of the device provisioned by device-plugins
    #[serde(skip_serializing_if = "Option::is_none")]
    pub device_name: Option<String>,
    /// ClaimName references the name of an entry in the
    /// VMI's spec.resourceClaims[] array. The referenced
    /// entry may use either resourceClaimName or
    /// resourceClaimTemplateName.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub claim_name: Option<String>,
    /// RequestName specifies which request from the
    /// ResourceClaim/ResourceClaimTemplate spec.devices.requests array this
    /// claim request corresponds to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_name: Option<String>,
    /// If specified, the virtual network interface address and its tag will be provided to the
    /// guest via config drive
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
}

/// Input describes an input device.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Input {
    /// Bus indicates the bus of input device to emulate.
    /// Supported values: virtio, usb.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bus: Option<String>,
    /// Type indicated the type of input device.
    /// Supported values: tablet.
    #[serde(rename = "type")]
    pub type_: String,
    /// Name is the device name
    pub name: String,
}

/// PanicDevice adds a device that reports guest crashes.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PanicDevice {
    /// Model specifies what type of panic device is provided.
    /// The panic model used when this attribute is missing depends on the hypervisor and guest
    /// arch.
    /// One of: isa, hyperv, pvpanic.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
}

/// Rng represents the random device passed from host
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Rng {}

/// Represents the user's configuration to emulate sound cards in the VMI.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SoundDevice {
    /// User's defined name for this sound device
    pub name: String,
    /// We only support ich9 or ac97.
    /// If SoundDevice is not set: No sound card is emulated.
    /// If SoundDevice is set but Model is not: ich9
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
}

/// TPMDevice adds an emulated TPM.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TpmDevice {
    /// Enabled allows a user to explicitly disable the vTPM even when one is enabled by a
    /// preference referenced by the VirtualMachine
    /// Defaults to True
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// Persistent indicates the state of the TPM device should be kept accross reboots
    /// Defaults to false
    #[serde(skip_serializing_if = "Option::is_none")]
    pub persistent: Option<bool>,
}

/// VideoDevice configures the video device.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VideoDevice {
    /// Type specifies the video device type (e.g., virtio, vga, bochs, ramfb).
    /// If not specified, the default is architecture-dependent (VGA for BIOS-based VMs, Bochs for
    /// EFI-based VMs on AMD64; virtio for Arm and s390x).
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub type_: Option<String>,
}

/// Named watchdog device.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Watchdog {
    /// Name of the watchdog.
    pub name: String,
    /// i6300esb watchdog device.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub i6300esb: Option<I6300EsbWatchdog>,
    /// diag288 watchdog device (specific to s390x architecture).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub diag288: Option<Diag288Watchdog>,
}

/// BlockSize provides the option to change the block size presented to the VM for a disk.
/// Only one of its members may be specified.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BlockSize {
    /// CustomBlockSize represents the desired logical and physical block size for a VM disk.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub custom: Option<CustomBlockSize>,
    /// Represents if a feature is enabled or disabled.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub match_volume: Option<FeatureState>,
}

/// CDRomTarget attaches a volume as a CD-ROM.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CdRomTarget {
    /// Bus indicates the type of disk device to emulate.
    /// supported values: virtio, sata, scsi.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bus: Option<String>,
    /// ReadOnly.
    /// Defaults to true.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub readonly: Option<bool>,
    /// Tray indicates if the tray of the device is open or closed.
    /// Allowed values are "open" and "closed".
    /// Defaults to closed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tray: Option<String>,
}

/// DiskTarget attaches a volume as a disk.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DiskTarget {
    /// Bus indicates the type of disk device to emulate.
    /// supported values: virtio, sata, scsi, usb.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bus: Option<String>,
    /// ReadOnly.
    /// Defaults to false.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub readonly: Option<bool>,
    /// If specified, the virtual disk will be placed on the guests pci address with the specified
    /// PCI address. For example: 0000:81:01.10
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pci_address: Option<String>,
}

/// LunTarget attaches a volume as a SCSI LUN.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LunTarget {
    /// Bus indicates the type of disk device to emulate.
    /// supported values: virtio, sata, scsi.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bus: Option<String>,
    /// ReadOnly.
    /// Defaults to false.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub readonly: Option<bool>,
    /// Reservation indicates if the disk needs to support the persistent reservation for the SCSI
    /// disk
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reservation: Option<bool>,
}

/// Marker: share the filesystem with virtiofs.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct FilesystemVirtiofs {}

/// VGPUOptions configures a virtual GPU.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VgpuOptions {
    /// Display options of the virtual GPU.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub display: Option<VgpuDisplayOptions>,
}

/// diag288 watchdog device.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Diag288Watchdog {
    /// The action to take. Valid values are poweroff, reset, shutdown.
    /// Defaults to reset.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
}

/// i6300esb watchdog device.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct I6300EsbWatchdog {
    /// The action to take. Valid values are poweroff, reset, shutdown.
    /// Defaults to reset.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
}

/// CustomBlockSize represents the desired logical and physical block size for a VM disk.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CustomBlockSize {
    /// Logical block size in bytes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub logical: Option<u64>,
    /// Physical block size in bytes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub physical: Option<u64>,
    /// Discard granularity in bytes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub discard_granularity: Option<u64>,
}

/// VGPUDisplayOptions configures the display of a virtual GPU.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VgpuDisplayOptions {
    /// Enabled determines if a display addapter backed by a vGPU should be enabled or disabled on
    /// the guest.
    /// Defaults to true.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// Enables a boot framebuffer, until the guest OS loads a real GPU driver
    /// Defaults to true.
    #[serde(rename = "ramFB", skip_serializing_if = "Option::is_none")]
    pub ram_fb: Option<FeatureState>,
}
