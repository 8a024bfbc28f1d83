//! The replica set controller's executor: informers on replica sets and VMIs, expectations
//! per replica set, and the parallel, burst-limited creates and deletes.

use std::sync::Arc;
use std::time::Duration;

use api::keys;
use api::{VirtualMachineInstance, VirtualMachineInstanceReplicaSet};
use jiff::Timestamp;
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use kube::runtime::watcher;
use kube::{Api, Client, Resource};
use serde_json::json;

use super::reconcile::{
    KIND, ScaleStep, adopt_patch, claim, cleanup, new_vmi, next_status, partition, pause_event,
    release_patch, scale_step, validate,
};
use super::{ReplicaSetControllerOptions, RsError};
use crate::expectations::Expectations;
use crate::vmi::pod::controller_of;
use crate::vmi::runtime::{Cache, Change, WorkQueue, key_of, run_informer, run_workers};

/// Reporting component of the replica set controller's events.
pub const REPORTER: &str = "virtualmachinereplicaset-controller";

struct Ctx {
    client: Client,
    options: ReplicaSetControllerOptions,
    sets: Arc<Cache<VirtualMachineInstanceReplicaSet>>,
    vmis: Arc<Cache<VirtualMachineInstance>>,
    queue: Arc<WorkQueue>,
    expectations: Expectations,
    recorder: Recorder,
}

fn namespace_of(vmi: &VirtualMachineInstance) -> Vec<String> {
    vec![vmi.metadata.namespace.clone().unwrap_or_default()]
}

/// Runs the replica set controller until the future is dropped.
pub async fn run(client: Client, options: ReplicaSetControllerOptions) {
    let reporter = Reporter {
        controller: REPORTER.into(),
        instance: None,
    };
    let ctx = Ctx {
        client: client.clone(),
        options,
        sets: Cache::new(),
        vmis: Cache::with_index(namespace_of),
        queue: WorkQueue::new(),
        expectations: Expectations::new(),
        recorder: Recorder::new(client.clone(), reporter),
    };
    let ctx = &ctx;
    let workers = async {
        ctx.sets.ready().await;
        ctx.vmis.ready().await;
        run_workers(ctx.queue.clone(), ctx.options.workers, |key| {
            ctx.reconcile(key)
        })
        .await;
    };
    let config = watcher::Config::default;
    futures::join!(
        run_informer(Api::all(client.clone()), config(), ctx.sets.clone(), |c| {
            ctx.on_set(c)
        }),
        run_informer(Api::all(client.clone()), config(), ctx.vmis.clone(), |c| {
            ctx.on_vmi(c)
        }),
        workers,
    );
}

fn now() -> Timestamp {
    Timestamp::from_second(Timestamp::now().as_second()).unwrap_or_else(|_| Timestamp::now())
}

fn is_status(e: &kube::Error, codes: &[u16]) -> bool {
    matches!(e, kube::Error::Api(s) if codes.contains(&s.code))
}

impl Ctx {
    fn on_set(&self, change: Change<VirtualMachineInstanceReplicaSet>) {
        let rs = match change {
            Change::Added(r) | Change::Updated(_, r) | Change::Deleted(r) => r,
        };
        self.queue.add(&key_of(&rs.metadata));
    }

    /// The replica set a controller reference points at, if it is cached with that uid.
    fn resolve(
        &self,
        vmi: &VirtualMachineInstance,
    ) -> Option<Arc<VirtualMachineInstanceReplicaSet>> {
        let owner = controller_of(&vmi.metadata).filter(|r| r.kind == KIND)?;
        let ns = vmi.metadata.namespace.as_deref().unwrap_or_default();
        let rs = self.sets.get(&format!("{ns}/{}", owner.name))?;
        (rs.metadata.uid.as_deref() == Some(owner.uid.as_str())).then_some(rs)
    }

    /// Replica sets whose selector matches an orphan.
    fn matching(&self, vmi: &VirtualMachineInstance) -> Vec<String> {
        self.sets
            .list()
            .into_iter()
            .filter(|rs| rs.metadata.namespace == vmi.metadata.namespace)
            .filter(|rs| {
                let labels = vmi.metadata.labels.clone().unwrap_or_default();
                validate(rs).is_ok_and(|s| s.matches_labels(&labels))
            })
            .map(|rs| key_of(&rs.metadata))
            .collect()
    }

    fn vmi_deleted(&self, vmi: &VirtualMachineInstance) {
        if let Some(rs) = self.resolve(vmi) {
            let key = key_of(&rs.metadata);
            self.expectations
                .deletion_observed(&key, &key_of(&vmi.metadata));
            self.queue.add(&key);
        }
    }

