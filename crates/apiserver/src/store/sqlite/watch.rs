//! Fan-out of committed changes to watchers, and the watch stream (history, then live).
//!
//! Each watcher has its own bounded queue that receives only the events under its prefix. The
//! writer never waits for a watcher: when a queue is full the watcher is marked as lagging and
//! dropped, and its stream ends with `Compacted` once it has drained what it already has.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};

use futures::StreamExt;
use tokio::sync::mpsc::{self, error::TrySendError};

use super::Shared;
use super::read::{ReadPool, ReplayPage, replay_page};
use crate::store::{Event, Revision, StoreError, WatchStream};

/// How many history rows a watcher reads per query while catching up.
const REPLAY_PAGE: usize = 512;

#[derive(Default)]
pub(super) struct Hub {
    inner: Mutex<HubInner>,
}

#[derive(Default)]
struct HubInner {
    next_id: u64,
    closed: bool,
    watchers: HashMap<u64, Slot>,
}

struct Slot {
    prefix: String,
    tx: mpsc::Sender<Arc<Event>>,
    lagged: Arc<AtomicBool>,
}

/// A registration with the hub; unregisters itself when dropped.
pub(super) struct Subscription {
    rx: mpsc::Receiver<Arc<Event>>,
    lagged: Arc<AtomicBool>,
    hub: Weak<Hub>,
    id: u64,
}

impl Drop for Subscription {
    fn drop(&mut self) {
        if let Some(hub) = self.hub.upgrade() {
            hub.lock().watchers.remove(&self.id);
        }
    }
}

impl Hub {
    fn lock(&self) -> MutexGuard<'_, HubInner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Registers a watcher for every event published from now on under `prefix`.
    pub(super) fn subscribe(
        self: &Arc<Self>,
        prefix: &str,
        capacity: usize,
    ) -> Result<Subscription, StoreError> {
        let (tx, rx) = mpsc::channel(capacity.max(1));
        let lagged = Arc::new(AtomicBool::new(false));
        let mut inner = self.lock();
        if inner.closed {
            return Err(StoreError::Closed);
        }
        let id = inner.next_id;
        inner.next_id += 1;
        inner.watchers.insert(
            id,
            Slot {
                prefix: prefix.to_owned(),
                tx,
                lagged: Arc::clone(&lagged),
            },
        );
        Ok(Subscription {
            rx,
            lagged,
            hub: Arc::downgrade(self),
            id,
        })
    }

    /// Hands committed events (in revision order) to every interested watcher, dropping the
    /// ones whose queue is full or whose stream is gone.
    pub(super) fn publish(&self, events: &[Arc<Event>]) {
        if events.is_empty() {
            return;
        }
        self.lock().watchers.retain(|_, slot| {
            for event in events
                .iter()
                .filter(|ev| ev.kv.key.starts_with(&slot.prefix))
            {
                match slot.tx.try_send(Arc::clone(event)) {
                    Ok(()) => {}
                    Err(TrySendError::Full(_)) => {
                        slot.lagged.store(true, Ordering::SeqCst);
                        return false;
                    }
                    Err(TrySendError::Closed(_)) => return false,
                }
            }
            true
        });
    }

    /// Ends every watch stream and refuses new ones.
    pub(super) fn close(&self) {
        let mut inner = self.lock();
        inner.closed = true;
        inner.watchers.clear();
    }

    #[cfg(test)]
    pub(super) fn watcher_count(&self) -> usize {
        self.lock().watchers.len()
    }
}

struct WatchState {
    reader: Arc<ReadPool>,
    shared: Arc<Shared>,
    prefix: String,
    sub: Subscription,
    buf: VecDeque<Event>,
    /// Next history position to read from, while catching up.
    cursor: Revision,
    replay_done: bool,
    /// Revision of the last event handed out; anything at or below it is a duplicate.
    last: Revision,
    finished: bool,
}

