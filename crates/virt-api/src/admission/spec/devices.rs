//! Device, probe, DNS, credential and scheduling-policy rules of `vmi-create-admitter.go`, and
//! the amd64 settings check.

use api::{Probe, VirtualMachineInstanceSpec};
use apiserver::Cause;

use crate::admission::config::{ClusterConfig, gate};
use crate::admission::dns;
use crate::admission::field::{self, Path};

pub fn validate_inputs(field: &Path, spec: &VirtualMachineInstanceSpec) -> Vec<Cause> {
    let mut causes = Vec::new();
    for (idx, input) in spec.domain.devices.inputs.iter().flatten().enumerate() {
        let at = field.children(&["domain", "devices", "inputs"]).index(idx);
        if !matches!(input.bus.as_deref().unwrap_or(""), "" | "virtio" | "usb") {
            causes.push(field::invalid(
                at.child("bus"),
                "Input device can have only virtio or usb bus.",
            ));
        }
        if input.type_ != "tablet" {
            causes.push(field::invalid(
                at.child("type"),
                "Input device can have only tablet type.",
            ));
        }
    }
    causes
}

pub fn validate_io_threads(field: &Path, spec: &VirtualMachineInstanceSpec) -> Vec<Cause> {
    let Some(policy) = spec.domain.io_threads_policy.as_deref() else {
        return vec![];
    };
    let mut causes = Vec::new();
    if !matches!(policy, "shared" | "auto" | "supplementalPool") {
        causes.push(field::invalid(
            field.children(&["domain", "ioThreadsPolicy"]),
            format!("Invalid IOThreadsPolicy ({policy})"),
        ));
    }
    let count = spec
        .domain
        .io_threads
        .as_ref()
        .and_then(|t| t.supplemental_pool_thread_count);
    if policy == "supplementalPool" && count.unwrap_or(0) < 1 {
        causes.push(field::invalid(
            field.children(&["domain", "ioThreads", "count"]),
            "the number of iothreads needs to be set and positive for the dedicated policy",
        ));
    }
    causes
}

fn validate_probe(p: &Path, probe: Option<&Probe>) -> Vec<Cause> {
    let Some(probe) = probe else { return vec![] };
    let handlers = [
        probe.http_get.is_some(),
        probe.tcp_socket.is_some(),
        probe.exec.is_some(),
        probe.guest_agent_ping.is_some(),
    ]
    .iter()
    .filter(|h| **h)
    .count();
    if handlers > 1 {
        return vec![field::invalid(
            p,
            format!("{p} must have exactly one probe type set"),
        )];
    }
    if handlers < 1 {
        return vec![field::required(
            p,
            format!(
                "either {}, {} or {} must be set if a {p} is specified",
                p.child("tcpSocket"),
                p.child("exec"),
                p.child("httpGet")
            ),
        )];
    }
    vec![]
}

/// Probe handlers, and network probes only with a pod network.
pub fn validate_probes(field: &Path, spec: &VirtualMachineInstanceSpec) -> Vec<Cause> {
    let readiness = field.child("readinessProbe");
    let liveness = field.child("livenessProbe");
    let mut causes = validate_probe(&readiness, spec.readiness_probe.as_ref());
    causes.extend(validate_probe(&liveness, spec.liveness_probe.as_ref()));
    let has_pod_network = spec.networks.iter().flatten().any(|n| n.pod.is_some());
    if !has_pod_network {
        for (p, probe) in [
            (&readiness, &spec.readiness_probe),
            (&liveness, &spec.liveness_probe),
        ] {
            let Some(probe) = probe else { continue };
            for (set, name) in [
                (probe.http_get.is_some(), "httpGet"),
                (probe.tcp_socket.is_some(), "tcpSocket"),
            ] {
                if set {
                    let f = p.child(name);
                    causes.push(field::invalid(
                        &f,
                        format!("{f} is only allowed if the Pod Network is attached"),
                    ));
                }
            }
        }
    }
    causes
}

