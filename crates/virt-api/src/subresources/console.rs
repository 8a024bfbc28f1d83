//! `console`, `vnc` and `vnc/screenshot` of a VirtualMachineInstance.
//!
//! The console and VNC are websockets (subprotocol `plain.kubevirt.io`) whose binary messages
//! carry the raw byte stream of the node's serial console or VNC server. Everything is
//! validated and the node stream opened before the upgrade, so refusals are ordinary HTTP
//! `Status` answers. The server pings the client periodically and closes a connection that
//! stays silent too long; when the node stream ends (for example because a newer console
//! session evicted this one) the websocket is closed, which clients read as EOF.

use std::time::Duration;

use api::{VirtualMachineInstance, VirtualMachineInstancePhase};
use axum::body::{Body, Bytes};
use axum::extract::FromRequestParts;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::response::{IntoResponse, Response};
use futures::{SinkExt, StreamExt};
use http::{Request, StatusCode, header};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::Ctx;
use super::error::{Kind, SubresourceError, VMI_NOT_RUNNING};
use crate::node::{Duplex, NodeGateway};

/// The websocket subprotocol of KubeVirt's raw streams.
pub const PLAIN_STREAM_PROTOCOL: &str = "plain.kubevirt.io";
/// How often the server pings a stream client.
const PING_INTERVAL: Duration = Duration::from_secs(10);
/// A client that sends nothing (not even a pong) for this long is disconnected.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(60);
/// Largest chunk read from the node stream into one message.
const CHUNK: usize = 32 * 1024;

fn vmi_name(vmi: &VirtualMachineInstance) -> &str {
    vmi.metadata.name.as_deref().unwrap_or_default()
}

/// Checks that `vmi` has a serial console to connect to.
pub fn validate_console(vmi: &VirtualMachineInstance) -> Result<(), SubresourceError> {
    if vmi.spec.domain.devices.autoattach_serial_console == Some(false) {
        return Err(SubresourceError::BadRequest(
            "No serial consoles are present.".into(),
        ));
    }
    match vmi.phase() {
        VirtualMachineInstancePhase::Failed => Err(SubresourceError::conflict(
            Kind::Vmi,
            vmi_name(vmi),
            "VMI is in failed status",
        )),
        VirtualMachineInstancePhase::Running => Ok(()),
        _ => Err(SubresourceError::BadRequest(VMI_NOT_RUNNING.into())),
    }
}

/// Checks that `vmi` has a display (VNC and screenshots).
pub fn validate_vnc(vmi: &VirtualMachineInstance) -> Result<(), SubresourceError> {
    if vmi.spec.domain.devices.autoattach_graphics_device == Some(false) {
        return Err(SubresourceError::BadRequest(
            "No graphics devices are present.".into(),
        ));
    }
    if vmi.phase() != VirtualMachineInstancePhase::Running {
        return Err(SubresourceError::BadRequest(VMI_NOT_RUNNING.into()));
    }
    Ok(())
}

/// Reads the websocket upgrade out of the request, or 400.
pub(crate) async fn upgrade_of(
    request: Request<Body>,
) -> Result<WebSocketUpgrade, SubresourceError> {
    let (mut parts, _body) = request.into_parts();
    WebSocketUpgrade::from_request_parts(&mut parts, &())
        .await
        .map_err(|e| SubresourceError::BadRequest(e.body_text()))
}

/// Answers the upgrade and bridges the websocket to `stream`.
pub(crate) fn bridge_response(
    upgrade: WebSocketUpgrade,
    stream: Box<dyn Duplex>,
    vmi: String,
) -> Response {
    upgrade
        .protocols([PLAIN_STREAM_PROTOCOL])
        .on_upgrade(move |socket| async move {
            if let Err(e) = bridge(socket, stream).await {
                tracing::debug!(%vmi, error = %e, "stream ended with an error");
            }
        })
}

