//! End-to-end: the real `kubectl` against a real `kubevirtd`.

mod common;

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{Kubevirtd, eventually, examples_dir};

const VM: &str = r#"
apiVersion: kubevirt.io/v1
kind: VirtualMachine
metadata:
  name: testvm
  labels:
    app: demo
spec:
  runStrategy: Halted
  template:
    metadata:
      labels:
        kubevirt.io/vm: testvm
    spec:
      domain:
        devices: {}
        resources:
          requests:
            memory: 64Mi
"#;

const VMIRS: &str = r#"
apiVersion: kubevirt.io/v1
kind: VirtualMachineInstanceReplicaSet
metadata:
  name: rs1
spec:
  replicas: 0
  selector:
    matchLabels:
      app: rs1
  template:
    metadata:
      labels:
        app: rs1
    spec:
      domain:
        devices: {}
        resources:
          requests:
            memory: 64Mi
"#;

fn create(k: &Kubevirtd, manifest: &str) -> String {
    k.kubectl_stdin_ok(&["create", "-f", "-"], manifest)
}

#[test]
fn api_resources_lists_kubevirt_kinds_with_short_names() {
    let k = Kubevirtd::start();
    let out = k.kubectl_ok(&["api-resources"]);
    let line = out
        .lines()
        .find(|l| l.starts_with("virtualmachines "))
        .expect("virtualmachines listed");
    assert!(
        line.contains("vm,vms")
            && line.contains("kubevirt.io/v1")
            && line.contains("VirtualMachine"),
        "{line}"
    );
    for (name, short) in [
        ("virtualmachineinstances ", "vmi,vmis"),
        ("virtualmachineinstancereplicasets ", "vmirs,vmirss"),
        ("namespaces ", "ns"),
    ] {
        let line = out
            .lines()
            .find(|l| l.starts_with(name))
            .unwrap_or_else(|| panic!("{name} listed in\n{out}"));
        assert!(line.contains(short), "{line}");
    }
}

#[test]
fn every_example_manifest_is_accepted_by_kubectl_create() {
    let k = Kubevirtd::start();
    let dir = examples_dir().join("kubevirt-examples");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("examples")
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert!(
        files.len() >= 40,
        "expected the vendored examples in {}",
        dir.display()
    );
    let mut failures = Vec::new();
    for (i, f) in files.iter().enumerate() {
        // Some examples share names; each gets its own namespace.
        let ns = format!("example-{i}");
        create(
            &k,
            &format!("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {ns}\n"),
        );
        let out = k.kubectl(&["create", "-n", &ns, "-f", f.to_str().unwrap()]);
        if !out.status.success() {
            failures.push(format!(
                "{}: {}",
                f.display(),
                String::from_utf8_lossy(&out.stderr)
            ));
        }
    }
    assert!(failures.is_empty(), "rejected:\n{}", failures.join("\n"));
}

#[test]
fn get_prints_the_server_side_columns() {
    let k = Kubevirtd::start();
    create(&k, VM);
    let out = k.kubectl_ok(&["get", "vm"]);
    let header: Vec<&str> = out.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(header, ["NAME", "AGE", "STATUS", "READY"], "{out}");
    assert!(out.lines().nth(1).unwrap().starts_with("testvm "), "{out}");
    let out = k.kubectl(&["get", "vmirs"]);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("No resources found"),
        "{out:?}"
    );
    create(&k, VMIRS);
    let header = k.kubectl_ok(&["get", "vmirs"]);
    let cols: Vec<&str> = header.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(cols, ["NAME", "DESIRED", "CURRENT", "READY", "AGE"]);
}

#[test]
fn get_yaml_and_json_show_the_stored_object() {
    let k = Kubevirtd::start();
    create(&k, VM);
    let json: serde_json::Value =
        serde_json::from_str(&k.kubectl_ok(&["get", "vm", "testvm", "-o", "json"])).unwrap();
    assert_eq!(json["kind"], "VirtualMachine");
    assert_eq!(json["spec"]["runStrategy"], "Halted");
    assert_eq!(json["metadata"]["generation"], 1);
    assert!(
        json["metadata"]["uid"]
            .as_str()
            .is_some_and(|u| u.len() == 36)
    );
    let yaml = k.kubectl_ok(&["get", "vm", "testvm", "-o", "yaml"]);
    assert!(yaml.contains("runStrategy: Halted"), "{yaml}");
}

