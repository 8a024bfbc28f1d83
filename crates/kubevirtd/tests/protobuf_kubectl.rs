//! End-to-end: `kubectl create <generator>` builds built-in objects itself and sends them as
//! Kubernetes protobuf; the server stores what the same command would have sent as JSON.

mod common;

use base64::Engine as _;
use serde_json::{Value, json};

use common::Kubevirtd;

fn get_json(k: &Kubevirtd, args: &[&str]) -> Value {
    let mut all = vec!["get"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["-o", "json"]);
    serde_json::from_str(&k.kubectl_ok(&all)).expect("kubectl get -o json prints JSON")
}

fn b64(s: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(s)
}

#[test]
fn create_namespace_stores_the_namespace() {
    let k = Kubevirtd::start();
    let out = k.kubectl_ok(&["create", "namespace", "team-a"]);
    assert_eq!(out.trim(), "namespace/team-a created");
    let ns = get_json(&k, &["namespace", "team-a"]);
    assert_eq!(ns["kind"], "Namespace");
    assert_eq!(ns["metadata"]["name"], "team-a");
    assert!(
        ns["metadata"]["uid"]
            .as_str()
            .is_some_and(|u| !u.is_empty()),
        "{ns}"
    );
}

#[test]
fn server_side_dry_run_of_a_protobuf_create_stores_nothing() {
    let k = Kubevirtd::start();
    let out = k.kubectl_ok(&["create", "namespace", "lab", "--dry-run=server"]);
    assert!(
        out.contains("namespace/lab created (server dry run)"),
        "{out}"
    );
    let err = k.kubectl_err(&["get", "namespace", "lab"]);
    assert!(
        err.contains("NotFound") || err.contains("not found"),
        "{err}"
    );
}

#[test]
fn create_configmap_keeps_text_and_binary_data() {
    let k = Kubevirtd::start();
    let file = k.dir.join("blob.bin");
    std::fs::write(&file, b"bin\0\xff").unwrap();
    let from_file = format!("--from-file=blob={}", file.display());
    k.kubectl_ok(&["create", "namespace", "team-a"]);
    k.kubectl_ok(&[
        "create",
        "configmap",
        "settings",
        "-n",
        "team-a",
        "--from-literal=mode=fast",
        &from_file,
    ]);
    let cm = get_json(&k, &["configmap", "settings", "-n", "team-a"]);
    assert_eq!(cm["metadata"]["namespace"], "team-a");
    assert_eq!(cm["data"], json!({"mode": "fast"}));
    assert_eq!(cm["binaryData"], json!({"blob": b64(b"bin\0\xff")}));
}

#[test]
fn create_secret_generic_stores_base64_data_and_type() {
    let k = Kubevirtd::start();
    k.kubectl_ok(&[
        "create",
        "secret",
        "generic",
        "creds",
        "--from-literal=user=admin",
        "--from-literal=pass=s3cr3t",
        "--type=Opaque",
    ]);
    let s = get_json(&k, &["secret", "creds"]);
    assert_eq!(s["type"], "Opaque");
    assert_eq!(
        s["data"],
        json!({"user": b64(b"admin"), "pass": b64(b"s3cr3t")})
    );
}

#[test]
fn create_secret_docker_registry_stores_the_docker_config() {
    let k = Kubevirtd::start();
    k.kubectl_ok(&[
        "create",
        "secret",
        "docker-registry",
        "regcred",
        "--docker-server=registry.example",
        "--docker-username=u",
        "--docker-password=p",
        "--docker-email=u@example.test",
    ]);
    let s = get_json(&k, &["secret", "regcred"]);
    assert_eq!(s["type"], "kubernetes.io/dockerconfigjson");
    let encoded = s["data"][".dockerconfigjson"]
        .as_str()
        .expect("docker config present");
    let raw = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .expect("base64");
    let config: Value = serde_json::from_slice(&raw).expect("docker config is JSON");
    assert_eq!(config["auths"]["registry.example"]["username"], "u");
    assert_eq!(config["auths"]["registry.example"]["auth"], b64(b"u:p"));
}

