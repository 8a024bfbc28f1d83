//! CPU, memory, machine and firmware rules of `vmi-create-admitter.go`.

use api::VirtualMachineInstanceSpec;
use apiserver::Cause;

use crate::admission::config::{ClusterConfig, gate};
use crate::admission::defaults::{limit, request};
use crate::admission::dns;
use crate::admission::field::{self, Path};
use crate::admission::quantity::Quantity;

/// The quantity as the user wrote it, `0` when absent (Go prints a zero Quantity as "0").
fn shown(spec: &VirtualMachineInstanceSpec, requests: bool, name: &str) -> String {
    let r = spec.domain.resources.as_ref();
    let list = r.and_then(|r| {
        if requests {
            r.requests.as_ref()
        } else {
            r.limits.as_ref()
        }
    });
    list.and_then(|l| l.get(name))
        .map(|q| q.0.clone())
        .unwrap_or_else(|| "0".into())
}

/// The request and limit of `resource`, compared by `amount`: neither may be negative, a
/// non-negative request must not be below the floor `too_small` names, if any, and a request
/// must not exceed a set limit.
fn validate_request_and_limit(
    field: &Path,
    spec: &VirtualMachineInstanceSpec,
    resource: &str,
    amount: fn(Quantity) -> i64,
    too_small: impl Fn(Quantity) -> Option<&'static str>,
) -> Vec<Cause> {
    let mut causes = Vec::new();
    let req_path = field.children(&["domain", "resources", "requests", resource]);
    let lim_path = field.children(&["domain", "resources", "limits", resource]);
    let (req, lim) = (request(spec, resource), limit(spec, resource));
    let floor = if amount(req) < 0 {
        Some("0")
    } else {
        too_small(req)
    };
    if let Some(floor) = floor {
        causes.push(field::invalid(
            &req_path,
            format!(
                "{req_path} '{}': must be greater than or equal to {floor}.",
                shown(spec, true, resource)
            ),
        ));
    }
    if amount(lim) < 0 {
        causes.push(field::invalid(
            &lim_path,
            format!(
                "{lim_path} '{}': must be greater than or equal to 0.",
                shown(spec, false, resource)
            ),
        ));
    }
    if amount(lim) > 0 && amount(req) > amount(lim) {
        causes.push(field::invalid(
            &req_path,
            format!(
                "{req_path} '{}' is greater than {lim_path} '{}'",
                shown(spec, true, resource),
                shown(spec, false, resource)
            ),
        ));
    }
    causes
}

pub fn validate_names(field: &Path, spec: &VirtualMachineInstanceSpec) -> Vec<Cause> {
    type Rule = fn(&str) -> Vec<String>;
    let names: [(&str, &Option<String>, &str, Rule); 2] = [
        ("hostname", &spec.hostname, "DNS_LABEL", dns::dns1123_label),
        (
            "subdomain",
            &spec.subdomain,
            "DNS_SUBDOMAIN",
            dns::dns1123_subdomain,
        ),
    ];
    let mut causes = Vec::new();
    for (name, value, rules, check) in names {
        let Some(value) = value.as_deref().filter(|v| !v.is_empty()) else {
            continue;
        };
        let errs = check(value);
        if !errs.is_empty() {
            let p = field.child(name);
            causes.push(field::invalid(
                &p,
                format!(
                    "{p} does not conform to the kubernetes {rules} rules : {}",
                    errs.join(", ")
                ),
            ));
        }
    }
    causes
}

