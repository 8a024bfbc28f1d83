//! The single writer thread: group commit, compare-and-swap, event fan-out and compaction.
//!
//! All writes go through one thread that owns the only writing connection. It takes every
//! request waiting in its queue, applies them in one transaction (each gets its own revision
//! and its own result; a failed check only fails that request), commits once, publishes the
//! events in revision order and only then answers the callers. One commit (one fsync) thus
//! serves many concurrent clients.

use std::fs::File;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use bytes::Bytes;
use rusqlite::{Connection, OptionalExtension, TransactionBehavior};
use tokio::sync::oneshot;

use super::Shared;
use super::schema::{backend, rev_col, sql_rev};
use crate::store::{Event, EventKind, KeyValue, Revision, StoreError};

/// Most requests applied in one transaction; bounds commit latency under a storm.
const MAX_BATCH: usize = 4096;
/// Most revisions compacted in one transaction, so that background compaction never holds up
/// writers for long.
const COMPACT_CHUNK: Revision = 5_000;

pub(super) enum Op {
    Create {
        key: String,
        value: Bytes,
    },
    Update {
        key: String,
        expected: Revision,
        value: Bytes,
    },
    Delete {
        key: String,
        expected: Option<Revision>,
    },
}

pub(super) enum Request {
    Write {
        op: Op,
        reply: oneshot::Sender<Result<KeyValue, StoreError>>,
    },
    Compact {
        revision: Revision,
        reply: oneshot::Sender<Result<(), StoreError>>,
    },
    Close {
        reply: oneshot::Sender<()>,
    },
}

pub(super) struct Writer {
    pub(super) conn: Connection,
    pub(super) shared: Arc<Shared>,
    pub(super) rx: Receiver<Request>,
    /// The latest committed revision.
    pub(super) last: Revision,
    /// The compaction floor.
    pub(super) floor: Revision,
    /// How many revisions background compaction keeps (`None`: never compact).
    pub(super) retain: Option<Revision>,
    pub(super) interval: Duration,
    /// Held for the writer's lifetime so that one process at a time writes the file.
    pub(super) _lock: File,
}

impl Drop for Writer {
    /// Also runs if the writer thread panics, so that watchers and callers are not left
    /// waiting for a thread that is gone.
    fn drop(&mut self) {
        self.shared.closed.store(true, Ordering::SeqCst);
        self.shared.hub.close();
    }
}

impl Writer {
    /// Serves requests until `Close` or until every sender is gone, then shuts the store down.
    pub(super) fn run(mut self) {
        let mut next_auto = Instant::now() + self.interval;
        let mut compact_target: Revision = self.floor;
        let mut closers = Vec::new();
        loop {
            let wait = if compact_target > self.floor {
                Duration::ZERO
            } else {
                next_auto.saturating_duration_since(Instant::now())
            };
            let first = match self.rx.recv_timeout(wait) {
                Ok(req) => Some(req),
                Err(RecvTimeoutError::Timeout) => None,
                Err(RecvTimeoutError::Disconnected) => break,
            };
            let mut batch: Vec<Request> = first.into_iter().collect();
            while batch.len() < MAX_BATCH {
                match self.rx.try_recv() {
                    Ok(req) => batch.push(req),
                    Err(_) => break,
                }
            }
            if self.serve(batch, &mut closers) {
                break;
            }
            if let Some(retain) = self.retain
                && Instant::now() >= next_auto
            {
                next_auto = Instant::now() + self.interval;
                compact_target = compact_target.max(self.last.saturating_sub(retain));
            }
            if compact_target > self.floor {
                let to = compact_target.min(self.floor.saturating_add(COMPACT_CHUNK));
                if let Err(err) = self.compact_to(to) {
                    tracing::warn!(error = %err, "background compaction failed");
                    compact_target = self.floor;
                }
            }
        }
        // Release the connection and the file lock before telling anyone the store is closed.
        drop(self);
        for reply in closers {
            let _ = reply.send(());
        }
    }

