//! `virtctl ssh` and `virtctl scp` against the SSH server of a real guest: `kubevirtd` with the
//! QEMU node driver (software emulation) boots the test guest of `scripts/build-test-guest.sh`
//! with cloud-init user-data that installs a freshly generated public key for root, as users
//! do; the local OpenSSH client then reaches the guest through `port-forward --stdio`.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use common::guest::{NS, SharedVm, TIMEOUT, VM, nonce, shared_vm};
use common::{Collector, ok, stderr, stdout, virtctl_command, wait_exit};

/// How long one ssh or scp run may take: the tunnel, the key exchange and the copy all run
/// through an emulated guest on a possibly loaded machine.
const RUN_TIMEOUT: Duration = Duration::from_secs(180);

/// The private key whose public half the guest's user-data installs for root.
struct Key(PathBuf);

/// The guest with an SSH server, reached as `root` with `key`.
struct SshVm {
    vm: SharedVm,
    key: &'static Key,
}

impl SshVm {
    /// `-i <key>` and the local ssh options every run uses: no host key prompts (a new guest
    /// has new host keys) and no password prompts.
    fn options(&self) -> Vec<String> {
        let mut args = vec!["-i".to_owned(), self.key.0.display().to_string()];
        for opt in [
            "-o StrictHostKeyChecking=no",
            "-o UserKnownHostsFile=/dev/null",
            "-o BatchMode=yes",
            "-o LogLevel=ERROR",
        ] {
            args.push("-t".into());
            args.push(opt.into());
        }
        args
    }

    /// A virtctl command with `args` then the shared options, without `-n`.
    fn command(&self, args: &[&str]) -> Command {
        let mut all: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        all.extend(self.options());
        let all: Vec<&str> = all.iter().map(String::as_str).collect();
        virtctl_command(&self.vm.s.kubeconfig, &all)
    }

    /// Runs virtctl with `args` then the shared options, in the VM's namespace.
    fn run(&self, args: &[&str]) -> Output {
        let mut all = vec!["-n", NS];
        all.extend_from_slice(args);
        run_bounded(self.command(&all))
    }

    fn serial_tail(&self) -> String {
        self.vm.s.serial_tail(&self.vm.s.vmi_uid())
    }
}

/// Runs `cmd` to completion, killing it after [`RUN_TIMEOUT`].
fn run_bounded(mut cmd: Command) -> Output {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("virtctl runs");
    let out = Collector::new(child.stdout.take().expect("stdout"));
    let err = Collector::new(child.stderr.take().expect("stderr"));
    let status = wait_exit(&mut child, RUN_TIMEOUT);
    let status = status.unwrap_or_else(|| {
        panic!(
            "virtctl ran longer than {RUN_TIMEOUT:?}:\nstdout: {}\nstderr: {}",
            out.text(),
            err.text()
        )
    });
    // The output pipes close when the last process holding them (ssh, the proxy) exits.
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut before = (out.text().len(), err.text().len());
    while Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(200));
        let now = (out.text().len(), err.text().len());
        if now == before {
            break;
        }
        before = now;
    }
    Output {
        status,
        stdout: out.text().into_bytes(),
        stderr: err.text().into_bytes(),
    }
}

/// Brings the cached test guest up to date: test binaries reuse any cached guest, and guests
/// older than the SSH server must be rebuilt (the script builds aside and only then replaces
/// the cached files, so other tests using them are not disturbed).
fn refresh_test_guest() {
    let dir = common::guest::test_guest();
    let parent = dir.parent().expect("parent");
    let lock = std::fs::File::create(parent.join(".test-guest.lock")).expect("lock file");
    lock.lock().expect("lock");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/build-test-guest.sh");
    let status = Command::new("bash")
        .arg(script)
        .arg(&dir)
        .stdout(Stdio::null())
        .status()
        .expect("bash runs");
    assert!(status.success(), "scripts/build-test-guest.sh failed");
}

/// A shell script for cloud-init that authorizes `public_key` for root.
fn user_data(public_key: &str) -> String {
    format!(
        "#!/bin/sh\nmkdir -p /root/.ssh\nchmod 700 /root/.ssh\n\
         echo '{public_key}' >>/root/.ssh/authorized_keys\n\
         chmod 600 /root/.ssh/authorized_keys\n"
    )
}

