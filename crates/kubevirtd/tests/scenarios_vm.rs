//! Acceptance scenarios of the VirtualMachine controller ([VM] in §8 of the behaviour spec),
//! end to end against the real `kubevirtd` with its simulated nodes. Each test names its
//! scenario number; tests share one server and use a namespace each.
//!
//! Covers scenarios 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19 and 20
//! (21–26 are in `scenarios_vm_status.rs`).

mod common;
#[path = "common/scenario.rs"]
mod scenario;

use std::collections::BTreeSet;
use std::time::Duration;

use scenario::*;
use serde_json::{Value, json};

const FINALIZER: &str = "kubevirt.io/virtualMachineControllerFinalize";

fn finalizers(obj: &Value) -> Vec<String> {
    obj["metadata"]["finalizers"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|f| f.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

// Scenario 1.
#[tokio::test(flavor = "multi_thread")]
async fn vmi_is_named_after_the_vm_with_one_controller_owner_and_the_finalizer() {
    let sc = Scenario::new("vm-s01").await;
    let mut manifest = vm_manifest("named", "Always");
    set(&mut manifest, "/spec/template/metadata/name", json!("x"));
    let created = sc.create_vm(manifest).await;
    let vmi = sc.wait_vmi("named", "created", |_| true).await;
    assert_eq!(s(&vmi, "/metadata/name"), "named");
    let owners = vmi["metadata"]["ownerReferences"].as_array().unwrap();
    assert_eq!(owners.len(), 1, "{owners:?}");
    assert_eq!(owners[0]["apiVersion"], "kubevirt.io/v1");
    assert_eq!(owners[0]["kind"], "VirtualMachine");
    assert_eq!(owners[0]["name"], "named");
    assert_eq!(owners[0]["uid"], created["metadata"]["uid"]);
    assert_eq!(owners[0]["controller"], true);
    assert_eq!(owners[0]["blockOwnerDeletion"], true);
    assert!(finalizers(&vmi).contains(&FINALIZER.to_string()), "{vmi}");
    let vm = sc
        .wait_vm("named", "finalizer", |vm| {
            finalizers(vm).contains(&FINALIZER.to_string())
        })
        .await;
    assert_eq!(finalizers(&vm), vec![FINALIZER.to_string()]);
    let event = sc
        .wait_event("VirtualMachine", "named", "SuccessfulCreate")
        .await;
    assert_eq!(event["type"], "Normal");
    assert_eq!(
        event["message"],
        "Started the virtual machine by creating the new virtual machine instance named"
    );
}

// Scenario 2.
#[tokio::test(flavor = "multi_thread")]
async fn template_annotations_reach_the_vmi_and_vm_annotations_do_not() {
    let sc = Scenario::new("vm-s02").await;
    let mut manifest =
        with_template_annotation(vm_manifest("annot", "Halted"), "a", "from-template");
    set(
        &mut manifest,
        "/metadata/annotations",
        json!({"b": "from-vm"}),
    );
    sc.create_vm(manifest).await;
    sc.set_run_strategy("annot", "Always").await;
    let vmi = sc.wait_vmi("annot", "created", |_| true).await;
    assert_eq!(vmi["metadata"]["annotations"]["a"], "from-template");
    assert!(
        vmi["metadata"]["annotations"].get("b").is_none(),
        "{}",
        vmi["metadata"]
    );
}

// Scenario 3.
#[tokio::test(flavor = "multi_thread")]
async fn deleting_the_vmi_or_its_pod_brings_a_new_vmi_with_a_new_pod() {
    let sc = Scenario::new("vm-s03").await;
    let (_, first) = sc.running_vm(vm_manifest("again", "Always")).await;
    let first_uid = uid(&first);
    let first_pods = sc.pods_of(&first_uid).await;
    assert_eq!(first_pods.len(), 1);

    let r = sc.delete(&sc.vmi_path("again"), None).await;
    assert!(r.is_success(), "{}", r.body);
    let second = sc.wait_running("again", &[&first_uid]).await;
    let second_uid = uid(&second);
    let second_pods = sc.pods_of(&second_uid).await;
    assert_eq!(second_pods.len(), 1);
    assert_ne!(
        s(&second_pods[0], "/metadata/name"),
        s(&first_pods[0], "/metadata/name")
    );

    let pod = s(&second_pods[0], "/metadata/name").to_string();
    let r = sc
        .delete(&format!("/api/v1/namespaces/{}/pods/{pod}", sc.ns), None)
        .await;
    assert!(r.is_success(), "{}", r.body);
    let third = sc.wait_running("again", &[&first_uid, &second_uid]).await;
    let third_pods = sc.pods_of(&uid(&third)).await;
    assert_eq!(third_pods.len(), 1);
    assert_ne!(s(&third_pods[0], "/metadata/name"), pod);
}

// Scenario 4.
#[tokio::test(flavor = "multi_thread")]
async fn deleting_the_vm_removes_vmi_and_pod_first_and_shows_terminating() {
    let sc = Scenario::new("vm-s04").await;
    // A graceful shutdown that takes a while, so the Terminating state can be observed.
    let mut manifest = with_template_annotation(
        vm_manifest("gone", "Always"),
        "simulation.kubevirt.io/shutdown-delay",
        "2s",
    );
    set(
        &mut manifest,
        "/spec/template/spec/terminationGracePeriodSeconds",
        json!(30),
    );
    let (_, vmi) = sc.running_vm(manifest).await;
    let r = sc.delete(&sc.vm_path("gone"), None).await;
    assert!(r.is_success(), "{}", r.body);
    sc.wait_printable("gone", "Terminating").await;
    until(TIMEOUT, "the VM to disappear", async || {
        match sc.vm("gone").await {
            None => Ok(()),
            Some(vm) => Err(printable(&vm).to_string()),
        }
    })
    .await;
    assert!(sc.vmi("gone").await.is_none(), "the VMI went before the VM");
    assert!(
        sc.pods_of(&uid(&vmi)).await.is_empty(),
        "the pod went before the VM"
    );
}

// Scenario 5.
#[tokio::test(flavor = "multi_thread")]
async fn orphan_delete_leaves_the_vmi_running_without_owner() {
    let sc = Scenario::new("vm-s05").await;
    let (_, vmi) = sc.running_vm(vm_manifest("orphan", "Always")).await;
    let r = sc
        .delete(
            &sc.vm_path("orphan"),
            Some(
                json!({"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": "Orphan"}),
            ),
        )
        .await;
    assert!(r.is_success(), "{}", r.body);
    sc.wait_gone(&sc.vm_path("orphan")).await;
    let left = sc.vmi("orphan").await.expect("the VMI remains");
    assert_eq!(uid(&left), uid(&vmi));
    assert_eq!(phase(&left), "Running");
    let owners = left["metadata"]["ownerReferences"].as_array();
    assert!(owners.is_none_or(|o| o.is_empty()), "{}", left["metadata"]);
}

// Scenario 6.
#[tokio::test(flavor = "multi_thread")]
async fn custom_finalizer_is_kept_and_the_controller_finalizer_removed_on_delete() {
    let sc = Scenario::new("vm-s06").await;
    let mut manifest = vm_manifest("fin", "Always");
    set(
        &mut manifest,
        "/metadata/finalizers",
        json!(["example.com/keep"]),
    );
    sc.create_vm(manifest).await;
    let vm = sc
        .wait_vm("fin", "controller finalizer", |vm| {
            finalizers(vm).contains(&FINALIZER.to_string())
        })
        .await;
    assert_eq!(
        finalizers(&vm),
        vec!["example.com/keep".to_string(), FINALIZER.to_string()]
    );
    sc.wait_running("fin", &[]).await;
    assert!(sc.delete(&sc.vm_path("fin"), None).await.is_success());
    let vm = sc
        .wait_vm("fin", "only the custom finalizer", |vm| {
            finalizers(vm) == vec!["example.com/keep".to_string()]
        })
        .await;
    assert!(vm["metadata"]["deletionTimestamp"].is_string());
    assert!(sc.vmi("fin").await.is_none(), "the VMI is gone first");
    sc.json_patch(
        &sc.vm_path("fin"),
        json!([{"op": "remove", "path": "/metadata/finalizers"}]),
    )
    .await;
    sc.wait_gone(&sc.vm_path("fin")).await;
}

// Scenario 7.
#[tokio::test(flavor = "multi_thread")]
async fn toggling_halted_and_always_five_times_starts_and_stops_each_time() {
    let sc = Scenario::new("vm-s07").await;
    sc.create_vm(vm_manifest("toggle", "Halted")).await;
    let mut seen = BTreeSet::new();
    for _ in 0..5 {
        sc.set_run_strategy("toggle", "Always").await;
        let vmi = sc
            .wait_vmi("toggle", "a new VMI", |v| {
                !seen.contains(&uid(v)) && v["metadata"].get("deletionTimestamp").is_none()
            })
            .await;
        seen.insert(uid(&vmi));
        sc.set_run_strategy("toggle", "Halted").await;
        sc.wait_vmi_gone("toggle").await;
        let vm = sc
            .wait_vm("toggle", "Ready=False VMINotExists", |vm| {
                condition(vm, "Ready")
                    .is_some_and(|c| c["status"] == "False" && c["reason"] == "VMINotExists")
            })
            .await;
        assert_eq!(
            condition(&vm, "Ready").unwrap()["message"],
            "VMI does not exist"
        );
    }
    assert_eq!(seen.len(), 5);
}

// Scenario 8.
#[tokio::test(flavor = "multi_thread")]
async fn memory_change_while_running_needs_a_restart() {
    let sc = Scenario::new("vm-s08").await;
    let (_, vmi) = sc.running_vm(vm_manifest("mem", "Always")).await;
    sc.patch_vm(
        "mem",
        json!({"spec": {"template": {"spec": {"domain": {"resources": {"requests": {"memory": "128Mi"}}}}}}}),
    )
    .await;
    let vm = sc
        .wait_vm("mem", "RestartRequired=True", |vm| {
            condition(vm, "RestartRequired").is_some_and(|c| c["status"] == "True")
        })
        .await;
    assert_eq!(
        condition(&vm, "RestartRequired").unwrap()["message"],
        "a non-live-updatable field was changed in the template spec"
    );
    let now = sc.vmi("mem").await.unwrap();
    assert_eq!(uid(&now), uid(&vmi));
    assert_eq!(
        s(&now, "/spec/domain/resources/requests/memory"),
        "64Mi",
        "the VMI spec is never replaced"
    );
    sc.set_run_strategy("mem", "Halted").await;
    sc.wait_vmi_gone("mem").await;
    sc.set_run_strategy("mem", "Always").await;
    let restarted = sc.wait_running("mem", &[&uid(&vmi)]).await;
    assert_eq!(
        s(&restarted, "/spec/domain/resources/requests/memory"),
        "128Mi"
    );
    sc.wait_vm("mem", "no RestartRequired", |vm| {
        condition(vm, "RestartRequired").is_none()
    })
    .await;
}

/// (generation, desiredGeneration, observedGeneration, VMI generation annotation).
async fn generations(sc: &Scenario, name: &str) -> (i64, i64, i64, String) {
    let vm = sc.vm(name).await.unwrap();
    let vmi = sc.vmi(name).await.unwrap_or(Value::Null);
    (
        vm["metadata"]["generation"].as_i64().unwrap_or(0),
        vm["status"]["desiredGeneration"].as_i64().unwrap_or(0),
        vm["status"]["observedGeneration"].as_i64().unwrap_or(0),
        s(&vmi, "/metadata/annotations/kubevirt.io~1vm-generation").to_string(),
    )
}

async fn wait_generations(sc: &Scenario, name: &str, want: (i64, i64, i64, &str)) {
    until(TIMEOUT, &format!("generations {want:?}"), async || {
        let got = generations(sc, name).await;
        if (got.0, got.1, got.2, got.3.as_str()) == want {
            Ok(())
        } else {
            Err(format!("{got:?}"))
        }
    })
    .await
}

// Scenario 9 (as upstream's test: two template-label patches, then a stop and a start).
#[tokio::test(flavor = "multi_thread")]
async fn template_label_changes_leave_the_observed_generation_until_restart() {
    let sc = Scenario::new("vm-s09").await;
    sc.create_vm(vm_manifest("gens", "Halted")).await;
    sc.set_run_strategy("gens", "Always").await;
    let first = sc.wait_running("gens", &[]).await;
    wait_generations(&sc, "gens", (2, 2, 2, "2")).await;
    sc.patch_vm(
        "gens",
        json!({"spec": {"template": {"metadata": {"labels": {"testkey": "testvalue"}}}}}),
    )
    .await;
    wait_generations(&sc, "gens", (3, 3, 2, "2")).await;
    sc.patch_vm(
        "gens",
        json!({"spec": {"template": {"metadata": {"labels": {"testkey2": "testvalue2"}}}}}),
    )
    .await;
    wait_generations(&sc, "gens", (4, 4, 2, "2")).await;
    sc.set_run_strategy("gens", "Halted").await;
    sc.wait_vmi_gone("gens").await;
    sc.set_run_strategy("gens", "Always").await;
    sc.wait_running("gens", &[&uid(&first)]).await;
    wait_generations(&sc, "gens", (6, 6, 6, "6")).await;
}

// Scenario 10.
#[tokio::test(flavor = "multi_thread")]
async fn each_start_records_a_controller_revision_of_the_vm_spec() {
    let sc = Scenario::new("vm-s10").await;
    let created = sc.create_vm(vm_manifest("rev", "Halted")).await;
    let vm_uid = uid(&created);
    sc.set_run_strategy("rev", "Always").await;
    let vmi = sc.wait_running("rev", &[]).await;
    let name = format!("revision-start-vm-{vm_uid}-2");
    assert_eq!(s(&vmi, "/status/virtualMachineRevisionName"), name);
    let rev_path = |n: &str| format!("/apis/apps/v1/namespaces/{}/controllerrevisions/{n}", sc.ns);
    let rev = sc.get(&rev_path(&name)).await.expect("revision");
    assert_eq!(rev["revision"], 2);
    let vm = sc.vm("rev").await.unwrap();
    assert_eq!(rev["data"]["spec"], vm["spec"], "data.spec is the VM spec");
    let owner = &rev["metadata"]["ownerReferences"][0];
    assert_eq!(owner["uid"], vm_uid.as_str());
    assert_eq!(owner["controller"], true);

    sc.set_run_strategy("rev", "Halted").await;
    sc.wait_vmi_gone("rev").await;
    sc.patch_vm(
        "rev",
        json!({"spec": {"template": {"spec": {"domain": {"resources": {"requests": {"memory": "96Mi"}}}}}}}),
    )
    .await;
    sc.set_run_strategy("rev", "Always").await;
    let vmi = sc.wait_running("rev", &[&uid(&vmi)]).await;
    let new_name = format!("revision-start-vm-{vm_uid}-5");
    assert_eq!(s(&vmi, "/status/virtualMachineRevisionName"), new_name);
    let rev = sc.get(&rev_path(&new_name)).await.expect("new revision");
    assert_eq!(rev["revision"], 5);
    assert_eq!(
        rev["data"]["spec"]["template"]["spec"]["domain"]["resources"]["requests"]["memory"],
        "96Mi"
    );
    until(
        TIMEOUT,
        "the old revision to be deleted",
        async || match sc.get(&rev_path(&name)).await {
            None => Ok(()),
            Some(_) => Err("still there".into()),
        },
    )
    .await;
}

/// Distinct VMI UIDs that reported `reason` with `type_` in an event.
async fn event_uids(sc: &Scenario, name: &str, type_: &str, reason: &str) -> BTreeSet<String> {
    sc.events("VirtualMachineInstance", name)
        .await
        .iter()
        .filter(|e| e["type"] == type_ && e["reason"] == reason)
        .map(|e| s(e, "/involvedObject/uid").to_string())
        .collect()
}

// Scenario 11.
#[tokio::test(flavor = "multi_thread")]
async fn always_vm_replaces_a_guest_that_powered_off_again_and_again() {
    let sc = Scenario::new("vm-s11").await;
    let manifest = with_template_annotation(
        vm_manifest("off", "Always"),
        "simulation.kubevirt.io/poweroff-after",
        "1s",
    );
    sc.create_vm(manifest).await;
    let mut succeeded = BTreeSet::new();
    let uids = until(
        Duration::from_secs(45),
        "three VMIs that ended Succeeded",
        async || {
            if let Some(vmi) = sc.vmi("off").await
                && phase(&vmi) == "Succeeded"
            {
                succeeded.insert(uid(&vmi));
            }
            let stopped = event_uids(&sc, "off", "Normal", "Stopped").await;
            if stopped.len() >= 3 {
                Ok(stopped)
            } else {
                Err(format!("{stopped:?}"))
            }
        },
    )
    .await;
    let events = sc.events("VirtualMachineInstance", "off").await;
    assert!(
        events.iter().any(|e| e["reason"] == "Stopped"
            && e["message"] == "The VirtualMachineInstance was shut down."),
        "{events:?}"
    );
    assert!(
        succeeded.iter().all(|u| uids.contains(u)),
        "every Succeeded VMI reported Stopped"
    );
    let current = sc
        .wait_vmi("off", "a VMI after the three", |v| !uids.contains(&uid(v)))
        .await;
    assert!(!uids.contains(&uid(&current)));
}

// Scenario 12.
#[tokio::test(flavor = "multi_thread")]
async fn rerun_on_failure_vm_stays_stopped_after_a_guest_poweroff() {
    let sc = Scenario::new("vm-s12").await;
    let manifest = with_template_annotation(
        vm_manifest("rerun-off", "RerunOnFailure"),
        "simulation.kubevirt.io/poweroff-after",
        "1s",
    );
    sc.create_vm(manifest).await;
    let vmi = sc.wait_running("rerun-off", &[]).await;
    sc.wait_vmi_gone("rerun-off").await;
    sc.wait_printable("rerun-off", "Stopped").await;
    let stopped = event_uids(&sc, "rerun-off", "Normal", "Stopped").await;
    assert!(stopped.contains(&uid(&vmi)), "the guest shut down");
    holds_for(Duration::from_secs(3), "no new VMI", async || {
        match sc.vmi("rerun-off").await {
            None => Ok(()),
            Some(v) => Err(format!("VMI {} appeared", uid(&v))),
        }
    })
    .await;
    assert_eq!(printable(&sc.vm("rerun-off").await.unwrap()), "Stopped");
}

// Scenario 13.
#[tokio::test(flavor = "multi_thread")]
async fn rerun_on_failure_vm_restarts_after_a_crash() {
    let sc = Scenario::new("vm-s13").await;
    let manifest = with_template_annotation(
        vm_manifest("rerun-crash", "RerunOnFailure"),
        "simulation.kubevirt.io/crash-after",
        "3s",
    );
    sc.create_vm(manifest).await;
    let first = sc.wait_running("rerun-crash", &[]).await;
    let crashed = until(TIMEOUT, "Warning Stopped", async || {
        let uids = event_uids(&sc, "rerun-crash", "Warning", "Stopped").await;
        if uids.contains(&uid(&first)) {
            Ok(uids)
        } else {
            Err(format!("{uids:?}"))
        }
    })
    .await;
    assert!(crashed.contains(&uid(&first)));
    let events = sc.events("VirtualMachineInstance", "rerun-crash").await;
    assert!(
        events
            .iter()
            .any(|e| e["message"] == "The VirtualMachineInstance crashed."),
        "{events:?}"
    );
    let second = sc.wait_running("rerun-crash", &[&uid(&first)]).await;
    sc.wait_vm("rerun-crash", "Running with the new VMI", |vm| {
        printable(vm) == "Running"
    })
    .await;
    assert_ne!(uid(&second), uid(&first));
}

// Scenario 14 (upstream watches for 30 s; 5 s here).
#[tokio::test(flavor = "multi_thread")]
async fn rerun_on_failure_vm_stays_stopped_when_its_pvc_is_recreated() {
    let sc = Scenario::new("vm-s14").await;
    let pvc = json!({
        "apiVersion": "v1", "kind": "PersistentVolumeClaim",
        "metadata": {"name": "disk"},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}},
    });
    let pvcs = format!("/api/v1/namespaces/{}/persistentvolumeclaims", sc.ns);
    let bind = async || {
        let r = sc
            .merge_patch(
                &format!("{pvcs}/disk/status"),
                json!({"status": {"phase": "Bound"}}),
            )
            .await;
        assert!(r.is_success(), "{}", r.body);
    };
    assert!(sc.post(&pvcs, pvc.clone()).await.is_success());
    bind().await;
    let mut manifest = vm_manifest("rerun-pvc", "RerunOnFailure");
    set(
        &mut manifest,
        "/spec/template/spec/domain/devices/disks",
        json!([{"name": "containerdisk", "disk": {}}, {"name": "data", "disk": {}}]),
    );
    manifest["spec"]["template"]["spec"]["volumes"]
        .as_array_mut()
        .unwrap()
        .push(json!({"name": "data", "persistentVolumeClaim": {"claimName": "disk"}}));
    sc.create_vm(manifest).await;
    sc.wait_running("rerun-pvc", &[]).await;
    let r = sc.vm_sub("rerun-pvc", "stop", None).await;
    assert_eq!(r.code, 202, "{}", r.body);
    sc.wait_vmi_gone("rerun-pvc").await;
    sc.wait_printable("rerun-pvc", "Stopped").await;
    assert!(sc.delete(&format!("{pvcs}/disk"), None).await.is_success());
    sc.wait_gone(&format!("{pvcs}/disk")).await;
    assert!(sc.post(&pvcs, pvc).await.is_success());
    bind().await;
    holds_for(
        Duration::from_secs(5),
        "Stopped without a VMI",
        async || {
            let vm = sc.vm("rerun-pvc").await.unwrap();
            match sc.vmi("rerun-pvc").await {
                Some(v) => Err(format!("VMI {} appeared", uid(&v))),
                None if printable(&vm) == "Stopped" => Ok(()),
                None => Err(printable(&vm).to_string()),
            }
        },
    )
    .await;
}

