//! The virtual hardware of a guest: resources, CPU, memory, machine, firmware.

use crate::devices::Devices;
use crate::features::{Clock, Features};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// DomainSpec describes the virtual hardware of the guest.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DomainSpec {
    /// Resources describes the Compute Resources required by this vmi.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resources: Option<ResourceRequirements>,
    /// CPU allow specified the detailed CPU topology inside the vmi.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpu: Option<Cpu>,
    /// Memory allow specifying the VMI memory features.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory: Option<Memory>,
    /// Machine type.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub machine: Option<Machine>,
    /// Firmware.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub firmware: Option<Firmware>,
    /// Clock sets the clock and timers of the vmi.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub clock: Option<Clock>,
    /// Features like acpi, apic, hyperv, smm.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub features: Option<Features>,
    /// Devices allows adding disks, network interfaces, and others
    pub devices: Devices,
    /// Controls whether or not disks will share IOThreads.
    /// Omitting IOThreadsPolicy disables use of IOThreads.
    /// One of: shared, auto, supplementalPool
    #[serde(skip_serializing_if = "Option::is_none")]
    pub io_threads_policy: Option<String>,
    /// IOThreads specifies the IOThreads options.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub io_threads: Option<DiskIoThreads>,
    /// Chassis specifies the chassis info passed to the domain.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chassis: Option<Chassis>,
    /// Launch Security setting of the vmi.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub launch_security: Option<LaunchSecurity>,
    /// RebootPolicy specifies how the guest should behave on reboot.
    /// Reboot (default): The guest is allowed to reboot silently.
    /// Terminate: The VMI will be terminated on guest reboot, allowing
    /// higher level controllers (such as the VM controller) to recreate
    /// the VMI with any updated configuration such as boot order changes.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(extend("enum" = ["Reboot", "Terminate"]))]
    pub reboot_policy: Option<String>,
}

/// Machine selects the emulated machine type.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Machine {
    /// QEMU machine type is the actual chipset of the VirtualMachineInstance.
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub type_: Option<String>,
}

/// Chassis specifies the chassis info passed to the domain.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Chassis {
    /// Chassis manufacturer reported to the guest.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub manufacturer: Option<String>,
    /// Chassis version reported to the guest.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Chassis serial number reported to the guest.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub serial: Option<String>,
    /// Chassis asset tag reported to the guest.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub asset: Option<String>,
    /// Chassis SKU reported to the guest.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sku: Option<String>,
}

/// CPU allows specifying the CPU topology.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Cpu {
    /// Cores specifies the number of cores inside the vmi.
    /// Must be a value greater or equal 1.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cores: Option<u32>,
    /// Sockets specifies the number of sockets inside the vmi.
    /// Must be a value greater or equal 1.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sockets: Option<u32>,
    /// MaxSockets specifies the maximum amount of sockets that can
    /// be hotplugged
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_sockets: Option<u32>,
    /// Threads specifies the number of threads inside the vmi.
    /// Must be a value greater or equal 1.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub threads: Option<u32>,
    /// Model specifies the CPU model inside the VMI.
    /// List of available models https://github.com/libvirt/libvirt/tree/master/src/cpu_map.
    /// It is possible to specify special cases like "host-passthrough" to get the same CPU as the
    /// node
    /// and "host-model" to get CPU closest to the node one.
    /// Defaults to host-model.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// Features specifies the CPU features list inside the VMI.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub features: Option<Vec<CpuFeature>>,
    /// DedicatedCPUPlacement requests the scheduler to place the VirtualMachineInstance on a node
    /// with enough dedicated pCPUs and pin the vCPUs to it.
    #[serde(skip_serializing_if = "Option::is_none")]
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
}

/// Firmware describes the guest firmware and its identifiers.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Firmware {
    /// UUID reported by the vmi bios.
    /// Defaults to a random generated uid.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uuid: Option<String>,
    /// Settings to control the bootloader that is used.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bootloader: Option<Bootloader>,
    /// The system-serial-number in SMBIOS
    #[serde(skip_serializing_if = "Option::is_none")]
    pub serial: Option<String>,
    /// Settings to set the kernel for booting.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kernel_boot: Option<KernelBoot>,
    /// Information that can be set in the ACPI table
    #[serde(skip_serializing_if = "Option::is_none")]
    pub acpi: Option<Acpi>,
}

