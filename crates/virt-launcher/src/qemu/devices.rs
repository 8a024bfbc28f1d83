//! Devices of the QEMU command line: disks, network interfaces, inputs, RNG, watchdog, panic.

use super::{Argv, ConvertError, escape, invalid, path_value, unsupported};
use crate::spec::{ForwardProtocol, LaunchEnv};
use api::{Disk, DiskTarget, Interface, InterfaceMasquerade, Network, PodNetwork};
use api::{VirtualMachineInstance, Volume};
use sha2::{Digest, Sha256};

/// Controllers added on first use, and the next free SATA port.
#[derive(Default)]
pub(super) struct Buses {
    xhci: bool,
    scsi: bool,
    next_sata_port: u32,
}

/// q35's built-in AHCI controller has six ports (`ide.0` … `ide.5`).
const SATA_PORTS: u32 = 6;

impl Buses {
    fn usb(&mut self, args: &mut Argv) -> &'static str {
        if !self.xhci {
            self.xhci = true;
            args.opt("-device", "qemu-xhci,id=usb");
        }
        "usb.0"
    }

    fn scsi(&mut self, args: &mut Argv) -> &'static str {
        if !self.scsi {
            self.scsi = true;
            args.opt("-device", "virtio-scsi-pci,id=scsi0");
        }
        "scsi0.0"
    }

    fn sata(&mut self, disk: &str) -> Result<String, ConvertError> {
        if self.next_sata_port >= SATA_PORTS {
            return Err(unsupported(format!(
                "disk {disk:?} does not fit: at most {SATA_PORTS} sata disks are supported"
            )));
        }
        let port = self.next_sata_port;
        self.next_sata_port += 1;
        Ok(format!("ide.{port}"))
    }
}

/// QEMU ids must start with a letter and contain only letters, digits, `-`, `.` and `_`.
fn id(prefix: &str, name: &str) -> Result<String, ConvertError> {
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_'))
    {
        return Err(invalid("device name", name));
    }
    Ok(format!("{prefix}{name}"))
}

/// The disks of the VMI in spec order, plus a `sata` disk for every volume without one.
fn effective_disks(vmi: &VirtualMachineInstance) -> Vec<Disk> {
    let devices = &vmi.spec.domain.devices;
    let mut disks = devices.disks.clone().unwrap_or_default();
    let filesystems: Vec<&str> = devices
        .filesystems
        .iter()
        .flatten()
        .map(|f| f.name.as_str())
        .collect();
    for volume in vmi.spec.volumes.iter().flatten() {
        if !disks.iter().any(|d| d.name == volume.name)
            && !filesystems.contains(&volume.name.as_str())
        {
            disks.push(Disk {
                name: volume.name.clone(),
                disk: Some(DiskTarget {
                    bus: Some("sata".into()),
                    ..Default::default()
                }),
                ..Default::default()
            });
        }
    }
    disks
}

enum Media {
    Disk,
    Cdrom,
}

