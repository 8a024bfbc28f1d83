//! `kubevirtd`: the all-in-one KubeVirt. It serves a Kubernetes-compatible API from an embedded
//! durable store, runs the controllers, and runs virtual machines on this machine.

mod gateway;
mod inprocess;
mod kubeconfig;
mod server;

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(
    name = "kubevirtd",
    version,
    about = "KubeVirt in one process: API server, controllers and node agent"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    server: server::ServerArgs,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the API server, controllers and node agent (the default).
    Server(server::ServerArgs),
    /// Print the kubevirt.io CustomResourceDefinitions as YAML, for installing on a cluster.
    Crds,
}

fn default_data_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("XDG_DATA_HOME").filter(|d| !d.is_empty()) {
        return PathBuf::from(d).join("kubevirtd");
    }
    match std::env::var_os("HOME") {
        Some(h) => PathBuf::from(h).join(".local/share/kubevirtd"),
        None => PathBuf::from("kubevirtd-data"),
    }
}

fn init_logging(json: bool) {
    use tracing_subscriber::EnvFilter;
    let filter =
        EnvFilter::try_from_env("KUBEVIRTD_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Some(Command::Crds) => {
            print!("{}", api::crd_yaml());
            Ok(())
        }
        Some(Command::Server(args)) => run(args),
        None => run(cli.server),
    }
}

fn run(mut args: server::ServerArgs) -> anyhow::Result<()> {
    init_logging(args.log_json);
    if args.data_dir.is_none() {
        args.data_dir = Some(default_data_dir());
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(server::run(args))
}

/// Exposed for the `--listen` default in [`server::ServerArgs`].
pub(crate) fn default_listen() -> SocketAddr {
    "127.0.0.1:6443".parse().expect("valid address")
}