/// DiskIOThreads configures the IO threads used by disks.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DiskIoThreads {
    /// SupplementalPoolThreadCount specifies how many iothreads are allocated for the
    /// supplementalPool policy.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub supplemental_pool_thread_count: Option<u32>,
}

/// LaunchSecurity selects a confidential computing technology.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LaunchSecurity {
    /// AMD Secure Encrypted Virtualization (SEV).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sev: Option<Sev>,
    /// AMD SEV-SNP flags defined by the SEV-SNP specifications.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub snp: Option<SevSnp>,
    /// Intel Trust Domain Extensions (TDX).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tdx: Option<Tdx>,
}

/// Memory allows specifying the VirtualMachineInstance memory features.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Memory {
    /// Hugepages allow to use hugepages for the VirtualMachineInstance instead of regular memory.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hugepages: Option<Hugepages>,
    /// Guest allows to specifying the amount of memory which is visible inside the Guest OS.
    /// The Guest must lie between Requests and Limits from the resources section.
    /// Defaults to the requested memory in the resources section if not specified.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "crate::schema::quantity")]
    pub guest: Option<Quantity>,
    /// MaxGuest allows to specify the maximum amount of memory which is visible inside the Guest
    /// OS.
    /// The delta between MaxGuest and Guest is the amount of memory that can be hot(un)plugged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "crate::schema::quantity")]
    pub max_guest: Option<Quantity>,
    /// ReservedOverhead configures the memory overhead applied to a VM
    /// and its characteristics.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reserved_overhead: Option<ReservedOverhead>,
}

/// ResourceRequirements describes the compute resources of the VirtualMachineInstance.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ResourceRequirements {
    /// Requests is a description of the initial vmi resources.
    /// Valid resource keys are "memory" and "cpu".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "crate::schema::quantity_map")]
    pub requests: Option<BTreeMap<String, Quantity>>,
    /// Limits describes the maximum amount of compute resources allowed.
    /// Valid resource keys are "memory" and "cpu".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "crate::schema::quantity_map")]
    pub limits: Option<BTreeMap<String, Quantity>>,
    /// Don't ask the scheduler to take the guest-management overhead into account. Instead
    /// put the overhead only into the container's memory limit. This can lead to crashes if
    /// all memory is in use on a node. Defaults to false.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub overcommit_guest_overhead: Option<bool>,
}

/// CPUFeature allows specifying a CPU feature.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CpuFeature {
    /// Name of the CPU feature
    pub name: String,
    /// Policy is the CPU feature attribute which can have the following attributes:
    /// force    - The virtual CPU will claim the feature is supported regardless of it being
    /// supported by host CPU.
    /// require  - Guest creation will fail unless the feature is supported by the host CPU or the
    /// hypervisor is able to emulate it.
    /// optional - The feature will be supported by virtual CPU if and only if it is supported by
    /// host CPU.
    /// disable  - The feature will not be supported by virtual CPU.
    /// forbid   - Guest creation will fail if the feature is supported by host CPU.
    /// Defaults to require
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policy: Option<String>,
}

/// NUMA configures the guest NUMA topology.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Numa {
    /// GuestMappingPassthrough will create an efficient guest topology based on host CPUs
    /// exclusively assigned to a pod.
    /// The created topology ensures that memory and CPUs on the virtual numa nodes never cross
    /// boundaries of host numa nodes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub guest_mapping_passthrough: Option<NumaGuestMappingPassthrough>,
}

/// Realtime holds the tuning knobs specific for realtime workloads.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Realtime {
    /// Mask defines the vcpu mask expression that defines which vcpus are used for realtime. Format
    /// matches libvirt's expressions.
    /// Example: "0-3,^1","0,2,3","2-3"
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mask: Option<String>,
}

/// ACPI configures ACPI tables exposed to the guest.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Acpi {
    /// SlicNameRef should match the volume name of a secret object. The data in the secret should
    /// be a binary blob that follows the ACPI SLIC standard, see:
    /// https://learn.microsoft.com/en-us/previous-versions/windows/hardware/design/dn653305(v=vs.85)
    #[serde(skip_serializing_if = "Option::is_none")]
    pub slic_name_ref: Option<String>,
    /// Similar to SlicNameRef, another ACPI entry that is used in more recent Windows versions.
    /// The above points to the spec of MSDM too.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub msdm_name_ref: Option<String>,
}

/// Represents the firmware blob used to assist in the domain creation process.
/// Used for setting the QEMU BIOS file path for the libvirt domain.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Bootloader {
    /// If set (default), BIOS will be used.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bios: Option<Bios>,
    /// If set, EFI will be used instead of BIOS.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub efi: Option<Efi>,
}

