//! core/v1 kinds other than pods and events: namespaces, services, nodes, config maps,
//! secrets, persistent volume claims, service accounts and endpoints.

use std::sync::Arc;

use k8s_openapi::api::core::v1 as core;
use serde_json::{Value, json};

use super::schema::structural;
use super::{Builtin, age_cell, age_column, array_at, column, map_len, or_none, str_at};
use crate::registry::{PrinterColumn, ResourceDef, TableRenderer};

/// A renderer from a column list and a cell function.
pub(crate) struct Table {
    columns: fn() -> Vec<PrinterColumn>,
    cells: fn(&Value) -> Vec<Value>,
}

impl Table {
    pub(crate) fn new(
        columns: fn() -> Vec<PrinterColumn>,
        cells: fn(&Value) -> Vec<Value>,
    ) -> Arc<Self> {
        Arc::new(Table { columns, cells })
    }
}

impl TableRenderer for Table {
    fn columns(&self) -> Vec<PrinterColumn> {
        (self.columns)()
    }

    fn cells(&self, object: &Value) -> Vec<Value> {
        (self.cells)(object)
    }
}

pub fn namespaces() -> ResourceDef {
    Builtin {
        group: "",
        version: "v1",
        kind: "Namespace",
        plural: "namespaces",
        short_names: &["ns"],
        categories: &[],
        namespaced: false,
        status_subresource: true,
        selectable: &["status.phase"],
        schema: structural::<core::Namespace>(),
        table: Table::new(
            || {
                vec![
                    column("Status", "string", 0, "The status of the namespace"),
                    age_column(),
                ]
            },
            |o| vec![json!(str_at(o, "/status/phase")), age_cell(o)],
        ),
    }
    .build()
}

pub fn services() -> ResourceDef {
    Builtin {
        group: "",
        version: "v1",
        kind: "Service",
        plural: "services",
        short_names: &["svc"],
        categories: &["all"],
        namespaced: true,
        status_subresource: true,
        selectable: &[],
        schema: structural::<core::Service>(),
        table: Table::new(service_columns, service_cells),
    }
    .build()
}

fn service_columns() -> Vec<PrinterColumn> {
    vec![
        column("Type", "string", 0, "The type of the service"),
        column("Cluster-IP", "string", 0, "The cluster IP of the service"),
        column("External-IP", "string", 0, "The external IP of the service"),
        column("Port(s)", "string", 0, "The ports of the service"),
        age_column(),
        column("Selector", "string", 1, "The label selector of the service"),
    ]
}

fn service_cells(o: &Value) -> Vec<Value> {
    let type_ = match str_at(o, "/spec/type") {
        "" => "ClusterIP",
        t => t,
    };
    let cluster_ip = match array_at(o, "/spec/clusterIPs")
        .first()
        .and_then(Value::as_str)
    {
        Some(ip) => ip.to_string(),
        None => or_none(str_at(o, "/spec/clusterIP")),
    };
    let ports: Vec<String> = array_at(o, "/spec/ports")
        .iter()
        .map(|p| {
            let port = p.get("port").and_then(Value::as_i64).unwrap_or(0);
            let protocol = p.get("protocol").and_then(Value::as_str).unwrap_or("TCP");
            match p.get("nodePort").and_then(Value::as_i64) {
                Some(node_port) if node_port > 0 => format!("{port}:{node_port}/{protocol}"),
                _ => format!("{port}/{protocol}"),
            }
        })
        .collect();
    vec![
        json!(type_),
        json!(cluster_ip),
        json!(service_external_ip(o, type_)),
        json!(or_none(&ports.join(","))),
        age_cell(o),
        json!(format_labels(o.pointer("/spec/selector"))),
    ]
}

fn service_external_ip(o: &Value, type_: &str) -> String {
    let external: Vec<&str> = array_at(o, "/spec/externalIPs")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    match type_ {
        "ClusterIP" | "NodePort" => or_none(&external.join(",")),
        "LoadBalancer" => {
            let mut ips: Vec<&str> = array_at(o, "/status/loadBalancer/ingress")
                .iter()
                .map(|i| match str_at(i, "/ip") {
                    "" => str_at(i, "/hostname"),
                    ip => ip,
                })
                .filter(|s| !s.is_empty())
                .collect();
            ips.extend(external);
            if ips.is_empty() {
                "<pending>".into()
            } else {
                ips.join(",")
            }
        }
        "ExternalName" => str_at(o, "/spec/externalName").into(),
        _ => "<unknown>".into(),
    }
}

