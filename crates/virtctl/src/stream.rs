//! KubeVirt's byte streams (serial console, VNC, port forwarding): a websocket with the
//! `plain.kubevirt.io` subprotocol whose binary messages carry the raw bytes.
//!
//! kube-rs's websocket helper only speaks the `v4/v5.channel.k8s.io` protocols, so the upgrade
//! is made here: the request goes through `kube::Client::send` (keeping the kubeconfig's
//! authentication and TLS), then the upgraded connection becomes a websocket. Refusals are
//! worded as upstream's `AsyncSubresourceHelper` words them: the message of the `Status` the
//! server answers, else `Can't connect to websocket (<code>): websocket: bad handshake`.

use std::io;

use bytes::Bytes;
use futures::{SinkExt, Stream, StreamExt};
use http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::handshake::client::generate_key;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::Role;
use tokio_tungstenite::tungstenite::{self, Message};

use crate::client::{VirtClient, describe_transport, subresource_path};

/// The websocket subprotocol of KubeVirt's raw streams.
pub const PLAIN_STREAM_PROTOCOL: &str = "plain.kubevirt.io";

/// An open stream.
pub type Ws = WebSocketStream<TokioIo<hyper::upgrade::Upgraded>>;

/// A refused or failed stream connection (upstream's `AsyncSubresourceError`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct StreamError {
    /// The HTTP status of a refusal, 0 when there was no answer.
    pub status: u16,
    pub message: String,
}

/// How a stream ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// The local input reached its end (or the user left).
    InputClosed,
    /// The server closed the stream.
    RemoteClosed,
}

