//! Durable writes of ConfigMaps to a `kubevirtd` process over HTTPS.

use std::path::Path;
use std::sync::Arc;

use bench::apiserver::{Level, WriteOp, WriteResult};
use kube::api::PostParams;

use crate::Args;
use crate::kubevirtd::{Kubevirtd, configmap, configmap_apis, create_namespace};
use crate::runner::{self, payload};

const NAMESPACE: &str = "bench-writes";

/// Creates (POST) then updates (PUT with the resourceVersion from the create) at each client
/// count, on one fresh server.
pub async fn run(args: &Args, bin: &Path, work: &Path) -> anyhow::Result<Vec<WriteResult>> {
    let server = Kubevirtd::start(bin, work).await?;
    create_namespace(&server.client()?, NAMESPACE).await?;
    let mut out = Vec::new();
    for &clients in &args.clients {
        let apis = Arc::new(configmap_apis(&server, NAMESPACE, clients).await?);
        let max = args.max_ops(clients);
        let bytes = args.value_bytes;
        let created = {
            let apis = Arc::clone(&apis);
            runner::run(clients, max, args.phase_limit(), move |c, i| {
                let api = apis[c].clone();
                let cm = configmap(&format!("c{clients}-{i:07}"), payload(i, bytes));
                async move { Ok(api.create(&PostParams::default(), &cm).await?) }
            })
            .await?
        };
        out.push(created.result(Level::Api, WriteOp::Create, clients));
        eprintln!(
            "api: {clients} clients: {:.0} creates/s",
            out.last().map_or(0.0, |r| r.per_second)
        );
        let objects = Arc::new(created.results);
        let updated = {
            let apis = Arc::clone(&apis);
            let objects = Arc::clone(&objects);
            runner::run(clients, objects.len(), args.phase_limit(), move |c, i| {
                let api = apis[c].clone();
                let mut cm = objects[i].clone();
                cm.data = Some([("payload".to_string(), payload(i + 1, bytes))].into());
                async move {
                    let name = cm.metadata.name.clone().unwrap_or_default();
                    Ok(api.replace(&name, &PostParams::default(), &cm).await?)
                }
            })
            .await?
        };
        out.push(updated.result(Level::Api, WriteOp::Update, clients));
        eprintln!(
            "api: {clients} clients: {:.0} updates/s",
            out.last().map_or(0.0, |r| r.per_second)
        );
    }
    server.stop().await;
    Ok(out)
}
