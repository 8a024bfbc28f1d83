//! The serial console: QEMU's serial chardev socket is owned by the launcher, which appends
//! everything the guest prints to `serial.log` and relays it to at most one console session.
//! A new session evicts the previous one, whose connection is shut down (it reads EOF).

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixListener;
use tokio::net::unix::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::Mutex;
use tokio::task::JoinHandle;

/// A client that does not take console output for this long is disconnected, so that a stuck
/// client cannot stall the guest's serial port.
const SESSION_WRITE_TIMEOUT: Duration = Duration::from_secs(5);

struct Session {
    id: u64,
    writer: OwnedWriteHalf,
    input: JoinHandle<()>,
}

impl Session {
    async fn close(mut self) {
        self.input.abort();
        let _ = self.writer.shutdown().await;
    }
}

/// The console relay between the serial chardev and console sessions.
#[derive(Clone)]
pub(crate) struct Console {
    session: Arc<Mutex<Option<Session>>>,
    serial_in: Arc<Mutex<OwnedWriteHalf>>,
    next_id: Arc<AtomicU64>,
}

impl Console {
    /// Starts relaying the serial chardev (connected as `serial`) to `log` and to sessions
    /// accepted on `listener`. The tasks end when the chardev closes (QEMU exited).
    pub(crate) async fn start(
        serial: tokio::net::UnixStream,
        log: &Path,
        listener: UnixListener,
    ) -> std::io::Result<(Console, JoinHandle<()>)> {
        let (serial_out, serial_in) = serial.into_split();
        let log = tokio::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .await?;
        let console = Console {
            session: Arc::default(),
            serial_in: Arc::new(Mutex::new(serial_in)),
            next_id: Arc::default(),
        };
        let pump = tokio::spawn(console.clone().pump(serial_out, log));
        let accept = tokio::spawn(console.clone().accept(listener));
        let done = tokio::spawn(async move {
            let _ = pump.await;
            accept.abort();
        });
        Ok((console, done))
    }

    async fn pump(self, mut serial_out: OwnedReadHalf, mut log: tokio::fs::File) {
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            let n = match serial_out.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            let chunk = &buf[..n];
            let _ = log.write_all(chunk).await;
            let _ = log.flush().await;
            let mut slot = self.session.lock().await;
            if let Some(session) = slot.as_mut() {
                let sent =
                    tokio::time::timeout(SESSION_WRITE_TIMEOUT, session.writer.write_all(chunk))
                        .await;
                if !matches!(sent, Ok(Ok(())))
                    && let Some(s) = slot.take()
                {
                    s.close().await;
                }
            }
        }
        if let Some(s) = self.session.lock().await.take() {
            s.close().await;
        }
    }

    async fn accept(self, listener: UnixListener) {
        while let Ok((stream, _)) = listener.accept().await {
            let id = self.next_id.fetch_add(1, Ordering::Relaxed);
            let (reader, writer) = stream.into_split();
            let input = tokio::spawn(self.clone().input(id, reader));
            let old = self
                .session
                .lock()
                .await
                .replace(Session { id, writer, input });
            if let Some(old) = old {
                old.close().await;
            }
        }
    }

    /// Relays what a session types to the guest's serial port.
    async fn input(self, id: u64, mut reader: OwnedReadHalf) {
        let mut buf = vec![0u8; 4096];
        loop {
            let n = match reader.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            let mut serial = self.serial_in.lock().await;
            if serial.write_all(&buf[..n]).await.is_err() {
                break;
            }
        }
        let mut slot = self.session.lock().await;
        if slot.as_ref().is_some_and(|s| s.id == id) {
            // Closing would abort this very task; shut the writer down directly.
            if let Some(mut s) = slot.take() {
                let _ = s.writer.shutdown().await;
            }
        }
    }
}
