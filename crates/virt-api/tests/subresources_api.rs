//! The `subresources.kubevirt.io` plug-in against a real in-process API (SQLite store, the
//! kubevirt.io CRDs) and a fake node gateway: the VM spec and status patches and the codes of
//! start, stop, restart and migrate, dry runs, the node actions, and the console websocket
//! through the HTTP router on a real TCP socket.

use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use anyhow::{Context, Result};
use api::VirtualMachineInstance;
use apiserver::registry::{Registry, ResourceDef};
use apiserver::server::auth::Authenticator;
use apiserver::server::{ListOptions, Sub, WriteOptions};
use apiserver::store::sqlite::{SqliteOptions, SqliteStore};
use apiserver::{Api, GroupPlugin, Plugins, UserInfo, builtin};
use async_trait::async_trait;
use axum::body::Body;
use axum::response::IntoResponse;
use futures::{SinkExt, StreamExt};
use http::{Request, StatusCode};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use virt_api::node::{Duplex, NodeError, NodeGateway};
use virt_api::subresources::Subresources;

const NS: &str = "default";
const TOKEN: &str = "test-token";

/// Records node calls; its console echoes, and a new console session ends the previous one.
#[derive(Default)]
struct FakeNode {
    calls: Mutex<Vec<String>>,
    console_session: Mutex<Option<JoinHandle<()>>>,
}

impl FakeNode {
    fn record(&self, call: &str, vmi: &VirtualMachineInstance) {
        let name = vmi.metadata.name.clone().unwrap_or_default();
        self.calls.lock().unwrap().push(format!("{call} {name}"));
    }

    fn calls(&self) -> Vec<String> {
        self.calls.lock().unwrap().clone()
    }
}

async fn echo(mut end: DuplexStream) {
    let mut buf = [0u8; 1024];
    while let Ok(n) = end.read(&mut buf).await {
        if n == 0 || end.write_all(&buf[..n]).await.is_err() {
            break;
        }
    }
}

#[async_trait]
impl NodeGateway for FakeNode {
    async fn pause(&self, vmi: &VirtualMachineInstance) -> Result<(), NodeError> {
        self.record("pause", vmi);
        Ok(())
    }
    async fn unpause(&self, vmi: &VirtualMachineInstance) -> Result<(), NodeError> {
        self.record("unpause", vmi);
        Ok(())
    }
    async fn soft_reboot(&self, vmi: &VirtualMachineInstance) -> Result<(), NodeError> {
        self.record("softreboot", vmi);
        Err(NodeError::Unavailable("node agent unreachable".into()))
    }
    async fn console(&self, vmi: &VirtualMachineInstance) -> Result<Box<dyn Duplex>, NodeError> {
        self.record("console", vmi);
        let (ours, theirs) = tokio::io::duplex(4096);
        let session = tokio::spawn(echo(theirs));
        if let Some(previous) = self.console_session.lock().unwrap().replace(session) {
            previous.abort();
        }
        Ok(Box::new(ours))
    }
    async fn port_forward(
        &self,
        vmi: &VirtualMachineInstance,
        port: u16,
        protocol: &str,
    ) -> Result<Box<dyn Duplex>, NodeError> {
        self.record(&format!("portforward {port}/{protocol}"), vmi);
        let (ours, theirs) = tokio::io::duplex(4096);
        tokio::spawn(echo(theirs));
        Ok(Box::new(ours))
    }
    async fn vnc(&self, _vmi: &VirtualMachineInstance) -> Result<Box<dyn Duplex>, NodeError> {
        Err(NodeError::Unsupported("no display".into()))
    }
    async fn screenshot(&self, vmi: &VirtualMachineInstance) -> Result<Vec<u8>, NodeError> {
        self.record("screenshot", vmi);
        Ok(b"\x89PNG\r\n\x1a\nfake".to_vec())
    }
    async fn guest_os_info(&self, vmi: &VirtualMachineInstance) -> Result<Value, NodeError> {
        self.record("guestosinfo", vmi);
        Ok(json!({"guestAgentVersion": "5.2.0", "hostname": "guest"}))
    }
}

