//! The VMI controller's executor: informers on VMIs, launcher pods, VMs and PVCs, a work
//! queue keyed by `namespace/name`, and the API calls the pure plans ask for.

use std::sync::Arc;
use std::time::Duration;

use api::keys;
use api::{VirtualMachine, VirtualMachineInstance};
use jiff::Timestamp;
use k8s_openapi::api::core::v1::{PersistentVolumeClaim, Pod};
use kube::api::{ApiResource, DeleteParams, DynamicObject, Patch, PatchParams, PostParams};
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use kube::runtime::watcher;
use kube::{Api, Client, Resource};
use serde_json::{Value, json};

use super::lifecycle::{
    REASON_FAILED_CREATE, REASON_FAILED_DELETE, StatusInput, SyncError, VmiEvent, VmiWrite,
    plan_status, plan_sync,
};
use super::pod::{controller_of, current_pod};
use super::runtime::{Cache, Change, WorkQueue, key_of, run_informer, run_workers};
use super::template::render_launcher_pod;
use super::{VmiControllerOptions, VmiError};
use crate::expectations::Expectations;

/// Reporting component of the VMI controller's events.
pub const REPORTER: &str = "virtualmachine-controller";

struct Ctx {
    client: Client,
    options: VmiControllerOptions,
    vmis: Arc<Cache<VirtualMachineInstance>>,
    pods: Arc<Cache<Pod>>,
    vms: Arc<Cache<VirtualMachine>>,
    pvcs: Arc<Cache<PersistentVolumeClaim>>,
    queue: Arc<WorkQueue>,
    pod_expectations: Expectations,
    vmi_expectations: Expectations,
    recorder: Recorder,
}

/// Index of launcher pods: the uid of their controller.
fn controller_uid(pod: &Pod) -> Vec<String> {
    controller_of(&pod.metadata)
        .map(|r| r.uid.clone())
        .into_iter()
        .collect()
}

/// Runs the VMI controller until the future is dropped.
pub async fn run(client: Client, options: VmiControllerOptions) {
    let recorder = Recorder::new(
        client.clone(),
        Reporter {
            controller: REPORTER.into(),
            instance: None,
        },
    );
    let ctx = Ctx {
        client: client.clone(),
        options,
        vmis: Cache::new(),
        pods: Cache::with_index(controller_uid),
        vms: Cache::new(),
        pvcs: Cache::new(),
        queue: WorkQueue::new(),
        pod_expectations: Expectations::new(),
        vmi_expectations: Expectations::new(),
        recorder,
    };
    let ctx = &ctx;
    let launcher_pods = watcher::Config::default().labels(&format!(
        "{}={}",
        keys::APP_LABEL,
        keys::VIRT_LAUNCHER_APP
    ));
    let workers = async {
        ctx.vmis.ready().await;
        ctx.pods.ready().await;
        ctx.vms.ready().await;
        ctx.pvcs.ready().await;
        run_workers(ctx.queue.clone(), ctx.options.workers, |key| {
            ctx.reconcile(key)
        })
        .await;
    };
    futures::join!(
        run_informer(
            Api::all(client.clone()),
            watcher::Config::default(),
            ctx.vmis.clone(),
            |c| ctx.on_vmi(c)
        ),
        run_informer(
            Api::all(client.clone()),
            launcher_pods,
            ctx.pods.clone(),
            |c| ctx.on_pod(c)
        ),
        run_informer(
            Api::<VirtualMachine>::all(client.clone()),
            watcher::Config::default(),
            ctx.vms.clone(),
            |_| {}
        ),
        run_informer(
            Api::all(client.clone()),
            watcher::Config::default(),
            ctx.pvcs.clone(),
            |c| ctx.on_pvc(c)
        ),
        workers,
    );
}

fn now() -> Timestamp {
    // Kubernetes times have second precision; comparing with stored ones needs the same.
    Timestamp::from_second(Timestamp::now().as_second()).unwrap_or_else(|_| Timestamp::now())
}

fn claims_of(vmi: &VirtualMachineInstance) -> impl Iterator<Item = &str> {
    vmi.spec.volumes.iter().flatten().filter_map(|v| {
        if let Some(pvc) = v
            .persistent_volume_claim
            .as_ref()
            .filter(|p| p.hotpluggable != Some(true))
        {
            Some(pvc.claim_name.as_str())
        } else {
            v.data_volume
                .as_ref()
                .filter(|d| d.hotpluggable != Some(true))
                .map(|d| d.name.as_str())
        }
    })
}

