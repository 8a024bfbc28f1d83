//! QEMU command lines of the upstream example VMIs, compared with files under
//! `tests/data/golden/` (one argument per line). `UPDATE_GOLDEN=1` rewrites them.
//! QEMU itself must accept every golden command line.

mod common;

use std::path::{Path, PathBuf};
use virt_launcher::disks::{self, ImageLookup, PlanInputs};
use virt_launcher::spec::{KernelBootPaths, Ovmf};
use virt_launcher::{Accel, DiskFormat, LaunchEnv};

const ACCEPTED: &[&str] = &[
    "vmi-ephemeral",
    "vmi-sata",
    "vmi-nocloud",
    "vmi-kernel-boot",
    "vmi-alpine-efi",
    "vmi-secureboot",
    "vmi-host-disk",
    "vmi-pvc",
    "vmi-masquerade",
    "vmi-fedora",
    "vmi-migratable",
];

const REFUSED: &[(&str, &str)] = &[
    (
        "vmi-sriov",
        "SR-IOV interface \"sriov-net\" is not supported",
    ),
    (
        "vmi-gpu",
        "GPU \"gpu1\" is not supported: this node has no device plugins",
    ),
    (
        "vmi-usb",
        "host device \"node-usb-to-vmi-storage\" is not supported: this node has no device plugins",
    ),
    (
        "vmi-multus-ptp",
        "interface \"ptp\": multus network \"ptp-conf\" is not supported (only the pod network is)",
    ),
    ("vmi-windows", "TPM devices are not supported"),
];

fn example(name: &str) -> api::VirtualMachineInstance {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../api/tests/data/kubevirt-examples")
        .join(format!("{name}.yaml"));
    let text = std::fs::read_to_string(&path).unwrap();
    let mut vmi: api::VirtualMachineInstance = serde_saphyr::from_str(&text).unwrap();
    vmi.metadata.namespace = Some("default".into());
    vmi.metadata.uid = Some(format!("00000000-0000-0000-0000-{:0>12}", name.len()));
    vmi
}

/// Every image is in the store, as a qcow2 file.
struct AllImages;

impl ImageLookup for AllImages {
    fn find(&self, image: &str) -> Option<(PathBuf, DiskFormat)> {
        Some((
            Path::new("images")
                .join(disks::sanitize_image_ref(image))
                .join("disk.qcow2"),
            DiskFormat::Qcow2,
        ))
    }
}

/// The launch environment of an example: volumes planned with relative paths, kernel boot
/// files and OVMF at fixed paths.
fn env_for(vmi: &api::VirtualMachineInstance, ovmf: Option<Ovmf>) -> LaunchEnv {
    let mut inputs = PlanInputs {
        work_dir: "disks".into(),
        ..Default::default()
    };
    for volume in vmi.spec.volumes.iter().flatten() {
        if let Some(pvc) = &volume.persistent_volume_claim {
            inputs.claims.insert(
                pvc.claim_name.clone(),
                Path::new("volumes").join(&pvc.claim_name).join("disk.img"),
            );
        }
    }
    let plans = disks::plan(vmi, &inputs, &AllImages).unwrap();
    let mut env = LaunchEnv::new(Accel::Tcg);
    env.volumes = disks::resolved_volumes(&plans);
    env.ovmf = ovmf;
    env.kernel_boot = Some(KernelBootPaths {
        kernel: "kernel/vmlinuz".into(),
        initrd: Some("kernel/initrd".into()),
    });
    env
}

fn fixed_ovmf() -> Option<Ovmf> {
    Some(Ovmf {
        code: "/usr/share/OVMF/OVMF_CODE_4M.fd".into(),
        vars: "/usr/share/OVMF/OVMF_VARS_4M.fd".into(),
        secure_code: Some("/usr/share/OVMF/OVMF_CODE_4M.secboot.fd".into()),
        secure_vars: Some("/usr/share/OVMF/OVMF_VARS_4M.ms.fd".into()),
    })
}

