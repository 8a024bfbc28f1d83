//! `ssh` and `scp`: the local OpenSSH client, tunnelled through `port-forward --stdio`
//! (`ssh -o ProxyCommand="<virtctl> port-forward --stdio=true <kind>/<name>/<ns> <port>"`) to
//! `[user@]<kind>.<name>.<namespace>`.

use std::path::PathBuf;

use super::portforward::{Target, parse_target};
use super::{CommandError, Ctx};
use crate::cli::{ScpArgs, SshArgs, SshFlags};

/// `$USER`, `$USERNAME` or `$LOGNAME`, the first set.
pub fn default_username() -> String {
    ["USER", "USERNAME", "LOGNAME"]
        .iter()
        .find_map(|v| std::env::var(v).ok().filter(|s| !s.is_empty()))
        .unwrap_or_default()
}

fn home() -> PathBuf {
    std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_default()
}

/// `~/.ssh/id_rsa`.
pub fn default_identity_file() -> String {
    home().join(".ssh").join("id_rsa").display().to_string()
}

/// `~/.ssh/kubevirt_known_hosts`.
pub fn default_known_hosts() -> String {
    if std::env::var_os("HOME").is_none() {
        return String::new();
    }
    home()
        .join(".ssh")
        .join("kubevirt_known_hosts")
        .display()
        .to_string()
}

/// Parses `[user@]type/name[/namespace]`.
pub fn parse_ssh_target(arg: &str) -> Result<(Target, String), String> {
    let mut username = String::new();
    let mut rest = arg;
    let parts: Vec<&str> = arg.split('@').collect();
    if parts.len() > 1 {
        username = parts[0].to_owned();
        if username.is_empty() {
            return Err("expected username before '@'".into());
        }
        rest = parts[1];
    }
    if rest.is_empty() {
        return Err("expected target after '@'".into());
    }
    Ok((parse_target(rest)?, username))
}

/// The `ProxyCommand=` option that tunnels through this program.
pub fn proxy_command(program: &str, target: &Target, namespace: &str, port: i64) -> String {
    format!(
        "ProxyCommand={program} port-forward --stdio=true {}/{}/{namespace} {port}",
        target.kind.as_str(),
        target.name
    )
}

/// `[user@]kind.name.namespace`.
fn host(username: &str, target: &Target, namespace: &str) -> String {
    let mut host = String::new();
    if !username.is_empty() {
        host.push_str(username);
        host.push('@');
    }
    host.push_str(&format!(
        "{}.{}.{namespace}",
        target.kind.as_str(),
        target.name
    ));
    host
}

/// The options common to ssh and scp.
fn client_options(ctx: &Ctx, flags: &SshFlags, target: &Target, namespace: &str) -> Vec<String> {
    let mut args = vec![
        "-o".to_owned(),
        proxy_command(&ctx.argv0, target, namespace, flags.port),
    ];
    args.extend(flags.local_ssh_opts.iter().cloned());
    if ctx.changed("known-hosts") {
        args.push("-o".into());
        args.push(format!("UserKnownHostsFile={}", flags.known_hosts));
    }
    if ctx.changed("identity-file") {
        args.push("-i".into());
        args.push(flags.identity_file.clone());
    }
    args
}

/// The arguments of the ssh command.
pub fn ssh_args(ctx: &Ctx, a: &SshArgs, fallback_namespace: &str) -> Result<Vec<String>, String> {
    let (target, user) = parse_ssh_target(&a.args[0])?;
    let namespace = if target.namespace.is_empty() {
        fallback_namespace.to_owned()
    } else {
        target.namespace.clone()
    };
    let username = if user.is_empty() {
        a.ssh.username.clone()
    } else {
        user
    };
    let mut args = client_options(ctx, &a.ssh, &target, &namespace);
    args.push(host(&username, &target, &namespace));
    if !a.command.is_empty() {
        args.push(a.command.clone());
    }
    Ok(args)
}

