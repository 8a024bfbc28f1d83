//! Help and usage texts laid out as upstream's cobra templates and pflag's flag table print
//! them, with `virtctl` or `kubectl virt` as the program name.

pub mod docs;

use clap::{Arg, Command};

pub use docs::{ArgsRule, Doc};

/// Width below which cobra does not shrink the command name column.
const MIN_NAME_PADDING: usize = 11;

/// The name to print for the program: `kubectl virt` when run as the `kubectl-virt` plugin
/// binary (any `<x>-virt` gives `<x> virt`), `virtctl` otherwise.
pub fn program_name(argv0: &str) -> String {
    let base = std::path::Path::new(argv0)
        .file_name()
        .and_then(|b| b.to_str())
        .unwrap_or(argv0);
    match base.strip_suffix("-virt") {
        Some(prefix) => format!("{prefix} virt"),
        None => "virtctl".into(),
    }
}

/// One row of pflag's flag table.
#[derive(Debug, Clone)]
struct FlagRow {
    long: String,
    short: Option<char>,
    varname: String,
    usage: String,
}

/// pflag's rendering of a default that differs from the type's zero value.
fn default_suffix(varname: &str, default: &str) -> String {
    let zero = match varname {
        "bool" => default == "false",
        "string" => default.is_empty(),
        "int" | "int32" | "int64" | "uint" => default == "0",
        "duration" => default == "0s" || default == "0",
        "stringArray" | "strings" | "stringToString" => default.is_empty() || default == "[]",
        _ => default.is_empty(),
    };
    if zero {
        String::new()
    } else if varname == "string" {
        format!(" (default {default:?})")
    } else {
        format!(" (default {default})")
    }
}

fn row_of(arg: &Arg) -> Option<FlagRow> {
    let long = arg.get_long()?.to_owned();
    let varname = arg
        .get_value_names()
        .and_then(|v| v.first())
        .map(|v| v.as_str().to_owned())
        .unwrap_or_else(|| "bool".into());
    let default = arg
        .get_default_values()
        .first()
        .map(|d| d.to_string_lossy().into_owned())
        .unwrap_or_default();
    let help = arg.get_help().map(|h| h.to_string()).unwrap_or_default();
    let usage = format!("{help}{}", default_suffix(&varname, &default));
    Some(FlagRow {
        long,
        short: arg.get_short(),
        varname: if varname == "bool" {
            String::new()
        } else {
            varname
        },
        usage,
    })
}

/// pflag's `FlagUsages`: usages start three columns after the widest flag, continuation lines
/// of a usage are indented to the same column.
fn flag_usages(rows: &[FlagRow]) -> String {
    let heads: Vec<String> = rows
        .iter()
        .map(|r| {
            let mut head = match r.short {
                Some(s) => format!("  -{s}, --{}", r.long),
                None => format!("      --{}", r.long),
            };
            if !r.varname.is_empty() {
                head.push(' ');
                head.push_str(&r.varname);
            }
            head
        })
        .collect();
    let width = heads.iter().map(|h| h.chars().count()).max().unwrap_or(0);
    let mut out = String::new();
    for (head, row) in heads.iter().zip(rows) {
        let pad = " ".repeat(width - head.chars().count());
        let usage = row
            .usage
            .replace('\n', &format!("\n{}", " ".repeat(width + 3)));
        out.push_str(&format!("{head}{pad}   {usage}\n"));
    }
    out
}

fn help_row(name: &str) -> FlagRow {
    FlagRow {
        long: "help".into(),
        short: Some('h'),
        varname: String::new(),
        usage: format!("help for {name}"),
    }
}

/// The flags declared on `cmd` itself, with cobra's `-h, --help` among them.
fn local_rows(cmd: &Command, doc: &Doc) -> Vec<FlagRow> {
    let name = if doc.path.is_empty() {
        "virtctl"
    } else {
        cmd.get_name()
    };
    let mut rows: Vec<FlagRow> = cmd
        .get_arguments()
        .filter(|a| !a.is_global_set() && !a.is_hide_set())
        .filter_map(row_of)
        .collect();
    rows.push(help_row(name));
    if doc.sort_flags {
        rows.sort_by(|a, b| a.long.cmp(&b.long));
    }
    rows
}

/// The flags every command inherits from the root, sorted.
fn global_rows(root: &Command) -> Vec<FlagRow> {
    let mut rows: Vec<FlagRow> = root
        .get_arguments()
        .filter(|a| a.is_global_set() && a.get_id() != "help")
        .filter_map(row_of)
        .collect();
    rows.sort_by(|a, b| a.long.cmp(&b.long));
    rows
}

