//! The node side end to end with real QEMU guests (software emulation): `kubevirtd` with its
//! default QEMU node driver, the test guest (`scripts/build-test-guest.sh`) as a container
//! disk, VMs created with the real `kubectl`, subresources and the serial console through
//! virt-api. Scenarios of §8 of the behaviour spec: 11, 12, 13, 16, 17 (guest power-off under
//! each run strategy, a killed QEMU), 32 (stop), 36 (pause), 38 (console), 47–50 (VMI start,
//! graceful stop, killed QEMU), and fail-static guests across a `kill -9` of `kubevirtd`.
//!
//! Tests share one server (a few guests run at once) except the one that kills the server.

mod common;
#[path = "common/qemu.rs"]
mod qemu;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use kube::api::{ApiResource, DynamicObject, GroupVersionKind};
use kube::runtime::watcher;
use qemu::*;
use serde_json::{Value, json};
use virt_launcher::state::DomainState;

const NS: &str = "default";

/// Every (uid, phase) a watch saw for the VMIs named `name`, in order.
struct PhaseLog {
    seen: Arc<Mutex<Vec<(String, String)>>>,
    task: tokio::task::JoinHandle<()>,
}

impl PhaseLog {
    fn start(client: &kube::Client, name: &str) -> PhaseLog {
        let gvk = GroupVersionKind::gvk("kubevirt.io", "v1", "VirtualMachineInstance");
        let ar = ApiResource::from_gvk_with_plural(&gvk, "virtualmachineinstances");
        let api: kube::Api<DynamicObject> = kube::Api::namespaced_with(client.clone(), NS, &ar);
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        let config = watcher::Config::default().fields(&format!("metadata.name={name}"));
        let task = tokio::spawn(async move {
            let mut stream = watcher(api, config).boxed();
            while let Some(event) = stream.next().await {
                let objects = match event {
                    Ok(watcher::Event::Apply(o) | watcher::Event::InitApply(o)) => vec![o],
                    _ => continue,
                };
                for o in objects {
                    let phase = o.data["status"]["phase"]
                        .as_str()
                        .unwrap_or_default()
                        .to_string();
                    let uid = o.metadata.uid.clone().unwrap_or_default();
                    let mut seen = log.lock().expect("log");
                    if seen.last() != Some(&(uid.clone(), phase.clone())) {
                        seen.push((uid, phase));
                    }
                }
            }
        });
        PhaseLog { seen, task }
    }

    fn saw(&self, uid: &str, phase: &str) -> bool {
        self.seen
            .lock()
            .expect("log")
            .iter()
            .any(|(u, p)| u == uid && p == phase)
    }

    fn phases(&self) -> Vec<(String, String)> {
        self.seen.lock().expect("log").clone()
    }
}

