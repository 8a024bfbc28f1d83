//! A small KubeVirt client over `kube::Client`: the subresource calls of upstream's `kubecli`,
//! the few reads and writes virtctl needs, and errors worded as client-go words them (a
//! `Status` answer gives its message; a transport failure gives `Put "<url>": <cause>`).

use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request, StatusCode, header};
use http_body_util::BodyExt;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::clientconfig::ClientConfig;

/// API group of the KubeVirt subresources.
pub const SUBRESOURCE_GROUP: &str = "subresources.kubevirt.io";
/// Version of the subresources virtctl calls.
pub const SUBRESOURCE_VERSION: &str = "v1";

#[derive(Debug, Clone, thiserror::Error)]
pub enum ClientError {
    /// The server answered with an error status.
    #[error("{message}")]
    Status {
        code: u16,
        reason: String,
        message: String,
    },
    /// The request could not be sent or its answer not read.
    #[error("{method} \"{url}\": {detail}")]
    Transport {
        method: String,
        url: String,
        detail: String,
    },
    /// The answer could not be decoded.
    #[error("{0}")]
    Decode(String),
}

impl ClientError {
    /// The HTTP status of a server error.
    pub fn code(&self) -> Option<u16> {
        match self {
            ClientError::Status { code, .. } => Some(*code),
            _ => None,
        }
    }

    /// True for a 404 answer (client-go's `errors.IsNotFound`).
    pub fn is_not_found(&self) -> bool {
        matches!(self, ClientError::Status { reason, code, .. } if reason == "NotFound" || *code == 404)
    }
}

/// What a request is about, for client-go's generic error messages (`(put
/// virtualmachines.kubevirt.io vm)`).
#[derive(Debug, Clone, Copy, Default)]
pub struct Target<'a> {
    /// `plural.group` of the resource.
    pub resource: &'a str,
    pub name: &'a str,
}

/// client-go's message for an error answer that carries no `Status`.
fn generic_message(code: u16, method: &Method, body: &str, target: Target<'_>) -> (String, String) {
    let (reason, message) = match code {
        400 => ("BadRequest", "the server rejected our request for an unknown reason".to_owned()),
        401 => ("Unauthorized", "Unauthorized".to_owned()),
        403 => ("Forbidden", "the server does not allow access to the requested resource".to_owned()),
        404 => ("NotFound", "the server could not find the requested resource".to_owned()),
        405 => ("MethodNotAllowed", "the server does not allow this method on the requested resource".to_owned()),
        406 => ("NotAcceptable", "the server was unable to respond with a content type that the client supports".to_owned()),
        409 => ("Conflict", "the server reported a conflict".to_owned()),
        410 => ("Gone", "the server has asked for the client to try again later".to_owned()),
        413 => ("RequestEntityTooLarge", "the server has rejected the request due to its size".to_owned()),
        415 => ("UnsupportedMediaType", "the server does not support the media type of the request".to_owned()),
        422 => ("Invalid", "the server rejected our request due to an error in our request".to_owned()),
        429 => ("TooManyRequests", "the server has received too many requests and has asked us to try again later".to_owned()),
        500 => {
            let detail = if body.trim().is_empty() { "unknown" } else { body.trim() };
            ("InternalError", format!("an error on the server ({detail:?}) has prevented the request from succeeding"))
        }
        503 => ("ServiceUnavailable", "the server is currently unable to handle the request".to_owned()),
        504 => ("Timeout", "the server was unable to return a response in the time allotted, but may still be processing the request".to_owned()),
        _ => ("Unknown", format!("the server responded with the status code {code} but did not return more information")),
    };
    let message = if target.resource.is_empty() || target.name.is_empty() {
        message
    } else {
        format!(
            "{message} ({} {} {})",
            method.as_str().to_ascii_lowercase(),
            target.resource,
            target.name
        )
    };
    (reason.to_owned(), message)
}

