//! `pause`, `unpause` and `softreboot` of a VirtualMachineInstance: validated here, carried out
//! by the node agent. Success is 200 with an empty body, as upstream's proxied calls.

use api::keys::{condition_status, vmi_condition};
use api::{
    PauseOptions, UnpauseOptions, VirtualMachine, VirtualMachineInstance,
    VirtualMachineInstancePhase,
};
use axum::body::Body;
use axum::response::Response;
use http::StatusCode;

use super::error::{Kind, SubresourceError, VM_NOT_RUNNING, VMI_NOT_RUNNING};
use super::{Ctx, empty_response, read_options};
use crate::node::NodeGateway;

fn vmi_name(vmi: &VirtualMachineInstance) -> &str {
    vmi.metadata.name.as_deref().unwrap_or_default()
}

/// The status of the VMI condition `kind`, if the VMI has it.
pub(crate) fn condition<'a>(vmi: &'a VirtualMachineInstance, kind: &str) -> Option<&'a str> {
    vmi.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == kind)
        .map(|c| c.status.as_str())
}

fn is_running(vmi: &VirtualMachineInstance) -> bool {
    vmi.phase() == VirtualMachineInstancePhase::Running
}

/// Checks that `vmi` can be paused.
pub fn validate_pause(vmi: &VirtualMachineInstance) -> Result<(), SubresourceError> {
    let name = vmi_name(vmi);
    if !is_running(vmi) {
        return Err(SubresourceError::conflict(Kind::Vmi, name, VM_NOT_RUNNING));
    }
    // A paused guest cannot answer other probes, so they would kill it.
    if vmi
        .spec
        .liveness_probe
        .as_ref()
        .is_some_and(|p| p.guest_agent_ping.is_none())
    {
        return Err(SubresourceError::Forbidden {
            kind: Kind::Vmi,
            name: name.to_owned(),
            message: "Pausing VMIs with a non-GuestAgentPing LivenessProbe is not supported".into(),
        });
    }
    // Any Paused condition counts, whatever its status (as upstream).
    if condition(vmi, vmi_condition::PAUSED).is_some() {
        return Err(SubresourceError::conflict(
            Kind::Vmi,
            name,
            "VMI is already paused",
        ));
    }
    Ok(())
}

/// Checks that `vmi` can be unpaused; `vm` is the VirtualMachine of the same name, if any.
pub fn validate_unpause(
    vm: Option<&VirtualMachine>,
    vmi: &VirtualMachineInstance,
) -> Result<(), SubresourceError> {
    check_no_snapshot(vm)?;
    let name = vmi_name(vmi);
    if !is_running(vmi) {
        return Err(SubresourceError::conflict(Kind::Vmi, name, VMI_NOT_RUNNING));
    }
    if condition(vmi, vmi_condition::PAUSED).is_none() {
        return Err(SubresourceError::conflict(
            Kind::Vmi,
            name,
            "VMI is not paused",
        ));
    }
    Ok(())
}

/// A snapshot in progress keeps the guest paused until it is done.
fn check_no_snapshot(vm: Option<&VirtualMachine>) -> Result<(), SubresourceError> {
    match vm {
        Some(vm)
            if vm
                .status
                .as_ref()
                .is_some_and(|s| s.snapshot_in_progress.is_some()) =>
        {
            Err(SubresourceError::conflict(
                Kind::Vm,
                vm.metadata.name.as_deref().unwrap_or_default(),
                "VM snapshot is in progress",
            ))
        }
        _ => Ok(()),
    }
}

