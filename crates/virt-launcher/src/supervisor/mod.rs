//! The supervisor run by the `virt-launcher` process for one run directory.
//!
//! Sequence: read `launch.json` → write `state.json` (NoState) → build the QEMU command line →
//! start QEMU (stopped, `-S`) as a child that dies with the launcher (`setpriv --pdeathsig`) →
//! attach QMP and the serial chardev → `cont` unless `startStrategy: Paused` → serve
//! `console.sock` and `control.sock` → follow QMP events and QEMU's exit → write the final
//! state → remove the sockets → return.
//!
//! Any failure before QEMU runs is recorded as `Shutoff{Failed}` with a message. SIGTERM to the
//! launcher kills QEMU and records `Shutoff{Destroyed}`; SIGKILL to the launcher takes QEMU
//! with it and leaves a non-final `state.json` behind (see [`StateFile::effective_state`]). So
//! does a launcher asked to crash ([`spec::FAIL_FAST_ANNOTATION`]) once QMP answers.
//!
//! Soft reboots (control `reboot`) are carried out by [`reboot`].

mod console;
pub mod reboot;

use crate::control::{ControlRequest, ControlResponse};
use crate::qmp::{QmpClient, QmpEvent};
use crate::spec::{self, LaunchSpec};
use crate::state::{self, DomainState, EndFacts, QemuExit, ShutoffReason, StateFile};
use base64::Engine;
use jiff::Timestamp;
use std::collections::HashMap;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex as StdMutex};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::UnixListener;
use tokio::process::Child;

/// How long QEMU may take to open its QMP and serial sockets.
const SOCKET_TIMEOUT: Duration = Duration::from_secs(30);

/// The supervisor could not do its job; the reason is also in `state.json`.
#[derive(Debug, thiserror::Error)]
pub enum SupervisorError {
    #[error("{0}")]
    Launch(String),
    #[error(transparent)]
    State(#[from] state::StateError),
}

struct Shared {
    run_dir: PathBuf,
    file: StdMutex<StateFile>,
    facts: StdMutex<EndFacts>,
    qmp: QmpClient,
    qemu_pid: u32,
    graphics: bool,
    /// The user-mode netdev that carries port forwards (see [`forward_port`]).
    pod_netdev: Option<String>,
    /// Guest TCP port → loopback port forwarded to it; kept until QEMU ends.
    forwards: tokio::sync::Mutex<HashMap<u16, u16>>,
    /// What the control request `reboot` does (see [`reboot`]).
    soft_reboot: reboot::SoftReboot,
    /// A soft reboot waits for the guest to power off.
    reboot_pending: AtomicBool,
}

impl Shared {
    fn snapshot(&self) -> StateFile {
        self.file.lock().expect("lock").clone()
    }

    fn set_state(&self, state: DomainState) {
        let mut file = self.file.lock().expect("lock");
        if file.state == state || file.state.is_final() {
            return;
        }
        file.state = state;
        file.updated_at = Timestamp::now();
        if let Err(e) = file.write(&self.run_dir) {
            tracing::warn!("{e}");
        }
    }

    async fn refresh_from_qmp(&self) {
        if let Ok(status) = self.qmp.query_status().await {
            // A live QEMU in the shutdown state is in the middle of a soft reboot (or about to
            // be told to quit): its end, if it comes, is recorded when QEMU exits.
            if status.status == "shutdown" {
                return;
            }
            self.set_state(DomainState::from_run_state(&status.status));
        }
    }
}

/// Records a launch failure in `state.json` and returns it as an error.
fn fail(run_dir: &Path, file: &mut StateFile, message: String) -> SupervisorError {
    tracing::error!("{message}");
    file.state = DomainState::Shutoff {
        reason: ShutoffReason::Failed,
    };
    file.message = Some(message.clone());
    file.updated_at = Timestamp::now();
    let _ = file.write(run_dir);
    SupervisorError::Launch(message)
}

fn tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    all[all.len().saturating_sub(lines)..].join("; ")
}

