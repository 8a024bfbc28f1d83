//! A real API server for controller integration tests: the built-in kinds and the KubeVirt CRDs
//! (plus any extra CRDs) on an embedded SQLite store in a temporary directory, served over plain
//! HTTP on 127.0.0.1 with token authentication, the garbage collector running, and kube-rs
//! clients for an administrator and for the KubeVirt components.
//!
//! ```ignore
//! let cluster = TestCluster::start().await?;
//! let task = tokio::spawn(virt_controller::vm::run(cluster.controller.clone(), Default::default()));
//! ```
#![allow(dead_code)]

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use apiserver::registry::{Registry, ResourceDef};
use apiserver::server::auth::Authenticator;
use apiserver::server::{gc, http, serve};
use apiserver::store::sqlite::{SqliteOptions, SqliteStore};
use apiserver::{Api, Plugins, UserInfo};
use k8s_openapi::api::core::v1::Event as CoreEvent;
use kube::api::{ListParams, Patch, PatchParams};
use serde_json::{Value, json};
use tempfile::TempDir;
use tokio::task::JoinHandle;

/// Token of the administrator client.
pub const ADMIN_TOKEN: &str = "admin-token";

/// Components with a client (`system:serviceaccount:kubevirt:<name>`).
pub const COMPONENTS: &[&str] = &["virt-controller", "virt-handler", "virt-api"];

pub struct TestCluster {
    /// The in-process API (for direct reads and writes that bypass HTTP).
    pub api: Api,
    pub addr: SocketAddr,
    /// Client of a cluster administrator.
    pub admin: kube::Client,
    /// Client with the identity of virt-controller.
    pub controller: kube::Client,
    tasks: Vec<JoinHandle<()>>,
    _dir: TempDir,
}

impl Drop for TestCluster {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

/// A CustomResourceDefinition of CDI's DataVolume (`cdi.kubevirt.io/v1beta1`, schema-less, with
/// a status subresource), for tests that need DataVolumes to exist. Ignored when the API crate
/// already registers DataVolumes.
pub fn data_volume_crd() -> Value {
    json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "datavolumes.cdi.kubevirt.io"},
        "spec": {
            "group": "cdi.kubevirt.io",
            "names": {"kind": "DataVolume", "plural": "datavolumes", "singular": "datavolume",
                      "listKind": "DataVolumeList", "shortNames": ["dv", "dvs"]},
            "scope": "Namespaced",
            "versions": [{
                "name": "v1beta1", "served": true, "storage": true,
                "subresources": {"status": {}},
                "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}}
            }]
        }
    })
}

fn registry(extra_crds: &[Value]) -> Result<Registry> {
    let mut reg = Registry::new();
    for def in apiserver::builtin::resources() {
        reg.register(def)?;
    }
    for crd in api::crds() {
        reg.register(ResourceDef::from_crd(&serde_json::to_value(&crd)?)?)?;
    }
    for crd in extra_crds {
        let def = ResourceDef::from_crd(crd)?;
        // The API crate may already define it (e.g. DataVolume).
        if reg.get(&def.group, &def.plural).is_none() {
            reg.register(def)?;
        }
    }
    Ok(reg)
}

fn client(addr: SocketAddr, token: &str) -> Result<kube::Client> {
    // kube's TLS stack needs a process-wide rustls provider even for plain HTTP.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut config = kube::Config::new(format!("http://{addr}").parse()?);
    config.default_namespace = "default".into();
    config.auth_info.token = Some(token.to_string().into());
    Ok(kube::Client::try_from(config)?)
}

impl TestCluster {
    pub async fn start() -> Result<Self> {
        Self::start_with_crds(&[]).await
    }

