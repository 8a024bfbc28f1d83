//! Durable key-value storage with one global revision, compare-and-swap writes and watch.
//!
//! The store knows nothing of Kubernetes objects: keys are strings, values are opaque bytes
//! (the API layer stores JSON). Every successful write gets the next global [`Revision`], which
//! the API layer reports as `metadata.resourceVersion`.
//!
//! Guarantees every backend must give (checked by the contract suite in `tests/store_contract.rs`):
//! - A write that returned `Ok` survives a crash of the process (kill -9).
//! - Revisions strictly increase; each write gets exactly one.
//! - `update`/`delete` with an expected revision fail with [`StoreError::Conflict`] when the
//!   key's current modification revision differs.
//! - `watch(prefix, after)` yields every change under `prefix` with revision `> after`, in
//!   revision order, without gaps, followed by live changes. If `after` is older than the
//!   compaction floor it fails with [`StoreError::Compacted`]. A watcher that cannot keep up is
//!   ended with [`StoreError::Compacted`] rather than slowing writers or other watchers.
//! - `list` at a past revision (for paginated lists) returns the state as of that revision, or
//!   [`StoreError::Compacted`] if that revision was compacted.

pub mod sqlite;

pub use sqlite::{SqliteOptions, SqliteStore};

use std::fmt;

use async_trait::async_trait;
use bytes::Bytes;
use futures::stream::BoxStream;

/// A global, strictly increasing revision number. `0` means "nothing written yet".
pub type Revision = u64;

/// One stored value with its revisions.
#[derive(Clone, PartialEq, Eq)]
pub struct KeyValue {
    pub key: String,
    pub value: Bytes,
    /// Revision of the write that created the key (survives updates).
    pub create_revision: Revision,
    /// Revision of the last write to the key.
    pub mod_revision: Revision,
}

impl fmt::Debug for KeyValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyValue")
            .field("key", &self.key)
            .field("len", &self.value.len())
            .field("create_revision", &self.create_revision)
            .field("mod_revision", &self.mod_revision)
            .finish()
    }
}

/// What happened to a key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventKind {
    Created,
    Updated,
    Deleted,
}

/// One change, as delivered to watchers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    pub kind: EventKind,
    /// The value after the change; for `Deleted`, the last value the key had. Its
    /// `mod_revision` is the revision of this event (for deletes: the delete's revision).
    pub kv: KeyValue,
    /// The value before the change (`None` for `Created`). Lets the API layer tell when an
    /// object enters or leaves a selector.
    pub prev: Option<KeyValue>,
}

impl Event {
    pub fn revision(&self) -> Revision {
        self.kv.mod_revision
    }
}

/// A list request over a key prefix, in key order.
#[derive(Clone, Debug, Default)]
pub struct ListRequest {
    pub prefix: String,
    /// Only keys strictly greater than this one (the continue position).
    pub start_after: Option<String>,
    /// At most this many items; `None` for all.
    pub limit: Option<usize>,
    /// The revision to read at; `None` for the latest.
    pub revision: Option<Revision>,
}

/// A page of results.
#[derive(Clone, Debug)]
pub struct ListResponse {
    pub items: Vec<KeyValue>,
    /// The revision the list was read at (the store's revision when `revision` was `None`).
    pub revision: Revision,
    /// Whether keys past the last returned one remain.
    pub more: bool,
}

/// A stream of changes; ends with `Err(Compacted)` when the watcher fell behind.
pub type WatchStream = BoxStream<'static, Result<Event, StoreError>>;

#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum StoreError {
    #[error("key already exists")]
    AlreadyExists,
    #[error("key not found")]
    NotFound,
    #[error("the key was modified at revision {current}")]
    Conflict { current: Revision },
    #[error("revision {requested} is compacted; the oldest available is {oldest}")]
    Compacted {
        requested: Revision,
        oldest: Revision,
    },
    #[error("revision {requested} is newer than the current revision {current}")]
    FutureRevision {
        requested: Revision,
        current: Revision,
    },
    #[error("storage failure: {0}")]
    Backend(String),
    #[error("the store is closed")]
    Closed,
}

/// Storage backend used by the API server.
#[async_trait]
pub trait Storage: Send + Sync + 'static {
    /// The current value of `key`, if any.
    async fn get(&self, key: &str) -> Result<Option<KeyValue>, StoreError>;

    /// Keys under a prefix, in key order, at the latest or a past revision.
    async fn list(&self, req: ListRequest) -> Result<ListResponse, StoreError>;

    /// Number of live keys under a prefix at the latest revision.
    async fn count(&self, prefix: &str) -> Result<u64, StoreError>;

    /// Creates `key`; fails with `AlreadyExists` if it is present.
    async fn create(&self, key: &str, value: Bytes) -> Result<KeyValue, StoreError>;

    /// Replaces `key` if its current `mod_revision` is `expected`.
    async fn update(
        &self,
        key: &str,
        expected: Revision,
        value: Bytes,
    ) -> Result<KeyValue, StoreError>;

    /// Deletes `key` (if `expected` is set, only when its `mod_revision` matches). Returns the
    /// deleted value with `mod_revision` set to the delete's revision.
    async fn delete(&self, key: &str, expected: Option<Revision>) -> Result<KeyValue, StoreError>;

    /// Changes under `prefix` with revision greater than `after`, then live changes.
    async fn watch(&self, prefix: &str, after: Revision) -> Result<WatchStream, StoreError>;

    /// The latest committed revision.
    fn current_revision(&self) -> Revision;

    /// The oldest revision that `watch` and `list` at a revision can still serve from.
    fn compacted_revision(&self) -> Revision;

    /// Drops history older than `revision` (superseded values and tombstones).
    async fn compact(&self, revision: Revision) -> Result<(), StoreError>;
}
