//! Disk, volume and boot-order rules (upstream `pkg/storage/admitters/disks.go` and the volume
//! parts of `vmi-create-admitter.go`).

use std::collections::{BTreeMap, BTreeSet};

use api::{Disk, VirtualMachineInstanceSpec, Volume};
use apiserver::Cause;
use base64::Engine;

use crate::admission::config::{ClusterConfig, gate};
use crate::admission::dns;
use crate::admission::field::{self, Path};

const CLOUD_INIT_USER_MAX_LEN: usize = 2048;
const CLOUD_INIT_NETWORK_MAX_LEN: usize = 2048;
const MAX_SERIAL_LEN: usize = 256;
const MIN_CUSTOM_BLOCK_SIZE: u64 = 512;
const MAX_CUSTOM_BLOCK_SIZE: u64 = 2_097_152;

fn bus(disk: &Disk) -> &str {
    let b = if let Some(d) = &disk.disk {
        &d.bus
    } else if let Some(l) = &disk.lun {
        &l.bus
    } else if let Some(c) = &disk.cdrom {
        &c.bus
    } else {
        return "";
    };
    b.as_deref().unwrap_or("")
}

fn disk_type(disk: &Disk) -> &'static str {
    if disk.disk.is_some() {
        "disk"
    } else if disk.lun.is_some() {
        "lun"
    } else if disk.cdrom.is_some() {
        "cdrom"
    } else {
        ""
    }
}

/// `ValidateDisks`: names, targets, buses, serials, cache/io modes, block sizes.
pub fn validate_disks(field: &Path, disks: &[Disk]) -> Vec<Cause> {
    let mut causes = Vec::new();
    for (idx, disk) in disks.iter().enumerate() {
        let at = field.index(idx);
        for (other, d) in disks.iter().enumerate().take(idx) {
            if d.name == disk.name {
                causes.push(field::invalid(
                    at.child("name"),
                    format!(
                        "{at} and {} must not have the same Name.",
                        field.index(other)
                    ),
                ));
            }
        }
        let targets = [
            disk.disk.is_some(),
            disk.lun.is_some(),
            disk.cdrom.is_some(),
        ];
        if targets.iter().filter(|t| **t).count() > 1 {
            causes.push(field::invalid(
                &at,
                format!("{at} can only have a single target type defined"),
            ));
        }
        if let Some(d) = &disk.disk
            && let Some(addr) = d.pci_address.as_deref().filter(|a| !a.is_empty())
        {
            // QUIRK: upstream nests these paths oddly; kept as upstream prints them.
            let odd = field
                .children(&["domain", "devices", "disks", "disk"])
                .index(idx);
            if d.bus.as_deref() != Some("virtio") {
                causes.push(field::invalid(
                    odd.child("pciAddress"),
                    format!(
                        "disk {} - setting a PCI address is only possible with bus type virtio.",
                        odd.child("name")
                    ),
                ));
            }
            if !is_pci_address(addr) {
                causes.push(field::invalid(
                    odd.child("pciAddress"),
                    format!(
                        "disk {} has malformed PCI address ({addr}).",
                        odd.child("name")
                    ),
                ));
            }
        }
        if disk.boot_order == Some(0) {
            causes.push(field::invalid(
                at.child("bootOrder"),
                format!("{at} must have a boot order > 0, if supplied"),
            ));
        }
        causes.extend(validate_bus(field, idx, disk));
        if let Some(serial) = disk.serial.as_deref().filter(|s| !s.is_empty()) {
            let valid = serial
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "_.+-".contains(c));
            if !valid {
                causes.push(field::invalid(
                    at.child("serial"),
                    format!("{at} must be made up of the following characters [A-Za-z0-9_.+-], if specified"),
                ));
            }
            if serial.chars().count() > MAX_SERIAL_LEN {
                causes.push(field::invalid(
                    at.child("serial"),
                    format!("{at} must be less than or equal to {MAX_SERIAL_LEN} in length, if specified"),
                ));
            }
        }
        if let Some(cache) = disk.cache.as_deref().filter(|c| !c.is_empty())
            && !matches!(cache, "none" | "writethrough" | "writeback")
        {
            causes.push(field::invalid(
                at.child("cache"),
                format!("{} has invalid value {cache}", at.child("cache")),
            ));
        }
        if let Some(io) = disk.io.as_deref().filter(|c| !c.is_empty())
            && !matches!(io, "native" | "threads")
        {
            causes.push(field::not_supported(
                field.children(&["domain", "devices", "disks"]).index(idx).child("io"),
                format!("Disk IO mode for {field} is not supported. Supported modes are: native, threads."),
            ));
        }
        if let Some(policy) = disk.error_policy.as_deref()
            && !matches!(policy, "stop" | "ignore" | "report" | "enospace")
        {
            causes.push(field::invalid(
                at.child("errorPolicy"),
                format!("{} has invalid value \"{policy}\"", at.child("errorPolicy")),
            ));
        }
        // The disk name becomes a container name, which must be a DNS label.
        for err in dns::dns1123_label(&disk.name) {
            causes.push(field::invalid(
                field
                    .children(&["domain", "devices", "disks"])
                    .index(idx)
                    .child("name"),
                err,
            ));
        }
        causes.extend(validate_block_size(&at, disk));
    }
    causes
}

