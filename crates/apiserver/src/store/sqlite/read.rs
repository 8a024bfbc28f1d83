//! Queries that only read, and the pool of read connections that runs them.
//!
//! Every query runs inside one read transaction, so the revision it reports and the rows it
//! returns come from the same snapshot (WAL readers see the last commit made before they
//! started and are never blocked by the writer).

use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};

use bytes::Bytes;
use rusqlite::{Connection, OptionalExtension, Row};

use super::schema::{backend, open_reader, prefix_upper, rev_col, revisions, sql_rev};
use crate::store::{Event, EventKind, KeyValue, ListRequest, ListResponse, Revision, StoreError};

/// Connections for readers. Idle ones are kept up to a limit; when all are busy a new one is
/// opened rather than making the caller wait, so reads never queue behind each other.
pub(super) struct ReadPool {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
    max_idle: usize,
}

impl ReadPool {
    pub(super) fn new(path: PathBuf, max_idle: usize) -> Self {
        Self {
            path,
            idle: Mutex::new(Vec::new()),
            max_idle: max_idle.max(1),
        }
    }

    /// Runs `f` with a read connection on the blocking thread pool.
    pub(super) async fn run<T, F>(self: &Arc<Self>, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let pool = Arc::clone(self);
        tokio::task::spawn_blocking(move || {
            let conn = pool.take()?;
            let result = f(&conn);
            pool.give_back(conn);
            result
        })
        .await
        .map_err(|err| StoreError::Backend(format!("read task failed: {err}")))?
    }

    fn take(&self) -> Result<Connection, StoreError> {
        let idle = self
            .idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop();
        match idle {
            Some(conn) => Ok(conn),
            None => open_reader(&self.path),
        }
    }

    fn give_back(&self, conn: Connection) {
        let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        if idle.len() < self.max_idle {
            idle.push(conn);
        }
    }

    /// Closes the idle connections (busy ones close when their query ends).
    pub(super) fn clear(&self) {
        self.idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
    }
}

/// Which keys a range query covers: `lower` (inclusive or not) up to `upper` (exclusive).
struct KeyRange {
    lower: Vec<u8>,
    lower_inclusive: bool,
    upper: Option<Vec<u8>>,
}

impl KeyRange {
    fn new(prefix: &str, start_after: Option<&str>) -> Self {
        let upper = prefix_upper(prefix);
        match start_after {
            Some(after) if after.as_bytes() >= prefix.as_bytes() => KeyRange {
                lower: after.as_bytes().to_vec(),
                lower_inclusive: false,
                upper,
            },
            _ => KeyRange {
                lower: prefix.as_bytes().to_vec(),
                lower_inclusive: true,
                upper,
            },
        }
    }

    /// The SQL condition on `column`, binding the lower bound as `?1` and the upper as `?2`.
    fn condition(&self, column: &str) -> String {
        let op = if self.lower_inclusive { ">=" } else { ">" };
        match self.upper {
            Some(_) => format!("{column} {op} ?1 AND {column} < ?2"),
            None => format!("{column} {op} ?1 AND ?2 IS NULL"),
        }
    }
}

fn key_of(row: &Row<'_>, idx: usize) -> rusqlite::Result<String> {
    let bytes: Vec<u8> = row.get(idx)?;
    String::from_utf8(bytes).map_err(|err| {
        rusqlite::Error::FromSqlConversionFailure(idx, rusqlite::types::Type::Blob, err.into())
    })
}

fn bytes_of(row: &Row<'_>, idx: usize) -> rusqlite::Result<Bytes> {
    Ok(Bytes::from(row.get::<_, Vec<u8>>(idx)?))
}

/// `limit` as SQLite understands it, asking for one extra row to learn whether more remain.
fn sql_limit(limit: Option<usize>) -> i64 {
    match limit {
        Some(n) if n > 0 => i64::try_from(n).unwrap_or(i64::MAX - 1) + 1,
        _ => -1,
    }
}

fn effective_limit(limit: Option<usize>) -> Option<usize> {
    limit.filter(|n| *n > 0)
}

