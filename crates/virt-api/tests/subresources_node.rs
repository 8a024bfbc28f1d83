//! The node-side subresources against a real in-process API and a fake node gateway: pause,
//! unpause, soft reboot, guest agent queries, screenshots, and the console and port-forward
//! websockets through the HTTP router on a real TCP socket.

mod subresources_env;

use anyhow::Result;
use apiserver::server::WriteOptions;
use apiserver::{GroupPlugin, UserInfo};
use axum::body::Body;
use futures::SinkExt;
use http::{Request, StatusCode};
use serde_json::{Value, json};
use subresources_env::*;
use tokio_tungstenite::tungstenite::Message;

/// A running VMI `running` and a user-paused running VMI `paused`.
async fn create_running_and_paused(env: &Env) -> Result<()> {
    env.create_vmi("running", "Running", None, json!([]))
        .await?;
    env.create_vmi(
        "paused",
        "Running",
        None,
        json!([{"type": "Paused", "status": "True"}]),
    )
    .await?;
    Ok(())
}

#[tokio::test]
async fn pause_and_unpause_reach_the_node_after_validation() -> Result<()> {
    let env = env().await?;
    create_running_and_paused(&env).await?;
    env.create_vmi("pending", "Pending", None, json!([]))
        .await?;

    assert_eq!(
        env.vmi_action("PUT", "running", "pause", r#"{"dryRun":["All"]}"#)
            .await?
            .0,
        200
    );
    assert!(env.node.calls().is_empty());
    assert_eq!(
        env.vmi_action("PUT", "running", "pause", "").await?,
        (200, Value::Null)
    );
    assert_eq!(env.node.calls(), ["pause running"]);

    let (code, body) = env.vmi_action("PUT", "paused", "pause", "").await?;
    assert_eq!(
        (code, message(&body).ends_with("VMI is already paused")),
        (409, true)
    );
    let (code, body) = env.vmi_action("PUT", "pending", "pause", "").await?;
    assert_eq!(
        (code, message(&body).ends_with("VM is not running")),
        (409, true)
    );
    let (code, body) = env.vmi_action("PUT", "running", "unpause", "").await?;
    assert_eq!(
        (code, message(&body).ends_with("VMI is not paused")),
        (409, true)
    );

    assert_eq!(env.vmi_action("PUT", "paused", "unpause", "").await?.0, 200);
    assert_eq!(env.node.calls(), ["pause running", "unpause paused"]);
    // Node unreachable: 503 with the node's message.
    let (code, body) = env.vmi_action("PUT", "running", "softreboot", "").await?;
    assert_eq!((code, message(&body)), (503, "node agent unreachable"));
    Ok(())
}

#[tokio::test]
async fn guest_queries_and_screenshots_come_from_the_node() -> Result<()> {
    let env = env().await?;
    env.create_vmi(
        "agent",
        "Running",
        None,
        json!([{"type": "AgentConnected", "status": "True"}]),
    )
    .await?;
    env.create_vmi("noagent", "Running", None, json!([]))
        .await?;
    let (code, body) = env.vmi_action("GET", "agent", "guestosinfo", "").await?;
    assert_eq!((code, &body["hostname"]), (200, &json!("guest")));
    let (code, body) = env.vmi_action("GET", "noagent", "userlist", "").await?;
    assert_eq!(code, 409);
    assert!(message(&body).ends_with("VMI does not have guest agent connected"));
    // Not offered by this node driver.
    let (code, body) = env.vmi_action("GET", "agent", "filesystemlist", "").await?;
    assert_eq!(
        (code, message(&body)),
        (400, "filesystemlist is not supported by this node driver")
    );

    let path = format!("namespaces/{NS}/virtualmachineinstances/agent/vnc/screenshot");
    let request = Request::get(format!("/x/{path}")).body(Body::empty())?;
    let response = env
        .plugin
        .handle(env.api.clone(), user(), "v1", &path, request)
        .await?;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "image/png");
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await?;
    assert!(bytes.starts_with(b"\x89PNG"));
    assert_eq!(env.node.calls(), ["guestosinfo agent", "screenshot agent"]);
    Ok(())
}

#[tokio::test]
async fn console_echoes_through_the_websocket_and_a_second_session_evicts_the_first() -> Result<()>
{
    let env = env().await?;
    env.create_vmi("vmi1", "Running", None, json!([])).await?;
    let addr = serve(&env).await?;

    let mut first = connect_console(addr, "vmi1").await?;
    first
        .send(Message::Binary(b"hello".to_vec().into()))
        .await?;
    assert_eq!(next_data(&mut first).await?.as_deref(), Some(&b"hello"[..]));

    let mut second = connect_console(addr, "vmi1").await?;
    assert_eq!(
        next_data(&mut first).await?,
        None,
        "the first session sees EOF"
    );
    second
        .send(Message::Binary(b"again".to_vec().into()))
        .await?;
    assert_eq!(
        next_data(&mut second).await?.as_deref(),
        Some(&b"again"[..])
    );
    assert_eq!(env.node.calls(), ["console vmi1", "console vmi1"]);
    Ok(())
}

