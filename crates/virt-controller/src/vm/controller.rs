//! The running controller: informers on VMs, VMIs, ControllerRevisions, PVCs and DataVolumes,
//! the work queue, and the pass that ties the pure planner, the executor and the status
//! computation together.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use api::keys::{
    LATEST_OBSERVED_API_VERSION_ANNOTATION, STORAGE_OBSERVED_API_VERSION_ANNOTATION, VERSION,
};
use api::{VirtualMachine, VirtualMachineInstance};
use k8s_openapi::api::apps::v1::ControllerRevision;
use k8s_openapi::api::core::v1::PersistentVolumeClaim;
use k8s_openapi::jiff::Timestamp;
use kube::api::DynamicObject;
use kube::runtime::reflector::{self, ObjectRef, Store, store::Writer};
use kube::{Api, Client};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::executor::{Executor, PassState, data_volume_resource, is_not_found};
use super::informer::{self, Handler};
use super::queue::WorkQueue;
use super::reconcile::{Claim, Observed, claim, plan};
use super::status::{RandomJitter, StatusInput, compute_status};
use super::storage::{DataVolumeState, StorageView, claim_name};
use super::util::{controller_of, controller_ref, key};
use super::{VmControllerError, VmControllerOptions};
use crate::expectations::Expectations;

pub(super) struct Controller {
    vms: Store<VirtualMachine>,
    vmis: Store<VirtualMachineInstance>,
    revisions: Store<ControllerRevision>,
    /// Names of the revisions in `revisions` by the UID of their controller, so a pass reads
    /// its VM's revisions without scanning every VM's.
    revisions_by_owner: Mutex<HashMap<String, BTreeSet<(String, String)>>>,
    pvcs: Store<PersistentVolumeClaim>,
    dvs: Store<DynamicObject>,
    queue: WorkQueue,
    expectations: Arc<Expectations>,
    dv_expectations: Arc<Expectations>,
    executor: Executor,
    options: VmControllerOptions,
}

fn vm_key(vm: &VirtualMachine) -> String {
    key(
        vm.metadata.namespace.as_deref().unwrap_or_default(),
        vm.metadata.name.as_deref().unwrap_or_default(),
    )
}

impl Controller {
    fn vm(&self, ns: &str, name: &str) -> Option<Arc<VirtualMachine>> {
        self.vms.get(&ObjectRef::new(name).within(ns))
    }

    fn enqueue(&self, vm: &VirtualMachine) {
        self.queue.add(&vm_key(vm));
    }

    /// The VM a controller reference points to (kind VirtualMachine, same name and uid).
    fn resolve(
        &self,
        ns: &str,
        owner: &k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference,
    ) -> Option<Arc<VirtualMachine>> {
        if owner.kind != "VirtualMachine" {
            return None;
        }
        self.vm(ns, &owner.name)
            .filter(|vm| vm.metadata.uid.as_deref() == Some(owner.uid.as_str()))
    }

    fn enqueue_same_name(&self, vmi: &VirtualMachineInstance) {
        let ns = vmi.metadata.namespace.as_deref().unwrap_or_default();
        if let Some(vm) = self.vm(ns, vmi.metadata.name.as_deref().unwrap_or_default()) {
            self.enqueue(&vm);
        }
    }

    fn vmi_added(&self, vmi: &VirtualMachineInstance) {
        if vmi.is_marked_for_deletion() {
            return self.vmi_deleted(vmi);
        }
        let ns = vmi.metadata.namespace.as_deref().unwrap_or_default();
        match controller_of(vmi.metadata.owner_references.as_ref()) {
            Some(owner) => {
                if let Some(vm) = self.resolve(ns, owner) {
                    self.expectations.creation_observed(&vm_key(&vm));
                    self.enqueue(&vm);
                }
            }
            None => self.enqueue_same_name(vmi),
        }
    }

    fn vmi_updated(&self, old: &VirtualMachineInstance, cur: &VirtualMachineInstance) {
        if old.metadata.resource_version == cur.metadata.resource_version {
            return;
        }
        let labels_changed = old.metadata.labels != cur.metadata.labels;
        if cur.is_marked_for_deletion() {
            self.vmi_deleted(cur);
            if labels_changed {
                self.vmi_deleted(old);
            }
            return;
        }
        let ns = cur.metadata.namespace.as_deref().unwrap_or_default();
        let cur_ref = controller_of(cur.metadata.owner_references.as_ref());
        let old_ref = controller_of(old.metadata.owner_references.as_ref());
        let ref_changed = cur_ref != old_ref;
        if ref_changed && let Some(vm) = old_ref.and_then(|r| self.resolve(ns, r)) {
            self.enqueue(&vm);
        }
        if let Some(owner) = cur_ref {
            if let Some(vm) = self.resolve(ns, owner) {
                self.enqueue(&vm);
            }
            return;
        }
        if labels_changed || ref_changed {
            self.enqueue_same_name(cur);
        }
    }

