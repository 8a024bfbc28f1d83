//! Helpers of the acceptance-scenario suites (§8 of the behaviour spec): one `kubevirtd` shared
//! by the tests of a test binary, a namespace per test, raw JSON access to objects, subresource
//! calls, events, and polling that reports the last observed state when it times out.

#![allow(dead_code)]

use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use http_body_util::BodyExt;
use kube::client::Body;
use serde_json::{Value, json};

use crate::common::Kubevirtd;

/// Server flags of the shared server: quick simulated guests, two nodes.
pub const SERVER_ARGS: &[&str] = &["--boot-delay-ms", "300", "--nodes", "2"];

/// Default time a condition may take to appear.
pub const TIMEOUT: Duration = Duration::from_secs(60);

static SERVER: Mutex<Weak<Kubevirtd>> = Mutex::new(Weak::new());

/// The server shared by the tests of this binary that are running at the same time; it is
/// killed when the last of them drops its handle (statics are never dropped, so a server held
/// by one would outlive the test process).
pub fn shared_server() -> Arc<Kubevirtd> {
    let mut slot = SERVER.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(k) = slot.upgrade() {
        return k;
    }
    let k = Arc::new(Kubevirtd::start_with(SERVER_ARGS));
    *slot = Arc::downgrade(&k);
    k
}

/// One test's view of the shared server: its own namespace and a kube-rs client.
pub struct Scenario {
    pub k: Arc<Kubevirtd>,
    pub client: kube::Client,
    pub ns: String,
}

/// The answer to a raw request.
#[derive(Debug, Clone)]
pub struct Reply {
    pub code: u16,
    pub body: String,
    /// The `Warning` headers.
    pub warnings: Vec<String>,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }

    /// The `message` of a `Status` answer.
    pub fn message(&self) -> String {
        self.json()["message"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.code)
    }
}

/// Asserts that a `Status` answer's message ends with `text`: upstream wraps the reasons of
/// 409 and 403 answers as `Operation cannot be fulfilled on <resource> "<name>": <text>` and
/// `<resource> "<name>" is forbidden: <text>`.
#[track_caller]
pub fn assert_message(reply: &Reply, text: impl AsRef<str>) {
    let message = reply.message();
    let text = text.as_ref();
    match reply.code {
        409 => assert!(
            message.starts_with("Operation cannot be fulfilled on ") && message.ends_with(text),
            "409 {message:?} should be a conflict ending with {text:?}"
        ),
        403 => assert!(
            message.contains(" is forbidden: ") && message.ends_with(text),
            "403 {message:?} should be forbidden ending with {text:?}"
        ),
        code => assert_eq!(message, text, "{code} {}", reply.body),
    }
}

/// A minimal VirtualMachine: a container disk, 64Mi, grace period 0 (quick stops).
pub fn vm_manifest(name: &str, run_strategy: &str) -> Value {
    json!({
        "apiVersion": "kubevirt.io/v1",
        "kind": "VirtualMachine",
        "metadata": {"name": name},
        "spec": {
            "runStrategy": run_strategy,
            "template": {
                "metadata": {"labels": {"kubevirt.io/vm": name}},
                "spec": vmi_spec(),
            }
        }
    })
}

/// A minimal VirtualMachineInstance.
pub fn vmi_manifest(name: &str) -> Value {
    json!({
        "apiVersion": "kubevirt.io/v1",
        "kind": "VirtualMachineInstance",
        "metadata": {"name": name},
        "spec": vmi_spec(),
    })
}

/// The spec shared by the minimal manifests.
pub fn vmi_spec() -> Value {
    json!({
        "terminationGracePeriodSeconds": 0,
        "domain": {
            "devices": {"disks": [{"name": "containerdisk", "disk": {"bus": "virtio"}}]},
            "resources": {"requests": {"memory": "64Mi"}},
        },
        "volumes": [{
            "name": "containerdisk",
            "containerDisk": {"image": "quay.io/kubevirt/cirros-container-disk-demo:v1.4.0"},
        }],
    })
}