    /// Serves one batch; returns whether the store must close.
    fn serve(&mut self, batch: Vec<Request>, closers: &mut Vec<oneshot::Sender<()>>) -> bool {
        let mut ops = Vec::new();
        let mut replies = Vec::new();
        let mut compactions = Vec::new();
        for req in batch {
            match req {
                Request::Write { op, reply } => {
                    ops.push(op);
                    replies.push(reply);
                }
                Request::Compact { revision, reply } => compactions.push((revision, reply)),
                Request::Close { reply } => closers.push(reply),
            }
        }
        if !ops.is_empty() {
            self.write_batch(&ops, replies);
        }
        for (revision, reply) in compactions {
            let _ = reply.send(self.compact_request(revision));
        }
        !closers.is_empty()
    }

    fn write_batch(
        &mut self,
        ops: &[Op],
        replies: Vec<oneshot::Sender<Result<KeyValue, StoreError>>>,
    ) {
        match apply(&mut self.conn, ops, self.last) {
            Ok((results, last)) => {
                self.last = last;
                self.shared.current.store(last, Ordering::SeqCst);
                let events: Vec<Arc<Event>> = results
                    .iter()
                    .filter_map(|r| r.as_ref().ok().map(Arc::clone))
                    .collect();
                self.shared.hub.publish(&events);
                for (result, reply) in results.into_iter().zip(replies) {
                    let _ = reply.send(result.map(|ev| ev.kv.clone()));
                }
            }
            Err(err) => {
                tracing::error!(error = %err, "write transaction failed");
                let err = backend(err);
                for reply in replies {
                    let _ = reply.send(Err(err.clone()));
                }
            }
        }
    }

    fn compact_request(&mut self, revision: Revision) -> Result<(), StoreError> {
        if revision > self.last {
            return Err(StoreError::FutureRevision {
                requested: revision,
                current: self.last,
            });
        }
        while self.floor < revision {
            let to = revision.min(self.floor.saturating_add(COMPACT_CHUNK));
            self.compact_to(to).map_err(backend)?;
        }
        Ok(())
    }

    /// Moves the floor from `self.floor` to `to` in one transaction.
    fn compact_to(&mut self, to: Revision) -> rusqlite::Result<()> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        compact_range(&tx, self.floor, to)?;
        tx.commit()?;
        self.floor = to;
        self.shared.compacted.store(to, Ordering::SeqCst);
        Ok(())
    }
}

/// Applies `ops` in one transaction, numbering successful ones from `last + 1`. The outer
/// error means nothing was committed; inner errors are per-request outcomes.
type BatchResult = (Vec<Result<Arc<Event>, StoreError>>, Revision);

fn apply(conn: &mut Connection, ops: &[Op], last: Revision) -> rusqlite::Result<BatchResult> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let mut rev = last;
    let mut results = Vec::with_capacity(ops.len());
    for op in ops {
        let result = apply_one(&tx, op, rev + 1)?;
        if result.is_ok() {
            rev += 1;
        }
        results.push(result.map(Arc::new));
    }
    tx.commit()?;
    Ok((results, rev))
}

/// The key's latest value, read inside the write transaction.
fn current(conn: &Connection, key: &str) -> rusqlite::Result<Option<KeyValue>> {
    conn.prepare_cached(
        "SELECT l.create_rev, l.rev, l.value FROM current c JOIN log l ON l.rev = c.rev \
         WHERE c.key = ?1",
    )?
    .query_row([key.as_bytes()], |row| {
        Ok(KeyValue {
            key: key.to_owned(),
            create_revision: rev_col(row, 0)?,
            mod_revision: rev_col(row, 1)?,
            value: Bytes::from(row.get::<_, Vec<u8>>(2)?),
        })
    })
    .optional()
}

fn insert_log(
    conn: &Connection,
    rev: Revision,
    key: &str,
    create_rev: Revision,
    prev_rev: Revision,
    deleted: bool,
    value: &[u8],
) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT INTO log (rev, key, create_rev, prev_rev, deleted, value) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute((
        sql_rev(rev),
        key.as_bytes(),
        sql_rev(create_rev),
        sql_rev(prev_rev),
        deleted,
        value,
    ))?;
    Ok(())
}

