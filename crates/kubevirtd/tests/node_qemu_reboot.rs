//! Soft reboot end to end with a real QEMU guest (software emulation): the `softreboot`
//! subresource of virt-api reaches the guest through ACPI, which powers off and boots again in
//! the same VMI and QEMU; the VMI stays Running. A VMI with ACPI disabled and no guest agent is
//! refused with upstream's 409 (§4 of the behaviour spec, softreboot row).

mod common;
#[path = "common/qemu.rs"]
mod qemu;

use std::time::Duration;

use qemu::*;
use serde_json::{Value, json};

const NS: &str = "default";

async fn running_vmi(s: &QemuServer, client: &kube::Client, name: &str) -> Value {
    let path = vmi_path(NS, name);
    let mut last = Value::Null;
    let deadline = std::time::Instant::now() + TIMEOUT;
    loop {
        if let Some(vmi) = get(client, &path).await {
            if phase(&vmi) == "Running" {
                return vmi;
            }
            last = vmi;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "VMI {name} is not Running\n{}",
            s.diagnostics(&last)
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

fn transitions(vmi: &Value) -> Vec<String> {
    vmi["status"]["phaseTransitionTimestamps"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| t["phase"].as_str().map(str::to_string))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn softreboot_boots_the_guest_again_in_the_same_running_vmi() {
    let s = shared_server();
    let client = s.k.client().await;
    kubectl_apply(&s.k, &vm_manifest(NS, "softy", "Always", 30));
    let vmi = running_vmi(&s, &client, "softy").await;
    let pid = s.state(&vmi).and_then(|f| f.qemu_pid).expect("QEMU pid");
    // The power button is heard once the guest's acpid runs, before its shell answers.
    let mut console = Console::connect(&client, NS, "softy").await;
    assert!(
        console.wait_shell(TIMEOUT).await,
        "shell: {:?}\n{}",
        console.seen,
        s.diagnostics(&vmi)
    );

    let path = subresource_path(NS, "virtualmachineinstances", "softy", "softreboot");
    let r = raw(&client, "PUT", &path, Some(json!({}))).await;
    assert_eq!(r.code, 200, "softreboot: {:?}", r.body);
    console.seen.clear();
    assert!(
        console.read_until(BOOT_MARKER, TIMEOUT).await,
        "the guest boots again: {:?}\n{}",
        console.seen,
        s.diagnostics(&vmi)
    );
    assert!(
        console.seen.contains("power button pressed"),
        "asked through ACPI: {:?}",
        console.seen
    );
    assert!(
        console
            .round_trip("echo rebooted-$((40+2))", "rebooted-42", TIMEOUT)
            .await,
        "{:?}",
        console.seen
    );

    let after = get(&client, &vmi_path(NS, "softy")).await.expect("VMI");
    assert_eq!(uid(&after), uid(&vmi), "same VMI");
    assert_eq!(phase(&after), "Running");
    let phases = transitions(&after);
    assert!(
        !phases.iter().any(|p| p == "Succeeded" || p == "Failed"),
        "the VMI never ended: {phases:?}"
    );
    assert_eq!(
        s.state(&after).and_then(|f| f.qemu_pid),
        Some(pid),
        "same QEMU"
    );
    let events = events(&client, NS, "softy").await;
    assert!(
        !events.iter().any(|e| e.1 == "Stopped"),
        "no Stopped event: {events:?}"
    );
    s.k.kubectl_ok(&["delete", "vm", "softy", "--wait=false"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn softreboot_of_a_vmi_without_acpi_or_agent_is_a_conflict() {
    let s = shared_server();
    let client = s.k.client().await;
    let mut manifest = vm_manifest(NS, "noacpi", "Always", 30);
    manifest["spec"]["template"]["spec"]["domain"]["features"] =
        json!({"acpi": {"enabled": false}});
    kubectl_apply(&s.k, &manifest);
    let vmi = running_vmi(&s, &client, "noacpi").await;

    let path = subresource_path(NS, "virtualmachineinstances", "noacpi", "softreboot");
    let r = raw(&client, "PUT", &path, Some(json!({}))).await;
    assert_eq!(r.code, 409, "{:?}", r.body);
    assert!(
        r.message()
            .contains("VMI neither have the agent connected nor the ACPI feature enabled"),
        "{:?}",
        r.body
    );
    let after = get(&client, &vmi_path(NS, "noacpi")).await.expect("VMI");
    assert_eq!(uid(&after), uid(&vmi));
    assert_eq!(phase(&after), "Running");
    s.k.kubectl_ok(&["delete", "vm", "noacpi", "--wait=false"]);
}