/// Checks that `vmi` can be soft rebooted.
pub fn validate_soft_reboot(vmi: &VirtualMachineInstance) -> Result<(), SubresourceError> {
    let name = vmi_name(vmi);
    if !is_running(vmi) {
        return Err(SubresourceError::conflict(Kind::Vmi, name, VM_NOT_RUNNING));
    }
    if condition(vmi, vmi_condition::PAUSED) == Some(condition_status::TRUE) {
        return Err(SubresourceError::conflict(Kind::Vmi, name, "VMI is paused"));
    }
    let acpi_disabled = vmi
        .spec
        .domain
        .features
        .as_ref()
        .and_then(|f| f.acpi.as_ref())
        .and_then(|a| a.enabled)
        == Some(false);
    if condition(vmi, vmi_condition::AGENT_CONNECTED).is_none() && acpi_disabled {
        return Err(SubresourceError::conflict(
            Kind::Vmi,
            name,
            "VMI neither have the agent connected nor the ACPI feature enabled",
        ));
    }
    Ok(())
}

/// Upstream's dry-run test for node actions: the first value is `All`; nothing else is checked
/// because nothing is sent to the API server.
fn node_dry_run(values: Option<&[String]>) -> bool {
    api::is_dry_run(values)
}

/// `PUT .../virtualmachineinstances/{name}/pause`.
pub(crate) async fn pause(
    ctx: &Ctx,
    node: &dyn NodeGateway,
    body: Body,
) -> Result<Response, SubresourceError> {
    let opts: PauseOptions = read_options(body).await?;
    let vmi = ctx.vmi().await?;
    validate_pause(&vmi)?;
    if !node_dry_run(opts.dry_run.as_deref()) {
        node.pause(&vmi).await?;
    }
    Ok(empty_response(StatusCode::OK))
}

/// `PUT .../virtualmachineinstances/{name}/unpause`.
pub(crate) async fn unpause(
    ctx: &Ctx,
    node: &dyn NodeGateway,
    body: Body,
) -> Result<Response, SubresourceError> {
    // Upstream looks at the VM first: a snapshot in progress is refused before anything else.
    let vm = ctx.vm_opt().await?;
    check_no_snapshot(vm.as_ref())?;
    let opts: UnpauseOptions = read_options(body).await?;
    let vmi = ctx.vmi().await?;
    validate_unpause(vm.as_ref(), &vmi)?;
    if !node_dry_run(opts.dry_run.as_deref()) {
        node.unpause(&vmi).await?;
    }
    Ok(empty_response(StatusCode::OK))
}

/// `PUT .../virtualmachineinstances/{name}/softreboot`.
pub(crate) async fn soft_reboot(
    ctx: &Ctx,
    node: &dyn NodeGateway,
) -> Result<Response, SubresourceError> {
    let vmi = ctx.vmi().await?;
    validate_soft_reboot(&vmi)?;
    node.soft_reboot(&vmi).await?;
    Ok(empty_response(StatusCode::OK))
}

#[cfg(test)]
mod tests {
    use super::*;
    use api::{
        FeatureState, Features, GuestAgentPing, Probe, VirtualMachineInstanceCondition,
        VirtualMachineInstanceSpec, VirtualMachineInstanceStatus, VirtualMachineSpec,
        VirtualMachineStatus,
    };
    use apiserver::ApiError;

    fn vmi(
        phase: VirtualMachineInstancePhase,
        conditions: &[(&str, &str)],
    ) -> VirtualMachineInstance {
        let mut vmi = VirtualMachineInstance::new("testvmi", VirtualMachineInstanceSpec::default());
        vmi.status = Some(VirtualMachineInstanceStatus {
            phase: Some(phase),
            conditions: Some(
                conditions
                    .iter()
                    .map(|(t, s)| VirtualMachineInstanceCondition {
                        type_: (*t).into(),
                        status: (*s).into(),
                        ..Default::default()
                    })
                    .collect(),
            ),
            ..Default::default()
        });
        vmi
    }

    fn seen(r: Result<(), SubresourceError>) -> Option<(u16, String)> {
        r.err().map(|e| {
            let e = ApiError::from(e);
            (e.status().0.as_u16(), e.to_string())
        })
    }

    use VirtualMachineInstancePhase::{Running, Scheduled};