/// Copies websocket messages to `stream` and `stream` to binary messages until either side
/// ends. An end of the node stream closes the websocket; a closed websocket shuts the stream's
/// write side down.
pub async fn bridge(socket: WebSocket, stream: Box<dyn Duplex>) -> std::io::Result<()> {
    let (mut ws_tx, mut ws_rx) = socket.split();
    let (mut rd, mut wr) = tokio::io::split(stream);
    let mut ping = tokio::time::interval(PING_INTERVAL);
    ping.tick().await;
    let mut last_seen = tokio::time::Instant::now();
    let mut buf = vec![0u8; CHUNK];
    let ws_err = |e: axum::Error| std::io::Error::other(e.to_string());
    loop {
        tokio::select! {
            read = rd.read(&mut buf) => {
                let n = read?;
                if n == 0 {
                    let _ = ws_tx.send(Message::Close(None)).await;
                    return Ok(());
                }
                ws_tx
                    .send(Message::Binary(Bytes::copy_from_slice(&buf[..n])))
                    .await
                    .map_err(ws_err)?;
            }
            message = ws_rx.next() => {
                last_seen = tokio::time::Instant::now();
                match message {
                    Some(Ok(Message::Binary(data))) => wr.write_all(&data).await?,
                    Some(Ok(Message::Text(text))) => wr.write_all(text.as_bytes()).await?,
                    Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
                    Some(Ok(Message::Close(_))) | None => {
                        let _ = wr.shutdown().await;
                        return Ok(());
                    }
                    Some(Err(e)) => {
                        let _ = wr.shutdown().await;
                        return Err(ws_err(e));
                    }
                }
            }
            _ = ping.tick() => {
                if last_seen.elapsed() > CLIENT_TIMEOUT {
                    let _ = wr.shutdown().await;
                    let _ = ws_tx.send(Message::Close(None)).await;
                    return Ok(());
                }
                ws_tx
                    .send(Message::Ping(Bytes::from_static(b"keep alive")))
                    .await
                    .map_err(ws_err)?;
            }
        }
    }
}

/// `GET .../virtualmachineinstances/{name}/console` (websocket).
pub(crate) async fn console(
    ctx: &Ctx,
    node: &dyn NodeGateway,
    request: Request<Body>,
) -> Result<Response, SubresourceError> {
    let vmi = ctx.vmi().await?;
    validate_console(&vmi)?;
    let upgrade = upgrade_of(request).await?;
    let stream = node.console(&vmi).await?;
    Ok(bridge_response(upgrade, stream, ctx.name().to_owned()))
}

/// `GET .../virtualmachineinstances/{name}/vnc` (websocket). Upstream's `preserveSession`
/// query parameter is not passed on: the node gateway decides how sessions are shared.
pub(crate) async fn vnc(
    ctx: &Ctx,
    node: &dyn NodeGateway,
    request: Request<Body>,
) -> Result<Response, SubresourceError> {
    let vmi = ctx.vmi().await?;
    validate_vnc(&vmi)?;
    let upgrade = upgrade_of(request).await?;
    let stream = node.vnc(&vmi).await?;
    Ok(bridge_response(upgrade, stream, ctx.name().to_owned()))
}

/// `GET .../virtualmachineinstances/{name}/vnc/screenshot`: a PNG. Upstream's `moveCursor`
/// query parameter is not passed on.
pub(crate) async fn screenshot(
    ctx: &Ctx,
    node: &dyn NodeGateway,
) -> Result<Response, SubresourceError> {
    let vmi = ctx.vmi().await?;
    validate_vnc(&vmi)?;
    let png = node.screenshot(&vmi).await?;
    Ok((StatusCode::OK, [(header::CONTENT_TYPE, "image/png")], png).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;
    use api::{VirtualMachineInstanceSpec, VirtualMachineInstanceStatus};
    use apiserver::ApiError;

    fn vmi(phase: VirtualMachineInstancePhase) -> VirtualMachineInstance {
        let mut vmi = VirtualMachineInstance::new("v", VirtualMachineInstanceSpec::default());
        vmi.status = Some(VirtualMachineInstanceStatus {
            phase: Some(phase),
            ..Default::default()
        });
        vmi
    }

    fn seen(r: Result<(), SubresourceError>) -> (u16, String) {
        let e = ApiError::from(r.unwrap_err());
        (e.status().0.as_u16(), e.to_string())
    }

    #[test]
    fn console_validation_matrix() {
        use VirtualMachineInstancePhase::*;
        let mut detached = vmi(Running);
        detached.spec.domain.devices.autoattach_serial_console = Some(false);
        assert_eq!(
            seen(validate_console(&detached)),
            (400, "No serial consoles are present.".into())
        );
        let (code, message) = seen(validate_console(&vmi(Failed)));
        assert_eq!(code, 409);
        assert!(message.ends_with("VMI is in failed status"));
        assert_eq!(
            seen(validate_console(&vmi(Scheduled))),
            (400, "VMI is not running".into())
        );
        assert!(validate_console(&vmi(Running)).is_ok());
    }

    #[test]
    fn vnc_validation_matrix() {
        use VirtualMachineInstancePhase::*;
        let mut headless = vmi(Running);
        headless.spec.domain.devices.autoattach_graphics_device = Some(false);
        assert_eq!(
            seen(validate_vnc(&headless)),
            (400, "No graphics devices are present.".into())
        );
        assert_eq!(
            seen(validate_vnc(&vmi(Succeeded))),
            (400, "VMI is not running".into())
        );
        assert!(validate_vnc(&vmi(Running)).is_ok());
    }
}
