//! The start ControllerRevision of a VM (pure): the VM spec as it was when the current VMI was
//! started, named `revision-start-vm-<vm uid>-<generation>`, owned by the VM, with
//! `.revision` = the VM generation. Only one revision per VM is kept: starting deletes the older
//! ones and reuses one of the same generation.

use api::{VirtualMachine, VirtualMachineSpec};
use k8s_openapi::api::apps::v1::ControllerRevision;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::apimachinery::pkg::runtime::RawExtension;
use serde_json::{Value, json};

use super::util::{controller_of, controller_ref};

#[derive(Debug, thiserror::Error)]
pub enum RevisionError {
    #[error("controller revision {name} has no readable spec: {source}")]
    BadData {
        name: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("invalid key: {0}")]
    BadName(String),
}

/// `revision-start-vm-<uid>`: the prefix every start revision of the VM shares.
pub fn revision_prefix(vm_uid: &str) -> String {
    format!("revision-start-vm-{vm_uid}")
}

pub fn revision_name(vm_uid: &str, generation: i64) -> String {
    format!("{}-{generation}", revision_prefix(vm_uid))
}

/// The generation encoded after the last `-` of a revision name.
pub fn generation_from_name(name: &str) -> Option<i64> {
    name.rsplit_once('-')?.1.parse().ok()
}

/// `{"spec": <VM spec>}` with the instancetype and preference revision names filled in from
/// the status references.
pub fn revision_data(vm: &VirtualMachine) -> Value {
    let mut spec = vm.spec.clone();
    let status = vm.status.as_ref();
    let it_rev = status
        .and_then(|s| s.instancetype_ref.as_ref())
        .and_then(|r| r.controller_revision_ref.as_ref())
        .and_then(|r| r.name.clone());
    if let (Some(matcher), Some(name)) = (spec.instancetype.as_mut(), it_rev) {
        matcher.revision_name = Some(name);
    }
    let pref_rev = status
        .and_then(|s| s.preference_ref.as_ref())
        .and_then(|r| r.controller_revision_ref.as_ref())
        .and_then(|r| r.name.clone());
    if let (Some(matcher), Some(name)) = (spec.preference.as_mut(), pref_rev) {
        matcher.revision_name = Some(name);
    }
    json!({ "spec": spec })
}

/// The revision to create for a start of `vm` at its current generation.
pub fn build_revision(vm: &VirtualMachine) -> ControllerRevision {
    let generation = vm.metadata.generation.unwrap_or_default();
    ControllerRevision {
        metadata: ObjectMeta {
            name: Some(revision_name(
                vm.metadata.uid.as_deref().unwrap_or_default(),
                generation,
            )),
            namespace: vm.metadata.namespace.clone(),
            owner_references: Some(vec![controller_ref(vm)]),
            ..Default::default()
        },
        data: Some(RawExtension(revision_data(vm))),
        revision: generation,
    }
}

/// The start revisions of `vm` among `revisions`: controlled by the VM and carrying its prefix.
pub fn start_revisions<'a>(
    vm: &VirtualMachine,
    revisions: &'a [ControllerRevision],
) -> Vec<&'a ControllerRevision> {
    let uid = vm.metadata.uid.as_deref().unwrap_or_default();
    let prefix = revision_prefix(uid);
    revisions
        .iter()
        .filter(|cr| {
            controller_of(cr.metadata.owner_references.as_ref()).is_some_and(|r| r.uid == uid)
        })
        .filter(|cr| {
            cr.metadata
                .name
                .as_deref()
                .is_some_and(|n| n.contains(&prefix))
        })
        .collect()
}

/// What starting `vm` does with revisions: the name the VMI records, the older revisions to
/// delete, and the revision to create unless one of the current generation exists.
#[derive(Clone, Debug, PartialEq)]
pub struct RevisionPlan {
    pub name: String,
    pub delete: Vec<String>,
    pub create: Option<ControllerRevision>,
}

pub fn plan_revision(vm: &VirtualMachine, revisions: &[ControllerRevision]) -> RevisionPlan {
    let generation = vm.metadata.generation.unwrap_or_default();
    let mut reuse = false;
    let mut delete = Vec::new();
    for cr in start_revisions(vm, revisions) {
        if cr.revision == generation {
            reuse = true;
        } else {
            delete.push(cr.metadata.name.clone().unwrap_or_default());
        }
    }
    RevisionPlan {
        name: revision_name(vm.metadata.uid.as_deref().unwrap_or_default(), generation),
        delete,
        create: (!reuse).then(|| build_revision(vm)),
    }
}

/// The VM spec stored in a revision.
pub fn revision_spec(cr: &ControllerRevision) -> Result<VirtualMachineSpec, RevisionError> {
    let data = cr.data.as_ref().map(|d| d.0.clone()).unwrap_or(Value::Null);
    let spec = data.get("spec").cloned().unwrap_or(Value::Null);
    serde_json::from_value(spec).map_err(|source| RevisionError::BadData {
        name: cr.metadata.name.clone().unwrap_or_default(),
        source,
    })
}

