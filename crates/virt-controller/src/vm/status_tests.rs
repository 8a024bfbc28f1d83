use super::*;
use crate::vm::revision::build_revision;
use crate::vm::testing::*;
use api::RunStrategy as RS;
use api::VirtualMachineInstancePhase as Phase;

fn input<'a>(
    vm: &'a VirtualMachine,
    vmi: Option<&'a VirtualMachineInstance>,
    revisions: &'a [ControllerRevision],
    storage: &'a StorageView,
) -> StatusInput<'a> {
    StatusInput {
        vm,
        observed_run_strategy: vm.spec.run_strategy().ok(),
        vmi,
        revisions,
        storage,
        sync_error: None,
        start_expected: false,
        stop_expected: false,
        now: now(),
    }
}

fn status(vm: &VirtualMachine, vmi: Option<&VirtualMachineInstance>) -> VirtualMachineStatus {
    compute_status(
        &input(vm, vmi, &[], &StorageView::default()),
        &mut FixedJitter { max: false },
    )
    .status
}

#[test]
fn backoff_delays_fall_in_upstream_ranges() {
    for (count, min, max) in [
        (0, 10, 15),
        (1, 10, 15),
        (2, 40, 60),
        (3, 90, 135),
        (4, 160, 240),
        (5, 250, 300),
        (6, 300, 300),
    ] {
        assert_eq!(
            start_backoff_seconds(count, 300, &mut FixedJitter { max: false }),
            min,
            "count {count}"
        );
        assert_eq!(
            start_backoff_seconds(count, 300, &mut FixedJitter { max: true }),
            max,
            "count {count}"
        );
        for _ in 0..200 {
            let d = start_backoff_seconds(count, 300, &mut RandomJitter);
            assert!((min..=max).contains(&d), "count {count}: {d}");
        }
    }
}

#[test]
fn a_vmi_failing_before_running_records_a_start_failure_once() {
    let v = vm(RS::Always);
    let failed = vmi(&v, Phase::Failed);
    let s = status(&v, Some(&failed));
    let f = s.start_failure.clone().unwrap();
    assert_eq!(f.consecutive_fail_count, Some(1));
    assert_eq!(f.last_failed_vmiuid.as_deref(), Some("vmi-uid"));
    assert_eq!(f.retry_after_timestamp, Some(at(10)));

    // The same VMI again does not count twice.
    let mut v2 = v.clone();
    v2.status = Some(s.clone());
    assert_eq!(status(&v2, Some(&failed)).start_failure, Some(f));

    // Another failed VMI counts once more, with a new retry time.
    let mut other = failed.clone();
    other.metadata.uid = Some("456".into());
    let f2 = status(&v2, Some(&other)).start_failure.unwrap();
    assert_eq!(f2.consecutive_fail_count, Some(2));
    assert_eq!(f2.last_failed_vmiuid.as_deref(), Some("456"));
    assert_eq!(f2.retry_after_timestamp, Some(at(40)));
}

#[test]
fn start_failures_clear_once_a_vmi_ran_or_the_strategy_does_not_restart() {
    let mut v = vm(RS::Always);
    status_mut(&mut v).start_failure = Some(VirtualMachineStartFailure {
        consecutive_fail_count: Some(1),
        last_failed_vmiuid: Some("123".into()),
        retry_after_timestamp: Some(at(-300)),
    });
    let ran = ever_running(vmi(&v, Phase::Running));
    assert_eq!(status(&v, Some(&ran)).start_failure, None);

    let failed = vmi(&v, Phase::Failed);
    for (strategy, kept) in [
        (RS::Halted, false),
        (RS::Manual, false),
        (RS::Always, true),
        (RS::RerunOnFailure, true),
        (RS::Once, true),
    ] {
        let mut w = v.clone();
        w.spec.run_strategy = Some(strategy.as_str().into());
        assert_eq!(
            status(&w, Some(&failed)).start_failure.is_some(),
            kept,
            "{strategy:?}"
        );
    }
}

#[test]
fn time_left_counts_down_to_the_retry_time() {
    let mut v = vm(RS::Always);
    assert_eq!(backoff_time_left(&v, now()), 0);
    status_mut(&mut v).start_failure = Some(VirtualMachineStartFailure {
        retry_after_timestamp: Some(at(300)),
        ..Default::default()
    });
    assert_eq!(backoff_time_left(&v, now()), 300);
    status_mut(&mut v)
        .start_failure
        .as_mut()
        .unwrap()
        .retry_after_timestamp = Some(at(-300));
    assert_eq!(backoff_time_left(&v, now()), 0);
}

