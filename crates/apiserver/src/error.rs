//! API errors and their one mapping to HTTP status codes and `metav1.Status` bodies.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::store::StoreError;

/// One cause of an `Invalid` (422) or `BadRequest` error, as in `metav1.StatusCause`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cause {
    #[serde(rename = "type", default, skip_serializing_if = "String::is_empty")]
    pub reason: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub field: String,
}

impl Cause {
    pub fn new(reason: &str, message: impl Into<String>, field: impl Into<String>) -> Self {
        Cause {
            reason: reason.to_string(),
            message: message.into(),
            field: field.into(),
        }
    }
    /// A `FieldValueInvalid` cause.
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Cause::new("FieldValueInvalid", message, field)
    }
    /// A `FieldValueRequired` cause.
    pub fn required(field: impl Into<String>, message: impl Into<String>) -> Self {
        Cause::new("FieldValueRequired", message, field)
    }
}

/// The object an error is about, for `details` in the Status body.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Target {
    pub group: String,
    /// The plural resource name (Kubernetes puts it in `details.kind`).
    pub kind: String,
    pub name: String,
}

impl Target {
    pub fn new(group: &str, resource: &str, name: &str) -> Self {
        Target {
            group: group.into(),
            kind: resource.into(),
            name: name.into(),
        }
    }
    /// "virtualmachines.kubevirt.io" or "pods" for the core group.
    pub fn qualified(&self) -> String {
        if self.group.is_empty() {
            self.kind.clone()
        } else {
            format!("{}.{}", self.kind, self.group)
        }
    }
}

/// Everything the API can answer with besides success. Each variant is one Kubernetes
/// `StatusReason`; [`ApiError::status`] is the single place that maps it to a code.
#[derive(Clone, Debug, thiserror::Error, PartialEq, Eq)]
pub enum ApiError {
    #[error("{message}")]
    BadRequest { message: String, causes: Vec<Cause> },
    #[error("Unauthorized")]
    Unauthorized,
    #[error("{message}")]
    Forbidden { message: String, target: Target },
    #[error("{}", not_found_message(.0))]
    NotFound(Target),
    #[error("{}", already_exists_message(.0))]
    AlreadyExists(Target),
    #[error("{message}")]
    Conflict { message: String, target: Target },
    #[error("{message}")]
    Gone { message: String },
    #[error("{message}")]
    Expired { message: String },
    #[error("{message}")]
    Invalid {
        message: String,
        target: Target,
        kind: String,
        causes: Vec<Cause>,
    },
    #[error("{message}")]
    MethodNotAllowed { message: String },
    #[error("{message}")]
    NotAcceptable { message: String },
    #[error("{message}")]
    UnsupportedMediaType { message: String },
    #[error("{message}")]
    RequestEntityTooLarge { message: String },
    #[error("{message}")]
    InternalError { message: String },
    #[error("{message}")]
    Timeout { message: String },
    #[error("{message}")]
    ServiceUnavailable { message: String },
    /// A status chosen by a plug-in (for example virt-api's 409s), passed through as is.
    #[error("{message}")]
    Custom {
        code: u16,
        reason: String,
        message: String,
        target: Target,
    },
}

fn not_found_message(t: &Target) -> String {
    if t.name.is_empty() {
        format!(
            "the server could not find the requested resource ({})",
            t.qualified()
        )
    } else {
        format!("{} \"{}\" not found", t.qualified(), t.name)
    }
}

fn already_exists_message(t: &Target) -> String {
    format!("{} \"{}\" already exists", t.qualified(), t.name)
}

