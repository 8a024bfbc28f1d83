//! A local volume provisioner for the QEMU driver's node: every pending PersistentVolumeClaim
//! gets a sparse raw disk image of its requested size under `<data_dir>/volumes` and is marked
//! `Bound` with that capacity, as a dynamic provisioner and the PV binder would together. There
//! are no PersistentVolume objects: `spec.volumeName` names the image (`pvc-<uid>`). The image
//! of a claim that no longer exists is removed (reclaim policy `Delete`).
//!
//! Guests see the image as the claim's `disk.img`, as KubeVirt does on a filesystem volume.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use k8s_openapi::api::core::v1::PersistentVolumeClaim;
use kube::api::{Api, Patch, PatchParams};
use serde_json::json;

use crate::scheduler::quantity;

/// Directory of the volumes under the data directory.
pub const VOLUMES_DIR: &str = "volumes";
/// File name of a claim's disk image inside its volume directory.
pub const DISK_IMAGE: &str = "disk.img";
/// Annotation the provisioner puts on the claims it binds, naming the node.
pub const SELECTED_NODE_ANNOTATION: &str = "volume.kubernetes.io/selected-node";
/// Annotation the PV binder puts on bound claims.
pub const BIND_COMPLETED_ANNOTATION: &str = "pv.kubernetes.io/bind-completed";

/// Provisioning a claim failed.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("claim {claim} requests no storage size")]
    NoSize { claim: String },
    #[error("claim {claim} requests an invalid storage size: {source}")]
    BadSize {
        claim: String,
        source: quantity::QuantityError,
    },
    #[error("cannot create the disk image of claim {claim}: {source}")]
    Image {
        claim: String,
        source: std::io::Error,
    },
    #[error("cannot mark claim {claim} bound: {source}")]
    Api { claim: String, source: kube::Error },
}

fn claim_name(pvc: &PersistentVolumeClaim) -> String {
    format!(
        "{}/{}",
        pvc.metadata.namespace.as_deref().unwrap_or_default(),
        pvc.metadata.name.as_deref().unwrap_or_default()
    )
}

/// Directory of a claim's volume: `<data_dir>/volumes/<namespace>/<name>-<uid>`.
pub fn volume_dir(data_dir: &Path, namespace: &str, name: &str, uid: &str) -> PathBuf {
    data_dir
        .join(VOLUMES_DIR)
        .join(namespace)
        .join(format!("{name}-{uid}"))
}

/// The disk image of a bound claim, or `None` while the claim is not bound.
pub fn disk_image(data_dir: &Path, pvc: &PersistentVolumeClaim) -> Option<PathBuf> {
    let bound = pvc.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Bound");
    let uid = pvc.metadata.uid.as_deref()?;
    let path = volume_dir(
        data_dir,
        pvc.metadata.namespace.as_deref().unwrap_or_default(),
        pvc.metadata.name.as_deref().unwrap_or_default(),
        uid,
    )
    .join(DISK_IMAGE);
    bound.then_some(path)
}

/// The requested size in bytes.
pub fn requested_bytes(pvc: &PersistentVolumeClaim) -> Result<u64, StorageError> {
    let claim = claim_name(pvc);
    let q = pvc
        .spec
        .as_ref()
        .and_then(|s| s.resources.as_ref())
        .and_then(|r| r.requests.as_ref())
        .and_then(|r| r.get("storage"))
        .ok_or_else(|| StorageError::NoSize {
            claim: claim.clone(),
        })?;
    let milli = quantity::parse(&q.0).map_err(|source| StorageError::BadSize {
        claim: claim.clone(),
        source,
    })?;
    u64::try_from(milli.units()).map_err(|_| StorageError::NoSize { claim })
}

/// True for a claim waiting for a volume.
pub fn needs_volume(pvc: &PersistentVolumeClaim) -> bool {
    let phase = pvc.status.as_ref().and_then(|s| s.phase.as_deref());
    let named = pvc
        .spec
        .as_ref()
        .and_then(|s| s.volume_name.as_deref())
        .is_some_and(|n| !n.is_empty());
    pvc.metadata.deletion_timestamp.is_none() && matches!(phase, None | Some("Pending")) && !named
}

/// Creates the claim's disk image (sparse; an existing one is kept) and marks the claim bound.
pub async fn provision(
    client: &kube::Client,
    data_dir: &Path,
    node: &str,
    pvc: &PersistentVolumeClaim,
) -> Result<PathBuf, StorageError> {
    let claim = claim_name(pvc);
    let bytes = requested_bytes(pvc)?;
    let ns = pvc.metadata.namespace.clone().unwrap_or_default();
    let name = pvc.metadata.name.clone().unwrap_or_default();
    let uid = pvc.metadata.uid.clone().unwrap_or_default();
    let dir = volume_dir(data_dir, &ns, &name, &uid);
    let image = dir.join(DISK_IMAGE);
    let create = || -> std::io::Result<()> {
        std::fs::create_dir_all(&dir)?;
        if !image.exists() {
            let f = std::fs::File::create(&image)?;
            f.set_len(bytes)?;
        }
        Ok(())
    };
    create().map_err(|source| StorageError::Image {
        claim: claim.clone(),
        source,
    })?;

    let api: Api<PersistentVolumeClaim> = Api::namespaced(client.clone(), &ns);
    let err = |source| StorageError::Api {
        claim: claim.clone(),
        source,
    };
    let params = PatchParams::default();
    let size = pvc
        .spec
        .as_ref()
        .and_then(|s| s.resources.as_ref())
        .and_then(|r| r.requests.as_ref())
        .and_then(|r| r.get("storage").cloned());
    let access_modes = pvc.spec.as_ref().and_then(|s| s.access_modes.clone());
    let meta = json!({
        "metadata": {
            "resourceVersion": pvc.metadata.resource_version,
            "annotations": {SELECTED_NODE_ANNOTATION: node, BIND_COMPLETED_ANNOTATION: "yes"},
        },
        "spec": {"volumeName": format!("pvc-{uid}")},
    });
    api.patch(&name, &params, &Patch::Merge(meta))
        .await
        .map_err(err)?;
    let status = json!({"status": {"phase": "Bound", "capacity": {"storage": size}, "accessModes": access_modes}});
    api.patch_status(&name, &params, &Patch::Merge(status))
        .await
        .map_err(err)?;
    Ok(image)
}

