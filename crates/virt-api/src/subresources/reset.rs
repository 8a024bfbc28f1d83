//! `reset` of a VirtualMachineInstance: a hard reset of the guest, like pressing the machine's
//! reset button (the guest OS is not asked). Carried out by the node agent; success is 200
//! with an empty body, as upstream's proxied calls.
//!
//! As upstream, nothing about the guest is validated here: a paused guest can be reset (it
//! stays paused). virt-api only needs a node to ask, so the VMI must be `Running` or
//! `Scheduled`; every error about a VMI that is not `Running` is prefixed with
//! `Failed to reset non-running VMI with phase <phase>: `.

use api::{VirtualMachineInstance, VirtualMachineInstancePhase};
use axum::response::Response;
use http::StatusCode;

use super::error::SubresourceError;
use super::{Ctx, empty_response};
use crate::node::NodeGateway;

/// Checks that the node agent of `vmi` can be asked at all (upstream's connection check).
pub fn check_reachable(vmi: &VirtualMachineInstance) -> Result<(), SubresourceError> {
    use VirtualMachineInstancePhase::{Running, Scheduled};
    let phase = vmi.phase();
    if matches!(phase, Running | Scheduled) {
        return Ok(());
    }
    Err(SubresourceError::BadRequest(format!(
        "Unable to connect to VirtualMachineInstance because phase is {phase} instead of \
         {Running} or {Scheduled}"
    )))
}

/// Adds to `error` why a reset of a VMI that is not running may have failed (it could have
/// been asked while the VMI went from Scheduled to Running).
pub fn explain(vmi: &VirtualMachineInstance, error: SubresourceError) -> SubresourceError {
    let phase = vmi.phase();
    if phase == VirtualMachineInstancePhase::Running {
        return error;
    }
    let prefixed = |m: String| format!("Failed to reset non-running VMI with phase {phase}: {m}");
    match error {
        SubresourceError::BadRequest(m) => SubresourceError::BadRequest(prefixed(m)),
        SubresourceError::Internal(m) => SubresourceError::Internal(prefixed(m)),
        SubresourceError::Unavailable(m) => SubresourceError::Unavailable(prefixed(m)),
        other => other,
    }
}

/// `PUT .../virtualmachineinstances/{name}/reset`.
pub(crate) async fn reset(ctx: &Ctx, node: &dyn NodeGateway) -> Result<Response, SubresourceError> {
    let vmi = ctx.vmi().await?;
    check_reachable(&vmi).map_err(|e| explain(&vmi, e))?;
    node.reset(&vmi)
        .await
        .map_err(|e| explain(&vmi, SubresourceError::from(e)))?;
    Ok(empty_response(StatusCode::OK))
}

#[cfg(test)]
mod tests {
    use super::*;
    use api::{VirtualMachineInstanceSpec, VirtualMachineInstanceStatus};
    use apiserver::ApiError;

    use crate::node::NodeError;

    fn vmi(phase: VirtualMachineInstancePhase) -> VirtualMachineInstance {
        let mut vmi = VirtualMachineInstance::new("testvmi", VirtualMachineInstanceSpec::default());
        vmi.status = Some(VirtualMachineInstanceStatus {
            phase: Some(phase),
            ..Default::default()
        });
        vmi
    }

    fn seen(e: SubresourceError) -> (u16, String) {
        let e = ApiError::from(e);
        (e.status().0.as_u16(), e.to_string())
    }

    #[test]
    fn only_running_and_scheduled_vmis_reach_the_node() {
        use VirtualMachineInstancePhase::*;
        assert!(check_reachable(&vmi(Running)).is_ok());
        assert!(check_reachable(&vmi(Scheduled)).is_ok());
        for phase in [Unset, Pending, Scheduling, Succeeded, Failed] {
            let vmi = vmi(phase);
            let error = check_reachable(&vmi).map_err(|e| explain(&vmi, e));
            assert_eq!(
                seen(error.unwrap_err()),
                (
                    400,
                    format!(
                        "Failed to reset non-running VMI with phase {phase}: Unable to connect \
                         to VirtualMachineInstance because phase is {phase} instead of Running \
                         or Scheduled"
                    )
                )
            );
        }
    }

    #[test]
    fn node_failures_of_a_running_vmi_are_passed_on_unchanged() {
        let running = vmi(VirtualMachineInstancePhase::Running);
        let failed = SubresourceError::from(NodeError::Failed("QMP said no".into()));
        assert_eq!(
            seen(explain(&running, failed)),
            (500, "Internal error occurred: QMP said no".into())
        );
    }

    #[test]
    fn node_failures_of_a_scheduled_vmi_say_it_is_not_running() {
        let scheduled = vmi(VirtualMachineInstancePhase::Scheduled);
        let failed = SubresourceError::from(NodeError::Failed("VMI is not running".into()));
        assert_eq!(
            seen(explain(&scheduled, failed)),
            (
                500,
                "Internal error occurred: Failed to reset non-running VMI with phase Scheduled: \
                 VMI is not running"
                    .into()
            )
        );
        let gone = SubresourceError::from(NodeError::Unavailable("no node agent".into()));
        assert_eq!(seen(explain(&scheduled, gone)).0, 503);
    }
}