impl ApiError {
    pub fn bad_request(message: impl Into<String>) -> Self {
        ApiError::BadRequest {
            message: message.into(),
            causes: vec![],
        }
    }
    pub fn internal(message: impl Into<String>) -> Self {
        ApiError::InternalError {
            message: message.into(),
        }
    }
    pub fn conflict(target: Target, message: impl Into<String>) -> Self {
        ApiError::Conflict {
            message: message.into(),
            target,
        }
    }
    /// The optimistic-concurrency conflict, with Kubernetes' wording.
    pub fn stale(target: Target) -> Self {
        let message = format!(
            "Operation cannot be fulfilled on {} \"{}\": the object has been modified; please apply your changes to the latest version and try again",
            target.qualified(),
            target.name
        );
        ApiError::Conflict { message, target }
    }
    /// A 422 with causes, worded as the real server does:
    /// `<Kind>.<group> "<name>" is invalid: <field>: <message>, ...`.
    pub fn invalid(kind: &str, target: Target, causes: Vec<Cause>) -> Self {
        let qualified_kind = if target.group.is_empty() {
            kind.to_string()
        } else {
            format!("{kind}.{}", target.group)
        };
        let detail = causes
            .iter()
            .map(|c| {
                if c.field.is_empty() {
                    c.message.clone()
                } else {
                    format!("{}: {}", c.field, c.message)
                }
            })
            .collect::<Vec<_>>();
        let detail = if detail.len() == 1 {
            detail[0].clone()
        } else {
            format!("[{}]", detail.join(", "))
        };
        let message = format!("{qualified_kind} \"{}\" is invalid: {detail}", target.name);
        ApiError::Invalid {
            message,
            target,
            kind: kind.to_string(),
            causes,
        }
    }
    pub fn method_not_allowed() -> Self {
        ApiError::MethodNotAllowed {
            message: "the server does not allow this method on the requested resource".into(),
        }
    }

    /// HTTP status code and `reason` of this error.
    pub fn status(&self) -> (StatusCode, &str) {
        match self {
            ApiError::BadRequest { .. } => (StatusCode::BAD_REQUEST, "BadRequest"),
            ApiError::Unauthorized => (StatusCode::UNAUTHORIZED, "Unauthorized"),
            ApiError::Forbidden { .. } => (StatusCode::FORBIDDEN, "Forbidden"),
            ApiError::NotFound(_) => (StatusCode::NOT_FOUND, "NotFound"),
            ApiError::AlreadyExists(_) => (StatusCode::CONFLICT, "AlreadyExists"),
            ApiError::Conflict { .. } => (StatusCode::CONFLICT, "Conflict"),
            ApiError::Gone { .. } => (StatusCode::GONE, "Gone"),
            ApiError::Expired { .. } => (StatusCode::GONE, "Expired"),
            ApiError::Invalid { .. } => (StatusCode::UNPROCESSABLE_ENTITY, "Invalid"),
            ApiError::MethodNotAllowed { .. } => {
                (StatusCode::METHOD_NOT_ALLOWED, "MethodNotAllowed")
            }
            ApiError::NotAcceptable { .. } => (StatusCode::NOT_ACCEPTABLE, "NotAcceptable"),
            ApiError::UnsupportedMediaType { .. } => {
                (StatusCode::UNSUPPORTED_MEDIA_TYPE, "UnsupportedMediaType")
            }
            ApiError::RequestEntityTooLarge { .. } => {
                (StatusCode::PAYLOAD_TOO_LARGE, "RequestEntityTooLarge")
            }
            ApiError::InternalError { .. } => (StatusCode::INTERNAL_SERVER_ERROR, "InternalError"),
            ApiError::Timeout { .. } => (StatusCode::GATEWAY_TIMEOUT, "Timeout"),
            ApiError::ServiceUnavailable { .. } => {
                (StatusCode::SERVICE_UNAVAILABLE, "ServiceUnavailable")
            }
            ApiError::Custom { code, reason, .. } => (
                StatusCode::from_u16(*code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
                reason.as_str(),
            ),
        }
    }

    /// The `metav1.Status` body for this error.
    pub fn to_status(&self) -> serde_json::Value {
        let (code, reason) = self.status();
        let mut status = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.to_string(),
            "reason": reason,
            "code": code.as_u16(),
        });
        let details = match self {
            ApiError::NotFound(t) | ApiError::AlreadyExists(t) => Some(details(t, &[])),
            ApiError::Conflict { target, .. } | ApiError::Forbidden { target, .. } => {
                Some(details(target, &[]))
            }
            ApiError::Custom { target, .. }
                if !target.kind.is_empty() || !target.name.is_empty() =>
            {
                Some(details(target, &[]))
            }
            ApiError::Invalid {
                target,
                kind,
                causes,
                ..
            } => {
                let mut d = details(target, causes);
                d["kind"] = json!(kind);
                Some(d)
            }
            ApiError::BadRequest { causes, .. } if !causes.is_empty() => {
                Some(json!({ "causes": causes }))
            }
            ApiError::InternalError { message } => {
                Some(json!({ "causes": [{ "message": message }] }))
            }
            _ => None,
        };
        if let Some(d) = details {
            status["details"] = d;
        }
        // Kubernetes omits an empty reason for 500s raised by plug-ins.
        if reason.is_empty() {
            status.as_object_mut().map(|o| o.remove("reason"));
        }
        status
    }

    /// Maps a storage error about one object.
    pub fn from_store(err: StoreError, target: Target) -> Self {
        match err {
            StoreError::AlreadyExists => ApiError::AlreadyExists(target),
            StoreError::NotFound => ApiError::NotFound(target),
            StoreError::Conflict { .. } => ApiError::stale(target),
            StoreError::Compacted { requested, .. } => ApiError::Expired {
                message: format!("too old resource version: {requested}"),
            },
            StoreError::FutureRevision { .. } => ApiError::Timeout {
                message: "Too large resource version".into(),
            },
            StoreError::Backend(m) => ApiError::internal(m),
            StoreError::Closed => ApiError::ServiceUnavailable {
                message: "the store is closed".into(),
            },
        }
    }
}