/// Supervises the guest of `run_dir` until QEMU ends. `run_dir` must be absolute.
pub async fn run(run_dir: &Path) -> Result<StateFile, SupervisorError> {
    let now = Timestamp::now();
    let launch_path = run_dir.join(spec::LAUNCH_FILE);
    let mut file = StateFile {
        launcher_pid: std::process::id(),
        qemu_pid: None,
        state: DomainState::NoState,
        message: None,
        accel: crate::spec::Accel::Tcg,
        started_at: now,
        updated_at: now,
        qemu_exit: None,
    };
    let spec: LaunchSpec = match std::fs::read(&launch_path)
        .map_err(|e| e.to_string())
        .and_then(|b| serde_json::from_slice(&b).map_err(|e| e.to_string()))
    {
        Ok(spec) => spec,
        Err(e) => {
            let message = format!("cannot read {}: {e}", launch_path.display());
            return Err(fail(run_dir, &mut file, message));
        }
    };
    file.accel = spec.env.accel;
    file.write(run_dir)?;

    let argv = match crate::qemu::command_line(&spec.vmi, &spec.env) {
        Ok(argv) => argv,
        Err(e) => return Err(fail(run_dir, &mut file, e.to_string())),
    };
    if let Err(e) = prepare_efi_vars(run_dir, &spec) {
        return Err(fail(run_dir, &mut file, e));
    }
    for name in [
        &spec.env.qmp_socket,
        &spec.env.serial_socket,
        &spec.env.vnc_socket,
    ] {
        let _ = std::fs::remove_file(run_dir.join(name));
    }

    let mut child = match spawn_qemu(run_dir, &argv) {
        Ok(child) => child,
        Err(e) => return Err(fail(run_dir, &mut file, e)),
    };
    let qemu_pid = child.id().unwrap_or(0);
    file.qemu_pid = Some(qemu_pid);
    file.write(run_dir)?;
    tracing::info!(pid = qemu_pid, "QEMU started: {}", argv.join(" "));

    let qmp_path = run_dir.join(&spec.env.qmp_socket);
    let (qmp, mut events) = match wait_for(&mut child, || QmpClient::connect(&qmp_path)).await {
        Ok(pair) => pair,
        Err(e) => {
            let _ = child.start_kill();
            let _ = child.wait().await;
            let detail = tail(&run_dir.join(spec::QEMU_LOG), 3);
            let message = if detail.is_empty() {
                format!("QEMU did not start: {e}")
            } else {
                format!("QEMU did not start: {detail}")
            };
            return Err(fail(run_dir, &mut file, message));
        }
    };

    if simulates_crash(&spec) {
        tracing::error!(
            "simulated crash ({}): QEMU is killed",
            spec::FAIL_FAST_ANNOTATION
        );
        let _ = child.start_kill();
        let _ = child.wait().await;
        return Err(SupervisorError::Launch("simulated crash".into()));
    }

    let devices = &spec.vmi.spec.domain.devices;
    let mut console_done = None;
    if devices.autoattach_serial_console != Some(false) {
        let serial_path = run_dir.join(&spec.env.serial_socket);
        let attached = wait_for(&mut child, || crate::sockpath::connect(&serial_path)).await;
        let listener =
            crate::sockpath::bind(&run_dir.join(spec::CONSOLE_SOCKET)).map_err(|e| e.to_string());
        match (attached, listener) {
            (Ok(serial), Ok(listener)) => {
                match console::Console::start(serial, &run_dir.join(spec::SERIAL_LOG), listener)
                    .await
                {
                    Ok((_console, done)) => console_done = Some(done),
                    Err(e) => tracing::warn!("serial console unavailable: {e}"),
                }
            }
            (Err(e), _) | (_, Err(e)) => tracing::warn!("serial console unavailable: {e}"),
        }
    }

    let paused_start = spec.vmi.spec.start_strategy.as_deref() == Some("Paused");
    if !paused_start && let Err(e) = qmp.cont().await {
        tracing::warn!("cannot start the vCPUs: {e}");
    }
    let shared = Arc::new(Shared {
        run_dir: run_dir.to_path_buf(),
        file: StdMutex::new(file),
        facts: StdMutex::new(EndFacts::default()),
        qmp,
        qemu_pid,
        graphics: devices.autoattach_graphics_device != Some(false),
        pod_netdev: crate::qemu::pod_netdev_id(&spec.vmi),
        forwards: tokio::sync::Mutex::new(HashMap::new()),
        soft_reboot: reboot::SoftReboot::of(&spec.vmi),
        reboot_pending: AtomicBool::new(false),
    });
    shared.refresh_from_qmp().await;

    let control = match crate::sockpath::bind(&run_dir.join(spec::CONTROL_SOCKET)) {
        Ok(listener) => Some(tokio::spawn(serve_control(listener, shared.clone()))),
        Err(e) => {
            tracing::error!("cannot serve the control socket: {e}");
            None
        }
    };

    // SIGTERM (like a pod deletion) destroys the domain and still records the final state.
    let mut sigterm =
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    let status = loop {
        tokio::select! {
            status = child.wait() => break status,
            Some(()) = async { match sigterm.as_mut() { Some(s) => s.recv().await, None => None } } => {
                tracing::info!("SIGTERM: destroying the domain");
                shared.facts.lock().expect("lock").killed_by_launcher = true;
                let _ = crate::process::kill_pid(qemu_pid);
            }
            event = events.recv(), if !events.is_closed() => {
                let Some(event) = event else { continue };
                tracing::info!("QMP event {event:?}");
                match event {
                    QmpEvent::Stop => shared.refresh_from_qmp().await,
                    QmpEvent::Resume => shared.set_state(DomainState::Running),
                    // The power-off of a soft reboot is not the guest's end.
                    QmpEvent::Shutdown { reason, .. } if !reboot::on_shutdown(&shared, &reason).await => {
                        shared.facts.lock().expect("lock").shutdown_reason.get_or_insert(reason);
                    }
                    QmpEvent::Reset { .. } => reboot::on_reset(&shared).await,
                    QmpEvent::GuestPanicked { .. } => {
                        shared.facts.lock().expect("lock").guest_panicked = true;
                    }
                    _ => {}
                }
            }
        }
    };
    // Events QEMU sent just before exiting are still in the channel.
    while let Ok(event) = events.try_recv() {
        let mut facts = shared.facts.lock().expect("lock");
        match event {
            QmpEvent::Shutdown { reason, .. } => {
                facts.shutdown_reason.get_or_insert(reason);
            }
            QmpEvent::GuestPanicked { .. } => facts.guest_panicked = true,
            _ => {}
        }
    }
    let exit = match status {
        Ok(status) => QemuExit {
            code: status.code(),
            signal: status.signal(),
        },
        Err(_) => QemuExit::default(),
    };
    let final_file = {
        let mut facts = shared.facts.lock().expect("lock");
        facts.exit = exit;
        let (state, message) = state::final_state(&facts);
        let mut file = shared.file.lock().expect("lock");
        file.state = state;
        file.message = Some(message);
        file.qemu_exit = Some(exit);
        file.updated_at = Timestamp::now();
        file.write(run_dir)?;
        file.clone()
    };
    tracing::info!(
        "QEMU ended: {:?} ({:?})",
        final_file.state,
        final_file.message
    );
    if let Some(control) = control {
        control.abort();
    }
    if let Some(done) = console_done {
        let _ = tokio::time::timeout(Duration::from_secs(1), done).await;
    }
    for name in [spec::CONTROL_SOCKET, spec::CONSOLE_SOCKET] {
        let _ = std::fs::remove_file(run_dir.join(name));
    }
    Ok(final_file)
}

