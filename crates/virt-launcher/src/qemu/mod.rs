//! The QEMU command line of a VMI: a pure function of the VMI spec and its [`LaunchEnv`].
//!
//! Choices made here (where libvirt and KubeVirt leave room):
//! - QEMU always starts with `-S` (vCPUs stopped). The launcher attaches to QMP and to the serial
//!   chardev first, so no early console output is lost, then sends `cont` unless
//!   `startStrategy: Paused`.
//! - No `-no-shutdown`: QEMU exits when the guest powers off. Its exit status, the `SHUTDOWN`
//!   event's reason and whether the launcher itself killed QEMU give the final domain state
//!   (see [`crate::state`]).
//! - `rebootPolicy: Terminate` adds `-no-reboot`: a guest reboot ends QEMU like a power-off.
//! - Only the `q35` machine family is supported; versioned names such as `pc-q35-rhel9.6.0` map
//!   to QEMU's `q35`.
//! - The pod network is QEMU user-mode networking (guest address 10.0.2.15/24 unless
//!   `vmNetworkCIDR` says otherwise) for `masquerade`, `bridge`, `passt` and `slirp` bindings.
//! - Features that need host hardware or other daemons (SR-IOV, GPUs, host devices, multus
//!   networks, virtiofs, TPM, SEV/TDX, LUN disks) are refused with a [`ConvertError`].
//! - Accepted without effect: dedicated CPU placement, NUMA and realtime tuning, hyper-v
//!   enlightenments, clock offsets and timers, IO thread policies, memory hotplug limits.

mod devices;

use crate::quantity::{QuantityError, parse_bytes};
use crate::spec::{Accel, LaunchEnv};
use api::VirtualMachineInstance;
use std::path::Path;

pub use devices::{interface_mac, pod_netdev_id};

/// Why a VMI cannot be turned into a QEMU command line.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ConvertError {
    #[error(
        "no guest memory is set: set spec.domain.memory.guest or spec.domain.resources.requests.memory"
    )]
    NoMemory,
    #[error("invalid {field}: {source}")]
    Quantity {
        field: String,
        source: QuantityError,
    },
    #[error("machine type {0:?} is not supported: only q35 machines are")]
    UnsupportedMachine(String),
    #[error("architecture {0:?} is not supported: only amd64 guests are")]
    UnsupportedArchitecture(String),
    #[error("EFI firmware is requested but OVMF is not installed (Debian package ovmf)")]
    EfiUnavailable,
    #[error("Secure Boot is requested but no Secure Boot OVMF build is installed")]
    SecureBootUnavailable,
    #[error("kernel boot is requested but no kernel file was resolved for it")]
    KernelBootUnresolved,
    #[error("disk {disk:?} refers to volume {disk:?}, which does not exist")]
    MissingVolume { disk: String },
    #[error("volume {0:?} has no host file resolved for it")]
    UnresolvedVolume(String),
    #[error("interface {0:?} has no network of the same name")]
    MissingNetwork(String),
    #[error("{what} {value:?} is not supported")]
    InvalidOption { what: String, value: String },
    #[error("{0}")]
    Unsupported(String),
}

fn unsupported(message: impl Into<String>) -> ConvertError {
    ConvertError::Unsupported(message.into())
}

fn invalid(what: impl Into<String>, value: impl Into<String>) -> ConvertError {
    ConvertError::InvalidOption {
        what: what.into(),
        value: value.into(),
    }
}

/// QEMU option values use `,` as separator; a literal comma is written twice.
pub(crate) fn escape(value: &str) -> String {
    value.replace(',', ",,")
}

pub(crate) fn path_value(path: &Path) -> String {
    escape(&path.to_string_lossy())
}

