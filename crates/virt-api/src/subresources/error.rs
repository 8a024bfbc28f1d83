//! The errors of the subresource handlers and their one mapping to API statuses, worded as
//! upstream's `k8s.io/apimachinery` errors (`Operation cannot be fulfilled on
//! virtualmachine.kubevirt.io "vm": VM is already running`).

use apiserver::ApiError;
use apiserver::error::Target;

use crate::node::NodeError;

/// Message when a VM is not running (stop, migrate, pause).
pub const VM_NOT_RUNNING: &str = "VM is not running";
/// Message when a VMI is not running (unpause, console, guest agent queries).
pub const VMI_NOT_RUNNING: &str = "VMI is not running";
/// Message of start and restart when a volume migration left the VM inconsistent.
pub const MANUAL_RECOVERY_REQUIRED: &str = "VM recovery required: Volume migration failed, leaving some volumes pointing to non-consistent targets; manual intervention is needed to reassign them to their original volumes.";

/// The kind of object an error is about, as upstream names the resource (singular).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Vm,
    Vmi,
}

impl Kind {
    /// Upstream's resource name in messages and `details.kind`.
    pub const fn resource(self) -> &'static str {
        match self {
            Kind::Vm => "virtualmachine",
            Kind::Vmi => "virtualmachineinstance",
        }
    }

    fn target(self, name: &str) -> Target {
        Target::new(api::keys::GROUP, self.resource(), name)
    }
}

/// Why a subresource request failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SubresourceError {
    /// The request body does not decode into the options struct (400).
    #[error("Can not unmarshal Request body to struct, error: {0}")]
    Body(String),
    /// A request that cannot be served as asked (400).
    #[error("{0}")]
    BadRequest(String),
    /// The VM or VMI does not exist (404).
    #[error("{}.{} \"{name}\" not found", .kind.resource(), api::keys::GROUP)]
    NotFound { kind: Kind, name: String },
    /// The object is not in a state that allows the operation (409).
    #[error("Operation cannot be fulfilled on {}.{} \"{name}\": {message}", .kind.resource(), api::keys::GROUP)]
    Conflict {
        kind: Kind,
        name: String,
        message: String,
    },
    /// The operation is refused for this object (403).
    #[error("{}.{} \"{name}\" is forbidden: {message}", .kind.resource(), api::keys::GROUP)]
    Forbidden {
        kind: Kind,
        name: String,
        message: String,
    },
    /// Anything else that went wrong (500).
    #[error("Internal error occurred: {0}")]
    Internal(String),
    /// The node agent could not be reached (503).
    #[error("{0}")]
    Unavailable(String),
    /// An error of the API server passed through as it is.
    #[error("{0}")]
    Api(ApiError),
}

impl SubresourceError {
    /// A 409 about the VM or VMI `name`.
    pub fn conflict(kind: Kind, name: &str, message: impl Into<String>) -> Self {
        SubresourceError::Conflict {
            kind,
            name: name.to_owned(),
            message: message.into(),
        }
    }

    /// A 404 for the VM or VMI `name`.
    pub fn not_found(kind: Kind, name: &str) -> Self {
        SubresourceError::NotFound {
            kind,
            name: name.to_owned(),
        }
    }
}

impl From<NodeError> for SubresourceError {
    fn from(e: NodeError) -> Self {
        match e {
            NodeError::Unsupported(m) => SubresourceError::BadRequest(m),
            NodeError::Unavailable(m) => SubresourceError::Unavailable(m),
            NodeError::Failed(m) => SubresourceError::Internal(m),
        }
    }
}

impl From<SubresourceError> for ApiError {
    fn from(e: SubresourceError) -> Self {
        let message = e.to_string();
        match e {
            SubresourceError::Body(_) | SubresourceError::BadRequest(_) => {
                ApiError::bad_request(message)
            }
            SubresourceError::NotFound { kind, name } => ApiError::NotFound(kind.target(&name)),
            SubresourceError::Conflict { kind, name, .. } => ApiError::Custom {
                code: 409,
                reason: "Conflict".into(),
                message,
                target: kind.target(&name),
            },
            SubresourceError::Forbidden { kind, name, .. } => ApiError::Custom {
                code: 403,
                reason: "Forbidden".into(),
                message,
                target: kind.target(&name),
            },
            SubresourceError::Internal(_) => ApiError::InternalError { message },
            SubresourceError::Unavailable(_) => ApiError::ServiceUnavailable { message },
            SubresourceError::Api(e) => e,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conflict_is_worded_and_coded_as_upstream() {
        let e: ApiError =
            SubresourceError::conflict(Kind::Vm, "vm1", "VM is already running").into();
        let status = e.to_status();
        assert_eq!(status["code"], 409);
        assert_eq!(status["reason"], "Conflict");
        assert_eq!(
            status["message"],
            "Operation cannot be fulfilled on virtualmachine.kubevirt.io \"vm1\": VM is already running"
        );
        assert_eq!(status["details"]["kind"], "virtualmachine");
        assert_eq!(status["details"]["name"], "vm1");
    }

    #[test]
    fn not_found_names_the_singular_resource() {
        let e: ApiError = SubresourceError::not_found(Kind::Vmi, "x").into();
        assert_eq!(e.status().0.as_u16(), 404);
        assert_eq!(
            e.to_string(),
            "virtualmachineinstance.kubevirt.io \"x\" not found"
        );
    }

    #[test]
    fn forbidden_and_internal_keep_their_codes() {
        let forbidden: ApiError = SubresourceError::Forbidden {
            kind: Kind::Vmi,
            name: "v".into(),
            message: "no".into(),
        }
        .into();
        assert_eq!(
            forbidden.status(),
            (http::StatusCode::FORBIDDEN, "Forbidden")
        );
        assert_eq!(
            forbidden.to_string(),
            "virtualmachineinstance.kubevirt.io \"v\" is forbidden: no"
        );
        let internal: ApiError = SubresourceError::Internal("boom".into()).into();
        assert_eq!(internal.status().0.as_u16(), 500);
        assert_eq!(internal.to_string(), "Internal error occurred: boom");
    }

    #[test]
    fn node_errors_map_to_bad_request_unavailable_and_internal() {
        let codes: Vec<u16> = [
            NodeError::Unsupported("a".into()),
            NodeError::Unavailable("b".into()),
            NodeError::Failed("c".into()),
        ]
        .into_iter()
        .map(|e| {
            ApiError::from(SubresourceError::from(e))
                .status()
                .0
                .as_u16()
        })
        .collect();
        assert_eq!(codes, [400, 503, 500]);
    }
}
