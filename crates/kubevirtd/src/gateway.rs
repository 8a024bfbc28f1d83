//! A node gateway bound after start-up: the subresources plug-in is built before the router,
//! but node drivers need an in-process client, which needs the router.

use std::sync::{Arc, OnceLock};

use api::VirtualMachineInstance;
use async_trait::async_trait;
use virt_api::node::{Duplex, NodeError, NodeGateway};

/// Forwards to the gateway set with [`LateGateway::set`]; before that (or with no node
/// driver) every call answers that no node agent is available.
#[derive(Default)]
pub struct LateGateway {
    inner: OnceLock<Arc<dyn NodeGateway>>,
}

impl LateGateway {
    pub fn set(&self, gateway: Arc<dyn NodeGateway>) {
        let _ = self.inner.set(gateway);
    }

    fn get(&self) -> Result<&Arc<dyn NodeGateway>, NodeError> {
        self.inner.get().ok_or_else(|| {
            NodeError::Unavailable(
                "no node agent runs on this server (started with --node-driver=none)".into(),
            )
        })
    }
}

#[async_trait]
impl NodeGateway for LateGateway {
    async fn pause(&self, vmi: &VirtualMachineInstance) -> Result<(), NodeError> {
        self.get()?.pause(vmi).await
    }
    async fn unpause(&self, vmi: &VirtualMachineInstance) -> Result<(), NodeError> {
        self.get()?.unpause(vmi).await
    }
    async fn soft_reboot(&self, vmi: &VirtualMachineInstance) -> Result<(), NodeError> {
        self.get()?.soft_reboot(vmi).await
    }
    async fn reset(&self, vmi: &VirtualMachineInstance) -> Result<(), NodeError> {
        self.get()?.reset(vmi).await
    }
    async fn console(&self, vmi: &VirtualMachineInstance) -> Result<Box<dyn Duplex>, NodeError> {
        self.get()?.console(vmi).await
    }
    async fn vnc(&self, vmi: &VirtualMachineInstance) -> Result<Box<dyn Duplex>, NodeError> {
        self.get()?.vnc(vmi).await
    }
    async fn screenshot(&self, vmi: &VirtualMachineInstance) -> Result<Vec<u8>, NodeError> {
        self.get()?.screenshot(vmi).await
    }
    async fn guest_os_info(
        &self,
        vmi: &VirtualMachineInstance,
    ) -> Result<serde_json::Value, NodeError> {
        self.get()?.guest_os_info(vmi).await
    }
    async fn user_list(
        &self,
        vmi: &VirtualMachineInstance,
    ) -> Result<serde_json::Value, NodeError> {
        self.get()?.user_list(vmi).await
    }
    async fn filesystem_list(
        &self,
        vmi: &VirtualMachineInstance,
    ) -> Result<serde_json::Value, NodeError> {
        self.get()?.filesystem_list(vmi).await
    }
    async fn port_forward(
        &self,
        vmi: &VirtualMachineInstance,
        port: u16,
        protocol: &str,
    ) -> Result<Box<dyn Duplex>, NodeError> {
        self.get()?.port_forward(vmi, port, protocol).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn calls_before_binding_say_no_node_agent_runs() {
        let g = LateGateway::default();
        let vmi: VirtualMachineInstance = serde_json::from_value(serde_json::json!({
            "apiVersion": "kubevirt.io/v1", "kind": "VirtualMachineInstance",
            "metadata": {"name": "v"}, "spec": {"domain": {"devices": {}}}
        }))
        .unwrap();
        let err = g.pause(&vmi).await.unwrap_err();
        assert!(
            matches!(err, NodeError::Unavailable(ref m) if m.contains("no node agent")),
            "{err:?}"
        );
    }
}
