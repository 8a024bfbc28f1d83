//! The node driver's side of a launcher: start it detached, reattach to it, control it.
//!
//! A launcher is identified by its run directory. Everything about it can be recovered from
//! that directory alone, so a node driver that restarts reattaches with
//! [`LauncherClient::connect`] and finds the same QEMU process (same PID), or reads why the
//! guest ended with [`read_state_file`].

use crate::control::{ControlRequest, ControlResponse};
use crate::spec::{self, LaunchSpec};
use crate::state::{DomainState, StateFile};
use base64::Engine;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::UnixStream;

/// Environment variable naming the launcher binary, overriding the search of
/// [`LauncherCommand::find`].
pub const LAUNCHER_BIN_ENV: &str = "VIRT_LAUNCHER_BIN";

/// How long [`LauncherClient::spawn`] waits for the launcher to serve its control socket.
pub const SPAWN_TIMEOUT: Duration = Duration::from_secs(30);

/// A launcher operation failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("cannot {what} {path}: {source}")]
    Io {
        what: &'static str,
        path: String,
        source: std::io::Error,
    },
    #[error(
        "the virt-launcher binary was not found (build it with `cargo build -p virt-launcher` or set {LAUNCHER_BIN_ENV})"
    )]
    BinaryNotFound,
    #[error("the guest failed to start: {0}")]
    LaunchFailed(String),
    #[error("no launcher is running in {run_dir}")]
    NotRunning {
        run_dir: String,
        /// The last recorded state, when there is one.
        last: Option<Box<StateFile>>,
    },
    #[error("a launcher (PID {pid}) already runs in {run_dir}")]
    AlreadyRunning { run_dir: String, pid: u32 },
    #[error("the launcher refused {command}: {message}")]
    Refused { command: String, message: String },
    #[error("the launcher sent a bad response: {0}")]
    Protocol(String),
    #[error("timed out waiting for {0}")]
    Timeout(String),
}

fn io(what: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> ClientError {
    let path = path.display().to_string();
    move |source| ClientError::Io { what, path, source }
}

/// How to run a launcher: a program and the arguments that come before `--run-dir <dir>`
/// (empty for the `virt-launcher` binary; e.g. `["launcher"]` for a binary that exposes
/// [`crate::cli::main`] as a subcommand).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LauncherCommand {
    pub program: PathBuf,
    pub args: Vec<String>,
}

impl LauncherCommand {
    /// The `virt-launcher` binary at `path`.
    pub fn binary(path: impl Into<PathBuf>) -> LauncherCommand {
        LauncherCommand {
            program: path.into(),
            args: Vec::new(),
        }
    }

    /// Finds `virt-launcher`: [`LAUNCHER_BIN_ENV`], else next to the current executable or
    /// one directory up (where Cargo puts binaries relative to test executables), else `PATH`.
    pub fn find() -> Result<LauncherCommand, ClientError> {
        if let Some(path) = std::env::var_os(LAUNCHER_BIN_ENV) {
            return Ok(LauncherCommand::binary(path));
        }
        if let Ok(exe) = std::env::current_exe() {
            for dir in exe.ancestors().skip(1).take(2) {
                let candidate = dir.join("virt-launcher");
                if candidate.is_file() {
                    return Ok(LauncherCommand::binary(candidate));
                }
            }
        }
        std::env::var_os("PATH")
            .into_iter()
            .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
            .map(|d| d.join("virt-launcher"))
            .find(|p| p.is_file())
            .map(LauncherCommand::binary)
            .ok_or(ClientError::BinaryNotFound)
    }
}

/// A handle on the launcher of one run directory. Cheap: it holds only the path; every call
/// opens its own connection.
#[derive(Clone, Debug)]
pub struct LauncherClient {
    run_dir: PathBuf,
}

impl LauncherClient {
    /// Writes `launch.json`, starts the launcher found by [`LauncherCommand::find`] detached,
    /// and waits until it serves its control socket (QEMU is running or paused).
    pub async fn spawn(run_dir: &Path, spec: &LaunchSpec) -> Result<LauncherClient, ClientError> {
        Self::spawn_with(run_dir, spec, &LauncherCommand::find()?).await
    }

