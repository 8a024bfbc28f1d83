//! The sync pass of the VM controller (pure): from the observed VM, its claimed VMI, its
//! ControllerRevisions, the storage it references, the expectations and the clock, the ordered
//! list of [`Action`]s upstream's `sync` would perform.
//!
//! The executor performs the actions in order and stops at the first failure, which it turns
//! into the pass's [`SyncError`] (or a plain error) exactly as upstream does for that step.
//! Actions after a failure are therefore never performed, which reproduces upstream's early
//! returns.

use std::time::Duration;

use api::keys::{
    IMMEDIATE_DATA_VOLUME_CREATION_ANNOTATION, VIRTUAL_MACHINE_CONTROLLER_FINALIZER,
    VM_GENERATION_ANNOTATION, vm_condition,
};
use api::{RunStrategy, VirtualMachine, VirtualMachineInstance, VirtualMachineSpec};
use k8s_openapi::api::apps::v1::ControllerRevision;
use k8s_openapi::jiff::Timestamp;
use serde_json::Value;

use super::build::{legacy_firmware_uuid, vmi_for_start};
use super::live_update::{
    LiveChange, affinity_change, cpu_change, dynamic_metadata_patch, memory_change, test_and_set,
    tolerations_change,
};
use super::printable::{has_start_request, has_stop_request_for, should_start_rerun_on_failure};
use super::restart_required::{NON_LIVE_UPDATABLE_MESSAGE, restart_required};
use super::revision::{find_revision, last_revision_spec, plan_revision, revision_spec};
use super::status::{SyncError, backoff_time_left};
use super::storage::{StorageView, data_volume_manifest};
use super::util::{
    CREATE_MIGRATION_TARGET_ANNOTATION, ORPHAN_FINALIZER, RESTORE_RUN_STRATEGY_ANNOTATION,
    has_finalizer, migration_completed, vm_condition as find_vm_condition, vm_has_condition_status,
};

/// Sync reasons (the `Failure` condition's reason).
pub const REASON_FAILED_CREATE: &str = "FailedCreate";
pub const REASON_FAILED_DELETE: &str = "FailedDelete";
pub const REASON_FAILED_UPDATE: &str = "FailedUpdateError";
pub const REASON_HOTPLUG_CPU: &str = "HotPlugCPUError";
pub const REASON_HOTPLUG_MEMORY: &str = "HotPlugMemoryError";
pub const REASON_AFFINITY: &str = "AffinityChangeError";
pub const REASON_TOLERATIONS: &str = "TolerationsChangeError";
pub const REASON_ANNOTATIONS_LABELS: &str = "AnnotationsLabelsChangeError";
pub const REASON_FIRMWARE_UUID: &str = "FirmwareUUIDError";

/// Event reasons of DataVolume handling.
pub const EVENT_FAILED_DATA_VOLUME_IMPORT: &str = "FailedDataVolumeImport";

/// Cluster configuration the controller follows.
#[derive(Clone, Debug)]
pub struct SyncConfig {
    /// The VM rollout strategy is LiveUpdate (the default): live-updatable template changes are
    /// applied to the running VMI instead of requiring a restart.
    pub live_update: bool,
    /// Extra VMI label keys (`prefix/*` allowed) kept in sync with the template.
    pub label_sync: Vec<String>,
    /// Extra VMI annotation keys (`prefix/*` allowed) kept in sync with the template.
    pub annotation_sync: Vec<String>,
}

impl Default for SyncConfig {
    fn default() -> Self {
        SyncConfig {
            live_update: true,
            label_sync: Vec::new(),
            annotation_sync: Vec::new(),
        }
    }
}

/// Everything a sync pass looks at.
pub struct Observed<'a> {
    pub vm: &'a VirtualMachine,
    /// The VMI named like the VM, if this VM controls it (after adoption).
    pub vmi: Option<&'a VirtualMachineInstance>,
    /// ControllerRevisions of the VM's namespace (only the VM's own are used).
    pub revisions: &'a [ControllerRevision],
    pub storage: &'a StorageView,
    /// No VMI or DataVolume creation or deletion is pending for this VM.
    pub expectations_satisfied: bool,
    /// A VMI of the VM's name that the VM does not claim is in the cache and being deleted: no
    /// VMI is created until it is gone (the cache is fenced).
    pub name_fenced: bool,
    pub now: Timestamp,
    pub config: &'a SyncConfig,
}

/// Which upstream step an action failure belongs to (it decides the error message).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// The DataVolume step of the sync pass.
    Sync,
    /// Starting the VMI.
    Start,
}