fn validate_bus(field: &Path, idx: usize, disk: &Disk) -> Vec<Cause> {
    let mut causes = Vec::new();
    let bus = bus(disk);
    let kind = disk_type(disk);
    let at = field.index(idx);
    if bus.is_empty() {
        return causes;
    }
    match bus {
        "ide" => causes.push(field::invalid(at.children(&[kind, "bus"]), "IDE bus is not supported")),
        "virtio" if kind == "cdrom" => causes.push(field::invalid(
            at.children(&["cdrom", "bus"]),
            format!("Bus type {bus} is invalid for CD-ROM device"),
        )),
        "virtio" | "scsi" | "usb" => {}
        "sata" => {
            if disk.disk.as_ref().is_some_and(|d| d.readonly == Some(true)) {
                causes.push(field::invalid(
                    at.children(&["disk", "bus"]),
                    format!("{bus} hard-disks do not support read-only."),
                ));
            }
        }
        other => causes.push(field::invalid(
            at.children(&[kind, "bus"]),
            format!("{at} is set with an unrecognized bus {other}, must be one of: [virtio scsi sata usb]"),
        )),
    }
    if disk.dedicated_io_thread == Some(true) && bus != "virtio" {
        causes.push(field::not_supported(
            field.children(&["domain", "devices", "disks"]).index(idx),
            format!("IOThreads are not supported for disks on a {bus} bus"),
        ));
    }
    causes
}

fn validate_block_size(at: &Path, disk: &Disk) -> Vec<Cause> {
    let Some(bs) = &disk.block_size else {
        return vec![];
    };
    let Some(custom) = &bs.custom else {
        return vec![];
    };
    let custom_path = at.child("blockSize").child("custom");
    if bs
        .match_volume
        .as_ref()
        .is_some_and(|m| m.enabled != Some(false))
    {
        return vec![field::invalid(
            at.child("blockSize"),
            "Block size matching can't be enabled together with a custom value",
        )];
    }
    let logical = custom.logical.unwrap_or(0);
    let physical = custom.physical.unwrap_or(0);
    if logical > physical {
        return vec![field::invalid(
            custom_path.child("logical"),
            format!(
                "Logical size {logical} must be the same or less than the physical size of {physical}"
            ),
        )];
    }
    if bus(disk) == "sata" && logical != MIN_CUSTOM_BLOCK_SIZE {
        return vec![field::invalid(
            custom_path.child("logical"),
            format!("Logical size {logical} must be {MIN_CUSTOM_BLOCK_SIZE} for SATA devices"),
        )];
    }
    if let Some(g) = custom.discard_granularity
        && logical != 0
        && g % logical != 0
    {
        return vec![field::invalid(
            custom_path.child("discardGranularity"),
            format!("Discard granularity {g} must be multiples of logical size {logical}"),
        )];
    }
    let mut causes = Vec::new();
    for (name, size) in [("logical", logical), ("physical", physical)] {
        let message = if size < MIN_CUSTOM_BLOCK_SIZE {
            format!(
                "Provided size of {size} is less than the supported minimum size of {MIN_CUSTOM_BLOCK_SIZE}"
            )
        } else if size > MAX_CUSTOM_BLOCK_SIZE {
            format!(
                "Provided size of {size} is greater than the supported maximum size of {MAX_CUSTOM_BLOCK_SIZE}"
            )
        } else if !size.is_power_of_two() {
            format!("Provided size of {size} is not a power of 2")
        } else {
            continue;
        };
        causes.push(field::invalid(custom_path.child(name), message));
    }
    causes
}

