//! A small controller runtime shared by the cluster controllers: informers that keep a cache of
//! watched objects and report every change (including deletions noticed only on a relist), and
//! a keyed work queue with delayed and rate-limited re-adds that never hands the same key to
//! two workers at once.
//!
//! Everything runs inside the futures returned here: dropping them stops the controller.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet, VecDeque};
use std::fmt::Debug;
use std::future::Future;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, Event};
use kube::{Api, Resource};
use serde::de::DeserializeOwned;
use tokio::sync::{Notify, watch};
use tokio::time::Instant;

/// `namespace/name`, or `name` for cluster-scoped objects.
pub fn key_of(meta: &ObjectMeta) -> String {
    let name = meta.name.as_deref().unwrap_or_default();
    match meta.namespace.as_deref() {
        Some(ns) if !ns.is_empty() => format!("{ns}/{name}"),
        _ => name.to_string(),
    }
}

/// A change an informer observed.
#[derive(Debug)]
pub enum Change<K> {
    Added(Arc<K>),
    /// The previous and the new object.
    Updated(Arc<K>, Arc<K>),
    Deleted(Arc<K>),
}

type IndexFn<K> = fn(&K) -> Vec<String>;

struct CacheState<K> {
    objects: HashMap<String, Arc<K>>,
    index: HashMap<String, HashSet<String>>,
}

/// The objects an informer has seen, by key, with one optional secondary index.
pub struct Cache<K> {
    state: RwLock<CacheState<K>>,
    indexer: Option<IndexFn<K>>,
    ready: watch::Sender<bool>,
}

impl<K> Cache<K> {
    pub fn new() -> Arc<Cache<K>> {
        Cache::build(None)
    }

    /// A cache that also indexes objects by the values `indexer` returns.
    pub fn with_index(indexer: IndexFn<K>) -> Arc<Cache<K>> {
        Cache::build(Some(indexer))
    }