/// `k=v,k2=v2` with keys sorted, or `<none>`.
fn format_labels(map: Option<&Value>) -> String {
    let mut pairs: Vec<String> = map
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("")))
        .collect();
    pairs.sort();
    or_none(&pairs.join(","))
}

pub fn nodes() -> ResourceDef {
    Builtin {
        group: "",
        version: "v1",
        kind: "Node",
        plural: "nodes",
        short_names: &["no"],
        categories: &[],
        namespaced: false,
        status_subresource: true,
        selectable: &["spec.unschedulable"],
        schema: structural::<core::Node>(),
        table: Table::new(node_columns, node_cells),
    }
    .build()
}

fn node_columns() -> Vec<PrinterColumn> {
    vec![
        column("Status", "string", 0, "The status of the node"),
        column("Roles", "string", 0, "The roles of the node"),
        age_column(),
        column(
            "Version",
            "string",
            0,
            "Kubelet Version reported by the node.",
        ),
        column(
            "Internal-IP",
            "string",
            1,
            "List of addresses reachable to the node.",
        ),
        column(
            "External-IP",
            "string",
            1,
            "List of addresses reachable to the node.",
        ),
        column("OS-Image", "string", 1, "OS Image reported by the node."),
        column(
            "Kernel-Version",
            "string",
            1,
            "Kernel Version reported by the node.",
        ),
        column(
            "Container-Runtime",
            "string",
            1,
            "Container Runtime Version reported by the node.",
        ),
    ]
}

fn node_cells(o: &Value) -> Vec<Value> {
    let mut status: Vec<String> = array_at(o, "/status/conditions")
        .iter()
        .filter(|c| str_at(c, "/type") == "Ready")
        .take(1)
        .map(|c| {
            if str_at(c, "/status") == "True" {
                "Ready".into()
            } else {
                "NotReady".into()
            }
        })
        .collect();
    if status.is_empty() {
        status.push("Unknown".into());
    }
    if o.pointer("/spec/unschedulable").and_then(Value::as_bool) == Some(true) {
        status.push("SchedulingDisabled".into());
    }
    let mut roles: Vec<String> = o
        .pointer("/metadata/labels")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .filter_map(|(k, v)| {
            if let Some(role) = k.strip_prefix("node-role.kubernetes.io/") {
                (!role.is_empty()).then(|| role.to_string())
            } else if k == "kubernetes.io/role" {
                v.as_str().filter(|s| !s.is_empty()).map(String::from)
            } else {
                None
            }
        })
        .collect();
    roles.sort();
    roles.dedup();
    let address = |kind: &str| {
        let found = array_at(o, "/status/addresses")
            .iter()
            .find(|a| str_at(a, "/type") == kind);
        or_none(found.map_or("", |a| str_at(a, "/address")))
    };
    let info = |field: &str| match str_at(o, &format!("/status/nodeInfo/{field}")) {
        "" => "<unknown>".to_string(),
        s => s.to_string(),
    };
    vec![
        json!(status.join(",")),
        json!(or_none(&roles.join(","))),
        age_cell(o),
        json!(str_at(o, "/status/nodeInfo/kubeletVersion")),
        json!(address("InternalIP")),
        json!(address("ExternalIP")),
        json!(info("osImage")),
        json!(info("kernelVersion")),
        json!(info("containerRuntimeVersion")),
    ]
}

pub fn config_maps() -> ResourceDef {
    Builtin {
        group: "",
        version: "v1",
        kind: "ConfigMap",
        plural: "configmaps",
        short_names: &["cm"],
        categories: &[],
        namespaced: true,
        status_subresource: false,
        selectable: &[],
        schema: structural::<core::ConfigMap>(),
        table: Table::new(
            || {
                vec![
                    column("Data", "string", 0, "Number of entries in the config map"),
                    age_column(),
                ]
            },
            |o| {
                vec![
                    json!(map_len(o, "/data") + map_len(o, "/binaryData")),
                    age_cell(o),
                ]
            },
        ),
    }
    .build()
}