// Scenario 15 (upstream watches for 60 s; 5 s here).
#[tokio::test(flavor = "multi_thread")]
async fn once_vm_keeps_its_failed_vmi() {
    let sc = Scenario::new("vm-s15").await;
    let manifest = with_template_annotation(
        vm_manifest("once-crash", "Once"),
        "simulation.kubevirt.io/crash-after",
        "1s",
    );
    sc.create_vm(manifest).await;
    let vmi = sc.wait_running("once-crash", &[]).await;
    sc.wait_vmi("once-crash", "Failed", |v| phase(v) == "Failed")
        .await;
    sc.wait_vm("once-crash", "not ready", |vm| {
        vm["status"]["ready"] != true
    })
    .await;
    holds_for(
        Duration::from_secs(5),
        "the same Failed VMI, VM not ready",
        async || {
            let now = sc.vmi("once-crash").await.ok_or("VMI gone")?;
            let vm = sc.vm("once-crash").await.unwrap();
            if uid(&now) != uid(&vmi) || phase(&now) != "Failed" {
                return Err(format!("VMI {} {}", uid(&now), phase(&now)));
            }
            if vm["status"]["ready"] == true {
                return Err("VM ready".into());
            }
            Ok(())
        },
    )
    .await;
    let vm = sc.vm("once-crash").await.unwrap();
    let ready = condition(&vm, "Ready").expect("Ready condition");
    assert_eq!(ready["status"], "False", "{ready}");
}

