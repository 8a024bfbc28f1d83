//! `virtctl reset` against a real `kubevirtd` with simulated nodes: a running instance is
//! reset (paused or not) and the node reports it; missing and unscheduled instances are refused
//! with upstream's messages.

mod common;

use std::time::Duration;

use common::kubevirtd::{Ns, eventually};
use common::{fails, ok};

#[test]
fn a_running_instance_is_reset_and_stays_running() {
    let ns = Ns::new("reset-running");
    ns.create_vm("vm1", "Always", "");
    ns.wait_running("vm1");
    let uid = ns.vmi_uid("vm1");

    assert_eq!(
        ok(&ns.run(&["reset", "vm1"])),
        "VMI vm1 was scheduled to reset\n"
    );
    let reported = eventually(Duration::from_secs(60), "the Reset event", || {
        let messages = ns.get("events", "{.items[?(@.reason==\"Reset\")].message}");
        (!messages.is_empty()).then_some(messages)
    });
    assert_eq!(reported, "VirtualMachineInstance reset");
    assert_eq!(ns.get("vmi/vm1", "{.status.phase}"), "Running");
    assert_eq!(ns.vmi_uid("vm1"), uid);

    // A paused guest is reset too, and stays paused.
    ok(&ns.run(&["pause", "vmi", "vm1"]));
    assert_eq!(
        ok(&ns.run(&["reset", "vm1"])),
        "VMI vm1 was scheduled to reset\n"
    );
    assert_eq!(
        ns.get(
            "vmi/vm1",
            "{.status.conditions[?(@.type==\"Paused\")].status}"
        ),
        "True"
    );
}

#[test]
fn missing_and_unscheduled_instances_are_refused() {
    let ns = Ns::new("reset-refused");
    assert_eq!(
        fails(&ns.run(&["reset", "nothing"])),
        "Error reseting VirtualMachineInstance nothing: virtualmachineinstance.kubevirt.io \
         \"nothing\" not found\n"
    );

    ns.create_vm_with("vm1", "Always", "", "nodeSelector: {no-such: node}");
    ns.wait_for("vmi/vm1", "{.status.phase}", "Scheduling");
    assert_eq!(
        fails(&ns.run(&["reset", "vm1"])),
        "Error reseting VirtualMachineInstance vm1: Failed to reset non-running VMI with phase \
         Scheduling: Unable to connect to VirtualMachineInstance because phase is Scheduling \
         instead of Running or Scheduled\n"
    );
}

#[test]
fn reset_takes_exactly_one_instance_name() {
    let ns = Ns::new("reset-usage");
    assert_eq!(fails(&ns.run(&["reset"])), "accepts 1 arg(s), received 0\n");
    assert_eq!(
        fails(&ns.run(&["reset", "vm1", "vm2"])),
        "accepts 1 arg(s), received 2\n"
    );
}
