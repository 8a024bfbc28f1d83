//! `expose`: a Service in front of a VirtualMachineInstance, VirtualMachine or
//! VirtualMachineInstanceReplicaSet, as upstream's `pkg/virtctl/expose`.
//!
//! The selector is `vmi.kubevirt.io/id: <id of the name>` for a VMI or VM, the replica set's
//! `matchLabels` for a replica set. The ports are `--port`, else the ports declared on the
//! interface of the pod network. The Service is owned by the exposed object (controller,
//! `blockOwnerDeletion: false`). An empty target port and protocol are sent as the API server's
//! defaulting would fill them (the port number, TCP), so that servers without Service
//! defaulting store the same object.

use serde_json::{Map, Value, json};
use sha1::{Digest, Sha1};

use super::{CommandError, Ctx};
use crate::cli::ExposeArgs;

/// Longest label value (DNS-1035 label).
const LABEL_MAX: usize = 63;

/// The `vmi.kubevirt.io/id` label value of a VMI name: the name, or for names longer than 63
/// characters its first 54 characters, `-` and 8 hex digits of its SHA-1.
pub fn vmi_id(name: &str) -> String {
    if name.len() <= LABEL_MAX {
        return name.to_owned();
    }
    let digest = Sha1::digest(name.as_bytes());
    let hex: String = digest.iter().take(4).map(|b| format!("{b:02x}")).collect();
    format!("{}-{hex}", &name[..LABEL_MAX - 8 - 1])
}

/// The validated flags.
#[derive(Debug, Clone, PartialEq)]
pub struct ServiceFlags {
    pub protocol: &'static str,
    pub service_type: &'static str,
    pub ip_families: Vec<&'static str>,
    pub ip_family_policy: Option<&'static str>,
    /// `--target-port` as Kubernetes' `intstr.Parse` reads it.
    pub target_port: Value,
}

/// Checks and converts the flags (case-insensitively, as upstream).
pub fn parse_flags(a: &ExposeArgs) -> Result<ServiceFlags, CommandError> {
    let protocol = match a.protocol.to_lowercase().as_str() {
        "tcp" => "TCP",
        "udp" => "UDP",
        _ => {
            return Err(CommandError::failed(format!(
                "unknown protocol: {}",
                a.protocol
            )));
        }
    };
    let service_type = match a.service_type.to_lowercase().as_str() {
        "clusterip" => "ClusterIP",
        "nodeport" => "NodePort",
        "loadbalancer" => "LoadBalancer",
        "externalname" => {
            return Err(CommandError::failed(format!(
                "type: {} not supported",
                a.service_type
            )));
        }
        _ => {
            return Err(CommandError::failed(format!(
                "unknown service type: {}",
                a.service_type
            )));
        }
    };
    let ip_families = match a.ip_family.to_lowercase().as_str() {
        "" => vec![],
        "ipv4" => vec!["IPv4"],
        "ipv6" => vec!["IPv6"],
        "ipv4,ipv6" => vec!["IPv4", "IPv6"],
        "ipv6,ipv4" => vec!["IPv6", "IPv4"],
        _ => {
            return Err(CommandError::failed(format!(
                "unknown IPFamily/s: {}",
                a.ip_family
            )));
        }
    };
    let ip_family_policy = match a.ip_family_policy.to_lowercase().as_str() {
        "" => (ip_families.len() > 1).then_some("PreferDualStack"),
        "singlestack" => Some("SingleStack"),
        "preferdualstack" => Some("PreferDualStack"),
        "requiredualstack" => Some("RequireDualStack"),
        _ => {
            return Err(CommandError::failed(format!(
                "unknown IPFamilyPolicy/s: {}",
                a.ip_family_policy
            )));
        }
    };
    let target_port = match a.target_port.parse::<i32>() {
        Ok(n) => json!(n),
        Err(_) => json!(a.target_port),
    };
    Ok(ServiceFlags {
        protocol,
        service_type,
        ip_families,
        ip_family_policy,
        target_port,
    })
}

