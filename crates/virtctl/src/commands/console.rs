//! `console`: the serial console of a VirtualMachineInstance on this terminal.
//!
//! As upstream: the connection is retried every second while the server answers 400 (the VMI
//! is not running yet) until `--timeout` minutes have passed; the terminal is switched to raw
//! mode while attached; Ctrl+] (byte 0x1d) or the end of standard input leaves; a server that
//! closes the stream (for example because another session took the console over) ends the
//! session quietly, a connection lost without a close is reported.

use std::io::{IsTerminal, Read};
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::mpsc;

use super::{CommandError, Connection, Ctx};
use crate::cli::ConsoleArgs;
use crate::stream::{self, PumpError, StreamError, Ws};

/// Ctrl+] leaves the console.
pub const ESCAPE: u8 = 0x1d;
const RETRY: Duration = Duration::from_secs(1);

/// The part of a chunk of input to send, and whether the user asked to leave.
pub fn split_escape(chunk: &[u8]) -> (&[u8], bool) {
    match chunk.iter().position(|b| *b == ESCAPE) {
        Some(i) => (&chunk[..i], true),
        None => (chunk, false),
    }
}

/// Connects to the console, retrying while the server answers 400, for at most `timeout`
/// (one attempt when `timeout` is zero).
pub async fn connect_with_retry(
    conn: &Connection,
    vmi: &str,
    timeout: Duration,
) -> Result<Ws, StreamError> {
    let connect = || {
        stream::connect(
            &conn.client,
            &conn.namespace,
            "virtualmachineinstances",
            vmi,
            "console",
            "",
        )
    };
    if timeout.is_zero() {
        return connect().await;
    }
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if tokio::time::Instant::now() >= deadline {
            return Err(StreamError {
                status: 0,
                message: "Timeout trying to connect to the virtual machine instance".into(),
            });
        }
        match connect().await {
            Err(e) if e.status == 400 => tokio::time::sleep(RETRY).await,
            other => return other,
        }
    }
}

/// Restores the terminal when dropped.
struct RawMode;

impl RawMode {
    fn enable() -> Result<Option<RawMode>, CommandError> {
        if !std::io::stdin().is_terminal() {
            return Ok(None);
        }
        crossterm::terminal::enable_raw_mode()
            .map_err(|e| CommandError::failed(format!("make raw terminal failed: {e}")))?;
        Ok(Some(RawMode))
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        if let Err(e) = crossterm::terminal::disable_raw_mode() {
            eprintln!("failed to restore terminal: {e}");
        }
    }
}

/// Reads standard input on its own thread (reads block), stopping at Ctrl+] or the end.
fn stdin_chunks() -> mpsc::Receiver<std::io::Result<Bytes>> {
    let (tx, rx) = mpsc::channel(16);
    std::thread::spawn(move || {
        let mut stdin = std::io::stdin();
        let mut buf = [0u8; 1024];
        loop {
            match stdin.read(&mut buf) {
                Ok(0) => return,
                Ok(n) => {
                    let (data, leave) = split_escape(&buf[..n]);
                    if !data.is_empty()
                        && tx.blocking_send(Ok(Bytes::copy_from_slice(data))).is_err()
                    {
                        return;
                    }
                    if leave {
                        return;
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => {
                    let _ = tx.blocking_send(Err(e));
                    return;
                }
            }
        }
    });
    rx
}

/// Copies the terminal to the console and back until one side ends.
async fn attach(ws: Ws, vmi: &str) -> Result<(), CommandError> {
    let _raw = RawMode::enable()?;
    eprintln!("Successfully connected to {vmi} console. Press Ctrl+] or Ctrl+5 to exit console.");
    let mut rx = stdin_chunks();
    let input = futures::stream::poll_fn(move |cx| rx.poll_recv(cx));
    let result = tokio::select! {
        r = stream::pump(ws, input, tokio::io::stdout()) => r,
        _ = tokio::signal::ctrl_c() => Ok(stream::Ended::InputClosed),
    };
    match result {
        Ok(_) => Ok(()),
        Err(PumpError::Abnormal) => {
            eprint!(
                "\nYou were disconnected from the console. This could be caused by one of the following:\n - the target VM was powered off\n - another user connected to the console of the target VM\n - network issues\n"
            );
            Err(CommandError::failed(PumpError::Abnormal.to_string()))
        }
        Err(e) => Err(CommandError::failed(e.to_string())),
    }
}

pub async fn run(ctx: &Ctx, a: ConsoleArgs) -> Result<(), CommandError> {
    let vmi = &a.args[0];
    let conn = ctx
        .connect()
        .await
        .map_err(|e| CommandError::failed(format!("cannot obtain KubeVirt client: {e}")))?;
    let minutes = u64::try_from(a.timeout).unwrap_or(0);
    let timeout = Duration::from_secs(minutes * 60);
    let ws = tokio::select! {
        r = connect_with_retry(conn, vmi, timeout) => r.map_err(|e| CommandError::failed(e.to_string()))?,
        _ = tokio::signal::ctrl_c() => {
            println!();
            return Ok(());
        }
    };
    attach(ws, vmi).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_ends_input_and_keeps_what_came_before() {
        assert_eq!(split_escape(b"ls\r"), (&b"ls\r"[..], false));
        assert_eq!(split_escape(b"ab\x1dcd"), (&b"ab"[..], true));
        assert_eq!(split_escape(b"\x1d"), (&b""[..], true));
    }
}
