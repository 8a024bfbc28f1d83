//! HTTP front end: parses each request into a typed operation, authenticates it, and renders
//! the result as JSON, YAML or a Table. All status-code decisions live in [`ApiError`].

use std::convert::Infallible;
use std::sync::Arc;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, Request, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use serde_json::{Value, json};

use super::auth::Authenticator;
use super::options::{
    DeleteOptions, Format, ListOptions, PatchType, Query, WriteOptions, negotiate, parse_query,
};
use super::watch::WatchEvent;
use super::write::{Sub, parse_body};
use super::{Api, Outcome, Scope, table};
use crate::error::ApiError;
use crate::plugin::UserInfo;
use crate::{discovery, openapi};

/// Largest request body accepted (the real server's limit is 3 MiB).
const MAX_BODY: usize = 3 * 1024 * 1024;

/// Kubernetes version reported at `/version`.
pub const KUBERNETES_VERSION: (&str, &str) = ("1", "33");

#[derive(Clone)]
struct HttpState {
    api: Api,
    auth: Arc<Authenticator>,
}

/// The router serving the whole API.
pub fn router(api: Api, auth: Arc<Authenticator>) -> Router {
    Router::new()
        .fallback(dispatch)
        .with_state(HttpState { api, auth })
}

fn json_response(code: u16, body: &Value, warnings: &[String]) -> Response {
    let mut resp = (
        StatusCode::from_u16(code).unwrap_or(StatusCode::OK),
        [(header::CONTENT_TYPE, "application/json")],
        serde_json::to_vec(body).unwrap_or_default(),
    )
        .into_response();
    add_warnings(resp.headers_mut(), warnings);
    resp
}

fn add_warnings(headers: &mut HeaderMap, warnings: &[String]) {
    for w in warnings {
        let text = format!("299 - \"{}\"", w.replace('\\', "\\\\").replace('"', "\\\""));
        if let Ok(v) = HeaderValue::from_str(&text) {
            headers.append(header::WARNING, v);
        }
    }
}

fn render(
    format: Format,
    scope: Option<&Scope>,
    code: u16,
    body: Value,
    warnings: &[String],
) -> Response {
    match format {
        Format::Yaml => {
            let text = serde_saphyr::to_string(&body).unwrap_or_default();
            let mut resp = (
                StatusCode::from_u16(code).unwrap_or(StatusCode::OK),
                [(header::CONTENT_TYPE, "application/yaml")],
                text,
            )
                .into_response();
            add_warnings(resp.headers_mut(), warnings);
            resp
        }
        Format::Table(include)
            if scope.is_some() && body.get("kind").and_then(Value::as_str) != Some("Status") =>
        {
            let scope = scope.expect("checked");
            let (items, list_meta) = match body.get("items").and_then(Value::as_array) {
                Some(items) => (
                    items.clone(),
                    body.get("metadata").cloned().unwrap_or(json!({})),
                ),
                None => {
                    let rv = body
                        .pointer("/metadata/resourceVersion")
                        .cloned()
                        .unwrap_or(json!(""));
                    (vec![body.clone()], json!({"resourceVersion": rv}))
                }
            };
            let t = table::table(&scope.def, &scope.version, &items, include, list_meta);
            json_response(code, &t, warnings)
        }
        Format::Metadata if scope.is_some() => {
            let body = match body.get("items").and_then(Value::as_array) {
                Some(items) => json!({
                    "kind": "PartialObjectMetadataList", "apiVersion": "meta.k8s.io/v1",
                    "metadata": body.get("metadata").cloned().unwrap_or(json!({})),
                    "items": items.iter().map(table::partial_metadata).collect::<Vec<_>>(),
                }),
                None => table::partial_metadata(&body),
            };
            json_response(code, &body, warnings)
        }
        _ => json_response(code, &body, warnings),
    }
}

fn text(code: StatusCode, body: &'static str) -> Response {
    (
        code,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        body,
    )
        .into_response()
}

