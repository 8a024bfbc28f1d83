//! The simulated driver's virt-handler role against a real API server: the test plays
//! virt-controller (creates the launcher pod, moves the VMI to Scheduled, deletes pods).

mod common;

use std::time::Duration;

use anyhow::Result;
use common::{Cluster, eventually, fast_options, pod_condition, vmi_condition};
use kube::api::DeleteParams;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use virt_api::node::{NodeError, NodeGateway};
use virt_handler::simulated::{CONSOLE_BANNER, NO_DISPLAY};

async fn read_until(stream: &mut (impl AsyncReadExt + Unpin), needle: &str) -> Result<String> {
    let mut seen = Vec::new();
    let mut buf = [0u8; 256];
    tokio::time::timeout(Duration::from_secs(5), async {
        while !String::from_utf8_lossy(&seen).contains(needle) {
            let n = stream.read(&mut buf).await?;
            if n == 0 {
                anyhow::bail!(
                    "EOF before {needle:?}: {:?}",
                    String::from_utf8_lossy(&seen)
                );
            }
            seen.extend_from_slice(&buf[..n]);
        }
        Ok(String::from_utf8_lossy(&seen).into_owned())
    })
    .await?
}

#[tokio::test]
async fn a_scheduled_vmi_runs_with_guest_details_and_a_started_event() -> Result<()> {
    let mut cluster = Cluster::start().await?;
    cluster.simulate(fast_options());
    cluster
        .create_vmi("vm1", &[], json!({"domain": {"cpu": {"cores": 2}}}))
        .await?;
    let pod = cluster.schedule_vmi("vm1").await?;
    assert_eq!(
        pod_condition(&pod, "kubevirt.io/virtual-machine-unpaused")
            .map(|c| c.0)
            .as_deref(),
        Some("True")
    );
    let vmi = cluster.wait_phase("vm1", "Running").await?;
    let status = vmi.status.clone().unwrap_or_default();
    let pod_ip = pod.status.and_then(|s| s.pod_ip).unwrap_or_default();
    let iface = &status.interfaces.unwrap_or_default()[0];
    assert_eq!(iface.ip_address.as_deref(), Some(pod_ip.as_str()));
    assert_eq!(iface.name.as_deref(), Some("default"));
    assert_eq!(
        status.guest_os_info.and_then(|g| g.id).as_deref(),
        Some("fedora")
    );
    assert!(
        status
            .machine
            .and_then(|m| m.type_)
            .is_some_and(|t| t.starts_with("pc-q35"))
    );
    assert_eq!(status.current_cpu_topology.and_then(|t| t.cores), Some(2));
    assert_eq!(
        vmi_condition(&vmi, "AgentConnected")
            .map(|c| c.0)
            .as_deref(),
        Some("True")
    );
    assert_eq!(
        vmi_condition(&vmi, "LiveMigratable")
            .map(|c| c.0)
            .as_deref(),
        Some("True")
    );
    let (type_, message) = cluster.wait_event("vm1", "Started").await?;
    assert_eq!(
        (type_.as_str(), message.as_str()),
        ("Normal", "VirtualMachineInstance started.")
    );
    let reporters: Vec<String> = cluster
        .events("vm1")
        .await
        .into_iter()
        .map(|e| e.3)
        .collect();
    assert!(
        reporters.iter().all(|r| r == "virt-handler"),
        "{reporters:?}"
    );
    Ok(())
}