/// The arguments of the scp command; copying between two remote places is refused.
pub fn scp_args(ctx: &Ctx, a: &ScpArgs, fallback_namespace: &str) -> Result<Vec<String>, String> {
    let (source, destination) = (a.args[0].as_str(), a.args[1].as_str());
    if source.contains(':') && destination.contains(':') {
        return Err(format!(
            "copying from a remote location to another remote location is not supported: {source:?} to {destination:?}"
        ));
    }
    if !source.contains(':') && !destination.contains(':') {
        return Err(format!(
            "none of the two provided locations seems to be a remote location: {source:?} to {destination:?}"
        ));
    }
    let to_remote = destination.contains(':');
    let (remote, local) = if to_remote {
        (destination, source)
    } else {
        (source, destination)
    };
    let (remote_target, remote_path) = remote
        .split_once(':')
        .ok_or_else(|| format!("invalid remote argument format: {remote:?}"))?;
    let (target, user) = parse_ssh_target(remote_target)?;
    let namespace = if target.namespace.is_empty() {
        fallback_namespace.to_owned()
    } else {
        target.namespace.clone()
    };
    let username = if user.is_empty() {
        a.ssh.username.clone()
    } else {
        user
    };
    let mut args = client_options(ctx, &a.ssh, &target, &namespace);
    if a.recursive {
        args.push("-r".into());
    }
    if a.preserve {
        args.push("-p".into());
    }
    let remote_arg = format!("{}:{remote_path}", host(&username, &target, &namespace));
    if to_remote {
        args.push(local.to_owned());
        args.push(remote_arg);
    } else {
        args.push(remote_arg);
        args.push(local.to_owned());
    }
    Ok(args)
}

/// The `KUBECONFIG` the local client runs with: the proxy command names no kubeconfig (as
/// upstream), so a `--kubeconfig` given to this program is handed down this way and the
/// tunnel reaches the same cluster. `None` keeps the inherited environment.
pub fn proxy_kubeconfig(global_kubeconfig: Option<&str>) -> Option<PathBuf> {
    let path = global_kubeconfig.filter(|p| !p.is_empty())?;
    // ssh may run the proxy command from another directory.
    Some(std::path::absolute(path).unwrap_or_else(|_| PathBuf::from(path)))
}

/// Runs `program` with `args` on this terminal; a failure reads as Go's `exec` reports it.
async fn run_local(ctx: &Ctx, program: &str, args: &[String]) -> Result<(), CommandError> {
    crate::log::info(
        program,
        3,
        &format!("running: {program} {}", args.join(" ")),
    );
    let mut command = tokio::process::Command::new(program);
    command.args(args);
    if let Some(kubeconfig) = proxy_kubeconfig(ctx.global.kubeconfig.as_deref()) {
        command.env("KUBECONFIG", kubeconfig);
    }
    let status = command.status().await.map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => CommandError::failed(format!(
            "exec: {program:?}: executable file not found in $PATH"
        )),
        _ => CommandError::failed(e.to_string()),
    })?;
    match status.code() {
        Some(0) => Ok(()),
        Some(code) => Err(CommandError::failed(format!("exit status {code}"))),
        None => Err(CommandError::failed("signal: killed")),
    }
}

pub async fn ssh(ctx: &Ctx, a: SshArgs) -> Result<(), CommandError> {
    let conn = ctx.connect().await?;
    let args = ssh_args(ctx, &a, &conn.namespace).map_err(CommandError::Failed)?;
    run_local(ctx, "ssh", &args).await
}

