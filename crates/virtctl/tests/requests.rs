//! What virtctl sends and prints, against a recording API server: paths, methods and bodies of
//! each command, and upstream's messages for the server's answers.

mod common;

use std::process::Stdio;
use std::time::Duration;

use common::{MockApi, Reply, fails, ok, read_until, send, status, stderr, wait_exit};
use serde_json::json;

const SUB: &str = "/apis/subresources.kubevirt.io/v1/namespaces";

#[test]
fn start_sends_empty_options_and_reports_scheduling() {
    let api = MockApi::start(|_, _| None);
    let out = api.run(&["start", "vm1"]);
    assert_eq!(ok(&out), "VM vm1 was scheduled to start\n");
    let reqs = api.requests();
    assert_eq!(reqs.len(), 1, "{reqs:?}");
    assert_eq!(reqs[0].method, "PUT");
    assert_eq!(
        reqs[0].uri,
        format!("{SUB}/default/virtualmachines/vm1/start")
    );
    assert_eq!(reqs[0].json(), json!({}));
}

#[test]
fn paused_dry_run_start_in_another_namespace() {
    let api = MockApi::start(|_, _| None);
    let out = api.run(&["start", "vm1", "--paused", "--dry-run", "-n", "ns1"]);
    assert_eq!(
        ok(&out),
        "Dry Run execution\nVM vm1 was scheduled to start\n"
    );
    let reqs = api.requests();
    assert_eq!(reqs[0].uri, format!("{SUB}/ns1/virtualmachines/vm1/start"));
    assert_eq!(reqs[0].json(), json!({"paused": true, "dryRun": ["All"]}));
}

#[test]
fn forced_stop_and_restart_send_grace_periods() {
    let api = MockApi::start(|_, _| None);
    assert_eq!(
        ok(&api.run(&["stop", "vm1", "--force", "--grace-period=0"])),
        "VM vm1 was scheduled to stop\n"
    );
    assert_eq!(
        ok(&api.run(&["restart", "vm1", "--force", "--grace-period", "0"])),
        "VM vm1 was scheduled to restart\n"
    );
    let reqs = api.requests();
    assert_eq!(
        reqs[0].uri,
        format!("{SUB}/default/virtualmachines/vm1/stop")
    );
    assert_eq!(reqs[0].json(), json!({"gracePeriod": 0}));
    assert_eq!(
        reqs[1].uri,
        format!("{SUB}/default/virtualmachines/vm1/restart")
    );
    assert_eq!(reqs[1].json(), json!({"gracePeriodSeconds": 0}));
}

#[test]
fn grace_period_without_force_is_refused_before_any_request() {
    let api = MockApi::start(|_, _| None);
    let err = fails(&api.run(&["stop", "vm1", "--grace-period=0"]));
    assert_eq!(err, "Must both use --force=true and set --grace-period.\n");
    let err = fails(&api.run(&["restart", "vm1", "--force"]));
    assert_eq!(err, "Must both use --force=true and set --grace-period.\n");
    assert!(api.requests().is_empty());
    assert_eq!(fails(&api.run(&["stop"])), "accepts 1 arg(s), received 0\n");
}

#[test]
fn server_refusals_are_printed_with_upstream_prefixes() {
    let api = MockApi::start(|r, _| {
        if r.uri.ends_with("/reset") {
            return Some(Reply::Bytes(
                404,
                "text/plain",
                b"404 page not found".to_vec(),
            ));
        }
        r.uri.ends_with("/start").then(|| {
            status(409, "Conflict", "Operation cannot be fulfilled on virtualmachine.kubevirt.io \"vm1\": VM is already running")
        })
    });
    let err = fails(&api.run(&["start", "vm1"]));
    assert_eq!(
        err,
        "Error starting VirtualMachine Operation cannot be fulfilled on virtualmachine.kubevirt.io \"vm1\": VM is already running\n"
    );
    let err = fails(&api.run(&["reset", "vmi1"]));
    assert_eq!(
        err,
        "Error reseting VirtualMachineInstance vmi1: the server could not find the requested resource (put virtualmachineinstances.kubevirt.io vmi1)\n"
    );
}