#[test]
fn generations_follow_the_vmi_annotation() {
    // Template label patch while running: (generation, desired, observed, annotation) = (3, 3, 2, 2).
    let mut v = vm(RS::Always);
    v.metadata.generation = Some(3);
    let running = vmi(&v, Phase::Running);
    let s = status(&v, Some(&running));
    assert_eq!(
        (
            v.metadata.generation,
            s.desired_generation,
            s.observed_generation
        ),
        (Some(3), Some(3), Some(2))
    );
    // After a restart at generation 6 everything is 6.
    v.metadata.generation = Some(6);
    let mut restarted = vmi(&v, Phase::Running);
    restarted.metadata.annotations = Some(std::collections::BTreeMap::from([(
        VM_GENERATION_ANNOTATION.into(),
        "6".into(),
    )]));
    let s = status(&v, Some(&restarted));
    assert_eq!(
        (s.desired_generation, s.observed_generation),
        (Some(6), Some(6))
    );
    // Without a VMI the fields are left as they were.
    let s2 = status(
        &{
            let mut w = v.clone();
            w.status = Some(s.clone());
            w
        },
        None,
    );
    assert_eq!(
        (s2.desired_generation, s2.observed_generation),
        (Some(6), Some(6))
    );
}

#[test]
fn a_missing_annotation_is_backfilled_from_the_revision_name() {
    let v = vm(RS::Always);
    let mut running = vmi(&v, Phase::Running);
    running.metadata.annotations = None;
    let revisions = [build_revision(&v)];
    let storage = StorageView::default();
    let out = compute_status(
        &input(&v, Some(&running), &revisions, &storage),
        &mut FixedJitter { max: false },
    );
    assert_eq!(out.backfill_generation, Some(2));
    assert_eq!(out.status.observed_generation, Some(2));
    // Without the revision nothing is known.
    let out = compute_status(
        &input(&v, Some(&running), &[], &storage),
        &mut FixedJitter { max: false },
    );
    assert_eq!(
        (out.backfill_generation, out.status.observed_generation),
        (None, None)
    );
}

#[test]
fn created_ready_and_run_strategy_are_recorded() {
    let v = vm(RS::Always);
    let s = status(&v, None);
    assert_eq!((s.created, s.ready, s.run_strategy), (None, None, None));
    let running = with_condition(vmi(&v, Phase::Running), "Ready", "True", None);
    let s = status(&v, Some(&running));
    assert_eq!(
        (s.created, s.ready, s.run_strategy),
        (Some(true), Some(true), Some(RS::Always))
    );
    // Once recorded it follows the spec even without a VMI.
    let mut w = vm(RS::Halted);
    w.status = Some(s);
    assert_eq!(status(&w, None).run_strategy, Some(RS::Halted));
}

#[test]
fn handled_requests_are_trimmed_one_per_pass() {
    let v = vm(RS::Manual);
    let running = vmi(&v, Phase::Running);
    let cases = [
        (vec![stop_request(Some("vmi-uid"))], Some(&running), 1),
        (vec![stop_request(Some("old"))], Some(&running), 0),
        (vec![stop_request(None)], Some(&running), 0),
        (vec![stop_request(Some("vmi-uid"))], None, 0),
        (vec![start_request()], Some(&running), 0),
        (vec![start_request()], None, 1),
        (vec![stop_request(Some("x")), start_request()], None, 1),
    ];
    let deleting_vmi = deleting(running.clone());
    let final_vmi = vmi(&v, Phase::Succeeded);
    for (requests, vmi, left) in cases.into_iter().chain([
        (vec![start_request()], Some(&deleting_vmi), 1),
        (vec![start_request()], Some(&final_vmi), 1),
    ]) {
        let w = with_requests(v.clone(), requests.clone());
        let got = status(&w, vmi).state_change_requests.map_or(0, |r| r.len());
        assert_eq!(got, left, "{requests:?} with {:?}", vmi.map(|v| v.phase()));
    }
}

