//! `start`, `stop` and `restart` of a VirtualMachine (upstream `lifecycle.go`).
//!
//! The decisions are pure functions of the VM, its VMI and the options ([`plan_start`],
//! [`plan_stop`], [`plan_restart`]); the handlers below only fetch, apply the planned patches
//! in order and map failures. Strategies that the VM controller drives from the spec (Always,
//! Once, Halted) get their spec flipped; Manual and RerunOnFailure get uid-fenced requests in
//! `status.stateChangeRequests`.

use api::keys::{vm_condition, vmi_condition};
use api::{
    RestartOptions, RunStrategy, StartOptions, StopOptions, VirtualMachine, VirtualMachineInstance,
    VirtualMachineInstancePhase,
};
use apiserver::server::Sub;
use axum::body::Body;
use axum::response::Response;
use http::StatusCode;
use serde_json::Value;

use super::error::{Kind, MANUAL_RECOVERY_REQUIRED, SubresourceError, VM_NOT_RUNNING};
use super::requests::{
    grace_period_patch, grace_period_rollback, run_strategy_patch, start_request,
    state_change_patch, stop_request,
};
use super::{Ctx, dry_run, empty_response, read_options, vm_patch_error};

/// A JSON patch of a VirtualMachine.
#[derive(Debug, Clone, PartialEq)]
pub enum VmPatch {
    /// Sent to the main resource (the run strategy).
    Spec(Vec<Value>),
    /// Sent to the `status` subresource (the request list).
    Status(Vec<Value>),
}

/// What `stop` does.
#[derive(Debug, Clone, PartialEq)]
pub struct StopPlan {
    /// The VMI grace-period patch, applied first. **QUIRK** (kept from upstream): it is applied
    /// before the strategy checks, so a refused stop may still have shortened the grace period.
    pub grace: Option<Vec<Value>>,
    /// Then: the VM patch (none for WaitAsReceiver), or the refusal.
    pub then: Result<Option<VmPatch>, SubresourceError>,
}

/// A VMI grace-period change and its undo.
#[derive(Debug, Clone, PartialEq)]
pub struct GraceChange {
    pub apply: Vec<Value>,
    pub rollback: Vec<Value>,
}

/// What `restart` does.
#[derive(Debug, Clone, PartialEq)]
pub struct RestartPlan {
    /// For `gracePeriodSeconds: 0`: set the VMI grace period to 1 before queueing the requests,
    /// and undo it if queueing fails.
    pub grace: Option<GraceChange>,
    /// The status patch queueing `[Stop{uid}, Start]`.
    pub requests: Vec<Value>,
}

fn name(vm: &VirtualMachine) -> &str {
    vm.metadata.name.as_deref().unwrap_or_default()
}

fn uid(vmi: &VirtualMachineInstance) -> &str {
    vmi.metadata.uid.as_deref().unwrap_or_default()
}

fn has_true_condition(vm: &VirtualMachine, kind: &str) -> bool {
    vm.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|cs| {
            cs.iter()
                .any(|c| c.type_ == kind && c.status == api::keys::condition_status::TRUE)
        })
}

fn run_strategy(vm: &VirtualMachine) -> Result<RunStrategy, SubresourceError> {
    vm.spec
        .run_strategy()
        .map_err(|e| SubresourceError::Internal(e.to_string()))
}