fn version_info() -> Value {
    let (major, minor) = KUBERNETES_VERSION;
    json!({
        "major": major,
        "minor": minor,
        "gitVersion": format!("v{major}.{minor}.0+kubevirt-rs.{}", env!("CARGO_PKG_VERSION")),
        "gitCommit": "",
        "gitTreeState": "clean",
        "buildDate": "1970-01-01T00:00:00Z",
        "goVersion": "",
        "compiler": "rustc",
        "platform": format!("{}/{}", std::env::consts::OS, if cfg!(target_arch = "x86_64") { "amd64" } else { std::env::consts::ARCH }),
    })
}

async fn dispatch(State(state): State<HttpState>, req: Request<Body>) -> Response {
    let path = req.uri().path().to_string();
    if matches!(path.as_str(), "/healthz" | "/livez" | "/readyz")
        || path.starts_with("/healthz/")
        || path.starts_with("/livez/")
        || path.starts_with("/readyz/")
    {
        return text(StatusCode::OK, "ok");
    }
    let auth_header = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let user = match req
        .extensions()
        .get::<UserInfo>()
        .cloned()
        .or_else(|| state.auth.authenticate(auth_header))
    {
        Some(u) => u,
        None => return ApiError::Unauthorized.into_response(),
    };
    let request = super::metrics::InFlight::start(&req, &user.username);
    let response = match route(&state, user, req).await {
        Ok(r) => r,
        Err(e) => e.into_response(),
    };
    request.finish(response.status());
    response
}

fn wants_aggregated(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| {
            a.contains("as=APIGroupDiscoveryList") && a.contains("g=apidiscovery.k8s.io")
        })
}

fn discovery_response(body: Value, aggregated: bool) -> Response {
    let ct = if aggregated {
        discovery::AGGREGATED_CONTENT_TYPE
    } else {
        "application/json"
    };
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, ct)],
        serde_json::to_vec(&body).unwrap_or_default(),
    )
        .into_response()
}