#[test]
fn a_different_server_minor_version_is_noticed_on_failure() {
    let api = MockApi::start(|r, _| {
        if r.uri.ends_with("/version") {
            return Some(Reply::Json(200, json!({"gitVersion": "v1.8.2"})));
        }
        r.uri
            .ends_with("/stop")
            .then(|| status(409, "Conflict", "VM is not running"))
    });
    let err = fails(&api.run(&["stop", "vm1"]));
    assert!(
        err.starts_with("You are using a client virtctl version that is different from the KubeVirt version running in the cluster\nClient Version: v1.9.0-kubevirt-rs\nServer Version: v1.8.2\n\n"),
        "{err}"
    );
    assert!(
        err.ends_with("error stopping VirtualMachine VM is not running\n"),
        "{err}"
    );
}

#[test]
fn version_prints_client_and_server_info() {
    let api = MockApi::start(|_, _| None);
    let out = ok(&api.run(&["version"]));
    let lines: Vec<&str> = out.lines().collect();
    assert!(
        lines[0].starts_with("Client Version: version.Info{GitVersion:\"v1.9.0-kubevirt-rs\""),
        "{out}"
    );
    assert_eq!(
        lines[1],
        "Server Version: version.Info{GitVersion:\"v1.9.1\", GitCommit:\"abc\", GitTreeState:\"clean\", BuildDate:\"2026-01-01T00:00:00Z\", GoVersion:\"go1.24\", Compiler:\"gc\", Platform:\"linux/amd64\"}"
    );
    let client_only = ok(&api.run(&["version", "--client"]));
    assert_eq!(client_only.lines().count(), 1);
}

#[test]
fn migrate_and_cancel() {
    let api = MockApi::start(|r, _| {
        (r.method == "GET" && r.uri.contains("virtualmachineinstancemigrations"))
            .then(|| {
                Reply::Json(
                    200,
                    json!({"kind": "VirtualMachineInstanceMigrationList", "items": [
                        {"metadata": {"name": "done"}, "status": {"phase": "Succeeded"}},
                        {"metadata": {"name": "active"}, "status": {"phase": "Running"}}
                    ]}),
                )
            })
            .or_else(|| {
                (r.method == "DELETE")
                    .then(|| Reply::Json(200, json!({"kind": "Status", "status": "Success"})))
            })
    });
    let out = api.run(&["migrate", "vm1", "--addedNodeSelector=zone=a,rack=2"]);
    assert_eq!(ok(&out), "VM vm1 was scheduled to migrate\n");
    let out = api.run(&["migrate-cancel", "vm1"]);
    assert_eq!(ok(&out), "VM vm1 was scheduled to migrate-cancel\n");
    let reqs = api.requests();
    assert_eq!(
        reqs[0].json(),
        json!({"addedNodeSelector": {"rack": "2", "zone": "a"}})
    );
    assert_eq!(
        reqs[1].uri,
        "/apis/kubevirt.io/v1/namespaces/default/virtualmachineinstancemigrations?labelSelector=kubevirt.io%2Fvmi-name%3D%3Dvm1"
    );
    assert_eq!(reqs[2].method, "DELETE");
    assert_eq!(
        reqs[2].uri,
        "/apis/kubevirt.io/v1/namespaces/default/virtualmachineinstancemigrations/active"
    );
}

#[test]
fn cancelling_without_an_active_migration_fails() {
    let api = MockApi::start(|r, _| {
        r.uri
            .contains("virtualmachineinstancemigrations")
            .then(|| Reply::Json(200, json!({"items": []})))
    });
    assert_eq!(
        fails(&api.run(&["migrate-cancel", "vm1"])),
        "Found no migration to cancel for vm1\n"
    );
}

