//! Soft reboot of a real guest through the QEMU driver's gateway (what virt-api's
//! `softreboot` subresource calls): the guest is asked through ACPI, powers off, and boots again
//! inside the same QEMU while the VMI stays Running; a guest without ACPI (and, here, without a
//! guest agent) is refused with upstream's message.

mod common;
mod qemu_common;

use std::sync::{Arc, Mutex};

use anyhow::{Context, Result};
use api::VirtualMachineInstance;
use common::eventually;
use futures::StreamExt;
use kube::runtime::watcher;
use qemu_common::{BOOT_MARKER, BOOT_TIMEOUT, QemuNode, console_round_trip};
use serde_json::json;
use virt_api::node::NodeGateway;

/// Every phase a watch saw for the VMI `name`, in order (repeats collapsed).
fn watch_phases(
    node: &QemuNode,
    name: &str,
) -> (Arc<Mutex<Vec<String>>>, tokio::task::JoinHandle<()>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    let config = watcher::Config::default().fields(&format!("metadata.name={name}"));
    let stream = watcher(node.cluster.vmis(), config);
    let task = tokio::spawn(async move {
        let mut stream = stream.boxed();
        while let Some(event) = stream.next().await {
            let vmi: VirtualMachineInstance = match event {
                Ok(watcher::Event::Apply(v) | watcher::Event::InitApply(v)) => v,
                _ => continue,
            };
            let phase = vmi.phase().as_str().to_string();
            let mut seen = log.lock().expect("log");
            if seen.last() != Some(&phase) {
                seen.push(phase);
            }
        }
    });
    (seen, task)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_soft_reboot_boots_the_guest_again_while_the_vmi_stays_running() -> Result<()> {
    let node = QemuNode::start().await?;
    let no_network = json!({"domain": {"devices": {"autoattachPodInterface": false}}});
    let vmi = node.run_vmi("reboot", no_network).await?;
    let (phases, watch) = watch_phases(&node, "reboot");
    // The power button is only heard once the guest's acpid runs, which the shell follows.
    let mut console = node.gateway.console(&vmi).await?;
    console_round_trip(&mut console, "echo up-$((6*7))", "up-42").await?;
    let qemu_pid = node.state(&vmi)?.qemu_pid.context("qemu pid")?;
    let serial = node.run_dir(&vmi).join("serial.log");
    let boots = std::fs::read_to_string(&serial)?
        .matches(BOOT_MARKER)
        .count();
    assert_eq!(boots, 1, "one boot so far");

    node.gateway.soft_reboot(&vmi).await?;
    eventually(BOOT_TIMEOUT, "a second boot", || async {
        let log = std::fs::read_to_string(&serial).ok()?;
        (log.matches(BOOT_MARKER).count() >= 2).then_some(())
    })
    .await?;
    let log = std::fs::read_to_string(&serial)?;
    assert!(
        log.contains("power button pressed"),
        "the guest was asked through ACPI:\n{log}"
    );
    console_round_trip(&mut console, "echo again-$((6*7))", "again-42").await?;
    assert_eq!(node.state(&vmi)?.qemu_pid, Some(qemu_pid), "same QEMU");
    assert!(virt_launcher::process::is_alive(qemu_pid));
    let now = node.cluster.vmis().get("reboot").await?;
    assert_eq!(now.metadata.uid, vmi.metadata.uid, "same VMI");
    assert_eq!(now.phase().as_str(), "Running");
    let seen = phases.lock().expect("log").clone();
    assert_eq!(seen, ["Running"], "the VMI never left Running: {seen:?}");
    let events = node.cluster.events("reboot").await;
    assert!(
        !events.iter().any(|e| e.1 == "Stopped"),
        "no Stopped event: {events:?}"
    );
    watch.abort();
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_guest_without_acpi_and_agent_refuses_a_soft_reboot() -> Result<()> {
    let node = QemuNode::start().await?;
    let spec = json!({"domain": {
        "features": {"acpi": {"enabled": false}},
        "devices": {"autoattachPodInterface": false},
    }});
    let vmi = node.run_vmi("noacpi", spec).await?;
    let err = node.gateway.soft_reboot(&vmi).await.unwrap_err();
    assert!(
        err.to_string()
            .contains("VMI neither have the agent connected nor the ACPI feature enabled"),
        "{err}"
    );
    let state = node.state(&vmi)?;
    assert!(!state.state.is_final(), "the guest still runs: {state:?}");
    assert_eq!(
        node.cluster.vmis().get("noacpi").await?.phase().as_str(),
        "Running"
    );
    Ok(())
}