// Scenario 16.
#[tokio::test(flavor = "multi_thread")]
async fn once_vm_keeps_a_succeeded_vmi_and_refuses_manual_start() {
    let sc = Scenario::new("vm-s16").await;
    let manifest = with_template_annotation(
        vm_manifest("once-off", "Once"),
        "simulation.kubevirt.io/poweroff-after",
        "1s",
    );
    sc.create_vm(manifest).await;
    let vmi = sc.wait_running("once-off", &[]).await;
    sc.wait_vmi("once-off", "Succeeded", |v| phase(v) == "Succeeded")
        .await;
    let r = sc.vm_sub("once-off", "start", None).await;
    assert_eq!(r.code, 409, "{}", r.body);
    assert_message(&r, "Once does not support manual start requests");
    holds_for(
        Duration::from_secs(2),
        "the same Succeeded VMI",
        async || match sc.vmi("once-off").await {
            Some(v) if uid(&v) == uid(&vmi) && phase(&v) == "Succeeded" => Ok(()),
            other => Err(format!("{other:?}")),
        },
    )
    .await;
}

// Scenario 17.
#[tokio::test(flavor = "multi_thread")]
async fn manual_vm_is_started_again_after_a_poweroff_by_the_start_subresource() {
    let sc = Scenario::new("vm-s17").await;
    let manifest = with_template_annotation(
        vm_manifest("manual", "Manual"),
        "simulation.kubevirt.io/poweroff-after",
        "1s",
    );
    sc.create_vm(manifest).await;
    let r = sc.vm_sub("manual", "start", None).await;
    assert_eq!(r.code, 202, "{}", r.body);
    let vmi = sc.wait_running("manual", &[]).await;
    sc.wait_vmi("manual", "Succeeded", |v| phase(v) == "Succeeded")
        .await;
    holds_for(
        Duration::from_secs(2),
        "the Succeeded VMI stays",
        async || match sc.vmi("manual").await {
            Some(v) if uid(&v) == uid(&vmi) && phase(&v) == "Succeeded" => Ok(()),
            other => Err(format!("{other:?}")),
        },
    )
    .await;
    let r = sc.vm_sub("manual", "start", None).await;
    assert_eq!(r.code, 202, "{}", r.body);
    sc.wait_vmi("manual", "a new Ready VMI", |v| {
        uid(v) != uid(&vmi) && condition(v, "Ready").is_some_and(|c| c["status"] == "True")
    })
    .await;
    let vm = sc
        .wait_vm("manual", "no state change requests", |vm| {
            vm["status"]["stateChangeRequests"]
                .as_array()
                .is_none_or(|a| a.is_empty())
        })
        .await;
    assert_eq!(vm["spec"]["runStrategy"], "Manual");
}

