//! The command line, declared with clap and parsed with the conventions of upstream's cobra and
//! pflag: boolean flags take `--flag` or `--flag=false` (never a separate value), the last of
//! repeated flags wins, flags and arguments may be interleaved, and positional arguments are
//! collected so that their count is checked with cobra's messages (`accepts 1 arg(s), received
//! 2`). Help is rendered by [`crate::help`], not by clap.
//!
//! Each flag carries its pflag type as `value_name` (`string`, `int`, `stringArray`, ...;
//! `bool` for booleans), which the help renderer prints as upstream does.

use std::collections::BTreeMap;

use clap::{ArgAction, Args, Parser, Subcommand};

use crate::flags;

/// Upstream's usage of every `--dry-run` flag.
pub const DRY_RUN_USAGE: &str = "--dry-run=false: Flag used to set whether to perform a dry run or not. If true the command will be executed without performing any changes.";
const FORCE_USAGE: &str = "--force=false: Only used when grace-period=0. If true, immediately remove VMI pod from API and bypass graceful deletion. Note that immediate deletion of some resources may result in inconsistency or data loss and requires confirmation.";
const GRACE_PERIOD_USAGE: &str = "--grace-period=-1: Period of time in seconds given to the VMI to terminate gracefully. Can only be set to 0 when --force is true (force deletion). Currently only setting 0 is supported.";

#[derive(Parser, Debug)]
#[command(
    name = "virtctl",
    disable_help_flag = true,
    disable_help_subcommand = true,
    disable_version_flag = true,
    args_override_self = true
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalFlags,
    #[command(subcommand)]
    pub command: Option<Cmd>,
}

/// Flags every command accepts: client-go's kubeconfig overrides, the verbosity and help.
#[derive(Args, Debug, Clone, Default)]
pub struct GlobalFlags {
    /// Help for the command.
    #[arg(short = 'h', long = "help", global = true, action = ArgAction::SetTrue)]
    pub help: bool,
    #[arg(
        long = "as",
        global = true,
        value_name = "string",
        help = "Username to impersonate for the operation"
    )]
    pub impersonate: Option<String>,
    #[arg(long = "as-group", global = true, value_name = "stringArray", action = ArgAction::Append, help = "Group to impersonate for the operation, this flag can be repeated to specify multiple groups.")]
    pub impersonate_groups: Vec<String>,
    #[arg(
        long = "as-uid",
        global = true,
        value_name = "string",
        help = "UID to impersonate for the operation"
    )]
    pub impersonate_uid: Option<String>,
    #[arg(
        long,
        global = true,
        value_name = "string",
        help = "Path to a cert file for the certificate authority"
    )]
    pub certificate_authority: Option<String>,
    #[arg(
        long,
        global = true,
        value_name = "string",
        help = "Path to a client certificate file for TLS"
    )]
    pub client_certificate: Option<String>,
    #[arg(
        long,
        global = true,
        value_name = "string",
        help = "Path to a client key file for TLS"
    )]
    pub client_key: Option<String>,
    #[arg(
        long,
        global = true,
        value_name = "string",
        help = "The name of the kubeconfig cluster to use"
    )]
    pub cluster: Option<String>,
    #[arg(
        long,
        global = true,
        value_name = "string",
        help = "The name of the kubeconfig context to use"
    )]
    pub context: Option<String>,
    #[arg(long, global = true, value_name = "bool", action = ArgAction::Set, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false", value_parser = flags::bool_value, help = "If true, opt-out of response compression for all requests to the server")]
    pub disable_compression: bool,
    #[arg(long, global = true, value_name = "bool", action = ArgAction::Set, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false", value_parser = flags::bool_value, help = "If true, the server's certificate will not be checked for validity. This will make your HTTPS connections insecure")]
    pub insecure_skip_tls_verify: bool,
    #[arg(
        long,
        global = true,
        value_name = "string",
        help = "Path to the kubeconfig file to use for CLI requests."
    )]
    pub kubeconfig: Option<String>,
    #[arg(
        short = 'n',
        long,
        global = true,
        value_name = "string",
        help = "If present, the namespace scope for this CLI request"
    )]
    pub namespace: Option<String>,
    #[arg(
        long,
        global = true,
        value_name = "string",
        help = "Password for basic authentication to the API server"
    )]
    pub password: Option<String>,
    #[arg(
        long,
        global = true,
        value_name = "string",
        help = "If provided, this URL will be used to connect via proxy"
    )]
    pub proxy_url: Option<String>,
    #[arg(
        long,
        global = true,
        value_name = "string",
        default_value = "0",
        help = "The length of time to wait before giving up on a single server request. Non-zero values should contain a corresponding time unit (e.g. 1s, 2m, 3h). A value of zero means don't timeout requests."
    )]
    pub request_timeout: String,
    #[arg(
        short = 's',
        long,
        global = true,
        value_name = "string",
        help = "The address and port of the Kubernetes API server"
    )]
    pub server: Option<String>,
    #[arg(
        long,
        global = true,
        value_name = "string",
        help = "If provided, this name will be used to validate server certificate. If this is not provided, hostname used to contact the server is used."
    )]
    pub tls_server_name: Option<String>,
    #[arg(
        long,
        global = true,
        value_name = "string",
        help = "Bearer token for authentication to the API server"
    )]
    pub token: Option<String>,
    #[arg(
        long,
        global = true,
        value_name = "string",
        help = "The name of the kubeconfig user to use"
    )]
    pub user: Option<String>,
    #[arg(
        long,
        global = true,
        value_name = "string",
        help = "Username for basic authentication to the API server"
    )]
    pub username: Option<String>,
    #[arg(short = 'v', long = "v", global = true, value_name = "int", default_value = "2", value_parser = flags::int64, help = "log level for V logs")]
    pub verbosity: i64,
}

