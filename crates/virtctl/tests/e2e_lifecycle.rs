//! virtctl's lifecycle commands against a real `kubevirtd` with simulated nodes: start, stop,
//! restart (forced, dry runs, `--wait`), pause, unpause, soft reboot, migrate and
//! migrate-cancel, the refusals of each run strategy, and the commands of the seed documents.
//! One server serves every test of this file; each test works in its own namespace.

mod common;

use std::time::Duration;

use common::kubevirtd::{Ns, eventually};
use common::{fails, ok};

/// The refusal of a VM subresource, as virtctl prints it.
fn refused(prefix: &str, kind: &str, name: &str, message: &str) -> String {
    format!("{prefix}Operation cannot be fulfilled on {kind}.kubevirt.io \"{name}\": {message}\n")
}

#[test]
fn start_restart_and_stop_wait_for_the_instance() {
    let ns = Ns::new("lc-wait");
    ns.create_vm("vm1", "Halted", "");
    let out = ok(&ns.run(&["start", "vm1", "--wait"]));
    assert_eq!(out, "VM vm1 was scheduled to start\nVM vm1 is running\n");
    assert_eq!(ns.get("vm/vm1", "{.spec.runStrategy}"), "Always");
    assert_eq!(ns.get("vmi/vm1", "{.status.phase}"), "Running");

    let err = fails(&ns.run(&["start", "vm1"]));
    assert_eq!(
        err,
        refused(
            "Error starting VirtualMachine ",
            "virtualmachine",
            "vm1",
            "VM is already running"
        )
    );

    let first = ns.vmi_uid("vm1");
    let out = ok(&ns.run(&["restart", "vm1", "--wait"]));
    assert_eq!(
        out,
        "VM vm1 was scheduled to restart\nVM vm1 was restarted\n"
    );
    let second = ns.vmi_uid("vm1");
    assert!(!second.is_empty() && second != first, "{first} -> {second}");

    let out = ok(&ns.run(&["stop", "vm1", "--wait"]));
    assert_eq!(out, "VM vm1 was scheduled to stop\nVM vm1 is stopped\n");
    assert_eq!(ns.get("vm/vm1", "{.spec.runStrategy}"), "Halted");
    assert_eq!(ns.vmi_uid("vm1"), "");
    let err = fails(&ns.run(&["stop", "vm1"]));
    assert_eq!(
        err,
        refused(
            "error stopping VirtualMachine ",
            "virtualmachine",
            "vm1",
            "VM is not running"
        )
    );
}

// Scenario 27: restarts keep the run strategy and leave no state change requests behind.
#[test]
fn restart_keeps_the_run_strategy() {
    let ns = Ns::new("lc-restart");
    for (name, strategy) in [("manual", "Manual"), ("rerun", "RerunOnFailure")] {
        ns.create_vm(name, strategy, "");
        if strategy == "Manual" {
            // Scenario 28: a Manual VM starts on request and stays Manual.
            ok(&ns.run(&["start", name, "--wait"]));
        }
        ns.wait_running(name);
        let first = ns.vmi_uid(name);
        let out = ok(&ns.run(&["restart", name, "--wait"]));
        assert_eq!(
            out,
            format!("VM {name} was scheduled to restart\nVM {name} was restarted\n")
        );
        let second = ns.vmi_uid(name);
        assert!(!second.is_empty() && second != first, "{first} -> {second}");
        assert_eq!(
            ns.get(&format!("vm/{name}"), "{.spec.runStrategy}"),
            strategy
        );
        ns.wait_for(&format!("vm/{name}"), "{.status.stateChangeRequests}", "");
    }
}

