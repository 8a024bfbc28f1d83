//! A guest's disks as the QEMU driver prepares them (a claim from the local provisioner, a host
//! disk created on demand, an empty disk, cloud-init NoCloud user data from a Secret, config map
//! and secret disks), seen from inside the guest, on a node where KVM cannot be used.

mod common;
mod qemu_common;

use anyhow::Result;
use common::{NS, eventually, vmi_condition};
use k8s_openapi::api::core::v1::{ConfigMap, PersistentVolumeClaim, Secret};
use kube::api::{DeleteParams, PostParams};
use qemu_common::{BOOT_MARKER, BOOT_TIMEOUT, QemuNode};
use serde_json::json;

/// Prints every virtio disk with its size in 512-byte sectors and the files of the config map
/// and secret disks, then a marker.
const USER_DATA: &str = r#"#!/bin/sh
for d in /sys/block/vd*; do echo "disk ${d##*/} sectors=$(cat $d/size)"; done
for l in settings creds; do
  dev="$(findfs LABEL=$l)" && mkdir -p /mnt/$l && mount -t iso9660 -o ro "$dev" /mnt/$l &&
    for f in /mnt/$l/*; do echo "file $l/${f##*/}=$(cat $f)"; done
done
echo disks-listed
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn claims_host_disks_empty_disks_and_cloud_init_reach_the_guest_under_tcg() -> Result<()> {
    let data = tempfile::tempdir()?;
    let missing_kvm = data.path().join("no-kvm");
    let kvm_device = missing_kvm.clone();
    let node = QemuNode::start_with(move |o| {
        o.accel = None;
        o.kvm_device = kvm_device;
    })
    .await?;

    // The claim is bound by the node's provisioner with its requested size.
    let claims: kube::Api<PersistentVolumeClaim> =
        kube::Api::namespaced(node.cluster.admin.clone(), NS);
    let claim: PersistentVolumeClaim = serde_json::from_value(json!({
        "metadata": {"name": "data"},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "64Mi"}}},
    }))?;
    claims.create(&PostParams::default(), &claim).await?;
    let bound = eventually(BOOT_TIMEOUT, "claim bound", || async {
        let c = claims.get("data").await.ok()?;
        (c.status.as_ref()?.phase.as_deref() == Some("Bound")).then_some(c)
    })
    .await?;
    let capacity = bound.status.as_ref().and_then(|s| s.capacity.clone());
    assert_eq!(capacity.unwrap_or_default()["storage"].0, "64Mi");
    let claim_uid = bound.metadata.uid.clone().unwrap_or_default();
    let volume = node
        .data
        .path()
        .join("volumes")
        .join(NS)
        .join(format!("data-{claim_uid}"));
    assert_eq!(std::fs::metadata(volume.join("disk.img"))?.len(), 64 << 20);

    let secrets: kube::Api<Secret> = kube::Api::namespaced(node.cluster.admin.clone(), NS);
    let secret: Secret = serde_json::from_value(json!({
        "metadata": {"name": "user-data"},
        "stringData": {"userdata": USER_DATA},
    }))?;
    secrets.create(&PostParams::default(), &secret).await?;
    let token: Secret = serde_json::from_value(json!({
        "metadata": {"name": "token"}, "stringData": {"token": "s3cret-value"},
    }))?;
    secrets.create(&PostParams::default(), &token).await?;
    let config_maps: kube::Api<ConfigMap> = kube::Api::namespaced(node.cluster.admin.clone(), NS);
    let settings: ConfigMap = serde_json::from_value(json!({
        "metadata": {"name": "settings"}, "data": {"greeting": "hello-from-configmap"},
    }))?;
    config_maps
        .create(&PostParams::default(), &settings)
        .await?;

    let host_disk = data.path().join("host").join("disk.img");
    let vmi = node
        .run_vmi(
            "disks",
            json!({
                "terminationGracePeriodSeconds": 0,
                "domain": {"devices": {
                    "autoattachPodInterface": false,
                    "disks": [
                        {"name": "root", "disk": {"bus": "virtio"}},
                        {"name": "claim", "disk": {"bus": "virtio"}},
                        {"name": "host", "disk": {"bus": "virtio"}},
                        {"name": "scratch", "disk": {"bus": "virtio"}},
                        {"name": "cloudinit", "disk": {"bus": "virtio"}},
                        {"name": "settings", "disk": {"bus": "virtio"}},
                        {"name": "creds", "disk": {"bus": "virtio"}},
                    ],
                }},
                "volumes": [
                    {"name": "root", "containerDisk": {"image": qemu_common::GUEST_IMAGE}},
                    {"name": "claim", "persistentVolumeClaim": {"claimName": "data"}},
                    {"name": "host", "hostDisk": {
                        "path": host_disk, "type": "DiskOrCreate", "capacity": "32Mi"}},
                    {"name": "scratch", "emptyDisk": {"capacity": "16Mi"}},
                    {"name": "cloudinit", "cloudInitNoCloud": {"secretRef": {"name": "user-data"}}},
                    {"name": "settings", "configMap": {"name": "settings", "volumeLabel": "settings"}},
                    {"name": "creds", "secret": {"secretName": "token", "volumeLabel": "creds"}},
                ],
            }),
        )
        .await?;

    // Without KVM the guest runs with TCG, and the VMI says why.
    let (type_, message) = node.wait_event("disks", "AccelerationUnavailable").await?;
    assert_eq!(type_, "Warning");
    let expected = format!(
        "KVM is not usable on this node (cannot open {}: ",
        missing_kvm.display()
    );
    assert!(message.starts_with(&expected), "{message}");
    assert!(message.ends_with("running with software emulation (TCG), which is much slower"));
    assert_eq!(
        vmi_condition(&vmi, "SoftwareEmulation"),
        Some(("True".into(), Some("AccelerationUnavailable".into())))
    );
    assert_eq!(node.state(&vmi)?.accel, virt_launcher::Accel::Tcg);

    // The guest ran the user data and saw every disk at its size.
    node.wait_serial(&vmi, BOOT_MARKER).await?;
    node.wait_serial(&vmi, "disks-listed").await?;
    let serial = std::fs::read_to_string(node.run_dir(&vmi).join("serial.log"))?;
    assert!(
        serial.contains("cloud-init user-data sha256=") && serial.contains("first-line=#!/bin/sh"),
        "{serial}"
    );
    let sectors = |bytes: u64| format!("sectors={}", bytes / 512);
    for (what, size) in [
        ("claim", 64u64 << 20),
        ("host disk", 32 << 20),
        ("empty disk", 16 << 20),
    ] {
        assert!(
            serial.contains(&sectors(size)),
            "the {what} of {size} bytes is missing:\n{serial}"
        );
    }
    for line in [
        "file settings/greeting=hello-from-configmap",
        "file creds/token=s3cret-value",
    ] {
        assert!(serial.contains(line), "{line:?} is missing:\n{serial}");
    }
    assert_eq!(std::fs::metadata(&host_disk)?.len(), 32 << 20);

    // Stopping the guest keeps the claim's data and the host disk; deleting the claim removes
    // its volume.
    node.cluster
        .vmis()
        .delete("disks", &DeleteParams::default())
        .await?;
    node.wait_phase("disks", "Succeeded").await?;
    assert!(volume.join("disk.img").is_file());
    assert!(host_disk.is_file());
    claims.delete("data", &DeleteParams::default()).await?;
    eventually(
        BOOT_TIMEOUT,
        "volume of the deleted claim removed",
        || async { (!volume.exists()).then_some(()) },
    )
    .await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_container_disk_missing_from_the_image_store_holds_the_pod_until_imported() -> Result<()>
{
    let node = QemuNode::start().await?;
    let image = "kubevirt-rs/later:1";
    let spec = json!({"volumes": [{"name": "root", "containerDisk": {"image": image}}]});
    node.cluster
        .create_vmi("later", &[], qemu_common::guest_spec(spec))
        .await?;
    let message = eventually(BOOT_TIMEOUT, "compute waiting for its image", || async {
        let pod = node.cluster.launcher("later").await?;
        let status = pod.status?;
        let compute = status
            .container_statuses?
            .into_iter()
            .find(|c| c.name == "compute")?;
        let waiting = compute.state?.waiting?;
        (waiting.reason.as_deref() == Some("ErrImagePull")
            && status.phase.as_deref() == Some("Pending"))
        .then_some(waiting.message.unwrap_or_default())
    })
    .await?;
    assert!(
        message.starts_with(&format!("Failed to pull image \"{image}\"")),
        "{message}"
    );
    eventually(BOOT_TIMEOUT, "ImagePullBackOff", || async {
        let pod = node.cluster.launcher("later").await?;
        let compute = pod
            .status?
            .container_statuses?
            .into_iter()
            .find(|c| c.name == "compute")?;
        (compute.state?.waiting?.reason.as_deref() == Some("ImagePullBackOff")).then_some(())
    })
    .await?;

    let guest = qemu_common::test_guest();
    virt_handler::qemu::import_image(node.data.path(), image, &guest.join("disk.qcow2"))?;
    // The pod runs; the VMI stays unscheduled, so no guest starts.
    eventually(BOOT_TIMEOUT, "launcher pod running", || async {
        let pod = node.cluster.launcher("later").await?;
        (pod.status?.phase.as_deref() == Some("Running")).then_some(())
    })
    .await?;
    Ok(())
}