/// Adds an annotation to a VM manifest's template (e.g. a simulation knob).
pub fn with_template_annotation(mut vm: Value, key: &str, value: &str) -> Value {
    let meta = &mut vm["spec"]["template"]["metadata"];
    if meta.get("annotations").is_none() {
        meta["annotations"] = json!({});
    }
    meta["annotations"][key] = json!(value);
    vm
}

/// Sets `value` at a `/`-separated path of `doc`, creating objects on the way.
pub fn set(doc: &mut Value, path: &str, value: Value) {
    let mut cur = doc;
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    for (i, part) in parts.iter().enumerate() {
        if i + 1 == parts.len() {
            cur[*part] = value;
            return;
        }
        if cur.get(*part).is_none() {
            cur[*part] = json!({});
        }
        cur = &mut cur[*part];
    }
}

/// The string at a JSON pointer, or "".
pub fn s<'a>(v: &'a Value, pointer: &str) -> &'a str {
    v.pointer(pointer).and_then(Value::as_str).unwrap_or("")
}

/// The condition of `type_` in `obj.status.conditions`.
pub fn condition<'a>(obj: &'a Value, type_: &str) -> Option<&'a Value> {
    obj.pointer("/status/conditions")?
        .as_array()?
        .iter()
        .find(|c| c["type"] == type_)
}

pub fn printable(vm: &Value) -> &str {
    s(vm, "/status/printableStatus")
}

pub fn uid(obj: &Value) -> String {
    s(obj, "/metadata/uid").to_string()
}

pub fn phase(vmi: &Value) -> &str {
    s(vmi, "/status/phase")
}

