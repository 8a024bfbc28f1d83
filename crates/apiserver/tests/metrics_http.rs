//! `GET /metrics` through the HTTP router: requests are counted by verb, resource, subresource,
//! response code and user, and the endpoint needs an authenticated caller.

use std::sync::Arc;

use apiserver::server::auth::Authenticator;
use apiserver::server::http::router;
use apiserver::store::sqlite::{SqliteOptions, SqliteStore};
use apiserver::{Api, Plugins, Registry, UserInfo};
use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use http_body_util::BodyExt;
use tower::ServiceExt;

async fn server() -> (Router, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("s.db"), SqliteOptions::default()).unwrap();
    let api = Api::new(
        Registry::with_builtins(),
        Arc::new(store),
        Plugins::default(),
    );
    api.bootstrap().await.unwrap();
    (router(api, Arc::new(Authenticator::new())), dir)
}

async fn call(
    app: &Router,
    user: Option<&UserInfo>,
    method: Method,
    uri: &str,
    content_type: &str,
    body: &str,
) -> (StatusCode, String) {
    let mut req = Request::builder()
        .method(method)
        .uri(uri)
        .header(header::CONTENT_TYPE, content_type)
        .body(Body::from(body.to_string()))
        .unwrap();
    if let Some(u) = user {
        req.extensions_mut().insert(u.clone());
    }
    let resp = app.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8_lossy(&bytes).into_owned())
}

/// The value of the sample line starting with `prefix`, if any.
fn sample(text: &str, prefix: &str) -> Option<u64> {
    text.lines()
        .find(|l| l.starts_with(prefix))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

#[tokio::test]
async fn writes_are_counted_by_verb_subresource_code_and_user() {
    let (app, _dir) = server().await;
    // A user name of its own: the registry is shared by every test in this process.
    let user = UserInfo::system("metrics-test-writer");
    let cm = r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"m1"}}"#;
    let uri = "/api/v1/namespaces/default/configmaps";
    let json = "application/json";
    assert_eq!(
        call(&app, Some(&user), Method::POST, uri, json, cm).await.0,
        StatusCode::CREATED
    );
    assert_eq!(
        call(&app, Some(&user), Method::POST, uri, json, cm).await.0,
        StatusCode::CONFLICT
    );
    let merge = "application/merge-patch+json";
    let patch = r#"{"data":{"a":"b"}}"#;
    for _ in 0..3 {
        let (code, _) = call(
            &app,
            Some(&user),
            Method::PATCH,
            &format!("{uri}/m1"),
            merge,
            patch,
        )
        .await;
        assert_eq!(code, StatusCode::OK);
    }
    let (code, text) = call(&app, Some(&user), Method::GET, "/metrics", "", "").await;
    assert_eq!(code, StatusCode::OK);
    let by_user = |verb: &str| {
        sample(
            &text,
            &format!(
                "apiserver_request_by_user_total{{verb=\"{verb}\",group=\"\",version=\"v1\",resource=\"configmaps\",subresource=\"\",user=\"system:serviceaccount:kubevirt:metrics-test-writer\"}}"
            ),
        )
    };
    assert_eq!(by_user("POST"), Some(2));
    assert_eq!(by_user("PATCH"), Some(3));
    let conflicts = sample(
        &text,
        "apiserver_request_total{verb=\"POST\",dry_run=\"\",group=\"\",version=\"v1\",resource=\"configmaps\",subresource=\"\",scope=\"namespace\",component=\"apiserver\",code=\"409\"}",
    );
    assert!(conflicts.is_some_and(|n| n >= 1), "{text}");
    assert!(text.contains("# TYPE apiserver_request_duration_seconds histogram"));
}

#[tokio::test]
async fn metrics_need_an_authenticated_caller() {
    let (app, _dir) = server().await;
    let (code, _) = call(&app, None, Method::GET, "/metrics", "", "").await;
    assert_eq!(code, StatusCode::UNAUTHORIZED);
    let user = UserInfo::new("reader", &["system:authenticated"]);
    let (code, _) = call(&app, Some(&user), Method::POST, "/metrics", "", "").await;
    assert_eq!(code, StatusCode::METHOD_NOT_ALLOWED);
}
