//! A `kubevirtd` process on loopback with its own data directory, and clients for it.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, bail};
use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use kube::api::{ListParams, ObjectMeta, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Api, Client, Config};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// A running server; killed when dropped.
pub struct Kubevirtd {
    child: Child,
    dir: tempfile::TempDir,
    config: Config,
}

impl Kubevirtd {
    /// Starts `bin` on `127.0.0.1:0` with a fresh data directory under `work`, and waits until
    /// it prints its `export KUBECONFIG=` line.
    pub async fn start(bin: &Path, work: &Path) -> anyhow::Result<Kubevirtd> {
        let dir = tempfile::Builder::new()
            .prefix("kubevirtd-")
            .tempdir_in(work)?;
        let log = std::fs::File::create(dir.path().join("kubevirtd.log"))?;
        let mut child = Command::new(bin)
            .arg("--data-dir")
            .arg(dir.path())
            .arg("--listen")
            .arg("127.0.0.1:0")
            .env("KUBEVIRTD_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log))
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("cannot start {}", bin.display()))?;
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
                log_path(dir.path()).display()
            ),
            Ok(Err(err)) => return Err(err),
            Err(_) => bail!("kubevirtd did not serve within 60 s"),
        }
        // Keep draining stdout so the server never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        let kubeconfig = Kubeconfig::read_from(dir.path().join("kubeconfig"))?;
        let config =
            Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default()).await?;
        Ok(Kubevirtd { child, dir, config })
    }

    pub fn pid(&self) -> anyhow::Result<u32> {
        self.child.id().context("kubevirtd has exited")
    }

    /// A new client with its own connection pool.
    pub fn client(&self) -> anyhow::Result<Client> {
        Ok(Client::try_from(self.config.clone())?)
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

    /// Stops the server with SIGTERM (SIGKILL after 10 s).
    pub async fn stop(mut self) {
        if let Some(pid) = self.child.id() {
            let _ = Command::new("kill")
                .arg("-TERM")
                .arg(pid.to_string())
                .status()
                .await;
            if tokio::time::timeout(Duration::from_secs(10), self.child.wait())
                .await
                .is_ok()
            {
                return;
            }
        }
        let _ = self.child.kill().await;
    }
}

fn log_path(dir: &Path) -> PathBuf {
    dir.join("kubevirtd.log")
}

/// Creates namespace `name`.
pub async fn create_namespace(client: &Client, name: &str) -> anyhow::Result<()> {
    let ns = Namespace {
        metadata: ObjectMeta {
            name: Some(name.into()),
            ..Default::default()
        },
        ..Default::default()
    };
    Api::<Namespace>::all(client.clone())
        .create(&PostParams::default(), &ns)
        .await?;
    Ok(())
}

/// One ConfigMap API per client, each on its own connection, already used once so that
/// connection and TLS set-up are not timed.
pub async fn configmap_apis(
    server: &Kubevirtd,
    namespace: &str,
    clients: usize,
) -> anyhow::Result<Vec<Api<ConfigMap>>> {
    let mut apis = Vec::with_capacity(clients);
    for _ in 0..clients {
        let api = Api::<ConfigMap>::namespaced(server.client()?, namespace);
        api.list(&ListParams::default().limit(1)).await?;
        apis.push(api);
    }
    Ok(apis)
}

/// A ConfigMap `name` holding `payload` under the key `payload`.
pub fn configmap(name: &str, payload: String) -> ConfigMap {
    ConfigMap {
        metadata: ObjectMeta {
            name: Some(name.into()),
            ..Default::default()
        },
        data: Some([("payload".to_string(), payload)].into()),
        ..Default::default()
    }
}
