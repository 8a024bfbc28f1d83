use super::*;
use crate::vm::storage::DataVolumeState;
use crate::vm::testing::*;
use api::migration_state::VirtualMachineInstanceMigrationState;
use api::{
    DataVolumeSource, PersistentVolumeClaimVolumeSource, VirtualMachineStartFailure, Volume,
};

fn printable(
    vm: &VirtualMachine,
    vmi: Option<&VirtualMachineInstance>,
    start_expected: bool,
    stop_expected: bool,
) -> Printable {
    printable_status(
        vm,
        vmi,
        &StorageView::default(),
        start_expected,
        stop_expected,
        now(),
    )
}

#[test]
fn printable_status_table() {
    use Phase::*;
    let always = vm(RunStrategy::Always);
    let halted = vm(RunStrategy::Halted);
    let v = &always;
    type Row = (
        &'static str,
        VirtualMachine,
        Option<VirtualMachineInstance>,
        bool,
        bool,
        Printable,
    );
    let rows: Vec<Row> = vec![
        (
            "halted without VMI",
            halted.clone(),
            None,
            false,
            false,
            Printable::Stopped,
        ),
        (
            "add expected",
            always.clone(),
            None,
            true,
            false,
            Printable::Starting,
        ),
        (
            "unset phase",
            always.clone(),
            Some(vmi(v, Unset)),
            false,
            false,
            Printable::Starting,
        ),
        (
            "pending",
            always.clone(),
            Some(vmi(v, Pending)),
            false,
            false,
            Printable::Starting,
        ),
        (
            "scheduling",
            always.clone(),
            Some(vmi(v, Scheduling)),
            false,
            false,
            Printable::Starting,
        ),
        (
            "scheduled",
            always.clone(),
            Some(vmi(v, Scheduled)),
            false,
            false,
            Printable::Starting,
        ),
        (
            "running",
            always.clone(),
            Some(vmi(v, Running)),
            false,
            false,
            Printable::Running,
        ),
        (
            "running and paused",
            always.clone(),
            Some(with_condition(
                vmi(v, Running),
                "Paused",
                "True",
                Some("PausedByUser"),
            )),
            false,
            false,
            Printable::Paused,
        ),
        (
            "deleting running VMI",
            always.clone(),
            Some(deleting(vmi(v, Running))),
            false,
            false,
            Printable::Stopping,
        ),
        (
            "delete expected",
            always.clone(),
            Some(vmi(v, Running)),
            false,
            true,
            Printable::Stopping,
        ),
        (
            "deleting final VMI",
            halted.clone(),
            Some(deleting(vmi(v, Succeeded))),
            false,
            false,
            Printable::Stopped,
        ),
        (
            "succeeded",
            always.clone(),
            Some(vmi(v, Succeeded)),
            false,
            false,
            Printable::Stopped,
        ),
        (
            "failed",
            always.clone(),
            Some(vmi(v, Failed)),
            false,
            false,
            Printable::Stopped,
        ),
        (
            "unknown phase",
            always.clone(),
            Some(vmi(v, Unknown)),
            false,
            false,
            Printable::Unknown,
        ),
        (
            "unschedulable",
            always.clone(),
            Some(with_condition(
                vmi(v, Scheduling),
                "PodScheduled",
                "False",
                Some("Unschedulable"),
            )),
            false,
            false,
            Printable::ErrorUnschedulable,
        ),
        (
            "image pull",
            always.clone(),
            Some(with_condition(
                vmi(v, Scheduled),
                "Synchronized",
                "False",
                Some("ErrImagePull"),
            )),
            false,
            false,
            Printable::ErrImagePull,
        ),
        (
            "image pull backoff",
            always.clone(),
            Some(with_condition(
                vmi(v, Scheduled),
                "Synchronized",
                "False",
                Some("ImagePullBackOff"),
            )),
            false,
            false,
            Printable::ImagePullBackOff,
        ),
        (
            "pvc not found",
            always.clone(),
            Some(with_condition(
                vmi(v, Pending),
                "Synchronized",
                "False",
                Some("FailedPvcNotFound"),
            )),
            false,
            false,
            Printable::ErrorPvcNotFound,
        ),
    ];
    for (name, vm, vmi, start, stop, want) in rows {
        assert_eq!(printable(&vm, vmi.as_ref(), start, stop), want, "{name}");
    }
}

