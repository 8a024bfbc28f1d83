//! The QEMU driver runs real guests (TCG) against a real API server; the test plays
//! virt-controller (creates the launcher pod, moves the VMI to Scheduled, deletes pods).

mod common;
mod qemu_common;

use anyhow::Result;
use common::{eventually, pod_condition, vmi_condition};
use kube::api::DeleteParams;
use qemu_common::{BOOT_MARKER, BOOT_TIMEOUT, QemuNode};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_guest_boots_to_running_and_a_graceful_delete_ends_succeeded() -> Result<()> {
    let node = QemuNode::start().await?;
    let vmi = node.run_vmi("boot", json!({})).await?;
    node.wait_serial(&vmi, BOOT_MARKER).await?;

    let status = vmi.status.clone().unwrap_or_default();
    let pod = node.cluster.launcher("boot").await.expect("launcher pod");
    let pod_ip = pod.status.as_ref().and_then(|s| s.pod_ip.clone());
    let iface = &status.interfaces.clone().unwrap_or_default()[0];
    assert_eq!(iface.ip_address, pod_ip, "the interface carries the pod IP");
    assert!(
        iface
            .mac
            .as_deref()
            .is_some_and(|m| m.starts_with("52:54:00:"))
    );
    let machine = status.machine.and_then(|m| m.type_).unwrap_or_default();
    assert!(machine.starts_with("pc-q35-"), "{machine}");
    assert_eq!(
        vmi_condition(&vmi, "SoftwareEmulation"),
        Some(("True".into(), Some("SoftwareEmulationRequested".into())))
    );
    let (type_, message) = node.wait_event("boot", "Started").await?;
    assert_eq!(
        (type_.as_str(), message.as_str()),
        ("Normal", "VirtualMachineInstance started.")
    );
    let node_obj: k8s_openapi::api::core::v1::Node = kube::Api::all(node.cluster.admin.clone())
        .get(&node.node_name)
        .await?;
    let capacity = node_obj.status.and_then(|s| s.capacity).unwrap_or_default();
    assert_eq!(
        capacity["cpu"].0,
        std::thread::available_parallelism()?.get().to_string()
    );

    // Deleting the VMI asks the guest to power off; it obeys within the grace period.
    node.cluster
        .vmis()
        .delete("boot", &DeleteParams::default())
        .await?;
    let (type_, message) = node.wait_event("boot", "ShuttingDown").await?;
    assert_eq!(
        (type_.as_str(), message.as_str()),
        ("Normal", "Signaled Graceful Shutdown")
    );
    node.wait_phase("boot", "Succeeded").await?;
    let (type_, message) = node.wait_event("boot", "Stopped").await?;
    assert_eq!(
        (type_.as_str(), message.as_str()),
        ("Normal", "The VirtualMachineInstance was shut down.")
    );
    assert!(
        !node
            .cluster
            .events("boot")
            .await
            .iter()
            .any(|e| e.1 == "Deleted"),
        "the guest was not killed"
    );

    // virt-controller deletes the pod; it goes once the VMI is final; the run directory too.
    node.cluster
        .pods()
        .delete(
            pod.metadata.name.as_deref().unwrap_or_default(),
            &DeleteParams::default(),
        )
        .await?;
    eventually(BOOT_TIMEOUT, "launcher pod gone", || async {
        node.cluster.launcher("boot").await.is_none().then_some(())
    })
    .await?;
    node.cluster.release_vmi("boot").await?;
    let run_dir = node.run_dir(&vmi);
    eventually(BOOT_TIMEOUT, "run directory removed", || async {
        (!run_dir.exists()).then_some(())
    })
    .await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grace_zero_destroys_at_once_and_ends_succeeded() -> Result<()> {
    let node = QemuNode::start().await?;
    let vmi = node
        .run_vmi("quick", json!({"terminationGracePeriodSeconds": 0}))
        .await?;
    let qemu_pid = node.state(&vmi)?.qemu_pid.expect("qemu pid");
    node.cluster
        .vmis()
        .delete("quick", &DeleteParams::default())
        .await?;
    let (type_, message) = node.wait_event("quick", "Deleted").await?;
    assert_eq!(
        (type_.as_str(), message.as_str()),
        ("Normal", "VirtualMachineInstance stopping")
    );
    node.wait_phase("quick", "Succeeded").await?;
    assert!(
        !node
            .cluster
            .events("quick")
            .await
            .iter()
            .any(|e| e.1 == "ShuttingDown"),
        "no ACPI request with grace 0"
    );
    assert!(!virt_launcher::process::is_alive(qemu_pid));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_qemu_fails_the_vmi_with_a_warning() -> Result<()> {
    let node = QemuNode::start().await?;
    let vmi = node.run_vmi("victim", json!({})).await?;
    let qemu_pid = node.state(&vmi)?.qemu_pid.expect("qemu pid");
    virt_launcher::process::kill_pid(qemu_pid)?;
    node.wait_phase("victim", "Failed").await?;
    let (type_, message) = node.wait_event("victim", "Stopped").await?;
    assert_eq!(
        (type_.as_str(), message.as_str()),
        ("Warning", "The VirtualMachineInstance crashed.")
    );
    // The launcher pod completes: nothing runs in it any more.
    eventually(BOOT_TIMEOUT, "launcher pod completed", || async {
        let pod = node.cluster.launcher("victim").await?;
        (pod.status?.phase.as_deref() == Some("Succeeded")).then_some(())
    })
    .await?;
    assert!(
        !node
            .cluster
            .events("victim")
            .await
            .iter()
            .any(|e| e.1 == "SyncFailed")
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_guest_ignores_acpi_and_is_killed_at_grace_expiry() -> Result<()> {
    let node = QemuNode::start().await?;
    node.run_vmi(
        "stubborn",
        json!({"startStrategy": "Paused", "terminationGracePeriodSeconds": 3}),
    )
    .await?;
    let vmi = node.cluster.vmis().get("stubborn").await?;
    assert_eq!(
        vmi_condition(&vmi, "Paused"),
        Some(("True".into(), Some("PausedByUser".into())))
    );
    let pod = eventually(BOOT_TIMEOUT, "pod readiness gate false", || async {
        let pod = node.cluster.launcher("stubborn").await?;
        (pod_condition(&pod, "kubevirt.io/virtual-machine-unpaused")?.0 == "False").then_some(pod)
    })
    .await?;
    assert_eq!(
        pod_condition(&pod, "Ready").map(|c| c.0).as_deref(),
        Some("False")
    );

    node.cluster
        .vmis()
        .delete("stubborn", &DeleteParams::default())
        .await?;
    node.wait_event("stubborn", "ShuttingDown").await?;
    let (_, message) = node.wait_event("stubborn", "Deleted").await?;
    assert_eq!(message, "VirtualMachineInstance stopping");
    node.wait_phase("stubborn", "Failed").await?;
    let reasons: Vec<String> = node
        .cluster
        .events("stubborn")
        .await
        .into_iter()
        .map(|e| e.1)
        .collect();
    let pos = |r: &str| reasons.iter().position(|x| x == r);
    assert!(pos("ShuttingDown") < pos("Deleted"), "{reasons:?}");
    Ok(())
}
