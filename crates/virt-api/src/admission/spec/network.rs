//! Network and interface rules (upstream `pkg/network/admitter`).

use std::collections::{BTreeMap, BTreeSet};

use api::{Interface, Network, Port, PortRange, VirtualMachineInstanceSpec};
use apiserver::Cause;

use crate::admission::config::{ClusterConfig, gate};
use crate::admission::field::{self, Path};

const INTERFACE_MODELS: &[&str] = &[
    "e1000", "e1000e", "igb", "ne2k_pci", "pcnet", "rtl8139", "virtio",
];

fn is_dra(n: &Network) -> bool {
    n.resource_claim.is_some()
}

/// `Validator.Validate`: network sources, bindings, names and interface fields.
pub fn validate(
    field: &Path,
    spec: &VirtualMachineInstanceSpec,
    config: &ClusterConfig,
) -> Vec<Cause> {
    let networks: &[Network] = spec.networks.as_deref().unwrap_or(&[]);
    let ifaces: &[Interface] = spec.domain.devices.interfaces.as_deref().unwrap_or(&[]);
    let by_name: BTreeMap<&str, &Network> = networks.iter().map(|n| (n.name.as_str(), n)).collect();
    let ifaces_path = field.children(&["domain", "devices", "interfaces"]);
    let mut causes = Vec::new();

    let pod = networks.iter().filter(|n| n.pod.is_some()).count();
    let multus_default = networks
        .iter()
        .filter(|n| n.multus.as_ref().is_some_and(|m| m.default == Some(true)))
        .count();
    if pod > 1 {
        let p = field.child("interfaces");
        causes.push(field::duplicate(
            &p,
            format!("more than one interface is connected to a pod network in {p}"),
        ));
    }
    if multus_default > 1 {
        causes.push(field::invalid(
            field.child("networks"),
            "Multus CNI should only have one default network",
        ));
    }
    if pod > 0 && multus_default > 0 {
        causes.push(field::invalid(
            field.child("networks"),
            "Pod network cannot be defined when Multus default network is defined",
        ));
    }
    for (idx, n) in networks.iter().enumerate() {
        let types =
            usize::from(n.pod.is_some()) + usize::from(n.multus.is_some()) + usize::from(is_dra(n));
        let at = field.child("networks").index(idx);
        if types == 0 {
            causes.push(field::required(&at, "should have a network type"));
        } else if types > 1 {
            causes.push(field::required(&at, "should have only one network type"));
        }
    }
    if let Some(idx) = networks
        .iter()
        .position(|n| n.multus.as_ref().is_some_and(|m| m.network_name.is_empty()))
    {
        causes.push(field::required(
            field.child("networks").index(idx),
            "CNI delegating plugin must have a networkName",
        ));
    }
    let default_network = networks
        .iter()
        .find(|n| n.pod.is_some() || n.multus.as_ref().is_some_and(|m| m.default == Some(true)));
    for (idx, iface) in ifaces.iter().enumerate() {
        let state = iface.state.as_deref().unwrap_or("");
        let at = ifaces_path.index(idx).child("state");
        if !matches!(state, "" | "absent" | "down" | "up") {
            causes.push(field::invalid(
                &at,
                format!(
                    "logical {} interface state value is unsupported: {state}",
                    iface.name
                ),
            ));
        }
        if iface.sriov.is_some() && matches!(state, "down" | "up") {
            causes.push(field::invalid(
                &at,
                format!(
                    "{:?} interface's state {state:?} is not supported for SR-IOV NICs",
                    iface.name
                ),
            ));
        }
        if state == "absent" && iface.bridge.is_none() {
            causes.push(field::invalid(
                &at,
                format!(
                    "{:?} interface's state {state:?} is supported only for bridge binding",
                    iface.name
                ),
            ));
        }
        if state == "absent" && default_network.is_some_and(|n| n.name == iface.name) {
            causes.push(field::invalid(
                &at,
                format!(
                    "{:?} interface's state {state:?} is not supported on default networks",
                    iface.name
                ),
            ));
        }
    }
    for (idx, iface) in ifaces.iter().enumerate() {
        causes.extend(validate_binding(
            &ifaces_path,
            idx,
            iface,
            by_name.get(iface.name.as_str()).copied(),
            config,
        ));
    }
    let mut seen = BTreeSet::new();
    for (idx, n) in networks.iter().enumerate() {
        if !seen.insert(n.name.as_str()) {
            causes.push(field::duplicate(
                field.child("networks").index(idx).child("name"),
                format!(
                    "Network with name {:?} already exists, every network must have a unique name",
                    n.name
                ),
            ));
        }
    }
    // DRA networks are alpha; only the gate itself is checked here.
    if networks.iter().any(is_dra) && !config.is_enabled(gate::NETWORK_DEVICES_WITH_DRA) {
        causes.push(field::invalid(
            field.child("networks"),
            "vmi.spec.networks contains DRA networks but NetworkDevicesWithDRA feature gate is not enabled",
        ));
    }
    let iface_names: BTreeSet<&str> = ifaces.iter().map(|i| i.name.as_str()).collect();
    for (idx, n) in networks.iter().enumerate() {
        if !iface_names.contains(n.name.as_str()) {
            let p = field.child("networks").index(idx).child("name");
            causes.push(field::required(&p, format!("{p} '{}' not found.", n.name)));
        }
    }
    let mut seen = BTreeSet::new();
    for (idx, iface) in ifaces.iter().enumerate() {
        if !seen.insert(iface.name.as_str()) {
            causes.push(field::duplicate(
                ifaces_path.index(idx).child("name"),
                "Only one interface can be connected to one specific network",
            ));
        }
    }
    for (idx, iface) in ifaces.iter().enumerate() {
        if !by_name.contains_key(iface.name.as_str()) {
            let p = ifaces_path.index(idx).child("name");
            causes.push(field::invalid(
                &p,
                format!("{p} '{}' not found.", iface.name),
            ));
        }
    }
    for (idx, iface) in ifaces.iter().enumerate() {
        causes.extend(validate_interface_fields(
            field,
            &ifaces_path,
            idx,
            iface,
            by_name.get(iface.name.as_str()).copied(),
            config,
        ));
    }
    causes
}