/// Why a stream broke while in use.
#[derive(Debug, thiserror::Error)]
pub enum PumpError {
    /// The connection was lost without a websocket close (upstream's wording).
    #[error("websocket: close 1006 (abnormal closure): unexpected EOF")]
    Abnormal,
    #[error("{0}")]
    Io(#[from] io::Error),
    #[error("{0}")]
    Websocket(String),
}

/// The error text of a refused upgrade, as upstream's `EnrichError` builds it.
pub fn refusal_message(status: StatusCode, content_type: &str, body: &[u8]) -> String {
    let base = format!(
        "Can't connect to websocket ({}): websocket: bad handshake",
        status.as_u16()
    );
    if body.is_empty() {
        return base;
    }
    if content_type.contains("application/json") {
        if let Ok(v) = serde_json::from_slice::<Value>(body)
            && v.get("kind").and_then(Value::as_str) == Some("Status")
            && v.get("status").and_then(Value::as_str) != Some("Success")
        {
            return v
                .get("message")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned();
        }
        return base;
    }
    if content_type.contains("text/plain") {
        return format!(
            "{base}: application info: {}",
            String::from_utf8_lossy(body)
        );
    }
    base
}

/// Opens the stream of subresource `sub` (`console`, `vnc`, `portforward/22/tcp`) of a VM or
/// VMI.
pub async fn connect(
    client: &VirtClient,
    ns: &str,
    plural: &str,
    name: &str,
    sub: &str,
    query: &str,
) -> Result<Ws, StreamError> {
    let mut path = subresource_path(ns, plural, name, sub);
    if !query.is_empty() {
        path.push('?');
        path.push_str(query);
    }
    let key = generate_key();
    let request = Request::get(&path)
        .header(header::CONNECTION, "Upgrade")
        .header(header::UPGRADE, "websocket")
        .header(header::SEC_WEBSOCKET_VERSION, "13")
        .header(header::SEC_WEBSOCKET_KEY, &key)
        .header(header::SEC_WEBSOCKET_PROTOCOL, PLAIN_STREAM_PROTOCOL)
        .body(kube::client::Body::empty())
        .map_err(|e| StreamError {
            status: 0,
            message: format!("unable to create request for remote execution: {e}"),
        })?;
    let response = client.kube().send(request).await.map_err(|e| {
        let authority = client
            .url("")
            .split("://")
            .nth(1)
            .unwrap_or_default()
            .to_owned();
        let detail = match &e {
            kube::Error::HyperError(h) => describe_transport(h, &authority),
            kube::Error::Service(s) => describe_transport(s.as_ref(), &authority),
            other => describe_transport(other, &authority),
        };
        StreamError {
            status: 0,
            message: format!("Can't connect to websocket: {detail}"),
        }
    })?;
    let status = response.status();
    if status != StatusCode::SWITCHING_PROTOCOLS {
        let content_type = response
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let body = response
            .into_body()
            .collect()
            .await
            .map(|b| b.to_bytes())
            .unwrap_or_default();
        return Err(StreamError {
            status: status.as_u16(),
            message: refusal_message(status, &content_type, &body),
        });
    }
    let accepted = response
        .headers()
        .get(header::SEC_WEBSOCKET_ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if accepted != derive_accept_key(key.as_bytes()) {
        return Err(StreamError {
            status: status.as_u16(),
            message: "Can't connect to websocket: websocket: bad handshake".into(),
        });
    }
    let upgraded = hyper::upgrade::on(response)
        .await
        .map_err(|e| StreamError {
            status: 0,
            message: format!("Can't connect to websocket: {e}"),
        })?;
    Ok(WebSocketStream::from_raw_socket(TokioIo::new(upgraded), Role::Client, None).await)
}

/// Chunks read from `reader` until its end.
pub fn read_chunks<R: AsyncRead + Unpin>(
    reader: R,
) -> impl Stream<Item = io::Result<Bytes>> + Unpin {
    Box::pin(futures::stream::unfold(
        (reader, vec![0u8; 32 * 1024]),
        |(mut reader, mut buf)| async move {
            match reader.read(&mut buf).await {
                Ok(0) => None,
                Ok(n) => Some((Ok(Bytes::copy_from_slice(&buf[..n])), (reader, buf))),
                Err(e) => Some((Err(e), (reader, buf))),
            }
        },
    ))
}

/// Copies `input` into the stream and the stream into `output` until either ends.
pub async fn pump<S, W>(mut ws: Ws, mut input: S, mut output: W) -> Result<Ended, PumpError>
where
    S: Stream<Item = io::Result<Bytes>> + Unpin,
    W: AsyncWrite + Unpin,
{
    loop {
        tokio::select! {
            chunk = input.next() => match chunk {
                Some(Ok(bytes)) => {
                    if let Err(e) = ws.send(Message::Binary(bytes)).await {
                        return Err(websocket_error(e));
                    }
                }
                Some(Err(e)) => {
                    let _ = ws.close(None).await;
                    return Err(PumpError::Io(e));
                }
                None => {
                    let _ = ws.close(None).await;
                    return Ok(Ended::InputClosed);
                }
            },
            message = ws.next() => match message {
                Some(Ok(Message::Binary(data))) => {
                    output.write_all(&data).await?;
                    output.flush().await?;
                }
                Some(Ok(Message::Close(_))) | None => {
                    output.flush().await?;
                    return Ok(Ended::RemoteClosed);
                }
                // Only binary messages carry stream data; pings are answered by the library.
                Some(Ok(_)) => {}
                Some(Err(e)) => {
                    output.flush().await?;
                    return match e {
                        tungstenite::Error::ConnectionClosed => Ok(Ended::RemoteClosed),
                        e => Err(websocket_error(e)),
                    };
                }
            },
        }
    }
}

fn websocket_error(e: tungstenite::Error) -> PumpError {
    match e {
        tungstenite::Error::Protocol(
            tungstenite::error::ProtocolError::ResetWithoutClosingHandshake,
        )
        | tungstenite::Error::AlreadyClosed => PumpError::Abnormal,
        tungstenite::Error::Io(io) if io.kind() == io::ErrorKind::UnexpectedEof => {
            PumpError::Abnormal
        }
        tungstenite::Error::Io(io) => PumpError::Io(io),
        other => PumpError::Websocket(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_carry_the_status_message() {
        let body = br#"{"kind":"Status","apiVersion":"v1","status":"Failure","message":"VMI is not running","reason":"BadRequest","code":400}"#;
        assert_eq!(
            refusal_message(StatusCode::BAD_REQUEST, "application/json", body),
            "VMI is not running"
        );
        assert_eq!(
            refusal_message(
                StatusCode::NOT_FOUND,
                "text/plain; charset=utf-8",
                b"404 page not found"
            ),
            "Can't connect to websocket (404): websocket: bad handshake: application info: 404 page not found"
        );
        assert_eq!(
            refusal_message(StatusCode::FORBIDDEN, "", b""),
            "Can't connect to websocket (403): websocket: bad handshake"
        );
    }
}