pub fn validate_memory(
    field: &Path,
    spec: &VirtualMachineInstanceSpec,
    config: &ClusterConfig,
) -> Vec<Cause> {
    let mut causes = validate_request_and_limit(field, spec, "memory", Quantity::value, |req| {
        (req.value() > 0 && req.cmp_value(Quantity::from_value(1_000_000)).is_lt()).then_some("1M")
    });
    let req_path = field.children(&["domain", "resources", "requests", "memory"]);
    let lim_path = field.children(&["domain", "resources", "limits", "memory"]);
    let (req, lim) = (request(spec, "memory"), limit(spec, "memory"));
    let memory = spec.domain.memory.as_ref();
    if let Some(hp) = memory.and_then(|m| m.hugepages.as_ref()) {
        let page_path = field.children(&["domain", "memory", "hugepages", "pageSize"]);
        let page = hp.page_size.as_deref().unwrap_or("");
        match Quantity::parse(page) {
            Err(_) => causes.push(field::invalid(
                &page_path,
                format!("{page_path} '{page}': quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"),
            )),
            Ok(size) => {
                let guest = crate::admission::defaults::quantity_of(memory.and_then(|m| m.guest.as_ref()));
                let vm_memory = [req.value(), guest.value(), lim.value()].into_iter().find(|v| *v != 0).unwrap_or(0);
                if vm_memory != 0 && vm_memory < size.value() {
                    causes.push(field::invalid(
                        &req_path,
                        format!(
                            "{req_path} '{}' must be equal to or larger than page size {page_path} '{page}'",
                            shown(spec, true, "memory")
                        ),
                    ));
                } else if size.value() > 0 && vm_memory % size.value() != 0 {
                    causes.push(field::invalid(
                        &req_path,
                        format!(
                            "{req_path} '{}' is not a multiple of the page size {page_path} '{page}'",
                            shown(spec, true, "memory")
                        ),
                    ));
                }
            }
        }
    }
    if !config.live_update()
        && let Some(guest) = memory.and_then(|m| m.guest.as_ref())
    {
        let g = crate::admission::defaults::quantity_of(Some(guest));
        if lim.value() != 0 && lim.value() < g.value() {
            let p = field.children(&["domain", "memory", "guest"]);
            causes.push(field::invalid(
                &p,
                format!(
                    "{p} '{}' must be equal to or less than the memory limit {lim_path} '{}'",
                    guest.0,
                    shown(spec, false, "memory")
                ),
            ));
        }
    }
    causes
}

/// `filepath.Match` for the patterns machine types use (`*` and `?` only).
fn glob(pattern: &str, s: &str) -> bool {
    fn go(p: &[u8], s: &[u8]) -> bool {
        match p.first() {
            None => s.is_empty(),
            Some(b'*') => (0..=s.len()).any(|i| go(&p[1..], &s[i..])),
            Some(b'?') => !s.is_empty() && go(&p[1..], &s[1..]),
            Some(c) => s.first() == Some(c) && go(&p[1..], &s[1..]),
        }
    }
    go(pattern.as_bytes(), s.as_bytes())
}

pub fn validate_machine(
    field: &Path,
    spec: &VirtualMachineInstanceSpec,
    config: &ClusterConfig,
) -> Vec<Cause> {
    let Some(t) = spec
        .domain
        .machine
        .as_ref()
        .and_then(|m| m.type_.as_deref())
        .filter(|t| !t.is_empty())
    else {
        return vec![];
    };
    let supported = config.emulated_machines(spec.architecture.as_deref().unwrap_or(""));
    if supported.iter().any(|p| glob(p, t)) {
        return vec![];
    }
    let p = field.children(&["domain", "machine", "type"]);
    vec![field::invalid(
        &p,
        format!(
            "{p} is not supported: {t} (allowed values: [{}])",
            supported.join(" ")
        ),
    )]
}

fn vcpus(spec: &VirtualMachineInstanceSpec) -> i64 {
    spec.domain.cpu.as_ref().map_or(0, |c| {
        let v = |x: Option<u32>| i64::from(x.unwrap_or(0));
        let (cores, sockets, threads) = (v(c.cores), v(c.sockets), v(c.threads));
        if cores == 0 && sockets == 0 && threads == 0 {
            0
        } else {
            cores.max(1) * sockets.max(1) * threads.max(1)
        }
    })
}