fn fail_count(vm: &Value) -> i64 {
    vm["status"]["startFailure"]["consecutiveFailCount"]
        .as_i64()
        .unwrap_or(0)
}

fn timestamp(obj: &Value, pointer: &str) -> k8s_openapi::jiff::Timestamp {
    s(obj, pointer)
        .parse()
        .unwrap_or_else(|e| panic!("{pointer} of {obj}: {e}"))
}

/// Seconds from `from` to `to`.
fn seconds(from: k8s_openapi::jiff::Timestamp, to: k8s_openapi::jiff::Timestamp) -> i64 {
    (to - from)
        .total(k8s_openapi::jiff::Unit::Second)
        .expect("seconds") as i64
}

fn retry_after(vm: &Value) -> k8s_openapi::jiff::Timestamp {
    timestamp(vm, "/status/startFailure/retryAfterTimestamp")
}

/// Seconds from now until `status.startFailure.retryAfterTimestamp`.
fn retry_after_secs(vm: &Value) -> i64 {
    seconds(k8s_openapi::jiff::Timestamp::now(), retry_after(vm))
}

fn failing(name: &str, strategy: &str) -> Value {
    with_template_annotation(
        vm_manifest(name, strategy),
        "simulation.kubevirt.io/fail-to-start",
        "true",
    )
}