/// Walks `path` (space-separated subcommand names) down from the root.
fn find_command<'a>(root: &'a Command, path: &str) -> Option<&'a Command> {
    path.split_whitespace()
        .try_fold(root, |cmd, name| cmd.find_subcommand(name))
}

/// The visible subcommands of a command with their descriptions, sorted by name.
fn subcommands(cmd: &Command, path: &str) -> Vec<(&'static str, &'static str)> {
    let mut out: Vec<(&'static str, &'static str)> = cmd
        .get_subcommands()
        .filter_map(|sub| {
            let sub_path = if path.is_empty() {
                sub.get_name().to_owned()
            } else {
                format!("{path} {}", sub.get_name())
            };
            docs::find(&sub_path)
        })
        .filter(|d| !d.hidden)
        .map(|d| (d.path.rsplit(' ').next().unwrap_or_default(), d.short))
        .collect();
    out.sort();
    out
}

/// cobra's name column width for the children of a command (hidden ones count too).
fn name_padding(cmd: &Command) -> usize {
    cmd.get_subcommands()
        .map(|s| s.get_name().len())
        .max()
        .unwrap_or(0)
        .max(MIN_NAME_PADDING)
}

fn command_list(cmd: &Command, path: &str, program: &str) -> String {
    let pad = name_padding(cmd);
    subcommands(cmd, path)
        .into_iter()
        .map(|(name, short)| format!("\n  {name:<pad$} {}", prepare(short, program)))
        .collect()
}

/// Replaces the `{{ProgramName}}` placeholder.
fn prepare(text: &str, program: &str) -> String {
    text.replace("{{ProgramName}}", program)
}

/// The usage of the command at `path`: upstream's `MainUsageTemplate` for the root and
/// `UsageTemplate` for the others.
pub fn usage(root: &Command, path: &str, program: &str) -> String {
    let Some((cmd, doc)) = find_command(root, path).zip(docs::find(path)) else {
        return String::new();
    };
    if path.is_empty() {
        return format!(
            "Available Commands:{}\n\nUse \"{program} <command> --help\" for more information about a given command.\nUse \"{program} options\" for a list of global command-line options (applies to all commands).\n",
            command_list(cmd, path, program)
        );
    }
    let command_path = format!("{program} {path}");
    let has_subcommands = !subcommands(cmd, path).is_empty();
    let mut out = String::from("Usage:");
    let (_, rest) = doc.use_line.split_once(' ').unwrap_or((doc.use_line, ""));
    let mut use_line = if rest.is_empty() {
        command_path.clone()
    } else {
        format!("{command_path} {rest}")
    };
    if !use_line.contains("[flags]") {
        use_line.push_str(" [flags]");
    }
    out.push_str(&format!("\n  {}", prepare(&use_line, program)));
    if has_subcommands {
        out.push_str(&format!("\n  {command_path} [command]"));
    }
    if !doc.example.is_empty() {
        out.push_str(&format!("\n\nExamples:\n{}", prepare(doc.example, program)));
    }
    if has_subcommands {
        out.push_str(&format!(
            "\n\nAvailable Commands:{}",
            command_list(cmd, path, program)
        ));
    }
    let flags = flag_usages(&local_rows(cmd, doc));
    out.push_str(&format!("\n\nFlags:\n{}", flags.trim_end()));
    out.push_str(&format!(
        "\n\nUse \"{program} options\" for a list of global command-line options (applies to all commands).\n"
    ));
    out
}

/// The help of the command at `path`: its long (or short) description, then its usage.
pub fn help(root: &Command, path: &str, program: &str) -> String {
    let Some(doc) = docs::find(path) else {
        return String::new();
    };
    let text = if doc.long.is_empty() {
        doc.short
    } else {
        doc.long
    };
    let text = if path.is_empty() {
        text.replacen("virtctl", program, 1)
    } else {
        text.replace("virtctl help", &format!("{program} help"))
    };
    format!("{}\n\n{}", text.trim_end(), usage(root, path, program))
}

/// The `options` command: every global flag.
pub fn options(root: &Command) -> String {
    format!(
        "The following options can be passed to any command:\n\n{}\n",
        flag_usages(&global_rows(root)).trim_end()
    )
}

/// The short and long flag names of `long` as pflag names it in errors (`-p, --port`).
pub fn flag_display(cmd: &Command, root: &Command, long: &str) -> String {
    let short = cmd
        .get_arguments()
        .chain(root.get_arguments())
        .find(|a| a.get_long() == Some(long))
        .and_then(Arg::get_short);
    match short {
        Some(s) => format!("-{s}, --{long}"),
        None => format!("--{long}"),
    }
}