pub fn validate_cpu(
    field: &Path,
    spec: &VirtualMachineInstanceSpec,
    config: &ClusterConfig,
) -> Vec<Cause> {
    let mut causes =
        validate_request_and_limit(field, spec, "cpu", Quantity::milli_value, |_| None);
    let req_path = field.children(&["domain", "resources", "requests", "cpu"]);
    let lim_path = field.children(&["domain", "resources", "limits", "cpu"]);
    let (req, lim) = (request(spec, "cpu"), limit(spec, "cpu"));
    let cpu = spec.domain.cpu.as_ref();
    let dedicated = cpu.is_some_and(|c| c.dedicated_cpu_placement == Some(true));
    let dedicated_path = field.children(&["domain", "cpu", "dedicatedCpuPlacement"]);
    let cores_path = field.children(&["domain", "cpu", "cores"]);
    let threads_path = field.children(&["domain", "cpu", "threads"]);
    if dedicated {
        causes.extend(validate_memory_is_provided(field, spec));
        if req.value() > 0 && req.value() * 1000 != req.milli_value() {
            causes.push(field::invalid(
                &req_path,
                "provided resources CPU requests must be an interger",
            ));
        }
        if lim.value() > 0 && lim.value() * 1000 != lim.milli_value() {
            causes.push(field::invalid(
                &lim_path,
                "provided resources CPU limits must be an interger",
            ));
        }
        let (mreq, mlim) = (request(spec, "memory"), limit(spec, "memory"));
        if mreq.value() > 0 && mlim.value() > 0 && mreq.value() != mlim.value() {
            let mreq_path = field.children(&["domain", "resources", "requests", "memory"]);
            let mlim_path = field.children(&["domain", "resources", "limits", "memory"]);
            causes.push(field::invalid(
                &mreq_path,
                format!("{mreq_path} must be equal to {mlim_path}"),
            ));
        }
        let n = vcpus(spec);
        if req.value() == 0 && lim.value() == 0 && n == 0 {
            causes.push(field::invalid(
                &dedicated_path,
                format!("either {req_path} or {lim_path} or {cores_path} must be provided when DedicatedCPUPlacement is true "),
            ));
        }
        if req.value() > 0 && lim.value() > 0 && req.value() != lim.value() {
            causes.push(field::invalid(
                &dedicated_path,
                format!(
                    "{req_path} or {lim_path} must be equal when DedicatedCPUPlacement is true "
                ),
            ));
        }
        if (req.value() > 0 || lim.value() > 0) && n > 0 && req.value() != n && lim.value() != n {
            causes.push(field::invalid(
                &dedicated_path,
                format!("{req_path} or {lim_path} must not be provided at the same time with {cores_path} when DedicatedCPUPlacement is true "),
            ));
        }
        let threads = cpu.and_then(|c| c.threads).unwrap_or(0);
        let arch = config.architecture_or_default(spec.architecture.as_deref().unwrap_or(""));
        if threads > 1 && arch == "arm64" {
            let arch_path = field.child("architecture");
            causes.push(field::invalid(
                &arch_path,
                format!("threads must not be greater than 1 at {threads_path} (got {threads}) when {arch_path} is arm64"),
            ));
        }
        if threads > 2 {
            causes.push(field::invalid(
                &dedicated_path,
                format!("Not more than two threads must be provided at {threads_path} (got {threads}) when DedicatedCPUPlacement is true"),
            ));
        }
    }
    let numa_path = field.children(&["domain", "cpu", "numa", "guestMappingPassthrough"]);
    if cpu
        .and_then(|c| c.numa.as_ref())
        .is_some_and(|n| n.guest_mapping_passthrough.is_some())
    {
        if !config.is_enabled(gate::NUMA) {
            causes.push(field::invalid(
                &numa_path,
                format!(
                    "NUMA feature gate is not enabled in kubevirt-config, invalid entry {numa_path}"
                ),
            ));
        }
        if !dedicated {
            causes.push(field::invalid(
                &numa_path,
                format!("{dedicated_path} must be set to true when NUMA topology strategy is set in {numa_path}"),
            ));
        }
        if spec
            .domain
            .memory
            .as_ref()
            .and_then(|m| m.hugepages.as_ref())
            .is_none()
        {
            let hp = field.children(&["domain", "memory", "hugepages"]);
            causes.push(field::invalid(
                &numa_path,
                format!("{hp} must be requested when NUMA topology strategy is set in {numa_path}"),
            ));
        }
    }
    if cpu.is_some_and(|c| c.isolate_emulator_thread == Some(true)) && !dedicated {
        causes.push(field::invalid(
            field.children(&["domain", "cpu", "isolateEmulatorThread"]),
            "IsolateEmulatorThread should be only set in combination with DedicatedCPUPlacement",
        ));
    }
    for (idx, f) in cpu
        .and_then(|c| c.features.as_ref())
        .into_iter()
        .flatten()
        .enumerate()
    {
        let policy = f.policy.as_deref().unwrap_or("");
        if !matches!(
            policy,
            "" | "force" | "require" | "optional" | "disable" | "forbid"
        ) {
            causes.push(field::not_supported(
                field
                    .children(&["domain", "cpu", "features"])
                    .index(idx)
                    .child("policy"),
                format!(
                    "CPU feature {} uses policy {policy} that is not supported.",
                    f.name
                ),
            ));
        }
    }
    if let Some(c) = cpu
        && c.max_sockets.unwrap_or(0) != 0
        && c.sockets.unwrap_or(0) > c.max_sockets.unwrap_or(0)
    {
        causes.push(field::invalid(
            field.children(&["domain", "cpu", "sockets"]),
            "Number of sockets in CPU topology is greater than the maximum sockets allowed",
        ));
    }
    if let Some(c) = cpu
        && c.realtime.is_some()
    {
        let realtime = field.children(&["domain", "cpu", "realtime"]);
        if !dedicated {
            causes.push(field::required(
                &dedicated_path,
                format!("{dedicated_path} must be set to true when {realtime} is used"),
            ));
        }
        if c.numa
            .as_ref()
            .and_then(|n| n.guest_mapping_passthrough.as_ref())
            .is_none()
        {
            causes.push(field::required(
                &numa_path,
                format!("{numa_path} must be defined when {realtime} is used"),
            ));
        }
    }
    causes
}

