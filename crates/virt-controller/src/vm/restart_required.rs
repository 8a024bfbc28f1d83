//! Whether a running VM needs a restart for its spec to take effect (pure).
//!
//! The spec the VMI was started from (the last start revision) is compared with the current VM
//! spec after neutralizing every field that can change without a restart: hotplug volumes and
//! their disks, PVC and DataVolume swaps under the `Migration` volume strategy, the live-update
//! fields under the LiveUpdate rollout strategy (CPU sockets, guest memory, node selector,
//! affinity, tolerations), interface and network changes that need no restart, and a firmware
//! UUID the VMI already runs with. Template metadata never requires a restart.
//!
//! Instance types are not expanded (they are not supported yet), so both specs are compared as
//! written.

use std::collections::{BTreeMap, HashMap};

use api::{
    Disk, Firmware, Interface, Memory, Network, VirtualMachineInstance, VirtualMachineInstanceSpec,
    VirtualMachineSpec, Volume,
};

use super::util::vmi_has_condition;

/// Message of the RestartRequired condition for a changed non-live-updatable field.
pub const NON_LIVE_UPDATABLE_MESSAGE: &str =
    "a non-live-updatable field was changed in the template spec";

const UPDATE_VOLUMES_STRATEGY_MIGRATION: &str = "Migration";

/// Whether `volume` was hotplugged (its PVC, DataVolume or memory dump is hotpluggable).
pub fn is_hotplug_volume(volume: &Volume) -> bool {
    volume
        .persistent_volume_claim
        .as_ref()
        .is_some_and(|p| p.hotpluggable == Some(true))
        || volume
            .data_volume
            .as_ref()
            .is_some_and(|d| d.hotpluggable == Some(true))
        || volume
            .memory_dump
            .as_ref()
            .is_some_and(|m| m.hotpluggable == Some(true))
}

fn volumes_by_name(spec: &VirtualMachineInstanceSpec) -> HashMap<&str, &Volume> {
    spec.volumes
        .iter()
        .flatten()
        .map(|v| (v.name.as_str(), v))
        .collect()
}

fn disks_by_name(spec: &VirtualMachineInstanceSpec) -> HashMap<&str, &Disk> {
    spec.domain
        .devices
        .disks
        .iter()
        .flatten()
        .map(|d| (d.name.as_str(), d))
        .collect()
}

/// True when every volume change between the specs is one that can be applied live.
pub fn valid_live_update_volumes(old: &VirtualMachineSpec, new: &VirtualMachineSpec) -> bool {
    let empty = VirtualMachineInstanceSpec::default();
    let old_spec = old.template.spec.as_ref().unwrap_or(&empty);
    let new_spec = new.template.spec.as_ref().unwrap_or(&empty);
    let migration =
        new.update_volumes_strategy.as_deref() == Some(UPDATE_VOLUMES_STRATEGY_MIGRATION);
    let mut old_vols = volumes_by_name(old_spec);
    for v in new_spec.volumes.iter().flatten() {
        let old_vol = old_vols.get(v.name.as_str()).copied();
        if is_hotplug_volume(v) {
            old_vols.remove(v.name.as_str());
            continue;
        }
        let Some(old_vol) = old_vol else { return false };
        if (v.persistent_volume_claim.is_some() || v.data_volume.is_some()) && migration {
            old_vols.remove(v.name.as_str());
            continue;
        }
        if old_vol != v {
            return false;
        }
        old_vols.remove(v.name.as_str());
    }
    old_vols.values().all(|v| is_hotplug_volume(v))
}

