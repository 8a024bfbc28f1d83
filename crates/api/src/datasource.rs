//! The CDI `cdi.kubevirt.io/v1beta1` DataSource kind: a named, indirect reference to the data a
//! DataVolume can be populated from (`spec.sourceRef` of a DataVolume).

use k8s_openapi::apimachinery::pkg::apis::meta::v1 as metav1;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::cdi::{DataVolumeSourcePvc, DataVolumeSourceSnapshot};

/// DataSourceSpec defines specification for DataSource
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema, CustomResource)]
#[kube(
    group = "cdi.kubevirt.io",
    version = "v1beta1",
    kind = "DataSource",
    namespaced,
    status = "DataSourceStatus",
    shortname = "das",
    category = "all",
    doc = "DataSource references an import/clone source for a DataVolume",
    derive = "PartialEq"
)]
#[serde(rename_all = "camelCase")]
pub struct DataSourceSpec {
    /// Source is the source of the data referenced by the DataSource
    pub source: DataSourceSource,
}

/// DataSourceSource represents the source for our DataSource
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DataSourceSource {
    /// DataVolumeSourcePVC provides the parameters to create a Data Volume from an existing PVC
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pvc: Option<DataVolumeSourcePvc>,
    /// DataVolumeSourceSnapshot provides the parameters to create a Data Volume from an existing
    /// VolumeSnapshot
    #[serde(skip_serializing_if = "Option::is_none")]
    pub snapshot: Option<DataVolumeSourceSnapshot>,
    /// DataSourceRefSourceDataSource serves as a reference to another DataSource
    /// Can be resolved into a DataVolumeSourcePVC or a DataVolumeSourceSnapshot
    /// The maximum depth of a reference chain may not exceed 1.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_source: Option<DataSourceRefSourceDataSource>,
}

/// DataSourceRefSourceDataSource names another DataSource.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DataSourceRefSourceDataSource {
    /// The namespace of the source DataSource
    pub namespace: String,
    /// The name of the source DataSource
    pub name: String,
}

/// DataSourceStatus provides the most recently observed status of the DataSource
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DataSourceStatus {
    /// Source is the current source of the data referenced by the DataSource
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<DataSourceSource>,
    /// Conditions of the DataSource: Ready.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub conditions: Option<Vec<DataSourceCondition>>,
}

/// DataSourceCondition represents the state of a data source condition
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DataSourceCondition {
    /// Type of the condition: Ready.
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
