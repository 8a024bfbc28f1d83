//! Resource requests and limits of the launcher's `compute` container: the guest's resources,
//! the memory overhead of the virtualization stack on KVM, and the device-plugin resources the
//! launcher needs.
//!
//! The memory overhead is the sum of
//! - page tables: `resources.requests.memory / 512` (zero when only `memory.guest` is set, as
//!   upstream computes it from the request field);
//! - a fixed 240Mi for the launcher processes and qemu;
//! - 8Mi per vCPU and 8Mi for the IOThread;
//! - 32Mi of video RAM unless `autoattachGraphicsDevice` is false;
//! - the conditional extras (arm64, VFIO devices, downward metrics, exec probes, SEV, TPM,
//!   dedicated CPUs or guaranteed QoS, `reservedOverhead.addedOverhead`);
//!
//! multiplied by the configured additional overhead ratio.
//!
//! The memory request is the guest's request (else its limit, else `memory.guest` scaled by
//! the overcommit percentage, else the hugepage size) plus the overhead, unless
//! `overcommitGuestOverhead` is set; an existing memory limit always grows by the overhead. The
//! CPU request defaults to vCPUs divided by the CPU allocation ratio. Ephemeral storage grows
//! by 50M.

use std::collections::BTreeMap;

use api::{Cpu, VirtualMachineInstance};
use k8s_openapi::api::core::v1::ResourceRequirements;

use super::quantity::{Format, Quantity, QuantityError};

/// Prefix of KubeVirt's device-plugin resources.
pub const DEVICE_PREFIX: &str = "devices.kubevirt.io";
/// The KVM device resource.
pub const KVM_DEVICE: &str = "devices.kubevirt.io/kvm";
/// The TUN device resource, needed for the pod network.
pub const TUN_DEVICE: &str = "devices.kubevirt.io/tun";
/// The vhost-net device resource, needed for virtio network interfaces.
pub const VHOST_NET_DEVICE: &str = "devices.kubevirt.io/vhost-net";
/// The vhost-vsock device resource.
pub const VHOST_VSOCK_DEVICE: &str = "devices.kubevirt.io/vhost-vsock";
/// The SEV device resource.
pub const SEV_DEVICE: &str = "devices.kubevirt.io/sev";
/// The TDX device resource.
pub const TDX_DEVICE: &str = "devices.kubevirt.io/tdx";

/// Ephemeral storage added to the launcher's request.
const EPHEMERAL_STORAGE_OVERHEAD: &str = "50M";

/// Cluster-wide inputs of the resource computation.
#[derive(Clone, Debug, PartialEq)]
pub struct ResourceOptions {
    /// Percentage of `memory.guest` requested when no memory request is set (100 = none).
    pub memory_overcommit: u32,
    /// vCPUs per requested CPU when no CPU request is set.
    pub cpu_allocation_ratio: u32,
    /// Software emulation instead of KVM: no KVM or vhost-net device is requested.
    pub allow_emulation: bool,
    /// Multiplier of the overhead (`additionalGuestMemoryOverheadRatio`).
    pub additional_overhead_ratio: Option<f64>,
    /// Architecture of VMIs that do not name one.
    pub default_architecture: String,
    /// Request KubeVirt's device-plugin resources (`devices.kubevirt.io/kvm`, `tun`,
    /// `vhost-net`, ...). Nodes must then advertise them.
    pub device_resources: bool,
}

impl Default for ResourceOptions {
    fn default() -> Self {
        ResourceOptions {
            memory_overcommit: 100,
            cpu_allocation_ratio: 10,
            allow_emulation: false,
            additional_overhead_ratio: None,
            default_architecture: "amd64".into(),
            device_resources: true,
        }
    }
}

type Resources = BTreeMap<String, Quantity>;

fn parse_map(
    map: Option<&BTreeMap<String, k8s_openapi::apimachinery::pkg::api::resource::Quantity>>,
) -> Result<Resources, QuantityError> {
    map.into_iter()
        .flatten()
        .map(|(k, v)| Ok((k.clone(), Quantity::parse(&v.0)?)))
        .collect()
}