/// Decides `start`: `Ok(None)` means 202 without any change.
pub fn plan_start(
    vm: &VirtualMachine,
    vmi: Option<&VirtualMachineInstance>,
    opts: &StartOptions,
) -> Result<Option<VmPatch>, SubresourceError> {
    let name = name(vm);
    if let Some(vmi) = vmi {
        let phase = vmi.phase();
        if !vmi.is_final()
            && !matches!(
                phase,
                VirtualMachineInstancePhase::Unknown | VirtualMachineInstancePhase::Unset
            )
        {
            return Err(SubresourceError::conflict(
                Kind::Vm,
                name,
                "VM is already running",
            ));
        }
    }
    if has_true_condition(vm, vm_condition::MANUAL_RECOVERY_REQUIRED) {
        return Err(SubresourceError::conflict(
            Kind::Vm,
            name,
            MANUAL_RECOVERY_REQUIRED,
        ));
    }
    let paused = opts.paused.unwrap_or(false);
    let status = vm.status.as_ref();
    let strategy = run_strategy(vm)?;
    match strategy {
        // QUIRK (kept): upstream means to skip the request when the template already starts
        // paused, but compares pointers, so a paused start always goes through the request
        // list; the VM controller then flips the strategy to Always.
        RunStrategy::Halted if paused => Ok(Some(VmPatch::Status(state_change_patch(
            status,
            &[start_request(true)],
        )?))),
        RunStrategy::Halted => Ok(Some(VmPatch::Spec(run_strategy_patch(&vm.spec, true)))),
        RunStrategy::Manual | RunStrategy::RerunOnFailure => {
            let phase = vmi.map(VirtualMachineInstance::phase);
            let rerun = strategy == RunStrategy::RerunOnFailure;
            let needs_restart = vmi.is_some_and(|vmi| {
                if rerun {
                    vmi.phase() == VirtualMachineInstancePhase::Succeeded
                } else {
                    vmi.is_final()
                }
            });
            if rerun && phase == Some(VirtualMachineInstancePhase::Failed) {
                return Err(SubresourceError::conflict(
                    Kind::Vm,
                    name,
                    "RerunOnFailure does not support starting VM from failed state",
                ));
            }
            let changes = match vmi {
                Some(vmi) if needs_restart => vec![stop_request(uid(vmi)), start_request(paused)],
                _ => vec![start_request(paused)],
            };
            Ok(Some(VmPatch::Status(state_change_patch(status, &changes)?)))
        }
        RunStrategy::Always | RunStrategy::Once => Err(SubresourceError::conflict(
            Kind::Vm,
            name,
            format!("{strategy} does not support manual start requests"),
        )),
        // QUIRK (kept): no upstream branch handles it; the request is accepted and ignored.
        RunStrategy::WaitAsReceiver => Ok(None),
    }
}

/// Decides `stop`. The outer error (an unreadable run strategy) comes before any change.
pub fn plan_stop(
    vm: &VirtualMachine,
    vmi: Option<&VirtualMachineInstance>,
    opts: &StopOptions,
) -> Result<StopPlan, SubresourceError> {
    let name = name(vm);
    let strategy = run_strategy(vm)?;
    let live = vmi.filter(|v| !v.is_final());
    let grace = match (live, opts.grace_period) {
        (Some(vmi), Some(g)) => Some(grace_period_patch(
            vmi.spec.termination_grace_period_seconds,
            g,
        )),
        _ => None,
    };
    let status = vm.status.as_ref();
    let not_running = || SubresourceError::conflict(Kind::Vm, name, VM_NOT_RUNNING);
    let then = match strategy {
        RunStrategy::Halted => match live {
            None => Err(not_running()),
            Some(vmi) => {
                // An unset VMI grace period is not compared (upstream only knows the old value
                // when it patched one), so any explicit grace period is "shorter".
                let shorter = match (opts.grace_period, vmi.spec.termination_grace_period_seconds) {
                    (None, _) => false,
                    (Some(new), Some(old)) => new < old,
                    (Some(_), None) => true,
                };
                if shorter {
                    state_change_patch(status, &[stop_request(uid(vmi))])
                        .map(|ops| Some(VmPatch::Status(ops)))
                } else {
                    Err(SubresourceError::conflict(
                        Kind::Vm,
                        name,
                        "Halted only supports manual stop requests with a shorter graceperiod",
                    ))
                }
            }
        },
        RunStrategy::Manual | RunStrategy::RerunOnFailure => match live {
            None => Err(not_running()),
            Some(vmi) => state_change_patch(status, &[stop_request(uid(vmi))])
                .map(|ops| Some(VmPatch::Status(ops))),
        },
        RunStrategy::Always | RunStrategy::Once => {
            Ok(Some(VmPatch::Spec(run_strategy_patch(&vm.spec, false))))
        }
        // QUIRK (kept): as for start, accepted and ignored.
        RunStrategy::WaitAsReceiver => Ok(None),
    };
    Ok(StopPlan { grace, then })
}

