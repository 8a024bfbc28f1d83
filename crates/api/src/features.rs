//! Hypervisor features, clock and timers of a guest.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Represents the clock and timers of a vmi.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-preserve-unknown-fields" = true))]
pub struct Clock {
    /// UTC sets the guest clock to UTC on each boot. If an offset is specified,
    /// guest changes to the clock will be kept during reboots and are not reset.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub utc: Option<ClockOffsetUtc>,
    /// Timezone sets the guest clock to the specified timezone.
    /// Zone name follows the TZ environment variable format (e.g. 'America/New_York').
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
    /// Timer specifies whih timers are attached to the vmi.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timer: Option<Timer>,
}

/// Features toggles hypervisor and firmware features.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Features {
    /// ACPI enables/disables ACPI inside the guest.
    /// Defaults to enabled.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub acpi: Option<FeatureState>,
    /// Defaults to the machine type setting.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub apic: Option<FeatureApic>,
    /// This enables all supported hyperv flags automatically.
    /// Bear in mind that if this enabled hyperV features cannot
    /// be enabled explicitly. In addition, a Virtual Machine
    /// using it will be non-migratable.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hyperv_passthrough: Option<HyperVPassthrough>,
    /// Defaults to the machine type setting.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hyperv: Option<FeatureHyperv>,
    /// SMM enables/disables System Management Mode.
    /// TSEG not yet implemented.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub smm: Option<FeatureState>,
    /// Configure how KVM presence is exposed to the guest.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kvm: Option<FeatureKvm>,
    /// Notify the guest that the host supports paravirtual spinlocks.
    /// For older kernels this feature should be explicitly disabled.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pvspinlock: Option<FeatureState>,
}

/// Represents all available timers in a vmi.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Timer {
    /// HPET (High Precision Event Timer) - multiple timers with periodic interrupts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hpet: Option<HpetTimer>,
    /// KVM     (KVM clock) - lets guests read the host’s wall clock time (paravirtualized). For
    /// linux guests.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kvm: Option<KvmTimer>,
    /// PIT (Programmable Interval Timer) - a timer with periodic interrupts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pit: Option<PitTimer>,
    /// RTC (Real Time Clock) - a continuously running timer with periodic interrupts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rtc: Option<RtcTimer>,
    /// Hyperv (Hypervclock) - lets guests read the host’s wall clock time (paravirtualized). For
    /// windows guests.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hyperv: Option<HypervTimer>,
}

/// UTC sets the guest clock to UTC on each boot.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ClockOffsetUtc {
    /// OffsetSeconds specifies an offset in seconds, relative to UTC. If set,
    /// guest changes to the clock will be kept during reboots and not reset.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub offset_seconds: Option<i32>,
}

/// Represents if a feature is enabled or disabled.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct FeatureState {
    /// Enabled determines if the feature should be enabled or disabled on the guest.
    /// Defaults to true.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
}

/// FeatureAPIC configures the APIC.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct FeatureApic {
    /// Enabled determines if the feature should be enabled or disabled on the guest.
    /// Defaults to true.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// EndOfInterrupt enables the end of interrupt notification in the guest.
    /// Defaults to false.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_of_interrupt: Option<bool>,
}

/// Hyperv specific features.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct FeatureHyperv {
    /// Relaxed instructs the guest OS to disable watchdog timeouts.
    /// Defaults to the machine type setting.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub relaxed: Option<FeatureState>,
    /// VAPIC improves the paravirtualized handling of interrupts.
    /// Defaults to the machine type setting.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vapic: Option<FeatureState>,
    /// Spinlocks allows to configure the spinlock retry attempts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub spinlocks: Option<FeatureSpinlocks>,
    /// VPIndex enables the Virtual Processor Index to help windows identifying virtual processors.
    /// Defaults to the machine type setting.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vpindex: Option<FeatureState>,
    /// Runtime improves the time accounting to improve scheduling in the guest.
    /// Defaults to the machine type setting.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub runtime: Option<FeatureState>,
    /// SyNIC enables the Synthetic Interrupt Controller.
    /// Defaults to the machine type setting.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub synic: Option<FeatureState>,
    /// SyNICTimer enables Synthetic Interrupt Controller Timers, reducing CPU load.
    /// Defaults to the machine type setting.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub synictimer: Option<SyNicTimer>,
    /// Reset enables Hyperv reboot/reset for the vmi. Requires synic.
    /// Defaults to the machine type setting.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reset: Option<FeatureState>,
    /// VendorID allows setting the hypervisor vendor id.
    /// Defaults to the machine type setting.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vendorid: Option<FeatureVendorId>,
    /// Frequencies improves the TSC clock source handling for Hyper-V on KVM.
    /// Defaults to the machine type setting.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub frequencies: Option<FeatureState>,
    /// Reenlightenment enables the notifications on TSC frequency changes.
    /// Defaults to the machine type setting.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reenlightenment: Option<FeatureState>,
    /// TLBFlush improves performances in overcommited environments. Requires vpindex.
    /// Defaults to the machine type setting.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tlbflush: Option<TlbFlush>,
    /// IPI improves performances in overcommited environments. Requires vpindex.
    /// Defaults to the machine type setting.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ipi: Option<FeatureState>,
    /// EVMCS Speeds up L2 vmexits, but disables other virtualization features. Requires vapic.
    /// Defaults to the machine type setting.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub evmcs: Option<FeatureState>,
}

