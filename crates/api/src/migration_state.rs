//! Progress of a live migration, reported on the VirtualMachineInstance and the migration.

use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1 as metav1;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// VirtualMachineInstanceMigrationState reports the progress of the latest migration.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VirtualMachineInstanceMigrationState {
    /// The time the migration action began
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_timestamp: Option<metav1::Time>,
    /// The time the migration action ended
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_timestamp: Option<metav1::Time>,
    /// The timestamp at which the target node detects the domain is active
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_node_domain_ready_timestamp: Option<metav1::Time>,
    /// The Target Node has seen the Domain Start Event
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_node_domain_detected: Option<bool>,
    /// The address of the target node to use for the migration
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_node_address: Option<String>,
    /// The list of ports opened for live migration on the destination node
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_direct_migration_node_ports: Option<BTreeMap<String, i32>>,
    /// The target node that the VMI is moving to
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_node: Option<String>,
    /// The target pod that the VMI is moving to
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_pod: Option<String>,
    /// The UID of the target attachment pod for hotplug volumes
    #[serde(
        rename = "targetAttachmentPodUID",
        skip_serializing_if = "Option::is_none"
    )]
    pub target_attachment_pod_uid: Option<String>,
    /// The source node that the VMI originated on
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_node: Option<String>,
    /// Name of the source launcher pod.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_pod: Option<String>,
    /// Indicates the migration completed
    #[serde(skip_serializing_if = "Option::is_none")]
    pub completed: Option<bool>,
    /// Indicates that the migration failed
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failed: Option<bool>,
    /// Indicates that the migration has been requested to abort
    #[serde(skip_serializing_if = "Option::is_none")]
    pub abort_requested: Option<bool>,
    /// Indicates the final status of the live migration abortion
    #[serde(skip_serializing_if = "Option::is_none")]
    pub abort_status: Option<String>,
    /// Contains the reason why the migration failed
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure_reason: Option<String>,
    /// The VirtualMachineInstanceMigration object associated with this migration
    #[serde(skip_serializing_if = "Option::is_none")]
    pub migration_uid: Option<String>,
    /// Lets us know if the vmi is currently running pre or post copy migration
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mode: Option<String>,
    /// Name of the migration policy. If string is empty, no policy is matched
    #[serde(skip_serializing_if = "Option::is_none")]
    pub migration_policy_name: Option<String>,
    /// Migration configurations to apply
    #[serde(skip_serializing_if = "Option::is_none")]
    pub migration_configuration: Option<VmimConfigurationOptions>,
    /// If the VMI requires dedicated CPUs, this field will
    /// hold the dedicated CPU set on the target node
    #[serde(rename = "targetCPUSet", skip_serializing_if = "Option::is_none")]
    #[schemars(extend("x-kubernetes-list-type" = "atomic"))]
    pub target_cpu_set: Option<Vec<i32>>,
    /// If the VMI requires dedicated CPUs, this field will
    /// hold the numa topology on the target node
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_node_topology: Option<String>,
    /// If the VMI being migrated uses persistent features (backend-storage), its source PVC name is
    /// saved here
    #[serde(
        rename = "sourcePersistentStatePVCName",
        skip_serializing_if = "Option::is_none"
    )]
    pub source_persistent_state_pvc_name: Option<String>,
    /// If the VMI being migrated uses persistent features (backend-storage), its target PVC name is
    /// saved here
    #[serde(
        rename = "targetPersistentStatePVCName",
        skip_serializing_if = "Option::is_none"
    )]
    pub target_persistent_state_pvc_name: Option<String>,
    /// SourceState contains migration state managed by the source virt handler
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_state: Option<VirtualMachineInstanceMigrationSourceState>,
    /// TargetState contains migration state managed by the target virt handler
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_state: Option<VirtualMachineInstanceMigrationTargetState>,
    /// The type of migration network, either 'pod' or 'migration'
    #[serde(skip_serializing_if = "Option::is_none")]
    pub migration_network_type: Option<String>,
    /// TargetMemoryOverhead is the memory overhead of the target virt-launcher pod
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "crate::schema::quantity")]
    pub target_memory_overhead: Option<Quantity>,
}