/// True when the VMI asks the launcher to crash right after QEMU started
/// ([`spec::FAIL_FAST_ANNOTATION`]).
fn simulates_crash(spec: &LaunchSpec) -> bool {
    spec.vmi
        .metadata
        .annotations
        .as_ref()
        .is_some_and(|a| a.contains_key(spec::FAIL_FAST_ANNOTATION))
}

/// Copies the OVMF variable template for an EFI guest when its variable store is missing.
fn prepare_efi_vars(run_dir: &Path, spec: &LaunchSpec) -> Result<(), String> {
    let Some(efi) = spec
        .vmi
        .spec
        .domain
        .firmware
        .as_ref()
        .and_then(|f| f.bootloader.as_ref())
        .and_then(|b| b.efi.as_ref())
    else {
        return Ok(());
    };
    let Some(ovmf) = &spec.env.ovmf else {
        return Ok(());
    };
    let target = run_dir.join(&spec.env.efi_vars);
    if target.exists() {
        return Ok(());
    }
    let template = if efi.secure_boot.unwrap_or(true) {
        ovmf.secure_vars.as_ref().unwrap_or(&ovmf.vars)
    } else {
        &ovmf.vars
    };
    std::fs::copy(template, &target)
        .map(drop)
        .map_err(|e| format!("cannot copy {}: {e}", template.display()))
}