/// `dddd:bb:ss.f` in hex.
pub(crate) fn is_pci_address(s: &str) -> bool {
    let hex = |p: &str, n: usize| p.len() == n && p.chars().all(|c| c.is_ascii_hexdigit());
    let parts: Vec<&str> = s.split(':').collect();
    if parts.len() != 3 {
        return false;
    }
    let Some((slot, function)) = parts[2].split_once('.') else {
        return false;
    };
    hex(parts[0], 4)
        && hex(parts[1], 2)
        && hex(slot, 2)
        && function.len() == 1
        && function.chars().all(|c| ('0'..='7').contains(&c))
}

fn volume_sources(v: &Volume) -> usize {
    [
        v.persistent_volume_claim.is_some(),
        v.sysprep.is_some(),
        v.cloud_init_no_cloud.is_some(),
        v.cloud_init_config_drive.is_some(),
        v.container_disk.is_some(),
        v.ephemeral.is_some(),
        v.empty_disk.is_some(),
        v.host_disk.is_some(),
        v.data_volume.is_some(),
        v.config_map.is_some(),
        v.secret.is_some(),
        v.downward_api.is_some(),
        v.service_account.is_some(),
        v.downward_metrics.is_some(),
        v.memory_dump.is_some(),
        v.container_path.is_some(),
    ]
    .iter()
    .filter(|s| **s)
    .count()
}

/// Cloud-init data of one volume: (kind, user secret, userDataBase64, userData, network secret,
/// networkDataBase64, networkData).
type CloudInit<'a> = (&'a str, bool, &'a str, &'a str, bool, &'a str, &'a str);

fn cloud_init(v: &Volume) -> Option<CloudInit<'_>> {
    fn s(o: &Option<String>) -> &str {
        o.as_deref().unwrap_or("")
    }
    let named = |r: &Option<k8s_openapi::api::core::v1::LocalObjectReference>| {
        r.as_ref().is_some_and(|r| !r.name.is_empty())
    };
    // Both sources have the same fields under the same names.
    macro_rules! fields {
        ($kind:literal, $c:expr) => {
            (
                $kind,
                named(&$c.secret_ref),
                s(&$c.user_data_base64),
                s(&$c.user_data),
                named(&$c.network_data_secret_ref),
                s(&$c.network_data_base64),
                s(&$c.network_data),
            )
        };
    }
    if let Some(c) = &v.cloud_init_no_cloud {
        return Some(fields!("cloudInitNoCloud", c));
    }
    let c = v.cloud_init_config_drive.as_ref()?;
    Some(fields!("cloudInitConfigDrive", c))
}

