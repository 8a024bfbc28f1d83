//! Request bodies of the `subresources.kubevirt.io` actions (start, stop, restart, pause,
//! unpause, migrate).
//!
//! Each body may carry `kind`/`apiVersion`; they are kept when present and never required.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::keys::DRY_RUN_ALL;

/// True when the `dryRun` list asks for a dry run: its first element is `All`, as upstream
/// checks it. Other values do not make the request a dry run.
pub fn is_dry_run(dry_run: Option<&[String]>) -> bool {
    dry_run
        .and_then(<[String]>::first)
        .is_some_and(|first| first == DRY_RUN_ALL)
}

/// Body of the `start` subresource of a VirtualMachine.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct StartOptions {
    /// Kind of the body, `StartOptions`, when the client sends it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// API version of the body when the client sends it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub api_version: Option<String>,
    /// Indicates that VM will be started in paused state.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub paused: Option<bool>,
    /// When present, indicates that modifications should not be persisted. Valid values are:
    /// - All: all dry run stages will be processed
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dry_run: Option<Vec<String>>,
}

/// Body of the `stop` subresource of a VirtualMachine.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct StopOptions {
    /// Kind of the body, `StopOptions`, when the client sends it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// API version of the body when the client sends it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub api_version: Option<String>,
    /// this updates the VMIs terminationGracePeriodSeconds during shutdown
    #[serde(skip_serializing_if = "Option::is_none")]
    pub grace_period: Option<i64>,
    /// When present, indicates that modifications should not be persisted. Valid values are:
    /// - All: all dry run stages will be processed
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dry_run: Option<Vec<String>>,
}

/// Body of the `restart` subresource of a VirtualMachine.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RestartOptions {
    /// Kind of the body, `RestartOptions`, when the client sends it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// API version of the body when the client sends it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub api_version: Option<String>,
    /// The duration in seconds before the object should be force-restarted. Value must be
    /// non-negative integer. The value zero indicates, restart immediately. If this value is
    /// nil, the default grace period for deletion of the corresponding VMI for the specified type
    /// will be used to determine on how much time to give the VMI to restart.
    /// Allowed Values: nil and 0
    #[serde(skip_serializing_if = "Option::is_none")]
    pub grace_period_seconds: Option<i64>,
    /// When present, indicates that modifications should not be persisted. Valid values are:
    /// - All: all dry run stages will be processed
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dry_run: Option<Vec<String>>,
}

/// Body of the `pause` subresource of a VirtualMachineInstance.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PauseOptions {
    /// Kind of the body, `PauseOptions`, when the client sends it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// API version of the body when the client sends it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub api_version: Option<String>,
    /// When present, indicates that modifications should not be persisted. Valid values are:
    /// - All: all dry run stages will be processed
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dry_run: Option<Vec<String>>,
}

/// Body of the `unpause` subresource of a VirtualMachineInstance.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct UnpauseOptions {
    /// Kind of the body, `UnpauseOptions`, when the client sends it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// API version of the body when the client sends it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub api_version: Option<String>,
    /// When present, indicates that modifications should not be persisted. Valid values are:
    /// - All: all dry run stages will be processed
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dry_run: Option<Vec<String>>,
}

/// Body of the `migrate` subresource of a VirtualMachine.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct MigrateOptions {
    /// Kind of the body, `MigrateOptions`, when the client sends it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// API version of the body when the client sends it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub api_version: Option<String>,
    /// When present, indicates that modifications should not be persisted. Valid values are:
    /// - All: all dry run stages will be processed
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dry_run: Option<Vec<String>>,
    /// AddedNodeSelector is an additional selector that can be used to complement a
    /// NodeSelector or NodeAffinity as set on the VM to restrict the set of allowed target nodes
    /// for a migration. In case of key collisions, values set on the VM objects are going to be
    /// preserved to ensure that addedNodeSelector can only restrict but not bypass constraints
    /// already set on the VM object.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub added_node_selector: Option<BTreeMap<String, String>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dry_run_means_first_value_all() {
        let all = vec!["All".to_owned()];
        let other = vec!["Some".to_owned(), "All".to_owned()];
        assert!(is_dry_run(Some(&all)));
        assert!(!is_dry_run(Some(&other)));
        assert!(!is_dry_run(Some(&[])));
        assert!(!is_dry_run(None));
    }

    #[test]
    fn virtctl_style_bodies_decode() {
        let stop: StopOptions = serde_json::from_str(
            r#"{"kind":"StopOptions","apiVersion":"subresources.kubevirt.io/v1","gracePeriod":0,"dryRun":["All"]}"#,
        )
        .unwrap();
        assert_eq!(stop.grace_period, Some(0));
        assert!(is_dry_run(stop.dry_run.as_deref()));

        let start: StartOptions = serde_json::from_str(r#"{"paused":true}"#).unwrap();
        assert_eq!(start.paused, Some(true));
        assert_eq!(serde_json::to_string(&start).unwrap(), r#"{"paused":true}"#);

        let migrate: MigrateOptions =
            serde_json::from_str(r#"{"addedNodeSelector":{"zone":"a"}}"#).unwrap();
        assert_eq!(migrate.added_node_selector.unwrap()["zone"], "a");
    }
}
