//! The same write load against a local etcd, through its JSON gRPC gateway (`/v3/...`).
//!
//! Writes are transactions as the Kubernetes API server issues them: a create succeeds only if
//! the key's `mod_revision` is 0, an update only if it is the revision the client last saw.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use bench::apiserver::{Level, WriteOp, WriteResult};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};

use crate::Args;
use crate::runner::{self, payload};

/// One etcd client with its own connection pool.
#[derive(Clone)]
pub struct Etcd {
    http: Client<HttpConnector, Full<Bytes>>,
    base: String,
}

impl Etcd {
    pub fn new(base: &str) -> Etcd {
        Etcd {
            http: Client::builder(TokioExecutor::new()).build_http(),
            base: base.trim_end_matches('/').to_string(),
        }
    }

    async fn call(
        &self,
        method: http::Method,
        path: &str,
        body: Option<Value>,
    ) -> anyhow::Result<Value> {
        let body = body.map_or_else(Bytes::new, |b| Bytes::from(b.to_string()));
        let req = http::Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.base))
            .header(http::header::CONTENT_TYPE, "application/json")
            .body(Full::new(body))?;
        let resp = self
            .http
            .request(req)
            .await
            .with_context(|| format!("etcd {path}"))?;
        let status = resp.status();
        let bytes = resp.into_body().collect().await?.to_bytes();
        if !status.is_success() {
            bail!("etcd {path}: {status}: {}", String::from_utf8_lossy(&bytes));
        }
        Ok(serde_json::from_slice(&bytes)?)
    }

    /// The server version, retried until etcd answers or `wait` passes.
    pub async fn version(&self, wait: Duration) -> anyhow::Result<String> {
        let deadline = Instant::now() + wait;
        loop {
            match self.call(http::Method::GET, "/version", None).await {
                Ok(v) => return Ok(v["etcdserver"].as_str().unwrap_or("unknown").to_string()),
                Err(err) if Instant::now() > deadline => return Err(err),
                Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
            }
        }
    }

    /// A put guarded by `mod_revision == expected`; returns the new revision.
    pub async fn put_if(&self, key: &str, expected: i64, value: &str) -> anyhow::Result<i64> {
        let key = STANDARD.encode(key);
        let body = json!({
            "compare": [{
                "key": key,
                "result": "EQUAL",
                "target": "MOD",
                "mod_revision": expected.to_string(),
            }],
            "success": [{ "request_put": { "key": key, "value": STANDARD.encode(value) } }],
        });
        let resp = self
            .call(http::Method::POST, "/v3/kv/txn", Some(body))
            .await?;
        // The gateway leaves out `false` and encodes 64-bit integers as strings.
        if resp["succeeded"].as_bool() != Some(true) {
            bail!("etcd transaction on revision {expected} did not succeed: {resp}");
        }
        revision(&resp["header"]["revision"])
    }
}

fn revision(v: &Value) -> anyhow::Result<i64> {
    match v {
        Value::String(s) => Ok(s.parse()?),
        Value::Number(n) => n.as_i64().context("revision out of range"),
        other => bail!("no revision in etcd's answer: {other}"),
    }
}

/// Creates then updates at each client count against the etcd at `url`.
pub async fn run(args: &Args, url: &str) -> anyhow::Result<Vec<WriteResult>> {
    let mut out = Vec::new();
    for &clients in &args.clients {
        let etcds: Vec<Etcd> = (0..clients).map(|_| Etcd::new(url)).collect();
        // Open each client's connection before timing.
        for etcd in &etcds {
            etcd.version(Duration::from_secs(30)).await?;
        }
        let etcds = Arc::new(etcds);
        let max = args.max_ops(clients);
        let bytes = args.value_bytes;
        let prefix = format!("/registry/configmaps/bench-c{clients}/");
        let created = {
            let etcds = Arc::clone(&etcds);
            let prefix = prefix.clone();
            runner::run(clients, max, args.phase_limit(), move |c, i| {
                let etcd = etcds[c].clone();
                let key = format!("{prefix}obj-{i:07}");
                async move { etcd.put_if(&key, 0, &payload(i, bytes)).await }
            })
            .await?
        };
        out.push(created.result(Level::Etcd, WriteOp::Create, clients));
        eprintln!(
            "etcd: {clients} clients: {:.0} creates/s",
            out.last().map_or(0.0, |r| r.per_second)
        );
        let revisions = Arc::new(created.results);
        let updated = {
            let etcds = Arc::clone(&etcds);
            let revisions = Arc::clone(&revisions);
            runner::run(clients, revisions.len(), args.phase_limit(), move |c, i| {
                let etcd = etcds[c].clone();
                let key = format!("{prefix}obj-{i:07}");
                let expected = revisions[i];
                async move { etcd.put_if(&key, expected, &payload(i + 1, bytes)).await }
            })
            .await?
        };
        out.push(updated.result(Level::Etcd, WriteOp::Update, clients));
        eprintln!(
            "etcd: {clients} clients: {:.0} updates/s",
            out.last().map_or(0.0, |r| r.per_second)
        );
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn revisions_are_read_from_strings_or_numbers() {
        assert_eq!(revision(&json!("42")).unwrap(), 42);
        assert_eq!(revision(&json!(7)).unwrap(), 7);
        assert!(revision(&Value::Null).is_err());
    }
}