#[derive(Subcommand, Debug)]
pub enum Cmd {
    Console(ConsoleArgs),
    Create(CreateArgs),
    Expand(ExpandArgs),
    Expose(ExposeArgs),
    Fslist(PositionalArgs),
    Guestosinfo(PositionalArgs),
    Help(PositionalArgs),
    Migrate(MigrateArgs),
    MigrateCancel(DryRunArgs),
    #[command(hide = true)]
    Options(PositionalArgs),
    Pause(DryRunArgs),
    PortForward(PortForwardArgs),
    Reset(PositionalArgs),
    Restart(StopArgs),
    Scp(ScpArgs),
    SoftReboot(PositionalArgs),
    Ssh(SshArgs),
    Start(StartArgs),
    Stop(StopArgs),
    Unpause(DryRunArgs),
    Userlist(PositionalArgs),
    Version(VersionArgs),
    Vnc(VncArgs),
}

/// A command with positional arguments only.
#[derive(Args, Debug, Default)]
#[command(args_override_self = true)]
pub struct PositionalArgs {
    #[arg(value_name = "ARGS")]
    pub args: Vec<String>,
}

#[derive(Args, Debug)]
#[command(args_override_self = true)]
pub struct DryRunArgs {
    #[arg(value_name = "ARGS")]
    pub args: Vec<String>,
    #[arg(long, value_name = "bool", action = ArgAction::Set, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false", value_parser = flags::bool_value, help = DRY_RUN_USAGE)]
    pub dry_run: bool,
}

/// `--wait` and `--wait-timeout` of start, stop and restart (not in upstream).
#[derive(Args, Debug, Clone)]
pub struct WaitFlags {
    #[arg(long, value_name = "bool", action = ArgAction::Set, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false", value_parser = flags::bool_value, help = "--wait=false: Wait until the operation has taken effect: the virtual machine is running (start), stopped (stop), or running a new instance (restart).")]
    pub wait: bool,
    #[arg(long, value_name = "duration", default_value = "5m0s", value_parser = flags::duration, help = "--wait-timeout=5m0s: How long --wait waits before giving up.")]
    pub wait_timeout: std::time::Duration,
}

#[derive(Args, Debug)]
#[command(args_override_self = true)]
pub struct StartArgs {
    #[arg(value_name = "ARGS")]
    pub args: Vec<String>,
    #[arg(long, value_name = "bool", action = ArgAction::Set, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false", value_parser = flags::bool_value, help = "--paused=false: If set to true, start virtual machine in paused state")]
    pub paused: bool,
    #[arg(long, value_name = "bool", action = ArgAction::Set, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false", value_parser = flags::bool_value, help = DRY_RUN_USAGE)]
    pub dry_run: bool,
    #[command(flatten)]
    pub wait: WaitFlags,
}