async fn route(
    state: &HttpState,
    user: UserInfo,
    req: Request<Body>,
) -> Result<Response, ApiError> {
    let path = req.uri().path().trim_end_matches('/').to_string();
    let segs: Vec<String> = path
        .split('/')
        .filter(|s| !s.is_empty())
        .map(|s| {
            percent_encoding::percent_decode_str(s)
                .decode_utf8_lossy()
                .into_owned()
        })
        .collect();
    let segs: Vec<&str> = segs.iter().map(String::as_str).collect();
    let reg = state.api.registry();
    let get_only = |m: &Method| {
        if m == Method::GET {
            Ok(())
        } else {
            Err(ApiError::method_not_allowed())
        }
    };
    match segs.as_slice() {
        ["version"] => {
            get_only(req.method())?;
            Ok(json_response(200, &version_info(), &[]))
        }
        ["metrics"] => {
            get_only(req.method())?;
            Ok((
                [(header::CONTENT_TYPE, super::metrics::CONTENT_TYPE)],
                super::metrics::global().render(),
            )
                .into_response())
        }
        ["api"] => {
            get_only(req.method())?;
            let agg = wants_aggregated(req.headers());
            Ok(discovery_response(
                if agg {
                    discovery::aggregated(reg, true)
                } else {
                    discovery::api_versions()
                },
                agg,
            ))
        }
        ["apis"] => {
            get_only(req.method())?;
            let agg = wants_aggregated(req.headers());
            Ok(discovery_response(
                if agg {
                    discovery::aggregated(reg, false)
                } else {
                    discovery::api_group_list(reg)
                },
                agg,
            ))
        }
        ["api", "v1"] => {
            get_only(req.method())?;
            discovery::api_resource_list(reg, "", "v1")
                .map(|b| json_response(200, &b, &[]))
                .ok_or_else(not_found_path)
        }
        ["apis", group] => {
            get_only(req.method())?;
            discovery::api_group(reg, group)
                .map(|b| json_response(200, &b, &[]))
                .ok_or_else(not_found_path)
        }
        ["apis", group, version] => {
            get_only(req.method())?;
            discovery::api_resource_list(reg, group, version)
                .map(|b| json_response(200, &b, &[]))
                .ok_or_else(not_found_path)
        }
        ["openapi", "v2"] => {
            get_only(req.method())?;
            let accept = req
                .headers()
                .get(header::ACCEPT)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            if accept.contains("protobuf") {
                Ok((
                    StatusCode::OK,
                    [(header::CONTENT_TYPE, openapi::V2_PROTOBUF_CONTENT_TYPE)],
                    openapi::v2_protobuf(reg),
                )
                    .into_response())
            } else {
                Ok(json_response(200, &openapi::v2_json(reg), &[]))
            }
        }
        ["openapi", "v3"] => {
            get_only(req.method())?;
            Ok(json_response(200, &openapi::v3_index(reg), &[]))
        }
        ["openapi", "v3", "api", "v1"] => {
            get_only(req.method())?;
            openapi::v3_group_version(reg, "", "v1")
                .map(|b| json_response(200, &b, &[]))
                .ok_or_else(not_found_path)
        }
        ["openapi", "v3", "apis", group, version] => {
            get_only(req.method())?;
            openapi::v3_group_version(reg, group, version)
                .map(|b| json_response(200, &b, &[]))
                .ok_or_else(not_found_path)
        }
        ["api", "v1", rest @ ..] => resource(state, user, "", "v1", rest, req).await,
        ["apis", group, version, rest @ ..] => {
            if let Some(plugin) = state
                .api
                .plugins()
                .groups
                .iter()
                .find(|p| p.group().group == *group)
                .cloned()
            {
                let sub_path = rest.join("/");
                let (group, version) = (group.to_string(), version.to_string());
                return plugin
                    .handle(state.api.clone(), user, &version, &sub_path, req)
                    .await
                    .inspect_err(|_| {
                        tracing::debug!(%group, "plug-in request failed");
                    });
            }
            resource(state, user, group, version, rest, req).await
        }
        _ => Err(not_found_path()),
    }
}

fn not_found_path() -> ApiError {
    ApiError::NotFound(crate::error::Target::default())
}

/// Namespace, plural, name and subresource of a resource path.
type ResourcePath<'a> = (Option<&'a str>, &'a str, Option<&'a str>, Option<&'a str>);

/// `[namespaces/{ns}/]{plural}[/{name}[/{subresource}]]`
fn split_resource_path<'a>(rest: &[&'a str]) -> Option<ResourcePath<'a>> {
    match rest {
        ["namespaces", ns, plural, tail @ ..] if !matches!(*plural, "status" | "finalize") => {
            match tail {
                [] => Some((Some(ns), plural, None, None)),
                [name] => Some((Some(ns), plural, Some(name), None)),
                [name, sub] => Some((Some(ns), plural, Some(name), Some(sub))),
                _ => None,
            }
        }
        [plural] => Some((None, plural, None, None)),
        [plural, name] => Some((None, plural, Some(name), None)),
        [plural, name, sub] => Some((None, plural, Some(name), Some(sub))),
        _ => None,
    }
}

/// A DELETE body as JSON: typed clients (e.g. `kubectl drain`) send DeleteOptions as protobuf.
fn delete_body(headers: &HeaderMap, body: Bytes) -> Result<Bytes, ApiError> {
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !ct.starts_with("application/vnd.kubernetes.protobuf") || body.is_empty() {
        return Ok(body);
    }
    let v = crate::protobuf::decode(&body).map_err(|e| ApiError::bad_request(e.to_string()))?;
    Ok(Bytes::from(
        serde_json::to_vec(&v).expect("JSON values serialize"),
    ))
}

async fn read_body(body: Body) -> Result<Bytes, ApiError> {
    axum::body::to_bytes(body, MAX_BODY)
        .await
        .map_err(|_| ApiError::RequestEntityTooLarge {
            message: "the request body is too large".into(),
        })
}

