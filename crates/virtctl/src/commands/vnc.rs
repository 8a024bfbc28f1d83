//! `vnc`: a local TCP proxy to the VNC stream of a VirtualMachineInstance, with a viewer started
//! on it (or, with `--proxy-only`, the port printed as `{"port":N}` for a viewer of your own);
//! and `vnc screenshot`, a PNG of the display.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;
use tokio::net::TcpListener;

use super::{CommandError, Connection, Ctx};
use crate::cli::{ScreenshotArgs, VncArgs};
use crate::stream;

/// How long a started viewer has to connect.
const LISTEN_TIMEOUT: Duration = Duration::from_secs(60);
const REMOTE_VIEWER: &str = "remote-viewer";
const TIGER_VNC: &str = "vncviewer";
const MACOS_CHICKEN_VNC: &str = "/Applications/Chicken.app/Contents/MacOS/Chicken";
const MACOS_REAL_VNC: &str = "/Applications/VNC Viewer.app/Contents/MacOS/vncviewer";

/// Finds an executable on `$PATH` (or checks a path containing a slash).
pub fn look_path(bin: &str) -> Result<PathBuf, String> {
    use std::os::unix::fs::PermissionsExt;
    let executable = |p: &Path| {
        std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    };
    if bin.contains('/') {
        return if executable(Path::new(bin)) {
            Ok(PathBuf::from(bin))
        } else {
            Err(format!("exec: {bin:?}: executable file not found in $PATH"))
        };
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|dir| dir.join(bin))
        .find(|candidate| executable(candidate))
        .ok_or_else(|| format!("exec: {bin:?}: executable file not found in $PATH"))
}

/// The viewer arguments for a proxy on `address:port`.
fn viewer_args(kind: &str, address: &str, port: u16) -> Vec<String> {
    let verbose = crate::log::enabled(4);
    match kind {
        "remote-viewer" => {
            let mut args = vec![format!("vnc://127.0.0.1:{port}")];
            if verbose {
                args.push("--debug".into());
            }
            args
        }
        "real" => {
            let mut args = vec![
                format!("{address}:{port}"),
                "-WarnUnencrypted=0".into(),
                "-Shared=0".into(),
                "-ShareFiles=0".into(),
            ];
            if verbose {
                args.push("-log=*:stderr:100".into());
            }
            args
        }
        "tiger" => {
            let mut args = vec![format!("{address}:{port}")];
            if verbose {
                args.push("Log=*:stderr:100".into());
            }
            args
        }
        _ => vec![format!("{address}:{port}")],
    }
}

/// The viewer to start and its arguments: `--vnc-path`/`--vnc-type` when given, else
/// remote-viewer or TigerVNC's vncviewer from `$PATH`.
pub fn choose_viewer(
    vnc_type: &str,
    vnc_path: &str,
    address: &str,
    port: u16,
) -> Result<(PathBuf, Vec<String>), String> {
    let os = std::env::consts::OS;
    if vnc_type.is_empty() {
        return match os {
            "linux" | "windows" => {
                if let Ok(p) = look_path(REMOTE_VIEWER) {
                    Ok((p, viewer_args("remote-viewer", address, port)))
                } else if let Ok(p) = look_path(TIGER_VNC) {
                    Ok((p, viewer_args("tiger", address, port)))
                } else {
                    Err(format!(
                        "could not find {REMOTE_VIEWER} or {TIGER_VNC} binary in $PATH"
                    ))
                }
            }
            other => Err(format!("virtctl does not support VNC on {other}")),
        };
    }
    let binary = if !vnc_path.is_empty() {
        if !Path::new(vnc_path).exists() {
            return Err(format!("specified VNC path does not exist: {vnc_path}"));
        }
        PathBuf::from(vnc_path)
    } else {
        let bin = match vnc_type {
            "tiger" => TIGER_VNC,
            "remote-viewer" => REMOTE_VIEWER,
            "chicken" => MACOS_CHICKEN_VNC,
            "real" => MACOS_REAL_VNC,
            other => return Err(format!("unsupported vnc-type: {other}")),
        };
        look_path(bin).map_err(|e| format!("could not find {bin} in $PATH: {e}"))?
    };
    let supported: &[&str] = match os {
        "macos" => &["tiger", "chicken", "real", "remote-viewer"],
        "linux" | "windows" => &["tiger", "remote-viewer"],
        other => return Err(format!("virtctl does not support VNC on {other}")),
    };
    if !supported.contains(&vnc_type) {
        return Err(format!("unsupported vnc-type for {os}: {vnc_type}"));
    }
    Ok((binary, viewer_args(vnc_type, address, port)))
}

/// Upstream's warning when the display of a paused VMI will stay still.
async fn warn_if_paused(conn: &Connection, vmi: &str) {
    let Ok(object) = conn
        .client
        .get_kubevirt::<Value>(&conn.namespace, "virtualmachineinstances", vmi)
        .await
    else {
        return;
    };
    let paused = object
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .is_some_and(|c| {
            c.iter()
                .any(|c| c.get("type").and_then(Value::as_str) == Some("Paused"))
        });
    if paused {
        eprint!("\rWarning: {vmi} is paused. Console will be active after unpause.\n");
    }
}