/// sockets × cores × threads, ignoring unset factors (0 when all are unset).
pub fn vcpus_of_topology(cpu: &Cpu) -> i64 {
    let mut vcpus: i64 = 0;
    for factor in [cpu.cores, cpu.sockets, cpu.threads].into_iter().flatten() {
        if factor != 0 {
            vcpus = if vcpus == 0 {
                i64::from(factor)
            } else {
                vcpus * i64::from(factor)
            };
        }
    }
    vcpus
}

fn is_dedicated_cpu(vmi: &VirtualMachineInstance) -> bool {
    vmi.spec
        .domain
        .cpu
        .as_ref()
        .and_then(|c| c.dedicated_cpu_placement)
        .unwrap_or(false)
}

/// Requests equal limits for both CPU and memory (upstream `WantsToHaveQOSGuaranteed`).
fn wants_guaranteed_qos(requests: &Resources, limits: &Resources) -> bool {
    let same = |k: &str| {
        let r = requests.get(k).copied().unwrap_or(Quantity::ZERO);
        !r.is_zero() && Some(r) == limits.get(k).copied()
    };
    same("memory") && same("cpu")
}

fn io_thread_cpus(vmi: &VirtualMachineInstance) -> i64 {
    vmi.spec
        .domain
        .io_threads
        .as_ref()
        .and_then(|t| t.supplemental_pool_thread_count)
        .map_or(0, i64::from)
}

fn is_vfio(vmi: &VirtualMachineInstance) -> bool {
    let devices = &vmi.spec.domain.devices;
    devices.gpus.as_ref().is_some_and(|g| !g.is_empty())
        || devices.host_devices.as_ref().is_some_and(|h| !h.is_empty())
        || devices
            .interfaces
            .iter()
            .flatten()
            .any(|i| i.sriov.is_some())
}

/// The memory overhead of running the VMI on KVM.
pub fn memory_overhead(
    vmi: &VirtualMachineInstance,
    options: &ResourceOptions,
) -> Result<Quantity, QuantityError> {
    let domain = &vmi.spec.domain;
    let requests = parse_map(domain.resources.as_ref().and_then(|r| r.requests.as_ref()))?;
    let limits = parse_map(domain.resources.as_ref().and_then(|r| r.limits.as_ref()))?;
    let mebi = Quantity::mebibytes;

    // One byte of page table per 512 bytes of requested RAM, computed in kilobytes. QUIRK
    // (§7.5), reproduced: only the request field counts, so a guest sized by `memory.guest`
    // alone gets none.
    let requested = requests.get("memory").copied().unwrap_or(Quantity::ZERO);
    let page_tables = Quantity::from_units(requested.kilo_value() * 1000 / 512, Format::DecimalSi);
    let mut overhead = Quantity::ZERO + page_tables;
    // virt-launcher-monitor, virt-launcher, virtlogd, virtqemud and qemu.
    for mi in [25, 100, 25, 40, 50] {
        overhead = overhead + mebi(mi);
    }
    let mut vcpus = match &domain.cpu {
        Some(cpu) => vcpus_of_topology(cpu),
        None => limits
            .get("cpu")
            .or(requests.get("cpu"))
            .map_or(0, |q| q.value()),
    };
    if vcpus < 1 {
        vcpus = 1;
    }
    overhead = overhead + mebi(8) * vcpus;
    overhead = overhead + mebi(8);
    if domain.devices.autoattach_graphics_device != Some(false) {
        overhead = overhead + mebi(32);
    }
    let arch = vmi
        .spec
        .architecture
        .as_deref()
        .unwrap_or(&options.default_architecture);
    if arch == "arm64" {
        overhead = overhead + mebi(128);
    }
    if is_vfio(vmi) {
        overhead = overhead + mebi(1024);
    }
    if vmi
        .spec
        .volumes
        .iter()
        .flatten()
        .any(|v| v.downward_metrics.is_some())
    {
        overhead = overhead + mebi(1);
    }
    let liveness = vmi
        .spec
        .liveness_probe
        .as_ref()
        .is_some_and(|p| p.exec.is_some());
    let readiness = vmi
        .spec
        .readiness_probe
        .as_ref()
        .is_some_and(|p| p.exec.is_some());
    for probe in [liveness, readiness] {
        if probe {
            overhead = overhead + mebi(10);
        }
    }
    if liveness || readiness {
        overhead = overhead + mebi(100);
    }
    let launch_security = domain.launch_security.as_ref();
    if launch_security.is_some_and(|l| l.sev.is_some() || l.snp.is_some()) {
        overhead = overhead + mebi(256);
    }
    if domain
        .devices
        .tpm
        .as_ref()
        .is_some_and(|t| t.enabled != Some(false))
    {
        overhead = overhead + mebi(53);
    }
    if is_dedicated_cpu(vmi) || wants_guaranteed_qos(&requests, &limits) {
        overhead = overhead + mebi(100);
    }
    let added = domain
        .memory
        .as_ref()
        .and_then(|m| m.reserved_overhead.as_ref());
    if let Some(added) = added.and_then(|r| r.added_overhead.as_ref()) {
        overhead = overhead + Quantity::parse(&added.0)?;
    }
    if let Some(ratio) = options.additional_overhead_ratio {
        let extra = (overhead.kilo_value() as f64 * (ratio - 1.0)) as i64;
        overhead = overhead + Quantity::from_units(extra * 1000, Format::DecimalSi);
    }
    Ok(overhead)
}