/// Starts a watch: subscribes to live events first, then reads the history after `after`, so
/// that no change falls between the two. Errors of the first history read (compacted or
/// future revision) are returned here rather than in the stream.
pub(super) async fn start(
    reader: Arc<ReadPool>,
    shared: Arc<Shared>,
    prefix: &str,
    after: Revision,
    capacity: usize,
) -> Result<WatchStream, StoreError> {
    let sub = shared.hub.subscribe(prefix, capacity)?;
    let mut state = WatchState {
        reader,
        shared,
        prefix: prefix.to_owned(),
        sub,
        buf: VecDeque::new(),
        cursor: after,
        replay_done: false,
        last: after,
        finished: false,
    };
    state.read_page().await?;
    Ok(futures::stream::unfold(state, WatchState::next).boxed())
}

impl WatchState {
    async fn read_page(&mut self) -> Result<(), StoreError> {
        let (prefix, cursor) = (self.prefix.clone(), self.cursor);
        let page: ReplayPage = self
            .reader
            .run(move |conn| replay_page(conn, &prefix, cursor, REPLAY_PAGE))
            .await?;
        self.cursor = page.cursor;
        self.replay_done = page.done;
        self.buf.extend(page.events);
        Ok(())
    }

    async fn next(mut self) -> Option<(Result<Event, StoreError>, Self)> {
        loop {
            if self.finished {
                return None;
            }
            if let Some(event) = self.buf.pop_front() {
                if event.revision() > self.last {
                    self.last = event.revision();
                    return Some((Ok(event), self));
                }
                continue;
            }
            if !self.replay_done {
                if let Err(err) = self.read_page().await {
                    self.finished = true;
                    return Some((Err(err), self));
                }
                continue;
            }
            match self.sub.rx.recv().await {
                Some(event) if event.revision() > self.last => {
                    self.last = event.revision();
                    return Some((Ok(Event::clone(&event)), self));
                }
                Some(_) => {}
                None => {
                    self.finished = true;
                    if !self.sub.lagged.load(Ordering::SeqCst) {
                        return None;
                    }
                    // The watcher missed events; it must re-list from the current revision.
                    let err = StoreError::Compacted {
                        requested: self.last,
                        oldest: self.shared.current.load(Ordering::SeqCst),
                    };
                    return Some((Err(err), self));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{EventKind, KeyValue};

    fn event(key: &str, rev: Revision) -> Arc<Event> {
        Arc::new(Event {
            kind: EventKind::Created,
            kv: KeyValue {
                key: key.into(),
                value: bytes::Bytes::new(),
                create_revision: rev,
                mod_revision: rev,
            },
            prev: None,
        })
    }

    #[test]
    fn a_full_queue_marks_only_that_watcher_as_lagging() {
        let hub = Arc::new(Hub::default());
        let mut slow = hub.subscribe("/a/", 2).unwrap();
        let mut other = hub.subscribe("/b/", 2).unwrap();
        hub.publish(&[event("/a/1", 1), event("/a/2", 2), event("/b/1", 3)]);
        assert_eq!(hub.watcher_count(), 2);
        hub.publish(&[event("/a/3", 4)]);
        assert_eq!(hub.watcher_count(), 1);
        assert!(slow.lagged.load(Ordering::SeqCst));
        assert_eq!(slow.rx.try_recv().unwrap().revision(), 1);
        assert_eq!(other.rx.try_recv().unwrap().revision(), 3);
        assert!(!other.lagged.load(Ordering::SeqCst));
    }

    #[test]
    fn prefixes_are_plain_string_prefixes() {
        let hub = Arc::new(Hub::default());
        let mut sub = hub.subscribe("/vms/ns/vm1/", 8).unwrap();
        hub.publish(&[event("/vms/ns/vm1x", 1), event("/vms/ns/vm1/a", 2)]);
        assert_eq!(sub.rx.try_recv().unwrap().revision(), 2);
        assert!(sub.rx.try_recv().is_err());
    }

    #[test]
    fn dropping_a_subscription_unregisters_it() {
        let hub = Arc::new(Hub::default());
        let sub = hub.subscribe("/", 8).unwrap();
        assert_eq!(hub.watcher_count(), 1);
        drop(sub);
        assert_eq!(hub.watcher_count(), 0);
    }
}
