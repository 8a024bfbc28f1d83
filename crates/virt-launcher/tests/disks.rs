//! Disk preparation with the real tools, and a guest that boots from a container disk and
//! reads its cloud-init disk.

mod common;

use common::*;
use serde_json::json;
use sha2::{Digest, Sha256};
use std::path::Path;
use virt_launcher::disks::{self, DirImageStore, PlanInputs};
use virt_launcher::state::ShutoffReason;
use virt_launcher::{Accel, DomainState, LaunchEnv, LaunchSpec};

fn qemu_img_info(path: &Path) -> serde_json::Value {
    let out = std::process::Command::new("qemu-img")
        .args(["info", "-U", "--output=json"])
        .arg(path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The volume identifier of an ISO9660 image (primary volume descriptor, offset 0x8028).
fn iso_label(path: &Path) -> String {
    let data = std::fs::read(path).unwrap();
    String::from_utf8_lossy(&data[0x8028..0x8028 + 32])
        .trim_end()
        .to_string()
}

fn sha256(path: &Path) -> String {
    hex::encode(Sha256::digest(std::fs::read(path).unwrap()))
}

fn vmi(volumes: serde_json::Value) -> api::VirtualMachineInstance {
    serde_json::from_value(json!({
        "apiVersion": "kubevirt.io/v1",
        "kind": "VirtualMachineInstance",
        "metadata": {"name": "disky", "namespace": "default", "uid": "uid-disky"},
        "spec": {"domain": {"devices": {"autoattachPodInterface": false},
                            "memory": {"guest": "192Mi"}},
                 "volumes": volumes}
    }))
    .unwrap()
}

#[test]
fn preparation_creates_overlays_empty_and_host_disks_and_labelled_isos() {
    let guest = test_guest();
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("images");
    let base = disks::import_image(&store, "demo/guest:1", &guest.join("disk.qcow2")).unwrap();
    let host_disk = dir.path().join("host/disk.img");
    let v = vmi(json!([
        {"name": "root", "containerDisk": {"image": "demo/guest:1"}},
        {"name": "scratch", "emptyDisk": {"capacity": "64Mi"}},
        {"name": "host", "hostDisk": {"path": host_disk, "type": "DiskOrCreate", "capacity": "32Mi"}},
        {"name": "ci", "cloudInitNoCloud": {"userData": "#!/bin/sh\necho hello\n"}},
        {"name": "cfg", "configMap": {"name": "settings"}}
    ]));
    let mut inputs = PlanInputs {
        work_dir: dir.path().join("run/disks"),
        ..Default::default()
    };
    inputs.config_maps.insert(
        "settings".into(),
        [("mode".to_string(), b"fast".to_vec())].into(),
    );
    let plans = disks::plan(&v, &inputs, &DirImageStore::new(&store)).unwrap();
    disks::prepare(&plans).unwrap();
    let volumes = disks::resolved_volumes(&plans);

    let overlay = qemu_img_info(&volumes["root"].path);
    assert_eq!(overlay["format"], "qcow2");
    assert_eq!(overlay["backing-filename"], base.to_str().unwrap());
    assert_eq!(overlay["backing-filename-format"], "qcow2");

    let empty = qemu_img_info(&volumes["scratch"].path);
    assert_eq!(empty["virtual-size"], 64 << 20);

    let meta = std::fs::metadata(&host_disk).unwrap();
    assert_eq!(meta.len(), 32 << 20);
    use std::os::unix::fs::MetadataExt;
    assert!(meta.blocks() * 512 < 1 << 20, "the host disk is sparse");

    assert_eq!(iso_label(&volumes["ci"].path), "cidata");
    assert_eq!(iso_label(&volumes["cfg"].path), "cfgdata");

    // Preparing again keeps the overlay (a restarted launcher keeps its disk).
    std::fs::write(volumes["root"].path.with_extension("marker"), b"").unwrap();
    let before = sha256(&volumes["root"].path);
    disks::prepare(&plans).unwrap();
    assert_eq!(sha256(&volumes["root"].path), before);

    // A plain host disk must exist.
    let missing = vmi(
        json!([{"name": "h", "hostDisk": {"path": dir.path().join("nope.img"), "type": "Disk"}}]),
    );
    let plans = disks::plan(&missing, &inputs, &DirImageStore::new(&store)).unwrap();
    let err = disks::prepare(&plans).unwrap_err();
    assert!(
        err.to_string().ends_with("nope.img does not exist"),
        "{err}"
    );
}

#[tokio::test]
async fn a_container_disk_guest_boots_from_its_overlay_and_runs_its_cloud_init_script() {
    let guest = test_guest();
    let data = tempfile::tempdir().unwrap();
    let store = data.path().join("images");
    let base = disks::import_image(
        &store,
        "kubevirt-rs/test-guest:latest",
        &guest.join("disk.qcow2"),
    )
    .unwrap();
    let base_hash = sha256(&base);
    let user_data = "#!/bin/sh\necho \"printed from cloud-init userdata\"\n";
    let v = vmi(json!([
        {"name": "containerdisk", "containerDisk": {"image": "kubevirt-rs/test-guest:latest"}},
        {"name": "cloudinitdisk", "cloudInitNoCloud": {"userData": user_data}}
    ]));
    let mut v = v;
    v.spec.domain.devices.disks = Some(
        serde_json::from_value(json!([
            {"name": "containerdisk", "disk": {"bus": "virtio"}, "bootOrder": 1},
            {"name": "cloudinitdisk", "disk": {"bus": "virtio"}}
        ]))
        .unwrap(),
    );

    let run = RunDir::new();
    let inputs = PlanInputs {
        work_dir: run.path().join("disks"),
        ..Default::default()
    };
    let plans = disks::plan(&v, &inputs, &DirImageStore::new(&store)).unwrap();
    disks::prepare(&plans).unwrap();
    let mut env = LaunchEnv::new(Accel::Tcg);
    env.volumes = disks::resolved_volumes(&plans);
    let client = run.spawn(&LaunchSpec { vmi: v, env }).await;

    let digest = hex::encode(Sha256::digest(user_data.as_bytes()));
    run.wait_serial(
        &format!("cloud-init user-data sha256={digest} first-line=#!/bin/sh"),
        0,
    );
    run.wait_serial("printed from cloud-init userdata", 0);

    client.shutdown().await.unwrap();
    let end = client.wait_final(BOOT_TIMEOUT).await.unwrap();
    assert_eq!(
        end.state,
        DomainState::Shutoff {
            reason: ShutoffReason::Shutdown
        }
    );
    assert_eq!(sha256(&base), base_hash, "the stored image was modified");
}
