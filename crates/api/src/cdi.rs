//! The DataVolume kind of CDI (`cdi.kubevirt.io/v1beta1`). Its spec is also embedded in
//! VirtualMachine `dataVolumeTemplates`.

use k8s_openapi::api::core::v1 as corev1;
use k8s_openapi::apimachinery::pkg::apis::meta::v1 as metav1;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// API group of CDI.
pub const CDI_GROUP: &str = "cdi.kubevirt.io";

/// DataVolumeSpec defines the DataVolume type specification
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema, CustomResource)]
#[kube(
    group = "cdi.kubevirt.io",
    version = "v1beta1",
    kind = "DataVolume",
    namespaced,
    status = "DataVolumeStatus",
    shortname = "dv",
    shortname = "dvs",
    category = "all",
    printcolumn = r#"{"name": "Phase", "type": "string", "jsonPath": ".status.phase", "description": "The phase the data volume is in"}"#,
    printcolumn = r#"{"name": "Progress", "type": "string", "jsonPath": ".status.progress", "description": "Transfer progress in percentage if known, N/A otherwise"}"#,
    printcolumn = r#"{"name": "Restarts", "type": "integer", "jsonPath": ".status.restartCount", "description": "The number of times the transfer has been restarted."}"#,
    printcolumn = r#"{"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}"#,
    doc = "DataVolume is an abstraction on top of PersistentVolumeClaims to allow easy population of those PersistentVolumeClaims with relation to VirtualMachines",
    derive = "PartialEq"
)]
#[serde(rename_all = "camelCase")]
pub struct DataVolumeSpec {
    /// Source is the src of the data for the requested DataVolume
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<DataVolumeSource>,
    /// SourceRef is an indirect reference to the source of data for the requested DataVolume
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_ref: Option<DataVolumeSourceRef>,
    /// PVC is the PVC specification
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pvc: Option<corev1::PersistentVolumeClaimSpec>,
    /// Storage is the requested storage specification
    #[serde(skip_serializing_if = "Option::is_none")]
    pub storage: Option<StorageSpec>,
    /// PriorityClassName for Importer, Cloner and Uploader pod
    #[serde(skip_serializing_if = "Option::is_none")]
    pub priority_class_name: Option<String>,
    /// ServiceAccountName for Importer and Uploader pod
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service_account_name: Option<String>,
    /// DataVolumeContentType options: "kubevirt", "archive"
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(extend("enum" = ["kubevirt", "archive"]))]
    pub content_type: Option<String>,
    /// Checkpoints is a list of DataVolumeCheckpoints, representing stages in a multistage import.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checkpoints: Option<Vec<DataVolumeCheckpoint>>,
    /// FinalCheckpoint indicates whether the current DataVolumeCheckpoint is the final checkpoint.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub final_checkpoint: Option<bool>,
    /// Preallocation controls whether storage for DataVolumes should be allocated in advance.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preallocation: Option<bool>,
}

/// DataVolumeCheckpoint defines a stage in a warm migration.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DataVolumeCheckpoint {
    /// Previous is the identifier of the snapshot from the previous checkpoint.
    pub previous: String,
    /// Current is the identifier of the snapshot created for this checkpoint.
    pub current: String,
}

/// DataVolumeSource represents the source for our Data Volume, this can be HTTP, Imageio, S3, GCS,
/// Registry or an existing PVC
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DataVolumeSource {
    /// DataVolumeSourceHTTP can be either an http or https endpoint, with an optional basic auth
    /// user name and password, and an optional configmap containing additional CAs
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http: Option<DataVolumeSourceHttp>,
    /// DataVolumeSourceS3 provides the parameters to create a Data Volume from an S3 source
    #[serde(skip_serializing_if = "Option::is_none")]
    pub s3: Option<DataVolumeSourceS3>,
    /// DataVolumeSourceGCS provides the parameters to create a Data Volume from an GCS source
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gcs: Option<DataVolumeSourceGcs>,
    /// DataVolumeSourceRegistry provides the parameters to create a Data Volume from an registry
    /// source
    #[serde(skip_serializing_if = "Option::is_none")]
    pub registry: Option<DataVolumeSourceRegistry>,
    /// DataVolumeSourcePVC provides the parameters to create a Data Volume from an existing PVC
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pvc: Option<DataVolumeSourcePvc>,
    /// DataVolumeSourceUpload provides the parameters to create a Data Volume by uploading the
    /// source
    #[serde(skip_serializing_if = "Option::is_none")]
    pub upload: Option<DataVolumeSourceUpload>,
    /// DataVolumeBlankImage provides the parameters to create a new raw blank image for the PVC
    #[serde(skip_serializing_if = "Option::is_none")]
    pub blank: Option<DataVolumeBlankImage>,
    /// DataVolumeSourceImageIO provides the parameters to create a Data Volume from an imageio
    /// source
    #[serde(skip_serializing_if = "Option::is_none")]
    pub imageio: Option<DataVolumeSourceImageIo>,
    /// DataVolumeSourceVDDK provides the parameters to create a Data Volume from a Vmware source
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vddk: Option<DataVolumeSourceVddk>,
    /// DataVolumeSourceSnapshot provides the parameters to create a Data Volume from an existing
    /// VolumeSnapshot
    #[serde(skip_serializing_if = "Option::is_none")]
    pub snapshot: Option<DataVolumeSourceSnapshot>,
}

