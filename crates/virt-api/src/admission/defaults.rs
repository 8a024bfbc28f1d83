//! Defaults KubeVirt applies to VirtualMachineInstance specs (upstream `pkg/defaults`,
//! `pkg/network/vmispec/defaults.go` and the API defaulters of `kubevirt.io/api/core/v1`).
//!
//! The functions work on the typed spec; callers write the result back over the original JSON
//! with [`super::json::overlay`] so that no field is lost.

use api::{
    Cpu, CpuTopology, Disk, DiskTarget, FeatureState, Features, Firmware, I6300EsbWatchdog,
    Interface, InterfaceBridge, InterfaceMasquerade, Machine, Memory, MemoryStatus, Network,
    PodNetwork, Probe, VirtualMachineInstanceSpec,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity as K8sQuantity;

use super::config::{ClusterConfig, DefaultInterface};
use super::quantity::{Quantity, format_binary_si};

/// Defaulting that cannot complete.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DefaultsError {
    #[error("bridge interface is not enabled in kubevirt-config")]
    BridgeNotPermitted,
}

/// Hotplug memory must be a multiple of this (2 MiB), or of 1 GiB with 1Gi hugepages.
const HOTPLUG_BLOCK_ALIGNMENT: i64 = 0x20_0000;
const HOTPLUG_1G_BLOCK_ALIGNMENT: i64 = 0x4000_0000;
/// Memory hotplug needs at least 1 GiB of guest memory.
const HOTPLUG_MIN_GUEST_MEMORY: i64 = 0x4000_0000;
/// Upper bound of vCPUs hotplug room is sized for.
const HOTPLUG_MAX_VCPUS: u32 = 512;

pub(crate) fn quantity_of(q: Option<&K8sQuantity>) -> Quantity {
    q.and_then(|q| Quantity::parse(&q.0).ok())
        .unwrap_or(Quantity::ZERO)
}

fn resource(spec: &VirtualMachineInstanceSpec, requests: bool, name: &str) -> Option<K8sQuantity> {
    let r = spec.domain.resources.as_ref()?;
    let list = if requests {
        r.requests.as_ref()
    } else {
        r.limits.as_ref()
    };
    list?.get(name).cloned()
}

/// `spec.domain.resources.requests[name]` as a quantity (zero when absent).
pub(crate) fn request(spec: &VirtualMachineInstanceSpec, name: &str) -> Quantity {
    quantity_of(resource(spec, true, name).as_ref())
}

/// `spec.domain.resources.limits[name]` as a quantity (zero when absent).
pub(crate) fn limit(spec: &VirtualMachineInstanceSpec, name: &str) -> Quantity {
    quantity_of(resource(spec, false, name).as_ref())
}

/// Architecture and machine type, as the VirtualMachine mutator sets them on the template.
pub fn set_vm_template_defaults(config: &ClusterConfig, spec: &mut VirtualMachineInstanceSpec) {
    set_default_architecture(config, spec);
    set_default_machine_type(config, spec);
}

fn set_default_architecture(config: &ClusterConfig, spec: &mut VirtualMachineInstanceSpec) {
    if spec.architecture.as_deref().unwrap_or("").is_empty() {
        spec.architecture = Some(config.default_architecture.clone());
    }
}

fn set_default_machine_type(config: &ClusterConfig, spec: &mut VirtualMachineInstanceSpec) {
    let arch = spec.architecture.clone().unwrap_or_default();
    let machine = spec.domain.machine.get_or_insert_with(Machine::default);
    if machine.type_.as_deref().unwrap_or("").is_empty() {
        machine.type_ = Some(config.machine_type(&arch));
    }
}

/// `SetDefaultVirtualMachineInstanceSpec`: the defaults shared by VMI creation and by the
/// validation of VirtualMachine templates.
pub fn set_vmi_spec_defaults(
    config: &ClusterConfig,
    spec: &mut VirtualMachineInstanceSpec,
) -> Result<(), DefaultsError> {
    set_default_architecture(config, spec);
    set_default_machine_type(config, spec);
    set_default_cpu_request(spec);
    set_guest_memory(spec);
    set_default_cpu_topology(spec);
    set_container_disk_pull_policies(spec);
    if spec.eviction_strategy.is_none() {
        spec.eviction_strategy = config.eviction_strategy.clone();
    }
    set_default_network_interface(config, spec)?;
    set_default_volume_disks(spec);
    Ok(())
}

