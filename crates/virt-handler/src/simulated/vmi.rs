//! The virt-handler role: the VMI status a domain implies (phase, interfaces, guest OS
//! information, conditions, machine, CPU topology and memory) and the events of phase changes.

use api::keys::{condition_status, vmi_condition};
use api::{
    CpuTopology, Machine, MemoryStatus, VirtualMachineInstance, VirtualMachineInstanceCondition,
    VirtualMachineInstanceGuestOsInfo, VirtualMachineInstanceNetworkInterface,
    VirtualMachineInstancePhase, VirtualMachineInstancePhaseTransitionTimestamp,
    VirtualMachineInstanceStatus,
};
use jiff::Timestamp;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use serde_json::{Map, Value, json};

use super::actions::{EVENT_CRASHED, EVENT_SHUT_DOWN, EVENT_STARTED, EventSpec, stable_hash};
use super::domain::Domain;

/// Machine type reported for `q35` (or no machine type): what the alias resolves to.
pub const RESOLVED_Q35: &str = "pc-q35-rhel9.6.0";
/// Reason of LiveMigratable=False for a bridge on the pod network.
pub const REASON_INTERFACE_NOT_MIGRATABLE: &str = "InterfaceNotLiveMigratable";
/// Message of LiveMigratable=False for a bridge on the pod network.
pub const MESSAGE_INTERFACE_NOT_MIGRATABLE: &str = "cannot migrate VMI which does not use masquerade, bridge with kubevirt.io/allow-pod-bridge-network-live-migration VM annotation or a migratable plugin to connect to the pod network";
/// Annotation allowing a bridge on the pod network to migrate.
pub const ALLOW_POD_BRIDGE_MIGRATION_ANNOTATION: &str =
    "kubevirt.io/allow-pod-bridge-network-live-migration";

/// A status write and the events to report once it is applied.
#[derive(Clone, Debug, PartialEq)]
pub struct StatusUpdate {
    /// The changed top-level status fields (`null` for removed ones).
    pub status: Map<String, Value>,
    pub events: Vec<EventSpec>,
}

impl StatusUpdate {
    /// The merge patch, with `resource_version` as a precondition.
    pub fn body(&self, resource_version: &str) -> Value {
        json!({"metadata": {"resourceVersion": resource_version}, "status": self.status})
    }
}

/// What the guest agent of every simulated guest reports.
pub fn guest_os_info() -> VirtualMachineInstanceGuestOsInfo {
    VirtualMachineInstanceGuestOsInfo {
        name: Some("Fedora Linux".into()),
        kernel_release: Some("6.11.4-301.fc41.x86_64".into()),
        version: Some("41 (Cloud Edition)".into()),
        pretty_name: Some("Fedora Linux 41 (Cloud Edition)".into()),
        version_id: Some("41".into()),
        kernel_version: Some("#1 SMP PREEMPT_DYNAMIC Sun Oct 20 15:02:33 UTC 2024".into()),
        machine: Some("x86_64".into()),
        id: Some("fedora".into()),
    }
}

fn time(now: Timestamp) -> Time {
    Time(Timestamp::from_second(now.as_second()).unwrap_or(now))
}

/// Sets a condition; an existing one is only replaced when its status or reason changes.
pub fn set_condition(
    conditions: &mut Vec<VirtualMachineInstanceCondition>,
    wanted: VirtualMachineInstanceCondition,
) {
    match conditions.iter_mut().find(|c| c.type_ == wanted.type_) {
        Some(c) if c.status == wanted.status && c.reason == wanted.reason => {}
        Some(c) => *c = wanted,
        None => conditions.push(wanted),
    }
}

/// Removes the condition of type `type_`.
pub fn remove_condition(conditions: &mut Vec<VirtualMachineInstanceCondition>, type_: &str) {
    conditions.retain(|c| c.type_ != type_);
}