struct Env {
    api: Api,
    plugin: Arc<Subresources>,
    node: Arc<FakeNode>,
    _dir: tempfile::TempDir,
}

/// The built-in kinds and the kubevirt.io CRDs, built once: generating the CRD schemas is slow.
fn registry() -> &'static Registry {
    static REGISTRY: OnceLock<Registry> = OnceLock::new();
    REGISTRY.get_or_init(|| {
        let mut registry = Registry::new();
        for def in builtin::resources() {
            registry.register(def).expect("built-in kinds register");
        }
        for crd in api::crds() {
            let crd = serde_json::to_value(crd).expect("CRDs serialize");
            registry
                .register(ResourceDef::from_crd(&crd).expect("CRDs convert"))
                .expect("CRDs register");
        }
        registry
    })
}

async fn env() -> Result<Env> {
    env_with(vec![]).await
}

async fn env_with(admission: Vec<Arc<dyn apiserver::Admission>>) -> Result<Env> {
    let dir = tempfile::tempdir()?;
    // Durability is not under test here.
    let options = SqliteOptions {
        full_sync: false,
        ..Default::default()
    };
    let store = SqliteStore::open(&dir.path().join("store.db"), options)?;
    let registry = registry().clone();
    let node = Arc::new(FakeNode::default());
    let plugin = Arc::new(Subresources::new(node.clone()));
    let plugins = Plugins {
        admission,
        groups: vec![plugin.clone()],
    };
    let api = Api::new(registry, Arc::new(store), plugins);
    api.bootstrap().await?;
    Ok(Env {
        api,
        plugin,
        node,
        _dir: dir,
    })
}

fn user() -> UserInfo {
    UserInfo::new("admin", &["system:masters", "system:authenticated"])
}

impl Env {
    fn scope(&self, plural: &str) -> apiserver::Scope {
        self.api
            .scope("kubevirt.io", "v1", plural, Some(NS))
            .unwrap()
    }

    async fn create_vm(&self, name: &str, spec_field: (&str, Value)) -> Result<()> {
        let mut spec = json!({"template": {"spec": {"domain": {"devices": {}}}}});
        spec[spec_field.0] = spec_field.1;
        let vm = json!({
            "apiVersion": "kubevirt.io/v1", "kind": "VirtualMachine",
            "metadata": {"name": name}, "spec": spec,
        });
        let scope = self.scope("virtualmachines");
        self.api
            .create(&scope, vm, &WriteOptions::default(), &user(), None)
            .await?;
        Ok(())
    }

    async fn set_vm_status(&self, name: &str, status: Value) -> Result<()> {
        let scope = self.scope("virtualmachines");
        let patch = serde_json::to_vec(&json!({"status": status}))?;
        let user = UserInfo::system("virt-controller");
        self.api
            .patch(
                &scope,
                name,
                Sub::Status,
                apiserver::server::PatchType::Merge,
                &patch,
                &WriteOptions::default(),
                &user,
                None,
            )
            .await?;
        Ok(())
    }

    async fn create_vmi(
        &self,
        name: &str,
        phase: &str,
        grace: Option<i64>,
        conditions: Value,
    ) -> Result<String> {
        let mut spec = json!({"domain": {"devices": {}}});
        if let Some(g) = grace {
            spec["terminationGracePeriodSeconds"] = json!(g);
        }
        let vmi = json!({
            "apiVersion": "kubevirt.io/v1", "kind": "VirtualMachineInstance",
            "metadata": {"name": name}, "spec": spec,
            "status": {"phase": phase, "conditions": conditions},
        });
        let scope = self.scope("virtualmachineinstances");
        let created = self
            .api
            .create(
                &scope,
                vmi,
                &WriteOptions::default(),
                &UserInfo::system("virt-controller"),
                None,
            )
            .await?;
        Ok(created.object["metadata"]["uid"]
            .as_str()
            .unwrap()
            .to_owned())
    }