/// Starts QEMU with the run directory as working directory and its output in `qemu.log`.
/// Through `setpriv --pdeathsig KILL` (util-linux), QEMU is killed when the launcher dies.
fn spawn_qemu(run_dir: &Path, argv: &[String]) -> Result<Child, String> {
    let log_path = run_dir.join(spec::QEMU_LOG);
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log_path)
        .map_err(|e| format!("cannot open {}: {e}", log_path.display()))?;
    let log2 = log
        .try_clone()
        .map_err(|e| format!("cannot open {}: {e}", log_path.display()))?;
    let setpriv = ["/usr/bin/setpriv", "/bin/setpriv"]
        .into_iter()
        .find(|p| Path::new(p).is_file());
    let mut cmd = match setpriv {
        Some(setpriv) => {
            let mut cmd = tokio::process::Command::new(setpriv);
            cmd.args(["--pdeathsig", "KILL", "--"]).args(argv);
            cmd
        }
        None => {
            tracing::warn!("setpriv not found: QEMU will outlive a killed launcher");
            let mut cmd = tokio::process::Command::new(&argv[0]);
            cmd.args(&argv[1..]);
            cmd
        }
    };
    cmd.current_dir(run_dir)
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(log2)
        .kill_on_drop(false);
    cmd.spawn()
        .map_err(|e| format!("cannot start {}: {e}", argv[0]))
}