// Scenarios 28, 30, 31 and 34: what each run strategy refuses, with virtctl's prefixes.
#[test]
fn run_strategies_refuse_requests_they_do_not_support() {
    let ns = Ns::new("lc-refusals");
    ns.create_vm("halted", "Halted", "");
    ns.create_vm("manual", "Manual", "");
    ns.create_vm("once", "Once", "");
    let vm =
        |prefix: &str, name: &str, message: &str| refused(prefix, "virtualmachine", name, message);
    assert_eq!(
        fails(&ns.run(&["restart", "halted"])),
        vm(
            "error restarting VirtualMachine: ",
            "halted",
            "RunStategy Halted does not support manual restart requests"
        )
    );
    assert_eq!(
        fails(&ns.run(&["stop", "halted"])),
        vm(
            "error stopping VirtualMachine ",
            "halted",
            "VM is not running"
        )
    );
    assert_eq!(
        fails(&ns.run(&["stop", "manual"])),
        vm(
            "error stopping VirtualMachine ",
            "manual",
            "VM is not running"
        )
    );
    assert_eq!(
        fails(&ns.run(&["restart", "manual"])),
        vm(
            "error restarting VirtualMachine: ",
            "manual",
            "VM is not running: Halted"
        )
    );
    ns.wait_running("once");
    assert_eq!(
        fails(&ns.run(&["start", "once"])),
        vm(
            "Error starting VirtualMachine ",
            "once",
            "VM is already running"
        )
    );
    assert_eq!(
        fails(&ns.run(&["restart", "once"])),
        vm(
            "error restarting VirtualMachine: ",
            "once",
            "RunStategy Once does not support manual restart requests"
        )
    );
    // Stopping a Once VM halts it.
    assert_eq!(
        ok(&ns.run(&["stop", "once", "--wait"])),
        "VM once was scheduled to stop\nVM once is stopped\n"
    );
    assert_eq!(ns.get("vm/once", "{.spec.runStrategy}"), "Halted");
    // A missing VM is a 404 from the subresource.
    assert_eq!(
        fails(&ns.run(&["start", "nothere"])),
        "Error starting VirtualMachine virtualmachine.kubevirt.io \"nothere\" not found\n"
    );
}

// Scenario 35: dry runs are validated by the server and change nothing.
#[test]
fn dry_runs_change_nothing() {
    let ns = Ns::new("lc-dry");
    ns.create_vm("halted", "Halted", "");
    let out = ok(&ns.run(&["start", "halted", "--dry-run"]));
    assert_eq!(out, "Dry Run execution\nVM halted was scheduled to start\n");

    ns.create_vm_with("vm1", "Always", "", "terminationGracePeriodSeconds: 600");
    ns.wait_running("vm1");
    let uid = ns.vmi_uid("vm1");
    for args in [
        &["stop", "vm1", "--dry-run"][..],
        &["stop", "vm1", "--dry-run", "--force", "--grace-period=0"],
    ] {
        assert_eq!(
            ok(&ns.run(args)),
            "Dry Run execution\nVM vm1 was scheduled to stop\n"
        );
    }
    assert_eq!(
        ok(&ns.run(&["restart", "vm1", "--dry-run"])),
        "Dry Run execution\nVM vm1 was scheduled to restart\n"
    );
    assert_eq!(
        ok(&ns.run(&["pause", "vm", "vm1", "--dry-run"])),
        "Dry Run execution\nVMI vm1 was scheduled to pause\n"
    );
    // Give the controllers time to act on anything that was wrongly persisted.
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(ns.get("vm/halted", "{.spec.runStrategy}"), "Halted");
    assert_eq!(ns.vmi_uid("halted"), "");
    assert_eq!(ns.vmi_uid("vm1"), uid);
    assert_eq!(ns.get("vm/vm1", "{.spec.runStrategy}"), "Always");
    assert_eq!(
        ns.get("vmi/vm1", "{.spec.terminationGracePeriodSeconds}"),
        "600"
    );
    assert_eq!(ns.get("vm/vm1", "{.status.stateChangeRequests}"), "");
    assert_eq!(ns.get("vm/vm1", "{.status.printableStatus}"), "Running");
}

// Scenarios 32, 33 and 40: forced stops and restarts with grace period 0, and the flag rule.
#[test]
fn forced_stop_and_restart_skip_the_grace_period() {
    let ns = Ns::new("lc-force");
    ns.create_vm_with("vm1", "Always", "", "terminationGracePeriodSeconds: 600");
    ns.wait_running("vm1");
    for args in [
        &["stop", "vm1", "--grace-period=0"][..],
        &["restart", "vm1", "--force"],
    ] {
        assert_eq!(
            fails(&ns.run(args)),
            "Must both use --force=true and set --grace-period.\n"
        );
    }
    assert_eq!(fails(&ns.run(&["stop"])), "accepts 1 arg(s), received 0\n");
    for (grace, message) in [
        (
            "5",
            "For force restart, only gracePeriod=0 is supported for now",
        ),
        ("-1", "gracePeriod has to be greater or equal to 0"),
    ] {
        let err = fails(&ns.run(&[
            "restart",
            "vm1",
            "--force",
            &format!("--grace-period={grace}"),
        ]));
        assert_eq!(
            err,
            format!("error force restarting VirtualMachine: {message}\n")
        );
    }

    let first = ns.vmi_uid("vm1");
    let out = ok(&ns.run(&["restart", "vm1", "--force", "--grace-period=0", "--wait"]));
    assert_eq!(
        out,
        "VM vm1 was scheduled to restart\nVM vm1 was restarted\n"
    );
    assert_ne!(ns.vmi_uid("vm1"), first);

    // With grace 600 only the forced stop can finish within the wait deadline.
    let out = ok(&ns.run(&["stop", "vm1", "--force", "--grace-period=0", "--wait"]));
    assert_eq!(out, "VM vm1 was scheduled to stop\nVM vm1 is stopped\n");
    assert_eq!(ns.get("vm/vm1", "{.spec.runStrategy}"), "Halted");
}