pub(super) fn disks(
    vmi: &VirtualMachineInstance,
    env: &LaunchEnv,
    buses: &mut Buses,
    args: &mut Argv,
) -> Result<(), ConvertError> {
    let volumes: &[Volume] = vmi.spec.volumes.as_deref().unwrap_or(&[]);
    for disk in effective_disks(vmi) {
        let name = disk.name.as_str();
        if !volumes.iter().any(|v| v.name == name) {
            return Err(ConvertError::MissingVolume {
                disk: name.to_string(),
            });
        }
        let resolved = env
            .volumes
            .get(name)
            .ok_or_else(|| ConvertError::UnresolvedVolume(name.to_string()))?;
        let (media, bus, readonly) = if let Some(t) = &disk.disk {
            (Media::Disk, t.bus.clone(), t.readonly.unwrap_or(false))
        } else if let Some(t) = &disk.cdrom {
            (Media::Cdrom, t.bus.clone(), t.readonly.unwrap_or(true))
        } else if disk.lun.is_some() {
            return Err(unsupported(format!(
                "LUN disk {name:?} is not supported: it needs a SCSI block device"
            )));
        } else {
            (Media::Disk, None, false)
        };
        let bus = bus
            .filter(|b| !b.is_empty())
            .unwrap_or_else(|| "sata".into());
        let readonly = readonly || resolved.readonly;
        let drive_id = id("drive-ua-", name)?;
        let dev_id = id("ua-", name)?;

        let mut drive = format!(
            "file={},format={},if=none,id={drive_id}",
            path_value(&resolved.path),
            resolved.format.as_str()
        );
        if readonly {
            drive.push_str(",readonly=on");
        }
        let cache = disk.cache.as_deref().filter(|c| !c.is_empty());
        match cache {
            None => {}
            Some(c @ ("none" | "writethrough" | "writeback")) => {
                drive.push_str(&format!(",cache={c}"));
            }
            Some(other) => return Err(invalid("disk cache mode", other)),
        }
        match disk.io.as_deref().filter(|c| !c.is_empty()) {
            None | Some("default") => {}
            Some("native") if cache == Some("none") => drive.push_str(",aio=native"),
            Some("native") => {
                return Err(unsupported(format!(
                    "disk {name:?}: io \"native\" needs cache \"none\""
                )));
            }
            Some("threads") => drive.push_str(",aio=threads"),
            Some(other) => return Err(invalid("disk io mode", other)),
        }
        if !readonly {
            let (werror, rerror) = match disk.error_policy.as_deref().unwrap_or("stop") {
                "stop" => ("stop", "stop"),
                "report" => ("report", "report"),
                "ignore" => ("ignore", "ignore"),
                "enospace" => ("enospc", "report"),
                other => return Err(invalid("disk error policy", other)),
            };
            drive.push_str(&format!(",werror={werror},rerror={rerror}"));
        }

        let device = match (bus.as_str(), &media) {
            ("virtio", Media::Disk) => "virtio-blk-pci".to_string(),
            ("sata", Media::Disk) if readonly => {
                return Err(unsupported(format!(
                    "disk {name:?}: read-only disks on the sata bus are not supported \
                     (use virtio or scsi, or a cdrom)"
                )));
            }
            ("sata", Media::Disk) => format!("ide-hd,bus={}", buses.sata(name)?),
            ("sata", Media::Cdrom) => format!("ide-cd,bus={}", buses.sata(name)?),
            ("scsi", Media::Disk) => format!("scsi-hd,bus={}", buses.scsi(args)),
            ("scsi", Media::Cdrom) => format!("scsi-cd,bus={}", buses.scsi(args)),
            ("usb", Media::Disk) => format!("usb-storage,bus={}", buses.usb(args)),
            (bus @ ("virtio" | "usb"), Media::Cdrom) => {
                return Err(unsupported(format!(
                    "cdrom {name:?} on the {bus} bus is not supported"
                )));
            }
            (other, _) => return Err(invalid("disk bus", other)),
        };
        let mut device = format!("{device},drive={drive_id},id={dev_id}");
        if let Some(order) = disk.boot_order {
            device.push_str(&format!(",bootindex={order}"));
        }
        if let Some(serial) = disk.serial.as_deref().filter(|s| !s.is_empty()) {
            device.push_str(&format!(",serial={}", escape(serial)));
        }
        if let Some(custom) = disk.block_size.as_ref().and_then(|b| b.custom.as_ref()) {
            if let Some(l) = custom.logical {
                device.push_str(&format!(",logical_block_size={l}"));
            }
            if let Some(p) = custom.physical {
                device.push_str(&format!(",physical_block_size={p}"));
            }
        }
        if disk.shareable == Some(true) {
            device.push_str(",share-rw=on");
        }
        args.opt("-drive", drive);
        args.opt("-device", device);
    }
    Ok(())
}

/// The MAC address of an interface: its `macAddress`, else one derived from the VMI's UID (or
/// namespace and name) and the interface name, in QEMU's `52:54:00` range. Stable for a VMI.
pub fn interface_mac(vmi: &VirtualMachineInstance, interface: &Interface) -> String {
    if let Some(mac) = interface.mac_address.as_deref().filter(|m| !m.is_empty()) {
        return mac.replace('-', ":").to_ascii_lowercase();
    }
    let identity = vmi.metadata.uid.clone().unwrap_or_else(|| {
        format!(
            "{}/{}",
            vmi.metadata.namespace.as_deref().unwrap_or(""),
            vmi.metadata.name.as_deref().unwrap_or("")
        )
    });
    let digest = Sha256::digest(format!("{identity}/{}", interface.name).as_bytes());
    format!(
        "52:54:00:{:02x}:{:02x}:{:02x}",
        digest[0], digest[1], digest[2]
    )
}