pub async fn scp(ctx: &Ctx, a: ScpArgs) -> Result<(), CommandError> {
    let conn = ctx.connect().await?;
    let args = scp_args(ctx, &a, &conn.namespace).map_err(CommandError::Failed)?;
    run_local(ctx, "scp", &args).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::GlobalFlags;

    fn ctx(changed: &[&str]) -> Ctx {
        Ctx::new(
            GlobalFlags::default(),
            "virtctl".into(),
            "/usr/bin/virtctl".into(),
            changed.iter().map(|s| s.to_string()).collect(),
        )
    }

    fn flags() -> SshFlags {
        SshFlags {
            username: "me".into(),
            identity_file: "/home/me/.ssh/id_rsa".into(),
            known_hosts: "/home/me/.ssh/kubevirt_known_hosts".into(),
            port: 22,
            local_ssh_opts: vec![],
        }
    }

    #[test]
    fn ssh_tunnels_through_port_forward_stdio() {
        let a = SshArgs {
            args: vec!["jdoe@vmi/testvmi".into()],
            ssh: flags(),
            command: "ls /".into(),
        };
        let args = ssh_args(&ctx(&[]), &a, "default").unwrap();
        assert_eq!(
            args,
            [
                "-o",
                "ProxyCommand=/usr/bin/virtctl port-forward --stdio=true vmi/testvmi/default 22",
                "jdoe@vmi.testvmi.default",
                "ls /"
            ]
        );
    }

    #[test]
    fn identity_file_is_passed_only_when_given() {
        let a = SshArgs {
            args: vec!["vm/x/ns1".into()],
            ssh: SshFlags {
                port: 2222,
                local_ssh_opts: vec!["-o StrictHostKeyChecking=no".into()],
                ..flags()
            },
            command: String::new(),
        };
        let args = ssh_args(&ctx(&["identity-file"]), &a, "default").unwrap();
        assert_eq!(
            args,
            [
                "-o",
                "ProxyCommand=/usr/bin/virtctl port-forward --stdio=true vm/x/ns1 2222",
                "-o StrictHostKeyChecking=no",
                "-i",
                "/home/me/.ssh/id_rsa",
                "me@vm.x.ns1"
            ]
        );
    }

    #[test]
    fn scp_copies_in_either_direction_but_not_remote_to_remote() {
        let mut a = ScpArgs {
            args: vec!["file.bin".into(), "jdoe@vmi/v:dir/".into()],
            ssh: flags(),
            recursive: true,
            preserve: false,
        };
        let args = scp_args(&ctx(&[]), &a, "ns").unwrap();
        assert_eq!(&args[2..], ["-r", "file.bin", "jdoe@vmi.v.ns:dir/"]);
        a.args = vec!["vmi/v:/etc/hosts".into(), "hosts".into()];
        let args = scp_args(&ctx(&[]), &a, "ns").unwrap();
        assert_eq!(&args[3..], ["me@vmi.v.ns:/etc/hosts", "hosts"]);
        a.args = vec!["vmi/a:x".into(), "vmi/b:y".into()];
        assert!(
            scp_args(&ctx(&[]), &a, "ns")
                .unwrap_err()
                .starts_with("copying from a remote location")
        );
        a.args = vec!["x".into(), "y".into()];
        assert!(
            scp_args(&ctx(&[]), &a, "ns")
                .unwrap_err()
                .starts_with("none of the two")
        );
    }

    #[test]
    fn a_given_kubeconfig_reaches_the_proxy_command_as_an_absolute_path() {
        assert_eq!(proxy_kubeconfig(None), None);
        assert_eq!(proxy_kubeconfig(Some("")), None);
        assert_eq!(
            proxy_kubeconfig(Some("/etc/kube/config")),
            Some(PathBuf::from("/etc/kube/config"))
        );
        let relative = proxy_kubeconfig(Some("kube/config")).unwrap();
        assert!(relative.is_absolute(), "{relative:?}");
        assert!(relative.ends_with("kube/config"), "{relative:?}");
    }

    #[test]
    fn ssh_targets_need_a_user_before_at() {
        assert_eq!(
            parse_ssh_target("@vmi/x").unwrap_err(),
            "expected username before '@'"
        );
        assert_eq!(
            parse_ssh_target("me@").unwrap_err(),
            "expected target after '@'"
        );
    }
}