    /// A VMI deleted or marked for deletion: its deletion is observed for its controller.
    fn vmi_deleted(&self, vmi: &VirtualMachineInstance) {
        let ns = vmi.metadata.namespace.as_deref().unwrap_or_default();
        let Some(vm) =
            controller_of(vmi.metadata.owner_references.as_ref()).and_then(|r| self.resolve(ns, r))
        else {
            // Not upstream: a VM waiting for a same-named VMI it does not own to go away (the
            // cache fence) is woken up.
            self.enqueue_same_name(vmi);
            return;
        };
        let k = vm_key(&vm);
        self.expectations
            .deletion_observed(&k, vmi.metadata.uid.as_deref().unwrap_or_default());
        self.queue.add(&k);
    }

    fn on_vmi(
        &self,
        old: Option<Arc<VirtualMachineInstance>>,
        new: Option<Arc<VirtualMachineInstance>>,
    ) {
        match (old, new) {
            (None, Some(new)) => self.vmi_added(&new),
            (Some(old), Some(new)) => self.vmi_updated(&old, &new),
            (Some(old), None) => self.vmi_deleted(&old),
            (None, None) => {}
        }
    }

    fn on_revision(
        &self,
        old: Option<Arc<ControllerRevision>>,
        new: Option<Arc<ControllerRevision>>,
    ) {
        let entry = |cr: &ControllerRevision| {
            let owner = controller_of(cr.metadata.owner_references.as_ref())?
                .uid
                .clone();
            let ns = cr.metadata.namespace.clone().unwrap_or_default();
            Some((owner, (ns, cr.metadata.name.clone().unwrap_or_default())))
        };
        let mut index = self.revisions_by_owner.lock().expect("revision index lock");
        if let Some((owner, name)) = old.as_deref().and_then(entry)
            && let Some(names) = index.get_mut(&owner)
        {
            names.remove(&name);
            if names.is_empty() {
                index.remove(&owner);
            }
        }
        if let Some((owner, name)) = new.as_deref().and_then(entry) {
            index.entry(owner).or_default().insert(name);
        }
    }

    /// The revisions in namespace `ns` whose controller has UID `owner`.
    fn revisions_of(&self, ns: &str, owner: &str) -> Vec<ControllerRevision> {
        let names: Vec<(String, String)> = self
            .revisions_by_owner
            .lock()
            .expect("revision index lock")
            .get(owner)
            .map(|names| names.iter().filter(|(n, _)| n == ns).cloned().collect())
            .unwrap_or_default();
        names
            .iter()
            .filter_map(|(ns, name)| self.revisions.get(&ObjectRef::new(name).within(ns)))
            // The store may hold a newer version than the index saw; the owner decides.
            .filter(|cr| {
                controller_of(cr.metadata.owner_references.as_ref()).is_some_and(|r| r.uid == owner)
            })
            .map(|cr| (*cr).clone())
            .collect()
    }

    /// VMs of `ns` whose volumes or DataVolume templates name the claim `name`.
    fn vms_referencing(&self, ns: &str, name: &str) -> Vec<Arc<VirtualMachine>> {
        self.vms
            .state()
            .into_iter()
            .filter(|vm| vm.metadata.namespace.as_deref() == Some(ns))
            .filter(|vm| referenced_claims(vm).contains(name))
            .collect()
    }

    fn on_pvc(
        &self,
        old: Option<Arc<PersistentVolumeClaim>>,
        new: Option<Arc<PersistentVolumeClaim>>,
    ) {
        let Some(pvc) = new.or(old) else { return };
        let ns = pvc.metadata.namespace.as_deref().unwrap_or_default();
        for vm in self.vms_referencing(ns, pvc.metadata.name.as_deref().unwrap_or_default()) {
            self.enqueue(&vm);
        }
    }