    /// Like [`LauncherClient::spawn`] with an explicit launcher command.
    ///
    /// Refuses ([`ClientError::AlreadyRunning`]) when a live launcher already owns `run_dir`.
    ///
    /// The launcher runs in its own session (through `setsid --fork` from util-linux), with
    /// its standard streams appended to `<run-dir>/launcher.log`; it is not a child of the
    /// caller, so the caller may exit or be killed without affecting the guest. Fails with
    /// [`ClientError::LaunchFailed`] when QEMU could not be started, with the reason.
    pub async fn spawn_with(
        run_dir: &Path,
        spec: &LaunchSpec,
        command: &LauncherCommand,
    ) -> Result<LauncherClient, ClientError> {
        std::fs::create_dir_all(run_dir).map_err(io("create", run_dir))?;
        let run_dir = std::fs::canonicalize(run_dir).map_err(io("resolve", run_dir))?;
        if let Ok(file) = StateFile::read(&run_dir)
            && !file.state.is_final()
            && crate::process::is_alive(file.launcher_pid)
        {
            return Err(ClientError::AlreadyRunning {
                run_dir: run_dir.display().to_string(),
                pid: file.launcher_pid,
            });
        }
        for stale in [spec::STATE_FILE, spec::CONTROL_SOCKET, spec::CONSOLE_SOCKET] {
            let _ = std::fs::remove_file(run_dir.join(stale));
        }
        let launch = run_dir.join(spec::LAUNCH_FILE);
        let tmp = run_dir.join(format!(".{}.tmp", spec::LAUNCH_FILE));
        let bytes = serde_json::to_vec_pretty(spec).expect("launch spec serializes");
        std::fs::write(&tmp, bytes).map_err(io("write", &tmp))?;
        std::fs::rename(&tmp, &launch).map_err(io("write", &launch))?;

        let log_path = run_dir.join(spec::LAUNCHER_LOG);
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .map_err(io("open", &log_path))?;
        let log2 = log.try_clone().map_err(io("open", &log_path))?;
        let mut cmd = std::process::Command::new("setsid");
        cmd.arg("--fork")
            .arg(&command.program)
            .args(&command.args)
            .arg("--run-dir")
            .arg(&run_dir)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log2);
        // `setsid --fork` exits as soon as the launcher is forked off; waiting for it leaves
        // no zombie behind.
        let status = tokio::task::spawn_blocking(move || cmd.status())
            .await
            .map_err(|e| ClientError::Protocol(e.to_string()))?
            .map_err(io("run setsid for", &command.program))?;
        if !status.success() {
            return Err(ClientError::LaunchFailed(format!(
                "setsid exited with {status}"
            )));
        }