pub fn validate_strategies(
    field: &Path,
    spec: &VirtualMachineInstanceSpec,
    config: &ClusterConfig,
) -> Vec<Cause> {
    let mut causes = Vec::new();
    if let Some(s) = spec.start_strategy.as_deref() {
        let p = field.child("startStrategy");
        if s != "Paused" {
            causes.push(field::invalid(
                &p,
                format!("{p} is set with an unrecognized option: {s}"),
            ));
        } else if spec.liveness_probe.is_some() {
            causes.push(field::invalid(
                &p,
                format!(
                    "either {p} or {} should be provided.Pausing VMI with LivenessProbe is not supported",
                    field.child("livenessProbe")
                ),
            ));
        }
    }
    let eviction = spec
        .eviction_strategy
        .as_deref()
        .or(config.eviction_strategy.as_deref());
    if let Some(e) = eviction
        && !matches!(
            e,
            "LiveMigrate" | "LiveMigrateIfPossible" | "None" | "External"
        )
    {
        let p = field.child("evictionStrategy");
        causes.push(field::invalid(
            &p,
            format!("{p} is set with an unrecognized option: {e}"),
        ));
    }
    causes
}

pub fn validate_access_credentials(field: &Path, spec: &VirtualMachineInstanceSpec) -> Vec<Cause> {
    let field = field.child("accessCredentials");
    let volumes = spec.volumes.as_deref().unwrap_or(&[]);
    let no_cloud = volumes.iter().any(|v| v.cloud_init_no_cloud.is_some());
    let config_drive = volumes.iter().any(|v| v.cloud_init_config_drive.is_some());
    let mut causes = Vec::new();
    for (idx, cred) in spec.access_credentials.iter().flatten().enumerate() {
        let at = field.index(idx);
        let mut count = 0;
        if let Some(ssh) = &cred.ssh_public_key {
            count += 1;
            let method = &ssh.propagation_method;
            let pm = at.children(&["sshPublicKey", "propagationMethod"]);
            let mut methods = 0;
            if method.no_cloud.is_some() {
                methods += 1;
                if !no_cloud {
                    causes.push(field::invalid(
                        &pm,
                        format!("{at} requires a noCloud volume to exist when the noCloud propagationMethod is in use."),
                    ));
                }
            }
            if method.config_drive.is_some() {
                methods += 1;
                if !config_drive {
                    causes.push(field::invalid(
                        &pm,
                        format!("{at} requires a configDrive volume to exist when the configDrive propagationMethod is in use."),
                    ));
                }
            }
            if let Some(qga) = &method.qemu_guest_agent {
                methods += 1;
                if qga.users.is_empty() {
                    causes.push(field::invalid(
                        pm.children(&["qemuGuestAgent", "users"]),
                        format!("{at} requires at least one user to be present in the users list"),
                    ));
                }
            }
            if ssh.source.secret.is_none() {
                causes.push(field::invalid(
                    at.children(&["sshPublicKey", "source"]),
                    format!("{at} must have exactly one source set"),
                ));
            }
            if methods != 1 {
                causes.push(field::invalid(
                    &pm,
                    format!("{at} must have exactly one propagationMethod set"),
                ));
            }
        }
        if let Some(up) = &cred.user_password {
            count += 1;
            if up.source.secret.is_none() {
                causes.push(field::invalid(
                    at.children(&["userPassword", "source"]),
                    format!("{at} must have exactly one source set"),
                ));
            }
            if up.propagation_method.qemu_guest_agent.is_none() {
                causes.push(field::invalid(
                    at.children(&["userPassword", "propagationMethod"]),
                    format!("{at} must have exactly one propagationMethod set"),
                ));
            }
        }
        if count != 1 {
            causes.push(field::invalid(
                &at,
                format!("{at} must have exactly one access credential type set"),
            ));
        }
    }
    causes
}