    #[test]
    fn pause_matrix() {
        let exec_probe = Probe {
            period_seconds: Some(120),
            ..Default::default()
        };
        let ping_probe = Probe {
            guest_agent_ping: Some(GuestAgentPing {}),
            ..Default::default()
        };
        // (phase, paused condition, probe, expected code and message ending)
        let cases = [
            (Scheduled, None, None, Some((409, "VM is not running"))),
            (
                Running,
                Some("True"),
                None,
                Some((409, "VMI is already paused")),
            ),
            (
                Running,
                Some("False"),
                None,
                Some((409, "VMI is already paused")),
            ),
            (
                Running,
                None,
                Some(exec_probe),
                Some((
                    403,
                    "Pausing VMIs with a non-GuestAgentPing LivenessProbe is not supported",
                )),
            ),
            (Running, None, Some(ping_probe), None),
            (Running, None, None, None),
        ];
        for (phase, paused, probe, expected) in cases {
            let conditions: Vec<_> = paused.map(|s| ("Paused", s)).into_iter().collect();
            let mut vmi = vmi(phase, &conditions);
            vmi.spec.liveness_probe = probe;
            let got = seen(validate_pause(&vmi));
            match (got, expected) {
                (None, None) => {}
                (Some((code, message)), Some((want_code, want))) => {
                    assert_eq!(code, want_code, "{message}");
                    assert!(message.ends_with(want), "{message}");
                }
                (got, want) => panic!("{phase:?} {paused:?}: got {got:?}, want {want:?}"),
            }
        }
    }

    #[test]
    fn unpause_matrix() {
        let not_paused = seen(validate_unpause(None, &vmi(Running, &[])));
        assert_eq!(
            not_paused.unwrap().1.split(": ").last(),
            Some("VMI is not paused")
        );
        let not_running = seen(validate_unpause(
            None,
            &vmi(Scheduled, &[("Paused", "True")]),
        ));
        assert_eq!(
            not_running.unwrap().1.split(": ").last(),
            Some("VMI is not running")
        );
        assert!(validate_unpause(None, &vmi(Running, &[("Paused", "True")])).is_ok());

        let mut vm = VirtualMachine::new("testvmi", VirtualMachineSpec::default());
        vm.status = Some(VirtualMachineStatus {
            snapshot_in_progress: Some("snap".into()),
            ..Default::default()
        });
        let (code, message) = seen(validate_unpause(
            Some(&vm),
            &vmi(Running, &[("Paused", "True")]),
        ))
        .unwrap();
        assert_eq!(code, 409);
        assert!(message.ends_with("VM snapshot is in progress"));
    }

    #[test]
    fn soft_reboot_matrix() {
        assert_eq!(
            seen(validate_soft_reboot(&vmi(Scheduled, &[]))).unwrap().0,
            409
        );
        let paused = seen(validate_soft_reboot(&vmi(Running, &[("Paused", "True")]))).unwrap();
        assert!(paused.1.ends_with("VMI is paused"));
        assert!(validate_soft_reboot(&vmi(Running, &[("Paused", "False")])).is_ok());

        let mut no_acpi = vmi(Running, &[]);
        no_acpi.spec.domain.features = Some(Features {
            acpi: Some(FeatureState {
                enabled: Some(false),
            }),
            ..Default::default()
        });
        let refused = seen(validate_soft_reboot(&no_acpi)).unwrap();
        assert!(
            refused
                .1
                .ends_with("VMI neither have the agent connected nor the ACPI feature enabled")
        );
        no_acpi.status.as_mut().unwrap().conditions = Some(vec![VirtualMachineInstanceCondition {
            type_: "AgentConnected".into(),
            status: "True".into(),
            ..Default::default()
        }]);
        assert!(validate_soft_reboot(&no_acpi).is_ok());
        // ACPI on by default: no agent needed.
        assert!(validate_soft_reboot(&vmi(Running, &[])).is_ok());
    }

    #[test]
    fn node_dry_run_looks_at_the_first_value_only() {
        assert!(node_dry_run(Some(&["All".to_owned()])));
        assert!(!node_dry_run(Some(&["Other".to_owned(), "All".to_owned()])));
        assert!(!node_dry_run(None));
    }
}
