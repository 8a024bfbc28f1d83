//! `kubevirtd`: the all-in-one KubeVirt. It serves a Kubernetes-compatible API from an embedded
//! durable store, runs the controllers, and runs virtual machines on this machine.

mod gateway;
mod inprocess;
mod kubeconfig;
mod server;

use std::net::SocketAddr;
use std::path::PathBuf;

use std::process::ExitCode;

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
    /// Manage the container disk images of this machine's node.
    #[command(subcommand)]
    Image(ImageCommand),
    /// Supervise one guest's QEMU (started by the node agent; not for direct use).
    #[command(name = "virt-launcher", hide = true, disable_help_flag = true)]
    VirtLauncher {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
}

#[derive(Subcommand, Debug)]
enum ImageCommand {
    /// Store a raw or qcow2 disk file as the container disk image <IMAGE>, so VMIs can use it
    /// as `containerDisk.image` (the registry is not contacted).
    Import {
        /// Image reference, e.g. `example.org/guest:latest`.
        image: String,
        /// The disk file (raw or qcow2).
        file: PathBuf,
        /// The server's data directory (default: the per-user data directory).
        #[arg(long, env = "KUBEVIRTD_DATA_DIR")]
        data_dir: Option<PathBuf>,
    },
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

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Some(Command::VirtLauncher { args }) = cli.command {
        return virt_launcher::cli::main(args);
    }
    match dispatch(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("Error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn dispatch(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Some(Command::Crds) => {
            print!("{}", api::crd_yaml());
            Ok(())
        }
        Some(Command::Server(args)) => run(args),
        Some(Command::Image(ImageCommand::Import {
            image,
            file,
            data_dir,
        })) => {
            let node_dir = data_dir
                .unwrap_or_else(default_data_dir)
                .join(server::NODE_DIR);
            let stored = virt_handler::qemu::import_image(&node_dir, &image, &file)?;
            println!(
                "imported {} as {image} ({})",
                file.display(),
                stored.display()
            );
            Ok(())
        }
        Some(Command::VirtLauncher { .. }) => unreachable!("handled in main"),
        None => run(cli.server),
    }
}

/// How the node agent starts a guest's launcher. The standalone `virt-launcher` binary when it
/// is installed next to this executable (or named by `VIRT_LAUNCHER_BIN`): being small, it
/// keeps the memory each running VMI adds low. Otherwise this executable's `virt-launcher`
/// subcommand, so one binary is all a machine needs.
pub(crate) fn launcher_command() -> anyhow::Result<virt_handler::qemu::LauncherCommand> {
    let exe = std::env::current_exe()
        .map_err(|e| anyhow::anyhow!("cannot find the kubevirtd executable: {e}"))?;
    let standalone = std::env::var_os(virt_launcher::client::LAUNCHER_BIN_ENV)
        .map(std::path::PathBuf::from)
        .or_else(|| exe.parent().map(|dir| dir.join("virt-launcher")))
        .filter(|path| path.is_file());
    Ok(match standalone {
        Some(program) => virt_handler::qemu::LauncherCommand {
            program,
            args: vec![],
        },
        None => virt_handler::qemu::LauncherCommand {
            program: exe,
            args: vec!["virt-launcher".into()],
        },
    })
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
