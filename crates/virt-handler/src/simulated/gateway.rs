//! [`SimulatedGateway`]: what virt-api asks of the node running a VMI, answered by the
//! simulated hypervisor.

use std::sync::Arc;

use api::VirtualMachineInstance;
use api::keys::{CREATED_BY_LABEL, VIRTUAL_MACHINE_UNPAUSED_POD_CONDITION, vmi_condition};
use async_trait::async_trait;
use jiff::Timestamp;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::{Api, ListParams, Patch, PatchParams};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use virt_api::node::{Duplex, NodeError, NodeGateway};

use super::Shared;
use super::domain::Domain;
use super::pod::{GATE_REASON_NOT_PAUSED, GATE_REASON_PAUSED};
use super::vmi::{guest_os_info, paused_condition, remove_condition, set_condition};

/// The answer to VNC and screenshot requests.
pub const NO_DISPLAY: &str = "the simulated node driver has no display";
/// First line a serial console session prints.
pub const CONSOLE_BANNER: &str =
    "Simulated serial console (no guest runs behind it; input is echoed)";

/// Conflicting writes retried before giving up.
const WRITE_ATTEMPTS: usize = 5;

/// The simulated driver's side of virt-api's node operations.
#[derive(Clone)]
pub struct SimulatedGateway {
    client: kube::Client,
    shared: Arc<Shared>,
}

fn unavailable(vmi: &VirtualMachineInstance) -> NodeError {
    NodeError::Unavailable(format!(
        "VMI {}/{} does not run on a node of the simulated driver",
        vmi.metadata.namespace.as_deref().unwrap_or_default(),
        vmi.metadata.name.as_deref().unwrap_or_default()
    ))
}

fn failed(e: kube::Error) -> NodeError {
    NodeError::Failed(e.to_string())
}

impl SimulatedGateway {
    pub(crate) fn new(client: kube::Client, shared: Arc<Shared>) -> SimulatedGateway {
        SimulatedGateway { client, shared }
    }

    /// Runs `f` on the VMI's domain, which must be running.
    fn with_domain<R>(
        &self,
        vmi: &VirtualMachineInstance,
        f: impl FnOnce(&mut Domain) -> Result<R, NodeError>,
    ) -> Result<R, NodeError> {
        let node = vmi
            .status
            .as_ref()
            .and_then(|s| s.node_name.as_deref())
            .unwrap_or_default();
        if !self.shared.runs_node(node) {
            return Err(unavailable(vmi));
        }
        let uid = vmi.metadata.uid.as_deref().unwrap_or_default();
        let mut domains = self.shared.domains.lock().expect("domain lock");
        let domain = domains.get_mut(uid).ok_or_else(|| unavailable(vmi))?;
        if !domain.is_running() {
            return Err(NodeError::Failed("VMI is not running".into()));
        }
        f(domain)
    }

    async fn set_paused(
        &self,
        vmi: &VirtualMachineInstance,
        paused: bool,
    ) -> Result<(), NodeError> {
        let pod_uid = self.with_domain(vmi, |d| {
            d.set_paused(paused, Timestamp::now());
            Ok(d.pod_uid.clone())
        })?;
        self.shared.wake.notify_one();
        self.write_paused_condition(vmi, paused).await?;
        self.write_pod_gate(vmi, &pod_uid, paused).await
    }

    /// Sets or removes the VMI's Paused condition (guarded by resourceVersion, retried).
    async fn write_paused_condition(
        &self,
        vmi: &VirtualMachineInstance,
        paused: bool,
    ) -> Result<(), NodeError> {
        let ns = vmi.metadata.namespace.as_deref().unwrap_or_default();
        let name = vmi.metadata.name.as_deref().unwrap_or_default();
        let api: Api<VirtualMachineInstance> = Api::namespaced(self.client.clone(), ns);
        for _ in 0..WRITE_ATTEMPTS {
            let current = api.get(name).await.map_err(failed)?;
            if current.metadata.uid != vmi.metadata.uid {
                return Err(unavailable(vmi));
            }
            let old = current
                .status
                .as_ref()
                .and_then(|s| s.conditions.clone())
                .unwrap_or_default();
            let mut conditions = old.clone();
            if paused {
                set_condition(&mut conditions, paused_condition(Timestamp::now()));
            } else {
                remove_condition(&mut conditions, vmi_condition::PAUSED);
            }
            if conditions == old {
                return Ok(());
            }
            let body = json!({
                "metadata": {"resourceVersion": current.metadata.resource_version},
                "status": {"conditions": conditions},
            });
            match api
                .patch(name, &PatchParams::default(), &Patch::Merge(body))
                .await
            {
                Ok(_) => return Ok(()),
                Err(kube::Error::Api(e)) if e.code == 409 => continue,
                Err(e) => return Err(failed(e)),
            }
        }
        Err(NodeError::Failed(
            "the VMI kept changing; the Paused condition was not written".into(),
        ))
    }

