//! A real API server for node-agent tests (built-in kinds and the KubeVirt CRDs on SQLite in a
//! temporary directory, plain HTTP on 127.0.0.1, token authentication), kube-rs clients for an
//! administrator and for virt-handler, and helpers that play virt-controller's part of a VMI
//! start: create the VMI and its launcher pod, and move the VMI to Scheduled once the pod runs.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Result, bail};
use api::VirtualMachineInstance;
use apiserver::registry::{Registry, ResourceDef};
use apiserver::server::auth::Authenticator;
use apiserver::server::{http, serve};
use apiserver::store::sqlite::{SqliteOptions, SqliteStore};
use apiserver::{Api, Plugins, UserInfo};
use k8s_openapi::api::core::v1::{Event as CoreEvent, Pod};
use kube::api::{ListParams, Patch, PatchParams, PostParams};
use serde_json::{Value, json};
use tempfile::TempDir;
use tokio::task::JoinHandle;
use virt_handler::simulated::{SimulatedGateway, SimulatedOptions, Simulator};

pub const NS: &str = "default";
pub const ADMIN_TOKEN: &str = "admin-token";
pub const HANDLER_TOKEN: &str = "virt-handler-token";

pub struct Cluster {
    pub api: Api,
    pub addr: SocketAddr,
    pub admin: kube::Client,
    pub handler: kube::Client,
    tasks: Vec<JoinHandle<()>>,
    _dir: TempDir,
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

fn registry() -> Result<Registry> {
    let mut reg = Registry::new();
    for def in apiserver::builtin::resources() {
        reg.register(def)?;
    }
    for crd in api::crds() {
        reg.register(ResourceDef::from_crd(&serde_json::to_value(&crd)?)?)?;
    }
    Ok(reg)
}

fn client(addr: SocketAddr, token: &str) -> Result<kube::Client> {
    // kube's TLS stack wants a process-wide rustls provider even for plain HTTP.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut config = kube::Config::new(format!("http://{addr}").parse()?);
    config.default_namespace = NS.into();
    config.auth_info.token = Some(token.to_string().into());
    Ok(kube::Client::try_from(config)?)
}

/// Options that keep tests fast.
pub fn fast_options() -> SimulatedOptions {
    SimulatedOptions {
        boot_delay: Duration::from_millis(300),
        shutdown_delay: Duration::from_millis(300),
        image_pull_backoff: Duration::from_secs(1),
        heartbeat_interval: Duration::from_secs(1),
        ..Default::default()
    }
}

impl Cluster {
    pub async fn start() -> Result<Cluster> {
        let dir = tempfile::tempdir()?;
        let store = SqliteStore::open(&dir.path().join("store.db"), SqliteOptions::default())?;
        let api = Api::new(registry()?, Arc::new(store), Plugins::default());
        api.bootstrap().await?;
        let mut auth = Authenticator::new();
        auth.add(
            ADMIN_TOKEN,
            UserInfo::new("admin", &["system:masters", "system:authenticated"]),
        );
        auth.add(HANDLER_TOKEN, UserInfo::system("virt-handler"));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let router = http::router(api.clone(), Arc::new(auth));
        let tasks = vec![tokio::spawn(serve::serve_plain(listener, router))];
        Ok(Cluster {
            admin: client(addr, ADMIN_TOKEN)?,
            handler: client(addr, HANDLER_TOKEN)?,
            api,
            addr,
            tasks,
            _dir: dir,
        })
    }

    /// Starts the simulated driver as virt-handler; returns its gateway.
    pub fn simulate(&mut self, options: SimulatedOptions) -> SimulatedGateway {
        let sim = Simulator::new(self.handler.clone(), options);
        let gateway = sim.gateway();
        self.tasks.push(tokio::spawn(async move {
            if let Err(e) = sim.run().await {
                panic!("simulated driver stopped: {e}");
            }
        }));
        gateway
    }

    pub fn pods(&self) -> kube::Api<Pod> {
        kube::Api::namespaced(self.admin.clone(), NS)
    }

