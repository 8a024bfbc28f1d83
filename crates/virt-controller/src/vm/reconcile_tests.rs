use super::*;
use crate::vm::revision::build_revision;
use crate::vm::status::{StatusInput, compute_status};
use crate::vm::storage::DataVolumeState;
use crate::vm::testing::*;
use api::keys::{VIRTUAL_MACHINE_CONTROLLER_FINALIZER, vm_condition};
use api::{
    DataVolumeSource as VolumeDataVolume, DataVolumeTemplateSpec, RunStrategy as RS,
    StateChangeRequestAction, VirtualMachineCondition, VirtualMachineInstancePhase as Phase,
    VirtualMachineStartFailure, Volume,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use std::collections::BTreeMap;

struct World {
    vm: VirtualMachine,
    vmi: Option<VirtualMachineInstance>,
    revisions: Vec<ControllerRevision>,
    storage: StorageView,
    satisfied: bool,
    fenced: bool,
    config: SyncConfig,
}

impl World {
    fn new(vm: VirtualMachine, vmi: Option<VirtualMachineInstance>) -> Self {
        World {
            vm,
            vmi,
            revisions: Vec::new(),
            storage: StorageView::default(),
            satisfied: true,
            fenced: false,
            config: SyncConfig::default(),
        }
    }

    fn plan(&self) -> Plan {
        plan(&Observed {
            vm: &self.vm,
            vmi: self.vmi.as_ref(),
            revisions: &self.revisions,
            storage: &self.storage,
            expectations_satisfied: self.satisfied,
            name_fenced: self.fenced,
            now: now(),
            config: &self.config,
        })
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Vmi {
    Absent,
    Running,
    Succeeded,
    Failed,
    Deleting,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Req {
    None,
    Start,
    StopThis,
    StopOther,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Expect {
    Nothing,
    Create,
    Delete,
    DeleteAndRequestStart,
    StartFromHalted,
}

fn outcome(plan: &Plan) -> Expect {
    let has = |f: fn(&Action) -> bool| plan.actions.iter().any(f);
    let create = has(|a| matches!(a, Action::CreateVmi { .. }));
    let delete = has(|a| matches!(a, Action::DeleteVmi { .. }));
    let append = has(|a| matches!(a, Action::AppendStartRequest));
    let halted = has(|a| matches!(a, Action::StartFromHalted));
    match (create, delete, append, halted) {
        (true, false, false, false) => Expect::Create,
        (false, true, false, false) => Expect::Delete,
        (false, true, true, false) => Expect::DeleteAndRequestStart,
        (false, false, false, true) => Expect::StartFromHalted,
        (false, false, false, false) => Expect::Nothing,
        other => panic!("unexpected combination {other:?}: {:?}", plan.actions),
    }
}

fn world(strategy: RS, state: Vmi, req: Req) -> World {
    let mut v = vm(strategy);
    // The VM has been started before (status.runStrategy is recorded).
    status_mut(&mut v).run_strategy = Some(strategy);
    let request = match req {
        Req::None => None,
        Req::Start => Some(start_request()),
        Req::StopThis => Some(stop_request(Some("vmi-uid"))),
        Req::StopOther => Some(stop_request(Some("old-uid"))),
    };
    if let Some(r) = request {
        v = with_requests(v, vec![r]);
    }
    let vmi = match state {
        Vmi::Absent => None,
        Vmi::Running => Some(vmi(&v, Phase::Running)),
        Vmi::Succeeded => Some(vmi(&v, Phase::Succeeded)),
        Vmi::Failed => Some(vmi(&v, Phase::Failed)),
        Vmi::Deleting => Some(deleting(vmi(&v, Phase::Running))),
    };
    World::new(v, vmi)
}

const ALL_REQS: [Req; 4] = [Req::None, Req::Start, Req::StopThis, Req::StopOther];

/// Upstream's run strategy table (spec §2.2): strategy × VMI state × first request.
fn expected(strategy: RS, state: Vmi, req: Req) -> Expect {
    use Expect::*;
    match (strategy, state) {
        (_, Vmi::Deleting) => Nothing,
        (RS::Always, Vmi::Absent) => Create,
        (RS::Always, Vmi::Running) => {
            if req == Req::StopThis {
                Delete
            } else {
                Nothing
            }
        }
        (RS::Always, Vmi::Succeeded | Vmi::Failed) => Delete,
        (RS::RerunOnFailure, Vmi::Absent) => {
            if req == Req::Start {
                Create
            } else {
                Nothing
            }
        }
        (RS::RerunOnFailure, Vmi::Running) => {
            if req == Req::StopThis {
                Delete
            } else {
                Nothing
            }
        }
        (RS::RerunOnFailure, Vmi::Succeeded) => Delete,
        (RS::RerunOnFailure, Vmi::Failed) => DeleteAndRequestStart,
        (RS::Manual, Vmi::Absent) => {
            if req == Req::Start {
                Create
            } else {
                Nothing
            }
        }
        (RS::Manual, _) => {
            if req == Req::StopThis {
                Delete
            } else {
                Nothing
            }
        }
        (RS::Halted, Vmi::Absent) => {
            if req == Req::Start {
                StartFromHalted
            } else {
                Nothing
            }
        }
        (RS::Halted, _) => Delete,
        (RS::Once, Vmi::Absent) => Create,
        (RS::Once, _) => Nothing,
        (RS::WaitAsReceiver, _) => unreachable!("covered separately"),
    }
}

#[test]
fn run_strategy_table_matches_upstream() {
    let strategies = [
        RS::Always,
        RS::RerunOnFailure,
        RS::Manual,
        RS::Halted,
        RS::Once,
    ];
    let states = [
        Vmi::Absent,
        Vmi::Running,
        Vmi::Succeeded,
        Vmi::Failed,
        Vmi::Deleting,
    ];
    let mut rows = 0;
    for strategy in strategies {
        for state in states {
            for req in ALL_REQS {
                let w = world(strategy, state, req);
                let got = outcome(&w.plan());
                assert_eq!(
                    got,
                    expected(strategy, state, req),
                    "{strategy:?} × {state:?} × {req:?}"
                );
                rows += 1;
            }
        }
    }
    assert_eq!(rows, 100);
}

#[test]
fn stopping_drops_restart_required_and_deleting_vmis_are_not_deleted_again() {
    let mut w = world(RS::Halted, Vmi::Running, Req::None);
    status_mut(&mut w.vm).conditions = Some(vec![VirtualMachineCondition {
        type_: vm_condition::RESTART_REQUIRED.into(),
        status: "True".into(),
        ..Default::default()
    }]);
    let p = w.plan();
    assert_eq!(
        p.actions,
        vec![
            Action::DeleteVmi {
                name: "testvm".into(),
                uid: "vmi-uid".into()
            },
            Action::ClearRestartRequired
        ]
    );
    w.vmi = w.vmi.map(deleting);
    assert!(w.plan().actions.is_empty());
}

#[test]
fn starting_records_a_revision_and_creates_the_vmi_with_its_name() {
    let mut w = world(RS::Always, Vmi::Absent, Req::None);
    let mut older = w.vm.clone();
    older.metadata.generation = Some(1);
    w.revisions = vec![build_revision(&older)];
    let p = w.plan();
    assert_eq!(
        p.actions[0],
        Action::DeleteRevision {
            name: "revision-start-vm-vm-uid-1".into()
        }
    );
    let Action::CreateRevision { revision } = &p.actions[1] else {
        panic!("{:?}", p.actions)
    };
    assert_eq!(revision.revision, 2);
    let Action::CreateVmi { vmi } = &p.actions[2] else {
        panic!("{:?}", p.actions)
    };
    assert_eq!(
        vmi.status
            .as_ref()
            .unwrap()
            .virtual_machine_revision_name
            .as_deref(),
        Some("revision-start-vm-vm-uid-2")
    );
    assert_eq!(vmi.metadata.name.as_deref(), Some("testvm"));
}

#[test]
fn nothing_is_done_while_expectations_are_pending() {
    let mut w = world(RS::Always, Vmi::Absent, Req::None);
    w.satisfied = false;
    assert_eq!(w.plan(), Plan::default());
}

#[test]
fn the_finalizer_is_added_when_missing() {
    let mut w = world(RS::Halted, Vmi::Absent, Req::None);
    assert!(!w.plan().actions.contains(&Action::AddVmFinalizer));
    w.vm.metadata.finalizers = Some(vec!["custom".into()]);
    assert_eq!(w.plan().actions, vec![Action::AddVmFinalizer]);
}

#[test]
fn a_deleted_vm_stops_its_vmi_then_drops_its_finalizer() {
    let mut w = world(RS::Always, Vmi::Running, Req::None);
    w.vm.metadata.deletion_timestamp = Some(at(0));
    assert_eq!(outcome(&w.plan()), Expect::Delete);
    w.vmi = None;
    assert_eq!(w.plan().actions, vec![Action::RemoveVmFinalizer]);
    // Orphan deletion leaves the VMI alone.
    let mut w = world(RS::Always, Vmi::Running, Req::None);
    w.vm.metadata.deletion_timestamp = Some(at(0));
    w.vm.metadata.finalizers = Some(vec![
        "orphan".into(),
        VIRTUAL_MACHINE_CONTROLLER_FINALIZER.into(),
    ]);
    assert_eq!(w.plan().actions, vec![Action::RemoveVmFinalizer]);
}

#[test]
fn start_waits_for_the_crash_loop_backoff() {
    let mut w = world(RS::Always, Vmi::Absent, Req::None);
    status_mut(&mut w.vm).start_failure = Some(VirtualMachineStartFailure {
        consecutive_fail_count: Some(2),
        last_failed_vmiuid: Some("x".into()),
        retry_after_timestamp: Some(at(40)),
    });
    let p = w.plan();
    assert_eq!(outcome(&p), Expect::Nothing);
    assert_eq!(p.requeue_after, Some(Duration::from_secs(40)));
    status_mut(&mut w.vm)
        .start_failure
        .as_mut()
        .unwrap()
        .retry_after_timestamp = Some(at(-1));
    assert_eq!(outcome(&w.plan()), Expect::Create);
}

#[test]
fn rerun_on_failure_starts_when_fresh_or_switched_but_not_after_a_manual_stop() {
    for (recorded, request, starts) in [
        (None, None, true),
        (Some(RS::Halted), None, true),
        (Some(RS::Manual), None, true),
        (Some(RS::RerunOnFailure), None, false),
        (Some(RS::RerunOnFailure), Some(start_request()), true),
    ] {
        let mut v = vm(RS::RerunOnFailure);
        status_mut(&mut v).run_strategy = recorded;
        if let Some(r) = request.clone() {
            v = with_requests(v, vec![r]);
        }
        let got = outcome(&World::new(v, None).plan());
        assert_eq!(got == Expect::Create, starts, "{recorded:?} {request:?}");
    }
}

#[test]
fn a_restart_request_deletes_then_recreates_and_the_requests_drain() {
    // Always with [Stop{uid}, Start] (scenario 26), status computed after each pass.
    let mut v = vm(RS::Always);
    status_mut(&mut v).run_strategy = Some(RS::Always);
    let mut v = with_requests(v, vec![stop_request(Some("vmi-uid")), start_request()]);
    let running = vmi(&v, Phase::Running);

    let status_after = |v: &VirtualMachine, vmi: Option<&VirtualMachineInstance>| {
        compute_status(
            &StatusInput {
                vm: v,
                observed_run_strategy: Some(RS::Always),
                vmi,
                revisions: &[],
                storage: &StorageView::default(),
                sync_error: None,
                start_expected: false,
                stop_expected: false,
                now: now(),
            },
            &mut FixedJitter { max: false },
        )
        .status
    };

    let p = World::new(v.clone(), Some(running.clone())).plan();
    assert_eq!(outcome(&p), Expect::Delete);
    v.status = Some(status_after(&v, Some(&running)));
    assert_eq!(
        v.status
            .as_ref()
            .unwrap()
            .state_change_requests
            .as_ref()
            .unwrap()
            .len(),
        2
    );

    // While the VMI is terminating nothing more happens.
    let terminating = deleting(running.clone());
    assert_eq!(
        outcome(&World::new(v.clone(), Some(terminating)).plan()),
        Expect::Nothing
    );

    // Once it is gone: a new VMI, and the Stop request is trimmed.
    let p = World::new(v.clone(), None).plan();
    assert_eq!(outcome(&p), Expect::Create);
    v.status = Some(status_after(&v, None));
    let requests = v
        .status
        .as_ref()
        .unwrap()
        .state_change_requests
        .clone()
        .unwrap();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].action, StateChangeRequestAction::Start);

    // The new VMI shows up: the Start request is trimmed too.
    let mut fresh = vmi(&v, Phase::Scheduling);
    fresh.metadata.uid = Some("new-uid".into());
    assert_eq!(
        outcome(&World::new(v.clone(), Some(fresh.clone())).plan()),
        Expect::Nothing
    );
    v.status = Some(status_after(&v, Some(&fresh)));
    assert_eq!(v.status.as_ref().unwrap().state_change_requests, None);
}

#[test]
fn halted_with_a_start_request_flips_the_spec_and_does_nothing_else() {
    let w = world(RS::Halted, Vmi::Absent, Req::Start);
    let p = w.plan();
    assert_eq!(p.actions, vec![Action::StartFromHalted]);
}

#[test]
fn a_changed_template_spec_requires_a_restart_and_a_same_one_clears_it() {
    let mut w = world(RS::Always, Vmi::Running, Req::None);
    w.revisions = vec![build_revision(&w.vm)];
    assert!(
        !w.plan()
            .actions
            .iter()
            .any(|a| matches!(a, Action::SetRestartRequired { .. }))
    );
    w.vm.metadata.generation = Some(3);
    w.vm.spec.template.spec.as_mut().unwrap().domain.resources = Some(api::ResourceRequirements {
        requests: Some(BTreeMap::from([("memory".into(), Quantity("1Gi".into()))])),
        ..Default::default()
    });
    let p = w.plan();
    assert!(p.actions.contains(&Action::SetRestartRequired {
        message: "a non-live-updatable field was changed in the template spec".into()
    }));
    // The same spec again removes an existing condition.
    let mut w = world(RS::Always, Vmi::Running, Req::None);
    w.revisions = vec![build_revision(&w.vm)];
    status_mut(&mut w.vm).conditions = Some(vec![VirtualMachineCondition {
        type_: vm_condition::RESTART_REQUIRED.into(),
        status: "True".into(),
        ..Default::default()
    }]);
    assert!(w.plan().actions.contains(&Action::ClearRestartRequired));
}

#[test]
fn the_generation_annotation_is_bumped_only_when_the_template_is_unchanged() {
    let mut w = world(RS::Always, Vmi::Running, Req::None);
    w.revisions = vec![build_revision(&w.vm)];
    // A run strategy edit bumps the generation but not the template.
    w.vm.metadata.generation = Some(3);
    w.vm.spec.run_strategy = Some("Always".into());
    assert!(
        w.plan()
            .actions
            .contains(&Action::BumpVmiGeneration { generation: 3 })
    );
    // A template label edit does not count as in sync.
    w.vm.spec.template.metadata.as_mut().unwrap().labels =
        Some(BTreeMap::from([("testkey".into(), "testvalue".into())]));
    assert!(
        !w.plan()
            .actions
            .iter()
            .any(|a| matches!(a, Action::BumpVmiGeneration { .. }))
    );
}

#[test]
fn a_missing_firmware_uuid_is_written_back_as_the_legacy_uuid() {
    let mut w = world(RS::Always, Vmi::Running, Req::None);
    w.vm.spec.template.spec.as_mut().unwrap().domain.firmware = None;
    let p = w.plan();
    let patch = p
        .actions
        .iter()
        .find_map(|a| match a {
            Action::PatchVmFirmware { patch } => Some(patch.clone()),
            _ => None,
        })
        .expect("firmware patch");
    assert_eq!(patch[0]["op"], "test");
    assert_eq!(patch[0]["value"], serde_json::Value::Null);
    assert_eq!(patch[1]["value"]["uuid"], legacy_firmware_uuid("testvm"));
    // Not in the pass that creates the VMI (expectations are pending then).
    let mut w = world(RS::Always, Vmi::Absent, Req::None);
    w.vm.spec.template.spec.as_mut().unwrap().domain.firmware = None;
    assert!(
        !w.plan()
            .actions
            .iter()
            .any(|a| matches!(a, Action::PatchVmFirmware { .. }))
    );
}

#[test]
fn data_volumes_are_created_before_the_vmi_starts() {
    let mut w = world(RS::Always, Vmi::Absent, Req::None);
    w.vm.spec.data_volume_templates = Some(vec![DataVolumeTemplateSpec {
        metadata: Some(ObjectMeta {
            name: Some("dv1".into()),
            ..Default::default()
        }),
        ..Default::default()
    }]);
    w.vm.spec
        .template
        .spec
        .as_mut()
        .unwrap()
        .volumes
        .as_mut()
        .unwrap()
        .push(Volume {
            name: "data".into(),
            data_volume: Some(VolumeDataVolume {
                name: "dv1".into(),
                hotpluggable: None,
            }),
            ..Default::default()
        });
    let p = w.plan();
    let Action::CreateDataVolume {
        name,
        manifest,
        step,
        ..
    } = &p.actions[0]
    else {
        panic!("{:?}", p.actions)
    };
    assert_eq!((name.as_str(), *step), ("dv1", Step::Sync));
    assert_eq!(manifest["metadata"]["ownerReferences"][0]["uid"], "vm-uid");
    assert_eq!(outcome(&p), Expect::Nothing);

    w.storage.data_volumes.insert(
        "dv1".into(),
        DataVolumeState {
            phase: "ImportInProgress".into(),
            ..Default::default()
        },
    );
    assert!(w.plan().actions.is_empty());
    w.storage.data_volumes.insert(
        "dv1".into(),
        DataVolumeState {
            phase: "Failed".into(),
            ..Default::default()
        },
    );
    let p = w.plan();
    assert!(
        matches!(&p.actions[0], Action::Event { reason, .. } if reason == "FailedDataVolumeImport")
    );
    w.storage.data_volumes.insert(
        "dv1".into(),
        DataVolumeState {
            phase: "Succeeded".into(),
            ..Default::default()
        },
    );
    assert_eq!(outcome(&w.plan()), Expect::Create);
}

#[test]
fn manual_recovery_required_blocks_starts() {
    let mut w = world(RS::Always, Vmi::Absent, Req::None);
    status_mut(&mut w.vm).conditions = Some(vec![VirtualMachineCondition {
        type_: vm_condition::MANUAL_RECOVERY_REQUIRED.into(),
        status: "True".into(),
        ..Default::default()
    }]);
    assert_eq!(outcome(&w.plan()), Expect::Nothing);
}

#[test]
fn wait_as_receiver_starts_a_receiver_and_rejects_other_vmis() {
    let w = World::new(vm(RS::WaitAsReceiver), None);
    let p = w.plan();
    let Action::CreateVmi { vmi } = p.actions.last().unwrap() else {
        panic!("{:?}", p.actions)
    };
    assert_eq!(
        vmi.metadata
            .annotations
            .as_ref()
            .unwrap()
            .get("kubevirt.io/create-migration-target")
            .map(String::as_str),
        Some("true")
    );
    let v = vm(RS::WaitAsReceiver);
    let running = vmi_of_vm(&v);
    let p = World::new(v, Some(running)).plan();
    assert_eq!(
        p.sync_error.unwrap().message,
        "Found non receiver VMI while VM is receiver"
    );
}

fn vmi_of_vm(v: &VirtualMachine) -> VirtualMachineInstance {
    vmi(v, Phase::Running)
}

#[test]
fn live_updates_patch_the_vmi_only_without_restart_required() {
    let mut w = world(RS::Always, Vmi::Running, Req::None);
    w.revisions = vec![build_revision(&w.vm)];
    w.vm.spec.template.spec.as_mut().unwrap().node_selector =
        Some(BTreeMap::from([("zone".into(), "a".into())]));
    let p = w.plan();
    let patch = p
        .actions
        .iter()
        .find_map(|a| match a {
            Action::PatchVmi { patch, reason, .. } if *reason == REASON_AFFINITY => {
                Some(patch.clone())
            }
            _ => None,
        })
        .expect("node selector patch");
    assert_eq!(patch[0]["op"], "add");
    assert_eq!(patch[0]["path"], "/spec/nodeSelector");
    w.config.live_update = false;
    let p = w.plan();
    assert!(
        p.actions
            .iter()
            .any(|a| matches!(a, Action::SetRestartRequired { .. }))
    );
    assert!(
        !p.actions
            .iter()
            .any(|a| matches!(a, Action::PatchVmi { .. }))
    );
}

#[test]
fn an_unknown_run_strategy_is_a_sync_error() {
    let mut v = vm(RS::Always);
    v.spec.running = Some(true);
    let p = World::new(v, None).plan();
    assert_eq!(p.sync_error.unwrap().reason, "FailedCreate");
}

#[test]
fn a_vm_claims_its_own_vmi_adopts_orphans_and_ignores_others() {
    let v = vm(RS::Always);
    let owned = vmi(&v, Phase::Running);
    assert_eq!(claim(&v, &owned), Claim::Owned);
    let mut orphan = owned.clone();
    orphan.metadata.owner_references = None;
    assert_eq!(claim(&v, &orphan), Claim::Adopt);
    assert_eq!(claim(&v, &deleting(orphan.clone())), Claim::Ignore);
    let mut dying_vm = v.clone();
    dying_vm.metadata.deletion_timestamp = Some(at(0));
    assert_eq!(claim(&dying_vm, &orphan), Claim::Ignore);
    let mut foreign = owned.clone();
    foreign.metadata.owner_references.as_mut().unwrap()[0].uid = "someone-else".into();
    assert_eq!(claim(&v, &foreign), Claim::OwnedByOther);
    // A non-controller owner reference leaves the VMI an orphan.
    foreign.metadata.owner_references.as_mut().unwrap()[0].controller = None;
    assert_eq!(claim(&v, &foreign), Claim::Adopt);
}

#[test]
fn no_vmi_is_created_while_a_deleting_vmi_of_the_same_name_is_cached() {
    let mut w = world(RS::Always, Vmi::Absent, Req::None);
    w.fenced = true;
    assert_eq!(outcome(&w.plan()), Expect::Nothing);
    w.fenced = false;
    assert_eq!(outcome(&w.plan()), Expect::Create);
}

#[test]
fn a_create_conflict_with_a_vmi_the_cache_missed_is_not_a_failure() {
    let v = vm(RS::Always);
    let owned = vmi(&v, Phase::Running);
    assert!(conflict_is_stale_cache(&v, &owned), "the VM's own VMI");
    let mut orphan = owned.clone();
    orphan.metadata.owner_references = None;
    assert!(conflict_is_stale_cache(&v, &orphan), "an orphan to adopt");
    assert!(
        conflict_is_stale_cache(&v, &deleting(orphan.clone())),
        "a deleting orphan fences"
    );
    let mut foreign = owned.clone();
    foreign.metadata.owner_references.as_mut().unwrap()[0].uid = "someone-else".into();
    assert!(
        !conflict_is_stale_cache(&v, &foreign),
        "a live VMI of another controller is a real conflict"
    );
    assert!(
        conflict_is_stale_cache(&v, &deleting(foreign)),
        "another controller's VMI that is going away fences"
    );
}