impl Ctx {
    /// The VMI controlling a pod, if it is in the cache with the same uid.
    fn vmi_of(&self, pod: &Pod) -> Option<Arc<VirtualMachineInstance>> {
        let owner = controller_of(&pod.metadata).filter(|r| r.kind == "VirtualMachineInstance")?;
        let ns = pod.metadata.namespace.as_deref().unwrap_or_default();
        let vmi = self.vmis.get(&format!("{ns}/{}", owner.name))?;
        (vmi.metadata.uid.as_deref() == Some(owner.uid.as_str())).then_some(vmi)
    }

    fn on_vmi(&self, change: Change<VirtualMachineInstance>) {
        let vmi = match change {
            Change::Added(v) | Change::Updated(_, v) => {
                // An update we made is now visible.
                self.vmi_expectations
                    .creation_observed(&key_of(&v.metadata));
                v
            }
            Change::Deleted(v) => v,
        };
        self.queue.add(&key_of(&vmi.metadata));
    }

    fn pod_deleted(&self, pod: &Pod) {
        // Keyed by the owner's name, not through the cache: when the owning VMI is already
        // gone and a new VMI of the same name (a VM's next start) is cached, a uid-checked
        // lookup would miss, and the deletion expected under that key would hold the new
        // VMI back until the expectations expire.
        let Some(owner) =
            controller_of(&pod.metadata).filter(|r| r.kind == "VirtualMachineInstance")
        else {
            return;
        };
        let ns = pod.metadata.namespace.as_deref().unwrap_or_default();
        let key = format!("{ns}/{}", owner.name);
        self.pod_expectations
            .deletion_observed(&key, &key_of(&pod.metadata));
        self.queue.add(&key);
    }

    fn on_pod(&self, change: Change<Pod>) {
        match change {
            Change::Added(pod) => {
                if pod.metadata.deletion_timestamp.is_some() {
                    return self.pod_deleted(&pod);
                }
                if let Some(vmi) = self.vmi_of(&pod) {
                    let key = key_of(&vmi.metadata);
                    self.pod_expectations.creation_observed(&key);
                    self.queue.add(&key);
                }
            }
            Change::Updated(old, new) => {
                if old.metadata.resource_version == new.metadata.resource_version {
                    return;
                }
                if new.metadata.deletion_timestamp.is_some() {
                    // A pod marked for deletion counts as deleted for the expectations.
                    self.pod_deleted(&new);
                    if old.metadata.labels != new.metadata.labels {
                        self.pod_deleted(&old);
                    }
                    return;
                }
                if controller_of(&old.metadata) != controller_of(&new.metadata)
                    && let Some(vmi) = self.vmi_of(&old)
                {
                    self.queue.add(&key_of(&vmi.metadata));
                }
                if let Some(vmi) = self.vmi_of(&new) {
                    self.queue.add(&key_of(&vmi.metadata));
                }
            }
            Change::Deleted(pod) => self.pod_deleted(&pod),
        }
    }

    fn on_pvc(&self, change: Change<PersistentVolumeClaim>) {
        let pvc = match change {
            Change::Added(p) | Change::Updated(_, p) => p,
            Change::Deleted(_) => return,
        };
        let ns = pvc.metadata.namespace.as_deref().unwrap_or_default();
        let name = pvc.metadata.name.as_deref().unwrap_or_default();
        for vmi in self.vmis.list() {
            if vmi.metadata.namespace.as_deref() == Some(ns) && claims_of(&vmi).any(|c| c == name) {
                self.queue.add(&key_of(&vmi.metadata));
            }
        }
    }

    async fn event(&self, vmi: &VirtualMachineInstance, e: &VmiEvent) {
        let event = Event {
            type_: if e.warning {
                EventType::Warning
            } else {
                EventType::Normal
            },
            reason: e.reason.clone(),
            note: Some(e.message.clone()),
            action: e.message.chars().take(128).collect(),
            secondary: None,
        };
        if let Err(err) = self.recorder.publish(&event, &vmi.object_ref(&())).await {
            tracing::warn!(error = %err, reason = %e.reason, "cannot record event");
        }
    }

