//! How virt-api reaches the node agent running a VMI (upstream: virt-handler's REST API).
//! The simulated and the QEMU node drivers implement [`NodeGateway`].
//!
//! The gateway is called only after virt-api has validated the request (the VMI exists and is
//! in a phase where the operation makes sense), so implementations check only what the node
//! alone knows (e.g. whether the guest is really there).

use api::VirtualMachineInstance;
use async_trait::async_trait;
use tokio::io::{AsyncRead, AsyncWrite};

/// A bidirectional byte stream (serial console, VNC).
pub trait Duplex: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Duplex for T {}

/// Why the node could not serve a request.
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
///
/// The operations with a default implementation answer [`NodeError::Unsupported`] unless the
/// driver overrides them.
#[async_trait]
pub trait NodeGateway: Send + Sync {
    /// Pauses the guest. The node agent then sets the VMI condition `Paused`.
    async fn pause(&self, vmi: &VirtualMachineInstance) -> Result<(), NodeError>;
    /// Resumes a paused guest and removes the VMI condition `Paused`.
    async fn unpause(&self, vmi: &VirtualMachineInstance) -> Result<(), NodeError>;
    /// Asks the guest to reboot (guest agent, else ACPI).
    async fn soft_reboot(&self, vmi: &VirtualMachineInstance) -> Result<(), NodeError>;
    /// Resets the machine at once, like its reset button: the guest OS is not asked and a paused
    /// guest stays paused. The VMI stays Running (unless its `rebootPolicy` is `Terminate`).
    async fn reset(&self, vmi: &VirtualMachineInstance) -> Result<(), NodeError> {
        let _ = vmi;
        Err(NodeError::Unsupported(
            "reset is not supported by this node driver".into(),
        ))
    }
    /// The guest's serial console. A new connection evicts the previous one, which sees EOF.
    async fn console(&self, vmi: &VirtualMachineInstance) -> Result<Box<dyn Duplex>, NodeError>;

    /// The guest's VNC server (RFB protocol).
    async fn vnc(&self, vmi: &VirtualMachineInstance) -> Result<Box<dyn Duplex>, NodeError>;
    /// A PNG of the guest's screen.
    async fn screenshot(&self, vmi: &VirtualMachineInstance) -> Result<Vec<u8>, NodeError>;
    /// `VirtualMachineInstanceGuestAgentInfo` as JSON, from the guest agent (subresource
    /// `guestosinfo`).
    async fn guest_os_info(
        &self,
        vmi: &VirtualMachineInstance,
    ) -> Result<serde_json::Value, NodeError>;

    /// `VirtualMachineInstanceGuestOSUserList` as JSON, from the guest agent.
    async fn user_list(
        &self,
        vmi: &VirtualMachineInstance,
    ) -> Result<serde_json::Value, NodeError> {
        let _ = vmi;
        Err(NodeError::Unsupported(
            "userlist is not supported by this node driver".into(),
        ))
    }

    /// `VirtualMachineInstanceFileSystemList` as JSON, from the guest agent.
    async fn filesystem_list(
        &self,
        vmi: &VirtualMachineInstance,
    ) -> Result<serde_json::Value, NodeError> {
        let _ = vmi;
        Err(NodeError::Unsupported(
            "filesystemlist is not supported by this node driver".into(),
        ))
    }

    /// A byte stream to `port` (`protocol` `tcp` or `udp`) of the guest, for port forwarding.
    async fn port_forward(
        &self,
        vmi: &VirtualMachineInstance,
        port: u16,
        protocol: &str,
    ) -> Result<Box<dyn Duplex>, NodeError> {
        let _ = (vmi, port, protocol);
        Err(NodeError::Unsupported(
            "port-forward is not supported by this node driver".into(),
        ))
    }
}