    pub fn vmis(&self) -> kube::Api<VirtualMachineInstance> {
        kube::Api::namespaced(self.admin.clone(), NS)
    }

    /// Events about `name` (core/v1 view): (type, reason, message, reporting component).
    pub async fn events(&self, name: &str) -> Vec<(String, String, String, String)> {
        let events: kube::Api<CoreEvent> = kube::Api::namespaced(self.admin.clone(), NS);
        let Ok(list) = events.list(&ListParams::default()).await else {
            return vec![];
        };
        let mut items: Vec<CoreEvent> = list
            .items
            .into_iter()
            .filter(|e| e.involved_object.name.as_deref() == Some(name))
            .collect();
        items.sort_by_key(|e| {
            e.event_time
                .as_ref()
                .map(|t| t.0)
                .or(e.first_timestamp.as_ref().map(|t| t.0))
        });
        items
            .into_iter()
            .map(|e| {
                let component = e
                    .source
                    .and_then(|s| s.component)
                    .or(e.reporting_component)
                    .unwrap_or_default();
                (
                    e.type_.unwrap_or_default(),
                    e.reason.unwrap_or_default(),
                    e.message.unwrap_or_default(),
                    component,
                )
            })
            .collect()
    }

    /// Waits for an event with `reason` on `name`; returns (type, message).
    pub async fn wait_event(&self, name: &str, reason: &str) -> Result<(String, String)> {
        eventually(
            Duration::from_secs(20),
            &format!("event {reason} on {name}"),
            || async {
                self.events(name)
                    .await
                    .into_iter()
                    .find(|e| e.1 == reason)
                    .map(|e| (e.0, e.2))
            },
        )
        .await
    }

    /// Creates a VMI (with the VMI finalizer, as admission would add it) and, as virt-controller
    /// does, its launcher pod; moves the VMI to Scheduling. Returns the VMI.
    pub async fn create_vmi(
        &self,
        name: &str,
        annotations: &[(&str, &str)],
        spec: Value,
    ) -> Result<VirtualMachineInstance> {
        let annotations: BTreeMap<String, String> = annotations
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let mut spec_value = json!({
            "domain": {"devices": {}, "resources": {"requests": {"memory": "128Mi"}}},
        });
        merge(&mut spec_value, spec);
        let vmi: VirtualMachineInstance = serde_json::from_value(json!({
            "apiVersion": "kubevirt.io/v1", "kind": "VirtualMachineInstance",
            "metadata": {"name": name, "namespace": NS, "annotations": annotations,
                         "finalizers": ["kubevirt.io/foregroundDeleteVirtualMachine"]},
            "spec": spec_value,
        }))?;
        let vmi = self.vmis().create(&PostParams::default(), &vmi).await?;
        let uid = vmi.metadata.uid.clone().unwrap_or_default();
        let grace = vmi.spec.termination_grace_period_seconds.unwrap_or(30) + 30;
        let pod: Pod = serde_json::from_value(json!({
            "metadata": {
                "generateName": format!("virt-launcher-{name}-"),
                "namespace": NS,
                "labels": {"kubevirt.io": "virt-launcher", "kubevirt.io/created-by": uid, "vmi.kubevirt.io/id": name},
                "ownerReferences": [{"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachineInstance", "name": name,
                                     "uid": uid, "controller": true, "blockOwnerDeletion": true}],
            },
            "spec": {
                "restartPolicy": "Never",
                "terminationGracePeriodSeconds": grace,
                "readinessGates": [{"conditionType": "kubevirt.io/virtual-machine-unpaused"}],
                "containers": [{"name": "compute", "image": "quay.io/kubevirt/virt-launcher:v1.6.0",
                                "resources": {"requests": {"cpu": "100m", "memory": "400Mi"},
                                              "limits": {"devices.kubevirt.io/kvm": "1"}}}],
            },
        }))?;
        self.pods().create(&PostParams::default(), &pod).await?;
        self.set_vmi_status(name, json!({"phase": "Scheduling"}))
            .await?;
        Ok(self.vmis().get(name).await?)
    }

