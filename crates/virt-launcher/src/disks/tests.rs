use super::*;
use serde_json::json;
use std::path::Path;

struct FakeImages;

impl ImageLookup for FakeImages {
    fn find(&self, image: &str) -> Option<(PathBuf, DiskFormat)> {
        match image {
            "demo:qcow" => Some(("/store/demo/disk.qcow2".into(), DiskFormat::Qcow2)),
            "demo:raw" => Some(("/store/demo/disk.img".into(), DiskFormat::Raw)),
            _ => None,
        }
    }
}

fn vmi(volumes: serde_json::Value) -> VirtualMachineInstance {
    serde_json::from_value(json!({
        "apiVersion": "kubevirt.io/v1",
        "kind": "VirtualMachineInstance",
        "metadata": {"name": "vm1", "namespace": "ns1", "uid": "u-1"},
        "spec": {"domain": {"devices": {}}, "volumes": volumes},
    }))
    .unwrap()
}

fn inputs() -> PlanInputs {
    let mut inputs = PlanInputs {
        work_dir: "/run/vm1/disks".into(),
        ..Default::default()
    };
    inputs
        .claims
        .insert("pvc1".into(), "/volumes/pvc1/disk.img".into());
    inputs.secrets.insert(
        "ud".into(),
        [("userdata".to_string(), b"#cloud-config\n".to_vec())].into(),
    );
    inputs.config_maps.insert(
        "cm".into(),
        [
            ("a.txt".to_string(), b"A".to_vec()),
            ("b".to_string(), b"B".to_vec()),
        ]
        .into(),
    );
    inputs
}

fn one(volume: serde_json::Value) -> Result<DiskPlan, DiskError> {
    plan(&vmi(json!([volume])), &inputs(), &FakeImages).map(|mut p| p.remove(0))
}

fn resolved(path: &str, format: DiskFormat, readonly: bool) -> ResolvedVolume {
    ResolvedVolume {
        path: path.into(),
        format,
        readonly,
    }
}

#[test]
fn block_volumes_plan_overlays_empty_disks_and_existing_files() {
    let cases = [
        (
            json!({"name": "root", "containerDisk": {"image": "demo:qcow"}}),
            DiskAction::Overlay {
                base: "/store/demo/disk.qcow2".into(),
                base_format: DiskFormat::Qcow2,
            },
            resolved("/run/vm1/disks/root.qcow2", DiskFormat::Qcow2, false),
        ),
        (
            json!({"name": "eph", "ephemeral": {"persistentVolumeClaim": {"claimName": "pvc1"}}}),
            DiskAction::Overlay {
                base: "/volumes/pvc1/disk.img".into(),
                base_format: DiskFormat::Raw,
            },
            resolved("/run/vm1/disks/eph.qcow2", DiskFormat::Qcow2, false),
        ),
        (
            json!({"name": "scratch", "emptyDisk": {"capacity": "2Gi"}}),
            DiskAction::EmptyQcow2 { capacity: 2 << 30 },
            resolved("/run/vm1/disks/scratch.qcow2", DiskFormat::Qcow2, false),
        ),
        (
            json!({"name": "h", "hostDisk": {"path": "/var/data/disk.img", "type": "DiskOrCreate", "capacity": "1Gi"}}),
            DiskAction::CreateRawIfMissing { capacity: 1 << 30 },
            resolved("/var/data/disk.img", DiskFormat::Raw, false),
        ),
        (
            json!({"name": "h", "hostDisk": {"path": "/var/data/disk.img", "type": "Disk"}}),
            DiskAction::Existing,
            resolved("/var/data/disk.img", DiskFormat::Raw, false),
        ),
        (
            json!({"name": "p", "persistentVolumeClaim": {"claimName": "pvc1", "readOnly": true}}),
            DiskAction::Existing,
            resolved("/volumes/pvc1/disk.img", DiskFormat::Raw, true),
        ),
        (
            json!({"name": "dv", "dataVolume": {"name": "pvc1"}}),
            DiskAction::Existing,
            resolved("/volumes/pvc1/disk.img", DiskFormat::Raw, false),
        ),
    ];
    for (volume, action, file) in cases {
        let p = one(volume.clone()).unwrap();
        assert_eq!(p.action, action, "{volume}");
        assert_eq!(p.resolved, file, "{volume}");
        assert_eq!(p.volume, volume["name"].as_str().unwrap());
    }
}