#[tokio::test]
async fn deleting_a_vmi_shuts_its_guest_down_and_frees_the_pod() -> Result<()> {
    let mut cluster = Cluster::start().await?;
    cluster.simulate(fast_options());
    cluster
        .run_vmi("vm1", &[], json!({"terminationGracePeriodSeconds": 10}))
        .await?;
    cluster
        .vmis()
        .delete("vm1", &DeleteParams::default())
        .await?;
    assert_eq!(
        cluster.wait_event("vm1", "ShuttingDown").await?.1,
        "Signaled Graceful Shutdown"
    );
    cluster.wait_phase("vm1", "Succeeded").await?;
    let (type_, message) = cluster.wait_event("vm1", "Stopped").await?;
    assert_eq!(
        (type_.as_str(), message.as_str()),
        ("Normal", "The VirtualMachineInstance was shut down.")
    );

    // virt-controller deletes the pods of a deleted VMI; the kubelet role removes it at once.
    let pod = cluster.launcher("vm1").await.expect("launcher pod");
    let name = pod.metadata.name.clone().unwrap_or_default();
    cluster
        .pods()
        .delete(&name, &DeleteParams::default())
        .await?;
    eventually(Duration::from_secs(20), "pod gone", || async {
        matches!(cluster.pods().get_opt(&name).await, Ok(None)).then_some(())
    })
    .await?;
    cluster.release_vmi("vm1").await?;
    Ok(())
}

#[tokio::test]
async fn grace_zero_destroys_at_once_and_succeeds() -> Result<()> {
    let mut cluster = Cluster::start().await?;
    cluster.simulate(fast_options());
    cluster
        .run_vmi("vm0", &[], json!({"terminationGracePeriodSeconds": 0}))
        .await?;
    cluster
        .vmis()
        .delete("vm0", &DeleteParams::default())
        .await?;
    cluster.wait_phase("vm0", "Succeeded").await?;
    assert_eq!(
        cluster.wait_event("vm0", "Deleted").await?.1,
        "VirtualMachineInstance stopping"
    );
    assert!(
        !cluster
            .events("vm0")
            .await
            .iter()
            .any(|e| e.1 == "ShuttingDown")
    );
    Ok(())
}

#[tokio::test]
async fn a_guest_ignoring_acpi_is_killed_at_grace_expiry() -> Result<()> {
    let mut cluster = Cluster::start().await?;
    cluster.simulate(fast_options());
    let ignore = [("simulation.kubevirt.io/ignore-acpi", "true")];
    cluster
        .run_vmi(
            "stubborn",
            &ignore,
            json!({"terminationGracePeriodSeconds": 2}),
        )
        .await?;
    cluster
        .vmis()
        .delete("stubborn", &DeleteParams::default())
        .await?;
    cluster.wait_event("stubborn", "ShuttingDown").await?;
    let started = tokio::time::Instant::now();
    cluster.wait_phase("stubborn", "Failed").await?;
    assert!(
        started.elapsed() >= Duration::from_millis(1000),
        "killed only at grace expiry"
    );
    cluster.wait_event("stubborn", "Deleted").await?;
    let (type_, message) = cluster.wait_event("stubborn", "Stopped").await?;
    assert_eq!(
        (type_.as_str(), message.as_str()),
        ("Warning", "The VirtualMachineInstance crashed.")
    );
    Ok(())
}

#[tokio::test]
async fn guest_poweroff_and_crash_injections_end_the_vmi() -> Result<()> {
    let mut cluster = Cluster::start().await?;
    cluster.simulate(fast_options());
    cluster
        .run_vmi(
            "off",
            &[("simulation.kubevirt.io/poweroff-after", "500ms")],
            json!({}),
        )
        .await?;
    cluster
        .run_vmi(
            "boom",
            &[("simulation.kubevirt.io/crash-after", "500ms")],
            json!({}),
        )
        .await?;
    cluster.wait_phase("off", "Succeeded").await?;
    cluster.wait_phase("boom", "Failed").await?;
    assert_eq!(cluster.wait_event("boom", "Stopped").await?.0, "Warning");
    // The launcher pod of a finished guest completes.
    let phase = eventually(Duration::from_secs(20), "launcher completed", || async {
        let p = cluster.launcher("off").await?;
        let phase = p.status?.phase?;
        (phase == "Succeeded").then_some(phase)
    })
    .await?;
    assert_eq!(phase, "Succeeded");
    Ok(())
}

