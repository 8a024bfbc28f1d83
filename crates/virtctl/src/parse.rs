//! Turns the command line into an invocation, a text to print (help, usage) or a usage error
//! worded as cobra and pflag word it, checking what cobra checks before a command runs: the
//! number of positional arguments, required flags and mutually exclusive flag groups.

use std::collections::BTreeSet;
use std::ffi::OsString;

use clap::error::{ContextKind, ContextValue, ErrorKind};
use clap::parser::ValueSource;
use clap::{ArgMatches, Command, CommandFactory, FromArgMatches};

use crate::cli::Cli;
use crate::help::{self, ArgsRule};

/// A command ready to run.
#[derive(Debug)]
pub struct Invocation {
    pub cli: Cli,
    /// The command's path below the root (`"stop"`, `"vnc screenshot"`).
    pub path: String,
    /// Long names of the flags given on the command line (cobra's `Changed`).
    pub changed: BTreeSet<String>,
}

/// What the command line asks for.
#[derive(Debug)]
pub enum Outcome {
    Run(Box<Invocation>),
    /// Print this on standard output and succeed.
    Print(String),
}

#[derive(Debug, thiserror::Error)]
pub enum UsageError {
    #[error("{0}")]
    Message(String),
    /// An error printed after the command's help, on standard error.
    #[error("{message}")]
    WithHelp { help: String, message: String },
}

/// Flags that must be given, per command (cobra's `MarkFlagRequired`).
const REQUIRED: &[(&str, &str)] = &[("expose", "name"), ("vnc screenshot", "file")];

/// Mutually exclusive flag groups per command, in cobra's order of checking.
const EXCLUSIVE: &[(&str, &[&str])] = &[
    ("expand", &["file", "vm"]),
    ("create vm", &["cloud-init-user-data", "ga-manage-ssh"]),
    ("create vm", &["cloud-init-user-data", "password-file"]),
    ("create vm", &["cloud-init-user-data", "ssh-key"]),
    ("create vm", &["cloud-init-user-data", "user"]),
    (
        "create vm",
        &[
            "memory",
            "instancetype",
            "infer-instancetype",
            "infer-instancetype-from",
        ],
    ),
    (
        "create vm",
        &["preference", "infer-preference", "infer-preference-from"],
    ),
];

/// Levenshtein distance, ignoring case, as cobra computes it for suggestions.
fn distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.to_lowercase().chars().collect();
    let b: Vec<char> = b.to_lowercase().chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

/// cobra's "unknown command" error with its "Did you mean this?" suggestions.
fn unknown_command(typed: &str, cmd: &Command, path: &str, program: &str) -> String {
    let mut suggestions: Vec<&str> = cmd
        .get_subcommands()
        .filter(|s| !s.is_hide_set())
        .map(Command::get_name)
        .filter(|name| {
            distance(typed, name) <= 2 || name.to_lowercase().starts_with(&typed.to_lowercase())
        })
        .collect();
    suggestions.sort_unstable();
    let full = if path.is_empty() {
        program.to_owned()
    } else {
        format!("{program} {path}")
    };
    let mut msg = format!("unknown command {typed:?} for {full:?}");
    if !suggestions.is_empty() {
        msg.push_str("\n\nDid you mean this?\n");
        for s in suggestions {
            msg.push_str(&format!("\t{s}\n"));
        }
    }
    msg
}

/// The command path named by the raw arguments, found without parsing flags.
fn path_of_args(root: &Command, args: &[String]) -> String {
    let mut cmd = root;
    let mut path: Vec<&str> = Vec::new();
    for token in args.iter().skip(1) {
        if token == "--" {
            break;
        }
        if token.starts_with('-') {
            continue;
        }
        match cmd.find_subcommand(token) {
            Some(sub) => {
                path.push(sub.get_name());
                cmd = sub;
            }
            None => {
                if cmd.has_subcommands() && path.len() < 2 {
                    continue;
                }
                break;
            }
        }
    }
    path.join(" ")
}

fn context_str(err: &clap::Error, kind: ContextKind) -> Option<String> {
    match err.get(kind)? {
        ContextValue::String(s) => Some(s.clone()),
        ContextValue::Strings(v) => v.first().cloned(),
        _ => None,
    }
}

/// The innermost cause of a clap error (the text of our value parsers).
fn cause(err: &clap::Error) -> Option<String> {
    let mut source = std::error::Error::source(err)?;
    while let Some(next) = source.source() {
        source = next;
    }
    Some(source.to_string())
}