pub fn secrets() -> ResourceDef {
    Builtin {
        group: "",
        version: "v1",
        kind: "Secret",
        plural: "secrets",
        short_names: &[],
        categories: &[],
        namespaced: true,
        status_subresource: false,
        selectable: &["type"],
        schema: structural::<core::Secret>(),
        table: Table::new(
            || {
                vec![
                    column("Type", "string", 0, "The type of the secret"),
                    column("Data", "string", 0, "Number of entries in the secret"),
                    age_column(),
                ]
            },
            |o| {
                let type_ = match str_at(o, "/type") {
                    "" => "Opaque",
                    t => t,
                };
                vec![json!(type_), json!(map_len(o, "/data")), age_cell(o)]
            },
        ),
    }
    .build()
}

pub fn persistent_volume_claims() -> ResourceDef {
    Builtin {
        group: "",
        version: "v1",
        kind: "PersistentVolumeClaim",
        plural: "persistentvolumeclaims",
        short_names: &["pvc"],
        categories: &[],
        namespaced: true,
        status_subresource: true,
        selectable: &[],
        schema: structural::<core::PersistentVolumeClaim>(),
        table: Table::new(pvc_columns, pvc_cells),
    }
    .build()
}

fn pvc_columns() -> Vec<PrinterColumn> {
    vec![
        column("Status", "string", 0, "The phase of the claim"),
        column("Volume", "string", 0, "The name of the bound volume"),
        column(
            "Capacity",
            "string",
            0,
            "The actual capacity of the bound volume",
        ),
        column(
            "Access Modes",
            "string",
            0,
            "The access modes of the bound volume",
        ),
        column(
            "StorageClass",
            "string",
            0,
            "The storage class of the claim",
        ),
        column(
            "VolumeAttributesClass",
            "string",
            0,
            "The volume attributes class of the claim",
        ),
        age_column(),
        column("VolumeMode", "string", 1, "The volume mode of the claim"),
    ]
}

fn pvc_cells(o: &Value) -> Vec<Value> {
    let phase = if o
        .pointer("/metadata/deletionTimestamp")
        .is_some_and(|t| !t.is_null())
    {
        "Terminating"
    } else {
        str_at(o, "/status/phase")
    };
    let volume = str_at(o, "/spec/volumeName");
    let (capacity, modes) = if volume.is_empty() {
        (String::new(), String::new())
    } else {
        let capacity = match o.pointer("/status/capacity/storage") {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Number(n)) => n.to_string(),
            _ => "0".into(),
        };
        (capacity, access_modes(array_at(o, "/status/accessModes")))
    };
    let class = match o.pointer("/metadata/annotations/volume.beta.kubernetes.io~1storage-class") {
        Some(Value::String(s)) => s.as_str(),
        _ => str_at(o, "/spec/storageClassName"),
    };
    let unset = |s: &str| {
        if s.is_empty() {
            "<unset>".to_string()
        } else {
            s.to_string()
        }
    };
    vec![
        json!(phase),
        json!(volume),
        json!(capacity),
        json!(modes),
        json!(class),
        json!(unset(str_at(o, "/spec/volumeAttributesClassName"))),
        age_cell(o),
        json!(unset(str_at(o, "/spec/volumeMode"))),
    ]
}

/// Access modes abbreviated and in the fixed order kubectl prints them.
fn access_modes(modes: &[Value]) -> String {
    let has = |m: &str| modes.iter().any(|x| x.as_str() == Some(m));
    [
        ("ReadWriteOnce", "RWO"),
        ("ReadOnlyMany", "ROX"),
        ("ReadWriteMany", "RWX"),
        ("ReadWriteOncePod", "RWOP"),
    ]
    .iter()
    .filter(|(long, _)| has(long))
    .map(|(_, short)| *short)
    .collect::<Vec<_>>()
    .join(",")
}

pub fn service_accounts() -> ResourceDef {
    Builtin {
        group: "",
        version: "v1",
        kind: "ServiceAccount",
        plural: "serviceaccounts",
        short_names: &["sa"],
        categories: &[],
        namespaced: true,
        status_subresource: false,
        selectable: &[],
        schema: structural::<core::ServiceAccount>(),
        table: Table::new(
            || {
                vec![
                    column("Secrets", "string", 0, "Number of secrets"),
                    age_column(),
                ]
            },
            |o| vec![json!(array_at(o, "/secrets").len()), age_cell(o)],
        ),
    }
    .build()
}