pub(super) fn get(conn: &Connection, key: &str) -> Result<Option<KeyValue>, StoreError> {
    conn.prepare_cached(
        "SELECT l.create_rev, l.rev, l.value FROM current c JOIN log l ON l.rev = c.rev \
         WHERE c.key = ?1",
    )
    .and_then(|mut stmt| {
        stmt.query_row([key.as_bytes()], |row| {
            Ok(KeyValue {
                key: key.to_owned(),
                create_revision: rev_col(row, 0)?,
                mod_revision: rev_col(row, 1)?,
                value: bytes_of(row, 2)?,
            })
        })
        .optional()
    })
    .map_err(backend)
}

pub(super) fn count(conn: &Connection, prefix: &str) -> Result<u64, StoreError> {
    let range = KeyRange::new(prefix, None);
    let sql = format!(
        "SELECT COUNT(*) FROM current WHERE {}",
        range.condition("key")
    );
    conn.prepare_cached(&sql)
        .and_then(|mut stmt| stmt.query_row((&range.lower, &range.upper), |row| rev_col(row, 0)))
        .map_err(backend)
}

/// Lists keys at the latest revision or, with `req.revision`, as of a past one.
pub(super) fn list(conn: &Connection, req: &ListRequest) -> Result<ListResponse, StoreError> {
    let tx = conn.unchecked_transaction().map_err(backend)?;
    let (current, floor) = revisions(&tx).map_err(backend)?;
    let range = KeyRange::new(&req.prefix, req.start_after.as_deref());
    let limit = effective_limit(req.limit);
    let (mut items, revision) = match req.revision {
        Some(rev) if rev > current => {
            return Err(StoreError::FutureRevision {
                requested: rev,
                current,
            });
        }
        Some(rev) if rev < floor => {
            return Err(StoreError::Compacted {
                requested: rev,
                oldest: floor,
            });
        }
        Some(rev) if rev < current => (list_at(&tx, &range, limit, rev).map_err(backend)?, rev),
        _ => (list_latest(&tx, &range, limit).map_err(backend)?, current),
    };
    let more = limit.is_some_and(|n| items.len() > n);
    if let Some(n) = limit {
        items.truncate(n);
    }
    tx.finish().map_err(backend)?;
    Ok(ListResponse {
        items,
        revision,
        more,
    })
}

