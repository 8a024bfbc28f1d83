//! [`QemuGateway`]: what virt-api asks of the node running a VMI, answered by the guest's
//! launcher.

use std::sync::Arc;

use api::VirtualMachineInstance;
use async_trait::async_trait;
use virt_api::node::{Duplex, NodeError, NodeGateway};

use super::domain::{DomainStatus, Observed, PauseReason};
use super::driver::Shared;
use super::guest::Guest;
use super::{NO_GUEST_AGENT, launcher};
use crate::gateway::{self as common, WhenGone, failed};

/// Longest wait for the loopback connection of a port forward.
const CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);
/// Where the guests of this driver run, as errors name it.
const PLACE: &str = "this node";

/// The QEMU driver's side of virt-api's node operations.
#[derive(Clone)]
pub struct QemuGateway {
    shared: Arc<Shared>,
}

impl QemuGateway {
    pub(crate) fn new(shared: Arc<Shared>) -> QemuGateway {
        QemuGateway { shared }
    }

    /// The VMI's guest, which must be running here (paused or not).
    fn running_guest(&self, vmi: &VirtualMachineInstance) -> Result<Guest, NodeError> {
        let here = common::node_of(vmi) == self.shared.node.name;
        let guest = self.shared.guest(common::uid_of(vmi));
        common::running_guest(
            vmi,
            PLACE,
            here,
            guest,
            |g| matches!(g.observed, Observed::Domain(d) if d.is_alive()),
        )
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
        common::write_paused_condition(&self.shared.client, vmi, paused, WhenGone::Skip).await
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
        common::refuse_paused(g.observed.domain().is_some_and(DomainStatus::is_paused))?;
        launcher::reboot(g.run_dir).await.map_err(failed)
    }

    /// A hard reset through the launcher (QMP `system_reset`); a paused guest stays paused.
    /// Reported as the event `Reset`.
    async fn reset(&self, vmi: &VirtualMachineInstance) -> Result<(), NodeError> {
        let g = self.running_guest(vmi)?;
        launcher::reset(g.run_dir).await.map_err(failed)?;
        let event = common::normal_event(common::RESET_REASON, common::RESET_NOTE);
        common::report(&self.shared.recorder, vmi, &event).await;
        Ok(())
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
