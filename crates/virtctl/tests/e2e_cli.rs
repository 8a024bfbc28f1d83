//! virtctl's command line against a real `kubevirtd` with simulated nodes: client and server
//! versions, `kubectl virt` as a plugin, kubeconfig loading with client-go's rules, and help.
//! One server serves every test of this file; each test works in its own namespace.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use common::kubevirtd::{Ns, kubectl_bin, shared};
use common::{fails, ok, stderr, stdout};
use serde_json::{Value, json};

#[test]
fn version_reports_client_and_server() {
    let k = shared();
    let out = k.virtctl(&["version"]).output().unwrap();
    let text = ok(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert!(
        lines[0].starts_with("Client Version: version.Info{GitVersion:\"v1.9."),
        "{text}"
    );
    assert!(
        lines[1].starts_with("Server Version: version.Info{GitVersion:\"v1.9."),
        "{text}"
    );
    assert!(lines[1].contains("Platform:\"linux/"), "{text}");
    assert!(stderr(&out).is_empty());
    let client = ok(&Command::new(env!("CARGO_BIN_EXE_virtctl"))
        .args(["version", "--client"])
        .env_remove("KUBECONFIG")
        .output()
        .unwrap());
    assert_eq!(client, format!("{}\n", lines[0]));
}

/// kubectl with the plugin binary's directory first on `PATH`.
fn kubectl_with_plugin(kubeconfig: &Path, args: &[&str]) -> Output {
    let plugin_dir = Path::new(env!("CARGO_BIN_EXE_kubectl-virt"))
        .parent()
        .unwrap()
        .to_path_buf();
    let path = std::env::var_os("PATH").unwrap_or_default();
    let mut dirs = vec![plugin_dir];
    dirs.extend(std::env::split_paths(&path));
    Command::new(kubectl_bin())
        .args(args)
        .env("KUBECONFIG", kubeconfig)
        .env("PATH", std::env::join_paths(dirs).unwrap())
        .output()
        .unwrap()
}

// `kubectl virt ...` finds the `kubectl-virt` binary on PATH and passes it its arguments and
// environment (KUBECONFIG).
#[test]
fn kubectl_runs_virtctl_as_the_virt_plugin() {
    let ns = Ns::new("ac-plugin");
    let k = ns.k;
    let out = kubectl_with_plugin(&k.kubeconfig, &["virt", "version"]);
    let text = ok(&out);
    assert!(text.starts_with("Client Version: "), "{text}");
    assert!(text.contains("\nServer Version: "), "{text}");

    ns.create_vm("vm1", "Halted", "");
    let out = kubectl_with_plugin(&k.kubeconfig, &["virt", "-n", "ac-plugin", "start", "vm1"]);
    assert_eq!(ok(&out), "VM vm1 was scheduled to start\n");
    ns.wait_running("vm1");

    let out = kubectl_with_plugin(&k.kubeconfig, &["virt", "stop", "--help"]);
    let help = ok(&out);
    assert!(
        help.contains("Usage:\n  kubectl virt stop (VM) [flags]"),
        "{help}"
    );
    let out = kubectl_with_plugin(&k.kubeconfig, &["plugin", "list"]);
    assert!(stdout(&out).contains("kubectl-virt"), "{}", stdout(&out));
}

/// The server's kubeconfig as JSON.
fn kubeconfig_json() -> Value {
    let text = std::fs::read_to_string(&shared().kubeconfig).unwrap();
    serde_saphyr::from_str(&text).unwrap()
}

fn write_config(dir: &Path, name: &str, config: &Value) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, serde_json::to_string_pretty(config).unwrap()).unwrap();
    path
}

/// virtctl with only the environment's kubeconfig sources.
fn virtctl_env(args: &[&str], kubeconfig_env: Option<&std::ffi::OsStr>) -> Output {
    let home = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_virtctl"));
    cmd.args(args)
        .env("HOME", home.path())
        .env_remove("KUBERNETES_SERVICE_HOST")
        .stdin(Stdio::null());
    match kubeconfig_env {
        Some(v) => cmd.env("KUBECONFIG", v),
        None => cmd.env_remove("KUBECONFIG"),
    };
    cmd.output().unwrap()
}