#[test]
fn client_side_apply_twice_reports_unchanged() {
    let k = Kubevirtd::start();
    let out = k.kubectl_stdin(&["apply", "-f", "-"], Some(VM));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("created"),
        "{out:?}"
    );
    let out = k.kubectl_stdin(&["apply", "-f", "-"], Some(VM));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("unchanged"),
        "{out:?}"
    );
    let changed = VM.replace("app: demo", "app: demo2");
    let out = k.kubectl_stdin(&["apply", "-f", "-"], Some(&changed));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("configured"),
        "{out:?}"
    );
    assert_eq!(
        k.kubectl_ok(&[
            "get",
            "vm",
            "testvm",
            "-o",
            "jsonpath={.metadata.labels.app}"
        ]),
        "demo2"
    );
}

#[test]
fn server_side_apply_creates_then_leaves_unchanged() {
    let k = Kubevirtd::start();
    let apply = || {
        k.kubectl_stdin_ok(&["apply", "--server-side", "-f", "-"], VM);
        k.kubectl_ok(&[
            "get",
            "vm",
            "testvm",
            "-o",
            "jsonpath={.metadata.resourceVersion}",
        ])
    };
    let rv1 = apply();
    let rv2 = apply();
    assert_eq!(rv1, rv2, "a second identical apply must not write");
    let managers = k.kubectl_ok(&[
        "get",
        "vm",
        "testvm",
        "--show-managed-fields",
        "-o",
        "jsonpath={.metadata.managedFields[*].manager}",
    ]);
    assert!(managers.contains("kubectl"), "{managers}");
}

#[test]
fn patch_merge_and_json_change_the_spec_and_bump_generation() {
    let k = Kubevirtd::start();
    create(&k, VM);
    k.kubectl_ok(&[
        "patch",
        "vm",
        "testvm",
        "--type=merge",
        "-p",
        r#"{"spec":{"runStrategy":"Always"}}"#,
    ]);
    assert_eq!(
        k.kubectl_ok(&["get", "vm", "testvm", "-o", "jsonpath={.spec.runStrategy}"]),
        "Always"
    );
    k.kubectl_ok(&[
        "patch",
        "vm",
        "testvm",
        "--type=json",
        "-p",
        r#"[{"op":"replace","path":"/spec/runStrategy","value":"Manual"}]"#,
    ]);
    assert_eq!(
        k.kubectl_ok(&["get", "vm", "testvm", "-o", "jsonpath={.spec.runStrategy}"]),
        "Manual"
    );
    assert_eq!(
        k.kubectl_ok(&[
            "get",
            "vm",
            "testvm",
            "-o",
            "jsonpath={.metadata.generation}"
        ]),
        "3"
    );
    // A failed JSON patch test is rejected and changes nothing.
    let err = k.kubectl_err(&[
        "patch",
        "vm",
        "testvm",
        "--type=json",
        "-p",
        r#"[{"op":"test","path":"/spec/runStrategy","value":"Always"}]"#,
    ]);
    assert!(
        err.contains("testing value /spec/runStrategy failed"),
        "{err}"
    );
    assert_eq!(
        k.kubectl_ok(&["get", "vm", "testvm", "-o", "jsonpath={.spec.runStrategy}"]),
        "Manual"
    );
    // kubectl's default strategic merge patch is refused for custom resources, as upstream.
    let err = k.kubectl_err(&[
        "patch",
        "vm",
        "testvm",
        "-p",
        r#"{"spec":{"runStrategy":"Always"}}"#,
    ]);
    assert!(
        err.contains("UnsupportedMediaType")
            || err.contains("unknown format")
            || err.contains("415"),
        "{err}"
    );
}