/// The error of a non-2xx answer: the `Status` it carries, else client-go's generic message.
pub fn status_error(code: u16, method: &Method, body: &[u8], target: Target<'_>) -> ClientError {
    if let Ok(v) = serde_json::from_slice::<Value>(body)
        && v.get("kind").and_then(Value::as_str) == Some("Status")
    {
        let message = v.get("message").and_then(Value::as_str).unwrap_or_default();
        let reason = v.get("reason").and_then(Value::as_str).unwrap_or_default();
        let code = v
            .get("code")
            .and_then(Value::as_u64)
            .and_then(|c| u16::try_from(c).ok())
            .unwrap_or(code);
        return ClientError::Status {
            code,
            reason: reason.to_owned(),
            message: message.to_owned(),
        };
    }
    let (reason, message) = generic_message(code, method, &String::from_utf8_lossy(body), target);
    ClientError::Status {
        code,
        reason,
        message,
    }
}

/// Describes a transport failure as Go's net package would where it can
/// (`dial tcp 127.0.0.1:6443: connect: connection refused`), else the error chain.
pub fn describe_transport(err: &(dyn std::error::Error + 'static), authority: &str) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = cur {
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            match io.kind() {
                std::io::ErrorKind::ConnectionRefused => {
                    return format!("dial tcp {authority}: connect: connection refused");
                }
                std::io::ErrorKind::TimedOut => {
                    return format!("dial tcp {authority}: i/o timeout");
                }
                _ => {}
            }
        }
        let text = e.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        cur = e.source();
    }
    parts.join(": ")
}

/// A client of one API server.
#[derive(Clone)]
pub struct VirtClient {
    client: kube::Client,
    base_url: String,
    authority: String,
    timeout: Option<Duration>,
}

impl VirtClient {
    /// A client for `config`.
    pub fn new(config: &ClientConfig) -> Result<Self, ClientError> {
        let base_url = config
            .config
            .cluster_url
            .to_string()
            .trim_end_matches('/')
            .to_owned();
        let authority = config
            .config
            .cluster_url
            .authority()
            .map(|a| a.to_string())
            .unwrap_or_default();
        let client = kube::Client::try_from(config.config.clone())
            .map_err(|e| ClientError::Decode(e.to_string()))?;
        Ok(VirtClient {
            client,
            base_url,
            authority,
            timeout: config.request_timeout,
        })
    }

    /// The underlying kube client (for websocket upgrades).
    pub fn kube(&self) -> &kube::Client {
        &self.client
    }

