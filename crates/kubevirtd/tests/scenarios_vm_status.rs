//! Acceptance scenarios of the VirtualMachine controller about storage and scheduling
//! statuses, adoption, firmware UUIDs and state change requests ([VM] in §8 of the behaviour
//! spec), end to end against the real `kubevirtd`. DataVolumes are CDI objects: no CDI runs
//! here, so the tests write their status as CDI would; claims are bound by the tests, as a
//! provisioner would.
//!
//! Covers scenarios 21, 22, 23, 24, 25 and 26.

mod common;
#[path = "common/scenario.rs"]
mod scenario;

use std::collections::BTreeSet;
use std::time::Duration;

use scenario::*;
use serde_json::{Value, json};

// Scenario 21: scheduling errors.
#[tokio::test(flavor = "multi_thread")]
async fn unschedulable_vmis_show_error_unschedulable() {
    let sc = Scenario::new("vm-s21a").await;
    let mut huge = vm_manifest("huge", "Always");
    set(
        &mut huge,
        "/spec/template/spec/domain/resources/requests/memory",
        json!("1Ei"),
    );
    sc.create_vm(huge).await;
    let mut nowhere = vm_manifest("nowhere", "Always");
    set(
        &mut nowhere,
        "/spec/template/spec/nodeSelector",
        json!({"example.com/no-such-node": "true"}),
    );
    sc.create_vm(nowhere).await;
    for name in ["huge", "nowhere"] {
        sc.wait_printable(name, "ErrorUnschedulable").await;
        let vmi = sc.vmi(name).await.unwrap();
        let cond = condition(&vmi, "PodScheduled").expect("PodScheduled copied from the pod");
        assert_eq!(cond["status"], "False");
        assert_eq!(cond["reason"], "Unschedulable");
    }
}

// Scenario 21: missing claims.
#[tokio::test(flavor = "multi_thread")]
async fn missing_pvc_or_data_volume_shows_error_pvc_not_found() {
    let sc = Scenario::new("vm-s21b").await;
    sc.create_vm(with_volume(
        vm_manifest("no-pvc", "Always"),
        json!({"name": "data", "persistentVolumeClaim": {"claimName": "missing"}}),
    ))
    .await;
    sc.create_vm(with_volume(
        vm_manifest("no-dv", "Always"),
        json!({"name": "data", "dataVolume": {"name": "missing-dv"}}),
    ))
    .await;
    for name in ["no-pvc", "no-dv"] {
        sc.wait_printable(name, "ErrorPvcNotFound").await;
        let vmi = sc.vmi(name).await.unwrap();
        let cond = condition(&vmi, "Synchronized").expect("Synchronized");
        assert_eq!(cond["status"], "False");
        assert_eq!(cond["reason"], "FailedPvcNotFound");
    }
}

// Scenario 21: image pulls.
#[tokio::test(flavor = "multi_thread")]
async fn missing_image_alternates_between_err_image_pull_and_backoff() {
    let sc = Scenario::new("vm-s21c").await;
    let mut vm = vm_manifest("noimage", "Always");
    vm["spec"]["template"]["spec"]["volumes"][0]["containerDisk"]["image"] = json!("no-such-image");
    sc.create_vm(vm).await;
    let mut seen = Vec::<String>::new();
    until(
        Duration::from_secs(30),
        "ErrImagePull, ImagePullBackOff, ErrImagePull",
        async || {
            let status = printable(&sc.vm("noimage").await.unwrap()).to_string();
            if seen.last() != Some(&status)
                && (status == "ErrImagePull" || status == "ImagePullBackOff")
            {
                seen.push(status);
            }
            if seen.len() >= 3 {
                Ok(())
            } else {
                Err(format!("{seen:?}"))
            }
        },
    )
    .await;
    let vmi = sc.vmi("noimage").await.unwrap();
    let cond = condition(&vmi, "Synchronized").expect("Synchronized");
    assert_eq!(cond["status"], "False");
    assert!(
        ["ErrImagePull", "ImagePullBackOff"].contains(&cond["reason"].as_str().unwrap_or("")),
        "{cond}"
    );
}

