//! Helpers of the node tests against real QEMU guests: a `kubevirtd` with the QEMU node driver
//! (software emulation, so they run anywhere) and the test guest imported as a container disk,
//! raw JSON access to objects and subresources, the serial console websocket, and clean-up of
//! every launcher and QEMU a server started, pass or fail.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use futures::{SinkExt, StreamExt};
use http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use hyper_util::rt::TokioIo;
use kube::client::Body;
use serde_json::{Value, json};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::handshake::client::generate_key;
use tokio_tungstenite::tungstenite::protocol::Role;
use virt_launcher::state::StateFile;

use crate::common::Kubevirtd;

/// What the test guest prints on its serial console once booted.
pub const BOOT_MARKER: &str = "kubevirt-rs test guest: boot complete";
/// The container disk image the tests import the test guest as.
pub const GUEST_IMAGE: &str = "kubevirt-rs/test-guest:latest";
/// How long a guest may take to boot or stop: software emulation on a loaded machine.
pub const TIMEOUT: Duration = Duration::from_secs(180);

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The test guest directory, built by `scripts/build-test-guest.sh` when missing.
pub fn test_guest() -> PathBuf {
    let qemu = Command::new("qemu-system-x86_64").arg("--version").output();
    assert!(
        qemu.is_ok_and(|o| o.status.success()),
        "qemu-system-x86_64 is not installed: run scripts/setup.sh"
    );
    let dir = match std::env::var_os("KUBEVIRT_RS_TEST_GUEST") {
        Some(dir) => PathBuf::from(dir),
        None => std::env::var_os("XDG_CACHE_HOME")
            .map(PathBuf::from)
            .unwrap_or_else(|| {
                PathBuf::from(std::env::var_os("HOME").expect("HOME")).join(".cache")
            })
            .join("kubevirt-rs/test-guest"),
    };
    let complete = |d: &Path| {
        ["vmlinuz", "initrd.img", "disk.qcow2"]
            .iter()
            .all(|f| d.join(f).is_file())
    };
    if !complete(&dir) {
        let parent = dir.parent().expect("parent");
        std::fs::create_dir_all(parent).expect("cache directory");
        let lock = std::fs::File::create(parent.join(".test-guest.lock")).expect("lock file");
        lock.lock().expect("lock");
        if !complete(&dir) {
            let status = Command::new("bash")
                .arg(repo_root().join("scripts/build-test-guest.sh"))
                .arg(&dir)
                .status()
                .expect("bash runs");
            assert!(status.success(), "scripts/build-test-guest.sh failed");
        }
    }
    dir
}

/// A `kubevirtd` running real guests with TCG, the test guest imported; kills its guests when
/// dropped.
pub struct QemuServer {
    pub k: Kubevirtd,
}

impl QemuServer {
    pub fn start() -> QemuServer {
        let guest = test_guest();
        let k = Kubevirtd::start_with(&["--node-driver=qemu", "--accel=tcg"]);
        let out = Command::new(env!("CARGO_BIN_EXE_kubevirtd"))
            .args(["image", "import", GUEST_IMAGE])
            .arg(guest.join("disk.qcow2"))
            .arg("--data-dir")
            .arg(&k.dir)
            .output()
            .expect("kubevirtd image import runs");
        assert!(
            out.status.success(),
            "kubevirtd image import failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            stdout.contains(GUEST_IMAGE),
            "import names the image: {stdout}"
        );
        QemuServer { k }
    }

    /// The run directory of a VMI.
    pub fn run_dir(&self, ns: &str, name: &str, uid: &str) -> PathBuf {
        self.k.dir.join("node/vmis").join(ns).join(name).join(uid)
    }

    /// The launcher's state file of a VMI.
    pub fn state(&self, vmi: &Value) -> Option<StateFile> {
        let dir = self.run_dir(
            vmi["metadata"]["namespace"].as_str()?,
            vmi["metadata"]["name"].as_str()?,
            vmi["metadata"]["uid"].as_str()?,
        );
        StateFile::read(&dir).ok()
    }

    /// The serial log of a VMI and its launcher's logs, for failure messages.
    pub fn diagnostics(&self, vmi: &Value) -> String {
        let mut out = format!("status: {}\n", vmi["status"]);
        if let (Some(ns), Some(name), Some(uid)) = (
            vmi["metadata"]["namespace"].as_str(),
            vmi["metadata"]["name"].as_str(),
            vmi["metadata"]["uid"].as_str(),
        ) {
            let dir = self.run_dir(ns, name, uid);
            for f in ["launcher.log", "serial.log", "state.json"] {
                let text = std::fs::read_to_string(dir.join(f)).unwrap_or_default();
                out.push_str(&format!("--- {f}\n{text}\n"));
            }
        }
        out
    }