fn condition(
    type_: &str,
    status: &str,
    reason: Option<&str>,
    message: Option<&str>,
    now: Timestamp,
) -> VirtualMachineInstanceCondition {
    VirtualMachineInstanceCondition {
        type_: type_.into(),
        status: status.into(),
        last_probe_time: None,
        last_transition_time: Some(time(now)),
        reason: reason.map(Into::into),
        message: message.map(Into::into),
    }
}

/// The Paused condition a user pause sets.
pub fn paused_condition(now: Timestamp) -> VirtualMachineInstanceCondition {
    condition(
        vmi_condition::PAUSED,
        condition_status::TRUE,
        Some(vmi_condition::REASON_PAUSED_BY_USER),
        Some(vmi_condition::MESSAGE_PAUSED_BY_USER),
        now,
    )
}

/// LiveMigratable as upstream decides it for the parts the simulation models: a bridge binding
/// on the pod network blocks migration unless the VMI allows it by annotation.
pub fn live_migratable(
    vmi: &VirtualMachineInstance,
    now: Timestamp,
) -> VirtualMachineInstanceCondition {
    let allowed = vmi
        .metadata
        .annotations
        .as_ref()
        .is_some_and(|a| a.contains_key(ALLOW_POD_BRIDGE_MIGRATION_ANNOTATION));
    let networks = vmi.spec.networks.as_deref().unwrap_or_default();
    let bridge_on_pod = vmi
        .spec
        .domain
        .devices
        .interfaces
        .iter()
        .flatten()
        .any(|i| {
            i.bridge.is_some() && networks.iter().any(|n| n.name == i.name && n.pod.is_some())
        });
    if bridge_on_pod && !allowed {
        condition(
            vmi_condition::LIVE_MIGRATABLE,
            condition_status::FALSE,
            Some(REASON_INTERFACE_NOT_MIGRATABLE),
            Some(MESSAGE_INTERFACE_NOT_MIGRATABLE),
            now,
        )
    } else {
        condition(
            vmi_condition::LIVE_MIGRATABLE,
            condition_status::TRUE,
            None,
            None,
            now,
        )
    }
}

/// The guest's interfaces: one per spec interface (or the auto-attached `default`), the pod
/// network ones carrying the pod IP.
pub fn interfaces(
    vmi: &VirtualMachineInstance,
    pod_ip: Option<&str>,
    agent: bool,
) -> Vec<VirtualMachineInstanceNetworkInterface> {
    let uid = vmi.metadata.uid.as_deref().unwrap_or_default();
    let devices = &vmi.spec.domain.devices;
    let networks = vmi.spec.networks.clone().unwrap_or_default();
    let mut specs: Vec<(String, Option<String>)> = devices
        .interfaces
        .iter()
        .flatten()
        .map(|i| (i.name.clone(), i.mac_address.clone()))
        .collect();
    if specs.is_empty() && devices.autoattach_pod_interface != Some(false) && networks.is_empty() {
        specs.push(("default".into(), None));
    }
    specs
        .into_iter()
        .enumerate()
        .map(|(i, (name, mac))| {
            let network = networks.iter().find(|n| n.name == name);
            let on_pod = network.map_or(name == "default", |n| n.pod.is_some());
            let multus = network.is_some_and(|n| n.multus.is_some());
            let ip = pod_ip.filter(|_| on_pod).map(str::to_string);
            let h = stable_hash(&[uid, &name]).to_be_bytes();
            let mac =
                mac.unwrap_or_else(|| format!("52:54:00:{:02x}:{:02x}:{:02x}", h[0], h[1], h[2]));
            let mut sources = vec!["domain"];
            if agent {
                sources.push("guest-agent");
            }
            if multus {
                sources.push("multus-status");
            }
            VirtualMachineInstanceNetworkInterface {
                ip_address: ip.clone(),
                ip_addresses: ip.map(|ip| vec![ip]),
                mac: Some(mac),
                name: Some(name),
                interface_name: agent.then(|| format!("eth{i}")),
                info_source: Some(sources.join(", ")),
                queue_count: Some(1),
                link_state: Some("up".into()),
                ..Default::default()
            }
        })
        .collect()
}

