//! Wiring of the all-in-one server: store, registry, plug-ins, controllers, node driver,
//! HTTPS listener and kubeconfig.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use apiserver::registry::{Registry, ResourceDef};
use apiserver::server::auth::Authenticator;
use apiserver::server::tls::TlsMaterial;
use apiserver::server::{gc, http, serve};
use apiserver::store::sqlite::{SqliteOptions, SqliteStore};
use apiserver::{Api, Plugins, UserInfo};

use crate::gateway::LateGateway;
use crate::{inprocess, kubeconfig};

/// Directory of the QEMU node driver (run directories, image store, volumes) under the data
/// directory.
pub const NODE_DIR: &str = "node";

/// Which node agent runs the VMIs of this server.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeDriver {
    /// No node agent: VMIs stay Scheduling (useful with an external node agent).
    None,
    /// Simulated nodes: no guests, configurable boot delay, failure injection by annotations.
    Simulated,
    /// This machine as one node running real QEMU guests, one virt-launcher per VMI.
    Qemu,
}

/// The accelerator of QEMU guests.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccelArg {
    /// The Linux kernel's KVM (fails to start guests when `/dev/kvm` is not usable).
    Kvm,
    /// QEMU's software emulation: always works, much slower.
    Tcg,
}

impl From<AccelArg> for virt_handler::qemu::Accel {
    fn from(a: AccelArg) -> Self {
        match a {
            AccelArg::Kvm => virt_handler::qemu::Accel::Kvm,
            AccelArg::Tcg => virt_handler::qemu::Accel::Tcg,
        }
    }
}

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
    /// The node agent that runs VMIs. Given twice, the last one wins.
    #[arg(long, value_enum, default_value_t = NodeDriver::Qemu, overrides_with = "node_driver")]
    pub node_driver: NodeDriver,
    /// Accelerator of QEMU guests: KVM when a probe guest really runs with it, else TCG, when
    /// unset (the environment variable KUBEVIRT_RS_ACCEL=kvm|tcg forces it too).
    #[arg(long, value_enum)]
    pub accel: Option<AccelArg>,
    /// Number of nodes the simulated driver registers.
    #[arg(long, default_value_t = 1)]
    pub nodes: usize,
    /// Time a simulated guest takes to boot, in milliseconds.
    #[arg(long, default_value_t = 1000)]
    pub boot_delay_ms: u64,
    /// Do not run the controllers (API server only).
    #[arg(long)]
    pub no_controllers: bool,
    /// KubeVirt feature gates to enable (comma-separated). The defaults are alpha gates that
    /// the upstream examples need and that make sense on a single machine.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "HostDisk,Sidecar,HostDevices"
    )]
    pub feature_gates: Vec<String>,
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
    virt_api::conversion::register(&mut reg);
    Ok(reg)
}

pub async fn run(args: ServerArgs) -> anyhow::Result<()> {
    let dir = args.data_dir.clone().expect("set by main");
    std::fs::create_dir_all(&dir)
        .with_context(|| format!("cannot create data directory {}", dir.display()))?;
    let store = SqliteStore::open(&dir.join("store.db"), SqliteOptions::default())
        .with_context(|| format!("cannot open the store in {}", dir.display()))?;
    let store: Arc<dyn apiserver::store::Storage> = Arc::new(store);
    let gateway = Arc::new(LateGateway::default());
    let plugins = Plugins {
        admission: virt_api::admission::plugins(virt_api::admission::ClusterConfig {
            feature_gates: args
                .feature_gates
                .iter()
                .filter(|g| !g.is_empty())
                .cloned()
                .collect(),
            ..Default::default()
        }),
        groups: vec![Arc::new(virt_api::subresources::Subresources::new(
            gateway.clone(),
        ))],
    };
    let api = Api::new(registry()?, store, plugins);
    api.bootstrap()
        .await
        .context("cannot create the default namespaces")?;

    let hosts = vec![args.listen.ip().to_string()];
    let tls = TlsMaterial::load_or_create(&dir.join("pki"), &hosts)?;
    let (auth, admin_token) = Authenticator::load_or_create(&dir.join("tokens.csv"))?;
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    // With port 0 the kernel picks the port; the kubeconfig must name the real one.
    let local = listener.local_addr()?;
    let router = http::router(api.clone(), Arc::new(auth));

    tokio::spawn(gc::run(api.clone()));
    if !args.no_controllers {
        start_controllers(&router, leader_identity(&dir));
    }
    start_node_driver(&args, &dir, &router, &gateway)?;

    let kubeconfig_path = dir.join("kubeconfig");
    let server_url = kubeconfig::client_address(&local);
    let tmp = dir.join("kubeconfig.tmp");
    std::fs::write(
        &tmp,
        kubeconfig::render(&server_url, &tls.ca_pem, &admin_token),
    )
    .and_then(|_| std::fs::rename(&tmp, &kubeconfig_path))
    .with_context(|| format!("cannot write {}", kubeconfig_path.display()))?;
    tracing::info!(listen = %local, data_dir = %dir.display(), node_driver = ?args.node_driver, "kubevirtd is serving");
    println!("export KUBECONFIG={}", kubeconfig_path.display());
    tokio::select! {
        _ = serve::serve_tls(listener, tls.server_config()?, router) => {}
        _ = shutdown_signal() => tracing::info!("shutting down"),
    }
    Ok(())
}

