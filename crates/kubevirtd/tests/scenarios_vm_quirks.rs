//! The upstream oddities of the VirtualMachine controller that are reproduced (QUIRK in §2.2 of
//! the behaviour spec), end to end against the real `kubevirtd` with its simulated nodes.

mod common;
#[path = "common/scenario.rs"]
mod scenario;

use scenario::*;
use serde_json::json;

// §2.2 QUIRK: under Once a final VMI is kept, but deleting it starts a new one.
#[tokio::test(flavor = "multi_thread")]
async fn deleting_the_final_vmi_of_a_once_vm_starts_a_new_one() {
    let sc = Scenario::new("quirk-once").await;
    let manifest = with_template_annotation(
        vm_manifest("once", "Once"),
        "simulation.kubevirt.io/poweroff-after",
        "1s",
    );
    sc.create_vm(manifest).await;
    let first = sc
        .wait_vmi("once", "Succeeded", |v| phase(v) == "Succeeded")
        .await;
    sc.wait_printable("once", "Stopped").await;
    let r = sc.delete(&sc.vmi_path("once"), None).await;
    assert!(r.is_success(), "{}", r.body);
    let second = sc
        .wait_vmi("once", "a new VMI", |v| uid(v) != uid(&first))
        .await;
    assert_ne!(uid(&second), uid(&first));
    let vm = sc.vm("once").await.unwrap();
    assert_eq!(vm["spec"]["runStrategy"], "Once");
}

// §2.2 QUIRK: a paused start of a Halted VM is a Start request that the controller turns into
// `runStrategy: Always`, ending that pass with the error "Failure while starting VMI: <nil>".
// As upstream, that pass's status write conflicts with the spec update it just made, so the
// Failure condition is never stored; what shows is the spec flip and a paused guest.
#[tokio::test(flavor = "multi_thread")]
async fn paused_start_of_a_halted_vm_flips_it_to_always_and_starts_paused() {
    let sc = Scenario::new("quirk-halted").await;
    sc.create_vm(vm_manifest("halted", "Halted")).await;
    sc.wait_printable("halted", "Stopped").await;
    let r = sc
        .vm_sub("halted", "start", Some(json!({"paused": true})))
        .await;
    assert_eq!(r.code, 202, "{}", r.body);
    let vmi = sc
        .wait_vmi("halted", "Running and paused", |v| {
            phase(v) == "Running" && condition(v, "Paused").is_some_and(|c| c["status"] == "True")
        })
        .await;
    assert_eq!(s(&vmi, "/spec/startStrategy"), "Paused");
    let vm = sc
        .wait_vm("halted", "Paused without requests", |vm| {
            printable(vm) == "Paused"
                && vm["status"]["stateChangeRequests"]
                    .as_array()
                    .is_none_or(|a| a.is_empty())
        })
        .await;
    assert_eq!(vm["spec"]["runStrategy"], "Always");
    assert!(condition(&vm, "Failure").is_none(), "{}", vm["status"]);
}