/// VMIMConfigurationOptions holds the resolved migration options for a single migration.
/// It is written to VirtualMachineInstanceMigrationState and represents the effective
/// configuration after merging KubeVirt defaults with any matched MigrationPolicy.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VmimConfigurationOptions {
    /// NodeDrainTaintKey defines the taint key that indicates a node should be drained.
    /// Note: this option relies on the deprecated node taint feature. Default: kubevirt.io/drain
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node_drain_taint_key: Option<String>,
    /// ParallelOutboundMigrationsPerNode is the maximum number of concurrent outgoing live
    /// migrations
    /// allowed per node. Defaults to 2
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parallel_outbound_migrations_per_node: Option<u32>,
    /// ParallelMigrationsPerCluster is the total number of concurrent live migrations
    /// allowed cluster-wide. Defaults to 5
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parallel_migrations_per_cluster: Option<u32>,
    /// AllowAutoConverge allows the platform to compromise performance/availability of VMIs to
    /// guarantee successful VMI live migrations. Defaults to false
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allow_auto_converge: Option<bool>,
    /// BandwidthPerMigration limits the amount of network bandwidth live migrations are allowed to
    /// use.
    /// The value is in quantity per second. Defaults to 0 (no limit)
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "crate::schema::quantity")]
    pub bandwidth_per_migration: Option<Quantity>,
    /// CompletionTimeoutPerGiB is the maximum number of seconds per GiB a migration is allowed to
    /// take.
    /// If the timeout is reached, the migration will be either paused, switched
    /// to post-copy or cancelled depending on other settings. Defaults to 150
    #[serde(skip_serializing_if = "Option::is_none")]
    pub completion_timeout_per_gi_b: Option<i64>,
    /// MaxDowntimeMs specifies the maximum tolerable downtime (in milliseconds) during switchover.
    /// Defaults to 900
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(extend("minimum" = 1), extend("maximum" = 2000000))]
    pub max_downtime_ms: Option<u64>,
    /// ProgressTimeout is the maximum number of seconds a live migration is allowed to make no
    /// progress.
    /// Hitting this timeout means a migration transferred 0 data for that many seconds. The
    /// migration is
    /// then considered stuck and therefore cancelled. Defaults to 150
    #[serde(skip_serializing_if = "Option::is_none")]
    pub progress_timeout: Option<i64>,
    /// UtilityVolumesTimeout is the maximum number of seconds a migration can wait in Pending state
    /// for utility volumes to be detached. If utility volumes are still present after this timeout,
    /// the migration will be marked as Failed. Defaults to 150
    #[serde(skip_serializing_if = "Option::is_none")]
    pub utility_volumes_timeout: Option<i64>,
    /// UnsafeMigrationOverride allows live migrations to occur even if the compatibility check
    /// indicates the migration will be unsafe to the guest. Defaults to false
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unsafe_migration_override: Option<bool>,
    /// AllowPostCopy enables post-copy live migrations. Such migrations allow even the busiest VMIs
    /// to successfully live-migrate. However, events like a network failure can cause a VMI crash.
    /// If set to true, migrations will still start in pre-copy, but switch to post-copy when
    /// CompletionTimeoutPerGiB triggers. Defaults to false
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allow_post_copy: Option<bool>,
    /// AllowWorkloadDisruption indicates that the migration shouldn't be
    /// canceled after acceptableCompletionTime is exceeded. Instead, if
    /// permitted, migration will be switched to post-copy or the VMI will be
    /// paused to allow the migration to complete
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allow_workload_disruption: Option<bool>,
    /// When set to true, DisableTLS will disable the additional layer of live migration encryption
    /// provided by KubeVirt. This is usually a bad idea. Defaults to false
    #[serde(rename = "disableTLS", skip_serializing_if = "Option::is_none")]
    pub disable_tls: Option<bool>,
    /// Network is the name of the CNI network to use for live migrations. By default, migrations go
    /// through the pod network.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub network: Option<String>,
    /// By default, the SELinux level of target virt-launcher pods is forced to the level of the
    /// source virt-launcher.
    /// When set to true, MatchSELinuxLevelOnMigration lets the CRI auto-assign a random level to
    /// the target.
    /// That will ensure the target virt-launcher doesn't share categories with another pod on the
    /// node.
    /// However, migrations will fail when using RWX volumes that don't automatically deal with
    /// SELinux levels.
    #[serde(
        rename = "matchSELinuxLevelOnMigration",
        skip_serializing_if = "Option::is_none"
    )]
    pub match_se_linux_level_on_migration: Option<bool>,
    /// ExperimentalMigrationOptions is an alpha API. It is intended for experimental
    /// purposes only and will be removed in the future.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub experimental: Option<ExperimentalMigrationOptions>,
}