// Scenario 21: failed DataVolume (as upstream's test: an import from a DataVolume template
// fails, so the VM never starts).
#[tokio::test(flavor = "multi_thread")]
async fn failed_data_volume_shows_data_volume_error() {
    let sc = Scenario::new("vm-s21d").await;
    sc.create_vm(with_data_volume_template(
        vm_manifest("dverr", "Always"),
        "broken",
    ))
    .await;
    until(TIMEOUT, "the DataVolume from the template", async || {
        sc.get(&format!("{}/broken", dvs(&sc)))
            .await
            .ok_or_else(|| "none".to_string())
    })
    .await;
    set_dv_status(&sc, "broken", json!({"phase": "Failed"})).await;
    sc.wait_printable("dverr", "DataVolumeError").await;
    let event = sc
        .wait_event("VirtualMachine", "dverr", "FailedDataVolumeImport")
        .await;
    assert_eq!(event["type"], "Warning");
    holds_for(
        Duration::from_secs(3),
        "DataVolumeError without a VMI",
        async || {
            let vm = sc.vm("dverr").await.unwrap();
            match sc.vmi("dverr").await {
                Some(v) => Err(format!("VMI {} {}", uid(&v), phase(&v))),
                None if printable(&vm) == "DataVolumeError" => Ok(()),
                None => Err(printable(&vm).to_string()),
            }
        },
    )
    .await;
}

// Scenario 22. The VM creates the DataVolume from its template; CDI's part (status, claim) is
// played by the test.
#[tokio::test(flavor = "multi_thread")]
async fn volumes_being_provisioned_or_bound_show_in_the_printable_status() {
    let sc = Scenario::new("vm-s22").await;
    sc.create_vm(with_data_volume_template(
        vm_manifest("provisioning", "Always"),
        "importing",
    ))
    .await;
    let dv = until(TIMEOUT, "the DataVolume from the template", async || {
        sc.get(&format!("{}/importing", dvs(&sc)))
            .await
            .ok_or_else(|| "none".to_string())
    })
    .await;
    let vm = sc.vm("provisioning").await.unwrap();
    assert_eq!(
        dv["metadata"]["ownerReferences"][0]["uid"],
        vm["metadata"]["uid"]
    );
    set_dv_status(
        &sc,
        "importing",
        json!({"phase": "ImportInProgress", "progress": "10.0%"}),
    )
    .await;
    create_pvc(&sc, "importing").await;

    create_pvc(&sc, "unbound").await;
    sc.create_vm(with_volume(
        vm_manifest("waiting", "Always"),
        json!({"name": "data", "persistentVolumeClaim": {"claimName": "unbound"}}),
    ))
    .await;
    sc.create_vm(with_volume(
        vm_manifest("waiting-halted", "Halted"),
        json!({"name": "data", "persistentVolumeClaim": {"claimName": "unbound"}}),
    ))
    .await;

    create_dv(&sc, "wffc", json!({"phase": "WaitForFirstConsumer"})).await;
    create_pvc(&sc, "wffc").await;
    sc.create_vm(with_volume(
        vm_manifest("waiting-dv", "Always"),
        json!({"name": "data", "dataVolume": {"name": "wffc"}}),
    ))
    .await;

    sc.wait_printable("provisioning", "Provisioning").await;
    holds_for(
        Duration::from_secs(2),
        "no VMI while the DataVolume imports",
        async || match sc.vmi("provisioning").await {
            None => Ok(()),
            Some(v) => Err(format!("VMI {}", uid(&v))),
        },
    )
    .await;
    sc.wait_printable("waiting", "WaitingForVolumeBinding")
        .await;
    sc.wait_printable("waiting-dv", "WaitingForVolumeBinding")
        .await;
    sc.wait_printable("waiting-halted", "Stopped").await;

    // The import finishes and the claim is bound: the VM starts.
    set_dv_status(
        &sc,
        "importing",
        json!({"phase": "Succeeded", "progress": "100.0%"}),
    )
    .await;
    bind_pvc(&sc, "importing").await;
    sc.wait_running("provisioning", &[]).await;

    // The launcher of a started VM waits for its claim: binding it lets the VM run.
    let vmi = sc
        .vmi("waiting")
        .await
        .expect("a VMI waiting for its claim");
    assert_eq!(phase(&vmi), "Scheduling");
    bind_pvc(&sc, "unbound").await;
    sc.wait_running("waiting", &[]).await;
    sc.wait_printable("waiting", "Running").await;
}