#[test]
fn label_and_annotate_use_merge_patches() {
    let k = Kubevirtd::start();
    create(&k, VM);
    k.kubectl_ok(&["label", "vm", "testvm", "tier=gold"]);
    k.kubectl_ok(&["annotate", "vm", "testvm", "note=hello"]);
    let out = k.kubectl_ok(&["get", "vm", "-l", "tier=gold", "-o", "name"]);
    assert_eq!(out.trim(), "virtualmachine.kubevirt.io/testvm");
    assert_eq!(
        k.kubectl_ok(&["get", "vm", "-l", "tier!=gold", "-o", "name"])
            .trim(),
        ""
    );
    assert_eq!(
        k.kubectl_ok(&[
            "get",
            "vm",
            "testvm",
            "-o",
            "jsonpath={.metadata.annotations.note}"
        ]),
        "hello"
    );
}

#[test]
fn scale_uses_the_scale_subresource() {
    let k = Kubevirtd::start();
    create(&k, VMIRS);
    k.kubectl_ok(&["scale", "vmirs", "rs1", "--replicas=3"]);
    assert_eq!(
        k.kubectl_ok(&["get", "vmirs", "rs1", "-o", "jsonpath={.spec.replicas}"]),
        "3"
    );
}

#[test]
fn explain_reads_the_openapi_v3_schema() {
    let k = Kubevirtd::start();
    let out = k.kubectl_ok(&["explain", "virtualmachine.spec"]);
    assert!(out.contains("runStrategy"), "{out}");
    assert!(out.contains("template"), "{out}");
}

#[test]
fn unknown_fields_are_rejected_with_the_strict_decoding_message() {
    let k = Kubevirtd::start();
    let bad = VM.replace(
        "runStrategy: Halted",
        "runStrategy: Halted\n  runStrateyg: Always",
    );
    let out = k.kubectl_stdin(&["create", "-f", "-"], Some(&bad));
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("unknown field \"spec.runStrateyg\""), "{err}");
    // Nothing was stored.
    assert!(k.kubectl_err(&["get", "vm", "testvm"]).contains("NotFound"));
}

#[test]
fn wrong_types_are_unprocessable() {
    let k = Kubevirtd::start();
    let bad = VM.replace("runStrategy: Halted", "runStrategy: 7");
    let err = String::from_utf8_lossy(&k.kubectl_stdin(&["create", "-f", "-"], Some(&bad)).stderr)
        .into_owned();
    assert!(
        err.contains("spec.runStrategy") && err.contains("Invalid"),
        "{err}"
    );
}

#[test]
fn wait_for_a_condition_and_for_deletion() {
    let k = Kubevirtd::start();
    create(&k, VM);
    k.kubectl_ok(&[
        "wait",
        "vm/testvm",
        "--for=jsonpath={.spec.runStrategy}=Halted",
        "--timeout=20s",
    ]);
    let handle = {
        let kc = k.kubeconfig.clone();
        std::thread::spawn(move || {
            Command::new(common::kubectl_bin())
                .args(["wait", "vm/testvm", "--for=delete", "--timeout=30s"])
                .env("KUBECONFIG", kc)
                .output()
                .unwrap()
        })
    };
    std::thread::sleep(Duration::from_millis(500));
    k.kubectl_ok(&["delete", "vm", "testvm"]);
    let out = handle.join().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn get_watch_prints_new_rows() {
    let k = Kubevirtd::start();
    let mut child = Command::new(common::kubectl_bin())
        .args(["get", "vm", "-w", "--request-timeout=15s"])
        .env("KUBECONFIG", &k.kubeconfig)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(800));
    create(&k, VM);
    std::thread::sleep(Duration::from_millis(800));
    k.kubectl_ok(&["label", "vm", "testvm", "x=y"]);
    std::thread::sleep(Duration::from_millis(800));
    let _ = child.kill();
    let _ = child.wait();
    let mut out = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    let rows = out.lines().filter(|l| l.starts_with("testvm")).count();
    assert!(rows >= 2, "expected an added and a modified row:\n{out}");
}