    fn owner_vm_exists(&self, vmi: &VirtualMachineInstance) -> bool {
        let Some(owner) = controller_of(&vmi.metadata).filter(|r| r.kind == "VirtualMachine")
        else {
            return false;
        };
        let ns = vmi.metadata.namespace.as_deref().unwrap_or_default();
        self.vms
            .get(&format!("{ns}/{}", owner.name))
            .is_some_and(|vm| vm.metadata.uid.as_deref() == Some(owner.uid.as_str()))
    }

    fn missing_claims(&self, vmi: &VirtualMachineInstance) -> Vec<String> {
        let ns = vmi.metadata.namespace.as_deref().unwrap_or_default();
        claims_of(vmi)
            .filter(|c| self.pvcs.get(&format!("{ns}/{c}")).is_none())
            .map(String::from)
            .collect()
    }

    async fn reconcile(&self, key: String) -> Result<Option<Duration>, VmiError> {
        let Some(vmi) = self.vmis.get(&key) else {
            self.pod_expectations.delete(&key);
            self.vmi_expectations.delete(&key);
            return Ok(None);
        };
        let ns = vmi.metadata.namespace.clone().unwrap_or_default();
        let name = vmi.metadata.name.clone().unwrap_or_default();
        let vmi_api: Api<VirtualMachineInstance> = Api::namespaced(self.client.clone(), &ns);
        let pod_api: Api<Pod> = Api::namespaced(self.client.clone(), &ns);

        // Writing the observed API version first keeps the stored version current.
        let annotations = vmi.metadata.annotations.as_ref();
        if !annotations
            .is_some_and(|a| a.contains_key(keys::LATEST_OBSERVED_API_VERSION_ANNOTATION))
        {
            let patch = json!({"metadata": {"annotations": {
                keys::LATEST_OBSERVED_API_VERSION_ANNOTATION: keys::VERSION,
                keys::STORAGE_OBSERVED_API_VERSION_ANNOTATION: keys::VERSION,
            }}});
            self.vmi_expectations.expect_creations(&key, 1);
            if let Err(e) = vmi_api
                .patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
                .await
            {
                self.vmi_expectations.creation_observed(&key);
                return Err(e.into());
            }
            return Ok(None);
        }
        if !self.pod_expectations.satisfied(&key) || !self.vmi_expectations.satisfied(&key) {
            return Ok(None);
        }

        let uid = vmi.metadata.uid.clone().unwrap_or_default();
        let owned = self.pods.by_index(&uid);
        let mut pods: Vec<&Pod> = owned.iter().map(|p| &**p).collect();
        let current = current_pod(&vmi, &pods);
        let missing = self.missing_claims(&vmi);
        let jitter: u32 = rand::random_range(0..120);
        let launcher = &self.options.launcher;
        let plan = plan_sync(&vmi, current, &pods, &missing, || {
            render_launcher_pod(&vmi, launcher, launcher.qemu_timeout_seconds + jitter)
        });
        for e in &plan.events {
            self.event(&vmi, e).await;
        }
        let mut error = plan.error;
        for pod_name in &plan.delete_pods {
            let pod_key = format!("{ns}/{pod_name}");
            self.pod_expectations
                .expect_deletions(&key, [pod_key.clone()]);
            match pod_api.delete(pod_name, &DeleteParams::default()).await {
                Ok(_) => {
                    let message = format!("Deleted virtual machine pod {pod_name}");
                    self.event(
                        &vmi,
                        &VmiEvent {
                            warning: false,
                            reason: "SuccessfulDelete".into(),
                            message,
                        },
                    )
                    .await;
                }
                Err(e) => {
                    self.pod_expectations.deletion_observed(&key, &pod_key);
                    if is_not_found(&e) {
                        continue;
                    }
                    let message = format!("Failed to delete virtual machine pod {pod_name}");
                    self.event(
                        &vmi,
                        &VmiEvent {
                            warning: true,
                            reason: REASON_FAILED_DELETE.into(),
                            message,
                        },
                    )
                    .await;
                    error = Some(SyncError::new(
                        REASON_FAILED_DELETE,
                        format!("failed to delete pod: {e}"),
                    ));
                    break;
                }
            }
        }
        let mut created: Option<Pod> = None;
        if let Some(pod) = plan.create_pod {
            self.pod_expectations.expect_creations(&key, 1);
            match pod_api.create(&PostParams::default(), &pod).await {
                Ok(p) => {
                    let message = format!(
                        "Created virtual machine pod {}",
                        p.metadata.name.as_deref().unwrap_or_default()
                    );
                    self.event(
                        &vmi,
                        &VmiEvent {
                            warning: false,
                            reason: "SuccessfulCreate".into(),
                            message,
                        },
                    )
                    .await;
                    created = Some(p);
                }
                Err(e) => {
                    self.pod_expectations.creation_observed(&key);
                    let message = format!("Error creating pod: {e}");
                    self.event(
                        &vmi,
                        &VmiEvent {
                            warning: true,
                            reason: REASON_FAILED_CREATE.into(),
                            message,
                        },
                    )
                    .await;
                    error = Some(SyncError::new(
                        REASON_FAILED_CREATE,
                        format!("failed to create virtual machine pod: {e}"),
                    ));
                }
            }
        }
        let current = created.as_ref().or(current);
        if let Some(p) = created.as_ref() {
            pods.push(p);
        }
        let status = plan_status(StatusInput {
            vmi: &vmi,
            pod: current,
            pods: &pods,
            error,
            owner_vm_exists: self.owner_vm_exists(&vmi),
            launcher_image: &launcher.image,
            now: now(),
        });
        if let Some(patch) = status.pod_conditions {
            pod_api
                .patch_status(&patch.pod, &PatchParams::default(), &json_patch(patch.ops)?)
                .await?;
        }
        if let Some(patch) = status.pod_metadata {
            pod_api
                .patch(&patch.pod, &PatchParams::default(), &json_patch(patch.ops)?)
                .await?;
        }
        match status.write {
            VmiWrite::Nothing => {}
            VmiWrite::Update(new) => {
                self.vmi_expectations.expect_creations(&key, 1);
                if let Err(e) = vmi_api.replace(&name, &PostParams::default(), &new).await {
                    self.vmi_expectations.creation_observed(&key);
                    return Err(e.into());
                }
            }
            VmiWrite::Patch(ops) => {
                let result = vmi_api
                    .patch(&name, &PatchParams::default(), &json_patch(ops.clone())?)
                    .await;
                match result {
                    Err(e) if is_invalid(&e) => self.patch_with_stored_values(&vmi, ops).await?,
                    other => {
                        other?;
                    }
                }
            }
        }
        match status.error {
            Some(e) if e.requeue => Err(VmiError::Sync {
                reason: e.reason,
                message: e.message,
            }),
            _ => Ok(None),
        }
    }
}