fn memory(vmi: &VirtualMachineInstance) -> Option<MemoryStatus> {
    let domain = &vmi.spec.domain;
    let guest = domain
        .memory
        .as_ref()
        .and_then(|m| m.guest.clone())
        .or_else(|| {
            domain
                .resources
                .as_ref()
                .and_then(|r| r.requests.as_ref())
                .and_then(|r| r.get("memory").cloned())
        })?;
    Some(MemoryStatus {
        guest_at_boot: Some(guest.clone()),
        guest_current: Some(guest.clone()),
        guest_requested: Some(guest),
        ..Default::default()
    })
}

fn cpu_topology(vmi: &VirtualMachineInstance) -> CpuTopology {
    let cpu = vmi.spec.domain.cpu.as_ref();
    CpuTopology {
        cores: Some(cpu.and_then(|c| c.cores).unwrap_or(1)),
        sockets: Some(cpu.and_then(|c| c.sockets).unwrap_or(1)),
        threads: Some(cpu.and_then(|c| c.threads).unwrap_or(1)),
    }
}

fn machine(vmi: &VirtualMachineInstance) -> Machine {
    let wanted = vmi
        .spec
        .domain
        .machine
        .as_ref()
        .and_then(|m| m.type_.clone());
    let resolved = match wanted.as_deref() {
        None | Some("") | Some("q35") => RESOLVED_Q35.to_string(),
        Some(other) => other.to_string(),
    };
    Machine {
        type_: Some(resolved),
    }
}

/// The status write that makes `vmi` reflect `domain`, or `None` when it already does (or the
/// VMI is final, which is never rewritten, or the guest is still booting).
pub fn status_update(
    vmi: &VirtualMachineInstance,
    pod_ip: Option<&str>,
    domain: &Domain,
    now: Timestamp,
) -> Option<StatusUpdate> {
    use VirtualMachineInstancePhase::*;
    let old_phase = vmi.phase();
    if old_phase.is_final() {
        return None;
    }
    let phase = domain.phase()?;
    let old = vmi.status.clone().unwrap_or_default();
    let mut status = old.clone();
    let mut conditions = status.conditions.take().unwrap_or_default();
    let agent = !domain.injection.no_guest_agent;
    let mut events = Vec::new();
    status.phase = Some(phase);
    if phase != old_phase {
        status
            .phase_transition_timestamps
            .get_or_insert_with(Vec::new)
            .push(VirtualMachineInstancePhaseTransitionTimestamp {
                phase: Some(phase),
                phase_transition_timestamp: Some(time(now)),
            });
        events.push(match phase {
            Running => EVENT_STARTED,
            Failed => EVENT_CRASHED,
            _ => EVENT_SHUT_DOWN,
        });
    }
    if phase == Running {
        set_condition(&mut conditions, live_migratable(vmi, now));
        if agent {
            set_condition(
                &mut conditions,
                condition(
                    vmi_condition::AGENT_CONNECTED,
                    condition_status::TRUE,
                    None,
                    None,
                    now,
                ),
            );
            status.guest_os_info = Some(guest_os_info());
        } else {
            remove_condition(&mut conditions, vmi_condition::AGENT_CONNECTED);
        }
        if domain.paused {
            set_condition(&mut conditions, paused_condition(now));
        } else {
            remove_condition(&mut conditions, vmi_condition::PAUSED);
        }
        status.interfaces = Some(interfaces(vmi, pod_ip, agent));
        status.machine = Some(machine(vmi));
        status.current_cpu_topology = Some(cpu_topology(vmi));
        if let Some(m) = memory(vmi) {
            status.memory = Some(m);
        }
    } else {
        remove_condition(&mut conditions, vmi_condition::AGENT_CONNECTED);
        remove_condition(&mut conditions, vmi_condition::PAUSED);
    }
    status.conditions = (!conditions.is_empty() || old.conditions.is_some()).then_some(conditions);
    let changed = status_diff(&old, &status);
    (!changed.is_empty()).then_some(StatusUpdate {
        status: changed,
        events,
    })
}

