//! A QMP (QEMU Machine Protocol) client: JSON lines over a unix socket.
//!
//! [`QmpClient::connect`] reads the greeting, negotiates capabilities and returns the client
//! together with the stream of asynchronous events. Commands carry ids, so replies are matched
//! to their command even when events arrive in between. When QEMU closes the connection, pending
//! commands fail with [`QmpError::Disconnected`] and the event stream ends.

use serde_json::{Value, json};
use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex as StdMutex};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::sync::{Mutex, mpsc, oneshot};

/// A QMP failure.
#[derive(Debug, thiserror::Error)]
pub enum QmpError {
    #[error("QMP connection failed: {0}")]
    Io(#[from] std::io::Error),
    #[error("QMP protocol error: {0}")]
    Protocol(String),
    #[error("QMP command {command} failed: {desc} ({class})")]
    Command {
        command: String,
        class: String,
        desc: String,
    },
    #[error("QMP connection closed")]
    Disconnected,
}

/// An asynchronous QMP event.
#[derive(Clone, Debug, PartialEq)]
pub enum QmpEvent {
    /// QEMU is shutting down; `guest` tells whether the guest asked for it, `reason` is QEMU's
    /// shutdown cause (`guest-shutdown`, `guest-reset`, `guest-panic`, `host-qmp-quit`, ...).
    Shutdown { guest: bool, reason: String },
    /// An ACPI power-button press was sent to the guest.
    Powerdown,
    /// The guest was reset.
    Reset { guest: bool, reason: String },
    /// The vCPUs stopped.
    Stop,
    /// The vCPUs resumed.
    Resume,
    /// The guest reported a panic; `action` is what QEMU does about it.
    GuestPanicked { action: String },
    /// Any other event.
    Other { name: String, data: Value },
}

impl QmpEvent {
    fn parse(name: &str, data: Value) -> QmpEvent {
        let text = |key: &str| {
            data.get(key)
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string()
        };
        let flag = |key: &str| data.get(key).and_then(Value::as_bool).unwrap_or(false);
        match name {
            "SHUTDOWN" => QmpEvent::Shutdown {
                guest: flag("guest"),
                reason: text("reason"),
            },
            "POWERDOWN" => QmpEvent::Powerdown,
            "RESET" => QmpEvent::Reset {
                guest: flag("guest"),
                reason: text("reason"),
            },
            "STOP" => QmpEvent::Stop,
            "RESUME" => QmpEvent::Resume,
            "GUEST_PANICKED" => QmpEvent::GuestPanicked {
                action: text("action"),
            },
            _ => QmpEvent::Other {
                name: name.to_string(),
                data,
            },
        }
    }
}

/// The answer to `query-status`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunStatus {
    pub running: bool,
    /// QEMU's run state: `running`, `paused`, `prelaunch`, `io-error`, `shutdown`, ...
    pub status: String,
}

type Reply = Result<Value, QmpError>;
type Pending = Arc<StdMutex<HashMap<u64, (String, oneshot::Sender<Reply>)>>>;

/// A connected QMP client. Cloning is cheap; all clones share the connection.
#[derive(Clone)]
pub struct QmpClient {
    writer: Arc<Mutex<Box<dyn AsyncWrite + Send + Unpin>>>,
    pending: Pending,
    next_id: Arc<AtomicU64>,
}

impl QmpClient {
    /// Connects to a QMP unix socket and negotiates capabilities.
    pub async fn connect(
        path: &Path,
    ) -> Result<(QmpClient, mpsc::UnboundedReceiver<QmpEvent>), QmpError> {
        let stream = crate::sockpath::connect(path).await?;
        QmpClient::handshake(stream).await
    }

