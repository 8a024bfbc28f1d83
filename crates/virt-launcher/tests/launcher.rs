//! The supervisor with real QEMU (TCG) and the test guest.

mod common;

use common::*;
use serde_json::json;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use virt_launcher::client::ClientError;
use virt_launcher::state::{PausedReason, ShutoffReason, StateFile};
use virt_launcher::{DomainState, LaunchSpec, LauncherClient};

fn spec(name: &str, extra: serde_json::Value) -> LaunchSpec {
    let guest = test_guest();
    LaunchSpec {
        vmi: guest_vmi(name, extra),
        env: guest_env(&guest),
    }
}

async fn booted(run: &RunDir, spec: &LaunchSpec) -> LauncherClient {
    let client = run.spawn(spec).await;
    run.wait_serial(BOOT_MARKER, 0);
    client
}

/// Reads from `stream` until `needle` was received (or panics after a timeout).
async fn read_until(stream: &mut tokio::net::UnixStream, needle: &str) -> String {
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = tokio::time::Instant::now() + BOOT_TIMEOUT;
    while !String::from_utf8_lossy(&seen).contains(needle) {
        let n = tokio::time::timeout_at(deadline, stream.read(&mut buf))
            .await
            .unwrap_or_else(|_| {
                panic!(
                    "{needle:?} not received; got {:?}",
                    String::from_utf8_lossy(&seen)
                )
            })
            .unwrap();
        assert!(
            n > 0,
            "EOF before {needle:?}; got {:?}",
            String::from_utf8_lossy(&seen)
        );
        seen.extend_from_slice(&buf[..n]);
    }
    String::from_utf8_lossy(&seen).into_owned()
}

/// Waits until the launcher process is gone.
async fn wait_launcher_exit(pid: u32) {
    for _ in 0..200 {
        if !virt_launcher::client::is_alive(pid) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the launcher {pid} did not exit");
}

#[tokio::test]
async fn a_booted_guest_runs_logs_its_serial_output_and_serves_vnc_and_screenshots() {
    let run = RunDir::new();
    let client = booted(&run, &spec("boot", json!({}))).await;
    let info = client.info().await.unwrap();
    assert_eq!(info.state, DomainState::Running);
    let qemu_pid = info.qemu_pid.expect("QEMU PID recorded");
    assert!(virt_launcher::client::is_alive(qemu_pid));
    assert_eq!(
        StateFile::read(run.path()).unwrap().qemu_pid,
        Some(qemu_pid)
    );

    // A second launcher for the same run directory is refused.
    assert!(matches!(
        LauncherClient::spawn_with(run.path(), &spec("boot", json!({})), &launcher()).await,
        Err(ClientError::AlreadyRunning { pid, .. }) if pid == info.launcher_pid
    ));
    assert_eq!(client.info().await.unwrap().qemu_pid, Some(qemu_pid));

    let mut vnc = client.vnc().await.unwrap();
    let mut greeting = [0u8; 12];
    vnc.read_exact(&mut greeting).await.unwrap();
    assert_eq!(&greeting, b"RFB 003.008\n");

    let png = client.screenshot().await.unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
}

#[tokio::test]
async fn console_sessions_talk_to_the_guest_and_a_new_session_evicts_the_old_one() {
    let run = RunDir::new();
    let client = booted(&run, &spec("console", json!({}))).await;
    let mut first = client.console().await.unwrap();
    first.write_all(b"echo hi-$((40+2))\n").await.unwrap();
    read_until(&mut first, "hi-42").await;

    let mut second = client.console().await.unwrap();
    let mut rest = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), first.read_to_end(&mut rest))
        .await
        .expect("the first session is closed")
        .unwrap();
    second.write_all(b"echo again-$((1+1))\n").await.unwrap();
    read_until(&mut second, "again-2").await;
    assert!(run.serial_log().contains("again-2"));
}

#[tokio::test]
async fn pause_stops_the_guest_until_unpause() {
    let run = RunDir::new();
    let client = booted(&run, &spec("pause", json!({}))).await;
    let mut console = client.console().await.unwrap();
    client.pause().await.unwrap();
    assert_eq!(
        client.status().await.unwrap(),
        DomainState::Paused {
            reason: PausedReason::User
        }
    );
    // Pausing again is harmless.
    client.pause().await.unwrap();
    console.write_all(b"echo while-$((2*3))\n").await.unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(
        !run.serial_log().contains("while-6"),
        "a paused guest answered"
    );
    client.unpause().await.unwrap();
    assert_eq!(client.status().await.unwrap(), DomainState::Running);
    read_until(&mut console, "while-6").await;
}