/// The top-level status fields that differ, with `null` for removed ones (a merge patch
/// body); shared by the node drivers.
pub(crate) fn status_diff(
    old: &VirtualMachineInstanceStatus,
    new: &VirtualMachineInstanceStatus,
) -> Map<String, Value> {
    let as_map = |s: &VirtualMachineInstanceStatus| match serde_json::to_value(s) {
        Ok(Value::Object(m)) => m,
        _ => Map::new(),
    };
    let (old, new) = (as_map(old), as_map(new));
    let mut out = Map::new();
    for (k, v) in &new {
        if old.get(k) != Some(v) {
            out.insert(k.clone(), v.clone());
        }
    }
    for k in old.keys() {
        if !new.contains_key(k) {
            out.insert(k.clone(), Value::Null);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::simulated::domain::{DomainState, ShutoffReason};
    use crate::simulated::injection::Injection;
    use VirtualMachineInstancePhase::*;
    use std::time::Duration;

    fn t(s: i64) -> Timestamp {
        Timestamp::from_second(1_700_000_000 + s).unwrap()
    }

    fn vmi(phase: VirtualMachineInstancePhase, spec: Value) -> VirtualMachineInstance {
        let mut v: VirtualMachineInstance = serde_json::from_value(json!({
            "apiVersion": "kubevirt.io/v1", "kind": "VirtualMachineInstance",
            "metadata": {"name": "v", "namespace": "ns", "uid": "uid-1"},
            "spec": {"domain": {"devices": {}}},
        }))
        .unwrap();
        let mut s = serde_json::to_value(&v.spec).unwrap();
        merge(&mut s, spec);
        v.spec = serde_json::from_value(s).unwrap();
        v.status = Some(VirtualMachineInstanceStatus {
            phase: Some(phase),
            node_name: Some("node01".into()),
            ..Default::default()
        });
        v
    }

    fn merge(base: &mut Value, patch: Value) {
        match (base, patch) {
            (Value::Object(b), Value::Object(p)) => {
                for (k, v) in p {
                    merge(b.entry(k).or_insert(Value::Null), v);
                }
            }
            (b, p) => *b = p,
        }
    }

    fn domain(state: DomainState, paused: bool, injection: Injection) -> Domain {
        Domain {
            vmi_uid: "uid-1".into(),
            namespace: "ns".into(),
            name: "v".into(),
            node: "node01".into(),
            pod_uid: "pod-1".into(),
            state,
            paused,
            acpi: true,
            injection,
            shutdown_delay: Duration::from_secs(1),
            shutdown: None,
        }
    }

    fn running(paused: bool) -> Domain {
        domain(
            DomainState::Running { since: t(0) },
            paused,
            Injection::default(),
        )
    }

    fn off(reason: ShutoffReason) -> Domain {
        domain(
            DomainState::Shutoff { reason, at: t(0) },
            false,
            Injection::default(),
        )
    }

    fn conditions(u: &StatusUpdate) -> Vec<(String, String, Option<String>)> {
        serde_json::from_value::<Vec<VirtualMachineInstanceCondition>>(
            u.status["conditions"].clone(),
        )
        .unwrap()
        .into_iter()
        .map(|c| (c.type_, c.status, c.reason))
        .collect()
    }

    #[test]
    fn phase_table() {
        type Case = (
            &'static str,
            VirtualMachineInstancePhase,
            Domain,
            Option<(&'static str, Vec<EventSpec>)>,
        );
        let cases: Vec<Case> = vec![
            (
                "booting guest writes nothing",
                Scheduled,
                domain(
                    DomainState::Starting { running_at: t(5) },
                    false,
                    Injection::default(),
                ),
                None,
            ),
            (
                "running guest makes the VMI Running",
                Scheduled,
                running(false),
                Some(("Running", vec![EVENT_STARTED])),
            ),
            (
                "shutdown ends Succeeded",
                Running,
                off(ShutoffReason::Shutdown),
                Some(("Succeeded", vec![EVENT_SHUT_DOWN])),
            ),
            (
                "crash ends Failed",
                Running,
                off(ShutoffReason::Crashed),
                Some(("Failed", vec![EVENT_CRASHED])),
            ),
            (
                "kill after ACPI ends Failed",
                Running,
                off(ShutoffReason::Destroyed { acpi_in_play: true }),
                Some(("Failed", vec![EVENT_CRASHED])),
            ),
            (
                "kill with grace 0 ends Succeeded",
                Running,
                off(ShutoffReason::Destroyed {
                    acpi_in_play: false,
                }),
                Some(("Succeeded", vec![EVENT_SHUT_DOWN])),
            ),
            (
                "a final VMI is never rewritten",
                Failed,
                running(false),
                None,
            ),
            (
                "a guest dying before Running still ends",
                Scheduled,
                off(ShutoffReason::Crashed),
                Some(("Failed", vec![EVENT_CRASHED])),
            ),
        ];
        for (name, phase, d, want) in cases {
            let got = status_update(&vmi(phase, json!({})), Some("10.244.0.2"), &d, t(10));
            let got = got.map(|u| (u.status["phase"].as_str().unwrap().to_string(), u.events));
            assert_eq!(got, want.map(|(p, e)| (p.to_string(), e)), "{name}");
        }
    }

    #[test]
    fn running_status_reports_guest_details() {
        let v = vmi(
            Scheduled,
            json!({"domain": {"cpu": {"cores": 2}, "memory": {"guest": "1Gi"}, "machine": {"type": "q35"}}}),
        );
        let u = status_update(&v, Some("10.244.0.7"), &running(false), t(10)).unwrap();
        assert_eq!(u.status["interfaces"][0]["ipAddress"], "10.244.0.7");
        assert_eq!(u.status["interfaces"][0]["name"], "default");
        assert_eq!(
            u.status["interfaces"][0]["infoSource"],
            "domain, guest-agent"
        );
        assert!(
            u.status["interfaces"][0]["mac"]
                .as_str()
                .unwrap()
                .starts_with("52:54:00:")
        );
        assert_eq!(u.status["guestOSInfo"]["id"], "fedora");
        assert_eq!(u.status["machine"]["type"], RESOLVED_Q35);
        assert_eq!(
            u.status["currentCPUTopology"],
            json!({"cores": 2, "sockets": 1, "threads": 1})
        );
        assert_eq!(u.status["memory"]["guestCurrent"], "1Gi");
        assert_eq!(u.status["phaseTransitionTimestamps"][0]["phase"], "Running");
        assert_eq!(
            conditions(&u),
            vec![
                ("LiveMigratable".into(), "True".into(), None),
                ("AgentConnected".into(), "True".into(), None),
            ]
        );
        assert!(u.body("42")["metadata"]["resourceVersion"] == "42");
    }

    #[test]
    fn an_applied_status_needs_no_second_write() {
        let mut v = vmi(Scheduled, json!({}));
        let d = running(true);
        let u = status_update(&v, Some("10.244.0.7"), &d, t(10)).unwrap();
        let mut s = serde_json::to_value(v.status.as_ref().unwrap()).unwrap();
        merge(&mut s, Value::Object(u.status));
        v.status = Some(serde_json::from_value(s).unwrap());
        assert_eq!(status_update(&v, Some("10.244.0.7"), &d, t(20)), None);
    }

    #[test]
    fn pause_sets_and_unpause_removes_the_paused_condition() {
        let mut v = vmi(Running, json!({}));
        let u = status_update(&v, None, &running(true), t(10)).unwrap();
        assert!(conditions(&u).contains(&(
            "Paused".into(),
            "True".into(),
            Some("PausedByUser".into())
        )));
        assert!(u.events.is_empty(), "no phase change");
        v.status.as_mut().unwrap().conditions = Some(vec![paused_condition(t(10))]);
        let u = status_update(&v, None, &running(false), t(11)).unwrap();
        assert!(!conditions(&u).iter().any(|c| c.0 == "Paused"));
    }

    #[test]
    fn final_phase_drops_agent_and_paused_conditions() {
        let mut v = vmi(Running, json!({}));
        v.status.as_mut().unwrap().conditions = Some(vec![
            paused_condition(t(1)),
            condition("AgentConnected", "True", None, None, t(1)),
            condition("Ready", "True", None, None, t(1)),
        ]);
        let u = status_update(&v, None, &off(ShutoffReason::Shutdown), t(10)).unwrap();
        assert_eq!(conditions(&u), vec![("Ready".into(), "True".into(), None)]);
    }

    #[test]
    fn no_agent_means_no_agent_condition_and_no_os_info() {
        let d = domain(
            DomainState::Running { since: t(0) },
            false,
            Injection {
                no_guest_agent: true,
                ..Default::default()
            },
        );
        let u = status_update(&vmi(Scheduled, json!({})), Some("10.244.0.2"), &d, t(1)).unwrap();
        assert!(!conditions(&u).iter().any(|c| c.0 == "AgentConnected"));
        assert!(!u.status.contains_key("guestOSInfo"));
        assert_eq!(u.status["interfaces"][0]["infoSource"], "domain");
    }

    #[test]
    fn bridge_on_pod_network_is_not_live_migratable() {
        let spec = json!({"domain": {"devices": {"interfaces": [{"name": "default", "bridge": {}}]}}, "networks": [{"name": "default", "pod": {}}]});
        let c = live_migratable(&vmi(Running, spec.clone()), t(0));
        assert_eq!(
            (c.status.as_str(), c.reason.as_deref()),
            ("False", Some(REASON_INTERFACE_NOT_MIGRATABLE))
        );
        let mut allowed = vmi(Running, spec);
        allowed.metadata.annotations = Some(
            [(
                ALLOW_POD_BRIDGE_MIGRATION_ANNOTATION.to_string(),
                String::new(),
            )]
            .into(),
        );
        assert_eq!(live_migratable(&allowed, t(0)).status, "True");
        let masquerade = json!({"domain": {"devices": {"interfaces": [{"name": "default", "masquerade": {}}]}}, "networks": [{"name": "default", "pod": {}}]});
        assert_eq!(
            live_migratable(&vmi(Running, masquerade), t(0)).status,
            "True"
        );
    }

    #[test]
    fn multus_interfaces_have_no_pod_ip() {
        let spec = json!({
            "domain": {"devices": {"interfaces": [{"name": "default", "masquerade": {}}, {"name": "blue", "bridge": {}, "macAddress": "02:00:00:00:00:01"}]}},
            "networks": [{"name": "default", "pod": {}}, {"name": "blue", "multus": {"networkName": "blue-net"}}],
        });
        let got = interfaces(&vmi(Running, spec), Some("10.244.0.9"), true);
        assert_eq!(got[0].ip_address.as_deref(), Some("10.244.0.9"));
        assert_eq!(got[1].ip_address, None);
        assert_eq!(got[1].mac.as_deref(), Some("02:00:00:00:00:01"));
        assert_eq!(
            got[1].info_source.as_deref(),
            Some("domain, guest-agent, multus-status")
        );
        assert_eq!(got[1].interface_name.as_deref(), Some("eth1"));
    }

    #[test]
    fn conditions_keep_their_transition_time_when_unchanged() {
        let mut list = vec![condition("LiveMigratable", "True", None, None, t(1))];
        set_condition(
            &mut list,
            condition("LiveMigratable", "True", None, Some("new message"), t(5)),
        );
        assert_eq!(list[0].last_transition_time, Some(time(t(1))));
        set_condition(
            &mut list,
            condition("LiveMigratable", "False", Some("X"), None, t(6)),
        );
        assert_eq!(list[0].last_transition_time, Some(time(t(6))));
    }
}