/// Polls `f` every 100 ms until it returns `Ok`; on timeout panics with `what` and the last
/// state `f` described in its `Err`.
pub async fn until<T>(
    timeout: Duration,
    what: &str,
    mut f: impl AsyncFnMut() -> Result<T, String>,
) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        match f().await {
            Ok(v) => return v,
            Err(last) => {
                if Instant::now() >= deadline {
                    panic!("timed out after {timeout:?} waiting for {what}; last state: {last}");
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Checks `f` every 200 ms for `window`, panicking with `what` as soon as it returns `Err`.
pub async fn holds_for(
    window: Duration,
    what: &str,
    mut f: impl AsyncFnMut() -> Result<(), String>,
) {
    let deadline = Instant::now() + window;
    while Instant::now() < deadline {
        if let Err(e) = f().await {
            panic!("{what} stopped holding: {e}");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The kind's collection path in the `kubevirt.io/v1` API.
fn kubevirt_path(ns: &str, plural: &str) -> String {
    format!("/apis/kubevirt.io/v1/namespaces/{ns}/{plural}")
}

impl Scenario {
    /// A fresh namespace `ns` on the shared server.
    pub async fn new(ns: &str) -> Scenario {
        let k = shared_server();
        let client = k.client().await;
        let sc = Scenario {
            k,
            client,
            ns: ns.to_string(),
        };
        let created = sc
            .post(
                "/api/v1/namespaces",
                json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}),
            )
            .await;
        assert!(created.is_success(), "namespace {ns}: {}", created.body);
        sc
    }

    /// Runs kubectl in this scenario's namespace, panicking on failure.
    pub fn kubectl_ok(&self, args: &[&str]) -> String {
        let mut all = vec!["-n", self.ns.as_str()];
        all.extend_from_slice(args);
        self.k.kubectl_ok(&all)
    }

    /// Runs kubectl in this scenario's namespace.
    pub fn kubectl(&self, args: &[&str]) -> std::process::Output {
        let mut all = vec!["-n", self.ns.as_str()];
        all.extend_from_slice(args);
        self.k.kubectl(&all)
    }

    /// Runs kubectl in this scenario's namespace with `stdin`.
    pub fn kubectl_stdin(&self, args: &[&str], stdin: &str) -> std::process::Output {
        let mut all = vec!["-n", self.ns.as_str()];
        all.extend_from_slice(args);
        self.k.kubectl_stdin(&all, Some(stdin))
    }

    /// Sends a raw request; never fails on an HTTP error status.
    pub async fn request(
        &self,
        method: &str,
        path: &str,
        content_type: &str,
        body: Option<Vec<u8>>,
    ) -> Reply {
        let mut req = http::Request::builder().method(method).uri(path);
        if body.is_some() {
            req = req.header("Content-Type", content_type);
        }
        let req = req
            .body(Body::from(body.unwrap_or_default()))
            .expect("request");
        let res = self.client.send(req).await.expect("the server answers");
        let code = res.status().as_u16();
        let warnings = res
            .headers()
            .get_all("warning")
            .iter()
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
            .collect();
        let bytes = res
            .into_body()
            .collect()
            .await
            .expect("response body")
            .to_bytes();
        Reply {
            code,
            body: String::from_utf8_lossy(&bytes).into_owned(),
            warnings,
        }
    }

    pub async fn get(&self, path: &str) -> Option<Value> {
        let r = self.request("GET", path, "", None).await;
        match r.code {
            200 => Some(r.json()),
            404 => None,
            c => panic!("GET {path}: {c} {}", r.body),
        }
    }

    pub async fn post(&self, path: &str, body: Value) -> Reply {
        self.request(
            "POST",
            path,
            "application/json",
            Some(body.to_string().into_bytes()),
        )
        .await
    }

    pub async fn put(&self, path: &str, body: Value) -> Reply {
        self.request(
            "PUT",
            path,
            "application/json",
            Some(body.to_string().into_bytes()),
        )
        .await
    }

    pub async fn merge_patch(&self, path: &str, body: Value) -> Reply {
        self.request(
            "PATCH",
            path,
            "application/merge-patch+json",
            Some(body.to_string().into_bytes()),
        )
        .await
    }

    pub async fn json_patch(&self, path: &str, ops: Value) -> Reply {
        self.request(
            "PATCH",
            path,
            "application/json-patch+json",
            Some(ops.to_string().into_bytes()),
        )
        .await
    }

    pub async fn delete(&self, path: &str, options: Option<Value>) -> Reply {
        self.request(
            "DELETE",
            path,
            "application/json",
            options.map(|o| o.to_string().into_bytes()),
        )
        .await
    }

    pub fn vm_path(&self, name: &str) -> String {
        format!("{}/{name}", kubevirt_path(&self.ns, "virtualmachines"))
    }

    pub fn vmi_path(&self, name: &str) -> String {
        format!(
            "{}/{name}",
            kubevirt_path(&self.ns, "virtualmachineinstances")
        )
    }

    pub fn rs_path(&self, name: &str) -> String {
        format!(
            "{}/{name}",
            kubevirt_path(&self.ns, "virtualmachineinstancereplicasets")
        )
    }

    /// Creates a kubevirt.io/v1 object of `plural`, panicking unless it is accepted.
    pub async fn create(&self, plural: &str, manifest: Value) -> Value {
        let r = self.post(&kubevirt_path(&self.ns, plural), manifest).await;
        assert!(r.is_success(), "create {plural}: {} {}", r.code, r.body);
        r.json()
    }

    pub async fn create_vm(&self, manifest: Value) -> Value {
        self.create("virtualmachines", manifest).await
    }

    pub async fn create_rs(&self, manifest: Value) -> Value {
        self.create("virtualmachineinstancereplicasets", manifest)
            .await
    }

    pub async fn vm(&self, name: &str) -> Option<Value> {
        self.get(&self.vm_path(name)).await
    }

    pub async fn vmi(&self, name: &str) -> Option<Value> {
        self.get(&self.vmi_path(name)).await
    }

    /// Merge-patches the VM spec or metadata, panicking unless it is accepted.
    pub async fn patch_vm(&self, name: &str, patch: Value) -> Value {
        let r = self.merge_patch(&self.vm_path(name), patch).await;
        assert!(r.is_success(), "patch vm {name}: {} {}", r.code, r.body);
        r.json()
    }

    pub async fn set_run_strategy(&self, name: &str, strategy: &str) -> Value {
        self.patch_vm(name, json!({"spec": {"runStrategy": strategy}}))
            .await
    }

    /// Waits until the VM satisfies `ok`.
    pub async fn wait_vm(&self, name: &str, what: &str, ok: impl Fn(&Value) -> bool) -> Value {
        until(
            TIMEOUT,
            &format!("vm {name}: {what}"),
            async || match self.vm(name).await {
                Some(vm) if ok(&vm) => Ok(vm),
                Some(vm) => Err(serde_json::to_string(&vm["status"]).unwrap_or_default()),
                None => Err("no VM".into()),
            },
        )
        .await
    }

    pub async fn wait_printable(&self, name: &str, status: &str) -> Value {
        self.wait_vm(name, &format!("printableStatus {status}"), |vm| {
            printable(vm) == status
        })
        .await
    }

    /// Waits until the VMI exists and satisfies `ok`.
    pub async fn wait_vmi(&self, name: &str, what: &str, ok: impl Fn(&Value) -> bool) -> Value {
        until(
            TIMEOUT,
            &format!("vmi {name}: {what}"),
            async || match self.vmi(name).await {
                Some(vmi) if ok(&vmi) => Ok(vmi),
                Some(vmi) => Err(format!(
                    "uid {} deleting {} status {}",
                    uid(&vmi),
                    vmi["metadata"].get("deletionTimestamp").is_some(),
                    vmi["status"]
                )),
                None => Err("no VMI".into()),
            },
        )
        .await
    }

    /// Waits for a Running VMI whose UID is not in `not`.
    pub async fn wait_running(&self, name: &str, not: &[&str]) -> Value {
        self.wait_vmi(name, "a new Running VMI", |vmi| {
            phase(vmi) == "Running" && !not.contains(&uid(vmi).as_str())
        })
        .await
    }

    pub async fn wait_vmi_gone(&self, name: &str) {
        until(
            TIMEOUT,
            &format!("vmi {name} to disappear"),
            async || match self.vmi(name).await {
                None => Ok(()),
                Some(v) => Err(format!("phase {}", phase(&v))),
            },
        )
        .await
    }

    pub async fn wait_gone(&self, path: &str) {
        until(
            TIMEOUT,
            &format!("{path} to disappear"),
            async || match self.get(path).await {
                None => Ok(()),
                Some(v) => Err(v["metadata"].to_string()),
            },
        )
        .await
    }

    /// PUT to `subresources.kubevirt.io/v1` of a VM (`virtualmachines`) or VMI.
    pub async fn sub(&self, plural: &str, name: &str, sub: &str, body: Option<Value>) -> Reply {
        let path = format!(
            "/apis/subresources.kubevirt.io/v1/namespaces/{}/{plural}/{name}/{sub}",
            self.ns
        );
        self.request(
            "PUT",
            &path,
            "application/json",
            body.map(|b| b.to_string().into_bytes()),
        )
        .await
    }

    pub async fn vm_sub(&self, name: &str, sub: &str, body: Option<Value>) -> Reply {
        self.sub("virtualmachines", name, sub, body).await
    }

    pub async fn vmi_sub(&self, name: &str, sub: &str, body: Option<Value>) -> Reply {
        self.sub("virtualmachineinstances", name, sub, body).await
    }

    /// Pods of this namespace whose `kubevirt.io/created-by` is `vmi_uid`.
    pub async fn pods_of(&self, vmi_uid: &str) -> Vec<Value> {
        let path = format!(
            "/api/v1/namespaces/{}/pods?labelSelector=kubevirt.io%2Fcreated-by%3D{vmi_uid}",
            self.ns
        );
        let list = self.get(&path).await.expect("pod list");
        list["items"].as_array().cloned().unwrap_or_default()
    }

    /// Events of this namespace about the object `name` of `kind`, oldest first.
    pub async fn events(&self, kind: &str, name: &str) -> Vec<Value> {
        let list = self
            .get(&format!("/api/v1/namespaces/{}/events", self.ns))
            .await
            .expect("event list");
        let mut events: Vec<Value> = list["items"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .filter(|e| e["involvedObject"]["kind"] == kind && e["involvedObject"]["name"] == name)
            .collect();
        events.sort_by_key(|e| s(e, "/metadata/creationTimestamp").to_string());
        events
    }

    /// Waits for an event about `kind`/`name` with `reason`, returning it.
    pub async fn wait_event(&self, kind: &str, name: &str, reason: &str) -> Value {
        until(
            TIMEOUT,
            &format!("event {reason} on {kind}/{name}"),
            async || {
                let events = self.events(kind, name).await;
                events
                    .iter()
                    .find(|e| e["reason"] == reason)
                    .cloned()
                    .ok_or_else(|| {
                        events
                            .iter()
                            .map(|e| format!("{}: {}", s(e, "/reason"), s(e, "/message")))
                            .collect::<Vec<_>>()
                            .join("; ")
                    })
            },
        )
        .await
    }

    /// Creates the VM and waits until its VMI is Running.
    pub async fn running_vm(&self, manifest: Value) -> (Value, Value) {
        let name = s(&manifest, "/metadata/name").to_string();
        self.create_vm(manifest).await;
        let vmi = self.wait_running(&name, &[]).await;
        let vm = self
            .wait_vm(&name, "Running and Ready", |vm| {
                printable(vm) == "Running" && vm["status"]["ready"] == true
            })
            .await;
        (vm, vmi)
    }
}

/// Adds a disk and its volume to a VM manifest's template.
pub fn with_volume(mut vm: Value, volume: Value) -> Value {
    let name = volume["name"].clone();
    vm["spec"]["template"]["spec"]["domain"]["devices"]["disks"]
        .as_array_mut()
        .unwrap()
        .push(json!({"name": name, "disk": {}}));
    vm["spec"]["template"]["spec"]["volumes"]
        .as_array_mut()
        .unwrap()
        .push(volume);
    vm
}

pub fn pvcs(sc: &Scenario) -> String {
    format!("/api/v1/namespaces/{}/persistentvolumeclaims", sc.ns)
}

pub fn dvs(sc: &Scenario) -> String {
    format!(
        "/apis/cdi.kubevirt.io/v1beta1/namespaces/{}/datavolumes",
        sc.ns
    )
}

pub async fn create_pvc(sc: &Scenario, name: &str) {
    let r = sc
        .post(
            &pvcs(sc),
            json!({
                "apiVersion": "v1", "kind": "PersistentVolumeClaim",
                "metadata": {"name": name},
                "spec": {"accessModes": ["ReadWriteOnce"],
                         "resources": {"requests": {"storage": "1Gi"}}},
            }),
        )
        .await;
    assert!(r.is_success(), "{}", r.body);
}

/// A DataVolume with `status` as CDI would report it.
pub async fn create_dv(sc: &Scenario, name: &str, status: Value) {
    let r = sc
        .post(
            &dvs(sc),
            json!({
                "apiVersion": "cdi.kubevirt.io/v1beta1", "kind": "DataVolume",
                "metadata": {"name": name},
                "spec": data_volume_spec(),
            }),
        )
        .await;
    assert!(r.is_success(), "{}", r.body);
    set_dv_status(sc, name, status).await;
}

/// Writes a DataVolume's status as CDI would.
pub async fn set_dv_status(sc: &Scenario, name: &str, status: Value) {
    let r = sc
        .merge_patch(
            &format!("{}/{name}/status", dvs(sc)),
            json!({ "status": status }),
        )
        .await;
    assert!(r.is_success(), "{}", r.body);
}

/// Binds a claim, as a storage provisioner would.
pub async fn bind_pvc(sc: &Scenario, name: &str) {
    let r = sc
        .merge_patch(
            &format!("{}/{name}/status", pvcs(sc)),
            json!({"status": {"phase": "Bound"}}),
        )
        .await;
    assert!(r.is_success(), "{}", r.body);
}

fn data_volume_spec() -> Value {
    json!({
        "source": {"http": {"url": "http://example.com/disk.img"}},
        "storage": {"resources": {"requests": {"storage": "1Gi"}}},
    })
}

/// Adds a DataVolume template `dv` and a disk using it to a VM manifest.
pub fn with_data_volume_template(mut vm: Value, dv: &str) -> Value {
    vm["spec"]["dataVolumeTemplates"] =
        json!([{"metadata": {"name": dv}, "spec": data_volume_spec()}]);
    with_volume(vm, json!({"name": "data", "dataVolume": {"name": dv}}))
}
