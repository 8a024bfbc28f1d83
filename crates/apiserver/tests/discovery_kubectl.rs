//! The discovery and OpenAPI documents, served alone by a tiny router, as the real `kubectl`
//! reads them: `api-resources`, `api-versions`, `explain`, and the server-side field
//! validation check of `create`. Skipped (with a notice) when `kubectl` is not installed; the
//! binary is taken from `$KUBECTL`, else from `PATH`.

use std::net::SocketAddr;
use std::process::Command;
use std::sync::{Arc, Mutex};

use anyhow::{Context, Result, bail};
use apiserver::registry::{PluginGroup, PluginResource};
use apiserver::{Registry, ResourceDef, discovery, openapi};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};

fn widget_crd() -> Value {
    json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.example.com"},
        "spec": {
            "group": "example.com",
            "scope": "Namespaced",
            "names": {"kind": "Widget", "plural": "widgets", "singular": "widget",
                      "shortNames": ["wd", "wdg"], "categories": ["all"]},
            "versions": [{
                "name": "v1", "served": true, "storage": true,
                "subresources": {"status": {}},
                "additionalPrinterColumns": [
                    {"name": "Size", "type": "integer", "jsonPath": ".spec.size"},
                    {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}],
                "schema": {"openAPIV3Schema": {
                    "type": "object",
                    "description": "A Widget is a thing made in the workshop.",
                    "properties": {
                        "metadata": {"type": "object"},
                        "spec": {
                            "type": "object",
                            "description": "WidgetSpec is the desired shape of the widget.",
                            "properties": {
                                "size": {"type": "integer",
                                         "description": "How many centimetres across the widget is."},
                                "colour": {"type": "string", "enum": ["red", "green"],
                                           "description": "The paint of the widget."}
                            }
                        },
                        "status": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}
                    }
                }}
            }]
        }
    })
}

fn registry() -> Result<Registry> {
    let mut reg = Registry::with_builtins();
    reg.register(ResourceDef::from_crd(&widget_crd())?)?;
    reg.register_plugin_group(PluginGroup {
        group: "subresources.example.com".into(),
        versions: vec!["v1".into()],
        resources: vec![PluginResource {
            name: "widgets/polish".into(),
            namespaced: true,
            kind: "Status".into(),
            verbs: vec!["update".into()],
        }],
    });
    Ok(reg)
}

#[derive(Clone)]
struct Served {
    reg: Arc<Registry>,
    /// `METHOD path?query` of every request, in order.
    log: Arc<Mutex<Vec<String>>>,
    /// Whether `/openapi/v3` is served (a server too old for it answers 404).
    v3: bool,
}

fn json_body(body: &Value, content_type: &str) -> Response {
    let bytes = serde_json::to_vec(body).unwrap_or_default();
    ([(header::CONTENT_TYPE, content_type.to_string())], bytes).into_response()
}