    /// Starts a cluster that also serves the given CRDs (JSON CustomResourceDefinitions).
    pub async fn start_with_crds(extra_crds: &[Value]) -> Result<Self> {
        let dir = tempfile::tempdir()?;
        let store = SqliteStore::open(&dir.path().join("store.db"), SqliteOptions::default())?;
        let api = Api::new(registry(extra_crds)?, Arc::new(store), Plugins::default());
        api.bootstrap().await?;
        let mut auth = Authenticator::new();
        auth.add(
            ADMIN_TOKEN,
            UserInfo::new("admin", &["system:masters", "system:authenticated"]),
        );
        for c in COMPONENTS {
            auth.add(&format!("{c}-token"), UserInfo::system(c));
        }
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let router = http::router(api.clone(), Arc::new(auth));
        let tasks = vec![
            tokio::spawn(serve::serve_plain(listener, router)),
            tokio::spawn(gc::run(api.clone())),
        ];
        Ok(TestCluster {
            admin: client(addr, ADMIN_TOKEN)?,
            controller: client(addr, "virt-controller-token")?,
            api,
            addr,
            tasks,
            _dir: dir,
        })
    }

    /// A client with the identity of a KubeVirt component from [`COMPONENTS`].
    pub fn component(&self, name: &str) -> Result<kube::Client> {
        if !COMPONENTS.contains(&name) {
            bail!("no token for component {name}");
        }
        client(self.addr, &format!("{name}-token"))
    }

    /// Events recorded for the object `name` in `namespace` (core/v1 view).
    pub async fn events_for(&self, namespace: &str, name: &str) -> Result<Vec<CoreEvent>> {
        let events: kube::Api<CoreEvent> = kube::Api::namespaced(self.admin.clone(), namespace);
        Ok(events
            .list(&ListParams::default())
            .await?
            .items
            .into_iter()
            .filter(|e| e.involved_object.name.as_deref() == Some(name))
            .collect())
    }

    /// Waits until an event with `reason` is recorded for `name`, returning its message.
    pub async fn wait_for_event(
        &self,
        namespace: &str,
        name: &str,
        reason: &str,
    ) -> Result<String> {
        eventually(
            Duration::from_secs(20),
            &format!("event {reason} on {name}"),
            || async {
                self.events_for(namespace, name)
                    .await
                    .ok()?
                    .into_iter()
                    .find(|e| e.reason.as_deref() == Some(reason))
                    .map(|e| e.message.unwrap_or_default())
            },
        )
        .await
    }
}

/// Polls `probe` every 50 ms until it returns `Some`, failing after `timeout`.
pub async fn eventually<T, F, Fut>(timeout: Duration, what: &str, mut probe: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if let Some(v) = probe().await {
            return Ok(v);
        }
        if tokio::time::Instant::now() >= deadline {
            bail!("timed out after {timeout:?} waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Sets fields of a VMI's status (VMIs have no status subresource: this is a merge patch on the
/// main resource, as the node agent writes it).
pub async fn patch_vmi_status(
    client: &kube::Client,
    namespace: &str,
    name: &str,
    status: Value,
) -> Result<()> {
    let vmis: kube::Api<api::VirtualMachineInstance> =
        kube::Api::namespaced(client.clone(), namespace);
    vmis.patch(
        name,
        &PatchParams::default(),
        &Patch::Merge(json!({"status": status})),
    )
    .await
    .with_context(|| format!("patching the status of VMI {namespace}/{name}"))?;
    Ok(())
}

/// Moves a VMI to `phase`, recording the phase transition (and Ready=True for Running).
pub async fn set_vmi_phase(
    client: &kube::Client,
    namespace: &str,
    name: &str,
    phase: &str,
) -> Result<()> {
    let vmis: kube::Api<api::VirtualMachineInstance> =
        kube::Api::namespaced(client.clone(), namespace);
    let current = vmis.get(name).await?;
    let mut transitions = current
        .status
        .as_ref()
        .and_then(|s| s.phase_transition_timestamps.clone())
        .map(|t| serde_json::to_value(t).unwrap_or_default())
        .and_then(|v| v.as_array().cloned())
        .unwrap_or_default();
    let now = k8s_openapi::jiff::Timestamp::now().to_string();
    transitions.push(json!({"phase": phase, "phaseTransitionTimestamp": now}));
    let ready = if phase == "Running" { "True" } else { "False" };
    patch_vmi_status(
        client,
        namespace,
        name,
        json!({
            "phase": phase,
            "phaseTransitionTimestamps": transitions,
            "conditions": [{"type": "Ready", "status": ready, "lastProbeTime": null, "lastTransitionTime": now}],
        }),
    )
    .await
}