fn validate_memory_is_provided(field: &Path, spec: &VirtualMachineInstanceSpec) -> Vec<Cause> {
    if !limit(spec, "memory").is_zero() || !request(spec, "memory").is_zero() {
        return vec![];
    }
    let memory = spec.domain.memory.as_ref();
    if memory.is_some_and(|m| m.hugepages.is_some()) {
        return vec![];
    }
    let guest = crate::admission::defaults::quantity_of(memory.and_then(|m| m.guest.as_ref()));
    if memory.is_some() && !guest.is_zero() {
        return vec![];
    }
    let p = |parts: &[&str]| field.children(parts).to_string();
    vec![field::invalid(
        p(&["domain", "resources", "limits", "memory"]),
        format!(
            "{}, {}, {} or {} should be provided",
            p(&["domain", "resources", "requests", "memory"]),
            p(&["domain", "resources", "limits", "memory"]),
            p(&["domain", "memory", "hugepages"]),
            p(&["domain", "memory", "guest"]),
        ),
    )]
}

/// `ValidateVirtualMachineInstanceMandatoryFields`: some memory must be requested (VMIs only).
pub fn validate_mandatory_memory(field: &Path, spec: &VirtualMachineInstanceSpec) -> Vec<Cause> {
    if request(spec, "memory").value() != 0 {
        return vec![];
    }
    let memory = spec.domain.memory.as_ref();
    if memory.is_some_and(|m| m.guest.is_some() || m.hugepages.is_some()) {
        return vec![];
    }
    vec![field::required(
        "",
        format!(
            "no memory requested, at least one of '{}', '{}' or '{}' must be set",
            field.children(&["domain", "memory", "guest"]),
            field.children(&["domain", "memory", "hugepages", "pageSize"]),
            field.children(&["domain", "resources", "requests", "memory"]),
        ),
    )]
}