fn set_default_cpu_request(spec: &mut VirtualMachineInstanceSpec) {
    if limit(spec, "cpu").is_zero() || !request(spec, "cpu").is_zero() {
        return;
    }
    let Some(cpu) = resource(spec, false, "cpu") else {
        return;
    };
    let resources = spec.domain.resources.get_or_insert_with(Default::default);
    resources
        .requests
        .get_or_insert_with(Default::default)
        .insert("cpu".into(), cpu);
}

fn set_guest_memory(spec: &mut VirtualMachineInstanceSpec) {
    if spec
        .domain
        .memory
        .as_ref()
        .is_some_and(|m| m.guest.is_some())
    {
        return;
    }
    let from_request = resource(spec, true, "memory").filter(|q| !quantity_of(Some(q)).is_zero());
    let from_limit = resource(spec, false, "memory").filter(|q| !quantity_of(Some(q)).is_zero());
    let memory = spec.domain.memory.get_or_insert_with(Memory::default);
    let from_hugepages = memory
        .hugepages
        .as_ref()
        .and_then(|h| h.page_size.clone())
        .filter(|p| Quantity::parse(p).is_ok())
        .map(K8sQuantity);
    memory.guest = from_request.or(from_limit).or(from_hugepages);
}

fn set_default_cpu_topology(spec: &mut VirtualMachineInstanceSpec) {
    let unset = |v: Option<u32>| v.unwrap_or(0) == 0;
    if let Some(cpu) = &spec.domain.cpu
        && !(unset(cpu.cores) && unset(cpu.sockets) && unset(cpu.threads))
    {
        return;
    }
    // Sockets give the best performance (https://bugzilla.redhat.com/show_bug.cgi?id=1653453).
    let sockets = match (resource(spec, false, "cpu"), resource(spec, true, "cpu")) {
        (Some(l), _) => quantity_of(Some(&l)).value(),
        (None, Some(r)) => quantity_of(Some(&r)).value(),
        (None, None) => 1,
    };
    let cpu = spec.domain.cpu.get_or_insert_with(Cpu::default);
    cpu.sockets = Some(u32::try_from(sockets).unwrap_or(0));
    cpu.cores = Some(1);
    cpu.threads = Some(1);
}

fn set_container_disk_pull_policies(spec: &mut VirtualMachineInstanceSpec) {
    for volume in spec.volumes.iter_mut().flatten() {
        let Some(cd) = volume.container_disk.as_mut() else {
            continue;
        };
        if cd.image_pull_policy.as_deref().unwrap_or("").is_empty() {
            let always = cd.image.ends_with(":latest") || !cd.image.contains([':', '@']);
            cd.image_pull_policy = Some(if always { "Always" } else { "IfNotPresent" }.into());
        }
    }
}

fn set_default_network_interface(
    config: &ClusterConfig,
    spec: &mut VirtualMachineInstanceSpec,
) -> Result<(), DefaultsError> {
    if spec.domain.devices.autoattach_pod_interface == Some(false) {
        return Ok(());
    }
    let has_networks = spec.networks.as_ref().is_some_and(|n| !n.is_empty());
    let has_interfaces = spec
        .domain
        .devices
        .interfaces
        .as_ref()
        .is_some_and(|i| !i.is_empty());
    if has_networks || has_interfaces {
        return Ok(());
    }
    let mut iface = Interface {
        name: "default".into(),
        ..Default::default()
    };
    match config.default_network_interface {
        DefaultInterface::Bridge if !config.permit_bridge_interface_on_pod_network => {
            return Err(DefaultsError::BridgeNotPermitted);
        }
        DefaultInterface::Bridge => iface.bridge = Some(InterfaceBridge {}),
        DefaultInterface::Masquerade => iface.masquerade = Some(InterfaceMasquerade {}),
    }
    spec.domain.devices.interfaces = Some(vec![iface]);
    spec.networks = Some(vec![Network {
        name: "default".into(),
        pod: Some(PodNetwork::default()),
        ..Default::default()
    }]);
    Ok(())
}

