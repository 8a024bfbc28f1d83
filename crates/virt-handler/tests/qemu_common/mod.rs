//! Shared set-up of the QEMU driver tests: the test guest (built by
//! `scripts/build-test-guest.sh` when missing) imported as a container disk, the
//! `virt-launcher` binary, a real API server with the driver running as virt-handler, and
//! clean-up of every launcher and QEMU the test started, pass or fail.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use api::VirtualMachineInstance;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::task::JoinHandle;
use virt_api::node::Duplex;
use virt_handler::qemu::{Accel, LauncherCommand, QemuDriver, QemuGateway, QemuOptions};
use virt_launcher::state::StateFile;

use crate::common::{Cluster, eventually};

/// What the test guest prints once booted.
pub const BOOT_MARKER: &str = "kubevirt-rs test guest: boot complete";
/// The container disk image the tests import the test guest as.
pub const GUEST_IMAGE: &str = "kubevirt-rs/test-guest:latest";
/// TCG boots take a few seconds; tests run in parallel on small machines.
pub const BOOT_TIMEOUT: Duration = Duration::from_secs(120);

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The test guest directory, built when missing. Fails with instructions when QEMU is missing.
pub fn test_guest() -> PathBuf {
    let qemu = Command::new("qemu-system-x86_64").arg("--version").output();
    assert!(
        qemu.is_ok_and(|o| o.status.success()),
        "qemu-system-x86_64 is not installed: install the Debian package qemu-system-x86 \
         (scripts/build-test-guest.sh does it)"
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
        std::fs::create_dir_all(dir.parent().expect("parent")).expect("cache directory");
        let lock = std::fs::File::create(dir.parent().expect("parent").join(".test-guest.lock"))
            .expect("lock file");
        lock.lock().expect("lock");
        if !complete(&dir) {
            let status = Command::new("bash")
                .arg(repo_root().join("scripts/build-test-guest.sh"))
                .arg(&dir)
                .status()
                .expect("bash runs");
            assert!(
                status.success(),
                "scripts/build-test-guest.sh failed; run it by hand to see why"
            );
        }
    }
    dir
}

/// The `virt-launcher` binary of this build (built once per test binary).
pub fn launcher_command() -> LauncherCommand {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    let bin = BIN.get_or_init(|| {
        let exe = std::env::current_exe().expect("test executable");
        // <target>/<profile>/deps/<test>
        let profile_dir = exe.parent().and_then(Path::parent).expect("profile dir");
        let target_dir = profile_dir.parent().expect("target dir");
        let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
        cmd.current_dir(repo_root())
            .args([
                "build",
                "-q",
                "-p",
                "virt-launcher",
                "--bin",
                "virt-launcher",
            ])
            .arg("--target-dir")
            .arg(target_dir);
        if profile_dir.file_name().is_some_and(|n| n == "release") {
            cmd.arg("--release");
        }
        let status = cmd.status().expect("cargo runs");
        assert!(status.success(), "building virt-launcher failed");
        profile_dir.join("virt-launcher")
    });
    LauncherCommand::binary(bin)
}

/// A VMI spec that boots the test guest from its container disk.
pub fn guest_spec(extra: Value) -> Value {
    let mut spec = json!({
        "domain": {
            "memory": {"guest": "192Mi"},
            "resources": {"requests": {"memory": "192Mi"}},
            "devices": {"disks": [{"name": "root", "disk": {"bus": "virtio"}}]},
        },
        "volumes": [{"name": "root", "containerDisk": {"image": GUEST_IMAGE}}],
    });
    crate::common::merge(&mut spec, extra);
    spec
}

/// A cluster with the QEMU driver as its node agent.
pub struct QemuNode {
    pub cluster: Cluster,
    pub gateway: QemuGateway,
    pub data: tempfile::TempDir,
    pub node_name: String,
    options: QemuOptions,
    driver: Option<JoinHandle<()>>,
}

