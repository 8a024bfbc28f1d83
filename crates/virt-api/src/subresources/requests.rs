//! The JSON patches of the lifecycle subresources: the `status.stateChangeRequests` list, the
//! run-strategy flip, and the VMI grace period. Pure functions of the observed objects.
//!
//! Every patch starts with a `test` of the value the decision was based on, so a concurrent
//! change makes the API server reject the patch (virt-api answers 409) instead of acting on
//! stale state.

use std::collections::BTreeMap;

use api::{
    StateChangeRequestAction, VirtualMachineSpec, VirtualMachineStateChangeRequest,
    VirtualMachineStatus,
};
use serde::Serialize;
use serde_json::{Value, json};

use super::error::SubresourceError;

/// `status.stateChangeRequests` key of a paused start.
pub const START_PAUSED_KEY: &str = "paused";
/// Value of [`START_PAUSED_KEY`].
pub const START_PAUSED_TRUE: &str = "true";

fn to_value<T: Serialize>(v: &T) -> Value {
    serde_json::to_value(v).unwrap_or(Value::Null)
}

/// A `test` operation.
pub fn test_op(path: &str, value: Value) -> Value {
    json!({"op": "test", "path": path, "value": value})
}

/// An `add` operation.
pub fn add_op(path: &str, value: Value) -> Value {
    json!({"op": "add", "path": path, "value": value})
}

/// A `replace` operation.
pub fn replace_op(path: &str, value: Value) -> Value {
    json!({"op": "replace", "path": path, "value": value})
}

/// A `remove` operation.
pub fn remove_op(path: &str) -> Value {
    json!({"op": "remove", "path": path})
}

/// Tests that `path` holds `old` (null when absent), then sets it to `new`.
///
/// Upstream always writes `replace`; RFC 6902 rejects a `replace` of a missing member, so an
/// absent field is written with `add`, which has the same effect on an object member.
fn test_and_set(path: &str, old: Option<Value>, new: Value) -> Vec<Value> {
    match old {
        Some(old) => vec![test_op(path, old), replace_op(path, new)],
        None => vec![test_op(path, Value::Null), add_op(path, new)],
    }
}

/// A `Stop` request fenced to the VMI `uid`.
pub fn stop_request(uid: &str) -> VirtualMachineStateChangeRequest {
    VirtualMachineStateChangeRequest {
        action: StateChangeRequestAction::Stop,
        data: None,
        uid: Some(uid.to_owned()),
    }
}

/// A `Start` request; a paused start carries `data: {paused: "true"}`.
pub fn start_request(paused: bool) -> VirtualMachineStateChangeRequest {
    let data = paused
        .then(|| BTreeMap::from([(START_PAUSED_KEY.to_owned(), START_PAUSED_TRUE.to_owned())]));
    VirtualMachineStateChangeRequest {
        action: StateChangeRequestAction::Start,
        data,
        uid: None,
    }
}

/// True when a status holds nothing but zero values, as upstream's semantic comparison with an
/// empty `VirtualMachineStatus` (empty and absent lists are equal, `false` equals unset).
fn status_is_empty(status: Option<&VirtualMachineStatus>) -> bool {
    let Some(status) = status else {
        return true;
    };
    match to_value(status) {
        Value::Object(fields) => fields.values().all(|v| match v {
            Value::Null => true,
            Value::Bool(b) => !b,
            Value::Number(n) => n.as_f64() == Some(0.0),
            Value::String(s) => s.is_empty(),
            Value::Array(a) => a.is_empty(),
            Value::Object(o) => o.is_empty(),
        }),
        _ => true,
    }
}