    fn on_vmi(&self, change: Change<VirtualMachineInstance>) {
        match change {
            Change::Added(vmi) => {
                if vmi.metadata.deletion_timestamp.is_some() {
                    return self.vmi_deleted(&vmi);
                }
                if controller_of(&vmi.metadata).is_some() {
                    if let Some(rs) = self.resolve(&vmi) {
                        let key = key_of(&rs.metadata);
                        self.expectations.creation_observed(&key);
                        self.queue.add(&key);
                    }
                    return;
                }
                for key in self.matching(&vmi) {
                    self.queue.add(&key);
                }
            }
            Change::Updated(old, new) => {
                if old.metadata.resource_version == new.metadata.resource_version {
                    return;
                }
                let labels_changed = old.metadata.labels != new.metadata.labels;
                if new.metadata.deletion_timestamp.is_some() {
                    // A graceful delete counts at once, so a replacement is created early.
                    self.vmi_deleted(&new);
                    if labels_changed {
                        self.vmi_deleted(&old);
                    }
                    return;
                }
                let (old_ref, new_ref) =
                    (controller_of(&old.metadata), controller_of(&new.metadata));
                if old_ref != new_ref
                    && old_ref.is_some()
                    && let Some(rs) = self.resolve(&old)
                {
                    self.queue.add(&key_of(&rs.metadata));
                }
                if new_ref.is_some() {
                    if let Some(rs) = self.resolve(&new) {
                        self.queue.add(&key_of(&rs.metadata));
                    }
                    return;
                }
                if labels_changed || old_ref != new_ref {
                    for key in self.matching(&new) {
                        self.queue.add(&key);
                    }
                }
            }
            Change::Deleted(vmi) => self.vmi_deleted(&vmi),
        }
    }

    async fn event(
        &self,
        rs: &VirtualMachineInstanceReplicaSet,
        warning: bool,
        reason: &str,
        note: String,
    ) {
        let event = Event {
            type_: if warning {
                EventType::Warning
            } else {
                EventType::Normal
            },
            reason: reason.into(),
            action: note.chars().take(128).collect(),
            note: Some(note),
            secondary: None,
        };
        if let Err(e) = self.recorder.publish(&event, &rs.object_ref(&())).await {
            tracing::warn!(error = %e, reason, "cannot record event");
        }
    }

    /// A fresh read shows the same, not deleting, replica set (checked once per pass).
    async fn can_adopt(&self, rs: &VirtualMachineInstanceReplicaSet) -> Result<(), RsError> {
        let api: Api<VirtualMachineInstanceReplicaSet> = Api::namespaced(
            self.client.clone(),
            rs.metadata.namespace.as_deref().unwrap_or_default(),
        );
        let fresh = api
            .get(rs.metadata.name.as_deref().unwrap_or_default())
            .await?;
        if fresh.metadata.uid != rs.metadata.uid {
            return Err(RsError::Gone);
        }
        if fresh.metadata.deletion_timestamp.is_some() {
            return Err(RsError::Deleting);
        }
        Ok(())
    }

    async fn reconcile(&self, key: String) -> Result<Option<Duration>, RsError> {
        let Some(rs) = self.sets.get(&key) else {
            self.expectations.delete(&key);
            return Ok(None);
        };
        let ns = rs.metadata.namespace.clone().unwrap_or_default();
        let name = rs.metadata.name.clone().unwrap_or_default();
        let rs_api: Api<VirtualMachineInstanceReplicaSet> =
            Api::namespaced(self.client.clone(), &ns);
        let vmi_api: Api<VirtualMachineInstance> = Api::namespaced(self.client.clone(), &ns);

        let annotations = rs.metadata.annotations.as_ref();
        if !annotations
            .is_some_and(|a| a.contains_key(keys::LATEST_OBSERVED_API_VERSION_ANNOTATION))
        {
            let patch = json!({"metadata": {"annotations": {
                keys::LATEST_OBSERVED_API_VERSION_ANNOTATION: keys::VERSION,
                keys::STORAGE_OBSERVED_API_VERSION_ANNOTATION: keys::VERSION,
            }}});
            rs_api
                .patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
                .await?;
            return Ok(None);
        }
        let selector = match validate(&rs) {
            Ok(s) => s,
            Err(e) => {
                tracing::error!(replicaset = %key, error = %e, "invalid replica set; not retried");
                return Ok(None);
            }
        };
        let needs_sync = self.expectations.satisfied(&key);

        let mut cached = self.vmis.by_index(&ns);
        cached.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
        let all: Vec<&VirtualMachineInstance> = cached.iter().map(|v| &**v).collect();
        let claimed = claim(&rs, &selector, &all);
        let mut owned = claimed.owned;
        let mut claim_error = None;
        if !claimed.adopt.is_empty() {
            match self.can_adopt(&rs).await {
                Ok(()) => {
                    for vmi in claimed.adopt {
                        let vmi_name = vmi.metadata.name.as_deref().unwrap_or_default();
                        let patch = adopt_patch(&rs, vmi);
                        match vmi_api
                            .patch(vmi_name, &PatchParams::default(), &Patch::Merge(&patch))
                            .await
                        {
                            Ok(_) => owned.push(vmi),
                            Err(e) if is_status(&e, &[404]) => {}
                            Err(e) => claim_error = Some(e.into()),
                        }
                    }
                }
                Err(e) => claim_error = Some(e),
            }
        }
        for vmi in claimed.release {
            let vmi_name = vmi.metadata.name.as_deref().unwrap_or_default();
            let patch = release_patch();
            match vmi_api
                .patch(vmi_name, &PatchParams::default(), &Patch::Merge(&patch))
                .await
            {
                Ok(_) => {}
                Err(e) if is_status(&e, &[404, 422]) => {}
                Err(e) => claim_error = Some(e.into()),
            }
        }
        if let Some(e) = claim_error {
            return Err(e);
        }

        let parts = partition(&owned);
        let mut scale_error: Option<String> = None;
        let paused = rs.spec.paused.unwrap_or(false);
        if needs_sync && !paused && rs.metadata.deletion_timestamp.is_none() {
            scale_error = self
                .scale(
                    &rs,
                    &key,
                    scale_step(&rs, &parts.active, self.options.burst_replicas),
                )
                .await;
            let finished = cleanup(&parts, self.options.burst_replicas);
            if scale_error.is_none() && !finished.is_empty() {
                scale_error = self.delete_vmis(&rs, &key, &finished, true).await;
            }
        }

        if let Some(status) =
            next_status(&rs, &selector, &parts.active, scale_error.as_deref(), now())
        {
            let mut updated = (*rs).clone();
            updated.status = Some(status);
            match rs_api
                .replace_status(&name, &PostParams::default(), &updated)
                .await
            {
                Ok(_) => {
                    if let Some((reason, note)) = pause_event(&rs) {
                        self.event(&rs, false, reason, note.into()).await;
                    }
                }
                Err(e) => tracing::info!(replicaset = %key, error = %e, "status update failed"),
            }
        }
        match scale_error {
            Some(message) => Err(RsError::Scale(message)),
            None => Ok(None),
        }
    }

