//! On-disk layout and connection setup.
//!
//! `log` is the MVCC history (kine style): one row per write, its `rev` is the global revision.
//! Deletes are tombstone rows (`deleted = 1`, empty value) whose `prev_rev` points at the last
//! value. `prev_rev` is `0` when the write created the key, so every other row names the row it
//! superseded — compaction relies on that. `current` maps each live key to its latest `log` row,
//! so reads of the latest state never scan history. `meta` holds the compaction floor.
//!
//! Keys are stored as BLOBs so that comparisons are plain byte comparisons and a prefix can be
//! turned into a half-open byte range.

use std::path::Path;
use std::time::Duration;

use rusqlite::types::Type;
use rusqlite::{Connection, OpenFlags, OptionalExtension, Row};

use crate::store::{Revision, StoreError};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS log (
    rev INTEGER PRIMARY KEY,
    key BLOB NOT NULL,
    create_rev INTEGER NOT NULL,
    prev_rev INTEGER NOT NULL,
    deleted INTEGER NOT NULL,
    value BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS log_key_rev ON log (key, rev DESC);
CREATE TABLE IF NOT EXISTS current (
    key BLOB PRIMARY KEY,
    rev INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS meta (
    name TEXT PRIMARY KEY,
    value INTEGER NOT NULL
) WITHOUT ROWID;
INSERT OR IGNORE INTO meta (name, value) VALUES ('schema_version', 1);
INSERT OR IGNORE INTO meta (name, value) VALUES ('compact_rev', 0);
";

const BUSY_TIMEOUT: Duration = Duration::from_secs(10);
/// Bytes of write-ahead log kept after a checkpoint.
const WAL_SIZE_LIMIT: i64 = 64 * 1024 * 1024;
/// Prepared statements kept per connection (every query shape this backend uses fits).
const STATEMENT_CACHE: usize = 32;
/// Page cache per connection, in KiB (negative values are KiB for SQLite).
const CACHE_KIB: i64 = 16 * 1024;

pub(super) fn backend(err: rusqlite::Error) -> StoreError {
    StoreError::Backend(err.to_string())
}

/// A revision as SQLite stores it (revisions never come near `i64::MAX`).
pub(super) fn sql_rev(rev: Revision) -> i64 {
    i64::try_from(rev).unwrap_or(i64::MAX)
}

/// Reads a revision (or any non-negative integer) from column `idx`.
pub(super) fn rev_col(row: &Row<'_>, idx: usize) -> rusqlite::Result<Revision> {
    let value: i64 = row.get(idx)?;
    u64::try_from(value)
        .map_err(|err| rusqlite::Error::FromSqlConversionFailure(idx, Type::Integer, err.into()))
}

/// Opens the writer connection, creating the file and schema if missing.
pub(super) fn open_writer(path: &Path, full_sync: bool) -> Result<Connection, StoreError> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(backend)?;
    conn.busy_timeout(BUSY_TIMEOUT).map_err(backend)?;
    let mode: String = conn
        .query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))
        .map_err(backend)?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(StoreError::Backend(format!(
            "the database refused write-ahead logging (journal mode {mode})"
        )));
    }
    let sync = if full_sync { "FULL" } else { "NORMAL" };
    // A checkpoint rewinds the write-ahead log; `journal_size_limit` also shrinks it after a
    // burst.
    conn.execute_batch(&format!(
        "PRAGMA synchronous = {sync};
         PRAGMA cache_size = -{CACHE_KIB};
         PRAGMA temp_store = MEMORY;
         PRAGMA journal_size_limit = {WAL_SIZE_LIMIT};"
    ))
    .map_err(backend)?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    conn.execute_batch(SCHEMA).map_err(backend)?;
    Ok(conn)
}

/// Opens a connection that only reads; the writer must have created the schema.
pub(super) fn open_reader(path: &Path) -> Result<Connection, StoreError> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(backend)?;
    conn.busy_timeout(BUSY_TIMEOUT).map_err(backend)?;
    conn.execute_batch(&format!(
        "PRAGMA query_only = ON; PRAGMA cache_size = -{CACHE_KIB};"
    ))
    .map_err(backend)?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    Ok(conn)
}

/// The latest committed revision and the compaction floor, as seen by `conn`'s current
/// transaction (call inside a transaction to get a consistent pair).
pub(super) fn revisions(conn: &Connection) -> rusqlite::Result<(Revision, Revision)> {
    let max = conn
        .prepare_cached("SELECT COALESCE(MAX(rev), 0) FROM log")?
        .query_row([], |row| rev_col(row, 0))?;
    let floor = conn
        .prepare_cached("SELECT value FROM meta WHERE name = 'compact_rev'")?
        .query_row([], |row| rev_col(row, 0))
        .optional()?
        .unwrap_or(0);
    // Compaction may remove the newest rows (tombstones); it never goes past the latest
    // revision, so the floor bounds the latest revision from below.
    Ok((max.max(floor), floor))
}

/// The half-open byte range `[prefix, upper)` of keys that start with `prefix`; `None` for no
/// upper bound (empty prefix).
pub(super) fn prefix_upper(prefix: &str) -> Option<Vec<u8>> {
    let mut upper = prefix.as_bytes().to_vec();
    // UTF-8 never contains 0xFF, so incrementing the last byte cannot overflow for a str; the
    // loop keeps the function correct for arbitrary bytes anyway.
    while let Some(last) = upper.pop() {
        if last < u8::MAX {
            upper.push(last + 1);
            return Some(upper);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_upper_bounds_exactly_the_keys_with_that_prefix() {
        let upper = prefix_upper("/vms/default/vm1/").unwrap();
        let inside = b"/vms/default/vm1/status".as_slice();
        let outside = b"/vms/default/vm1x".as_slice();
        let after = b"/vms/default/vm10".as_slice();
        assert!(inside < upper.as_slice());
        assert!(outside >= upper.as_slice());
        assert!(after >= upper.as_slice());
        assert_eq!(upper, b"/vms/default/vm10".to_vec());
    }

    #[test]
    fn empty_prefix_has_no_upper_bound() {
        assert_eq!(prefix_upper(""), None);
    }

    #[test]
    fn schema_is_idempotent_and_starts_at_revision_zero() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db");
        drop(open_writer(&path, false).unwrap());
        let conn = open_writer(&path, false).unwrap();
        assert_eq!(revisions(&conn).unwrap(), (0, 0));
        let reader = open_reader(&path).unwrap();
        assert_eq!(revisions(&reader).unwrap(), (0, 0));
    }
}
