//! The commands, and what they share: the lazily built client and namespace, the flags given on
//! the command line, and the error type whose text is what virtctl prints on failure.

pub mod console;
pub mod expand;
pub mod expose;
pub mod guest;
pub mod lifecycle;
pub mod portforward;
pub mod ssh;
pub mod vmi_actions;
pub mod vnc;
pub mod wait;

use std::collections::BTreeSet;
use std::time::Duration;

use crate::cli::{Cli, Cmd, CreateCmd, GlobalFlags, VncCmd};
use crate::client::{ClientError, VirtClient};
use crate::clientconfig::{self, ConfigError, Environment};
use crate::parse::Invocation;
use crate::version;

/// Why a command failed; the text is printed as it is.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    #[error("{0}")]
    Failed(String),
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Client(#[from] ClientError),
}

impl CommandError {
    pub fn failed(message: impl Into<String>) -> Self {
        CommandError::Failed(message.into())
    }
}

/// A client and the namespace to work in.
#[derive(Clone)]
pub struct Connection {
    pub client: VirtClient,
    pub namespace: String,
    /// True when `-n` chose the namespace.
    pub namespace_overridden: bool,
}

/// What every command gets.
pub struct Ctx {
    pub global: GlobalFlags,
    /// `virtctl` or `kubectl virt`.
    pub program: String,
    /// How the program was invoked (`os.Args[0]`), for the ssh proxy command.
    pub argv0: String,
    /// Long names of the flags given on the command line.
    pub changed: BTreeSet<String>,
    pub env: Environment,
    connection: tokio::sync::OnceCell<Connection>,
}

impl Ctx {
    pub fn new(
        global: GlobalFlags,
        program: String,
        argv0: String,
        changed: BTreeSet<String>,
    ) -> Self {
        Ctx {
            global,
            program,
            argv0,
            changed,
            env: Environment::from_process(),
            connection: tokio::sync::OnceCell::new(),
        }
    }

    /// Whether `--flag` was given on the command line.
    pub fn changed(&self, flag: &str) -> bool {
        self.changed.contains(flag)
    }

    /// The client and namespace, built on first use.
    pub async fn connect(&self) -> Result<&Connection, CommandError> {
        self.connection
            .get_or_try_init(|| async {
                let config = clientconfig::load(&self.global, &self.env).await?;
                let client = VirtClient::new(&config)?;
                Ok::<_, CommandError>(Connection {
                    client,
                    namespace: config.namespace,
                    namespace_overridden: config.namespace_overridden,
                })
            })
            .await
    }
}

/// `[All]` for a dry run, printing upstream's "Dry Run execution" line.
pub fn dry_run_option(dry_run: bool) -> Option<Vec<String>> {
    dry_run.then(|| {
        println!("Dry Run execution");
        vec!["All".to_owned()]
    })
}

/// Runs a parsed command line; returns the exit code.
pub async fn run(invocation: Invocation, program: String, argv0: String) -> i32 {
    let Invocation { cli, changed, path } = invocation;
    let Cli {
        mut global,
        command,
    } = cli;
    // A command's own flag shadows the global flag of the same name, as in cobra.
    match path.as_str() {
        "create vm" => global.user = None,
        "ssh" | "scp" => global.username = None,
        _ => {}
    }
    crate::log::set_verbosity(global.verbosity);
    let ctx = Ctx::new(global, program, argv0, changed);
    let Some(command) = command else {
        return 0;
    };
    match execute(command, &ctx).await {
        Ok(()) => 0,
        Err(e) => {
            if let Some(notice) = version_notice(&ctx).await {
                eprintln!("{notice}");
            }
            eprintln!("{e}");
            1
        }
    }
}

/// Upstream's notice when the server runs another KubeVirt major.minor than this client.
async fn version_notice(ctx: &Ctx) -> Option<String> {
    let connection = ctx.connect().await.ok()?;
    let server = tokio::time::timeout(Duration::from_secs(5), connection.client.server_version())
        .await
        .ok()?
        .ok()?;
    version::mismatch_notice(&version::client(), &server)
}

async fn execute(command: Cmd, ctx: &Ctx) -> Result<(), CommandError> {
    match command {
        Cmd::Start(a) => lifecycle::start(ctx, a).await,
        Cmd::Stop(a) => lifecycle::stop(ctx, a).await,
        Cmd::Restart(a) => lifecycle::restart(ctx, a).await,
        Cmd::Migrate(a) => lifecycle::migrate(ctx, a).await,
        Cmd::MigrateCancel(a) => lifecycle::migrate_cancel(ctx, a).await,
        Cmd::Pause(a) => vmi_actions::pause(ctx, a).await,
        Cmd::Unpause(a) => vmi_actions::unpause(ctx, a).await,
        Cmd::SoftReboot(a) => vmi_actions::soft_reboot(ctx, a).await,
        Cmd::Reset(a) => vmi_actions::reset(ctx, a).await,
        Cmd::Guestosinfo(a) => guest::query(ctx, a, guest::Query::OsInfo).await,
        Cmd::Userlist(a) => guest::query(ctx, a, guest::Query::UserList).await,
        Cmd::Fslist(a) => guest::query(ctx, a, guest::Query::FilesystemList).await,
        Cmd::Console(a) => console::run(ctx, a).await,
        Cmd::Vnc(a) => match a.command {
            Some(VncCmd::Screenshot(s)) => vnc::screenshot(ctx, s).await,
            None => vnc::run(ctx, a).await,
        },
        Cmd::PortForward(a) => portforward::run(ctx, a).await,
        Cmd::Ssh(a) => ssh::ssh(ctx, a).await,
        Cmd::Scp(a) => ssh::scp(ctx, a).await,
        Cmd::Expand(a) => expand::run(ctx, a).await,
        Cmd::Expose(a) => expose::run(ctx, a).await,
        Cmd::Version(a) => version_command(ctx, a.client).await,
        Cmd::Create(c) => match c.command {
            Some(CreateCmd::Vm(args)) => crate::create_vm::run(ctx, *args).await,
            None => Ok(()),
        },
        Cmd::Help(_) | Cmd::Options(_) => Ok(()),
    }
}

/// `version`: the client's version, then the server's unless `--client`.
async fn version_command(ctx: &Ctx, client_only: bool) -> Result<(), CommandError> {
    println!("Client Version: {}", version::client().go_syntax());
    if client_only {
        return Ok(());
    }
    let connection = ctx
        .connect()
        .await
        .map_err(|e| CommandError::failed(format!("failed to get virtClient config: {e}")))?;
    let server = connection
        .client
        .server_version()
        .await
        .map_err(|e| CommandError::failed(format!("failed to get server version: {e}")))?;
    println!("Server Version: {}", server.go_syntax());
    Ok(())
}