/// The fields both sides of a migration report (upstream's
/// `VirtualMachineInstanceCommonMigrationState`, inlined in each side).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VirtualMachineInstanceCommonMigrationState {
    /// The source node that the VMI originated on
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
    /// The source pod that the VMI is originated on
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pod: Option<String>,
    /// The Source VirtualMachineInstanceMigration object associated with this migration
    #[serde(rename = "migrationUID", skip_serializing_if = "Option::is_none")]
    pub migration_uid: Option<String>,
    /// The name of the domain on the source libvirt domain
    #[serde(skip_serializing_if = "Option::is_none")]
    pub domain_name: Option<String>,
    /// Namespace used in the name of the source libvirt domain. Can be used to find and modify
    /// paths in the domain
    #[serde(skip_serializing_if = "Option::is_none")]
    pub domain_namespace: Option<String>,
    /// The ip address/fqdn:port combination to use to synchronize the VMI with the target.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sync_address: Option<String>,
    /// If the VMI being migrated uses persistent features (backend-storage), its source PVC name is
    /// saved here
    #[serde(
        rename = "persistentStatePVCName",
        skip_serializing_if = "Option::is_none"
    )]
    pub persistent_state_pvc_name: Option<String>,
    /// SELinuxContext is the actual SELinux context of the pod
    #[serde(skip_serializing_if = "Option::is_none")]
    pub selinux_context: Option<String>,
    /// VirtualMachineInstanceUID is the UID of the target virtual machine instance
    #[serde(
        rename = "virtualMachineInstanceUID",
        skip_serializing_if = "Option::is_none"
    )]
    pub virtual_machine_instance_uid: Option<String>,
}

/// VirtualMachineInstanceMigrationSourceState reports the sending side of a migration.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VirtualMachineInstanceMigrationSourceState {
    #[serde(flatten)]
    pub common: VirtualMachineInstanceCommonMigrationState,
    /// Node selectors needed by the target to start the receiving pod.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node_selectors: Option<BTreeMap<String, String>>,
}

/// VirtualMachineInstanceMigrationTargetState reports the receiving side of a migration.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VirtualMachineInstanceMigrationTargetState {
    #[serde(flatten)]
    pub common: VirtualMachineInstanceCommonMigrationState,
    /// The timestamp at which the target node detects the domain is active
    #[serde(skip_serializing_if = "Option::is_none")]
    pub domain_ready_timestamp: Option<metav1::Time>,
    /// The Target Node has seen the Domain Start Event
    #[serde(skip_serializing_if = "Option::is_none")]
    pub domain_detected: Option<bool>,
    /// The address of the target node to use for the migration
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node_address: Option<String>,
    /// The list of ports opened for live migration on the destination node
    #[serde(skip_serializing_if = "Option::is_none")]
    pub direct_migration_node_ports: Option<BTreeMap<String, i32>>,
    /// The UID of the target attachment pod for hotplug volumes
    #[serde(rename = "attachmentPodUID", skip_serializing_if = "Option::is_none")]
    pub attachment_pod_uid: Option<String>,
    /// If the VMI requires dedicated CPUs, this field will
    /// hold the dedicated CPU set on the target node
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(extend("x-kubernetes-list-type" = "atomic"))]
    pub cpu_set: Option<Vec<i32>>,
    /// If the VMI requires dedicated CPUs, this field will
    /// hold the numa topology on the target node
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node_topology: Option<String>,
}

/// ExperimentalMigrationOptions is an alpha API for experimental migration tunables.
/// It is intended for experimental purposes only and will be removed in the future.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExperimentalMigrationOptions {
    /// Options of the migration stall detector.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stall_detector: Option<StallDetectorOptions>,
    /// DowntimeTuning configures iteration-aware downtime ramping for live
    /// migration convergence.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub downtime_tuning: Option<DowntimeTuningOptions>,
    /// Compression selects the algorithm for compressing the live migration
    /// data stream. When omitted (nil) or set to "none", compression is
    /// disabled.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(extend("enum" = ["none", "zstd"]))]
    pub compression: Option<String>,
}

