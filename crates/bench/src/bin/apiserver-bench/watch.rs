//! Watch delivery latency: many HTTPS watch streams on one namespace, one steady writer.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use bench::apiserver::WatchResult;
use bench::stats::Summary;
use futures::StreamExt;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::Api;
use kube::api::{ListParams, PostParams, WatchEvent, WatchParams};
use tokio::sync::mpsc;

use crate::Args;
use crate::kubevirtd::{Kubevirtd, configmap, create_namespace};
use crate::runner::payload;

const NAMESPACE: &str = "bench-watch";
const MARKER: &str = "marker";

/// Sent and acknowledged times of each create.
#[derive(Clone, Copy)]
struct Sent {
    sent: Instant,
    acked: Instant,
}

/// What a watcher saw: the index of each object and when its event arrived.
type Seen = Vec<(usize, Instant)>;

fn index_of(name: &str) -> Option<usize> {
    name.strip_prefix("w-")?.parse().ok()
}

async fn watcher(
    api: Api<ConfigMap>,
    rv: String,
    objects: usize,
    ready: mpsc::UnboundedSender<()>,
    deadline: Instant,
) -> anyhow::Result<Seen> {
    let mut seen = Vec::with_capacity(objects);
    let stream = api.watch(&WatchParams::default().timeout(290), &rv).await?;
    let mut stream = std::pin::pin!(stream);
    while seen.len() < objects {
        let left = deadline.saturating_duration_since(Instant::now());
        let Ok(next) = tokio::time::timeout(left, stream.next()).await else {
            break;
        };
        let Some(event) = next else { break };
        match event? {
            WatchEvent::Added(cm) => {
                let at = Instant::now();
                let name = cm.metadata.name.unwrap_or_default();
                if name == MARKER {
                    let _ = ready.send(());
                } else if let Some(i) = index_of(&name) {
                    seen.push((i, at));
                }
            }
            WatchEvent::Error(err) => bail!("watch ended with an error: {err:?}"),
            _ => {}
        }
    }
    Ok(seen)
}

/// Runs the watch benchmark on a fresh server.
pub async fn run(args: &Args, bin: &Path, work: &Path) -> anyhow::Result<WatchResult> {
    let server = Kubevirtd::start(bin, work).await?;
    let writer_client = server.client()?;
    create_namespace(&writer_client, NAMESPACE).await?;
    let api = Api::<ConfigMap>::namespaced(writer_client, NAMESPACE);
    let list = api.list(&ListParams::default().limit(1)).await?;
    let rv = list
        .metadata
        .resource_version
        .context("the list has no resourceVersion")?;

    let objects = args.watch_objects;
    let write_time = Duration::from_secs_f64(objects as f64 / args.watch_rate);
    let deadline = Instant::now() + write_time + Duration::from_secs(120);
    let (ready_tx, mut ready_rx) = mpsc::unbounded_channel();
    let mut watchers = Vec::with_capacity(args.watchers);
    for _ in 0..args.watchers {
        let api = Api::<ConfigMap>::namespaced(server.client()?, NAMESPACE);
        watchers.push(tokio::spawn(watcher(
            api,
            rv.clone(),
            objects,
            ready_tx.clone(),
            deadline,
        )));
    }
    drop(ready_tx);

    // Timing starts once every watch stream demonstrably delivers.
    api.create(&PostParams::default(), &configmap(MARKER, String::new()))
        .await?;
    for _ in 0..args.watchers {
        tokio::time::timeout(Duration::from_secs(60), ready_rx.recv())
            .await
            .context("watchers did not all start within 60 s")?
            .context("a watcher ended before it started")?;
    }
    eprintln!(
        "watch: {} watchers ready; writing {objects} objects",
        args.watchers
    );

    let sent: Arc<Mutex<Vec<Option<Sent>>>> = Arc::new(Mutex::new(vec![None; objects]));
    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / args.watch_rate));
    let mut writes = Vec::with_capacity(objects);
    for i in 0..objects {
        tick.tick().await;
        let api = api.clone();
        let sent = Arc::clone(&sent);
        let cm = configmap(&format!("w-{i:07}"), payload(i, args.value_bytes));
        // Each create on its own task, so a slow write does not delay the next one.
        writes.push(tokio::spawn(async move {
            let at = Instant::now();
            api.create(&PostParams::default(), &cm).await?;
            let acked = Instant::now();
            sent.lock().expect("not poisoned")[i] = Some(Sent { sent: at, acked });
            anyhow::Ok(())
        }));
    }
    for w in writes {
        w.await??;
    }
    let sent: Vec<Sent> = sent
        .lock()
        .expect("not poisoned")
        .iter()
        .map(|s| s.context("a create did not finish"))
        .collect::<anyhow::Result<_>>()?;

    let mut from_send = Vec::with_capacity(objects * args.watchers);
    let mut from_ack = Vec::with_capacity(objects * args.watchers);
    let mut before_ack = 0;
    for w in watchers {
        for (i, at) in w.await?? {
            let s = sent
                .get(i)
                .context("an event for an object never written")?;
            from_send.push(at.saturating_duration_since(s.sent));
            from_ack.push(at.saturating_duration_since(s.acked));
            before_ack += usize::from(at < s.acked);
        }
    }
    server.stop().await;
    Ok(WatchResult {
        watchers: args.watchers,
        objects,
        rate_per_second: args.watch_rate,
        deliveries_expected: objects * args.watchers,
        deliveries: from_send.len(),
        from_send: Summary::of(from_send),
        from_ack: Summary::of(from_ack),
        before_ack,
        writes: Summary::of(sent.iter().map(|s| s.acked - s.sent).collect()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_benchmark_objects_have_an_index() {
        assert_eq!(index_of("w-0000042"), Some(42));
        assert_eq!(index_of(MARKER), None);
        assert_eq!(index_of("w-x"), None);
    }
}