#[tokio::test]
async fn start_strategy_paused_starts_the_guest_paused() {
    let run = RunDir::new();
    let client = run
        .spawn(&spec("paused", json!({"startStrategy": "Paused"})))
        .await;
    assert_eq!(
        client.status().await.unwrap(),
        DomainState::Paused {
            reason: PausedReason::User
        }
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(!run.serial_log().contains(BOOT_MARKER));
    client.unpause().await.unwrap();
    run.wait_serial(BOOT_MARKER, 0);
}

#[tokio::test]
async fn an_acpi_shutdown_ends_in_shutoff_shutdown_and_the_launcher_exits() {
    let run = RunDir::new();
    let client = booted(&run, &spec("acpi", json!({}))).await;
    let launcher_pid = client.info().await.unwrap().launcher_pid;
    client.shutdown().await.unwrap();
    let end = client.wait_final(BOOT_TIMEOUT).await.unwrap();
    assert_eq!(
        end.state,
        DomainState::Shutoff {
            reason: ShutoffReason::Shutdown
        }
    );
    assert_eq!(end.message.as_deref(), Some("the guest powered off"));
    wait_launcher_exit(launcher_pid).await;
    assert!(run.serial_log().contains("power button pressed"));
    assert!(!run.path().join("control.sock").exists());
}

#[tokio::test]
async fn poweroff_typed_on_the_console_ends_in_shutoff_shutdown() {
    let run = RunDir::new();
    let client = booted(&run, &spec("poweroff", json!({}))).await;
    let mut console = client.console().await.unwrap();
    console.write_all(b"poweroff\n").await.unwrap();
    let end = client.wait_final(BOOT_TIMEOUT).await.unwrap();
    assert_eq!(
        end.state,
        DomainState::Shutoff {
            reason: ShutoffReason::Shutdown
        }
    );
    assert_eq!(end.qemu_exit.unwrap().code, Some(0));
}

#[tokio::test]
async fn killing_qemu_from_outside_is_a_crash() {
    let run = RunDir::new();
    let client = booted(&run, &spec("sigkill", json!({}))).await;
    let info = client.info().await.unwrap();
    virt_launcher::process::kill_pid(info.qemu_pid.unwrap()).unwrap();
    let end = client.wait_final(BOOT_TIMEOUT).await.unwrap();
    assert_eq!(
        end.state,
        DomainState::Shutoff {
            reason: ShutoffReason::Crashed
        }
    );
    assert_eq!(end.qemu_exit.unwrap().signal, Some(9));
    wait_launcher_exit(info.launcher_pid).await;
    // The record outlives the launcher.
    assert_eq!(
        virt_launcher::client::read_state_file(run.path())
            .unwrap()
            .state,
        end.state
    );
}

#[tokio::test]
async fn kill_through_the_launcher_is_destroyed() {
    let run = RunDir::new();
    let client = run.spawn(&spec("destroy", json!({}))).await;
    assert_eq!(
        client.kill().await.unwrap(),
        DomainState::Shutoff {
            reason: ShutoffReason::Destroyed
        }
    );
    assert!(matches!(
        LauncherClient::connect(run.path()).await,
        Err(ClientError::NotRunning { last: Some(_), .. })
    ));
}

#[tokio::test]
async fn reboot_policy_terminate_turns_a_reset_into_the_end() {
    let run = RunDir::new();
    let client = booted(
        &run,
        &spec(
            "terminate",
            json!({"domain": {"rebootPolicy": "Terminate"}}),
        ),
    )
    .await;
    let mut console = client.console().await.unwrap();
    console.write_all(b"reboot\n").await.unwrap();
    let end = client.wait_final(BOOT_TIMEOUT).await.unwrap();
    assert_eq!(
        end.state,
        DomainState::Shutoff {
            reason: ShutoffReason::Shutdown
        }
    );
    assert_eq!(
        end.message.as_deref(),
        Some("the guest rebooted and its reboot policy is Terminate")
    );
}

/// Waits until the guest's shell answers on a console session (its acpid runs by then).
async fn wait_shell(client: &LauncherClient, tag: &str) {
    let mut console = client.console().await.unwrap();
    console
        .write_all(format!("echo {tag}-$((40+2))\n").as_bytes())
        .await
        .unwrap();
    read_until(&mut console, &format!("{tag}-42")).await;
}

/// Presses for a soft reboot until the guest's acpid reports the power button (a press made
/// while the guest's input devices are still being opened is lost, as on real hardware).
async fn soft_reboot(run: &RunDir, client: &LauncherClient, from: usize) {
    let deadline = tokio::time::Instant::now() + BOOT_TIMEOUT;
    loop {
        client.reboot().await.unwrap();
        for _ in 0..100 {
            if run.serial_log()[from..].contains("power button pressed") {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the guest never saw the power button:\n{}",
            run.serial_log()
        );
    }
}

/// Presses the power button until the guest ends; its final state.
async fn shut_down(client: &LauncherClient) -> StateFile {
    let deadline = tokio::time::Instant::now() + BOOT_TIMEOUT;
    loop {
        let _ = client.shutdown().await;
        if let Ok(end) = client.wait_final(Duration::from_secs(10)).await {
            return end;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the guest did not power off"
        );
    }
}

#[tokio::test]
async fn a_soft_reboot_boots_the_guest_again_in_the_same_qemu() {
    let run = RunDir::new();
    let client = booted(&run, &spec("softreboot", json!({}))).await;
    wait_shell(&client, "before").await;
    let before = client.info().await.unwrap();
    let from = run.serial_log().len();
    soft_reboot(&run, &client, from).await;
    run.wait_serial(BOOT_MARKER, from);
    let after = client.info().await.unwrap();
    assert_eq!(after.state, DomainState::Running);
    assert_eq!(after.qemu_pid, before.qemu_pid, "the same QEMU process");
    assert!(virt_launcher::client::is_alive(before.qemu_pid.unwrap()));
    wait_shell(&client, "after").await;

    // Only the soft reboot's power-off is turned into a reset: a later one ends QEMU.
    let end = shut_down(&client).await;
    assert_eq!(
        end.state,
        DomainState::Shutoff {
            reason: ShutoffReason::Shutdown
        }
    );
    assert_eq!(end.message.as_deref(), Some("the guest powered off"));
    assert_eq!(
        run.serial_log()[from..].matches(BOOT_MARKER).count(),
        1,
        "no boot after the power-off"
    );
}

#[tokio::test]
async fn a_soft_reboot_under_reboot_policy_terminate_ends_the_guest() {
    let run = RunDir::new();
    let client = booted(
        &run,
        &spec(
            "softterminate",
            json!({"domain": {"rebootPolicy": "Terminate"}}),
        ),
    )
    .await;
    wait_shell(&client, "up").await;
    soft_reboot(&run, &client, 0).await;
    let end = client.wait_final(BOOT_TIMEOUT).await.unwrap();
    assert_eq!(
        end.state,
        DomainState::Shutoff {
            reason: ShutoffReason::Shutdown
        }
    );
    assert_eq!(run.serial_log().matches(BOOT_MARKER).count(), 1);
}

#[tokio::test]
async fn a_guest_without_acpi_refuses_a_soft_reboot() {
    let run = RunDir::new();
    let client = run
        .spawn(&spec(
            "noacpi",
            json!({"domain": {"features": {"acpi": {"enabled": false}}}}),
        ))
        .await;
    let err = client.reboot().await.unwrap_err();
    assert!(
        matches!(&err, ClientError::Refused { message, .. }
            if message == "VMI neither have the agent connected nor the ACPI feature enabled"),
        "{err}"
    );
    assert!(!client.status().await.unwrap().is_final());
}

#[tokio::test]
async fn a_launcher_asked_to_fail_fast_dies_after_starting_qemu_and_reads_as_a_crash() {
    let run = RunDir::new();
    let mut spec = spec("failfast", json!({}));
    spec.vmi.metadata.annotations = Some(
        [(
            virt_launcher::spec::FAIL_FAST_ANNOTATION.to_string(),
            String::new(),
        )]
        .into(),
    );
    let err = LauncherClient::spawn_with(run.path(), &spec, &launcher())
        .await
        .unwrap_err();
    assert!(matches!(err, ClientError::LaunchFailed(_)), "{err}");
    let file = StateFile::read(run.path()).unwrap();
    let qemu = file.qemu_pid.expect("QEMU was started");
    assert!(!virt_launcher::client::is_alive(qemu), "QEMU is gone");
    assert!(!file.state.is_final(), "nobody recorded an end");
    assert_eq!(
        file.effective_state(),
        DomainState::Shutoff {
            reason: ShutoffReason::Crashed
        }
    );
}

#[tokio::test]
async fn a_guest_that_cannot_start_is_reported_as_failed() {
    let run = RunDir::new();
    let mut spec = spec(
        "broken",
        json!({"domain": {"firmware": {"bootloader": {"efi": {}}}}}),
    );
    spec.env.ovmf = None;
    let err = LauncherClient::spawn_with(run.path(), &spec, &launcher())
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "the guest failed to start: EFI firmware is requested but OVMF is not installed (Debian package ovmf)"
    );
    let file = StateFile::read(run.path()).unwrap();
    assert_eq!(
        file.state,
        DomainState::Shutoff {
            reason: ShutoffReason::Failed
        }
    );
}

/// Not a test on its own: when `SPAWNER_RUN_DIR` is set, spawns a launcher there, records
/// the QEMU PID and returns, ending its process. See the next test.
#[tokio::test]
async fn spawner_helper() {
    let Some(dir) = std::env::var_os("SPAWNER_RUN_DIR") else {
        return;
    };
    let dir = std::path::PathBuf::from(dir);
    let client = LauncherClient::spawn_with(&dir, &spec("survivor", json!({})), &launcher())
        .await
        .unwrap();
    let pid = client.info().await.unwrap().qemu_pid.unwrap();
    std::fs::write(dir.join("spawner-saw-qemu-pid"), pid.to_string()).unwrap();
}

#[tokio::test]
async fn the_launcher_survives_its_spawner_and_reattaches_with_the_same_qemu_pid() {
    let run = RunDir::new();
    let spawner = tokio::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "spawner_helper", "--test-threads=1"])
        .env("SPAWNER_RUN_DIR", run.path())
        .output()
        .await
        .unwrap();
    assert!(
        spawner.status.success(),
        "{}",
        String::from_utf8_lossy(&spawner.stdout)
    );
    let seen: u32 = std::fs::read_to_string(run.path().join("spawner-saw-qemu-pid"))
        .unwrap()
        .parse()
        .unwrap();

    run.wait_serial(BOOT_MARKER, 0);
    let client = LauncherClient::connect(run.path()).await.unwrap();
    let info = client.info().await.unwrap();
    assert_eq!(info.qemu_pid, Some(seen));
    assert_eq!(info.state, DomainState::Running);
    // The launcher leads its own session, apart from the (gone) spawner's.
    let stat = std::fs::read_to_string(format!("/proc/{}/stat", info.launcher_pid)).unwrap();
    let fields: Vec<&str> = stat[stat.rfind(')').unwrap() + 2..].split(' ').collect();
    assert_eq!(fields[3], info.launcher_pid.to_string(), "session id");

    // A second reattach sees the same guest.
    let again = LauncherClient::connect(run.path()).await.unwrap();
    assert_eq!(again.info().await.unwrap().qemu_pid, Some(seen));
    let mut console = again.console().await.unwrap();
    console.write_all(b"echo still-$((3+4))\n").await.unwrap();
    read_until(&mut console, "still-7").await;
}

#[tokio::test]
async fn killing_the_launcher_takes_qemu_with_it_and_reads_as_a_crash() {
    let run = RunDir::new();
    let client = booted(&run, &spec("orphan", json!({}))).await;
    let info = client.info().await.unwrap();
    virt_launcher::process::kill_pid(info.launcher_pid).unwrap();
    wait_launcher_exit(info.launcher_pid).await;
    let qemu = info.qemu_pid.unwrap();
    for _ in 0..100 {
        if !virt_launcher::client::is_alive(qemu) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        !virt_launcher::client::is_alive(qemu),
        "QEMU outlived its launcher"
    );
    let file = StateFile::read(run.path()).unwrap();
    assert_eq!(file.state, DomainState::Running, "nobody recorded the end");
    assert_eq!(
        file.effective_state(),
        DomainState::Shutoff {
            reason: ShutoffReason::Crashed
        }
    );
}
