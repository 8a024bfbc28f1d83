//! The files behind a VMI's volumes: a pure plan ([`plan`]) and its execution ([`prepare`]).
//!
//! | volume | file | format |
//! |---|---|---|
//! | `containerDisk` | qcow2 overlay in the work dir over the stored image (never modified) | qcow2 |
//! | `ephemeral` | qcow2 overlay in the work dir over the claim's file | qcow2 |
//! | `emptyDisk` | sparse qcow2 of the capacity in the work dir | qcow2 |
//! | `hostDisk` | the path; `DiskOrCreate` creates a sparse raw file of the capacity | raw |
//! | `persistentVolumeClaim`, `dataVolume` | the claim's file, as the caller resolved it | raw |
//! | `cloudInitNoCloud` | ISO labelled `cidata`: `user-data`, `meta-data`, `network-config` | raw |
//! | `cloudInitConfigDrive` | ISO labelled `config-2`: `openstack/latest/{user_data,meta_data.json,network_data.json}` | raw |
//! | `configMap`, `secret` | ISO with one file per key, labelled `volumeLabel` or `cfgdata` | raw |
//!
//! Claims and host disks are always raw: a guest-writable file is never probed for a format.

mod cloudinit;
mod exec;
mod store;

pub use cloudinit::{config_drive_files, nocloud_files};
pub use exec::{prepare, write_iso};
pub use store::{DirImageStore, ImageLookup, detect_format, import_image, sanitize_image_ref};

use crate::quantity::{QuantityError, parse_bytes};
use crate::spec::{DiskFormat, ResolvedVolume};
use api::{VirtualMachineInstance, Volume};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// Why a volume cannot be prepared.
#[derive(Debug, thiserror::Error)]
pub enum DiskError {
    #[error("image {image:?} is not in the local image store (import it first)")]
    ImageNotFound { image: String },
    #[error("{0:?} is not a valid image reference")]
    InvalidImageRef(String),
    #[error("volume {volume:?}: no file is provisioned for claim {claim:?}")]
    ClaimNotResolved { volume: String, claim: String },
    #[error("volume {volume:?}: secret {secret:?} was not found")]
    SecretNotFound { volume: String, secret: String },
    #[error("volume {volume:?}: config map {name:?} was not found")]
    ConfigMapNotFound { volume: String, name: String },
    #[error("volume {volume:?}: {message}")]
    Invalid { volume: String, message: String },
    #[error("volume {volume:?}: invalid capacity: {source}")]
    Capacity {
        volume: String,
        source: QuantityError,
    },
    #[error("volume {volume:?}: {kind} volumes are not supported")]
    Unsupported { volume: String, kind: String },
    #[error("disk file {path} does not exist")]
    FileMissing { path: String },
    #[error("cannot {what} {path}: {source}")]
    Io {
        what: String,
        path: String,
        source: std::io::Error,
    },
    #[error("{tool} failed: {message}")]
    Tool { tool: String, message: String },
}

/// A file to put into an ISO image, at `path` (relative, `/`-separated).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IsoFile {
    pub path: String,
    pub data: Vec<u8>,
}

/// What to do to make a volume's file exist.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DiskAction {
    /// Create a qcow2 overlay over a read-only base (kept when it already exists).
    Overlay {
        base: PathBuf,
        base_format: DiskFormat,
    },
    /// Create an empty sparse qcow2 of `capacity` bytes (kept when it already exists).
    EmptyQcow2 { capacity: u64 },
    /// Use a file that must exist.
    Existing,
    /// Use the file, creating a sparse raw file of `capacity` bytes when it is missing.
    CreateRawIfMissing { capacity: u64 },
    /// Write an ISO9660 image (Joliet and Rock Ridge) with this volume label and files.
    Iso { label: String, files: Vec<IsoFile> },
}

