//! A `kubevirtd` running real QEMU guests (the QEMU node driver with software emulation, so it
//! works without KVM) and one VirtualMachine booting the test guest of
//! `scripts/build-test-guest.sh`, shared by the tests of one binary, and the serial console
//! through `virtctl console` in a pseudo-terminal.
//!
//! The server runs under a shell that, once the test process exits (even when killed), stops
//! it, kills the launchers and QEMUs its data directory recorded and removes that directory:
//! QEMU node launchers are detached and would otherwise outlive the tests.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Output, Stdio};
use std::sync::{Mutex, MutexGuard, OnceLock, mpsc};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::kubevirtd::{eventually, kubectl_bin, kubevirtd_bin};
use super::{Collector, send, wait_exit};

/// What the test guest prints on its serial console once booted.
pub const BOOT_MARKER: &str = "kubevirt-rs test guest: boot complete";
/// The shell prompt of the test guest's serial console.
pub const PROMPT: &str = "guest# ";
/// The container disk image the test guest is imported as.
pub const GUEST_IMAGE: &str = "kubevirt-rs/test-guest:latest";
/// How long a guest may take to boot or stop: software emulation on a loaded machine.
pub const TIMEOUT: Duration = Duration::from_secs(240);
/// The namespace of the shared VM.
pub const NS: &str = "virtctl-guest";
/// The shared VM.
pub const VM: &str = "guest";

/// Stops the server when the test process goes, then kills what its launchers left and
/// removes the data directory (`$KVRS_DATA`). Only PIDs whose command line names the data
/// directory are killed.
const WATCHDOG: &str = r#""$0" "$@" & pid=$!
read _
kill $pid
wait $pid
for f in "$KVRS_DATA"/node/vmis/*/*/*/state.json; do
  [ -f "$f" ] || continue
  for p in $(grep -o '"[a-zA-Z]*Pid": *[0-9]*' "$f" | grep -o '[0-9]*$'); do
    grep -qF "$KVRS_DATA" "/proc/$p/cmdline" 2>/dev/null && kill -9 "$p"
  done
done
rm -rf "$KVRS_DATA""#;

/// The test guest directory, built by `scripts/build-test-guest.sh` when missing.
pub fn test_guest() -> PathBuf {
    let qemu = Command::new("qemu-system-x86_64").arg("--version").output();
    assert!(
        qemu.is_ok_and(|o| o.status.success()),
        "qemu-system-x86_64 is not installed: run scripts/setup.sh"
    );
    let dir = match std::env::var_os("KUBEVIRT_RS_TEST_GUEST") {
        Some(dir) => PathBuf::from(dir),
        None => std::env::var_os("XDG_CACHE_HOME")
            .map(PathBuf::from)
            .unwrap_or_else(|| {
                PathBuf::from(std::env::var_os("HOME").expect("HOME")).join(".cache")
            })
            .join("kubevirt-rs/test-guest"),
    };
    let complete = |d: &Path| {
        ["vmlinuz", "initrd.img", "disk.qcow2"]
            .iter()
            .all(|f| d.join(f).is_file())
    };
    if !complete(&dir) {
        let parent = dir.parent().expect("parent");
        std::fs::create_dir_all(parent).expect("cache directory");
        let lock = std::fs::File::create(parent.join(".test-guest.lock")).expect("lock file");
        lock.lock().expect("lock");
        if !complete(&dir) {
            let script =
                Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/build-test-guest.sh");
            let status = Command::new("bash")
                .arg(script)
                .arg(&dir)
                .status()
                .expect("bash runs");
            assert!(status.success(), "scripts/build-test-guest.sh failed");
        }
    }
    dir
}

/// A `kubevirtd` with the QEMU node driver (TCG) and the test guest imported.
pub struct GuestServer {
    _watchdog: Child,
    _stdin: ChildStdin,
    /// The data directory.
    pub dir: PathBuf,
    pub kubeconfig: PathBuf,
}

