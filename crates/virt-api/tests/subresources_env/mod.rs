//! Shared set-up of the subresource integration tests: a real in-process API (SQLite store,
//! built-in kinds and the kubevirt.io CRDs) with the plug-in, a fake node gateway that records
//! its calls and echoes streams, and websocket helpers for the HTTP router on a loopback port.

#![allow(dead_code)]

use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use anyhow::Result;
use api::{VirtualMachineInstance, VirtualMachineInstancePhase};
use apiserver::registry::{Registry, ResourceDef};
use apiserver::server::auth::Authenticator;
use apiserver::server::{Sub, WriteOptions};
use apiserver::store::sqlite::{SqliteOptions, SqliteStore};
use apiserver::{Api, GroupPlugin, Plugins, UserInfo, builtin};
use async_trait::async_trait;
use axum::body::Body;
use axum::response::IntoResponse;
use futures::StreamExt;
use http::Request;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use virt_api::node::{Duplex, NodeError, NodeGateway};
use virt_api::subresources::Subresources;

pub const NS: &str = "default";
pub const TOKEN: &str = "test-token";

/// Records node calls; its console echoes, and a new console session ends the previous one.
#[derive(Default)]
pub struct FakeNode {
    calls: Mutex<Vec<String>>,
    console_session: Mutex<Option<JoinHandle<()>>>,
}

impl FakeNode {
    pub fn record(&self, call: &str, vmi: &VirtualMachineInstance) {
        let name = vmi.metadata.name.clone().unwrap_or_default();
        self.calls.lock().unwrap().push(format!("{call} {name}"));
    }

    pub fn calls(&self) -> Vec<String> {
        self.calls.lock().unwrap().clone()
    }
}

pub async fn echo(mut end: DuplexStream) {
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
    async fn reset(&self, vmi: &VirtualMachineInstance) -> Result<(), NodeError> {
        self.record("reset", vmi);
        // As a node agent that finds no guest (yet) for the VMI.
        if vmi.status.as_ref().and_then(|s| s.phase) != Some(VirtualMachineInstancePhase::Running) {
            return Err(NodeError::Failed("VMI is not running".into()));
        }
        Ok(())
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

pub struct Env {
    pub api: Api,
    pub plugin: Arc<Subresources>,
    pub node: Arc<FakeNode>,
    _dir: tempfile::TempDir,
}

/// The built-in kinds and the kubevirt.io CRDs, built once: generating the CRD schemas is slow.
pub fn registry() -> &'static Registry {
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

pub async fn env() -> Result<Env> {
    env_with(vec![]).await
}

pub async fn env_with(admission: Vec<Arc<dyn apiserver::Admission>>) -> Result<Env> {
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

pub fn user() -> UserInfo {
    UserInfo::new("admin", &["system:masters", "system:authenticated"])
}

impl Env {
    pub fn scope(&self, plural: &str) -> apiserver::Scope {
        self.api
            .scope("kubevirt.io", "v1", plural, Some(NS))
            .unwrap()
    }

    pub async fn create_vm(&self, name: &str, spec_field: (&str, Value)) -> Result<()> {
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

    pub async fn set_vm_status(&self, name: &str, status: Value) -> Result<()> {
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

    pub async fn create_vmi(
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

    pub async fn get(&self, plural: &str, name: &str) -> Result<Value> {
        Ok(self.api.get(&self.scope(plural), name).await?)
    }

    /// Sends a request to the plug-in; returns the code and the body (JSON when it parses).
    pub async fn call(&self, method: &str, path: &str, body: &str) -> Result<(u16, Value)> {
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

    pub async fn vm_action(&self, name: &str, action: &str, body: &str) -> Result<(u16, Value)> {
        self.call(
            "PUT",
            &format!("namespaces/{NS}/virtualmachines/{name}/{action}"),
            body,
        )
        .await
    }

    pub async fn vmi_action(
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

pub fn message(body: &Value) -> &str {
    body["message"].as_str().unwrap_or_default()
}

/// Serves the whole API on a loopback port.
pub async fn serve(env: &Env) -> Result<std::net::SocketAddr> {
    let mut auth = Authenticator::new();
    auth.add(TOKEN, user());
    let router = apiserver::server::http::router(env.api.clone(), Arc::new(auth));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move { axum::serve(listener, router).await });
    Ok(addr)
}

pub type Client =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

pub async fn connect_console(addr: std::net::SocketAddr, vmi: &str) -> Result<Client> {
    connect(addr, &format!("virtualmachineinstances/{vmi}/console")).await
}

/// Opens a websocket to `path`, relative to the test namespace in the group.
pub async fn connect(addr: std::net::SocketAddr, path: &str) -> Result<Client> {
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
pub async fn next_data(client: &mut Client) -> Result<Option<Vec<u8>>> {
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