/// The plan for one volume: the action and the file QEMU gets.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DiskPlan {
    pub volume: String,
    pub action: DiskAction,
    pub resolved: ResolvedVolume,
}

/// What the caller resolved for planning.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PlanInputs {
    /// Where per-VMI files go (overlays, empty disks, ISOs), usually `<run-dir>/disks`.
    pub work_dir: PathBuf,
    /// Claim name → file, for `persistentVolumeClaim`, `ephemeral` and `dataVolume` volumes
    /// (a DataVolume's claim has the DataVolume's name).
    pub claims: BTreeMap<String, PathBuf>,
    /// Secret name → key → content, for cloud-init `secretRef`s and `secret` volumes.
    pub secrets: BTreeMap<String, BTreeMap<String, Vec<u8>>>,
    /// Config map name → key → content, for `configMap` volumes.
    pub config_maps: BTreeMap<String, BTreeMap<String, Vec<u8>>>,
}

/// Plans the file of every volume of the VMI, in spec order. Pure: lookups go through
/// `images` and `inputs`; nothing is read from or written to disk.
pub fn plan(
    vmi: &VirtualMachineInstance,
    inputs: &PlanInputs,
    images: &dyn ImageLookup,
) -> Result<Vec<DiskPlan>, DiskError> {
    vmi.spec
        .volumes
        .iter()
        .flatten()
        .map(|v| plan_volume(vmi, v, inputs, images))
        .collect()
}

/// Volume name → file, for [`crate::spec::LaunchEnv::volumes`].
pub fn resolved_volumes(plans: &[DiskPlan]) -> BTreeMap<String, ResolvedVolume> {
    plans
        .iter()
        .map(|p| (p.volume.clone(), p.resolved.clone()))
        .collect()
}