    /// The full URL of `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    pub(crate) fn transport_error(
        &self,
        method: &Method,
        path: &str,
        e: &kube::Error,
    ) -> ClientError {
        let detail = match e {
            kube::Error::HyperError(h) => describe_transport(h, &self.authority),
            kube::Error::Service(s) => describe_transport(s.as_ref(), &self.authority),
            other => describe_transport(other, &self.authority),
        };
        ClientError::Transport {
            method: title_case(method.as_str()),
            url: self.url(path),
            detail,
        }
    }

    /// Sends a request and returns the status and body of a successful answer.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Vec<u8>>,
        target: Target<'_>,
    ) -> Result<(StatusCode, Bytes), ClientError> {
        let mut builder = Request::builder()
            .method(method.clone())
            .uri(path)
            .header(header::ACCEPT, "application/json, */*");
        if body.is_some() {
            builder = builder.header(header::CONTENT_TYPE, "application/json");
        }
        let request = builder
            .body(kube::client::Body::from(body.unwrap_or_default()))
            .map_err(|e| ClientError::Decode(e.to_string()))?;
        let exchange = async {
            let response = self
                .client
                .send(request)
                .await
                .map_err(|e| self.transport_error(&method, path, &e))?;
            let status = response.status();
            let bytes = response
                .into_body()
                .collect()
                .await
                .map_err(|e| ClientError::Transport {
                    method: title_case(method.as_str()),
                    url: self.url(path),
                    detail: e.to_string(),
                })?
                .to_bytes();
            Ok::<_, ClientError>((status, bytes))
        };
        let (status, bytes) = match self.timeout {
            Some(limit) => tokio::time::timeout(limit, exchange).await.map_err(|_| {
                ClientError::Transport {
                    method: title_case(method.as_str()),
                    url: self.url(path),
                    detail: "context deadline exceeded".into(),
                }
            })??,
            None => exchange.await?,
        };
        if status.is_success() {
            Ok((status, bytes))
        } else {
            Err(status_error(status.as_u16(), &method, &bytes, target))
        }
    }

    async fn get_json<T: DeserializeOwned>(
        &self,
        path: &str,
        target: Target<'_>,
    ) -> Result<T, ClientError> {
        let (_, body) = self.call(Method::GET, path, None, target).await?;
        serde_json::from_slice(&body).map_err(|e| ClientError::Decode(e.to_string()))
    }

    /// `PUT` a subresource of a VM or VMI with a JSON body (or none).
    pub async fn put_subresource<B: Serialize>(
        &self,
        ns: &str,
        plural: &str,
        name: &str,
        sub: &str,
        body: Option<&B>,
    ) -> Result<(), ClientError> {
        let body = body
            .map(serde_json::to_vec)
            .transpose()
            .map_err(|e| ClientError::Decode(format!("cannot Marshal to json: {e}")))?;
        let path = subresource_path(ns, plural, name, sub);
        let resource = format!("{plural}.kubevirt.io");
        self.call(
            Method::PUT,
            &path,
            body,
            Target {
                resource: &resource,
                name,
            },
        )
        .await
        .map(drop)
    }

    /// `GET` a subresource and return the raw answer.
    pub async fn get_subresource(
        &self,
        ns: &str,
        plural: &str,
        name: &str,
        sub: &str,
        query: &str,
    ) -> Result<Bytes, ClientError> {
        let mut path = subresource_path(ns, plural, name, sub);
        if !query.is_empty() {
            path.push('?');
            path.push_str(query);
        }
        let resource = format!("{plural}.kubevirt.io");
        self.call(
            Method::GET,
            &path,
            None,
            Target {
                resource: &resource,
                name,
            },
        )
        .await
        .map(|(_, b)| b)
    }

    /// Reads a kubevirt.io/v1 object.
    pub async fn get_kubevirt<T: DeserializeOwned>(
        &self,
        ns: &str,
        plural: &str,
        name: &str,
    ) -> Result<T, ClientError> {
        let path = format!("/apis/kubevirt.io/v1/namespaces/{ns}/{plural}/{name}");
        let resource = format!("{plural}.kubevirt.io");
        self.get_json(
            &path,
            Target {
                resource: &resource,
                name,
            },
        )
        .await
    }

    /// Lists kubevirt.io/v1 objects matching a label selector.
    pub async fn list_kubevirt(
        &self,
        ns: &str,
        plural: &str,
        label_selector: &str,
    ) -> Result<Vec<Value>, ClientError> {
        let selector = percent_encoding::utf8_percent_encode(label_selector, QUERY).to_string();
        let path =
            format!("/apis/kubevirt.io/v1/namespaces/{ns}/{plural}?labelSelector={selector}");
        let list: Value = self.get_json(&path, Target::default()).await?;
        Ok(list
            .get("items")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default())
    }

    /// Deletes a kubevirt.io/v1 object.
    pub async fn delete_kubevirt(
        &self,
        ns: &str,
        plural: &str,
        name: &str,
        dry_run: bool,
    ) -> Result<(), ClientError> {
        let mut path = format!("/apis/kubevirt.io/v1/namespaces/{ns}/{plural}/{name}");
        let mut options = serde_json::json!({"kind": "DeleteOptions", "apiVersion": "v1"});
        if dry_run {
            options["dryRun"] = serde_json::json!(["All"]);
            path.push_str("?dryRun=All");
        }
        let resource = format!("{plural}.kubevirt.io");
        let body = serde_json::to_vec(&options).map_err(|e| ClientError::Decode(e.to_string()))?;
        self.call(
            Method::DELETE,
            &path,
            Some(body),
            Target {
                resource: &resource,
                name,
            },
        )
        .await
        .map(drop)
    }

    /// Creates a core/v1 Service.
    pub async fn create_service(&self, ns: &str, service: &Value) -> Result<Value, ClientError> {
        let path = format!("/api/v1/namespaces/{ns}/services");
        let body = serde_json::to_vec(service).map_err(|e| ClientError::Decode(e.to_string()))?;
        let (_, answer) = self
            .call(Method::POST, &path, Some(body), Target::default())
            .await?;
        serde_json::from_slice(&answer).map_err(|e| ClientError::Decode(e.to_string()))
    }

    /// KubeVirt's version (`GET /apis/subresources.kubevirt.io/v1/version`).
    pub async fn server_version(&self) -> Result<crate::version::Info, ClientError> {
        let path = format!("/apis/{SUBRESOURCE_GROUP}/{SUBRESOURCE_VERSION}/version");
        self.get_json(&path, Target::default()).await
    }
}

