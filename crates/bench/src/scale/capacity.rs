//! How many simulated nodes a run needs: launcher pod requests against node allocatable.

use serde_json::Value;

/// What one node offers to pods.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct NodeShape {
    pub cpu_millis: f64,
    pub memory_bytes: f64,
    pub pods: u64,
}

/// The simulated driver's default node: 8 CPUs, 32Gi, 110 pods.
pub const SIMULATED_NODE: NodeShape = NodeShape {
    cpu_millis: 8000.0,
    memory_bytes: 32.0 * GIB,
    pods: 110,
};

const MIB: f64 = 1024.0 * 1024.0;
const GIB: f64 = 1024.0 * MIB;

/// CPU and memory one pod requests.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PodRequests {
    pub cpu_millis: f64,
    pub memory_bytes: f64,
}

/// The launcher pod of a one-vCPU guest with `guest_memory_bytes` and default settings, as
/// KubeVirt sizes it: a tenth of a CPU (CPU allocation ratio 10), and the guest memory plus
/// the virtualization overhead (page tables of guest/512, 240Mi for the launcher and qemu, 8Mi
/// per vCPU, 8Mi for the IOThread, 32Mi of video RAM). An estimate for planning; the run checks
/// it against the first real pod.
pub fn estimated_launcher_requests(guest_memory_bytes: f64) -> PodRequests {
    PodRequests {
        cpu_millis: 100.0,
        memory_bytes: guest_memory_bytes + guest_memory_bytes / 512.0 + 288.0 * MIB,
    }
}

/// Pods of `pod` size that fit on `node`.
pub fn pods_per_node(node: &NodeShape, pod: &PodRequests) -> u64 {
    let by_cpu = if pod.cpu_millis > 0.0 {
        (node.cpu_millis / pod.cpu_millis).floor() as u64
    } else {
        u64::MAX
    };
    let by_memory = if pod.memory_bytes > 0.0 {
        (node.memory_bytes / pod.memory_bytes).floor() as u64
    } else {
        u64::MAX
    };
    node.pods.min(by_cpu).min(by_memory)
}

/// Nodes for `vms` launcher pods at `per_node` each, with `headroom` spare (0.1 = 10 %) so the
/// scheduler never has to fill the last node to the brim.
pub fn nodes_for(vms: usize, per_node: u64, headroom: f64) -> usize {
    if per_node == 0 {
        return 0;
    }
    let needed = (vms as f64 * (1.0 + headroom.max(0.0)) / per_node as f64).ceil() as usize;
    needed.max(1)
}

/// A Kubernetes quantity (`100m`, `352Mi`, `1.5G`, `2`) as a number of base units.
pub fn parse_quantity(text: &str) -> Option<f64> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '+' || c == '-'))
        .unwrap_or(text.len());
    let (number, suffix) = text.split_at(split);
    let number: f64 = number.parse().ok()?;
    let factor = match suffix {
        "" => 1.0,
        "n" => 1e-9,
        "u" => 1e-6,
        "m" => 1e-3,
        "k" => 1e3,
        "M" => 1e6,
        "G" => 1e9,
        "T" => 1e12,
        "P" => 1e15,
        "E" => 1e18,
        "Ki" => 1024.0,
        "Mi" => MIB,
        "Gi" => GIB,
        "Ti" => GIB * 1024.0,
        "Pi" => GIB * 1024.0 * 1024.0,
        "Ei" => GIB * 1024.0 * 1024.0 * 1024.0,
        _ => {
            let exponent: i32 = suffix.strip_prefix(['e', 'E'])?.parse().ok()?;
            10f64.powi(exponent)
        }
    };
    Some(number * factor)
}

/// What the scheduler counts for a pod: the sum of its containers' requests, or the largest
/// init container's when that is more.
pub fn pod_requests(pod: &Value) -> PodRequests {
    let request = |c: &Value, name: &str| {
        c.pointer(&format!("/resources/requests/{name}"))
            .and_then(Value::as_str)
            .and_then(parse_quantity)
            .unwrap_or(0.0)
    };
    let list = |key: &str| {
        pod.pointer(&format!("/spec/{key}"))
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
    };
    let (containers, inits) = (list("containers"), list("initContainers"));
    let total = |name: &str| {
        let sum: f64 = containers.iter().map(|c| request(c, name)).sum();
        inits.iter().map(|c| request(c, name)).fold(sum, f64::max)
    };
    PodRequests {
        cpu_millis: total("cpu") * 1000.0,
        memory_bytes: total("memory"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn quantities_parse_decimal_binary_and_milli_suffixes() {
        assert_eq!(parse_quantity("100m"), Some(0.1));
        assert_eq!(parse_quantity("352Mi"), Some(352.0 * MIB));
        assert_eq!(parse_quantity("1.5G"), Some(1.5e9));
        assert_eq!(parse_quantity("2"), Some(2.0));
        assert_eq!(parse_quantity("1e3"), Some(1000.0));
        assert_eq!(parse_quantity("Mi"), None);
        assert_eq!(parse_quantity("3x"), None);
    }

    #[test]
    fn the_scarcest_resource_limits_pods_per_node() {
        let small = estimated_launcher_requests(64.0 * MIB);
        // CPU: 8000m / 100m = 80; memory: 32Gi / ~352Mi = 93; pods: 110.
        assert_eq!(pods_per_node(&SIMULATED_NODE, &small), 80);
        let tiny = PodRequests {
            cpu_millis: 10.0,
            memory_bytes: 100.0 * MIB,
        };
        assert_eq!(pods_per_node(&SIMULATED_NODE, &tiny), 110);
        let big = PodRequests {
            cpu_millis: 10.0,
            memory_bytes: 4.0 * GIB,
        };
        assert_eq!(pods_per_node(&SIMULATED_NODE, &big), 8);
    }

    #[test]
    fn node_counts_round_up_with_headroom() {
        assert_eq!(nodes_for(8000, 80, 0.0), 100);
        assert_eq!(nodes_for(8000, 80, 0.1), 110);
        assert_eq!(nodes_for(1, 80, 0.1), 1);
        assert_eq!(nodes_for(10, 0, 0.1), 0);
    }

    #[test]
    fn pod_requests_sum_containers_and_take_the_largest_init_container() {
        let pod = json!({"spec": {
            "containers": [
                {"resources": {"requests": {"cpu": "100m", "memory": "352Mi"}}},
                {"resources": {"requests": {"cpu": "10m", "memory": "40M"}}},
                {"name": "no-requests"}
            ],
            "initContainers": [{"resources": {"requests": {"cpu": "1", "memory": "1Mi"}}}]
        }});
        let r = pod_requests(&pod);
        assert_eq!(r.cpu_millis, 1000.0);
        assert_eq!(r.memory_bytes, 352.0 * MIB + 40e6);
    }
}