/// One thing the executor does, in order.
#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    /// Add the controller finalizer to the VM. A failure ends the pass without a status write.
    AddVmFinalizer,
    /// Remove the controller finalizer from the VM. A failure ends the pass without a status
    /// write.
    RemoveVmFinalizer,
    /// Set the VMI's `kubevirt.io/vm-generation` annotation. A failure ends the pass without a
    /// status write.
    BumpVmiGeneration {
        generation: i64,
    },
    /// Create a DataVolume from a template.
    CreateDataVolume {
        name: String,
        manifest: Value,
        claim_exists: bool,
        step: Step,
    },
    /// Record an event on the VM.
    Event {
        warning: bool,
        reason: String,
        message: String,
    },
    /// Delete the VMI (expecting its deletion first).
    DeleteVmi {
        name: String,
        uid: String,
    },
    /// Append a Start request to the VM's requests (status JSON patch).
    AppendStartRequest,
    /// A Halted VM with a Start request: switch the spec to Always (or `running: true`). The
    /// pass always ends with the error "Failure while starting VMI: <err or nil>".
    StartFromHalted,
    DeleteRevision {
        name: String,
    },
    CreateRevision {
        revision: Box<ControllerRevision>,
    },
    /// Create the VMI (expecting its creation first).
    CreateVmi {
        vmi: Box<VirtualMachineInstance>,
    },
    /// Set the RestartRequired condition (in memory; written with the status).
    SetRestartRequired {
        message: String,
    },
    /// Drop the RestartRequired condition (in memory).
    ClearRestartRequired,
    /// JSON patch writing the legacy firmware UUID into the VM template.
    PatchVmFirmware {
        patch: Value,
    },
    /// JSON patch on the VMI; a failure is the sync error `reason` with `context` in front.
    PatchVmi {
        patch: Value,
        reason: &'static str,
        context: &'static str,
    },
    /// Update the VM with this spec.
    UpdateVmSpec {
        spec: Box<VirtualMachineSpec>,
    },
}

/// The outcome of planning a pass.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Plan {
    pub actions: Vec<Action>,
    /// An error decided without I/O; it applies when every action succeeded.
    pub sync_error: Option<SyncError>,
    /// Look at the VM again after this long (start backoff).
    pub requeue_after: Option<Duration>,
}

impl Plan {
    /// Whether the plan creates or deletes a VMI or DataVolume (so expectations will be pending).
    pub fn changes_expectations(&self) -> bool {
        self.actions.iter().any(|a| {
            matches!(
                a,
                Action::CreateVmi { .. }
                    | Action::DeleteVmi { .. }
                    | Action::CreateDataVolume { .. }
            )
        })
    }
}

struct Planner<'a, 'b> {
    obs: &'b Observed<'a>,
    plan: Plan,
    restart_required_present: bool,
}

impl Planner<'_, '_> {
    fn push(&mut self, action: Action) {
        match &action {
            Action::SetRestartRequired { .. } => self.restart_required_present = true,
            Action::ClearRestartRequired => self.restart_required_present = false,
            _ => {}
        }
        self.plan.actions.push(action);
    }

    fn clear_restart_required(&mut self) {
        if self.restart_required_present {
            self.push(Action::ClearRestartRequired);
        }
    }

    fn event(&mut self, warning: bool, reason: &str, message: String) {
        self.push(Action::Event {
            warning,
            reason: reason.into(),
            message,
        });
    }

    /// Creates missing DataVolumes; true when all exist and are ready.
    fn handle_data_volumes(&mut self, step: Step) -> bool {
        let vm = self.obs.vm;
        let mut ready = true;
        for (index, template) in vm.spec.data_volume_templates.iter().flatten().enumerate() {
            let name = template
                .metadata
                .as_ref()
                .and_then(|m| m.name.clone())
                .unwrap_or_default();
            match self.obs.storage.data_volumes.get(&name) {
                None => {
                    ready = false;
                    let Some(manifest) = data_volume_manifest(vm, index) else {
                        continue;
                    };
                    let claim_exists = self.obs.storage.pvcs.contains_key(&name);
                    self.push(Action::CreateDataVolume {
                        name,
                        manifest,
                        claim_exists,
                        step,
                    });
                }
                Some(dv) if dv.is_ready() => {}
                Some(dv) => {
                    if dv.phase == super::storage::DV_PHASE_FAILED {
                        self.event(
                            true,
                            EVENT_FAILED_DATA_VOLUME_IMPORT,
                            format!("DataVolume {name} failed to import disk image"),
                        );
                    }
                    ready = false;
                }
            }
        }
        ready
    }

