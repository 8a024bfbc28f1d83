//! Volumes and their sources.

use k8s_openapi::api::core::v1 as corev1;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Volume represents a named volume in a vmi.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Volume {
    /// Volume's name.
    /// Must be a DNS_LABEL and unique within the vmi.
    /// More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names/#names
    pub name: String,
    /// HostDisk represents a disk created on the cluster level
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host_disk: Option<HostDisk>,
    /// PersistentVolumeClaimVolumeSource represents a reference to a PersistentVolumeClaim in the
    /// same namespace.
    /// Directly attached to the vmi via qemu.
    /// More info:
    /// https://kubernetes.io/docs/concepts/storage/persistent-volumes#persistentvolumeclaims
    #[serde(skip_serializing_if = "Option::is_none")]
    pub persistent_volume_claim: Option<PersistentVolumeClaimVolumeSource>,
    /// CloudInitNoCloud represents a cloud-init NoCloud user-data source.
    /// The NoCloud data will be added as a disk to the vmi. A proper cloud-init installation is
    /// required inside the guest.
    /// More info: http://cloudinit.readthedocs.io/en/latest/topics/datasources/nocloud.html
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cloud_init_no_cloud: Option<CloudInitNoCloudSource>,
    /// CloudInitConfigDrive represents a cloud-init Config Drive user-data source.
    /// The Config Drive data will be added as a disk to the vmi. A proper cloud-init installation
    /// is required inside the guest.
    /// More info: https://cloudinit.readthedocs.io/en/latest/topics/datasources/configdrive.html
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cloud_init_config_drive: Option<CloudInitConfigDriveSource>,
    /// Represents a Sysprep volume source.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sysprep: Option<SysprepSource>,
    /// ContainerDisk references a docker image, embedding a qcow or raw disk.
    /// More info: https://kubevirt.gitbooks.io/user-guide/registry-disk.html
    #[serde(skip_serializing_if = "Option::is_none")]
    pub container_disk: Option<ContainerDiskSource>,
    /// Ephemeral is a special volume source that "wraps" specified source and provides
    /// copy-on-write image on top of it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ephemeral: Option<EphemeralVolumeSource>,
    /// EmptyDisk represents a temporary disk which shares the vmis lifecycle.
    /// More info: https://kubevirt.gitbooks.io/user-guide/disks-and-volumes.html
    #[serde(skip_serializing_if = "Option::is_none")]
    pub empty_disk: Option<EmptyDiskSource>,
    /// DataVolume represents the dynamic creation a PVC for this volume as well as
    /// the process of populating that PVC with a disk image.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_volume: Option<DataVolumeSource>,
    /// ConfigMapSource represents a reference to a ConfigMap in the same namespace.
    /// More info: https://kubernetes.io/docs/tasks/configure-pod-container/configure-pod-configmap/
    #[serde(skip_serializing_if = "Option::is_none")]
    pub config_map: Option<ConfigMapVolumeSource>,
    /// SecretVolumeSource represents a reference to a secret data in the same namespace.
    /// More info: https://kubernetes.io/docs/concepts/configuration/secret/
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<SecretVolumeSource>,
    /// DownwardAPI represents downward API about the pod that should populate this volume
    #[serde(rename = "downwardAPI", skip_serializing_if = "Option::is_none")]
    pub downward_api: Option<DownwardApiVolumeSource>,
    /// ServiceAccountVolumeSource represents a reference to a service account.
    /// There can only be one volume of this type!
    /// More info:
    /// https://kubernetes.io/docs/tasks/configure-pod-container/configure-service-account/
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service_account: Option<ServiceAccountVolumeSource>,
    /// DownwardMetrics adds a very small disk to VMIs which contains a limited view of host and
    /// guest
    /// metrics. The disk content is compatible with vhostmd (https://github.com/vhostmd/vhostmd)
    /// and vm-dump-metrics.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub downward_metrics: Option<DownwardMetricsVolumeSource>,
    /// MemoryDump is attached to the virt launcher and is populated with a memory dump of the vmi
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory_dump: Option<MemoryDumpVolumeSource>,
    /// ContainerPath exposes a path from the virt-launcher container to the VM via virtiofs.
    /// The path must correspond to an existing volumeMount in the compute container.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub container_path: Option<ContainerPathVolumeSource>,
}