        let client = LauncherClient {
            run_dir: run_dir.clone(),
        };
        let deadline = tokio::time::Instant::now() + SPAWN_TIMEOUT;
        loop {
            if client.request(ControlRequest::Status).await.is_ok() {
                return Ok(client);
            }
            if let Ok(file) = StateFile::read(&run_dir) {
                if file.state.is_final() {
                    return Err(ClientError::LaunchFailed(
                        file.message.unwrap_or_else(|| format!("{:?}", file.state)),
                    ));
                }
                if !crate::process::is_alive(file.launcher_pid) {
                    return Err(ClientError::LaunchFailed(launcher_log_tail(&run_dir)));
                }
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(ClientError::Timeout(format!(
                    "the launcher in {} ({})",
                    run_dir.display(),
                    launcher_log_tail(&run_dir)
                )));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Reattaches to the launcher of `run_dir`. A launcher that is still starting QEMU is
    /// waited for (up to [`SPAWN_TIMEOUT`]). Fails with [`ClientError::NotRunning`] (with the
    /// last recorded state) when no launcher runs there.
    pub async fn connect(run_dir: &Path) -> Result<LauncherClient, ClientError> {
        let client = LauncherClient {
            run_dir: run_dir.to_path_buf(),
        };
        let deadline = tokio::time::Instant::now() + SPAWN_TIMEOUT;
        loop {
            match client.request(ControlRequest::Status).await {
                Ok(_) | Err(ClientError::Refused { .. }) => return Ok(client),
                Err(_) => {}
            }
            let last = StateFile::read(run_dir).ok();
            let starting = last
                .as_ref()
                .is_some_and(|f| !f.state.is_final() && crate::process::is_alive(f.launcher_pid));
            if !starting || tokio::time::Instant::now() >= deadline {
                return Err(ClientError::NotRunning {
                    run_dir: run_dir.display().to_string(),
                    last: last.map(Box::new),
                });
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Reads `<run_dir>/state.json` (see [`read_state_file`]).
    pub fn read_state_file(run_dir: &Path) -> Result<StateFile, crate::state::StateError> {
        read_state_file(run_dir)
    }

    /// True when a process with this PID exists and is not a zombie (see [`is_alive`]).
    pub fn is_alive(pid: u32) -> bool {
        is_alive(pid)
    }

    /// The run directory.
    pub fn run_dir(&self) -> &Path {
        &self.run_dir
    }

    async fn request(&self, request: ControlRequest) -> Result<ControlResponse, ClientError> {
        let path = self.run_dir.join(spec::CONTROL_SOCKET);
        let not_running = |_| ClientError::NotRunning {
            run_dir: self.run_dir.display().to_string(),
            last: None,
        };
        let stream = crate::sockpath::connect(&path).await.map_err(not_running)?;
        let (read, mut write) = stream.into_split();
        let mut line = serde_json::to_string(&request).expect("json");
        line.push('\n');
        write
            .write_all(line.as_bytes())
            .await
            .map_err(not_running)?;
        let reply = BufReader::new(read)
            .lines()
            .next_line()
            .await
            .map_err(not_running)?
            .ok_or_else(|| ClientError::NotRunning {
                run_dir: self.run_dir.display().to_string(),
                last: None,
            })?;
        let response: ControlResponse =
            serde_json::from_str(&reply).map_err(|e| ClientError::Protocol(e.to_string()))?;
        if response.ok {
            Ok(response)
        } else {
            Err(ClientError::Refused {
                command: serde_json::to_value(request).expect("json")["command"]
                    .as_str()
                    .unwrap_or("")
                    .to_string(),
                message: response.error.unwrap_or_default(),
            })
        }
    }

    /// The full state record (PIDs, state, timestamps) as the launcher sees it now.
    pub async fn info(&self) -> Result<StateFile, ClientError> {
        self.request(ControlRequest::Status)
            .await?
            .status
            .ok_or_else(|| ClientError::Protocol("status response without status".into()))
    }

    /// The domain state.
    pub async fn status(&self) -> Result<DomainState, ClientError> {
        Ok(self.info().await?.state)
    }

    /// Pauses the vCPUs (idempotent). Returns once the domain is paused.
    pub async fn pause(&self) -> Result<(), ClientError> {
        self.request(ControlRequest::Pause).await.map(drop)
    }

    /// Resumes the vCPUs (idempotent). Returns once the domain runs.
    pub async fn unpause(&self) -> Result<(), ClientError> {
        self.request(ControlRequest::Unpause).await.map(drop)
    }

    /// Presses the ACPI power button. Returns at once; the guest decides whether and when to
    /// power off. Resend to insist.
    pub async fn shutdown(&self) -> Result<(), ClientError> {
        self.request(ControlRequest::Shutdown).await.map(drop)
    }

    /// Soft reboot through ACPI: presses the power button and returns; the guest's power-off
    /// then resets the machine and the domain stays alive (see [`crate::supervisor::reboot`]).
    /// Refused with "VMI neither have the agent connected nor the ACPI feature enabled" when
    /// the VMI disables ACPI; under `rebootPolicy: Terminate` the guest's power-off ends it.
    pub async fn reboot(&self) -> Result<(), ClientError> {
        self.request(ControlRequest::Reboot).await.map(drop)
    }

    /// Presses the reset button: a hard reset of the machine, the guest OS is not asked (with
    /// `rebootPolicy: Terminate` QEMU then ends).
    pub async fn reset(&self) -> Result<(), ClientError> {
        self.request(ControlRequest::Reset).await.map(drop)
    }

    /// Kills QEMU and waits (up to 10 s) for the launcher to record the final state, which it
    /// returns (`Shutoff{Destroyed}` unless the guest ended otherwise first).
    pub async fn kill(&self) -> Result<DomainState, ClientError> {
        match self.request(ControlRequest::Kill).await {
            Ok(_) | Err(ClientError::Refused { .. }) | Err(ClientError::NotRunning { .. }) => {}
            Err(e) => return Err(e),
        }
        Ok(self.wait_final(Duration::from_secs(10)).await?.state)
    }

    /// Waits until the state file records a final state (or the launcher is gone) and returns
    /// it.
    pub async fn wait_final(&self, timeout: Duration) -> Result<StateFile, ClientError> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if let Ok(mut file) = StateFile::read(&self.run_dir) {
                let effective = file.effective_state();
                if effective.is_final() {
                    file.state = effective;
                    return Ok(file);
                }
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(ClientError::Timeout(format!(
                    "the guest in {} to end",
                    self.run_dir.display()
                )));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// A PNG of the guest display. Fails with "No graphics devices are present." when the VMI
    /// has no graphics device.
    pub async fn screenshot(&self) -> Result<Vec<u8>, ClientError> {
        let response = self.request(ControlRequest::Screenshot).await?;
        let png = response
            .png
            .ok_or_else(|| ClientError::Protocol("screenshot response without png".into()))?;
        base64::engine::general_purpose::STANDARD
            .decode(png)
            .map_err(|e| ClientError::Protocol(e.to_string()))
    }

    /// A loopback address that QEMU forwards to guest TCP `port` through the first
    /// pod-network interface (user-mode networking). The forward is added on first use and
    /// stays until QEMU ends; every connection to it is one connection to the guest port (a
    /// guest port nobody listens on closes it at once). Refused when the VMI has no
    /// pod-network interface.
    pub async fn forward_port(&self, port: u16) -> Result<SocketAddr, ClientError> {
        let response = self.request(ControlRequest::ForwardPort { port }).await?;
        let host_port = response.host_port.ok_or_else(|| {
            ClientError::Protocol("forward-port response without hostPort".into())
        })?;
        Ok(SocketAddr::from(([127, 0, 0, 1], host_port)))
    }

    /// Opens a console session: raw bytes to and from the guest's serial port. Opening a new
    /// session closes the previous one (it reads EOF).
    pub async fn console(&self) -> Result<UnixStream, ClientError> {
        let path = self.run_dir.join(spec::CONSOLE_SOCKET);
        crate::sockpath::connect(&path)
            .await
            .map_err(io("connect to", &path))
    }

    /// Connects to QEMU's VNC server (RFB protocol).
    pub async fn vnc(&self) -> Result<UnixStream, ClientError> {
        let path = self.run_dir.join(spec::VNC_SOCKET);
        crate::sockpath::connect(&path)
            .await
            .map_err(io("connect to", &path))
    }
}

/// Reads `<run_dir>/state.json`, which outlives the launcher.
pub fn read_state_file(run_dir: &Path) -> Result<StateFile, crate::state::StateError> {
    StateFile::read(run_dir)
}

/// True when a process with this PID exists and is not a zombie.
pub fn is_alive(pid: u32) -> bool {
    crate::process::is_alive(pid)
}

fn launcher_log_tail(run_dir: &Path) -> String {
    let text = std::fs::read_to_string(run_dir.join(spec::LAUNCHER_LOG)).unwrap_or_default();
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let tail = lines[lines.len().saturating_sub(3)..].join("; ");
    if tail.is_empty() {
        "the launcher exited without a message".into()
    } else {
        tail
    }
}