/// A VM whose template carries the simulated driver's failure injection `annotation`.
fn vm_with_annotation(name: &str, strategy: &str, annotation: &str, grace: u32) -> String {
    format!(
        "apiVersion: kubevirt.io/v1
kind: VirtualMachine
metadata:
  name: {name}
spec:
  runStrategy: {strategy}
  template:
    metadata:
      annotations:
        {annotation}
    spec:
      domain:
        devices: {{}}
        resources:
          requests:
            memory: 64Mi
      terminationGracePeriodSeconds: {grace}
"
    )
}

// Scenarios 16 and 30: a Once VM whose guest powered off keeps its finished instance and
// refuses manual starts.
#[test]
fn a_finished_once_vm_refuses_start() {
    let ns = Ns::new("lc-once");
    ns.apply(&vm_with_annotation(
        "once",
        "Once",
        "simulation.kubevirt.io/poweroff-after: 1s",
        0,
    ));
    ns.wait_for("vmi/once", "{.status.phase}", "Succeeded");
    assert_eq!(
        fails(&ns.run(&["start", "once"])),
        refused(
            "Error starting VirtualMachine ",
            "virtualmachine",
            "once",
            "Once does not support manual start requests"
        )
    );
}

// Scenarios 31 and 32: a guest that ignores ACPI keeps a stopped VM's instance for its whole
// grace period; another stop is refused unless it shortens the grace period, which a forced
// stop does.
#[test]
fn a_stopping_vm_whose_guest_ignores_acpi_needs_a_forced_stop() {
    let ns = Ns::new("lc-acpi");
    ns.apply(&vm_with_annotation(
        "vm1",
        "Always",
        "simulation.kubevirt.io/ignore-acpi: \"true\"",
        600,
    ));
    ns.wait_running("vm1");
    assert_eq!(
        ok(&ns.run(&["stop", "vm1"])),
        "VM vm1 was scheduled to stop\n"
    );
    ns.wait_for("vm/vm1", "{.status.printableStatus}", "Stopping");
    assert_eq!(ns.get("vm/vm1", "{.spec.runStrategy}"), "Halted");
    assert_eq!(
        fails(&ns.run(&["stop", "vm1"])),
        refused(
            "error stopping VirtualMachine ",
            "virtualmachine",
            "vm1",
            "Halted only supports manual stop requests with a shorter graceperiod"
        )
    );
    let out = ok(&ns.run(&["stop", "vm1", "--force", "--grace-period=0", "--wait"]));
    assert_eq!(out, "VM vm1 was scheduled to stop\nVM vm1 is stopped\n");
    assert_eq!(ns.vmi_uid("vm1"), "");
}

// Scenarios 29 and 37: paused starts, and restarts of a paused VM that run unpaused.
#[test]
fn start_paused_runs_a_paused_instance() {
    let ns = Ns::new("lc-paused");
    for (name, strategy) in [("halted", "Halted"), ("manual", "Manual")] {
        ns.create_vm(name, strategy, "");
        let out = ok(&ns.run(&["start", name, "--paused", "--wait"]));
        assert_eq!(
            out,
            format!("VM {name} was scheduled to start\nVM {name} is paused\n")
        );
        assert_eq!(
            ns.get(&format!("vmi/{name}"), "{.spec.startStrategy}"),
            "Paused"
        );
        ns.wait_for(&format!("vm/{name}"), "{.status.printableStatus}", "Paused");
        let want = if strategy == "Halted" {
            "Always"
        } else {
            "Manual"
        };
        assert_eq!(ns.get(&format!("vm/{name}"), "{.spec.runStrategy}"), want);
    }
    assert_eq!(
        fails(&ns.run(&["soft-reboot", "halted"])),
        refused(
            "Error soft rebooting VirtualMachineInstance halted: ",
            "virtualmachineinstance",
            "halted",
            "VMI is paused"
        )
    );
    let first = ns.vmi_uid("manual");
    ok(&ns.run(&["restart", "manual", "--wait"]));
    assert_ne!(ns.vmi_uid("manual"), first);
    assert_eq!(ns.get("vmi/manual", "{.spec.startStrategy}"), "");
    ns.wait_for("vm/manual", "{.status.printableStatus}", "Running");
}