/// Rewords a clap error as cobra and pflag would report it.
fn translate(err: &clap::Error, root: &Command, args: &[String], program: &str) -> String {
    let path = path_of_args(root, args);
    let cmd = help::command_at(root, &path).unwrap_or(root);
    let flag_name = |arg: &str| {
        let long = arg
            .split([' ', '=', '['])
            .next()
            .unwrap_or(arg)
            .trim_start_matches('-')
            .to_owned();
        help::flag_display(cmd, root, &long)
    };
    match err.kind() {
        ErrorKind::UnknownArgument => {
            let arg = context_str(err, ContextKind::InvalidArg).unwrap_or_default();
            if let Some(long) = arg.strip_prefix("--") {
                format!("unknown flag: --{}", long.split('=').next().unwrap_or(long))
            } else if let Some(short) = arg.strip_prefix('-') {
                let c = short.chars().next().unwrap_or('-');
                let token = args
                    .iter()
                    .find(|t| t.starts_with('-') && !t.starts_with("--") && t.contains(c))
                    .cloned()
                    .unwrap_or_else(|| arg.clone());
                format!("unknown shorthand flag: '{c}' in {token}")
            } else {
                unknown_command(&arg, cmd, &path, program)
            }
        }
        ErrorKind::InvalidSubcommand => {
            let typed = context_str(err, ContextKind::InvalidSubcommand).unwrap_or_default();
            unknown_command(&typed, cmd, &path, program)
        }
        ErrorKind::ValueValidation => {
            let arg = context_str(err, ContextKind::InvalidArg).unwrap_or_default();
            let value = context_str(err, ContextKind::InvalidValue).unwrap_or_default();
            let why = cause(err).unwrap_or_default();
            format!(
                "invalid argument {value:?} for {:?} flag: {why}",
                flag_name(&arg)
            )
        }
        ErrorKind::InvalidValue | ErrorKind::NoEquals => {
            let arg = context_str(err, ContextKind::InvalidArg).unwrap_or_default();
            let long = arg.split([' ', '=', '[']).next().unwrap_or(&arg).to_owned();
            let short_used = args.iter().rev().find(|t| {
                t.starts_with('-') && !t.starts_with("--") && {
                    let display = flag_name(&arg);
                    display
                        .strip_prefix('-')
                        .and_then(|d| d.chars().next())
                        .is_some_and(|c| t.ends_with(c))
                }
            });
            match short_used {
                Some(token)
                    if flag_name(&arg).starts_with("-") && !flag_name(&arg).starts_with("--") =>
                {
                    let c = token.chars().last().unwrap_or('-');
                    format!("flag needs an argument: '{c}' in {token}")
                }
                _ => format!("flag needs an argument: {long}"),
            }
        }
        _ => {
            let rendered = err.to_string();
            rendered
                .lines()
                .next()
                .unwrap_or_default()
                .trim_start_matches("error: ")
                .to_owned()
        }
    }
}

/// The subcommand path of parsed matches and the matches of the leaf command.
fn leaf(matches: &ArgMatches) -> (String, &ArgMatches) {
    let mut m = matches;
    let mut path: Vec<&str> = Vec::new();
    while let Some((name, sub)) = m.subcommand() {
        path.push(name);
        m = sub;
    }
    (path.join(" "), m)
}

/// Long names of the flags given on the command line.
fn changed(cmd: &Command, root: &Command, m: &ArgMatches) -> BTreeSet<String> {
    cmd.get_arguments()
        .chain(root.get_arguments())
        .filter(|a| m.value_source(a.get_id().as_str()) == Some(ValueSource::CommandLine))
        .filter_map(|a| a.get_long().map(str::to_owned))
        .collect()
}

/// Checks the positional arguments against the command's rule.
fn check_args(
    rule: ArgsRule,
    args: &[String],
    path: &str,
    program: &str,
    root: &Command,
) -> Result<(), UsageError> {
    match rule {
        ArgsRule::Arbitrary => Ok(()),
        ArgsRule::Exact(n) if args.len() != n => Err(UsageError::Message(format!(
            "accepts {n} arg(s), received {}",
            args.len()
        ))),
        ArgsRule::Exact(_) => Ok(()),
        ArgsRule::None => match args.first() {
            Some(first) => Err(UsageError::Message(format!(
                "unknown command {first:?} for \"{program} {path}\""
            ))),
            None => Ok(()),
        },
        ArgsRule::AtLeast(n) if args.len() < n => {
            crate::log::error(
                "portforward",
                &format!(
                    "fatal: Number of input parameters is incorrect, portforward requires at least {n} arg(s), received {}",
                    args.len()
                ),
            );
            Err(UsageError::WithHelp {
                help: help::help(root, path, program),
                message: "argument validation failed".into(),
            })
        }
        ArgsRule::AtLeast(_) => Ok(()),
    }
}