#[test]
fn a_deleted_vm_is_terminating_whatever_its_vmi() {
    let mut v = vm(RunStrategy::Always);
    v.metadata.deletion_timestamp = Some(at(0));
    for vmi in [
        None,
        Some(vmi(&v, Phase::Running)),
        Some(deleting(vmi(&v, Phase::Running))),
    ] {
        assert_eq!(
            printable(&v, vmi.as_ref(), false, false),
            Printable::Terminating
        );
    }
}

#[test]
fn a_started_migration_that_has_not_ended_is_migrating() {
    let v = vm(RunStrategy::Always);
    let mut migrating = vmi(&v, Phase::Running);
    migrating.status.as_mut().unwrap().migration_state =
        Some(VirtualMachineInstanceMigrationState {
            start_timestamp: Some(at(-10)),
            ..Default::default()
        });
    assert_eq!(
        printable(&v, Some(&migrating), false, false),
        Printable::Migrating
    );
    migrating
        .status
        .as_mut()
        .unwrap()
        .migration_state
        .as_mut()
        .unwrap()
        .end_timestamp = Some(at(-1));
    assert_eq!(
        printable(&v, Some(&migrating), false, false),
        Printable::Running
    );
}

#[test]
fn crash_loop_backoff_only_for_restarting_strategies() {
    for (strategy, has_vmi, want_crashloop) in [
        (RunStrategy::Always, false, true),
        (RunStrategy::RerunOnFailure, false, true),
        (RunStrategy::Once, false, true),
        (RunStrategy::Always, true, true),
        (RunStrategy::Halted, false, false),
        (RunStrategy::Manual, false, false),
    ] {
        let mut v = vm(strategy);
        status_mut(&mut v).start_failure = Some(VirtualMachineStartFailure {
            consecutive_fail_count: Some(1),
            ..Default::default()
        });
        let failed = has_vmi.then(|| vmi(&v, Phase::Failed));
        let got = printable(&v, failed.as_ref(), false, false);
        assert_eq!(
            got == Printable::CrashLoopBackOff,
            want_crashloop,
            "{strategy:?} vmi={has_vmi}: {got:?}"
        );
        // An expected start wins over the crash loop.
        if !has_vmi {
            assert_eq!(printable(&v, None, true, false), Printable::Starting);
        }
    }
}

#[test]
fn waiting_for_receiver_shows_for_a_receiver_vmi_waiting_for_sync() {
    let v = vm(RunStrategy::WaitAsReceiver);
    let waiting = vmi(&v, Phase::WaitingForSync);
    assert_eq!(
        printable(&v, Some(&waiting), false, false),
        Printable::WaitingForReceiver
    );
    let other = vm(RunStrategy::Always);
    assert_eq!(
        printable(
            &other,
            Some(&vmi(&other, Phase::WaitingForSync)),
            false,
            false
        ),
        Printable::Unknown
    );
}

fn with_dv_volume(mut v: VirtualMachine) -> VirtualMachine {
    v.spec
        .template
        .spec
        .as_mut()
        .unwrap()
        .volumes
        .as_mut()
        .unwrap()
        .push(Volume {
            name: "data".into(),
            data_volume: Some(DataVolumeSource {
                name: "dv1".into(),
                hotpluggable: None,
            }),
            ..Default::default()
        });
    v
}