#[test]
fn missing_sources_are_errors_that_name_what_is_missing() {
    let cases = [
        (
            json!({"name": "root", "containerDisk": {"image": "nope:1"}}),
            "image \"nope:1\" is not in the local image store (import it first)",
        ),
        (
            json!({"name": "p", "persistentVolumeClaim": {"claimName": "other"}}),
            "volume \"p\": no file is provisioned for claim \"other\"",
        ),
        (
            json!({"name": "h", "hostDisk": {"path": "/x", "type": "DiskOrCreate"}}),
            "volume \"h\": hostDisk of type DiskOrCreate needs a capacity",
        ),
        (
            json!({"name": "c", "configMap": {"name": "absent"}}),
            "volume \"c\": config map \"absent\" was not found",
        ),
        (
            json!({"name": "ci", "cloudInitNoCloud": {"secretRef": {"name": "absent"}}}),
            "volume \"ci\": secret \"absent\" was not found",
        ),
        (
            json!({"name": "s", "serviceAccount": {"serviceAccountName": "default"}}),
            "volume \"s\": serviceAccount volumes are not supported",
        ),
        (
            json!({"name": "e", "emptyDisk": {"capacity": "lots"}}),
            "volume \"e\": invalid capacity: \"lots\" is not a valid quantity",
        ),
    ];
    for (volume, message) in cases {
        let err = one(volume).unwrap_err();
        assert_eq!(err.to_string(), message);
    }
}

fn iso(plan: &DiskPlan) -> (&str, Vec<(&str, String)>) {
    let DiskAction::Iso { label, files } = &plan.action else {
        panic!("not an ISO plan: {plan:?}");
    };
    let files = files
        .iter()
        .map(|f| (f.path.as_str(), String::from_utf8(f.data.clone()).unwrap()))
        .collect();
    (label.as_str(), files)
}

#[test]
fn nocloud_disks_carry_user_data_meta_data_and_network_config() {
    let p = one(json!({"name": "ci", "cloudInitNoCloud": {
        "userDataBase64": "I2Nsb3VkLWNvbmZpZwo=", "networkData": "version: 2\n"}}))
    .unwrap();
    assert_eq!(
        p.resolved,
        resolved("/run/vm1/disks/ci.iso", DiskFormat::Raw, false)
    );
    let (label, files) = iso(&p);
    assert_eq!(label, "cidata");
    assert_eq!(
        files,
        [
            (
                "meta-data",
                "instance-id: vm1.ns1\nlocal-hostname: vm1\n".to_string()
            ),
            ("user-data", "#cloud-config\n".to_string()),
            ("network-config", "version: 2\n".to_string()),
        ]
    );
    let p = one(json!({"name": "ci", "cloudInitNoCloud": {"secretRef": {"name": "ud"}}})).unwrap();
    assert_eq!(iso(&p).1[1], ("user-data", "#cloud-config\n".to_string()));
}

#[test]
fn config_drive_disks_follow_the_openstack_layout() {
    let p =
        one(json!({"name": "cd", "cloudInitConfigDrive": {"userData": "#!/bin/sh\n"}})).unwrap();
    let (label, files) = iso(&p);
    assert_eq!(label, "config-2");
    assert_eq!(files[0].0, "openstack/latest/meta_data.json");
    let meta: serde_json::Value = serde_json::from_str(&files[0].1).unwrap();
    assert_eq!(meta["uuid"], "u-1");
    assert_eq!(meta["hostname"], "vm1");
    assert_eq!(
        files[1],
        ("openstack/latest/user_data", "#!/bin/sh\n".to_string())
    );
}

#[test]
fn config_map_and_secret_disks_have_one_file_per_key() {
    let p = one(json!({"name": "c", "configMap": {"name": "cm", "volumeLabel": "CFG"}})).unwrap();
    assert_eq!(
        iso(&p),
        (
            "CFG",
            vec![("a.txt", "A".to_string()), ("b", "B".to_string())]
        )
    );
    let p = one(json!({"name": "s", "secret": {"secretName": "ud"}})).unwrap();
    assert_eq!(
        iso(&p),
        ("cfgdata", vec![("userdata", "#cloud-config\n".to_string())])
    );
    let p =
        one(json!({"name": "o", "secret": {"secretName": "absent", "optional": true}})).unwrap();
    assert_eq!(iso(&p), ("cfgdata", vec![]));
}

#[test]
fn resolved_volumes_feed_the_launch_environment() {
    let plans = plan(
        &vmi(json!([
            {"name": "root", "containerDisk": {"image": "demo:raw"}},
            {"name": "p", "persistentVolumeClaim": {"claimName": "pvc1"}}
        ])),
        &inputs(),
        &FakeImages,
    )
    .unwrap();
    let volumes = resolved_volumes(&plans);
    assert_eq!(volumes.len(), 2);
    assert_eq!(volumes["root"].path, Path::new("/run/vm1/disks/root.qcow2"));
    assert_eq!(volumes["p"].format, DiskFormat::Raw);
}