    /// Runs the QMP handshake on an already connected stream.
    pub async fn handshake<S>(
        stream: S,
    ) -> Result<(QmpClient, mpsc::UnboundedReceiver<QmpEvent>), QmpError>
    where
        S: AsyncRead + AsyncWrite + Send + 'static,
    {
        let (read, write) = tokio::io::split(stream);
        let mut lines = BufReader::new(read).lines();
        let greeting = lines.next_line().await?.ok_or(QmpError::Disconnected)?;
        let greeting: Value = serde_json::from_str(&greeting)
            .map_err(|e| QmpError::Protocol(format!("bad greeting: {e}")))?;
        if greeting.get("QMP").is_none() {
            return Err(QmpError::Protocol(format!(
                "expected a QMP greeting, got {greeting}"
            )));
        }
        let pending: Pending = Arc::default();
        let (events_tx, events_rx) = mpsc::unbounded_channel();
        let reader_pending = pending.clone();
        tokio::spawn(async move {
            loop {
                let line = match lines.next_line().await {
                    Ok(Some(line)) => line,
                    Ok(None) | Err(_) => break,
                };
                let Ok(msg) = serde_json::from_str::<Value>(&line) else {
                    continue;
                };
                if let Some(name) = msg.get("event").and_then(Value::as_str) {
                    let data = msg.get("data").cloned().unwrap_or(Value::Null);
                    // The receiver may be gone; events are then simply dropped.
                    let _ = events_tx.send(QmpEvent::parse(name, data));
                    continue;
                }
                let Some(id) = msg.get("id").and_then(Value::as_u64) else {
                    continue;
                };
                let Some((command, reply)) = reader_pending.lock().expect("lock").remove(&id)
                else {
                    continue;
                };
                let result = match (msg.get("return"), msg.get("error")) {
                    (Some(ret), _) => Ok(ret.clone()),
                    (None, Some(err)) => Err(QmpError::Command {
                        command,
                        class: err["class"].as_str().unwrap_or("").to_string(),
                        desc: err["desc"].as_str().unwrap_or("").to_string(),
                    }),
                    (None, None) => Err(QmpError::Protocol(format!("unexpected reply {msg}"))),
                };
                let _ = reply.send(result);
            }
            for (_, (_, reply)) in reader_pending.lock().expect("lock").drain() {
                let _ = reply.send(Err(QmpError::Disconnected));
            }
        });
        let client = QmpClient {
            writer: Arc::new(Mutex::new(Box::new(write))),
            pending,
            next_id: Arc::new(AtomicU64::new(1)),
        };
        client.execute("qmp_capabilities", None).await?;
        Ok((client, events_rx))
    }

    /// Runs a command and returns its `return` value.
    pub async fn execute(&self, command: &str, arguments: Option<Value>) -> Reply {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        self.pending
            .lock()
            .expect("lock")
            .insert(id, (command.to_string(), tx));
        let mut msg = json!({"execute": command, "id": id});
        if let Some(arguments) = arguments {
            msg["arguments"] = arguments;
        }
        let mut line = msg.to_string();
        line.push('\n');
        let written = {
            let mut writer = self.writer.lock().await;
            match writer.write_all(line.as_bytes()).await {
                Ok(()) => writer.flush().await,
                Err(e) => Err(e),
            }
        };
        if let Err(e) = written {
            self.pending.lock().expect("lock").remove(&id);
            return Err(if e.kind() == std::io::ErrorKind::BrokenPipe {
                QmpError::Disconnected
            } else {
                QmpError::Io(e)
            });
        }
        rx.await.unwrap_or(Err(QmpError::Disconnected))
    }

    /// `query-status`.
    pub async fn query_status(&self) -> Result<RunStatus, QmpError> {
        let v = self.execute("query-status", None).await?;
        Ok(RunStatus {
            running: v["running"].as_bool().unwrap_or(false),
            status: v["status"].as_str().unwrap_or("").to_string(),
        })
    }

    /// `stop`: pauses the vCPUs.
    pub async fn stop(&self) -> Result<(), QmpError> {
        self.execute("stop", None).await.map(drop)
    }

    /// `cont`: resumes the vCPUs.
    pub async fn cont(&self) -> Result<(), QmpError> {
        self.execute("cont", None).await.map(drop)
    }

    /// `system_powerdown`: presses the ACPI power button.
    pub async fn system_powerdown(&self) -> Result<(), QmpError> {
        self.execute("system_powerdown", None).await.map(drop)
    }

    /// `system_reset`: a hard reset of the machine.
    pub async fn system_reset(&self) -> Result<(), QmpError> {
        self.execute("system_reset", None).await.map(drop)
    }

    /// `set-action` of the shutdown action: `poweroff` (QEMU's default: a guest power-off ends
    /// QEMU) or `pause` (QEMU stops the vCPUs in the `shutdown` run state and stays).
    pub async fn set_shutdown_action(&self, action: &str) -> Result<(), QmpError> {
        self.execute("set-action", Some(json!({"shutdown": action})))
            .await
            .map(drop)
    }

