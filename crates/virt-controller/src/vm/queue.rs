//! A work queue with client-go's semantics: a key is queued at most once, is never handed to two
//! workers at the same time (a key added while it is processed is queued again when the worker
//! is done), can be added after a delay, and is retried with per-key exponential backoff.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet, VecDeque};
use std::sync::Mutex;
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

/// First retry delay of a failing key; it doubles per failure.
pub const BASE_RETRY_DELAY: Duration = Duration::from_millis(5);
/// Largest retry delay of a failing key.
pub const MAX_RETRY_DELAY: Duration = Duration::from_secs(1000);

#[derive(Default)]
struct State {
    queue: VecDeque<String>,
    dirty: HashSet<String>,
    processing: HashSet<String>,
    waiting: BinaryHeap<Reverse<(Instant, String)>>,
    failures: HashMap<String, u32>,
}

/// The queue. Share it in an `Arc`.
#[derive(Default)]
pub struct WorkQueue {
    state: Mutex<State>,
    notify: Notify,
}

impl WorkQueue {
    pub fn new() -> Self {
        WorkQueue::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().expect("work queue lock")
    }

    /// Queues `key` unless it is already queued.
    pub fn add(&self, key: &str) {
        let mut s = self.lock();
        if !s.dirty.insert(key.to_string()) {
            return;
        }
        if !s.processing.contains(key) {
            s.queue.push_back(key.to_string());
            drop(s);
            self.notify.notify_one();
        }
    }

    /// Queues `key` once `delay` has passed.
    pub fn add_after(&self, key: &str, delay: Duration) {
        if delay.is_zero() {
            return self.add(key);
        }
        self.lock()
            .waiting
            .push(Reverse((Instant::now() + delay, key.to_string())));
        self.notify.notify_one();
    }

    /// Queues `key` after its next backoff delay.
    pub fn add_rate_limited(&self, key: &str) {
        let failures = {
            let mut s = self.lock();
            let n = s.failures.entry(key.to_string()).or_insert(0);
            *n += 1;
            *n
        };
        let factor = 2u32.saturating_pow(failures.saturating_sub(1).min(31));
        let delay = BASE_RETRY_DELAY.saturating_mul(factor).min(MAX_RETRY_DELAY);
        self.add_after(key, delay);
    }

    /// Resets the backoff of `key`.
    pub fn forget(&self, key: &str) {
        self.lock().failures.remove(key);
    }

    /// Number of failures recorded for `key` since it was last forgotten.
    pub fn failures(&self, key: &str) -> u32 {
        self.lock().failures.get(key).copied().unwrap_or(0)
    }

    /// Moves due delayed keys into the queue; returns when the next one is due.
    fn promote(&self, s: &mut State) -> Option<Instant> {
        let now = Instant::now();
        while let Some(Reverse((at, _))) = s.waiting.peek() {
            if *at > now {
                return Some(*at);
            }
            let Reverse((_, key)) = s.waiting.pop().expect("peeked");
            if s.dirty.insert(key.clone()) && !s.processing.contains(&key) {
                s.queue.push_back(key);
            }
        }
        None
    }

    /// Waits for the next key; the caller must call [`WorkQueue::done`] with it.
    pub async fn get(&self) -> String {
        loop {
            let notified = self.notify.notified();
            let next_due = {
                let mut s = self.lock();
                let next_due = self.promote(&mut s);
                if let Some(key) = s.queue.pop_front() {
                    s.dirty.remove(&key);
                    s.processing.insert(key.clone());
                    if !s.queue.is_empty() {
                        self.notify.notify_one();
                    }
                    return key;
                }
                next_due
            };
            match next_due {
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

    /// Marks `key` as processed; if it was added meanwhile it is queued again.
    pub fn done(&self, key: &str) {
        let mut s = self.lock();
        s.processing.remove(key);
        if s.dirty.contains(key) {
            s.queue.push_back(key.to_string());
            drop(s);
            self.notify.notify_one();
        }
    }

    /// Keys queued now (not counting delayed ones).
    pub fn len(&self) -> usize {
        self.lock().queue.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[tokio::test]
    async fn a_key_is_queued_once() {
        let q = WorkQueue::new();
        q.add("a");
        q.add("a");
        q.add("b");
        assert_eq!(q.len(), 2);
        assert_eq!(q.get().await, "a");
        assert_eq!(q.get().await, "b");
    }

    #[tokio::test]
    async fn a_key_added_while_processed_comes_back_after_done() {
        let q = WorkQueue::new();
        q.add("a");
        let k = q.get().await;
        q.add("a");
        assert!(q.is_empty(), "not handed out twice at once");
        q.done(&k);
        assert_eq!(q.get().await, "a");
    }

    #[tokio::test(start_paused = true)]
    async fn delayed_keys_arrive_after_their_delay() {
        let q = Arc::new(WorkQueue::new());
        let start = Instant::now();
        q.add_after("late", Duration::from_secs(30));
        q.add_after("early", Duration::from_secs(10));
        assert_eq!(q.get().await, "early");
        assert!(start.elapsed() >= Duration::from_secs(10));
        assert_eq!(q.get().await, "late");
        assert!(start.elapsed() >= Duration::from_secs(30));
    }

    #[tokio::test(start_paused = true)]
    async fn failures_back_off_exponentially_until_forgotten() {
        let q = WorkQueue::new();
        for _ in 0..3 {
            q.add_rate_limited("k");
            let k = q.get().await;
            q.done(&k);
        }
        assert_eq!(q.failures("k"), 3);
        let start = Instant::now();
        q.add_rate_limited("k");
        q.get().await;
        assert!(start.elapsed() >= BASE_RETRY_DELAY * 8);
        q.forget("k");
        assert_eq!(q.failures("k"), 0);
    }
}