impl Ctx {
    /// Retries a guarded patch whose `test` failed only because the stored JSON spells a value
    /// differently (e.g. sub-second timestamps written by another client): when the stored
    /// object decodes to the state the patch was computed from, the guards take the stored
    /// values verbatim.
    async fn patch_with_stored_values(
        &self,
        vmi: &VirtualMachineInstance,
        ops: Value,
    ) -> Result<(), VmiError> {
        let ns = vmi.metadata.namespace.as_deref().unwrap_or_default();
        let name = vmi.metadata.name.as_deref().unwrap_or_default();
        let resource = ApiResource::erase::<VirtualMachineInstance>(&());
        let raw_api: Api<DynamicObject> = Api::namespaced_with(self.client.clone(), ns, &resource);
        let stored = serde_json::to_value(raw_api.get(name).await?)?;
        let decoded: VirtualMachineInstance = serde_json::from_value(stored.clone())?;
        if decoded.status != vmi.status || decoded.metadata.labels != vmi.metadata.labels {
            return Err(VmiError::Sync {
                reason: "Conflict".into(),
                message: "the VMI changed since it was read".into(),
            });
        }
        let mut ops = ops;
        for op in ops.as_array_mut().into_iter().flatten() {
            if op["op"] == "test" {
                let path = op["path"].as_str().unwrap_or_default().to_string();
                op["value"] = stored.pointer(&path).cloned().unwrap_or(Value::Null);
            }
        }
        let api: Api<VirtualMachineInstance> = Api::namespaced(self.client.clone(), ns);
        api.patch(name, &PatchParams::default(), &json_patch(ops)?)
            .await?;
        Ok(())
    }
}

fn is_invalid(e: &kube::Error) -> bool {
    matches!(e, kube::Error::Api(s) if s.code == 422)
}

fn json_patch(ops: Value) -> Result<Patch<()>, VmiError> {
    Ok(Patch::Json(serde_json::from_value(ops)?))
}

fn is_not_found(e: &kube::Error) -> bool {
    matches!(e, kube::Error::Api(s) if s.code == 404)
}
