//! What a launcher is told to run: the VMI and the host resources resolved for it.
//!
//! The node driver writes a [`LaunchSpec`] as `<run-dir>/launch.json`; the `virt-launcher`
//! process reads it, builds the QEMU command line with [`crate::qemu::command_line`] and
//! supervises QEMU.
//!
//! Paths: a relative path in a [`LaunchEnv`] is relative to the run directory. QEMU and the
//! launcher both run with the run directory as their working directory, which also keeps
//! unix socket paths short (a socket path is limited to 107 bytes).

use api::VirtualMachineInstance;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The file name of the launch spec inside a run directory.
pub const LAUNCH_FILE: &str = "launch.json";
/// QMP socket of QEMU (relative to the run directory).
pub const QMP_SOCKET: &str = "qmp.sock";
/// Serial console chardev socket of QEMU, owned by the launcher.
pub const SERIAL_SOCKET: &str = "serial.sock";
/// VNC socket of QEMU; clients connect to it directly.
pub const VNC_SOCKET: &str = "vnc.sock";
/// Console sessions served by the launcher (one active session at a time).
pub const CONSOLE_SOCKET: &str = "console.sock";
/// The launcher's control API (JSON lines, see [`crate::control`]).
pub const CONTROL_SOCKET: &str = "control.sock";
/// Everything the guest printed on its serial console.
pub const SERIAL_LOG: &str = "serial.log";
/// The domain state, rewritten on every change (see [`crate::state::StateFile`]).
pub const STATE_FILE: &str = "state.json";
/// The launcher's own log (its stdout and stderr).
pub const LAUNCHER_LOG: &str = "launcher.log";
/// QEMU's stdout and stderr.
pub const QEMU_LOG: &str = "qemu.log";
/// The writable copy of the OVMF variable store of an EFI guest.
pub const EFI_VARS: &str = "efivars.fd";

/// VMI annotation (upstream's `FuncTestLauncherFailFastAnnotation`, used by functional tests
/// of crash loops): the launcher starts QEMU, then crashes at once, taking QEMU with it and
/// leaving no final state behind, as a virt-launcher pod whose process died.
pub const FAIL_FAST_ANNOTATION: &str = "kubevirt.io/func-test-virt-launcher-fail-fast";

/// Hardware acceleration used by QEMU.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Accel {
    /// The Linux kernel's KVM (needs a usable `/dev/kvm`).
    Kvm,
    /// QEMU's software emulation: always available, much slower.
    Tcg,
}

impl Accel {
    /// The QEMU spelling (`kvm` or `tcg`).
    pub fn as_str(self) -> &'static str {
        match self {
            Accel::Kvm => "kvm",
            Accel::Tcg => "tcg",
        }
    }
}

impl std::fmt::Display for Accel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Image format of a disk file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DiskFormat {
    Raw,
    Qcow2,
}

impl DiskFormat {
    /// The QEMU spelling (`raw` or `qcow2`).
    pub fn as_str(self) -> &'static str {
        match self {
            DiskFormat::Raw => "raw",
            DiskFormat::Qcow2 => "qcow2",
        }
    }
}

/// The host file backing one VMI volume.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResolvedVolume {
    pub path: PathBuf,
    pub format: DiskFormat,
    /// Attach read-only whatever the disk says (for example a read-only PVC).
    #[serde(default)]
    pub readonly: bool,
}

/// Kernel and initrd files for `firmware.kernelBoot`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KernelBootPaths {
    pub kernel: PathBuf,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub initrd: Option<PathBuf>,
}

/// OVMF (EFI firmware) files installed on the host.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Ovmf {
    /// Firmware code without Secure Boot.
    pub code: PathBuf,
    /// Variable store template matching `code`.
    pub vars: PathBuf,
    /// Secure Boot firmware code (needs SMM), when installed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secure_code: Option<PathBuf>,
    /// Variable store template with enrolled keys matching `secure_code`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secure_vars: Option<PathBuf>,
}

impl Ovmf {
    /// The OVMF files of Debian's `ovmf` package, when installed.
    pub fn detect() -> Option<Ovmf> {
        Self::detect_in(Path::new("/usr/share/OVMF"))
    }