fn golden_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/golden")
        .join(format!("{name}.args"))
}

#[test]
fn example_vmis_have_the_expected_command_lines() {
    let update = std::env::var_os("UPDATE_GOLDEN").is_some();
    let mut mismatches = Vec::new();
    for name in ACCEPTED {
        let vmi = example(name);
        let args = virt_launcher::qemu::command_line(&vmi, &env_for(&vmi, fixed_ovmf()))
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let text = args.join("\n") + "\n";
        let path = golden_path(name);
        if update {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, &text).unwrap();
            continue;
        }
        let expected = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("{}: {e} (run with UPDATE_GOLDEN=1)", path.display()));
        if expected != text {
            mismatches.push(format!(
                "{name}:\n--- expected\n{expected}--- actual\n{text}"
            ));
        }
    }
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
}

#[test]
fn example_vmis_with_unavailable_hardware_are_refused() {
    for (name, message) in REFUSED {
        let vmi = example(name);
        let err =
            virt_launcher::qemu::command_line(&vmi, &env_for(&vmi, fixed_ovmf())).expect_err(name);
        assert_eq!(err.to_string(), *message, "{name}");
    }
}

/// Starts QEMU (stopped) with the command line of every accepted example, with real files
/// behind the paths, and checks that it comes up and answers QMP.
#[tokio::test]
async fn qemu_accepts_the_command_lines_of_the_examples() {
    let guest = common::test_guest();
    let host_ovmf = Ovmf::detect();
    for name in ACCEPTED {
        let vmi = example(name);
        let is_efi = vmi
            .spec
            .domain
            .firmware
            .as_ref()
            .and_then(|f| f.bootloader.as_ref())
            .is_some_and(|b| b.efi.is_some());
        if is_efi && host_ovmf.is_none() {
            eprintln!("{name}: skipped, OVMF is not installed");
            continue;
        }
        let dir = tempfile::Builder::new()
            .prefix("vlg-")
            .tempdir_in("/tmp")
            .unwrap();
        let mut env = env_for(&vmi, host_ovmf.clone());
        env.kernel_boot = Some(KernelBootPaths {
            kernel: guest.join("vmlinuz"),
            initrd: Some(guest.join("initrd.img")),
        });
        for volume in env.volumes.values_mut() {
            let relative = volume.path.strip_prefix("/").unwrap_or(&volume.path);
            volume.path = dir.path().join(relative);
            std::fs::create_dir_all(volume.path.parent().unwrap()).unwrap();
            let status = std::process::Command::new("qemu-img")
                .args(["create", "-q", "-f", volume.format.as_str()])
                .arg(&volume.path)
                .arg("16M")
                .status()
                .unwrap();
            assert!(status.success());
        }
        if let Some(ovmf) = &env.ovmf {
            std::fs::copy(&ovmf.vars, dir.path().join(&env.efi_vars)).unwrap();
        }
        let argv = virt_launcher::qemu::command_line(&vmi, &env).unwrap();
        let mut qemu = tokio::process::Command::new(&argv[0])
            .args(&argv[1..])
            .current_dir(dir.path())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let qmp_path = dir.path().join("qmp.sock");
        let mut qmp = None;
        for _ in 0..200 {
            if let Ok(Some(status)) = qemu.try_wait() {
                let mut err = String::new();
                use tokio::io::AsyncReadExt;
                qemu.stderr
                    .take()
                    .unwrap()
                    .read_to_string(&mut err)
                    .await
                    .unwrap();
                panic!("{name}: QEMU exited ({status}): {err}\n{}", argv.join(" "));
            }
            if let Ok((client, _events)) = virt_launcher::qmp::QmpClient::connect(&qmp_path).await {
                qmp = Some(client);
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        let qmp = qmp.unwrap_or_else(|| panic!("{name}: no QMP socket"));
        let status = qmp.query_status().await.unwrap();
        assert_eq!(status.status, "prelaunch", "{name}");
        qmp.quit().await.unwrap();
        let _ = qemu.wait().await;
    }
}