fn found(body: Option<Value>) -> Response {
    match body {
        Some(b) => json_body(&b, "application/json"),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

fn wants_aggregated(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"))
}

fn discovery_root(s: &Served, headers: &HeaderMap, core: bool) -> Response {
    if wants_aggregated(headers) {
        json_body(
            &discovery::aggregated(&s.reg, core),
            discovery::AGGREGATED_CONTENT_TYPE,
        )
    } else if core {
        json_body(&discovery::api_versions(), "application/json")
    } else {
        json_body(&discovery::api_group_list(&s.reg), "application/json")
    }
}

fn router(served: Served) -> Router {
    Router::new()
        .route(
            "/version",
            get(|| async {
                let info = json!({"major": "1", "minor": "33", "gitVersion": "v1.33.0",
                    "gitCommit": "", "gitTreeState": "clean", "buildDate": "2025-01-01T00:00:00Z",
                    "goVersion": "go1.24", "compiler": "gc", "platform": "linux/amd64"});
                json_body(&info, "application/json")
            }),
        )
        .route("/api", get(|State(s): State<Served>, h: HeaderMap| async move { discovery_root(&s, &h, true) }))
        .route("/apis", get(|State(s): State<Served>, h: HeaderMap| async move { discovery_root(&s, &h, false) }))
        .route(
            "/api/v1",
            get(|State(s): State<Served>| async move { found(discovery::api_resource_list(&s.reg, "", "v1")) }),
        )
        .route(
            "/apis/{group}",
            get(|State(s): State<Served>, Path(g): Path<String>| async move {
                found(discovery::api_group(&s.reg, &g))
            }),
        )
        .route(
            "/apis/{group}/{version}",
            get(|State(s): State<Served>, Path((g, v)): Path<(String, String)>| async move {
                found(discovery::api_resource_list(&s.reg, &g, &v))
            }),
        )
        .route(
            "/apis/{group}/{version}/namespaces/{namespace}/{plural}",
            axum::routing::post(|body: Bytes| async move {
                // Enough of a create for kubectl to report success: the object echoed back.
                let mut obj: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                obj["metadata"]["uid"] = json!("00000000-0000-0000-0000-000000000001");
                (StatusCode::CREATED, json_body(&obj, "application/json"))
            }),
        )
        .route(
            "/openapi/v2",
            get(|State(s): State<Served>, h: HeaderMap| async move {
                let accept = h.get(header::ACCEPT).and_then(|v| v.to_str().ok()).unwrap_or("");
                if accept.contains("protobuf") {
                    let ct = openapi::V2_PROTOBUF_CONTENT_TYPE;
                    ([(header::CONTENT_TYPE, ct)], openapi::v2_protobuf(&s.reg)).into_response()
                } else {
                    json_body(&openapi::v2_json(&s.reg), "application/json")
                }
            }),
        )
        .route(
            "/openapi/v3",
            get(|State(s): State<Served>| async move {
                if s.v3 {
                    json_body(&openapi::v3_index(&s.reg), "application/json")
                } else {
                    StatusCode::NOT_FOUND.into_response()
                }
            }),
        )
        .route(
            "/openapi/v3/api/v1",
            get(|State(s): State<Served>| async move { found(openapi::v3_group_version(&s.reg, "", "v1")) }),
        )
        .route(
            "/openapi/v3/apis/{group}/{version}",
            get(|State(s): State<Served>, Path((g, v)): Path<(String, String)>| async move {
                found(openapi::v3_group_version(&s.reg, &g, &v))
            }),
        )
        .layer(axum::middleware::from_fn_with_state(
            served.clone(),
            |State(s): State<Served>, req: Request, next: axum::middleware::Next| async move {
                let line = format!("{} {}", req.method(), req.uri());
                s.log.lock().unwrap_or_else(|e| e.into_inner()).push(line);
                next.run(req).await
            },
        ))
        .with_state(served)
}

/// A running document server and a scratch home for kubectl's caches.
struct Fixture {
    addr: SocketAddr,
    log: Arc<Mutex<Vec<String>>>,
    home: tempfile::TempDir,
    runtime: tokio::runtime::Runtime,
}

impl Fixture {
    fn start() -> Result<Fixture> {
        Fixture::serving(true)
    }

    fn serving(v3: bool) -> Result<Fixture> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()?;
        let served = Served {
            reg: Arc::new(registry()?),
            log: Arc::default(),
            v3,
        };
        let log = served.log.clone();
        let listener = runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))?;
        let addr = listener.local_addr()?;
        runtime.spawn(async move { axum::serve(listener, router(served)).await });
        Ok(Fixture {
            addr,
            log,
            home: tempfile::tempdir()?,
            runtime,
        })
    }

    /// Runs kubectl against the server; `None` if kubectl is not installed.
    fn kubectl(&self, args: &[&str]) -> Result<Option<String>> {
        let bin = std::env::var("KUBECTL").unwrap_or_else(|_| "kubectl".into());
        let home = self.home.path();
        let out = Command::new(bin)
            .args(["--server", &format!("http://{}", self.addr)])
            .args(["--cache-dir", &home.join("cache").to_string_lossy()])
            .args(args)
            .env("HOME", home)
            .env("KUBECONFIG", home.join("no-kubeconfig"))
            .output();
        let out = match out {
            Ok(o) => o,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                eprintln!("kubectl is not installed: skipping");
                return Ok(None);
            }
            Err(e) => return Err(e).context("running kubectl"),
        };
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&out.stderr);
        if !out.status.success() || !stderr.trim().is_empty() {
            bail!(
                "kubectl {args:?} failed ({}):\n{stdout}\n{stderr}",
                out.status
            );
        }
        Ok(Some(stdout))
    }

    fn requests(&self) -> Vec<String> {
        self.log.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

fn rows(output: &str) -> Vec<Vec<&str>> {
    output
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect()
}

#[test]
fn api_resources_lists_custom_and_builtin_kinds_from_aggregated_discovery() -> Result<()> {
    let f = Fixture::start()?;
    let Some(out) = f.kubectl(&["api-resources"])? else {
        return Ok(());
    };
    let rows = rows(&out);
    assert_eq!(
        rows[0],
        vec!["NAME", "SHORTNAMES", "APIVERSION", "NAMESPACED", "KIND"]
    );
    for want in [
        vec!["widgets", "wd,wdg", "example.com/v1", "true", "Widget"],
        vec!["pods", "po", "v1", "true", "Pod"],
        vec!["namespaces", "ns", "v1", "false", "Namespace"],
        vec!["nodes", "no", "v1", "false", "Node"],
        vec!["secrets", "v1", "true", "Secret"],
        vec!["events", "ev", "v1", "true", "Event"],
        vec!["events", "ev", "events.k8s.io/v1", "true", "Event"],
        vec!["leases", "coordination.k8s.io/v1", "true", "Lease"],
        vec![
            "controllerrevisions",
            "apps/v1",
            "true",
            "ControllerRevision",
        ],
    ] {
        assert!(rows.contains(&want), "no row {want:?} in\n{out}");
    }
    assert!(
        !out.contains("polish"),
        "subresources are not resources:\n{out}"
    );
    // Aggregated discovery answered everything: no per-group/version lists were needed.
    let reqs = f.requests();
    assert!(
        reqs.iter()
            .any(|r| r.split('?').next() == Some("GET /apis")),
        "{reqs:?}"
    );
    assert!(
        !reqs
            .iter()
            .any(|r| r.starts_with("GET /apis/") || r.starts_with("GET /api/v1")),
        "{reqs:?}"
    );
    Ok(())
}

#[test]
fn api_resources_wide_shows_verbs_and_categories() -> Result<()> {
    let f = Fixture::start()?;
    let Some(out) = f.kubectl(&["api-resources", "-o", "wide", "--api-group", "example.com"])?
    else {
        return Ok(());
    };
    let line = out
        .lines()
        .find(|l| l.starts_with("widgets"))
        .context("no widgets row")?;
    assert!(
        line.contains("create,delete,deletecollection,get,list,patch,update,watch"),
        "{line}"
    );
    assert!(line.trim_end().ends_with("all"), "{line}");
    Ok(())
}

#[test]
fn api_versions_lists_every_group_version() -> Result<()> {
    let f = Fixture::start()?;
    let Some(out) = f.kubectl(&["api-versions"])? else {
        return Ok(());
    };
    let versions: Vec<&str> = out.lines().collect();
    for want in [
        "v1",
        "apps/v1",
        "coordination.k8s.io/v1",
        "events.k8s.io/v1",
        "example.com/v1",
        "subresources.example.com/v1",
    ] {
        assert!(versions.contains(&want), "{want} missing from {versions:?}");
    }
    Ok(())
}

#[test]
fn explain_prints_the_field_docs_of_a_custom_resource() -> Result<()> {
    let f = Fixture::start()?;
    let Some(out) = f.kubectl(&["explain", "widget.spec"])? else {
        return Ok(());
    };
    assert!(out.contains("GROUP:      example.com"), "{out}");
    assert!(out.contains("KIND:       Widget"), "{out}");
    assert!(out.contains("VERSION:    v1"), "{out}");
    assert!(out.contains("FIELD: spec <Object>"), "{out}");
    assert!(
        out.contains("WidgetSpec is the desired shape of the widget."),
        "{out}"
    );
    assert!(out.contains("size\t<integer>"), "{out}");
    assert!(
        out.contains("How many centimetres across the widget is."),
        "{out}"
    );
    assert!(
        out.contains("enum: green, red") || out.contains("enum: red, green"),
        "{out}"
    );
    let Some(top) = f.kubectl(&["explain", "wd"])? else {
        return Ok(());
    };
    assert!(top.contains("metadata\t<ObjectMeta>"), "{top}");
    assert!(
        top.contains("A Widget is a thing made in the workshop."),
        "{top}"
    );
    Ok(())
}

#[test]
fn explain_follows_object_metadata_and_builtin_schemas() -> Result<()> {
    let f = Fixture::start()?;
    let Some(meta) = f.kubectl(&["explain", "widgets.metadata.labels"])? else {
        return Ok(());
    };
    assert!(meta.contains("FIELD: labels <map[string]string>"), "{meta}");
    let Some(pods) = f.kubectl(&["explain", "pods.spec.containers.image"])? else {
        return Ok(());
    };
    assert!(pods.contains("KIND:       Pod"), "{pods}");
    assert!(pods.contains("FIELD: image <string>"), "{pods}");
    let Some(lease) = f.kubectl(&["explain", "leases.spec"])? else {
        return Ok(());
    };
    assert!(lease.contains("holderIdentity\t<string>"), "{lease}");
    Ok(())
}

fn create_widget(f: &Fixture) -> Result<Option<String>> {
    let manifest = f.home.path().join("widget.json");
    let widget = json!({"apiVersion": "example.com/v1", "kind": "Widget",
        "metadata": {"name": "w1", "namespace": "default"}, "spec": {"size": 3, "unknown": true}});
    std::fs::write(&manifest, serde_json::to_vec(&widget)?)?;
    f.kubectl(&["create", "-f", &manifest.to_string_lossy()])
}

#[test]
fn create_relies_on_server_side_field_validation() -> Result<()> {
    let f = Fixture::start()?;
    let Some(out) = create_widget(&f)? else {
        return Ok(());
    };
    assert!(out.contains("widget.example.com/w1 created"), "{out}");
    let reqs = f.requests();
    let post = reqs
        .iter()
        .find(|r| r.starts_with("POST "))
        .context("no create request")?;
    assert!(
        post.contains("/apis/example.com/v1/namespaces/default/widgets"),
        "{post}"
    );
    assert!(post.contains("fieldValidation=Strict"), "{post}");
    // The v3 document advertised fieldValidation, so kubectl never fell back to v2 to validate.
    assert!(
        !reqs.iter().any(|r| r.starts_with("GET /openapi/v2")),
        "{reqs:?}"
    );
    Ok(())
}

#[test]
fn without_openapi_v3_create_reads_the_protobuf_v2_document() -> Result<()> {
    let f = Fixture::serving(false)?;
    // kubectl fails with "failed to download openapi" if it cannot decode the v2 document;
    // the document has no definitions, so the unknown field is left to the server.
    let Some(out) = create_widget(&f)? else {
        return Ok(());
    };
    assert!(out.contains("widget.example.com/w1 created"), "{out}");
    let reqs = f.requests();
    assert!(
        reqs.iter().any(|r| r.starts_with("GET /openapi/v2")),
        "{reqs:?}"
    );
    assert!(reqs.iter().any(|r| r.starts_with("POST ")), "{reqs:?}");
    Ok(())
}

/// kube-rs reads both discovery forms alike.
async fn kube_discovery(addr: SocketAddr, aggregated: bool) -> Result<kube::Discovery> {
    // kube's TLS stack needs a process-wide rustls provider even for plain HTTP.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let config = kube::Config::new(format!("http://{addr}").parse()?);
    let client = kube::Client::try_from(config)?;
    let discovery = kube::Discovery::new(client);
    Ok(if aggregated {
        discovery.run_aggregated().await?
    } else {
        discovery.run().await?
    })
}

#[test]
fn kube_rs_discovers_the_same_resources_from_either_form() -> Result<()> {
    use kube::core::GroupVersionKind;
    use kube::discovery::Scope;
    let f = Fixture::start()?;
    for aggregated in [true, false] {
        let d = f.runtime.block_on(kube_discovery(f.addr, aggregated))?;
        let (widget, caps) = d
            .resolve_gvk(&GroupVersionKind::gvk("example.com", "v1", "Widget"))
            .context("Widget not discovered")?;
        assert_eq!(widget.plural, "widgets");
        assert_eq!(caps.scope, Scope::Namespaced);
        assert!(caps.operations.iter().any(|v| v == "watch"));
        assert!(
            caps.subresources
                .iter()
                .any(|(ar, _)| ar.plural.ends_with("status"))
        );
        let (ns, caps) = d
            .resolve_gvk(&GroupVersionKind::gvk("", "v1", "Namespace"))
            .context("Namespace not discovered")?;
        assert_eq!(
            (ns.plural.as_str(), caps.scope),
            ("namespaces", Scope::Cluster)
        );
        let (lease, _) = d
            .resolve_gvk(&GroupVersionKind::gvk("coordination.k8s.io", "v1", "Lease"))
            .context("Lease not discovered")?;
        assert_eq!(lease.api_version, "coordination.k8s.io/v1");
        assert!(d.has_group("subresources.example.com"));
    }
    Ok(())
}