/// Retries `connect` until it succeeds, QEMU exits, or [`SOCKET_TIMEOUT`] passes.
async fn wait_for<T, E, F, Fut>(child: &mut Child, mut connect: F) -> Result<T, String>
where
    E: std::fmt::Display,
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, E>>,
{
    let deadline = tokio::time::Instant::now() + SOCKET_TIMEOUT;
    loop {
        match connect().await {
            Ok(v) => return Ok(v),
            Err(e) if tokio::time::Instant::now() >= deadline => {
                return Err(format!("timed out: {e}"));
            }
            Err(_) => {}
        }
        if let Ok(Some(status)) = child.try_wait() {
            return Err(format!("QEMU exited ({status})"));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn serve_control(listener: UnixListener, shared: Arc<Shared>) {
    while let Ok((stream, _)) = listener.accept().await {
        let shared = shared.clone();
        tokio::spawn(async move {
            let (read, mut write) = stream.into_split();
            let mut lines = BufReader::new(read).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                let response = match serde_json::from_str::<ControlRequest>(&line) {
                    Ok(request) => handle(&shared, request).await,
                    Err(e) => ControlResponse {
                        ok: false,
                        error: Some(format!("bad request: {e}")),
                        status: Some(shared.snapshot()),
                        png: None,
                        host_port: None,
                    },
                };
                let mut text = serde_json::to_string(&response).expect("json");
                text.push('\n');
                if write.write_all(text.as_bytes()).await.is_err() {
                    break;
                }
            }
        });
    }
}

async fn handle(shared: &Shared, request: ControlRequest) -> ControlResponse {
    let result: Result<(Option<String>, Option<u16>), String> = async {
        if request != ControlRequest::Status && shared.snapshot().state.is_final() {
            return Err("the domain is not running".to_string());
        }
        match request {
            ControlRequest::Status => {}
            ControlRequest::Pause => {
                shared.qmp.stop().await.map_err(|e| e.to_string())?;
                shared.refresh_from_qmp().await;
            }
            ControlRequest::Unpause => {
                shared.qmp.cont().await.map_err(|e| e.to_string())?;
                shared.refresh_from_qmp().await;
            }
            ControlRequest::Shutdown => {
                reboot::cancel(shared).await;
                shared
                    .qmp
                    .system_powerdown()
                    .await
                    .map_err(|e| e.to_string())?;
            }
            ControlRequest::Reboot => reboot::request(shared).await?,
            ControlRequest::Reset => {
                shared.qmp.system_reset().await.map_err(|e| e.to_string())?;
            }
            ControlRequest::Kill => {
                shared.facts.lock().expect("lock").killed_by_launcher = true;
                crate::process::kill_pid(shared.qemu_pid).map_err(|e| e.to_string())?;
            }
            ControlRequest::Screenshot => {
                if !shared.graphics {
                    return Err("No graphics devices are present.".to_string());
                }
                return screenshot(shared).await.map(|png| (Some(png), None));
            }
            ControlRequest::ForwardPort { port } => {
                return forward_port(shared, port).await.map(|p| (None, Some(p)));
            }
        }
        Ok((None, None))
    }
    .await;
    let status = Some(shared.snapshot());
    match result {
        Ok((png, host_port)) => ControlResponse {
            ok: true,
            error: None,
            status,
            png,
            host_port,
        },
        Err(error) => ControlResponse {
            ok: false,
            error: Some(error),
            status,
            png: None,
            host_port: None,
        },
    }
}

async fn screenshot(shared: &Shared) -> Result<String, String> {
    let name = format!("screenshot-{}.ppm", std::process::id());
    // QEMU resolves the relative name against its working directory, the run directory.
    shared
        .qmp
        .screendump(Path::new(&name))
        .await
        .map_err(|e| e.to_string())?;
    let path = shared.run_dir.join(&name);
    let data = tokio::fs::read(&path).await.map_err(|e| e.to_string());
    let _ = tokio::fs::remove_file(&path).await;
    let png = crate::ppm::ppm_to_png(&data?).map_err(|e| e.to_string())?;
    Ok(base64::engine::general_purpose::STANDARD.encode(png))
}

/// Host ports tried before giving up on a forward (another process may take a port between
/// the probe and `hostfwd_add`).
const FORWARD_ATTEMPTS: usize = 5;

/// The loopback port forwarded to guest TCP `port`, added on first use and kept until QEMU
/// ends (QEMU takes its forwards with it).
async fn forward_port(shared: &Shared, port: u16) -> Result<u16, String> {
    let Some(netdev) = &shared.pod_netdev else {
        return Err("the VMI has no pod network interface: port forwarding needs one".to_string());
    };
    if port == 0 {
        return Err("port 0 cannot be forwarded".to_string());
    }
    let mut forwards = shared.forwards.lock().await;
    if let Some(host_port) = forwards.get(&port) {
        return Ok(*host_port);
    }
    let mut last_error = String::new();
    for _ in 0..FORWARD_ATTEMPTS {
        let host_port = std::net::TcpListener::bind(("127.0.0.1", 0))
            .and_then(|l| l.local_addr())
            .map_err(|e| format!("no free loopback port: {e}"))?
            .port();
        let output = shared
            .qmp
            .human_monitor_command(&hostfwd_add(netdev, host_port, port))
            .await
            .map_err(|e| e.to_string())?;
        if output.trim().is_empty() {
            tracing::info!(guest_port = port, host_port, "port forward added");
            forwards.insert(port, host_port);
            return Ok(host_port);
        }
        last_error = output.trim().to_string();
    }
    Err(format!("cannot forward guest port {port}: {last_error}"))
}

/// The HMP command forwarding loopback `host_port` to guest TCP `guest_port`.
fn hostfwd_add(netdev: &str, host_port: u16, guest_port: u16) -> String {
    format!("hostfwd_add {netdev} tcp:127.0.0.1:{host_port}-:{guest_port}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forwards_listen_on_loopback_only() {
        assert_eq!(
            hostfwd_add("netdev-ua-default", 40000, 22),
            "hostfwd_add netdev-ua-default tcp:127.0.0.1:40000-:22"
        );
    }
}
