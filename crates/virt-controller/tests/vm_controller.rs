//! The VirtualMachine controller against a real API server (no VMI controller or node agent:
//! tests move VMI phases themselves, as those components would).

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::Result;
use api::keys::VIRTUAL_MACHINE_CONTROLLER_FINALIZER;
use api::{
    ContainerDiskSource, Firmware, ResourceRequirements, VirtualMachine, VirtualMachineInstance,
    VirtualMachineInstanceSpec, VirtualMachineInstanceTemplateSpec, VirtualMachinePrintableStatus,
    VirtualMachineSpec, Volume,
};
use common::{TestCluster, eventually, set_vmi_phase};
use k8s_openapi::api::apps::v1::ControllerRevision;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use serde_json::json;
use tokio::task::JoinHandle;
use virt_controller::vm::{VmControllerOptions, run};

const NS: &str = "default";
const WAIT: Duration = Duration::from_secs(20);

struct Env {
    cluster: TestCluster,
    controller: JoinHandle<()>,
    vms: kube::Api<VirtualMachine>,
    vmis: kube::Api<VirtualMachineInstance>,
}

impl Drop for Env {
    fn drop(&mut self) {
        self.controller.abort();
    }
}

async fn env() -> Result<Env> {
    let cluster = TestCluster::start().await?;
    let controller = tokio::spawn(run(
        cluster.controller.clone(),
        VmControllerOptions::default(),
    ));
    Ok(Env {
        vms: kube::Api::namespaced(cluster.admin.clone(), NS),
        vmis: kube::Api::namespaced(cluster.admin.clone(), NS),
        cluster,
        controller,
    })
}

/// A VM as admission would leave it (firmware UUID set).
fn vm_manifest(name: &str, strategy: &str) -> VirtualMachine {
    let spec = VirtualMachineInstanceSpec {
        domain: api::DomainSpec {
            resources: Some(ResourceRequirements {
                requests: Some(BTreeMap::from([("memory".into(), Quantity("64Mi".into()))])),
                ..Default::default()
            }),
            firmware: Some(Firmware {
                uuid: Some("5a9fc181-957e-5c32-9e5a-2de5e9673531".into()),
                ..Default::default()
            }),
            ..Default::default()
        },
        volumes: Some(vec![Volume {
            name: "containerdisk".into(),
            container_disk: Some(ContainerDiskSource {
                image: "quay.io/kubevirt/cirros-container-disk-demo".into(),
                ..Default::default()
            }),
            ..Default::default()
        }]),
        ..Default::default()
    };
    let mut vm = VirtualMachine::new(
        name,
        VirtualMachineSpec {
            run_strategy: Some(strategy.into()),
            template: VirtualMachineInstanceTemplateSpec {
                metadata: Some(ObjectMeta {
                    name: Some("x".into()),
                    labels: Some(BTreeMap::from([("kubevirt.io/vm".into(), name.into())])),
                    annotations: Some(BTreeMap::from([(
                        "test.vm.template.spec.annotation".into(),
                        "propagated".into(),
                    )])),
                    ..Default::default()
                }),
                spec: Some(spec),
            },
            ..Default::default()
        },
    );
    vm.metadata.annotations = Some(BTreeMap::from([(
        "test.vm.annotation".into(),
        "nopropagated".into(),
    )]));
    vm
}

impl Env {
    async fn create(&self, vm: &VirtualMachine) -> Result<VirtualMachine> {
        Ok(self.vms.create(&PostParams::default(), vm).await?)
    }

    async fn vm(&self, name: &str) -> Result<VirtualMachine> {
        Ok(self.vms.get(name).await?)
    }

    /// Waits for a VMI named `name` satisfying `pred`.
    async fn vmi_where(
        &self,
        name: &str,
        what: &str,
        pred: impl Fn(&VirtualMachineInstance) -> bool,
    ) -> Result<VirtualMachineInstance> {
        eventually(WAIT, what, || async {
            self.vmis
                .get_opt(name)
                .await
                .ok()
                .flatten()
                .filter(|v| pred(v))
        })
        .await
    }

