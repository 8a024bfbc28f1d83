//! Resident memory and store size of `kubevirtd` holding many objects.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bench::apiserver::MemoryResult;
use bench::machine::process_memory;
use bench::stats::per_second;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::Api;
use kube::api::{ListParams, PostParams};

use crate::Args;
use crate::kubevirtd::{Kubevirtd, configmap, configmap_apis, create_namespace};
use crate::runner::{self, payload};

const NAMESPACE: &str = "bench-memory";
const PAGE: u32 = 500;

/// Creates `args.memory_objects` ConfigMaps on a fresh server, then lists them all in pages.
pub async fn run(args: &Args, bin: &Path, work: &Path) -> anyhow::Result<MemoryResult> {
    let server = Kubevirtd::start(bin, work).await?;
    let pid = server.pid()?;
    create_namespace(&server.client()?, NAMESPACE).await?;
    let (rss_idle_kib, _) = process_memory(pid);

    let clients = args.memory_clients;
    let apis = Arc::new(configmap_apis(&server, NAMESPACE, clients).await?);
    let bytes = args.value_bytes;
    let created = {
        let apis = Arc::clone(&apis);
        let limit = Duration::from_secs_f64(args.memory_seconds);
        runner::run(clients, args.memory_objects, limit, move |c, i| {
            let api = apis[c].clone();
            let cm = configmap(&format!("m-{i:07}"), payload(i, bytes));
            async move {
                if i > 0 && i % 10_000 == 0 {
                    eprintln!("memory: {i} objects created");
                }
                api.create(&PostParams::default(), &cm).await?;
                Ok(())
            }
        })
        .await?
    };
    let objects = created.results.len();
    let (rss_after_create_kib, _) = process_memory(pid);
    eprintln!(
        "memory: {objects} objects in {:.1} s",
        created.elapsed.as_secs_f64()
    );

    let api = Api::<ConfigMap>::namespaced(server.client()?, NAMESPACE);
    let started = Instant::now();
    let mut listed = 0;
    let mut token: Option<String> = None;
    loop {
        let mut params = ListParams::default().limit(PAGE);
        if let Some(t) = &token {
            params = params.continue_token(t);
        }
        let page = api.list(&params).await?;
        listed += page.items.len();
        token = page.metadata.continue_.filter(|t| !t.is_empty());
        if token.is_none() {
            break;
        }
    }
    let list_seconds = started.elapsed().as_secs_f64();
    let (rss_after_list_kib, hwm_kib) = process_memory(pid);
    let store_bytes = server.store_bytes();
    server.stop().await;
    Ok(MemoryResult {
        objects,
        clients,
        create_seconds: created.elapsed.as_secs_f64(),
        creates_per_second: per_second(objects, created.elapsed),
        rss_idle_kib,
        rss_after_create_kib,
        rss_after_list_kib,
        hwm_kib,
        page_size: PAGE,
        listed,
        list_seconds,
        store_bytes,
    })
}