// Scenario 18 (upstream watches for a minute; the backoff is checked over the first retry).
#[tokio::test(flavor = "multi_thread")]
async fn launcher_that_fails_fast_puts_the_vm_in_crash_loop_backoff_until_fixed() {
    let sc = Scenario::new("vm-s18").await;
    sc.create_vm(failing("crashloop", "Always")).await;
    let vm = sc
        .wait_vm("crashloop", "CrashLoopBackOff", |vm| {
            printable(vm) == "CrashLoopBackOff"
        })
        .await;
    assert_eq!(fail_count(&vm), 1);
    // The first retry comes 10 to 15 s after the failure: no new failure until then.
    let wait = retry_after_secs(&vm).clamp(0, 15) as u64;
    holds_for(Duration::from_secs(wait), "one failure only", async || {
        let vm = sc.vm("crashloop").await.unwrap();
        if fail_count(&vm) <= 1 {
            Ok(())
        } else {
            Err(format!("count {}", fail_count(&vm)))
        }
    })
    .await;
    sc.json_patch(
        &sc.vm_path("crashloop"),
        json!([{"op": "remove", "path": "/spec/template/metadata/annotations"}]),
    )
    .await;
    // A retry already under way when the fix lands may fail once more and back off for up to
    // 30 s (second failure), so allow for that before the fixed template runs.
    let vm = scenario::until(
        Duration::from_secs(120),
        "vm crashloop: Running after the fix",
        async || match sc.vm("crashloop").await {
            Some(vm) if printable(&vm) == "Running" => Ok(vm),
            Some(vm) => Err(serde_json::to_string(&vm["status"]).unwrap_or_default()),
            None => Err("no VM".into()),
        },
    )
    .await;
    assert!(
        vm["status"].get("startFailure").is_none(),
        "{}",
        vm["status"]
    );
}