#[test]
fn pausing_a_vm_pauses_its_instance() {
    let api = MockApi::start(|r, _| {
        (r.method == "GET").then(|| {
            Reply::Json(
                200,
                json!({"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachine",
                "metadata": {"name": "vm1"}, "spec": {"runStrategy": "Always"}}),
            )
        })
    });
    assert_eq!(
        ok(&api.run(&["pause", "VM", "vm1"])),
        "VMI vm1 was scheduled to pause\n"
    );
    assert_eq!(
        ok(&api.run(&["unpause", "vmi", "vm1", "--dry-run"])),
        "Dry Run execution\nVMI vm1 was scheduled to unpause\n"
    );
    assert_eq!(
        ok(&api.run(&["soft-reboot", "vm1"])),
        "VMI vm1 was scheduled to soft-reboot\n"
    );
    let reqs = api.requests();
    let summary: Vec<(String, String)> = reqs
        .iter()
        .map(|r| (r.method.clone(), r.uri.clone()))
        .collect();
    assert_eq!(
        summary,
        [
            (
                "GET".to_owned(),
                "/apis/kubevirt.io/v1/namespaces/default/virtualmachines/vm1".to_owned()
            ),
            (
                "PUT".to_owned(),
                format!("{SUB}/default/virtualmachineinstances/vm1/pause")
            ),
            (
                "PUT".to_owned(),
                format!("{SUB}/default/virtualmachineinstances/vm1/unpause")
            ),
            (
                "PUT".to_owned(),
                format!("{SUB}/default/virtualmachineinstances/vm1/softreboot")
            ),
        ]
    );
    assert_eq!(reqs[1].json(), json!({}));
    assert_eq!(reqs[2].json(), json!({"dryRun": ["All"]}));
    assert_eq!(reqs[3].body, "");
}

#[test]
fn pausing_a_halted_vm_says_it_is_not_set_to_run() {
    let api = MockApi::start(|r, _| {
        if r.method == "GET" {
            return Some(Reply::Json(
                200,
                json!({"metadata": {"name": "vm1"}, "spec": {"runStrategy": "Halted"}}),
            ));
        }
        Some(status(
            404,
            "NotFound",
            "virtualmachineinstance.kubevirt.io \"vm1\" not found",
        ))
    });
    assert_eq!(
        fails(&api.run(&["pause", "vm", "vm1"])),
        "Error pausing VirtualMachineInstance vm1. VirtualMachine vm1 is not set to run\n"
    );
}

#[test]
fn expose_creates_an_owned_service() {
    let api = MockApi::start(|r, _| {
        if r.method == "GET" {
            return Some(Reply::Json(
                200,
                json!({"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachineInstance",
                "metadata": {"name": "v", "namespace": "default", "uid": "uid-1"},
                "spec": {"domain": {"devices": {}}}}),
            ));
        }
        (r.method == "POST").then(|| Reply::Json(201, r.json()))
    });
    let out = api.run(&[
        "expose",
        "vmi",
        "v",
        "--name=s",
        "--port=22",
        "--type=NodePort",
    ]);
    assert_eq!(ok(&out), "Service s successfully created for vmi v\n");
    let reqs = api.requests();
    assert_eq!(reqs[1].method, "POST");
    assert_eq!(reqs[1].uri, "/api/v1/namespaces/default/services");
    let svc = reqs[1].json();
    assert_eq!(svc["spec"]["selector"], json!({"vmi.kubevirt.io/id": "v"}));
    assert_eq!(svc["spec"]["type"], "NodePort");
    assert_eq!(
        svc["spec"]["ports"],
        json!([{"protocol": "TCP", "port": 22, "targetPort": 22}])
    );
    assert_eq!(svc["metadata"]["ownerReferences"][0]["uid"], "uid-1");
    assert_eq!(
        svc["metadata"]["ownerReferences"][0]["blockOwnerDeletion"],
        false
    );
    assert_eq!(
        fails(&api.run(&["expose", "vmi", "v", "--port=22"])),
        "required flag(s) \"name\" not set\n"
    );
}

