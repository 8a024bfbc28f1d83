//! The files of cloud-init NoCloud and ConfigDrive disks.

use super::{DiskError, IsoFile};
use api::{CloudInitConfigDriveSource, CloudInitNoCloudSource, VirtualMachineInstance};
use base64::Engine;
use std::collections::BTreeMap;

type Secrets = BTreeMap<String, BTreeMap<String, Vec<u8>>>;

/// One of inline text, base64 text or a secret key (the first that is set).
struct DataSource<'a> {
    what: &'a str,
    text: Option<&'a String>,
    base64: Option<&'a String>,
    secret: Option<&'a str>,
    /// Keys looked up in the secret, in order.
    keys: [&'a str; 2],
}

fn resolve(
    volume: &str,
    source: DataSource<'_>,
    secrets: &Secrets,
) -> Result<Option<Vec<u8>>, DiskError> {
    if let Some(text) = source.text.filter(|t| !t.is_empty()) {
        return Ok(Some(text.as_bytes().to_vec()));
    }
    if let Some(b64) = source.base64.filter(|t| !t.is_empty()) {
        let data = base64::engine::general_purpose::STANDARD
            .decode(b64.trim())
            .map_err(|e| DiskError::Invalid {
                volume: volume.to_string(),
                message: format!("{} is not valid base64: {e}", source.what),
            })?;
        return Ok(Some(data));
    }
    if let Some(secret) = source.secret.filter(|s| !s.is_empty()) {
        let data = secrets
            .get(secret)
            .ok_or_else(|| DiskError::SecretNotFound {
                volume: volume.to_string(),
                secret: secret.to_string(),
            })?;
        let value = source
            .keys
            .iter()
            .find_map(|k| data.get(*k))
            .ok_or_else(|| DiskError::Invalid {
                volume: volume.to_string(),
                message: format!(
                    "secret {secret:?} has no {} key ({} or {})",
                    source.what, source.keys[0], source.keys[1]
                ),
            })?;
        return Ok(Some(value.clone()));
    }
    Ok(None)
}

fn identity(vmi: &VirtualMachineInstance) -> (String, String) {
    let name = vmi.metadata.name.clone().unwrap_or_default();
    let namespace = vmi.metadata.namespace.clone().unwrap_or_default();
    let hostname = vmi
        .spec
        .hostname
        .clone()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| name.clone());
    (format!("{name}.{namespace}"), hostname)
}

/// The user and network data fields, alike in NoCloud and ConfigDrive sources.
struct UserAndNetwork<'a> {
    user_data: Option<&'a String>,
    user_data_base64: Option<&'a String>,
    user_secret: Option<&'a str>,
    network_data: Option<&'a String>,
    network_data_base64: Option<&'a String>,
    network_secret: Option<&'a str>,
}

macro_rules! user_and_network_from {
    ($($source:ty),*) => {$(
        impl<'a> From<&'a $source> for UserAndNetwork<'a> {
            fn from(s: &'a $source) -> Self {
                UserAndNetwork {
                    user_data: s.user_data.as_ref(),
                    user_data_base64: s.user_data_base64.as_ref(),
                    user_secret: s.secret_ref.as_ref().map(|r| r.name.as_str()),
                    network_data: s.network_data.as_ref(),
                    network_data_base64: s.network_data_base64.as_ref(),
                    network_secret: s.network_data_secret_ref.as_ref().map(|r| r.name.as_str()),
                }
            }
        }
    )*};
}

user_and_network_from!(CloudInitNoCloudSource, CloudInitConfigDriveSource);

/// The resolved user data and network data, each `None` when not given.
type Resolved = (Option<Vec<u8>>, Option<Vec<u8>>);

fn resolve_user_and_network(
    volume: &str,
    source: UserAndNetwork<'_>,
    secrets: &Secrets,
) -> Result<Resolved, DiskError> {
    let user = resolve(
        volume,
        DataSource {
            what: "userData",
            text: source.user_data,
            base64: source.user_data_base64,
            secret: source.user_secret,
            keys: ["userdata", "userData"],
        },
        secrets,
    )?;
    let network = resolve(
        volume,
        DataSource {
            what: "networkData",
            text: source.network_data,
            base64: source.network_data_base64,
            secret: source.network_secret,
            keys: ["networkdata", "networkData"],
        },
        secrets,
    )?;
    Ok((user, network))
}

/// `user-data`, `meta-data` (instance id `<name>.<namespace>` and the hostname) and, when
/// network data is given, `network-config`.
pub fn nocloud_files(
    vmi: &VirtualMachineInstance,
    volume: &str,
    source: &CloudInitNoCloudSource,
    secrets: &Secrets,
) -> Result<Vec<IsoFile>, DiskError> {
    let (user, network) = resolve_user_and_network(volume, source.into(), secrets)?;
    let (instance_id, hostname) = identity(vmi);
    let mut files = vec![
        IsoFile {
            path: "meta-data".into(),
            data: format!("instance-id: {instance_id}\nlocal-hostname: {hostname}\n").into_bytes(),
        },
        IsoFile {
            path: "user-data".into(),
            data: user.unwrap_or_default(),
        },
    ];
    if let Some(network) = network {
        files.push(IsoFile {
            path: "network-config".into(),
            data: network,
        });
    }
    Ok(files)
}

/// `openstack/latest/meta_data.json` and, when given, `user_data` and `network_data.json`.
pub fn config_drive_files(
    vmi: &VirtualMachineInstance,
    volume: &str,
    source: &CloudInitConfigDriveSource,
    secrets: &Secrets,
) -> Result<Vec<IsoFile>, DiskError> {
    let (user, network) = resolve_user_and_network(volume, source.into(), secrets)?;
    let (instance_id, hostname) = identity(vmi);
    let uuid = vmi
        .spec
        .domain
        .firmware
        .as_ref()
        .and_then(|f| f.uuid.clone())
        .or_else(|| vmi.metadata.uid.clone())
        .unwrap_or_default();
    let meta = serde_json::json!({
        "instance_id": instance_id,
        "uuid": uuid,
        "hostname": hostname,
        "local-hostname": hostname,
    });
    let mut files = vec![IsoFile {
        path: "openstack/latest/meta_data.json".into(),
        data: serde_json::to_vec(&meta).expect("json"),
    }];
    if let Some(user) = user {
        files.push(IsoFile {
            path: "openstack/latest/user_data".into(),
            data: user,
        });
    }
    if let Some(network) = network {
        files.push(IsoFile {
            path: "openstack/latest/network_data.json".into(),
            data: network,
        });
    }
    Ok(files)
}
