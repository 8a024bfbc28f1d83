//! The embedded SQLite backend.
//!
//! One file holds a kine-style MVCC log (see [`schema`]) plus an index of the latest row per
//! key. Writes go through one writer thread that group-commits ([`writer`]); reads run on a
//! small pool of WAL read connections on the blocking thread pool ([`read`]); watchers get
//! history from the log, then live events from an in-memory fan-out ([`watch`]).
//!
//! Beyond the [`Storage`] contract this backend guarantees:
//! - Durability: the write-ahead log is synced before a write is acknowledged (with
//!   [`SqliteOptions::full_sync`], the default; otherwise writes survive a process crash but
//!   not a power loss).
//! - Revisions continue across restarts from the last committed one, and a watch from a
//!   revision obtained before a restart works after it unless that revision was compacted.
//! - `watch(prefix, after)` takes `after` literally, `0` included: once anything was compacted,
//!   `watch(_, 0)` fails with `Compacted`. Pass [`Storage::current_revision`] to get only live
//!   changes. `after` above the latest revision fails with `FutureRevision`.
//! - A watcher whose queue ([`SqliteOptions::watch_capacity`] events under its prefix) overflows
//!   gets the events already queued, then `Err(Compacted { requested: <last delivered>,
//!   oldest: <current revision> })`, then the end of the stream.
//! - `list` with `limit: Some(0)` means no limit. `list` at a past revision at or above the
//!   compaction floor returns exactly the state at that revision.
//! - One process at a time may open a store file (a lock file next to it enforces this).

mod read;
mod schema;
mod watch;
mod writer;

use std::fs::{File, TryLockError};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, mpsc};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use tokio::sync::oneshot;

use super::{KeyValue, ListRequest, ListResponse, Revision, Storage, StoreError, WatchStream};
use read::ReadPool;
use watch::Hub;
use writer::{Op, Request, Writer};

/// Tuning of a [`SqliteStore`].
#[derive(Clone, Debug)]
pub struct SqliteOptions {
    /// How many revisions of history background compaction keeps for `watch` and `list` at a
    /// revision.
    pub compaction_retain: u64,
    /// How often background compaction runs; `None` turns it off ([`Storage::compact`] still
    /// works).
    pub compaction_interval: Option<Duration>,
    /// How many not yet consumed events a watcher may have queued before it is ended.
    pub watch_capacity: usize,
    /// How many idle read connections are kept open.
    pub read_connections: usize,
    /// Sync the write-ahead log on every commit (survives power loss). Without it, commits
    /// still survive a crash of the process.
    pub full_sync: bool,
}

impl Default for SqliteOptions {
    fn default() -> Self {
        Self {
            compaction_retain: 10_000,
            compaction_interval: Some(Duration::from_secs(60)),
            watch_capacity: 1024,
            read_connections: 4,
            full_sync: true,
        }
    }
}

/// State shared by the writer thread, readers and watchers.
struct Shared {
    current: AtomicU64,
    compacted: AtomicU64,
    closed: AtomicBool,
    hub: Arc<Hub>,
}

/// A [`Storage`] backed by one SQLite file.
pub struct SqliteStore {
    requests: mpsc::Sender<Request>,
    shared: Arc<Shared>,
    reader: Arc<ReadPool>,
    watch_capacity: usize,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field(
                "current_revision",
                &self.shared.current.load(Ordering::SeqCst),
            )
            .field(
                "compacted_revision",
                &self.shared.compacted.load(Ordering::SeqCst),
            )
            .finish_non_exhaustive()
    }
}

fn lock_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".lock");
    PathBuf::from(name)
}

fn lock(path: &Path) -> Result<File, StoreError> {
    let file = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(lock_path(path))
        .map_err(|err| StoreError::Backend(format!("cannot open the lock file: {err}")))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(TryLockError::WouldBlock) => Err(StoreError::Backend(
            "the store is in use by another process".into(),
        )),
        Err(TryLockError::Error(err)) => {
            Err(StoreError::Backend(format!("cannot lock the store: {err}")))
        }
    }
}

