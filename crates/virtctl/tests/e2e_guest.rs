//! virtctl against a real guest: `kubevirtd` with the QEMU node driver (software emulation)
//! boots the test guest of `scripts/build-test-guest.sh` once; the tests take turns on it:
//! the serial console in a pseudo-terminal, the VNC proxy and screenshot, pause and unpause,
//! stop and start, and port forwarding to a listener in the guest.
//!
//! `virtctl ssh`/`scp` against the guest's SSH server are in e2e_ssh.rs (their command lines
//! in e2e_access.rs).

mod common;

use std::io::Read;
use std::net::{TcpListener, TcpStream};
use std::process::Stdio;
use std::time::Duration;

use common::guest::{PROMPT, TIMEOUT, Terminal, VM, nonce, shared_vm, wait_until};
use common::{Collector, ok, read_until, stderr, wait_exit};

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

fn booted_terminal(vm: &common::guest::SharedVm) -> Terminal {
    let mut term = Terminal::open(vm.s, VM);
    let ready = term.wait_prompt(TIMEOUT);
    assert!(
        ready,
        "no {PROMPT:?} on the console: {:?}\nserial log: {}",
        term.out.text(),
        vm.s.serial_tail(&vm.uid)
    );
    term
}

// Scenario 38 with a real guest: the shell answers through the console and Ctrl+] leaves.
#[test]
fn console_reaches_the_guest_shell_and_leaves_on_ctrl_close_bracket() {
    let vm = shared_vm();
    let mut term = booted_terminal(&vm);
    assert!(
        term.out
            .text()
            .contains(&format!("Successfully connected to {VM} console")),
        "{:?}",
        term.out.text()
    );
    let n = nonce();
    // The guest's shell computes the middle part: the typed line echoed back does not match.
    assert!(
        term.run(
            &format!("echo hello-$((6*7))-{n}"),
            &format!("hello-42-{n}"),
            Duration::from_secs(60)
        ),
        "{:?}",
        term.out.text()
    );
    let status = term.leave().expect("virtctl console exits");
    assert!(status.success(), "{status:?}");
}

#[test]
fn vnc_proxy_serves_the_guest_display_and_screenshots_are_png() {
    let vm = shared_vm();
    let port = free_port();
    let mut proxy =
        vm.s.virtctl(&["vnc", "--proxy-only", "--port", &port.to_string(), VM])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("virtctl vnc runs");
    let errors = Collector::new(proxy.stderr.take().expect("stderr"));
    let (printed, _reader) = read_until(
        proxy.stdout.take().expect("stdout"),
        "}",
        Duration::from_secs(60),
    );
    let printed: serde_json::Value = serde_json::from_str(printed.trim())
        .unwrap_or_else(|e| panic!("{e}: {printed:?} {:?}", errors.text()));
    assert_eq!(printed, serde_json::json!({ "port": port }));

    let mut viewer = TcpStream::connect(("127.0.0.1", port)).expect("connect to the proxy");
    viewer
        .set_read_timeout(Some(Duration::from_secs(60)))
        .expect("timeout");
    let mut greeting = [0u8; 12];
    viewer
        .read_exact(&mut greeting)
        .unwrap_or_else(|e| panic!("{e}: {:?}", errors.text()));
    assert_eq!(&greeting, b"RFB 003.008\n");
    drop(viewer);
    // The proxy serves one viewer: it ends with it.
    let status = wait_exit(&mut proxy, Duration::from_secs(30));
    assert!(status.is_some(), "the proxy outlived its viewer");

    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("out.png");
    ok(&vm.s.run(&[
        "vnc",
        "screenshot",
        VM,
        "--file",
        file.to_str().expect("utf-8 path"),
    ]));
    let png = std::fs::read(&file).expect("the screenshot file");
    assert!(png.len() > 33, "{} bytes", png.len());
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    assert_eq!(&png[12..16], b"IHDR");
    let width = u32::from_be_bytes(png[16..20].try_into().expect("4 bytes"));
    let height = u32::from_be_bytes(png[20..24].try_into().expect("4 bytes"));
    assert!(width > 0 && height > 0, "{width}x{height}");
}

