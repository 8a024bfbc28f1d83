//! What a guest needs before its launcher starts: the secrets and config maps its volumes
//! reference (read through the API), the files of its claims (from the local provisioner), its
//! disks (planned and prepared by [`virt_launcher::disks`]) and the kernel of a
//! `firmware.kernelBoot`, gathered into a [`LaunchSpec`].

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use api::VirtualMachineInstance;
use k8s_openapi::api::core::v1::{ConfigMap, PersistentVolumeClaim, Secret};
use kube::Api;
use kube::runtime::reflector::Store;
use virt_launcher::disks::{self, DirImageStore, PlanInputs};
use virt_launcher::spec::KernelBootPaths;
use virt_launcher::{Accel, LaunchEnv, LaunchSpec};

use super::IMAGES_DIR;

/// Directory of a guest's own disk files inside its run directory.
pub const DISKS_DIR: &str = "disks";

/// Where the inputs of a start come from.
pub struct Inputs<'a> {
    pub client: &'a kube::Client,
    pub data_dir: &'a Path,
    pub claims: &'a Store<PersistentVolumeClaim>,
    pub accel: Accel,
}

/// Names of the secrets the VMI's volumes reference.
pub fn secret_names(vmi: &VirtualMachineInstance) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for v in vmi.spec.volumes.iter().flatten() {
        let refs = [
            v.cloud_init_no_cloud
                .as_ref()
                .and_then(|c| c.secret_ref.as_ref()),
            v.cloud_init_no_cloud
                .as_ref()
                .and_then(|c| c.network_data_secret_ref.as_ref()),
            v.cloud_init_config_drive
                .as_ref()
                .and_then(|c| c.secret_ref.as_ref()),
            v.cloud_init_config_drive
                .as_ref()
                .and_then(|c| c.network_data_secret_ref.as_ref()),
        ];
        names.extend(refs.into_iter().flatten().map(|r| r.name.clone()));
        if let Some(name) = v.secret.as_ref().and_then(|s| s.secret_name.clone()) {
            names.insert(name);
        }
    }
    names.retain(|n| !n.is_empty());
    names
}

/// Names of the config maps the VMI's volumes reference.
pub fn config_map_names(vmi: &VirtualMachineInstance) -> BTreeSet<String> {
    vmi.spec
        .volumes
        .iter()
        .flatten()
        .filter_map(|v| v.config_map.as_ref().and_then(|c| c.name.clone()))
        .filter(|n| !n.is_empty())
        .collect()
}

/// Names of the claims the VMI's volumes use (a DataVolume's claim has its name).
pub fn claim_names(vmi: &VirtualMachineInstance) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for v in vmi.spec.volumes.iter().flatten() {
        if let Some(p) = &v.persistent_volume_claim {
            names.insert(p.claim_name.clone());
        }
        if let Some(p) = v
            .ephemeral
            .as_ref()
            .and_then(|e| e.persistent_volume_claim.as_ref())
        {
            names.insert(p.claim_name.clone());
        }
        if let Some(dv) = &v.data_volume {
            names.insert(dv.name.clone());
        }
    }
    names
}

/// Container disk images that non-final `vmis` use and the image store under `data_dir` lacks.
pub fn missing_images(
    data_dir: &Path,
    vmis: &[std::sync::Arc<VirtualMachineInstance>],
) -> BTreeSet<String> {
    use virt_launcher::disks::ImageLookup;
    let images = DirImageStore::new(data_dir.join(IMAGES_DIR));
    vmis.iter()
        .filter(|v| !v.is_final())
        .flat_map(|v| v.spec.volumes.iter().flatten())
        .filter_map(|v| v.container_disk.as_ref())
        .map(|c| c.image.clone())
        .filter(|i| images.find(i).is_none())
        .collect()
}

/// The kernel and initrd of a `firmware.kernelBoot` container: files at `kernelPath` and
/// `initrdPath` inside the image's directory of the image store.
pub fn kernel_boot_paths(
    vmi: &VirtualMachineInstance,
    images: &DirImageStore,
) -> Option<KernelBootPaths> {
    let container = vmi
        .spec
        .domain
        .firmware
        .as_ref()?
        .kernel_boot
        .as_ref()?
        .container
        .as_ref()?;
    let dir = images.image_dir(&container.image);
    let inside = |p: &str| dir.join(p.trim_start_matches('/'));
    Some(KernelBootPaths {
        kernel: inside(container.kernel_path.as_deref()?),
        initrd: container.initrd_path.as_deref().map(inside),
    })
}

fn bytes_of_secret(secret: Secret) -> BTreeMap<String, Vec<u8>> {
    let mut out: BTreeMap<String, Vec<u8>> = secret
        .data
        .unwrap_or_default()
        .into_iter()
        .map(|(k, v)| (k, v.0))
        .collect();
    for (k, v) in secret.string_data.unwrap_or_default() {
        out.insert(k, v.into_bytes());
    }
    out
}

fn bytes_of_config_map(cm: ConfigMap) -> BTreeMap<String, Vec<u8>> {
    let mut out: BTreeMap<String, Vec<u8>> = cm
        .data
        .unwrap_or_default()
        .into_iter()
        .map(|(k, v)| (k, v.into_bytes()))
        .collect();
    for (k, v) in cm.binary_data.unwrap_or_default() {
        out.insert(k, v.0);
    }
    out
}

