//! virtctl against a real `kubevirtd` with simulated nodes: the VM lifecycle, pause, expose,
//! the serial console through a pseudo-terminal, migrations, generated manifests and the
//! commands of the seed documents.

mod common;

use std::process::Stdio;
use std::time::Duration;

use common::kubevirtd::{Kubevirtd, eventually};
use common::{Collector, fails, ok, read_until, send, stderr, wait_exit};
use serde_json::Value;

#[test]
fn start_restart_and_stop_wait_for_the_instance() {
    let k = Kubevirtd::start();
    k.create_vm("vm1", "Halted", "");
    let out = ok(&k.run(&["start", "vm1", "--wait"]));
    assert_eq!(out, "VM vm1 was scheduled to start\nVM vm1 is running\n");
    assert_eq!(k.get("vm/vm1", "{.spec.runStrategy}"), "Always");
    assert_eq!(k.get("vmi/vm1", "{.status.phase}"), "Running");

    let err = fails(&k.run(&["start", "vm1"]));
    assert_eq!(
        err,
        "Error starting VirtualMachine Operation cannot be fulfilled on virtualmachine.kubevirt.io \"vm1\": VM is already running\n"
    );

    let first = k.get("vmi/vm1", "{.metadata.uid}");
    let out = ok(&k.run(&["restart", "vm1", "--wait"]));
    assert_eq!(
        out,
        "VM vm1 was scheduled to restart\nVM vm1 was restarted\n"
    );
    let second = k.get("vmi/vm1", "{.metadata.uid}");
    assert!(!second.is_empty() && second != first, "{first} -> {second}");

    let out = ok(&k.run(&["stop", "vm1", "--wait"]));
    assert_eq!(out, "VM vm1 was scheduled to stop\nVM vm1 is stopped\n");
    assert_eq!(k.get("vm/vm1", "{.spec.runStrategy}"), "Halted");
    let err = fails(&k.run(&["stop", "vm1"]));
    assert_eq!(
        err,
        "error stopping VirtualMachine Operation cannot be fulfilled on virtualmachine.kubevirt.io \"vm1\": VM is not running\n"
    );
}

#[test]
fn dry_runs_change_nothing() {
    let k = Kubevirtd::start();
    k.create_vm("vm1", "Halted", "");
    let out = ok(&k.run(&["start", "vm1", "--dry-run"]));
    assert_eq!(out, "Dry Run execution\nVM vm1 was scheduled to start\n");
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(k.get("vm/vm1", "{.spec.runStrategy}"), "Halted");
    assert_eq!(k.get("vmi/vm1", "{.metadata.name}"), "");
}

#[test]
fn pause_and_unpause_a_vm() {
    let k = Kubevirtd::start();
    k.create_vm("vm1", "Always", "");
    k.wait_running("vm1");
    assert_eq!(
        ok(&k.run(&["pause", "vm", "vm1"])),
        "VMI vm1 was scheduled to pause\n"
    );
    eventually(Duration::from_secs(30), "VM paused", || {
        (k.get("vm/vm1", "{.status.printableStatus}") == "Paused").then_some(())
    });
    let err = fails(&k.run(&["pause", "VirtualMachineInstance", "vm1"]));
    assert_eq!(
        err,
        "Error pausing VirtualMachineInstance vm1: Operation cannot be fulfilled on virtualmachineinstance.kubevirt.io \"vm1\": VMI is already paused\n"
    );
    assert_eq!(
        ok(&k.run(&["unpause", "vmi", "vm1"])),
        "VMI vm1 was scheduled to unpause\n"
    );
    eventually(Duration::from_secs(30), "VM running again", || {
        (k.get("vm/vm1", "{.status.printableStatus}") == "Running").then_some(())
    });
    let err = fails(&k.run(&["unpause", "vm", "vm1"]));
    assert_eq!(
        err,
        "Error unpausing VirtualMachineInstance vm1: Operation cannot be fulfilled on virtualmachineinstance.kubevirt.io \"vm1\": VMI is not paused\n"
    );
    assert_eq!(
        ok(&k.run(&["soft-reboot", "vm1"])),
        "VMI vm1 was scheduled to soft-reboot\n"
    );
}

#[test]
fn pausing_a_stopped_vm_says_it_is_not_set_to_run() {
    let k = Kubevirtd::start();
    k.create_vm("vm1", "Halted", "");
    let err = fails(&k.run(&["pause", "vm", "vm1"]));
    assert_eq!(
        err,
        "Error pausing VirtualMachineInstance vm1. VirtualMachine vm1 is not set to run\n"
    );
}