fn valid_mac(mac: &str) -> bool {
    let parts: Vec<&str> = mac.split(':').collect();
    parts.len() == 6
        && parts
            .iter()
            .all(|p| p.len() == 2 && p.chars().all(|c| c.is_ascii_hexdigit()))
}

/// The interfaces and networks of the VMI, with the default pod interface when it has none.
fn effective_interfaces(vmi: &VirtualMachineInstance) -> (Vec<Interface>, Vec<Network>) {
    let spec = &vmi.spec;
    let interfaces = spec.domain.devices.interfaces.clone().unwrap_or_default();
    let networks = spec.networks.clone().unwrap_or_default();
    if interfaces.is_empty()
        && networks.is_empty()
        && spec.domain.devices.autoattach_pod_interface != Some(false)
    {
        return (
            vec![Interface {
                name: "default".into(),
                masquerade: Some(InterfaceMasquerade {}),
                ..Default::default()
            }],
            vec![Network {
                name: "default".into(),
                pod: Some(PodNetwork::default()),
                ..Default::default()
            }],
        );
    }
    (interfaces, networks)
}

/// The QEMU id of the user-mode network backend (`-netdev user`) of the VMI's first present
/// pod-network interface, which carries the launch environment's host forwards; `None` when
/// the guest has no such interface.
pub fn pod_netdev_id(vmi: &VirtualMachineInstance) -> Option<String> {
    let (interfaces, networks) = effective_interfaces(vmi);
    interfaces
        .iter()
        .filter(|i| i.state.as_deref() != Some("absent"))
        .find(|i| {
            networks
                .iter()
                .any(|n| n.name == i.name && n.pod.is_some() && n.multus.is_none())
        })
        .and_then(|i| id("netdev-ua-", &i.name).ok())
}

pub(super) fn interfaces(
    vmi: &VirtualMachineInstance,
    env: &LaunchEnv,
    args: &mut Argv,
) -> Result<(), ConvertError> {
    let (interfaces, networks) = effective_interfaces(vmi);
    let mut forwards_done = false;
    for iface in &interfaces {
        let name = iface.name.as_str();
        if iface.state.as_deref() == Some("absent") {
            continue;
        }
        if iface.sriov.is_some() {
            return Err(unsupported(format!(
                "SR-IOV interface {name:?} is not supported"
            )));
        }
        if iface.macvtap.is_some() {
            return Err(unsupported(format!(
                "macvtap interface {name:?} is not supported"
            )));
        }
        if let Some(binding) = &iface.binding {
            return Err(unsupported(format!(
                "interface {name:?}: network binding plugin {:?} is not supported",
                binding.name
            )));
        }
        let network = networks
            .iter()
            .find(|n| n.name == name)
            .ok_or_else(|| ConvertError::MissingNetwork(name.to_string()))?;
        if let Some(multus) = &network.multus {
            return Err(unsupported(format!(
                "interface {name:?}: multus network {:?} is not supported (only the pod network is)",
                multus.network_name
            )));
        }
        if network.resource_claim.is_some() {
            return Err(unsupported(format!(
                "interface {name:?}: networks from resource claims are not supported"
            )));
        }
        let Some(pod) = &network.pod else {
            return Err(unsupported(format!(
                "interface {name:?}: network {:?} has no source",
                network.name
            )));
        };
        let model = match iface.model.as_deref().unwrap_or("virtio") {
            "" | "virtio" => "virtio-net-pci",
            m @ ("e1000" | "e1000e" | "rtl8139" | "pcnet" | "ne2k_pci") => m,
            other => return Err(invalid("interface model", other)),
        };
        let mac = interface_mac(vmi, iface);
        if !valid_mac(&mac) {
            return Err(invalid("MAC address", mac));
        }
        let netdev_id = id("netdev-ua-", name)?;
        let dev_id = id("ua-", name)?;

        let mut netdev = format!("user,id={netdev_id}");
        if let Some(cidr) = pod.vm_network_cidr.as_deref().filter(|c| !c.is_empty()) {
            netdev.push_str(&format!(",net={}", escape(cidr)));
        }
        if let Some(cidr) = pod
            .vm_i_pv6_network_cidr
            .as_deref()
            .filter(|c| !c.is_empty())
        {
            netdev.push_str(&format!(",ipv6-net={}", escape(cidr)));
        }
        let hostname = vmi
            .spec
            .hostname
            .as_deref()
            .or(vmi.metadata.name.as_deref())
            .unwrap_or("");
        if !hostname.is_empty() {
            let short: String = hostname.chars().take(63).collect();
            netdev.push_str(&format!(",hostname={}", escape(&short)));
        }
        if !forwards_done {
            forwards_done = true;
            for f in &env.host_forwards {
                let proto = match f.protocol {
                    ForwardProtocol::Tcp => "tcp",
                    ForwardProtocol::Udp => "udp",
                };
                let addr = f.host_address.as_deref().unwrap_or("127.0.0.1");
                netdev.push_str(&format!(
                    ",hostfwd={proto}:{}:{}-:{}",
                    escape(addr),
                    f.host_port,
                    f.guest_port
                ));
            }
        }
        let mut device = format!("{model},netdev={netdev_id},id={dev_id},mac={mac}");
        match iface.boot_order {
            Some(order) => device.push_str(&format!(",bootindex={order}")),
            // Without network boot the option ROM is not needed (and may not be installed).
            None => device.push_str(",romfile="),
        }
        args.opt("-netdev", netdev);
        args.opt("-device", device);
    }
    Ok(())
}