#[tokio::test]
async fn a_launcher_told_to_fail_fails_its_pod() -> Result<()> {
    let mut cluster = Cluster::start().await?;
    cluster.simulate(fast_options());
    cluster
        .create_vmi(
            "crashy",
            &[("simulation.kubevirt.io/fail-to-start", "true")],
            json!({}),
        )
        .await?;
    let exit = eventually(Duration::from_secs(20), "launcher failed", || async {
        let status = cluster.launcher("crashy").await?.status?;
        if status.phase.as_deref() != Some("Failed") {
            return None;
        }
        status
            .container_statuses?
            .first()?
            .state
            .as_ref()?
            .terminated
            .as_ref()
            .map(|t| t.exit_code)
    })
    .await?;
    assert_eq!(exit, 1);
    let vmi = cluster.vmis().get("crashy").await?;
    assert_eq!(
        vmi.phase().as_str(),
        "Scheduling",
        "the guest never started"
    );
    Ok(())
}

#[tokio::test]
async fn unpullable_images_alternate_between_err_image_pull_and_back_off() -> Result<()> {
    let mut cluster = Cluster::start().await?;
    cluster.simulate(fast_options());
    let disk = json!({"volumes": [{"name": "root", "containerDisk": {"image": "no-such-image"}}]});
    cluster.create_vmi("badimg", &[], disk).await?;
    let mut seen = Vec::new();
    for reason in ["ErrImagePull", "ImagePullBackOff", "ErrImagePull"] {
        let message = eventually(Duration::from_secs(20), reason, || async {
            let status = cluster.launcher("badimg").await?.status?;
            let waiting = status.container_statuses?.first()?.state.clone()?.waiting?;
            (waiting.reason.as_deref() == Some(reason)
                && status.phase.as_deref() == Some("Pending"))
            .then_some(waiting.message)
        })
        .await?;
        seen.push(message.unwrap_or_default());
    }
    assert!(
        seen[0].contains("no-such-image") && seen[1].starts_with("Back-off pulling image"),
        "{seen:?}"
    );

    cluster
        .create_vmi(
            "badann",
            &[("simulation.kubevirt.io/image-pull", "ErrImagePull")],
            json!({}),
        )
        .await?;
    eventually(Duration::from_secs(20), "annotated pull error", || async {
        let status = cluster.launcher("badann").await?.status?;
        let waiting = status.container_statuses?.first()?.state.clone()?.waiting?;
        (waiting.reason.as_deref() == Some("ErrImagePull")).then_some(())
    })
    .await
}

#[tokio::test]
async fn deleting_the_launcher_pod_ends_the_vmi() -> Result<()> {
    let mut cluster = Cluster::start().await?;
    cluster.simulate(fast_options());
    cluster.run_vmi("vm1", &[], json!({})).await?;
    let pod = cluster.launcher("vm1").await.expect("launcher");
    let name = pod.metadata.name.clone().unwrap_or_default();
    cluster
        .pods()
        .delete(&name, &DeleteParams::default())
        .await?;
    cluster.wait_phase("vm1", "Succeeded").await?;
    eventually(
        Duration::from_secs(20),
        "pod gone after the VMI ended",
        || async { matches!(cluster.pods().get_opt(&name).await, Ok(None)).then_some(()) },
    )
    .await?;

    // A forced delete takes the guest with it.
    cluster.run_vmi("vm2", &[], json!({})).await?;
    let pod = cluster.launcher("vm2").await.expect("launcher");
    let force = DeleteParams {
        grace_period_seconds: Some(0),
        ..Default::default()
    };
    cluster
        .pods()
        .delete(pod.metadata.name.as_deref().unwrap_or_default(), &force)
        .await?;
    cluster.wait_phase("vm2", "Failed").await?;
    Ok(())
}