    fn stop_vmi(&mut self, vmi: &VirtualMachineInstance) {
        if vmi.is_marked_for_deletion() {
            return;
        }
        self.push(Action::DeleteVmi {
            name: vmi.metadata.name.clone().unwrap_or_default(),
            uid: vmi.metadata.uid.clone().unwrap_or_default(),
        });
        self.clear_restart_required();
    }

    fn start_vmi(&mut self, receiver: bool) {
        let vm = self.obs.vm;
        if !self.handle_data_volumes(Step::Start) {
            return;
        }
        if vm_has_condition_status(vm, vm_condition::MANUAL_RECOVERY_REQUIRED, "True")
            || self.obs.name_fenced
        {
            return;
        }
        self.clear_restart_required();
        let revisions = plan_revision(vm, self.obs.revisions);
        for name in revisions.delete {
            self.push(Action::DeleteRevision { name });
        }
        if let Some(revision) = revisions.create {
            self.push(Action::CreateRevision {
                revision: Box::new(revision),
            });
        }
        let vmi = vmi_for_start(vm, &revisions.name, receiver);
        self.push(Action::CreateVmi { vmi: Box::new(vmi) });
    }

    /// Starts unless the crash-loop backoff is pending (then looks again when it ends).
    fn start_after_backoff(&mut self) {
        let left = backoff_time_left(self.obs.vm, self.obs.now);
        if left > 0 {
            self.plan.requeue_after = Some(Duration::from_secs(left));
            return;
        }
        self.start_vmi(false);
    }

    /// Upstream's `syncRunStrategy`. Returns the VM spec to write back, if it changed.
    fn sync_run_strategy(
        &mut self,
        strategy: RunStrategy,
    ) -> Result<Option<VirtualMachineSpec>, SyncError> {
        let vm = self.obs.vm;
        let vmi = self.obs.vmi;
        match strategy {
            RunStrategy::Always => match vmi {
                Some(vmi) => {
                    if has_stop_request_for(vm, vmi) || vmi.is_final() {
                        self.stop_vmi(vmi);
                    }
                }
                None => self.start_after_backoff(),
            },
            RunStrategy::RerunOnFailure => match vmi {
                Some(vmi) => {
                    let failed = vmi.phase() == api::VirtualMachineInstancePhase::Failed;
                    let succeeded = vmi.phase() == api::VirtualMachineInstancePhase::Succeeded;
                    if !vmi.is_marked_for_deletion()
                        && (has_stop_request_for(vm, vmi) || failed || succeeded)
                    {
                        self.stop_vmi(vmi);
                        if failed {
                            self.push(Action::AppendStartRequest);
                        }
                    }
                }
                None => {
                    if should_start_rerun_on_failure(vm) {
                        self.start_after_backoff();
                    }
                }
            },
            RunStrategy::Manual => match vmi {
                Some(vmi) => {
                    if has_stop_request_for(vm, vmi) {
                        self.stop_vmi(vmi);
                    }
                }
                None => {
                    if has_start_request(vm) {
                        self.start_vmi(false);
                    }
                }
            },
            RunStrategy::Halted => match vmi {
                Some(vmi) => self.stop_vmi(vmi),
                None => {
                    if has_start_request(vm) {
                        self.push(Action::StartFromHalted);
                    }
                }
            },
            RunStrategy::Once => {
                // QUIRK (§2.2), reproduced: a final VMI is kept, but once it is deleted the VM
                // starts again.
                if vmi.is_none() {
                    self.start_vmi(false);
                }
            }
            RunStrategy::WaitAsReceiver => match vmi {
                Some(vmi) => {
                    let receiver = vmi
                        .metadata
                        .annotations
                        .as_ref()
                        .and_then(|a| a.get(CREATE_MIGRATION_TARGET_ANNOTATION))
                        .is_some_and(|v| v == "true");
                    if !receiver {
                        if !migration_completed(vmi) {
                            return Err(SyncError::new(
                                REASON_FAILED_CREATE,
                                "Found non receiver VMI while VM is receiver",
                            ));
                        }
                        let restore = vm
                            .metadata
                            .annotations
                            .as_ref()
                            .and_then(|a| a.get(RESTORE_RUN_STRATEGY_ANNOTATION));
                        if let Some(restore) = restore {
                            let mut spec = vm.spec.clone();
                            spec.run_strategy = Some(restore.clone());
                            return Ok(Some(spec));
                        }
                    }
                }
                None => self.start_vmi(true),
            },
        }
        Ok(None)
    }