#[derive(Args, Debug)]
#[command(args_override_self = true)]
pub struct StopArgs {
    #[arg(value_name = "ARGS")]
    pub args: Vec<String>,
    #[arg(long, value_name = "bool", action = ArgAction::Set, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false", value_parser = flags::bool_value, help = FORCE_USAGE)]
    pub force: bool,
    #[arg(long, value_name = "int", default_value = "-1", allow_negative_numbers = true, value_parser = flags::int64, help = GRACE_PERIOD_USAGE)]
    pub grace_period: i64,
    #[arg(long, value_name = "bool", action = ArgAction::Set, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false", value_parser = flags::bool_value, help = DRY_RUN_USAGE)]
    pub dry_run: bool,
    #[command(flatten)]
    pub wait: WaitFlags,
}

#[derive(Args, Debug)]
#[command(args_override_self = true)]
pub struct MigrateArgs {
    #[arg(value_name = "ARGS")]
    pub args: Vec<String>,
    #[arg(long = "addedNodeSelector", value_name = "stringToString", action = ArgAction::Append, value_parser = flags::string_to_string, help = "--addedNodeSelector=key=value1,key2=value2: configure an additional node selector for the one-off migration attempt. AddedNodeSelector can only restrict constraints already set on the VM. By default the scheduler is responsible for finding the best Node, which is the recommended way of migrating VMs.")]
    pub added_node_selector: Vec<BTreeMap<String, String>>,
    #[arg(long, value_name = "bool", action = ArgAction::Set, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false", value_parser = flags::bool_value, help = DRY_RUN_USAGE)]
    pub dry_run: bool,
}

#[derive(Args, Debug)]
#[command(args_override_self = true)]
pub struct ConsoleArgs {
    #[arg(value_name = "ARGS")]
    pub args: Vec<String>,
    #[arg(long, value_name = "int", default_value = "5", allow_negative_numbers = true, value_parser = flags::int64, help = "The number of minutes to wait for the virtual machine instance to be ready.")]
    pub timeout: i64,
}

#[derive(Args, Debug)]
#[command(args_override_self = true)]
pub struct VncArgs {
    #[arg(value_name = "ARGS")]
    pub args: Vec<String>,
    #[arg(
        long,
        value_name = "string",
        default_value = "127.0.0.1",
        help = "--address=127.0.0.1: Setting this will change the listening address of the VNC server. Example: --address=0.0.0.0 will make the server listen on all interfaces."
    )]
    pub address: String,
    #[arg(long, value_name = "bool", action = ArgAction::Set, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false", value_parser = flags::bool_value, help = "--proxy-only=false: Setting this true will run only the virtctl vnc proxy and show the port where VNC viewers can connect")]
    pub proxy_only: bool,
    #[arg(long, value_name = "bool", action = ArgAction::Set, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false", value_parser = flags::bool_value, help = "--preserve-session: This option will preserve an existing VNC session instead of dropping it.")]
    pub preserve_session: bool,
    #[arg(long, value_name = "int", default_value = "0", allow_negative_numbers = true, value_parser = flags::int64, help = "--port=0: Assigning a port value to this will try to run the proxy on the given port if the port is accessible; If unassigned, the proxy will run on a random port")]
    pub port: i64,
    #[arg(
        long,
        value_name = "string",
        default_value = "",
        help = "--vnc-type=tiger: Specify the type of VNC viewer to use (tiger, chicken, real, remote-viewer). If --vnc-path is not provided, the binary is looked up in $PATH"
    )]
    pub vnc_type: String,
    #[arg(
        long,
        value_name = "string",
        default_value = "",
        help = "--vnc-path=/path/to/vnc: Specify the path to the VNC viewer executable. Optional if the binary is in $PATH"
    )]
    pub vnc_path: String,
    #[command(subcommand)]
    pub command: Option<VncCmd>,
}

#[derive(Subcommand, Debug)]
pub enum VncCmd {
    Screenshot(ScreenshotArgs),
}

#[derive(Args, Debug)]
#[command(args_override_self = true)]
pub struct ScreenshotArgs {
    #[arg(value_name = "ARGS")]
    pub args: Vec<String>,
    #[arg(
        short = 'f',
        long,
        value_name = "string",
        help = "where to store the VNC screenshot in PNG format. User '-' for stdout"
    )]
    pub file: Option<String>,
    #[arg(short = 'm', long, value_name = "bool", action = ArgAction::Set, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false", value_parser = flags::bool_value, help = "move the cursor to wake up the screen in case of screensavers")]
    pub move_cursor: bool,
}

