//! How a guest's end becomes the VMI's final phase: a kernel panic reported by a panic device,
//! a reboot under `rebootPolicy: Terminate`, a deleted launcher pod, and a QEMU that died
//! while the driver was down.

mod common;
mod qemu_common;

use anyhow::{Context, Result};
use common::eventually;
use kube::api::DeleteParams;
use qemu_common::{BOOT_MARKER, BOOT_TIMEOUT, QemuNode, console_round_trip};
use serde_json::{Value, json};
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use virt_api::node::NodeGateway;

/// Devices without a network interface: the test guest's shell starts without waiting for a
/// DHCP lease.
fn no_nic(devices: Value) -> Value {
    let mut d = json!({"autoattachPodInterface": false});
    common::merge(&mut d, devices);
    d
}

/// Boots `name`, waits for its shell, and types `command` until the VMI reaches `phase`. The
/// command is typed again every few seconds while the console stays open: on a loaded machine
/// a line typed once can be lost before the guest's shell reads it.
async fn boot_and_type_until(
    node: &QemuNode,
    name: &str,
    spec: Value,
    command: &str,
    phase: &str,
) -> Result<()> {
    let vmi = node.run_vmi(name, spec).await?;
    node.wait_serial(&vmi, BOOT_MARKER).await?;
    let mut console = node.gateway.console(&vmi).await?;
    console_round_trip(&mut console, "echo shell-$((40+2))", "shell-42").await?;
    let vmis = node.cluster.vmis();
    let deadline = tokio::time::Instant::now() + BOOT_TIMEOUT;
    loop {
        // The guest may already be gone, closing the console: a failed write is not an error.
        if console
            .write_all(format!("{command}\n").as_bytes())
            .await
            .is_ok()
        {
            let _ = console.flush().await;
        }
        for _ in 0..10 {
            tokio::time::sleep(Duration::from_millis(500)).await;
            if vmis
                .get(name)
                .await
                .is_ok_and(|v| v.phase().as_str() == phase)
            {
                return Ok(());
            }
        }
        if tokio::time::Instant::now() > deadline {
            // The usual wait, for its diagnostics.
            node.wait_phase(name, phase).await?;
            return Ok(());
        }
    }
}

async fn assert_stopped_event(
    node: &QemuNode,
    name: &str,
    type_: &str,
    message: &str,
) -> Result<()> {
    let (t, m) = node.wait_event(name, "Stopped").await?;
    assert_eq!((t.as_str(), m.as_str()), (type_, message));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_guest_panic_reported_by_a_panic_device_fails_the_vmi() -> Result<()> {
    let node = QemuNode::start().await?;
    let spec = json!({"domain": {"devices": no_nic(json!({"panicDevices": [{"model": "isa"}]}))}});
    boot_and_type_until(
        &node,
        "panicky",
        spec,
        "echo c > /proc/sysrq-trigger",
        "Failed",
    )
    .await?;
    assert_stopped_event(
        &node,
        "panicky",
        "Warning",
        "The VirtualMachineInstance crashed.",
    )
    .await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_guest_reboot_under_reboot_policy_terminate_ends_succeeded() -> Result<()> {
    let node = QemuNode::start().await?;
    let spec = json!({"domain": {"rebootPolicy": "Terminate", "devices": no_nic(json!({}))}});
    boot_and_type_until(&node, "once", spec, "reboot", "Succeeded").await?;
    assert_stopped_event(
        &node,
        "once",
        "Normal",
        "The VirtualMachineInstance was shut down.",
    )
    .await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_the_launcher_pod_stops_the_guest_and_ends_the_vmi() -> Result<()> {
    let node = QemuNode::start().await?;
    let vmi = node
        .run_vmi("podless", json!({"terminationGracePeriodSeconds": 5}))
        .await?;
    let qemu_pid = node.state(&vmi)?.qemu_pid.context("qemu pid")?;
    let pod = node
        .cluster
        .launcher("podless")
        .await
        .context("launcher pod")?;
    node.cluster
        .pods()
        .delete(
            pod.metadata.name.as_deref().unwrap_or_default(),
            &DeleteParams::default(),
        )
        .await?;
    let vmi = eventually(BOOT_TIMEOUT, "podless final", || async {
        let v = node.cluster.vmis().get("podless").await.ok()?;
        v.is_final().then_some(v)
    })
    .await?;
    assert!(
        ["Succeeded", "Failed"].contains(&vmi.phase().as_str()),
        "{:?}",
        vmi.phase()
    );
    assert!(node.wait_event("podless", "ShuttingDown").await.is_ok());
    eventually(BOOT_TIMEOUT, "QEMU gone", || async {
        (!virt_launcher::process::is_alive(qemu_pid)).then_some(())
    })
    .await?;
    eventually(BOOT_TIMEOUT, "launcher pod gone", || async {
        node.cluster
            .launcher("podless")
            .await
            .is_none()
            .then_some(())
    })
    .await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_guest_that_died_while_the_driver_was_down_is_failed_on_restart() -> Result<()> {
    let mut node = QemuNode::start().await?;
    let vmi = node.run_vmi("orphaned", json!({})).await?;
    let qemu_pid = node.state(&vmi)?.qemu_pid.context("qemu pid")?;
    node.stop_driver();
    virt_launcher::process::kill_pid(qemu_pid)?;
    eventually(BOOT_TIMEOUT, "QEMU gone", || async {
        (!virt_launcher::process::is_alive(qemu_pid)).then_some(())
    })
    .await?;
    assert_eq!(
        node.cluster.vmis().get("orphaned").await?.phase().as_str(),
        "Running",
        "nobody reported the end yet"
    );
    node.restart_driver();
    node.wait_phase("orphaned", "Failed").await?;
    assert_stopped_event(
        &node,
        "orphaned",
        "Warning",
        "The VirtualMachineInstance crashed.",
    )
    .await?;
    Ok(())
}