/// The kinds `expose` accepts, with their plural and kind.
pub fn resource_kind(kind: &str) -> Option<(&'static str, &'static str, &'static str)> {
    match kind {
        "vmi" | "vmis" | "virtualmachineinstance" | "virtualmachineinstances" => Some((
            "virtualmachineinstances",
            "VirtualMachineInstance",
            "VirtualMachineInstance",
        )),
        "vm" | "vms" | "virtualmachine" | "virtualmachines" => {
            Some(("virtualmachines", "VirtualMachine", "VirtualMachine"))
        }
        "vmirs"
        | "vmirss"
        | "virtualmachineinstancereplicaset"
        | "virtualmachineinstancereplicasets" => Some((
            "virtualmachineinstancereplicasets",
            "VirtualMachineInstanceReplicaSet",
            "VirtualMachineInstanceReplicaSet",
        )),
        _ => None,
    }
}

/// The ports declared on the interface attached to the pod network of a VMI spec.
pub fn pod_network_ports(spec: &Value) -> Option<Vec<Value>> {
    let network = spec
        .get("networks")?
        .as_array()?
        .iter()
        .find(|n| n.get("pod").is_some())?
        .get("name")?
        .as_str()?;
    let interface = spec
        .pointer("/domain/devices/interfaces")?
        .as_array()?
        .iter()
        .find(|i| i.get("name").and_then(Value::as_str) == Some(network))?;
    let ports = interface
        .get("ports")
        .and_then(Value::as_array)
        .map(|ports| {
            ports
                .iter()
                .enumerate()
                .map(|(i, p)| {
                    let mut port = Map::new();
                    port.insert("name".into(), json!(format!("port-{}", i + 1)));
                    let protocol = p
                        .get("protocol")
                        .and_then(Value::as_str)
                        .filter(|s| !s.is_empty())
                        .unwrap_or("TCP");
                    port.insert("protocol".into(), json!(protocol));
                    let number = p.get("port").cloned().unwrap_or(json!(0));
                    port.insert("port".into(), number.clone());
                    port.insert("targetPort".into(), number);
                    Value::Object(port)
                })
                .collect()
        })
        .unwrap_or_default();
    Some(ports)
}

/// What the Service is built from.
#[derive(Debug, Clone, PartialEq)]
pub struct ResourceInfo {
    pub selector: Value,
    pub ports: Vec<Value>,
    pub owner: Value,
}

/// Selector, ports and owner reference of an exposed object.
pub fn resource_info(
    kind: &str,
    object: &Value,
    a: &ExposeArgs,
    flags: &ServiceFlags,
) -> Result<ResourceInfo, CommandError> {
    let (_, object_kind, _) = resource_kind(kind)
        .ok_or_else(|| CommandError::failed(format!("unsupported resource type: {kind}")))?;
    let name = object
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let (selector, ports) = match object_kind {
        "VirtualMachineInstance" => (
            json!({"vmi.kubevirt.io/id": vmi_id(name)}),
            object.get("spec").and_then(pod_network_ports),
        ),
        "VirtualMachine" => (
            json!({"vmi.kubevirt.io/id": vmi_id(name)}),
            object
                .pointer("/spec/template/spec")
                .and_then(pod_network_ports),
        ),
        _ => {
            let ports = object
                .pointer("/spec/template/spec")
                .and_then(pod_network_ports);
            let labels = object
                .pointer("/spec/selector/matchLabels")
                .and_then(Value::as_object)
                .filter(|m| !m.is_empty())
                .ok_or_else(|| {
                    CommandError::failed(
                        "cannot expose VirtualMachineInstanceReplicaSet without any selector labels",
                    )
                })?;
            if object
                .pointer("/spec/selector/matchExpressions")
                .and_then(Value::as_array)
                .is_some_and(|e| !e.is_empty())
            {
                return Err(CommandError::failed(
                    "cannot expose VirtualMachineInstanceReplicaSet with match expressions",
                ));
            }
            (Value::Object(labels.clone()), ports)
        }
    };
    let ports = if a.port != 0 {
        let mut port = Map::new();
        if !a.port_name.is_empty() {
            port.insert("name".into(), json!(a.port_name));
        }
        port.insert("protocol".into(), json!(flags.protocol));
        port.insert("port".into(), json!(a.port));
        let target = match &flags.target_port {
            Value::String(s) if s.is_empty() => json!(a.port),
            Value::Number(n) if n.as_i64() == Some(0) => json!(a.port),
            other => other.clone(),
        };
        port.insert("targetPort".into(), target);
        vec![Value::Object(port)]
    } else {
        ports.unwrap_or_default()
    };
    if ports.is_empty() {
        return Err(CommandError::failed(
            "couldn't find port via --port flag or introspection",
        ));
    }
    let owner = json!({
        "apiVersion": object.get("apiVersion").and_then(Value::as_str).unwrap_or("kubevirt.io/v1"),
        "kind": object_kind,
        "name": name,
        "uid": object.pointer("/metadata/uid").cloned().unwrap_or(json!("")),
        "controller": true,
        "blockOwnerDeletion": false,
    });
    Ok(ResourceInfo {
        selector,
        ports,
        owner,
    })
}