impl Drop for PhaseLog {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Creates the VM with kubectl (and starts it when its strategy does not) and waits for its
/// VMI to run.
async fn create_running_vm(
    s: &QemuServer,
    client: &kube::Client,
    name: &str,
    strategy: &str,
) -> Value {
    kubectl_apply(&s.k, &vm_manifest(NS, name, strategy, 30));
    if strategy == "Manual" {
        let r = raw(
            client,
            "PUT",
            &subresource_path(NS, "virtualmachines", name, "start"),
            Some(json!({})),
        )
        .await;
        assert_eq!(r.code, 202, "start {name}: {:?}", r.body);
    }
    wait_running(s, client, name, None).await
}

/// Waits for a Running VMI named `name` whose uid differs from `not_uid`.
async fn wait_running(
    s: &QemuServer,
    client: &kube::Client,
    name: &str,
    not_uid: Option<&str>,
) -> Value {
    let path = vmi_path(NS, name);
    let mut last = Value::Null;
    let deadline = std::time::Instant::now() + TIMEOUT;
    loop {
        if let Some(vmi) = get(client, &path).await {
            if phase(&vmi) == "Running" && Some(uid(&vmi).as_str()) != not_uid {
                return vmi;
            }
            last = vmi;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "VMI {name} is not Running after {TIMEOUT:?}\n{}",
            s.diagnostics(&last)
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Opens the console and waits for the guest's shell.
async fn booted_console(s: &QemuServer, client: &kube::Client, vmi: &Value) -> Console {
    let name = vmi["metadata"]["name"].as_str().expect("name");
    let mut console = Console::connect(client, NS, name).await;
    let ready = console.wait_shell(TIMEOUT).await;
    assert!(
        ready,
        "no shell on the console of {name}: {:?}\n{}",
        console.seen,
        s.diagnostics(vmi)
    );
    console
}

fn qemu_pid(s: &QemuServer, vmi: &Value) -> u32 {
    s.state(vmi)
        .and_then(|f| f.qemu_pid)
        .unwrap_or_else(|| panic!("no QEMU pid in the run directory\n{}", s.diagnostics(vmi)))
}

fn is_qemu(pid: u32) -> bool {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .is_ok_and(|c| String::from_utf8_lossy(&c).contains("qemu-system"))
}

async fn vm_printable_status(client: &kube::Client, name: &str) -> String {
    get(client, &vm_path(NS, name))
        .await
        .and_then(|vm| vm["status"]["printableStatus"].as_str().map(str::to_string))
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_vm_boots_a_real_guest_whose_serial_console_answers() {
    let s = shared_server();
    let client = s.k.client().await;
    let vmi = create_running_vm(&s, &client, "boot", "Always").await;
    let vmi_uid = uid(&vmi);

    // Scenario 47: the launcher pod, the node, the phases.
    let pods = get(
        &client,
        &format!("/api/v1/namespaces/{NS}/pods?labelSelector=kubevirt.io%2Fcreated-by%3D{vmi_uid}"),
    )
    .await
    .expect("pods");
    let pods = pods["items"].as_array().expect("items");
    assert_eq!(pods.len(), 1, "one launcher pod: {pods:?}");
    let pod_name = pods[0]["metadata"]["name"].as_str().unwrap_or_default();
    assert!(pod_name.starts_with("virt-launcher-boot-"), "{pod_name}");
    assert_eq!(pods[0]["status"]["phase"], "Running");
    let node = vmi["status"]["nodeName"].as_str().unwrap_or_default();
    assert!(!node.is_empty(), "nodeName set: {}", vmi["status"]);
    assert_eq!(vmi["metadata"]["labels"]["kubevirt.io/nodeName"], node);
    assert_eq!(pods[0]["spec"]["nodeName"], node);
    let phases: Vec<&str> = vmi["status"]["phaseTransitionTimestamps"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| t["phase"].as_str())
        .collect();
    let order = ["Scheduling", "Scheduled", "Running"];
    let positions: Vec<Option<usize>> = order
        .iter()
        .map(|p| phases.iter().position(|x| x == p))
        .collect();
    assert!(
        positions.iter().all(Option::is_some) && positions.is_sorted(),
        "phase transitions {phases:?}"
    );
    let pid = qemu_pid(&s, &vmi);
    assert!(is_qemu(pid), "QEMU runs as PID {pid}");
    let events = events(&client, NS, "boot").await;
    assert!(
        events.iter().any(|e| e.1 == "Started"),
        "Started event: {events:?}"
    );

    // Scenario 38: the serial console carries the guest's output and input.
    let mut console = Console::connect(&client, NS, "boot").await;
    let mut saw_marker = console
        .read_until(BOOT_MARKER, Duration::from_secs(3))
        .await;
    let ready = console.wait_shell(TIMEOUT).await;
    assert!(
        ready,
        "no prompt: {:?}\n{}",
        console.seen,
        s.diagnostics(&vmi)
    );
    assert!(
        console
            .round_trip("echo kubevirt-$((40+2))", "kubevirt-42", TIMEOUT)
            .await,
        "command output on the console: {:?}",
        console.seen
    );
    if !saw_marker {
        // Connected after the boot: a guest reboot prints the marker again, in the same VMI.
        console.send("reboot\n").await;
        saw_marker = console.read_until(BOOT_MARKER, TIMEOUT).await;
    }
    assert!(
        saw_marker,
        "boot marker on the console: {:?}\n{}",
        console.seen,
        s.diagnostics(&vmi)
    );
    let after = get(&client, &vmi_path(NS, "boot")).await.expect("VMI");
    assert_eq!(uid(&after), vmi_uid, "same VMI after a guest reboot");
    assert_eq!(phase(&after), "Running");

    // A second session evicts the first.
    let mut second = Console::connect(&client, NS, "boot").await;
    assert!(
        !console
            .read_until("never printed", Duration::from_secs(30))
            .await,
        "the first session ends"
    );
    assert!(second.wait_shell(TIMEOUT).await, "second session works");
    s.k.kubectl_ok(&["delete", "vm", "boot", "--wait=false"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn stop_shuts_the_guest_down_gracefully_and_the_vm_is_stopped() {
    let s = shared_server();
    let client = s.k.client().await;
    let vmi = create_running_vm(&s, &client, "stopme", "Always").await;
    let vmi_uid = uid(&vmi);
    let log = PhaseLog::start(&client, "stopme");
    // ACPI is only heard once the guest's acpid runs.
    let _console = booted_console(&s, &client, &vmi).await;
    let pid = qemu_pid(&s, &vmi);

    let r = raw(
        &client,
        "PUT",
        &subresource_path(NS, "virtualmachines", "stopme", "stop"),
        Some(json!({"gracePeriod": 60})),
    )
    .await;
    assert_eq!(r.code, 202, "stop: {:?}", r.body);

    eventually(TIMEOUT, "the VMI to go", || async {
        get(&client, &vmi_path(NS, "stopme"))
            .await
            .is_none()
            .then_some(())
    })
    .await;
    assert!(
        log.saw(&vmi_uid, "Succeeded"),
        "the VMI ended Succeeded: {:?}",
        log.phases()
    );
    let events = events(&client, NS, "stopme").await;
    assert!(
        events.iter().any(|e| e.1 == "ShuttingDown"),
        "ShuttingDown event: {events:?}"
    );
    assert!(
        events.iter().any(|e| e.0 == "Normal" && e.1 == "Stopped"),
        "Normal Stopped event: {events:?}"
    );
    assert!(
        !events.iter().any(|e| e.1 == "Deleted"),
        "the guest shut down before its grace period ended: {events:?}"
    );
    eventually(TIMEOUT, "the VM to be Stopped", || async {
        (vm_printable_status(&client, "stopme").await == "Stopped").then_some(())
    })
    .await;
    let vm = get(&client, &vm_path(NS, "stopme")).await.expect("VM");
    assert_eq!(vm["spec"]["runStrategy"], "Halted");
    eventually(Duration::from_secs(30), "QEMU to exit", || async {
        (!is_qemu(pid)).then_some(())
    })
    .await;
    s.k.kubectl_ok(&["delete", "vm", "stopme", "--wait=false"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn guest_poweroff_under_always_boots_a_new_instance() {
    let s = shared_server();
    let client = s.k.client().await;
    let vmi = create_running_vm(&s, &client, "always", "Always").await;
    let first = uid(&vmi);
    let log = PhaseLog::start(&client, "always");
    let mut console = booted_console(&s, &client, &vmi).await;
    console.send("poweroff\n").await;

    let next = wait_running(&s, &client, "always", Some(&first)).await;
    assert_ne!(uid(&next), first);
    assert!(
        log.saw(&first, "Succeeded"),
        "the first VMI ended Succeeded: {:?}",
        log.phases()
    );
    s.k.kubectl_ok(&["delete", "vm", "always", "--wait=false"]);
}

/// Scenarios 12, 16 and 17: a guest power-off ends the VMI Succeeded and the VM stays stopped.
#[tokio::test(flavor = "multi_thread")]
async fn guest_poweroff_leaves_once_manual_and_rerun_on_failure_vms_stopped() {
    let s = shared_server();
    let client = s.k.client().await;
    let cases = [
        ("once", "Once"),
        ("manual", "Manual"),
        ("rerun", "RerunOnFailure"),
    ];
    let runs = cases.iter().map(|(name, strategy)| {
        let (s, client) = (s.clone(), client.clone());
        async move {
            let vmi = create_running_vm(&s, &client, name, strategy).await;
            let log = PhaseLog::start(&client, name);
            let mut console = booted_console(&s, &client, &vmi).await;
            console.send("poweroff\n").await;
            let first = uid(&vmi);
            eventually(TIMEOUT, &format!("{name}: Succeeded"), || async {
                log.saw(&first, "Succeeded").then_some(())
            })
            .await;
            eventually(TIMEOUT, &format!("{name}: VM Stopped"), || async {
                (vm_printable_status(&client, name).await == "Stopped").then_some(())
            })
            .await;
            (name, strategy, first, log)
        }
    });
    let ended = futures::future::join_all(runs).await;
    // Nothing restarts them.
    tokio::time::sleep(Duration::from_secs(15)).await;
    for (name, strategy, first, log) in ended {
        let vmi = get(&client, &vmi_path(NS, name)).await;
        match *strategy {
            "RerunOnFailure" => assert!(vmi.is_none(), "{name}: the VMI is removed: {vmi:?}"),
            _ => {
                let vmi = vmi.unwrap_or_else(|| panic!("{name}: the VMI stays"));
                assert_eq!(uid(&vmi), first, "{name}: same VMI");
                assert_eq!(phase(&vmi), "Succeeded", "{name}");
            }
        }
        assert!(
            log.phases().iter().all(|(u, _)| *u == first),
            "{name} ({strategy}): no new VMI: {:?}",
            log.phases()
        );
        assert_eq!(
            vm_printable_status(&client, name).await,
            "Stopped",
            "{name}"
        );
        s.k.kubectl_ok(&["delete", "vm", name, "--wait=false"]);
    }
}

/// Scenarios 50 and 13: a killed QEMU fails the VMI; the VM starts a new one.
#[tokio::test(flavor = "multi_thread")]
async fn killed_qemu_fails_the_instance_and_an_always_vm_starts_again() {
    let s = shared_server();
    let client = s.k.client().await;
    let vmi = create_running_vm(&s, &client, "crash", "Always").await;
    let first = uid(&vmi);
    let log = PhaseLog::start(&client, "crash");
    let pid = qemu_pid(&s, &vmi);
    kill9(pid);

    let next = wait_running(&s, &client, "crash", Some(&first)).await;
    assert_ne!(uid(&next), first);
    assert!(
        log.saw(&first, "Failed"),
        "the killed VMI ended Failed: {:?}",
        log.phases()
    );
    let events = events(&client, NS, "crash").await;
    assert!(
        events
            .iter()
            .any(|e| e.0 == "Warning" && e.1 == "Stopped" && e.2.contains("crashed")),
        "Warning Stopped event: {events:?}"
    );
    assert!(
        !events.iter().any(|e| e.1 == "SyncFailed"),
        "no SyncFailed after the end: {events:?}"
    );
    assert_ne!(qemu_pid(&s, &next), pid, "a new QEMU");
    s.k.kubectl_ok(&["delete", "vm", "crash", "--wait=false"]);
}

/// Scenario 36: pause and unpause reach the guest and show as the Paused condition.
#[tokio::test(flavor = "multi_thread")]
async fn pause_and_unpause_through_the_subresources() {
    let s = shared_server();
    let client = s.k.client().await;
    let vmi = create_running_vm(&s, &client, "pausy", "Always").await;
    let mut console = booted_console(&s, &client, &vmi).await;
    let pause = subresource_path(NS, "virtualmachineinstances", "pausy", "pause");
    let unpause = subresource_path(NS, "virtualmachineinstances", "pausy", "unpause");

    let r = raw(&client, "PUT", &pause, Some(json!({}))).await;
    assert_eq!(r.code, 200, "pause: {:?}", r.body);
    let paused = eventually(TIMEOUT, "VMI Paused=True", || async {
        let vmi = get(&client, &vmi_path(NS, "pausy")).await?;
        condition(&vmi, "Paused")
            .filter(|c| c["status"] == "True")
            .cloned()
    })
    .await;
    assert_eq!(paused["reason"], "PausedByUser");
    eventually(TIMEOUT, "VM Paused", || async {
        let vm = get(&client, &vm_path(NS, "pausy")).await?;
        (vm["status"]["printableStatus"] == "Paused" && condition(&vm, "Paused").is_some())
            .then_some(())
    })
    .await;
    let state = s.state(&vmi).expect("state file");
    assert!(
        matches!(state.state, DomainState::Paused { .. }),
        "the domain is paused: {:?}",
        state.state
    );
    let again = raw(&client, "PUT", &pause, Some(json!({}))).await;
    assert_eq!(again.code, 409, "{:?}", again.body);
    assert!(
        again.message().contains("VMI is already paused"),
        "{:?}",
        again.body
    );
    // A paused guest does not answer.
    console.seen.clear();
    console.send("echo paused-$((1+1))\n").await;
    assert!(
        !console.read_until("paused-2", Duration::from_secs(3)).await,
        "a paused guest runs no commands"
    );

    let r = raw(&client, "PUT", &unpause, Some(json!({}))).await;
    assert_eq!(r.code, 200, "unpause: {:?}", r.body);
    eventually(TIMEOUT, "the Paused condition to go", || async {
        let vmi = get(&client, &vmi_path(NS, "pausy")).await?;
        let vm = get(&client, &vm_path(NS, "pausy")).await?;
        (condition(&vmi, "Paused").is_none()
            && condition(&vm, "Paused").is_none()
            && vm["status"]["printableStatus"] == "Running")
            .then_some(())
    })
    .await;
    assert!(
        console.read_until("paused-2", TIMEOUT).await,
        "the guest runs the command typed while paused: {:?}",
        console.seen
    );
    let again = raw(&client, "PUT", &unpause, Some(json!({}))).await;
    assert_eq!(again.code, 409, "{:?}", again.body);
    assert!(
        again.message().contains("VMI is not paused"),
        "{:?}",
        again.body
    );
    s.k.kubectl_ok(&["delete", "vm", "pausy", "--wait=false"]);
}

/// Guests outlive the server: after `kill -9` of `kubevirtd` and a restart on the same data
/// directory, the VMI is still Running on the same QEMU process and its console works.
#[tokio::test(flavor = "multi_thread")]
async fn a_restarted_kubevirtd_reattaches_to_its_running_guest() {
    let mut s = QemuServer::start();
    let client = s.k.client().await;
    let vmi = create_running_vm(&s, &client, "survivor", "Always").await;
    drop(booted_console(&s, &client, &vmi).await);
    let pid = qemu_pid(&s, &vmi);

    s.k.kill9();
    assert!(is_qemu(pid), "the guest survives its server");
    s.k.start_again();
    let client = s.k.client().await;
    // Long enough for the driver to reattach and report.
    let mut console = Console::connect(&client, NS, "survivor").await;
    assert!(
        console.wait_shell(TIMEOUT).await,
        "console after the restart: {:?}",
        console.seen
    );
    assert!(
        console
            .round_trip("echo back-$((2*3))", "back-6", TIMEOUT)
            .await,
        "{:?}",
        console.seen
    );
    let after = get(&client, &vmi_path(NS, "survivor")).await.expect("VMI");
    assert_eq!(uid(&after), uid(&vmi), "same VMI");
    assert_eq!(phase(&after), "Running", "{}", s.diagnostics(&after));
    assert_eq!(qemu_pid(&s, &after), pid, "same QEMU process");
    assert!(is_qemu(pid));
    // The reattached guest is still managed: a stop reaches it.
    let r = raw(
        &client,
        "PUT",
        &subresource_path(NS, "virtualmachines", "survivor", "stop"),
        Some(json!({})),
    )
    .await;
    assert_eq!(r.code, 202, "stop: {:?}", r.body);
    eventually(TIMEOUT, "QEMU to exit", || async {
        (!is_qemu(pid)).then_some(())
    })
    .await;
    let vm = s.k.kubectl_ok(&[
        "get",
        "vm",
        "survivor",
        "-o",
        "jsonpath={.spec.runStrategy}",
    ]);
    assert_eq!(vm, "Halted");
}