#[derive(Args, Debug)]
#[command(args_override_self = true)]
pub struct PortForwardArgs {
    #[arg(value_name = "ARGS")]
    pub args: Vec<String>,
    #[arg(long, value_name = "bool", action = ArgAction::Set, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false", value_parser = flags::bool_value, help = "--stdio=true: Set this to true to forward the tunnel to stdout/stdin; Only works with a single port")]
    pub stdio: bool,
    #[arg(
        long,
        value_name = "string",
        default_value = "127.0.0.1",
        help = "--address=: Set this to the address the local ports should be opened on"
    )]
    pub address: String,
}

/// The flags `ssh` and `scp` share.
#[derive(Args, Debug, Clone)]
pub struct SshFlags {
    #[arg(short = 'l', long, value_name = "string", default_value_t = crate::commands::ssh::default_username(), help = format!("--username={}: Set this to the user you want to open the SSH connection as;If unassigned, this will be empty and the SSH default will apply", crate::commands::ssh::default_username()))]
    pub username: String,
    #[arg(short = 'i', long, value_name = "string", default_value_t = crate::commands::ssh::default_identity_file(), help = "--identity-file=/home/jdoe/.ssh/id_rsa: Set the path to a private key used for authenticating to the server;If not provided, the client will try to use the local ssh-agent at $SSH_AUTH_SOCK")]
    pub identity_file: String,
    #[arg(long, value_name = "string", default_value_t = crate::commands::ssh::default_known_hosts(), help = "--known-hosts=/home/jdoe/.ssh/kubevirt_known_hosts: Set the path to the known_hosts file.")]
    pub known_hosts: String,
    #[arg(short = 'p', long, value_name = "int", default_value = "22", value_parser = flags::int64, help = "--port=22: Specify a port on the VM to send SSH traffic to")]
    pub port: i64,
    #[arg(short = 't', long, value_name = "stringArray", action = ArgAction::Append, allow_hyphen_values = true, help = "--local-ssh-opts=\"-o StrictHostKeyChecking=no\" : Additional options to be passed to the local ssh client")]
    pub local_ssh_opts: Vec<String>,
}

#[derive(Args, Debug)]
#[command(args_override_self = true)]
pub struct SshArgs {
    #[arg(value_name = "ARGS")]
    pub args: Vec<String>,
    #[command(flatten)]
    pub ssh: SshFlags,
    #[arg(
        short = 'c',
        long,
        value_name = "string",
        default_value = "",
        help = "--command='ls /': Specify a command to execute in the VM"
    )]
    pub command: String,
}

#[derive(Args, Debug)]
#[command(args_override_self = true)]
pub struct ScpArgs {
    #[arg(value_name = "ARGS")]
    pub args: Vec<String>,
    #[command(flatten)]
    pub ssh: SshFlags,
    #[arg(short = 'r', long, value_name = "bool", action = ArgAction::Set, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false", value_parser = flags::bool_value, help = "Recursively copy entire directories")]
    pub recursive: bool,
    #[arg(long, value_name = "bool", action = ArgAction::Set, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false", value_parser = flags::bool_value, help = "Preserves modification times, access times, and modes from the original file.")]
    pub preserve: bool,
}