fn set_default_volume_disks(spec: &mut VirtualMachineInstanceSpec) {
    let mut names: Vec<String> = Vec::new();
    names.extend(
        spec.domain
            .devices
            .disks
            .iter()
            .flatten()
            .map(|d| d.name.clone()),
    );
    names.extend(
        spec.domain
            .devices
            .filesystems
            .iter()
            .flatten()
            .map(|f| f.name.clone()),
    );
    let missing: Vec<String> = spec
        .volumes
        .iter()
        .flatten()
        .filter(|v| !names.contains(&v.name))
        .map(|v| v.name.clone())
        .collect();
    if missing.is_empty() {
        return;
    }
    let disks = spec.domain.devices.disks.get_or_insert_with(Vec::new);
    disks.extend(missing.into_iter().map(|name| Disk {
        name,
        ..Default::default()
    }));
}

/// What VMI creation seeds the status with.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct StatusSeed {
    pub memory: Option<MemoryStatus>,
    pub current_cpu_topology: Option<CpuTopology>,
}

/// `SetDefaultVirtualMachineInstance`: everything the VMI mutator defaults on create.
pub fn set_vmi_defaults(
    config: &ClusterConfig,
    spec: &mut VirtualMachineInstanceSpec,
) -> Result<StatusSeed, DefaultsError> {
    set_vmi_spec_defaults(config, spec)?;
    set_api_defaults(spec);
    let arch = spec.architecture.clone().unwrap_or_default();
    match arch.as_str() {
        "arm64" | "s390x" => {}
        _ => set_amd64_defaults(spec),
    }
    let cpu = spec.domain.cpu.get_or_insert_with(Cpu::default);
    if cpu.model.as_deref().unwrap_or("").is_empty() {
        cpu.model = Some(config.cpu_model().to_string());
    }
    let memory = spec
        .domain
        .memory
        .as_ref()
        .and_then(|m| m.guest.clone())
        .map(|g| MemoryStatus {
            guest_at_boot: Some(g.clone()),
            guest_current: Some(g.clone()),
            guest_requested: Some(g),
            ..Default::default()
        });
    let current_cpu_topology = spec.domain.cpu.as_ref().map(|c| CpuTopology {
        sockets: c.sockets,
        cores: c.cores,
        threads: c.threads,
    });
    if arch != "arm64" && config.live_update() {
        set_cpu_hotplug(config, spec);
        set_memory_hotplug(config, spec);
    }
    Ok(StatusSeed {
        memory,
        current_cpu_topology,
    })
}

fn enable(state: &mut FeatureState) {
    if state.enabled.is_none() {
        state.enabled = Some(true);
    }
}

fn enable_opt(state: &mut Option<FeatureState>) {
    if let Some(s) = state.as_mut() {
        enable(s);
    }
}