    /// Runs a scale step; returns the first error.
    async fn scale(
        &self,
        rs: &VirtualMachineInstanceReplicaSet,
        key: &str,
        step: ScaleStep<'_>,
    ) -> Option<String> {
        match step {
            ScaleStep::Nothing => None,
            ScaleStep::Delete(vmis) => self.delete_vmis(rs, key, &vmis, false).await,
            ScaleStep::Create(n) => {
                let ns = rs.metadata.namespace.as_deref().unwrap_or_default();
                let api: Api<VirtualMachineInstance> = Api::namespaced(self.client.clone(), ns);
                self.expectations.expect_creations(key, n as i64);
                let template = new_vmi(rs);
                let creates = (0..n).map(|_| async {
                    match api.create(&PostParams::default(), &template).await {
                        Ok(vmi) => {
                            let name = vmi.metadata.name.unwrap_or_default();
                            let note = format!("Started the virtual machine by creating the new virtual machine instance {name}");
                            self.event(rs, false, "SuccessfulCreate", note).await;
                            None
                        }
                        Err(e) => {
                            self.expectations.creation_observed(key);
                            let note = format!("Error creating virtual machine instance: {e}");
                            self.event(rs, true, "FailedCreate", note).await;
                            Some(e.to_string())
                        }
                    }
                });
                futures::future::join_all(creates)
                    .await
                    .into_iter()
                    .flatten()
                    .next()
            }
        }
    }

    /// Deletes VMIs in parallel; `finished` selects the wording of the events.
    async fn delete_vmis(
        &self,
        rs: &VirtualMachineInstanceReplicaSet,
        key: &str,
        vmis: &[&VirtualMachineInstance],
        finished: bool,
    ) -> Option<String> {
        let ns = rs.metadata.namespace.as_deref().unwrap_or_default();
        let api: Api<VirtualMachineInstance> = Api::namespaced(self.client.clone(), ns);
        self.expectations
            .expect_deletions(key, vmis.iter().map(|v| key_of(&v.metadata)));
        let deletes = vmis.iter().map(|vmi| {
            let api = &api;
            async move {
                let name = vmi.metadata.name.as_deref().unwrap_or_default();
                let uid = vmi.metadata.uid.as_deref().unwrap_or_default();
                match api.delete(name, &DeleteParams::default()).await {
                    Ok(_) => {
                        let note = if finished {
                            format!("Deleted finished virtual machine: {uid}")
                        } else {
                            format!("Stopped the virtual machine by deleting the virtual machine instance {uid}")
                        };
                        self.event(rs, false, "SuccessfulDelete", note).await;
                        None
                    }
                    Err(e) => {
                        self.expectations.deletion_observed(key, &key_of(&vmi.metadata));
                        let note = if finished {
                            format!("Error deleting finished virtual machine {name}: {e}")
                        } else {
                            format!("Error deleting virtual machine instance {name}: {e}")
                        };
                        self.event(rs, true, "FailedDelete", note).await;
                        Some(e.to_string())
                    }
                }
            }
        });
        futures::future::join_all(deletes)
            .await
            .into_iter()
            .flatten()
            .next()
    }
}
