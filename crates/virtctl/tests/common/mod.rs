//! Test support: a small API server that records what virtctl sends and answers from a table,
//! with websocket endpoints that echo; and helpers to run the virtctl binary against it.

#![allow(dead_code)]

pub mod guest;
pub mod kubevirtd;

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::FromRequestParts;
use axum::extract::ws::{Message, WebSocketUpgrade};
use axum::http::{Request, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// One request the server received.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    /// Path and query.
    pub uri: String,
    pub body: String,
}

impl Recorded {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }
}

/// What the server answers to one request.
pub enum Reply {
    Json(u16, Value),
    Bytes(u16, &'static str, Vec<u8>),
    /// Upgrade to a websocket (subprotocol `plain.kubevirt.io`) that echoes binary messages
    /// after sending `greeting`.
    Echo {
        greeting: Vec<u8>,
    },
}

/// A `Status` answer.
pub fn status(code: u16, reason: &str, message: &str) -> Reply {
    Reply::Json(
        code,
        json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
               "message": message, "reason": reason, "code": code}),
    )
}

type Answer = dyn Fn(&Recorded, usize) -> Option<Reply> + Send + Sync;

/// The recording server and a kubeconfig naming it.
pub struct MockApi {
    pub requests: Arc<Mutex<Vec<Recorded>>>,
    pub kubeconfig: PathBuf,
    pub port: u16,
    dir: tempfile::TempDir,
    runtime: tokio::runtime::Runtime,
}

/// The server's answer when the table has none: 202 for subresource PUTs, KubeVirt's version
/// (v1.9) for `version`, 404 otherwise.
fn default_reply(r: &Recorded) -> Reply {
    if r.method == "PUT" && r.uri.starts_with("/apis/subresources.kubevirt.io/") {
        return Reply::Bytes(202, "application/json", Vec::new());
    }
    if r.uri == "/apis/subresources.kubevirt.io/v1/version" {
        return Reply::Json(
            200,
            json!({"gitVersion": "v1.9.1", "gitCommit": "abc", "gitTreeState": "clean",
            "buildDate": "2026-01-01T00:00:00Z", "goVersion": "go1.24", "compiler": "gc", "platform": "linux/amd64"}),
        );
    }
    status(
        404,
        "NotFound",
        "the server could not find the requested resource",
    )
}

async fn respond(reply: Reply, parts: &mut axum::http::request::Parts) -> Response {
    match reply {
        Reply::Json(code, v) => (
            StatusCode::from_u16(code).expect("code"),
            [("content-type", "application/json")],
            v.to_string(),
        )
            .into_response(),
        Reply::Bytes(code, ct, b) => (
            StatusCode::from_u16(code).expect("code"),
            [("content-type", ct)],
            b,
        )
            .into_response(),
        Reply::Echo { greeting } => match WebSocketUpgrade::from_request_parts(parts, &()).await {
            Err(e) => e.into_response(),
            Ok(ws) => {
                ws.protocols(["plain.kubevirt.io"])
                    .on_upgrade(move |mut socket| async move {
                        if !greeting.is_empty()
                            && socket.send(Message::Binary(greeting.into())).await.is_err()
                        {
                            return;
                        }
                        while let Some(Ok(msg)) = socket.recv().await {
                            match msg {
                                Message::Binary(b)
                                    if socket.send(Message::Binary(b.clone())).await.is_err() =>
                                {
                                    return;
                                }
                                Message::Close(_) => return,
                                _ => {}
                            }
                        }
                    })
            }
        },
    }
}

impl MockApi {
    /// Starts a server answering with `answer(request, index among requests)`, falling back to
    /// [`default_reply`].
    pub fn start(
        answer: impl Fn(&Recorded, usize) -> Option<Reply> + Send + Sync + 'static,
    ) -> MockApi {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let requests: Arc<Mutex<Vec<Recorded>>> = Arc::default();
        let answer: Arc<Answer> = Arc::new(answer);
        let recorded = requests.clone();
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let app = axum::Router::new().fallback(move |req: Request<Body>| {
            let recorded = recorded.clone();
            let answer = answer.clone();
            async move {
                let (mut parts, body) = req.into_parts();
                let bytes = axum::body::to_bytes(body, 1 << 20)
                    .await
                    .unwrap_or_default();
                let r = Recorded {
                    method: parts.method.to_string(),
                    uri: parts
                        .uri
                        .path_and_query()
                        .map(|p| p.to_string())
                        .unwrap_or_default(),
                    body: String::from_utf8_lossy(&bytes).into_owned(),
                };
                let index = {
                    let mut all = recorded.lock().expect("lock");
                    all.push(r.clone());
                    all.len() - 1
                };
                let reply = answer(&r, index).unwrap_or_else(|| default_reply(&r));
                respond(reply, &mut parts).await
            }
        });
        runtime.spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        let dir = tempfile::tempdir().expect("tempdir");
        let kubeconfig = dir.path().join("kubeconfig");
        std::fs::write(
            &kubeconfig,
            format!(
                "apiVersion: v1
kind: Config
clusters:
- name: mock
  cluster:
    server: http://127.0.0.1:{port}
users:
- name: tester
  user:
    token: secret-token
contexts:
- name: mock
  context:
    cluster: mock
    user: tester
current-context: mock
"
            ),
        )
        .expect("kubeconfig");
        MockApi {
            requests,
            kubeconfig,
            port,
            dir,
            runtime,
        }
    }

