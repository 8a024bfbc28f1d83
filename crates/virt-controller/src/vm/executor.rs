//! Performs the VM controller's actions through the Kubernetes API (kube-rs): VMI create and
//! delete with expectations, VM finalizer, spec and status writes, ControllerRevisions,
//! DataVolumes, VMI patches, adoption, and events.
//!
//! Every write that depends on what the controller read is guarded: JSON patches `test` the
//! value they replace, whole-object writes carry the resourceVersion read, and VMI deletions
//! carry the VMI's uid as a precondition.

use std::sync::Arc;

use api::keys::{
    LATEST_OBSERVED_API_VERSION_ANNOTATION, STORAGE_OBSERVED_API_VERSION_ANNOTATION, VERSION,
    VIRTUAL_MACHINE_CONTROLLER_FINALIZER, VM_GENERATION_ANNOTATION, vm_condition,
};
use api::{
    StateChangeRequestAction, VirtualMachine, VirtualMachineCondition, VirtualMachineInstance,
    VirtualMachineStateChangeRequest, VirtualMachineStatus,
};
use k8s_openapi::api::apps::v1::ControllerRevision;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{OwnerReference, Time};
use k8s_openapi::jiff::Timestamp;
use kube::api::{
    ApiResource, DeleteParams, DynamicObject, Patch, PatchParams, PostParams, Preconditions,
};
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use kube::{Api, Client, Resource};
use serde_json::{Value, json};

use super::live_update::test_and_set;
use super::reconcile::{
    Action, REASON_FAILED_CREATE, REASON_FAILED_DELETE, REASON_FAILED_UPDATE, REASON_FIRMWARE_UUID,
    Step, conflict_is_stale_cache,
};
use super::status::SyncError;
use super::util::{CONTROLLER_NAME, remove_condition, truncate_to_seconds, update_condition};
use crate::expectations::Expectations;

/// Event reasons.
pub const EVENT_SUCCESSFUL_CREATE: &str = "SuccessfulCreate";
pub const EVENT_FAILED_CREATE: &str = "FailedCreate";
pub const EVENT_SUCCESSFUL_DELETE: &str = "SuccessfulDelete";
pub const EVENT_FAILED_DELETE: &str = "FailedDelete";
pub const EVENT_SUCCESSFUL_DATA_VOLUME_CREATE: &str = "SuccessfulDataVolumeCreate";
pub const EVENT_FAILED_DATA_VOLUME_CREATE: &str = "FailedDataVolumeCreate";

/// When to look again at a VM whose start found its VMI name taken by a VMI the cache did not
/// show yet.
pub const STALE_CACHE_RETRY: std::time::Duration = std::time::Duration::from_secs(1);

/// A failure that ends the pass without a status write (the key is retried).
#[derive(Debug, thiserror::Error)]
pub enum ExecutorError {
    #[error("{what}: {source}")]
    Api {
        what: &'static str,
        #[source]
        source: kube::Error,
    },
    #[error("cannot encode a JSON patch: {0}")]
    Encode(#[from] serde_json::Error),
}

/// The text of an API error as upstream prints it (the Status message when there is one).
pub fn error_text(err: &kube::Error) -> String {
    match err {
        kube::Error::Api(status) if !status.message.is_empty() => status.message.clone(),
        other => other.to_string(),
    }
}

fn is_status(err: &kube::Error, code: u16) -> bool {
    matches!(err, kube::Error::Api(s) if s.code == code)
}

pub fn is_not_found(err: &kube::Error) -> bool {
    is_status(err, 404)
}

pub fn is_already_exists(err: &kube::Error) -> bool {
    is_status(err, 409) && matches!(err, kube::Error::Api(s) if s.reason == "AlreadyExists")
}

/// The resource of CDI DataVolumes.
pub fn data_volume_resource() -> ApiResource {
    ApiResource {
        group: "cdi.kubevirt.io".into(),
        version: "v1beta1".into(),
        api_version: "cdi.kubevirt.io/v1beta1".into(),
        kind: "DataVolume".into(),
        plural: "datavolumes".into(),
    }
}

/// The objects a pass works on, kept current with what the API server returned.
pub struct PassState {
    /// The VM as last returned by the API server (or read from the cache).
    pub vm: VirtualMachine,
    pub vmi: Option<VirtualMachineInstance>,
    /// RestartRequired edits made in memory, applied in order onto the status.
    edits: Vec<Option<String>>,
    /// Set when the pass stopped early without a failure and wants to look again this soon
    /// (a VMI create found the name taken by a VMI the cache has not shown yet).
    pub retry_after: Option<std::time::Duration>,
}

impl PassState {
    pub fn new(vm: VirtualMachine, vmi: Option<VirtualMachineInstance>) -> Self {
        PassState {
            vm,
            vmi,
            edits: Vec::new(),
            retry_after: None,
        }
    }