#[tokio::test]
async fn console_refusals_are_plain_http_statuses() -> Result<()> {
    let env = env().await?;
    env.create_vmi("pending", "Pending", None, json!([]))
        .await?;
    let addr = serve(&env).await?;
    let err = connect_console(addr, "pending").await.unwrap_err();
    let text = format!("{err:#}");
    assert!(text.contains("400"), "{text}");
    // Without an upgrade the request is a bad request too, after validation.
    env.create_vmi("running", "Running", None, json!([]))
        .await?;
    let (code, _) = env.vmi_action("GET", "running", "console", "").await?;
    assert_eq!(code, 400);
    assert!(env.node.calls().is_empty());
    Ok(())
}

#[tokio::test]
async fn port_forward_streams_through_the_node_for_a_vmi_or_its_vm() -> Result<()> {
    let env = env().await?;
    env.create_vm("vm1", ("runStrategy", json!("Always")))
        .await?;
    let vm_uid = env.get("virtualmachines", "vm1").await?["metadata"]["uid"].clone();
    let vmi = json!({
        "apiVersion": "kubevirt.io/v1", "kind": "VirtualMachineInstance",
        "metadata": {"name": "vm1", "ownerReferences": [{
            "apiVersion": "kubevirt.io/v1", "kind": "VirtualMachine", "name": "vm1",
            "uid": vm_uid, "controller": true}]},
        "spec": {"domain": {"devices": {}}},
        "status": {"phase": "Running"},
    });
    let scope = env.scope("virtualmachineinstances");
    let controller = UserInfo::system("virt-controller");
    env.api
        .create(&scope, vmi, &WriteOptions::default(), &controller, None)
        .await?;
    let addr = serve(&env).await?;

    let mut tunnel = connect(addr, "virtualmachineinstances/vm1/portforward/22").await?;
    tunnel
        .send(Message::Binary(b"SSH-2.0".to_vec().into()))
        .await?;
    assert_eq!(
        next_data(&mut tunnel).await?.as_deref(),
        Some(&b"SSH-2.0"[..])
    );

    // The VM form needs the VM to report its VMI as created.
    let refused = connect(addr, "virtualmachines/vm1/portforward/53/udp").await;
    assert!(format!("{:#}", refused.unwrap_err()).contains("409"));
    env.set_vm_status("vm1", json!({"created": true})).await?;
    let mut tunnel = connect(addr, "virtualmachines/vm1/portforward/53/udp").await?;
    tunnel
        .send(Message::Binary(b"query".to_vec().into()))
        .await?;
    assert_eq!(
        next_data(&mut tunnel).await?.as_deref(),
        Some(&b"query"[..])
    );
    assert_eq!(
        env.node.calls(),
        ["portforward 22/tcp vm1", "portforward 53/udp vm1"]
    );
    Ok(())
}

#[tokio::test]
async fn reset_reaches_the_node_for_running_and_scheduled_vmis_only() -> Result<()> {
    let env = env().await?;
    create_running_and_paused(&env).await?;
    env.create_vmi("scheduled", "Scheduled", None, json!([]))
        .await?;
    env.create_vmi("pending", "Pending", None, json!([]))
        .await?;

    assert_eq!(
        env.vmi_action("PUT", "running", "reset", "").await?,
        (200, Value::Null)
    );
    // A paused guest is reset too (it stays paused).
    assert_eq!(env.vmi_action("PUT", "paused", "reset", "").await?.0, 200);
    assert_eq!(env.node.calls(), ["reset running", "reset paused"]);

    let (code, body) = env.vmi_action("PUT", "missing", "reset", "").await?;
    assert_eq!(
        (code, message(&body)),
        (
            404,
            "virtualmachineinstance.kubevirt.io \"missing\" not found"
        )
    );
    let (code, body) = env.vmi_action("PUT", "pending", "reset", "").await?;
    assert_eq!(
        (code, message(&body)),
        (
            400,
            "Failed to reset non-running VMI with phase Pending: Unable to connect to \
             VirtualMachineInstance because phase is Pending instead of Running or Scheduled"
        )
    );
    // Scheduled: the node is asked, and its refusal says why the reset may have failed.
    let (code, body) = env.vmi_action("PUT", "scheduled", "reset", "").await?;
    assert_eq!(
        (code, message(&body)),
        (
            500,
            "Internal error occurred: Failed to reset non-running VMI with phase Scheduled: VMI \
             is not running"
        )
    );
    assert_eq!(
        env.node.calls(),
        ["reset running", "reset paused", "reset scheduled"]
    );

    let (code, _) = env.vmi_action("GET", "running", "reset", "").await?;
    assert_eq!(code, 405);
    Ok(())
}
