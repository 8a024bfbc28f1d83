//! The storage contract of `apiserver::store`. The checks are generic over a [`Harness`]
//! (module `contract`) so that every backend can run the same suite; here they run against
//! `SqliteStore` on a temporary directory, followed by checks specific to that backend.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use apiserver::store::{SqliteOptions, SqliteStore, Storage, StoreError};
use async_trait::async_trait;

/// How a backend under test is opened and restarted.
#[async_trait]
pub trait Harness: Send + Sync {
    /// The store under test (the same one until `restart`).
    async fn store(&self) -> Arc<dyn Storage>;
    /// Shuts the store down and opens it again on the same data.
    async fn restart(&self) -> Arc<dyn Storage>;
    /// How many queued events a watcher may have before it is ended as lagging.
    fn watch_capacity(&self) -> usize;
}

#[path = "store_contract/contract.rs"]
mod contract;

/// Runs the contract against a `SqliteStore` in a fresh temporary directory.
struct Sqlite {
    dir: tempfile::TempDir,
    store: Mutex<Option<Arc<SqliteStore>>>,
}

const CAPACITY: usize = 256;

fn options() -> SqliteOptions {
    SqliteOptions {
        watch_capacity: CAPACITY,
        compaction_interval: None,
        ..SqliteOptions::default()
    }
}

impl Sqlite {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("store.db"), options()).unwrap();
        Sqlite {
            dir,
            store: Mutex::new(Some(Arc::new(store))),
        }
    }
}

#[async_trait]
impl Harness for Sqlite {
    async fn store(&self) -> Arc<dyn Storage> {
        self.store
            .lock()
            .unwrap()
            .clone()
            .expect("the store is open")
    }

    async fn restart(&self) -> Arc<dyn Storage> {
        let old = self
            .store
            .lock()
            .unwrap()
            .take()
            .expect("the store is open");
        old.close().await;
        let store =
            Arc::new(SqliteStore::open(&self.dir.path().join("store.db"), options()).unwrap());
        *self.store.lock().unwrap() = Some(Arc::clone(&store));
        store
    }

    fn watch_capacity(&self) -> usize {
        CAPACITY
    }
}

macro_rules! sqlite_contract {
    ($($name:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                contract::$name(&Sqlite::new()).await;
            }
        )*
    };
}

sqlite_contract!(
    create_of_an_existing_key_is_already_exists,
    get_returns_the_latest_value_or_nothing,
    stale_update_is_a_conflict_naming_the_current_revision,
    every_update_takes_a_new_revision_even_with_the_same_value,
    delete_checks_the_expected_revision_and_returns_the_last_value,
    revisions_strictly_increase_across_all_keys,
    list_is_in_key_order_and_respects_prefix_start_and_limit,
    a_later_page_at_the_first_pages_revision_shows_the_old_state,
    list_rejects_future_and_compacted_revisions,
    watch_delivers_every_change_in_order_with_previous_values,
    watch_resumes_from_a_revision_without_gaps_or_repeats,
    replayed_deletes_and_updates_carry_previous_values,
    watch_from_a_compacted_revision_is_compacted,
    watch_from_a_future_revision_is_rejected,
    a_lagging_watcher_is_ended_while_others_and_writers_continue,
    concurrent_writers_all_succeed_with_distinct_revisions,
    only_one_of_concurrent_compare_and_swaps_wins,
    a_restart_keeps_objects_revisions_and_watch_history,
    compaction_keeps_the_latest_state,
    list_at_every_revision_matches_the_history,
    a_watch_started_during_a_write_storm_has_no_gaps_or_repeats,
);

// Behaviour specific to the SQLite backend.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_open_of_the_same_file_is_refused_until_the_first_closes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.db");
    let first = SqliteStore::open(&path, options()).unwrap();
    let second = SqliteStore::open(&path, options());
    assert!(matches!(second, Err(StoreError::Backend(_))), "{second:?}");
    first.create("/x", "v".into()).await.unwrap();
    first.close().await;
    assert_eq!(
        first.create("/y", "v".into()).await,
        Err(StoreError::Closed)
    );
    assert_eq!(first.get("/x").await, Err(StoreError::Closed));
    let reopened = SqliteStore::open(&path, options()).unwrap();
    assert_eq!(
        reopened.get("/x").await.unwrap().map(|kv| kv.mod_revision),
        Some(1)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closing_ends_watch_streams() {
    use futures::StreamExt;
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("store.db"), options()).unwrap();
    let mut w = store.watch("/", 0).await.unwrap();
    store.close().await;
    let end = tokio::time::timeout(Duration::from_secs(10), w.next())
        .await
        .unwrap();
    assert!(end.is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn background_compaction_keeps_the_configured_history() {
    let dir = tempfile::tempdir().unwrap();
    let options = SqliteOptions {
        compaction_retain: 10,
        compaction_interval: Some(Duration::from_millis(20)),
        full_sync: false,
        ..SqliteOptions::default()
    };
    let store = SqliteStore::open(&dir.path().join("store.db"), options).unwrap();
    let mut kv = store.create("/bg/a", "0".into()).await.unwrap();
    for i in 1..50 {
        kv = store
            .update("/bg/a", kv.mod_revision, i.to_string().into())
            .await
            .unwrap();
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while store.compacted_revision() < 40 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "background compaction did not run"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(store.compacted_revision(), 40);
    let old = store.watch("/bg/", 39).await;
    assert!(matches!(old, Err(StoreError::Compacted { .. })));
    assert!(store.watch("/bg/", 40).await.is_ok());
    assert_eq!(store.get("/bg/a").await.unwrap(), Some(kv));
}