// Scenario 37: a VM whose template starts paused.
#[test]
fn a_vm_started_paused_by_its_template_stops_once() {
    let ns = Ns::new("lc-template-paused");
    ns.create_vm_with(
        "vm1",
        "Always",
        "",
        "startStrategy: Paused\n      terminationGracePeriodSeconds: 0",
    );
    ns.wait_for("vm/vm1", "{.status.printableStatus}", "Paused");
    assert_eq!(
        fails(&ns.run(&["start", "vm1"])),
        refused(
            "Error starting VirtualMachine ",
            "virtualmachine",
            "vm1",
            "VM is already running"
        )
    );
    assert_eq!(
        ok(&ns.run(&["stop", "vm1", "--wait"])),
        "VM vm1 was scheduled to stop\nVM vm1 is stopped\n"
    );
    assert_eq!(ns.vmi_uid("vm1"), "");
    assert_eq!(
        fails(&ns.run(&["stop", "vm1"])),
        refused(
            "error stopping VirtualMachine ",
            "virtualmachine",
            "vm1",
            "VM is not running"
        )
    );
}

// Scenario 36.
#[test]
fn pause_and_unpause_a_vm() {
    let ns = Ns::new("lc-pause");
    ns.create_vm("vm1", "Always", "");
    ns.wait_running("vm1");
    assert_eq!(
        ok(&ns.run(&["pause", "vm", "vm1"])),
        "VMI vm1 was scheduled to pause\n"
    );
    ns.wait_for("vm/vm1", "{.status.printableStatus}", "Paused");
    ns.wait_for(
        "vmi/vm1",
        "{.status.conditions[?(@.type==\"Paused\")].status}",
        "True",
    );
    let err = fails(&ns.run(&["pause", "VirtualMachineInstance", "vm1"]));
    assert_eq!(
        err,
        refused(
            "Error pausing VirtualMachineInstance vm1: ",
            "virtualmachineinstance",
            "vm1",
            "VMI is already paused"
        )
    );
    assert_eq!(
        ok(&ns.run(&["unpause", "vmi", "vm1"])),
        "VMI vm1 was scheduled to unpause\n"
    );
    ns.wait_for("vm/vm1", "{.status.printableStatus}", "Running");
    let err = fails(&ns.run(&["unpause", "VM", "vm1"]));
    assert_eq!(
        err,
        refused(
            "Error unpausing VirtualMachineInstance vm1: ",
            "virtualmachineinstance",
            "vm1",
            "VMI is not paused"
        )
    );
    assert_eq!(
        ok(&ns.run(&["soft-reboot", "vm1"])),
        "VMI vm1 was scheduled to soft-reboot\n"
    );
    // Upstream's quirk: an unknown type does nothing and still reports success.
    assert_eq!(
        ok(&ns.run(&["pause", "machine", "vm1"])),
        "VMI vm1 was scheduled to pause\n"
    );
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(ns.get("vm/vm1", "{.status.printableStatus}"), "Running");
}

// Scenario 36: only the guest agent can be asked whether a paused guest lives.
#[test]
fn a_vm_with_a_network_liveness_probe_cannot_pause() {
    let ns = Ns::new("lc-pause-probe");
    ns.create_vm_with(
        "vm1",
        "Always",
        "",
        "livenessProbe: {tcpSocket: {port: 22}}",
    );
    ns.wait_running("vm1");
    assert_eq!(
        fails(&ns.run(&["pause", "vm", "vm1"])),
        "Error pausing VirtualMachineInstance vm1: virtualmachineinstance.kubevirt.io \"vm1\" is forbidden: Pausing VMIs with a non-GuestAgentPing LivenessProbe is not supported\n"
    );
}