/// Generates the key, gives the shared VM cloud-init user-data installing it, restarts the VM
/// so the new guest runs it, and waits until ssh gets in.
fn prepare(vm: &SharedVm) -> Key {
    // In the server's data directory, which goes with the server.
    let dir = vm.s.dir.join("ssh");
    std::fs::create_dir_all(&dir).expect("key directory");
    let key = dir.join("id_ed25519");
    let out = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "e2e-ssh", "-f"])
        .arg(&key)
        .output()
        .expect("ssh-keygen (openssh-client) runs: run scripts/setup.sh");
    assert!(out.status.success(), "ssh-keygen: {}", stderr(&out));
    let public = std::fs::read_to_string(key.with_extension("pub")).expect("public key");

    ok(&vm.s.run(&["stop", VM, "--wait"]));
    let patch = serde_json::json!([
        {"op": "add", "path": "/spec/template/spec/domain/devices/disks/-",
         "value": {"name": "cloudinit", "disk": {"bus": "virtio"}}},
        {"op": "add", "path": "/spec/template/spec/volumes/-",
         "value": {"name": "cloudinit",
                   "cloudInitNoCloud": {"userData": user_data(public.trim())}}},
    ]);
    let out = vm.s.kubectl(
        &["patch", "vm", VM, "--type=json", "-p", &patch.to_string()],
        None,
    );
    assert!(out.status.success(), "kubectl patch: {}", stderr(&out));
    let out = vm.s.run(&["start", VM, "--wait"]);
    assert!(
        out.status.success(),
        "start: {}\nserial log: {}",
        stderr(&out),
        vm.s.serial_tail(&vm.s.vmi_uid())
    );
    Key(key)
}

/// Exclusive use of the shared VM, running the guest that authorizes the test key and
/// answering ssh.
fn ssh_vm() -> SshVm {
    static KEY: OnceLock<Key> = OnceLock::new();
    static REFRESHED: OnceLock<()> = OnceLock::new();
    REFRESHED.get_or_init(refresh_test_guest);
    let vm = shared_vm();
    let key = KEY.get_or_init(|| prepare(&vm));
    let ssh = SshVm { vm, key };
    // The server starts after the network; the guest may also still be booting.
    let deadline = Instant::now() + TIMEOUT;
    loop {
        let out = ssh.run(&["ssh", &format!("root@vmi/{VM}"), "--command", "true"]);
        if out.status.success() {
            return ssh;
        }
        assert!(
            Instant::now() < deadline,
            "ssh did not get in within {TIMEOUT:?}: {}\nserial log: {}",
            stderr(&out),
            ssh.serial_tail()
        );
        std::thread::sleep(Duration::from_secs(2));
    }
}

/// Asserts success and returns standard output, with the guest's console on failure.
fn ok_in(ssh: &SshVm, out: &Output) -> String {
    assert!(
        out.status.success(),
        "virtctl failed ({:?}):\nstdout: {}\nstderr: {}\nserial log: {}",
        out.status,
        stdout(out),
        stderr(out),
        ssh.serial_tail()
    );
    stdout(out)
}

// The upstream form of the command: `--command` runs in the guest, its output is virtctl's.
#[test]
fn ssh_runs_a_command_in_the_guest() {
    let ssh = ssh_vm();
    let n = nonce();
    // The guest's shell computes the middle part, so an echo of the command line cannot match.
    let out = ssh.run(&[
        "ssh",
        &format!("root@vmi/{VM}"),
        "--command",
        &format!("echo hello from guest $((6*7)) {n}; id -u"),
    ]);
    assert_eq!(ok_in(&ssh, &out), format!("hello from guest 42 {n}\n0\n"));
}