fn details(t: &Target, causes: &[Cause]) -> serde_json::Value {
    let mut d = serde_json::Map::new();
    if !t.name.is_empty() {
        d.insert("name".into(), json!(t.name));
    }
    if !t.group.is_empty() {
        d.insert("group".into(), json!(t.group));
    }
    if !t.kind.is_empty() {
        d.insert("kind".into(), json!(t.kind));
    }
    if !causes.is_empty() {
        d.insert("causes".into(), json!(causes));
    }
    serde_json::Value::Object(d)
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (code, _) = self.status();
        let body = serde_json::to_vec(&self.to_status()).unwrap_or_default();
        (
            code,
            [(axum::http::header::CONTENT_TYPE, "application/json")],
            body,
        )
            .into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn not_found_is_worded_like_kubernetes() {
        let e = ApiError::NotFound(Target::new("kubevirt.io", "virtualmachines", "vm1"));
        assert_eq!(
            e.to_string(),
            "virtualmachines.kubevirt.io \"vm1\" not found"
        );
        let s = e.to_status();
        assert_eq!(s["code"], 404);
        assert_eq!(s["reason"], "NotFound");
        assert_eq!(s["details"]["kind"], "virtualmachines");
    }

    #[test]
    fn core_group_has_no_suffix() {
        let e = ApiError::AlreadyExists(Target::new("", "pods", "p"));
        assert_eq!(e.to_string(), "pods \"p\" already exists");
        assert_eq!(e.status().0, StatusCode::CONFLICT);
    }

    #[test]
    fn invalid_lists_each_cause_with_its_field() {
        let e = ApiError::invalid(
            "VirtualMachineInstance",
            Target::new("kubevirt.io", "virtualmachineinstances", "v"),
            vec![
                Cause::invalid("spec.a", "bad a"),
                Cause::invalid("spec.b", "bad b"),
            ],
        );
        assert_eq!(
            e.to_string(),
            "VirtualMachineInstance.kubevirt.io \"v\" is invalid: [spec.a: bad a, spec.b: bad b]"
        );
        let s = e.to_status();
        assert_eq!(s["code"], 422);
        assert_eq!(s["details"]["causes"][1]["field"], "spec.b");
        assert_eq!(s["details"]["kind"], "VirtualMachineInstance");
    }

    #[test]
    fn stale_update_uses_the_real_conflict_message() {
        let e = ApiError::stale(Target::new("", "configmaps", "c"));
        assert!(
            e.to_string()
                .contains("the object has been modified; please apply your changes")
        );
        assert_eq!(e.to_status()["reason"], "Conflict");
    }
}