/// DataVolumeSourceRef defines an indirect reference to the source of data for the DataVolume
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DataVolumeSourceRef {
    /// The kind of the source reference, currently only "DataSource" is supported
    pub kind: String,
    /// The namespace of the source reference, defaults to the DataVolume namespace
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// The name of the source reference
    pub name: String,
}

/// StorageSpec defines the Storage type specification
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct StorageSpec {
    /// AccessModes contains the desired access modes the volume should have.
    /// More info: https://kubernetes.io/docs/concepts/storage/persistent-volumes#access-modes-1
    #[serde(skip_serializing_if = "Option::is_none")]
    pub access_modes: Option<Vec<String>>,
    /// A label query over volumes to consider for binding.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub selector: Option<metav1::LabelSelector>,
    /// Resources represents the minimum resources the volume should have.
    /// More info: https://kubernetes.io/docs/concepts/storage/persistent-volumes#resources
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resources: Option<corev1::VolumeResourceRequirements>,
    /// VolumeName is the binding reference to the PersistentVolume backing this claim.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub volume_name: Option<String>,
    /// Name of the StorageClass required by the claim.
    /// More info: https://kubernetes.io/docs/concepts/storage/persistent-volumes#class-1
    #[serde(skip_serializing_if = "Option::is_none")]
    pub storage_class_name: Option<String>,
    /// volumeMode defines what type of volume is required by the claim.
    /// Value of Filesystem is implied when not included in claim spec.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub volume_mode: Option<String>,
    /// This field can be used to specify either: * An existing VolumeSnapshot object
    /// (snapshot.storage.k8s.io/VolumeSnapshot) * An existing PVC (PersistentVolumeClaim) * An
    /// existing custom resource that implements data population (Alpha) In order to use custom
    /// resource types that implement data population, the AnyVolumeDataSource feature gate must be
    /// enabled. If the provisioner or an external controller can support the specified data source,
    /// it will create a new volume based on the contents of the specified data source.
    /// If the AnyVolumeDataSource feature gate is enabled, this field will always have the same
    /// contents as the DataSourceRef field.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_source: Option<corev1::TypedLocalObjectReference>,
    /// Specifies the object from which to populate the volume with data, if a non-empty volume is
    /// desired. This may be any local object from a non-empty API group (non core object) or a
    /// PersistentVolumeClaim object. When this field is specified, volume binding will only succeed
    /// if the type of the specified object matches some installed volume populator or dynamic
    /// provisioner.
    /// This field will replace the functionality of the DataSource field and as such if both fields
    /// are non-empty, they must have the same value. For backwards compatibility, both fields
    /// (DataSource and DataSourceRef) will be set to the same value automatically if one of them is
    /// empty and the other is non-empty.
    /// There are two important differences between DataSource and DataSourceRef:
    /// * While DataSource only allows two specific types of objects, DataSourceRef allows any
    ///   non-core object, as well as PersistentVolumeClaim objects.
    /// * While DataSource ignores disallowed values (dropping them), DataSourceRef preserves all
    ///   values, and generates an error if a disallowed value is specified.
    ///   (Beta) Using this field requires the AnyVolumeDataSource feature gate to be enabled.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_source_ref: Option<corev1::TypedObjectReference>,
}

/// DataVolumeBlankImage provides the parameters to create a new raw blank image for the PVC
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DataVolumeBlankImage {}