/// Checks the restart options before anything is read (400s).
pub fn check_restart_options(opts: &RestartOptions) -> Result<(), SubresourceError> {
    match opts.grace_period_seconds {
        Some(g) if g > 0 => Err(SubresourceError::BadRequest(
            "For force restart, only gracePeriod=0 is supported for now".into(),
        )),
        Some(g) if g < 0 => Err(SubresourceError::BadRequest(
            "gracePeriod has to be greater or equal to 0".into(),
        )),
        _ => Ok(()),
    }
}

/// Decides `restart`.
///
/// Upstream patches the VMI grace period before building the request patch and does not undo
/// it when the requests cannot be queued (a start or stop already underway); here the request
/// patch is built first, so such a refusal changes nothing.
pub fn plan_restart(
    vm: &VirtualMachine,
    vmi: Option<&VirtualMachineInstance>,
    opts: &RestartOptions,
) -> Result<RestartPlan, SubresourceError> {
    let name = name(vm);
    if has_true_condition(vm, vmi_condition::VOLUMES_CHANGE) {
        return Err(SubresourceError::conflict(
            Kind::Vm,
            name,
            MANUAL_RECOVERY_REQUIRED,
        ));
    }
    let strategy = run_strategy(vm)?;
    if matches!(strategy, RunStrategy::Halted | RunStrategy::Once) {
        // The typo "RunStategy" is upstream's; clients match on it.
        return Err(SubresourceError::conflict(
            Kind::Vm,
            name,
            format!("RunStategy {strategy} does not support manual restart requests"),
        ));
    }
    let Some(vmi) = vmi else {
        // QUIRK (kept): "Halted" whatever the strategy.
        return Err(SubresourceError::conflict(
            Kind::Vm,
            name,
            "VM is not running: Halted",
        ));
    };
    let requests = state_change_patch(
        vm.status.as_ref(),
        &[stop_request(uid(vmi)), start_request(false)],
    )?;
    // "Force" restart: grace 1 is the shortest period that still lets the guest shut down.
    let grace = (opts.grace_period_seconds == Some(0)).then(|| {
        let old = vmi.spec.termination_grace_period_seconds;
        GraceChange {
            apply: grace_period_patch(old, 1),
            rollback: grace_period_rollback(old, 1),
        }
    });
    Ok(RestartPlan { grace, requests })
}

async fn apply_vm(ctx: &Ctx, patch: &VmPatch, dry_run: bool) -> Result<(), SubresourceError> {
    let (sub, ops) = match patch {
        VmPatch::Spec(ops) => (Sub::Main, ops),
        VmPatch::Status(ops) => (Sub::Status, ops),
    };
    ctx.patch_vm(sub, ops, dry_run)
        .await
        .map_err(|e| vm_patch_error(ctx.name(), e))
}

async fn patch_grace(ctx: &Ctx, ops: &[Value], dry_run: bool) -> Result<(), SubresourceError> {
    ctx.patch_vmi(ops, dry_run)
        .await
        .map_err(|e| SubresourceError::Internal(e.to_string()))
}

/// `PUT .../virtualmachines/{name}/start`.
pub(crate) async fn start(ctx: &Ctx, body: Body) -> Result<Response, SubresourceError> {
    let opts: StartOptions = read_options(body).await?;
    let dry = dry_run(opts.dry_run.as_deref())?;
    let vm = ctx.vm().await?;
    let vmi = ctx.vmi_opt().await?;
    if let Some(patch) = plan_start(&vm, vmi.as_ref(), &opts)? {
        apply_vm(ctx, &patch, dry).await?;
    }
    Ok(empty_response(StatusCode::ACCEPTED))
}

