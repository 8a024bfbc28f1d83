//! Building the VirtualMachineInstance a VM starts (pure).
//!
//! The VMI is the VM's template with the VM's name, namespace and controller reference, the
//! template labels and annotations (never the VM's own annotations), a stable firmware UUID, a
//! disk for every volume without one, and the bookkeeping the controller needs later: the
//! `kubevirt.io/vm-generation` annotation, the revision name in its status and the VM
//! controller's finalizer.

use std::collections::{BTreeMap, BTreeSet};

use api::keys::{VIRTUAL_MACHINE_CONTROLLER_FINALIZER, VM_GENERATION_ANNOTATION};
use api::{
    Disk, Firmware, Input, Interface, InterfaceBridge, Network, PodNetwork,
    StateChangeRequestAction, VirtualMachine, VirtualMachineInstance, VirtualMachineInstanceSpec,
    VirtualMachineInstanceStatus,
};
use uuid::Uuid;

use super::util::{
    CREATE_MIGRATION_TARGET_ANNOTATION, START_REQUEST_PAUSED_KEY, START_REQUEST_PAUSED_TRUE,
    controller_ref,
};

/// Namespace of the name-derived (legacy) firmware UUIDs.
pub const LEGACY_UUID_NAMESPACE: Uuid = Uuid::from_u128(0x6a1a24a1_4061_4607_8bf4_a3963d0c5895);

/// Start strategy that boots the guest paused.
pub const START_STRATEGY_PAUSED: &str = "Paused";

/// Name of the interface and network added when a VMI declares none.
pub const DEFAULT_NETWORK_NAME: &str = "default";

/// Name of the input device added by `autoattachInputDevice`.
pub const DEFAULT_INPUT_NAME: &str = "default-0";

/// The firmware UUID a VM without one gets: SHA-1 (v5) over the VM name only, so two VMs of the
/// same name in different namespaces share it (as upstream's do).
pub fn legacy_firmware_uuid(vm_name: &str) -> String {
    Uuid::new_v5(&LEGACY_UUID_NAMESPACE, vm_name.as_bytes()).to_string()
}

/// Whether the first state change request is a Start with `paused: "true"`.
pub fn has_start_paused_request(vm: &VirtualMachine) -> bool {
    first_request(vm).is_some_and(|r| {
        r.action == StateChangeRequestAction::Start
            && r.data
                .as_ref()
                .and_then(|d| d.get(START_REQUEST_PAUSED_KEY))
                .is_some_and(|v| v == START_REQUEST_PAUSED_TRUE)
    })
}

pub fn first_request(vm: &VirtualMachine) -> Option<&api::VirtualMachineStateChangeRequest> {
    vm.status.as_ref()?.state_change_requests.as_ref()?.first()
}

/// The VMI of a VM, as upstream's `SetupVMIFromVM` makes it: template metadata and spec with the
/// VM's name, namespace and controller reference, a stable firmware UUID and default disks.
pub fn setup_vmi_from_vm(vm: &VirtualMachine) -> VirtualMachineInstance {
    let template = &vm.spec.template;
    let mut metadata = template.metadata.clone().unwrap_or_default();
    metadata.name = vm.metadata.name.clone();
    metadata.generate_name = None;
    metadata.namespace = vm.metadata.namespace.clone();
    // Server-populated fields of an embedded object mean nothing on a new object.
    metadata.uid = None;
    metadata.resource_version = None;
    metadata.creation_timestamp = None;
    metadata.deletion_timestamp = None;
    metadata.managed_fields = None;
    metadata.labels = template.metadata.as_ref().and_then(|m| m.labels.clone());
    metadata.owner_references = Some(vec![controller_ref(vm)]);

    let mut spec = template.spec.clone().unwrap_or_default();
    if has_start_paused_request(vm) {
        spec.start_strategy = Some(START_STRATEGY_PAUSED.into());
    }
    if let Some(req) = vm
        .status
        .as_ref()
        .and_then(|s| s.memory_dump_request.as_ref())
        && req.phase != "Associating"
        && req.phase != "InProgress"
        && let Some(volumes) = spec.volumes.as_mut()
    {
        volumes.retain(|v| v.name != req.claim_name);
    }
    set_stable_firmware_uuid(&mut spec, vm.metadata.name.as_deref().unwrap_or_default());
    set_default_volume_disks(&mut spec);

    VirtualMachineInstance {
        metadata,
        spec,
        status: None,
    }
}