    fn kill_guests(&self) {
        let ours = |pid: u32, marker: &str| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .is_ok_and(|c| String::from_utf8_lossy(&c).contains(marker))
        };
        let data = self.k.dir.to_string_lossy().into_owned();
        for dir in virt_handler::qemu::guest::run_dirs(&self.k.dir.join("node")) {
            if let Ok(file) = StateFile::read(&dir) {
                if let Some(pid) = file.qemu_pid.filter(|p| ours(*p, "qemu-system")) {
                    let _ = virt_launcher::process::kill_pid(pid);
                }
                if ours(file.launcher_pid, &data) {
                    let _ = virt_launcher::process::kill_pid(file.launcher_pid);
                }
            }
        }
    }
}

impl Drop for QemuServer {
    fn drop(&mut self) {
        self.k.kill9();
        self.kill_guests();
    }
}

static SERVER: Mutex<Weak<QemuServer>> = Mutex::new(Weak::new());

/// The server shared by the tests of this binary that run at the same time; it (and its
/// guests) go when the last of them drops its handle.
pub fn shared_server() -> Arc<QemuServer> {
    let mut slot = SERVER.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(s) = slot.upgrade() {
        return s;
    }
    let s = Arc::new(QemuServer::start());
    *slot = Arc::downgrade(&s);
    s
}

/// An answer to a raw request.
#[derive(Debug)]
pub struct Reply {
    pub code: u16,
    pub body: Value,
}

