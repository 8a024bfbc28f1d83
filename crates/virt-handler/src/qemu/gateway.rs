//! [`QemuGateway`]: what virt-api asks of the node running a VMI, answered by the guest's
//! launcher.

use std::sync::Arc;

use api::VirtualMachineInstance;
use api::keys::vmi_condition;
use async_trait::async_trait;
use jiff::Timestamp;
use kube::api::{Api, Patch, PatchParams};
use serde_json::json;
use virt_api::node::{Duplex, NodeError, NodeGateway};

use super::domain::{DomainStatus, Observed, PauseReason};
use super::driver::Shared;
use super::guest::Guest;
use super::{NO_GUEST_AGENT, launcher};
use crate::simulated::vmi::{paused_condition, remove_condition, set_condition};

/// Conflicting writes retried before giving up.
const WRITE_ATTEMPTS: usize = 5;
/// Longest wait for the loopback connection of a port forward.
const CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// The QEMU driver's side of virt-api's node operations.
#[derive(Clone)]
pub struct QemuGateway {
    shared: Arc<Shared>,
}

fn unavailable(vmi: &VirtualMachineInstance) -> NodeError {
    NodeError::Unavailable(format!(
        "VMI {}/{} does not run on this node",
        vmi.metadata.namespace.as_deref().unwrap_or_default(),
        vmi.metadata.name.as_deref().unwrap_or_default()
    ))
}

fn failed(e: impl std::fmt::Display) -> NodeError {
    NodeError::Failed(e.to_string())
}

impl QemuGateway {
    pub(crate) fn new(shared: Arc<Shared>) -> QemuGateway {
        QemuGateway { shared }
    }

    /// The VMI's guest, which must be running here (paused or not).
    fn running_guest(&self, vmi: &VirtualMachineInstance) -> Result<Guest, NodeError> {
        let node = vmi.status.as_ref().and_then(|s| s.node_name.as_deref());
        if node != Some(self.shared.node.name.as_str()) {
            return Err(unavailable(vmi));
        }
        let uid = vmi.metadata.uid.as_deref().unwrap_or_default();
        let g = self.shared.guest(uid).ok_or_else(|| unavailable(vmi))?;
        match g.observed {
            Observed::Domain(d) if d.is_alive() => Ok(g),
            _ => Err(NodeError::Failed("VMI is not running".into())),
        }
    }

    async fn set_paused(
        &self,
        vmi: &VirtualMachineInstance,
        paused: bool,
    ) -> Result<(), NodeError> {
        let g = self.running_guest(vmi)?;
        let result = if paused {
            launcher::pause(g.run_dir.clone()).await
        } else {
            launcher::unpause(g.run_dir.clone()).await
        };
        result.map_err(failed)?;
        let status = if paused {
            DomainStatus::Paused(PauseReason::User)
        } else {
            DomainStatus::Running
        };
        self.shared.update(&g.vmi.uid, |g| {
            g.control_epoch += 1;
            if g.domain_alive() {
                g.observed = Observed::Domain(status);
            }
        });
        self.shared.wake.notify_one();
        // Written here too (the driver loop would do it on its next pass) so the condition is
        // there when virt-api answers.
        self.write_paused_condition(vmi, paused).await
    }

    /// Sets or removes the VMI's Paused condition (guarded by resourceVersion, retried).
    async fn write_paused_condition(
        &self,
        vmi: &VirtualMachineInstance,
        paused: bool,
    ) -> Result<(), NodeError> {
        let ns = vmi.metadata.namespace.as_deref().unwrap_or_default();
        let name = vmi.metadata.name.as_deref().unwrap_or_default();
        let api: Api<VirtualMachineInstance> = Api::namespaced(self.shared.client.clone(), ns);
        for _ in 0..WRITE_ATTEMPTS {
            let current = api.get(name).await.map_err(failed)?;
            if current.metadata.uid != vmi.metadata.uid || current.is_final() {
                return Ok(());
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
}

#[async_trait]
impl NodeGateway for QemuGateway {
    async fn pause(&self, vmi: &VirtualMachineInstance) -> Result<(), NodeError> {
        self.set_paused(vmi, true).await
    }

    async fn unpause(&self, vmi: &VirtualMachineInstance) -> Result<(), NodeError> {
        self.set_paused(vmi, false).await
    }

    async fn soft_reboot(&self, vmi: &VirtualMachineInstance) -> Result<(), NodeError> {
        let g = self.running_guest(vmi)?;
        if g.observed.domain().is_some_and(DomainStatus::is_paused) {
            return Err(NodeError::Failed("VMI is paused".into()));
        }
        launcher::reboot(g.run_dir).await.map_err(failed)
    }

    async fn console(&self, vmi: &VirtualMachineInstance) -> Result<Box<dyn Duplex>, NodeError> {
        let g = self.running_guest(vmi)?;
        let stream = launcher::console(g.run_dir).await.map_err(failed)?;
        Ok(Box::new(stream))
    }

    async fn vnc(&self, vmi: &VirtualMachineInstance) -> Result<Box<dyn Duplex>, NodeError> {
        let g = self.running_guest(vmi)?;
        let stream = launcher::vnc(g.run_dir).await.map_err(failed)?;
        Ok(Box::new(stream))
    }

    async fn screenshot(&self, vmi: &VirtualMachineInstance) -> Result<Vec<u8>, NodeError> {
        let g = self.running_guest(vmi)?;
        launcher::screenshot(g.run_dir).await.map_err(failed)
    }

    /// TCP only: a connection to a loopback port that the guest's launcher forwards to `port`
    /// through the user-mode network of the first pod-network interface. The forward is kept
    /// until the guest stops.
    async fn port_forward(
        &self,
        vmi: &VirtualMachineInstance,
        port: u16,
        protocol: &str,
    ) -> Result<Box<dyn Duplex>, NodeError> {
        if !protocol.eq_ignore_ascii_case("tcp") {
            return Err(NodeError::Unsupported(format!(
                "port-forward over {protocol} is not supported by this node driver: only tcp is"
            )));
        }
        let g = self.running_guest(vmi)?;
        if virt_launcher::qemu::pod_netdev_id(vmi).is_none() {
            return Err(NodeError::Failed(
                "VMI has no pod network interface: port-forward needs one".into(),
            ));
        }
        let addr = launcher::forward_port(g.run_dir, port)
            .await
            .map_err(failed)?;
        let connect = tokio::net::TcpStream::connect(addr);
        let stream = tokio::time::timeout(CONNECT_TIMEOUT, connect)
            .await
            .map_err(|_| NodeError::Failed(format!("connecting to guest port {port} timed out")))?
            .map_err(|e| NodeError::Failed(format!("cannot connect to guest port {port}: {e}")))?;
        Ok(Box::new(stream))
    }

    async fn guest_os_info(
        &self,
        vmi: &VirtualMachineInstance,
    ) -> Result<serde_json::Value, NodeError> {
        self.running_guest(vmi)?;
        Err(NodeError::Unavailable(NO_GUEST_AGENT.into()))
    }
}