    fn on_data_volume(&self, old: Option<Arc<DynamicObject>>, new: Option<Arc<DynamicObject>>) {
        let gone = new.is_none()
            || new
                .as_ref()
                .is_some_and(|d| d.metadata.deletion_timestamp.is_some());
        let added = old.is_none() && !gone;
        let Some(dv) = new.or(old) else { return };
        let ns = dv.metadata.namespace.as_deref().unwrap_or_default();
        if let Some(vm) =
            controller_of(dv.metadata.owner_references.as_ref()).and_then(|r| self.resolve(ns, r))
        {
            let k = vm_key(&vm);
            if added {
                self.dv_expectations.creation_observed(&k);
            }
            if gone {
                self.dv_expectations
                    .deletion_observed(&k, dv.metadata.uid.as_deref().unwrap_or_default());
            }
            self.queue.add(&k);
        }
        for vm in self.vms_referencing(ns, dv.metadata.name.as_deref().unwrap_or_default()) {
            self.enqueue(&vm);
        }
    }

    /// The VMI named like the VM if the VM controls it, adopting an orphan first.
    async fn claim_vmi(
        &self,
        vm: &VirtualMachine,
    ) -> Result<Option<VirtualMachineInstance>, VmControllerError> {
        let ns = vm.metadata.namespace.as_deref().unwrap_or_default();
        let name = vm.metadata.name.as_deref().unwrap_or_default();
        let Some(vmi) = self.vmis.get(&ObjectRef::new(name).within(ns)) else {
            return Ok(None);
        };
        match claim(vm, &vmi) {
            Claim::Owned => Ok(Some((*vmi).clone())),
            Claim::OwnedByOther | Claim::Ignore => Ok(None),
            Claim::Adopt => {
                self.executor.can_adopt(vm).await.map_err(|e| {
                    VmControllerError::Adopt(format!(
                        "can't adopt VirtualMachineInstance {ns}/{name} ({}): {e}",
                        vmi.metadata.uid.clone().unwrap_or_default()
                    ))
                })?;
                match self.executor.adopt_vmi(&controller_ref(vm), &vmi).await {
                    Ok(adopted) => Ok(Some(adopted)),
                    Err(e) if is_not_found(&e) => Ok(None),
                    Err(e) => Err(VmControllerError::Kube(e)),
                }
            }
        }
    }

    /// Adopts orphan DataVolumes named like the VM's DataVolume templates.
    async fn claim_data_volumes(&self, vm: &VirtualMachine) -> Result<(), VmControllerError> {
        if vm.metadata.deletion_timestamp.is_some() {
            return Ok(());
        }
        let ns = vm.metadata.namespace.as_deref().unwrap_or_default();
        let ar = data_volume_resource();
        for template in vm.spec.data_volume_templates.iter().flatten() {
            let name = template
                .metadata
                .as_ref()
                .and_then(|m| m.name.as_deref())
                .unwrap_or_default();
            let Some(dv) = self
                .dvs
                .get(&ObjectRef::new_with(name, ar.clone()).within(ns))
            else {
                continue;
            };
            if dv.metadata.deletion_timestamp.is_some()
                || controller_of(dv.metadata.owner_references.as_ref()).is_some()
            {
                continue;
            }
            self.executor
                .can_adopt(vm)
                .await
                .map_err(VmControllerError::Adopt)?;
            match self
                .executor
                .adopt_data_volume(&controller_ref(vm), &dv)
                .await
            {
                Ok(()) => {}
                Err(e) if is_not_found(&e) => {}
                Err(e) => return Err(VmControllerError::Kube(e)),
            }
        }
        Ok(())
    }

    fn storage_view(&self, vm: &VirtualMachine) -> StorageView {
        let ns = vm.metadata.namespace.as_deref().unwrap_or_default();
        let ar = data_volume_resource();
        let mut view = StorageView::default();
        for name in referenced_claims(vm) {
            if let Some(dv) = self
                .dvs
                .get(&ObjectRef::new_with(&name, ar.clone()).within(ns))
            {
                let value = serde_json::to_value(dv.as_ref()).unwrap_or_default();
                view.data_volumes
                    .insert(name.clone(), DataVolumeState::from_object(&value));
            }
            if let Some(pvc) = self.pvcs.get(&ObjectRef::new(&name).within(ns)) {
                let phase = pvc
                    .status
                    .as_ref()
                    .and_then(|s| s.phase.clone())
                    .unwrap_or_default();
                view.pvcs.insert(name, phase);
            }
        }
        view
    }