/// DataVolumeSourceGCS provides the parameters to create a Data Volume from an GCS source
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DataVolumeSourceGcs {
    /// URL is the url of the GCS source
    pub url: String,
    /// SecretRef provides the secret reference needed to access the GCS source
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret_ref: Option<String>,
}

/// DataVolumeSourceHTTP can be either an http or https endpoint, with an optional basic auth user
/// name and password, and an optional configmap containing additional CAs
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DataVolumeSourceHttp {
    /// URL is the URL of the http(s) endpoint
    pub url: String,
    /// SecretRef A Secret reference, the secret should contain accessKeyId (user name) base64
    /// encoded, and secretKey (password) also base64 encoded
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret_ref: Option<String>,
    /// CertConfigMap is a configmap reference, containing a Certificate Authority(CA) public key,
    /// and a base64 encoded pem certificate
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cert_config_map: Option<String>,
    /// ExtraHeaders is a list of strings containing extra headers to include with HTTP transfer
    /// requests
    #[serde(skip_serializing_if = "Option::is_none")]
    pub extra_headers: Option<Vec<String>>,
    /// SecretExtraHeaders is a list of Secret references, each containing an extra HTTP header that
    /// may include sensitive information
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret_extra_headers: Option<Vec<String>>,
    /// Checksum is the expected checksum of the file. Format: "algorithm:hash", e.g.,
    /// "sha256:1234abcd..." or "md5:5678efgh..."
    /// Supported algorithms: md5, sha1, sha256, sha512
    /// If specified, the importer will verify the downloaded content matches this checksum
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checksum: Option<String>,
    /// InsecureSkipVerify is a flag to skip certificate verification for the HTTP endpoint
    #[serde(skip_serializing_if = "Option::is_none")]
    pub insecure_skip_verify: Option<bool>,
}

/// DataVolumeSourceImageIO provides the parameters to create a Data Volume from an imageio source
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DataVolumeSourceImageIo {
    /// URL is the URL of the ovirt-engine
    pub url: String,
    /// DiskID provides id of a disk to be imported
    pub disk_id: String,
    /// SecretRef provides the secret reference needed to access the ovirt-engine
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret_ref: Option<String>,
    /// CertConfigMap provides a reference to the CA cert
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cert_config_map: Option<String>,
    /// InsecureSkipVerify is a flag to skip certificate verification
    #[serde(skip_serializing_if = "Option::is_none")]
    pub insecure_skip_verify: Option<bool>,
}

/// DataVolumeSourcePVC provides the parameters to create a Data Volume from an existing PVC
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DataVolumeSourcePvc {
    /// The namespace of the source PVC
    pub namespace: String,
    /// The name of the source PVC
    pub name: String,
}

/// DataVolumeSourceRegistry provides the parameters to create a Data Volume from an registry source
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DataVolumeSourceRegistry {
    /// URL is the url of the registry source (starting with the scheme: docker, oci-archive)
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// ImageStream is the name of image stream for import
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image_stream: Option<String>,
    /// PullMethod can be either "pod" (default import), or "node" (node docker cache based import)
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pull_method: Option<String>,
    /// SecretRef provides the secret reference needed to access the Registry source
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret_ref: Option<String>,
    /// CertConfigMap provides a reference to the Registry certs
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cert_config_map: Option<String>,
    /// Platform describes the minimum runtime requirements of the image
    #[serde(skip_serializing_if = "Option::is_none")]
    pub platform: Option<PlatformOptions>,
}

/// DataVolumeSourceS3 provides the parameters to create a Data Volume from an S3 source
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DataVolumeSourceS3 {
    /// URL is the url of the S3 source
    pub url: String,
    /// SecretRef provides the secret reference needed to access the S3 source
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret_ref: Option<String>,
    /// CertConfigMap is a configmap reference, containing a Certificate Authority(CA) public key,
    /// and a base64 encoded pem certificate
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cert_config_map: Option<String>,
}

/// DataVolumeSourceSnapshot provides the parameters to create a Data Volume from an existing
/// VolumeSnapshot
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DataVolumeSourceSnapshot {
    /// The namespace of the source VolumeSnapshot
    pub namespace: String,
    /// The name of the source VolumeSnapshot
    pub name: String,
}

/// DataVolumeSourceUpload provides the parameters to create a Data Volume by uploading the source
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DataVolumeSourceUpload {}