/// `Validator.ValidateCreation`: bindings removed upstream.
pub fn validate_creation(field: &Path, spec: &VirtualMachineInstanceSpec) -> Vec<Cause> {
    let mut causes = Vec::new();
    let ifaces_path = field.children(&["domain", "devices", "interfaces"]);
    for (idx, iface) in spec.domain.devices.interfaces.iter().flatten().enumerate() {
        let at = ifaces_path.index(idx);
        if iface.slirp.is_some() {
            causes.push(field::invalid(
                at.child("slirp"),
                "Slirp interface support has been discontinued since v1.3",
            ));
        }
        if iface.passt.is_some() {
            causes.push(field::invalid(
                at.child("passt"),
                "Passt network binding has been discontinued since v1.3",
            ));
        }
        if iface.macvtap.is_some() {
            causes.push(field::invalid(
                at.child("macvtap"),
                "Macvtap network binding has been discontinued since v1.3",
            ));
        }
    }
    causes
}

fn validate_binding(
    ifaces_path: &Path,
    idx: usize,
    iface: &Interface,
    net: Option<&Network>,
    config: &ClusterConfig,
) -> Vec<Cause> {
    let mut causes = Vec::new();
    let at = ifaces_path.index(idx);
    let bindings = [
        iface.bridge.is_some(),
        iface.masquerade.is_some(),
        iface.sriov.is_some(),
        iface.passt_binding.is_some(),
        iface.binding.is_some(),
    ];
    if bindings.iter().filter(|b| **b).count() != 1 {
        causes.push(field::invalid(
            &at,
            format!(
                "logical {} interface must have exactly one binding method or binding plugin",
                iface.name
            ),
        ));
    }
    let on_pod = net.is_some_and(|n| n.pod.is_some());
    if iface.masquerade.is_some() && !on_pod {
        causes.push(field::invalid(
            at.child("name"),
            "Masquerade interface only implemented with pod network",
        ));
    }
    if iface.masquerade.is_some() && iface.mac_address.as_deref().is_some_and(is_reserved_mac) {
        causes.push(field::invalid(
            at.child("macAddress"),
            "The requested MAC address is reserved for the in-pod bridge. Please choose another one.",
        ));
    }
    if iface.bridge.is_some() && on_pod && !config.permit_bridge_interface_on_pod_network {
        causes.push(field::invalid(
            at.child("name"),
            "Bridge on pod network configuration is not enabled under kubevirt-config",
        ));
    }
    if iface.passt_binding.is_some() && !config.is_enabled(gate::PASST_BINDING) {
        causes.push(field::invalid(
            at.child("name"),
            "PasstBinding feature gate is not enabled",
        ));
    }
    if iface.passt_binding.is_some() && !on_pod {
        causes.push(field::invalid(
            at.child("name"),
            "PasstBinding interface only implemented with pod network",
        ));
    }
    causes
}

