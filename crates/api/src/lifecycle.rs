//! Lifecycle enumerations of the KubeVirt kinds (run strategies, phases, printable statuses) and
//! the run-strategy resolution of a VirtualMachine spec.
//!
//! Every enum serializes as its upstream string value, parses from it with [`FromStr`], and
//! publishes a JSON schema that lists the accepted values, so the API server rejects a status
//! that typed clients could not decode.

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::migration::VirtualMachineInstanceMigration;
use crate::vm::VirtualMachineSpec;
use crate::vmi::{VirtualMachineInstance, VirtualMachineInstanceSpec};

/// Grace period, in seconds, used when `terminationGracePeriodSeconds` is not set.
///
/// Nothing writes this default into the field; consumers apply it when the field is `None`.
pub const DEFAULT_GRACE_PERIOD_SECONDS: i64 = 30;

/// A string value that is not one of the values of a lifecycle enumeration.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown {kind} {value:?}")]
pub struct UnknownValue {
    /// Name of the enumeration, e.g. `RunStrategy`.
    pub kind: &'static str,
    /// The rejected value.
    pub value: String,
}

/// Errors of [`VirtualMachineSpec::run_strategy`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RunStrategyError {
    /// Both the deprecated `running` field and `runStrategy` are set.
    #[error("running and runstrategy are mutually exclusive")]
    MutuallyExclusive,
    /// `runStrategy` holds a value that is not a known strategy.
    #[error("unknown run strategy {0:?}")]
    Unknown(String),
}