// Port forwarding reaches a TCP listener started in the guest's shell (busybox nc: a greeting,
// then an echo), through --stdio and through a local port.
#[test]
fn port_forward_reaches_a_listener_in_the_guest() {
    let vm = shared_vm();
    let mut term = booted_terminal(&vm);
    let listener =
        "nc -ll -p 8080 -e /bin/sh -c 'echo hello-from-guest; exec cat' & echo started-$((6*7))";
    assert!(
        term.run(listener, "started-42", Duration::from_secs(60)),
        "{:?}",
        term.out.text()
    );
    drop(term);

    let n = nonce();
    for target in [format!("vm/{VM}"), format!("vmi/{VM}")] {
        let mut forward =
            vm.s.virtctl(&["port-forward", "--stdio=true", &target, "8080"])
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("virtctl port-forward runs");
        let out = Collector::new(forward.stdout.take().expect("stdout"));
        let errors = Collector::new(forward.stderr.take().expect("stderr"));
        let mut stdin = forward.stdin.take().expect("stdin");
        std::io::Write::write_all(&mut stdin, format!("ping-{n}\n").as_bytes()).expect("write");
        std::io::Write::flush(&mut stdin).expect("flush");
        assert!(
            out.wait_for(&format!("hello-from-guest\nping-{n}"), TIMEOUT),
            "{target}: {:?} (stderr {:?})",
            out.text(),
            errors.text()
        );
        let _ = forward.kill();
        let _ = forward.wait();
    }

    let port = free_port();
    let mut forward =
        vm.s.virtctl(&["port-forward", &format!("vm/{VM}"), &format!("{port}:8080")])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("virtctl port-forward runs");
    let mut local = None;
    wait_until("the local port-forward listener", || {
        local = TcpStream::connect(("127.0.0.1", port)).ok();
        local.is_some()
    });
    let mut local = local.expect("connected");
    local
        .set_read_timeout(Some(Duration::from_secs(60)))
        .expect("timeout");
    std::io::Write::write_all(&mut local, format!("local-{n}\n").as_bytes()).expect("write");
    let mut seen = String::new();
    let mut buf = [0u8; 256];
    while !seen.contains(&format!("local-{n}")) {
        let got = local.read(&mut buf).expect("read");
        assert!(got > 0, "the tunnel closed; it showed {seen:?}");
        seen.push_str(&String::from_utf8_lossy(&buf[..got]));
    }
    assert!(seen.starts_with("hello-from-guest\n"), "{seen:?}");
    drop(local);
    let _ = forward.kill();
    let _ = forward.wait();
}

// Scenario 36 with a real guest: a paused guest stops answering its console, and catches up
// when unpaused.
#[test]
fn pause_and_unpause_freeze_and_resume_the_real_guest() {
    let vm = shared_vm();
    let mut term = booted_terminal(&vm);
    let out = ok(&vm.s.run(&["pause", "vm", VM]));
    assert_eq!(out, format!("VMI {VM} was scheduled to pause\n"));
    let paused = "{.status.conditions[?(@.type==\"Paused\")].status}";
    vm.s.wait_for(&format!("vmi/{VM}"), paused, "True");
    vm.s.wait_for(&format!("vm/{VM}"), "{.status.printableStatus}", "Paused");

    let n = nonce();
    let answer = format!("paused-2-{n}");
    assert!(
        !term.run(
            &format!("echo paused-$((1+1))-{n}"),
            &answer,
            Duration::from_secs(3)
        ),
        "a paused guest answered: {:?}",
        term.out.text()
    );

    let out = ok(&vm.s.run(&["unpause", "vm", VM]));
    assert_eq!(out, format!("VMI {VM} was scheduled to unpause\n"));
    vm.s.wait_for(&format!("vmi/{VM}"), paused, "");
    vm.s.wait_for(&format!("vm/{VM}"), "{.status.printableStatus}", "Running");
    assert!(
        term.out.wait_for(&answer, Duration::from_secs(60)),
        "the unpaused guest did not run the typed command: {:?}",
        term.out.text()
    );
    let status = term.leave().expect("virtctl console exits");
    assert!(status.success(), "{status:?}");
}

// Scenario 32 with a real guest: stop --wait returns once the guest is down (its QEMU gone),
// start --wait once a new guest runs.
#[test]
fn stop_and_start_wait_for_the_real_guest() {
    let vm = shared_vm();
    let qemu =
        vm.s.qemu_pid(&vm.uid)
            .expect("the launcher records QEMU's PID");
    let out = ok(&vm.s.run(&["stop", VM, "--wait"]));
    assert!(
        out.starts_with(&format!("VM {VM} was scheduled to stop\n")),
        "{out:?}"
    );
    assert_eq!(
        vm.s.get(&format!("vm/{VM}"), "{.status.printableStatus}"),
        "Stopped"
    );
    assert_eq!(vm.s.vmi_uid(), "", "the VMI is gone");
    wait_until("QEMU to exit", || {
        std::fs::read(format!("/proc/{qemu}/cmdline")).map_or(true, |c| {
            !String::from_utf8_lossy(&c).contains("qemu-system")
        })
    });

    let out = vm.s.run(&["start", VM, "--wait"]);
    assert!(
        out.status.success(),
        "{:?} {}\nserial log: {}",
        out.status,
        stderr(&out),
        vm.s.serial_tail(&vm.s.vmi_uid())
    );
    assert!(
        common::stdout(&out).starts_with(&format!("VM {VM} was scheduled to start\n")),
        "{out:?}"
    );
    assert_eq!(
        vm.s.get(&format!("vm/{VM}"), "{.status.printableStatus}"),
        "Running"
    );
    assert_eq!(vm.s.get(&format!("vmi/{VM}"), "{.status.phase}"), "Running");
    let uid = vm.s.vmi_uid();
    assert!(!uid.is_empty() && uid != vm.uid, "a new VMI: {uid}");
    let pid = vm.s.qemu_pid(&uid).expect("the new guest's QEMU");
    assert_ne!(pid, qemu);
}