#[test]
fn ready_condition_mirrors_the_vmi() {
    let v = vm(RS::Always);
    let cond = |s: &VirtualMachineStatus, t: &str| {
        s.conditions
            .iter()
            .flatten()
            .find(|c| c.type_ == t)
            .cloned()
    };
    let s = status(&v, None);
    let ready = cond(&s, "Ready").unwrap();
    assert_eq!(
        (ready.status.as_str(), ready.reason.as_deref()),
        ("False", Some("VMINotExists"))
    );
    assert_eq!(ready.message.as_deref(), Some("VMI does not exist"));

    let running = vmi(&v, Phase::Running);
    let ready = cond(&status(&v, Some(&running)), "Ready").unwrap();
    assert_eq!(ready.reason.as_deref(), Some("VMIConditionMissing"));

    let running = with_condition(running, "Ready", "True", None);
    let ready = cond(&status(&v, Some(&running)), "Ready").unwrap();
    assert_eq!(
        (ready.status.as_str(), ready.reason.as_deref()),
        ("True", None)
    );
}

#[test]
fn vmi_conditions_are_copied_and_removed_with_the_vmi_condition() {
    let v = vm(RS::Always);
    let paused = with_condition(
        vmi(&v, Phase::Running),
        "Paused",
        "True",
        Some("PausedByUser"),
    );
    let s = status(&v, Some(&paused));
    assert!(
        s.conditions
            .iter()
            .flatten()
            .any(|c| c.type_ == "Paused" && c.status == "True")
    );
    let mut w = v.clone();
    w.status = Some(s.clone());
    let s = status(&w, Some(&vmi(&v, Phase::Running)));
    assert!(!s.conditions.iter().flatten().any(|c| c.type_ == "Paused"));
    // Without a VMI, mirrored conditions stay.
    let s = status(
        &{
            let mut x = v.clone();
            x.status = Some(status(&v, Some(&paused)));
            x
        },
        None,
    );
    assert!(s.conditions.iter().flatten().any(|c| c.type_ == "Paused"));
}

#[test]
fn a_condition_is_only_replaced_when_status_or_reason_change() {
    let mut conditions = vec![VirtualMachineCondition {
        type_: "Ready".into(),
        status: "False".into(),
        reason: Some("VMINotExists".into()),
        message: Some("VMI does not exist".into()),
        last_transition_time: Some(at(-1000)),
        last_probe_time: Some(at(-1000)),
    }];
    sync_conditions(&mut conditions, None, None, now());
    assert_eq!(conditions[0].last_transition_time, Some(at(-1000)));
}

#[test]
fn sync_errors_become_the_failure_condition_until_a_clean_pass() {
    let v = vm(RS::Always);
    let err = SyncError::new("FailedCreate", "Failure while starting VMI: boom");
    let storage = StorageView::default();
    let mut i = input(&v, None, &[], &storage);
    i.sync_error = Some(&err);
    let s = compute_status(&i, &mut FixedJitter { max: false }).status;
    let failure = s
        .conditions
        .iter()
        .flatten()
        .find(|c| c.type_ == "Failure")
        .unwrap();
    assert_eq!(failure.reason.as_deref(), Some("FailedCreate"));
    assert_eq!(
        failure.message.as_deref(),
        Some("Failure while starting VMI: boom")
    );
    let mut w = v.clone();
    w.status = Some(s);
    assert!(
        !status(&w, None)
            .conditions
            .iter()
            .flatten()
            .any(|c| c.type_ == "Failure")
    );
}

#[test]
fn the_vmi_finalizer_is_removed_from_final_vmis_only() {
    let v = vm(RS::Always);
    let storage = StorageView::default();
    let decide = |vmi: &VirtualMachineInstance| {
        compute_status(
            &input(&v, Some(vmi), &[], &storage),
            &mut FixedJitter { max: false },
        )
        .remove_vmi_finalizer
    };
    assert!(!decide(&vmi(&v, Phase::Running)));
    assert!(decide(&vmi(&v, Phase::Succeeded)));
    assert!(decide(&vmi(&v, Phase::Failed)));
    assert!(!decide(&vmi(&v, Phase::WaitingForSync)));
    assert!(decide(&deleting(vmi(&v, Phase::WaitingForSync))));
    let mut without = vmi(&v, Phase::Failed);
    without.metadata.finalizers = None;
    assert!(!decide(&without));
}

#[test]
fn an_unchanged_world_computes_an_unchanged_status() {
    let v = vm(RS::Always);
    let running = with_condition(ever_running(vmi(&v, Phase::Running)), "Ready", "True", None);
    let first = status(&v, Some(&running));
    let mut w = v.clone();
    w.status = Some(first.clone());
    assert_eq!(status(&w, Some(&running)), first);
}