/// DowntimeTuningOptions controls how virt-launcher gradually increases
/// max_downtime during live migration to help convergence.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DowntimeTuningOptions {
    /// InitialMs is the initial max_downtime value in milliseconds
    /// set at the start of migration. Tuning steps increase from this value.
    /// Defaults to 150.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(extend("minimum" = 1))]
    pub initial_ms: Option<i64>,
    /// Steps is the number of equal increments used to ramp from
    /// InitialMs to the cluster-level MaxDowntimeMs. Defaults to 7.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(extend("minimum" = 1))]
    pub steps: Option<i32>,
    /// StartAfterIteration is the memory copy iteration after which
    /// downtime tuning begins. Defaults to 3.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(extend("minimum" = 1))]
    pub start_after_iteration: Option<i64>,
    /// CooldownSeconds is the minimum interval in seconds
    /// between successive downtime increases. Defaults to 10.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(extend("minimum" = 1))]
    pub cooldown_seconds: Option<i32>,
}

/// StallDetectorOptions tunes the detection of stalled migrations.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct StallDetectorOptions {
    /// StallMargin is the fractional tolerance, expressed as a percentage, used when
    /// comparing remaining migration bytes against the best observed value to detect stalls
    /// and local minima. A stall is reported when remaining bytes stay above
    /// (1 - StallMargin/100) of the outside-window minimum.
    /// Defaults to 4.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(extend("minimum" = 0), extend("maximum" = 100))]
    pub stall_margin: Option<i64>,
    /// EwmaAlpha is the smoothing factor for the exponentially weighted moving average of
    /// observed migration bandwidth. Must be in the range (0, 1]; zero is invalid because
    /// the estimate would never incorporate new samples. Higher values weight recent samples
    /// more heavily.
    /// Defaults to 0.4.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "crate::schema::quantity")]
    pub ewma_alpha: Option<Quantity>,
    /// StallProgressTimeout is the duration in seconds of the sliding window used to track
    /// minimum remaining-bytes and detect when migration progress has stalled.
    /// Defaults to 40.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(extend("minimum" = 0))]
    pub stall_progress_timeout: Option<i64>,
    /// SwitchoverTimeout is the duration in seconds allowed for a stop-and-copy or post-copy
    /// switchover to complete after being triggered before the migration is aborted.
    /// Defaults to 60.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(extend("minimum" = 0))]
    pub switchover_timeout: Option<i64>,
    /// PrecopyPossibleFactor is the maximum factor by which estimated downtime may exceed
    /// MaxDowntime while still attempting a soft stop-and-copy instead of aborting the migration.
    /// Defaults to 1.5.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "crate::schema::quantity")]
    pub precopy_possible_factor: Option<Quantity>,
    /// PatienceWindowDecayFactor is the factor by which the relaxation patience window is
    /// multiplied after each best-remaining-bytes relaxation step.
    /// Defaults to 0.5.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "crate::schema::quantity")]
    pub patience_window_decay_factor: Option<Quantity>,
    /// SearchLocalMinima controls whether convergence actions are delayed until remaining bytes
    /// reach a local minimum near the best observed value. When false, actions may trigger
    /// as soon as a stall is detected.
    /// Defaults to true.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub search_local_minima: Option<bool>,
    /// CompletionTimeoutFactor multiplies the computed migration completion timeout to determine
    /// the total time budget for deciding whether a forced switchover can still finish in time,
    /// and to extend the abort deadline after initiating a completion-timeout-driven switchover.
    /// Defaults to 2.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "crate::schema::quantity")]
    pub completion_timeout_factor: Option<Quantity>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn both_sides_read_and_write_the_common_fields_inline() {
        let wire = json!({
            "sourceState": {"node": "n1", "pod": "virt-launcher-a", "migrationUID": "m1",
                "virtualMachineInstanceUID": "v1", "nodeSelectors": {"k": "v"}},
            "targetState": {"node": "n2", "persistentStatePVCName": "pvc", "nodeAddress": "10.0.0.2",
                "cpuSet": [1, 2]},
        });
        let state: VirtualMachineInstanceMigrationState =
            serde_json::from_value(wire.clone()).unwrap();
        let source = state.source_state.as_ref().unwrap();
        assert_eq!(source.common.node.as_deref(), Some("n1"));
        assert_eq!(source.common.migration_uid.as_deref(), Some("m1"));
        assert_eq!(
            source.common.virtual_machine_instance_uid.as_deref(),
            Some("v1")
        );
        let target = state.target_state.as_ref().unwrap();
        assert_eq!(target.common.node.as_deref(), Some("n2"));
        assert_eq!(
            target.common.persistent_state_pvc_name.as_deref(),
            Some("pvc")
        );
        assert_eq!(target.cpu_set, Some(vec![1, 2]));
        assert_eq!(serde_json::to_value(&state).unwrap(), wire);
    }
}