/// Reads what the VMI references, prepares its disks under `<run_dir>/disks` and returns the
/// launch spec. Errors are one-line messages for the `SyncFailed` event.
pub async fn launch_spec(
    inputs: &Inputs<'_>,
    vmi: &VirtualMachineInstance,
    run_dir: &Path,
) -> Result<LaunchSpec, String> {
    let ns = vmi.metadata.namespace.clone().unwrap_or_default();
    let mut plan_inputs = PlanInputs {
        work_dir: run_dir.join(DISKS_DIR),
        ..Default::default()
    };
    let secrets: Api<Secret> = Api::namespaced(inputs.client.clone(), &ns);
    for name in secret_names(vmi) {
        // A missing secret is reported by the disk plan (unless the volume is optional).
        match secrets.get_opt(&name).await {
            Ok(Some(s)) => {
                plan_inputs.secrets.insert(name, bytes_of_secret(s));
            }
            Ok(None) => {}
            Err(e) => return Err(format!("cannot read secret {name}: {e}")),
        }
    }
    let config_maps: Api<ConfigMap> = Api::namespaced(inputs.client.clone(), &ns);
    for name in config_map_names(vmi) {
        match config_maps.get_opt(&name).await {
            Ok(Some(c)) => {
                plan_inputs.config_maps.insert(name, bytes_of_config_map(c));
            }
            Ok(None) => {}
            Err(e) => return Err(format!("cannot read config map {name}: {e}")),
        }
    }
    for name in claim_names(vmi) {
        let claim = inputs.claims.state().into_iter().find(|p| {
            p.metadata.namespace.as_deref() == Some(ns.as_str())
                && p.metadata.name.as_deref() == Some(name.as_str())
        });
        let Some(claim) = claim else {
            return Err(format!("PersistentVolumeClaim {name} does not exist"));
        };
        let Some(path) = crate::storage::disk_image(inputs.data_dir, &claim) else {
            return Err(format!("PersistentVolumeClaim {name} is not bound yet"));
        };
        plan_inputs.claims.insert(name, path);
    }

    let images = DirImageStore::new(inputs.data_dir.join(IMAGES_DIR));
    let plans = disks::plan(vmi, &plan_inputs, &images).map_err(|e| e.to_string())?;
    let work_dir: PathBuf = plan_inputs.work_dir.clone();
    let to_prepare = plans.clone();
    tokio::task::spawn_blocking(move || {
        std::fs::create_dir_all(&work_dir)
            .map_err(|e| format!("cannot create {}: {e}", work_dir.display()))?;
        disks::prepare(&to_prepare).map_err(|e| e.to_string())
    })
    .await
    .map_err(|e| format!("disk preparation stopped: {e}"))??;

    let mut env = LaunchEnv::new(inputs.accel);
    env.volumes = disks::resolved_volumes(&plans);
    env.kernel_boot = kernel_boot_paths(vmi, &images);
    Ok(LaunchSpec {
        vmi: vmi.clone(),
        env,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn vmi(volumes: serde_json::Value) -> VirtualMachineInstance {
        serde_json::from_value(json!({
            "apiVersion": "kubevirt.io/v1", "kind": "VirtualMachineInstance",
            "metadata": {"name": "v", "namespace": "ns"},
            "spec": {"domain": {"devices": {}}, "volumes": volumes},
        }))
        .unwrap()
    }

    #[test]
    fn referenced_secrets_config_maps_and_claims_are_collected() {
        let v = vmi(json!([
            {"name": "a", "cloudInitNoCloud": {"secretRef": {"name": "ud"}, "networkDataSecretRef": {"name": "nd"}}},
            {"name": "b", "cloudInitConfigDrive": {"secretRef": {"name": "cd"}}},
            {"name": "c", "secret": {"secretName": "s"}},
            {"name": "d", "configMap": {"name": "cm"}},
            {"name": "e", "persistentVolumeClaim": {"claimName": "p1"}},
            {"name": "f", "dataVolume": {"name": "dv1"}},
            {"name": "g", "ephemeral": {"persistentVolumeClaim": {"claimName": "p2"}}},
            {"name": "h", "containerDisk": {"image": "x"}},
        ]));
        let strings = |s: &[&str]| s.iter().map(|x| x.to_string()).collect::<BTreeSet<_>>();
        assert_eq!(secret_names(&v), strings(&["cd", "nd", "s", "ud"]));
        assert_eq!(config_map_names(&v), strings(&["cm"]));
        assert_eq!(claim_names(&v), strings(&["dv1", "p1", "p2"]));
    }

    #[test]
    fn a_kernel_boot_container_resolves_to_files_in_the_image_store() {
        let mut v = vmi(json!([]));
        v.spec.domain.firmware = serde_json::from_value(json!({"kernelBoot": {"container": {
            "image": "quay.io/k/kernel:1", "kernelPath": "/boot/vmlinuz", "initrdPath": "/boot/initrd.img"}}}))
        .unwrap();
        let images = DirImageStore::new("/data/images");
        let paths = kernel_boot_paths(&v, &images).unwrap();
        let dir = images.image_dir("quay.io/k/kernel:1");
        assert_eq!(paths.kernel, dir.join("boot/vmlinuz"));
        assert_eq!(paths.initrd, Some(dir.join("boot/initrd.img")));
        assert_eq!(kernel_boot_paths(&vmi(json!([])), &images), None);
    }

    #[test]
    fn secret_data_and_string_data_are_both_used() {
        let s: Secret = serde_json::from_value(json!({
            "metadata": {"name": "s"}, "data": {"a": "aGk="}, "stringData": {"b": "there"}}))
        .unwrap();
        let bytes = bytes_of_secret(s);
        assert_eq!(bytes["a"], b"hi");
        assert_eq!(bytes["b"], b"there");
    }
}