// A command failing in the guest fails virtctl, which reports the exit status as upstream
// virtctl does (`exit status N`, exit code 1).
#[test]
fn ssh_reports_the_exit_status_of_a_failing_command() {
    let ssh = ssh_vm();
    let out = ssh.run(&[
        "ssh",
        &format!("root@vm/{VM}"),
        "--command",
        "echo partial; exit 3",
    ]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert_eq!(stdout(&out), "partial\n");
    assert!(
        stderr(&out).ends_with("exit status 3\n"),
        "{:?}",
        stderr(&out)
    );
}

// vm/ and vmi/ targets, the namespace from the target or from -n/--namespace, and the user
// from the target or from --username.
#[test]
fn ssh_targets_name_the_vm_its_namespace_and_the_user() {
    let ssh = ssh_vm();
    let cases: Vec<(Vec<String>, &str)> = vec![
        (
            vec![
                "ssh".into(),
                format!("root@vm/{VM}/{NS}"),
                "--command".into(),
                "echo target-ns".into(),
            ],
            "target-ns",
        ),
        (
            vec![
                "--namespace".into(),
                NS.into(),
                "ssh".into(),
                "--username".into(),
                "root".into(),
                format!("vmi/{VM}"),
                "-c".into(),
                "echo flag-ns".into(),
            ],
            "flag-ns",
        ),
        (
            vec![
                "ssh".into(),
                "-n".into(),
                NS.into(),
                "-l".into(),
                "root".into(),
                format!("vm/{VM}"),
                "--command".into(),
                "echo short-flags".into(),
            ],
            "short-flags",
        ),
    ];
    for (args, want) in cases {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = run_bounded(ssh.command(&args));
        assert_eq!(ok_in(&ssh, &out), format!("{want}\n"), "{args:?}");
    }
    // Without a namespace the VM is looked for in the kubeconfig's namespace, where it is not.
    let out = run_bounded(ssh.command(&[
        "ssh",
        &format!("root@vm/{VM}"),
        "--command",
        "echo wrong-namespace",
    ]));
    assert!(!out.status.success(), "{out:?}");
    assert!(!stdout(&out).contains("wrong-namespace"), "{out:?}");
}

// A file goes to the guest (vmi/ target) and comes back (vm/ target, --username) unchanged;
// a directory tree with --recursive too.
#[test]
fn scp_copies_files_and_directories_to_the_guest_and_back() {
    let ssh = ssh_vm();
    let dir = tempfile::tempdir().expect("temp dir");
    let n = nonce();
    // Binary content of several SSH packets, different every run.
    let content: Vec<u8> = (0u32..200_000)
        .map(|i| (i.wrapping_mul(2_654_435_761).wrapping_add(n as u32) >> 13) as u8)
        .collect();
    let local = dir.path().join("payload.bin");
    std::fs::write(&local, &content).expect("write payload");
    let remote = format!("/tmp/payload-{n}.bin");

    let out = ssh.run(&[
        "scp",
        local.to_str().expect("utf-8"),
        &format!("root@vmi/{VM}:{remote}"),
    ]);
    ok_in(&ssh, &out);
    let out = ssh.run(&[
        "ssh",
        &format!("root@vmi/{VM}"),
        "--command",
        &format!("wc -c <{remote}"),
    ]);
    assert_eq!(ok_in(&ssh, &out).trim(), content.len().to_string());

    let back = dir.path().join("back.bin");
    let out = ssh.run(&[
        "scp",
        "--username",
        "root",
        &format!("vm/{VM}:{remote}"),
        back.to_str().expect("utf-8"),
    ]);
    ok_in(&ssh, &out);
    assert!(
        std::fs::read(&back).expect("copied back") == content,
        "the file changed on its way"
    );

    let tree = dir.path().join("tree");
    std::fs::create_dir_all(tree.join("sub")).expect("mkdir");
    std::fs::write(tree.join("a.txt"), format!("a-{n}\n")).expect("write");
    std::fs::write(tree.join("sub/b.txt"), format!("b-{n}\n")).expect("write");
    let remote_tree = format!("/tmp/tree-{n}");
    let out = ssh.run(&[
        "scp",
        "--recursive",
        tree.to_str().expect("utf-8"),
        &format!("root@vm/{VM}:{remote_tree}"),
    ]);
    ok_in(&ssh, &out);
    let copy = dir.path().join("tree-copy");
    let out = ssh.run(&[
        "scp",
        "-r",
        &format!("root@vmi/{VM}:{remote_tree}"),
        copy.to_str().expect("utf-8"),
    ]);
    ok_in(&ssh, &out);
    assert_eq!(
        std::fs::read_to_string(copy.join("a.txt")).expect("a.txt"),
        format!("a-{n}\n")
    );
    assert_eq!(
        std::fs::read_to_string(copy.join("sub/b.txt")).expect("sub/b.txt"),
        format!("b-{n}\n")
    );
}