/// DataVolumeSourceVDDK provides the parameters to create a Data Volume from a Vmware source
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DataVolumeSourceVddk {
    /// URL is the URL of the vCenter or ESXi host with the VM to migrate
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// UUID is the UUID of the virtual machine that the backing file is attached to in vCenter/ESXi
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uuid: Option<String>,
    /// BackingFile is the path to the virtual hard disk to migrate from vCenter/ESXi
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backing_file: Option<String>,
    /// Thumbprint is the certificate thumbprint of the vCenter or ESXi host
    #[serde(skip_serializing_if = "Option::is_none")]
    pub thumbprint: Option<String>,
    /// SecretRef provides a reference to a secret containing the username and password needed to
    /// access the vCenter or ESXi host
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret_ref: Option<String>,
    /// CertConfigMap provides a reference to a ConfigMap containing the certificate authority (CA)
    /// certificate for the vCenter or ESXi host
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cert_config_map: Option<String>,
    /// InitImageURL is an optional URL to an image containing an extracted VDDK library, overrides
    /// v2v-vmware config map
    #[serde(rename = "initImageURL", skip_serializing_if = "Option::is_none")]
    pub init_image_url: Option<String>,
    /// ExtraArgs is a reference to a ConfigMap containing extra arguments to pass directly to the
    /// VDDK library
    #[serde(skip_serializing_if = "Option::is_none")]
    pub extra_args: Option<String>,
}

/// PlatformOptions selects the image platform to import.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PlatformOptions {
    /// Architecture specifies the image target CPU architecture
    #[serde(skip_serializing_if = "Option::is_none")]
    pub architecture: Option<String>,
}

/// DataVolumeStatus contains the current status of the DataVolume
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DataVolumeStatus {
    /// ClaimName is the name of the underlying PVC used by the DataVolume.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub claim_name: Option<String>,
    /// Phase is the current phase of the data volume
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phase: Option<String>,
    /// DataVolumeProgress is the current progress of the DataVolume transfer operation. Value
    /// between 0 and 100 inclusive, N/A if not available
    #[serde(skip_serializing_if = "Option::is_none")]
    pub progress: Option<String>,
    /// RestartCount is the number of times the pod populating the DataVolume has restarted
    #[serde(skip_serializing_if = "Option::is_none")]
    pub restart_count: Option<i32>,
    /// Conditions of the DataVolume: Ready, Bound and Running.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub conditions: Option<Vec<DataVolumeCondition>>,
}

/// DataVolumeCondition represents the state of a data volume condition.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DataVolumeCondition {
    /// DataVolumeConditionType is the string representation of known condition types
    #[serde(rename = "type")]
    pub type_: String,
    /// Status of the condition: one of True, False or Unknown.
    pub status: String,
    /// Last time the condition transitioned from one status to another.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_transition_time: Option<metav1::Time>,
    /// Last time the condition was updated.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_heartbeat_time: Option<metav1::Time>,
    /// Machine-readable reason for the condition's last transition.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Human-readable message with details about the last transition.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// The phases of a DataVolume (`status.phase`) that KubeVirt reads.
pub mod phase {
    /// The DataVolume has no phase yet.
    pub const UNSET: &str = "";
    /// The DataVolume waits for its PVC.
    pub const PENDING: &str = "Pending";
    /// The PVC of the DataVolume is bound.
    pub const PVC_BOUND: &str = "PVCBound";
    /// An import is scheduled.
    pub const IMPORT_SCHEDULED: &str = "ImportScheduled";
    /// An import is running.
    pub const IMPORT_IN_PROGRESS: &str = "ImportInProgress";
    /// A clone is scheduled.
    pub const CLONE_SCHEDULED: &str = "CloneScheduled";
    /// A clone is running.
    pub const CLONE_IN_PROGRESS: &str = "CloneInProgress";
    /// An upload is scheduled.
    pub const UPLOAD_SCHEDULED: &str = "UploadScheduled";
    /// The upload server is ready.
    pub const UPLOAD_READY: &str = "UploadReady";
    /// The storage class binds volumes only when a pod uses them.
    pub const WAIT_FOR_FIRST_CONSUMER: &str = "WaitForFirstConsumer";
    /// A populator has not created the PVC yet.
    pub const PENDING_POPULATION: &str = "PendingPopulation";
    /// The data is in place.
    pub const SUCCEEDED: &str = "Succeeded";
    /// Populating the volume failed.
    pub const FAILED: &str = "Failed";
    /// The phase is unknown.
    pub const UNKNOWN: &str = "Unknown";
    /// A multi-stage import is paused.
    pub const PAUSED: &str = "Paused";
}