/// `validateVolumes`: unique names, one source each, cloud-init limits, source details.
pub fn validate_volumes(field: &Path, volumes: &[Volume], config: &ClusterConfig) -> Vec<Cause> {
    let mut causes = Vec::new();
    let mut names: BTreeMap<&str, usize> = BTreeMap::new();
    let (mut service_accounts, mut downward_metrics, mut memory_dumps) = (0, 0, 0);
    for (idx, volume) in volumes.iter().enumerate() {
        let at = field.index(idx);
        match names.get(volume.name.as_str()) {
            Some(other) => causes.push(field::invalid(
                at.child("name"),
                format!(
                    "{at} and {} must not have the same Name.",
                    field.index(*other)
                ),
            )),
            None => {
                names.insert(&volume.name, idx);
            }
        }
        if volume
            .data_volume
            .as_ref()
            .is_some_and(|d| d.name.is_empty())
        {
            causes.push(field::required(
                at.child("name"),
                "DataVolume 'name' must be set",
            ));
        }
        service_accounts += usize::from(volume.service_account.is_some());
        downward_metrics += usize::from(volume.downward_metrics.is_some());
        memory_dumps += usize::from(volume.memory_dump.is_some());
        if volume_sources(volume) != 1 {
            causes.push(field::invalid(
                &at,
                format!("{at} must have exactly one source type set"),
            ));
        }
        if let Some(ci) = cloud_init(volume) {
            causes.extend(validate_cloud_init(&at, ci));
        }
        if volume.downward_metrics.is_some() && !config.is_enabled(gate::DOWNWARD_METRICS) {
            causes.push(field::invalid(
                &at,
                "downwardMetrics disks are not allowed: DownwardMetrics feature gate is not enabled.",
            ));
        }
        if let Some(hd) = &volume.host_disk {
            if !config.is_enabled(gate::HOST_DISK) {
                causes.push(field::invalid(&at, "HostDisk feature gate is not enabled"));
            }
            let path = at.children(&["hostDisk", "path"]);
            if hd.path.is_empty() {
                causes.push(field::not_found(
                    &path,
                    format!("{path} is required for hostDisk volume"),
                ));
            }
            let type_path = at.children(&["hostDisk", "type"]);
            if hd.type_ != "Disk" && hd.type_ != "DiskOrCreate" {
                causes.push(field::invalid(
                    &type_path,
                    format!(
                        "{type_path} has invalid value '{}', allowed are 'Disk' or 'DiskOrCreate'",
                        hd.type_
                    ),
                ));
            }
            let capacity = crate::admission::defaults::quantity_of(hd.capacity.as_ref());
            if hd.type_ == "Disk" && !capacity.is_zero() {
                let cap_path = at.children(&["hostDisk", "capacity"]);
                causes.push(field::invalid(
                    &cap_path,
                    format!("{cap_path} is allowed to pass only with {type_path} equal to 'DiskOrCreate'"),
                ));
            }
        }
        let required = |causes: &mut Vec<Cause>, p: Path| {
            causes.push(field::invalid(&p, format!("{p} is a required field")));
        };
        if volume
            .config_map
            .as_ref()
            .is_some_and(|c| c.name.as_deref().unwrap_or("").is_empty())
        {
            required(&mut causes, at.children(&["configMap", "name"]));
        }
        if volume
            .secret
            .as_ref()
            .is_some_and(|s| s.secret_name.as_deref().unwrap_or("").is_empty())
        {
            required(&mut causes, at.children(&["secret", "secretName"]));
        }
        if volume
            .service_account
            .as_ref()
            .is_some_and(|s| s.service_account_name.as_deref().unwrap_or("").is_empty())
        {
            required(
                &mut causes,
                at.children(&["serviceAccount", "serviceAccountName"]),
            );
        }
    }
    for (count, what) in [
        (service_accounts, "serviceAccount volume"),
        (downward_metrics, "downwardMetric volume"),
        (memory_dumps, "memory dump volume"),
    ] {
        if count > 1 {
            causes.push(field::invalid(
                field,
                format!("{field} must have max one {what} set"),
            ));
        }
    }
    causes
}

/// How one kind of cloud-init data (user or network data) is checked and worded.
struct DataRule {
    /// The base64 field, e.g. `userDataBase64`.
    base64_field: &'static str,
    /// The message (after the source's path) when more than one source is set.
    many_sources: &'static str,
    /// The name in the size message, e.g. `userdata`.
    what: &'static str,
    /// The secret reference field suggested for larger data.
    secret_ref: &'static str,
    max_len: usize,
}

const USER_DATA: DataRule = DataRule {
    base64_field: "userDataBase64",
    many_sources: "must have only one userdatasource set.",
    what: "userdata",
    secret_ref: "UserDataSecretRef",
    max_len: CLOUD_INIT_USER_MAX_LEN,
};

const NETWORK_DATA: DataRule = DataRule {
    base64_field: "networkDataBase64",
    many_sources: "must have only one networkdata source set.",
    what: "networkdata",
    secret_ref: "NetworkDataSecretRef",
    max_len: CLOUD_INIT_NETWORK_MAX_LEN,
};

/// Checks one kind of data of the cloud-init source `kind` (at most one source, valid base64,
/// within the size limit) and returns how many sources are set.
fn validate_cloud_init_data(
    at: &Path,
    kind: &str,
    rule: &DataRule,
    (secret, b64, text): (bool, &str, &str),
    causes: &mut Vec<Cause>,
) -> usize {
    let src = at.child(kind);
    let (mut len, mut sources) = (0, usize::from(secret));
    if !b64.is_empty() {
        sources += 1;
        match base64::engine::general_purpose::STANDARD.decode(b64) {
            Ok(d) => len = d.len(),
            Err(_) => {
                let p = at.children(&[kind, rule.base64_field]);
                causes.push(field::invalid(
                    &p,
                    format!(
                        "{p}.{kind}.{} is not a valid base64 value.",
                        rule.base64_field
                    ),
                ));
            }
        }
    }
    if !text.is_empty() {
        sources += 1;
        len = text.len();
    }
    if sources > 1 {
        causes.push(field::invalid(&src, format!("{src} {}", rule.many_sources)));
    }
    if len > rule.max_len {
        causes.push(field::invalid(
            &src,
            format!(
                "{src} {} exceeds {} byte limit. Should use {} for larger data.",
                rule.what, rule.max_len, rule.secret_ref
            ),
        ));
    }
    sources
}

