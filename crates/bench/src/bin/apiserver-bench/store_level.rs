//! Durable writes straight into `SqliteStore` through the `Storage` trait.

use std::path::Path;
use std::sync::Arc;

use apiserver::store::{SqliteOptions, SqliteStore, Storage};
use bench::apiserver::{Level, WriteOp, WriteResult};
use bytes::Bytes;

use crate::Args;
use crate::runner::{self, payload};

/// Creates then updates at each client count, on one store with default (fully synced)
/// options in `dir`.
pub async fn run(args: &Args, dir: &Path) -> anyhow::Result<Vec<WriteResult>> {
    let store = Arc::new(SqliteStore::open(
        &dir.join("store.db"),
        SqliteOptions::default(),
    )?);
    let mut out = Vec::new();
    for &clients in &args.clients {
        let max = args.max_ops(clients);
        let prefix = format!("/registry/configmaps/bench-c{clients}/");
        let bytes = args.value_bytes;
        let created = {
            let store = Arc::clone(&store);
            let prefix = prefix.clone();
            runner::run(clients, max, args.phase_limit(), move |_, i| {
                let store = Arc::clone(&store);
                let key = format!("{prefix}obj-{i:07}");
                let value = Bytes::from(payload(i, bytes));
                async move { Ok(store.create(&key, value).await?.mod_revision) }
            })
            .await?
        };
        out.push(created.result(Level::Store, WriteOp::Create, clients));
        eprintln!(
            "store: {clients} clients: {:.0} creates/s",
            out.last().map_or(0.0, |r| r.per_second)
        );
        let revisions = Arc::new(created.results);
        let updated = {
            let store = Arc::clone(&store);
            let revisions = Arc::clone(&revisions);
            runner::run(clients, revisions.len(), args.phase_limit(), move |_, i| {
                let store = Arc::clone(&store);
                let key = format!("{prefix}obj-{i:07}");
                let value = Bytes::from(payload(i + 1, bytes));
                let expected = revisions[i];
                async move { Ok(store.update(&key, expected, value).await?.mod_revision) }
            })
            .await?
        };
        out.push(updated.result(Level::Store, WriteOp::Update, clients));
        eprintln!(
            "store: {clients} clients: {:.0} updates/s",
            out.last().map_or(0.0, |r| r.per_second)
        );
    }
    store.close().await;
    Ok(out)
}