/// Finds the command for `path` below `root`.
pub fn command_at<'a>(root: &'a Command, path: &str) -> Option<&'a Command> {
    find_command(root, path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::Cli;
    use clap::CommandFactory;

    #[test]
    fn program_name_follows_the_binary_name() {
        assert_eq!(program_name("/usr/bin/virtctl"), "virtctl");
        assert_eq!(program_name("kubectl-virt"), "kubectl virt");
        assert_eq!(program_name("/x/oc-virt"), "oc virt");
    }

    #[test]
    fn stop_usage_lists_flags_like_pflag() {
        let root = Cli::command();
        let text = usage(&root, "stop", "virtctl");
        assert!(text.starts_with("Usage:\n  virtctl stop (VM) [flags]\n\nExamples:\n  # Stop a virtual machine called 'myvm':\n  virtctl stop myvm\n\nFlags:\n"), "{text}");
        // The widest flag is "      --wait-timeout duration" (29 columns): usages start at 32.
        assert!(
            text.contains("\n      --dry-run                 --dry-run=false: Flag used"),
            "{text}"
        );
        assert!(text.contains("\n      --grace-period int        --grace-period=-1: Period of time in seconds given to the VMI to terminate gracefully. Can only be set to 0 when --force is true (force deletion). Currently only setting 0 is supported. (default -1)\n"), "{text}");
        assert!(
            text.contains("\n  -h, --help                    help for stop\n"),
            "{text}"
        );
        assert!(text.contains("\n      --wait-timeout duration   --wait-timeout=5m0s: How long --wait waits before giving up. (default 5m0s)\n"), "{text}");
        assert!(text.ends_with("\n\nUse \"virtctl options\" for a list of global command-line options (applies to all commands).\n"));
        let force = text.find("--force").unwrap();
        let grace = text.find("--grace-period int").unwrap();
        let help = text.find("--help").unwrap();
        assert!(force < grace && grace < help, "sorted by name");
    }

    #[test]
    fn root_usage_lists_commands_in_a_padded_column() {
        let root = Cli::command();
        let text = usage(&root, "", "kubectl virt");
        assert!(text.starts_with("Available Commands:\n"), "{text}");
        assert!(
            text.contains("\n  start          Start a virtual machine.\n"),
            "{text}"
        );
        assert!(
            text.contains("\n  migrate-cancel Cancel migration of a virtual machine.\n"),
            "{text}"
        );
        assert!(
            !text.contains("\n  options "),
            "hidden command listed: {text}"
        );
        assert!(text.contains("Use \"kubectl virt <command> --help\""));
    }

    #[test]
    fn help_starts_with_the_description_and_shows_subcommands() {
        let root = Cli::command();
        let text = help(&root, "vnc", "virtctl");
        assert!(text.starts_with("Open a vnc connection to a virtual machine instance.\n\nUsage:\n  virtctl vnc (VMI) [flags]\n  virtctl vnc [command]\n"), "{text}");
        assert!(
            text.contains("Available Commands:\n  screenshot  Create a VNC screenshot"),
            "{text}"
        );
        assert!(text.contains("      --address string     --address=127.0.0.1: Setting this will change the listening address of the VNC server. Example: --address=0.0.0.0 will make the server listen on all interfaces. (default \"127.0.0.1\")"), "{text}");
    }

    #[test]
    fn options_lists_the_kubeconfig_overrides() {
        let root = Cli::command();
        let text = options(&root);
        assert!(
            text.starts_with(
                "The following options can be passed to any command:\n\n      --as string "
            ),
            "{text}"
        );
        assert!(text.contains("\n  -n, --namespace string               If present, the namespace scope for this CLI request\n"), "{text}");
        assert!(text.contains("\n  -s, --server string "), "{text}");
        assert!(
            text.contains("A value of zero means don't timeout requests. (default \"0\")\n"),
            "{text}"
        );
        assert!(
            text.contains(
                "\n  -v, --v int                          log level for V logs (default 2)\n"
            ),
            "{text}"
        );
        assert!(!text.contains("--help"));
    }

    #[test]
    fn unsorted_commands_keep_declaration_order_with_help_last() {
        let root = Cli::command();
        let text = usage(&root, "create vm", "virtctl");
        let name = text.find("--name string").unwrap();
        let memory = text.find("--memory string").unwrap();
        let help = text.find("--help").unwrap();
        assert!(name < memory && memory < help, "{text}");
        assert!(text.contains("Supported parameters: name:string,src:string,bootorder:uint"));
    }

    #[test]
    fn flag_display_names_the_shorthand() {
        let root = Cli::command();
        let ssh = command_at(&root, "ssh").unwrap();
        assert_eq!(flag_display(ssh, &root, "port"), "-p, --port");
        assert_eq!(flag_display(ssh, &root, "known-hosts"), "--known-hosts");
        assert_eq!(flag_display(ssh, &root, "namespace"), "-n, --namespace");
    }
}