/// The MAC of the in-pod bridge.
fn is_reserved_mac(mac: &str) -> bool {
    mac.eq_ignore_ascii_case("02:00:00:00:00:00")
}

fn parse_mac(mac: &str) -> Result<(), String> {
    let parts: Vec<&str> = mac.split([':', '-']).collect();
    let ok = parts.len() == 6
        && parts
            .iter()
            .all(|p| p.len() == 2 && p.chars().all(|c| c.is_ascii_hexdigit()));
    if ok {
        Ok(())
    } else {
        Err(format!("malformed MAC address ({mac})"))
    }
}

fn validate_interface_fields(
    field: &Path,
    ifaces_path: &Path,
    idx: usize,
    iface: &Interface,
    net: Option<&Network>,
    config: &ClusterConfig,
) -> Vec<Cause> {
    let mut causes = Vec::new();
    let at = ifaces_path.index(idx);
    let valid_name = !iface.name.is_empty()
        && iface
            .name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !valid_name {
        causes.push(field::invalid(
            at.child("name"),
            "Network interface name can only contain alphabetical characters, numbers, dashes (-) or underscores (_)",
        ));
    }
    if let Some(model) = iface.model.as_deref().filter(|m| !m.is_empty())
        && !INTERFACE_MODELS.contains(&model)
    {
        causes.push(field::not_supported(
            at.child("model"),
            format!(
                "interface {} uses model {model} that is not supported.",
                at.child("name")
            ),
        ));
    }
    if let Some(mac) = iface.mac_address.as_deref().filter(|m| !m.is_empty())
        && let Err(e) = parse_mac(mac)
    {
        causes.push(field::invalid(
            at.child("macAddress"),
            format!("interface {} has {e}.", at.child("name")),
        ));
    }
    if let Some(addr) = iface.pci_address.as_deref().filter(|a| !a.is_empty())
        && !super::storage::is_pci_address(addr)
    {
        causes.push(field::invalid(
            at.child("pciAddress"),
            format!(
                "interface {} has malformed PCI address ({addr}).",
                at.child("name")
            ),
        ));
    }
    let on_pod = net.is_some_and(|n| n.pod.is_some());
    if on_pod && let Some(ports) = &iface.ports {
        causes.extend(validate_ports(&at, ports));
    }
    causes.extend(validate_port_ranges(&at, iface, on_pod, config));
    if let Some(dhcp) = &iface.dhcp_options {
        let private = dhcp.private_options.as_deref().unwrap_or(&[]);
        let unique: BTreeSet<i32> = private.iter().map(|o| o.option).collect();
        if unique.len() < private.len() {
            causes.push(field::invalid(
                field,
                "Found Duplicates: you have provided duplicate DHCPPrivateOptions",
            ));
        }
        for o in private {
            if !(224..=254).contains(&o.option) {
                causes.push(field::invalid(
                    field,
                    "provided DHCPPrivateOptions are out of range, must be in range 224 to 254",
                ));
            }
        }
        for (i, ip) in dhcp.ntp_servers.iter().flatten().enumerate() {
            if ip.parse::<std::net::Ipv4Addr>().is_err() {
                causes.push(field::invalid(
                    at.children(&["dhcpOptions", "ntpServers"]).index(i),
                    "NTP servers must be a list of valid IPv4 addresses.",
                ));
            }
        }
    }
    causes
}