fn set_current(conn: &Connection, key: &str, rev: Revision) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT INTO current (key, rev) VALUES (?1, ?2) \
         ON CONFLICT (key) DO UPDATE SET rev = excluded.rev",
    )?
    .execute((key.as_bytes(), sql_rev(rev)))?;
    Ok(())
}

/// The current value of `key`, if it exists and (when `expected` is given) was last modified
/// at `expected`.
fn expected_current(
    conn: &Connection,
    key: &str,
    expected: Option<Revision>,
) -> rusqlite::Result<Result<KeyValue, StoreError>> {
    let Some(prev) = current(conn, key)? else {
        return Ok(Err(StoreError::NotFound));
    };
    if expected.is_some_and(|e| e != prev.mod_revision) {
        return Ok(Err(StoreError::Conflict {
            current: prev.mod_revision,
        }));
    }
    Ok(Ok(prev))
}

/// Checks and applies one request at revision `rev`. Checks come before any change, so a
/// failed request leaves the transaction untouched.
fn apply_one(
    conn: &Connection,
    op: &Op,
    rev: Revision,
) -> rusqlite::Result<Result<Event, StoreError>> {
    match op {
        Op::Create { key, value } => {
            let exists = conn
                .prepare_cached("SELECT 1 FROM current WHERE key = ?1")?
                .exists([key.as_bytes()])?;
            if exists {
                return Ok(Err(StoreError::AlreadyExists));
            }
            insert_log(conn, rev, key, rev, 0, false, value)?;
            set_current(conn, key, rev)?;
            let kv = KeyValue {
                key: key.clone(),
                value: value.clone(),
                create_revision: rev,
                mod_revision: rev,
            };
            Ok(Ok(Event {
                kind: EventKind::Created,
                kv,
                prev: None,
            }))
        }
        Op::Update {
            key,
            expected,
            value,
        } => {
            let prev = match expected_current(conn, key, Some(*expected))? {
                Ok(prev) => prev,
                Err(e) => return Ok(Err(e)),
            };
            insert_log(
                conn,
                rev,
                key,
                prev.create_revision,
                prev.mod_revision,
                false,
                value,
            )?;
            set_current(conn, key, rev)?;
            let kv = KeyValue {
                key: key.clone(),
                value: value.clone(),
                create_revision: prev.create_revision,
                mod_revision: rev,
            };
            Ok(Ok(Event {
                kind: EventKind::Updated,
                kv,
                prev: Some(prev),
            }))
        }
        Op::Delete { key, expected } => {
            let prev = match expected_current(conn, key, *expected)? {
                Ok(prev) => prev,
                Err(e) => return Ok(Err(e)),
            };
            // The tombstone's value stays empty: readers take it from the row `prev_rev` names.
            insert_log(
                conn,
                rev,
                key,
                prev.create_revision,
                prev.mod_revision,
                true,
                &[],
            )?;
            conn.prepare_cached("DELETE FROM current WHERE key = ?1")?
                .execute([key.as_bytes()])?;
            let kv = KeyValue {
                key: key.clone(),
                value: prev.value.clone(),
                create_revision: prev.create_revision,
                mod_revision: rev,
            };
            Ok(Ok(Event {
                kind: EventKind::Deleted,
                kv,
                prev: Some(prev),
            }))
        }
    }
}