    /// One pass over the VM `k`. Returns when to look again, if the pass asks for it.
    pub(super) async fn process(&self, k: &str) -> Result<Option<Duration>, VmControllerError> {
        let (ns, name) = k.split_once('/').unwrap_or(("", k));
        let Some(cached) = self.vm(ns, name) else {
            self.expectations.delete(k);
            self.dv_expectations.delete(k);
            return Ok(None);
        };
        let mut vm = (*cached).clone();
        let annotations = vm.metadata.annotations.as_ref();
        let observed = |a: &str| {
            annotations
                .and_then(|m| m.get(a))
                .is_some_and(|v| v == VERSION)
        };
        if !observed(LATEST_OBSERVED_API_VERSION_ANNOTATION)
            || !observed(STORAGE_OBSERVED_API_VERSION_ANNOTATION)
        {
            // The pass goes on from the VM as written, not from a second pass after the watch
            // brings it back.
            vm = self.executor.annotate_api_version(&vm).await?;
        }

        let vmi = self.claim_vmi(&vm).await?;
        let name_fenced = vmi.is_none()
            && self
                .vmis
                .get(&ObjectRef::new(name).within(ns))
                .is_some_and(|v| v.is_marked_for_deletion());
        self.claim_data_volumes(&vm).await?;
        let storage = self.storage_view(&vm);
        // Only the VM's own revisions matter; the others are never cloned.
        let revisions = match vm.metadata.uid.as_deref() {
            Some(uid) => self.revisions_of(ns, uid),
            None => Vec::new(),
        };
        let satisfied = self.expectations.satisfied(k) && self.dv_expectations.satisfied(k);
        let the_plan = plan(&Observed {
            vm: &vm,
            vmi: vmi.as_ref(),
            revisions: &revisions,
            storage: &storage,
            expectations_satisfied: satisfied,
            name_fenced,
            now: Timestamp::now(),
            config: &self.options.sync,
        });
        let requeue_after = the_plan.requeue_after;
        let mut state = PassState::new(vm.clone(), vmi);
        let sync_error = self
            .executor
            .execute(k, &mut state, the_plan.actions)
            .await?
            .or(the_plan.sync_error);
        if let Some(e) = &sync_error {
            tracing::warn!(vm = %k, reason = %e.reason, error = %e.message, "reconciling the VirtualMachine failed");
        }

        let now = Timestamp::now();
        let working = state.vm_with_edits(now);
        let outcome = compute_status(
            &StatusInput {
                vm: &working,
                observed_run_strategy: vm.spec.run_strategy().ok(),
                vmi: state.vmi.as_ref(),
                revisions: &revisions,
                storage: &storage,
                sync_error: sync_error.as_ref(),
                start_expected: self.expectations.creation_pending(k),
                stop_expected: self.expectations.deletion_pending(k),
                now,
            },
            &mut RandomJitter,
        );
        if let (Some(generation), Some(vmi)) = (outcome.backfill_generation, state.vmi.as_ref()) {
            state.vmi = Some(self.executor.set_vmi_generation(vmi, generation).await?);
        }
        if state.vm.status.as_ref() != Some(&outcome.status) {
            self.executor
                .write_status(&state.vm, outcome.status)
                .await?;
        }
        if outcome.remove_vmi_finalizer
            && let Some(vmi) = state.vmi.as_ref()
        {
            self.executor.remove_vmi_finalizer(vmi).await?;
        }
        let requeue_after = match (requeue_after, state.retry_after) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        match sync_error {
            Some(e) => Err(VmControllerError::Sync(e)),
            None => Ok(requeue_after),
        }
    }
}

/// Claim names a VM refers to: its volumes' DataVolumes, PVCs and memory dumps, and its
/// DataVolume templates.
fn referenced_claims(vm: &VirtualMachine) -> BTreeSet<String> {
    let mut names: BTreeSet<String> = vm
        .spec
        .template
        .spec
        .iter()
        .flat_map(|s| s.volumes.iter().flatten())
        .filter_map(|v| claim_name(v).map(String::from))
        .collect();
    names.extend(
        vm.spec
            .data_volume_templates
            .iter()
            .flatten()
            .filter_map(|t| t.metadata.as_ref().and_then(|m| m.name.clone())),
    );
    names
}

/// Aborts the spawned tasks when the controller future is dropped.
struct Tasks(Vec<JoinHandle<()>>);

impl Drop for Tasks {
    fn drop(&mut self) {
        for t in &self.0 {
            t.abort();
        }
    }
}