    async fn vm_where(
        &self,
        name: &str,
        what: &str,
        pred: impl Fn(&VirtualMachine) -> bool,
    ) -> Result<VirtualMachine> {
        eventually(WAIT, what, || async {
            self.vms
                .get_opt(name)
                .await
                .ok()
                .flatten()
                .filter(|v| pred(v))
        })
        .await
    }

    async fn printable(
        &self,
        name: &str,
        want: VirtualMachinePrintableStatus,
    ) -> Result<VirtualMachine> {
        self.vm_where(name, &format!("printableStatus {want}"), |vm| {
            vm.status.as_ref().and_then(|s| s.printable_status) == Some(want)
        })
        .await
    }

    async fn vmi_gone(&self, name: &str) -> Result<()> {
        eventually(WAIT, "VMI gone", || async {
            matches!(self.vmis.get_opt(name).await, Ok(None)).then_some(())
        })
        .await
    }

    async fn set_strategy(&self, name: &str, strategy: &str) -> Result<()> {
        let patch = json!({"spec": {"runStrategy": strategy}});
        self.vms
            .patch(name, &PatchParams::default(), &Patch::Merge(patch))
            .await?;
        Ok(())
    }

    /// Plays the VMI controller and node agent for a stop: a deleting VMI reaches Succeeded and
    /// is gone once the VM controller removed its finalizer (a replacement may already exist).
    async fn finish_deleting_vmi(&self, name: &str) -> Result<()> {
        let old = self
            .vmi_where(name, "VMI marked for deletion", |v| {
                v.metadata.deletion_timestamp.is_some()
            })
            .await?;
        set_vmi_phase(&self.cluster.admin, NS, name, "Succeeded").await?;
        eventually(WAIT, "old VMI gone", || async {
            match self.vmis.get_opt(name).await {
                Ok(None) => Some(()),
                Ok(Some(v)) if uid(&v) != uid(&old) => Some(()),
                _ => None,
            }
        })
        .await
    }
}

