//! Soft reboot: what libvirt does for `virDomainReboot(VIR_DOMAIN_REBOOT_ACPI_POWER_BTN)`,
//! which KubeVirt's `SoftRebootVMI` uses when no guest agent is connected.
//!
//! The ACPI power button is pressed with QEMU's shutdown action switched to `pause` (QMP
//! `set-action`). When the guest then powers off, QEMU stops instead of exiting; the launcher
//! resets the machine, resumes the vCPUs and restores the `poweroff` action. The domain never
//! reports an end in between, so the VMI stays Running. Outside a soft reboot QEMU runs with its
//! default actions: a guest power-off ends it.
//!
//! - A VMI with ACPI disabled cannot be asked (there is no guest agent here): the request is
//!   refused with upstream's message [`NO_AGENT_NO_ACPI`].
//! - Under `rebootPolicy: Terminate` libvirt overrides the reboot with a shutdown; so does the
//!   launcher: the power button is pressed and a guest power-off ends QEMU.
//! - The reboot stays pending until the guest powers off or resets itself. A `shutdown`
//!   request meanwhile cancels it, so a stop is never turned into a reboot.

use super::Shared;
use crate::qmp::QmpError;
use std::sync::atomic::Ordering;
use std::time::Duration;

/// Upstream's refusal when neither a guest agent nor ACPI can carry a soft reboot.
pub const NO_AGENT_NO_ACPI: &str =
    "VMI neither have the agent connected nor the ACPI feature enabled";

/// QEMU's shutdown cause of a guest that powered itself off.
const GUEST_SHUTDOWN: &str = "guest-shutdown";

/// How often `cont` is retried while QEMU still processes the reset (QEMU refuses to resume a
/// machine in the shutdown state until the reset has happened), and how long between tries.
const CONT_ATTEMPTS: usize = 100;
const CONT_RETRY: Duration = Duration::from_millis(20);

/// What a soft reboot request does for a VMI.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SoftReboot {
    /// Power button, and the guest's power-off turned into a reset.
    Acpi,
    /// Power button only: `rebootPolicy: Terminate` turns the reboot into a shutdown.
    Shutdown,
    /// Neither a guest agent nor ACPI.
    Refused,
}

impl SoftReboot {
    /// The soft reboot a VMI allows.
    pub fn of(vmi: &api::VirtualMachineInstance) -> SoftReboot {
        let domain = &vmi.spec.domain;
        let acpi = domain
            .features
            .as_ref()
            .and_then(|f| f.acpi.as_ref())
            .is_none_or(|a| a.enabled != Some(false));
        if !acpi {
            SoftReboot::Refused
        } else if domain.reboot_policy.as_deref() == Some("Terminate") {
            SoftReboot::Shutdown
        } else {
            SoftReboot::Acpi
        }
    }
}

fn text(e: QmpError) -> String {
    e.to_string()
}

/// Handles the control request `reboot`. Returns once the power button was pressed.
pub(super) async fn request(shared: &Shared) -> Result<(), String> {
    match shared.soft_reboot {
        SoftReboot::Refused => Err(NO_AGENT_NO_ACPI.to_string()),
        SoftReboot::Shutdown => shared.qmp.system_powerdown().await.map_err(text),
        SoftReboot::Acpi => {
            if let Err(e) = shared.qmp.set_shutdown_action("pause").await {
                return Err(text(e));
            }
            shared.reboot_pending.store(true, Ordering::SeqCst);
            if let Err(e) = shared.qmp.system_powerdown().await {
                cancel(shared).await;
                return Err(text(e));
            }
            tracing::info!("soft reboot: power button pressed");
            Ok(())
        }
    }
}

/// Drops a pending soft reboot: the guest's next power-off ends QEMU again.
pub(super) async fn cancel(shared: &Shared) {
    if shared.reboot_pending.swap(false, Ordering::SeqCst) {
        restore(shared).await;
    }
}

async fn restore(shared: &Shared) {
    if let Err(e) = shared.qmp.set_shutdown_action("poweroff").await {
        tracing::warn!("cannot restore the shutdown action: {e}");
    }
}

/// Called for every `RESET` event: a guest that rebooted on its own has done what was asked.
pub(super) async fn on_reset(shared: &Shared) {
    cancel(shared).await;
}

/// Called for every `SHUTDOWN` event. True when the shutdown was the pending soft reboot's
/// power-off, which is not the end of the guest: the machine was reset and resumed.
pub(super) async fn on_shutdown(shared: &Shared, reason: &str) -> bool {
    if !shared.reboot_pending.swap(false, Ordering::SeqCst) {
        return false;
    }
    restore(shared).await;
    if reason != GUEST_SHUTDOWN {
        // Not the power-off that was asked for (a panic, a reset under -no-reboot): it ends
        // QEMU as it would have without the soft reboot. QEMU is stopped in the shutdown
        // state, so it has to be told.
        if let Err(e) = shared.qmp.quit().await {
            tracing::warn!("cannot end QEMU after a {reason} during a soft reboot: {e}");
        }
        return false;
    }
    match reset_and_resume(shared).await {
        Ok(()) => {
            tracing::info!("soft reboot: the guest powered off; machine reset and resumed");
            true
        }
        Err(e) => {
            tracing::error!("soft reboot failed, ending QEMU: {e}");
            let _ = shared.qmp.quit().await;
            false
        }
    }
}

async fn reset_and_resume(shared: &Shared) -> Result<(), QmpError> {
    shared.qmp.system_reset().await?;
    let mut attempt = 0;
    loop {
        match shared.qmp.cont().await {
            Ok(()) => return Ok(()),
            Err(QmpError::Command { .. }) if attempt < CONT_ATTEMPTS => {
                attempt += 1;
                tokio::time::sleep(CONT_RETRY).await;
            }
            Err(e) => return Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn vmi(domain: serde_json::Value) -> api::VirtualMachineInstance {
        serde_json::from_value(json!({
            "metadata": {"name": "v"},
            "spec": {"domain": domain},
        }))
        .unwrap()
    }

    #[test]
    fn acpi_guests_reboot_through_the_power_button_unless_they_terminate_on_reboot() {
        assert_eq!(
            SoftReboot::of(&vmi(json!({"devices": {}}))),
            SoftReboot::Acpi
        );
        assert_eq!(
            SoftReboot::of(&vmi(json!({"features": {"acpi": {}}, "devices": {}}))),
            SoftReboot::Acpi
        );
        assert_eq!(
            SoftReboot::of(&vmi(json!({"rebootPolicy": "Terminate", "devices": {}}))),
            SoftReboot::Shutdown
        );
    }

    #[test]
    fn a_guest_without_acpi_cannot_be_soft_rebooted() {
        let no_acpi = vmi(json!({"features": {"acpi": {"enabled": false}}, "devices": {}}));
        assert_eq!(SoftReboot::of(&no_acpi), SoftReboot::Refused);
    }
}