#[tokio::test]
async fn pause_and_unpause_through_the_gateway() -> Result<()> {
    let mut cluster = Cluster::start().await?;
    let gateway = cluster.simulate(fast_options());
    let vmi = cluster.run_vmi("vm1", &[], json!({})).await?;
    gateway.pause(&vmi).await?;
    let paused = cluster.vmis().get("vm1").await?;
    assert_eq!(
        vmi_condition(&paused, "Paused"),
        Some(("True".into(), Some("PausedByUser".into())))
    );
    let pod = eventually(
        Duration::from_secs(20),
        "pod not ready while paused",
        || async {
            let pod = cluster.launcher("vm1").await?;
            (pod_condition(&pod, "Ready").map(|c| c.0).as_deref() == Some("False")).then_some(pod)
        },
    )
    .await?;
    assert_eq!(
        pod_condition(&pod, "kubevirt.io/virtual-machine-unpaused"),
        Some(("False".into(), Some("Paused".into())))
    );
    assert!(
        matches!(gateway.soft_reboot(&paused).await, Err(NodeError::Failed(m)) if m == "VMI is paused")
    );

    gateway.unpause(&paused).await?;
    let unpaused = cluster.vmis().get("vm1").await?;
    assert_eq!(vmi_condition(&unpaused, "Paused"), None);
    eventually(Duration::from_secs(20), "pod ready again", || async {
        let pod = cluster.launcher("vm1").await?;
        (pod_condition(&pod, "Ready").map(|c| c.0).as_deref() == Some("True")).then_some(())
    })
    .await?;
    gateway.soft_reboot(&unpaused).await?;
    assert_eq!(gateway.guest_os_info(&unpaused).await?["id"], "fedora");
    assert_eq!(
        gateway.vnc(&unpaused).await.err(),
        Some(NodeError::Unsupported(NO_DISPLAY.into()))
    );
    assert_eq!(
        gateway.screenshot(&unpaused).await.err(),
        Some(NodeError::Unsupported(NO_DISPLAY.into()))
    );
    Ok(())
}

#[tokio::test]
async fn paused_start_strategy_runs_paused() -> Result<()> {
    let mut cluster = Cluster::start().await?;
    cluster.simulate(fast_options());
    let vmi = cluster
        .run_vmi("vm1", &[], json!({"startStrategy": "Paused"}))
        .await?;
    let vmi = if vmi_condition(&vmi, "Paused").is_some() {
        vmi
    } else {
        eventually(Duration::from_secs(20), "Paused condition", || async {
            let v = cluster.vmis().get("vm1").await.ok()?;
            vmi_condition(&v, "Paused").is_some().then_some(v)
        })
        .await?
    };
    assert_eq!(
        vmi_condition(&vmi, "Paused"),
        Some(("True".into(), Some("PausedByUser".into())))
    );
    Ok(())
}

#[tokio::test]
async fn the_console_echoes_and_a_new_session_evicts_the_old_one() -> Result<()> {
    let mut cluster = Cluster::start().await?;
    let gateway = cluster.simulate(fast_options());
    let vmi = cluster.run_vmi("vm1", &[], json!({})).await?;
    let mut first = gateway.console(&vmi).await?;
    let greeting = read_until(&mut first, "vm1 login: ").await?;
    assert!(greeting.starts_with(CONSOLE_BANNER), "{greeting:?}");
    first.write_all(b"root\r").await?;
    read_until(&mut first, "root\r\n").await?;

    let mut second = gateway.console(&vmi).await?;
    read_until(&mut second, "login: ").await?;
    let mut rest = Vec::new();
    let eof = tokio::time::timeout(Duration::from_secs(5), first.read_to_end(&mut rest)).await;
    assert!(matches!(eof, Ok(Ok(_))), "the first session ends with EOF");

    let stopped = cluster.create_vmi("idle", &[], json!({})).await?;
    assert!(matches!(
        gateway.console(&stopped).await,
        Err(NodeError::Unavailable(_))
    ));
    Ok(())
}