/// True when every disk change between the specs belongs to a hotplug volume.
pub fn valid_live_update_disks(old: &VirtualMachineSpec, new: &VirtualMachineSpec) -> bool {
    let empty = VirtualMachineInstanceSpec::default();
    let old_spec = old.template.spec.as_ref().unwrap_or(&empty);
    let new_spec = new.template.spec.as_ref().unwrap_or(&empty);
    let mut old_disks = disks_by_name(old_spec);
    let old_vols = volumes_by_name(old_spec);
    let new_vols = volumes_by_name(new_spec);
    let new_disks = disks_by_name(new_spec);
    for disk in new_spec.domain.devices.disks.iter().flatten() {
        if new_vols
            .get(disk.name.as_str())
            .is_some_and(|v| is_hotplug_volume(v))
        {
            old_disks.remove(disk.name.as_str());
            continue;
        }
        match old_disks.get(disk.name.as_str()) {
            None => return false,
            Some(old) if *old != disk => return false,
            Some(_) => {
                old_disks.remove(disk.name.as_str());
            }
        }
    }
    for old_disk in old_disks.values() {
        if old_vols
            .get(old_disk.name.as_str())
            .is_some_and(|v| !is_hotplug_volume(v))
        {
            return false;
        }
        if old_disk.cdrom.is_some() && !new_disks.contains_key(old_disk.name.as_str()) {
            return false;
        }
    }
    true
}

fn ifaces_by_name(ifaces: Option<&Vec<Interface>>) -> BTreeMap<&str, &Interface> {
    ifaces
        .into_iter()
        .flatten()
        .map(|i| (i.name.as_str(), i))
        .collect()
}

fn nets_by_name(nets: Option<&Vec<Network>>) -> BTreeMap<&str, &Network> {
    nets.into_iter()
        .flatten()
        .map(|n| (n.name.as_str(), n))
        .collect()
}

/// Upstream's network rule: interfaces or networks of the VMI that were removed from or changed
/// in the VM spec (ignoring interface `state`, and a multus network name on migratable VMIs),
/// or a pod network added to the VM spec, need a restart.
pub fn network_change_requires_restart(
    vm_spec: &VirtualMachineInstanceSpec,
    vmi: &VirtualMachineInstance,
) -> bool {
    let desired = ifaces_by_name(vm_spec.domain.devices.interfaces.as_ref());
    let current = ifaces_by_name(vmi.spec.domain.devices.interfaces.as_ref());
    let normalize = |i: Option<&&Interface>| {
        i.map(|i| Interface {
            state: None,
            ..(*i).clone()
        })
        .unwrap_or_default()
    };
    for (name, iface) in &current {
        if !desired.contains_key(name) || normalize(desired.get(name)) != normalize(Some(iface)) {
            return true;
        }
    }
    let has_pod = |nets: Option<&Vec<Network>>| nets.into_iter().flatten().any(|n| n.pod.is_some());
    if has_pod(vm_spec.networks.as_ref()) && !has_pod(vmi.spec.networks.as_ref()) {
        return true;
    }
    let desired = nets_by_name(vm_spec.networks.as_ref());
    let current = nets_by_name(vmi.spec.networks.as_ref());
    let migratable = vmi_has_condition(
        Some(vmi),
        api::keys::vmi_condition::LIVE_MIGRATABLE,
        "True",
        None,
    );
    let normalize = |n: Option<&&Network>| {
        let mut n = n.map(|n| (*n).clone()).unwrap_or_default();
        if migratable && let Some(m) = n.multus.as_mut() {
            m.network_name.clear();
        }
        n
    };
    current.iter().any(|(name, net)| {
        !desired.contains_key(name) || normalize(desired.get(name)) != normalize(Some(net))
    })
}

