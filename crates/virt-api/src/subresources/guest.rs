//! `guestosinfo`, `userlist` and `filesystemlist`: guest agent queries answered by the node.

use api::keys::vmi_condition;
use api::{VirtualMachineInstance, VirtualMachineInstancePhase};
use axum::response::Response;
use http::StatusCode;

use super::error::{Kind, SubresourceError, VMI_NOT_RUNNING};
use super::pause::condition;
use super::{Ctx, json_response};
use crate::node::NodeGateway;

/// A question for the guest agent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GuestQuery {
    /// `guestosinfo`.
    OsInfo,
    /// `userlist`.
    UserList,
    /// `filesystemlist`.
    FilesystemList,
}

/// Checks that the guest agent of `vmi` can be asked.
///
/// Upstream answers these refusals (and a missing VMI) with a plain-text 500; here they are
/// the 409 (and 404) `Status` objects the other subresources use, with the same messages.
pub fn validate_guest_agent(vmi: &VirtualMachineInstance) -> Result<(), SubresourceError> {
    let name = vmi.metadata.name.as_deref().unwrap_or_default();
    if vmi.phase() != VirtualMachineInstancePhase::Running {
        return Err(SubresourceError::conflict(Kind::Vmi, name, VMI_NOT_RUNNING));
    }
    if condition(vmi, vmi_condition::AGENT_CONNECTED).is_none() {
        return Err(SubresourceError::conflict(
            Kind::Vmi,
            name,
            "VMI does not have guest agent connected",
        ));
    }
    Ok(())
}

/// `GET .../virtualmachineinstances/{name}/{guestosinfo|userlist|filesystemlist}`.
pub(crate) async fn query(
    ctx: &Ctx,
    node: &dyn NodeGateway,
    query: GuestQuery,
) -> Result<Response, SubresourceError> {
    let vmi = ctx.vmi().await?;
    validate_guest_agent(&vmi)?;
    let answer = match query {
        GuestQuery::OsInfo => node.guest_os_info(&vmi).await?,
        GuestQuery::UserList => node.user_list(&vmi).await?,
        GuestQuery::FilesystemList => node.filesystem_list(&vmi).await?,
    };
    Ok(json_response(StatusCode::OK, &answer))
}

#[cfg(test)]
mod tests {
    use super::*;
    use api::{
        VirtualMachineInstanceCondition, VirtualMachineInstanceSpec, VirtualMachineInstanceStatus,
    };

    fn vmi(phase: VirtualMachineInstancePhase, agent: bool) -> VirtualMachineInstance {
        let mut vmi = VirtualMachineInstance::new("v", VirtualMachineInstanceSpec::default());
        let conditions = agent.then(|| {
            vec![VirtualMachineInstanceCondition {
                type_: vmi_condition::AGENT_CONNECTED.into(),
                status: "True".into(),
                ..Default::default()
            }]
        });
        vmi.status = Some(VirtualMachineInstanceStatus {
            phase: Some(phase),
            conditions,
            ..Default::default()
        });
        vmi
    }

    #[test]
    fn guest_agent_needs_a_running_vmi_with_the_agent_connected() {
        let message = |r: Result<(), SubresourceError>| r.unwrap_err().to_string();
        assert!(
            message(validate_guest_agent(&vmi(
                VirtualMachineInstancePhase::Scheduled,
                true
            )))
            .ends_with("VMI is not running")
        );
        assert!(
            message(validate_guest_agent(&vmi(
                VirtualMachineInstancePhase::Running,
                false
            )))
            .ends_with("VMI does not have guest agent connected")
        );
        assert!(validate_guest_agent(&vmi(VirtualMachineInstancePhase::Running, true)).is_ok());
    }
}