impl QemuNode {
    pub async fn start() -> Result<QemuNode> {
        QemuNode::start_with(|_| {}).await
    }

    /// A node whose driver options (TCG, fast heartbeats, this build's launcher) are changed
    /// by `configure`.
    pub async fn start_with(configure: impl FnOnce(&mut QemuOptions)) -> Result<QemuNode> {
        let guest = test_guest();
        let cluster = Cluster::start().await?;
        let data = tempfile::Builder::new().prefix("qd-").tempdir()?;
        virt_handler::qemu::import_image(data.path(), GUEST_IMAGE, &guest.join("disk.qcow2"))?;
        let mut options = options(data.path());
        configure(&mut options);
        let (gateway, task, node_name) = start_driver(&cluster, &options);
        Ok(QemuNode {
            gateway,
            driver: Some(task),
            cluster,
            data,
            node_name,
            options,
        })
    }

    /// Stops the driver (guests keep running).
    pub fn stop_driver(&mut self) {
        if let Some(task) = self.driver.take() {
            task.abort();
        }
    }

    /// Stops the driver if it runs and starts a new one on the same data directory.
    pub fn restart_driver(&mut self) {
        self.stop_driver();
        let (gateway, task, name) = start_driver(&self.cluster, &self.options);
        self.gateway = gateway;
        self.driver = Some(task);
        self.node_name = name;
    }

    /// The run directory of the VMI.
    pub fn run_dir(&self, vmi: &VirtualMachineInstance) -> PathBuf {
        self.data
            .path()
            .join("vmis")
            .join(vmi.metadata.namespace.as_deref().unwrap_or_default())
            .join(vmi.metadata.name.as_deref().unwrap_or_default())
            .join(vmi.metadata.uid.as_deref().unwrap_or_default())
    }

    /// Creates the VMI (as the test plays virt-controller: with its launcher pod), waits for
    /// the pod to run, schedules the VMI and waits for Running.
    pub async fn run_vmi(&self, name: &str, spec: Value) -> Result<VirtualMachineInstance> {
        self.cluster.create_vmi(name, &[], guest_spec(spec)).await?;
        self.cluster.schedule_vmi(name).await?;
        self.wait_phase(name, "Running").await
    }

    pub async fn wait_phase(&self, name: &str, phase: &str) -> Result<VirtualMachineInstance> {
        let vmis = self.cluster.vmis();
        let result = eventually(BOOT_TIMEOUT, &format!("{name} {phase}"), || async {
            let vmi = vmis.get(name).await.ok()?;
            (vmi.phase().as_str() == phase).then_some(vmi)
        })
        .await;
        if result.is_err() {
            eprintln!("{}", self.diagnostics(name).await);
        }
        result
    }

    /// The VMI, its events and the launcher's logs, for failure messages.
    pub async fn diagnostics(&self, name: &str) -> String {
        let vmi = self.cluster.vmis().get(name).await.ok();
        let mut out = format!(
            "VMI {name}: {:?}\nevents: {:?}\n",
            vmi.as_ref().map(|v| &v.status),
            self.cluster.events(name).await
        );
        if let Some(v) = vmi {
            let dir = self.run_dir(&v);
            for f in ["launcher.log", "qemu.log", "serial.log", "state.json"] {
                let text = std::fs::read_to_string(dir.join(f)).unwrap_or_default();
                out.push_str(&format!("--- {f}\n{text}\n"));
            }
        }
        out
    }

    /// Waits until the guest's serial log shows `needle`.
    pub async fn wait_serial(&self, vmi: &VirtualMachineInstance, needle: &str) -> Result<()> {
        let path = self.run_dir(vmi).join("serial.log");
        let found = eventually(
            BOOT_TIMEOUT,
            &format!("{needle:?} on the serial console"),
            || async {
                std::fs::read_to_string(&path)
                    .ok()
                    .filter(|log| log.contains(needle))
                    .map(|_| ())
            },
        )
        .await;
        if found.is_err() {
            bail!(
                "{needle:?} never appeared on the serial console\n{}",
                self.diagnostics(vmi.metadata.name.as_deref().unwrap_or_default())
                    .await
            );
        }
        Ok(())
    }