#[test]
fn describe_shows_events_of_the_object() {
    let k = Kubevirtd::start();
    create(&k, VM);
    let uid = k.kubectl_ok(&["get", "vm", "testvm", "-o", "jsonpath={.metadata.uid}"]);
    let event = format!(
        r#"{{"apiVersion":"v1","kind":"Event","metadata":{{"name":"testvm.1","namespace":"default"}},
        "involvedObject":{{"apiVersion":"kubevirt.io/v1","kind":"VirtualMachine","name":"testvm","namespace":"default","uid":"{uid}"}},
        "reason":"SuccessfulCreate","message":"Started the virtual machine","type":"Normal","count":1,
        "firstTimestamp":"2026-01-01T00:00:00Z","lastTimestamp":"2026-01-01T00:00:00Z","source":{{"component":"virtualmachine-controller"}}}}"#
    );
    create(&k, &event);
    let out = k.kubectl_ok(&["describe", "vm", "testvm"]);
    assert!(
        out.contains("SuccessfulCreate") && out.contains("Started the virtual machine"),
        "{out}"
    );
}

fn owned_configmap(owner_uid: &str, name: &str, block: bool) -> String {
    format!(
        r#"{{"apiVersion":"v1","kind":"ConfigMap","metadata":{{"name":"{name}","namespace":"default",
        "ownerReferences":[{{"apiVersion":"kubevirt.io/v1","kind":"VirtualMachine","name":"testvm","uid":"{owner_uid}","controller":true,"blockOwnerDeletion":{block}}}]}},
        "data":{{"a":"b"}}}}"#
    )
}

#[test]
fn delete_cascades_in_background_foreground_and_orphan_modes() {
    let k = Kubevirtd::start();
    for (mode, survives) in [
        ("background", false),
        ("foreground", false),
        ("orphan", true),
    ] {
        create(&k, VM);
        let uid = k.kubectl_ok(&["get", "vm", "testvm", "-o", "jsonpath={.metadata.uid}"]);
        create(&k, &owned_configmap(&uid, "dep", true));
        k.kubectl_ok(&[
            "delete",
            "vm",
            "testvm",
            &format!("--cascade={mode}"),
            "--timeout=30s",
        ]);
        eventually(Duration::from_secs(20), "the owner to be gone", || {
            (!k.kubectl(&["get", "vm", "testvm"]).status.success()).then_some(())
        });
        if survives {
            let refs = k.kubectl_ok(&[
                "get",
                "cm",
                "dep",
                "-o",
                "jsonpath={.metadata.ownerReferences}",
            ]);
            assert_eq!(
                refs.trim(),
                "",
                "orphaned dependents lose their owner reference"
            );
            k.kubectl_ok(&["delete", "cm", "dep"]);
        } else {
            eventually(
                Duration::from_secs(20),
                &format!("the dependent to be collected ({mode})"),
                || (!k.kubectl(&["get", "cm", "dep"]).status.success()).then_some(()),
            );
        }
    }
}

#[test]
fn deleting_a_namespace_deletes_its_contents() {
    let k = Kubevirtd::start();
    k.kubectl_ok(&["create", "namespace", "scratch"]);
    k.kubectl_stdin_ok(&["create", "-n", "scratch", "-f", "-"], VM);
    k.kubectl_ok(&["delete", "namespace", "scratch", "--timeout=60s"]);
    eventually(Duration::from_secs(30), "namespace gone", || {
        (!k.kubectl(&["get", "ns", "scratch"]).status.success()).then_some(())
    });
    assert!(
        k.kubectl_ok(&["get", "vm", "-A", "-o", "name"])
            .trim()
            .is_empty()
    );
}