/// Characters escaped in query values.
const QUERY: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// `/apis/subresources.kubevirt.io/v1/namespaces/{ns}/{plural}/{name}/{sub}`.
pub fn subresource_path(ns: &str, plural: &str, name: &str, sub: &str) -> String {
    format!("/apis/{SUBRESOURCE_GROUP}/{SUBRESOURCE_VERSION}/namespaces/{ns}/{plural}/{name}/{sub}")
}

/// `PUT` → `Put`, as Go's `net/http` names methods in errors.
fn title_case(method: &str) -> String {
    let lower = method.to_ascii_lowercase();
    let mut chars = lower.chars();
    match chars.next() {
        Some(first) => first.to_ascii_uppercase().to_string() + chars.as_str(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_answers_give_their_message() {
        let body = br#"{"kind":"Status","apiVersion":"v1","status":"Failure","message":"Operation cannot be fulfilled on virtualmachine.kubevirt.io \"vm\": VM is already running","reason":"Conflict","code":409}"#;
        let e = status_error(409, &Method::PUT, body, Target::default());
        assert_eq!(e.code(), Some(409));
        assert_eq!(
            e.to_string(),
            "Operation cannot be fulfilled on virtualmachine.kubevirt.io \"vm\": VM is already running"
        );
    }

    #[test]
    fn bare_answers_get_client_go_generic_messages() {
        let target = Target {
            resource: "virtualmachineinstances.kubevirt.io",
            name: "v",
        };
        let e = status_error(404, &Method::PUT, b"404 page not found", target);
        assert!(e.is_not_found());
        assert_eq!(
            e.to_string(),
            "the server could not find the requested resource (put virtualmachineinstances.kubevirt.io v)"
        );
        let e = status_error(500, &Method::GET, b"boom", Target::default());
        assert_eq!(
            e.to_string(),
            "an error on the server (\"boom\") has prevented the request from succeeding"
        );
    }

    #[test]
    fn connection_refused_reads_like_go() {
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
        assert_eq!(
            describe_transport(&io, "127.0.0.1:1"),
            "dial tcp 127.0.0.1:1: connect: connection refused"
        );
        let e = ClientError::Transport {
            method: title_case("PUT"),
            url: "https://h/x".into(),
            detail: "oops".into(),
        };
        assert_eq!(e.to_string(), "Put \"https://h/x\": oops");
    }

    #[test]
    fn subresource_paths_follow_kubecli() {
        assert_eq!(
            subresource_path("ns", "virtualmachines", "vm", "start"),
            "/apis/subresources.kubevirt.io/v1/namespaces/ns/virtualmachines/vm/start"
        );
    }
}