fn owner_uids(obj: &Value) -> Vec<String> {
    obj["metadata"]["ownerReferences"]
        .as_array()
        .map(|a| a.iter().map(|r| s(r, "/uid").to_string()).collect())
        .unwrap_or_default()
}

// Scenario 23.
#[tokio::test(flavor = "multi_thread")]
async fn orphan_vmi_with_the_vm_name_is_adopted_and_others_ignored() {
    let sc = Scenario::new("vm-s23").await;
    let same = sc
        .create("virtualmachineinstances", vmi_manifest("adoptee"))
        .await;
    let other = sc
        .create("virtualmachineinstances", vmi_manifest("stranger"))
        .await;
    sc.wait_running("adoptee", &[]).await;
    let vm = sc.create_vm(vm_manifest("adoptee", "Always")).await;
    let adopted = sc
        .wait_vmi("adoptee", "owned by the VM", |v| {
            owner_uids(v) == vec![uid(&vm)]
        })
        .await;
    assert_eq!(uid(&adopted), uid(&same), "the same VMI, not a new one");
    let owner = &adopted["metadata"]["ownerReferences"][0];
    assert_eq!(owner["controller"], true);
    assert_eq!(owner["blockOwnerDeletion"], true);
    assert_eq!(owner["kind"], "VirtualMachine");
    sc.wait_vm("adoptee", "Running", |vm| printable(vm) == "Running")
        .await;

    // A VM with another name creates its own VMI and leaves the stranger alone.
    let vm = sc.create_vm(vm_manifest("owner", "Always")).await;
    let own = sc.wait_running("owner", &[]).await;
    assert_eq!(owner_uids(&own), vec![uid(&vm)]);
    let stranger = sc.vmi("stranger").await.unwrap();
    assert_eq!(uid(&stranger), uid(&other));
    assert!(owner_uids(&stranger).is_empty(), "{}", stranger["metadata"]);
}

/// The legacy firmware UUID of a VM named `same` or `other` (UUIDv5 of the name in KubeVirt's
/// namespace `6a1a24a1-4061-4607-8bf4-a3963d0c5895`), computed independently.
const LEGACY_UUID_SAME: &str = "c9b0cbe7-d83c-51a2-971f-8796601d1e5c";
const LEGACY_UUID_OTHER: &str = "e546dc33-f30b-5999-a87d-04b95186a9ed";

fn firmware_uuid(obj: &Value, prefix: &str) -> String {
    s(obj, &format!("{prefix}/domain/firmware/uuid")).to_string()
}

fn is_uuid_v4(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.iter().map(|p| p.len()).collect::<Vec<_>>() == vec![8, 4, 4, 4, 12]
        && parts[2].starts_with('4')
        && s.chars().all(|c| c == '-' || c.is_ascii_hexdigit())
}

// Scenario 24.
#[tokio::test(flavor = "multi_thread")]
async fn firmware_uuids_are_random_at_create_and_derived_from_the_name_otherwise() {
    let a = Scenario::new("vm-s24a").await;
    let b = Scenario::new("vm-s24b").await;
    // Created through the API: random uuid and serial.
    let x = a.create_vm(vm_manifest("random1", "Halted")).await;
    let y = a.create_vm(vm_manifest("random2", "Halted")).await;
    let tpl = "/spec/template/spec";
    for vm in [&x, &y] {
        assert!(is_uuid_v4(&firmware_uuid(vm, tpl)), "{}", vm["spec"]);
        assert!(is_uuid_v4(s(vm, &format!("{tpl}/domain/firmware/serial"))));
    }
    assert_ne!(firmware_uuid(&x, tpl), firmware_uuid(&y, tpl));

    // Without a uuid in the template: the name decides, whatever the namespace.
    let remove_uuid = json!([{"op": "remove", "path": "/spec/template/spec/domain/firmware/uuid"}]);
    for (sc, name) in [(&a, "same"), (&b, "same"), (&a, "other")] {
        sc.create_vm(vm_manifest(name, "Halted")).await;
        let r = sc.json_patch(&sc.vm_path(name), remove_uuid.clone()).await;
        assert!(r.is_success(), "{}", r.body);
        sc.set_run_strategy(name, "Always").await;
    }
    for (sc, name, want) in [
        (&a, "same", LEGACY_UUID_SAME),
        (&b, "same", LEGACY_UUID_SAME),
        (&a, "other", LEGACY_UUID_OTHER),
    ] {
        let vmi = sc.wait_running(name, &[]).await;
        assert_eq!(firmware_uuid(&vmi, "/spec"), want, "{}/{name}", sc.ns);
        let vm = sc
            .wait_vm(name, "the legacy uuid written back", |vm| {
                firmware_uuid(vm, tpl) == want
            })
            .await;
        assert_eq!(firmware_uuid(&vm, tpl), want);
    }

    // An explicit uuid is honoured.
    let mut explicit = vm_manifest("explicit", "Always");
    set(
        &mut explicit,
        "/spec/template/spec/domain/firmware/uuid",
        json!("5d307ca9-b3ef-428c-8861-06e72d69f223"),
    );
    a.create_vm(explicit).await;
    let vmi = a.wait_running("explicit", &[]).await;
    assert_eq!(
        firmware_uuid(&vmi, "/spec"),
        "5d307ca9-b3ef-428c-8861-06e72d69f223"
    );
}

