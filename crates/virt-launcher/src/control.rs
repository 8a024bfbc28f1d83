//! The launcher's control protocol on `<run-dir>/control.sock`: one JSON object per line each
//! way; every request gets exactly one response; a connection may carry many requests.
//!
//! Requests: `{"command": "status" | "pause" | "unpause" | "shutdown" | "reboot" | "kill" |
//! "screenshot"}`.
//!
//! Responses: `{"ok": true, "status": <StateFile>, "png": "<base64>"?}` or
//! `{"ok": false, "error": "<message>", "status": <StateFile>}`. `status` is the state after the
//! request; `png` only answers `screenshot`.
//!
//! Semantics: `pause` (QMP `stop`) and `unpause` (`cont`) are idempotent; `shutdown` presses the
//! ACPI power button (`system_powerdown`) and returns at once; `reboot` is a hard reset
//! (`system_reset`: there is no guest agent to ask for a soft one); `kill` ends QEMU with
//! SIGKILL (the final state is `Shutoff{Destroyed}`); `screenshot` fails with "No graphics
//! devices are present." when the VMI has no graphics device.

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
    Kill,
    Screenshot,
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
    }
}