/// Declares a string-valued enumeration with its upstream spellings.
macro_rules! string_enum {
    (
        $(#[$meta:meta])*
        $name:ident {
            $( $(#[$vmeta:meta])* $variant:ident => $value:literal, )+
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum $name {
            $( $(#[$vmeta])* $variant, )+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The upstream string spelling of the value.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $( $name::$variant => $value, )+
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = UnknownValue;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $( $value => Ok($name::$variant), )+
                    _ => Err(UnknownValue { kind: stringify!($name), value: s.to_owned() }),
                }
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let value = Cow::<'de, str>::deserialize(deserializer)?;
                value.parse().map_err(serde::de::Error::custom)
            }
        }

        impl JsonSchema for $name {
            fn schema_name() -> Cow<'static, str> {
                stringify!($name).into()
            }

            fn json_schema(_: &mut SchemaGenerator) -> Schema {
                json_schema!({
                    "type": "string",
                    "enum": [$($value),+],
                })
            }
        }
    };
}

string_enum! {
    /// How the VirtualMachine controller keeps the VirtualMachineInstance running.
    RunStrategy {
        /// A VirtualMachineInstance always exists and is recreated whenever it finishes.
        Always => "Always",
        /// No VirtualMachineInstance exists.
        Halted => "Halted",
        /// The VirtualMachineInstance is started and stopped only through the API.
        Manual => "Manual",
        /// The VirtualMachineInstance is recreated when it fails, not when it succeeds.
        RerunOnFailure => "RerunOnFailure",
        /// The VirtualMachineInstance runs once and is not recreated.
        Once => "Once",
        /// The VirtualMachineInstance waits to receive a decentralized live migration.
        WaitAsReceiver => "WaitAsReceiver",
    }
}

string_enum! {
    /// Phase of a VirtualMachineInstance.
    #[derive(Default)]
    VirtualMachineInstancePhase {
        /// The phase has not been set yet.
        #[default]
        Unset => "",
        /// Accepted by the system, not yet handled by the controllers.
        Pending => "Pending",
        /// The launcher pod is being scheduled.
        Scheduling => "Scheduling",
        /// The launcher pod is scheduled and the node agent takes over.
        Scheduled => "Scheduled",
        /// The guest is running.
        Running => "Running",
        /// The guest terminated successfully.
        Succeeded => "Succeeded",
        /// The guest or its pod failed.
        Failed => "Failed",
        /// A migration receiver waits for the sender to synchronize.
        WaitingForSync => "WaitingForSync",
        /// The state cannot be determined (not set by current controllers).
        Unknown => "Unknown",
    }
}

impl VirtualMachineInstancePhase {
    /// True for the terminal phases, Succeeded and Failed.
    pub const fn is_final(self) -> bool {
        matches!(self, Self::Succeeded | Self::Failed)
    }

    /// True while no controller has handled the VirtualMachineInstance: unset or Pending.
    pub const fn is_unprocessed(self) -> bool {
        matches!(self, Self::Unset | Self::Pending)
    }
}

string_enum! {
    /// Human readable, high-level status of a VirtualMachine (`status.printableStatus`).
    #[derive(Default)]
    VirtualMachinePrintableStatus {
        /// The VirtualMachine is stopped and is not expected to start.
        #[default]
        Stopped => "Stopped",
        /// Resources of the VirtualMachine (e.g. DataVolumes) are being provisioned.
        Provisioning => "Provisioning",
        /// The VirtualMachine is being prepared for running.
        Starting => "Starting",
        /// The VirtualMachine is running.
        Running => "Running",
        /// The VirtualMachine is paused.
        Paused => "Paused",
        /// The VirtualMachine is being stopped.
        Stopping => "Stopping",
        /// The VirtualMachine and its resources are being deleted.
        Terminating => "Terminating",
        /// Start attempts keep failing and the next one waits for a back-off.
        CrashLoopBackOff => "CrashLoopBackOff",
        /// The VirtualMachine is being migrated to another host.
        Migrating => "Migrating",
        /// The state of the VirtualMachine cannot be obtained.
        Unknown => "Unknown",
        /// The launcher pod cannot be scheduled.
        ErrorUnschedulable => "ErrorUnschedulable",
        /// The launcher pod cannot pull an image.
        ErrImagePull => "ErrImagePull",
        /// Pulling an image of the launcher pod is backing off.
        ImagePullBackOff => "ImagePullBackOff",
        /// A PersistentVolumeClaim of the VirtualMachine does not exist.
        ErrorPvcNotFound => "ErrorPvcNotFound",
        /// A DataVolume of the VirtualMachine failed.
        DataVolumeError => "DataVolumeError",
        /// A PersistentVolumeClaim of the VirtualMachine waits to be bound.
        WaitingForVolumeBinding => "WaitingForVolumeBinding",
        /// The VirtualMachine waits to receive a decentralized live migration.
        WaitingForReceiver => "WaitingForReceiver",
    }
}

string_enum! {
    /// Action of a VirtualMachine state change request.
    #[derive(Default)]
    StateChangeRequestAction {
        /// Start the VirtualMachineInstance.
        #[default]
        Start => "Start",
        /// Stop the VirtualMachineInstance.
        Stop => "Stop",
    }
}

string_enum! {
    /// Phase of a VirtualMachineInstanceMigration.
    #[derive(Default)]
    VirtualMachineInstanceMigrationPhase {
        /// The phase has not been set yet.
        #[default]
        Unset => "",
        /// Accepted by the system.
        Pending => "Pending",
        /// The target pod is being scheduled.
        Scheduling => "Scheduling",
        /// The target pod is running.
        Scheduled => "Scheduled",
        /// The target node is being prepared.
        PreparingTarget => "PreparingTarget",
        /// The target node is ready to receive the guest.
        TargetReady => "TargetReady",
        /// The guest is being migrated.
        Running => "Running",
        /// The migration completed.
        Succeeded => "Succeeded",
        /// The migration failed.
        Failed => "Failed",
        /// A decentralized migration waits for its counterpart.
        WaitingForSync => "WaitingForSync",
        /// A decentralized migration synchronizes with its counterpart.
        Synchronizing => "Synchronizing",
    }
}

impl VirtualMachineInstanceMigrationPhase {
    /// True for the terminal phases, Succeeded and Failed.
    pub const fn is_final(self) -> bool {
        matches!(self, Self::Succeeded | Self::Failed)
    }
}

impl VirtualMachineSpec {
    /// The effective run strategy of the VirtualMachine.
    ///
    /// `running: true` means [`RunStrategy::Always`]; `running: false`, or neither field set,
    /// means [`RunStrategy::Halted`]; otherwise the value of `runStrategy` is used.
    ///
    /// # Errors
    ///
    /// [`RunStrategyError::MutuallyExclusive`] when both fields are set, and
    /// [`RunStrategyError::Unknown`] when `runStrategy` is not a known strategy.
    pub fn run_strategy(&self) -> Result<RunStrategy, RunStrategyError> {
        match (self.running, self.run_strategy.as_deref()) {
            (Some(_), Some(_)) => Err(RunStrategyError::MutuallyExclusive),
            (Some(true), None) => Ok(RunStrategy::Always),
            (Some(false), None) | (None, None) => Ok(RunStrategy::Halted),
            (None, Some(value)) => value
                .parse()
                .map_err(|_| RunStrategyError::Unknown(value.to_owned())),
        }
    }
}

impl VirtualMachineInstanceSpec {
    /// `terminationGracePeriodSeconds`, or [`DEFAULT_GRACE_PERIOD_SECONDS`] when it is not set.
    pub fn grace_period_seconds(&self) -> i64 {
        self.termination_grace_period_seconds
            .unwrap_or(DEFAULT_GRACE_PERIOD_SECONDS)
    }
}

impl VirtualMachineInstance {
    /// The phase in the status; [`VirtualMachineInstancePhase::Unset`] without a status.
    pub fn phase(&self) -> VirtualMachineInstancePhase {
        self.status
            .as_ref()
            .and_then(|s| s.phase)
            .unwrap_or_default()
    }

    /// True once the VirtualMachineInstance has succeeded or failed.
    pub fn is_final(&self) -> bool {
        self.phase().is_final()
    }

    /// True while no controller has handled the VirtualMachineInstance.
    pub fn is_unprocessed(&self) -> bool {
        self.phase().is_unprocessed()
    }

    /// True once a deletion of the VirtualMachineInstance was requested.
    pub fn is_marked_for_deletion(&self) -> bool {
        self.metadata.deletion_timestamp.is_some()
    }
}

impl VirtualMachineInstanceMigration {
    /// The phase in the status; [`VirtualMachineInstanceMigrationPhase::Unset`] without a status.
    pub fn phase(&self) -> VirtualMachineInstanceMigrationPhase {
        self.status
            .as_ref()
            .and_then(|s| s.phase)
            .unwrap_or_default()
    }

    /// True once the migration has succeeded or failed.
    pub fn is_final(&self) -> bool {
        self.phase().is_final()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(running: Option<bool>, run_strategy: Option<&str>) -> VirtualMachineSpec {
        VirtualMachineSpec {
            running,
            run_strategy: run_strategy.map(str::to_owned),
            ..Default::default()
        }
    }

    #[test]
    fn running_true_means_always() {
        assert_eq!(
            spec(Some(true), None).run_strategy(),
            Ok(RunStrategy::Always)
        );
    }

    #[test]
    fn running_false_or_nothing_means_halted() {
        assert_eq!(
            spec(Some(false), None).run_strategy(),
            Ok(RunStrategy::Halted)
        );
        assert_eq!(spec(None, None).run_strategy(), Ok(RunStrategy::Halted));
    }

    #[test]
    fn run_strategy_value_is_used_when_running_is_unset() {
        for strategy in RunStrategy::ALL {
            assert_eq!(
                spec(None, Some(strategy.as_str())).run_strategy(),
                Ok(*strategy)
            );
        }
    }

    #[test]
    fn running_and_run_strategy_together_are_rejected() {
        let err = spec(Some(false), Some("Always"))
            .run_strategy()
            .unwrap_err();
        assert_eq!(err, RunStrategyError::MutuallyExclusive);
        assert_eq!(
            err.to_string(),
            "running and runstrategy are mutually exclusive"
        );
    }

    #[test]
    fn unknown_run_strategy_is_reported_with_its_value() {
        assert_eq!(
            spec(None, Some("Sometimes")).run_strategy(),
            Err(RunStrategyError::Unknown("Sometimes".into()))
        );
    }

    #[test]
    fn final_phases_are_succeeded_and_failed() {
        let finals: Vec<_> = VirtualMachineInstancePhase::ALL
            .iter()
            .filter(|p| p.is_final())
            .map(|p| p.as_str())
            .collect();
        assert_eq!(finals, ["Succeeded", "Failed"]);
    }

    #[test]
    fn unprocessed_phases_are_unset_and_pending() {
        let unprocessed: Vec<_> = VirtualMachineInstancePhase::ALL
            .iter()
            .filter(|p| p.is_unprocessed())
            .map(|p| p.as_str())
            .collect();
        assert_eq!(unprocessed, ["", "Pending"]);
    }

    #[test]
    fn grace_period_defaults_to_thirty_seconds() {
        let mut spec = VirtualMachineInstanceSpec::default();
        assert_eq!(spec.grace_period_seconds(), 30);
        spec.termination_grace_period_seconds = Some(0);
        assert_eq!(spec.grace_period_seconds(), 0);
    }

    #[test]
    fn vmi_without_status_is_unprocessed() {
        let mut vmi = VirtualMachineInstance::new("a", VirtualMachineInstanceSpec::default());
        assert_eq!(vmi.phase(), VirtualMachineInstancePhase::Unset);
        assert!(vmi.is_unprocessed() && !vmi.is_final());
        vmi.status = Some(crate::VirtualMachineInstanceStatus {
            phase: Some(VirtualMachineInstancePhase::Failed),
            ..Default::default()
        });
        assert!(vmi.is_final() && !vmi.is_unprocessed());
    }

    #[test]
    fn enums_round_trip_through_their_strings() {
        for status in VirtualMachinePrintableStatus::ALL {
            let json = serde_json::to_value(status).unwrap();
            assert_eq!(json, serde_json::Value::String(status.as_str().into()));
            let back: VirtualMachinePrintableStatus = serde_json::from_value(json).unwrap();
            assert_eq!(back, *status);
        }
        let phase: VirtualMachineInstancePhase = serde_json::from_str("\"\"").unwrap();
        assert_eq!(phase, VirtualMachineInstancePhase::Unset);
    }

    #[test]
    fn unknown_enum_string_fails_to_decode() {
        let err = serde_json::from_str::<StateChangeRequestAction>("\"Restart\"").unwrap_err();
        assert!(
            err.to_string()
                .contains("unknown StateChangeRequestAction \"Restart\""),
            "{err}"
        );
    }

    #[test]
    fn enum_schema_lists_every_value() {
        let schema = schemars::schema_for!(VirtualMachinePrintableStatus);
        let values = schema.get("enum").and_then(|v| v.as_array()).unwrap();
        assert_eq!(values.len(), VirtualMachinePrintableStatus::ALL.len());
        assert!(values.contains(&serde_json::json!("WaitingForReceiver")));
    }
}