/// Represents a cloud-init config drive user data source.
/// More info: https://cloudinit.readthedocs.io/en/latest/topics/datasources/configdrive.html
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CloudInitConfigDriveSource {
    /// UserDataSecretRef references a k8s secret that contains config drive userdata.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "crate::schema::local_object_reference")]
    pub secret_ref: Option<corev1::LocalObjectReference>,
    /// UserDataBase64 contains config drive cloud-init userdata as a base64 encoded string.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_data_base64: Option<String>,
    /// UserData contains config drive inline cloud-init userdata.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_data: Option<String>,
    /// NetworkDataSecretRef references a k8s secret that contains config drive networkdata.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "crate::schema::local_object_reference")]
    pub network_data_secret_ref: Option<corev1::LocalObjectReference>,
    /// NetworkDataBase64 contains config drive cloud-init networkdata as a base64 encoded string.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub network_data_base64: Option<String>,
    /// NetworkData contains config drive inline cloud-init networkdata.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub network_data: Option<String>,
}

/// Represents a cloud-init nocloud user data source.
/// More info: http://cloudinit.readthedocs.io/en/latest/topics/datasources/nocloud.html
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CloudInitNoCloudSource {
    /// UserDataSecretRef references a k8s secret that contains NoCloud userdata.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "crate::schema::local_object_reference")]
    pub secret_ref: Option<corev1::LocalObjectReference>,
    /// UserDataBase64 contains NoCloud cloud-init userdata as a base64 encoded string.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_data_base64: Option<String>,
    /// UserData contains NoCloud inline cloud-init userdata.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_data: Option<String>,
    /// NetworkDataSecretRef references a k8s secret that contains NoCloud networkdata.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "crate::schema::local_object_reference")]
    pub network_data_secret_ref: Option<corev1::LocalObjectReference>,
    /// NetworkDataBase64 contains NoCloud cloud-init networkdata as a base64 encoded string.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub network_data_base64: Option<String>,
    /// NetworkData contains NoCloud inline cloud-init networkdata.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub network_data: Option<String>,
}

/// ConfigMapVolumeSource adapts a ConfigMap into a volume.
/// More info: https://kubernetes.io/docs/concepts/storage/volumes/#configmap
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConfigMapVolumeSource {
    /// Name of the referent. This field is effectively required, but due to backwards compatibility
    /// is allowed to be empty. Instances of this type with an empty value here are almost certainly
    /// wrong. More info:
    /// https://kubernetes.io/docs/concepts/overview/working-with-objects/names/#names
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = ""))]
    pub name: Option<String>,
    /// Specify whether the ConfigMap or it's keys must be defined
    #[serde(skip_serializing_if = "Option::is_none")]
    pub optional: Option<bool>,
    /// The volume label of the resulting disk inside the VMI.
    /// Different bootstrapping mechanisms require different values.
    /// Typical values are "cidata" (cloud-init), "config-2" (cloud-init) or "OEMDRV" (kickstart).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub volume_label: Option<String>,
}

/// Represents a docker image with an embedded disk.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ContainerDiskSource {
    /// Image is the name of the image with the embedded disk.
    pub image: String,
    /// ImagePullSecret is the name of the Docker registry secret required to pull the image. The
    /// secret must already exist.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image_pull_secret: Option<String>,
    /// Path defines the path to disk file in the container
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// Image pull policy.
    /// One of Always, Never, IfNotPresent.
    /// Defaults to Always if :latest tag is specified, or IfNotPresent otherwise.
    /// Cannot be updated.
    /// More info: https://kubernetes.io/docs/concepts/containers/images#updating-images
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image_pull_policy: Option<String>,
}

/// ContainerPathVolumeSource represents a path from the virt-launcher container
/// to be exposed to the VM via virtiofs. The path must correspond to an existing
/// volumeMount in the virt-launcher pod's compute container.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ContainerPathVolumeSource {
    /// Path is the absolute path within the virt-launcher container to expose to the VM.
    /// The path must correspond to an existing volumeMount in the compute container.
    #[schemars(extend("maxLength" = 4096), extend("x-kubernetes-validations" = [{"rule": "self.startsWith('/')", "message": "path must be absolute (start with '/')"}, {"rule": "!self.contains('..')", "message": "path must not contain '..'"}]))]
    pub path: String,
    /// ReadOnly controls whether the volume is exposed as read-only to the VM.
    /// Defaults to true. Write access is not currently supported.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(extend("x-kubernetes-validations" = [{"rule": "self == true", "message": "readOnly must be true, write access is not supported"}]), extend("default" = true))]
    pub read_only: Option<bool>,
}

/// DataVolumeSource uses a DataVolume as the backing disk.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DataVolumeSource {
    /// Name of both the DataVolume and the PVC in the same namespace.
    pub name: String,
    /// Hotpluggable indicates whether the volume can be hotplugged and hotunplugged.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hotpluggable: Option<bool>,
}

/// DownwardAPIVolumeSource represents a volume containing downward API info.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DownwardApiVolumeSource {
    /// Fields is a list of downward API volume file
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fields: Option<Vec<corev1::DownwardAPIVolumeFile>>,
    /// The volume label of the resulting disk inside the VMI.
    /// Different bootstrapping mechanisms require different values.
    /// Typical values are "cidata" (cloud-init), "config-2" (cloud-init) or "OEMDRV" (kickstart).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub volume_label: Option<String>,
}