// Scenario 25.
#[tokio::test(flavor = "multi_thread")]
async fn rerun_on_failure_starts_when_created_or_switched_to_but_not_after_a_stop() {
    let sc = Scenario::new("vm-s25").await;
    sc.create_vm(vm_manifest("fresh", "RerunOnFailure")).await;
    sc.create_vm(vm_manifest("from-halted", "Halted")).await;
    sc.create_vm(vm_manifest("from-manual", "Manual")).await;
    sc.wait_running("fresh", &[]).await;
    sc.wait_printable("from-halted", "Stopped").await;
    sc.wait_printable("from-manual", "Stopped").await;
    for name in ["from-halted", "from-manual"] {
        sc.set_run_strategy(name, "RerunOnFailure").await;
    }
    for name in ["from-halted", "from-manual"] {
        sc.wait_running(name, &[]).await;
    }
    // status.runStrategy is RerunOnFailure and no Start request is queued: no start.
    let vm = sc
        .wait_vm("fresh", "status.runStrategy", |vm| {
            vm["status"]["runStrategy"] == "RerunOnFailure"
        })
        .await;
    assert_eq!(vm["status"]["runStrategy"], "RerunOnFailure");
    let r = sc.vm_sub("fresh", "stop", None).await;
    assert_eq!(r.code, 202, "{}", r.body);
    sc.wait_vmi_gone("fresh").await;
    holds_for(Duration::from_secs(3), "no restart", async || {
        match sc.vmi("fresh").await {
            None => Ok(()),
            Some(v) => Err(format!("VMI {} appeared", uid(&v))),
        }
    })
    .await;
}

// Scenario 26.
#[tokio::test(flavor = "multi_thread")]
async fn stop_and_start_requests_replace_the_vmi_of_an_always_vm() {
    let sc = Scenario::new("vm-s26").await;
    let (_, vmi) = sc.running_vm(vm_manifest("requests", "Always")).await;
    let old = uid(&vmi);
    let r = sc
        .merge_patch(
            &format!("{}/status", sc.vm_path("requests")),
            json!({"status": {"stateChangeRequests": [
                {"action": "Stop", "uid": old},
                {"action": "Start"},
            ]}}),
        )
        .await;
    assert!(r.is_success(), "{}", r.body);
    let mut seen = BTreeSet::new();
    let new = until(TIMEOUT, "a new Running VMI", async || {
        match sc.vmi("requests").await {
            Some(v) => {
                seen.insert(uid(&v));
                if uid(&v) != old && phase(&v) == "Running" {
                    Ok(v)
                } else {
                    Err(format!("{} {}", uid(&v), phase(&v)))
                }
            }
            None => Err("no VMI".into()),
        }
    })
    .await;
    assert_ne!(uid(&new), old);
    sc.wait_vm("requests", "no requests", |vm| {
        vm["status"]["stateChangeRequests"]
            .as_array()
            .is_none_or(|a| a.is_empty())
    })
    .await;
}