fn set_stable_firmware_uuid(spec: &mut VirtualMachineInstanceSpec, vm_name: &str) {
    let firmware = spec.domain.firmware.get_or_insert_with(Firmware::default);
    if firmware.uuid.as_deref().unwrap_or_default().is_empty() {
        firmware.uuid = Some(legacy_firmware_uuid(vm_name));
    }
}

/// Gives every volume without a disk or filesystem of its name a bare disk.
pub fn set_default_volume_disks(spec: &mut VirtualMachineInstanceSpec) {
    let devices = &mut spec.domain.devices;
    let mut named: BTreeSet<String> = BTreeSet::new();
    named.extend(devices.disks.iter().flatten().map(|d| d.name.clone()));
    named.extend(devices.filesystems.iter().flatten().map(|f| f.name.clone()));
    for volume in spec.volumes.iter().flatten() {
        if !named.contains(&volume.name) {
            devices.disks.get_or_insert_with(Vec::new).push(Disk {
                name: volume.name.clone(),
                ..Default::default()
            });
        }
    }
}

/// Adds the input device `default-0` when `autoattachInputDevice` is true and none exists.
pub fn auto_attach_input_device(spec: &mut VirtualMachineInstanceSpec) {
    let devices = &mut spec.domain.devices;
    if devices.autoattach_input_device != Some(true)
        || devices.inputs.as_ref().is_some_and(|i| !i.is_empty())
    {
        return;
    }
    devices.inputs.get_or_insert_with(Vec::new).push(Input {
        name: DEFAULT_INPUT_NAME.into(),
        ..Default::default()
    });
}

/// Adds the pod network with a bridge interface (the cluster default) when the spec declares
/// neither networks nor interfaces and `autoattachPodInterface` is not false.
pub fn set_default_network_interface(spec: &mut VirtualMachineInstanceSpec) {
    if spec.domain.devices.autoattach_pod_interface == Some(false) {
        return;
    }
    let has_networks = spec.networks.as_ref().is_some_and(|n| !n.is_empty());
    let has_interfaces = spec
        .domain
        .devices
        .interfaces
        .as_ref()
        .is_some_and(|i| !i.is_empty());
    if has_networks || has_interfaces {
        return;
    }
    spec.domain.devices.interfaces = Some(vec![Interface {
        name: DEFAULT_NETWORK_NAME.into(),
        bridge: Some(InterfaceBridge {}),
        ..Default::default()
    }]);
    spec.networks = Some(vec![Network {
        name: DEFAULT_NETWORK_NAME.into(),
        pod: Some(PodNetwork::default()),
        ..Default::default()
    }]);
}

/// The VMI the controller creates to start `vm` (steps 4–9 of upstream's `startVMI`):
/// [`setup_vmi_from_vm`] plus the revision name, the generation annotation, the receiver
/// annotation for WaitAsReceiver, the controller finalizer, the auto-attached input device and
/// the default pod network.
pub fn vmi_for_start(
    vm: &VirtualMachine,
    revision_name: &str,
    receiver: bool,
) -> VirtualMachineInstance {
    let mut vmi = setup_vmi_from_vm(vm);
    vmi.status = Some(VirtualMachineInstanceStatus {
        virtual_machine_revision_name: Some(revision_name.into()),
        ..Default::default()
    });
    let annotations = vmi.metadata.annotations.get_or_insert_with(BTreeMap::new);
    annotations.insert(
        VM_GENERATION_ANNOTATION.into(),
        vm.metadata.generation.unwrap_or_default().to_string(),
    );
    if receiver {
        annotations.insert(CREATE_MIGRATION_TARGET_ANNOTATION.into(), "true".into());
    }
    vmi.metadata
        .finalizers
        .get_or_insert_with(Vec::new)
        .push(VIRTUAL_MACHINE_CONTROLLER_FINALIZER.into());
    auto_attach_input_device(&mut vmi.spec);
    set_default_network_interface(&mut vmi.spec);
    vmi
}

