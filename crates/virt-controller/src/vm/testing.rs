//! Builders for the VM controller's unit tests.

use std::collections::BTreeMap;

use api::keys::{VIRTUAL_MACHINE_CONTROLLER_FINALIZER, VM_GENERATION_ANNOTATION};
use api::{
    ContainerDiskSource, Firmware, RunStrategy, StateChangeRequestAction, VirtualMachine,
    VirtualMachineInstance, VirtualMachineInstanceCondition, VirtualMachineInstancePhase,
    VirtualMachineInstancePhaseTransitionTimestamp, VirtualMachineInstanceSpec,
    VirtualMachineInstanceStatus, VirtualMachineInstanceTemplateSpec, VirtualMachineSpec,
    VirtualMachineStateChangeRequest, VirtualMachineStatus, Volume,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use k8s_openapi::jiff::Timestamp;

use super::status::Jitter;
use super::util::controller_ref;

pub const NOW: i64 = 1_700_000_000;

pub fn now() -> Timestamp {
    Timestamp::from_second(NOW).unwrap()
}

pub fn at(offset_secs: i64) -> Time {
    Time(Timestamp::from_second(NOW + offset_secs).unwrap())
}

/// A VM named `testvm` in `default` with uid `vm-uid`, generation 2, the controller finalizer,
/// a container disk, a firmware UUID and the given strategy.
pub fn vm(strategy: RunStrategy) -> VirtualMachine {
    let spec = VirtualMachineInstanceSpec {
        volumes: Some(vec![Volume {
            name: "disk0".into(),
            container_disk: Some(ContainerDiskSource {
                image: "img".into(),
                ..Default::default()
            }),
            ..Default::default()
        }]),
        domain: api::DomainSpec {
            firmware: Some(Firmware {
                uuid: Some("11111111-2222-3333-4444-555555555555".into()),
                ..Default::default()
            }),
            ..Default::default()
        },
        ..Default::default()
    };
    let mut vm = VirtualMachine::new(
        "testvm",
        VirtualMachineSpec {
            run_strategy: Some(strategy.as_str().into()),
            template: VirtualMachineInstanceTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(BTreeMap::from([("app".into(), "testvm".into())])),
                    ..Default::default()
                }),
                spec: Some(spec),
            },
            ..Default::default()
        },
    );
    vm.metadata.namespace = Some("default".into());
    vm.metadata.uid = Some("vm-uid".into());
    vm.metadata.generation = Some(2);
    vm.metadata.resource_version = Some("10".into());
    vm.metadata.finalizers = Some(vec![VIRTUAL_MACHINE_CONTROLLER_FINALIZER.into()]);
    vm
}

pub fn status_mut(vm: &mut VirtualMachine) -> &mut VirtualMachineStatus {
    vm.status.get_or_insert_with(Default::default)
}

pub fn start_request() -> VirtualMachineStateChangeRequest {
    VirtualMachineStateChangeRequest {
        action: StateChangeRequestAction::Start,
        data: None,
        uid: None,
    }
}

pub fn stop_request(uid: Option<&str>) -> VirtualMachineStateChangeRequest {
    VirtualMachineStateChangeRequest {
        action: StateChangeRequestAction::Stop,
        data: None,
        uid: uid.map(String::from),
    }
}

pub fn with_requests(
    mut vm: VirtualMachine,
    requests: Vec<VirtualMachineStateChangeRequest>,
) -> VirtualMachine {
    status_mut(&mut vm).state_change_requests = Some(requests);
    vm
}

/// The VMI of [`vm`] with uid `vmi-uid` in `phase`, started at generation 2.
pub fn vmi(vm: &VirtualMachine, phase: VirtualMachineInstancePhase) -> VirtualMachineInstance {
    let mut vmi = VirtualMachineInstance::new(
        vm.metadata.name.as_deref().unwrap(),
        vm.spec.template.spec.clone().unwrap(),
    );
    vmi.metadata.namespace = vm.metadata.namespace.clone();
    vmi.metadata.uid = Some("vmi-uid".into());
    vmi.metadata.resource_version = Some("20".into());
    vmi.metadata.owner_references = Some(vec![controller_ref(vm)]);
    vmi.metadata.finalizers = Some(vec![VIRTUAL_MACHINE_CONTROLLER_FINALIZER.into()]);
    vmi.metadata.annotations = Some(BTreeMap::from([(
        VM_GENERATION_ANNOTATION.into(),
        "2".into(),
    )]));
    vmi.status = Some(VirtualMachineInstanceStatus {
        phase: Some(phase),
        virtual_machine_revision_name: Some("revision-start-vm-vm-uid-2".into()),
        ..Default::default()
    });
    vmi
}

pub fn deleting(mut vmi: VirtualMachineInstance) -> VirtualMachineInstance {
    vmi.metadata.deletion_timestamp = Some(at(-1));
    vmi
}

pub fn with_condition(
    mut vmi: VirtualMachineInstance,
    type_: &str,
    status: &str,
    reason: Option<&str>,
) -> VirtualMachineInstance {
    let s = vmi.status.get_or_insert_with(Default::default);
    s.conditions
        .get_or_insert_with(Vec::new)
        .push(VirtualMachineInstanceCondition {
            type_: type_.into(),
            status: status.into(),
            reason: reason.map(String::from),
            ..Default::default()
        });
    vmi
}

pub fn ever_running(mut vmi: VirtualMachineInstance) -> VirtualMachineInstance {
    let s = vmi.status.get_or_insert_with(Default::default);
    s.phase_transition_timestamps = Some(vec![VirtualMachineInstancePhaseTransitionTimestamp {
        phase: Some(VirtualMachineInstancePhase::Running),
        phase_transition_timestamp: Some(at(-100)),
    }]);
    vmi
}

/// Jitter that always returns the same end of the range.
pub struct FixedJitter {
    pub max: bool,
}

impl Jitter for FixedJitter {
    fn up_to(&mut self, max: u64) -> u64 {
        if self.max { max } else { 0 }
    }
}