/// The full argv (program first) that starts the VMI's guest under QEMU, stopped (`-S`).
///
/// The spec is expected to be defaulted by admission; for robustness the converter applies the
/// two defaults it depends on itself: a disk (bus `sata`) for every volume without one, and a
/// pod-network interface when the VMI has neither interfaces nor networks (unless
/// `autoattachPodInterface` is false).
pub fn command_line(
    vmi: &VirtualMachineInstance,
    env: &LaunchEnv,
) -> Result<Vec<String>, ConvertError> {
    let spec = &vmi.spec;
    let domain = &spec.domain;
    let mut args = Argv::default();
    args.push(env.qemu_binary.to_string_lossy().into_owned());

    if let Some(arch) = spec.architecture.as_deref()
        && !matches!(arch, "" | "amd64" | "x86_64")
    {
        return Err(ConvertError::UnsupportedArchitecture(arch.to_string()));
    }
    reject_unsupported(vmi)?;

    let namespace = vmi.metadata.namespace.as_deref().unwrap_or("default");
    let name = vmi.metadata.name.as_deref().unwrap_or("vmi");
    args.opt(
        "-name",
        format!(
            "guest={},debug-threads=on",
            escape(&format!("{namespace}_{name}"))
        ),
    );
    args.push("-S");
    args.push("-nodefaults");
    args.push("-no-user-config");

    let features = domain.features.as_ref();
    let efi = domain
        .firmware
        .as_ref()
        .and_then(|f| f.bootloader.as_ref())
        .and_then(|b| b.efi.as_ref());
    let secure_boot = efi.is_some_and(|e| e.secure_boot.unwrap_or(true));
    let smm = secure_boot
        || features
            .and_then(|f| f.smm.as_ref())
            .is_some_and(|s| s.enabled.unwrap_or(true));
    let acpi = features
        .and_then(|f| f.acpi.as_ref())
        .is_none_or(|a| a.enabled.unwrap_or(true));
    args.opt(
        "-machine",
        format!(
            "{},accel={}{}{}",
            machine_type(vmi)?,
            env.accel.as_str(),
            if smm { ",smm=on" } else { "" },
            if acpi { "" } else { ",acpi=off" }
        ),
    );
    args.opt("-cpu", cpu_model(vmi, env.accel)?);
    args.opt("-smp", smp(vmi)?);
    args.opt("-m", format!("{}M", memory_mib(vmi)?));

    let firmware = domain.firmware.as_ref();
    if let Some(uuid) = firmware
        .and_then(|f| f.uuid.as_deref())
        .filter(|u| !u.is_empty())
    {
        args.opt("-uuid", uuid.to_string());
    }
    let mut smbios = String::from("type=1,manufacturer=KubeVirt,product=None,family=KubeVirt");
    if let Some(serial) = firmware
        .and_then(|f| f.serial.as_deref())
        .filter(|s| !s.is_empty())
    {
        smbios.push_str(&format!(",serial={}", escape(serial)));
    }
    args.opt("-smbios", smbios);
    if let Some(chassis) = domain.chassis.as_ref() {
        let mut fields = vec!["type=3".to_string()];
        for (key, value) in [
            ("manufacturer", &chassis.manufacturer),
            ("version", &chassis.version),
            ("serial", &chassis.serial),
            ("asset", &chassis.asset),
            ("sku", &chassis.sku),
        ] {
            if let Some(v) = value.as_deref().filter(|v| !v.is_empty()) {
                fields.push(format!("{key}={}", escape(v)));
            }
        }
        if fields.len() > 1 {
            args.opt("-smbios", fields.join(","));
        }
    }

    if efi.is_some() {
        let ovmf = env.ovmf.as_ref().ok_or(ConvertError::EfiUnavailable)?;
        let code = if secure_boot {
            ovmf.secure_code
                .as_ref()
                .ok_or(ConvertError::SecureBootUnavailable)?
        } else {
            &ovmf.code
        };
        if secure_boot {
            args.opt("-global", "driver=cfi.pflash01,property=secure,value=on");
        }
        args.opt(
            "-drive",
            format!(
                "if=pflash,format=raw,unit=0,readonly=on,file={}",
                path_value(code)
            ),
        );
        args.opt(
            "-drive",
            format!(
                "if=pflash,format=raw,unit=1,file={}",
                path_value(&env.efi_vars)
            ),
        );
    }
    if let Some(kernel_boot) = firmware.and_then(|f| f.kernel_boot.as_ref()) {
        let paths = env
            .kernel_boot
            .as_ref()
            .ok_or(ConvertError::KernelBootUnresolved)?;
        args.opt("-kernel", paths.kernel.to_string_lossy().into_owned());
        if let Some(initrd) = &paths.initrd {
            args.opt("-initrd", initrd.to_string_lossy().into_owned());
        }
        if let Some(append) = kernel_boot.kernel_args.as_deref().filter(|a| !a.is_empty()) {
            args.opt("-append", append.to_string());
        }
    }

    args.opt("-display", "none");
    let devices = &domain.devices;
    if devices.autoattach_graphics_device != Some(false) {
        let video = devices
            .video
            .as_ref()
            .and_then(|v| v.type_.as_deref())
            .unwrap_or("vga");
        match video {
            "vga" | "std" => args.opt("-vga", "std"),
            "cirrus" => args.opt("-vga", "cirrus"),
            "virtio" => args.opt("-vga", "virtio"),
            "bochs" => {
                args.opt("-vga", "none");
                args.opt("-device", "bochs-display,id=video0");
            }
            other => return Err(invalid("video type", other)),
        }
        args.opt("-vnc", format!("unix:{}", path_value(&env.vnc_socket)));
    } else {
        args.opt("-vga", "none");
    }
    if devices.autoattach_serial_console != Some(false) {
        args.opt(
            "-chardev",
            format!(
                "socket,id=serial0,path={},server=on,wait=off",
                path_value(&env.serial_socket)
            ),
        );
        args.opt("-serial", "chardev:serial0");
    }
    args.opt(
        "-qmp",
        format!("unix:{},server=on,wait=off", path_value(&env.qmp_socket)),
    );
    if domain.reboot_policy.as_deref() == Some("Terminate") {
        args.push("-no-reboot");
    }

    let mut buses = devices::Buses::default();
    devices::disks(vmi, env, &mut buses, &mut args)?;
    devices::interfaces(vmi, env, &mut args)?;
    devices::misc(vmi, &mut buses, &mut args)?;
    Ok(args.finish())
}