#[test]
fn create_serviceaccount_stores_it() {
    let k = Kubevirtd::start();
    k.kubectl_ok(&["create", "serviceaccount", "builder"]);
    let sa = get_json(&k, &["serviceaccount", "builder"]);
    assert_eq!(sa["kind"], "ServiceAccount");
    assert_eq!(sa["metadata"]["namespace"], "default");
}

#[test]
fn create_service_clusterip_keeps_numeric_and_named_target_ports() {
    let k = Kubevirtd::start();
    k.kubectl_ok(&[
        "create",
        "service",
        "clusterip",
        "web",
        "--tcp=80:8080",
        "--tcp=443:https",
    ]);
    let svc = get_json(&k, &["service", "web"]);
    assert_eq!(svc["metadata"]["labels"], json!({"app": "web"}));
    assert_eq!(svc["spec"]["type"], "ClusterIP");
    assert_eq!(svc["spec"]["selector"], json!({"app": "web"}));
    let ports = &svc["spec"]["ports"];
    assert_eq!(ports[0]["name"], "80-8080");
    assert_eq!(ports[0]["port"], 80);
    assert_eq!(ports[0]["protocol"], "TCP");
    assert_eq!(ports[0]["targetPort"], 8080);
    assert_eq!(ports[1]["port"], 443);
    assert_eq!(ports[1]["targetPort"], "https");
}

#[test]
fn create_service_headless_keeps_cluster_ip_none() {
    let k = Kubevirtd::start();
    k.kubectl_ok(&[
        "create",
        "service",
        "clusterip",
        "headless",
        "--clusterip=None",
    ]);
    let svc = get_json(&k, &["service", "headless"]);
    assert_eq!(svc["spec"]["clusterIP"], "None");
}

#[test]
fn create_service_nodeport_keeps_the_node_port() {
    let k = Kubevirtd::start();
    k.kubectl_ok(&[
        "create",
        "service",
        "nodeport",
        "web-np",
        "--tcp=80:8080",
        "--node-port=30080",
    ]);
    let svc = get_json(&k, &["service", "web-np"]);
    assert_eq!(svc["spec"]["type"], "NodePort");
    assert_eq!(svc["spec"]["ports"][0]["nodePort"], 30080);
    assert_eq!(svc["spec"]["ports"][0]["targetPort"], 8080);
}

#[test]
fn create_service_loadbalancer_and_externalname_keep_their_types() {
    let k = Kubevirtd::start();
    k.kubectl_ok(&[
        "create",
        "service",
        "loadbalancer",
        "web-lb",
        "--tcp=5678:8080",
    ]);
    k.kubectl_ok(&[
        "create",
        "service",
        "externalname",
        "ext",
        "--external-name=example.com",
    ]);
    let lb = get_json(&k, &["service", "web-lb"]);
    assert_eq!(lb["spec"]["type"], "LoadBalancer");
    assert_eq!(lb["spec"]["ports"][0]["port"], 5678);
    let ext = get_json(&k, &["service", "ext"]);
    assert_eq!(ext["spec"]["type"], "ExternalName");
    assert_eq!(ext["spec"]["externalName"], "example.com");
}

#[test]
fn create_priorityclass_keeps_value_description_default_and_policy() {
    let k = Kubevirtd::start();
    let resources = k.kubectl_ok(&[
        "api-resources",
        "--api-group=scheduling.k8s.io",
        "-o",
        "name",
    ]);
    assert!(resources.contains("priorityclasses"), "{resources}");
    k.kubectl_ok(&[
        "create",
        "priorityclass",
        "high",
        "--value=1000",
        "--description=important workloads",
        "--preemption-policy=Never",
    ]);
    k.kubectl_ok(&[
        "create",
        "priorityclass",
        "low",
        "--value=-5",
        "--global-default=true",
    ]);
    let high = get_json(&k, &["priorityclass", "high"]);
    assert_eq!(high["apiVersion"], "scheduling.k8s.io/v1");
    assert_eq!(high["value"], 1000);
    assert_eq!(high["description"], "important workloads");
    assert_eq!(high["preemptionPolicy"], "Never");
    assert_eq!(high.get("globalDefault"), None);
    let low = get_json(&k, &["priorityclass", "low"]);
    assert_eq!(low["value"], -5);
    assert_eq!(low["globalDefault"], true);
    assert_eq!(low["preemptionPolicy"], "PreemptLowerPriority");
}