    async fn get(&self, plural: &str, name: &str) -> Result<Value> {
        Ok(self.api.get(&self.scope(plural), name).await?)
    }

    /// Sends a request to the plug-in; returns the code and the body (JSON when it parses).
    async fn call(&self, method: &str, path: &str, body: &str) -> Result<(u16, Value)> {
        let request = Request::builder()
            .method(method)
            .uri(format!("/apis/subresources.kubevirt.io/v1/{path}"))
            .body(Body::from(body.to_owned()))?;
        let response = match self
            .plugin
            .handle(self.api.clone(), user(), "v1", path, request)
            .await
        {
            Ok(r) => r,
            Err(e) => e.into_response(),
        };
        let code = response.status().as_u16();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await?;
        let value = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| json!(String::from_utf8_lossy(&bytes)))
        };
        Ok((code, value))
    }

    async fn vm_action(&self, name: &str, action: &str, body: &str) -> Result<(u16, Value)> {
        self.call(
            "PUT",
            &format!("namespaces/{NS}/virtualmachines/{name}/{action}"),
            body,
        )
        .await
    }

    async fn vmi_action(
        &self,
        method: &str,
        name: &str,
        action: &str,
        body: &str,
    ) -> Result<(u16, Value)> {
        self.call(
            method,
            &format!("namespaces/{NS}/virtualmachineinstances/{name}/{action}"),
            body,
        )
        .await
    }
}

fn message(body: &Value) -> &str {
    body["message"].as_str().unwrap_or_default()
}

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
async fn pause_and_unpause_reach_the_node_after_validation() -> Result<()> {
    let env = env().await?;
    env.create_vmi("running", "Running", None, json!([]))
        .await?;
    env.create_vmi(
        "paused",
        "Running",
        None,
        json!([{"type": "Paused", "status": "True"}]),
    )
    .await?;
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

/// Serves the whole API on a loopback port.
async fn serve(env: &Env) -> Result<std::net::SocketAddr> {
    let mut auth = Authenticator::new();
    auth.add(TOKEN, user());
    let router = apiserver::server::http::router(env.api.clone(), Arc::new(auth));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move { axum::serve(listener, router).await });
    Ok(addr)
}

type Client =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn connect_console(addr: std::net::SocketAddr, vmi: &str) -> Result<Client> {
    connect(addr, &format!("virtualmachineinstances/{vmi}/console")).await
}

/// Opens a websocket to `path`, relative to the test namespace in the group.
async fn connect(addr: std::net::SocketAddr, path: &str) -> Result<Client> {
    let url = format!("ws://{addr}/apis/subresources.kubevirt.io/v1/namespaces/{NS}/{path}");
    let mut request = url.into_client_request()?;
    request
        .headers_mut()
        .insert("Sec-WebSocket-Protocol", "plain.kubevirt.io".parse()?);
    request
        .headers_mut()
        .insert("Authorization", format!("Bearer {TOKEN}").parse()?);
    let (client, response) = tokio_tungstenite::connect_async(request).await?;
    assert_eq!(
        response.headers()["sec-websocket-protocol"],
        "plain.kubevirt.io"
    );
    Ok(client)
}

/// The next binary payload, skipping pings.
async fn next_data(client: &mut Client) -> Result<Option<Vec<u8>>> {
    loop {
        let message = tokio::time::timeout(Duration::from_secs(5), client.next()).await?;
        match message {
            Some(Ok(Message::Binary(data))) => return Ok(Some(data.to_vec())),
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
            Some(Ok(Message::Close(_))) | None => return Ok(None),
            Some(Ok(other)) => anyhow::bail!("unexpected message {other:?}"),
            Some(Err(_)) => return Ok(None),
        }
    }
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