/// The API defaulters (`SetObjectDefaults_VirtualMachineInstance`).
fn set_api_defaults(spec: &mut VirtualMachineInstanceSpec) {
    let domain = &mut spec.domain;
    let firmware = domain.firmware.get_or_insert_with(Firmware::default);
    if firmware.uuid.as_deref().unwrap_or("").is_empty() {
        firmware.uuid = Some(uuid::Uuid::new_v4().to_string());
    }
    let features = domain.features.get_or_insert_with(Features::default);
    enable(features.acpi.get_or_insert_with(FeatureState::default));
    if let Some(apic) = features.apic.as_mut()
        && apic.enabled.is_none()
    {
        apic.enabled = Some(true);
    }
    enable_opt(&mut features.smm);
    enable_opt(&mut features.pvspinlock);
    if let Some(h) = features.hyperv.as_mut() {
        for s in [
            &mut h.relaxed,
            &mut h.vapic,
            &mut h.vpindex,
            &mut h.runtime,
            &mut h.synic,
            &mut h.reset,
            &mut h.frequencies,
            &mut h.reenlightenment,
            &mut h.ipi,
            &mut h.evmcs,
        ] {
            enable_opt(s);
        }
        if let Some(s) = h.spinlocks.as_mut() {
            let enabled = *s.enabled.get_or_insert(true);
            if enabled && s.spinlocks.is_none() {
                s.spinlocks = Some(4096);
            }
        }
        if let Some(t) = h.synictimer.as_mut() {
            t.enabled.get_or_insert(true);
            enable_opt(&mut t.direct);
        }
        if let Some(v) = h.vendorid.as_mut() {
            v.enabled.get_or_insert(true);
        }
        if let Some(t) = h.tlbflush.as_mut() {
            t.enabled.get_or_insert(true);
            enable_opt(&mut t.direct);
            enable_opt(&mut t.extended);
        }
    }
    if let Some(timer) = domain.clock.as_mut().and_then(|c| c.timer.as_mut()) {
        if let Some(t) = timer.hpet.as_mut() {
            t.present.get_or_insert(true);
        }
        if let Some(t) = timer.kvm.as_mut() {
            t.present.get_or_insert(true);
        }
        if let Some(t) = timer.pit.as_mut() {
            t.present.get_or_insert(true);
        }
        if let Some(t) = timer.rtc.as_mut() {
            t.present.get_or_insert(true);
        }
        if let Some(t) = timer.hyperv.as_mut() {
            t.present.get_or_insert(true);
        }
    }
    for disk in domain.devices.disks.iter_mut().flatten() {
        if disk.disk.is_none() && disk.cdrom.is_none() && disk.lun.is_none() {
            disk.disk = Some(DiskTarget::default());
        }
        if let Some(cd) = disk.cdrom.as_mut() {
            cd.readonly.get_or_insert(true);
            if cd.tray.as_deref().unwrap_or("").is_empty() {
                cd.tray = Some("closed".into());
            }
        }
        if let Some(m) = disk
            .block_size
            .as_mut()
            .and_then(|b| b.match_volume.as_mut())
        {
            enable(m);
        }
    }
    for gpu in domain.devices.gpus.iter_mut().flatten() {
        if let Some(ramfb) = gpu
            .virtual_gpu_options
            .as_mut()
            .and_then(|o| o.display.as_mut())
            .and_then(|d| d.ram_fb.as_mut())
        {
            enable(ramfb);
        }
    }
    for input in domain.devices.inputs.iter_mut().flatten() {
        if input.bus.as_deref().unwrap_or("").is_empty() {
            input.bus = Some("usb".into());
        }
        if input.type_.is_empty() {
            input.type_ = "tablet".into();
        }
    }
    for probe in [&mut spec.readiness_probe, &mut spec.liveness_probe]
        .into_iter()
        .flatten()
    {
        set_probe_defaults(probe);
    }
}

fn set_probe_defaults(probe: &mut Probe) {
    let at_least = |v: &mut Option<i32>, default: i32| {
        if v.unwrap_or(0) < 1 {
            *v = Some(default);
        }
    };
    at_least(&mut probe.timeout_seconds, 1);
    at_least(&mut probe.period_seconds, 10);
    at_least(&mut probe.success_threshold, 1);
    at_least(&mut probe.failure_threshold, 3);
}

/// SATA is the default bus on amd64 (q35 has no IDE); watchdogs are i6300esb resetting.
fn set_amd64_defaults(spec: &mut VirtualMachineInstanceSpec) {
    let empty = |b: &Option<String>| b.as_deref().unwrap_or("").is_empty();
    for disk in spec.domain.devices.disks.iter_mut().flatten() {
        if let Some(d) = disk.disk.as_mut()
            && empty(&d.bus)
        {
            d.bus = Some("sata".into());
        }
        if let Some(d) = disk.cdrom.as_mut()
            && empty(&d.bus)
        {
            d.bus = Some("sata".into());
        }
        if let Some(d) = disk.lun.as_mut()
            && empty(&d.bus)
        {
            d.bus = Some("sata".into());
        }
    }
    if let Some(w) = spec.domain.devices.watchdog.as_mut() {
        let i = w.i6300esb.get_or_insert_with(I6300EsbWatchdog::default);
        if i.action.as_deref().unwrap_or("").is_empty() {
            i.action = Some("reset".into());
        }
    }
}