    fn build(indexer: Option<IndexFn<K>>) -> Arc<Cache<K>> {
        let state = CacheState {
            objects: HashMap::new(),
            index: HashMap::new(),
        };
        Arc::new(Cache {
            state: RwLock::new(state),
            indexer,
            ready: watch::Sender::new(false),
        })
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, CacheState<K>> {
        self.state.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, CacheState<K>> {
        self.state.write().unwrap_or_else(|e| e.into_inner())
    }

    pub fn get(&self, key: &str) -> Option<Arc<K>> {
        self.read().objects.get(key).cloned()
    }

    /// Every object, in no particular order.
    pub fn list(&self) -> Vec<Arc<K>> {
        self.read().objects.values().cloned().collect()
    }

    /// The objects whose index values include `value`.
    pub fn by_index(&self, value: &str) -> Vec<Arc<K>> {
        let state = self.read();
        let Some(keys) = state.index.get(value) else {
            return Vec::new();
        };
        keys.iter()
            .filter_map(|k| state.objects.get(k).cloned())
            .collect()
    }

    /// Whether the first full list has been loaded.
    pub fn is_ready(&self) -> bool {
        *self.ready.borrow()
    }

    /// Waits for the first full list.
    pub async fn ready(&self) {
        let mut rx = self.ready.subscribe();
        let _ = rx.wait_for(|r| *r).await;
    }

    fn insert(&self, key: String, obj: Arc<K>) -> Option<Arc<K>> {
        let mut state = self.write();
        let old = state.objects.insert(key.clone(), obj.clone());
        if let Some(indexer) = self.indexer {
            if let Some(old) = &old {
                for v in indexer(old) {
                    if let Some(set) = state.index.get_mut(&v) {
                        set.remove(&key);
                    }
                }
            }
            for v in indexer(&obj) {
                state.index.entry(v).or_default().insert(key.clone());
            }
        }
        old
    }

    fn remove(&self, key: &str) -> Option<Arc<K>> {
        let mut state = self.write();
        let old = state.objects.remove(key)?;
        if let Some(indexer) = self.indexer {
            for v in indexer(&old) {
                if let Some(set) = state.index.get_mut(&v) {
                    set.remove(key);
                    if set.is_empty() {
                        state.index.remove(&v);
                    }
                }
            }
        }
        Some(old)
    }
}

fn resource_version<K: Resource>(obj: &K) -> Option<&str> {
    obj.meta().resource_version.as_deref()
}

/// Watches `api` into `cache` and reports each change to `on_change`, until dropped.
pub async fn run_informer<K>(
    api: Api<K>,
    config: watcher::Config,
    cache: Arc<Cache<K>>,
    mut on_change: impl FnMut(Change<K>),
) where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug + Send + Sync + 'static,
{
    let mut relist: Option<HashMap<String, Arc<K>>> = None;
    let mut stream = watcher::watcher(api, config).default_backoff().boxed();
    loop {
        let event = match stream.try_next().await {
            Ok(Some(event)) => event,
            Ok(None) => return,
            Err(e) => {
                tracing::warn!(error = %e, kind = %K::kind(&()), "watch failed; retrying");
                continue;
            }
        };
        match event {
            Event::Init => relist = Some(HashMap::new()),
            Event::InitApply(obj) => {
                let key = key_of(obj.meta());
                relist
                    .get_or_insert_with(HashMap::new)
                    .insert(key, Arc::new(obj));
            }
            Event::InitDone => {
                let listed = relist.take().unwrap_or_default();
                let gone: Vec<String> = cache
                    .read()
                    .objects
                    .keys()
                    .filter(|k| !listed.contains_key(*k))
                    .cloned()
                    .collect();
                for key in gone {
                    if let Some(old) = cache.remove(&key) {
                        on_change(Change::Deleted(old));
                    }
                }
                for (key, obj) in listed {
                    match cache.insert(key, obj.clone()) {
                        None => on_change(Change::Added(obj)),
                        Some(old) if resource_version(&*old) != resource_version(&*obj) => {
                            on_change(Change::Updated(old, obj));
                        }
                        Some(_) => {}
                    }
                }
                cache.ready.send_replace(true);
            }
            Event::Apply(obj) => {
                let obj = Arc::new(obj);
                match cache.insert(key_of(obj.meta()), obj.clone()) {
                    None => on_change(Change::Added(obj)),
                    Some(old) => on_change(Change::Updated(old, obj)),
                }
            }
            Event::Delete(obj) => {
                let key = key_of(obj.meta());
                let old = cache.remove(&key).unwrap_or_else(|| Arc::new(obj));
                on_change(Change::Deleted(old));
            }
        }
    }
}

/// Base delay of rate-limited re-adds; it doubles per consecutive failure.
const BASE_BACKOFF: Duration = Duration::from_millis(5);
/// Longest delay of rate-limited re-adds.
const MAX_BACKOFF: Duration = Duration::from_secs(60);

#[derive(Default)]
struct QueueState {
    ready: VecDeque<String>,
    queued: HashSet<String>,
    processing: HashSet<String>,
    dirty: HashSet<String>,
    delayed: BinaryHeap<Reverse<(Instant, u64, String)>>,
    sequence: u64,
    failures: HashMap<String, u32>,
}

impl QueueState {
    fn push(&mut self, key: &str) -> bool {
        if self.processing.contains(key) {
            self.dirty.insert(key.to_string());
            false
        } else if self.queued.insert(key.to_string()) {
            self.ready.push_back(key.to_string());
            true
        } else {
            false
        }
    }
}

/// A de-duplicating queue of keys.
#[derive(Default)]
pub struct WorkQueue {
    state: Mutex<QueueState>,
    notify: Notify,
}

impl WorkQueue {
    pub fn new() -> Arc<WorkQueue> {
        Arc::new(WorkQueue::default())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, QueueState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queues `key` unless it is already queued; a key being processed is queued again when
    /// its worker is done.
    pub fn add(&self, key: &str) {
        if self.lock().push(key) {
            self.notify.notify_one();
        }
    }

    /// Queues `key` after `delay`.
    pub fn add_after(&self, key: &str, delay: Duration) {
        if delay.is_zero() {
            return self.add(key);
        }
        let mut state = self.lock();
        state.sequence += 1;
        let entry = (Instant::now() + delay, state.sequence, key.to_string());
        state.delayed.push(Reverse(entry));
        drop(state);
        // A sleeping worker may need to wake earlier than it planned.
        self.notify.notify_one();
    }

    /// Queues `key` after a delay that doubles with each consecutive failure.
    pub fn add_rate_limited(&self, key: &str) {
        let failures = {
            let mut state = self.lock();
            let n = state.failures.entry(key.to_string()).or_insert(0);
            *n += 1;
            *n
        };
        let delay = BASE_BACKOFF
            .saturating_mul(1u32 << (failures - 1).min(20))
            .min(MAX_BACKOFF);
        self.add_after(key, delay);
    }

    /// Resets the failure count of `key`.
    pub fn forget(&self, key: &str) {
        self.lock().failures.remove(key);
    }

    /// The next key to process; the caller must call [`WorkQueue::done`] with it.
    pub async fn next(&self) -> String {
        loop {
            let notified = self.notify.notified();
            let deadline = {
                let mut state = self.lock();
                let now = Instant::now();
                while state
                    .delayed
                    .peek()
                    .is_some_and(|Reverse((at, _, _))| *at <= now)
                {
                    if let Some(Reverse((_, _, key))) = state.delayed.pop() {
                        state.push(&key);
                    }
                }
                if let Some(key) = state.ready.pop_front() {
                    state.queued.remove(&key);
                    state.processing.insert(key.clone());
                    if !state.ready.is_empty() {
                        self.notify.notify_one();
                    }
                    return key;
                }
                state.delayed.peek().map(|Reverse((at, _, _))| *at)
            };
            match deadline {
                Some(at) => {
                    tokio::select! {
                        _ = notified => {}
                        _ = tokio::time::sleep_until(at) => {}
                    }
                }
                None => notified.await,
            }
        }
    }

    /// Marks `key` processed, queueing it again if it was added meanwhile.
    pub fn done(&self, key: &str) {
        let mut state = self.lock();
        state.processing.remove(key);
        if state.dirty.remove(key) && state.push(key) {
            drop(state);
            self.notify.notify_one();
        }
    }

    /// Number of keys ready to be processed now.
    pub fn len(&self) -> usize {
        self.lock().ready.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// What a reconcile pass asks of the queue.
pub type Outcome<E> = Result<Option<Duration>, E>;

/// Runs `workers` workers over `queue` until dropped. `reconcile` returns `Ok(Some(d))` to
/// look at the key again after `d`, `Ok(None)` when done, and an error to retry with backoff.
pub async fn run_workers<F, Fut, E>(queue: Arc<WorkQueue>, workers: usize, reconcile: F)
where
    F: Fn(String) -> Fut,
    Fut: Future<Output = Outcome<E>>,
    E: std::fmt::Display,
{
    let reconcile = &reconcile;
    let queue = &queue;
    let worker = |_| async move {
        loop {
            let key = queue.next().await;
            match reconcile(key.clone()).await {
                Ok(again) => {
                    queue.forget(&key);
                    if let Some(delay) = again {
                        queue.add_after(&key, delay);
                    }
                }
                Err(e) => {
                    tracing::info!(key = %key, error = %e, "reconcile failed; retrying");
                    queue.add_rate_limited(&key);
                }
            }
            queue.done(&key);
        }
    };
    futures::future::join_all((0..workers.max(1)).map(worker)).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn duplicate_adds_are_merged() {
        let q = WorkQueue::new();
        q.add("a");
        q.add("a");
        q.add("b");
        assert_eq!(q.len(), 2);
        assert_eq!(q.next().await, "a");
        assert_eq!(q.next().await, "b");
        assert!(q.is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn a_key_added_while_processing_comes_back_after_done() {
        let q = WorkQueue::new();
        q.add("a");
        let key = q.next().await;
        q.add("a");
        assert!(q.is_empty(), "never handed out twice at once");
        q.done(&key);
        assert_eq!(q.next().await, "a");
    }

    #[tokio::test(start_paused = true)]
    async fn delayed_keys_wait_for_their_time() {
        let q = WorkQueue::new();
        let start = Instant::now();
        q.add_after("late", Duration::from_secs(10));
        q.add_after("early", Duration::from_secs(1));
        assert_eq!(q.next().await, "early");
        assert_eq!(q.next().await, "late");
        assert!(start.elapsed() >= Duration::from_secs(10));
    }

    #[tokio::test(start_paused = true)]
    async fn rate_limited_delays_grow_and_reset_on_forget() {
        let q = WorkQueue::new();
        for _ in 0..4 {
            q.add_rate_limited("k");
            let start = Instant::now();
            let key = q.next().await;
            q.done(&key);
            assert!(start.elapsed() >= Duration::from_millis(5));
        }
        let start = Instant::now();
        q.add_rate_limited("k");
        let _ = q.next().await;
        assert!(
            start.elapsed() >= Duration::from_millis(80),
            "fifth failure waits 5ms × 2⁴"
        );
        q.forget("k");
        q.done("k");
        let start = Instant::now();
        q.add_rate_limited("k");
        let _ = q.next().await;
        assert!(start.elapsed() < Duration::from_millis(10));
    }

    #[test]
    fn index_follows_inserts_and_removals() {
        let cache: Arc<Cache<k8s_openapi::api::core::v1::Pod>> = Cache::with_index(|p| {
            p.metadata
                .labels
                .iter()
                .flatten()
                .map(|(k, v)| format!("{k}={v}"))
                .collect()
        });
        let pod = |name: &str, app: &str| {
            let mut p = k8s_openapi::api::core::v1::Pod::default();
            p.metadata.name = Some(name.into());
            p.metadata.labels = Some([("app".to_string(), app.to_string())].into());
            Arc::new(p)
        };
        cache.insert("a".into(), pod("a", "x"));
        cache.insert("b".into(), pod("b", "x"));
        assert_eq!(cache.by_index("app=x").len(), 2);
        cache.insert("a".into(), pod("a", "y"));
        assert_eq!(cache.by_index("app=x").len(), 1);
        assert_eq!(cache.by_index("app=y").len(), 1);
        cache.remove("b");
        assert!(cache.by_index("app=x").is_empty());
        assert_eq!(cache.list().len(), 1);
    }
}
