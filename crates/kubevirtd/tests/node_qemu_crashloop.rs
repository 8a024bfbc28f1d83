//! The node side end to end with real QEMU guests (software emulation), part two: a VM whose
//! launcher crashes right after starting QEMU goes into crash-loop backoff and recovers once its
//! template is fixed (scenario 18 and §2.7 of the behaviour spec), and a VMI whose name is longer
//! than 63 characters starts, with the launcher pod's `vmi.kubevirt.io/id` label truncated and
//! hashed and its serial console reachable through run-directory sockets whose paths are longer
//! than a unix socket address (scenario 54).
//!
//! The crash is upstream's functional-test hook: the VMI annotation
//! `kubevirt.io/func-test-virt-launcher-fail-fast` makes the real launcher start QEMU and then
//! die, taking QEMU with it.

mod common;
#[path = "common/qemu.rs"]
mod qemu;

use std::time::{Duration, Instant};

use qemu::*;
use serde_json::{Value, json};

const NS: &str = "default";
const FAIL_FAST: &str = "kubevirt.io/func-test-virt-launcher-fail-fast";

async fn vm(client: &kube::Client, name: &str) -> Value {
    get(client, &vm_path(NS, name)).await.unwrap_or(Value::Null)
}

fn fail_count(vm: &Value) -> u64 {
    vm["status"]["startFailure"]["consecutiveFailCount"]
        .as_u64()
        .unwrap_or(0)
}

/// Scenario 18: CrashLoopBackOff with at most 3 failures in a minute, then recovery.
#[tokio::test(flavor = "multi_thread")]
async fn a_vm_whose_launcher_fails_fast_backs_off_and_recovers_once_fixed() {
    let s = shared_server();
    let client = s.k.client().await;
    let mut manifest = vm_manifest(NS, "crashy", "Always", 30);
    manifest["spec"]["template"]["metadata"]["annotations"] = json!({FAIL_FAST: ""});
    kubectl_apply(&s.k, &manifest);

    let first = eventually(TIMEOUT, "the VM in CrashLoopBackOff", || async {
        let vm = vm(&client, "crashy").await;
        (vm["status"]["printableStatus"] == "CrashLoopBackOff").then_some(vm)
    })
    .await;
    let failure = &first["status"]["startFailure"];
    assert!(fail_count(&first) >= 1, "{failure}");
    assert!(
        failure["lastFailedVMIUID"]
            .as_str()
            .is_some_and(|u| !u.is_empty()),
        "{failure}"
    );
    assert!(failure["retryAfterTimestamp"].is_string(), "{failure}");
    let events = events(&client, NS, "crashy").await;
    assert!(
        events
            .iter()
            .any(|e| e.0 == "Warning" && e.1 == "Stopped" && e.2.contains("crashed")),
        "the failed VMI crashed: {events:?}"
    );

    // Backoff: 10-15 s after the first failure, 40-60 s after the second.
    let watched = Instant::now();
    let mut counts = vec![fail_count(&first)];
    let mut crash_loop_seen = 1;
    while watched.elapsed() < Duration::from_secs(60) {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let vm = vm(&client, "crashy").await;
        let count = fail_count(&vm);
        assert!(
            count <= 3,
            "at most 3 failures within a minute, saw {count}: {}",
            vm["status"]
        );
        if vm["status"]["printableStatus"] == "CrashLoopBackOff" {
            crash_loop_seen += 1;
        }
        if counts.last() != Some(&count) {
            counts.push(count);
        }
    }
    assert!(
        counts.is_sorted() && counts.len() >= 2,
        "the failure count grows: {counts:?}"
    );
    assert!(crash_loop_seen > 10, "CrashLoopBackOff while waiting");

    // The fix: the template no longer asks the launcher to crash.
    let patch = json!({"spec": {"template": {"metadata": {"annotations": {FAIL_FAST: null}}}}});
    s.k.kubectl_ok(&[
        "patch",
        "vm",
        "crashy",
        "--type=merge",
        "-p",
        &patch.to_string(),
    ]);
    // The next attempt waits out the current backoff (up to 135 s after a third failure).
    let recovered = Duration::from_secs(360);
    let running = eventually(recovered, "the VM Running without startFailure", || async {
        let vm = vm(&client, "crashy").await;
        (vm["status"]["printableStatus"] == "Running"
            && vm["status"]["startFailure"].is_null()
            && vm["status"]["ready"] == true)
            .then_some(vm)
    })
    .await;
    let vmi = get(&client, &vmi_path(NS, "crashy")).await.expect("VMI");
    assert_eq!(phase(&vmi), "Running", "{}", s.diagnostics(&vmi));
    assert!(
        vmi["metadata"]["annotations"].get(FAIL_FAST).is_none(),
        "{}",
        vmi["metadata"]
    );
    assert_ne!(
        running["status"]["printableStatus"], "CrashLoopBackOff",
        "{}",
        running["status"]
    );
    let mut console = Console::connect(&client, NS, "crashy").await;
    assert!(
        console.wait_shell(TIMEOUT).await,
        "the recovered guest's shell: {:?}\n{}",
        console.seen,
        s.diagnostics(&vmi)
    );
    s.k.kubectl_ok(&["delete", "vm", "crashy", "--wait=false"]);
}

/// Scenario 54: a VMI named with 70 characters starts and its console answers.
#[tokio::test(flavor = "multi_thread")]
async fn a_vmi_with_a_name_longer_than_63_characters_starts() {
    let s = shared_server();
    let client = s.k.client().await;
    let name = format!("testvmi{}", "x0y1z2a3b4".repeat(7).get(..63).expect("63"));
    assert_eq!(name.len(), 70);
    let manifest = json!({
        "apiVersion": "kubevirt.io/v1",
        "kind": "VirtualMachineInstance",
        "metadata": {"name": name, "namespace": NS},
        "spec": vm_manifest(NS, "unused", "Always", 30)["spec"]["template"]["spec"].clone(),
    });
    kubectl_apply(&s.k, &manifest);

    let path = vmi_path(NS, &name);
    let vmi = eventually(TIMEOUT, "the long-named VMI Running", || async {
        let vmi = get(&client, &path).await?;
        (phase(&vmi) == "Running").then_some(vmi)
    })
    .await;
    let run_dir = s.run_dir(NS, &name, &uid(&vmi));
    assert!(
        run_dir.join("control.sock").as_os_str().len() > 108,
        "the run directory's sockets are longer than a socket address: {}",
        run_dir.display()
    );

    let pods = get(
        &client,
        &format!(
            "/api/v1/namespaces/{NS}/pods?labelSelector=kubevirt.io%2Fcreated-by%3D{}",
            uid(&vmi)
        ),
    )
    .await
    .expect("pods");
    let pods = pods["items"].as_array().expect("items");
    assert_eq!(pods.len(), 1, "one launcher pod: {pods:?}");
    let id = pods[0]["metadata"]["labels"]["vmi.kubevirt.io/id"]
        .as_str()
        .unwrap_or_default();
    assert_eq!(id.len(), 63, "{id}");
    assert!(id.starts_with(&name[..54]), "{id}");
    assert!(
        id[55..].chars().all(|c| c.is_ascii_hexdigit()) && id.as_bytes()[54] == b'-',
        "{id}"
    );

    let mut console = Console::connect(&client, NS, &name).await;
    assert!(
        console.wait_shell(TIMEOUT).await,
        "the console of the long-named VMI: {:?}\n{}",
        console.seen,
        s.diagnostics(&vmi)
    );
    s.k.kubectl_ok(&["delete", "vmi", &name, "--wait=false"]);
}