/// `dnsPolicy` values and `dnsConfig` limits, as Kubernetes validates pods.
pub fn validate_dns(field: &Path, spec: &VirtualMachineInstanceSpec) -> Vec<Cause> {
    let mut causes = Vec::new();
    let policy = spec.dns_policy.as_deref().unwrap_or("");
    if !matches!(
        policy,
        "" | "ClusterFirstWithHostNet" | "ClusterFirst" | "Default" | "None"
    ) {
        causes.push(field::not_supported(
            field.child("dnsPolicy"),
            format!("DNSPolicy: {policy} is not supported, valid values: [ClusterFirstWithHostNet ClusterFirst Default None ]"),
        ));
    }
    let cfg_path = field.child("dnsConfig");
    let config = spec.dns_config.as_ref();
    if policy == "None" {
        let Some(c) = config else {
            causes.push(field::required(
                &cfg_path,
                "must provide `dnsConfig` when `dnsPolicy` is None",
            ));
            return causes;
        };
        if c.nameservers.as_ref().is_none_or(Vec::is_empty) {
            causes.push(field::required(
                "nameservers",
                "must provide at least one DNS nameserver when `dnsPolicy` is None",
            ));
            return causes;
        }
    }
    let Some(c) = config else { return causes };
    let nameservers = c.nameservers.as_deref().unwrap_or(&[]);
    if nameservers.len() > 3 {
        causes.push(field::invalid(
            "nameservers",
            format!(
                "must not have more than 3 nameservers: [{}]",
                nameservers.join(" ")
            ),
        ));
    }
    for ns in nameservers {
        if ns.parse::<std::net::IpAddr>().is_err() {
            causes.push(field::invalid(
                "nameservers",
                format!("must be valid IP address: {ns}"),
            ));
        }
    }
    let searches = c.searches.as_deref().unwrap_or(&[]);
    if searches.len() > 6 {
        causes.push(field::invalid(
            "searchDomains",
            "must not have more than 6 search paths",
        ));
    }
    if searches.join(" ").len() > 256 {
        causes.push(field::invalid(
            "searchDomains",
            "must not have more than 256 characters (including spaces) in the search list",
        ));
    }
    for s in searches {
        for msg in dns::dns1123_subdomain(s) {
            causes.push(field::invalid("searchDomains", msg));
        }
    }
    for o in c.options.iter().flatten() {
        if o.name.as_deref().unwrap_or("").is_empty() {
            causes.push(field::invalid("options", "Option.Name must not be empty"));
        }
    }
    causes
}