#[derive(Args, Debug)]
#[command(args_override_self = true)]
pub struct ExposeArgs {
    #[arg(value_name = "ARGS")]
    pub args: Vec<String>,
    #[arg(
        long,
        value_name = "string",
        default_value = "",
        help = "Name of the service created for the exposure of the VM."
    )]
    pub name: String,
    #[arg(
        long,
        value_name = "string",
        default_value = "",
        help = "ClusterIP to be assigned to the service. Leave empty to auto-allocate, or set to 'None' to create a headless service."
    )]
    pub cluster_ip: String,
    #[arg(
        long,
        value_name = "string",
        default_value = "",
        help = "Additional external IP address (not managed by the cluster) to accept for the service. If this IP is routed to a node, the service can be accessed by this IP in addition to its generated service IP. Optional."
    )]
    pub external_ip: String,
    #[arg(long, value_name = "int32", default_value = "0", allow_negative_numbers = true, value_parser = flags::int32, help = "The port that the service should serve on.")]
    pub port: i32,
    #[arg(
        long,
        value_name = "string",
        default_value = "TCP",
        help = "The network protocol for the service to be created."
    )]
    pub protocol: String,
    #[arg(
        long,
        value_name = "string",
        default_value = "",
        help = "Name or number for the port on the VM that the service should direct traffic to. Optional."
    )]
    pub target_port: String,
    #[arg(
        long = "type",
        value_name = "string",
        default_value = "ClusterIP",
        help = "Type for this service: ClusterIP, NodePort, or LoadBalancer."
    )]
    pub service_type: String,
    #[arg(
        long,
        value_name = "string",
        default_value = "",
        help = "Name of the port. Optional."
    )]
    pub port_name: String,
    #[arg(
        long,
        value_name = "string",
        default_value = "",
        help = "IP family over which the service will be exposed. Valid values are 'IPv4', 'IPv6', 'IPv4,IPv6' or 'IPv6,IPv4'"
    )]
    pub ip_family: String,
    #[arg(
        long,
        value_name = "string",
        default_value = "",
        help = "IP family policy defines whether the service can use IPv4, IPv6, or both. Valid values are 'SingleStack', 'PreferDualStack' or 'RequireDualStack'"
    )]
    pub ip_family_policy: String,
}

#[derive(Args, Debug)]
#[command(args_override_self = true)]
pub struct ExpandArgs {
    #[arg(value_name = "ARGS")]
    pub args: Vec<String>,
    #[arg(
        short = 'f',
        long,
        value_name = "string",
        default_value = "",
        help = "If present, the Virtual Machine spec in provided file will be expanded. Mutually exclusive with \"--vm\" flag."
    )]
    pub file: String,
    #[arg(
        short = 'o',
        long,
        value_name = "string",
        default_value = "yaml",
        help = "Specify a format that will be used to display output."
    )]
    pub output: String,
    #[arg(
        long,
        value_name = "string",
        default_value = "",
        help = "Specify VirtualMachine name that should be expanded. Mutually exclusive with \"--file\" flag."
    )]
    pub vm: String,
}

#[derive(Args, Debug)]
#[command(args_override_self = true)]
pub struct VersionArgs {
    #[arg(value_name = "ARGS")]
    pub args: Vec<String>,
    #[arg(short = 'c', long, value_name = "bool", action = ArgAction::Set, num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false", value_parser = flags::bool_value, help = "Client version only (no server required).")]
    pub client: bool,
}

#[derive(Args, Debug)]
#[command(args_override_self = true)]
pub struct CreateArgs {
    #[command(subcommand)]
    pub command: Option<CreateCmd>,
}

#[derive(Subcommand, Debug)]
pub enum CreateCmd {
    Vm(Box<crate::create_vm::CreateVmArgs>),
}

impl Cmd {
    /// The positional arguments given to the command.
    pub fn positional(&self) -> &[String] {
        match self {
            Cmd::Console(a) => &a.args,
            Cmd::Create(c) => match &c.command {
                Some(CreateCmd::Vm(vm)) => &vm.args,
                None => &[],
            },
            Cmd::Expand(a) => &a.args,
            Cmd::Expose(a) => &a.args,
            Cmd::Fslist(a)
            | Cmd::Guestosinfo(a)
            | Cmd::Help(a)
            | Cmd::Options(a)
            | Cmd::Reset(a)
            | Cmd::SoftReboot(a)
            | Cmd::Userlist(a) => &a.args,
            Cmd::Migrate(a) => &a.args,
            Cmd::MigrateCancel(a) | Cmd::Pause(a) | Cmd::Unpause(a) => &a.args,
            Cmd::PortForward(a) => &a.args,
            Cmd::Restart(a) | Cmd::Stop(a) => &a.args,
            Cmd::Scp(a) => &a.args,
            Cmd::Ssh(a) => &a.args,
            Cmd::Start(a) => &a.args,
            Cmd::Version(a) => &a.args,
            Cmd::Vnc(a) => match &a.command {
                Some(VncCmd::Screenshot(s)) => &s.args,
                None => &a.args,
            },
        }
    }
}