    /// Sets the launcher pod's readiness gate condition.
    async fn write_pod_gate(
        &self,
        vmi: &VirtualMachineInstance,
        pod_uid: &str,
        paused: bool,
    ) -> Result<(), NodeError> {
        let ns = vmi.metadata.namespace.as_deref().unwrap_or_default();
        let uid = vmi.metadata.uid.as_deref().unwrap_or_default();
        let pods: Api<Pod> = Api::namespaced(self.client.clone(), ns);
        let list = pods
            .list(&ListParams::default().labels(&format!("{CREATED_BY_LABEL}={uid}")))
            .await
            .map_err(failed)?;
        let Some(pod) = list
            .items
            .into_iter()
            .find(|p| p.metadata.uid.as_deref() == Some(pod_uid))
        else {
            return Ok(());
        };
        let now =
            Time(Timestamp::from_second(Timestamp::now().as_second()).unwrap_or(Timestamp::now()));
        let (status, reason, message) = if paused {
            ("False", GATE_REASON_PAUSED, "the virtual machine is paused")
        } else {
            (
                "True",
                GATE_REASON_NOT_PAUSED,
                "the virtual machine is not paused",
            )
        };
        let condition = json!({"type": VIRTUAL_MACHINE_UNPAUSED_POD_CONDITION, "status": status, "reason": reason,
                               "message": message, "lastProbeTime": null, "lastTransitionTime": now});
        let name = pod.metadata.name.unwrap_or_default();
        let body = json!({"status": {"conditions": [condition]}});
        pods.patch_status(&name, &PatchParams::default(), &Patch::Strategic(body))
            .await
            .map(|_| ())
            .map_err(failed)
    }
}

#[async_trait]
impl NodeGateway for SimulatedGateway {
    async fn pause(&self, vmi: &VirtualMachineInstance) -> Result<(), NodeError> {
        self.set_paused(vmi, true).await
    }

    async fn unpause(&self, vmi: &VirtualMachineInstance) -> Result<(), NodeError> {
        self.set_paused(vmi, false).await
    }

    async fn soft_reboot(&self, vmi: &VirtualMachineInstance) -> Result<(), NodeError> {
        self.with_domain(vmi, |d| {
            if d.paused {
                Err(NodeError::Failed("VMI is paused".into()))
            } else {
                Ok(())
            }
        })
    }

    async fn console(&self, vmi: &VirtualMachineInstance) -> Result<Box<dyn Duplex>, NodeError> {
        self.with_domain(vmi, |_| Ok(()))?;
        let uid = vmi.metadata.uid.clone().unwrap_or_default();
        let name = vmi.metadata.name.clone().unwrap_or_default();
        let (client_end, mut guest_end) = tokio::io::duplex(64 * 1024);
        let session = tokio::spawn(async move {
            let banner = format!("{CONSOLE_BANNER}\r\n\r\n{name} login: ");
            if guest_end.write_all(banner.as_bytes()).await.is_err() {
                return;
            }
            let mut buf = [0u8; 4096];
            loop {
                let n = match guest_end.read(&mut buf).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => n,
                };
                let mut echo = Vec::with_capacity(n + 8);
                for &b in &buf[..n] {
                    match b {
                        b'\r' | b'\n' => echo.extend_from_slice(b"\r\n"),
                        b => echo.push(b),
                    }
                }
                if guest_end.write_all(&echo).await.is_err() {
                    return;
                }
            }
        });
        // One session per guest: the previous client sees EOF.
        let previous = self
            .shared
            .consoles
            .lock()
            .expect("console lock")
            .insert(uid, session.abort_handle());
        if let Some(previous) = previous {
            previous.abort();
        }
        Ok(Box::new(client_end))
    }

    async fn vnc(&self, _vmi: &VirtualMachineInstance) -> Result<Box<dyn Duplex>, NodeError> {
        Err(NodeError::Unsupported(NO_DISPLAY.into()))
    }

    async fn screenshot(&self, _vmi: &VirtualMachineInstance) -> Result<Vec<u8>, NodeError> {
        Err(NodeError::Unsupported(NO_DISPLAY.into()))
    }

    async fn guest_os_info(
        &self,
        vmi: &VirtualMachineInstance,
    ) -> Result<serde_json::Value, NodeError> {
        let agent = self.with_domain(vmi, |d| Ok(!d.injection.no_guest_agent))?;
        if !agent {
            return Err(NodeError::Failed(
                "VMI does not have guest agent connected".into(),
            ));
        }
        serde_json::to_value(guest_os_info()).map_err(|e| NodeError::Failed(e.to_string()))
    }
}