/// Moves the compaction floor from `from` to `to`: drops every row superseded by a row in
/// `(from, to]` (each row names the one it superseded in `prev_rev`) and every tombstone in
/// that range. Rows superseded by rows at or below `from` were dropped by earlier calls, so
/// afterwards the state at any revision `>= to` and all changes after `to` are intact.
fn compact_range(conn: &Connection, from: Revision, to: Revision) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "DELETE FROM log WHERE rev IN \
         (SELECT prev_rev FROM log WHERE rev > ?1 AND rev <= ?2 AND prev_rev > 0)",
    )?
    .execute((sql_rev(from), sql_rev(to)))?;
    conn.prepare_cached("DELETE FROM log WHERE rev > ?1 AND rev <= ?2 AND deleted = 1")?
        .execute((sql_rev(from), sql_rev(to)))?;
    conn.prepare_cached("UPDATE meta SET value = ?1 WHERE name = 'compact_rev'")?
        .execute([sql_rev(to)])?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::sqlite::schema::{open_writer, revisions};

    fn db() -> (tempfile::TempDir, Connection) {
        let dir = tempfile::tempdir().unwrap();
        let conn = open_writer(&dir.path().join("db"), false).unwrap();
        (dir, conn)
    }

    fn create(key: &str, value: &str) -> Op {
        Op::Create {
            key: key.into(),
            value: Bytes::from(value.to_owned()),
        }
    }

    fn rows(conn: &Connection) -> Vec<(Revision, String, bool)> {
        let mut stmt = conn
            .prepare("SELECT rev, key, deleted FROM log ORDER BY rev")
            .unwrap();
        stmt.query_map([], |row| {
            Ok((
                rev_col(row, 0)?,
                String::from_utf8(row.get(1)?).unwrap(),
                row.get(2)?,
            ))
        })
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
    }

    #[test]
    fn a_failed_check_in_a_batch_does_not_consume_a_revision_or_abort_the_others() {
        let (_dir, mut conn) = db();
        let ops = vec![
            create("/a", "1"),
            create("/a", "again"),
            Op::Update {
                key: "/a".into(),
                expected: 99,
                value: Bytes::from_static(b"x"),
            },
            Op::Update {
                key: "/a".into(),
                expected: 1,
                value: Bytes::from_static(b"2"),
            },
            create("/b", "1"),
        ];
        let (results, last) = apply(&mut conn, &ops, 0).unwrap();
        assert_eq!(last, 3);
        assert_eq!(results[1].as_ref().unwrap_err(), &StoreError::AlreadyExists);
        assert_eq!(
            results[2].as_ref().unwrap_err(),
            &StoreError::Conflict { current: 1 }
        );
        let update = results[3].as_ref().unwrap();
        assert_eq!(
            (
                update.kind,
                update.kv.mod_revision,
                update.kv.create_revision
            ),
            (EventKind::Updated, 2, 1)
        );
        assert_eq!(
            update.prev.as_ref().unwrap().value,
            Bytes::from_static(b"1")
        );
        assert_eq!(results[4].as_ref().unwrap().revision(), 3);
    }

    #[test]
    fn compaction_keeps_the_state_at_the_floor_and_everything_after_it() {
        let (_dir, mut conn) = db();
        let ops = vec![
            create("/a", "1"), // 1
            Op::Update {
                key: "/a".into(),
                expected: 1,
                value: Bytes::from_static(b"2"),
            }, // 2
            create("/b", "1"), // 3
            Op::Delete {
                key: "/b".into(),
                expected: None,
            }, // 4
            create("/c", "1"), // 5
            Op::Update {
                key: "/a".into(),
                expected: 2,
                value: Bytes::from_static(b"3"),
            }, // 6
            Op::Delete {
                key: "/c".into(),
                expected: Some(5),
            }, // 7
        ];
        apply(&mut conn, &ops, 0).unwrap();
        compact_range(&conn, 0, 5).unwrap();
        let remaining: Vec<Revision> = rows(&conn).iter().map(|r| r.0).collect();
        // 1 superseded by 2; 3 and its tombstone 4 gone; 2 (the state of /a at 5), 5 (prev of
        // the tombstone 7), 6 and 7 remain.
        assert_eq!(remaining, vec![2, 5, 6, 7]);
        assert_eq!(revisions(&conn).unwrap(), (7, 5));
        compact_range(&conn, 5, 7).unwrap();
        let remaining: Vec<Revision> = rows(&conn).iter().map(|r| r.0).collect();
        assert_eq!(remaining, vec![6]);
        assert_eq!(revisions(&conn).unwrap(), (7, 7));
    }

    #[test]
    fn the_latest_revision_survives_compacting_away_the_newest_row() {
        let (_dir, mut conn) = db();
        let ops = vec![
            create("/a", "1"),
            Op::Delete {
                key: "/a".into(),
                expected: None,
            },
        ];
        apply(&mut conn, &ops, 0).unwrap();
        compact_range(&conn, 0, 2).unwrap();
        assert!(rows(&conn).is_empty());
        assert_eq!(revisions(&conn).unwrap(), (2, 2));
    }
}