/// Whether the current spec differs from the last-started one in a field that needs a restart.
pub fn restart_required(
    last_seen: &VirtualMachineSpec,
    current: &VirtualMachineSpec,
    vmi: Option<&VirtualMachineInstance>,
    live_update: bool,
) -> bool {
    let mut last = last_seen.clone();
    let cur_spec = current.template.spec.clone().unwrap_or_default();
    let volumes_ok = valid_live_update_volumes(&last, current);
    let disks_ok = valid_live_update_disks(&last, current);
    let last_spec = last.template.spec.get_or_insert_with(Default::default);
    if volumes_ok {
        last_spec.volumes = cur_spec.volumes.clone();
    }
    if disks_ok {
        last_spec.domain.devices.disks = cur_spec.domain.devices.disks.clone();
    }
    if live_update {
        if let (Some(l), Some(c)) = (last_spec.domain.cpu.as_mut(), cur_spec.domain.cpu.as_ref()) {
            l.sockets = c.sockets;
        }
        if let Some(guest) = cur_spec
            .domain
            .memory
            .as_ref()
            .and_then(|m| m.guest.clone())
        {
            last_spec
                .domain
                .memory
                .get_or_insert_with(Memory::default)
                .guest = Some(guest);
        }
        last_spec.node_selector = cur_spec.node_selector.clone();
        last_spec.affinity = cur_spec.affinity.clone();
        last_spec.tolerations = cur_spec.tolerations.clone();
    }
    if let Some(vmi) = vmi {
        if !network_change_requires_restart(&cur_spec, vmi) {
            last_spec.domain.devices.interfaces = cur_spec.domain.devices.interfaces.clone();
            last_spec.networks = cur_spec.networks.clone();
        }
        let vmi_uuid = vmi
            .spec
            .domain
            .firmware
            .as_ref()
            .map(|f| f.uuid.clone().unwrap_or_default());
        let vm_uuid = cur_spec
            .domain
            .firmware
            .as_ref()
            .map(|f| f.uuid.clone().unwrap_or_default());
        if let (Some(a), Some(b)) = (vmi_uuid, vm_uuid)
            && a == b
        {
            last_spec
                .domain
                .firmware
                .get_or_insert_with(Firmware::default)
                .uuid = cur_spec
                .domain
                .firmware
                .as_ref()
                .and_then(|f| f.uuid.clone());
        }
    }
    !spec_equal(last_spec, &cur_spec)
}

/// Equality as Kubernetes' semantic comparison sees it: absent and empty lists and maps match.
fn spec_equal(a: &VirtualMachineInstanceSpec, b: &VirtualMachineInstanceSpec) -> bool {
    let norm =
        |s: &VirtualMachineInstanceSpec| normalize(serde_json::to_value(s).unwrap_or_default());
    norm(a) == norm(b)
}

fn normalize(v: serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    match v {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| (k, normalize(v)))
                .filter(|(_, v)| !matches!(v, Value::Null) && !is_empty_container(v))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(normalize).collect()),
        other => other,
    }
}