fn is_yaml(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|c| c.contains("yaml"))
}

/// The object in a create or update body: JSON, YAML or Kubernetes protobuf.
fn decode_object(headers: &HeaderMap, body: &[u8]) -> Result<Value, ApiError> {
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if ct.starts_with("application/vnd.kubernetes.protobuf") {
        return crate::protobuf::decode(body).map_err(|e| match e {
            crate::protobuf::ProtobufError::UnsupportedKind(_) => ApiError::UnsupportedMediaType {
                message: e.to_string(),
            },
            other => ApiError::bad_request(other.to_string()),
        });
    }
    let base = ct.split(';').next().unwrap_or("").trim();
    if !matches!(base, "" | "application/json" | "application/yaml" | "*/*") {
        return Err(ApiError::UnsupportedMediaType {
            message: "the body of the request was in an unknown format - accepted media types include: application/json, application/yaml, application/vnd.kubernetes.protobuf".to_string(),
        });
    }
    parse_body(body, is_yaml(headers))
}

async fn resource(
    state: &HttpState,
    user: UserInfo,
    group: &str,
    version: &str,
    rest: &[&str],
    req: Request<Body>,
) -> Result<Response, ApiError> {
    let (ns, plural, name, sub) = split_resource_path(rest).ok_or_else(not_found_path)?;
    let api = &state.api;
    let scope = api.scope(group, version, plural, ns)?;
    let (parts, body) = req.into_parts();
    let q: Query = parse_query(parts.uri.query());
    let accept = parts
        .headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok());
    let format = negotiate(accept, &q)?;
    let user_agent = parts
        .headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(String::from);
    let ua = user_agent.as_deref();
    let mut warnings = Vec::new();
    if let Some(v) = scope.def.version(version).filter(|v| v.deprecated) {
        warnings.push(v.deprecation_warning.clone().unwrap_or_else(|| {
            format!(
                "{} {} is deprecated",
                scope.def.api_version(version),
                scope.def.kind
            )
        }));
    }
    if scope.def.namespaced && ns.is_none() && name.is_some() {
        return Err(not_found_path());
    }
    let sub = match sub {
        Some(s)
            if s == "status"
                && scope
                    .def
                    .version(version)
                    .is_some_and(|v| v.status_subresource) =>
        {
            Sub::Status
        }
        Some(s)
            if s == "scale"
                && scope
                    .def
                    .version(version)
                    .is_some_and(|v| v.scale.is_some()) =>
        {
            Sub::Scale
        }
        // Namespaces are finalized through `/finalize`, which behaves like an update here.
        Some("finalize") if scope.def.builtin && plural == "namespaces" => Sub::Main,
        Some(_) => return Err(not_found_path()),
        None => Sub::Main,
    };
    let outcome = |o: Outcome, mut w: Vec<String>| {
        w.extend(o.warnings);
        (o.code, o.object, w)
    };
    let (code, body, warnings) = match (parts.method.clone(), name) {
        (Method::GET, None) => {
            let opts = ListOptions::from_query(&q)?;
            if opts.watch {
                return watch_response(api, &scope, &opts, format).await;
            }
            (200, api.list(&scope, &opts).await?, warnings)
        }
        (Method::GET, Some(name)) => {
            let opts = ListOptions::from_query(&q)?;
            if opts.watch {
                let opts = ListOptions {
                    field_selector: Some(format!("metadata.name={name}")),
                    ..opts
                };
                return watch_response(api, &scope, &opts, format).await;
            }
            let obj = match sub {
                Sub::Scale => api.get_scale(&scope, name).await?,
                _ => api.get(&scope, name).await?,
            };
            (200, obj, warnings)
        }
        (Method::POST, None) => {
            let opts = WriteOptions::from_query(&q)?;
            let obj = decode_object(&parts.headers, &read_body(body).await?)?;
            outcome(api.create(&scope, obj, &opts, &user, ua).await?, warnings)
        }
        (Method::PUT, Some(name)) => {
            let opts = WriteOptions::from_query(&q)?;
            let obj = decode_object(&parts.headers, &read_body(body).await?)?;
            outcome(
                api.update(&scope, name, sub, obj, &opts, &user, ua).await?,
                warnings,
            )
        }
        (Method::PATCH, Some(name)) => {
            let opts = WriteOptions::from_query(&q)?;
            let ct = parts
                .headers
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            let pt = PatchType::from_content_type(ct).ok_or_else(|| ApiError::UnsupportedMediaType {
                message: format!("the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml{}",
                    if scope.def.builtin { ", application/strategic-merge-patch+json" } else { "" }),
            })?;
            let raw = read_body(body).await?;
            outcome(
                api.patch(&scope, name, sub, pt, &raw, &opts, &user, ua)
                    .await?,
                warnings,
            )
        }
        (Method::DELETE, Some(name)) if sub == Sub::Main => {
            let opts =
                DeleteOptions::parse(&q, &delete_body(&parts.headers, read_body(body).await?)?)?;
            outcome(api.delete(&scope, name, &opts, &user).await?, warnings)
        }
        (Method::DELETE, None) => {
            let list = ListOptions::from_query(&q)?;
            let opts =
                DeleteOptions::parse(&q, &delete_body(&parts.headers, read_body(body).await?)?)?;
            (
                200,
                api.delete_collection(&scope, &list, &opts, &user).await?,
                warnings,
            )
        }
        _ => return Err(ApiError::method_not_allowed()),
    };
    let format = if sub == Sub::Scale {
        Format::Json
    } else {
        format
    };
    Ok(render(format, Some(&scope), code, body, &warnings))
}