    /// The VM with this pass's in-memory condition edits applied to its status.
    pub fn vm_with_edits(&self, now: Timestamp) -> VirtualMachine {
        let mut vm = self.vm.clone();
        if self.edits.is_empty() {
            return vm;
        }
        let status = vm.status.get_or_insert_with(VirtualMachineStatus::default);
        let mut conditions = status.conditions.take().unwrap_or_default();
        for edit in &self.edits {
            match edit {
                Some(message) => update_condition(
                    &mut conditions,
                    VirtualMachineCondition {
                        type_: vm_condition::RESTART_REQUIRED.into(),
                        status: "True".into(),
                        message: Some(message.clone()),
                        last_transition_time: Some(Time(truncate_to_seconds(now))),
                        ..Default::default()
                    },
                ),
                None => remove_condition(&mut conditions, vm_condition::RESTART_REQUIRED),
            }
        }
        status.conditions = (!conditions.is_empty()).then_some(conditions);
        vm
    }
}

/// Talks to the API server on behalf of the VM controller.
pub struct Executor {
    client: Client,
    expectations: Arc<Expectations>,
    dv_expectations: Arc<Expectations>,
}

fn name_of(vm: &VirtualMachine) -> &str {
    vm.metadata.name.as_deref().unwrap_or_default()
}

fn ns_of(vm: &VirtualMachine) -> &str {
    vm.metadata.namespace.as_deref().unwrap_or_default()
}

fn json_patch(ops: Value) -> Result<Patch<()>, ExecutorError> {
    Ok(Patch::Json(serde_json::from_value(ops)?))
}

impl Executor {
    /// After a VMI create failed with AlreadyExists: whether the VMI holding the name is one
    /// the VM would claim or wait for, read from the API server ([`conflict_is_stale_cache`]).
    async fn cache_is_behind(&self, vm: &VirtualMachine) -> bool {
        match self.vmis(ns_of(vm)).get_opt(name_of(vm)).await {
            Ok(Some(existing)) => conflict_is_stale_cache(vm, &existing),
            // Gone meanwhile: the next pass may create it.
            Ok(None) => true,
            Err(_) => false,
        }
    }

    pub fn new(
        client: Client,
        expectations: Arc<Expectations>,
        dv_expectations: Arc<Expectations>,
    ) -> Self {
        Executor {
            client,
            expectations,
            dv_expectations,
        }
    }

    fn vms(&self, ns: &str) -> Api<VirtualMachine> {
        Api::namespaced(self.client.clone(), ns)
    }

    fn vmis(&self, ns: &str) -> Api<VirtualMachineInstance> {
        Api::namespaced(self.client.clone(), ns)
    }

    /// Publishes an event on the VM. Failures are logged only: events are best effort.
    pub async fn event(&self, vm: &VirtualMachine, warning: bool, reason: &str, message: String) {
        // A fresh recorder per event: kube's recorder folds repeated reasons into one event and
        // would keep the first message.
        let recorder = Recorder::new(
            self.client.clone(),
            Reporter {
                controller: CONTROLLER_NAME.into(),
                instance: None,
            },
        );
        let event = Event {
            type_: if warning {
                EventType::Warning
            } else {
                EventType::Normal
            },
            reason: reason.into(),
            note: Some(message),
            action: reason.into(),
            secondary: None,
        };
        if let Err(e) = recorder.publish(&event, &vm.object_ref(&())).await {
            tracing::warn!(vm = name_of(vm), reason, error = %e, "cannot record event");
        }
    }