/// Parses the command line (`args[0]` is the program).
pub fn parse(args: &[OsString], program: &str) -> Result<Outcome, UsageError> {
    let root = Cli::command();
    let strings: Vec<String> = args
        .iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let matches = root
        .clone()
        .try_get_matches_from(args)
        .map_err(|e| UsageError::Message(translate(&e, &root, &strings, program)))?;
    let (path, m) = leaf(&matches);
    let cmd = help::command_at(&root, &path).unwrap_or(&root);
    if m.get_flag("help") {
        return Ok(Outcome::Print(help::help(&root, &path, program)));
    }
    let cli = Cli::from_arg_matches(&matches).map_err(|e| UsageError::Message(e.to_string()))?;
    let positional: Vec<String> = cli
        .command
        .as_ref()
        .map(|c| c.positional().to_vec())
        .unwrap_or_default();
    match path.as_str() {
        "" | "create" => return Ok(Outcome::Print(help::usage(&root, &path, program))),
        "options" => return Ok(Outcome::Print(help::options(&root))),
        "help" => {
            let topic = positional.join(" ");
            return Ok(Outcome::Print(
                match help::command_at(&root, &topic).filter(|_| help::docs::find(&topic).is_some())
                {
                    Some(_) => help::help(&root, &topic, program),
                    None => {
                        let quoted: Vec<String> =
                            positional.iter().map(|a| format!("`{a}`")).collect();
                        format!(
                            "Unknown help topic [{}]\n{}",
                            quoted.join(" "),
                            help::usage(&root, "", program)
                        )
                    }
                },
            ));
        }
        _ => {}
    }
    let doc = help::docs::find(&path)
        .ok_or_else(|| UsageError::Message(format!("unknown command {path:?}")))?;
    check_args(doc.args, &positional, &path, program, &root)?;
    let changed = changed(cmd, &root, m);
    let missing: Vec<String> = REQUIRED
        .iter()
        .filter(|(p, flag)| *p == path && !changed.contains(*flag))
        .map(|(_, flag)| format!("{flag:?}"))
        .collect();
    if !missing.is_empty() {
        return Err(UsageError::Message(format!(
            "required flag(s) {} not set",
            missing.join(", ")
        )));
    }
    for (_, group) in EXCLUSIVE.iter().filter(|(p, _)| *p == path) {
        let mut set: Vec<&str> = group
            .iter()
            .copied()
            .filter(|f| changed.contains(*f))
            .collect();
        if set.len() > 1 {
            set.sort_unstable();
            return Err(UsageError::Message(format!(
                "if any flags in the group [{}] are set none of the others can be; [{}] were all set",
                group.join(" "),
                set.join(" ")
            )));
        }
    }
    Ok(Outcome::Run(Box::new(Invocation { cli, path, changed })))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::Cmd;

    fn parse_args(args: &[&str]) -> Result<Outcome, UsageError> {
        let args: Vec<OsString> = std::iter::once("virtctl")
            .chain(args.iter().copied())
            .map(OsString::from)
            .collect();
        parse(&args, "virtctl")
    }

    fn error(args: &[&str]) -> String {
        match parse_args(args) {
            Err(e) => e.to_string(),
            Ok(o) => panic!("{args:?} parsed: {o:?}"),
        }
    }

    fn run(args: &[&str]) -> Invocation {
        match parse_args(args) {
            Ok(Outcome::Run(inv)) => *inv,
            other => panic!("{args:?}: {other:?}"),
        }
    }

    #[test]
    fn argument_counts_are_checked_with_cobra_messages() {
        assert_eq!(error(&["stop"]), "accepts 1 arg(s), received 0");
        assert_eq!(
            error(&["start", "omv", "vm-cirros"]),
            "accepts 1 arg(s), received 2"
        );
        assert_eq!(
            error(&["start", "vm", "vm-cirros"]),
            "accepts 1 arg(s), received 2"
        );
        assert_eq!(error(&["pause", "vm"]), "accepts 2 arg(s), received 1");
        assert_eq!(
            error(&["version", "x"]),
            "unknown command \"x\" for \"virtctl version\""
        );
        assert_eq!(
            error(&["create", "vm", "x"]),
            "unknown command \"x\" for \"virtctl create vm\""
        );
    }

    #[test]
    fn unknown_flags_and_commands_read_like_pflag_and_cobra() {
        assert_eq!(error(&["start", "vm", "--nope"]), "unknown flag: --nope");
        assert_eq!(error(&["start", "vm", "--nope=1"]), "unknown flag: --nope");
        assert_eq!(
            error(&["start", "-x", "vm"]),
            "unknown shorthand flag: 'x' in -x"
        );
        assert_eq!(
            error(&["strat", "vm"]),
            "unknown command \"strat\" for \"virtctl\"\n\nDid you mean this?\n\tstart\n"
        );
        assert_eq!(
            error(&["create", "nope"]),
            "unknown command \"nope\" for \"virtctl create\""
        );
    }

    #[test]
    fn bad_values_name_the_flag_and_the_go_error() {
        assert_eq!(
            error(&["stop", "vm", "--grace-period=abc"]),
            "invalid argument \"abc\" for \"--grace-period\" flag: strconv.ParseInt: parsing \"abc\": invalid syntax"
        );
        assert_eq!(
            error(&["stop", "vm", "--force=maybe"]),
            "invalid argument \"maybe\" for \"--force\" flag: strconv.ParseBool: parsing \"maybe\": invalid syntax"
        );
        assert_eq!(
            error(&["ssh", "vmi/x", "-p", "x"]),
            "invalid argument \"x\" for \"-p, --port\" flag: strconv.ParseInt: parsing \"x\": invalid syntax"
        );
        assert_eq!(
            error(&["stop", "vm", "--grace-period"]),
            "flag needs an argument: --grace-period"
        );
    }

    #[test]
    fn booleans_take_no_separate_value_and_changed_flags_are_tracked() {
        let inv = run(&["stop", "--force", "vm1", "--grace-period", "0"]);
        let Some(Cmd::Stop(stop)) = inv.cli.command else {
            panic!("not stop")
        };
        assert!(stop.force);
        assert_eq!(stop.grace_period, 0);
        assert_eq!(stop.args, ["vm1"]);
        assert!(inv.changed.contains("grace-period") && inv.changed.contains("force"));
        assert!(!inv.changed.contains("dry-run"));

        let inv = run(&["stop", "vm1", "--force=false"]);
        let Some(Cmd::Stop(stop)) = inv.cli.command else {
            panic!("not stop")
        };
        assert!(!stop.force);
        assert_eq!(stop.grace_period, -1);
        assert!(inv.changed.contains("force"));
    }

    #[test]
    fn global_flags_go_anywhere_and_the_last_one_wins() {
        let inv = run(&[
            "-n",
            "a",
            "start",
            "vm",
            "--namespace=b",
            "--kubeconfig",
            "/k",
        ]);
        assert_eq!(inv.cli.global.namespace.as_deref(), Some("b"));
        assert_eq!(inv.cli.global.kubeconfig.as_deref(), Some("/k"));
        assert!(inv.changed.contains("namespace"));
    }

    #[test]
    fn help_flag_and_help_command_print_help() {
        let Ok(Outcome::Print(text)) = parse_args(&["stop", "--help"]) else {
            panic!("no help")
        };
        assert!(text.starts_with("Stop a virtual machine.\n\nUsage:\n  virtctl stop (VM) [flags]"));
        let Ok(Outcome::Print(same)) = parse_args(&["help", "stop"]) else {
            panic!("no help")
        };
        assert_eq!(text, same);
        let Ok(Outcome::Print(root)) = parse_args(&[]) else {
            panic!("no usage")
        };
        assert!(root.starts_with("Available Commands:"));
        let Ok(Outcome::Print(unknown)) = parse_args(&["help", "nope"]) else {
            panic!("no text")
        };
        assert!(unknown.starts_with("Unknown help topic [`nope`]\n"));
    }

    #[test]
    fn required_and_exclusive_flags_are_enforced() {
        assert_eq!(
            error(&["expose", "vmi", "v"]),
            "required flag(s) \"name\" not set"
        );
        assert_eq!(
            error(&["vnc", "screenshot", "v"]),
            "required flag(s) \"file\" not set"
        );
        assert_eq!(
            error(&["create", "vm", "--memory=1Gi", "--instancetype=u1.small"]),
            "if any flags in the group [memory instancetype infer-instancetype infer-instancetype-from] are set none of the others can be; [instancetype memory] were all set"
        );
    }

    #[test]
    fn port_forward_needs_two_arguments_and_prints_its_help() {
        match parse_args(&["port-forward", "vmi/x"]) {
            Err(UsageError::WithHelp { help, message }) => {
                assert_eq!(message, "argument validation failed");
                assert!(help.starts_with("Forward local ports"));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn vnc_takes_a_name_or_the_screenshot_subcommand() {
        let inv = run(&["vnc", "myvmi", "--proxy-only"]);
        assert_eq!(inv.path, "vnc");
        let inv = run(&["vnc", "screenshot", "myvmi", "-f", "-"]);
        assert_eq!(inv.path, "vnc screenshot");
    }
}
