use super::*;
use crate::qemu::domain::{DomainStatus, ShutoffReason};
use crate::simulated::actions::EventSpec;
use VirtualMachineInstancePhase::*;
use api::VirtualMachineInstanceStatus;
use serde_json::{Value, json};

fn t(s: i64) -> Timestamp {
    Timestamp::from_second(1_700_000_000 + s).unwrap()
}

fn vmi(phase: VirtualMachineInstancePhase, spec: Value) -> VirtualMachineInstance {
    let mut s = json!({"domain": {"devices": {}, "resources": {"requests": {"memory": "64Mi"}}}});
    crate::qemu::merge_json(&mut s, spec);
    let mut v: VirtualMachineInstance = serde_json::from_value(json!({
        "apiVersion": "kubevirt.io/v1", "kind": "VirtualMachineInstance",
        "metadata": {"name": "v", "namespace": "ns", "uid": "uid-1"},
        "spec": s,
    }))
    .unwrap();
    v.status = Some(VirtualMachineInstanceStatus {
        phase: Some(phase),
        node_name: Some("box".into()),
        ..Default::default()
    });
    v
}

fn dom(d: DomainStatus) -> Observed {
    Observed::Domain(d)
}

fn conditions(u: &StatusUpdate) -> Vec<(String, String, Option<String>)> {
    serde_json::from_value::<Vec<VirtualMachineInstanceCondition>>(u.status["conditions"].clone())
        .unwrap()
        .into_iter()
        .map(|c| (c.type_, c.status, c.reason))
        .collect()
}

/// Applies an update to the VMI as the API server would.
fn apply(v: &mut VirtualMachineInstance, u: &StatusUpdate) {
    let mut s = serde_json::to_value(v.status.as_ref().unwrap()).unwrap();
    crate::qemu::merge_json(&mut s, Value::Object(u.status.clone()));
    v.status = Some(serde_json::from_value(s).unwrap());
}