/// Volume directories whose claim no longer exists (`existing` holds the UIDs of the claims).
pub fn orphans(data_dir: &Path, existing: &BTreeSet<String>) -> Vec<PathBuf> {
    let entries = |p: &Path| -> Vec<PathBuf> {
        std::fs::read_dir(p)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.is_dir())
            .collect()
    };
    let mut out = Vec::new();
    for ns in entries(&data_dir.join(VOLUMES_DIR)) {
        for vol in entries(&ns) {
            let file_name = vol
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            // UIDs are 36 characters; the name before them may contain dashes.
            let uid = file_name
                .len()
                .checked_sub(36)
                .and_then(|i| file_name.get(i..))
                .unwrap_or_default();
            if !existing.contains(uid) {
                out.push(vol);
            }
        }
    }
    out.sort();
    out
}

/// Provisions the claims that need a volume and removes the images of vanished claims.
/// Failures are logged and retried at the next call.
pub async fn reconcile(
    client: &kube::Client,
    data_dir: &Path,
    node: &str,
    claims: &[Arc<PersistentVolumeClaim>],
) {
    for pvc in claims.iter().filter(|p| needs_volume(p)) {
        match provision(client, data_dir, node, pvc).await {
            Ok(image) => {
                tracing::info!(claim = %claim_name(pvc), image = %image.display(), "volume provisioned")
            }
            Err(StorageError::Api {
                source: kube::Error::Api(e),
                ..
            }) if e.code == 409 => {}
            Err(e) => tracing::warn!(error = %e, "volume provisioning failed"),
        }
    }
    let existing: BTreeSet<String> = claims
        .iter()
        .filter_map(|p| p.metadata.uid.clone())
        .collect();
    for dir in orphans(data_dir, &existing) {
        match std::fs::remove_dir_all(&dir) {
            Ok(()) => tracing::info!(volume = %dir.display(), "volume of a deleted claim removed"),
            Err(e) => tracing::warn!(error = %e, volume = %dir.display(), "cannot remove a volume"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pvc(value: serde_json::Value) -> PersistentVolumeClaim {
        serde_json::from_value(value).unwrap()
    }

    const UID: &str = "0f3c1a52-9d7e-4b1a-8c2e-5a6b7c8d9e0f";

    #[test]
    fn pending_claims_without_a_volume_need_one() {
        let base = json!({"metadata": {"name": "d", "namespace": "ns", "uid": UID},
                          "spec": {"resources": {"requests": {"storage": "1Gi"}}}});
        assert!(needs_volume(&pvc(base.clone())));
        let mut bound = base.clone();
        bound["status"] = json!({"phase": "Bound"});
        assert!(!needs_volume(&pvc(bound)));
        let mut named = base.clone();
        named["spec"]["volumeName"] = json!("pv-1");
        assert!(!needs_volume(&pvc(named)));
        assert_eq!(requested_bytes(&pvc(base)).unwrap(), 1 << 30);
    }

    #[test]
    fn a_claim_without_a_size_cannot_be_provisioned() {
        let p = pvc(json!({"metadata": {"name": "d", "namespace": "ns"}, "spec": {}}));
        assert!(matches!(
            requested_bytes(&p),
            Err(StorageError::NoSize { .. })
        ));
        let p = pvc(json!({"metadata": {"name": "d", "namespace": "ns"},
                           "spec": {"resources": {"requests": {"storage": "lots"}}}}));
        assert!(matches!(
            requested_bytes(&p),
            Err(StorageError::BadSize { .. })
        ));
    }

    #[test]
    fn only_bound_claims_have_a_disk_image() {
        let mut value =
            json!({"metadata": {"name": "d", "namespace": "ns", "uid": UID}, "spec": {}});
        let data = Path::new("/data");
        assert_eq!(disk_image(data, &pvc(value.clone())), None);
        value["status"] = json!({"phase": "Bound"});
        assert_eq!(
            disk_image(data, &pvc(value)),
            Some(PathBuf::from(format!("/data/volumes/ns/d-{UID}/disk.img")))
        );
    }

    #[test]
    fn volumes_of_vanished_claims_are_orphans() {
        let dir = tempfile::tempdir().unwrap();
        let keep = volume_dir(dir.path(), "ns", "my-disk", UID);
        let other = "11111111-2222-3333-4444-555555555555";
        let gone = volume_dir(dir.path(), "ns", "old", other);
        std::fs::create_dir_all(&keep).unwrap();
        std::fs::create_dir_all(&gone).unwrap();
        let existing = BTreeSet::from([UID.to_string()]);
        assert_eq!(orphans(dir.path(), &existing), vec![gone]);
    }
}