fn validate_cloud_init(at: &Path, ci: CloudInit<'_>) -> Vec<Cause> {
    let (kind, user_secret, user_b64, user_data, net_secret, net_b64, net_data) = ci;
    let mut causes = Vec::new();
    let user = (user_secret, user_b64, user_data);
    let user_sources = validate_cloud_init_data(at, kind, &USER_DATA, user, &mut causes);
    let network = (net_secret, net_b64, net_data);
    let net_sources = validate_cloud_init_data(at, kind, &NETWORK_DATA, network, &mut causes);
    if user_sources == 0 && net_sources == 0 {
        let src = at.child(kind);
        causes.push(field::invalid(
            &src,
            format!("{src} must have at least one userdatasource or one networkdatasource set."),
        ));
    }
    causes
}

/// `validateBootOrder`: every non-cdrom disk needs a volume; luns need PVC/DataVolume volumes;
/// downward-metrics disks need virtio; boot orders are unique across disks and interfaces.
pub fn validate_boot_order(
    field: &Path,
    spec: &VirtualMachineInstanceSpec,
    config: &ClusterConfig,
) -> Vec<Cause> {
    let mut causes = Vec::new();
    let volumes: BTreeMap<&str, &Volume> = spec
        .volumes
        .iter()
        .flatten()
        .map(|v| (v.name.as_str(), v))
        .collect();
    let mut orders = BTreeSet::new();
    let disks_path = field.children(&["domain", "devices", "disks"]);
    for (idx, disk) in spec.domain.devices.disks.iter().flatten().enumerate() {
        let at = disks_path.index(idx);
        let volume = volumes.get(disk.name.as_str()).copied();
        if volume.is_none() {
            if disk.cdrom.is_none() {
                causes.push(field::invalid(
                    at.child("name"),
                    format!("{} '{}' not found.", at.child("Name"), disk.name),
                ));
            } else if !config.is_enabled(gate::DECLARATIVE_HOTPLUG_VOLUMES) {
                causes.push(field::invalid(
                    at.child("name"),
                    "DeclarativeHotplugVolumes feature gate not enabled, cannot define an empty CD-ROM disk",
                ));
            }
        }
        if let Some(v) = volume {
            if disk.lun.is_some() && v.persistent_volume_claim.is_none() && v.data_volume.is_none()
            {
                let p = at.child("lun");
                causes.push(field::invalid(
                    &p,
                    format!(
                        "{p} can only be mapped to a DataVolume or PersistentVolumeClaim volume."
                    ),
                ));
            }
            if v.downward_metrics.is_some() {
                match &disk.disk {
                    None => {
                        let p = at.child("disk");
                        causes.push(field::required(
                            &p,
                            format!("DownwardMetrics volume must be mapped to a disk, but disk is not set on {p}."),
                        ));
                    }
                    Some(d) if !matches!(d.bus.as_deref().unwrap_or(""), "" | "virtio") => {
                        let p = at.children(&["disk", "bus"]);
                        causes.push(field::invalid(
                            &p,
                            format!(
                                "DownwardMetrics volume must be mapped to virtio bus, but {p} is set to {}",
                                d.bus.as_deref().unwrap_or("")
                            ),
                        ));
                    }
                    Some(_) => {}
                }
            }
        }
        if let Some(order) = disk.boot_order
            && !orders.insert(order)
        {
            let p = at.child("bootOrder");
            causes.push(field::invalid(
                &p,
                format!("Boot order for {p} already set for a different device."),
            ));
        }
    }
    let ifaces_path = field.children(&["domain", "devices", "interfaces"]);
    for (idx, iface) in spec.domain.devices.interfaces.iter().flatten().enumerate() {
        let Some(order) = iface.boot_order else {
            continue;
        };
        if order < 1 {
            causes.push(field::invalid(
                field.index(idx).child("bootOrder"),
                format!(
                    "{} must have a boot order > 0, if supplied",
                    field.index(idx)
                ),
            ));
        } else if !orders.insert(order) {
            let p = ifaces_path.index(idx).child("bootOrder");
            causes.push(field::invalid(
                &p,
                format!("Boot order for {p} already set for a different device."),
            ));
        }
    }
    causes
}

