//! Wiring of the all-in-one server: store, registry, plug-ins, HTTPS listener, kubeconfig.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use apiserver::registry::{Registry, ResourceDef};
use apiserver::server::auth::Authenticator;
use apiserver::server::tls::TlsMaterial;
use apiserver::server::{gc, http, serve};
use apiserver::store::sqlite::{SqliteOptions, SqliteStore};
use apiserver::{Api, Plugins};

use crate::kubeconfig;

#[derive(clap::Args, Debug, Clone)]
pub struct ServerArgs {
    /// Where the store, certificates, tokens and kubeconfig live (default: a per-user data directory).
    #[arg(long, env = "KUBEVIRTD_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Address of the HTTPS API.
    #[arg(long, default_value_t = crate::default_listen())]
    pub listen: SocketAddr,
    /// Log as JSON lines.
    #[arg(long)]
    pub log_json: bool,
}

/// Every resource the all-in-one server serves.
pub fn registry() -> anyhow::Result<Registry> {
    let mut reg = Registry::new();
    for def in apiserver::builtin::resources() {
        reg.register(def)?;
    }
    for crd in api::crds() {
        let value = serde_json::to_value(&crd)?;
        reg.register(ResourceDef::from_crd(&value)?)?;
    }
    Ok(reg)
}

pub async fn run(args: ServerArgs) -> anyhow::Result<()> {
    let dir = args.data_dir.clone().expect("set by main");
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create data directory {}", dir.display()))?;
    let store = SqliteStore::open(&dir.join("store.db"), SqliteOptions::default())
        .with_context(|| format!("cannot open the store in {}", dir.display()))?;
    let store: Arc<dyn apiserver::store::Storage> = Arc::new(store);
    let api = Api::new(registry()?, store, Plugins::default());
    api.bootstrap().await.context("cannot create the default namespaces")?;

    let hosts = vec![args.listen.ip().to_string()];
    let tls = TlsMaterial::load_or_create(&dir.join("pki"), &hosts)?;
    let (auth, admin_token) = Authenticator::load_or_create(&dir.join("tokens.csv"))?;
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    // With port 0 the kernel picks the port; the kubeconfig must name the real one.
    let local = listener.local_addr()?;
    let kubeconfig_path = dir.join("kubeconfig");
    let server_url = kubeconfig::client_address(&local);
    let tmp = dir.join("kubeconfig.tmp");
    std::fs::write(&tmp, kubeconfig::render(&server_url, &tls.ca_pem, &admin_token))
        .and_then(|_| std::fs::rename(&tmp, &kubeconfig_path))
        .with_context(|| format!("cannot write {}", kubeconfig_path.display()))?;
    let router = http::router(api.clone(), Arc::new(auth));
    tokio::spawn(gc::run(api.clone()));
    tracing::info!(listen = %local, data_dir = %dir.display(), "kubevirtd is serving");
    println!("export KUBECONFIG={}", kubeconfig_path.display());
    tokio::select! {
        _ = serve::serve_tls(listener, tls.server_config()?, router) => {}
        _ = shutdown_signal() => tracing::info!("shutting down"),
    }
    Ok(())
}

/// SIGINT or SIGTERM.
async fn shutdown_signal() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).expect("signal handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}
