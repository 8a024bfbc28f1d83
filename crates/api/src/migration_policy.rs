//! The cluster-scoped `migrations.kubevirt.io/v1alpha1` MigrationPolicy kind.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::migration_state::ExperimentalMigrationOptions;

/// API group of MigrationPolicies.
pub const MIGRATIONS_GROUP: &str = "migrations.kubevirt.io";

/// MigrationPolicySpec holds the migration configuration applied to the selected VMIs.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema, CustomResource)]
#[kube(
    group = "migrations.kubevirt.io",
    version = "v1alpha1",
    kind = "MigrationPolicy",
    plural = "migrationpolicies",
    status = "MigrationPolicyStatus",
    doc = "MigrationPolicy holds migration policy (i.e. configurations) to apply to a VM or group of VMs",
    derive = "PartialEq"
)]
#[serde(rename_all = "camelCase")]
pub struct MigrationPolicySpec {
    /// Which VMIs the policy applies to.
    pub selectors: Selectors,
    /// Allow the migration to throttle the guest's vCPUs so that it converges.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allow_auto_converge: Option<bool>,
    /// Bandwidth limit of each migration, in bytes per second.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "crate::schema::quantity")]
    pub bandwidth_per_migration: Option<Quantity>,
    /// Seconds per GiB of guest memory after which a migration is cancelled.
    #[serde(
        rename = "completionTimeoutPerGiB",
        skip_serializing_if = "Option::is_none"
    )]
    pub completion_timeout_per_gib: Option<i64>,
    /// Maximum downtime of the guest at switch-over, in milliseconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 2_000_000))]
    pub max_downtime_ms: Option<u64>,
    /// Allow post-copy migration.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allow_post_copy: Option<bool>,
    /// Allow the migration to pause the guest or switch to post-copy to converge.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allow_workload_disruption: Option<bool>,
    /// ExperimentalMigrationOptions is an alpha API. It is intended for experimental
    /// purposes only and will be removed in the future.
    #[serde(rename = "experimental", skip_serializing_if = "Option::is_none")]
    pub experimental_migration_options: Option<ExperimentalMigrationOptions>,
}

/// Selectors pick the VMIs a policy applies to by labels of their namespace and of the VMI.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Selectors {
    /// Labels the VMI's namespace must carry.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace_selector: Option<BTreeMap<String, String>>,
    /// Labels the VMI must carry.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub virtual_machine_instance_selector: Option<BTreeMap<String, String>>,
}

/// MigrationPolicyStatus is empty: the policy is configuration only.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct MigrationPolicyStatus {}
