//! Watch: synthetic initial events, live changes filtered by selectors (objects entering a
//! selector are ADDED, leaving it DELETED), bookmarks, timeouts and 410 for a watcher that fell
//! behind or asked for a compacted revision.

use std::time::Duration;

use futures::StreamExt;
use futures::stream::BoxStream;
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

use super::options::{ListOptions, VersionMatch};
use super::read::{Filter, parse_rv};
use super::{Api, Scope, meta};
use crate::error::ApiError;
use crate::store::{Event, EventKind, KeyValue, Revision, StoreError};

/// Default lifetime of a watch without `timeoutSeconds` (the real server picks 30–60 minutes).
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(1800);
/// How often a bookmark is sent when the client allows them.
const BOOKMARK_EVERY: Duration = Duration::from_secs(60);
/// Events buffered towards one client before the producer waits.
const CLIENT_BUFFER: usize = 256;

/// One watch event, with its object in the client's version.
#[derive(Clone, Debug, PartialEq)]
pub enum WatchEvent {
    Added(Value),
    Modified(Value),
    Deleted(Value),
    Bookmark(Value),
    Error(Value),
}

impl WatchEvent {
    pub fn type_name(&self) -> &'static str {
        match self {
            WatchEvent::Added(_) => "ADDED",
            WatchEvent::Modified(_) => "MODIFIED",
            WatchEvent::Deleted(_) => "DELETED",
            WatchEvent::Bookmark(_) => "BOOKMARK",
            WatchEvent::Error(_) => "ERROR",
        }
    }
    pub fn object(&self) -> &Value {
        match self {
            WatchEvent::Added(o)
            | WatchEvent::Modified(o)
            | WatchEvent::Deleted(o)
            | WatchEvent::Bookmark(o)
            | WatchEvent::Error(o) => o,
        }
    }
}

fn expired(rev: Revision) -> WatchEvent {
    let e = ApiError::Expired {
        message: format!("too old resource version: {rev}"),
    };
    WatchEvent::Error(e.to_status())
}

impl Api {
    /// Starts a watch. The stream ends at the timeout, after an ERROR event, or when dropped.
    pub async fn watch(
        &self,
        scope: &Scope,
        opts: &ListOptions,
    ) -> Result<BoxStream<'static, WatchEvent>, ApiError> {
        let filter = Filter::parse(self.registry(), scope, opts)?;
        let requested = opts.resource_version.as_deref().map(parse_rv).transpose()?;
        let initial_list = opts.send_initial_events || matches!(requested, None | Some(0));
        if opts.send_initial_events && opts.resource_version_match != VersionMatch::NotOlderThan {
            return Err(ApiError::invalid(
                "ListOptions",
                scope.target(""),
                vec![crate::error::Cause::invalid(
                    "resourceVersionMatch",
                    "Forbidden: sendInitialEvents requires setting resourceVersionMatch to NotOlderThan",
                )],
            ));
        }

        let (tx, rx) = mpsc::channel::<WatchEvent>(CLIENT_BUFFER);
        let mut initial = Vec::new();
        let start = if initial_list {
            if let Some(rv) = requested.filter(|r| *r > 0) {
                self.wait_for_revision(rv).await?;
            }
            let list_opts = ListOptions {
                limit: None,
                continue_token: None,
                resource_version: None,
                ..opts.clone()
            };
            let (items, rev, _) = self.list_items(scope, &list_opts, &filter).await?;
            initial = items.into_iter().map(WatchEvent::Added).collect();
            rev
        } else {
            requested.unwrap_or(0)
        };
        if opts.send_initial_events {
            initial.push(WatchEvent::Bookmark(json!({
                "kind": scope.def.kind,
                "apiVersion": scope.def.api_version(&scope.version),
                "metadata": {"resourceVersion": start.to_string(), "annotations": {"k8s.io/initial-events-end": "true"}},
            })));
        }
        let live = match self.inner.store.watch(&scope.prefix(), start).await {
            Ok(s) => Some(s),
            Err(StoreError::Compacted { .. }) => None,
            Err(StoreError::FutureRevision { .. }) => {
                return Err(ApiError::Timeout {
                    message: format!("Too large resource version: {start}"),
                });
            }
            Err(e) => return Err(ApiError::from_store(e, scope.target(""))),
        };
        let timeout = opts
            .timeout_seconds
            .map(Duration::from_secs)
            .unwrap_or(DEFAULT_TIMEOUT);
        let bookmarks = opts.allow_watch_bookmarks;
        let api = self.clone();
        let scope = scope.clone();
        tokio::spawn(async move {
            let deadline = tokio::time::Instant::now() + timeout;
            for e in initial {
                if tx.send(e).await.is_err() {
                    return;
                }
            }
            let Some(mut live) = live else {
                let _ = tx.send(expired(start)).await;
                return;
            };
            let mut last = start;
            let mut ticker = tokio::time::interval_at(
                tokio::time::Instant::now() + BOOKMARK_EVERY,
                BOOKMARK_EVERY,
            );
            loop {
                tokio::select! {
                    _ = tokio::time::sleep_until(deadline) => return,
                    _ = tx.closed() => return,
                    _ = ticker.tick(), if bookmarks => {
                        let b = json!({"kind": scope.def.kind, "apiVersion": scope.def.api_version(&scope.version),
                            "metadata": {"resourceVersion": last.to_string()}});
                        if tx.send(WatchEvent::Bookmark(b)).await.is_err() { return; }
                    }
                    next = live.next() => match next {
                        None => return,
                        Some(Err(_)) => { let _ = tx.send(expired(last)).await; return; }
                        Some(Ok(event)) => {
                            last = event.revision();
                            match api.translate(&scope, &filter, &event) {
                                Ok(Some(e)) => if tx.send(e).await.is_err() { return; },
                                Ok(None) => {}
                                Err(err) => { let _ = tx.send(WatchEvent::Error(err.to_status())).await; return; }
                            }
                        }
                    }
                }
            }
        });
        Ok(ReceiverStream::new(rx).boxed())
    }

    /// A store event as the client sees it, or `None` when it is outside the selectors.
    fn translate(
        &self,
        scope: &Scope,
        filter: &Filter,
        event: &Event,
    ) -> Result<Option<WatchEvent>, ApiError> {
        let decode = |kv: &KeyValue| self.decode(scope, kv);
        let now = decode(&event.kv)?;
        let was = match &event.prev {
            Some(p) if event.kind == EventKind::Updated => Some(decode(p)?),
            _ => None,
        };
        Ok(match event.kind {
            EventKind::Created => filter.matches(&now).then_some(WatchEvent::Added(now)),
            EventKind::Deleted => filter.matches(&now).then_some(WatchEvent::Deleted(now)),
            EventKind::Updated => {
                let before = was.as_ref().is_some_and(|w| filter.matches(w));
                match (before, filter.matches(&now)) {
                    (true, true) => Some(WatchEvent::Modified(now)),
                    (false, true) => Some(WatchEvent::Added(now)),
                    (true, false) => Some(WatchEvent::Deleted(now)),
                    (false, false) => None,
                }
            }
        })
    }
}

/// `metadata.resourceVersion` of a watch event's object, for callers tracking progress.
pub fn event_revision(e: &WatchEvent) -> Option<Revision> {
    meta::resource_version(e.object()).and_then(|r| r.parse().ok())
}