#[test]
fn console_bridges_the_terminal_and_leaves_on_ctrl_close_bracket() {
    let api = MockApi::start(|r, _| {
        r.uri.ends_with("/console").then(|| Reply::Echo {
            greeting: b"login: ".to_vec(),
        })
    });
    let mut child = api
        .command(&["console", "v"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let stdout = child.stdout.take().expect("stdout");
    send(&mut child, b"hello");
    let (seen, _reader) = read_until(stdout, "login: hello", Duration::from_secs(20));
    assert!(seen.contains("login: hello"), "{seen:?}");
    send(&mut child, b"\x1d");
    let status = wait_exit(&mut child, Duration::from_secs(20)).expect("console exits");
    let mut err = String::new();
    std::io::Read::read_to_string(child.stderr.as_mut().expect("stderr"), &mut err).unwrap();
    assert!(status.success(), "{err}");
    assert!(
        err.contains(
            "Successfully connected to v console. Press Ctrl+] or Ctrl+5 to exit console."
        ),
        "{err}"
    );
    let reqs = api.requests();
    assert_eq!(
        reqs[0].uri,
        format!("{SUB}/default/virtualmachineinstances/v/console")
    );
}

#[test]
fn console_retries_while_the_instance_is_not_running() {
    let api = MockApi::start(|r, index| {
        if !r.uri.ends_with("/console") {
            return None;
        }
        Some(if index < 2 {
            status(400, "BadRequest", "VMI is not running")
        } else {
            Reply::Echo {
                greeting: b"ready".to_vec(),
            }
        })
    });
    let mut child = api
        .command(&["console", "v"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let (seen, _reader) = read_until(
        child.stdout.take().expect("stdout"),
        "ready",
        Duration::from_secs(30),
    );
    assert!(seen.contains("ready"), "{seen:?}");
    send(&mut child, b"\x1d");
    assert!(wait_exit(&mut child, Duration::from_secs(20)).is_some_and(|s| s.success()));
    let attempts = api
        .requests()
        .iter()
        .filter(|r| r.uri.ends_with("/console"))
        .count();
    assert_eq!(attempts, 3);
}

#[test]
fn console_reports_refusals_other_than_bad_request_at_once() {
    let api = MockApi::start(|r, _| {
        r.uri.ends_with("/console").then(|| {
            status(409, "Conflict", "Operation cannot be fulfilled on virtualmachineinstance.kubevirt.io \"v\": VMI is in failed status")
        })
    });
    let err = fails(&api.run(&["console", "v"]));
    assert_eq!(
        err,
        "Operation cannot be fulfilled on virtualmachineinstance.kubevirt.io \"v\": VMI is in failed status\n"
    );
}

#[test]
fn console_gives_up_after_its_timeout() {
    let api = MockApi::start(|r, _| {
        r.uri
            .ends_with("/console")
            .then(|| status(400, "BadRequest", "VMI is not running"))
    });
    let started = std::time::Instant::now();
    let err = fails(&api.run(&["console", "v", "--timeout=1"]));
    assert_eq!(
        err,
        "Timeout trying to connect to the virtual machine instance\n"
    );
    assert!(started.elapsed() >= Duration::from_secs(60));
}

#[test]
fn port_forward_stdio_tunnels_standard_streams() {
    let api = MockApi::start(|r, _| {
        r.uri.contains("/portforward/").then(|| Reply::Echo {
            greeting: Vec::new(),
        })
    });
    let mut child = api
        .command(&["port-forward", "--stdio=true", "vmi/v/ns1", "2222"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    send(&mut child, b"SSH-2.0-test\r\n");
    let (seen, _reader) = read_until(
        child.stdout.take().expect("stdout"),
        "SSH-2.0-test",
        Duration::from_secs(20),
    );
    assert!(seen.contains("SSH-2.0-test"), "{seen:?}");
    drop(child.stdin.take());
    let status = wait_exit(&mut child, Duration::from_secs(20)).expect("exits at end of input");
    assert!(status.success());
    assert_eq!(
        api.requests()[0].uri,
        format!("{SUB}/ns1/virtualmachineinstances/v/portforward/2222/tcp")
    );
}

#[test]
fn port_forward_tunnels_each_local_tcp_connection() {
    use std::io::{Read, Write};
    let api = MockApi::start(|r, _| {
        r.uri.contains("/portforward/").then(|| Reply::Echo {
            greeting: Vec::new(),
        })
    });
    let local = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let ports = format!("{local}:2222");
    let mut child = api
        .command(&["port-forward", "--address=127.0.0.1", "vmi/v/ns1", &ports])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let mut socket = loop {
        match std::net::TcpStream::connect(("127.0.0.1", local)) {
            Ok(s) => break s,
            Err(e) if std::time::Instant::now() > deadline => panic!("no listener: {e}"),
            Err(_) => std::thread::sleep(Duration::from_millis(100)),
        }
    };
    socket
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    socket.write_all(b"ping").unwrap();
    let mut echoed = [0u8; 4];
    socket.read_exact(&mut echoed).expect("echo");
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(&echoed, b"ping");
    assert_eq!(
        api.requests()[0].uri,
        format!("{SUB}/ns1/virtualmachineinstances/v/portforward/2222/tcp")
    );
}

#[test]
fn port_forward_says_when_the_server_does_not_forward() {
    let api = MockApi::start(|_, _| None);
    let err = fails(&api.run(&["port-forward", "--stdio", "vm/v", "22"]));
    assert_eq!(
        err,
        "the server could not find the requested resource (the server does not serve port forwarding)\n"
    );
    let err = fails(&api.run(&["port-forward", "pod/v", "22"]));
    assert_eq!(err, "unsupported resource type 'pod'\n");
}

#[test]
fn vnc_proxy_only_prints_its_port_and_relays() {
    let api = MockApi::start(|r, _| {
        r.uri.contains("/vnc").then(|| Reply::Echo {
            greeting: b"RFB 003.008\n".to_vec(),
        })
    });
    let mut child = api
        .command(&["vnc", "v", "--proxy-only", "--port=0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let (line, _reader) = read_until(
        child.stdout.take().expect("stdout"),
        "}",
        Duration::from_secs(20),
    );
    let port: serde_json::Value = serde_json::from_str(line.trim()).expect("json port");
    let port = port["port"].as_u64().expect("port") as u16;
    let mut socket = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
    socket
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let mut buf = [0u8; 12];
    std::io::Read::read_exact(&mut socket, &mut buf).expect("greeting");
    assert_eq!(&buf, b"RFB 003.008\n");
    drop(socket);
    let status =
        wait_exit(&mut child, Duration::from_secs(20)).expect("exits when the viewer leaves");
    assert!(status.success());
    assert!(
        api.requests()[0]
            .uri
            .ends_with("/virtualmachineinstances/v/vnc?preserveSession=false")
    );
}

#[test]
fn vnc_screenshot_writes_the_png() {
    let api = MockApi::start(|r, _| {
        r.uri
            .contains("/vnc/screenshot")
            .then(|| Reply::Bytes(200, "image/png", b"\x89PNG fake".to_vec()))
    });
    let file = api.dir().join("shot.png");
    let out = api.run(&["vnc", "screenshot", "v", "-f", file.to_str().unwrap()]);
    ok(&out);
    assert_eq!(std::fs::read(&file).unwrap(), b"\x89PNG fake");
    assert!(
        api.requests()[0]
            .uri
            .ends_with("/virtualmachineinstances/v/vnc/screenshot?moveCursor=false")
    );
}

#[test]
fn create_vm_prints_a_manifest_without_calling_the_server() {
    let api = MockApi::start(|_, _| None);
    let out = ok(&api.run(&["create", "vm", "-n", "ns1"]));
    let vm: serde_json::Value = serde_saphyr::from_str(&out).expect("yaml");
    assert_eq!(vm["kind"], "VirtualMachine");
    assert_eq!(vm["metadata"]["namespace"], "ns1");
    assert!(vm["metadata"]["name"].as_str().unwrap().starts_with("vm-"));
    assert_eq!(vm["spec"]["runStrategy"], "Always");
    assert_eq!(
        vm["spec"]["template"]["spec"]["terminationGracePeriodSeconds"],
        180
    );
    assert_eq!(
        vm["spec"]["template"]["spec"]["domain"]["memory"]["guest"],
        "512Mi"
    );
    assert!(api.requests().is_empty());
}

#[test]
fn errors_of_the_connection_name_the_request() {
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kc");
    std::fs::write(
        &kubeconfig,
        "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: http://127.0.0.1:1\ncontexts:\n- name: c\n  context:\n    cluster: c\ncurrent-context: c\n",
    )
    .unwrap();
    let out = common::virtctl_command(&kubeconfig, &["start", "vm1"])
        .output()
        .unwrap();
    assert_eq!(
        fails(&out),
        "Error starting VirtualMachine Put \"http://127.0.0.1:1/apis/subresources.kubevirt.io/v1/namespaces/default/virtualmachines/vm1/start\": dial tcp 127.0.0.1:1: connect: connection refused\n"
    );
    let missing =
        common::virtctl_command(std::path::Path::new("/nonexistent/kc"), &["start", "vm1"])
            .output()
            .unwrap();
    assert_eq!(
        fails(&missing),
        "stat /nonexistent/kc: no such file or directory\n"
    );
}

#[test]
fn help_names_the_plugin_when_run_as_kubectl_virt() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_kubectl-virt"))
        .args(["start", "--help"])
        .output()
        .unwrap();
    let text = ok(&out);
    assert!(
        text.contains("Usage:\n  kubectl virt start (VM) [flags]"),
        "{text}"
    );
    assert!(text.contains("  kubectl virt start myvm"), "{text}");
    assert!(stderr(&out).is_empty());
}