// Scenario 19. Backoff delays are checked against times the server wrote (the VM's creation,
// the previous retry time), so a slow test does not matter.
#[tokio::test(flavor = "multi_thread")]
async fn start_failures_are_counted_per_vmi_and_cleared_by_halted_or_manual() {
    let sc = Scenario::new("vm-s19").await;
    let mut first = None;
    for name in ["count", "halt"] {
        let created = sc.create_vm(failing(name, "Always")).await;
        let vm = sc
            .wait_vm(name, "one start failure", |vm| fail_count(vm) == 1)
            .await;
        let last = s(&vm, "/status/startFailure/lastFailedVMIUID").to_string();
        assert!(!last.is_empty());
        if let Some(vmi) = sc.vmi(name).await
            && phase(&vmi) == "Failed"
        {
            assert_eq!(uid(&vmi), last, "the failed VMI is recorded");
        }
        // 10 to 15 s after the failure, which came after the VM's creation (1 s of rounding).
        let since_creation = seconds(
            timestamp(&created, "/metadata/creationTimestamp"),
            retry_after(&vm),
        );
        assert!(
            since_creation >= 9,
            "retry {since_creation}s after creation"
        );
        let wait = retry_after_secs(&vm);
        assert!(wait <= 15, "retry after {wait}s");
        if name == "count" {
            first = Some(vm);
        }
    }
    sc.set_run_strategy("halt", "Halted").await;
    sc.wait_vm("halt", "startFailure cleared", |vm| {
        vm["status"].get("startFailure").is_none() && printable(vm) == "Stopped"
    })
    .await;

    let first = first.unwrap();
    let first_uid = s(&first, "/status/startFailure/lastFailedVMIUID").to_string();
    let vm = until(Duration::from_secs(45), "a second failure", async || {
        let vm = sc.vm("count").await.unwrap();
        if fail_count(&vm) >= 2 {
            Ok(vm)
        } else {
            Err(format!("{}", vm["status"]))
        }
    })
    .await;
    assert_eq!(fail_count(&vm), 2, "{}", vm["status"]);
    assert_ne!(
        s(&vm, "/status/startFailure/lastFailedVMIUID"),
        first_uid,
        "a new failed VMI"
    );
    // 40 to 60 s after the second failure, which came after the first retry time.
    let gap = seconds(retry_after(&first), retry_after(&vm));
    assert!(gap >= 39, "second retry {gap}s after the first");
    let wait = retry_after_secs(&vm);
    assert!(wait <= 60, "retry after {wait}s");
    sc.set_run_strategy("count", "Manual").await;
    sc.wait_vm("count", "startFailure cleared", |vm| {
        vm["status"].get("startFailure").is_none()
    })
    .await;
}