fn plan_volume(
    vmi: &VirtualMachineInstance,
    volume: &Volume,
    inputs: &PlanInputs,
    images: &dyn ImageLookup,
) -> Result<DiskPlan, DiskError> {
    let name = volume.name.clone();
    let in_work = |ext: &str| inputs.work_dir.join(format!("{name}.{ext}"));
    let capacity = |q: &str| {
        parse_bytes(q).map_err(|source| DiskError::Capacity {
            volume: name.clone(),
            source,
        })
    };
    let claim = |claim: &str| {
        inputs
            .claims
            .get(claim)
            .cloned()
            .ok_or_else(|| DiskError::ClaimNotResolved {
                volume: name.clone(),
                claim: claim.to_string(),
            })
    };
    let file = |path: PathBuf, format, readonly| ResolvedVolume {
        path,
        format,
        readonly,
    };
    let iso = |label: &str, files: Vec<IsoFile>| DiskPlan {
        volume: name.clone(),
        action: DiskAction::Iso {
            label: label.to_string(),
            files,
        },
        resolved: file(in_work("iso"), DiskFormat::Raw, false),
    };
    let (action, resolved) = if let Some(cd) = &volume.container_disk {
        let (base, base_format) =
            images
                .find(&cd.image)
                .ok_or_else(|| DiskError::ImageNotFound {
                    image: cd.image.clone(),
                })?;
        (
            DiskAction::Overlay { base, base_format },
            file(in_work("qcow2"), DiskFormat::Qcow2, false),
        )
    } else if let Some(eph) = &volume.ephemeral {
        let pvc = eph
            .persistent_volume_claim
            .as_ref()
            .ok_or_else(|| DiskError::Invalid {
                volume: name.clone(),
                message: "ephemeral volume without a persistentVolumeClaim".into(),
            })?;
        (
            DiskAction::Overlay {
                base: claim(&pvc.claim_name)?,
                base_format: DiskFormat::Raw,
            },
            file(in_work("qcow2"), DiskFormat::Qcow2, false),
        )
    } else if let Some(empty) = &volume.empty_disk {
        (
            DiskAction::EmptyQcow2 {
                capacity: capacity(&empty.capacity.0)?,
            },
            file(in_work("qcow2"), DiskFormat::Qcow2, false),
        )
    } else if let Some(host) = &volume.host_disk {
        let action = match host.type_.as_str() {
            "Disk" => DiskAction::Existing,
            "DiskOrCreate" => {
                let q = host.capacity.as_ref().ok_or_else(|| DiskError::Invalid {
                    volume: name.clone(),
                    message: "hostDisk of type DiskOrCreate needs a capacity".into(),
                })?;
                DiskAction::CreateRawIfMissing {
                    capacity: capacity(&q.0)?,
                }
            }
            other => {
                return Err(DiskError::Invalid {
                    volume: name,
                    message: format!("hostDisk type {other:?} is not Disk or DiskOrCreate"),
                });
            }
        };
        (
            action,
            file(host.path.clone().into(), DiskFormat::Raw, false),
        )
    } else if let Some(pvc) = &volume.persistent_volume_claim {
        (
            DiskAction::Existing,
            file(
                claim(&pvc.claim_name)?,
                DiskFormat::Raw,
                pvc.read_only == Some(true),
            ),
        )
    } else if let Some(dv) = &volume.data_volume {
        (
            DiskAction::Existing,
            file(claim(&dv.name)?, DiskFormat::Raw, false),
        )
    } else if let Some(nocloud) = &volume.cloud_init_no_cloud {
        return Ok(iso(
            "cidata",
            nocloud_files(vmi, &name, nocloud, &inputs.secrets)?,
        ));
    } else if let Some(drive) = &volume.cloud_init_config_drive {
        return Ok(iso(
            "config-2",
            config_drive_files(vmi, &name, drive, &inputs.secrets)?,
        ));
    } else if let Some(cm) = &volume.config_map {
        let cm_name = cm.name.clone().unwrap_or_default();
        let files = keyed_files(
            inputs.config_maps.get(&cm_name),
            cm.optional == Some(true),
            || DiskError::ConfigMapNotFound {
                volume: name.clone(),
                name: cm_name.clone(),
            },
        )?;
        let label = cm.volume_label.as_deref().filter(|l| !l.is_empty());
        return Ok(iso(label.unwrap_or("cfgdata"), files));
    } else if let Some(secret) = &volume.secret {
        let secret_name = secret.secret_name.clone().unwrap_or_default();
        let files = keyed_files(
            inputs.secrets.get(&secret_name),
            secret.optional == Some(true),
            || DiskError::SecretNotFound {
                volume: name.clone(),
                secret: secret_name.clone(),
            },
        )?;
        let label = secret.volume_label.as_deref().filter(|l| !l.is_empty());
        return Ok(iso(label.unwrap_or("cfgdata"), files));
    } else {
        let kind = if volume.sysprep.is_some() {
            "sysprep"
        } else if volume.downward_api.is_some() {
            "downwardAPI"
        } else if volume.service_account.is_some() {
            "serviceAccount"
        } else if volume.downward_metrics.is_some() {
            "downwardMetrics"
        } else if volume.memory_dump.is_some() {
            "memoryDump"
        } else if volume.container_path.is_some() {
            "containerPath"
        } else {
            "sourceless"
        };
        return Err(DiskError::Unsupported {
            volume: name,
            kind: kind.into(),
        });
    };
    Ok(DiskPlan {
        volume: name,
        action,
        resolved,
    })
}

fn keyed_files(
    data: Option<&BTreeMap<String, Vec<u8>>>,
    optional: bool,
    missing: impl FnOnce() -> DiskError,
) -> Result<Vec<IsoFile>, DiskError> {
    match data {
        Some(data) => Ok(data
            .iter()
            .map(|(k, v)| IsoFile {
                path: k.clone(),
                data: v.clone(),
            })
            .collect()),
        None if optional => Ok(Vec::new()),
        None => Err(missing()),
    }
}

#[cfg(test)]
mod tests;