#[test]
fn pausing_a_stopped_vm_says_it_is_not_set_to_run() {
    let ns = Ns::new("lc-pause-stopped");
    ns.create_vm("vm1", "Halted", "");
    let err = fails(&ns.run(&["pause", "vm", "vm1"]));
    assert_eq!(
        err,
        "Error pausing VirtualMachineInstance vm1. VirtualMachine vm1 is not set to run\n"
    );
    let err = fails(&ns.run(&["pause", "vmi", "vm1"]));
    assert_eq!(
        err,
        "Error pausing VirtualMachineInstance vm1: virtualmachineinstance.kubevirt.io \"vm1\" not found\n"
    );
}

// Scenarios 36, 38 and 39 on an instance no node can run: it never leaves Scheduling.
#[test]
fn an_instance_that_is_not_running_refuses_guest_operations() {
    let ns = Ns::new("lc-unscheduled");
    ns.create_vm_with("vm1", "Always", "", "nodeSelector: {no-such: node}");
    eventually(Duration::from_secs(60), "the VMI", || {
        (!ns.vmi_uid("vm1").is_empty()).then_some(())
    });
    let vmi =
        |prefix: &str, message: &str| refused(prefix, "virtualmachineinstance", "vm1", message);
    assert_eq!(
        fails(&ns.run(&["pause", "vmi", "vm1"])),
        vmi(
            "Error pausing VirtualMachineInstance vm1: ",
            "VM is not running"
        )
    );
    assert_eq!(
        fails(&ns.run(&["unpause", "vmi", "vm1"])),
        vmi(
            "Error unpausing VirtualMachineInstance vm1: ",
            "VMI is not running"
        )
    );
    assert_eq!(
        fails(&ns.run(&["migrate", "vm1"])),
        refused(
            "Error migrating VirtualMachine ",
            "virtualmachine",
            "vm1",
            "VM is not running"
        )
    );
    // The console waits while the server answers 400, then gives up (one minute).
    let err = fails(&ns.run(&["console", "vm1", "--timeout=1"]));
    assert_eq!(
        err,
        "Timeout trying to connect to the virtual machine instance\n"
    );
}

// Scenario 39, and migrate-cancel.
#[test]
fn migrate_creates_a_migration_and_migrate_cancel_deletes_it() {
    let ns = Ns::new("lc-migrate");
    ns.create_vm("vm1", "Always", "");
    ns.wait_running("vm1");
    assert_eq!(
        fails(&ns.run(&["migrate-cancel", "vm1"])),
        "Found no migration to cancel for vm1\n"
    );
    let out = ok(&ns.run(&["migrate", "vm1", "--dry-run"]));
    assert_eq!(out, "Dry Run execution\nVM vm1 was scheduled to migrate\n");
    assert_eq!(ns.get("vmim", "{.items[*].metadata.name}"), "");
    assert_eq!(
        ok(&ns.run(&["migrate", "vm1", "--addedNodeSelector=zone=a,disk=ssd"])),
        "VM vm1 was scheduled to migrate\n"
    );
    let name = eventually(Duration::from_secs(10), "a migration", || {
        Some(ns.get("vmim", "{.items[0].metadata.name}")).filter(|n| !n.is_empty())
    });
    assert!(name.starts_with("kubevirt-migrate-vm-"), "{name}");
    let vmim = format!("vmim/{name}");
    assert_eq!(ns.get(&vmim, "{.spec.vmiName}"), "vm1");
    assert_eq!(ns.get(&vmim, "{.spec.addedNodeSelector.zone}"), "a");
    assert_eq!(ns.get(&vmim, "{.spec.addedNodeSelector.disk}"), "ssd");
    // Upstream's migration create mutator labels the migration with its VMI; virtctl finds
    // migrations by that label. Label it here if this server's admission did not.
    if ns.get(&vmim, "{.metadata.labels.kubevirt\\.io/vmi-name}") != "vm1" {
        ns.kubectl(&["label", &vmim, "kubevirt.io/vmi-name=vm1"]);
    }
    let phase = ns.get(&vmim, "{.status.phase}");
    if !matches!(phase.as_str(), "Succeeded" | "Failed") {
        assert_eq!(
            ok(&ns.run(&["migrate-cancel", "vm1"])),
            "VM vm1 was scheduled to migrate-cancel\n"
        );
        eventually(Duration::from_secs(30), "the migration deleted", || {
            let gone = ns.get(&vmim, "{.metadata.name}").is_empty();
            let deleting = !ns.get(&vmim, "{.metadata.deletionTimestamp}").is_empty();
            (gone || deleting).then_some(())
        });
    }
}