/// The status JSON patch that queues `changes` (upstream `getChangeRequestJson`):
/// - no status at all: `add /status {stateChangeRequests: changes}`;
/// - otherwise `test` the current list, then `add` the changes when it is empty, or `replace`
///   it when the change is a single `Stop` (a stop overrides whatever is queued);
/// - anything else is refused: a start or restart is already underway;
/// - a recorded `startFailure` is removed in the same patch, so a manual action resets the
///   crash-loop backoff.
pub fn state_change_patch(
    status: Option<&VirtualMachineStatus>,
    changes: &[VirtualMachineStateChangeRequest],
) -> Result<Vec<Value>, SubresourceError> {
    let mut ops = Vec::new();
    if status_is_empty(status) {
        let new = VirtualMachineStatus {
            state_change_requests: Some(changes.to_vec()),
            ..Default::default()
        };
        ops.push(add_op("/status", to_value(&new)));
    } else {
        let current = status.and_then(|s| s.state_change_requests.as_ref());
        ops.push(test_op("/status/stateChangeRequests", to_value(&current)));
        let single_stop = changes.len() == 1 && changes[0].action == StateChangeRequestAction::Stop;
        if current.is_none_or(Vec::is_empty) {
            ops.push(add_op("/status/stateChangeRequests", to_value(&changes)));
        } else if single_stop {
            ops.push(replace_op(
                "/status/stateChangeRequests",
                to_value(&changes),
            ));
        } else {
            return Err(SubresourceError::Internal(
                "unable to complete request: stop/start already underway".into(),
            ));
        }
    }
    if status.is_some_and(|s| s.start_failure.is_some()) {
        ops.push(remove_op("/status/startFailure"));
    }
    Ok(ops)
}

/// The spec JSON patch that sets the run strategy to `Always` (`running`) or `Halted`; a VM
/// that still uses the deprecated `spec.running` gets that field flipped instead.
pub fn run_strategy_patch(spec: &VirtualMachineSpec, running: bool) -> Vec<Value> {
    match &spec.run_strategy {
        Some(current) => {
            let new = if running { "Always" } else { "Halted" };
            test_and_set("/spec/runStrategy", Some(json!(current)), json!(new))
        }
        None => test_and_set(
            "/spec/running",
            spec.running.map(Value::Bool),
            json!(running),
        ),
    }
}

/// The VMI JSON patch that changes `spec.terminationGracePeriodSeconds` from `old` to `new`.
pub fn grace_period_patch(old: Option<i64>, new: i64) -> Vec<Value> {
    test_and_set(
        "/spec/terminationGracePeriodSeconds",
        old.map(|g| json!(g)),
        json!(new),
    )
}

/// The VMI JSON patch that undoes [`grace_period_patch`]`(old, applied)`.
///
/// Upstream restores `old` or 0 when the field was unset, which would leave the VMI with a
/// zero grace period; here an unset field is removed again.
pub fn grace_period_rollback(old: Option<i64>, applied: i64) -> Vec<Value> {
    let path = "/spec/terminationGracePeriodSeconds";
    let restore = match old {
        Some(g) => replace_op(path, json!(g)),
        None => remove_op(path),
    };
    vec![test_op(path, json!(applied)), restore]
}

#[cfg(test)]
mod tests {
    use super::*;
    use api::VirtualMachineStartFailure;

    fn status_with(
        requests: Option<Vec<VirtualMachineStateChangeRequest>>,
    ) -> VirtualMachineStatus {
        VirtualMachineStatus {
            created: Some(true),
            state_change_requests: requests,
            ..Default::default()
        }
    }

    fn list(requests: &[VirtualMachineStateChangeRequest]) -> Value {
        serde_json::to_value(requests).unwrap()
    }

    #[test]
    fn request_list_table() {
        let stop = stop_request("uid-1");
        let start = start_request(false);
        let both = [stop.clone(), start.clone()];
        // (status, changes, expected ops or None for an error)
        type Case = (
            Option<VirtualMachineStatus>,
            Vec<VirtualMachineStateChangeRequest>,
            Option<Vec<Value>>,
        );
        let cases: Vec<Case> = vec![
            // a stop request if the status exists
            (
                Some(status_with(None)),
                vec![stop.clone()],
                Some(vec![
                    test_op("/status/stateChangeRequests", Value::Null),
                    add_op("/status/stateChangeRequests", json!([stop])),
                ]),
            ),
            // a stop request if the status doesn't exist
            (
                None,
                vec![stop.clone()],
                Some(vec![add_op(
                    "/status",
                    json!({"stateChangeRequests": json!([stop])}),
                )]),
            ),
            // a restart request if the status exists
            (
                Some(status_with(None)),
                both.to_vec(),
                Some(vec![
                    test_op("/status/stateChangeRequests", Value::Null),
                    add_op("/status/stateChangeRequests", list(&both)),
                ]),
            ),
            // a restart request if the status doesn't exist
            (
                None,
                both.to_vec(),
                Some(vec![add_op(
                    "/status",
                    json!({"stateChangeRequests": list(&both)}),
                )]),
            ),
            // a start request on an empty, present list
            (
                Some(status_with(Some(vec![]))),
                vec![start.clone()],
                Some(vec![
                    test_op("/status/stateChangeRequests", json!([])),
                    add_op("/status/stateChangeRequests", json!([start])),
                ]),
            ),
            // a stop request overrides a queued start
            (
                Some(status_with(Some(vec![start.clone()]))),
                vec![stop.clone()],
                Some(vec![
                    test_op("/status/stateChangeRequests", json!([start])),
                    replace_op("/status/stateChangeRequests", json!([stop])),
                ]),
            ),
            // a start request while a stop is queued is refused
            (
                Some(status_with(Some(vec![stop.clone()]))),
                vec![start.clone()],
                None,
            ),
            // a restart request while a start is queued is refused
            (
                Some(status_with(Some(vec![start.clone()]))),
                both.to_vec(),
                None,
            ),
        ];
        for (i, (status, changes, expected)) in cases.into_iter().enumerate() {
            let got = state_change_patch(status.as_ref(), &changes);
            match expected {
                Some(ops) => assert_eq!(got.unwrap(), ops, "case {i}"),
                None => assert_eq!(
                    got.unwrap_err().to_string(),
                    "Internal error occurred: unable to complete request: stop/start already underway",
                    "case {i}"
                ),
            }
        }
    }