fn list_latest(
    conn: &Connection,
    range: &KeyRange,
    limit: Option<usize>,
) -> rusqlite::Result<Vec<KeyValue>> {
    let sql = format!(
        "SELECT c.key, l.create_rev, l.rev, l.value FROM current c JOIN log l ON l.rev = c.rev \
         WHERE {} ORDER BY c.key LIMIT ?3",
        range.condition("c.key")
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map((&range.lower, &range.upper, sql_limit(limit)), |row| {
        Ok(KeyValue {
            key: key_of(row, 0)?,
            create_revision: rev_col(row, 1)?,
            mod_revision: rev_col(row, 2)?,
            value: bytes_of(row, 3)?,
        })
    })?;
    rows.collect()
}

/// The state as of `rev`: for each key the newest row at or below `rev`, unless that row is a
/// tombstone. The index is ordered by key, then newest revision first, so the first row of each
/// key is the one that counts and the scan stops as soon as the page is full.
fn list_at(
    conn: &Connection,
    range: &KeyRange,
    limit: Option<usize>,
    rev: Revision,
) -> rusqlite::Result<Vec<KeyValue>> {
    let sql = format!(
        "SELECT key, rev, deleted, create_rev, value FROM log INDEXED BY log_key_rev \
         WHERE {} AND rev <= ?3 ORDER BY key, rev DESC",
        range.condition("key")
    );
    let want = limit.map(|n| n.saturating_add(1));
    let mut stmt = conn.prepare_cached(&sql)?;
    let mut rows = stmt.query((&range.lower, &range.upper, sql_rev(rev)))?;
    let mut items = Vec::new();
    let mut last_key: Option<Vec<u8>> = None;
    while let Some(row) = rows.next()? {
        let key = row.get_ref(0)?.as_blob()?;
        if last_key.as_deref() == Some(key) {
            continue;
        }
        last_key = Some(key.to_vec());
        if row.get::<_, bool>(2)? {
            continue;
        }
        items.push(KeyValue {
            key: key_of(row, 0)?,
            mod_revision: rev_col(row, 1)?,
            create_revision: rev_col(row, 3)?,
            value: bytes_of(row, 4)?,
        });
        if want.is_some_and(|n| items.len() >= n) {
            break;
        }
    }
    Ok(items)
}

/// One page of history for a watcher.
pub(super) struct ReplayPage {
    pub(super) events: Vec<Event>,
    /// Where the next page starts (exclusive).
    pub(super) cursor: Revision,
    /// Whether the history is exhausted (later changes arrive live).
    pub(super) done: bool,
}

/// Changes under `prefix` with revision greater than `cursor`, oldest first, at most `page`.
///
/// Fails with `Compacted` if compaction has passed `cursor` (rows after it may be gone), and
/// with `FutureRevision` if `cursor` is newer than the latest revision.
pub(super) fn replay_page(
    conn: &Connection,
    prefix: &str,
    cursor: Revision,
    page: usize,
) -> Result<ReplayPage, StoreError> {
    let tx = conn.unchecked_transaction().map_err(backend)?;
    let (current, floor) = revisions(&tx).map_err(backend)?;
    if cursor < floor {
        return Err(StoreError::Compacted {
            requested: cursor,
            oldest: floor,
        });
    }
    if cursor > current {
        return Err(StoreError::FutureRevision {
            requested: cursor,
            current,
        });
    }
    let range = KeyRange::new(prefix, None);
    // History since a watcher's revision is short compared to all keys, so walk revisions
    // (the primary key) rather than the key index.
    let sql = format!(
        "SELECT l.rev, l.key, l.create_rev, l.prev_rev, l.deleted, l.value, p.create_rev, p.value \
         FROM log AS l NOT INDEXED LEFT JOIN log AS p ON p.rev = l.prev_rev \
         WHERE l.rev > ?4 AND {} ORDER BY l.rev LIMIT ?3",
        range.condition("l.key")
    );
    let limit = i64::try_from(page.max(1)).unwrap_or(i64::MAX);
    let events = tx
        .prepare_cached(&sql)
        .and_then(|mut stmt| {
            let rows = stmt.query_map(
                (&range.lower, &range.upper, limit, sql_rev(cursor)),
                event_of_row,
            )?;
            rows.collect::<rusqlite::Result<Vec<Event>>>()
        })
        .map_err(backend)?;
    tx.finish().map_err(backend)?;
    let done = events.len() < page.max(1);
    let cursor = if done {
        current
    } else {
        events.last().map_or(current, Event::revision)
    };
    Ok(ReplayPage {
        events,
        cursor,
        done,
    })
}

fn event_of_row(row: &Row<'_>) -> rusqlite::Result<Event> {
    let rev = rev_col(row, 0)?;
    let key = key_of(row, 1)?;
    let create_revision = rev_col(row, 2)?;
    let prev_rev = rev_col(row, 3)?;
    let deleted: bool = row.get(4)?;
    let prev_found = row.get_ref(6)?.as_i64_or_null()?.is_some();
    let prev = match prev_found {
        true if prev_rev > 0 => Some(KeyValue {
            key: key.clone(),
            value: bytes_of(row, 7)?,
            create_revision: rev_col(row, 6)?,
            mod_revision: prev_rev,
        }),
        _ => None,
    };
    let (kind, value) = if deleted {
        (
            EventKind::Deleted,
            prev.as_ref().map(|p| p.value.clone()).unwrap_or_default(),
        )
    } else if prev_rev == 0 {
        (EventKind::Created, bytes_of(row, 5)?)
    } else {
        (EventKind::Updated, bytes_of(row, 5)?)
    };
    Ok(Event {
        kind,
        kv: KeyValue {
            key,
            value,
            create_revision,
            mod_revision: rev,
        },
        prev,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_after_below_the_prefix_starts_at_the_prefix() {
        let range = KeyRange::new("/b/", Some("/a/zzz"));
        assert_eq!(range.lower, b"/b/".to_vec());
        assert!(range.lower_inclusive);
    }

    #[test]
    fn start_after_inside_the_prefix_excludes_that_key() {
        let range = KeyRange::new("/b/", Some("/b/k"));
        assert_eq!(range.lower, b"/b/k".to_vec());
        assert!(!range.lower_inclusive);
        assert_eq!(range.upper, Some(b"/b0".to_vec()));
    }

    #[test]
    fn limit_asks_for_one_extra_row_and_zero_means_all() {
        assert_eq!(sql_limit(Some(10)), 11);
        assert_eq!(sql_limit(Some(0)), -1);
        assert_eq!(sql_limit(None), -1);
        assert_eq!(effective_limit(Some(0)), None);
    }
}
