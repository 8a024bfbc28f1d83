//! [`SimulatedGateway`]: what virt-api asks of the node running a VMI, answered by the
//! simulated hypervisor.

use std::sync::Arc;

use api::VirtualMachineInstance;
use api::keys::{CREATED_BY_LABEL, VIRTUAL_MACHINE_UNPAUSED_POD_CONDITION};
use async_trait::async_trait;
use jiff::Timestamp;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::{Api, ListParams, Patch, PatchParams};
use kube::runtime::events::{Recorder, Reporter};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use virt_api::node::{Duplex, NodeError, NodeGateway};

use super::Shared;
use super::domain::Domain;
use super::executor::REPORTING_COMPONENT;
use super::pod::{GATE_REASON_NOT_PAUSED, GATE_REASON_PAUSED};
use super::vmi::guest_os_info;
use crate::gateway::{self as common, WhenGone, failed};

/// The answer to VNC and screenshot requests.
pub const NO_DISPLAY: &str = "the simulated node driver has no display";
/// First line a serial console session prints.
pub const CONSOLE_BANNER: &str =
    "Simulated serial console (no guest runs behind it; input is echoed)";

/// Where the guests of this driver run, as errors name it.
const PLACE: &str = "a node of the simulated driver";

/// The simulated driver's side of virt-api's node operations.
#[derive(Clone)]
pub struct SimulatedGateway {
    client: kube::Client,
    shared: Arc<Shared>,
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
        let here = self.shared.runs_node(common::node_of(vmi));
        let mut domains = self.shared.domains.lock().expect("domain lock");
        let domain = domains.get_mut(common::uid_of(vmi));
        f(common::running_guest(vmi, PLACE, here, domain, |d| {
            d.is_running()
        })?)
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
        let gone = WhenGone::Fail(common::not_here(vmi, PLACE));
        common::write_paused_condition(&self.client, vmi, paused, gone).await?;
        self.write_pod_gate(vmi, &pod_uid, paused).await
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
        self.with_domain(vmi, |d| common::refuse_paused(d.paused))
    }

    /// Succeeds for a running guest, paused or not (a simulated guest has no state a reset
    /// would lose); reported as the event `Reset` by the VMI's node, as upstream.
    async fn reset(&self, vmi: &VirtualMachineInstance) -> Result<(), NodeError> {
        self.with_domain(vmi, |_| Ok(()))?;
        let reporter = Reporter {
            controller: REPORTING_COMPONENT.into(),
            instance: Some(common::node_of(vmi).to_owned()),
        };
        let recorder = Recorder::new(self.client.clone(), reporter);
        let event = common::normal_event(common::RESET_REASON, common::RESET_NOTE);
        common::report(&recorder, vmi, &event).await;
        Ok(())
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