/// Feature-gated and miscellaneous devices.
pub fn validate_devices(
    field: &Path,
    spec: &VirtualMachineInstanceSpec,
    config: &ClusterConfig,
) -> Vec<Cause> {
    let mut causes = Vec::new();
    let devices = &spec.domain.devices;
    let ramfb_displays = devices
        .gpus
        .iter()
        .flatten()
        .filter_map(|g| g.virtual_gpu_options.as_ref()?.display.as_ref())
        .filter(|d| {
            d.enabled != Some(false) && d.ram_fb.as_ref().is_none_or(|r| r.enabled != Some(false))
        })
        .count();
    if ramfb_displays > 1 {
        causes.push(field::invalid(
            field.child("GPUs"),
            "configuring multiple displays with ramfb is not valid ",
        ));
    }
    if devices.host_devices.is_some() && !config.is_enabled(gate::HOST_DEVICES) {
        causes.push(field::invalid(
            field.child("HostDevices"),
            "Host Devices feature gate is not enabled in kubevirt-config",
        ));
    }
    if let Some(sound) = &devices.sound {
        let model = sound.model.as_deref().unwrap_or("");
        if !matches!(model, "" | "ich9" | "ac97") {
            causes.push(field::invalid(
                field.child("Sound"),
                "Sound device type is not supported. Options: 'ich9' or 'ac97'",
            ));
        }
        if sound.name.is_empty() {
            causes.push(field::invalid(
                field.child("Sound"),
                "Sound device requires a name field.",
            ));
        }
    }
    if devices.autoattach_vsock == Some(true) && !config.is_enabled(gate::VSOCK) {
        causes.push(field::invalid(
            field.children(&["domain", "devices", "autoattachVSOCK"]),
            "VSOCK feature gate is not enabled in kubevirt-config",
        ));
    }
    if devices.downward_metrics.is_some() && !config.is_enabled(gate::DOWNWARD_METRICS) {
        causes.push(field::invalid(
            field.children(&["domain", "devices", "downwardMetrics"]),
            "downwardMetrics virtio serial is not allowed: DownwardMetrics feature gate is not enabled",
        ));
    }
    if devices.video.is_some() && devices.autoattach_graphics_device == Some(false) {
        causes.push(field::invalid(
            field.child("video"),
            "Video configuration is not allowed when autoattachGraphicsDevice is set to false",
        ));
    }
    if let Some(panics) = devices.panic_devices.as_ref().filter(|p| !p.is_empty()) {
        let arch = config.architecture_or_default(spec.architecture.as_deref().unwrap_or(""));
        let p = field.children(&["domain", "devices", "panicDevices"]);
        if arch == "s390x" {
            causes.push(field::invalid(
                &p,
                format!("custom panic devices are not supported on {arch} architecture"),
            ));
        }
        for (idx, d) in panics.iter().enumerate() {
            if let Some(m) = d.model.as_deref()
                && !matches!(m, "hyperv" | "isa" | "pvpanic")
            {
                causes.push(field::invalid(
                    p.index(idx).child("model"),
                    format!("invalid PanicDeviceModel({m})"),
                ));
            }
        }
    }
    if spec.domain.reboot_policy.is_some() && !config.is_enabled(gate::REBOOT_POLICY) {
        causes.push(field::invalid(
            field.children(&["domain", "rebootPolicy"]),
            "RebootPolicy is specified but the RebootPolicy feature gate is not enabled",
        ));
    }
    if spec
        .domain
        .memory
        .as_ref()
        .is_some_and(|m| m.reserved_overhead.is_some())
        && !config.is_enabled(gate::RESERVED_OVERHEAD_MEMLOCK)
    {
        causes.push(field::invalid(
            field.children(&["domain", "memory", "reservedOverhead"]),
            "Reserved overhead memlock feature gate is not enabled in kubevirt-config",
        ));
    }
    if let Some(sa) = spec
        .service_account_name
        .as_deref()
        .filter(|s| !s.is_empty())
    {
        let p = field.child("serviceAccountName");
        let errs = dns::dns1123_subdomain(sa);
        if !errs.is_empty() {
            causes.push(field::invalid(
                &p,
                format!(
                    "{p} is not a valid service account name: {}",
                    errs.join("; ")
                ),
            ));
        }
        let other = spec
            .volumes
            .iter()
            .flatten()
            .filter_map(|v| v.service_account.as_ref())
            .find(|s| s.service_account_name.as_deref().unwrap_or("") != sa);
        if let Some(o) = other {
            causes.push(field::invalid(
                &p,
                format!(
                    "spec.serviceAccountName {sa:?} and serviceAccount volume {:?} must reference the same service account",
                    o.service_account_name.as_deref().unwrap_or("")
                ),
            ));
        }
    }
    causes
}

/// `ValidateVirtualMachineInstancePerArch`; only amd64 has checks here.
pub fn validate_per_arch(field: &Path, spec: &VirtualMachineInstanceSpec) -> Vec<Cause> {
    let arch = spec.architecture.as_deref().unwrap_or("");
    let mut causes = Vec::new();
    match arch {
        "amd64" => {
            if let Some(w) = &spec.domain.devices.watchdog
                && (w.i6300esb.is_none() || w.diag288.is_some())
            {
                causes.push(field::not_supported(
                    field.children(&["domain", "devices", "watchdog"]),
                    "amd64 only supports I6300ESB watchdog device",
                ));
            }
            if let Some(v) = &spec.domain.devices.video {
                let t = v.type_.as_deref().unwrap_or("");
                if !matches!(t, "vga" | "cirrus" | "virtio" | "ramfb" | "bochs") {
                    causes.push(field::not_supported(
                        field.children(&["domain", "devices", "video", "type"]),
                        format!("video model '{t}' is not supported on amd64 architecture"),
                    ));
                }
            }
        }
        "arm64" | "s390x" => {}
        other => causes.push(field::invalid(
            field.child("architecture"),
            format!("unsupported architecture: {other}"),
        )),
    }
    causes
}