fn validate_ports(at: &Path, ports: &[Port]) -> Vec<Cause> {
    let mut causes = Vec::new();
    let mut names = BTreeSet::new();
    for (i, port) in ports.iter().enumerate() {
        let Some(name) = port.name.as_deref().filter(|n| !n.is_empty()) else {
            continue;
        };
        let p = at.child("ports").index(i).child("name");
        if !names.insert(name) {
            causes.push(field::duplicate(
                &p,
                format!("Duplicate name of the port: {name}"),
            ));
        }
        if !is_valid_port_name(name) {
            causes.push(field::invalid(
                &p,
                format!("Invalid name of the port: {name}"),
            ));
        }
    }
    for (i, port) in ports.iter().enumerate() {
        let p = at.child("ports").index(i);
        if port.port == 0 {
            causes.push(field::required(p.child("port"), "Port field is mandatory."));
        }
        if !(0..65536).contains(&port.port) {
            causes.push(field::invalid(
                p.child("port"),
                "Port field must be in range 0 < x < 65536.",
            ));
        }
        if let Some(proto) = port.protocol.as_deref().filter(|s| !s.is_empty())
            && proto != "TCP"
            && proto != "UDP"
        {
            causes.push(field::invalid(
                p.child("protocol"),
                "Unknown protocol, only TCP or UDP allowed",
            ));
        }
    }
    causes
}

/// `IsValidPortName`: an IANA service name.
fn is_valid_port_name(name: &str) -> bool {
    let b = name.as_bytes();
    !b.is_empty()
        && b.len() <= 15
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        && b.iter().any(|c| c.is_ascii_lowercase())
        && b[0] != b'-'
        && b[b.len() - 1] != b'-'
        && !name.contains("--")
}

fn validate_port_ranges(
    at: &Path,
    iface: &Interface,
    on_pod: bool,
    config: &ClusterConfig,
) -> Vec<Cause> {
    let Some(ranges) = &iface.port_ranges else {
        return vec![];
    };
    if !config.is_enabled(gate::PORT_RANGES_SPEC) {
        return vec![field::invalid(
            at.child("name"),
            "portRanges is specified on interface but the PortRangesSpec feature gate is not enabled",
        )];
    }
    if !on_pod {
        return vec![];
    }
    let mut causes = Vec::new();
    if iface.ports.is_some() {
        causes.push(field::invalid(
            at.child("name"),
            "Cannot define both ports and portRanges on interface",
        ));
    }
    if iface.masquerade.is_none() {
        causes.push(field::invalid(
            at.child("name"),
            "portRanges are only supported on masquerade interfaces",
        ));
    }
    if ranges.len() > 10 {
        causes.push(field::invalid(
            at.child("portRanges"),
            "No more than 10 portRanges are allowed",
        ));
        return causes;
    }
    let mut by_protocol: BTreeMap<&str, Vec<&PortRange>> = BTreeMap::new();
    for (i, r) in ranges.iter().enumerate() {
        let p = at.child("portRanges").index(i);
        if r.protocol != "TCP" && r.protocol != "UDP" {
            causes.push(field::invalid(
                p.child("protocol"),
                "Unknown protocol, only TCP or UDP allowed",
            ));
        } else if !(1..65536).contains(&r.start) {
            causes.push(field::invalid(
                p.child("start"),
                "Start must be a valid port number, 0 < x < 65536",
            ));
        } else if !(1..65536).contains(&r.end) {
            causes.push(field::invalid(
                p.child("end"),
                "End must be a valid port number, 0 < x < 65536",
            ));
        } else if r.start > r.end {
            causes.push(field::invalid(
                p.child("start"),
                "Start must be less than or equal to end",
            ));
        } else {
            by_protocol.entry(&r.protocol).or_default().push(r);
        }
    }
    for (protocol, mut rs) in by_protocol {
        rs.sort_by_key(|r| (r.start, r.end));
        for w in rs.windows(2) {
            if w[1].start <= w[0].end {
                causes.push(field::invalid(
                    at.child("portRanges"),
                    format!(
                        "{protocol} portRanges [{}-{}] and [{}-{}] overlap",
                        w[0].start, w[0].end, w[1].start, w[1].end
                    ),
                ));
            }
        }
    }
    causes
}