    /// Upstream's conditional bump of the VMI generation annotation: only when the template the
    /// VMI was started from equals the current one.
    fn bump_generation(&mut self, vmi: &VirtualMachineInstance) {
        let vm = self.obs.vm;
        let generation = vm.metadata.generation.unwrap_or_default();
        let current = vmi
            .metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get(VM_GENERATION_ANNOTATION));
        if current.is_some_and(|g| *g == generation.to_string()) {
            return;
        }
        let name = vmi
            .status
            .as_ref()
            .and_then(|s| s.virtual_machine_revision_name.as_deref())
            .unwrap_or_default();
        let Some(spec) =
            find_revision(self.obs.revisions, name).and_then(|cr| revision_spec(cr).ok())
        else {
            return;
        };
        if templates_equal(&spec.template, &vm.spec.template) {
            self.push(Action::BumpVmiGeneration { generation });
        }
    }

    fn live_change(
        &mut self,
        change: LiveChange,
        reason: &'static str,
        context: &'static str,
    ) -> Result<(), SyncError> {
        match change {
            LiveChange::None => Ok(()),
            LiveChange::Patch(patch) => {
                self.push(Action::PatchVmi {
                    patch,
                    reason,
                    context,
                });
                Ok(())
            }
            LiveChange::RestartRequired(message) => {
                self.push(Action::SetRestartRequired { message });
                Ok(())
            }
            LiveChange::Error(e) => Err(SyncError::new(reason, format!("{context}: {e}"))),
        }
    }

    /// Steps 9 and 10: firmware UUID, dynamic metadata, live updates.
    fn sync_running(&mut self, vmi: Option<&VirtualMachineInstance>) -> Result<(), SyncError> {
        let vm = self.obs.vm;
        let template_spec = vm.spec.template.spec.clone().unwrap_or_default();
        let firmware = template_spec.domain.firmware.clone();
        if firmware
            .as_ref()
            .and_then(|f| f.uuid.as_deref())
            .unwrap_or_default()
            .is_empty()
        {
            let mut new = firmware.clone().unwrap_or_default();
            new.uuid = Some(legacy_firmware_uuid(
                vm.metadata.name.as_deref().unwrap_or_default(),
            ));
            let patch = test_and_set(
                "/spec/template/spec/domain/firmware",
                firmware.as_ref(),
                &new,
            );
            self.push(Action::PatchVmFirmware {
                patch: Value::Array(patch),
            });
        }
        let Some(vmi) = vmi else { return Ok(()) };
        let template_meta = vm.spec.template.metadata.as_ref();
        if let Some(patch) = dynamic_metadata_patch(
            template_meta.and_then(|m| m.labels.as_ref()),
            template_meta.and_then(|m| m.annotations.as_ref()),
            vm.metadata.annotations.as_ref(),
            vmi,
            &self.obs.config.label_sync,
            &self.obs.config.annotation_sync,
        ) {
            self.push(Action::PatchVmi {
                patch,
                reason: REASON_ANNOTATIONS_LABELS,
                context: "Error encountered while handling annotation and labels sync request",
            });
        }
        if !self.obs.config.live_update || self.restart_required_present {
            return Ok(());
        }
        let now = self.obs.now;
        self.live_change(
            cpu_change(&template_spec, vmi, now),
            REASON_HOTPLUG_CPU,
            "Error encountered while handling CPU change request",
        )?;
        self.live_change(
            affinity_change(&template_spec, vmi, now),
            REASON_AFFINITY,
            "Error encountered while handling node affinity change request",
        )?;
        self.live_change(
            tolerations_change(&template_spec, vmi, now),
            REASON_TOLERATIONS,
            "Error encountered while handling tolerations change request",
        )?;
        self.live_change(
            memory_change(&template_spec, vmi),
            REASON_HOTPLUG_MEMORY,
            "error encountered while handling memory hotplug requests",
        )
    }
}

/// Templates compared as Kubernetes' semantic equality does (absent and empty are equal).
pub fn templates_equal(
    a: &api::VirtualMachineInstanceTemplateSpec,
    b: &api::VirtualMachineInstanceTemplateSpec,
) -> bool {
    fn norm(v: Value) -> Value {
        match v {
            Value::Object(m) => Value::Object(
                m.into_iter()
                    .map(|(k, v)| (k, norm(v)))
                    .filter(|(_, v)| match v {
                        Value::Null => false,
                        Value::Array(a) => !a.is_empty(),
                        Value::Object(o) => !o.is_empty(),
                        _ => true,
                    })
                    .collect(),
            ),
            Value::Array(a) => Value::Array(a.into_iter().map(norm).collect()),
            other => other,
        }
    }
    let to = |t| norm(serde_json::to_value(t).unwrap_or_default());
    to(a) == to(b)
}