/// The spec of the start revision with the highest generation (the spec the running VMI was
/// started from), if any.
pub fn last_revision_spec(
    vm: &VirtualMachine,
    revisions: &[ControllerRevision],
) -> Result<Option<VirtualMachineSpec>, RevisionError> {
    let mut best: Option<(i64, &ControllerRevision)> = None;
    for cr in start_revisions(vm, revisions) {
        let name = cr.metadata.name.as_deref().unwrap_or_default();
        let generation =
            generation_from_name(name).ok_or_else(|| RevisionError::BadName(name.to_string()))?;
        if generation > best.map_or(0, |(g, _)| g) {
            best = Some((generation, cr));
        }
    }
    best.map(|(_, cr)| revision_spec(cr)).transpose()
}

/// The revision called `name` among `revisions`.
pub fn find_revision<'a>(
    revisions: &'a [ControllerRevision],
    name: &str,
) -> Option<&'a ControllerRevision> {
    revisions
        .iter()
        .find(|cr| cr.metadata.name.as_deref() == Some(name))
}

#[cfg(test)]
mod tests {
    use super::*;
    use api::{
        ControllerRevisionRef, InstancetypeMatcher, InstancetypeStatusRef, VirtualMachineStatus,
    };

    fn vm(generation: i64) -> VirtualMachine {
        let mut vm = VirtualMachine::new(
            "vm",
            VirtualMachineSpec {
                run_strategy: Some("Always".into()),
                ..Default::default()
            },
        );
        vm.metadata.namespace = Some("ns".into());
        vm.metadata.uid = Some("u1".into());
        vm.metadata.generation = Some(generation);
        vm
    }

    #[test]
    fn the_first_start_creates_a_revision_named_after_uid_and_generation() {
        let v = vm(2);
        let plan = plan_revision(&v, &[]);
        assert_eq!(plan.name, "revision-start-vm-u1-2");
        let cr = plan.create.unwrap();
        assert_eq!(cr.revision, 2);
        assert_eq!(cr.metadata.name.as_deref(), Some("revision-start-vm-u1-2"));
        assert_eq!(cr.metadata.owner_references.unwrap()[0].uid, "u1");
        assert_eq!(
            cr.data.unwrap().0["spec"],
            serde_json::to_value(&v.spec).unwrap()
        );
        assert!(plan.delete.is_empty());
    }

    #[test]
    fn a_later_start_deletes_older_revisions_and_reuses_the_current_one() {
        let old = build_revision(&vm(2));
        let current = build_revision(&vm(5));
        let v = vm(5);
        let plan = plan_revision(&v, &[old.clone(), current]);
        assert_eq!(plan.delete, vec!["revision-start-vm-u1-2".to_string()]);
        assert!(plan.create.is_none());
        let plan = plan_revision(&v, &[old]);
        assert_eq!(plan.create.unwrap().revision, 5);
    }

    #[test]
    fn revisions_of_other_vms_are_ignored() {
        let mut other = vm(2);
        other.metadata.uid = Some("u2".into());
        let plan = plan_revision(&vm(3), &[build_revision(&other)]);
        assert!(plan.delete.is_empty());
        assert!(plan.create.is_some());
    }

    #[test]
    fn the_last_revision_is_the_highest_generation() {
        let mut a = vm(2);
        a.spec.run_strategy = Some("Manual".into());
        let b = vm(10);
        let spec = last_revision_spec(&vm(11), &[build_revision(&b), build_revision(&a)]).unwrap();
        assert_eq!(spec.unwrap().run_strategy.as_deref(), Some("Always"));
        assert!(last_revision_spec(&vm(11), &[]).unwrap().is_none());
    }

    #[test]
    fn generation_is_parsed_from_the_name_suffix() {
        assert_eq!(generation_from_name("revision-start-vm-a-b-c-17"), Some(17));
        assert_eq!(generation_from_name("revision-start-vm-x"), None);
        assert_eq!(generation_from_name("nodash"), None);
    }

    #[test]
    fn instancetype_revision_names_are_captured() {
        let mut v = vm(1);
        v.spec.instancetype = Some(InstancetypeMatcher {
            name: Some("small".into()),
            ..Default::default()
        });
        v.status = Some(VirtualMachineStatus {
            instancetype_ref: Some(InstancetypeStatusRef {
                controller_revision_ref: Some(ControllerRevisionRef {
                    name: Some("it-rev".into()),
                }),
                ..Default::default()
            }),
            ..Default::default()
        });
        let data = revision_data(&v);
        assert_eq!(data["spec"]["instancetype"]["revisionName"], "it-rev");
    }
}