impl GuestServer {
    fn start() -> GuestServer {
        let guest = test_guest();
        let dir = tempfile::Builder::new()
            .prefix("virtctl-guest-")
            .tempdir()
            .expect("temp dir")
            .keep();
        let bin = kubevirtd_bin();
        let out = Command::new(&bin)
            .args(["image", "import", GUEST_IMAGE])
            .arg(guest.join("disk.qcow2"))
            .arg("--data-dir")
            .arg(&dir)
            .output()
            .expect("kubevirtd image import runs");
        assert!(
            out.status.success(),
            "kubevirtd image import failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(WATCHDOG)
            .arg(&bin)
            .arg("--data-dir")
            .arg(&dir)
            .args([
                "--listen",
                "127.0.0.1:0",
                "--node-driver=qemu",
                "--accel=tcg",
            ])
            .env("KVRS_DATA", &dir)
            .env("KUBEVIRT_RS_ACCEL", "tcg")
            .env(
                "KUBEVIRTD_LOG",
                std::env::var("KUBEVIRTD_LOG").unwrap_or_else(|_| "warn".into()),
            )
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(if std::env::var_os("KUBEVIRTD_LOG").is_some() {
                Stdio::inherit()
            } else {
                Stdio::null()
            })
            .spawn()
            .expect("start kubevirtd");
        let stdout = child.stdout.take().expect("piped");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if line.starts_with("export KUBECONFIG=") {
                    let _ = tx.send(());
                }
            }
        });
        rx.recv_timeout(Duration::from_secs(120))
            .expect("kubevirtd did not become ready within 120s");
        GuestServer {
            _stdin: child.stdin.take().expect("piped"),
            _watchdog: child,
            kubeconfig: dir.join("kubeconfig"),
            dir,
        }
    }

    /// Runs kubectl in the VM's namespace.
    pub fn kubectl(&self, args: &[&str], stdin: Option<&str>) -> Output {
        use std::io::Write;
        let mut child = Command::new(kubectl_bin())
            .args(["-n", NS])
            .args(args)
            .env("KUBECONFIG", &self.kubeconfig)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("kubectl runs");
        let mut input = child.stdin.take().expect("piped");
        if let Some(text) = stdin {
            input.write_all(text.as_bytes()).expect("write");
        }
        drop(input);
        child.wait_with_output().expect("kubectl")
    }

    /// A jsonpath read of an object in the VM's namespace; empty when it does not exist.
    pub fn get(&self, what: &str, jsonpath: &str) -> String {
        let out = self.kubectl(&["get", what, "-o", &format!("jsonpath={jsonpath}")], None);
        if out.status.success() {
            String::from_utf8_lossy(&out.stdout).into_owned()
        } else {
            String::new()
        }
    }

    /// A virtctl command in the VM's namespace.
    pub fn virtctl(&self, args: &[&str]) -> Command {
        let mut all = vec!["-n", NS];
        all.extend_from_slice(args);
        super::virtctl_command(&self.kubeconfig, &all)
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.virtctl(args).output().expect("virtctl runs")
    }

    /// The run directory of the VMI with `uid` of the shared VM.
    pub fn run_dir(&self, uid: &str) -> PathBuf {
        self.dir.join("node/vmis").join(NS).join(VM).join(uid)
    }

    /// The QEMU PID the launcher of VMI `uid` recorded.
    pub fn qemu_pid(&self, uid: &str) -> Option<u32> {
        let text = std::fs::read_to_string(self.run_dir(uid).join("state.json")).ok()?;
        let state: serde_json::Value = serde_json::from_str(&text).ok()?;
        state["qemuPid"]
            .as_u64()
            .and_then(|p| u32::try_from(p).ok())
    }

    /// The end of the serial log of VMI `uid`, for failure messages.
    pub fn serial_tail(&self, uid: &str) -> String {
        let log = std::fs::read_to_string(self.run_dir(uid).join("serial.log")).unwrap_or_default();
        let start = log.len().saturating_sub(2000);
        let start = (start..log.len())
            .find(|i| log.is_char_boundary(*i))
            .unwrap_or(log.len());
        log[start..].to_owned()
    }

    /// The UID of the shared VM's VMI; empty when there is none.
    pub fn vmi_uid(&self) -> String {
        self.get(&format!("vmi/{VM}"), "{.metadata.uid}")
    }

    /// Waits until the jsonpath read of `what` is `want`.
    pub fn wait_for(&self, what: &str, jsonpath: &str, want: &str) {
        let mut last = String::new();
        let found = eventually_opt(TIMEOUT, || {
            last = self.get(what, jsonpath);
            (last == want).then_some(())
        });
        assert!(
            found.is_some(),
            "{what} {jsonpath} is {last:?}, not {want:?}, after {TIMEOUT:?}\n{}",
            self.serial_tail(&self.vmi_uid())
        );
    }

    /// Waits until the shared VM's VMI is Running and returns its UID.
    pub fn wait_running(&self) -> String {
        self.wait_for(&format!("vmi/{VM}"), "{.status.phase}", "Running");
        self.vmi_uid()
    }
}