#[cfg(test)]
mod tests {
    use super::*;
    use api::{
        ContainerDiskSource, VirtualMachineInstanceTemplateSpec, VirtualMachineSpec,
        VirtualMachineStateChangeRequest, VirtualMachineStatus, Volume,
    };
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    fn vm(name: &str) -> VirtualMachine {
        let mut vm = VirtualMachine::new(
            name,
            VirtualMachineSpec {
                run_strategy: Some("Always".into()),
                template: VirtualMachineInstanceTemplateSpec {
                    metadata: Some(ObjectMeta {
                        name: Some("x".into()),
                        generate_name: Some("gen-".into()),
                        labels: Some(BTreeMap::from([("app".into(), "web".into())])),
                        annotations: Some(BTreeMap::from([("A".into(), "a".into())])),
                        ..Default::default()
                    }),
                    spec: Some(VirtualMachineInstanceSpec {
                        volumes: Some(vec![Volume {
                            name: "disk0".into(),
                            container_disk: Some(ContainerDiskSource {
                                image: "img".into(),
                                ..Default::default()
                            }),
                            ..Default::default()
                        }]),
                        ..Default::default()
                    }),
                },
                ..Default::default()
            },
        );
        vm.metadata.namespace = Some("ns".into());
        vm.metadata.uid = Some("vm-uid".into());
        vm.metadata.generation = Some(2);
        vm.metadata.annotations = Some(BTreeMap::from([("B".into(), "b".into())]));
        vm
    }

    #[test]
    fn the_vmi_is_named_after_the_vm_and_owned_by_it() {
        let vmi = vmi_for_start(&vm("testvm"), "revision-start-vm-vm-uid-2", false);
        assert_eq!(vmi.metadata.name.as_deref(), Some("testvm"));
        assert_eq!(vmi.metadata.generate_name, None);
        assert_eq!(vmi.metadata.namespace.as_deref(), Some("ns"));
        let refs = vmi.metadata.owner_references.as_ref().unwrap();
        assert_eq!(refs.len(), 1);
        assert_eq!(refs[0].kind, "VirtualMachine");
        assert_eq!(refs[0].api_version, "kubevirt.io/v1");
        assert_eq!(refs[0].uid, "vm-uid");
        assert_eq!(refs[0].controller, Some(true));
        assert_eq!(refs[0].block_owner_deletion, Some(true));
        assert_eq!(
            vmi.metadata.finalizers.as_deref(),
            Some(&[VIRTUAL_MACHINE_CONTROLLER_FINALIZER.to_string()][..])
        );
    }

    #[test]
    fn template_annotations_are_kept_and_vm_annotations_are_not_copied() {
        let vmi = vmi_for_start(&vm("testvm"), "r", false);
        let annotations = vmi.metadata.annotations.unwrap();
        assert_eq!(annotations.get("A").map(String::as_str), Some("a"));
        assert!(!annotations.contains_key("B"));
        assert_eq!(
            annotations
                .get(VM_GENERATION_ANNOTATION)
                .map(String::as_str),
            Some("2")
        );
        assert_eq!(
            vmi.metadata.labels.unwrap().get("app").map(String::as_str),
            Some("web")
        );
        assert_eq!(
            vmi.status.unwrap().virtual_machine_revision_name.as_deref(),
            Some("r")
        );
    }