/// Arguments in order; controllers a device needs are inserted before the first device.
#[derive(Default)]
pub(crate) struct Argv {
    args: Vec<String>,
}

impl Argv {
    pub(crate) fn push(&mut self, arg: impl Into<String>) {
        self.args.push(arg.into());
    }

    pub(crate) fn opt(&mut self, flag: &str, value: impl Into<String>) {
        self.args.push(flag.to_string());
        self.args.push(value.into());
    }

    fn finish(self) -> Vec<String> {
        self.args
    }
}

fn reject_unsupported(vmi: &VirtualMachineInstance) -> Result<(), ConvertError> {
    let spec = &vmi.spec;
    let d = &spec.domain.devices;
    if let Some(gpu) = d.gpus.iter().flatten().next() {
        return Err(unsupported(format!(
            "GPU {:?} is not supported: this node has no device plugins",
            gpu.name
        )));
    }
    if let Some(dev) = d.host_devices.iter().flatten().next() {
        return Err(unsupported(format!(
            "host device {:?} is not supported: this node has no device plugins",
            dev.name
        )));
    }
    if let Some(fs) = d.filesystems.iter().flatten().next() {
        return Err(unsupported(format!(
            "filesystem {:?} is not supported: virtiofs is not available",
            fs.name
        )));
    }
    if d.tpm.as_ref().is_some_and(|t| t.enabled != Some(false)) {
        return Err(unsupported("TPM devices are not supported"));
    }
    if d.sound.is_some() {
        return Err(unsupported("sound devices are not supported"));
    }
    if d.client_passthrough.is_some() {
        return Err(unsupported("USB client passthrough is not supported"));
    }
    if d.downward_metrics.is_some() {
        return Err(unsupported("the downwardMetrics device is not supported"));
    }
    if spec.domain.launch_security.is_some() {
        return Err(unsupported(
            "launch security (SEV, SNP, TDX) is not supported",
        ));
    }
    if spec
        .domain
        .memory
        .as_ref()
        .is_some_and(|m| m.hugepages.is_some())
    {
        return Err(unsupported("hugepages are not supported"));
    }
    Ok(())
}

fn machine_type(vmi: &VirtualMachineInstance) -> Result<&'static str, ConvertError> {
    let machine = vmi
        .spec
        .domain
        .machine
        .as_ref()
        .and_then(|m| m.type_.as_deref())
        .unwrap_or("");
    if machine.is_empty() || machine == "q35" || machine.starts_with("pc-q35") {
        Ok("q35")
    } else {
        Err(ConvertError::UnsupportedMachine(machine.to_string()))
    }
}

