//! A real `kubevirtd` (simulated nodes) for end-to-end tests, and `kubectl` against it.
//!
//! The `kubevirtd` binary is looked for next to the test executable (`cargo build -p kubevirtd`
//! with the same target directory puts it there). When it is missing it is built into a
//! separate target directory (a nested build into the running build's own directory would wait
//! on its lock), which is slow the first time.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{OnceLock, mpsc};
use std::time::{Duration, Instant};

/// The `kubevirtd` binary.
pub fn kubevirtd_bin() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        if let Some(path) = std::env::var_os("KUBEVIRTD_BIN") {
            return PathBuf::from(path);
        }
        let exe = std::env::current_exe().expect("test executable");
        // target/<profile>/deps/<test> → target/<profile>/kubevirtd
        let profile_dir = exe
            .parent()
            .and_then(Path::parent)
            .expect("profile directory")
            .to_path_buf();
        let beside = profile_dir.join("kubevirtd");
        if beside.is_file() {
            return beside;
        }
        let target = profile_dir
            .parent()
            .expect("target directory")
            .join("virtctl-e2e");
        let status = Command::new(env!("CARGO"))
            .args(["build", "-p", "kubevirtd", "--target-dir"])
            .arg(&target)
            .current_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("../.."))
            .status()
            .expect("cargo build -p kubevirtd");
        assert!(status.success(), "cannot build kubevirtd");
        target.join("debug").join("kubevirtd")
    })
    .clone()
}

/// The `kubectl` binary (`$KUBECTL`, else from `PATH`).
pub fn kubectl_bin() -> PathBuf {
    std::env::var_os("KUBECTL")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("kubectl"))
}

/// A running `kubevirtd` with simulated nodes, killed when dropped.
pub struct Kubevirtd {
    child: Child,
    pub kubeconfig: PathBuf,
    _dir: tempfile::TempDir,
}

impl Kubevirtd {
    pub fn start() -> Kubevirtd {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut child = Command::new(kubevirtd_bin())
            .arg("--data-dir")
            .arg(dir.path())
            .args([
                "--listen",
                "127.0.0.1:0",
                "--node-driver",
                "simulated",
                "--boot-delay-ms",
                "200",
            ])
            .env(
                "KUBEVIRTD_LOG",
                std::env::var("KUBEVIRTD_LOG").unwrap_or_else(|_| "warn".into()),
            )
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
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
        rx.recv_timeout(Duration::from_secs(60))
            .expect("kubevirtd did not become ready within 60s");
        Kubevirtd {
            child,
            kubeconfig: dir.path().join("kubeconfig"),
            _dir: dir,
        }
    }

    /// Runs kubectl with `stdin`.
    pub fn kubectl_stdin(&self, args: &[&str], stdin: Option<&str>) -> Output {
        let mut cmd = Command::new(kubectl_bin());
        cmd.args(args)
            .env("KUBECONFIG", &self.kubeconfig)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("kubectl runs");
        if let Some(input) = stdin {
            use std::io::Write;
            child
                .stdin
                .take()
                .expect("piped")
                .write_all(input.as_bytes())
                .expect("write");
        }
        drop(child.stdin.take());
        child.wait_with_output().expect("kubectl")
    }

    /// Runs kubectl and returns stdout, panicking if it fails.
    pub fn kubectl(&self, args: &[&str]) -> String {
        self.kubectl_with(args, None)
    }

    pub fn kubectl_with(&self, args: &[&str], stdin: Option<&str>) -> String {
        let out = self.kubectl_stdin(args, stdin);
        assert!(
            out.status.success(),
            "kubectl {} failed:\n{}\n{}",
            args.join(" "),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// A jsonpath read of an object; empty when it does not exist.
    pub fn get(&self, what: &str, jsonpath: &str) -> String {
        let out = self.kubectl_stdin(&["get", what, "-o", &format!("jsonpath={jsonpath}")], None);
        if out.status.success() {
            String::from_utf8_lossy(&out.stdout).into_owned()
        } else {
            String::new()
        }
    }

    /// A virtctl command against this server.
    pub fn virtctl(&self, args: &[&str]) -> Command {
        super::virtctl_command(&self.kubeconfig, args)
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.virtctl(args).output().expect("virtctl runs")
    }

    /// Creates a VirtualMachine `name` with run strategy `strategy` and extra template spec
    /// `devices` YAML (indented for `devices:`).
    pub fn create_vm(&self, name: &str, strategy: &str, devices: &str) {
        let manifest = format!(
            "apiVersion: kubevirt.io/v1
kind: VirtualMachine
metadata:
  name: {name}
spec:
  runStrategy: {strategy}
  template:
    spec:
      domain:
        devices: {{{devices}}}
        resources:
          requests:
            memory: 64Mi
      terminationGracePeriodSeconds: 0
"
        );
        self.kubectl_with(&["apply", "-f", "-"], Some(&manifest));
    }

    /// Waits until the VMI `name` is Running.
    pub fn wait_running(&self, name: &str) {
        eventually(
            Duration::from_secs(60),
            &format!("VMI {name} running"),
            || (self.get(&format!("vmi/{name}"), "{.status.phase}") == "Running").then_some(()),
        );
    }
}

impl Drop for Kubevirtd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Polls `f` until it returns `Some`, or panics after `timeout`.
pub fn eventually<T>(timeout: Duration, what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}