    #[test]
    fn status_of_zero_values_counts_as_empty() {
        let zero = VirtualMachineStatus {
            created: Some(false),
            state_change_requests: Some(vec![]),
            ..Default::default()
        };
        let ops = state_change_patch(Some(&zero), &[start_request(false)]).unwrap();
        assert_eq!(ops[0]["op"], "add");
        assert_eq!(ops[0]["path"], "/status");
    }

    #[test]
    fn start_failure_is_removed_with_the_requests() {
        let status = VirtualMachineStatus {
            start_failure: Some(VirtualMachineStartFailure {
                consecutive_fail_count: Some(2),
                ..Default::default()
            }),
            ..Default::default()
        };
        let ops = state_change_patch(Some(&status), &[start_request(false)]).unwrap();
        assert_eq!(ops.len(), 3);
        assert_eq!(ops[2], remove_op("/status/startFailure"));
    }

    #[test]
    fn paused_start_carries_the_paused_data_and_plain_start_none() {
        let paused = serde_json::to_value(start_request(true)).unwrap();
        assert_eq!(
            paused,
            json!({"action": "Start", "data": {"paused": "true"}})
        );
        let plain = serde_json::to_value(start_request(false)).unwrap();
        assert_eq!(plain, json!({"action": "Start"}));
        let stop = serde_json::to_value(stop_request("u")).unwrap();
        assert_eq!(stop, json!({"action": "Stop", "uid": "u"}));
    }

    #[test]
    fn run_strategy_patch_tests_then_replaces_the_field_in_use() {
        let spec = VirtualMachineSpec {
            run_strategy: Some("Manual".into()),
            ..Default::default()
        };
        assert_eq!(
            run_strategy_patch(&spec, false),
            vec![
                test_op("/spec/runStrategy", json!("Manual")),
                replace_op("/spec/runStrategy", json!("Halted"))
            ]
        );
        let legacy = VirtualMachineSpec {
            running: Some(false),
            ..Default::default()
        };
        assert_eq!(
            run_strategy_patch(&legacy, true),
            vec![
                test_op("/spec/running", json!(false)),
                replace_op("/spec/running", json!(true))
            ]
        );
    }

    #[test]
    fn grace_period_patch_tests_the_old_value_or_null() {
        assert_eq!(
            grace_period_patch(Some(600), 0),
            vec![
                test_op("/spec/terminationGracePeriodSeconds", json!(600)),
                replace_op("/spec/terminationGracePeriodSeconds", json!(0))
            ]
        );
        assert_eq!(
            grace_period_patch(None, 1),
            vec![
                test_op("/spec/terminationGracePeriodSeconds", Value::Null),
                add_op("/spec/terminationGracePeriodSeconds", json!(1))
            ]
        );
    }

    #[test]
    fn grace_period_rollback_restores_or_removes() {
        assert_eq!(
            grace_period_rollback(Some(600), 1),
            vec![
                test_op("/spec/terminationGracePeriodSeconds", json!(1)),
                replace_op("/spec/terminationGracePeriodSeconds", json!(600))
            ]
        );
        assert_eq!(
            grace_period_rollback(None, 1)[1],
            remove_op("/spec/terminationGracePeriodSeconds")
        );
    }
}