    pub async fn set_vmi_status(&self, name: &str, status: Value) -> Result<()> {
        self.vmis()
            .patch(
                name,
                &PatchParams::default(),
                &Patch::Merge(json!({"status": status})),
            )
            .await?;
        Ok(())
    }

    /// The launcher pod of the VMI named `name` (by `kubevirt.io/created-by`).
    pub async fn launcher(&self, name: &str) -> Option<Pod> {
        let vmi = self.vmis().get_opt(name).await.ok()??;
        let uid = vmi.metadata.uid?;
        let list = self
            .pods()
            .list(&ListParams::default().labels(&format!("kubevirt.io/created-by={uid}")))
            .await
            .ok()?;
        list.items.into_iter().next()
    }

    /// Waits until the launcher pod runs (virt-controller's "pod ready" test), then moves the VMI
    /// to Scheduled on the pod's node, as virt-controller does.
    pub async fn schedule_vmi(&self, name: &str) -> Result<Pod> {
        let pod = eventually(
            Duration::from_secs(20),
            &format!("launcher pod of {name} running"),
            || async {
                let pod = self.launcher(name).await?;
                let status = pod.status.as_ref()?;
                let compute_running = status.container_statuses.iter().flatten().any(|c| {
                    c.name == "compute" && c.state.as_ref().is_some_and(|s| s.running.is_some())
                });
                (status.phase.as_deref() == Some("Running") && compute_running).then_some(pod)
            },
        )
        .await?;
        let node = pod
            .spec
            .as_ref()
            .and_then(|s| s.node_name.clone())
            .unwrap_or_default();
        self.vmis()
            .patch(
                name,
                &PatchParams::default(),
                &Patch::Merge(
                    json!({"metadata": {"labels": {"kubevirt.io/nodeName": node}},
                                     "status": {"phase": "Scheduled", "nodeName": node}}),
                ),
            )
            .await?;
        Ok(pod)
    }

    /// Waits for the VMI phase.
    pub async fn wait_phase(&self, name: &str, phase: &str) -> Result<VirtualMachineInstance> {
        eventually(
            Duration::from_secs(20),
            &format!("{name} {phase}"),
            || async {
                let vmi = self.vmis().get(name).await.ok()?;
                (vmi.phase().as_str() == phase).then_some(vmi)
            },
        )
        .await
    }

    /// Starts a VMI up to Running.
    pub async fn run_vmi(
        &self,
        name: &str,
        annotations: &[(&str, &str)],
        spec: Value,
    ) -> Result<VirtualMachineInstance> {
        self.create_vmi(name, annotations, spec).await?;
        self.schedule_vmi(name).await?;
        self.wait_phase(name, "Running").await
    }

    /// What virt-controller does once a final VMI has no pods left: drop its finalizer.
    pub async fn release_vmi(&self, name: &str) -> Result<()> {
        self.vmis()
            .patch(
                name,
                &PatchParams::default(),
                &Patch::Merge(json!({"metadata": {"finalizers": null}})),
            )
            .await?;
        Ok(())
    }
}

pub fn merge(base: &mut Value, patch: Value) {
    match (base, patch) {
        (Value::Object(b), Value::Object(p)) => {
            for (k, v) in p {
                merge(b.entry(k).or_insert(Value::Null), v);
            }
        }
        (b, p) => *b = p,
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

/// The condition of `type_` on a pod: (status, reason).
pub fn pod_condition(pod: &Pod, type_: &str) -> Option<(String, Option<String>)> {
    pod.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == type_)
        .map(|c| (c.status.clone(), c.reason.clone()))
}

/// The condition of `type_` on a VMI: (status, reason).
pub fn vmi_condition(
    vmi: &VirtualMachineInstance,
    type_: &str,
) -> Option<(String, Option<String>)> {
    vmi.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == type_)
        .map(|c| (c.status.clone(), c.reason.clone()))
}
