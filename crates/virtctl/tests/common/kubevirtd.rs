//! A real `kubevirtd` (simulated nodes) for end-to-end tests, and `kubectl` against it.
//!
//! The `kubevirtd` binary is looked for next to the test executable (`cargo build -p kubevirtd`
//! with the same target directory puts it there). When it is missing it is built into a
//! separate target directory (a nested build into the running build's own directory would wait
//! on its lock), which is slow the first time.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Output, Stdio};
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

/// The shell that runs `kubevirtd` for a test process: it kills the server when its standard
/// input closes, which happens when the test process exits, even when it is killed, so a server
/// shared by the tests of one file never outlives them.
const WATCHDOG: &str = r#""$0" "$@" & pid=$!; read _; kill $pid; wait $pid"#;

/// A running `kubevirtd` with simulated nodes, stopped when dropped or when the test process
/// exits.
pub struct Kubevirtd {
    child: Child,
    stdin: Option<ChildStdin>,
    pub kubeconfig: PathBuf,
    _dir: tempfile::TempDir,
}

/// The server shared by the tests of one test binary; each test works in its own namespace.
pub fn shared() -> &'static Kubevirtd {
    static SHARED: OnceLock<Kubevirtd> = OnceLock::new();
    SHARED.get_or_init(Kubevirtd::start)
}

impl Kubevirtd {
    pub fn start() -> Kubevirtd {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(WATCHDOG)
            .arg(kubevirtd_bin())
            .arg("--data-dir")
            .arg(dir.path())
            .args([
                "--listen",
                "127.0.0.1:0",
                "--node-driver=simulated",
                "--nodes=2",
                "--boot-delay-ms=200",
            ])
            .env(
                "KUBEVIRTD_LOG",
                std::env::var("KUBEVIRTD_LOG").unwrap_or_else(|_| "warn".into()),
            )
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            // The server's log only when asked for (`KUBEVIRTD_LOG=info`): its shutdown after
            // the last test is noisy.
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
        rx.recv_timeout(Duration::from_secs(60))
            .expect("kubevirtd did not become ready within 60s");
        Kubevirtd {
            stdin: child.stdin.take(),
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

    /// A virtctl command against this server.
    pub fn virtctl(&self, args: &[&str]) -> Command {
        super::virtctl_command(&self.kubeconfig, args)
    }
}

impl Drop for Kubevirtd {
    fn drop(&mut self) {
        drop(self.stdin.take());
        if super::wait_exit(&mut self.child, Duration::from_secs(20)).is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// One test's namespace on the shared server.
pub struct Ns {
    pub k: &'static Kubevirtd,
    pub name: String,
}

impl Ns {
    /// Creates namespace `name` on the shared server.
    pub fn new(name: &str) -> Ns {
        let k = shared();
        k.kubectl_with(&["create", "namespace", name], None);
        Ns {
            k,
            name: name.to_owned(),
        }
    }

    fn with_ns<'a>(&'a self, args: &[&'a str]) -> Vec<&'a str> {
        let mut all = vec!["-n", self.name.as_str()];
        all.extend_from_slice(args);
        all
    }

    /// Runs kubectl in this namespace with `stdin`.
    pub fn kubectl_stdin(&self, args: &[&str], stdin: Option<&str>) -> Output {
        self.k.kubectl_stdin(&self.with_ns(args), stdin)
    }

    /// Runs kubectl in this namespace and returns stdout, panicking if it fails.
    pub fn kubectl(&self, args: &[&str]) -> String {
        self.kubectl_with(args, None)
    }

    pub fn kubectl_with(&self, args: &[&str], stdin: Option<&str>) -> String {
        self.k.kubectl_with(&self.with_ns(args), stdin)
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

    /// A virtctl command in this namespace.
    pub fn virtctl(&self, args: &[&str]) -> Command {
        self.k.virtctl(&self.with_ns(args))
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.virtctl(args).output().expect("virtctl runs")
    }

    pub fn apply(&self, manifest: &str) {
        self.kubectl_with(&["apply", "-f", "-"], Some(manifest));
    }

    /// Creates a VirtualMachine `name` with run strategy `strategy` and extra template spec
    /// `devices` YAML (inside `devices: {...}`).
    pub fn create_vm(&self, name: &str, strategy: &str, devices: &str) {
        self.create_vm_with(name, strategy, devices, "terminationGracePeriodSeconds: 0");
    }

    /// Like [`Ns::create_vm`], with `extra` template spec fields (one line at spec level).
    pub fn create_vm_with(&self, name: &str, strategy: &str, devices: &str, extra: &str) {
        self.apply(&format!(
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
      {extra}
"
        ));
    }

    /// The UID of VMI `name`, empty when there is none.
    pub fn vmi_uid(&self, name: &str) -> String {
        self.get(&format!("vmi/{name}"), "{.metadata.uid}")
    }

    /// Waits until the jsonpath read of `what` is `want`.
    pub fn wait_for(&self, what: &str, jsonpath: &str, want: &str) {
        eventually(
            Duration::from_secs(60),
            &format!("{what} {jsonpath} = {want:?}"),
            || (self.get(what, jsonpath) == want).then_some(()),
        );
    }

    /// Waits until the VMI `name` is Running.
    pub fn wait_running(&self, name: &str) {
        self.wait_for(&format!("vmi/{name}"), "{.status.phase}", "Running");
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