    /// Adds the api-version annotations (the controller's first write to a VM).
    pub async fn annotate_api_version(
        &self,
        vm: &VirtualMachine,
    ) -> Result<VirtualMachine, ExecutorError> {
        let mut patch = json!({"metadata": {
            "resourceVersion": vm.metadata.resource_version,
            "annotations": {
                LATEST_OBSERVED_API_VERSION_ANNOTATION: VERSION,
                STORAGE_OBSERVED_API_VERSION_ANNOTATION: VERSION,
            },
        }});
        // A new VM also needs the controller finalizer: one write instead of two. The merge
        // patch replaces the list, so it is guarded by the resourceVersion read.
        let finalizers = vm.metadata.finalizers.as_deref().unwrap_or_default();
        if vm.metadata.deletion_timestamp.is_none()
            && !finalizers
                .iter()
                .any(|f| f == VIRTUAL_MACHINE_CONTROLLER_FINALIZER)
        {
            let mut list = finalizers.to_vec();
            list.push(VIRTUAL_MACHINE_CONTROLLER_FINALIZER.into());
            patch["metadata"]["finalizers"] = json!(list);
        }
        self.vms(ns_of(vm))
            .patch(name_of(vm), &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .map_err(|source| ExecutorError::Api {
                what: "Updating api version annotations failed",
                source,
            })
    }

    /// Re-reads the VM from the API server: adoption is only allowed while it is the same VM
    /// and not being deleted.
    pub async fn can_adopt(&self, vm: &VirtualMachine) -> Result<(), String> {
        let fresh = self
            .vms(ns_of(vm))
            .get(name_of(vm))
            .await
            .map_err(|e| e.to_string())?;
        if fresh.metadata.uid != vm.metadata.uid {
            return Err(format!(
                "original VirtualMachine {}/{} is gone: got uid {}, wanted {}",
                ns_of(vm),
                name_of(vm),
                fresh.metadata.uid.unwrap_or_default(),
                vm.metadata.uid.clone().unwrap_or_default()
            ));
        }
        if fresh.metadata.deletion_timestamp.is_some() {
            return Err(format!(
                "{}/{} has just been deleted",
                ns_of(vm),
                name_of(vm)
            ));
        }
        Ok(())
    }

    /// Makes the VM the controller of an orphan VMI (replacing all its owner references).
    pub async fn adopt_vmi(
        &self,
        owner: &OwnerReference,
        vmi: &VirtualMachineInstance,
    ) -> Result<VirtualMachineInstance, kube::Error> {
        // Not upstream: the version the claim was decided on guards the patch too, so a VMI
        // the cache still shows as a live orphan but that is being deleted (or was taken) by
        // now is not adopted; the conflict retries the pass once the cache has caught up.
        let patch = json!({"metadata": {
            "ownerReferences": [owner],
            "uid": vmi.metadata.uid,
            "resourceVersion": vmi.metadata.resource_version,
        }});
        let ns = vmi.metadata.namespace.as_deref().unwrap_or_default();
        self.vmis(ns)
            .patch(
                vmi.metadata.name.as_deref().unwrap_or_default(),
                &PatchParams::default(),
                &Patch::Merge(&patch),
            )
            .await
    }

    /// Makes the VM the controller of an orphan DataVolume.
    pub async fn adopt_data_volume(
        &self,
        owner: &OwnerReference,
        dv: &DynamicObject,
    ) -> Result<(), kube::Error> {
        let patch = json!({"metadata": {"ownerReferences": [owner], "uid": dv.metadata.uid}});
        let api: Api<DynamicObject> = Api::namespaced_with(
            self.client.clone(),
            dv.metadata.namespace.as_deref().unwrap_or_default(),
            &data_volume_resource(),
        );
        api.patch(
            dv.metadata.name.as_deref().unwrap_or_default(),
            &PatchParams::default(),
            &Patch::Merge(&patch),
        )
        .await
        .map(drop)
    }

    /// Performs `actions` in order for the VM `key`, stopping at the first failure. Returns the
    /// sync error of the failed step, if any.
    pub async fn execute(
        &self,
        key: &str,
        state: &mut PassState,
        actions: Vec<Action>,
    ) -> Result<Option<SyncError>, ExecutorError> {
        for action in actions {
            if let Some(err) = self.perform(key, state, action).await? {
                return Ok(Some(err));
            }
            if state.retry_after.is_some() {
                break;
            }
        }
        Ok(None)
    }

    async fn perform(
        &self,
        key: &str,
        state: &mut PassState,
        action: Action,
    ) -> Result<Option<SyncError>, ExecutorError> {
        let ns = ns_of(&state.vm).to_string();
        let name = name_of(&state.vm).to_string();
        match action {
            Action::AddVmFinalizer | Action::RemoveVmFinalizer => {
                let old = state.vm.metadata.finalizers.clone();
                let mut new = old.clone().unwrap_or_default();
                if action == Action::AddVmFinalizer {
                    new.push(VIRTUAL_MACHINE_CONTROLLER_FINALIZER.into());
                } else {
                    new.retain(|f| f != VIRTUAL_MACHINE_CONTROLLER_FINALIZER);
                }
                let patch = json_patch(Value::Array(test_and_set(
                    "/metadata/finalizers",
                    old.as_ref(),
                    &new,
                )))?;
                state.vm = self
                    .vms(&ns)
                    .patch(&name, &PatchParams::default(), &patch)
                    .await
                    .map_err(|source| ExecutorError::Api {
                        what: "cannot update the VM finalizers",
                        source,
                    })?;
            }
            Action::BumpVmiGeneration { generation } => {
                let Some(vmi) = state.vmi.as_ref() else {
                    return Ok(None);
                };
                state.vmi = Some(self.set_vmi_generation(vmi, generation).await?);
            }
            Action::CreateDataVolume {
                name: dv_name,
                manifest,
                claim_exists,
                step,
            } => {
                let api: Api<DynamicObject> =
                    Api::namespaced_with(self.client.clone(), &ns, &data_volume_resource());
                let dv: DynamicObject = serde_json::from_value(manifest)?;
                self.dv_expectations.expect_creations(key, 1);
                match api.create(&PostParams::default(), &dv).await {
                    Ok(_) => {
                        let msg = format!("Created DataVolume {dv_name}");
                        self.event(&state.vm, false, EVENT_SUCCESSFUL_DATA_VOLUME_CREATE, msg)
                            .await;
                    }
                    Err(e) => {
                        self.dv_expectations.creation_observed(key);
                        let text = error_text(&e);
                        if claim_exists && text.contains("already exists") {
                            return Ok(None);
                        }
                        let msg = format!("Error creating DataVolume {dv_name}: {text}");
                        self.event(&state.vm, true, EVENT_FAILED_DATA_VOLUME_CREATE, msg)
                            .await;
                        let inner = format!("failed to create DataVolume: {text}");
                        let message = match step {
                            Step::Sync => {
                                format!("Error encountered while creating DataVolumes: {inner}")
                            }
                            Step::Start => format!("Failure while starting VMI: {inner}"),
                        };
                        return Ok(Some(SyncError::new(REASON_FAILED_CREATE, message)));
                    }
                }
            }
            Action::Event {
                warning,
                reason,
                message,
            } => {
                self.event(&state.vm, warning, &reason, message).await;
            }
            Action::DeleteVmi {
                name: vmi_name,
                uid,
            } => {
                self.expectations.expect_deletions(key, [uid.clone()]);
                let params = DeleteParams {
                    preconditions: Some(Preconditions {
                        uid: Some(uid.clone()),
                        resource_version: None,
                    }),
                    ..Default::default()
                };
                if let Err(e) = self.vmis(&ns).delete(&vmi_name, &params).await {
                    self.expectations.deletion_observed(key, &uid);
                    let text = error_text(&e);
                    let msg = format!("Error deleting virtual machine instance {vmi_name}: {text}");
                    self.event(&state.vm, true, EVENT_FAILED_DELETE, msg).await;
                    let message = format!("Failure attempting to delete VMI: {text}");
                    return Ok(Some(SyncError::new(REASON_FAILED_DELETE, message)));
                }
                tracing::info!(vm = %key, vmi_uid = %uid, "stopped the VM by deleting its VMI");
                let msg = format!(
                    "Stopped the virtual machine by deleting the virtual machine instance {uid}"
                );
                self.event(&state.vm, false, EVENT_SUCCESSFUL_DELETE, msg)
                    .await;
            }
            Action::AppendStartRequest => {
                let mut requests = state
                    .vm
                    .status
                    .as_ref()
                    .and_then(|s| s.state_change_requests.clone())
                    .unwrap_or_default();
                requests.push(VirtualMachineStateChangeRequest {
                    action: StateChangeRequestAction::Start,
                    data: None,
                    uid: None,
                });
                let ops = json!([{"op": "add", "path": "/status/stateChangeRequests", "value": requests}]);
                match self
                    .vms(&ns)
                    .patch_status(&name, &PatchParams::default(), &json_patch(ops)?)
                    .await
                {
                    Ok(vm) => state.vm = vm,
                    Err(e) => {
                        let message =
                            format!("failed to patch VM with start action: {}", error_text(&e));
                        return Ok(Some(SyncError::new(REASON_FAILED_DELETE, message)));
                    }
                }
            }
            Action::StartFromHalted => {
                // QUIRK (§2.2), reproduced: the pass always ends in "Failure while starting VMI:
                // <nil>" (or the update's error). As upstream, the status write that follows
                // conflicts with this update, so the condition is rarely stored.
                let mut vm = state.vm.clone();
                if vm.spec.run_strategy.is_some() {
                    vm.spec.run_strategy = Some("Always".into());
                } else {
                    vm.spec.running = Some(true);
                }
                let result = self
                    .vms(&ns)
                    .replace(&name, &PostParams::default(), &vm)
                    .await;
                let err = result
                    .err()
                    .map_or_else(|| "<nil>".to_string(), |e| error_text(&e));
                let message = format!("Failure while starting VMI: {err}");
                return Ok(Some(SyncError::new(REASON_FAILED_CREATE, message)));
            }
            Action::DeleteRevision { name: cr_name } => {
                let api: Api<ControllerRevision> = Api::namespaced(self.client.clone(), &ns);
                match api.delete(&cr_name, &DeleteParams::default()).await {
                    Ok(_) => {}
                    Err(e) if is_not_found(&e) => {}
                    Err(e) => {
                        let message = format!("Failure while starting VMI: {}", error_text(&e));
                        return Ok(Some(SyncError::new(REASON_FAILED_CREATE, message)));
                    }
                }
            }
            Action::CreateRevision { revision } => {
                let api: Api<ControllerRevision> = Api::namespaced(self.client.clone(), &ns);
                match api.create(&PostParams::default(), &revision).await {
                    Ok(_) => {}
                    // Same name means same VM and generation, so the same spec.
                    Err(e) if is_already_exists(&e) => {}
                    Err(e) => {
                        let message = format!("Failure while starting VMI: {}", error_text(&e));
                        return Ok(Some(SyncError::new(REASON_FAILED_CREATE, message)));
                    }
                }
            }
            Action::CreateVmi { vmi } => {
                let vmi_name = vmi.metadata.name.clone().unwrap_or_default();
                self.expectations.expect_creations(key, 1);
                match self.vmis(&ns).create(&PostParams::default(), &vmi).await {
                    Ok(created) => {
                        tracing::info!(vm = %key, vmi_uid = ?created.metadata.uid, "started the VM by creating a VMI");
                        let msg = format!(
                            "Started the virtual machine by creating the new virtual machine instance {vmi_name}"
                        );
                        self.event(&state.vm, false, EVENT_SUCCESSFUL_CREATE, msg)
                            .await;
                    }
                    Err(e) if is_already_exists(&e) && self.cache_is_behind(&state.vm).await => {
                        // The informers will report the VMI and wake the VM up; the delayed
                        // look is only a safety net.
                        self.expectations.creation_observed(key);
                        tracing::debug!(vm = %key, "the VMI cache is behind; retrying the start later");
                        state.retry_after = Some(STALE_CACHE_RETRY);
                    }
                    Err(e) => {
                        self.expectations.creation_observed(key);
                        let text = error_text(&e);
                        let msg = format!("Error creating virtual machine instance: {text}");
                        self.event(&state.vm, true, EVENT_FAILED_CREATE, msg).await;
                        let message = format!("Failure while starting VMI: {text}");
                        return Ok(Some(SyncError::new(REASON_FAILED_CREATE, message)));
                    }
                }
            }
            Action::SetRestartRequired { message } => state.edits.push(Some(message)),
            Action::ClearRestartRequired => state.edits.push(None),
            Action::PatchVmFirmware { patch } => {
                match self
                    .vms(&ns)
                    .patch(&name, &PatchParams::default(), &json_patch(patch)?)
                    .await
                {
                    Ok(vm) => state.vm = vm,
                    Err(e) => {
                        let message = format!(
                            "error encountered when trying to patch VM firmware: {}",
                            error_text(&e)
                        );
                        return Ok(Some(SyncError::new(REASON_FIRMWARE_UUID, message)));
                    }
                }
            }
            Action::PatchVmi {
                patch,
                reason,
                context,
            } => {
                let Some(vmi) = state.vmi.as_ref() else {
                    return Ok(None);
                };
                let vmi_name = vmi.metadata.name.clone().unwrap_or_default();
                match self
                    .vmis(&ns)
                    .patch(&vmi_name, &PatchParams::default(), &json_patch(patch)?)
                    .await
                {
                    Ok(patched) => state.vmi = Some(patched),
                    Err(e) => {
                        let message = format!("{context}: {}", error_text(&e));
                        return Ok(Some(SyncError::new(reason, message)));
                    }
                }
            }
            Action::UpdateVmSpec { spec } => {
                let mut vm = state.vm.clone();
                vm.spec = *spec;
                match self
                    .vms(&ns)
                    .replace(&name, &PostParams::default(), &vm)
                    .await
                {
                    Ok(updated) => state.vm = updated,
                    Err(e) => {
                        let message = format!(
                            "Error encountered when trying to update vm according to add volume and/or memory dump requests: {}",
                            error_text(&e)
                        );
                        return Ok(Some(SyncError::new(REASON_FAILED_UPDATE, message)));
                    }
                }
            }
        }
        Ok(None)
    }

    /// Writes the VMI's generation annotation (testing the annotations it replaces).
    pub async fn set_vmi_generation(
        &self,
        vmi: &VirtualMachineInstance,
        generation: i64,
    ) -> Result<VirtualMachineInstance, ExecutorError> {
        let old = vmi.metadata.annotations.clone();
        let mut new = old.clone().unwrap_or_default();
        new.insert(VM_GENERATION_ANNOTATION.into(), generation.to_string());
        let patch = json_patch(Value::Array(test_and_set(
            "/metadata/annotations",
            old.as_ref(),
            &new,
        )))?;
        let ns = vmi.metadata.namespace.as_deref().unwrap_or_default();
        self.vmis(ns)
            .patch(
                vmi.metadata.name.as_deref().unwrap_or_default(),
                &PatchParams::default(),
                &patch,
            )
            .await
            .map_err(|source| ExecutorError::Api {
                what: "cannot patch the VMI generation annotation",
                source,
            })
    }

    /// Writes `status` with the resourceVersion of `vm` (a conflict means the VM changed since
    /// it was read, and the pass is retried).
    pub async fn write_status(
        &self,
        vm: &VirtualMachine,
        status: VirtualMachineStatus,
    ) -> Result<VirtualMachine, ExecutorError> {
        let mut vm = vm.clone();
        vm.status = Some(status);
        self.vms(ns_of(&vm))
            .replace_status(name_of(&vm), &PostParams::default(), &vm)
            .await
            .map_err(|source| ExecutorError::Api {
                what: "Updating the VirtualMachine status failed",
                source,
            })
    }

    /// Removes the VM controller's finalizer from a VMI.
    pub async fn remove_vmi_finalizer(
        &self,
        vmi: &VirtualMachineInstance,
    ) -> Result<(), ExecutorError> {
        let old = vmi.metadata.finalizers.clone();
        let new: Vec<String> = old
            .iter()
            .flatten()
            .filter(|f| *f != VIRTUAL_MACHINE_CONTROLLER_FINALIZER)
            .cloned()
            .collect();
        let patch = json_patch(Value::Array(test_and_set(
            "/metadata/finalizers",
            old.as_ref(),
            &new,
        )))?;
        let ns = vmi.metadata.namespace.as_deref().unwrap_or_default();
        match self
            .vmis(ns)
            .patch(
                vmi.metadata.name.as_deref().unwrap_or_default(),
                &PatchParams::default(),
                &patch,
            )
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if is_not_found(&e) => Ok(()),
            Err(source) => Err(ExecutorError::Api {
                what: "cannot remove the VMI finalizer",
                source,
            }),
        }
    }
}