/// `PUT .../virtualmachines/{name}/stop`.
pub(crate) async fn stop(ctx: &Ctx, body: Body) -> Result<Response, SubresourceError> {
    let opts: StopOptions = read_options(body).await?;
    let dry = dry_run(opts.dry_run.as_deref())?;
    let vm = ctx.vm().await?;
    let vmi = ctx.vmi_opt().await?;
    let plan = plan_stop(&vm, vmi.as_ref(), &opts)?;
    if let Some(ops) = &plan.grace {
        patch_grace(ctx, ops, dry).await?;
    }
    if let Some(patch) = plan.then? {
        apply_vm(ctx, &patch, dry).await?;
    }
    Ok(empty_response(StatusCode::ACCEPTED))
}

/// `PUT .../virtualmachines/{name}/restart`.
pub(crate) async fn restart(ctx: &Ctx, body: Body) -> Result<Response, SubresourceError> {
    let opts: RestartOptions = read_options(body).await?;
    check_restart_options(&opts)?;
    let dry = dry_run(opts.dry_run.as_deref())?;
    let vm = ctx.vm().await?;
    let vmi = ctx.vmi_opt().await?;
    let plan = plan_restart(&vm, vmi.as_ref(), &opts)?;
    if let Some(grace) = &plan.grace {
        patch_grace(ctx, &grace.apply, dry).await?;
    }
    if let Err(e) = ctx.patch_vm(Sub::Status, &plan.requests, dry).await {
        // A dry run changed nothing, so there is nothing to undo.
        if let (Some(grace), false) = (&plan.grace, dry)
            && let Err(rollback) = ctx.patch_vmi(&grace.rollback, false).await
        {
            tracing::error!(vmi = %ctx.name(), error = %rollback,
                "failed to roll back the VMI terminationGracePeriodSeconds");
        }
        return Err(vm_patch_error(ctx.name(), e));
    }
    Ok(empty_response(StatusCode::ACCEPTED))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::subresources::requests::{add_op, replace_op, test_op};
    use api::{
        VirtualMachineCondition, VirtualMachineInstanceSpec, VirtualMachineInstanceStatus,
        VirtualMachineSpec, VirtualMachineStatus,
    };
    use apiserver::ApiError;
    use serde_json::json;

    const UID: &str = "vmi-uid";

    fn vm(strategy: &str) -> VirtualMachine {
        let mut vm = VirtualMachine::new("testvm", VirtualMachineSpec::default());
        match strategy {
            "running:true" => vm.spec.running = Some(true),
            "running:false" => vm.spec.running = Some(false),
            s => vm.spec.run_strategy = Some(s.to_owned()),
        }
        vm
    }

    fn vmi(phase: VirtualMachineInstancePhase, grace: Option<i64>) -> VirtualMachineInstance {
        let mut vmi = VirtualMachineInstance::new(
            "testvm",
            VirtualMachineInstanceSpec {
                termination_grace_period_seconds: grace,
                ..Default::default()
            },
        );
        vmi.metadata.uid = Some(UID.into());
        vmi.status = Some(VirtualMachineInstanceStatus {
            phase: Some(phase),
            ..Default::default()
        });
        vmi
    }

    fn with_condition(mut vm: VirtualMachine, kind: &str) -> VirtualMachine {
        vm.status = Some(VirtualMachineStatus {
            conditions: Some(vec![VirtualMachineCondition {
                type_: kind.into(),
                status: "True".into(),
                ..Default::default()
            }]),
            ..Default::default()
        });
        vm
    }

    /// Code and message of an error as the client sees them.
    fn seen(e: SubresourceError) -> (u16, String) {
        let e = ApiError::from(e);
        (e.status().0.as_u16(), e.to_string())
    }

    fn requests(list: Value) -> VmPatch {
        VmPatch::Status(vec![add_op(
            "/status",
            json!({"stateChangeRequests": list}),
        )])
    }

    use VirtualMachineInstancePhase::{Failed, Running, Succeeded, Unknown, Unset};

    #[test]
    fn start_matrix() {
        let stop_start = json!([{"action": "Stop", "uid": UID}, {"action": "Start"}]);
        let start = json!([{"action": "Start"}]);
        // (strategy, VMI phase or None, paused, expected patch or (code, message))
        type Case = (
            &'static str,
            Option<VirtualMachineInstancePhase>,
            bool,
            Result<Option<VmPatch>, (u16, &'static str)>,
        );
        let cases: Vec<Case> = vec![
            (
                "Always",
                Some(Running),
                false,
                Err((409, "VM is already running")),
            ),
            (
                "Manual",
                Some(Running),
                false,
                Err((409, "VM is already running")),
            ),
            (
                "RerunOnFailure",
                Some(Failed),
                false,
                Err((
                    409,
                    "RerunOnFailure does not support starting VM from failed state",
                )),
            ),
            (
                "Always",
                None,
                false,
                Err((409, "Always does not support manual start requests")),
            ),
            (
                "Once",
                None,
                false,
                Err((409, "Once does not support manual start requests")),
            ),
            (
                "Always",
                Some(Succeeded),
                false,
                Err((409, "Always does not support manual start requests")),
            ),
            (
                "RerunOnFailure",
                Some(Succeeded),
                false,
                Ok(Some(requests(stop_start.clone()))),
            ),
            (
                "Manual",
                Some(Succeeded),
                false,
                Ok(Some(requests(stop_start.clone()))),
            ),
            (
                "Manual",
                Some(Failed),
                false,
                Ok(Some(requests(stop_start.clone()))),
            ),
            ("Manual", None, false, Ok(Some(requests(start.clone())))),
            (
                "Manual",
                Some(Unknown),
                false,
                Ok(Some(requests(start.clone()))),
            ),
            (
                "Manual",
                Some(Unset),
                false,
                Ok(Some(requests(start.clone()))),
            ),
            (
                "RerunOnFailure",
                None,
                false,
                Ok(Some(requests(start.clone()))),
            ),
            (
                "Manual",
                None,
                true,
                Ok(Some(requests(
                    json!([{"action": "Start", "data": {"paused": "true"}}]),
                ))),
            ),
            (
                "Halted",
                None,
                false,
                Ok(Some(VmPatch::Spec(vec![
                    test_op("/spec/runStrategy", json!("Halted")),
                    replace_op("/spec/runStrategy", json!("Always")),
                ]))),
            ),
            (
                "running:false",
                Some(Unset),
                false,
                Ok(Some(VmPatch::Spec(vec![
                    test_op("/spec/running", json!(false)),
                    replace_op("/spec/running", json!(true)),
                ]))),
            ),
            (
                "Halted",
                None,
                true,
                Ok(Some(requests(
                    json!([{"action": "Start", "data": {"paused": "true"}}]),
                ))),
            ),
            ("WaitAsReceiver", None, false, Ok(None)),
        ];
        for (strategy, phase, paused, expected) in cases {
            let vmi = phase.map(|p| vmi(p, None));
            let opts = StartOptions {
                paused: Some(paused),
                ..Default::default()
            };
            let got = plan_start(&vm(strategy), vmi.as_ref(), &opts);
            let case = format!("{strategy} {phase:?} paused={paused}");
            match expected {
                Ok(patch) => assert_eq!(got.unwrap(), patch, "{case}"),
                Err((code, message)) => {
                    let (got_code, got_message) = seen(got.unwrap_err());
                    assert_eq!(got_code, code, "{case}");
                    assert!(got_message.ends_with(message), "{case}: {got_message}");
                }
            }
        }
    }

    #[test]
    fn start_needs_manual_recovery_to_be_resolved() {
        let vm = with_condition(vm("Manual"), vm_condition::MANUAL_RECOVERY_REQUIRED);
        let (code, message) = seen(plan_start(&vm, None, &StartOptions::default()).unwrap_err());
        assert_eq!(code, 409);
        assert!(message.contains("VM recovery required"), "{message}");
    }

    #[test]
    fn stop_without_vmi_matrix() {
        let halted = VmPatch::Spec(vec![
            test_op("/spec/runStrategy", json!("Always")),
            replace_op("/spec/runStrategy", json!("Halted")),
        ]);
        for strategy in ["Always", "Once"] {
            let plan = plan_stop(&vm(strategy), None, &StopOptions::default()).unwrap();
            assert_eq!(plan.grace, None);
            let patch = plan.then.unwrap().unwrap();
            match strategy {
                "Always" => assert_eq!(patch, halted),
                _ => {
                    assert!(matches!(patch, VmPatch::Spec(ref ops) if ops[1]["value"] == "Halted"))
                }
            }
        }
        for strategy in ["Manual", "Halted", "RerunOnFailure"] {
            let plan = plan_stop(&vm(strategy), None, &StopOptions::default()).unwrap();
            let (code, message) = seen(plan.then.unwrap_err());
            assert_eq!(code, 409, "{strategy}");
            assert!(message.ends_with(VM_NOT_RUNNING), "{strategy}: {message}");
        }
    }

    #[test]
    fn stop_under_halted_needs_a_shorter_grace_period() {
        // (VMI grace, requested grace, refused)
        let cases = [
            (Some(1800), None, true),
            (Some(1800), Some(1800), true),
            (Some(1800), Some(2400), true),
            (None, Some(1800), false),
            (Some(1800), Some(800), false),
        ];
        for (vmi_grace, grace, refused) in cases {
            let vmi = vmi(Running, vmi_grace);
            let opts = StopOptions {
                grace_period: grace,
                ..Default::default()
            };
            let plan = plan_stop(&vm("Halted"), Some(&vmi), &opts).unwrap();
            // QUIRK: the grace period is patched even when the stop is refused.
            assert_eq!(plan.grace.is_some(), grace.is_some());
            match plan.then {
                Err(e) => {
                    assert!(refused, "{vmi_grace:?} {grace:?}");
                    assert!(seen(e).1.ends_with(
                        "Halted only supports manual stop requests with a shorter graceperiod"
                    ));
                }
                Ok(patch) => {
                    assert!(!refused, "{vmi_grace:?} {grace:?}");
                    assert_eq!(
                        patch,
                        Some(requests(json!([{"action": "Stop", "uid": UID}])))
                    );
                }
            }
        }
    }

    #[test]
    fn stop_of_a_vmi_in_unknown_phase_under_halted_is_refused() {
        let vmi = vmi(Unknown, None);
        let plan = plan_stop(&vm("Halted"), Some(&vmi), &StopOptions::default()).unwrap();
        assert!(
            seen(plan.then.unwrap_err())
                .1
                .contains("shorter graceperiod")
        );
    }

    #[test]
    fn stop_patches_the_grace_period_of_a_live_vmi_only() {
        let opts = StopOptions {
            grace_period: Some(0),
            ..Default::default()
        };
        let running = vmi(Running, Some(600));
        let plan = plan_stop(&vm("Always"), Some(&running), &opts).unwrap();
        assert_eq!(
            plan.grace,
            Some(vec![
                test_op("/spec/terminationGracePeriodSeconds", json!(600)),
                replace_op("/spec/terminationGracePeriodSeconds", json!(0)),
            ])
        );
        let failed = vmi(Failed, Some(600));
        let plan = plan_stop(&vm("Always"), Some(&failed), &opts).unwrap();
        assert_eq!(plan.grace, None);
        assert!(matches!(plan.then, Ok(Some(VmPatch::Spec(_)))));
    }

    #[test]
    fn stop_under_manual_overrides_a_queued_start() {
        let mut vm = vm("Manual");
        vm.status = Some(VirtualMachineStatus {
            state_change_requests: Some(vec![start_request(false)]),
            ..Default::default()
        });
        let running = vmi(Running, None);
        let plan = plan_stop(&vm, Some(&running), &StopOptions::default()).unwrap();
        assert_eq!(
            plan.then.unwrap().unwrap(),
            VmPatch::Status(vec![
                test_op("/status/stateChangeRequests", json!([{"action": "Start"}])),
                replace_op(
                    "/status/stateChangeRequests",
                    json!([{"action": "Stop", "uid": UID}])
                ),
            ])
        );
    }

    #[test]
    fn restart_options_allow_only_grace_zero() {
        let opts = |g| RestartOptions {
            grace_period_seconds: Some(g),
            ..Default::default()
        };
        assert_eq!(
            seen(check_restart_options(&opts(5)).unwrap_err()),
            (
                400,
                "For force restart, only gracePeriod=0 is supported for now".into()
            )
        );
        assert_eq!(
            seen(check_restart_options(&opts(-1)).unwrap_err()),
            (400, "gracePeriod has to be greater or equal to 0".into())
        );
        assert!(check_restart_options(&opts(0)).is_ok());
        assert!(check_restart_options(&RestartOptions::default()).is_ok());
    }

    #[test]
    fn restart_refusals() {
        let running = vmi(Running, None);
        let cases = [
            (
                "Halted",
                true,
                "RunStategy Halted does not support manual restart requests",
            ),
            (
                "running:false",
                true,
                "RunStategy Halted does not support manual restart requests",
            ),
            (
                "Once",
                true,
                "RunStategy Once does not support manual restart requests",
            ),
            ("Manual", false, "VM is not running: Halted"),
            ("Always", false, "VM is not running: Halted"),
            ("RerunOnFailure", false, "VM is not running: Halted"),
        ];
        for (strategy, with_vmi, message) in cases {
            let vmi = with_vmi.then_some(&running);
            let err = plan_restart(&vm(strategy), vmi, &RestartOptions::default()).unwrap_err();
            let (code, got) = seen(err);
            assert_eq!(code, 409, "{strategy}");
            assert!(got.ends_with(message), "{strategy}: {got}");
        }
        let changing = with_condition(vm("Always"), vmi_condition::VOLUMES_CHANGE);
        let (_, got) =
            seen(plan_restart(&changing, Some(&running), &RestartOptions::default()).unwrap_err());
        assert!(got.contains("VM recovery required"));
    }

    #[test]
    fn restart_queues_stop_and_start_and_forces_grace_one() {
        for (old, test_value, set) in [
            (Some(600), json!(600), "replace"),
            (None, Value::Null, "add"),
        ] {
            let running = vmi(Running, old);
            let opts = RestartOptions {
                grace_period_seconds: Some(0),
                ..Default::default()
            };
            let plan = plan_restart(&vm("Always"), Some(&running), &opts).unwrap();
            assert_eq!(
                VmPatch::Status(plan.requests),
                requests(json!([{"action": "Stop", "uid": UID}, {"action": "Start"}]))
            );
            let grace = plan.grace.unwrap();
            assert_eq!(
                grace.apply[0],
                test_op("/spec/terminationGracePeriodSeconds", test_value)
            );
            assert_eq!(grace.apply[1]["op"], set);
            assert_eq!(grace.apply[1]["value"], 1);
            assert_eq!(
                grace.rollback[0],
                test_op("/spec/terminationGracePeriodSeconds", json!(1))
            );
        }
        let running = vmi(Running, Some(600));
        let plain =
            plan_restart(&vm("Manual"), Some(&running), &RestartOptions::default()).unwrap();
        assert_eq!(plain.grace, None);
    }

    #[test]
    fn restart_while_requests_are_queued_changes_nothing() {
        let mut vm = vm("Always");
        vm.status = Some(VirtualMachineStatus {
            state_change_requests: Some(vec![start_request(false)]),
            ..Default::default()
        });
        let running = vmi(Running, Some(600));
        let opts = RestartOptions {
            grace_period_seconds: Some(0),
            ..Default::default()
        };
        let (code, message) = seen(plan_restart(&vm, Some(&running), &opts).unwrap_err());
        assert_eq!(code, 500);
        assert!(message.contains("stop/start already underway"));
    }
}