fn uid(vmi: &VirtualMachineInstance) -> String {
    vmi.metadata.uid.clone().unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_always_vm_gets_a_vmi_named_after_it_owned_by_it_with_finalizers() -> Result<()> {
    let env = env().await?;
    let vm = env.create(&vm_manifest("testvm", "Always")).await?;
    let vmi = env.vmi_where("testvm", "VMI", |_| true).await?;

    let refs = vmi.metadata.owner_references.clone().unwrap();
    assert_eq!(refs.len(), 1);
    assert_eq!(
        (refs[0].kind.as_str(), refs[0].name.as_str()),
        ("VirtualMachine", "testvm")
    );
    assert_eq!(Some(&refs[0].uid), vm.metadata.uid.as_ref());
    assert_eq!(
        (refs[0].controller, refs[0].block_owner_deletion),
        (Some(true), Some(true))
    );
    assert!(
        vmi.metadata
            .finalizers
            .unwrap()
            .contains(&VIRTUAL_MACHINE_CONTROLLER_FINALIZER.to_string())
    );
    let annotations = vmi.metadata.annotations.unwrap();
    assert_eq!(
        annotations
            .get("test.vm.template.spec.annotation")
            .map(String::as_str),
        Some("propagated")
    );
    assert!(!annotations.contains_key("test.vm.annotation"));

    let vm = env
        .vm_where("testvm", "finalizer and status", |vm| {
            vm.metadata
                .finalizers
                .iter()
                .flatten()
                .any(|f| f == VIRTUAL_MACHINE_CONTROLLER_FINALIZER)
                && vm.status.as_ref().is_some_and(|s| s.created == Some(true))
        })
        .await?;
    let annotations = vm.metadata.annotations.clone().unwrap();
    assert_eq!(
        annotations
            .get("kubevirt.io/latest-observed-api-version")
            .map(String::as_str),
        Some("v1")
    );
    assert_eq!(
        vm.status.as_ref().unwrap().printable_status,
        Some(VirtualMachinePrintableStatus::Starting)
    );

    let message = env
        .cluster
        .wait_for_event(NS, "testvm", "SuccessfulCreate")
        .await?;
    assert_eq!(
        message,
        "Started the virtual machine by creating the new virtual machine instance testvm"
    );

    // The start revision records the spec the VMI was started from.
    let generation = vm.metadata.generation.unwrap();
    let name = format!(
        "revision-start-vm-{}-{generation}",
        vm.metadata.uid.clone().unwrap()
    );
    let revisions: kube::Api<ControllerRevision> =
        kube::Api::namespaced(env.cluster.admin.clone(), NS);
    let cr = revisions.get(&name).await?;
    assert_eq!(cr.revision, generation);
    assert_eq!(cr.data.unwrap().0["spec"]["runStrategy"], "Always");
    let vmi = env.vmis.get("testvm").await?;
    assert_eq!(
        vmi.status.unwrap().virtual_machine_revision_name,
        Some(name)
    );

    // A running VMI makes the VM Running and Ready.
    set_vmi_phase(&env.cluster.admin, NS, "testvm", "Running").await?;
    let vm = env
        .printable("testvm", VirtualMachinePrintableStatus::Running)
        .await?;
    let ready = vm
        .status
        .unwrap()
        .conditions
        .unwrap()
        .into_iter()
        .find(|c| c.type_ == "Ready")
        .unwrap();
    assert_eq!(ready.status, "True");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn toggling_the_run_strategy_starts_and_stops_the_vm() -> Result<()> {
    let env = env().await?;
    env.create(&vm_manifest("toggle", "Halted")).await?;
    let vm = env
        .printable("toggle", VirtualMachinePrintableStatus::Stopped)
        .await?;
    let ready = vm
        .status
        .unwrap()
        .conditions
        .unwrap()
        .into_iter()
        .find(|c| c.type_ == "Ready")
        .unwrap();
    assert_eq!(
        (ready.status.as_str(), ready.reason.as_deref()),
        ("False", Some("VMINotExists"))
    );
    let mut uids = Vec::new();
    for _ in 0..2 {
        env.set_strategy("toggle", "Always").await?;
        let vmi = env
            .vmi_where("toggle", "started VMI", |v| !uids.contains(&uid(v)))
            .await?;
        uids.push(uid(&vmi));
        env.set_strategy("toggle", "Halted").await?;
        env.printable("toggle", VirtualMachinePrintableStatus::Stopping)
            .await?;
        env.finish_deleting_vmi("toggle").await?;
        env.printable("toggle", VirtualMachinePrintableStatus::Stopped)
            .await?;
    }
    let message = env
        .cluster
        .wait_for_event(NS, "toggle", "SuccessfulDelete")
        .await?;
    assert!(
        message
            .starts_with("Stopped the virtual machine by deleting the virtual machine instance "),
        "{message}"
    );
    assert!(
        uids.iter().any(|u| message.ends_with(u.as_str())),
        "{message}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_a_vm_stops_its_vmi_before_the_vm_goes() -> Result<()> {
    let env = env().await?;
    let mut manifest = vm_manifest("doomed", "Always");
    manifest.metadata.finalizers = Some(vec!["example.com/custom".into()]);
    env.create(&manifest).await?;
    env.vmi_where("doomed", "VMI", |_| true).await?;
    env.vm_where("doomed", "both finalizers", |vm| {
        vm.metadata
            .finalizers
            .as_ref()
            .is_some_and(|f| f.len() == 2)
    })
    .await?;
    env.vms.delete("doomed", &DeleteParams::default()).await?;
    env.printable("doomed", VirtualMachinePrintableStatus::Terminating)
        .await?;
    env.finish_deleting_vmi("doomed").await?;
    // The controller's finalizer goes once the VMI is gone; the custom one stays.
    let vm = env
        .vm_where("doomed", "only the custom finalizer", |vm| {
            vm.metadata.finalizers.as_deref() == Some(&["example.com/custom".to_string()][..])
        })
        .await?;
    assert!(vm.metadata.deletion_timestamp.is_some());
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_orphan_delete_leaves_the_vmi_running_without_owner() -> Result<()> {
    let env = env().await?;
    env.create(&vm_manifest("orphaner", "Always")).await?;
    let vmi = env.vmi_where("orphaner", "VMI", |_| true).await?;
    env.vm_where("orphaner", "finalizer", |vm| {
        vm.metadata.finalizers.is_some()
    })
    .await?;
    env.vms.delete("orphaner", &DeleteParams::orphan()).await?;
    eventually(WAIT, "VM gone", || async {
        matches!(env.vms.get_opt("orphaner").await, Ok(None)).then_some(())
    })
    .await?;
    let kept = env
        .vmi_where("orphaner", "VMI without owner", |v| {
            v.metadata
                .owner_references
                .as_ref()
                .is_none_or(Vec::is_empty)
        })
        .await?;
    assert_eq!(uid(&kept), uid(&vmi));
    assert!(kept.metadata.deletion_timestamp.is_none());
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_orphan_vmi_of_the_same_name_is_adopted_and_others_are_ignored() -> Result<()> {
    let env = env().await?;
    let template = vm_manifest("adoptme", "Always");
    let orphan = |name: &str| {
        let mut vmi =
            VirtualMachineInstance::new(name, template.spec.template.spec.clone().unwrap());
        vmi.metadata.labels = Some(BTreeMap::from([(
            "kubevirt.io/vm".into(),
            "adoptme".into(),
        )]));
        vmi
    };
    let adoptee = env
        .vmis
        .create(&PostParams::default(), &orphan("adoptme"))
        .await?;
    let stranger = env
        .vmis
        .create(&PostParams::default(), &orphan("stranger"))
        .await?;
    let vm = env.create(&template).await?;
    let adopted = env
        .vmi_where("adoptme", "adopted VMI", |v| {
            v.metadata
                .owner_references
                .as_ref()
                .is_some_and(|r| !r.is_empty())
        })
        .await?;
    assert_eq!(uid(&adopted), uid(&adoptee), "adopted, not replaced");
    assert_eq!(
        adopted.metadata.owner_references.unwrap()[0].uid,
        vm.metadata.uid.unwrap()
    );
    env.vm_where("adoptme", "created", |vm| {
        vm.status.as_ref().is_some_and(|s| s.created == Some(true))
    })
    .await?;
    let stranger_now = env.vmis.get("stranger").await?;
    assert_eq!(stranger_now.metadata.owner_references, None);
    assert_eq!(
        stranger_now.metadata.resource_version,
        stranger.metadata.resource_version
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stop_and_start_request_restarts_the_vm_and_the_requests_drain() -> Result<()> {
    let env = env().await?;
    env.create(&vm_manifest("restarter", "Always")).await?;
    let first = env.vmi_where("restarter", "VMI", |_| true).await?;
    set_vmi_phase(&env.cluster.admin, NS, "restarter", "Running").await?;
    env.printable("restarter", VirtualMachinePrintableStatus::Running)
        .await?;
    let requests = json!({"status": {"stateChangeRequests": [
        {"action": "Stop", "uid": uid(&first)}, {"action": "Start"}
    ]}});
    env.vms
        .patch_status(
            "restarter",
            &PatchParams::default(),
            &Patch::Merge(requests),
        )
        .await?;
    env.finish_deleting_vmi("restarter").await?;
    let second = env
        .vmi_where("restarter", "new VMI", |v| uid(v) != uid(&first))
        .await?;
    set_vmi_phase(&env.cluster.admin, NS, "restarter", "Running").await?;
    let vm = env
        .vm_where("restarter", "requests drained", |vm| {
            vm.status
                .as_ref()
                .is_some_and(|s| s.state_change_requests.as_ref().is_none_or(Vec::is_empty))
        })
        .await?;
    assert_eq!(vm.spec.run_strategy.as_deref(), Some("Always"));
    assert_ne!(uid(&second), uid(&first));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_rerun_on_failure_vmi_is_replaced() -> Result<()> {
    let env = env().await?;
    env.create(&vm_manifest("rerun", "RerunOnFailure")).await?;
    let first = env.vmi_where("rerun", "VMI", |_| true).await?;
    set_vmi_phase(&env.cluster.admin, NS, "rerun", "Running").await?;
    env.printable("rerun", VirtualMachinePrintableStatus::Running)
        .await?;
    set_vmi_phase(&env.cluster.admin, NS, "rerun", "Failed").await?;
    let second = env
        .vmi_where("rerun", "replacement VMI", |v| uid(v) != uid(&first))
        .await?;
    assert!(second.metadata.deletion_timestamp.is_none());
    // A guest that powers off (Succeeded) is not restarted.
    set_vmi_phase(&env.cluster.admin, NS, "rerun", "Running").await?;
    set_vmi_phase(&env.cluster.admin, NS, "rerun", "Succeeded").await?;
    env.vmi_gone("rerun").await?;
    env.printable("rerun", VirtualMachinePrintableStatus::Stopped)
        .await?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(env.vmis.get_opt("rerun").await?.is_none());
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_vmi_failing_before_running_backs_off_then_starts_again() -> Result<()> {
    let env = env().await?;
    env.create(&vm_manifest("crashy", "Always")).await?;
    let first = env.vmi_where("crashy", "VMI", |_| true).await?;
    set_vmi_phase(&env.cluster.admin, NS, "crashy", "Failed").await?;
    let vm = env
        .printable("crashy", VirtualMachinePrintableStatus::CrashLoopBackOff)
        .await?;
    let failure = vm.status.unwrap().start_failure.unwrap();
    assert_eq!(failure.consecutive_fail_count, Some(1));
    assert_eq!(failure.last_failed_vmiuid, Some(uid(&first)));
    let retry = failure.retry_after_timestamp.unwrap().0;
    // The next VMI comes only after the 10–15 s backoff.
    let second = eventually(Duration::from_secs(30), "VMI after backoff", || async {
        env.vmis
            .get_opt("crashy")
            .await
            .ok()
            .flatten()
            .filter(|v| uid(v) != uid(&first))
    })
    .await?;
    let created = second.metadata.creation_timestamp.unwrap().0;
    assert!(
        created.as_second() >= retry.as_second(),
        "created {created} before {retry}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generations_track_what_the_running_vmi_was_started_from() -> Result<()> {
    let env = env().await?;
    env.create(&vm_manifest("gens", "Halted")).await?;
    env.printable("gens", VirtualMachinePrintableStatus::Stopped)
        .await?;
    env.set_strategy("gens", "Always").await?;
    env.vmi_where("gens", "VMI", |_| true).await?;
    let state = |vm: &VirtualMachine, vmi: &VirtualMachineInstance| {
        let s = vm.status.clone().unwrap_or_default();
        let annotation = vmi
            .metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get("kubevirt.io/vm-generation"))
            .cloned();
        (
            vm.metadata.generation,
            s.desired_generation,
            s.observed_generation,
            annotation,
        )
    };
    let expect = |g: i64, d: i64, o: i64, a: &str| (Some(g), Some(d), Some(o), Some(a.to_string()));
    let wait_state = |want| {
        let env = &env;
        async move {
            eventually(WAIT, &format!("generations {want:?}"), || async {
                let vm = env.vms.get("gens").await.ok()?;
                let vmi = env.vmis.get("gens").await.ok()?;
                (state(&vm, &vmi) == want).then_some(())
            })
            .await
        }
    };
    wait_state(expect(2, 2, 2, "2")).await?;
    let labels = json!([{"op": "replace", "path": "/spec/template/metadata/labels", "value": {"testkey": "testvalue"}}]);
    env.vms
        .patch(
            "gens",
            &PatchParams::default(),
            &Patch::Json::<()>(serde_json::from_value(labels)?),
        )
        .await?;
    wait_state(expect(3, 3, 2, "2")).await?;
    let more = json!([{"op": "add", "path": "/spec/template/metadata/labels/testkey2", "value": "testvalue2"}]);
    env.vms
        .patch(
            "gens",
            &PatchParams::default(),
            &Patch::Json::<()>(serde_json::from_value(more)?),
        )
        .await?;
    wait_state(expect(4, 4, 2, "2")).await?;
    let uid = env.vm("gens").await?.metadata.uid.unwrap();

    env.set_strategy("gens", "Halted").await?;
    env.finish_deleting_vmi("gens").await?;
    env.set_strategy("gens", "Always").await?;
    env.vmi_where("gens", "restarted VMI", |_| true).await?;
    wait_state(expect(6, 6, 6, "6")).await?;

    let revisions: kube::Api<ControllerRevision> =
        kube::Api::namespaced(env.cluster.admin.clone(), NS);
    assert!(
        revisions
            .get_opt(&format!("revision-start-vm-{uid}-2"))
            .await?
            .is_none()
    );
    assert_eq!(
        revisions
            .get(&format!("revision-start-vm-{uid}-6"))
            .await?
            .revision,
        6
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_non_live_updatable_change_requires_a_restart_until_the_next_start() -> Result<()> {
    let env = env().await?;
    env.create(&vm_manifest("resize", "Always")).await?;
    env.vmi_where("resize", "VMI", |_| true).await?;
    set_vmi_phase(&env.cluster.admin, NS, "resize", "Running").await?;
    env.printable("resize", VirtualMachinePrintableStatus::Running)
        .await?;
    let patch = json!({"spec": {"template": {"spec": {"domain": {"resources": {"requests": {"memory": "128Mi"}}}}}}});
    env.vms
        .patch("resize", &PatchParams::default(), &Patch::Merge(patch))
        .await?;
    let restart = |vm: &VirtualMachine| {
        vm.status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .and_then(|c| c.iter().find(|c| c.type_ == "RestartRequired").cloned())
    };
    let vm = env
        .vm_where("resize", "RestartRequired", |vm| restart(vm).is_some())
        .await?;
    let cond = restart(&vm).unwrap();
    assert_eq!(cond.status, "True");
    assert_eq!(
        cond.message.as_deref(),
        Some("a non-live-updatable field was changed in the template spec")
    );
    let vmi = env.vmis.get("resize").await?;
    let memory = |v: &VirtualMachineInstance| {
        v.spec
            .domain
            .resources
            .as_ref()
            .and_then(|r| r.requests.as_ref())
            .and_then(|r| r.get("memory").cloned())
    };
    assert_eq!(memory(&vmi), Some(Quantity("64Mi".into())));

    env.set_strategy("resize", "Halted").await?;
    env.finish_deleting_vmi("resize").await?;
    env.set_strategy("resize", "Always").await?;
    let vmi = env.vmi_where("resize", "new VMI", |_| true).await?;
    assert_eq!(memory(&vmi), Some(Quantity("128Mi".into())));
    // The start cleared the condition, and the new VMI runs the current spec.
    set_vmi_phase(&env.cluster.admin, NS, "resize", "Running").await?;
    env.printable("resize", VirtualMachinePrintableStatus::Running)
        .await?;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(restart(&env.vm("resize").await?).is_none());
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_start_request_on_a_halted_vm_flips_the_spec_and_starts_paused() -> Result<()> {
    let env = env().await?;
    env.create(&vm_manifest("pausable", "Halted")).await?;
    env.printable("pausable", VirtualMachinePrintableStatus::Stopped)
        .await?;
    let request = json!({"status": {"stateChangeRequests": [{"action": "Start", "data": {"paused": "true"}}]}});
    env.vms
        .patch_status("pausable", &PatchParams::default(), &Patch::Merge(request))
        .await?;
    let vmi = env.vmi_where("pausable", "VMI", |_| true).await?;
    assert_eq!(vmi.spec.start_strategy.as_deref(), Some("Paused"));
    let vm = env
        .vm_where("pausable", "request trimmed", |vm| {
            vm.status
                .as_ref()
                .is_some_and(|s| s.state_change_requests.is_none())
        })
        .await?;
    assert_eq!(vm.spec.run_strategy.as_deref(), Some("Always"));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_settled_vm_is_not_written_again_and_a_restarted_controller_keeps_the_vmi() -> Result<()>
{
    let mut env = env().await?;
    env.create(&vm_manifest("steady", "Always")).await?;
    let vmi = env.vmi_where("steady", "VMI", |_| true).await?;
    set_vmi_phase(&env.cluster.admin, NS, "steady", "Running").await?;
    env.printable("steady", VirtualMachinePrintableStatus::Running)
        .await?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = env.vm("steady").await?.metadata.resource_version;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        env.vm("steady").await?.metadata.resource_version,
        before,
        "no writes without changes"
    );

    env.controller.abort();
    env.controller = tokio::spawn(run(
        env.cluster.controller.clone(),
        VmControllerOptions::default(),
    ));
    tokio::time::sleep(Duration::from_secs(2)).await;
    let after = env.vmis.get("steady").await?;
    assert_eq!(uid(&after), uid(&vmi));
    assert_eq!(env.vm("steady").await?.metadata.resource_version, before);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleting_orphan_of_the_same_name_fences_the_start_until_it_is_gone() -> Result<()> {
    let env = env().await?;
    let template = vm_manifest("fenced", "Always");
    let mut orphan =
        VirtualMachineInstance::new("fenced", template.spec.template.spec.clone().unwrap());
    orphan.metadata.finalizers = Some(vec!["example.com/hold".into()]);
    let orphan = env.vmis.create(&PostParams::default(), &orphan).await?;
    env.vmis.delete("fenced", &DeleteParams::default()).await?;
    env.create(&template).await?;
    env.vm_where("fenced", "status", |vm| vm.status.is_some())
        .await?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let still = env.vmis.get("fenced").await?;
    assert_eq!(
        uid(&still),
        uid(&orphan),
        "no replacement while the old VMI is cached"
    );
    // The VMI watch may lag the VM watch: a start that finds the name taken by a VMI the cache
    // has not shown yet must wait like a fenced one, not report FailedCreate.
    let events = env.cluster.events_for(NS, "fenced").await?;
    assert!(
        events
            .iter()
            .all(|e| e.reason.as_deref() != Some("FailedCreate")),
        "{:?}",
        events
            .iter()
            .map(|e| (e.reason.clone(), e.message.clone()))
            .collect::<Vec<_>>()
    );
    let vm = env.vm("fenced").await?;
    assert!(
        vm.status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .is_none_or(|c| c.iter().all(|c| c.type_ != "Failure")),
        "{:?}",
        vm.status
    );

    let release = json!({"metadata": {"finalizers": null}});
    env.vmis
        .patch("fenced", &PatchParams::default(), &Patch::Merge(release))
        .await?;
    let new = env
        .vmi_where("fenced", "own VMI", |v| uid(v) != uid(&orphan))
        .await?;
    assert!(new.metadata.owner_references.is_some());
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_vmi_owned_by_another_controller_makes_the_start_fail() -> Result<()> {
    let env = env().await?;
    let template = vm_manifest("taken", "Always");
    // A live owner, so the garbage collector keeps the VMI.
    let configmaps: kube::Api<k8s_openapi::api::core::v1::ConfigMap> =
        kube::Api::namespaced(env.cluster.admin.clone(), NS);
    let owner = configmaps
        .create(
            &PostParams::default(),
            &k8s_openapi::api::core::v1::ConfigMap {
                metadata: ObjectMeta {
                    name: Some("owner".into()),
                    ..Default::default()
                },
                ..Default::default()
            },
        )
        .await?;
    let mut foreign =
        VirtualMachineInstance::new("taken", template.spec.template.spec.clone().unwrap());
    foreign.metadata.owner_references = Some(vec![
        k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference {
            api_version: "v1".into(),
            kind: "ConfigMap".into(),
            name: "owner".into(),
            uid: owner.metadata.uid.unwrap(),
            controller: Some(true),
            block_owner_deletion: Some(true),
        },
    ]);
    env.vmis.create(&PostParams::default(), &foreign).await?;
    env.create(&template).await?;
    let vm = env
        .vm_where("taken", "Failure condition", |vm| {
            vm.status
                .as_ref()
                .and_then(|s| s.conditions.as_ref())
                .is_some_and(|c| c.iter().any(|c| c.type_ == "Failure"))
        })
        .await?;
    let failure = vm
        .status
        .unwrap()
        .conditions
        .unwrap()
        .into_iter()
        .find(|c| c.type_ == "Failure")
        .unwrap();
    assert_eq!(failure.reason.as_deref(), Some("FailedCreate"));
    let message = failure.message.unwrap();
    assert!(
        message.starts_with("Failure while starting VMI: "),
        "{message}"
    );
    assert!(message.contains("already exists"), "{message}");
    Ok(())
}
