//! virtctl against a real `kubevirtd` with simulated nodes: the serial console through a
//! pseudo-terminal, VNC, port forwarding, ssh/scp, guest information, services and generated
//! manifests. One server serves every test of this file; each test works in its own namespace.
//!
//! The simulated node has an echoing serial console but no display and no guest ports; console,
//! VNC and ssh sessions with a real guest need the QEMU node driver and are not covered here.

mod common;

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use common::kubevirtd::{Ns, eventually};
use common::{Collector, fails, ok, read_until, send, stdout, wait_exit};
use serde_json::{Value, json};

/// Runs virtctl under `script`, which gives it a pseudo-terminal.
fn console_in_a_terminal(ns: &Ns, vm: &str) -> std::process::Child {
    let command = format!(
        "{} --kubeconfig {} -n {} console {vm}",
        env!("CARGO_BIN_EXE_virtctl"),
        ns.k.kubeconfig.display(),
        ns.name
    );
    Command::new("script")
        .args(["-q", "-e", "-f", "-c", &command, "/dev/null"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("script (util-linux) runs")
}

// Scenario 38: the console waits for a starting instance, echoes in raw mode and leaves on
// Ctrl+].
#[test]
fn console_in_a_terminal_echoes_and_leaves_on_ctrl_close_bracket() {
    let ns = Ns::new("ac-console");
    ns.create_vm("vm1", "Always", "");
    // A missing VMI is an error at once; one that is not running yet is waited for.
    eventually(Duration::from_secs(30), "the VMI", || {
        (!ns.vmi_uid("vm1").is_empty()).then_some(())
    });
    let mut child = console_in_a_terminal(&ns, "vm1");
    let out = Collector::new(child.stdout.take().expect("stdout"));
    assert!(
        out.wait_for("vm1 login: ", Duration::from_secs(60)),
        "{:?}",
        out.text()
    );
    assert!(
        out.text().contains("Successfully connected to vm1 console"),
        "{:?}",
        out.text()
    );
    send(&mut child, b"root\r");
    // In raw mode the terminal does not echo: what comes back is the guest's echo.
    assert!(
        out.wait_for("login: root\r\n", Duration::from_secs(10)),
        "{:?}",
        out.text()
    );
    send(&mut child, b"\x1d");
    let status = wait_exit(&mut child, Duration::from_secs(20)).expect("console exits");
    assert!(status.success(), "{status:?}");
}

#[test]
fn a_second_console_session_ends_the_first() {
    let ns = Ns::new("ac-console-twice");
    ns.create_vm("vm1", "Always", "");
    ns.wait_running("vm1");
    let mut first = ns
        .virtctl(&["console", "vm1"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (seen, _reader) = read_until(
        first.stdout.take().unwrap(),
        "login: ",
        Duration::from_secs(30),
    );
    assert!(seen.contains("login: "), "{seen:?}");
    let mut second = ns
        .virtctl(&["console", "vm1"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let seen = Collector::new(second.stdout.take().unwrap());
    let errors = Collector::new(second.stderr.take().unwrap());
    let status = wait_exit(&mut first, Duration::from_secs(30)).expect("the first session ends");
    assert!(status.success(), "{status:?}");
    // The new session works: the guest echoes what it is sent.
    assert!(
        seen.wait_for("vm1 login: ", Duration::from_secs(30)),
        "{:?}",
        seen.text()
    );
    send(&mut second, b"again\r");
    assert!(
        seen.wait_for("again", Duration::from_secs(10)),
        "{:?} {:?}",
        seen.text(),
        errors.text()
    );
    send(&mut second, b"\x1d");
    assert!(wait_exit(&mut second, Duration::from_secs(20)).is_some_and(|s| s.success()));
}

#[test]
fn console_and_vnc_refuse_instances_without_the_device() {
    let ns = Ns::new("ac-no-devices");
    ns.create_vm(
        "vm1",
        "Always",
        "autoattachSerialConsole: false, autoattachGraphicsDevice: false",
    );
    ns.wait_running("vm1");
    assert_eq!(
        fails(&ns.run(&["console", "vm1", "--timeout=0"])),
        "No serial consoles are present.\n"
    );
    assert_eq!(
        fails(&ns.run(&["vnc", "--proxy-only", "vm1"])),
        "can't access VMI vm1: No graphics devices are present.\n"
    );
    assert_eq!(
        fails(&ns.run(&["console", "nothere", "--timeout=0"])),
        "virtualmachineinstance.kubevirt.io \"nothere\" not found\n"
    );
}

// The simulated node has no display: the proxy reports the node's refusal before listening.
#[test]
fn vnc_reports_that_the_node_has_no_display() {
    let ns = Ns::new("ac-vnc");
    ns.create_vm("vm1", "Always", "");
    ns.wait_running("vm1");
    assert_eq!(
        fails(&ns.run(&["vnc", "--proxy-only", "vm1"])),
        "can't access VMI vm1: the simulated node driver has no display\n"
    );
    let dir = tempfile::tempdir().unwrap();
    let png = dir.path().join("shot.png");
    let err = fails(&ns.run(&["vnc", "screenshot", "vm1", "--file", png.to_str().unwrap()]));
    assert_eq!(
        err,
        "Can't access VMI vm1: the simulated node driver has no display\n"
    );
    assert!(!png.exists());
}

// The guest agent's operating system information, as the simulated guest reports it.
#[test]
fn guestosinfo_prints_the_agent_information() {
    let ns = Ns::new("ac-guest");
    ns.create_vm("vm1", "Always", "");
    ns.wait_running("vm1");
    let out = ok(&ns.run(&["guestosinfo", "vm1"]));
    let info: Value = serde_json::from_str(&out).unwrap();
    assert!(
        info["prettyName"].as_str().is_some_and(|n| !n.is_empty()),
        "{out}"
    );
    assert!(
        out.starts_with("{\n  \""),
        "indented like Go's MarshalIndent: {out}"
    );
    assert_eq!(
        fails(&ns.run(&["guestosinfo", "nothere"])),
        "Error getting guestosinfo of VirtualMachineInstance nothere, virtualmachineinstance.kubevirt.io \"nothere\" not found\n"
    );
}

/// A directory holding fake `ssh` and `scp` programs that print their arguments, one a line.
fn fake_ssh_clients() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for name in ["ssh", "scp"] {
        let path = dir.path().join(name);
        std::fs::write(
            &path,
            "#!/bin/sh\nprintf '%s\\n' \"$(basename \"$0\")\"\nfor a in \"$@\"; do printf '%s\\n' \"$a\"; done\n",
        )
        .unwrap();
        let mut perms = std::fs::metadata(&path).unwrap().permissions();
        std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o755);
        std::fs::set_permissions(&path, perms).unwrap();
    }
    dir
}

fn with_path(mut cmd: Command, dir: &Path) -> Output {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let mut dirs = vec![dir.to_path_buf()];
    dirs.extend(std::env::split_paths(&path));
    cmd.env("PATH", std::env::join_paths(dirs).unwrap())
        .output()
        .unwrap()
}

// ssh and scp run the local OpenSSH clients with a ProxyCommand through `port-forward
// --stdio`; the simulated node forwards no ports, which port-forward reports.
#[test]
fn ssh_and_scp_tunnel_through_port_forward() {
    let ns = Ns::new("ac-ssh");
    ns.create_vm("vm1", "Always", "");
    ns.wait_running("vm1");
    let fake = fake_ssh_clients();
    let virtctl = env!("CARGO_BIN_EXE_virtctl");

    let out = with_path(
        ns.virtctl(&[
            "ssh",
            "fedora@vm/vm1",
            "-c",
            "uname -a",
            "-t",
            "-oBatchMode=yes",
        ]),
        fake.path(),
    );
    let args: Vec<String> = ok(&out).lines().map(str::to_owned).collect();
    assert_eq!(
        args,
        [
            "ssh".to_owned(),
            "-o".into(),
            format!("ProxyCommand={virtctl} port-forward --stdio=true vm/vm1/ac-ssh 22"),
            "-oBatchMode=yes".into(),
            "fedora@vm.vm1.ac-ssh".into(),
            "uname -a".into(),
        ]
    );

    let out = with_path(
        ns.virtctl(&[
            "scp",
            "-i",
            "id_test",
            "--port=2222",
            "-l",
            "root",
            "--recursive",
            "vmi/vm1/other:/etc/hosts",
            "copy",
        ]),
        fake.path(),
    );
    let args: Vec<String> = ok(&out).lines().map(str::to_owned).collect();
    assert_eq!(
        args,
        [
            "scp".to_owned(),
            "-o".into(),
            format!("ProxyCommand={virtctl} port-forward --stdio=true vmi/vm1/other 2222"),
            "-i".into(),
            "id_test".into(),
            "-r".into(),
            "root@vmi.vm1.other:/etc/hosts".into(),
            "copy".into(),
        ]
    );

    // What the ProxyCommand does against this server.
    let out = ns
        .virtctl(&["port-forward", "--stdio=true", "vmi/vm1", "22"])
        .output()
        .unwrap();
    assert_eq!(
        fails(&out),
        "port-forward is not supported by this node driver\n"
    );
    assert!(stdout(&out).is_empty());
    ns.create_vm("stopped", "Halted", "");
    let out = ns.run(&["port-forward", "--stdio=true", "vm/stopped", "22"]);
    assert_eq!(
        fails(&out),
        "Operation cannot be fulfilled on virtualmachine.kubevirt.io \"stopped\": VMI is not started\n"
    );
}

// Scenario 42 and the seed documents' expose command; `kubectl get svc` lists the services.
#[test]
fn expose_creates_services_owned_by_the_exposed_object() {
    let ns = Ns::new("ac-expose");
    ns.create_vm_with(
        "v",
        "Always",
        "interfaces: [{name: default, masquerade: {}, ports: [{port: 80}, {port: 53, protocol: UDP}]}]",
        "networks: [{name: default, pod: {}}]",
    );
    ns.wait_running("v");
    let out = ok(&ns.run(&[
        "expose",
        "vmi",
        "v",
        "--name=s",
        "--port=22",
        "--type=NodePort",
    ]));
    assert_eq!(out, "Service s successfully created for vmi v\n");
    let svc: Value = serde_json::from_str(&ns.kubectl(&["get", "svc", "s", "-o", "json"])).unwrap();
    assert_eq!(svc["spec"]["selector"], json!({"vmi.kubevirt.io/id": "v"}));
    assert_eq!(svc["spec"]["type"], "NodePort");
    assert_eq!(svc["spec"]["ports"][0]["port"], 22);
    let owner = &svc["metadata"]["ownerReferences"][0];
    assert_eq!(owner["kind"], "VirtualMachineInstance");
    assert_eq!(owner["name"], "v");
    assert_eq!(owner["blockOwnerDeletion"], false);
    assert_eq!(owner["uid"].as_str(), Some(ns.vmi_uid("v").as_str()));

    // Without --port the ports come from the instance's pod network interface.
    let out = ok(&ns.run(&["expose", "vm", "v", "--name=introspected"]));
    assert_eq!(out, "Service introspected successfully created for vm v\n");
    assert_eq!(ns.get("svc/introspected", "{.spec.ports[*].port}"), "80 53");
    assert_eq!(
        ns.get("svc/introspected", "{.spec.ports[*].protocol}"),
        "TCP UDP"
    );

    // The command of the seed documents, on a VM that has not started.
    ns.create_vm("vmi-ephemeral", "Halted", "");
    let out = ok(&ns.run(&[
        "expose",
        "virtualmachine",
        "vmi-ephemeral",
        "--name",
        "vmiservice",
        "--port",
        "27017",
        "--target-port",
        "22",
    ]));
    assert_eq!(
        out,
        "Service vmiservice successfully created for virtualmachine vmi-ephemeral\n"
    );
    assert_eq!(
        ns.get("svc/vmiservice", "{.spec.ports[0].targetPort}"),
        "22"
    );
    assert_eq!(ns.get("svc/vmiservice", "{.spec.ports[0].port}"), "27017");
    assert_eq!(ns.get("svc/vmiservice", "{.spec.type}"), "ClusterIP");
    assert_eq!(
        ns.get("svc/vmiservice", "{.metadata.ownerReferences[0].kind}"),
        "VirtualMachine"
    );
    assert_eq!(
        ns.get("svc/vmiservice", "{.spec.selector.vmi\\.kubevirt\\.io/id}"),
        "vmi-ephemeral"
    );
    let err = fails(&ns.run(&["expose", "vm", "vmi-ephemeral", "--name=noport"]));
    assert_eq!(err, "couldn't find port via --port flag or introspection\n");
    let err = fails(&ns.run(&["expose", "vm", "nothere", "--name=x", "--port=1"]));
    assert_eq!(
        err,
        "error fetching VirtualMachine: virtualmachines.kubevirt.io \"nothere\" not found\n"
    );

    let listed = ns.kubectl(&["get", "svc"]);
    let names: Vec<&str> = listed
        .lines()
        .skip(1)
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert_eq!(names, ["introspected", "s", "vmiservice"], "{listed}");
    assert!(
        listed
            .lines()
            .any(|l| l.starts_with("s ") && l.contains("NodePort"))
    );
}

fn replica_set(name: &str, selector: &str) -> String {
    format!(
        "apiVersion: kubevirt.io/v1
kind: VirtualMachineInstanceReplicaSet
metadata:
  name: {name}
spec:
  replicas: 0
  selector:
    {selector}
  template:
    metadata:
      labels:
        app: {name}
        tier: web
    spec:
      domain:
        devices: {{}}
        resources:
          requests:
            memory: 64Mi
"
    )
}

#[test]
fn expose_selects_a_replica_set_by_its_match_labels() {
    let ns = Ns::new("ac-expose-rs");
    ns.apply(&replica_set("rs", "matchLabels: {app: rs}"));
    let out = ok(&ns.run(&[
        "expose",
        "vmirs",
        "rs",
        "--name=web",
        "--port=80",
        "--target-port=8080",
        "--type=LoadBalancer",
    ]));
    assert_eq!(out, "Service web successfully created for vmirs rs\n");
    assert_eq!(ns.get("svc/web", "{.spec.selector}"), r#"{"app":"rs"}"#);
    assert_eq!(ns.get("svc/web", "{.spec.type}"), "LoadBalancer");
    assert_eq!(ns.get("svc/web", "{.spec.ports[0].targetPort}"), "8080");
    assert_eq!(
        ns.get("svc/web", "{.metadata.ownerReferences[0].kind}"),
        "VirtualMachineInstanceReplicaSet"
    );

    ns.apply(&replica_set(
        "exprs",
        "matchLabels: {app: exprs}\n    matchExpressions: [{key: tier, operator: Exists}]",
    ));
    let err = fails(&ns.run(&["expose", "vmirs", "exprs", "--name=s", "--port=80"]));
    assert_eq!(
        err,
        "cannot expose VirtualMachineInstanceReplicaSet with match expressions\n"
    );
    assert_eq!(ns.get("svc/s", "{.metadata.name}"), "");
}

// Scenario 41: generated manifests are accepted by the server as they are.
#[test]
fn generated_manifests_pass_a_server_side_dry_run() {
    let ns = Ns::new("ac-create");
    let manifest = ok(&ns.run(&[
        "create",
        "vm",
        "--volume-containerdisk=src:quay.io/containerdisks/fedora:latest",
        "--user=cloud-user",
        "--ssh-key=ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGs0 user@host",
    ]));
    let vm: Value = serde_saphyr::from_str(&manifest).unwrap();
    let name = vm["metadata"]["name"].as_str().unwrap().to_owned();
    assert!(
        name.len() == 8 && name.starts_with("vm-"),
        "{name}: vm-<5 random>"
    );
    let out = ns.kubectl_with(&["create", "--dry-run=server", "-f", "-"], Some(&manifest));
    assert_eq!(
        out.trim(),
        format!("virtualmachine.kubevirt.io/{name} created (server dry run)")
    );
    assert_eq!(ns.get(&format!("vm/{name}"), "{.metadata.name}"), "");

    let plain = ok(&ns.run(&["create", "vm", "--name=plain"]));
    ns.kubectl_with(&["create", "-f", "-"], Some(&plain));
    assert_eq!(
        ns.get("vm/plain", "{.spec.template.spec.domain.memory.guest}"),
        "512Mi"
    );
    assert_eq!(
        ns.get(
            "vm/plain",
            "{.spec.template.spec.terminationGracePeriodSeconds}"
        ),
        "180"
    );
    assert_eq!(ns.get("vm/plain", "{.spec.runStrategy}"), "Always");

    let halted = ok(&ns.run(&[
        "create",
        "vm",
        "--name=small",
        "--run-strategy=Halted",
        "--memory=128Mi",
        "--termination-grace-period=5",
        "--volume-pvc=src:data",
    ]));
    ns.kubectl_with(&["create", "-f", "-"], Some(&halted));
    assert_eq!(ns.get("vm/small", "{.spec.runStrategy}"), "Halted");
    assert_eq!(
        ns.get(
            "vm/small",
            "{.spec.template.spec.volumes[0].persistentVolumeClaim.claimName}"
        ),
        "data"
    );
    // Nothing was created by virtctl itself.
    assert_eq!(ns.get("vm", "{.items[*].metadata.name}"), "plain small");
}

// `expand` returns a VM with its instancetype applied: a stored one (`--vm`) or one read from
// standard input (`--file -`), such as a manifest of `create vm`.
#[test]
fn expand_applies_the_instancetype() {
    let ns = Ns::new("ac-expand");
    ns.k.kubectl_with(
        &["apply", "-f", "-"],
        Some(
            "apiVersion: instancetype.kubevirt.io/v1beta1
kind: VirtualMachineClusterInstancetype
metadata:
  name: ac-expand-small
spec:
  cpu:
    guest: 2
  memory:
    guest: 256Mi
",
        ),
    );
    let manifest = ok(&ns.run(&[
        "create",
        "vm",
        "--name=typed",
        "--instancetype=ac-expand-small",
        "--run-strategy=Halted",
    ]));
    let out = ns.kubectl_with(&["create", "--dry-run=server", "-f", "-"], Some(&manifest));
    assert_eq!(
        out.trim(),
        "virtualmachine.kubevirt.io/typed created (server dry run)"
    );
    ns.kubectl_with(&["create", "-f", "-"], Some(&manifest));

    let yaml = ok(&ns.run(&["expand", "--vm", "typed"]));
    let vm: Value = serde_saphyr::from_str(&yaml).unwrap();
    assert!(
        yaml.starts_with("apiVersion: kubevirt.io/v1\nkind: VirtualMachine\n"),
        "{yaml}"
    );
    let domain = &vm["spec"]["template"]["spec"]["domain"];
    assert_eq!(domain["cpu"]["sockets"], 2, "{yaml}");
    assert_eq!(domain["memory"]["guest"], "256Mi", "{yaml}");
    assert_eq!(vm["spec"]["instancetype"], Value::Null, "{yaml}");

    let mut cmd = ns.virtctl(&["expand", "--file", "-", "--output=json"]);
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    send(&mut child, manifest.as_bytes());
    drop(child.stdin.take());
    let out = child.wait_with_output().unwrap();
    let json = ok(&out);
    let posted: Value = serde_json::from_str(&json).unwrap();
    let posted_domain = &posted["spec"]["template"]["spec"]["domain"];
    assert_eq!(posted_domain["cpu"], domain["cpu"], "{json}");
    assert_eq!(posted_domain["memory"], domain["memory"], "{json}");
    assert!(json.starts_with("{\n \"apiVersion\""), "{json}");

    assert_eq!(
        fails(&ns.run(&["expand", "--vm", "nothere"])),
        "error expanding VirtualMachine - nothere in namespace - ac-expand: virtualmachine.kubevirt.io \"nothere\" not found\n"
    );
    assert_eq!(
        fails(&ns.run(&["expand"])),
        "error invalid arguments - VirtualMachine name or file must be provided\n"
    );
}
