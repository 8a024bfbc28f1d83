//! Controller expectations: the creations and deletions a controller has asked for and not yet
//! seen in its cache. While a key has unmet expectations the controller must not act on it
//! again, so a stale cache never leads to a duplicate create or delete.
//!
//! Expectations expire after [`EXPECTATIONS_TTL`], as upstream's do, so a lost event cannot
//! block a key forever.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long unmet expectations are trusted.
pub const EXPECTATIONS_TTL: Duration = Duration::from_secs(5 * 60);

#[derive(Debug, Clone)]
struct Entry {
    adds: i64,
    deletes: HashSet<String>,
    set_at: Instant,
}

/// Per-key expectations, safe to share between tasks.
#[derive(Debug, Default)]
pub struct Expectations {
    inner: Mutex<HashMap<String, Entry>>,
}

impl Expectations {
    pub fn new() -> Self {
        Expectations::default()
    }

    fn with<R>(&self, key: &str, f: impl FnOnce(&mut Entry) -> R) -> R {
        let mut map = self.inner.lock().expect("expectations lock");
        let e = map.entry(key.to_string()).or_insert_with(|| Entry {
            adds: 0,
            deletes: HashSet::new(),
            set_at: Instant::now(),
        });
        f(e)
    }

    /// Records that `n` objects are about to be created for `key`.
    pub fn expect_creations(&self, key: &str, n: i64) {
        self.with(key, |e| {
            e.adds += n;
            e.set_at = Instant::now();
        });
    }

    /// Records that the objects with these uids are about to be deleted for `key`.
    pub fn expect_deletions(&self, key: &str, uids: impl IntoIterator<Item = String>) {
        self.with(key, |e| {
            e.deletes.extend(uids);
            e.set_at = Instant::now();
        });
    }

    /// A creation for `key` was seen (or failed and will not happen).
    pub fn creation_observed(&self, key: &str) {
        self.with(key, |e| e.adds = (e.adds - 1).max(0));
    }

    /// The deletion of `uid` for `key` was seen (or failed and will not happen).
    pub fn deletion_observed(&self, key: &str, uid: &str) {
        self.with(key, |e| {
            e.deletes.remove(uid);
        });
    }

    /// Whether a creation is still expected for `key`.
    pub fn creation_pending(&self, key: &str) -> bool {
        self.pending(key).0
    }

    /// Whether any deletion is still expected for `key`.
    pub fn deletion_pending(&self, key: &str) -> bool {
        self.pending(key).1
    }

    fn pending(&self, key: &str) -> (bool, bool) {
        let map = self.inner.lock().expect("expectations lock");
        match map.get(key) {
            Some(e) if e.set_at.elapsed() < EXPECTATIONS_TTL => (e.adds > 0, !e.deletes.is_empty()),
            _ => (false, false),
        }
    }

    /// True when nothing is pending for `key` (or what was pending has expired).
    pub fn satisfied(&self, key: &str) -> bool {
        let (a, d) = self.pending(key);
        !a && !d
    }

    /// Forgets `key` (e.g. when its object is deleted).
    pub fn delete(&self, key: &str) {
        self.inner.lock().expect("expectations lock").remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn creations_are_pending_until_observed() {
        let e = Expectations::new();
        assert!(e.satisfied("ns/vm"));
        e.expect_creations("ns/vm", 1);
        assert!(!e.satisfied("ns/vm"));
        assert!(e.creation_pending("ns/vm"));
        e.creation_observed("ns/vm");
        assert!(e.satisfied("ns/vm"));
    }

    #[test]
    fn deletions_are_tracked_by_uid() {
        let e = Expectations::new();
        e.expect_deletions("k", ["a".to_string(), "b".to_string()]);
        e.deletion_observed("k", "a");
        assert!(e.deletion_pending("k"));
        e.deletion_observed("k", "b");
        assert!(e.satisfied("k"));
    }

    #[test]
    fn observing_more_than_expected_never_goes_negative() {
        let e = Expectations::new();
        e.creation_observed("k");
        e.expect_creations("k", 1);
        assert!(!e.satisfied("k"));
    }

    #[test]
    fn keys_are_independent_and_can_be_forgotten() {
        let e = Expectations::new();
        e.expect_creations("a", 2);
        assert!(e.satisfied("b"));
        e.delete("a");
        assert!(e.satisfied("a"));
    }
}