#[test]
fn restart_keeps_objects_and_resource_versions() {
    let mut k = Kubevirtd::start();
    create(&k, VM);
    let before = k.kubectl_ok(&[
        "get",
        "vm",
        "testvm",
        "-o",
        "jsonpath={.metadata.uid}/{.metadata.resourceVersion}",
    ]);
    k.restart();
    let after = k.kubectl_ok(&[
        "get",
        "vm",
        "testvm",
        "-o",
        "jsonpath={.metadata.uid}/{.metadata.resourceVersion}",
    ]);
    assert_eq!(before, after);
    // New writes continue above the old revisions.
    k.kubectl_ok(&["label", "vm", "testvm", "again=yes"]);
    let rv: u64 = k
        .kubectl_ok(&[
            "get",
            "vm",
            "testvm",
            "-o",
            "jsonpath={.metadata.resourceVersion}",
        ])
        .parse()
        .unwrap();
    assert!(rv > before.split('/').nth(1).unwrap().parse::<u64>().unwrap());
}

#[test]
fn requests_with_an_unknown_token_are_unauthorized() {
    let k = Kubevirtd::start();
    let server = k.kubectl_ok(&[
        "config",
        "view",
        "-o",
        "jsonpath={.clusters[0].cluster.server}",
    ]);
    let anonymous = k.dir.join("anonymous.kubeconfig");
    std::fs::write(
        &anonymous,
        format!("apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: {server}\n    insecure-skip-tls-verify: true\nusers:\n- name: u\n  user:\n    token: not-a-known-token\ncontexts:\n- name: c\n  context:\n    cluster: c\n    user: u\ncurrent-context: c\n"),
    )
    .unwrap();
    let out = Command::new(common::kubectl_bin())
        .args(["get", "vm"])
        .env("KUBECONFIG", &anonymous)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("Unauthorized") || err.contains("provide credentials"),
        "{err}"
    );
}

#[test]
fn warn_validation_prunes_unknown_fields_with_a_warning() {
    let k = Kubevirtd::start();
    let bad = VM.replace(
        "runStrategy: Halted",
        "runStrategy: Halted\n  extraField: 1",
    );
    let out = k.kubectl_stdin(&["create", "--validate=warn", "-f", "-"], Some(&bad));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("unknown field \"spec.extraField\""),
        "{out:?}"
    );
    let stored = k.kubectl_ok(&["get", "vm", "testvm", "-o", "json"]);
    assert!(!stored.contains("extraField"), "the field was pruned");
}

#[test]
fn deprecated_versions_answer_with_a_warning_header() {
    let k = Kubevirtd::start();
    create(&k, VM);
    let out = k.kubectl(&["get", "virtualmachines.v1alpha3.kubevirt.io", "testvm"]);
    assert!(out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("Warning:") && err.contains("v1alpha3"),
        "{err}"
    );
}

#[test]
fn delete_collection_by_label_removes_only_matching_objects() {
    let k = Kubevirtd::start();
    for (name, tier) in [("a", "gold"), ("b", "gold"), ("c", "silver")] {
        create(
            &k,
            &format!(
                "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n  labels:\n    tier: {tier}\n"
            ),
        );
    }
    k.kubectl_ok(&["delete", "configmaps", "-l", "tier=gold"]);
    let left = k.kubectl_ok(&["get", "configmaps", "-o", "name"]);
    assert!(
        left.contains("configmap/c")
            && !left.contains("configmap/a")
            && !left.contains("configmap/b"),
        "{left}"
    );
}

#[test]
fn raw_requests_get_405_and_404_statuses() {
    let k = Kubevirtd::start();
    create(&k, VM);
    let out = k.kubectl(&[
        "create",
        "--raw",
        "/apis/kubevirt.io/v1/namespaces/default/virtualmachines/testvm",
        "-f",
        "-",
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success()
            && (err.contains("MethodNotAllowed")
                || err.contains("405")
                || err.contains("not allow")),
        "{err}"
    );
    let out = k.kubectl(&[
        "get",
        "--raw",
        "/apis/kubevirt.io/v1/namespaces/default/nothings",
    ]);
    assert!(
        !out.status.success() && String::from_utf8_lossy(&out.stderr).contains("NotFound"),
        "{out:?}"
    );
}