/// DownwardMetricsVolumeSource adds a very small disk to VMIs which contains a limited view of host
/// and guest
/// metrics. The disk content is compatible with vhostmd (https://github.com/vhostmd/vhostmd) and
/// vm-dump-metrics.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DownwardMetricsVolumeSource {}

/// EmptyDisk represents a temporary disk which shares the vmis lifecycle.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct EmptyDiskSource {
    /// Capacity of the sparse disk.
    #[schemars(schema_with = "crate::schema::quantity")]
    pub capacity: Quantity,
}

/// EphemeralVolumeSource uses a PersistentVolumeClaim as a read-only base with a copy-on-write
/// overlay.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct EphemeralVolumeSource {
    /// PersistentVolumeClaimVolumeSource represents a reference to a PersistentVolumeClaim in the
    /// same namespace.
    /// Directly attached to the vmi via qemu.
    /// More info:
    /// https://kubernetes.io/docs/concepts/storage/persistent-volumes#persistentvolumeclaims
    #[serde(skip_serializing_if = "Option::is_none")]
    pub persistent_volume_claim: Option<corev1::PersistentVolumeClaimVolumeSource>,
}

/// Represents a disk created on the cluster level
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct HostDisk {
    /// The path to HostDisk image located on the cluster
    pub path: String,
    /// Contains information if disk.img exists or should be created
    /// allowed options are 'Disk' and 'DiskOrCreate'
    #[serde(rename = "type")]
    pub type_: String,
    /// Capacity of the sparse disk
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "crate::schema::quantity")]
    pub capacity: Option<Quantity>,
    /// Shared indicate whether the path is shared between nodes
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shared: Option<bool>,
}

/// MemoryDumpVolumeSource holds a memory dump of the guest on a PersistentVolumeClaim.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct MemoryDumpVolumeSource {
    /// claimName is the name of a PersistentVolumeClaim in the same namespace as the pod using this
    /// volume. More info:
    /// https://kubernetes.io/docs/concepts/storage/persistent-volumes#persistentvolumeclaims
    pub claim_name: String,
    /// readOnly Will force the ReadOnly setting in VolumeMounts. Default false.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub read_only: Option<bool>,
    /// Hotpluggable indicates whether the volume can be hotplugged and hotunplugged.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hotpluggable: Option<bool>,
}

/// PersistentVolumeClaimVolumeSource represents a reference to a PersistentVolumeClaim in the same
/// namespace.
/// Directly attached to the vmi via qemu.
/// More info: https://kubernetes.io/docs/concepts/storage/persistent-volumes#persistentvolumeclaims
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PersistentVolumeClaimVolumeSource {
    /// claimName is the name of a PersistentVolumeClaim in the same namespace as the pod using this
    /// volume. More info:
    /// https://kubernetes.io/docs/concepts/storage/persistent-volumes#persistentvolumeclaims
    pub claim_name: String,
    /// readOnly Will force the ReadOnly setting in VolumeMounts. Default false.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub read_only: Option<bool>,
    /// Hotpluggable indicates whether the volume can be hotplugged and hotunplugged.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hotpluggable: Option<bool>,
}

/// SecretVolumeSource adapts a Secret into a volume.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SecretVolumeSource {
    /// Name of the secret in the pod's namespace to use.
    /// More info: https://kubernetes.io/docs/concepts/storage/volumes#secret
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret_name: Option<String>,
    /// Specify whether the Secret or it's keys must be defined
    #[serde(skip_serializing_if = "Option::is_none")]
    pub optional: Option<bool>,
    /// The volume label of the resulting disk inside the VMI.
    /// Different bootstrapping mechanisms require different values.
    /// Typical values are "cidata" (cloud-init), "config-2" (cloud-init) or "OEMDRV" (kickstart).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub volume_label: Option<String>,
}

/// ServiceAccountVolumeSource adapts a ServiceAccount into a volume.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ServiceAccountVolumeSource {
    /// Name of the service account in the pod's namespace to use.
    /// More info:
    /// https://kubernetes.io/docs/tasks/configure-pod-container/configure-service-account/
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service_account_name: Option<String>,
}

/// Represents a Sysprep volume source.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SysprepSource {
    /// Secret references a k8s Secret that contains Sysprep answer file named autounattend.xml that
    /// should be attached as disk of CDROM type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "crate::schema::local_object_reference")]
    pub secret: Option<corev1::LocalObjectReference>,
    /// ConfigMap references a ConfigMap that contains Sysprep answer file named autounattend.xml
    /// that should be attached as disk of CDROM type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "crate::schema::local_object_reference")]
    pub config_map: Option<corev1::LocalObjectReference>,
}
