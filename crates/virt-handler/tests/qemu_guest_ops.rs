//! What virt-api asks of a running guest through the QEMU driver's gateway (console,
//! screenshot, VNC, pause and unpause, soft reboot), a driver restart that keeps the guest
//! (fail-static), and a power-off from inside the guest. One guest serves all checks, in this
//! order, to keep TCG boots few.

mod common;
mod qemu_common;

use anyhow::{Context, Result};
use common::{eventually, pod_condition, vmi_condition};
use qemu_common::{BOOT_MARKER, BOOT_TIMEOUT, QemuNode, console_round_trip};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use virt_api::node::{NodeError, NodeGateway};

async fn wait_paused_condition(node: &QemuNode, name: &str, present: bool) -> Result<()> {
    eventually(
        BOOT_TIMEOUT,
        &format!("Paused condition present={present}"),
        || async {
            let vmi = node.cluster.vmis().get(name).await.ok()?;
            let cond = vmi_condition(&vmi, "Paused");
            let ok = match present {
                true => cond == Some(("True".into(), Some("PausedByUser".into()))),
                false => cond.is_none(),
            };
            ok.then_some(())
        },
    )
    .await
}

async fn wait_unpaused_gate(node: &QemuNode, name: &str, status: &str) -> Result<()> {
    eventually(
        BOOT_TIMEOUT,
        &format!("readiness gate {status}"),
        || async {
            let pod = node.cluster.launcher(name).await?;
            (pod_condition(&pod, "kubevirt.io/virtual-machine-unpaused")?.0 == status).then_some(())
        },
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_running_guest_serves_the_gateway_survives_a_driver_restart_and_powers_off() -> Result<()>
{
    let mut node = QemuNode::start().await?;
    // No network interface: the test guest's DHCP client holds its shell back while it waits
    // for a lease.
    let vmi = node
        .run_vmi(
            "ops",
            json!({"domain": {"devices": {"autoattachPodInterface": false}}}),
        )
        .await?;
    node.wait_serial(&vmi, BOOT_MARKER).await?;
    let status = vmi.status.clone().unwrap_or_default();
    assert_eq!(status.node_name.as_deref(), Some(node.node_name.as_str()));
    let qemu_pid = node.state(&vmi)?.qemu_pid.context("qemu pid")?;

    // The test guest has no guest agent.
    assert_eq!(
        node.gateway.guest_os_info(&vmi).await.unwrap_err(),
        NodeError::Unavailable("VMI does not have guest agent connected".into())
    );

    // Console: a command typed in the guest's shell answers on the same stream.
    let mut console = node.gateway.console(&vmi).await?;
    console_round_trip(&mut console, "echo answer-$((6*7))", "answer-42").await?;
    drop(console);

    // Screenshot: a PNG of the guest's display.
    let png = node.gateway.screenshot(&vmi).await?;
    assert!(
        png.starts_with(b"\x89PNG\r\n\x1a\n"),
        "not a PNG: {:?}",
        &png[..png.len().min(16)]
    );

    // VNC: the stream speaks RFB.
    let mut vnc = node.gateway.vnc(&vmi).await?;
    let mut banner = [0u8; 12];
    tokio::time::timeout(BOOT_TIMEOUT, vnc.read_exact(&mut banner)).await??;
    assert!(banner.starts_with(b"RFB 003."), "{banner:?}");
    drop(vnc);

    // Pause: the domain stops, the VMI says PausedByUser, the pod is not ready.
    node.gateway.pause(&vmi).await?;
    wait_paused_condition(&node, "ops", true).await?;
    wait_unpaused_gate(&node, "ops", "False").await?;
    let state = node.state(&vmi)?;
    assert!(
        matches!(
            state.state,
            virt_launcher::state::DomainState::Paused { .. }
        ),
        "{:?}",
        state.state
    );
    assert_eq!(
        node.cluster.vmis().get("ops").await?.phase().as_str(),
        "Running"
    );
    node.gateway.unpause(&vmi).await?;
    wait_paused_condition(&node, "ops", false).await?;
    wait_unpaused_gate(&node, "ops", "True").await?;

    // Fail-static: a new driver on the same data directory takes the guest over as it runs.
    node.stop_driver();
    assert!(
        virt_launcher::process::is_alive(qemu_pid),
        "the guest outlives its driver"
    );
    node.restart_driver();
    let mut console = eventually(BOOT_TIMEOUT, "console after the restart", || async {
        node.gateway.console(&vmi).await.ok()
    })
    .await?;
    console_round_trip(&mut console, "echo still-$((7*6))", "still-42").await?;
    assert_eq!(node.state(&vmi)?.qemu_pid, Some(qemu_pid), "same QEMU");
    // The new driver's gateway pauses and unpauses too.
    node.gateway.pause(&vmi).await?;
    wait_paused_condition(&node, "ops", true).await?;
    node.gateway.unpause(&vmi).await?;
    wait_paused_condition(&node, "ops", false).await?;
    let vmi_now = node.cluster.vmis().get("ops").await?;
    assert_eq!(vmi_now.phase().as_str(), "Running");
    let started = node
        .cluster
        .events("ops")
        .await
        .into_iter()
        .filter(|e| e.1 == "Started")
        .count();
    assert_eq!(started, 1, "the guest was not started again");

    // A soft reboot restarts the guest inside the same QEMU; the VMI stays Running.
    node.gateway.soft_reboot(&vmi).await?;
    let serial = node.run_dir(&vmi).join("serial.log");
    eventually(BOOT_TIMEOUT, "a second boot", || async {
        let log = std::fs::read_to_string(&serial).ok()?;
        (log.matches(BOOT_MARKER).count() >= 2).then_some(())
    })
    .await?;
    console_round_trip(&mut console, "echo again-$((6*7))", "again-42").await?;
    assert_eq!(node.state(&vmi)?.qemu_pid, Some(qemu_pid), "same QEMU");
    assert_eq!(
        node.cluster.vmis().get("ops").await?.phase().as_str(),
        "Running"
    );

    // A power-off inside the guest ends the VMI Succeeded.
    console.write_all(b"poweroff\n").await?;
    console.flush().await?;
    node.wait_phase("ops", "Succeeded").await?;
    let (type_, message) = node.wait_event("ops", "Stopped").await?;
    assert_eq!(
        (type_.as_str(), message.as_str()),
        ("Normal", "The VirtualMachineInstance was shut down.")
    );
    eventually(BOOT_TIMEOUT, "QEMU gone", || async {
        (!virt_launcher::process::is_alive(qemu_pid)).then_some(())
    })
    .await?;
    Ok(())
}