/// Firmware: ACPI table references, bootloader exclusivity, kernel boot, SecureBoot and SMM.
pub fn validate_firmware(field: &Path, spec: &VirtualMachineInstanceSpec) -> Vec<Cause> {
    let mut causes = Vec::new();
    let firmware = spec.domain.firmware.as_ref();
    if let Some(acpi) = firmware.and_then(|f| f.acpi.as_ref()) {
        // QUIRK: upstream validates ACPI on the path `spec.acpi`.
        let acpi_path = field.child("acpi");
        let slic = acpi.slic_name_ref.as_deref().unwrap_or("");
        let msdm = acpi.msdm_name_ref.as_deref().unwrap_or("");
        if slic.is_empty() && msdm.is_empty() {
            causes.push(field::invalid(
                &acpi_path,
                "ACPI was set but no SLIC nor MSDM volume reference was set",
            ));
        } else {
            for (name_ref, name) in [(slic, "slicNameRef"), (msdm, "msdmNameRef")] {
                if name_ref.is_empty() {
                    continue;
                }
                match spec.volumes.iter().flatten().find(|v| v.name == name_ref) {
                    Some(v) if v.secret.is_some() => {}
                    Some(_) => causes.push(field::invalid(
                        acpi_path.child(name),
                        format!("{acpi_path} refers to Volume of unsupported type."),
                    )),
                    None => causes.push(field::invalid(
                        acpi_path.child(name),
                        format!("{acpi_path} does not have a matching Volume."),
                    )),
                }
            }
        }
    }
    let fw_path = field.children(&["domain", "firmware"]);
    if let Some(bl) = firmware.and_then(|f| f.bootloader.as_ref())
        && bl.efi.is_some()
        && bl.bios.is_some()
    {
        let p = fw_path.child("bootloader");
        causes.push(field::invalid(
            &p,
            format!("{p} has both EFI and BIOS configured, but they are mutually exclusive."),
        ));
    }
    if let Some(kb) = firmware.and_then(|f| f.kernel_boot.as_ref()) {
        let kb_path = fw_path.child("kernelBoot");
        match &kb.container {
            None => {
                if kb.kernel_args.as_deref().is_some_and(|a| !a.is_empty()) {
                    causes.push(field::invalid(
                        kb_path.child("kernelArgs"),
                        "kernel arguments cannot be provided without an external kernel",
                    ));
                }
            }
            Some(c) => {
                let cp = kb_path.child("container");
                if c.image.is_empty() {
                    causes.push(field::required(
                        cp.child("image"),
                        format!("{cp} must be defined with an image"),
                    ));
                }
                let kernel = c.kernel_path.as_deref().unwrap_or("");
                let initrd = c.initrd_path.as_deref().unwrap_or("");
                if kernel.is_empty() && initrd.is_empty() {
                    causes.push(field::required(
                        &cp,
                        format!("{cp} must be defined with at least one of the following: kernelPath, initrdPath"),
                    ));
                }
                if !kernel.is_empty() {
                    causes.extend(super::storage::validate_path(
                        &cp.child("kernelPath"),
                        kernel,
                    ));
                }
                if !initrd.is_empty() {
                    causes.extend(super::storage::validate_path(
                        &cp.child("initrdPath"),
                        initrd,
                    ));
                }
            }
        }
    }
    let efi = firmware
        .and_then(|f| f.bootloader.as_ref())
        .and_then(|b| b.efi.as_ref());
    let secure_boot = efi.is_some_and(|e| e.secure_boot != Some(false));
    let smm = spec
        .domain
        .features
        .as_ref()
        .and_then(|f| f.smm.as_ref())
        .is_some_and(|s| s.enabled != Some(false));
    let tdx = spec
        .domain
        .launch_security
        .as_ref()
        .is_some_and(|l| l.tdx.is_some());
    if secure_boot && !smm && !tdx {
        let d = field.child("domain");
        causes.push(field::invalid(
            &d,
            format!("{d} has EFI SecureBoot enabled. SecureBoot requires SMM, which is currently disabled."),
        ));
    }
    causes
}