/// HyperVPassthrough passes all supported Hyper-V enlightenments through.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct HyperVPassthrough {
    /// Enables Hyper-V passthrough.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
}

/// FeatureKVM configures KVM features.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct FeatureKvm {
    /// Hide the KVM hypervisor from standard MSR based discovery.
    /// Defaults to false
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hidden: Option<bool>,
}

/// HPETTimer configures the HPET timer.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct HpetTimer {
    /// TickPolicy determines what happens when QEMU misses a deadline for injecting a tick to the
    /// guest.
    /// One of "delay", "catchup", "merge", "discard".
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tick_policy: Option<String>,
    /// Enabled set to false makes sure that the machine type or a preset can't add the timer.
    /// Defaults to true.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub present: Option<bool>,
}

/// HypervTimer configures the Hyper-V timer.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct HypervTimer {
    /// Enabled set to false makes sure that the machine type or a preset can't add the timer.
    /// Defaults to true.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub present: Option<bool>,
}

/// KVMTimer configures the KVM clock.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct KvmTimer {
    /// Enabled set to false makes sure that the machine type or a preset can't add the timer.
    /// Defaults to true.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub present: Option<bool>,
}

/// PITTimer configures the PIT timer.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PitTimer {
    /// TickPolicy determines what happens when QEMU misses a deadline for injecting a tick to the
    /// guest.
    /// One of "delay", "catchup", "discard".
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tick_policy: Option<String>,
    /// Enabled set to false makes sure that the machine type or a preset can't add the timer.
    /// Defaults to true.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub present: Option<bool>,
}

/// RTCTimer configures the RTC timer.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RtcTimer {
    /// TickPolicy determines what happens when QEMU misses a deadline for injecting a tick to the
    /// guest.
    /// One of "delay", "catchup".
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tick_policy: Option<String>,
    /// Enabled set to false makes sure that the machine type or a preset can't add the timer.
    /// Defaults to true.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub present: Option<bool>,
    /// Track the guest or the wall clock.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub track: Option<String>,
}

/// FeatureSpinlocks configures Hyper-V spinlock retries.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct FeatureSpinlocks {
    /// Enabled determines if the feature should be enabled or disabled on the guest.
    /// Defaults to true.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// Retries indicates the number of retries.
    /// Must be a value greater or equal 4096.
    /// Defaults to 4096.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub spinlocks: Option<u32>,
}

/// SyNICTimer configures the Hyper-V synthetic timers.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SyNicTimer {
    /// Enabled determines if the feature should be enabled or disabled on the guest.
    /// Defaults to true.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// Represents if a feature is enabled or disabled.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub direct: Option<FeatureState>,
}

/// TLBFlush configures Hyper-V TLB flush enlightenments.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TlbFlush {
    /// Enabled determines if the feature should be enabled or disabled on the guest.
    /// Defaults to true.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// Direct allows sending the TLB flush command directly to the hypervisor.
    /// It can be useful to optimize performance in nested virtualization cases, such as Windows
    /// VBS.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub direct: Option<FeatureState>,
    /// Extended allows the guest to execute partial TLB flushes. It can be helpful for general
    /// purpose workloads.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub extended: Option<FeatureState>,
}

/// FeatureVendorID sets the Hyper-V vendor id.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct FeatureVendorId {
    /// Enabled determines if the feature should be enabled or disabled on the guest.
    /// Defaults to true.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// VendorID sets the hypervisor vendor id, visible to the vmi.
    /// String up to twelve characters.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vendorid: Option<String>,
}