    /// The requests received so far, except version checks.
    pub fn requests(&self) -> Vec<Recorded> {
        self.requests
            .lock()
            .expect("lock")
            .iter()
            .filter(|r| !r.uri.ends_with("/version"))
            .cloned()
            .collect()
    }

    /// A virtctl command using this server's kubeconfig.
    pub fn command(&self, args: &[&str]) -> Command {
        virtctl_command(&self.kubeconfig, args)
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().expect("virtctl runs")
    }

    pub fn dir(&self) -> &std::path::Path {
        self.dir.path()
    }
}

/// A virtctl command with a clean environment around `kubeconfig`.
pub fn virtctl_command(kubeconfig: &std::path::Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_virtctl"));
    cmd.arg("--kubeconfig")
        .arg(kubeconfig)
        .args(args)
        .env_remove("KUBECONFIG")
        .env_remove("KUBERNETES_SERVICE_HOST")
        .stdin(Stdio::null());
    cmd
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Asserts success and returns standard output.
pub fn ok(o: &Output) -> String {
    assert!(
        o.status.success(),
        "virtctl failed ({:?}):\nstdout: {}\nstderr: {}",
        o.status,
        stdout(o),
        stderr(o)
    );
    stdout(o)
}

/// Asserts exit code 1 and returns standard error.
pub fn fails(o: &Output) -> String {
    assert_eq!(
        o.status.code(),
        Some(1),
        "virtctl should fail:\nstdout: {}\nstderr: {}",
        stdout(o),
        stderr(o)
    );
    stderr(o)
}

/// Reads from `reader` on a thread until `want` appears or `timeout` passes; returns all read.
pub fn read_until(
    reader: impl Read + Send + 'static,
    want: &'static str,
    timeout: Duration,
) -> (String, std::thread::JoinHandle<()>) {
    let (tx, rx) = std::sync::mpsc::channel::<Vec<u8>>();
    let handle = std::thread::spawn(move || {
        let mut reader = reader;
        let mut buf = [0u8; 4096];
        while let Ok(n) = reader.read(&mut buf) {
            if n == 0 || tx.send(buf[..n].to_vec()).is_err() {
                return;
            }
        }
    });
    let deadline = Instant::now() + timeout;
    let mut seen = Vec::new();
    while Instant::now() < deadline {
        if let Ok(chunk) = rx.recv_timeout(Duration::from_millis(50)) {
            seen.extend(chunk);
            if String::from_utf8_lossy(&seen).contains(want) {
                break;
            }
        }
    }
    (String::from_utf8_lossy(&seen).into_owned(), handle)
}

/// Everything a reader produces, collected on a thread.
pub struct Collector {
    seen: Arc<Mutex<Vec<u8>>>,
}

impl Collector {
    pub fn new(reader: impl Read + Send + 'static) -> Collector {
        let seen: Arc<Mutex<Vec<u8>>> = Arc::default();
        let sink = seen.clone();
        std::thread::spawn(move || {
            let mut reader = reader;
            let mut buf = [0u8; 4096];
            while let Ok(n) = reader.read(&mut buf) {
                if n == 0 {
                    return;
                }
                sink.lock().expect("lock").extend_from_slice(&buf[..n]);
            }
        });
        Collector { seen }
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.seen.lock().expect("lock")).into_owned()
    }

    /// Waits until `want` has been read, at most `timeout`.
    pub fn wait_for(&self, want: &str, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if self.text().contains(want) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        false
    }
}

/// Waits for `child` to exit within `timeout`, killing it otherwise.
pub fn wait_exit(child: &mut Child, timeout: Duration) -> Option<std::process::ExitStatus> {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if let Ok(Some(status)) = child.try_wait() {
            return Some(status);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    None
}

/// Writes `bytes` to the child's standard input.
pub fn send(child: &mut Child, bytes: &[u8]) {
    let stdin = child.stdin.as_mut().expect("piped stdin");
    stdin.write_all(bytes).expect("write");
    stdin.flush().expect("flush");
}