/// Launch security (SEV, SNP, TDX) on amd64.
pub fn validate_launch_security(
    field: &Path,
    spec: &VirtualMachineInstanceSpec,
    config: &ClusterConfig,
) -> Vec<Cause> {
    let Some(ls) = &spec.domain.launch_security else {
        return vec![];
    };
    let arch = spec.architecture.as_deref().unwrap_or("");
    match arch {
        "amd64" => {}
        "s390x" => return vec![],
        _ => {
            return vec![field::invalid(
                field.child("architecture"),
                format!("No launchSecurity support for architecture: {arch}"),
            )];
        }
    }
    let p = field.child("launchSecurity");
    let mut selected = Vec::new();
    if ls.sev.is_some() {
        selected.push(("SEV", gate::WORKLOAD_ENCRYPTION_SEV));
    }
    if ls.snp.is_some() {
        selected.push(("SNP", gate::WORKLOAD_ENCRYPTION_SEV));
    }
    if ls.tdx.is_some() {
        selected.push(("TDX", gate::WORKLOAD_ENCRYPTION_TDX));
    }
    let [(kind, gate_name)] = selected[..] else {
        return vec![field::forbidden(
            &p,
            "One and only one launchSecurity type can be set",
        )];
    };
    if !config.is_enabled(gate_name) {
        return vec![field::invalid(
            &p,
            format!("{gate_name} feature gate is not enabled in kubevirt-config"),
        )];
    }
    let mut causes = Vec::new();
    let smm = spec
        .domain
        .features
        .as_ref()
        .and_then(|f| f.smm.as_ref())
        .is_some_and(|s| s.enabled != Some(false));
    if ls.tdx.is_some() && smm {
        causes.push(field::invalid(&p, "TDX does not work along with SMM"));
    }
    match spec
        .domain
        .firmware
        .as_ref()
        .and_then(|f| f.bootloader.as_ref())
        .and_then(|b| b.efi.as_ref())
    {
        None => causes.push(field::invalid(&p, format!("{kind} requires OVMF (UEFI)"))),
        Some(efi) => {
            if (ls.sev.is_some() || ls.snp.is_some()) && efi.secure_boot != Some(false) {
                causes.push(field::invalid(
                    &p,
                    format!("{kind} does not work along with SecureBoot"),
                ));
            }
            if (ls.snp.is_some() || ls.tdx.is_some()) && efi.persistent == Some(true) {
                causes.push(field::invalid(
                    &p,
                    format!("{kind} does not work along with Persistent EFI variables"),
                ));
            }
        }
    }
    if ls.sev.as_ref().is_some_and(|s| s.attestation.is_some())
        && spec.start_strategy.as_deref() != Some("Paused")
    {
        causes.push(field::invalid(
            &p,
            "SEV attestation requires VMI StartStrategy 'Paused'",
        ));
    }
    for iface in spec
        .domain
        .devices
        .interfaces
        .iter()
        .flatten()
        .filter(|i| i.boot_order.is_some())
    {
        causes.push(field::invalid(
            &p,
            format!("{kind} does not work with bootable NICs: {}", iface.name),
        ));
    }
    causes
}