/// A change notification method of the controller: `(old, new)`.
type OnChange<K> = fn(&Controller, Option<Arc<K>>, Option<Arc<K>>);

fn handler<K: 'static>(ctrl: &Arc<Controller>, f: OnChange<K>) -> Handler<K> {
    let ctrl = Arc::clone(ctrl);
    Arc::new(move |old, new| f(&ctrl, old, new))
}

fn vm_changed(
    ctrl: &Controller,
    old: Option<Arc<VirtualMachine>>,
    new: Option<Arc<VirtualMachine>>,
) {
    if let Some(vm) = new.or(old) {
        ctrl.enqueue(&vm);
    }
}

/// Runs the controller until the returned future is dropped.
pub(super) async fn run(client: Client, options: VmControllerOptions) {
    let (vms, vm_writer) = reflector::store::<VirtualMachine>();
    let (vmis, vmi_writer) = reflector::store::<VirtualMachineInstance>();
    let (revisions, cr_writer) = reflector::store::<ControllerRevision>();
    let (pvcs, pvc_writer) = reflector::store::<PersistentVolumeClaim>();
    let ar = data_volume_resource();
    let dv_writer: Writer<DynamicObject> = Writer::new(ar.clone());
    let dvs = dv_writer.as_reader();
    let expectations = Arc::new(Expectations::new());
    let dv_expectations = Arc::new(Expectations::new());
    let workers = options.workers.max(1);
    let resync = options.resync;
    let ctrl = Arc::new(Controller {
        vms: vms.clone(),
        vmis: vmis.clone(),
        revisions: revisions.clone(),
        revisions_by_owner: Mutex::new(HashMap::new()),
        pvcs: pvcs.clone(),
        dvs: dvs.clone(),
        queue: WorkQueue::new(),
        executor: Executor::new(
            client.clone(),
            expectations.clone(),
            dv_expectations.clone(),
        ),
        expectations,
        dv_expectations,
        options,
    });

    let mut tasks = Tasks(Vec::new());
    let mut synced = Vec::new();
    macro_rules! informer {
        ($api:expr, $writer:expr, $reader:expr, $dyn:expr, $handler:expr, $optional:expr) => {{
            let (tx, rx) = watch::channel(false);
            synced.push(rx);
            tasks.0.push(tokio::spawn(informer::run(
                $api, $writer, $reader, $dyn, $handler, tx, $optional,
            )));
        }};
    }
    informer!(
        Api::all(client.clone()),
        vm_writer,
        vms,
        (),
        handler(&ctrl, vm_changed),
        false
    );
    informer!(
        Api::all(client.clone()),
        vmi_writer,
        vmis,
        (),
        handler(&ctrl, Controller::on_vmi),
        false
    );
    informer!(
        Api::all(client.clone()),
        cr_writer,
        revisions,
        (),
        handler(&ctrl, Controller::on_revision),
        false
    );
    informer!(
        Api::all(client.clone()),
        pvc_writer,
        pvcs,
        (),
        handler(&ctrl, Controller::on_pvc),
        false
    );
    informer!(
        Api::all_with(client.clone(), &ar),
        dv_writer,
        dvs,
        ar.clone(),
        handler(&ctrl, Controller::on_data_volume),
        true
    );
    for mut rx in synced {
        if rx.wait_for(|s| *s).await.is_err() {
            return;
        }
    }
    tracing::info!(workers, "VirtualMachine controller started");

    for _ in 0..workers {
        let ctrl = Arc::clone(&ctrl);
        tasks.0.push(tokio::spawn(async move {
            loop {
                let k = ctrl.queue.get().await;
                match ctrl.process(&k).await {
                    Ok(requeue) => {
                        ctrl.queue.forget(&k);
                        if let Some(after) = requeue {
                            ctrl.queue.add_after(&k, after);
                        }
                    }
                    Err(e) => {
                        tracing::info!(vm = %k, error = %e, "re-enqueuing VirtualMachine");
                        ctrl.queue.add_rate_limited(&k);
                    }
                }
                ctrl.queue.done(&k);
            }
        }));
    }
    if !resync.is_zero() {
        let ctrl = Arc::clone(&ctrl);
        tasks.0.push(tokio::spawn(async move {
            let mut tick = tokio::time::interval(resync);
            tick.tick().await;
            loop {
                tick.tick().await;
                for vm in ctrl.vms.state() {
                    ctrl.enqueue(&vm);
                }
            }
        }));
    }
    let _tasks = tasks;
    std::future::pending::<()>().await;
}
