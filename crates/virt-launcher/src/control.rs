//! The launcher's control protocol on `<run-dir>/control.sock`: one JSON object per line each
//! way; every request gets exactly one response; a connection may carry many requests.
//!
//! Requests: `{"command": "status" | "pause" | "unpause" | "shutdown" | "reboot" | "reset" |
//! "kill" | "screenshot"}` or `{"command": "forward-port", "port": <guest TCP port>}`.
//!
//! Responses: `{"ok": true, "status": <StateFile>, "png": "<base64>"?}` or
//! `{"ok": false, "error": "<message>", "status": <StateFile>}`. `status` is the state after the
//! request; `png` only answers `screenshot`; `hostPort` only answers `forward-port`.
//!
//! Semantics: `pause` (QMP `stop`) and `unpause` (`cont`) are idempotent; `shutdown` presses the
//! ACPI power button (`system_powerdown`) and returns at once (cancelling a pending soft
//! reboot); `reboot` is a soft reboot through ACPI and returns once the power button was
//! pressed: the guest's next power-off resets the machine instead of ending QEMU (see
//! [`crate::supervisor::reboot`]; refused with "VMI neither have the agent connected nor the
//! ACPI feature enabled" when ACPI is disabled; a plain power-off under `rebootPolicy:
//! Terminate`); `reset` is always a hard reset (`system_reset`, the reset button), whatever
//! `reboot` does; `kill` ends QEMU with
//! SIGKILL (the final state is `Shutoff{Destroyed}`); `screenshot` fails with "No graphics
//! devices are present." when the VMI has no graphics device; `forward-port` answers a
//! loopback port (`127.0.0.1:<hostPort>`) that QEMU's user-mode network of the first
//! pod-network interface forwards to the guest port (`hostfwd_add`). One forward per guest
//! port is kept until QEMU ends and reused by later requests; any local process can connect to
//! it meanwhile. A guest without a pod-network interface refuses `forward-port`.

use crate::state::StateFile;
use serde::{Deserialize, Serialize};

/// A control request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "command", rename_all = "lowercase")]
pub enum ControlRequest {
    Status,
    Pause,
    Unpause,
    Shutdown,
    Reboot,
    /// A hard reset of the machine (QMP `system_reset`).
    Reset,
    Kill,
    Screenshot,
    #[serde(rename = "forward-port")]
    ForwardPort {
        port: u16,
    },
}

/// A control response.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ControlResponse {
    pub ok: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<StateFile>,
    /// PNG bytes, base64 (standard alphabet, padded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub png: Option<String>,
    /// Loopback port forwarded to the guest port of a `forward-port` request.
    #[serde(default, rename = "hostPort", skip_serializing_if = "Option::is_none")]
    pub host_port: Option<u16>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_tagged_by_command() {
        assert_eq!(
            serde_json::to_string(&ControlRequest::Screenshot).unwrap(),
            r#"{"command":"screenshot"}"#
        );
        let r: ControlRequest = serde_json::from_str(r#"{"command":"unpause"}"#).unwrap();
        assert_eq!(r, ControlRequest::Unpause);
        assert!(serde_json::from_str::<ControlRequest>(r#"{"command":"explode"}"#).is_err());
        let r: ControlRequest = serde_json::from_str(r#"{"command":"reset"}"#).unwrap();
        assert_eq!(r, ControlRequest::Reset);
        assert_eq!(
            serde_json::to_string(&ControlRequest::ForwardPort { port: 22 }).unwrap(),
            r#"{"command":"forward-port","port":22}"#
        );
    }
}