/// How a VM relates to the VMI named like it (upstream's claim by name).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Claim {
    /// The VM controls it.
    Owned,
    /// Another controller owns it: the VM treats it as absent.
    OwnedByOther,
    /// An orphan the VM may adopt (after re-reading itself from the API server).
    Adopt,
    /// An orphan that cannot be adopted now (it or the VM is being deleted).
    Ignore,
}

pub fn claim(vm: &VirtualMachine, vmi: &VirtualMachineInstance) -> Claim {
    match super::util::controller_of(vmi.metadata.owner_references.as_ref()) {
        Some(owner) if Some(owner.uid.as_str()) == vm.metadata.uid.as_deref() => Claim::Owned,
        Some(_) => Claim::OwnedByOther,
        None if vm.metadata.deletion_timestamp.is_some() || vmi.is_marked_for_deletion() => {
            Claim::Ignore
        }
        None => Claim::Adopt,
    }
}

/// Whether a create that failed with AlreadyExists because of `existing` only means the VMI
/// cache is behind the API server, rather than that the name is taken.
///
/// Not upstream (which reports every such conflict as `FailedCreate`): the VMI watch may lag the
/// VM watch, so a pass can miss a same-named VMI that the next pass would claim (an orphan, or
/// the VM's own VMI) or wait for (one being deleted, §2.4 fencing). Only a live VMI controlled
/// by something else is a real conflict.
pub fn conflict_is_stale_cache(vm: &VirtualMachine, existing: &VirtualMachineInstance) -> bool {
    existing.is_marked_for_deletion() || claim(vm, existing) != Claim::OwnedByOther
}

/// The actions of one sync pass (upstream's `sync`).
pub fn plan(obs: &Observed<'_>) -> Plan {
    let vm = obs.vm;
    let mut p = Planner {
        obs,
        plan: Plan::default(),
        restart_required_present: find_vm_condition(vm, vm_condition::RESTART_REQUIRED).is_some(),
    };
    if !obs.expectations_satisfied {
        return p.plan;
    }
    // A revision that cannot be read is treated as absent: RestartRequired is then not computed.
    let start_spec = obs
        .vmi
        .and_then(|_| last_revision_spec(vm, obs.revisions).ok().flatten());

    let finalizers = vm.metadata.finalizers.as_ref();
    if vm.metadata.deletion_timestamp.is_some() {
        match obs.vmi {
            Some(vmi) if !has_finalizer(finalizers, ORPHAN_FINALIZER) => p.stop_vmi(vmi),
            _ => {
                if has_finalizer(finalizers, VIRTUAL_MACHINE_CONTROLLER_FINALIZER) {
                    p.push(Action::RemoveVmFinalizer);
                }
            }
        }
        return p.plan;
    }
    if !has_finalizer(finalizers, VIRTUAL_MACHINE_CONTROLLER_FINALIZER) {
        p.push(Action::AddVmFinalizer);
    }
    if let Some(vmi) = obs.vmi {
        p.bump_generation(vmi);
    }
    let strategy = match vm.spec.run_strategy() {
        Ok(s) => s,
        Err(e) => {
            p.plan.sync_error = Some(SyncError::new(
                REASON_FAILED_CREATE,
                format!("Error fetching RunStrategy: {e}"),
            ));
            return p.plan;
        }
    };
    let immediate = vm
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(IMMEDIATE_DATA_VOLUME_CREATION_ANNOTATION))
        .map(String::as_str);
    if immediate != Some("false")
        && !p.handle_data_volumes(Step::Sync)
        && strategy != RunStrategy::Halted
    {
        return p.plan;
    }
    let new_spec = match p.sync_run_strategy(strategy) {
        Ok(spec) => spec,
        Err(e) => {
            p.plan.sync_error = Some(e);
            return p.plan;
        }
    };
    if let Some(last) = &start_spec {
        if restart_required(last, &vm.spec, obs.vmi, obs.config.live_update) {
            p.push(Action::SetRestartRequired {
                message: NON_LIVE_UPDATABLE_MESSAGE.into(),
            });
        } else {
            p.clear_restart_required();
        }
    }
    if p.plan.changes_expectations() || p.plan.actions.contains(&Action::StartFromHalted) {
        return p.plan;
    }
    if let Err(e) = p.sync_running(obs.vmi) {
        p.plan.sync_error = Some(e);
        return p.plan;
    }
    if let Some(spec) = new_spec {
        p.push(Action::UpdateVmSpec {
            spec: Box::new(spec),
        });
    }
    p.plan
}

#[cfg(test)]
#[path = "reconcile_tests.rs"]
mod tests;