pub fn endpoints() -> ResourceDef {
    Builtin {
        group: "",
        version: "v1",
        kind: "Endpoints",
        plural: "endpoints",
        short_names: &["ep"],
        categories: &[],
        namespaced: true,
        status_subresource: false,
        selectable: &[],
        schema: structural::<core::Endpoints>(),
        table: Table::new(
            || {
                vec![
                    column("Endpoints", "string", 0, "Endpoints of the service"),
                    age_column(),
                ]
            },
            |o| vec![json!(format_endpoints(o)), age_cell(o)],
        ),
    }
    .build()
}

/// At most three `ip:port` entries, then ` + N more...`, as kubectl prints them.
fn format_endpoints(o: &Value) -> String {
    const MAX: usize = 3;
    let subsets = array_at(o, "/subsets");
    if subsets.is_empty() {
        return "<none>".into();
    }
    let mut list = Vec::new();
    let mut count = 0;
    for ss in subsets {
        let addresses = array_at(ss, "/addresses");
        let ports = array_at(ss, "/ports");
        if ports.is_empty() {
            count += addresses.len();
            list.extend(addresses.iter().map(|a| str_at(a, "/ip").to_string()));
            continue;
        }
        for port in ports {
            count += addresses.len();
            let p = port.get("port").and_then(Value::as_i64).unwrap_or(0);
            for a in addresses {
                let ip = str_at(a, "/ip");
                list.push(if ip.contains(':') {
                    format!("[{ip}]:{p}")
                } else {
                    format!("{ip}:{p}")
                });
            }
        }
    }
    if list.len() > MAX {
        list.truncate(MAX);
        format!("{} + {} more...", list.join(","), count - MAX)
    } else {
        list.join(",")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cells(def: &ResourceDef, o: &Value) -> Vec<Value> {
        let table = def.table.as_ref().unwrap();
        let cells = table.cells(o);
        assert_eq!(cells.len(), table.columns().len());
        cells
    }

    fn names(def: &ResourceDef) -> Vec<String> {
        def.table
            .as_ref()
            .unwrap()
            .columns()
            .into_iter()
            .filter(|c| c.priority == 0)
            .map(|c| c.name)
            .collect()
    }

    #[test]
    fn namespace_row_shows_phase_and_age() {
        let ns = json!({"metadata": {"name": "default", "creationTimestamp": "2025-01-01T00:00:00Z"},
                        "status": {"phase": "Active"}});
        let def = namespaces();
        assert_eq!(names(&def), vec!["Status", "Age"]);
        assert_eq!(
            cells(&def, &ns),
            vec![json!("Active"), json!("2025-01-01T00:00:00Z")]
        );
        assert_eq!(def.table.unwrap().columns()[1].type_, "date");
    }

    #[test]
    fn service_row_formats_ports_and_external_ips() {
        let def = services();
        assert_eq!(
            names(&def),
            vec!["Type", "Cluster-IP", "External-IP", "Port(s)", "Age"]
        );
        let svc = json!({"spec": {"type": "NodePort", "clusterIP": "10.0.0.1", "clusterIPs": ["10.0.0.1"],
            "ports": [{"port": 80, "nodePort": 30080, "protocol": "TCP"}, {"port": 53, "protocol": "UDP"}],
            "selector": {"b": "2", "a": "1"}}});
        let c = cells(&def, &svc);
        assert_eq!(c[0], json!("NodePort"));
        assert_eq!(c[1], json!("10.0.0.1"));
        assert_eq!(c[2], json!("<none>"));
        assert_eq!(c[3], json!("80:30080/TCP,53/UDP"));
        assert_eq!(c[4], Value::Null);
        assert_eq!(c[5], json!("a=1,b=2"));
        let mut lb = json!({"spec": {"type": "LoadBalancer", "clusterIPs": ["10.0.0.2"]}});
        assert_eq!(cells(&def, &lb)[2], json!("<pending>"));
        lb["status"] = json!({"loadBalancer": {"ingress": [
            {"ip": "192.0.2.1", "hostname": "lb.example.com"}, {"hostname": "lb2.example.com"}]}});
        assert_eq!(cells(&def, &lb)[2], json!("192.0.2.1,lb2.example.com"));
        let headless = json!({"spec": {"clusterIP": "None", "clusterIPs": ["None"]}});
        assert_eq!(
            cells(&def, &headless)[..4],
            [
                json!("ClusterIP"),
                json!("None"),
                json!("<none>"),
                json!("<none>")
            ]
        );
    }

    #[test]
    fn node_row_shows_readiness_roles_and_version() {
        let def = nodes();
        assert_eq!(names(&def), vec!["Status", "Roles", "Age", "Version"]);
        let node = json!({"metadata": {"labels": {"node-role.kubernetes.io/control-plane": "",
                                                  "node-role.kubernetes.io/worker": "", "x": "y"}},
            "spec": {"unschedulable": true},
            "status": {"conditions": [{"type": "MemoryPressure", "status": "False"},
                                      {"type": "Ready", "status": "True"}],
                       "addresses": [{"type": "InternalIP", "address": "192.168.0.2"}],
                       "nodeInfo": {"kubeletVersion": "v1.33.0", "osImage": "Debian"}}});
        let c = cells(&def, &node);
        assert_eq!(c[0], json!("Ready,SchedulingDisabled"));
        assert_eq!(c[1], json!("control-plane,worker"));
        assert_eq!(c[3], json!("v1.33.0"));
        assert_eq!(
            c[4..],
            [
                json!("192.168.0.2"),
                json!("<none>"),
                json!("Debian"),
                json!("<unknown>"),
                json!("<unknown>")
            ]
        );
        let bare = json!({"status": {"conditions": [{"type": "Ready", "status": "Unknown"}]}});
        assert_eq!(
            cells(&def, &bare)[..2],
            [json!("NotReady"), json!("<none>")]
        );
        assert_eq!(cells(&def, &json!({}))[0], json!("Unknown"));
    }

    #[test]
    fn config_map_and_secret_rows_count_entries() {
        let cm = json!({"data": {"a": "1", "b": "2"}, "binaryData": {"c": "AA=="}});
        assert_eq!(names(&config_maps()), vec!["Data", "Age"]);
        assert_eq!(cells(&config_maps(), &cm)[0], json!(3));
        let secret = json!({"type": "kubernetes.io/tls", "data": {"tls.crt": "", "tls.key": ""}});
        assert_eq!(names(&secrets()), vec!["Type", "Data", "Age"]);
        assert_eq!(
            cells(&secrets(), &secret)[..2],
            [json!("kubernetes.io/tls"), json!(2)]
        );
        assert_eq!(
            cells(&secrets(), &json!({}))[..2],
            [json!("Opaque"), json!(0)]
        );
    }

    #[test]
    fn pvc_row_shows_capacity_only_once_bound() {
        let def = persistent_volume_claims();
        assert_eq!(
            names(&def),
            vec![
                "Status",
                "Volume",
                "Capacity",
                "Access Modes",
                "StorageClass",
                "VolumeAttributesClass",
                "Age"
            ]
        );
        let pending = json!({"spec": {"storageClassName": "local", "resources": {"requests": {"storage": "1Gi"}}},
                             "status": {"phase": "Pending"}});
        assert_eq!(
            cells(&def, &pending)[..6],
            [
                json!("Pending"),
                json!(""),
                json!(""),
                json!(""),
                json!("local"),
                json!("<unset>")
            ]
        );
        let bound = json!({"spec": {"volumeName": "pv1", "storageClassName": "local", "volumeMode": "Block"},
            "status": {"phase": "Bound", "capacity": {"storage": "2Gi"},
                       "accessModes": ["ReadWriteMany", "ReadWriteOnce"]}});
        let c = cells(&def, &bound);
        assert_eq!(
            c[..5],
            [
                json!("Bound"),
                json!("pv1"),
                json!("2Gi"),
                json!("RWO,RWX"),
                json!("local")
            ]
        );
        assert_eq!(c[7], json!("Block"));
    }

    #[test]
    fn endpoints_row_lists_three_addresses_then_a_count() {
        let ep = json!({"subsets": [{"addresses": [{"ip": "10.1.0.1"}, {"ip": "10.1.0.2"}, {"ip": "10.1.0.3"}, {"ip": "10.1.0.4"}],
                                     "ports": [{"port": 8080}]}]});
        assert_eq!(
            format_endpoints(&ep),
            "10.1.0.1:8080,10.1.0.2:8080,10.1.0.3:8080 + 1 more..."
        );
        assert_eq!(format_endpoints(&json!({})), "<none>");
    }

    #[test]
    fn service_account_row_counts_secrets() {
        let sa = json!({"secrets": [{"name": "a"}]});
        assert_eq!(cells(&service_accounts(), &sa)[0], json!(1));
    }
}