/// Volumes must map to a disk or filesystem (VMI creation only).
pub fn validate_volume_disks(field: &Path, spec: &VirtualMachineInstanceSpec) -> Vec<Cause> {
    let mut causes = Vec::new();
    let disks: BTreeSet<&str> = spec
        .domain
        .devices
        .disks
        .iter()
        .flatten()
        .map(|d| d.name.as_str())
        .collect();
    let filesystems: BTreeSet<&str> = spec
        .domain
        .devices
        .filesystems
        .iter()
        .flatten()
        .map(|f| f.name.as_str())
        .collect();
    let vols = field.children(&["domain", "volumes"]);
    for (idx, volume) in spec.volumes.iter().flatten().enumerate() {
        if volume.memory_dump.is_some() {
            continue;
        }
        let has_disk = disks.contains(volume.name.as_str());
        let has_fs = filesystems.contains(volume.name.as_str());
        if !has_disk && !has_fs {
            let p = vols.index(idx).child("name");
            causes.push(field::invalid(
                &p,
                format!("{p} '{}' not found.", volume.name),
            ));
        }
        if let Some(cp) = &volume.container_path {
            let at = vols.index(idx);
            if has_disk {
                causes.push(field::invalid(
                    &at,
                    format!(
                        "ContainerPath volume '{}' must be mapped to a filesystem, not a disk",
                        volume.name
                    ),
                ));
            }
            if !has_fs {
                causes.push(field::invalid(
                    &at,
                    format!(
                        "ContainerPath volume '{}' must have a matching filesystem defined in spec.domain.devices.filesystems",
                        volume.name
                    ),
                ));
            }
            if let Some(prefix) = ["/var/run/kubevirt", "/var/run/libvirt"]
                .into_iter()
                .find(|p| cp.path.starts_with(p))
            {
                causes.push(field::invalid(
                    at.children(&["containerPath", "path"]),
                    format!(
                        "ContainerPath volume '{}' uses reserved path prefix '{prefix}'",
                        volume.name
                    ),
                ));
            }
        }
    }
    causes
}

/// `ValidatePath`: absolute, clean, not the root.
pub fn validate_path(field: &Path, path: &str) -> Vec<Cause> {
    if path == "/" {
        return vec![field::invalid(
            field,
            format!("{field} must not point to root"),
        )];
    }
    let trimmed = path.trim_end_matches('/');
    let clean = path.starts_with('/')
        && !trimmed
            .split('/')
            .skip(1)
            .any(|seg| seg.is_empty() || seg == "." || seg == "..");
    if !clean {
        return vec![field::invalid(
            field,
            format!("{field} must be an absolute path to a file without relative components"),
        )];
    }
    vec![]
}

/// Container disk paths, persistent reservations and virtiofs storage volumes.
pub fn validate_storage_features(
    field: &Path,
    spec: &VirtualMachineInstanceSpec,
    config: &ClusterConfig,
) -> Vec<Cause> {
    let mut causes = Vec::new();
    for (idx, volume) in spec.volumes.iter().flatten().enumerate() {
        if let Some(path) = volume
            .container_disk
            .as_ref()
            .and_then(|c| c.path.as_deref())
            .filter(|p| !p.is_empty())
        {
            causes.extend(validate_path(
                &field.child("volumes").index(idx).child("containerDisk"),
                path,
            ));
        }
    }
    let reservation = spec
        .domain
        .devices
        .disks
        .iter()
        .flatten()
        .any(|d| d.lun.as_ref().is_some_and(|l| l.reservation == Some(true)));
    if reservation && !config.is_enabled(gate::PERSISTENT_RESERVATION) {
        causes.push(field::invalid(
            field.children(&["domain", "devices", "disks", "luns", "reservation"]),
            "persistent reservation is not enabled in kubevirt config",
        ));
    }
    let volumes: BTreeMap<&str, &Volume> = spec
        .volumes
        .iter()
        .flatten()
        .map(|v| (v.name.as_str(), v))
        .collect();
    for fs in spec.domain.devices.filesystems.iter().flatten() {
        let Some(v) = volumes.get(fs.name.as_str()) else {
            continue;
        };
        let storage =
            v.persistent_volume_claim.is_some() || v.data_volume.is_some() || v.host_disk.is_some();
        if storage && !config.is_enabled(gate::VIRTIOFS_STORAGE) {
            causes.push(field::invalid(
                field.children(&["domain", "devices", "filesystems"]),
                "virtiofs is not allowed: virtiofs feature gate is not enabled for PVC",
            ));
        }
    }
    causes
}