impl SqliteStore {
    /// Opens the store at `path`, creating the file and schema if missing. Starts the writer
    /// thread; needs no async runtime, but reads and watches must run inside a Tokio runtime.
    pub fn open(path: &Path, options: SqliteOptions) -> Result<SqliteStore, StoreError> {
        let lock = lock(path)?;
        let conn = schema::open_writer(path, options.full_sync)?;
        let (last, floor) = schema::revisions(&conn).map_err(schema::backend)?;
        let shared = Arc::new(Shared {
            current: AtomicU64::new(last),
            compacted: AtomicU64::new(floor),
            closed: AtomicBool::new(false),
            hub: Arc::new(Hub::default()),
        });
        let (requests, rx) = mpsc::channel();
        let writer = Writer {
            conn,
            shared: Arc::clone(&shared),
            rx,
            last,
            floor,
            retain: options
                .compaction_interval
                .map(|_| options.compaction_retain),
            interval: options
                .compaction_interval
                .unwrap_or(Duration::from_secs(3600)),
            _lock: lock,
        };
        std::thread::Builder::new()
            .name("store-writer".into())
            .spawn(move || writer.run())
            .map_err(|err| StoreError::Backend(format!("cannot start the writer: {err}")))?;
        let reader = Arc::new(ReadPool::new(path.to_owned(), options.read_connections));
        Ok(SqliteStore {
            requests,
            shared,
            reader,
            watch_capacity: options.watch_capacity,
        })
    }

    /// Finishes the writes already queued, ends all watches and closes the file. Afterwards
    /// every call fails with `Closed` and the file may be opened again.
    pub async fn close(&self) {
        let (reply, done) = oneshot::channel();
        if self.requests.send(Request::Close { reply }).is_ok() {
            let _ = done.await;
        }
        self.reader.clear();
    }

    fn check_open(&self) -> Result<(), StoreError> {
        if self.shared.closed.load(Ordering::SeqCst) {
            return Err(StoreError::Closed);
        }
        Ok(())
    }

    async fn write(&self, op: Op) -> Result<KeyValue, StoreError> {
        let (reply, result) = oneshot::channel();
        self.requests
            .send(Request::Write { op, reply })
            .map_err(|_| StoreError::Closed)?;
        result.await.map_err(|_| StoreError::Closed)?
    }
}

#[async_trait]
impl Storage for SqliteStore {
    async fn get(&self, key: &str) -> Result<Option<KeyValue>, StoreError> {
        self.check_open()?;
        let key = key.to_owned();
        self.reader.run(move |conn| read::get(conn, &key)).await
    }

    async fn list(&self, req: ListRequest) -> Result<ListResponse, StoreError> {
        self.check_open()?;
        self.reader.run(move |conn| read::list(conn, &req)).await
    }

    async fn count(&self, prefix: &str) -> Result<u64, StoreError> {
        self.check_open()?;
        let prefix = prefix.to_owned();
        self.reader
            .run(move |conn| read::count(conn, &prefix))
            .await
    }

    async fn create(&self, key: &str, value: Bytes) -> Result<KeyValue, StoreError> {
        self.write(Op::Create {
            key: key.to_owned(),
            value,
        })
        .await
    }

    async fn update(
        &self,
        key: &str,
        expected: Revision,
        value: Bytes,
    ) -> Result<KeyValue, StoreError> {
        self.write(Op::Update {
            key: key.to_owned(),
            expected,
            value,
        })
        .await
    }

    async fn delete(&self, key: &str, expected: Option<Revision>) -> Result<KeyValue, StoreError> {
        self.write(Op::Delete {
            key: key.to_owned(),
            expected,
        })
        .await
    }

    async fn watch(&self, prefix: &str, after: Revision) -> Result<WatchStream, StoreError> {
        self.check_open()?;
        watch::start(
            Arc::clone(&self.reader),
            Arc::clone(&self.shared),
            prefix,
            after,
            self.watch_capacity,
        )
        .await
    }

    fn current_revision(&self) -> Revision {
        self.shared.current.load(Ordering::SeqCst)
    }

    fn compacted_revision(&self) -> Revision {
        self.shared.compacted.load(Ordering::SeqCst)
    }

    async fn compact(&self, revision: Revision) -> Result<(), StoreError> {
        let (reply, result) = oneshot::channel();
        self.requests
            .send(Request::Compact { revision, reply })
            .map_err(|_| StoreError::Closed)?;
        result.await.map_err(|_| StoreError::Closed)?
    }
}