fn set_cpu_hotplug(config: &ClusterConfig, spec: &mut VirtualMachineInstanceSpec) {
    let cpu = spec.domain.cpu.get_or_insert_with(Cpu::default);
    let sockets = cpu.sockets.unwrap_or(0);
    let cores = cpu.cores.unwrap_or(0);
    let threads = cpu.threads.unwrap_or(0);
    let mut max = cpu.max_sockets.unwrap_or(0);
    if max == 0 {
        max = config.max_cpu_sockets.unwrap_or(0);
        if max != 0 && sockets > max {
            max = sockets;
        }
    }
    if max == 0 {
        max = sockets.saturating_mul(config.max_hotplug_ratio);
        let per_socket = cores.saturating_mul(threads);
        if max.saturating_mul(per_socket) > HOTPLUG_MAX_VCPUS && per_socket > 0 {
            max = (HOTPLUG_MAX_VCPUS / per_socket).max(sockets);
        }
    }
    cpu.max_sockets = Some(max);
}

fn set_memory_hotplug(config: &ClusterConfig, spec: &mut VirtualMachineInstanceSpec) {
    let Some(guest) = spec.domain.memory.as_ref().and_then(|m| m.guest.clone()) else {
        return;
    };
    if spec
        .domain
        .memory
        .as_ref()
        .is_some_and(|m| m.max_guest.is_some())
    {
        return;
    }
    let guest_bytes = quantity_of(Some(&guest)).value();
    let max = K8sQuantity(format_binary_si(
        guest_bytes.saturating_mul(i64::from(config.max_hotplug_ratio)),
    ));
    if live_update_memory_error(spec, Some(&max)).is_some() {
        return;
    }
    if let Some(m) = spec.domain.memory.as_mut() {
        m.max_guest = Some(max);
    }
}

/// Why memory hotplug cannot be offered for `spec` with `max_guest` (`ValidateLiveUpdateMemory`).
pub fn live_update_memory_error(
    spec: &VirtualMachineInstanceSpec,
    max_guest: Option<&K8sQuantity>,
) -> Option<String> {
    let domain = &spec.domain;
    if domain.cpu.as_ref().is_some_and(|c| c.realtime.is_some()) {
        return Some("Memory hotplug is not compatible with realtime VMs".into());
    }
    if domain
        .cpu
        .as_ref()
        .and_then(|c| c.numa.as_ref())
        .is_some_and(|n| n.guest_mapping_passthrough.is_some())
    {
        return Some("Memory hotplug is not compatible with guest mapping passthrough".into());
    }
    if domain.launch_security.is_some() {
        return Some("Memory hotplug is not compatible with encrypted VMs".into());
    }
    let memory = domain.memory.as_ref();
    let alignment = if memory
        .and_then(|m| m.hugepages.as_ref())
        .and_then(|h| h.page_size.as_deref())
        == Some("1Gi")
    {
        HOTPLUG_1G_BLOCK_ALIGNMENT
    } else {
        HOTPLUG_BLOCK_ALIGNMENT
    };
    let Some(guest) = memory.and_then(|m| m.guest.as_ref()) else {
        return Some("Guest memory must be configured when memory hotplug is enabled".into());
    };
    let Some(max) = max_guest else {
        return Some("Max guest memory must be configured when memory hotplug is enabled".into());
    };
    let guest = quantity_of(Some(guest));
    let max = quantity_of(Some(max));
    if guest.cmp_value(max).is_gt() {
        return Some("Guest memory is greater than the configured maxGuest memory".into());
    }
    if guest.value() % alignment != 0 {
        return Some(format!(
            "Guest memory must be {} aligned",
            format_binary_si(alignment)
        ));
    }
    if max.value() % alignment != 0 {
        return Some(format!(
            "MaxGuest must be {} aligned",
            format_binary_si(alignment)
        ));
    }
    if spec.architecture.as_deref() != Some("amd64") {
        return Some("Memory hotplug is only available for x86_64 VMs".into());
    }
    if guest.value() < HOTPLUG_MIN_GUEST_MEMORY {
        return Some(
            "Memory hotplug is only available for VMs with at least 1Gi of guest memory".into(),
        );
    }
    None
}