#[test]
fn data_volume_states_shape_the_status() {
    let v = with_dv_volume(vm(RunStrategy::Always));
    let status_with = |state: DataVolumeState, pvc: Option<&str>| {
        let mut storage = StorageView::default();
        storage.data_volumes.insert("dv1".into(), state);
        if let Some(phase) = pvc {
            storage.pvcs.insert("dv1".into(), phase.into());
        }
        printable_status(&v, None, &storage, false, false, now())
    };
    let dv = |phase: &str, bound: bool| DataVolumeState {
        phase: phase.into(),
        bound,
        ..Default::default()
    };
    assert_eq!(
        status_with(dv("ImportInProgress", true), None),
        Printable::Provisioning
    );
    assert_eq!(
        status_with(dv("Failed", false), None),
        Printable::DataVolumeError
    );
    let erroring = DataVolumeState {
        running_error: Some("boom".into()),
        ..dv("ImportInProgress", true)
    };
    assert_eq!(status_with(erroring, None), Printable::DataVolumeError);
    assert_eq!(
        status_with(dv("WaitForFirstConsumer", false), Some("Pending")),
        Printable::WaitingForVolumeBinding
    );
    assert_eq!(
        status_with(dv("Succeeded", true), Some("Bound")),
        Printable::Stopped
    );
}

#[test]
fn an_unbound_claim_waits_for_binding_only_when_set_to_start() {
    let with_pvc = |strategy| {
        let mut v = vm(strategy);
        v.spec
            .template
            .spec
            .as_mut()
            .unwrap()
            .volumes
            .as_mut()
            .unwrap()
            .push(Volume {
                name: "data".into(),
                persistent_volume_claim: Some(PersistentVolumeClaimVolumeSource {
                    claim_name: "claim".into(),
                    ..Default::default()
                }),
                ..Default::default()
            });
        v
    };
    let mut storage = StorageView::default();
    storage.pvcs.insert("claim".into(), "Pending".into());
    let started = with_pvc(RunStrategy::Always);
    assert_eq!(
        printable_status(&started, None, &storage, false, false, now()),
        Printable::WaitingForVolumeBinding
    );
    let stopped = with_pvc(RunStrategy::Halted);
    assert_eq!(
        printable_status(&stopped, None, &storage, false, false, now()),
        Printable::Stopped
    );
    // A RerunOnFailure VM that was stopped by hand is not set to start.
    let mut rerun = with_pvc(RunStrategy::RerunOnFailure);
    status_mut(&mut rerun).run_strategy = Some(RunStrategy::RerunOnFailure);
    assert_eq!(
        printable_status(&rerun, None, &storage, false, false, now()),
        Printable::Stopped
    );
    storage.pvcs.insert("claim".into(), "Bound".into());
    assert_eq!(
        printable_status(&started, None, &storage, false, false, now()),
        Printable::Stopped
    );
}

#[test]
fn set_to_start_follows_the_strategy_and_requests() {
    let running = |v: &VirtualMachine| vmi(v, Phase::Running);
    let manual = vm(RunStrategy::Manual);
    assert!(!is_set_to_start(&manual, None));
    assert!(is_set_to_start(
        &with_requests(manual.clone(), vec![start_request()]),
        None
    ));
    assert!(is_set_to_start(&manual, Some(&running(&manual))));
    let stopping = with_requests(manual.clone(), vec![stop_request(Some("vmi-uid"))]);
    assert!(!is_set_to_start(&stopping, Some(&running(&manual))));
    let once = vm(RunStrategy::Once);
    assert!(is_set_to_start(&once, None));
    assert!(!is_set_to_start(&once, Some(&running(&once))));
    let rerun = vm(RunStrategy::RerunOnFailure);
    assert!(!is_set_to_start(
        &rerun,
        Some(&vmi(&rerun, Phase::Succeeded))
    ));
    assert!(is_set_to_start(&rerun, Some(&vmi(&rerun, Phase::Failed))));
}