async fn watch_response(
    api: &Api,
    scope: &Scope,
    opts: &ListOptions,
    format: Format,
) -> Result<Response, ApiError> {
    let stream = api.watch(scope, opts).await?;
    let scope = scope.clone();
    let lines = stream.map(move |e: WatchEvent| {
        let object = match (&e, format) {
            (
                WatchEvent::Added(o) | WatchEvent::Modified(o) | WatchEvent::Deleted(o),
                Format::Table(include),
            ) => table::table(
                &scope.def,
                &scope.version,
                std::slice::from_ref(o),
                include,
                json!({}),
            ),
            (
                WatchEvent::Added(o) | WatchEvent::Modified(o) | WatchEvent::Deleted(o),
                Format::Metadata,
            ) => table::partial_metadata(o),
            _ => e.object().clone(),
        };
        let mut line = serde_json::to_vec(&json!({"type": e.type_name(), "object": object}))
            .unwrap_or_default();
        line.push(b'\n');
        Ok::<_, Infallible>(Bytes::from(line))
    });
    let mut resp = Response::new(Body::from_stream(lines));
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("no-cache, private"),
    );
    Ok(resp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resource_paths_split_into_namespace_plural_name_and_subresource() {
        assert_eq!(
            split_resource_path(&["namespaces", "default", "pods"]),
            Some((Some("default"), "pods", None, None))
        );
        assert_eq!(
            split_resource_path(&["namespaces", "d", "virtualmachines", "vm", "status"]),
            Some((Some("d"), "virtualmachines", Some("vm"), Some("status")))
        );
        assert_eq!(
            split_resource_path(&["namespaces"]),
            Some((None, "namespaces", None, None))
        );
        assert_eq!(
            split_resource_path(&["namespaces", "default"]),
            Some((None, "namespaces", Some("default"), None))
        );
        assert_eq!(
            split_resource_path(&["namespaces", "default", "finalize"]),
            Some((None, "namespaces", Some("default"), Some("finalize")))
        );
        assert_eq!(
            split_resource_path(&["nodes", "n1", "status"]),
            Some((None, "nodes", Some("n1"), Some("status")))
        );
        assert_eq!(split_resource_path(&["a", "b", "c", "d"]), None);
    }
}