fn eventually_opt<T>(timeout: Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return Some(v);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// The shared VM: the test guest from its container disk, with the default pod-network
/// interface (port forwarding reaches the guest through it).
fn vm_manifest() -> String {
    format!(
        "apiVersion: kubevirt.io/v1
kind: VirtualMachine
metadata:
  name: {VM}
spec:
  runStrategy: Always
  template:
    metadata:
      labels:
        kubevirt.io/vm: {VM}
    spec:
      terminationGracePeriodSeconds: 30
      domain:
        cpu:
          cores: 1
        memory:
          guest: 128Mi
        resources:
          requests:
            memory: 128Mi
        devices:
          disks:
          - name: root
            disk:
              bus: virtio
      volumes:
      - name: root
        containerDisk:
          image: {GUEST_IMAGE}
"
    )
}

fn server() -> &'static GuestServer {
    static SERVER: OnceLock<GuestServer> = OnceLock::new();
    SERVER.get_or_init(|| {
        let s = GuestServer::start();
        let out = s.kubectl(&["create", "namespace", NS], None);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let out = s.kubectl(&["apply", "-f", "-"], Some(&vm_manifest()));
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        s
    })
}

/// Exclusive use of the shared VM, Running when handed out. Tests take turns: the console has
/// one session at a time and some tests stop the guest.
pub struct SharedVm {
    _turn: MutexGuard<'static, ()>,
    pub s: &'static GuestServer,
    /// The UID of the running VMI.
    pub uid: String,
}

/// Waits for this test's turn on the shared VM (created and booted by the first caller).
pub fn shared_vm() -> SharedVm {
    static TURN: Mutex<()> = Mutex::new(());
    let turn = TURN.lock().unwrap_or_else(|e| e.into_inner());
    let s = server();
    let uid = s.wait_running();
    SharedVm {
        _turn: turn,
        s,
        uid,
    }
}

/// `virtctl console` under `script`, which gives it a pseudo-terminal.
pub struct Terminal {
    child: Child,
    pub out: Collector,
}

impl Terminal {
    pub fn open(s: &GuestServer, vm: &str) -> Terminal {
        let command = format!(
            "{} --kubeconfig {} -n {NS} console {vm}",
            env!("CARGO_BIN_EXE_virtctl"),
            s.kubeconfig.display(),
        );
        let mut child = Command::new("script")
            .args(["-q", "-e", "-f", "-c", &command, "/dev/null"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("script (util-linux) runs");
        let out = Collector::new(child.stdout.take().expect("stdout"));
        Terminal { child, out }
    }

    pub fn send(&mut self, bytes: &[u8]) {
        send(&mut self.child, bytes);
    }

    /// Presses Enter every few seconds until a shell prompt appears after the last press
    /// (the guest may still be booting). Returns false after `timeout`.
    pub fn wait_prompt(&mut self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            let before = self.out.text().len();
            self.send(b"\r");
            let step = Instant::now() + Duration::from_secs(5);
            while Instant::now() < step {
                if since(&self.out.text(), before).contains(PROMPT) {
                    return true;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        }
        false
    }

    /// Types `line` and Enter, and waits until `expect` appears in what follows.
    pub fn run(&mut self, line: &str, expect: &str, timeout: Duration) -> bool {
        let before = self.out.text().len();
        self.send(format!("{line}\r").as_bytes());
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if since(&self.out.text(), before).contains(expect) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        false
    }

    /// Presses Ctrl+] and waits for virtctl to exit.
    pub fn leave(mut self) -> Option<ExitStatus> {
        self.send(b"\x1d");
        wait_exit(&mut self.child, Duration::from_secs(30))
    }
}

impl Drop for Terminal {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The part of `text` after its first `before` bytes (moved back to a character boundary).
pub fn since(text: &str, before: usize) -> &str {
    let mut i = before.min(text.len());
    while !text.is_char_boundary(i) {
        i -= 1;
    }
    &text[i..]
}

/// Waits until `f` holds, panicking with `what` after [`TIMEOUT`].
pub fn wait_until(what: &str, mut f: impl FnMut() -> bool) {
    eventually(TIMEOUT, what, || f().then_some(()));
}

/// A number that differs between runs, so output cannot come from an earlier session.
pub fn nonce() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_nanos()
        % 1_000_000_007
}
