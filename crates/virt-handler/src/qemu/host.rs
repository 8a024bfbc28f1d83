//! What this machine offers as a node: its name, CPUs, memory, address and OS, read from the
//! host (`/proc`, `/etc/os-release`). The parsers are pure; [`HostFacts::probe`] does the I/O.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, UdpSocket};

use crate::node::NodeConfig;

/// Pod CIDR of the node; launcher pods get their IPs from it.
pub const POD_CIDR: &str = "10.244.0.0/24";
/// Kubelet version the node reports.
pub const KUBELET_VERSION: &str = "v1.32.0";
/// Ephemeral storage the node advertises (the driver does not measure its disk).
pub const EPHEMERAL_STORAGE: &str = "100Gi";
/// Pods the node accepts, as kubelet's default.
pub const MAX_PODS: u32 = 110;

/// Facts about the machine the driver runs on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostFacts {
    pub hostname: String,
    pub cpus: usize,
    /// Total memory in KiB.
    pub memory_kib: u64,
    pub address: IpAddr,
    pub os_image: String,
}

impl HostFacts {
    /// Reads the facts of this machine; anything unreadable falls back to a harmless default
    /// (1 CPU, 1 GiB, 127.0.0.1, "Linux").
    pub fn probe() -> HostFacts {
        let read = |path: &str| std::fs::read_to_string(path).unwrap_or_default();
        let cpus = std::thread::available_parallelism()
            .map(usize::from)
            .unwrap_or_else(|_| cpu_count(&read("/proc/cpuinfo")).max(1));
        HostFacts {
            hostname: read("/proc/sys/kernel/hostname").trim().to_string(),
            cpus,
            memory_kib: mem_total_kib(&read("/proc/meminfo")).unwrap_or(1024 * 1024),
            address: outbound_address().unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST)),
            os_image: pretty_name(&read("/etc/os-release")).unwrap_or_else(|| "Linux".into()),
        }
    }

    /// The node this machine registers as, named `name` (see [`node_name`]).
    pub fn node_config(&self, name: &str, runtime_version: &str) -> NodeConfig {
        NodeConfig {
            name: name.to_string(),
            cpu: self.cpus.to_string(),
            memory: format!("{}Ki", self.memory_kib),
            pods: MAX_PODS,
            ephemeral_storage: EPHEMERAL_STORAGE.into(),
            labels: BTreeMap::new(),
            internal_ip: self.address.to_string(),
            pod_cidr: POD_CIDR.into(),
            os_image: self.os_image.clone(),
            container_runtime_version: runtime_version.to_string(),
            kubelet_version: KUBELET_VERSION.into(),
        }
    }
}

/// Number of `processor` entries of `/proc/cpuinfo`.
pub fn cpu_count(cpuinfo: &str) -> usize {
    cpuinfo
        .lines()
        .filter(|l| {
            l.split_once(':')
                .is_some_and(|(k, _)| k.trim() == "processor")
        })
        .count()
}

/// `MemTotal` of `/proc/meminfo`, in KiB.
pub fn mem_total_kib(meminfo: &str) -> Option<u64> {
    meminfo.lines().find_map(|l| {
        let rest = l.strip_prefix("MemTotal:")?;
        rest.trim().trim_end_matches("kB").trim().parse().ok()
    })
}

/// `PRETTY_NAME` of `/etc/os-release`.
pub fn pretty_name(os_release: &str) -> Option<String> {
    os_release.lines().find_map(|l| {
        let v = l.strip_prefix("PRETTY_NAME=")?;
        Some(v.trim().trim_matches('"').to_string())
    })
}

/// A node name from a host name: lower case, characters outside `[a-z0-9.-]` replaced by `-`,
/// trimmed to 253 characters and to alphanumeric ends; `node01` when nothing is left.
pub fn node_name(hostname: &str) -> String {
    let mapped: String = hostname
        .trim()
        .to_ascii_lowercase()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '-'
            }
        })
        .take(253)
        .collect();
    let trimmed = mapped.trim_matches(|c: char| !c.is_ascii_alphanumeric());
    if trimmed.is_empty() {
        "node01".into()
    } else {
        trimmed.to_string()
    }
}

/// The address this machine would use to reach other machines (no packet is sent: connecting a
/// UDP socket only picks the route).
fn outbound_address() -> Option<IpAddr> {
    let socket = UdpSocket::bind("0.0.0.0:0").ok()?;
    socket.connect("192.0.2.1:9").ok()?;
    let ip = socket.local_addr().ok()?.ip();
    (!ip.is_unspecified()).then_some(ip)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpus_and_memory_are_read_from_proc() {
        let cpuinfo = "processor\t: 0\nmodel name\t: X\n\nprocessor\t: 1\nmodel name\t: X\n";
        assert_eq!(cpu_count(cpuinfo), 2);
        let meminfo = "MemTotal:       24529876 kB\nMemFree:          123456 kB\n";
        assert_eq!(mem_total_kib(meminfo), Some(24_529_876));
        assert_eq!(mem_total_kib("MemFree: 1 kB\n"), None);
    }

    #[test]
    fn os_image_is_the_pretty_name() {
        let release = "NAME=\"Debian GNU/Linux\"\nPRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\n";
        assert_eq!(
            pretty_name(release).as_deref(),
            Some("Debian GNU/Linux 12 (bookworm)")
        );
    }

    #[test]
    fn host_names_become_valid_node_names() {
        assert_eq!(node_name("Build_Box.local\n"), "build-box.local");
        assert_eq!(node_name("-x-"), "x");
        assert_eq!(node_name("__"), "node01");
    }

    #[test]
    fn node_config_carries_the_real_capacity() {
        let facts = HostFacts {
            hostname: "box".into(),
            cpus: 2,
            memory_kib: 2048,
            address: IpAddr::V4(Ipv4Addr::new(10, 1, 2, 3)),
            os_image: "Debian".into(),
        };
        let config = facts.node_config("box", "qemu://7.2.0");
        assert_eq!(
            (config.cpu.as_str(), config.memory.as_str()),
            ("2", "2048Ki")
        );
        assert_eq!(config.internal_ip, "10.1.2.3");
        assert_eq!(config.labels()["kubernetes.io/hostname"], "box");
        assert_eq!(config.labels()["kubevirt.io/schedulable"], "true");
        assert_eq!(config.container_runtime_version, "qemu://7.2.0");
    }
}
