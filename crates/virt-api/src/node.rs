//! How virt-api reaches the node agent running a VMI (upstream: virt-handler's REST API).
//! The simulated and the QEMU node drivers implement [`NodeGateway`].

use async_trait::async_trait;
use api::VirtualMachineInstance;
use tokio::io::{AsyncRead, AsyncWrite};

/// A bidirectional byte stream (serial console, VNC).
pub trait Duplex: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Duplex for T {}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NodeError {
    /// The node driver does not offer this operation (e.g. VNC on the simulated driver).
    #[error("{0}")]
    Unsupported(String),
    /// No node agent runs the VMI, or it cannot be reached.
    #[error("{0}")]
    Unavailable(String),
    /// The operation was attempted and failed.
    #[error("{0}")]
    Failed(String),
}

/// Operations that need the node where a VMI runs.
#[async_trait]
pub trait NodeGateway: Send + Sync {
    async fn pause(&self, vmi: &VirtualMachineInstance) -> Result<(), NodeError>;
    async fn unpause(&self, vmi: &VirtualMachineInstance) -> Result<(), NodeError>;
    async fn soft_reboot(&self, vmi: &VirtualMachineInstance) -> Result<(), NodeError>;
    /// The guest's serial console. A new connection evicts the previous one (it sees EOF).
    async fn console(&self, vmi: &VirtualMachineInstance) -> Result<Box<dyn Duplex>, NodeError>;
    /// The guest's VNC server (RFB protocol).
    async fn vnc(&self, vmi: &VirtualMachineInstance) -> Result<Box<dyn Duplex>, NodeError>;
    /// A PNG of the guest's screen.
    async fn screenshot(&self, vmi: &VirtualMachineInstance) -> Result<Vec<u8>, NodeError>;
    /// `VirtualMachineInstanceGuestOSInfo` as JSON, from the guest agent.
    async fn guest_os_info(&self, vmi: &VirtualMachineInstance) -> Result<serde_json::Value, NodeError>;
}
