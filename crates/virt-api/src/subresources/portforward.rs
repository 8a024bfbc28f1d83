//! `portforward/{port}[/{protocol}]` of a VirtualMachineInstance or VirtualMachine: a
//! websocket (subprotocol `plain.kubevirt.io`) carrying a byte stream to a guest port, which
//! the node gateway opens.

use api::keys::vmi_condition;
use api::{VirtualMachine, VirtualMachineInstance};
use axum::body::Body;
use axum::response::Response;
use http::Request;

use super::Ctx;
use super::console::{bridge_response, upgrade_of};
use super::error::{Kind, SubresourceError};
use super::pause::condition;
use crate::node::NodeGateway;

/// Where to forward: the guest port and the protocol.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub port: u16,
    pub protocol: String,
}

/// Parses the path after `portforward/`: `{port}` or `{port}/{protocol}` (tcp by default).
pub fn parse_target(rest: &str) -> Result<Target, SubresourceError> {
    let mut parts = rest.split('/');
    let port = parts.next().unwrap_or_default();
    if port.is_empty() {
        return Err(SubresourceError::BadRequest(
            "port must not be empty".into(),
        ));
    }
    let port = port
        .parse::<u16>()
        .ok()
        .filter(|p| *p > 0)
        .ok_or_else(|| SubresourceError::BadRequest(format!("invalid port {port:?}")))?;
    let protocol = parts.next().unwrap_or("tcp");
    if !matches!(protocol, "tcp" | "udp") || parts.next().is_some() {
        return Err(SubresourceError::BadRequest(format!(
            "unsupported protocol {protocol:?}: use tcp or udp"
        )));
    }
    Ok(Target {
        port,
        protocol: protocol.to_owned(),
    })
}

/// A paused guest cannot answer.
pub fn validate_vmi(vmi: &VirtualMachineInstance) -> Result<(), SubresourceError> {
    if condition(vmi, vmi_condition::PAUSED).is_some() {
        let name = vmi.metadata.name.as_deref().unwrap_or_default();
        return Err(SubresourceError::conflict(Kind::Vmi, name, "VMI is paused"));
    }
    Ok(())
}

/// The VM form forwards to the VMI the VM started: it must have been created, and be owned by
/// this VM.
pub fn validate_vm_owns(
    vm: &VirtualMachine,
    vmi: Option<&VirtualMachineInstance>,
) -> Result<(), SubresourceError> {
    let name = vm.metadata.name.as_deref().unwrap_or_default();
    if vm.status.as_ref().and_then(|s| s.created) != Some(true) {
        return Err(SubresourceError::conflict(
            Kind::Vm,
            name,
            "VMI is not started",
        ));
    }
    let vmi = vmi.ok_or_else(|| SubresourceError::not_found(Kind::Vmi, name))?;
    let owned = vmi
        .metadata
        .owner_references
        .iter()
        .flatten()
        .any(|r| Some(&r.uid) == vm.metadata.uid.as_ref());
    if !owned {
        return Err(SubresourceError::Internal(format!(
            "unable to retrieve vmi [{name}] for vm: it is not owned by the VM"
        )));
    }
    Ok(())
}

/// `GET .../{virtualmachineinstances|virtualmachines}/{name}/portforward/{port}[/{protocol}]`.
pub(crate) async fn port_forward(
    ctx: &Ctx,
    node: &dyn NodeGateway,
    of_vm: bool,
    rest: &str,
    request: Request<Body>,
) -> Result<Response, SubresourceError> {
    let vmi = if of_vm {
        let vm = ctx.vm().await?;
        let vmi = ctx.vmi_opt().await?;
        validate_vm_owns(&vm, vmi.as_ref())?;
        vmi.ok_or_else(|| SubresourceError::not_found(Kind::Vmi, ctx.name()))?
    } else {
        ctx.vmi().await?
    };
    validate_vmi(&vmi)?;
    let target = parse_target(rest)?;
    let upgrade = upgrade_of(request).await?;
    let stream = node
        .port_forward(&vmi, target.port, &target.protocol)
        .await?;
    Ok(bridge_response(upgrade, stream, ctx.name().to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use api::{
        VirtualMachineInstanceCondition, VirtualMachineInstanceSpec, VirtualMachineInstanceStatus,
        VirtualMachineSpec, VirtualMachineStatus,
    };
    use apiserver::ApiError;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;

    fn code(e: SubresourceError) -> (u16, String) {
        let e = ApiError::from(e);
        (e.status().0.as_u16(), e.to_string())
    }

    #[test]
    fn targets_default_to_tcp_and_reject_junk() {
        assert_eq!(
            parse_target("22").unwrap(),
            Target {
                port: 22,
                protocol: "tcp".into()
            }
        );
        assert_eq!(parse_target("53/udp").unwrap().protocol, "udp");
        for bad in ["", "0", "x", "70000", "22/sctp", "22/tcp/more"] {
            assert_eq!(code(parse_target(bad).unwrap_err()).0, 400, "{bad}");
        }
    }

    #[test]
    fn a_paused_vmi_is_not_forwarded_to() {
        let mut vmi = VirtualMachineInstance::new("v", VirtualMachineInstanceSpec::default());
        assert!(validate_vmi(&vmi).is_ok());
        vmi.status = Some(VirtualMachineInstanceStatus {
            conditions: Some(vec![VirtualMachineInstanceCondition {
                type_: "Paused".into(),
                status: "True".into(),
                ..Default::default()
            }]),
            ..Default::default()
        });
        let (status, message) = code(validate_vmi(&vmi).unwrap_err());
        assert_eq!(status, 409);
        assert!(message.ends_with("VMI is paused"));
    }

    #[test]
    fn the_vm_form_needs_a_created_vmi_owned_by_the_vm() {
        let mut vm = VirtualMachine::new("vm", VirtualMachineSpec::default());
        vm.metadata.uid = Some("vm-uid".into());
        let mut vmi = VirtualMachineInstance::new("vm", VirtualMachineInstanceSpec::default());
        let (status, message) = code(validate_vm_owns(&vm, Some(&vmi)).unwrap_err());
        assert_eq!(status, 409);
        assert!(message.ends_with("VMI is not started"));

        vm.status = Some(VirtualMachineStatus {
            created: Some(true),
            ..Default::default()
        });
        assert_eq!(code(validate_vm_owns(&vm, None).unwrap_err()).0, 404);
        assert_eq!(code(validate_vm_owns(&vm, Some(&vmi)).unwrap_err()).0, 500);
        vmi.metadata.owner_references = Some(vec![OwnerReference {
            uid: "vm-uid".into(),
            ..Default::default()
        }]);
        assert!(validate_vm_owns(&vm, Some(&vmi)).is_ok());
    }
}
