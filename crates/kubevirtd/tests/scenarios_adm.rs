//! Acceptance scenarios of the admission webhooks ([ADM] 43–46 in §8 of the behaviour spec),
//! end to end against the real `kubevirtd`. The kubeconfig's user is a cluster admin, not one
//! of KubeVirt's service accounts.
//!
//! Covers scenarios 43, 44, 45 and 46, plus the create defaults of §6.1 and §6.2 and the replica
//! set rules of §6.6 (the template disk rule of scenario 59 is in `scenarios_rs.rs`). QUIRKs of
//! §6 kept and asserted: a run strategy is mandatory (44), the VM admitter does not check memory
//! so the failure shows at VMI create (45), and a user's VMI status edit succeeds but is
//! reverted (46).

mod common;
#[path = "common/scenario.rs"]
mod scenario;

use scenario::*;
use serde_json::{Value, json};

fn vmis(sc: &Scenario) -> String {
    format!(
        "/apis/kubevirt.io/v1/namespaces/{}/virtualmachineinstances",
        sc.ns
    )
}

fn vms(sc: &Scenario) -> String {
    format!("/apis/kubevirt.io/v1/namespaces/{}/virtualmachines", sc.ns)
}

fn causes(reply: &Reply) -> Vec<Value> {
    reply.json()["details"]["causes"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

// Scenario 43.
#[tokio::test(flavor = "multi_thread")]
async fn disks_without_volumes_are_rejected_on_create_and_patch() {
    let sc = Scenario::new("adm-s43").await;
    let mut vmi = vmi_manifest("nodisks");
    let disks = vmi["spec"]["domain"]["devices"]["disks"]
        .as_array_mut()
        .unwrap();
    disks.push(json!({"name": "testdisk"}));
    disks.push(json!({"name": "testdisk2"}));
    let r = sc.post(&vmis(&sc), vmi).await;
    assert_eq!(r.code, 422, "{}", r.body);
    let causes = causes(&r);
    assert_eq!(causes.len(), 2, "{causes:?}");
    assert_eq!(causes[0]["field"], "spec.domain.devices.disks[1].name");
    assert_eq!(causes[1]["field"], "spec.domain.devices.disks[2].name");
    assert_eq!(
        causes[0]["message"],
        "spec.domain.devices.disks[1].Name 'testdisk' not found."
    );

    sc.create("virtualmachineinstances", vmi_manifest("patched"))
        .await;
    let r = sc
        .merge_patch(
            &sc.vmi_path("patched"),
            json!({"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachineInstance",
                   "spec": {"domain": {"devices": {"disks": [
                       {"disk": {"bus": "virtio"}, "name": "fakedisk"}]}}}}),
        )
        .await;
    assert_eq!(r.code, 422, "{}", r.body);
}

fn expect_rejected(r: &Reply, field: &str, message: &str) {
    assert_eq!(r.code, 422, "{}", r.body);
    let causes = causes(r);
    assert!(
        causes
            .iter()
            .any(|c| c["field"] == field && c["message"] == message),
        "want {field}: {message}; got {causes:?}"
    );
}

// Scenario 44.
#[tokio::test(flavor = "multi_thread")]
async fn run_strategy_is_mandatory_known_and_exclusive_with_running() {
    let sc = Scenario::new("adm-s44").await;
    let mut both = vm_manifest("both", "Always");
    both["spec"]["running"] = json!(true);
    expect_rejected(
        &sc.post(&vms(&sc), both).await,
        "spec.running",
        "Running and RunStrategy are mutually exclusive. Note that Running is deprecated, please use RunStrategy instead",
    );
    let mut neither = vm_manifest("neither", "Always");
    neither["spec"]
        .as_object_mut()
        .unwrap()
        .remove("runStrategy");
    expect_rejected(
        &sc.post(&vms(&sc), neither).await,
        "spec.running",
        "RunStrategy must be specified",
    );
    expect_rejected(
        &sc.post(&vms(&sc), vm_manifest("invalid", "invalid")).await,
        "spec.runStrategy",
        "Invalid RunStrategy (invalid)",
    );

    let mut running = vm_manifest("running", "Always");
    running["spec"]
        .as_object_mut()
        .unwrap()
        .remove("runStrategy");
    running["spec"]["running"] = json!(false);
    let out = sc.kubectl_stdin(&["create", "-f", "-"], &running.to_string());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr
            .contains("Warning: spec.running is deprecated, please use spec.runStrategy instead."),
        "{stderr}"
    );
    let mut api = vm_manifest("running-api", "Always");
    api["spec"].as_object_mut().unwrap().remove("runStrategy");
    api["spec"]["running"] = json!(true);
    let r = sc.post(&vms(&sc), api).await;
    assert_eq!(r.code, 201, "{}", r.body);
    assert!(
        r.warnings
            .iter()
            .any(|w| w.contains("spec.running is deprecated, please use spec.runStrategy instead.")),
        "{:?}",
        r.warnings
    );
    sc.wait_running("running-api", &[]).await;
}

const NO_MEMORY: &str = "no memory requested, at least one of 'spec.domain.memory.guest', 'spec.domain.memory.hugepages.pageSize' or 'spec.domain.resources.requests.memory' must be set";

// Scenario 45.
#[tokio::test(flavor = "multi_thread")]
async fn memoryless_vmi_is_rejected_and_a_vm_with_it_fails_to_start() {
    let sc = Scenario::new("adm-s45").await;
    let mut vmi = vmi_manifest("nomem");
    vmi["spec"]["domain"]
        .as_object_mut()
        .unwrap()
        .remove("resources");
    let r = sc.post(&vmis(&sc), vmi).await;
    assert_eq!(r.code, 422, "{}", r.body);
    assert!(
        causes(&r).iter().any(|c| c["message"] == NO_MEMORY),
        "{}",
        r.body
    );

    let mut vm = vm_manifest("nomem", "Halted");
    vm["spec"]["template"]["spec"]["domain"]
        .as_object_mut()
        .unwrap()
        .remove("resources");
    let r = sc.post(&vms(&sc), vm).await;
    assert_eq!(
        r.code, 201,
        "the VM admitter does not check memory: {}",
        r.body
    );
    sc.set_run_strategy("nomem", "Always").await;
    let vm = sc
        .wait_vm("nomem", "Failure condition", |vm| {
            condition(vm, "Failure").is_some()
        })
        .await;
    let failure = condition(&vm, "Failure").unwrap();
    assert_eq!(failure["status"], "True");
    assert_eq!(failure["reason"], "FailedCreate");
    let message = failure["message"].as_str().unwrap_or_default();
    assert!(
        message.starts_with("Failure while starting VMI: ") && message.contains(NO_MEMORY),
        "{message}"
    );
    assert!(sc.vmi("nomem").await.is_none());
    let event = sc
        .wait_event("VirtualMachine", "nomem", "FailedCreate")
        .await;
    assert_eq!(event["type"], "Warning");
    assert!(
        s(&event, "/message").starts_with("Error creating virtual machine instance: "),
        "{event}"
    );
}

// Scenario 46.
#[tokio::test(flavor = "multi_thread")]
async fn users_cannot_change_a_vmi_spec_and_their_status_edits_are_reverted() {
    let sc = Scenario::new("adm-s46").await;
    sc.create("virtualmachineinstances", vmi_manifest("locked"))
        .await;
    let running = sc.wait_running("locked", &[]).await;
    let r = sc
        .merge_patch(
            &sc.vmi_path("locked"),
            json!({"spec": {"nodeSelector": {"example.com/x": "y"}}}),
        )
        .await;
    assert_eq!(r.code, 422, "{}", r.body);
    assert!(
        r.body.contains("update of VMI object is restricted"),
        "{}",
        r.body
    );

    let r = sc
        .merge_patch(
            &sc.vmi_path("locked"),
            json!({"status": {"phase": "Failed", "nodeName": "elsewhere"}}),
        )
        .await;
    assert!(r.is_success(), "{} {}", r.code, r.body);
    let answered = r.json();
    assert_eq!(phase(&answered), "Running");
    let now = sc.vmi("locked").await.unwrap();
    assert_eq!(phase(&now), "Running");
    assert_eq!(now["status"]["nodeName"], running["status"]["nodeName"]);
    assert!(now["spec"].get("nodeSelector").is_none());

    // Metadata is the user's to change.
    let r = sc
        .merge_patch(
            &sc.vmi_path("locked"),
            json!({"metadata": {"labels": {"team": "a"}}}),
        )
        .await;
    assert!(r.is_success(), "{}", r.body);
}

// §6.6: the replica set admitter checks the selector against the template labels and the
// template itself.
#[tokio::test(flavor = "multi_thread")]
async fn replica_set_selector_must_parse_and_match_the_template() {
    let sc = Scenario::new("adm-rs").await;
    let rss = format!(
        "/apis/kubevirt.io/v1/namespaces/{}/virtualmachineinstancereplicasets",
        sc.ns
    );
    let rs = |selector: Value| {
        json!({
            "apiVersion": "kubevirt.io/v1",
            "kind": "VirtualMachineInstanceReplicaSet",
            "metadata": {"name": "rs"},
            "spec": {
                "replicas": 1,
                "selector": selector,
                "template": {"metadata": {"labels": {"app": "a"}}, "spec": vmi_spec()},
            }
        })
    };
    expect_rejected(
        &sc.post(&rss, rs(json!({"matchLabels": {"app": "b"}})))
            .await,
        "spec.selector",
        "selector does not match labels.",
    );
    let r = sc
        .post(
            &rss,
            rs(json!({"matchExpressions": [{"key": "app", "operator": "Bogus"}]})),
        )
        .await;
    assert_eq!(r.code, 422, "{}", r.body);
    assert!(
        causes(&r).iter().any(|c| c["field"] == "spec.selector"),
        "{}",
        r.body
    );
    let mut bad_spec = rs(json!({"matchLabels": {"app": "a"}}));
    bad_spec["spec"]["template"]["spec"]["domain"]["devices"]["disks"][0]["disk"]["bus"] =
        json!("ide");
    let r = sc.post(&rss, bad_spec).await;
    assert_eq!(r.code, 422, "{}", r.body);
    assert!(
        causes(&r)
            .iter()
            .any(|c| c["field"] == "spec.template.spec.domain.devices.disks[0].disk.bus"),
        "{}",
        r.body
    );
    let r = sc
        .post(&rss, rs(json!({"matchLabels": {"app": "a"}})))
        .await;
    assert_eq!(r.code, 201, "{}", r.body);
}

// §6.1 and §6.2 (no numbered scenario): what the mutating webhooks add on create.
#[tokio::test(flavor = "multi_thread")]
async fn create_defaults_of_vms_and_vmis() {
    let sc = Scenario::new("adm-defaults").await;
    let vm = sc.create_vm(vm_manifest("d", "Halted")).await;
    let template = &vm["spec"]["template"];
    assert!(
        !s(template, "/spec/domain/firmware/uuid").is_empty(),
        "{vm}"
    );
    assert!(
        !s(template, "/spec/domain/firmware/serial").is_empty(),
        "{vm}"
    );
    assert_eq!(s(template, "/spec/domain/machine/type"), "q35");
    assert_eq!(
        s(
            template,
            "/metadata/annotations/kubevirt.io~1pci-topology-version"
        ),
        "v3"
    );

    let mut vmi = vmi_manifest("d");
    vmi["spec"]["domain"]["devices"]["disks"] = json!([{"name": "cd", "cdrom": {"bus": "sata"}}]);
    vmi["spec"]["domain"]["resources"]["limits"] = json!({"cpu": "2"});
    vmi["spec"]["volumes"] = json!([
        {"name": "cd", "containerDisk": {"image": "quay.io/example/cd"}},
        {"name": "extra", "containerDisk": {"image": "quay.io/example/extra:v1"}},
    ]);
    let created = sc.create("virtualmachineinstances", vmi).await;
    assert_eq!(
        created["metadata"]["finalizers"],
        json!(["kubevirt.io/foregroundDeleteVirtualMachine"])
    );
    let spec = &created["spec"];
    let domain = &spec["domain"];
    assert_eq!(domain["memory"]["guest"], "64Mi");
    assert_eq!(domain["resources"]["requests"]["cpu"], "2");
    assert_eq!(domain["cpu"]["sockets"], 2);
    assert_eq!(domain["cpu"]["cores"], 1);
    assert_eq!(domain["cpu"]["model"], "host-model");
    assert_eq!(domain["machine"]["type"], "q35");
    assert!(!s(domain, "/firmware/uuid").is_empty());
    let disks = domain["devices"]["disks"].as_array().unwrap();
    assert_eq!(disks[0]["cdrom"]["readonly"], true);
    assert_eq!(disks[0]["cdrom"]["tray"], "closed");
    assert_eq!(
        disks[1]["name"], "extra",
        "a disk for the volume without one"
    );
    assert!(disks[1]["disk"].is_object(), "{}", disks[1]);
    assert_eq!(
        domain["devices"]["interfaces"],
        json!([{"name": "default", "bridge": {}}])
    );
    assert_eq!(spec["networks"], json!([{"name": "default", "pod": {}}]));
    assert_eq!(
        spec["volumes"][0]["containerDisk"]["imagePullPolicy"],
        "Always"
    );
    assert_eq!(
        spec["volumes"][1]["containerDisk"]["imagePullPolicy"],
        "IfNotPresent"
    );
    assert_eq!(
        s(&created, "/status/phase"),
        "Pending",
        "{}",
        created["status"]
    );
    assert_eq!(created["status"]["runtimeUser"], 107);
}