impl Reply {
    pub fn message(&self) -> String {
        self.body["message"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }
}

/// A raw request with a JSON body.
pub async fn raw(client: &kube::Client, method: &str, path: &str, body: Option<Value>) -> Reply {
    let mut req = Request::builder().method(method).uri(path);
    let bytes = match body {
        Some(b) => {
            req = req.header(header::CONTENT_TYPE, "application/json");
            serde_json::to_vec(&b).expect("json")
        }
        None => Vec::new(),
    };
    let response = client
        .send(req.body(Body::from(bytes)).expect("request"))
        .await
        .expect("request sent");
    let code = response.status().as_u16();
    let bytes = response
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    Reply {
        code,
        body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    }
}

/// The object at `path`, when it exists.
pub async fn get(client: &kube::Client, path: &str) -> Option<Value> {
    let r = raw(client, "GET", path, None).await;
    (r.code == 200).then_some(r.body)
}

pub fn vm_path(ns: &str, name: &str) -> String {
    format!("/apis/kubevirt.io/v1/namespaces/{ns}/virtualmachines/{name}")
}

pub fn vmi_path(ns: &str, name: &str) -> String {
    format!("/apis/kubevirt.io/v1/namespaces/{ns}/virtualmachineinstances/{name}")
}

/// A subresource of a VM (`plural` = virtualmachines) or VMI.
pub fn subresource_path(ns: &str, plural: &str, name: &str, sub: &str) -> String {
    format!("/apis/subresources.kubevirt.io/v1/namespaces/{ns}/{plural}/{name}/{sub}")
}

/// The events of the object `name`, as (type, reason, message).
pub async fn events(client: &kube::Client, ns: &str, name: &str) -> Vec<(String, String, String)> {
    let path = format!("/api/v1/namespaces/{ns}/events?fieldSelector=involvedObject.name%3D{name}");
    let list = get(client, &path).await.unwrap_or(Value::Null);
    list["items"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| {
            let s = |k: &str| e[k].as_str().unwrap_or_default().to_string();
            (s("type"), s("reason"), s("message"))
        })
        .collect()
}

/// Polls `f` every 200 ms until it returns `Some`; panics after `timeout` with `what` and the
/// last value `describe` gives.
pub async fn eventually<T, F, Fut>(timeout: Duration, what: &str, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The phase of a VMI object.
pub fn phase(vmi: &Value) -> &str {
    vmi["status"]["phase"].as_str().unwrap_or_default()
}

pub fn uid(obj: &Value) -> String {
    obj["metadata"]["uid"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// A condition of an object's status, when present.
pub fn condition<'a>(obj: &'a Value, kind: &str) -> Option<&'a Value> {
    obj["status"]["conditions"]
        .as_array()?
        .iter()
        .find(|c| c["type"] == kind)
}

/// A VM manifest booting the test guest: 1 vCPU, 128Mi, the container disk, no network.
pub fn vm_manifest(ns: &str, name: &str, run_strategy: &str, grace: u32) -> Value {
    json!({
        "apiVersion": "kubevirt.io/v1",
        "kind": "VirtualMachine",
        "metadata": {"name": name, "namespace": ns},
        "spec": {
            "runStrategy": run_strategy,
            "template": {
                "metadata": {"labels": {"kubevirt.io/vm": name}},
                "spec": {
                    "terminationGracePeriodSeconds": grace,
                    "domain": {
                        "cpu": {"cores": 1},
                        "memory": {"guest": "128Mi"},
                        "resources": {"requests": {"memory": "128Mi"}},
                        // The test guest's shell waits for DHCP on a network interface.
                        "devices": {
                            "autoattachPodInterface": false,
                            "disks": [{"name": "root", "disk": {"bus": "virtio"}}],
                        },
                    },
                    "volumes": [{"name": "root", "containerDisk": {"image": GUEST_IMAGE}}],
                },
            },
        },
    })
}

/// The serial console of a VMI through virt-api's websocket.
pub struct Console {
    ws: WebSocketStream<TokioIo<hyper::upgrade::Upgraded>>,
    /// Everything received so far.
    pub seen: String,
}

impl Console {
    /// Connects; retries refusals (the guest may still be starting) until `TIMEOUT`.
    pub async fn connect(client: &kube::Client, ns: &str, name: &str) -> Console {
        let path = subresource_path(ns, "virtualmachineinstances", name, "console");
        let deadline = Instant::now() + TIMEOUT;
        loop {
            let request = Request::get(&path)
                .header(header::CONNECTION, "Upgrade")
                .header(header::UPGRADE, "websocket")
                .header(header::SEC_WEBSOCKET_VERSION, "13")
                .header(header::SEC_WEBSOCKET_KEY, generate_key())
                .header(header::SEC_WEBSOCKET_PROTOCOL, "plain.kubevirt.io")
                .body(Body::empty())
                .expect("request");
            let response = client.send(request).await.expect("console request sent");
            let status = response.status();
            if status == StatusCode::SWITCHING_PROTOCOLS {
                let protocol = response
                    .headers()
                    .get(header::SEC_WEBSOCKET_PROTOCOL)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_string();
                assert_eq!(protocol, "plain.kubevirt.io", "negotiated subprotocol");
                let upgraded = hyper::upgrade::on(response).await.expect("upgrade");
                let ws =
                    WebSocketStream::from_raw_socket(TokioIo::new(upgraded), Role::Client, None)
                        .await;
                return Console {
                    ws,
                    seen: String::new(),
                };
            }
            let body = response
                .into_body()
                .collect()
                .await
                .map(|b| b.to_bytes())
                .unwrap_or_default();
            assert!(
                Instant::now() < deadline,
                "console of {ns}/{name} refused: {status} {}",
                String::from_utf8_lossy(&body)
            );
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }

    pub async fn send(&mut self, text: &str) {
        self.ws
            .send(Message::Binary(text.as_bytes().to_vec().into()))
            .await
            .expect("console write");
    }

    /// Reads until the output received so far contains `needle` (true), the stream ends or
    /// `timeout` passes (false).
    pub async fn read_until(&mut self, needle: &str, timeout: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        while !self.seen.contains(needle) {
            match tokio::time::timeout_at(deadline, self.ws.next()).await {
                Ok(Some(Ok(Message::Binary(b)))) => {
                    self.seen.push_str(&String::from_utf8_lossy(&b))
                }
                Ok(Some(Ok(Message::Text(t)))) => self.seen.push_str(t.as_str()),
                Ok(Some(Ok(_))) => {}
                Ok(Some(Err(_)) | None) | Err(_) => return false,
            }
        }
        true
    }

    /// True when the server ends the stream within `timeout`.
    pub async fn closed_within(&mut self, timeout: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            match tokio::time::timeout_at(deadline, self.ws.next()).await {
                Ok(Some(Ok(Message::Close(_))) | Some(Err(_)) | None) => return true,
                Ok(Some(Ok(_))) => {}
                Err(_) => return false,
            }
        }
    }

    /// Types `command` until `expect` shows in the output (the shell may still be starting,
    /// or a line may be lost while it does). Returns false after `timeout`.
    pub async fn round_trip(&mut self, command: &str, expect: &str, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        self.seen.clear();
        while Instant::now() < deadline {
            self.send(&format!("{command}\n")).await;
            if self.read_until(expect, Duration::from_secs(5)).await {
                return true;
            }
        }
        false
    }

    /// Waits until the guest's shell answers.
    pub async fn wait_shell(&mut self, timeout: Duration) -> bool {
        self.round_trip("echo shell-$((20+1))", "shell-21", timeout)
            .await
    }
}

/// Applies a manifest with the real kubectl.
pub fn kubectl_apply(k: &Kubevirtd, manifest: &Value) {
    let out = k.kubectl_stdin(&["apply", "-f", "-"], Some(&manifest.to_string()));
    assert!(
        out.status.success(),
        "kubectl apply failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Sends SIGKILL to `pid`.
pub fn kill9(pid: u32) {
    let status = Command::new("kill")
        .args(["-9", &pid.to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success(), "kill -9 {pid}");
}