/// The Service to create.
pub fn service(
    name: &str,
    namespace: &str,
    info: &ResourceInfo,
    a: &ExposeArgs,
    flags: &ServiceFlags,
) -> Value {
    let mut spec = Map::new();
    spec.insert("ports".into(), json!(info.ports));
    spec.insert("selector".into(), info.selector.clone());
    if !a.cluster_ip.is_empty() {
        spec.insert("clusterIP".into(), json!(a.cluster_ip));
    }
    spec.insert("type".into(), json!(flags.service_type));
    if !flags.ip_families.is_empty() {
        spec.insert("ipFamilies".into(), json!(flags.ip_families));
    }
    if !a.external_ip.is_empty() {
        spec.insert("externalIPs".into(), json!([a.external_ip]));
    }
    if let Some(policy) = flags.ip_family_policy {
        spec.insert("ipFamilyPolicy".into(), json!(policy));
    }
    json!({
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "ownerReferences": [info.owner],
        },
        "spec": spec,
    })
}

pub async fn run(ctx: &Ctx, a: ExposeArgs) -> Result<(), CommandError> {
    let kind = a.args[0].to_lowercase();
    let name = a.args[1].clone();
    let flags = parse_flags(&a)?;
    let conn = ctx
        .connect()
        .await
        .map_err(|e| CommandError::failed(format!("cannot obtain KubeVirt client: {e}")))?;
    let (plural, _, what) = resource_kind(&kind)
        .ok_or_else(|| CommandError::failed(format!("unsupported resource type: {kind}")))?;
    let object: Value = conn
        .client
        .get_kubevirt(&conn.namespace, plural, &name)
        .await
        .map_err(|e| CommandError::failed(format!("error fetching {what}: {e}")))?;
    let info = resource_info(&kind, &object, &a, &flags)?;
    let body = service(&a.name, &conn.namespace, &info, &a, &flags);
    conn.client
        .create_service(&conn.namespace, &body)
        .await
        .map_err(|e| CommandError::failed(format!("service creation failed: {e}")))?;
    println!("Service {} successfully created for {kind} {name}", a.name);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(extra: &[(&str, &str)]) -> ExposeArgs {
        let mut a = ExposeArgs {
            args: vec![],
            name: "s".into(),
            cluster_ip: String::new(),
            external_ip: String::new(),
            port: 0,
            protocol: "TCP".into(),
            target_port: String::new(),
            service_type: "ClusterIP".into(),
            port_name: String::new(),
            ip_family: String::new(),
            ip_family_policy: String::new(),
        };
        for (k, v) in extra {
            match *k {
                "port" => a.port = v.parse().unwrap(),
                "type" => a.service_type = (*v).into(),
                "target-port" => a.target_port = (*v).into(),
                "protocol" => a.protocol = (*v).into(),
                "ip-family" => a.ip_family = (*v).into(),
                "ip-family-policy" => a.ip_family_policy = (*v).into(),
                "external-ip" => a.external_ip = (*v).into(),
                _ => panic!("{k}"),
            }
        }
        a
    }

    fn vmi() -> Value {
        json!({
            "apiVersion": "kubevirt.io/v1", "kind": "VirtualMachineInstance",
            "metadata": {"name": "v", "uid": "u-1"},
            "spec": {
                "domain": {"devices": {"interfaces": [
                    {"name": "default", "masquerade": {}, "ports": [{"port": 80}, {"port": 53, "protocol": "UDP"}]}
                ]}},
                "networks": [{"name": "default", "pod": {}}]
            }
        })
    }

    #[test]
    fn node_port_service_for_a_vmi_selects_its_id_and_is_owned_by_it() {
        let a = args(&[("port", "22"), ("type", "NodePort")]);
        let flags = parse_flags(&a).unwrap();
        let info = resource_info("vmi", &vmi(), &a, &flags).unwrap();
        let svc = service("s", "default", &info, &a, &flags);
        assert_eq!(svc["spec"]["selector"], json!({"vmi.kubevirt.io/id": "v"}));
        assert_eq!(svc["spec"]["type"], "NodePort");
        assert_eq!(
            svc["spec"]["ports"],
            json!([{"protocol": "TCP", "port": 22, "targetPort": 22}])
        );
        assert_eq!(
            svc["metadata"]["ownerReferences"],
            json!([{"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachineInstance", "name": "v",
                    "uid": "u-1", "controller": true, "blockOwnerDeletion": false}])
        );
        assert!(svc["spec"].get("clusterIP").is_none());
    }

    #[test]
    fn ports_come_from_the_pod_network_interface() {
        let a = args(&[]);
        let flags = parse_flags(&a).unwrap();
        let info = resource_info("vmi", &vmi(), &a, &flags).unwrap();
        assert_eq!(
            json!(info.ports),
            json!([
                {"name": "port-1", "protocol": "TCP", "port": 80, "targetPort": 80},
                {"name": "port-2", "protocol": "UDP", "port": 53, "targetPort": 53}
            ])
        );
        let bare = json!({"metadata": {"name": "v"}, "spec": {"domain": {"devices": {}}}});
        assert_eq!(
            resource_info("vmi", &bare, &a, &flags)
                .unwrap_err()
                .to_string(),
            "couldn't find port via --port flag or introspection"
        );
    }

    #[test]
    fn named_target_ports_stay_names() {
        let a = args(&[("port", "80"), ("target-port", "http")]);
        let flags = parse_flags(&a).unwrap();
        let info = resource_info("vm", &json!({"metadata": {"name": "vm1"}}), &a, &flags).unwrap();
        assert_eq!(info.ports[0]["targetPort"], "http");
        assert_eq!(info.owner["kind"], "VirtualMachine");
    }

    #[test]
    fn replica_sets_need_plain_match_labels() {
        let a = args(&[("port", "80")]);
        let flags = parse_flags(&a).unwrap();
        let rs = json!({"metadata": {"name": "rs"}, "spec": {"selector": {"matchLabels": {"app": "x"}}}});
        let info = resource_info("vmirs", &rs, &a, &flags).unwrap();
        assert_eq!(info.selector, json!({"app": "x"}));
        let exprs = json!({"metadata": {"name": "rs"}, "spec": {"selector": {
            "matchLabels": {"app": "x"},
            "matchExpressions": [{"key": "a", "operator": "Exists"}]}}});
        assert_eq!(
            resource_info("vmirs", &exprs, &a, &flags)
                .unwrap_err()
                .to_string(),
            "cannot expose VirtualMachineInstanceReplicaSet with match expressions"
        );
        let none = json!({"metadata": {"name": "rs"}, "spec": {"selector": {}}});
        assert_eq!(
            resource_info("vmirs", &none, &a, &flags)
                .unwrap_err()
                .to_string(),
            "cannot expose VirtualMachineInstanceReplicaSet without any selector labels"
        );
    }

    #[test]
    fn flag_values_are_checked_case_insensitively() {
        let ok = parse_flags(&args(&[
            ("protocol", "udp"),
            ("type", "loadbalancer"),
            ("ip-family", "ipv4,ipv6"),
        ]))
        .unwrap();
        assert_eq!((ok.protocol, ok.service_type), ("UDP", "LoadBalancer"));
        assert_eq!(ok.ip_families, ["IPv4", "IPv6"]);
        assert_eq!(ok.ip_family_policy, Some("PreferDualStack"));
        let err = |a: ExposeArgs| parse_flags(&a).unwrap_err().to_string();
        assert_eq!(err(args(&[("protocol", "sctp")])), "unknown protocol: sctp");
        assert_eq!(
            err(args(&[("type", "ExternalName")])),
            "type: ExternalName not supported"
        );
        assert_eq!(
            err(args(&[("type", "Bogus")])),
            "unknown service type: Bogus"
        );
        assert_eq!(err(args(&[("ip-family", "v5")])), "unknown IPFamily/s: v5");
        assert_eq!(
            err(args(&[("ip-family-policy", "x")])),
            "unknown IPFamilyPolicy/s: x"
        );
    }

    #[test]
    fn long_names_are_truncated_and_hashed() {
        let long = "a".repeat(70);
        let id = vmi_id(&long);
        assert_eq!(id.len(), 63);
        assert!(id.starts_with(&"a".repeat(54)));
        assert_eq!(vmi_id("short"), "short");
    }
}