    #[test]
    fn vms_of_the_same_name_get_the_same_firmware_uuid() {
        let a = setup_vmi_from_vm(&vm("testvm"));
        let mut other_ns = vm("testvm");
        other_ns.metadata.namespace = Some("elsewhere".into());
        let b = setup_vmi_from_vm(&other_ns);
        let c = setup_vmi_from_vm(&vm("othervm"));
        let uuid =
            |v: &VirtualMachineInstance| v.spec.domain.firmware.as_ref().unwrap().uuid.clone();
        assert_eq!(uuid(&a), uuid(&b));
        assert_ne!(uuid(&a), uuid(&c));
        assert_eq!(uuid(&a), Some(legacy_firmware_uuid("testvm")));
    }

    #[test]
    fn legacy_uuid_is_the_v5_uuid_of_the_name() {
        // Independently computed: uuid5(6a1a24a1-4061-4607-8bf4-a3963d0c5895, "testvm").
        assert_eq!(
            legacy_firmware_uuid("testvm"),
            "5a9fc181-957e-5c32-9e5a-2de5e9673531"
        );
        assert_eq!(
            LEGACY_UUID_NAMESPACE.to_string(),
            "6a1a24a1-4061-4607-8bf4-a3963d0c5895"
        );
    }

    #[test]
    fn an_explicit_firmware_uuid_is_honoured() {
        let mut v = vm("testvm");
        v.spec.template.spec.as_mut().unwrap().domain.firmware = Some(Firmware {
            uuid: Some("2d2d2d2d-0000-0000-0000-000000000000".into()),
            ..Default::default()
        });
        let vmi = setup_vmi_from_vm(&v);
        assert_eq!(
            vmi.spec.domain.firmware.unwrap().uuid.as_deref(),
            Some("2d2d2d2d-0000-0000-0000-000000000000")
        );
    }

    #[test]
    fn volumes_without_disks_get_a_bare_disk() {
        let vmi = setup_vmi_from_vm(&vm("testvm"));
        let disks = vmi.spec.domain.devices.disks.unwrap();
        assert_eq!(
            disks,
            vec![Disk {
                name: "disk0".into(),
                ..Default::default()
            }]
        );
    }

    #[test]
    fn a_paused_start_request_sets_the_paused_start_strategy() {
        let mut v = vm("testvm");
        assert_eq!(setup_vmi_from_vm(&v).spec.start_strategy, None);
        v.status = Some(VirtualMachineStatus {
            state_change_requests: Some(vec![VirtualMachineStateChangeRequest {
                action: StateChangeRequestAction::Start,
                data: Some(BTreeMap::from([("paused".into(), "true".into())])),
                uid: None,
            }]),
            ..Default::default()
        });
        assert_eq!(
            setup_vmi_from_vm(&v).spec.start_strategy.as_deref(),
            Some("Paused")
        );
    }

    #[test]
    fn default_network_and_input_are_added_only_when_missing() {
        let mut v = vm("testvm");
        v.spec
            .template
            .spec
            .as_mut()
            .unwrap()
            .domain
            .devices
            .autoattach_input_device = Some(true);
        let vmi = vmi_for_start(&v, "r", true);
        let ifaces = vmi.spec.domain.devices.interfaces.unwrap();
        assert_eq!(ifaces[0].name, "default");
        assert!(ifaces[0].bridge.is_some());
        assert!(vmi.spec.networks.unwrap()[0].pod.is_some());
        assert_eq!(vmi.spec.domain.devices.inputs.unwrap()[0].name, "default-0");
        assert_eq!(
            vmi.metadata
                .annotations
                .unwrap()
                .get(CREATE_MIGRATION_TARGET_ANNOTATION)
                .map(String::as_str),
            Some("true")
        );

        v.spec
            .template
            .spec
            .as_mut()
            .unwrap()
            .domain
            .devices
            .autoattach_pod_interface = Some(false);
        let vmi = vmi_for_start(&v, "r", false);
        assert!(vmi.spec.networks.is_none());
    }
}