/// Inputs, memory balloon, RNG, watchdog and panic devices.
pub(super) fn misc(
    vmi: &VirtualMachineInstance,
    buses: &mut Buses,
    args: &mut Argv,
) -> Result<(), ConvertError> {
    let devices = &vmi.spec.domain.devices;
    if devices.autoattach_vsock == Some(true) {
        return Err(unsupported("VSOCK devices are not supported"));
    }
    let mut inputs = devices.inputs.clone().unwrap_or_default();
    if inputs.is_empty() && devices.autoattach_input_device == Some(true) {
        inputs.push(api::Input {
            bus: Some("usb".into()),
            type_: "tablet".into(),
            name: "default-tablet".into(),
        });
    }
    for input in &inputs {
        let dev_id = id("ua-", &input.name)?;
        let device = match (input.bus.as_deref().unwrap_or("usb"), input.type_.as_str()) {
            ("usb" | "", "tablet" | "") => format!("usb-tablet,bus={}", buses.usb(args)),
            ("usb" | "", "keyboard") => format!("usb-kbd,bus={}", buses.usb(args)),
            ("virtio", "tablet" | "") => "virtio-tablet-pci".to_string(),
            ("virtio", "keyboard") => "virtio-keyboard-pci".to_string(),
            ("usb" | "" | "virtio", other) => return Err(invalid("input type", other)),
            (other, _) => return Err(invalid("input bus", other)),
        };
        args.opt("-device", format!("{device},id={dev_id}"));
    }
    if devices.autoattach_mem_balloon != Some(false) {
        args.opt("-device", "virtio-balloon-pci,id=balloon0");
    }
    if devices.rng.is_some() {
        args.opt("-object", "rng-random,id=objrng0,filename=/dev/urandom");
        args.opt("-device", "virtio-rng-pci,rng=objrng0,id=rng0");
    }
    if let Some(watchdog) = &devices.watchdog {
        if watchdog.diag288.is_some() {
            return Err(unsupported("the diag288 watchdog exists only on s390x"));
        }
        let action = watchdog
            .i6300esb
            .as_ref()
            .and_then(|w| w.action.as_deref())
            .unwrap_or("reset");
        let action = match action {
            "" | "reset" => "reset",
            "poweroff" => "poweroff",
            "shutdown" => "shutdown",
            other => return Err(invalid("watchdog action", other)),
        };
        args.opt(
            "-device",
            format!("i6300esb,id={}", id("ua-", &watchdog.name)?),
        );
        args.opt("-action", format!("watchdog={action}"));
    }
    let panic_devices = devices.panic_devices.as_deref().unwrap_or(&[]);
    for (i, panic) in panic_devices.iter().enumerate() {
        let device = match panic.model.as_deref().unwrap_or("isa") {
            "" | "isa" => "pvpanic",
            "pvpanic" => "pvpanic-pci",
            "hyperv" => {
                return Err(unsupported(
                    "the hyperv panic device is not supported (use isa or pvpanic)",
                ));
            }
            other => return Err(invalid("panic device model", other)),
        };
        args.opt("-device", format!("{device},id=panic{i}"));
    }
    if !panic_devices.is_empty() {
        args.opt("-action", "panic=shutdown");
    }
    Ok(())
}