#[test]
fn expose_creates_services_owned_by_the_exposed_object() {
    let k = Kubevirtd::start();
    k.create_vm("v", "Always", "");
    k.wait_running("v");
    let out = ok(&k.run(&[
        "expose",
        "vmi",
        "v",
        "--name=s",
        "--port=22",
        "--type=NodePort",
    ]));
    assert_eq!(out, "Service s successfully created for vmi v\n");
    let svc: Value = serde_json::from_str(&k.kubectl(&["get", "svc", "s", "-o", "json"])).unwrap();
    assert_eq!(svc["spec"]["selector"]["vmi.kubevirt.io/id"], "v");
    assert_eq!(svc["spec"]["type"], "NodePort");
    assert_eq!(svc["spec"]["ports"][0]["port"], 22);
    let owner = &svc["metadata"]["ownerReferences"][0];
    assert_eq!(owner["kind"], "VirtualMachineInstance");
    assert_eq!(owner["name"], "v");
    assert_eq!(
        owner["uid"].as_str(),
        Some(k.get("vmi/v", "{.metadata.uid}").as_str())
    );

    // The command of the seed documents, on a VM that has not started.
    k.create_vm("vmi-ephemeral", "Halted", "");
    let out = ok(&k.run(&[
        "expose",
        "virtualmachine",
        "vmi-ephemeral",
        "--name",
        "vmiservice",
        "--port",
        "27017",
        "--target-port",
        "22",
    ]));
    assert_eq!(
        out,
        "Service vmiservice successfully created for virtualmachine vmi-ephemeral\n"
    );
    assert_eq!(k.get("svc/vmiservice", "{.spec.ports[0].targetPort}"), "22");
    assert_eq!(k.get("svc/vmiservice", "{.spec.ports[0].port}"), "27017");
    assert_eq!(
        k.get("svc/vmiservice", "{.metadata.ownerReferences[0].kind}"),
        "VirtualMachine"
    );
}

#[test]
fn expose_refuses_a_replica_set_with_match_expressions() {
    let k = Kubevirtd::start();
    let rs = "apiVersion: kubevirt.io/v1
kind: VirtualMachineInstanceReplicaSet
metadata:
  name: rs
spec:
  replicas: 0
  selector:
    matchLabels:
      app: rs
    matchExpressions:
    - {key: tier, operator: Exists}
  template:
    metadata:
      labels:
        app: rs
        tier: web
    spec:
      domain:
        devices: {}
        resources:
          requests:
            memory: 64Mi
";
    k.kubectl_with(&["apply", "-f", "-"], Some(rs));
    let err = fails(&k.run(&["expose", "vmirs", "rs", "--name=s", "--port=80"]));
    assert_eq!(
        err,
        "cannot expose VirtualMachineInstanceReplicaSet with match expressions\n"
    );
}

