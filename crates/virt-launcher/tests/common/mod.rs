//! Shared set-up of the launcher tests: the test guest, VMIs that boot it, and clean-up.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};
use virt_launcher::spec::KernelBootPaths;
use virt_launcher::state::StateFile;
use virt_launcher::{Accel, LaunchEnv, LaunchSpec, LauncherClient, LauncherCommand};

pub const BOOT_MARKER: &str = "kubevirt-rs test guest: boot complete";
/// Boots under TCG take about 3 s; two cores shared by parallel tests make them slower.
pub const BOOT_TIMEOUT: Duration = Duration::from_secs(90);

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The test guest directory (`vmlinuz`, `initrd.img`, `disk.qcow2`), built by
/// `scripts/build-test-guest.sh` when missing. Panics with instructions when QEMU is missing.
pub fn test_guest() -> PathBuf {
    let dir = match std::env::var_os("KUBEVIRT_RS_TEST_GUEST") {
        Some(dir) => PathBuf::from(dir),
        None => {
            let cache = std::env::var_os("XDG_CACHE_HOME")
                .map(PathBuf::from)
                .unwrap_or_else(|| {
                    PathBuf::from(std::env::var_os("HOME").expect("HOME is set")).join(".cache")
                });
            cache.join("kubevirt-rs/test-guest")
        }
    };
    let complete = |d: &Path| {
        ["vmlinuz", "initrd.img", "disk.qcow2"]
            .iter()
            .all(|f| d.join(f).is_file())
    };
    if !complete(&dir) {
        std::fs::create_dir_all(dir.parent().unwrap()).unwrap();
        // Test binaries run in parallel: one builds, the others wait.
        let lock = std::fs::File::create(dir.parent().unwrap().join(".test-guest.lock")).unwrap();
        lock.lock().unwrap();
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
    let qemu = Command::new("qemu-system-x86_64").arg("--version").output();
    assert!(
        qemu.is_ok_and(|o| o.status.success()),
        "qemu-system-x86_64 is not installed: install the Debian package qemu-system-x86 \
         (scripts/build-test-guest.sh does it)"
    );
    dir
}

/// A VMI that boots the test guest's kernel and initramfs directly.
pub fn guest_vmi(name: &str, extra_spec: serde_json::Value) -> api::VirtualMachineInstance {
    let mut vmi = serde_json::json!({
        "apiVersion": "kubevirt.io/v1",
        "kind": "VirtualMachineInstance",
        "metadata": {"name": name, "namespace": "default", "uid": format!("uid-{name}")},
        "spec": {
            "domain": {
                "devices": {"autoattachPodInterface": false},
                "memory": {"guest": "192Mi"},
                "firmware": {"kernelBoot": {
                    "kernelArgs": "console=ttyS0 quiet panic=-1",
                    "container": {"image": "test-guest", "kernelPath": "/vmlinuz",
                                  "initrdPath": "/initrd.img"}
                }}
            }
        }
    });
    merge(&mut vmi["spec"], extra_spec);
    serde_json::from_value(vmi).unwrap()
}

fn merge(target: &mut serde_json::Value, patch: serde_json::Value) {
    match (target, patch) {
        (serde_json::Value::Object(t), serde_json::Value::Object(p)) => {
            for (k, v) in p {
                merge(t.entry(k).or_insert(serde_json::Value::Null), v);
            }
        }
        (t, p) => *t = p,
    }
}

/// TCG, with the test guest as kernel boot files.
pub fn guest_env(guest: &Path) -> LaunchEnv {
    let mut env = LaunchEnv::new(Accel::Tcg);
    env.kernel_boot = Some(KernelBootPaths {
        kernel: guest.join("vmlinuz"),
        initrd: Some(guest.join("initrd.img")),
    });
    env
}

pub fn launcher() -> LauncherCommand {
    LauncherCommand::binary(env!("CARGO_BIN_EXE_virt-launcher"))
}

/// A run directory whose QEMU and launcher are killed when the test ends, pass or fail.
pub struct RunDir {
    pub dir: tempfile::TempDir,
}

impl RunDir {
    pub fn new() -> RunDir {
        RunDir {
            dir: tempfile::Builder::new()
                .prefix("vl-")
                .tempdir_in("/tmp")
                .unwrap(),
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn serial_log(&self) -> String {
        std::fs::read_to_string(self.path().join("serial.log")).unwrap_or_default()
    }

    /// Waits until `serial.log` contains `needle` (counting from byte `from`).
    pub fn wait_serial(&self, needle: &str, from: usize) {
        let deadline = Instant::now() + BOOT_TIMEOUT;
        while Instant::now() < deadline {
            let log = self.serial_log();
            if log.len() > from && log[from..].contains(needle) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!(
            "{needle:?} did not appear on the serial console; serial.log:\n{}\nlauncher.log:\n{}",
            self.serial_log(),
            std::fs::read_to_string(self.path().join("launcher.log")).unwrap_or_default()
        );
    }

    pub async fn spawn(&self, spec: &LaunchSpec) -> LauncherClient {
        LauncherClient::spawn_with(self.path(), spec, &launcher())
            .await
            .unwrap_or_else(|e| {
                panic!(
                    "spawn failed: {e}\nlauncher.log:\n{}\nqemu.log:\n{}",
                    std::fs::read_to_string(self.path().join("launcher.log")).unwrap_or_default(),
                    std::fs::read_to_string(self.path().join("qemu.log")).unwrap_or_default()
                )
            })
    }
}

impl Drop for RunDir {
    fn drop(&mut self) {
        // Only processes that are still ours: PIDs may have been reused since.
        let ours = |pid: u32, marker: &str| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .is_ok_and(|c| String::from_utf8_lossy(&c).contains(marker))
        };
        if let Ok(file) = StateFile::read(self.path()) {
            if let Some(pid) = file.qemu_pid.filter(|p| ours(*p, "qemu-system")) {
                let _ = virt_launcher::process::kill_pid(pid);
            }
            if ours(file.launcher_pid, "virt-launcher") {
                let _ = virt_launcher::process::kill_pid(file.launcher_pid);
            }
        }
    }
}