// client-go's loading rules: `$KUBECONFIG` lists merge with the first file winning, missing
// files are skipped, `--context`, `--server`, `--token`, `--insecure-skip-tls-verify` and `-n`
// override, and the namespace defaults to the context's.
const STARTED: &str = "Dry Run execution\nVM vm1 was scheduled to start\n";

/// `virtctl <global flags> start vm1 --dry-run` without `KUBECONFIG`.
fn start_dry_run(global: &[&str]) -> Output {
    virtctl_env(&[global, &["start", "vm1", "--dry-run"]].concat(), None)
}

#[test]
fn kubeconfig_loading_follows_client_go() {
    let ns = Ns::new("ac-config");
    ns.create_vm("vm1", "Halted", "");
    let dir = tempfile::tempdir().unwrap();
    let real = kubeconfig_json();
    let server = real["clusters"][0]["cluster"]["server"]
        .as_str()
        .unwrap()
        .to_owned();
    let token = real["users"][0]["user"]["token"]
        .as_str()
        .unwrap()
        .to_owned();

    // The first file names the current context and redefines the context with a namespace;
    // the second supplies cluster and user (and its own, losing, context and current context).
    let first = write_config(
        dir.path(),
        "first",
        &json!({"apiVersion": "v1", "kind": "Config", "current-context": "kubevirtd",
            "contexts": [{"name": "kubevirtd", "context": {"cluster": "kubevirtd",
            "user": "kubevirtd-admin", "namespace": "ac-config"}}]}),
    );
    let mut second_config = real.clone();
    second_config["current-context"] = json!("elsewhere");
    let second = write_config(dir.path(), "second", &second_config);
    let list =
        std::env::join_paths([dir.path().join("missing"), first.clone(), second.clone()]).unwrap();
    let out = virtctl_env(&["start", "vm1", "--dry-run"], Some(&list));
    assert_eq!(ok(&out), STARTED);
    // -n overrides the context's namespace.
    let out = virtctl_env(&["-n", "default", "start", "vm1", "--dry-run"], Some(&list));
    assert_eq!(
        fails(&out),
        "Error starting VirtualMachine virtualmachine.kubevirt.io \"vm1\" not found\n"
    );
    // Without any configuration there is no server to talk to.
    let out = start_dry_run(&[]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    // `~/.kube/config` is the fallback.
    let home = tempfile::tempdir().unwrap();
    std::fs::create_dir(home.path().join(".kube")).unwrap();
    let mut in_namespace = real.clone();
    in_namespace["contexts"][0]["context"]["namespace"] = json!("ac-config");
    write_config(&home.path().join(".kube"), "config", &in_namespace);
    let out = Command::new(env!("CARGO_BIN_EXE_virtctl"))
        .args(["start", "vm1", "--dry-run"])
        .env("HOME", home.path())
        .env_remove("KUBECONFIG")
        .env_remove("KUBERNETES_SERVICE_HOST")
        .output()
        .unwrap();
    assert_eq!(ok(&out), STARTED);

    // A second context pointing nowhere is current; --context picks the working one.
    let mut two = real.clone();
    two["clusters"]
        .as_array_mut()
        .unwrap()
        .push(json!({"name": "dead",
        "cluster": {"server": "https://127.0.0.1:1", "insecure-skip-tls-verify": true}}));
    two["contexts"]
        .as_array_mut()
        .unwrap()
        .push(json!({"name": "dead",
        "context": {"cluster": "dead", "user": "kubevirtd-admin", "namespace": "ac-config"}}));
    two["contexts"][0]["context"]["namespace"] = json!("ac-config");
    two["current-context"] = json!("dead");
    let two = write_config(dir.path(), "two", &two);
    let kc = two.to_str().unwrap();
    let out = start_dry_run(&["--kubeconfig", kc]);
    let err = fails(&out);
    assert!(
        err.contains("127.0.0.1:1") && err.contains("connection refused"),
        "{err}"
    );
    let out = start_dry_run(&["--kubeconfig", kc, "--context", "kubevirtd"]);
    assert_eq!(ok(&out), STARTED);
    // --server replaces the current context's server, keeping its credentials.
    let out = start_dry_run(&[
        "--kubeconfig",
        kc,
        "--server",
        &server,
        "--insecure-skip-tls-verify",
    ]);
    assert_eq!(ok(&out), STARTED);

    // A wrong token is refused; --token replaces it.
    let mut wrong = real.clone();
    wrong["users"][0]["user"]["token"] = json!("not-the-token");
    let wrong = write_config(dir.path(), "wrong", &wrong);
    let kc = wrong.to_str().unwrap();
    let out = start_dry_run(&["--kubeconfig", kc, "-n", "ac-config"]);
    assert!(
        fails(&out).starts_with("Error starting VirtualMachine "),
        "{}",
        stderr(&out)
    );
    let out = start_dry_run(&["--kubeconfig", kc, "--token", &token, "-n", "ac-config"]);
    assert_eq!(ok(&out), STARTED);

    // Without the certificate authority the server's certificate is not trusted, unless told.
    let mut no_ca = real.clone();
    no_ca["clusters"][0]["cluster"]
        .as_object_mut()
        .unwrap()
        .remove("certificate-authority-data");
    let no_ca = write_config(dir.path(), "no-ca", &no_ca);
    let kc = no_ca.to_str().unwrap();
    let out = start_dry_run(&["--kubeconfig", kc, "-n", "ac-config"]);
    assert!(fails(&out).contains("certificate"), "{}", stderr(&out));
    let out = start_dry_run(&[
        "--kubeconfig",
        kc,
        "--insecure-skip-tls-verify",
        "-n",
        "ac-config",
    ]);
    assert_eq!(ok(&out), STARTED);
}

// Help reads like upstream's: the root lists the commands, each command its usage, examples
// and flags, and the global options are one `virtctl options` away.
#[test]
fn help_lists_commands_and_each_command_has_upstream_usage() {
    let out = Command::new(env!("CARGO_BIN_EXE_virtctl"))
        .arg("--help")
        .output()
        .unwrap();
    let text = ok(&out);
    assert!(
        text.starts_with(
            "virtctl controls virtual machine related operations on your kubernetes cluster.\n"
        ),
        "{text}"
    );
    for command in [
        "console",
        "create",
        "expand",
        "expose",
        "migrate",
        "migrate-cancel",
        "pause",
        "port-forward",
        "restart",
        "scp",
        "soft-reboot",
        "ssh",
        "start",
        "stop",
        "unpause",
        "version",
        "vnc",
    ] {
        assert!(
            text.lines()
                .any(|l| l.starts_with(&format!("  {command} "))),
            "{command} missing from:\n{text}"
        );
    }
    assert!(text.contains("Use \"virtctl <command> --help\" for more information about a given command.\nUse \"virtctl options\" for a list of global command-line options (applies to all commands).\n"), "{text}");
    let stop = ok(&Command::new(env!("CARGO_BIN_EXE_virtctl"))
        .args(["stop", "--help"])
        .output()
        .unwrap());
    assert!(stop.starts_with("Stop a virtual machine.\n\nUsage:\n  virtctl stop (VM) [flags]\n\nExamples:\n  # Stop a virtual machine called 'myvm':\n  virtctl stop myvm\n"), "{stop}");
    let grace = stop
        .lines()
        .find(|l| l.starts_with("      --grace-period int "))
        .unwrap_or_else(|| panic!("{stop}"));
    assert!(grace.ends_with(" --grace-period=-1: Period of time in seconds given to the VMI to terminate gracefully. Can only be set to 0 when --force is true (force deletion). Currently only setting 0 is supported. (default -1)"), "{grace}");
    assert!(stop.ends_with("\nUse \"virtctl options\" for a list of global command-line options (applies to all commands).\n"), "{stop}");
}