// Scenario 20: the printable statuses a VM goes through.
#[tokio::test(flavor = "multi_thread")]
async fn printable_status_follows_the_vm_lifecycle() {
    let sc = Scenario::new("vm-s20").await;
    let mut manifest = with_template_annotation(
        vm_manifest("life", "Halted"),
        "simulation.kubevirt.io/boot-delay",
        "3s",
    );
    manifest["spec"]["template"]["metadata"]["annotations"]["simulation.kubevirt.io/shutdown-delay"] =
        json!("3s");
    set(
        &mut manifest,
        "/spec/template/spec/terminationGracePeriodSeconds",
        json!(30),
    );
    sc.create_vm(manifest).await;
    sc.wait_printable("life", "Stopped").await;
    sc.set_run_strategy("life", "Always").await;
    let vm = sc.wait_printable("life", "Starting").await;
    assert!(vm["status"]["ready"] != true);
    sc.wait_printable("life", "Running").await;
    let r = sc.vmi_sub("life", "pause", None).await;
    assert_eq!(r.code, 200, "{}", r.body);
    sc.wait_printable("life", "Paused").await;
    let r = sc.vmi_sub("life", "unpause", None).await;
    assert_eq!(r.code, 200, "{}", r.body);
    sc.wait_printable("life", "Running").await;
    sc.set_run_strategy("life", "Halted").await;
    sc.wait_printable("life", "Stopping").await;
    sc.wait_vmi_gone("life").await;
    sc.wait_printable("life", "Stopped").await;
    sc.set_run_strategy("life", "Always").await;
    sc.wait_printable("life", "Running").await;
    sc.delete(&sc.vm_path("life"), None).await;
    sc.wait_printable("life", "Terminating").await;
    sc.wait_gone(&sc.vm_path("life")).await;

    // A final VMI: Stopped.
    let manifest = with_template_annotation(
        vm_manifest("final", "Once"),
        "simulation.kubevirt.io/poweroff-after",
        "1s",
    );
    sc.create_vm(manifest).await;
    sc.wait_vmi("final", "Succeeded", |v| phase(v) == "Succeeded")
        .await;
    sc.wait_printable("final", "Stopped").await;

    // A start failure without a VMI: CrashLoopBackOff under Always, not under Manual.
    sc.create_vm(failing("loop", "Always")).await;
    sc.wait_printable("loop", "CrashLoopBackOff").await;
    sc.set_run_strategy("loop", "Manual").await;
    let vm = sc
        .wait_vm("loop", "not CrashLoopBackOff", |vm| {
            printable(vm) != "CrashLoopBackOff"
        })
        .await;
    assert_eq!(printable(&vm), "Stopped");
}