#[test]
fn phase_changes_and_their_events() {
    type Case = (
        &'static str,
        VirtualMachineInstancePhase,
        Value,
        Observed,
        Option<(&'static str, Option<EventSpec>)>,
    );
    let cases: Vec<Case> = vec![
        (
            "start",
            Scheduled,
            json!({}),
            dom(DomainStatus::Running),
            Some(("Running", Some(EVENT_STARTED))),
        ),
        (
            "guest poweroff",
            Running,
            json!({}),
            dom(DomainStatus::Shutoff(ShutoffReason::Shutdown)),
            Some(("Succeeded", Some(EVENT_SHUT_DOWN))),
        ),
        (
            "qemu killed",
            Running,
            json!({}),
            dom(DomainStatus::Shutoff(ShutoffReason::Crashed)),
            Some(("Failed", Some(EVENT_CRASHED))),
        ),
        (
            "panic",
            Running,
            json!({}),
            dom(DomainStatus::Panicked),
            Some(("Failed", Some(EVENT_CRASHED))),
        ),
        (
            "kill at grace expiry",
            Running,
            json!({}),
            dom(DomainStatus::Shutoff(ShutoffReason::Destroyed)),
            Some(("Failed", Some(EVENT_CRASHED))),
        ),
        (
            "kill with grace 0",
            Running,
            json!({"terminationGracePeriodSeconds": 0}),
            dom(DomainStatus::Shutoff(ShutoffReason::Destroyed)),
            Some(("Succeeded", Some(EVENT_SHUT_DOWN))),
        ),
        (
            "launcher lost",
            Running,
            json!({}),
            Observed::Unresponsive,
            Some(("Failed", Some(EVENT_CRASHED))),
        ),
        (
            "not started yet",
            Scheduled,
            json!({}),
            Observed::NotStarted,
            None,
        ),
        (
            "final VMI is never rewritten",
            Succeeded,
            json!({}),
            dom(DomainStatus::Running),
            None,
        ),
    ];
    for (name, phase, spec, observed, want) in cases {
        let got = status_update(&vmi(phase, spec), &observed, &Report::default(), t(1));
        match want {
            None => assert_eq!(got, None, "{name}"),
            Some((phase, event)) => {
                let u = got.unwrap_or_else(|| panic!("{name}: no update"));
                assert_eq!(u.status["phase"], phase, "{name}");
                assert_eq!(u.events, event.into_iter().collect::<Vec<_>>(), "{name}");
                assert_eq!(
                    u.status["phaseTransitionTimestamps"][0]["phase"], phase,
                    "{name}"
                );
            }
        }
    }
}

#[test]
fn a_running_guest_reports_interfaces_machine_and_topology() {
    let spec = json!({"domain": {"cpu": {"cores": 2}, "devices": {"interfaces": [{"name": "default", "masquerade": {}, "macAddress": "02:00:00:00:00:07"}]}},
                      "networks": [{"name": "default", "pod": {}}]});
    let report = Report {
        pod_ip: Some("10.244.0.2"),
        machine: Some("pc-q35-7.2"),
        ..Default::default()
    };
    let u = status_update(
        &vmi(Scheduled, spec),
        &dom(DomainStatus::Running),
        &report,
        t(1),
    )
    .unwrap();
    assert_eq!(u.status["interfaces"][0]["ipAddress"], "10.244.0.2");
    assert_eq!(u.status["interfaces"][0]["mac"], "02:00:00:00:00:07");
    assert_eq!(u.status["interfaces"][0]["infoSource"], "domain");
    assert_eq!(u.status["machine"]["type"], "pc-q35-7.2");
    assert_eq!(u.status["currentCPUTopology"]["cores"], 2);
    assert_eq!(u.status["memory"]["guestAtBoot"], "64Mi");
    assert_eq!(
        conditions(&u),
        vec![("LiveMigratable".into(), "True".into(), None)]
    );
}

#[test]
fn an_applied_status_needs_no_second_write() {
    let mut v = vmi(Scheduled, json!({}));
    let report = Report {
        pod_ip: Some("10.244.0.2"),
        machine: Some("pc-q35-7.2"),
        ..Default::default()
    };
    let u = status_update(&v, &dom(DomainStatus::Running), &report, t(1)).unwrap();
    apply(&mut v, &u);
    assert_eq!(
        status_update(&v, &dom(DomainStatus::Running), &report, t(9)),
        None
    );
}

#[test]
fn the_node_agent_sets_paused_once_the_domain_is_paused() {
    let mut v = vmi(Running, json!({}));
    let paused = dom(DomainStatus::Paused(PauseReason::User));
    let u = status_update(&v, &paused, &Report::default(), t(1)).unwrap();
    assert!(conditions(&u).contains(&(
        "Paused".into(),
        "True".into(),
        Some("PausedByUser".into())
    )));
    assert!(u.events.is_empty(), "pausing is no phase change");
    apply(&mut v, &u);
    let u = status_update(&v, &dom(DomainStatus::Running), &Report::default(), t(2)).unwrap();
    assert!(!conditions(&u).iter().any(|c| c.0 == "Paused"));
}

#[test]
fn software_emulation_is_a_condition_while_running() {
    let emulation = Emulation {
        reason: "AccelerationUnavailable".into(),
        message: "KVM is not usable on this node".into(),
    };
    let report = Report {
        emulation: Some(&emulation),
        ..Default::default()
    };
    let u = status_update(
        &vmi(Scheduled, json!({})),
        &dom(DomainStatus::Running),
        &report,
        t(1),
    )
    .unwrap();
    assert!(conditions(&u).contains(&(
        "SoftwareEmulation".into(),
        "True".into(),
        Some("AccelerationUnavailable".into())
    )));
}

#[test]
fn a_failed_start_is_reported_until_it_succeeds() {
    let mut v = vmi(Scheduled, json!({}));
    let report = Report {
        sync_error: Some("image foo is not in the image store"),
        ..Default::default()
    };
    let u = status_update(&v, &Observed::NotStarted, &report, t(1)).unwrap();
    assert_eq!(
        conditions(&u),
        vec![(
            "Synchronized".into(),
            "False".into(),
            Some(REASON_SYNC_FAILED.into())
        )]
    );
    assert!(!u.status.contains_key("phase"), "the phase stays Scheduled");
    apply(&mut v, &u);
    let u = status_update(&v, &dom(DomainStatus::Running), &Report::default(), t(2)).unwrap();
    assert!(!conditions(&u).iter().any(|c| c.0 == "Synchronized"));
}

#[test]
fn a_final_phase_drops_the_paused_condition() {
    let mut v = vmi(Running, json!({}));
    v.status.as_mut().unwrap().conditions = Some(vec![paused_condition(t(0))]);
    let u = status_update(
        &v,
        &dom(DomainStatus::Shutoff(ShutoffReason::Crashed)),
        &Report::default(),
        t(1),
    )
    .unwrap();
    assert_eq!(u.status["conditions"], json!([]));
}