/// Whether the pod network needs a TUN device (upstream `RequiresTunDevice`).
fn requires_tun(vmi: &VirtualMachineInstance) -> bool {
    let devices = &vmi.spec.domain.devices;
    devices.interfaces.as_ref().is_some_and(|i| !i.is_empty())
        || devices.autoattach_pod_interface != Some(false)
}

/// Whether an interface uses the virtio model (the default model).
fn requires_vhost_net(vmi: &VirtualMachineInstance) -> bool {
    vmi.spec
        .domain
        .devices
        .interfaces
        .iter()
        .flatten()
        .any(|i| i.sriov.is_none() && i.model.as_deref().is_none_or(|m| m == "virtio"))
}

fn bump(map: &mut Resources, name: &str) {
    let one = Quantity::from_units(1, Format::DecimalSi);
    let next = map.get(name).map_or(one, |q| *q + one);
    map.insert(name.to_string(), next);
}

/// The resource requirements of the `compute` container.
pub fn compute_resources(
    vmi: &VirtualMachineInstance,
    options: &ResourceOptions,
) -> Result<ResourceRequirements, QuantityError> {
    let domain = &vmi.spec.domain;
    let resources = domain.resources.as_ref();
    let mut vm_requests = parse_map(resources.and_then(|r| r.requests.as_ref()))?;
    let mut vm_limits = parse_map(resources.and_then(|r| r.limits.as_ref()))?;
    let mut calc_requests = Resources::new();
    let mut calc_limits = Resources::new();
    let overhead = memory_overhead(vmi, options)?;
    let memory = domain.memory.as_ref();
    let hugepages = memory.and_then(|m| m.hugepages.as_ref());
    let dedicated = is_dedicated_cpu(vmi);

    let storage_overhead = Quantity::parse(EPHEMERAL_STORAGE_OVERHEAD)?;
    let storage = vm_requests
        .get("ephemeral-storage")
        .copied()
        .unwrap_or(Quantity::ZERO);
    vm_requests.insert("ephemeral-storage".into(), storage + storage_overhead);
    if let Some(limit) = vm_limits.get_mut("ephemeral-storage") {
        *limit = *limit + storage_overhead;
    }

    if options.device_resources {
        let one = Quantity::from_units(1, Format::DecimalSi);
        if requires_tun(vmi) {
            vm_limits.insert(TUN_DEVICE.into(), one);
        }
        if !options.allow_emulation && requires_vhost_net(vmi) {
            vm_limits.insert(VHOST_NET_DEVICE.into(), one);
        }
        if !options.allow_emulation {
            vm_limits.insert(KVM_DEVICE.into(), one);
        }
        if domain.devices.autoattach_vsock == Some(true) {
            vm_limits.insert(VHOST_VSOCK_DEVICE.into(), one);
        }
    }

    // Memory request when the guest did not ask for one.
    if vm_requests.get("memory").is_none_or(|q| q.is_zero()) {
        if let Some(limit) = vm_limits.get("memory").copied().filter(|l| !l.is_zero()) {
            vm_requests.insert("memory".into(), limit);
        }
        if !vm_requests.contains_key("memory") {
            let size = match memory.and_then(|m| m.guest.as_ref()) {
                Some(guest) => Some(Quantity::parse(&guest.0)?),
                None => match hugepages.and_then(|h| h.page_size.as_deref()) {
                    Some(page) => Quantity::parse(page).ok(),
                    None => None,
                },
            };
            if let Some(size) = size.filter(|s| s.value() > 0) {
                let overcommit = i64::from(options.memory_overcommit.max(1));
                let request = if overcommit == 100 || hugepages.is_some() || dedicated {
                    size
                } else {
                    Quantity::from_units(size.value() * 100 / overcommit, size.format())
                };
                vm_requests.insert("memory".into(), request);
            }
        }
    }

    let io_threads = io_thread_cpus(vmi);
    if dedicated {
        let cpu = domain.cpu.clone().unwrap_or_default();
        let vcpus = vcpus_of_topology(&cpu);
        if vcpus != 0 {
            let total = Quantity::from_units(vcpus + io_threads, Format::BinarySi);
            vm_limits.insert("cpu".into(), total);
            vm_requests.insert("cpu".into(), total);
        } else {
            let extra = Quantity::from_units(io_threads, Format::BinarySi);
            for map in [&mut vm_limits, &mut vm_requests] {
                if let Some(q) = map.get_mut("cpu") {
                    *q = *q + extra;
                }
            }
        }
        if cpu.isolate_emulator_thread == Some(true) {
            let limit = vm_limits.get("cpu").copied().unwrap_or(Quantity::ZERO);
            let parity = vmi.metadata.annotations.as_ref().is_some_and(|a| {
                a.contains_key("alpha.kubevirt.io/EmulatorThreadCompleteToEvenParity")
            });
            let pool = domain
                .io_threads
                .as_ref()
                .and_then(|t| t.supplemental_pool_thread_count)
                .map_or(0, i64::from);
            let extra = if parity && (limit.value() + pool) % 2 == 0 {
                2
            } else {
                1
            };
            let extra = Quantity::from_units(extra, Format::BinarySi);
            vm_limits.insert("cpu".into(), limit + extra);
            if let Some(q) = vm_requests.get_mut("cpu") {
                *q = *q + extra;
            }
        }
        if let Some(request) = vm_requests.get("memory").copied() {
            vm_limits.insert("memory".into(), request);
        }
    } else {
        let vcpus = domain.cpu.as_ref().map_or(1, vcpus_of_topology) + io_threads;
        if vcpus != 0 && options.cpu_allocation_ratio > 0 {
            let value = vcpus as f64 / f64::from(options.cpu_allocation_ratio);
            // Printed as Go's %g does, then parsed: a third of a CPU is "333333334n" upstream.
            let text = if value < 1.0 {
                format!("{}m", value * 1000.0)
            } else {
                format!("{value}")
            };
            calc_requests.insert("cpu".into(), Quantity::parse(&text)?);
        }
    }

    if let Some(page_size) = hugepages.and_then(|h| h.page_size.clone()) {
        let name = format!("hugepages-{page_size}");
        let request = vm_requests.get("memory").copied().unwrap_or(Quantity::ZERO);
        let guest = memory
            .and_then(|m| m.guest.as_ref())
            .map(|g| Quantity::parse(&g.0))
            .transpose()?;
        let pages = match guest {
            Some(g) if request.value() > g.value() => g,
            _ => request,
        };
        calc_requests.insert(name.clone(), pages);
        calc_limits.insert(name, pages);
        let mut request_diff = Quantity::ZERO;
        let mut limit_diff = Quantity::ZERO;
        if let Some(g) = guest {
            let limit = vm_limits.get("memory").copied().unwrap_or(Quantity::ZERO);
            if request.value() > g.value() {
                request_diff = request_diff + request - g;
            }
            if limit.value() > g.value() {
                limit_diff = limit_diff + limit - g;
            }
        }
        vm_requests.insert("memory".into(), request_diff + overhead);
        if vm_limits.contains_key("memory") {
            vm_limits.insert("memory".into(), limit_diff + overhead);
        }
    } else {
        let request = vm_requests.get("memory").copied().unwrap_or(Quantity::ZERO);
        let overcommit_overhead = resources
            .and_then(|r| r.overcommit_guest_overhead)
            .unwrap_or(false);
        let request = if overcommit_overhead {
            request
        } else {
            request + overhead
        };
        vm_requests.insert("memory".into(), request);
        if let Some(limit) = vm_limits.get_mut("memory") {
            *limit = *limit + overhead;
        }
    }

    if options.device_resources {
        let devices = &domain.devices;
        let plugin_devices = devices
            .gpus
            .iter()
            .flatten()
            .filter(|g| g.claim_name.is_none())
            .filter_map(|g| g.device_name.as_deref())
            .chain(
                devices
                    .host_devices
                    .iter()
                    .flatten()
                    .filter(|h| h.claim_name.is_none())
                    .filter_map(|h| h.device_name.as_deref()),
            )
            .filter(|name| !name.is_empty());
        for name in plugin_devices {
            bump(&mut calc_limits, name);
            bump(&mut calc_requests, name);
        }
        if let Some(security) = domain.launch_security.as_ref() {
            if security.sev.is_some() || security.snp.is_some() {
                bump(&mut calc_limits, SEV_DEVICE);
                bump(&mut calc_requests, SEV_DEVICE);
            }
            if security.tdx.is_some() {
                bump(&mut calc_limits, TDX_DEVICE);
                bump(&mut calc_requests, TDX_DEVICE);
            }
        }
    }

    let mut requests = calc_requests;
    requests.extend(vm_requests);
    let mut limits = calc_limits;
    limits.extend(vm_limits);
    // The API server defaults a missing request to the limit; doing it here keeps the
    // stored pod identical whichever server stores it.
    for (name, limit) in &limits {
        requests.entry(name.clone()).or_insert(*limit);
    }
    let to_k8s = |m: Resources| {
        (!m.is_empty()).then(|| m.into_iter().map(|(k, v)| (k, v.to_k8s())).collect())
    };
    Ok(ResourceRequirements {
        limits: to_k8s(limits),
        requests: to_k8s(requests),
        claims: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn vmi(spec: Value) -> VirtualMachineInstance {
        serde_json::from_value(json!({
            "apiVersion": "kubevirt.io/v1", "kind": "VirtualMachineInstance",
            "metadata": {"name": "v", "namespace": "default"},
            "spec": spec,
        }))
        .unwrap()
    }

    fn plain(memory: &str) -> VirtualMachineInstance {
        vmi(json!({"domain": {
            "cpu": {"cores": 1, "sockets": 1, "threads": 1},
            "resources": {"requests": {"memory": memory}},
            "memory": {"guest": memory},
            "devices": {"interfaces": [{"name": "default", "masquerade": {}}]}},
            "networks": [{"name": "default", "pod": {}}]}))
    }

    fn get(r: &ResourceRequirements, which: &str, name: &str) -> Option<String> {
        let map = if which == "requests" {
            &r.requests
        } else {
            &r.limits
        };
        map.as_ref()?.get(name).map(|q| q.0.clone())
    }

    fn opts() -> ResourceOptions {
        ResourceOptions::default()
    }

    #[test]
    fn overhead_of_a_one_gibibyte_single_vcpu_guest() {
        // 2Mi page tables + 240Mi fixed + 8Mi vCPU + 8Mi IOThread + 32Mi video.
        let overhead = memory_overhead(&plain("1Gi"), &opts()).unwrap();
        assert_eq!(overhead.value(), (2 + 240 + 8 + 8 + 32) * 1024 * 1024);
        let r = compute_resources(&plain("1Gi"), &opts()).unwrap();
        assert_eq!(get(&r, "requests", "memory").as_deref(), Some("1314Mi"));
        assert_eq!(get(&r, "limits", "memory"), None);
    }

    #[test]
    fn page_tables_count_only_the_memory_request() {
        let guest_only = vmi(json!({"domain": {
            "memory": {"guest": "1Gi"}, "devices": {}}}));
        let overhead = memory_overhead(&guest_only, &opts()).unwrap();
        assert_eq!(overhead.value(), (240 + 8 + 8 + 32) * 1024 * 1024);
        let r = compute_resources(&guest_only, &opts()).unwrap();
        assert_eq!(get(&r, "requests", "memory").as_deref(), Some("1312Mi"));
    }

    #[test]
    fn vcpus_multiply_the_per_cpu_overhead_and_the_cpu_request() {
        let v = vmi(json!({"domain": {
            "cpu": {"cores": 2, "sockets": 2, "threads": 1},
            "resources": {"requests": {"memory": "2Gi"}},
            "devices": {"autoattachGraphicsDevice": false}}}));
        let overhead = memory_overhead(&v, &opts()).unwrap();
        assert_eq!(overhead.value(), (4 + 240 + 32 + 8) * 1024 * 1024);
        let r = compute_resources(&v, &opts()).unwrap();
        assert_eq!(get(&r, "requests", "cpu").as_deref(), Some("400m"));
    }

    #[test]
    fn cpu_request_reproduces_float_formatting() {
        let cases = [
            (1, 10, "100m"),
            (7, 10, "700m"),
            (10, 10, "1"),
            (15, 10, "1500m"),
            (1, 3, "333333334n"),
        ];
        for (vcpus, ratio, want) in cases {
            let v = vmi(json!({"domain": {"cpu": {"sockets": vcpus},
                "resources": {"requests": {"memory": "1Gi"}}, "devices": {}}}));
            let options = ResourceOptions {
                cpu_allocation_ratio: ratio,
                ..opts()
            };
            let r = compute_resources(&v, &options).unwrap();
            assert_eq!(
                get(&r, "requests", "cpu").as_deref(),
                Some(want),
                "{vcpus} vCPUs / {ratio}"
            );
        }
    }

    #[test]
    fn explicit_cpu_request_wins_over_the_computed_one() {
        let v = vmi(json!({"domain": {"cpu": {"sockets": 4},
            "resources": {"requests": {"memory": "1Gi", "cpu": "2"}}, "devices": {}}}));
        let r = compute_resources(&v, &opts()).unwrap();
        assert_eq!(get(&r, "requests", "cpu").as_deref(), Some("2"));
    }

    #[test]
    fn memory_limit_grows_by_the_overhead_too() {
        let v = vmi(json!({"domain": {"cpu": {"sockets": 1},
            "resources": {"requests": {"memory": "1Gi"}, "limits": {"memory": "2Gi"}},
            "devices": {}}}));
        let r = compute_resources(&v, &opts()).unwrap();
        assert_eq!(get(&r, "requests", "memory").as_deref(), Some("1314Mi"));
        assert_eq!(get(&r, "limits", "memory").as_deref(), Some("2338Mi"));
    }

    #[test]
    fn overcommitted_overhead_stays_out_of_the_request() {
        let v = vmi(json!({"domain": {"cpu": {"sockets": 1},
            "resources": {"requests": {"memory": "1Gi"}, "overcommitGuestOverhead": true},
            "devices": {}}}));
        let r = compute_resources(&v, &opts()).unwrap();
        assert_eq!(get(&r, "requests", "memory").as_deref(), Some("1Gi"));
    }

    #[test]
    fn guest_memory_is_scaled_by_the_overcommit_percentage() {
        let v = vmi(
            json!({"domain": {"cpu": {"sockets": 1}, "memory": {"guest": "1000Mi"},
            "devices": {"autoattachGraphicsDevice": false}}}),
        );
        let options = ResourceOptions {
            memory_overcommit: 200,
            ..opts()
        };
        let r = compute_resources(&v, &options).unwrap();
        // 500Mi + 240Mi + 8Mi + 8Mi.
        assert_eq!(get(&r, "requests", "memory").as_deref(), Some("756Mi"));
    }

    #[test]
    fn ephemeral_storage_and_devices_are_requested() {
        let r = compute_resources(&plain("1Gi"), &opts()).unwrap();
        assert_eq!(
            get(&r, "requests", "ephemeral-storage").as_deref(),
            Some("50M")
        );
        for device in [KVM_DEVICE, TUN_DEVICE, VHOST_NET_DEVICE] {
            assert_eq!(get(&r, "limits", device).as_deref(), Some("1"), "{device}");
            assert_eq!(
                get(&r, "requests", device).as_deref(),
                Some("1"),
                "{device}"
            );
        }
        let emulated = ResourceOptions {
            allow_emulation: true,
            ..opts()
        };
        let r = compute_resources(&plain("1Gi"), &emulated).unwrap();
        assert_eq!(get(&r, "limits", KVM_DEVICE), None);
        assert_eq!(get(&r, "limits", VHOST_NET_DEVICE), None);
        let bare = ResourceOptions {
            device_resources: false,
            ..opts()
        };
        let r = compute_resources(&plain("1Gi"), &bare).unwrap();
        assert_eq!(r.limits, None);
    }

    #[test]
    fn dedicated_cpus_give_guaranteed_resources() {
        let v = vmi(json!({"domain": {
            "cpu": {"cores": 2, "dedicatedCpuPlacement": true},
            "resources": {"requests": {"memory": "1Gi"}}, "devices": {}}}));
        let r = compute_resources(
            &v,
            &ResourceOptions {
                device_resources: false,
                ..opts()
            },
        )
        .unwrap();
        assert_eq!(get(&r, "requests", "cpu").as_deref(), Some("2"));
        assert_eq!(get(&r, "limits", "cpu").as_deref(), Some("2"));
        // 2Mi + 240Mi + 16Mi + 8Mi + 32Mi + 100Mi for dedicated CPUs.
        assert_eq!(get(&r, "requests", "memory").as_deref(), Some("1422Mi"));
        assert_eq!(get(&r, "limits", "memory"), get(&r, "requests", "memory"));
    }

    #[test]
    fn conditional_extras_add_up() {
        let v = vmi(json!({"domain": {"cpu": {"sockets": 1},
            "resources": {"requests": {"memory": "1Gi"}},
            "memory": {"reservedOverhead": {"addedOverhead": "10Mi"}},
            "devices": {"tpm": {}, "autoattachGraphicsDevice": false}},
            "livenessProbe": {"exec": {"command": ["true"]}},
            "volumes": [{"name": "m", "downwardMetrics": {}}]}));
        let overhead = memory_overhead(&v, &opts()).unwrap();
        // 2 + 240 + 8 + 8 + 1 (metrics) + 110 (probe) + 53 (TPM) + 10 (reserved).
        assert_eq!(overhead.value(), 432 * 1024 * 1024);
        let ratio = ResourceOptions {
            additional_overhead_ratio: Some(2.0),
            ..opts()
        };
        let doubled = memory_overhead(&v, &ratio).unwrap();
        assert_eq!(doubled.kilo_value(), 2 * overhead.kilo_value());
    }

    #[test]
    fn hugepages_move_the_guest_memory_out_of_the_memory_request() {
        let v = vmi(json!({"domain": {"cpu": {"sockets": 1},
            "resources": {"requests": {"memory": "1Gi"}},
            "memory": {"hugepages": {"pageSize": "2Mi"}, "guest": "1Gi"}, "devices": {}}}));
        let r = compute_resources(
            &v,
            &ResourceOptions {
                device_resources: false,
                ..opts()
            },
        )
        .unwrap();
        assert_eq!(get(&r, "requests", "hugepages-2Mi").as_deref(), Some("1Gi"));
        assert_eq!(get(&r, "limits", "hugepages-2Mi").as_deref(), Some("1Gi"));
        // Only the overhead remains; like upstream it prints in decimal (290Mi).
        assert_eq!(get(&r, "requests", "memory").as_deref(), Some("304087040"));
    }
}
