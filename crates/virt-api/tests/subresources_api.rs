//! The `subresources.kubevirt.io` plug-in against a real in-process API: the VM spec and
//! status patches and the codes of start, stop, restart and migrate, dry runs, expand-spec,
//! discovery, and the same patches under KubeVirt's admission plug-ins.

mod subresources_env;

use std::sync::Arc;

use anyhow::{Context, Result};
use apiserver::UserInfo;
use apiserver::server::auth::Authenticator;
use apiserver::server::{ListOptions, WriteOptions};
use axum::body::Body;
use http::{Request, StatusCode};
use serde_json::{Value, json};
use subresources_env::*;

#[tokio::test]
async fn start_of_a_halted_vm_sets_the_strategy_to_always() -> Result<()> {
    let env = env().await?;
    env.create_vm("vm1", ("runStrategy", json!("Halted")))
        .await?;
    let (code, body) = env.vm_action("vm1", "start", "").await?;
    assert_eq!((code, &body), (202, &Value::Null));
    assert_eq!(
        env.get("virtualmachines", "vm1").await?["spec"]["runStrategy"],
        "Always"
    );
    Ok(())
}

#[tokio::test]
async fn start_of_a_manual_vm_queues_one_start_request() -> Result<()> {
    let env = env().await?;
    env.create_vm("vm1", ("runStrategy", json!("Manual")))
        .await?;
    env.set_vm_status("vm1", json!({"startFailure": {"consecutiveFailCount": 2}}))
        .await?;
    assert_eq!(
        env.vm_action("vm1", "start", r#"{"paused":true}"#).await?.0,
        202
    );
    let vm = env.get("virtualmachines", "vm1").await?;
    assert_eq!(vm["spec"]["runStrategy"], "Manual");
    assert_eq!(
        vm["status"]["stateChangeRequests"],
        json!([{"action": "Start", "data": {"paused": "true"}}])
    );
    assert!(vm["status"].get("startFailure").is_none(), "{vm}");
    // A second start while the first is queued is refused.
    let (code, body) = env.vm_action("vm1", "start", "").await?;
    assert_eq!(code, 500);
    assert!(
        message(&body).contains("stop/start already underway"),
        "{body}"
    );
    Ok(())
}

#[tokio::test]
async fn start_of_a_running_vm_is_a_conflict() -> Result<()> {
    let env = env().await?;
    env.create_vm("vm1", ("runStrategy", json!("Manual")))
        .await?;
    env.create_vmi("vm1", "Running", None, json!([])).await?;
    let (code, body) = env.vm_action("vm1", "start", "").await?;
    assert_eq!(code, 409);
    assert_eq!(body["reason"], "Conflict");
    assert_eq!(
        message(&body),
        "Operation cannot be fulfilled on virtualmachine.kubevirt.io \"vm1\": VM is already running"
    );
    let (code, body) = env.vm_action("missing", "start", "").await?;
    assert_eq!(code, 404);
    assert_eq!(
        message(&body),
        "virtualmachine.kubevirt.io \"missing\" not found"
    );
    Ok(())
}

#[tokio::test]
async fn stop_of_an_always_vm_halts_it_and_shortens_the_grace_period() -> Result<()> {
    let env = env().await?;
    env.create_vm("vm1", ("runStrategy", json!("Always")))
        .await?;
    env.create_vmi("vm1", "Running", Some(600), json!([]))
        .await?;
    // YAML bodies are accepted as well.
    assert_eq!(
        env.vm_action("vm1", "stop", "gracePeriod: 0\n").await?.0,
        202
    );
    assert_eq!(
        env.get("virtualmachines", "vm1").await?["spec"]["runStrategy"],
        "Halted"
    );
    let vmi = env.get("virtualmachineinstances", "vm1").await?;
    assert_eq!(vmi["spec"]["terminationGracePeriodSeconds"], 0);
    // Now Halted: a stop without a shorter grace period is refused.
    let (code, body) = env.vm_action("vm1", "stop", "").await?;
    assert_eq!(code, 409);
    assert!(
        message(&body)
            .ends_with("Halted only supports manual stop requests with a shorter graceperiod")
    );
    Ok(())
}

#[tokio::test]
async fn stop_of_a_manual_vm_queues_a_uid_fenced_stop() -> Result<()> {
    let env = env().await?;
    env.create_vm("vm1", ("runStrategy", json!("Manual")))
        .await?;
    let (code, body) = env.vm_action("vm1", "stop", "").await?;
    assert_eq!(code, 409);
    assert!(message(&body).ends_with("VM is not running"), "{body}");
    let uid = env.create_vmi("vm1", "Running", None, json!([])).await?;
    assert_eq!(env.vm_action("vm1", "stop", "{}").await?.0, 202);
    let vm = env.get("virtualmachines", "vm1").await?;
    assert_eq!(
        vm["status"]["stateChangeRequests"],
        json!([{"action": "Stop", "uid": uid}])
    );
    Ok(())
}

#[tokio::test]
async fn restart_queues_stop_and_start_and_forces_grace_one() -> Result<()> {
    let env = env().await?;
    env.create_vm("vm1", ("running", json!(true))).await?;
    let uid = env
        .create_vmi("vm1", "Running", Some(600), json!([]))
        .await?;
    let (code, body) = env
        .vm_action("vm1", "restart", r#"{"gracePeriodSeconds":5}"#)
        .await?;
    assert_eq!(
        (code, message(&body)),
        (
            400,
            "For force restart, only gracePeriod=0 is supported for now"
        )
    );
    assert_eq!(
        env.vm_action("vm1", "restart", r#"{"gracePeriodSeconds":0}"#)
            .await?
            .0,
        202
    );
    let vm = env.get("virtualmachines", "vm1").await?;
    assert_eq!(
        vm["status"]["stateChangeRequests"],
        json!([{"action": "Stop", "uid": uid}, {"action": "Start"}])
    );
    assert_eq!(vm["spec"]["running"], true);
    let vmi = env.get("virtualmachineinstances", "vm1").await?;
    assert_eq!(vmi["spec"]["terminationGracePeriodSeconds"], 1);
    Ok(())
}

#[tokio::test]
async fn restart_without_a_vmi_or_under_halted_is_a_conflict() -> Result<()> {
    let env = env().await?;
    env.create_vm("manual", ("runStrategy", json!("Manual")))
        .await?;
    env.create_vm("halted", ("runStrategy", json!("Halted")))
        .await?;
    let (code, body) = env.vm_action("manual", "restart", "").await?;
    assert_eq!(code, 409);
    assert!(message(&body).contains("VM is not running"));
    let (code, body) = env.vm_action("halted", "restart", "").await?;
    assert_eq!(code, 409);
    assert!(message(&body).ends_with("RunStategy Halted does not support manual restart requests"));
    Ok(())
}

#[tokio::test]
async fn dry_runs_change_nothing() -> Result<()> {
    let env = env().await?;
    env.create_vm("manual", ("runStrategy", json!("Manual")))
        .await?;
    env.create_vm("always", ("runStrategy", json!("Always")))
        .await?;
    env.create_vmi("always", "Running", Some(600), json!([]))
        .await?;
    let dry = r#"{"dryRun":["All"]}"#;
    let before_manual = env.get("virtualmachines", "manual").await?;
    let before_always = env.get("virtualmachines", "always").await?;
    let before_vmi = env.get("virtualmachineinstances", "always").await?;

    assert_eq!(env.vm_action("manual", "start", dry).await?.0, 202);
    assert_eq!(
        env.vm_action("always", "stop", r#"{"dryRun":["All"],"gracePeriod":10}"#)
            .await?
            .0,
        202
    );
    assert_eq!(env.vm_action("always", "stop", dry).await?.0, 202);
    assert_eq!(
        env.vm_action(
            "always",
            "restart",
            r#"{"dryRun":["All"],"gracePeriodSeconds":0}"#
        )
        .await?
        .0,
        202
    );

    assert_eq!(env.get("virtualmachines", "manual").await?, before_manual);
    assert_eq!(env.get("virtualmachines", "always").await?, before_always);
    assert_eq!(
        env.get("virtualmachineinstances", "always").await?,
        before_vmi
    );
    let (code, _) = env
        .vm_action("manual", "start", r#"{"dryRun":["Some"]}"#)
        .await?;
    assert_eq!(code, 400);
    Ok(())
}

#[tokio::test]
async fn undecodable_bodies_are_bad_requests() -> Result<()> {
    let env = env().await?;
    env.create_vm("vm1", ("runStrategy", json!("Always")))
        .await?;
    let (code, body) = env
        .vm_action("vm1", "stop", r#"{"gracePeriod":"soon"}"#)
        .await?;
    assert_eq!(code, 400);
    assert!(
        message(&body).starts_with("Can not unmarshal Request body to struct, error: "),
        "{body}"
    );
    assert_eq!(
        env.get("virtualmachines", "vm1").await?["spec"]["runStrategy"],
        "Always"
    );
    Ok(())
}

async fn migrations(env: &Env) -> Result<Vec<Value>> {
    let list = env
        .api
        .list(
            &env.scope("virtualmachineinstancemigrations"),
            &ListOptions::default(),
        )
        .await?;
    Ok(list["items"].as_array().cloned().unwrap_or_default())
}

#[tokio::test]
async fn migrate_creates_a_migration_for_a_running_vmi_only() -> Result<()> {
    let env = env().await?;
    env.create_vm("vm1", ("runStrategy", json!("Always")))
        .await?;
    env.create_vmi("vm1", "Scheduled", None, json!([])).await?;
    let (code, body) = env.vm_action("vm1", "migrate", "").await?;
    assert_eq!(code, 409);
    assert!(message(&body).ends_with("VM is not running"));

    env.create_vm("vm2", ("runStrategy", json!("Always")))
        .await?;
    env.create_vmi("vm2", "Running", None, json!([])).await?;
    assert_eq!(
        env.vm_action("vm2", "migrate", r#"{"dryRun":["All"]}"#)
            .await?
            .0,
        202
    );
    assert!(migrations(&env).await?.is_empty());
    let body = r#"{"addedNodeSelector":{"zone":"b"}}"#;
    assert_eq!(env.vm_action("vm2", "migrate", body).await?.0, 202);
    let created = migrations(&env).await?;
    assert_eq!(created.len(), 1);
    let name = created[0]["metadata"]["name"].as_str().context("name")?;
    assert!(name.starts_with("kubevirt-migrate-vm-"), "{name}");
    assert_eq!(created[0]["spec"]["vmiName"], "vm2");
    assert_eq!(
        created[0]["spec"]["addedNodeSelector"],
        json!({"zone": "b"})
    );
    Ok(())
}

#[tokio::test]
async fn version_healthz_and_unknown_paths() -> Result<()> {
    let env = env().await?;
    let (code, body) = env.call("GET", "version", "").await?;
    assert_eq!(code, 200);
    assert!(body["gitVersion"].as_str().unwrap().starts_with("v1."));
    let (code, body) = env.call("GET", "healthz", "").await?;
    assert_eq!(
        (code, &body["apiserver"]["connectivity"]),
        (200, &json!("ok"))
    );
    assert_eq!(
        env.call("GET", "namespaces/default/virtualmachines/x/nope", "")
            .await?
            .0,
        404
    );
    assert_eq!(
        env.call("GET", "namespaces/default/virtualmachines/x/start", "")
            .await?
            .0,
        405
    );
    env.create_vmi("x", "Running", None, json!([])).await?;
    let (code, body) = env
        .call(
            "GET",
            "namespaces/default/virtualmachineinstances/x/portforward/ssh",
            "",
        )
        .await?;
    assert_eq!((code, message(&body)), (400, "invalid port \"ssh\""));
    Ok(())
}

#[tokio::test]
async fn expand_spec_applies_the_referenced_instancetype() -> Result<()> {
    let env = env().await?;
    let scope = env.api.scope(
        "instancetype.kubevirt.io",
        "v1beta1",
        "virtualmachineclusterinstancetypes",
        None,
    )?;
    let instancetype = json!({
        "apiVersion": "instancetype.kubevirt.io/v1beta1",
        "kind": "VirtualMachineClusterInstancetype",
        "metadata": {"name": "u1.small"},
        "spec": {"cpu": {"guest": 2}, "memory": {"guest": "1Gi"}},
    });
    env.api
        .create(
            &scope,
            instancetype,
            &WriteOptions::default(),
            &user(),
            None,
        )
        .await?;
    env.create_vm("plain", ("runStrategy", json!("Halted")))
        .await?;
    env.create_vm("typed", ("instancetype", json!({"name": "u1.small"})))
        .await?;
    env.create_vm("dangling", ("instancetype", json!({"name": "u9.huge"})))
        .await?;

    let path = |vm: &str| format!("namespaces/{NS}/virtualmachines/{vm}/expand-spec");
    let (code, plain) = env.call("GET", &path("plain"), "").await?;
    assert_eq!(code, 200);
    assert_eq!(plain, env.get("virtualmachines", "plain").await?);

    let (code, typed) = env.call("GET", &path("typed"), "").await?;
    assert_eq!(code, 200);
    let domain = &typed["spec"]["template"]["spec"]["domain"];
    assert_eq!(
        domain["cpu"],
        json!({"sockets": 2, "cores": 1, "threads": 1})
    );
    assert_eq!(domain["memory"]["guest"], "1Gi");
    assert!(typed["spec"].get("instancetype").is_none(), "{typed}");

    let (code, body) = env.call("GET", &path("dangling"), "").await?;
    assert_eq!(code, 500);
    assert!(message(&body).contains("u9.huge"), "{body}");
    Ok(())
}

#[tokio::test]
async fn discovery_lists_the_group_and_its_subresources() -> Result<()> {
    use tower::ServiceExt;
    let env = env().await?;
    let router = apiserver::server::http::router(env.api.clone(), Arc::new(Authenticator::new()));
    let mut request = Request::get("/apis/subresources.kubevirt.io/v1").body(Body::empty())?;
    request.extensions_mut().insert(user());
    let response = router.clone().oneshot(request).await?;
    assert_eq!(response.status(), StatusCode::OK);
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await?;
    let list: Value = serde_json::from_slice(&bytes)?;
    let names: Vec<&str> = list["resources"]
        .as_array()
        .context("resources")?
        .iter()
        .filter_map(|r| r["name"].as_str())
        .collect();
    for wanted in [
        "virtualmachines/start",
        "virtualmachines/stop",
        "virtualmachineinstances/console",
    ] {
        assert!(names.contains(&wanted), "{wanted} missing from {names:?}");
    }
    // And the plug-in answers through the router, v1alpha3 included.
    let mut request =
        Request::get("/apis/subresources.kubevirt.io/v1alpha3/version").body(Body::empty())?;
    request.extensions_mut().insert(user());
    assert_eq!(router.oneshot(request).await?.status(), StatusCode::OK);
    Ok(())
}

#[tokio::test]
async fn lifecycle_patches_pass_kubevirt_admission() -> Result<()> {
    let admission = virt_api::admission::plugins(virt_api::admission::ClusterConfig::default());
    let env = env_with(admission).await?;
    let memory = json!({"devices": {}, "resources": {"requests": {"memory": "64Mi"}}});
    for (name, strategy) in [("always", "Always"), ("halted", "Halted")] {
        let vm = json!({
            "apiVersion": "kubevirt.io/v1", "kind": "VirtualMachine",
            "metadata": {"name": name},
            "spec": {"runStrategy": strategy, "template": {"spec": {"domain": memory}}},
        });
        let scope = env.scope("virtualmachines");
        env.api
            .create(&scope, vm, &WriteOptions::default(), &user(), None)
            .await?;
    }
    let vmi = json!({
        "apiVersion": "kubevirt.io/v1", "kind": "VirtualMachineInstance",
        "metadata": {"name": "always"},
        "spec": {"domain": memory, "terminationGracePeriodSeconds": 600},
        "status": {"phase": "Running"},
    });
    let scope = env.scope("virtualmachineinstances");
    let controller = UserInfo::system("virt-controller");
    env.api
        .create(&scope, vmi, &WriteOptions::default(), &controller, None)
        .await?;

    assert_eq!(env.vm_action("halted", "start", "").await?.0, 202);
    assert_eq!(
        env.get("virtualmachines", "halted").await?["spec"]["runStrategy"],
        "Always"
    );
    let (code, body) = env
        .vm_action("always", "restart", r#"{"gracePeriodSeconds":0}"#)
        .await?;
    assert_eq!(code, 202, "{body}");
    let vmi = env.get("virtualmachineinstances", "always").await?;
    assert_eq!(vmi["spec"]["terminationGracePeriodSeconds"], 1);
    let (code, body) = env
        .vm_action("always", "stop", r#"{"gracePeriod":0}"#)
        .await?;
    assert_eq!(code, 202, "{body}");
    assert_eq!(
        env.get("virtualmachines", "always").await?["spec"]["runStrategy"],
        "Halted"
    );
    let vmi = env.get("virtualmachineinstances", "always").await?;
    assert_eq!(vmi["spec"]["terminationGracePeriodSeconds"], 0);
    Ok(())
}