    /// The launcher's state file of the VMI.
    pub fn state(&self, vmi: &VirtualMachineInstance) -> Result<StateFile> {
        StateFile::read(&self.run_dir(vmi)).context("state.json")
    }

    /// Waits for an event with `reason` on `name` (within the boot timeout); returns (type,
    /// message).
    pub async fn wait_event(&self, name: &str, reason: &str) -> Result<(String, String)> {
        eventually(
            BOOT_TIMEOUT,
            &format!("event {reason} on {name}"),
            || async {
                self.cluster
                    .events(name)
                    .await
                    .into_iter()
                    .find(|e| e.1 == reason)
                    .map(|e| (e.0, e.2))
            },
        )
        .await
    }
}

/// Sends `command` to the guest's shell and reads the console until `expect` shows up.
pub async fn console_round_trip(
    console: &mut Box<dyn Duplex>,
    command: &str,
    expect: &str,
) -> Result<String> {
    let mut seen = String::new();
    let deadline = tokio::time::Instant::now() + BOOT_TIMEOUT;
    let mut buf = [0u8; 4096];
    let mut last_sent = None;
    loop {
        // The shell may still be starting, or the line may be lost while it does: repeat the
        // command now and then until the answer shows.
        if last_sent.is_none_or(|t: tokio::time::Instant| t.elapsed() > Duration::from_secs(5)) {
            console.write_all(format!("{command}\n").as_bytes()).await?;
            console.flush().await?;
            last_sent = Some(tokio::time::Instant::now());
        }
        if seen.contains(expect) {
            return Ok(seen);
        }
        if tokio::time::Instant::now() >= deadline {
            bail!("{expect:?} never came back on the console; it showed:\n{seen}");
        }
        match tokio::time::timeout(Duration::from_millis(500), console.read(&mut buf)).await {
            Ok(Ok(0)) => bail!("the console closed; it showed:\n{seen}"),
            Ok(Ok(n)) => seen.push_str(&String::from_utf8_lossy(&buf[..n])),
            Ok(Err(e)) => return Err(e.into()),
            Err(_) => {}
        }
    }
}

fn options(data: &Path) -> QemuOptions {
    let mut options = QemuOptions::new(data);
    options.accel = Some(Accel::Tcg);
    options.heartbeat_interval = Duration::from_secs(1);
    options.launcher = Some(launcher_command());
    options
}

fn start_driver(cluster: &Cluster, options: &QemuOptions) -> (QemuGateway, JoinHandle<()>, String) {
    let driver = QemuDriver::new(cluster.handler.clone(), options.clone()).expect("driver");
    let gateway = driver.gateway();
    let name = driver.node_name().to_string();
    let task = tokio::spawn(async move {
        if let Err(e) = driver.run().await {
            panic!("QEMU driver stopped: {e}");
        }
    });
    (gateway, task, name)
}

impl Drop for QemuNode {
    fn drop(&mut self) {
        self.stop_driver();
        // Guests are detached: kill what this test started (only processes that are still
        // ours, PIDs may have been reused since).
        let ours = |pid: u32, marker: &str| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .is_ok_and(|c| String::from_utf8_lossy(&c).contains(marker))
        };
        for dir in virt_handler::qemu::guest::run_dirs(self.data.path()) {
            if let Ok(file) = StateFile::read(&dir) {
                if let Some(pid) = file.qemu_pid.filter(|p| ours(*p, "qemu-system")) {
                    let _ = virt_launcher::process::kill_pid(pid);
                }
                if ours(file.launcher_pid, "virt-launcher") {
                    let _ = virt_launcher::process::kill_pid(file.launcher_pid);
                }
            }
        }
    }
}
