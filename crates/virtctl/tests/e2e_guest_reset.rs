//! `virtctl reset` against a real guest: `kubevirtd` with the QEMU node driver (software
//! emulation) boots the test guest of `scripts/build-test-guest.sh`; a reset reboots it in the
//! same QEMU (its boot marker appears again on the serial console) and the VMI stays Running.

mod common;

use std::time::Duration;

use common::guest::{BOOT_MARKER, SharedVm, TIMEOUT, Terminal, VM, shared_vm, since, wait_until};
use common::ok;

/// How many times the guest of the shared VM printed its boot marker on the serial console.
fn boots(vm: &SharedVm) -> usize {
    std::fs::read_to_string(vm.s.run_dir(&vm.uid).join("serial.log"))
        .unwrap_or_default()
        .matches(BOOT_MARKER)
        .count()
}

#[test]
fn reset_reboots_the_real_guest_in_place_and_the_instance_stays_running() {
    let vm = shared_vm();
    wait_until("the guest's first boot", || boots(&vm) >= 1);
    let qemu =
        vm.s.qemu_pid(&vm.uid)
            .expect("the launcher records QEMU's PID");
    let mut term = Terminal::open(vm.s, VM);
    assert!(
        term.out
            .wait_for("Successfully connected", Duration::from_secs(60)),
        "{:?}",
        term.out.text()
    );
    let before = term.out.text().len();
    let booted = boots(&vm);

    assert_eq!(
        ok(&vm.s.run(&["reset", VM])),
        format!("VMI {VM} was scheduled to reset\n")
    );
    wait_until("the boot marker on the console after the reset", || {
        since(&term.out.text(), before).contains(BOOT_MARKER)
    });
    assert!(
        boots(&vm) > booted,
        "serial log: {}",
        vm.s.serial_tail(&vm.uid)
    );
    // The same instance and the same QEMU: a reset, not a restart.
    assert_eq!(vm.s.get(&format!("vmi/{VM}"), "{.status.phase}"), "Running");
    assert_eq!(vm.s.vmi_uid(), vm.uid);
    assert_eq!(vm.s.qemu_pid(&vm.uid), Some(qemu));
    assert!(
        term.wait_prompt(TIMEOUT),
        "no shell after the reset: {:?}",
        since(&term.out.text(), before)
    );
    assert_eq!(
        vm.s.get("events", "{.items[?(@.reason==\"Reset\")].message}"),
        "VirtualMachineInstance reset"
    );
    let status = term.leave().expect("virtctl console exits");
    assert!(status.success(), "{status:?}");
}
