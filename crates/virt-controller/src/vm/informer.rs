//! Informers: a kube-rs watcher feeding a reflector store, with change notifications carrying the
//! old and the new object (as client-go's event handlers do). Handlers run after the store is
//! updated, so a worker woken by a handler sees at least that state. A relist (after a watch
//! expired) reports objects that vanished meanwhile as deleted.

use std::collections::HashSet;
use std::fmt::Debug;
use std::hash::Hash;
use std::sync::Arc;

use futures::StreamExt;
use kube::runtime::reflector::{ObjectRef, Store, store::Writer};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Resource};
use serde::de::DeserializeOwned;
use tokio::sync::watch;

/// Called with `(old, new)`: `(None, Some)` for an add, `(Some, Some)` for an update,
/// `(Some, None)` for a delete.
pub type Handler<K> = Arc<dyn Fn(Option<Arc<K>>, Option<Arc<K>>) + Send + Sync>;

/// Whether an error means the resource is not served at all (e.g. a CRD that is not installed).
fn is_not_served(err: &watcher::Error) -> bool {
    match err {
        watcher::Error::InitialListFailed(kube::Error::Api(s))
        | watcher::Error::WatchStartFailed(kube::Error::Api(s)) => s.code == 404,
        _ => false,
    }
}

/// Runs a watcher on `api` into `writer` forever, calling `handler` for every change.
///
/// `synced` turns true after the first complete list; when `optional`, also when the resource
/// is not served (the store then stays empty and the watcher keeps retrying with backoff, so
/// the resource is picked up once it is registered).
pub async fn run<K>(
    api: Api<K>,
    mut writer: Writer<K>,
    reader: Store<K>,
    dyntype: K::DynamicType,
    handler: Handler<K>,
    synced: watch::Sender<bool>,
    optional: bool,
) where
    K: Resource + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
    K::DynamicType: Eq + Hash + Clone + Send + Sync,
{
    let kind = K::kind(&dyntype).to_string();
    let mut stream = watcher(api, watcher::Config::default())
        .default_backoff()
        .boxed();
    let mut listed: Vec<K> = Vec::new();
    while let Some(item) = stream.next().await {
        let event = match item {
            Ok(event) => event,
            Err(err) => {
                if optional && is_not_served(&err) {
                    synced.send_replace(true);
                    tracing::debug!(%kind, "not served; treating as empty");
                } else {
                    tracing::warn!(%kind, error = %err, "watch failed; retrying");
                }
                continue;
            }
        };
        match &event {
            watcher::Event::Apply(obj) => {
                let old = reader.get(&ObjectRef::from_obj_with(obj, dyntype.clone()));
                writer.apply_watcher_event(&event);
                handler(old, Some(Arc::new(obj.clone())));
            }
            watcher::Event::Delete(obj) => {
                writer.apply_watcher_event(&event);
                handler(Some(Arc::new(obj.clone())), None);
            }
            watcher::Event::Init => {
                listed.clear();
                writer.apply_watcher_event(&event);
            }
            watcher::Event::InitApply(obj) => {
                listed.push(obj.clone());
                writer.apply_watcher_event(&event);
            }
            watcher::Event::InitDone => {
                let before = reader.state();
                let olds: Vec<_> = listed
                    .iter()
                    .map(|o| reader.get(&ObjectRef::from_obj_with(o, dyntype.clone())))
                    .collect();
                writer.apply_watcher_event(&event);
                let keys: HashSet<ObjectRef<K>> = listed
                    .iter()
                    .map(|o| ObjectRef::from_obj_with(o, dyntype.clone()))
                    .collect();
                for (obj, old) in std::mem::take(&mut listed).into_iter().zip(olds) {
                    handler(old, Some(Arc::new(obj)));
                }
                for gone in before {
                    if !keys.contains(&ObjectRef::from_obj_with(gone.as_ref(), dyntype.clone())) {
                        handler(Some(gone), None);
                    }
                }
                synced.send_replace(true);
            }
        }
    }
}