/// Runs virtctl under `script`, which gives it a pseudo-terminal.
fn console_in_a_terminal(k: &Kubevirtd, vm: &str) -> std::process::Child {
    let command = format!(
        "{} --kubeconfig {} console {vm}",
        env!("CARGO_BIN_EXE_virtctl"),
        k.kubeconfig.display()
    );
    std::process::Command::new("script")
        .args(["-q", "-e", "-f", "-c", &command, "/dev/null"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("script (util-linux) runs")
}

#[test]
fn console_in_a_terminal_echoes_and_leaves_on_ctrl_close_bracket() {
    let k = Kubevirtd::start();
    k.create_vm("vm1", "Always", "");
    // A missing VMI is an error at once; one that is not running yet is waited for.
    eventually(Duration::from_secs(30), "the VMI", || {
        (!k.get("vmi/vm1", "{.metadata.name}").is_empty()).then_some(())
    });
    let mut child = console_in_a_terminal(&k, "vm1");
    let out = Collector::new(child.stdout.take().expect("stdout"));
    assert!(
        out.wait_for("vm1 login: ", Duration::from_secs(60)),
        "{:?}",
        out.text()
    );
    assert!(
        out.text().contains("Successfully connected to vm1 console"),
        "{:?}",
        out.text()
    );
    send(&mut child, b"root\r");
    // In raw mode the terminal does not echo: what comes back is the guest's echo.
    assert!(
        out.wait_for("login: root\r\n", Duration::from_secs(10)),
        "{:?}",
        out.text()
    );
    send(&mut child, b"\x1d");
    let status = wait_exit(&mut child, Duration::from_secs(20)).expect("console exits");
    assert!(status.success(), "{status:?}");
}

#[test]
fn a_second_console_session_ends_the_first() {
    let k = Kubevirtd::start();
    k.create_vm("vm1", "Always", "");
    k.wait_running("vm1");
    let mut first = k
        .virtctl(&["console", "vm1"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (seen, _reader) = read_until(
        first.stdout.take().unwrap(),
        "login: ",
        Duration::from_secs(30),
    );
    assert!(seen.contains("login: "), "{seen:?}");
    let mut second = k
        .virtctl(&["console", "vm1"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let status = wait_exit(&mut first, Duration::from_secs(30)).expect("the first session ends");
    assert!(status.success(), "{status:?}");
    send(&mut second, b"\x1d");
    assert!(wait_exit(&mut second, Duration::from_secs(20)).is_some_and(|s| s.success()));
}

#[test]
fn console_without_serial_console_is_refused() {
    let k = Kubevirtd::start();
    k.create_vm("vm1", "Always", "autoattachSerialConsole: false");
    k.wait_running("vm1");
    let err = fails(&k.run(&["console", "vm1", "--timeout=0"]));
    assert_eq!(err, "No serial consoles are present.\n");
}

#[test]
fn migrate_creates_a_migration_and_migrate_cancel_deletes_it() {
    let k = Kubevirtd::start();
    k.create_vm("vm1", "Always", "");
    k.wait_running("vm1");
    let out = ok(&k.run(&["migrate", "vm1", "--dry-run"]));
    assert_eq!(out, "Dry Run execution\nVM vm1 was scheduled to migrate\n");
    assert_eq!(k.get("vmim", "{.items[*].metadata.name}"), "");
    assert_eq!(
        ok(&k.run(&["migrate", "vm1"])),
        "VM vm1 was scheduled to migrate\n"
    );
    let name = eventually(Duration::from_secs(10), "a migration", || {
        Some(k.get("vmim", "{.items[0].metadata.name}")).filter(|n| !n.is_empty())
    });
    assert!(name.starts_with("kubevirt-migrate-vm-"), "{name}");
    assert_eq!(k.get(&format!("vmim/{name}"), "{.spec.vmiName}"), "vm1");
    // Upstream's migration create mutator labels the migration with its VMI; virtctl finds
    // migrations by that label. Label it here if this server's admission did not.
    if k.get(
        &format!("vmim/{name}"),
        "{.metadata.labels.kubevirt\\.io/vmi-name}",
    ) != "vm1"
    {
        k.kubectl(&["label", &format!("vmim/{name}"), "kubevirt.io/vmi-name=vm1"]);
    }
    let phase = k.get(&format!("vmim/{name}"), "{.status.phase}");
    if !matches!(phase.as_str(), "Succeeded" | "Failed") {
        assert_eq!(
            ok(&k.run(&["migrate-cancel", "vm1"])),
            "VM vm1 was scheduled to migrate-cancel\n"
        );
        eventually(Duration::from_secs(30), "the migration deleted", || {
            let gone = k
                .get(&format!("vmim/{name}"), "{.metadata.name}")
                .is_empty();
            let deleting = !k
                .get(&format!("vmim/{name}"), "{.metadata.deletionTimestamp}")
                .is_empty();
            (gone || deleting).then_some(())
        });
    }
}

#[test]
fn generated_manifests_pass_a_server_side_dry_run() {
    let k = Kubevirtd::start();
    let manifest = ok(&k.run(&[
        "create",
        "vm",
        "--volume-containerdisk=src:quay.io/containerdisks/fedora:latest",
    ]));
    let vm: Value = serde_saphyr::from_str(&manifest).unwrap();
    let name = vm["metadata"]["name"].as_str().unwrap().to_owned();
    let out = k.kubectl_with(&["create", "--dry-run=server", "-f", "-"], Some(&manifest));
    assert_eq!(
        out.trim(),
        format!("virtualmachine.kubevirt.io/{name} created (server dry run)")
    );
    let plain = ok(&k.run(&["create", "vm", "--name=plain"]));
    k.kubectl_with(&["create", "-f", "-"], Some(&plain));
    assert_eq!(
        k.get("vm/plain", "{.spec.template.spec.domain.memory.guest}"),
        "512Mi"
    );
    assert_eq!(
        k.get(
            "vm/plain",
            "{.spec.template.spec.terminationGracePeriodSeconds}"
        ),
        "180"
    );
}

#[test]
fn seed_document_commands_work_or_fail_as_upstream() {
    let k = Kubevirtd::start();
    k.create_vm("vm-cirros", "Halted", "");
    assert_eq!(
        fails(&k.run(&["start", "omv", "vm-cirros"])),
        "accepts 1 arg(s), received 2\n"
    );
    assert_eq!(
        fails(&k.run(&["start", "vm", "vm-cirros"])),
        "accepts 1 arg(s), received 2\n"
    );
    k.create_vm("vm", "Always", "");
    k.wait_running("vm");
    let first = k.get("vmi/vm", "{.metadata.uid}");
    assert_eq!(
        ok(&k.run(&["restart", "vm", "--force", "--grace-period=0"])),
        "VM vm was scheduled to restart\n"
    );
    eventually(Duration::from_secs(60), "a new instance", || {
        let uid = k.get("vmi/vm", "{.metadata.uid}");
        (!uid.is_empty() && uid != first).then_some(())
    });
    k.create_vm("myvm", "Halted", "");
    assert_eq!(
        ok(&k.run(&["start", "myvm"])),
        "VM myvm was scheduled to start\n"
    );
    k.wait_running("myvm");
    assert_eq!(
        ok(&k.run(&["stop", "myvm"])),
        "VM myvm was scheduled to stop\n"
    );
}

#[test]
fn version_reports_kubevirtd() {
    let k = Kubevirtd::start();
    let out = k.run(&["version"]);
    let text = ok(&out);
    assert!(
        text.contains("\nServer Version: version.Info{GitVersion:\"v1.9."),
        "{text}"
    );
    assert!(stderr(&out).is_empty());
}