/// Whether the machine uses a PCIe topology with hotplug ports (`SupportsPCIeHotplug`).
pub fn supports_pcie_hotplug(spec: &VirtualMachineInstanceSpec) -> bool {
    if !matches!(
        spec.architecture.as_deref().unwrap_or(""),
        "amd64" | "arm64" | ""
    ) {
        return false;
    }
    match &spec.domain.machine {
        Some(m) => {
            let t = m.type_.as_deref().unwrap_or("");
            t.contains("q35") || t.starts_with("virt")
        }
        None => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn spec(v: serde_json::Value) -> VirtualMachineInstanceSpec {
        serde_json::from_value(v).unwrap()
    }

    fn defaulted(v: serde_json::Value) -> (serde_json::Value, StatusSeed) {
        let mut s = spec(v);
        let seed = set_vmi_defaults(&ClusterConfig::default(), &mut s).unwrap();
        (serde_json::to_value(&s).unwrap(), seed)
    }

    #[test]
    fn guest_memory_comes_from_requests_then_limits_then_hugepages() {
        let table = [
            (
                json!({"requests": {"memory": "64Mi"}, "limits": {"memory": "128Mi"}}),
                json!({}),
                "64Mi",
            ),
            (json!({"limits": {"memory": "128Mi"}}), json!({}), "128Mi"),
            (json!({}), json!({"hugepages": {"pageSize": "2Mi"}}), "2Mi"),
        ];
        for (resources, memory, guest) in table {
            let (s, seed) = defaulted(
                json!({"domain": {"devices": {}, "resources": resources, "memory": memory}}),
            );
            assert_eq!(s["domain"]["memory"]["guest"], guest);
            assert_eq!(seed.memory.unwrap().guest_at_boot.unwrap().0, guest);
        }
    }

    #[test]
    fn cpu_topology_takes_sockets_from_the_limit_or_request() {
        let table = [
            (json!({"limits": {"cpu": "3"}, "requests": {"cpu": "2"}}), 3),
            (json!({"requests": {"cpu": "2"}}), 2),
            (json!({}), 1),
        ];
        for (resources, sockets) in table {
            let (s, seed) = defaulted(json!({"domain": {"devices": {}, "resources": resources}}));
            assert_eq!(s["domain"]["cpu"]["sockets"], sockets);
            assert_eq!(s["domain"]["cpu"]["cores"], 1);
            assert_eq!(s["domain"]["cpu"]["model"], "host-model");
            assert_eq!(seed.current_cpu_topology.unwrap().sockets, Some(sockets));
        }
    }

    #[test]
    fn cpu_request_is_copied_from_a_lone_limit() {
        let (s, _) =
            defaulted(json!({"domain": {"devices": {}, "resources": {"limits": {"cpu": "2"}}}}));
        assert_eq!(s["domain"]["resources"]["requests"]["cpu"], "2");
    }

    #[test]
    fn pod_network_and_bridge_interface_are_added_when_nothing_is_declared() {
        let (s, _) = defaulted(json!({"domain": {"devices": {}}}));
        assert_eq!(s["networks"], json!([{"name": "default", "pod": {}}]));
        assert_eq!(
            s["domain"]["devices"]["interfaces"],
            json!([{"name": "default", "bridge": {}}])
        );
        let (s, _) = defaulted(json!({"domain": {"devices": {"autoattachPodInterface": false}}}));
        assert!(s.get("networks").is_none());
    }

    #[test]
    fn bridge_refused_on_the_pod_network_is_an_error() {
        let config = ClusterConfig {
            permit_bridge_interface_on_pod_network: false,
            ..Default::default()
        };
        let mut s = spec(json!({"domain": {"devices": {}}}));
        assert_eq!(
            set_vmi_spec_defaults(&config, &mut s),
            Err(DefaultsError::BridgeNotPermitted)
        );
        let config = ClusterConfig {
            default_network_interface: DefaultInterface::Masquerade,
            ..config
        };
        set_vmi_spec_defaults(&config, &mut s).unwrap();
        assert!(s.domain.devices.interfaces.unwrap()[0].masquerade.is_some());
    }

    #[test]
    fn every_volume_gets_a_disk_and_disks_get_targets_and_buses() {
        let (s, _) = defaulted(json!({
            "domain": {"devices": {"disks": [{"name": "cd", "cdrom": {}}]}},
            "volumes": [
                {"name": "cd", "containerDisk": {"image": "a:v1"}},
                {"name": "root", "containerDisk": {"image": "b"}},
            ],
        }));
        let disks = &s["domain"]["devices"]["disks"];
        assert_eq!(
            disks[0]["cdrom"],
            json!({"bus": "sata", "readonly": true, "tray": "closed"})
        );
        assert_eq!(disks[1], json!({"name": "root", "disk": {"bus": "sata"}}));
        assert_eq!(
            s["volumes"][0]["containerDisk"]["imagePullPolicy"],
            "IfNotPresent"
        );
        assert_eq!(
            s["volumes"][1]["containerDisk"]["imagePullPolicy"],
            "Always"
        );
    }

    #[test]
    fn firmware_uuid_machine_and_features_are_defaulted() {
        let (s, _) = defaulted(json!({"domain": {"devices": {}}}));
        assert_eq!(s["architecture"], "amd64");
        assert_eq!(s["domain"]["machine"]["type"], "q35");
        assert_eq!(s["domain"]["features"]["acpi"]["enabled"], true);
        assert!(uuid::Uuid::parse_str(s["domain"]["firmware"]["uuid"].as_str().unwrap()).is_ok());
    }

    #[test]
    fn probes_and_inputs_get_their_api_defaults() {
        let (s, _) = defaulted(json!({
            "domain": {"devices": {"inputs": [{"name": "t", "type": ""}]}},
            "readinessProbe": {"tcpSocket": {"port": 22}},
        }));
        assert_eq!(s["domain"]["devices"]["inputs"][0]["bus"], "usb");
        assert_eq!(s["domain"]["devices"]["inputs"][0]["type"], "tablet");
        let p = &s["readinessProbe"];
        assert_eq!(
            (p["timeoutSeconds"].clone(), p["periodSeconds"].clone()),
            (json!(1), json!(10))
        );
        assert_eq!(
            (p["successThreshold"].clone(), p["failureThreshold"].clone()),
            (json!(1), json!(3))
        );
    }

    #[test]
    fn live_update_sizes_hotplug_room() {
        let (s, _) = defaulted(json!({"domain": {"devices": {}, "cpu": {"sockets": 2},
            "resources": {"requests": {"memory": "2Gi"}}}}));
        assert_eq!(s["domain"]["cpu"]["maxSockets"], 8);
        assert_eq!(s["domain"]["memory"]["maxGuest"], "8Gi");
        // Below 1Gi memory hotplug is not offered.
        let (s, _) = defaulted(
            json!({"domain": {"devices": {}, "resources": {"requests": {"memory": "64Mi"}}}}),
        );
        assert!(s["domain"]["memory"].get("maxGuest").is_none());
        // vCPUs are capped at 512.
        let (s, _) = defaulted(
            json!({"domain": {"devices": {}, "cpu": {"sockets": 2, "cores": 64, "threads": 2}}}),
        );
        assert_eq!(s["domain"]["cpu"]["maxSockets"], 4);
    }

    #[test]
    fn pcie_hotplug_needs_q35_or_virt() {
        let with = |m: serde_json::Value| spec(json!({"domain": {"devices": {}, "machine": m}}));
        assert!(supports_pcie_hotplug(&with(
            json!({"type": "pc-q35-rhel9"})
        )));
        assert!(!supports_pcie_hotplug(&with(json!({"type": "pc-i440fx"}))));
        assert!(supports_pcie_hotplug(&spec(
            json!({"domain": {"devices": {}}})
        )));
    }
}