/// The v1alpha2 VirtualMachine of the VM user guide (seed 001, named `name`).
fn seed_vm_v1alpha2(name: &str) -> String {
    format!(
        "apiVersion: kubevirt.io/v1alpha2
kind: VirtualMachine
metadata:
  labels:
    kubevirt.io/vm: {name}
  name: {name}
spec:
  running: false
  template:
    metadata:
      labels:
        kubevirt.io/vm: {name}
    spec:
      domain:
        devices:
          disks:
          - disk:
              bus: virtio
            name: containerdisk
            volumeName: registryvolume
          - disk:
              bus: virtio
            name: cloudinitdisk
            volumeName: cloudinitvolume
        machine:
          type: \"\"
        resources:
          requests:
            memory: 64M
      terminationGracePeriodSeconds: 0
      volumes:
      - name: registryvolume
        containerDisk:
          image: kubevirt/cirros-container-disk-demo:latest
      - cloudInitNoCloud:
          userDataBase64: IyEvYmluL3NoCgplY2hvICdwcmludGVkIGZyb20gY2xvdWQtaW5pdCB1c2VyZGF0YScK
        name: cloudinitvolume
"
    )
}

// Every virtctl command of the seed documents: `virtctl start|stop myvm` (VM and offline VM
// guides), `virtctl start|stop|restart vm`, `virtctl restart vm --force --grace-period=0`
// (architecture guide), and the two-argument forms that upstream's virtctl refuses.
#[test]
fn seed_document_commands_work_or_fail_as_upstream() {
    let ns = Ns::new("lc-seeds");
    ns.apply(&seed_vm_v1alpha2("vm-cirros"));
    for args in [
        &["start", "omv", "vm-cirros"],
        &["start", "vm", "vm-cirros"],
    ] {
        assert_eq!(fails(&ns.run(args)), "accepts 1 arg(s), received 2\n");
    }
    assert_eq!(ns.vmi_uid("vm-cirros"), "");

    ns.apply(&seed_vm_v1alpha2("myvm"));
    assert_eq!(
        ok(&ns.run(&["start", "myvm"])),
        "VM myvm was scheduled to start\n"
    );
    ns.wait_running("myvm");
    assert_eq!(
        ok(&ns.run(&["stop", "myvm"])),
        "VM myvm was scheduled to stop\n"
    );
    ns.wait_for("vm/myvm", "{.status.printableStatus}", "Stopped");

    // The offline VM guide's object, created through the old API.
    ns.apply(
        "apiVersion: kubevirt.io/v1alpha1
kind: OfflineVirtualMachine
metadata:
  name: offline
spec:
  running: false
  template:
    metadata:
      labels:
        my: label
    spec:
      domain:
        resources:
          requests:
            memory: 8Mi
        devices:
          disks:
          - name: disk0
            volumeName: registryvolume
      volumes:
        - name: registryvolume
          registryDisk:
            image: kubevirt/cirros-registry-disk-demo:devel
",
    );
    assert_eq!(
        ok(&ns.run(&["start", "offline"])),
        "VM offline was scheduled to start\n"
    );
    ns.wait_running("offline");
    assert_eq!(
        ok(&ns.run(&["stop", "offline"])),
        "VM offline was scheduled to stop\n"
    );
    ns.wait_for("vm/offline", "{.status.printableStatus}", "Stopped");

    ns.apply(&seed_vm_v1alpha2("vm"));
    assert_eq!(
        ok(&ns.run(&["start", "vm"])),
        "VM vm was scheduled to start\n"
    );
    ns.wait_running("vm");
    let first = ns.vmi_uid("vm");
    assert_eq!(
        ok(&ns.run(&["restart", "vm"])),
        "VM vm was scheduled to restart\n"
    );
    let second = eventually(Duration::from_secs(60), "a new instance", || {
        let uid = ns.vmi_uid("vm");
        (!uid.is_empty() && uid != first).then_some(uid)
    });
    ns.wait_running("vm");
    assert_eq!(
        ok(&ns.run(&["restart", "vm", "--force", "--grace-period=0"])),
        "VM vm was scheduled to restart\n"
    );
    eventually(Duration::from_secs(60), "another instance", || {
        let uid = ns.vmi_uid("vm");
        (!uid.is_empty() && uid != second).then_some(())
    });
    ns.wait_running("vm");
    assert_eq!(
        ok(&ns.run(&["stop", "vm"])),
        "VM vm was scheduled to stop\n"
    );
    ns.wait_for("vm/vm", "{.status.printableStatus}", "Stopped");
}