/// Represents the firmware blob used to assist in the kernel boot process.
/// Used for setting the kernel, initrd and command line arguments
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct KernelBoot {
    /// Arguments to be passed to the kernel at boot time
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kernel_args: Option<String>,
    /// Container defines the container that containes kernel artifacts
    #[serde(skip_serializing_if = "Option::is_none")]
    pub container: Option<KernelBootContainer>,
}

/// SEV configures AMD Secure Encrypted Virtualization.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Sev {
    /// Guest policy flags as defined in AMD SEV API specification.
    /// Note: due to security reasons it is not allowed to enable guest debugging. Therefore NoDebug
    /// flag is not exposed to users and is always true.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policy: Option<SevPolicy>,
    /// If specified, run the attestation process for a vmi.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attestation: Option<SevAttestation>,
    /// Base64 encoded session blob.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session: Option<String>,
    /// Base64 encoded guest owner's Diffie-Hellman key.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dh_cert: Option<String>,
}

/// Marker: enable AMD SEV-SNP.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SevSnp {}

/// Marker: enable Intel TDX.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Tdx {}

/// Hugepages allow to use hugepages for the VirtualMachineInstance instead of regular memory.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Hugepages {
    /// PageSize specifies the hugepage size, for x86_64 architecture valid values are 1Gi and 2Mi.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub page_size: Option<String>,
}

/// ReservedOverhead configures the memory overhead reserved for the VirtualMachineInstance.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReservedOverhead {
    /// AddedOverhead determines the memory overhead that will be reserved
    /// for the VM. It increases the virt-launcher pod memory limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "crate::schema::quantity")]
    pub added_overhead: Option<Quantity>,
    /// RequiresLock determines whether the VM's and its overhead memory
    /// need to be locked or not. It is a common practice to enable this
    /// if vDPA, VFIO or any other specialized hardware that depends on
    /// DMA is being used by the VM.
    /// False - (Default) memory lock RLimits are not modified.
    /// True - Memory lock RLimits will be updated to consider VM memory
    ///        size and memory overhead
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(extend("enum" = ["NotRequired", "Required"]))]
    pub mem_lock: Option<String>,
}

/// NUMAGuestMappingPassthrough instructs kubevirt to model numa topology which is compatible with
/// the CPU pinning on the guest.
/// This will result in a subset of the node numa topology being passed through, ensuring that
/// virtual numa nodes and their memory
/// never cross boundaries coming from the node numa mapping.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NumaGuestMappingPassthrough {}

/// If set (default), BIOS will be used.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Bios {
    /// If set, the BIOS output will be transmitted over serial
    #[serde(skip_serializing_if = "Option::is_none")]
    pub use_serial: Option<bool>,
}

/// If set, EFI will be used instead of BIOS.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Efi {
    /// If set, SecureBoot will be enabled and the OVMF roms will be swapped for
    /// SecureBoot-enabled ones.
    /// Requires SMM to be enabled.
    /// Defaults to true
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secure_boot: Option<bool>,
    /// If set to true, Persistent will persist the EFI NVRAM across reboots.
    /// Defaults to false
    #[serde(skip_serializing_if = "Option::is_none")]
    pub persistent: Option<bool>,
}

/// If set, the VM will be booted from the defined kernel / initrd.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct KernelBootContainer {
    /// Image that contains initrd / kernel files.
    pub image: String,
    /// ImagePullSecret is the name of the Docker registry secret required to pull the image. The
    /// secret must already exist.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image_pull_secret: Option<String>,
    /// Image pull policy.
    /// One of Always, Never, IfNotPresent.
    /// Defaults to Always if :latest tag is specified, or IfNotPresent otherwise.
    /// Cannot be updated.
    /// More info: https://kubernetes.io/docs/concepts/containers/images#updating-images
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image_pull_policy: Option<String>,
    /// The fully-qualified path to the kernel image in the host OS
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kernel_path: Option<String>,
    /// the fully-qualified path to the ramdisk image in the host OS
    #[serde(skip_serializing_if = "Option::is_none")]
    pub initrd_path: Option<String>,
}

/// Marker: enable SEV attestation.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SevAttestation {}

/// SEVPolicy holds the SEV guest policy.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SevPolicy {
    /// SEV-ES is required.
    /// Defaults to false.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub encrypted_state: Option<bool>,
}