    /// The OVMF files in `dir`, preferring the 4 MiB builds.
    pub fn detect_in(dir: &Path) -> Option<Ovmf> {
        let pick = |names: &[&str]| names.iter().map(|n| dir.join(n)).find(|p| p.is_file());
        let (code, vars) = match (
            pick(&["OVMF_CODE_4M.fd"]),
            pick(&["OVMF_VARS_4M.fd"]),
            pick(&["OVMF_CODE.fd"]),
            pick(&["OVMF_VARS.fd"]),
        ) {
            (Some(c), Some(v), _, _) | (None, _, Some(c), Some(v)) => (c, v),
            _ => return None,
        };
        Some(Ovmf {
            code,
            vars,
            secure_code: pick(&["OVMF_CODE_4M.secboot.fd", "OVMF_CODE.secboot.fd"]),
            secure_vars: pick(&["OVMF_VARS_4M.ms.fd", "OVMF_VARS.ms.fd"]),
        })
    }
}

/// Transport protocol of a host port forward.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ForwardProtocol {
    Tcp,
    Udp,
}

/// A host port forwarded into the guest by QEMU user-mode networking (`hostfwd`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HostForward {
    pub protocol: ForwardProtocol,
    /// Host address to listen on; `127.0.0.1` when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_address: Option<String>,
    pub host_port: u16,
    pub guest_port: u16,
}

/// Host resources resolved for one VMI. Pure input of [`crate::qemu::command_line`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LaunchEnv {
    /// QEMU binary: a path, or a name looked up in `PATH`.
    pub qemu_binary: PathBuf,
    pub accel: Accel,
    pub qmp_socket: PathBuf,
    pub serial_socket: PathBuf,
    pub vnc_socket: PathBuf,
    /// Volume name → host file. Every volume a disk uses must be here.
    #[serde(default)]
    pub volumes: BTreeMap<String, ResolvedVolume>,
    /// Needed when the VMI uses `firmware.kernelBoot`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kernel_boot: Option<KernelBootPaths>,
    /// Needed when the VMI uses EFI firmware.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ovmf: Option<Ovmf>,
    /// Writable variable store of an EFI guest; the launcher copies the template there when
    /// the file is missing.
    pub efi_vars: PathBuf,
    /// Port forwards added to the first pod-network interface.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub host_forwards: Vec<HostForward>,
}

impl LaunchEnv {
    /// The standard layout: `qemu-system-x86_64` from `PATH`, sockets in the run directory, no
    /// volumes, and the OVMF files of the host when installed.
    pub fn new(accel: Accel) -> LaunchEnv {
        LaunchEnv {
            qemu_binary: PathBuf::from("qemu-system-x86_64"),
            accel,
            qmp_socket: PathBuf::from(QMP_SOCKET),
            serial_socket: PathBuf::from(SERIAL_SOCKET),
            vnc_socket: PathBuf::from(VNC_SOCKET),
            volumes: BTreeMap::new(),
            kernel_boot: None,
            ovmf: Ovmf::detect(),
            efi_vars: PathBuf::from(EFI_VARS),
            host_forwards: Vec::new(),
        }
    }
}

/// The content of `<run-dir>/launch.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LaunchSpec {
    pub vmi: VirtualMachineInstance,
    pub env: LaunchEnv,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ovmf_detection_prefers_4m_builds_and_finds_secure_boot() {
        let dir = tempfile::tempdir().unwrap();
        for f in [
            "OVMF_CODE.fd",
            "OVMF_VARS.fd",
            "OVMF_CODE_4M.fd",
            "OVMF_VARS_4M.fd",
            "OVMF_CODE_4M.secboot.fd",
        ] {
            std::fs::write(dir.path().join(f), b"").unwrap();
        }
        let o = Ovmf::detect_in(dir.path()).unwrap();
        assert_eq!(o.code, dir.path().join("OVMF_CODE_4M.fd"));
        assert_eq!(o.vars, dir.path().join("OVMF_VARS_4M.fd"));
        assert_eq!(
            o.secure_code,
            Some(dir.path().join("OVMF_CODE_4M.secboot.fd"))
        );
        assert_eq!(o.secure_vars, None);
    }

    #[test]
    fn ovmf_is_absent_without_code_and_vars() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("OVMF_CODE_4M.fd"), b"").unwrap();
        assert_eq!(Ovmf::detect_in(dir.path()), None);
    }

    #[test]
    fn launch_env_round_trips_through_json() {
        let mut env = LaunchEnv::new(Accel::Tcg);
        env.ovmf = None;
        env.volumes.insert(
            "root".into(),
            ResolvedVolume {
                path: "disks/root.qcow2".into(),
                format: DiskFormat::Qcow2,
                readonly: false,
            },
        );
        let json = serde_json::to_value(&env).unwrap();
        assert_eq!(json["accel"], "tcg");
        assert_eq!(json["volumes"]["root"]["format"], "qcow2");
        let back: LaunchEnv = serde_json::from_value(json).unwrap();
        assert_eq!(back, env);
    }
}