    /// `quit`: QEMU exits at once. A connection closed before the reply counts as success.
    pub async fn quit(&self) -> Result<(), QmpError> {
        match self.execute("quit", None).await {
            Ok(_) | Err(QmpError::Disconnected) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// `screendump`: writes the display as a PPM file at `path` (as QEMU resolves it).
    pub async fn screendump(&self, path: &Path) -> Result<(), QmpError> {
        self.execute(
            "screendump",
            Some(json!({"filename": path.to_string_lossy()})),
        )
        .await
        .map(drop)
    }

    /// `human-monitor-command`: runs an HMP command line and returns its output (empty when
    /// an HMP command such as `hostfwd_add` succeeded; HMP reports its errors as output).
    pub async fn human_monitor_command(&self, command_line: &str) -> Result<String, QmpError> {
        let value = self
            .execute(
                "human-monitor-command",
                Some(json!({"command-line": command_line})),
            )
            .await?;
        Ok(value.as_str().unwrap_or_default().to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    use tokio::net::UnixStream;

    /// A fake QEMU: greets, then answers each command with `reply(command)` lines.
    async fn fake_qemu(
        server: UnixStream,
        reply: impl Fn(&Value) -> Vec<Value> + Send + 'static,
    ) -> Vec<Value> {
        let (read, mut write) = server.into_split();
        write
            .write_all(b"{\"QMP\": {\"version\": {}, \"capabilities\": [\"oob\"]}}\n")
            .await
            .unwrap();
        let mut lines = BufReader::new(read).lines();
        let mut seen = Vec::new();
        while let Ok(Some(line)) = lines.next_line().await {
            let cmd: Value = serde_json::from_str(&line).unwrap();
            for out in reply(&cmd) {
                let mut text = out.to_string();
                text.push('\n');
                if write.write_all(text.as_bytes()).await.is_err() {
                    break;
                }
            }
            let quit = cmd["execute"] == "quit";
            seen.push(cmd);
            if quit {
                break;
            }
        }
        seen
    }

    #[tokio::test]
    async fn commands_are_matched_to_replies_across_events() {
        let (client_end, server_end) = UnixStream::pair().unwrap();
        let server = tokio::spawn(fake_qemu(server_end, |cmd| {
            let id = cmd["id"].clone();
            match cmd["execute"].as_str().unwrap() {
                "query-status" => vec![
                    json!({"event": "STOP", "timestamp": {}}),
                    json!({"return": {"running": false, "status": "paused"}, "id": id}),
                ],
                "system_powerdown" => vec![
                    json!({"return": {}, "id": id}),
                    json!({"event": "POWERDOWN"}),
                    json!({"event": "SHUTDOWN", "data": {"guest": true, "reason": "guest-shutdown"}}),
                ],
                "cont" => {
                    vec![json!({"error": {"class": "GenericError", "desc": "nope"}, "id": id})]
                }
                _ => vec![json!({"return": {}, "id": id})],
            }
        }));
        let (qmp, mut events) = QmpClient::handshake(client_end).await.unwrap();
        assert_eq!(
            qmp.query_status().await.unwrap(),
            RunStatus {
                running: false,
                status: "paused".into()
            }
        );
        assert_eq!(events.recv().await, Some(QmpEvent::Stop));
        qmp.system_powerdown().await.unwrap();
        assert_eq!(events.recv().await, Some(QmpEvent::Powerdown));
        assert_eq!(
            events.recv().await,
            Some(QmpEvent::Shutdown {
                guest: true,
                reason: "guest-shutdown".into()
            })
        );
        let err = qmp.cont().await.unwrap_err();
        assert_eq!(
            err.to_string(),
            "QMP command cont failed: nope (GenericError)"
        );
        qmp.quit().await.unwrap();
        let seen = server.await.unwrap();
        let names: Vec<&str> = seen
            .iter()
            .map(|c| c["execute"].as_str().unwrap())
            .collect();
        assert_eq!(
            names,
            [
                "qmp_capabilities",
                "query-status",
                "system_powerdown",
                "cont",
                "quit"
            ]
        );
        let ids: Vec<u64> = seen.iter().map(|c| c["id"].as_u64().unwrap()).collect();
        let mut unique = ids.clone();
        unique.dedup();
        assert_eq!(unique.len(), ids.len());
    }

    #[tokio::test]
    async fn a_closed_connection_fails_pending_commands_and_ends_events() {
        let (client_end, server_end) = UnixStream::pair().unwrap();
        let server = tokio::spawn(fake_qemu(server_end, |cmd| match cmd["execute"].as_str() {
            Some("qmp_capabilities") => vec![json!({"return": {}, "id": cmd["id"]})],
            // Never answers: the connection closes when the fake returns.
            _ => vec![],
        }));
        let (qmp, mut events) = QmpClient::handshake(client_end).await.unwrap();
        let status = tokio::spawn({
            let qmp = qmp.clone();
            async move { qmp.query_status().await }
        });
        // `quit` ends the fake, which drops its end of the socket.
        qmp.quit().await.unwrap();
        server.await.unwrap();
        assert!(matches!(status.await.unwrap(), Err(QmpError::Disconnected)));
        assert_eq!(events.recv().await, None);
    }

    #[tokio::test]
    async fn a_peer_that_is_not_qmp_is_refused() {
        let (client_end, mut server_end) = UnixStream::pair().unwrap();
        server_end.write_all(b"{\"hello\": 1}\n").await.unwrap();
        let err = QmpClient::handshake(client_end).await.err().unwrap();
        assert!(matches!(err, QmpError::Protocol(_)), "{err}");
    }
}