fn is_empty_container(v: &serde_json::Value) -> bool {
    match v {
        serde_json::Value::Array(a) => a.is_empty(),
        serde_json::Value::Object(o) => o.is_empty(),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use api::{
        ContainerDiskSource, Cpu, PersistentVolumeClaimVolumeSource, ResourceRequirements,
        VirtualMachineInstanceTemplateSpec,
    };
    use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

    fn spec(f: impl FnOnce(&mut VirtualMachineInstanceSpec)) -> VirtualMachineSpec {
        let mut s = VirtualMachineInstanceSpec::default();
        s.domain.resources = Some(ResourceRequirements {
            requests: Some(BTreeMap::from([("memory".into(), Quantity("64Mi".into()))])),
            ..Default::default()
        });
        s.domain.cpu = Some(Cpu {
            sockets: Some(1),
            cores: Some(1),
            ..Default::default()
        });
        s.volumes = Some(vec![Volume {
            name: "root".into(),
            container_disk: Some(ContainerDiskSource {
                image: "img".into(),
                ..Default::default()
            }),
            ..Default::default()
        }]);
        f(&mut s);
        VirtualMachineSpec {
            template: VirtualMachineInstanceTemplateSpec {
                metadata: None,
                spec: Some(s),
            },
            ..Default::default()
        }
    }

    fn vmi_of(s: &VirtualMachineSpec) -> VirtualMachineInstance {
        VirtualMachineInstance::new("vm", s.template.spec.clone().unwrap())
    }

    #[test]
    fn a_memory_request_change_requires_a_restart() {
        let old = spec(|_| {});
        let new = spec(|s| {
            s.domain.resources.as_mut().unwrap().requests = Some(BTreeMap::from([(
                "memory".into(),
                Quantity("128Mi".into()),
            )]));
        });
        assert!(restart_required(&old, &new, Some(&vmi_of(&old)), true));
        assert!(!restart_required(&old, &old, Some(&vmi_of(&old)), true));
    }

    #[test]
    fn live_update_fields_need_no_restart_only_under_live_update() {
        let old = spec(|_| {});
        let new = spec(|s| {
            s.domain.cpu.as_mut().unwrap().sockets = Some(2);
            s.node_selector = Some(BTreeMap::from([("a".into(), "b".into())]));
        });
        assert!(!restart_required(&old, &new, Some(&vmi_of(&old)), true));
        assert!(restart_required(&old, &new, Some(&vmi_of(&old)), false));
    }

    #[test]
    fn hotplug_volumes_need_no_restart_but_regular_ones_do() {
        let old = spec(|_| {});
        let hot = spec(|s| {
            s.volumes.as_mut().unwrap().push(Volume {
                name: "hp".into(),
                persistent_volume_claim: Some(PersistentVolumeClaimVolumeSource {
                    claim_name: "c".into(),
                    hotpluggable: Some(true),
                    ..Default::default()
                }),
                ..Default::default()
            });
        });
        assert!(!restart_required(&old, &hot, Some(&vmi_of(&old)), true));
        let cold = spec(|s| {
            s.volumes.as_mut().unwrap().push(Volume {
                name: "cold".into(),
                persistent_volume_claim: Some(PersistentVolumeClaimVolumeSource {
                    claim_name: "c".into(),
                    ..Default::default()
                }),
                ..Default::default()
            });
        });
        assert!(restart_required(&old, &cold, Some(&vmi_of(&old)), true));
    }

    #[test]
    fn a_firmware_uuid_the_vmi_runs_with_needs_no_restart() {
        let old = spec(|_| {});
        let new = spec(|s| {
            s.domain.firmware = Some(Firmware {
                uuid: Some("u".into()),
                ..Default::default()
            });
        });
        let mut vmi = vmi_of(&old);
        vmi.spec.domain.firmware = Some(Firmware {
            uuid: Some("u".into()),
            ..Default::default()
        });
        assert!(!restart_required(&old, &new, Some(&vmi), true));
        vmi.spec.domain.firmware = Some(Firmware {
            uuid: Some("other".into()),
            ..Default::default()
        });
        assert!(restart_required(&old, &new, Some(&vmi), true));
    }

    #[test]
    fn absent_and_empty_lists_compare_equal() {
        let old = spec(|s| s.tolerations = None);
        let new = spec(|s| s.tolerations = Some(vec![]));
        assert!(!restart_required(&old, &new, Some(&vmi_of(&old)), false));
    }

    #[test]
    fn removing_an_interface_of_the_vmi_requires_a_restart() {
        let with_iface = spec(|s| {
            s.domain.devices.interfaces = Some(vec![Interface {
                name: "default".into(),
                ..Default::default()
            }]);
            s.networks = Some(vec![Network {
                name: "default".into(),
                pod: Some(Default::default()),
                ..Default::default()
            }]);
        });
        let without = spec(|_| {});
        let vmi = vmi_of(&with_iface);
        assert!(network_change_requires_restart(
            without.template.spec.as_ref().unwrap(),
            &vmi
        ));
        assert!(!network_change_requires_restart(
            with_iface.template.spec.as_ref().unwrap(),
            &vmi
        ));
        assert!(restart_required(&with_iface, &without, Some(&vmi), true));
    }
}