/// `host-model`/`host-passthrough` become `host` under KVM and `max` under TCG (which cannot
/// expose the host CPU). Features become `name=on|off` according to their policy.
fn cpu_model(vmi: &VirtualMachineInstance, accel: Accel) -> Result<String, ConvertError> {
    let cpu = vmi.spec.domain.cpu.as_ref();
    let requested = cpu.and_then(|c| c.model.as_deref()).unwrap_or("");
    let mut model = match requested {
        "" | "host-model" | "host-passthrough" | "host" => match accel {
            Accel::Kvm => "host".to_string(),
            Accel::Tcg => "max".to_string(),
        },
        named => {
            if !named
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
            {
                return Err(invalid("CPU model", named));
            }
            named.to_string()
        }
    };
    for feature in cpu.and_then(|c| c.features.as_ref()).into_iter().flatten() {
        if !feature
            .name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        {
            return Err(invalid("CPU feature", feature.name.as_str()));
        }
        let on = match feature.policy.as_deref().unwrap_or("require") {
            "require" | "force" | "optional" => "on",
            "disable" | "forbid" => "off",
            other => return Err(invalid("CPU feature policy", other)),
        };
        model.push_str(&format!(",{}={on}", feature.name));
    }
    Ok(model)
}

fn cpu_quantity(vmi: &VirtualMachineInstance) -> Result<Option<u32>, ConvertError> {
    let Some(resources) = vmi.spec.domain.resources.as_ref() else {
        return Ok(None);
    };
    let q = resources
        .limits
        .as_ref()
        .and_then(|l| l.get("cpu"))
        .or_else(|| resources.requests.as_ref().and_then(|r| r.get("cpu")));
    let Some(q) = q else { return Ok(None) };
    // CPU quantities are cores ("2") or millicores ("500m"); whole vCPUs, rounded up.
    let vcpus = parse_bytes(&q.0).map_err(|source| ConvertError::Quantity {
        field: "cpu resources".into(),
        source,
    })?;
    Ok(Some(u32::try_from(vcpus.max(1)).unwrap_or(u32::MAX)))
}

fn smp(vmi: &VirtualMachineInstance) -> Result<String, ConvertError> {
    let cpu = vmi.spec.domain.cpu.as_ref();
    let pick = |v: Option<u32>| v.filter(|n| *n > 0);
    let (mut sockets, cores, threads) = (
        pick(cpu.and_then(|c| c.sockets)),
        pick(cpu.and_then(|c| c.cores)).unwrap_or(1),
        pick(cpu.and_then(|c| c.threads)).unwrap_or(1),
    );
    if sockets.is_none() && cores == 1 && threads == 1 {
        sockets = cpu_quantity(vmi)?;
    }
    let sockets = sockets.unwrap_or(1);
    let vcpus = sockets * cores * threads;
    let mut smp = format!("{vcpus},sockets={sockets},cores={cores},threads={threads}");
    if let Some(max) = pick(cpu.and_then(|c| c.max_sockets)).filter(|m| *m > sockets) {
        smp.push_str(&format!(",maxcpus={}", max * cores * threads));
    }
    Ok(smp)
}

/// Guest memory in MiB: `memory.guest`, else the memory request, else the memory limit.
fn memory_mib(vmi: &VirtualMachineInstance) -> Result<u64, ConvertError> {
    let domain = &vmi.spec.domain;
    let resources = domain.resources.as_ref();
    let candidates = [
        (
            "spec.domain.memory.guest",
            domain.memory.as_ref().and_then(|m| m.guest.as_ref()),
        ),
        (
            "spec.domain.resources.requests.memory",
            resources
                .and_then(|r| r.requests.as_ref())
                .and_then(|r| r.get("memory")),
        ),
        (
            "spec.domain.resources.limits.memory",
            resources
                .and_then(|r| r.limits.as_ref())
                .and_then(|r| r.get("memory")),
        ),
    ];
    for (field, value) in candidates {
        let Some(value) = value else { continue };
        let bytes = parse_bytes(&value.0).map_err(|source| ConvertError::Quantity {
            field: field.into(),
            source,
        })?;
        if bytes > 0 {
            return Ok(bytes.div_ceil(1 << 20));
        }
    }
    Err(ConvertError::NoMemory)
}

#[cfg(test)]
mod tests;