pub async fn run(ctx: &Ctx, a: VncArgs) -> Result<(), CommandError> {
    let conn = ctx.connect().await?;
    let vmi = &a.args[0];
    let query = format!("preserveSession={}", a.preserve_session);
    let ws = stream::connect(
        &conn.client,
        &conn.namespace,
        "virtualmachineinstances",
        vmi,
        "vnc",
        &query,
    )
    .await
    .map_err(|e| CommandError::failed(format!("can't access VMI {vmi}: {e}")))?;
    let address = if a.proxy_only {
        a.address.clone()
    } else {
        "127.0.0.1".to_owned()
    };
    let port = u16::try_from(a.port).map_err(|_| {
        CommandError::failed(format!(
            "can't resolve the address: address {}: invalid port",
            a.port
        ))
    })?;
    let listener = TcpListener::bind((address.as_str(), port))
        .await
        .map_err(|e| CommandError::failed(format!("can't listen on unix socket: {e}")))?;
    let port = listener
        .local_addr()
        .map_err(|e| CommandError::failed(format!("error encountered: {e}")))?
        .port();
    let (done_tx, mut done_rx) = tokio::sync::mpsc::channel::<Result<(), String>>(4);
    if a.proxy_only {
        println!("{}", serde_json::json!({ "port": port }));
    } else {
        let viewer = choose_viewer(&a.vnc_type, &a.vnc_path, &address, port);
        let tx = done_tx.clone();
        tokio::spawn(async move {
            let result = match viewer {
                Err(e) => Err(e),
                Ok((bin, args)) => {
                    crate::log::info(
                        "vnc",
                        4,
                        &format!("Executing commandline: '{} {args:?}'", bin.display()),
                    );
                    match tokio::process::Command::new(&bin)
                        .args(&args)
                        .kill_on_drop(true)
                        .output()
                        .await
                    {
                        Ok(out) if out.status.success() => Ok(()),
                        Ok(out) => {
                            let status = out
                                .status
                                .code()
                                .map_or("signal".to_owned(), |c| format!("exit status {c}"));
                            crate::log::error(
                                "vnc",
                                &format!(
                                    "{} execution failed: {status}, output: {}",
                                    bin.display(),
                                    String::from_utf8_lossy(&out.stdout)
                                        + String::from_utf8_lossy(&out.stderr)
                                ),
                            );
                            Err(status)
                        }
                        Err(e) => Err(e.to_string()),
                    }
                }
            };
            let _ = tx.send(result).await;
        });
    }
    let proxy_only = a.proxy_only;
    let vmi_name = vmi.clone();
    let conn_for_warning = conn.clone();
    let tx = done_tx.clone();
    tokio::spawn(async move {
        let accepted = if proxy_only {
            listener.accept().await.map_err(|e| e.to_string())
        } else {
            match tokio::time::timeout(LISTEN_TIMEOUT, listener.accept()).await {
                Ok(r) => r.map_err(|e| e.to_string()),
                Err(_) => Err(format!("accept tcp {address}:{port}: i/o timeout")),
            }
        };
        let (socket, _) = match accepted {
            Ok(s) => s,
            Err(e) => {
                let _ = tx.send(Err(e)).await;
                return;
            }
        };
        warn_if_paused(&conn_for_warning, &vmi_name).await;
        let (read, write) = socket.into_split();
        let result = stream::pump(ws, stream::read_chunks(read), write)
            .await
            .map(drop)
            .map_err(|e| e.to_string());
        let _ = tx.send(result).await;
    });
    drop(done_tx);
    let outcome = tokio::select! {
        r = done_rx.recv() => r.unwrap_or(Ok(())),
        _ = tokio::signal::ctrl_c() => Ok(()),
    };
    outcome.map_err(|e| CommandError::failed(format!("error encountered: {e}")))
}

pub async fn screenshot(ctx: &Ctx, a: ScreenshotArgs) -> Result<(), CommandError> {
    let conn = ctx.connect().await?;
    let vmi = &a.args[0];
    let query = format!("moveCursor={}", a.move_cursor);
    let png = conn
        .client
        .get_subresource(
            &conn.namespace,
            "virtualmachineinstances",
            vmi,
            "vnc/screenshot",
            &query,
        )
        .await
        .map_err(|e| CommandError::failed(format!("Can't access VMI {vmi}: {e}")))?;
    let file = a.file.unwrap_or_default();
    if file == "-" {
        use std::io::Write;
        std::io::stdout()
            .write_all(&png)
            .and_then(|()| std::io::stdout().flush())
            .map_err(|e| CommandError::failed(format!("failed to write image to stdout: {e}")))?;
    } else {
        std::fs::write(&file, &png).map_err(|e| {
            CommandError::failed(format!("Can't write image to a file: open {file}: {e}"))
        })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn viewers_get_upstream_arguments() {
        assert_eq!(
            viewer_args("remote-viewer", "127.0.0.1", 5900),
            ["vnc://127.0.0.1:5900"]
        );
        assert_eq!(viewer_args("tiger", "127.0.0.1", 5900), ["127.0.0.1:5900"]);
    }

    #[test]
    fn unknown_viewer_types_and_paths_are_refused() {
        assert_eq!(
            choose_viewer("bogus", "", "127.0.0.1", 1).unwrap_err(),
            "unsupported vnc-type: bogus"
        );
        assert_eq!(
            choose_viewer("tiger", "/nonexistent/viewer", "127.0.0.1", 1).unwrap_err(),
            "specified VNC path does not exist: /nonexistent/viewer"
        );
        let sh = look_path("sh").unwrap();
        assert!(sh.is_absolute());
        assert!(
            look_path("no-such-binary-here")
                .unwrap_err()
                .contains("executable file not found")
        );
    }
}
