//! The driver's calls into a guest's launcher ([`virt_launcher::client`]), each bounded in
//! time so a stuck launcher cannot stall the driver loop, and the host's QEMU version.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::net::UnixStream;
use virt_launcher::LaunchSpec;
use virt_launcher::client::{ClientError, LauncherClient, LauncherCommand};

use super::domain::Observed;

/// Longest wait for a control request.
const CALL_TIMEOUT: Duration = Duration::from_secs(5);
/// Longest wait for a kill to be recorded.
const KILL_TIMEOUT: Duration = Duration::from_secs(15);

/// A launcher call failed.
#[derive(Debug, thiserror::Error)]
pub enum LauncherError {
    #[error(transparent)]
    Client(#[from] ClientError),
    #[error("the launcher did not answer within {0:?}")]
    Timeout(Duration),
}

async fn bounded<T>(
    limit: Duration,
    call: impl std::future::Future<Output = Result<T, ClientError>>,
) -> Result<T, LauncherError> {
    match tokio::time::timeout(limit, call).await {
        Ok(result) => result.map_err(LauncherError::from),
        Err(_) => Err(LauncherError::Timeout(limit)),
    }
}

/// True once a launcher was started in `run_dir` (it left a state file).
pub fn was_spawned(run_dir: &Path) -> bool {
    run_dir.join(virt_launcher::spec::STATE_FILE).is_file()
}

/// Starts the launcher of `run_dir` with `spec`; the domain state once it serves.
pub async fn spawn(
    run_dir: &Path,
    spec: LaunchSpec,
    command: Option<&LauncherCommand>,
) -> Result<Observed, LauncherError> {
    let client = match command {
        Some(c) => LauncherClient::spawn_with(run_dir, &spec, c).await?,
        None => LauncherClient::spawn(run_dir, &spec).await?,
    };
    let state = bounded(CALL_TIMEOUT, client.status()).await?;
    Ok(Observed::from(state))
}

/// What the launcher of `run_dir` reports: its live state, else the state it recorded (a
/// launcher that died without recording an end counts as crashed), else unresponsive.
pub async fn observe(run_dir: &Path) -> Observed {
    let live = async {
        let client = LauncherClient::connect(run_dir).await?;
        client.status().await
    };
    match bounded(CALL_TIMEOUT, live).await {
        Ok(state) => Observed::from(state),
        Err(e) => match virt_launcher::client::read_state_file(run_dir) {
            Ok(file) => {
                let state = file.effective_state();
                if !state.is_final() {
                    tracing::debug!(error = %e, dir = %run_dir.display(), "launcher did not answer");
                }
                Observed::from(state)
            }
            Err(_) => Observed::Unresponsive,
        },
    }
}

async fn client(run_dir: &Path) -> Result<LauncherClient, LauncherError> {
    bounded(CALL_TIMEOUT, LauncherClient::connect(run_dir)).await
}

/// Presses the guest's ACPI power button.
pub async fn shutdown(run_dir: PathBuf) -> Result<(), LauncherError> {
    let c = client(&run_dir).await?;
    bounded(CALL_TIMEOUT, c.shutdown()).await
}

/// Kills the guest and waits until the launcher recorded it.
pub async fn kill(run_dir: PathBuf) -> Result<(), LauncherError> {
    let c = client(&run_dir).await?;
    bounded(KILL_TIMEOUT, c.kill()).await.map(drop)
}

pub async fn pause(run_dir: PathBuf) -> Result<(), LauncherError> {
    let c = client(&run_dir).await?;
    bounded(CALL_TIMEOUT, c.pause()).await
}

pub async fn unpause(run_dir: PathBuf) -> Result<(), LauncherError> {
    let c = client(&run_dir).await?;
    bounded(CALL_TIMEOUT, c.unpause()).await
}

pub async fn reboot(run_dir: PathBuf) -> Result<(), LauncherError> {
    let c = client(&run_dir).await?;
    bounded(CALL_TIMEOUT, c.reboot()).await
}

pub async fn reset(run_dir: PathBuf) -> Result<(), LauncherError> {
    let c = client(&run_dir).await?;
    bounded(CALL_TIMEOUT, c.reset()).await
}

pub async fn console(run_dir: PathBuf) -> Result<UnixStream, LauncherError> {
    let c = client(&run_dir).await?;
    bounded(CALL_TIMEOUT, c.console()).await
}

pub async fn vnc(run_dir: PathBuf) -> Result<UnixStream, LauncherError> {
    let c = client(&run_dir).await?;
    bounded(CALL_TIMEOUT, c.vnc()).await
}

pub async fn screenshot(run_dir: PathBuf) -> Result<Vec<u8>, LauncherError> {
    let c = client(&run_dir).await?;
    bounded(CALL_TIMEOUT, c.screenshot()).await
}

/// A loopback address QEMU forwards to guest TCP `port` (see
/// [`LauncherClient::forward_port`]).
pub async fn forward_port(run_dir: PathBuf, port: u16) -> Result<SocketAddr, LauncherError> {
    let c = client(&run_dir).await?;
    bounded(CALL_TIMEOUT, c.forward_port(port)).await
}

/// The version of `qemu-system-x86_64` (`7.2.19`), when it runs.
pub fn qemu_version() -> Option<String> {
    let out = std::process::Command::new("qemu-system-x86_64")
        .arg("--version")
        .output()
        .ok()?;
    parse_qemu_version(&String::from_utf8_lossy(&out.stdout))
}

/// The version in `qemu-system-x86_64 --version` output.
pub fn parse_qemu_version(output: &str) -> Option<String> {
    let rest = output.split("version ").nth(1)?;
    let version = rest.split_whitespace().next()?;
    version
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_digit())
        .then(|| version.to_string())
}

/// The machine type `q35` resolves to in QEMU `version` (`pc-q35-7.2`).
pub fn machine_type(version: Option<&str>) -> String {
    let major_minor = version.and_then(|v| {
        let mut parts = v.split('.');
        Some(format!("{}.{}", parts.next()?, parts.next()?))
    });
    match major_minor {
        Some(mm) => format!("pc-q35-{mm}"),
        None => "q35".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_machine_type_follows_the_qemu_version() {
        let out = "QEMU emulator version 7.2.19 (Debian 1:7.2+dfsg-7+deb12u18)\nCopyright (c) 2003-2022 Fabrice Bellard\n";
        assert_eq!(parse_qemu_version(out).as_deref(), Some("7.2.19"));
        assert_eq!(machine_type(Some("7.2.19")), "pc-q35-7.2");
        assert_eq!(machine_type(None), "q35");
        assert_eq!(parse_qemu_version("garbage"), None);
    }

    #[tokio::test]
    async fn a_run_directory_without_a_launcher_is_unresponsive() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(observe(dir.path()).await, Observed::Unresponsive);
        assert!(!was_spawned(dir.path()));
    }
}