/// The KubeVirt controllers, each with its own in-process client and identity, run while this
/// process holds the `virt-controller` Lease, so two servers sharing a store never both act. The
/// identity is stable across restarts, so a restarted server takes its lease back at once.
fn start_controllers(router: &axum::Router, identity: String) {
    let router = router.clone();
    tokio::spawn(async move {
        let client =
            |component: &str| inprocess::client(router.clone(), UserInfo::system(component));
        loop {
            let elector = virt_controller::leader::LeaderElector::new(
                client("virt-controller"),
                "kube-system",
                "virt-controller",
                &identity,
            );
            let result = elector
                .run_while_leader(|| async {
                    tracing::info!("leading: the controllers are running");
                    tokio::join!(
                        virt_controller::vm::run(client("virt-controller"), Default::default()),
                        virt_controller::vmi::run(client("virt-controller"), Default::default()),
                        virt_controller::replicaset::run(
                            client("virt-controller"),
                            Default::default()
                        ),
                        virt_controller::node::run(client("virt-controller"), Default::default()),
                    );
                })
                .await;
            if let Err(e) = result {
                tracing::warn!(error = %e, "controller leadership ended; campaigning again");
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    });
}

fn start_node_driver(
    args: &ServerArgs,
    dir: &std::path::Path,
    router: &axum::Router,
    gateway: &LateGateway,
) -> anyhow::Result<()> {
    match args.node_driver {
        NodeDriver::None => {}
        NodeDriver::Simulated => {
            let client = inprocess::client(router.clone(), UserInfo::system("virt-handler"));
            let options = virt_handler::simulated::SimulatedOptions {
                nodes: args.nodes.max(1),
                boot_delay: Duration::from_millis(args.boot_delay_ms),
                ..Default::default()
            };
            let simulator = virt_handler::simulated::Simulator::new(client, options);
            gateway.set(Arc::new(simulator.gateway()));
            tokio::spawn(async move {
                if let Err(e) = simulator.run().await {
                    tracing::error!(error = %e, "the simulated node driver stopped");
                }
            });
        }
        NodeDriver::Qemu => {
            let client = inprocess::client(router.clone(), UserInfo::system("virt-handler"));
            let mut options = virt_handler::qemu::QemuOptions::new(dir.join(NODE_DIR));
            options.accel = args.accel.map(Into::into);
            options.launcher = Some(crate::launcher_command()?);
            let driver = virt_handler::qemu::QemuDriver::new(client, options)
                .context("cannot start the QEMU node driver")?;
            gateway.set(Arc::new(driver.gateway()));
            tokio::spawn(async move {
                if let Err(e) = driver.run().await {
                    tracing::error!(error = %e, "the QEMU node driver stopped");
                }
            });
        }
    }
    Ok(())
}

/// This server's identity in leader election: the host and the data directory.
fn leader_identity(dir: &std::path::Path) -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_default();
    format!("kubevirtd@{host}:{}", dir.display())
}

/// SIGINT or SIGTERM.
async fn shutdown_signal() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("signal handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}
