//! A `kubevirtd` with simulated nodes on loopback, its own data directory and the figures the
//! benchmark reads from it: `/metrics`, `/proc` memory and CPU, store size.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, bail};
use k8s_openapi::api::core::v1::Node;
use kube::api::ListParams;
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Api, Client, Config};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// A running server; killed when dropped.
pub struct Kubevirtd {
    child: Child,
    dir: tempfile::TempDir,
    config: Config,
    pub pid: u32,
}

impl Kubevirtd {
    /// Starts `bin` with `nodes` simulated nodes booting guests at once, and waits until it
    /// serves.
    pub async fn start(bin: &Path, work: &Path, nodes: usize) -> anyhow::Result<Kubevirtd> {
        let dir = tempfile::Builder::new()
            .prefix("kubevirtd-")
            .tempdir_in(work)?;
        let log_path = dir.path().join("kubevirtd.log");
        let log = std::fs::File::create(&log_path)?;
        let mut child = Command::new(bin)
            .arg("--data-dir")
            .arg(dir.path())
            .args(["--listen", "127.0.0.1:0", "--node-driver=simulated"])
            .args(["--nodes", &nodes.to_string(), "--boot-delay-ms", "0"])
            .env("KUBEVIRTD_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log))
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("cannot start {}", bin.display()))?;
        let pid = child.id().context("kubevirtd exited at once")?;
        let stdout = child.stdout.take().context("stdout is piped")?;
        let mut lines = BufReader::new(stdout).lines();
        let ready = tokio::time::timeout(Duration::from_secs(60), async {
            while let Some(line) = lines.next_line().await? {
                if line.starts_with("export KUBECONFIG=") {
                    return anyhow::Ok(true);
                }
            }
            Ok(false)
        })
        .await;
        match ready {
            Ok(Ok(true)) => {}
            Ok(Ok(false)) => bail!(
                "kubevirtd exited before serving; see {}",
                log_path.display()
            ),
            Ok(Err(err)) => return Err(err),
            Err(_) => bail!("kubevirtd did not serve within 60 s"),
        }
        // Keep draining stdout so the server never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        let kubeconfig = Kubeconfig::read_from(dir.path().join("kubeconfig"))?;
        let mut config =
            Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default()).await?;
        // Under a burst, a request may legitimately wait long for a busy server.
        config.read_timeout = Some(Duration::from_secs(120));
        config.write_timeout = Some(Duration::from_secs(120));
        Ok(Kubevirtd {
            child,
            dir,
            config,
            pid,
        })
    }

    /// A new client with its own connection pool.
    pub fn client(&self) -> anyhow::Result<Client> {
        Ok(Client::try_from(self.config.clone())?)
    }

    /// Waits until `nodes` nodes are registered.
    pub async fn wait_for_nodes(&self, nodes: usize, limit: Duration) -> anyhow::Result<()> {
        let api = Api::<Node>::all(self.client()?);
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let seen = api.list_metadata(&ListParams::default()).await?.items.len();
            if seen >= nodes {
                return Ok(());
            }
            if tokio::time::Instant::now() > deadline {
                bail!("only {seen} of {nodes} simulated nodes registered within {limit:?}");
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// The `/metrics` text.
    pub async fn metrics(&self, client: &Client) -> anyhow::Result<String> {
        let req = http::Request::get("/metrics").body(Vec::new())?;
        Ok(client.request_text(req).await?)
    }

    /// Bytes of the store file, its write-ahead log and shared-memory index.
    pub fn store_bytes(&self) -> u64 {
        std::fs::read_dir(self.dir.path())
            .into_iter()
            .flatten()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().starts_with("store.db"))
            .filter_map(|e| e.metadata().ok())
            .map(|m| m.len())
            .sum()
    }

    /// The server's log file.
    pub fn log_path(&self) -> std::path::PathBuf {
        self.dir.path().join("kubevirtd.log")
    }

    /// Stops the server with SIGTERM (SIGKILL after 10 s).
    pub async fn stop(mut self) {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.pid.to_string())
            .status()
            .await;
        if tokio::time::timeout(Duration::from_secs(10), self.child.wait())
            .await
            .is_err()
        {
            let _ = self.child.kill().await;
        }
    }
}

/// User plus system CPU seconds of process `pid` (`"self"` for this one).
pub fn cpu_seconds(pid: &str) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    apiserver::server::metrics::cpu_seconds_from_stat(&stat)
}
