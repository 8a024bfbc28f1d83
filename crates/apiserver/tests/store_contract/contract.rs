//! The storage contract as generic checks over a [`Harness`]: every backend runs the same
//! functions. Each check takes a fresh store.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use apiserver::store::{
    Event, EventKind, KeyValue, ListRequest, Revision, StoreError, WatchStream,
};
use bytes::Bytes;
use futures::StreamExt;

use super::Harness;

const PATIENCE: Duration = Duration::from_secs(20);

fn val(s: &str) -> Bytes {
    Bytes::from(s.to_owned())
}

async fn next(stream: &mut WatchStream) -> Result<Event, StoreError> {
    tokio::time::timeout(PATIENCE, stream.next())
        .await
        .expect("the watch produced nothing in time")
        .expect("the watch ended")
}

async fn assert_quiet(stream: &mut WatchStream) {
    let extra = tokio::time::timeout(Duration::from_millis(200), stream.next()).await;
    assert!(extra.is_err(), "unexpected watch item: {extra:?}");
}

fn list(prefix: &str) -> ListRequest {
    ListRequest {
        prefix: prefix.into(),
        ..ListRequest::default()
    }
}

fn keys(items: &[KeyValue]) -> Vec<&str> {
    items.iter().map(|kv| kv.key.as_str()).collect()
}

pub async fn create_of_an_existing_key_is_already_exists(h: &dyn Harness) {
    let s = h.store().await;
    let before = s.current_revision();
    let kv = s.create("/c/a", val("one")).await.unwrap();
    assert_eq!(kv.key, "/c/a");
    assert_eq!(kv.value, val("one"));
    assert!(kv.mod_revision > before);
    assert_eq!(kv.create_revision, kv.mod_revision);
    assert_eq!(s.current_revision(), kv.mod_revision);
    assert_eq!(
        s.create("/c/a", val("two")).await,
        Err(StoreError::AlreadyExists)
    );
    assert_eq!(s.get("/c/a").await.unwrap(), Some(kv.clone()));
    assert_eq!(
        s.current_revision(),
        kv.mod_revision,
        "a failed write takes no revision"
    );
}

pub async fn get_returns_the_latest_value_or_nothing(h: &dyn Harness) {
    let s = h.store().await;
    assert_eq!(s.get("/g/missing").await.unwrap(), None);
    let created = s.create("/g/a", val("1")).await.unwrap();
    let updated = s
        .update("/g/a", created.mod_revision, val("2"))
        .await
        .unwrap();
    let got = s.get("/g/a").await.unwrap().unwrap();
    assert_eq!(got, updated);
    assert_eq!(got.create_revision, created.create_revision);
    assert_eq!(got.value, val("2"));
}

pub async fn stale_update_is_a_conflict_naming_the_current_revision(h: &dyn Harness) {
    let s = h.store().await;
    let v1 = s.create("/u/a", val("1")).await.unwrap();
    let v2 = s.update("/u/a", v1.mod_revision, val("2")).await.unwrap();
    assert!(v2.mod_revision > v1.mod_revision);
    let err = s
        .update("/u/a", v1.mod_revision, val("3"))
        .await
        .unwrap_err();
    assert_eq!(
        err,
        StoreError::Conflict {
            current: v2.mod_revision
        }
    );
    assert_eq!(s.get("/u/a").await.unwrap().unwrap().value, val("2"));
    let missing = s.update("/u/missing", v1.mod_revision, val("x")).await;
    assert_eq!(missing, Err(StoreError::NotFound));
}

pub async fn every_update_takes_a_new_revision_even_with_the_same_value(h: &dyn Harness) {
    let s = h.store().await;
    let v1 = s.create("/same/a", val("x")).await.unwrap();
    let v2 = s
        .update("/same/a", v1.mod_revision, val("x"))
        .await
        .unwrap();
    assert!(v2.mod_revision > v1.mod_revision);
    assert_eq!(v2.value, v1.value);
}

pub async fn delete_checks_the_expected_revision_and_returns_the_last_value(h: &dyn Harness) {
    let s = h.store().await;
    let a = s.create("/d/a", val("a")).await.unwrap();
    let b = s.create("/d/b", val("b")).await.unwrap();
    let a2 = s.update("/d/a", a.mod_revision, val("a2")).await.unwrap();

    let stale = s.delete("/d/a", Some(a.mod_revision)).await;
    assert_eq!(
        stale,
        Err(StoreError::Conflict {
            current: a2.mod_revision
        })
    );
    let deleted = s.delete("/d/a", Some(a2.mod_revision)).await.unwrap();
    assert_eq!(deleted.value, val("a2"));
    assert_eq!(deleted.create_revision, a.create_revision);
    assert!(deleted.mod_revision > a2.mod_revision);
    assert_eq!(s.current_revision(), deleted.mod_revision);
    assert_eq!(s.get("/d/a").await.unwrap(), None);

    let unconditional = s.delete("/d/b", None).await.unwrap();
    assert_eq!(unconditional.value, b.value);
    assert!(unconditional.mod_revision > deleted.mod_revision);
    assert_eq!(s.delete("/d/b", None).await, Err(StoreError::NotFound));
    assert_eq!(
        s.delete("/d/b", Some(b.mod_revision)).await,
        Err(StoreError::NotFound)
    );

    let again = s.create("/d/a", val("new")).await.unwrap();
    assert_eq!(
        again.create_revision, again.mod_revision,
        "a re-created key starts afresh"
    );
}

pub async fn revisions_strictly_increase_across_all_keys(h: &dyn Harness) {
    let s = h.store().await;
    let mut last = s.current_revision();
    let mut current = Vec::new();
    for i in 0..10 {
        let kv = s.create(&format!("/r/{i}"), val("v")).await.unwrap();
        current.push(kv.mod_revision);
    }
    for (i, rev) in current.clone().into_iter().enumerate() {
        let kv = s.update(&format!("/r/{i}"), rev, val("w")).await.unwrap();
        current.push(kv.mod_revision);
    }
    for i in (0..10).step_by(3) {
        current.push(
            s.delete(&format!("/r/{i}"), None)
                .await
                .unwrap()
                .mod_revision,
        );
    }
    for rev in current {
        assert!(rev > last, "revision {rev} after {last}");
        last = rev;
    }
    assert_eq!(s.current_revision(), last);
}

pub async fn list_is_in_key_order_and_respects_prefix_start_and_limit(h: &dyn Harness) {
    let s = h.store().await;
    for key in [
        "/l/ns/vm1",
        "/l/ns/vm1x",
        "/l/ns/vm1/sub",
        "/l/ns/a",
        "/l/other",
        "/l/ns/z",
    ] {
        s.create(key, val(key)).await.unwrap();
    }
    let all = s.list(list("/l/ns/")).await.unwrap();
    assert_eq!(
        keys(&all.items),
        [
            "/l/ns/a",
            "/l/ns/vm1",
            "/l/ns/vm1/sub",
            "/l/ns/vm1x",
            "/l/ns/z"
        ]
    );
    assert!(!all.more);
    assert_eq!(all.revision, s.current_revision());
    assert_eq!(all.items[0].value, val("/l/ns/a"));

    let sub = s.list(list("/l/ns/vm1/")).await.unwrap();
    assert_eq!(keys(&sub.items), ["/l/ns/vm1/sub"]);
    assert_eq!(s.count("/l/ns/vm1/").await.unwrap(), 1);
    assert_eq!(s.count("/l/ns/").await.unwrap(), 5);
    assert_eq!(s.count("/l/none/").await.unwrap(), 0);

    let page = s
        .list(ListRequest {
            limit: Some(2),
            ..list("/l/ns/")
        })
        .await
        .unwrap();
    assert_eq!(keys(&page.items), ["/l/ns/a", "/l/ns/vm1"]);
    assert!(page.more);
    let rest = s
        .list(ListRequest {
            start_after: Some("/l/ns/vm1".into()),
            limit: Some(3),
            ..list("/l/ns/")
        })
        .await
        .unwrap();
    assert_eq!(
        keys(&rest.items),
        ["/l/ns/vm1/sub", "/l/ns/vm1x", "/l/ns/z"]
    );
    assert!(!rest.more, "exactly `limit` keys remained");

    s.delete("/l/ns/vm1x", None).await.unwrap();
    let after = s.list(list("/l/ns/")).await.unwrap();
    assert_eq!(
        keys(&after.items),
        ["/l/ns/a", "/l/ns/vm1", "/l/ns/vm1/sub", "/l/ns/z"]
    );
}

pub async fn a_later_page_at_the_first_pages_revision_shows_the_old_state(h: &dyn Harness) {
    let s = h.store().await;
    let mut created = Vec::new();
    for i in 0..6 {
        created.push(
            s.create(&format!("/p/k{i}"), val(&format!("old{i}")))
                .await
                .unwrap(),
        );
    }
    let first = s
        .list(ListRequest {
            limit: Some(3),
            ..list("/p/")
        })
        .await
        .unwrap();
    assert_eq!(keys(&first.items), ["/p/k0", "/p/k1", "/p/k2"]);
    assert!(first.more);

    s.update("/p/k3", created[3].mod_revision, val("new3"))
        .await
        .unwrap();
    s.delete("/p/k4", None).await.unwrap();
    s.create("/p/k35", val("inserted")).await.unwrap();
    s.delete("/p/k5", None).await.unwrap();
    s.create("/p/k5", val("recreated")).await.unwrap();

    let second = s
        .list(ListRequest {
            start_after: Some("/p/k2".into()),
            revision: Some(first.revision),
            ..list("/p/")
        })
        .await
        .unwrap();
    assert_eq!(second.revision, first.revision);
    assert_eq!(keys(&second.items), ["/p/k3", "/p/k4", "/p/k5"]);
    assert_eq!(second.items[0], created[3]);
    assert_eq!(second.items[2], created[5]);

    let limited = s
        .list(ListRequest {
            start_after: Some("/p/k2".into()),
            revision: Some(first.revision),
            limit: Some(2),
            ..list("/p/")
        })
        .await
        .unwrap();
    assert_eq!(keys(&limited.items), ["/p/k3", "/p/k4"]);
    assert!(limited.more);

    let now = s.list(list("/p/")).await.unwrap();
    let values: Vec<_> = now.items.iter().map(|kv| kv.value.clone()).collect();
    assert_eq!(
        keys(&now.items),
        ["/p/k0", "/p/k1", "/p/k2", "/p/k3", "/p/k35", "/p/k5"]
    );
    assert_eq!(values[3], val("new3"));
    assert_eq!(values[5], val("recreated"));
}

pub async fn list_rejects_future_and_compacted_revisions(h: &dyn Harness) {
    let s = h.store().await;
    let a = s.create("/lc/a", val("1")).await.unwrap();
    let b = s.update("/lc/a", a.mod_revision, val("2")).await.unwrap();
    let current = s.current_revision();
    let future = s
        .list(ListRequest {
            revision: Some(current + 10),
            ..list("/lc/")
        })
        .await;
    assert_eq!(
        future.unwrap_err(),
        StoreError::FutureRevision {
            requested: current + 10,
            current
        }
    );
    s.compact(b.mod_revision).await.unwrap();
    assert_eq!(s.compacted_revision(), b.mod_revision);
    let old = s
        .list(ListRequest {
            revision: Some(a.mod_revision),
            ..list("/lc/")
        })
        .await;
    assert!(
        matches!(old, Err(StoreError::Compacted { requested, .. }) if requested == a.mod_revision),
        "{old:?}"
    );
    let at_floor = s.list(ListRequest {
        revision: Some(b.mod_revision),
        ..list("/lc/")
    });
    assert_eq!(at_floor.await.unwrap().items, vec![b]);
}

pub async fn watch_delivers_every_change_in_order_with_previous_values(h: &dyn Harness) {
    let s = h.store().await;
    let outside = s.create("/w/ns/vm1x", val("x")).await.unwrap();
    let mut w = s.watch("/w/ns/vm1/", s.current_revision()).await.unwrap();
    let a = s.create("/w/ns/vm1/a", val("1")).await.unwrap();
    s.update("/w/ns/vm1x", outside.mod_revision, val("y"))
        .await
        .unwrap();
    let a2 = s
        .update("/w/ns/vm1/a", a.mod_revision, val("2"))
        .await
        .unwrap();
    let gone = s.delete("/w/ns/vm1/a", None).await.unwrap();

    let created = next(&mut w).await.unwrap();
    assert_eq!(
        (created.kind, &created.kv, &created.prev),
        (EventKind::Created, &a, &None)
    );
    let updated = next(&mut w).await.unwrap();
    assert_eq!((updated.kind, &updated.kv), (EventKind::Updated, &a2));
    assert_eq!(updated.prev, Some(a.clone()));
    let deleted = next(&mut w).await.unwrap();
    assert_eq!((deleted.kind, &deleted.kv), (EventKind::Deleted, &gone));
    assert_eq!(deleted.kv.value, val("2"));
    assert_eq!(deleted.prev, Some(a2.clone()));
    assert_eq!(deleted.revision(), gone.mod_revision);
    assert_quiet(&mut w).await;
}

pub async fn watch_resumes_from_a_revision_without_gaps_or_repeats(h: &dyn Harness) {
    let s = h.store().await;
    let mut revs = Vec::new();
    for i in 0..5 {
        revs.push(
            s.create(&format!("/wr/{i}"), val("v"))
                .await
                .unwrap()
                .mod_revision,
        );
    }
    let from = revs[1];
    let mut w = s.watch("/wr/", from).await.unwrap();
    let writer = {
        let s = s.clone();
        tokio::spawn(async move {
            let mut revs = Vec::new();
            for i in 5..40 {
                revs.push(
                    s.create(&format!("/wr/{i}"), val("v"))
                        .await
                        .unwrap()
                        .mod_revision,
                );
            }
            revs
        })
    };
    revs.extend(writer.await.unwrap());
    let expected: Vec<Revision> = revs.into_iter().filter(|r| *r > from).collect();
    let mut got = Vec::new();
    while got.len() < expected.len() {
        got.push(next(&mut w).await.unwrap().revision());
    }
    assert_eq!(got, expected);
    assert_quiet(&mut w).await;
}

pub async fn replayed_deletes_and_updates_carry_previous_values(h: &dyn Harness) {
    let s = h.store().await;
    let start = s.current_revision();
    let a = s.create("/wp/a", val("1")).await.unwrap();
    let a2 = s.update("/wp/a", a.mod_revision, val("2")).await.unwrap();
    let gone = s.delete("/wp/a", None).await.unwrap();
    let again = s.create("/wp/a", val("3")).await.unwrap();
    let mut w = s.watch("/wp/", start).await.unwrap();
    let events = [
        next(&mut w).await,
        next(&mut w).await,
        next(&mut w).await,
        next(&mut w).await,
    ];
    let events: Vec<Event> = events.into_iter().map(Result::unwrap).collect();
    let kinds: Vec<EventKind> = events.iter().map(|e| e.kind).collect();
    use EventKind::*;
    assert_eq!(kinds, [Created, Updated, Deleted, Created]);
    assert_eq!(events[0].kv, a);
    assert_eq!((&events[1].kv, &events[1].prev), (&a2, &Some(a.clone())));
    assert_eq!((&events[2].kv, &events[2].prev), (&gone, &Some(a2.clone())));
    assert_eq!((&events[3].kv, &events[3].prev), (&again, &None));
}

pub async fn watch_from_a_compacted_revision_is_compacted(h: &dyn Harness) {
    let s = h.store().await;
    let a = s.create("/wc/a", val("1")).await.unwrap();
    let b = s.update("/wc/a", a.mod_revision, val("2")).await.unwrap();
    s.update("/wc/a", b.mod_revision, val("3")).await.unwrap();
    s.compact(b.mod_revision).await.unwrap();
    match s.watch("/wc/", a.mod_revision).await {
        Err(StoreError::Compacted { requested, oldest }) => {
            assert_eq!(requested, a.mod_revision);
            assert!(oldest >= b.mod_revision);
        }
        other => panic!("expected Compacted, got {:?}", other.map(|_| "a stream")),
    }
    let mut ok = s.watch("/wc/", b.mod_revision).await.unwrap();
    let event = next(&mut ok).await.unwrap();
    assert_eq!(event.kv.value, val("3"));
    assert_eq!(event.prev.map(|p| p.value), Some(val("2")));
}

pub async fn watch_from_a_future_revision_is_rejected(h: &dyn Harness) {
    let s = h.store().await;
    let current = s.current_revision();
    let result = s.watch("/wf/", current + 5).await;
    assert!(
        matches!(result, Err(StoreError::FutureRevision { requested, .. }) if requested == current + 5),
        "expected FutureRevision"
    );
}

pub async fn a_lagging_watcher_is_ended_while_others_and_writers_continue(h: &dyn Harness) {
    let s = h.store().await;
    let total = h.watch_capacity() * 4;
    let start = s.current_revision();
    let mut slow = s.watch("/lag/", start).await.unwrap();
    let mut fast = s.watch("/lag/", start).await.unwrap();
    let fast_reader = tokio::spawn(async move {
        let mut revs = Vec::with_capacity(total);
        while revs.len() < total {
            revs.push(next(&mut fast).await.unwrap().revision());
        }
        revs
    });
    let writers: Vec<_> = (0..16)
        .map(|t| {
            let s = s.clone();
            tokio::spawn(async move {
                let mut revs = Vec::new();
                for i in 0..total / 16 {
                    let key = format!("/lag/{t}/{i}");
                    revs.push(s.create(&key, val("v")).await.unwrap().mod_revision);
                }
                revs
            })
        })
        .collect();
    let mut written = BTreeSet::new();
    for w in writers {
        written.extend(w.await.unwrap());
    }
    let seen = fast_reader.await.unwrap();
    assert_eq!(
        seen,
        written.into_iter().collect::<Vec<_>>(),
        "the fast watcher saw it all"
    );

    let mut delivered = 0;
    let mut last = start;
    loop {
        match next(&mut slow).await {
            Ok(event) => {
                assert!(event.revision() > last);
                last = event.revision();
                delivered += 1;
            }
            Err(StoreError::Compacted { .. }) => break,
            Err(other) => panic!("unexpected error {other}"),
        }
    }
    assert!(
        delivered < total,
        "the slow watcher cannot have received everything"
    );
    let end = tokio::time::timeout(PATIENCE, slow.next()).await.unwrap();
    assert!(end.is_none(), "the stream ends after Compacted");
}

pub async fn concurrent_writers_all_succeed_with_distinct_revisions(h: &dyn Harness) {
    let s = h.store().await;
    let tasks: Vec<_> = (0..64)
        .map(|i| {
            let s = s.clone();
            tokio::spawn(async move {
                let key = format!("/cc/{i}");
                let created = s.create(&key, val("v")).await.unwrap();
                let updated = s
                    .update(&key, created.mod_revision, val("w"))
                    .await
                    .unwrap();
                vec![created.mod_revision, updated.mod_revision]
            })
        })
        .collect();
    let mut revs = BTreeSet::new();
    for t in tasks {
        for rev in t.await.unwrap() {
            assert!(revs.insert(rev), "revision {rev} handed out twice");
        }
    }
    assert_eq!(revs.len(), 128);
    assert_eq!(s.current_revision(), *revs.last().unwrap());
    assert_eq!(s.count("/cc/").await.unwrap(), 64);
}

pub async fn only_one_of_concurrent_compare_and_swaps_wins(h: &dyn Harness) {
    let s = h.store().await;
    let base = s.create("/cas/a", val("0")).await.unwrap();
    let tasks: Vec<_> = (0..32)
        .map(|i| {
            let s = s.clone();
            let expected = base.mod_revision;
            tokio::spawn(async move { s.update("/cas/a", expected, val(&i.to_string())).await })
        })
        .collect();
    let mut winners = Vec::new();
    for t in tasks {
        match t.await.unwrap() {
            Ok(kv) => winners.push(kv),
            Err(StoreError::Conflict { current }) => assert!(current > base.mod_revision),
            Err(other) => panic!("unexpected error {other}"),
        }
    }
    assert_eq!(winners.len(), 1);
    assert_eq!(s.get("/cas/a").await.unwrap(), Some(winners.remove(0)));
}

pub async fn a_restart_keeps_objects_revisions_and_watch_history(h: &dyn Harness) {
    let s = h.store().await;
    let a = s.create("/rs/a", val("1")).await.unwrap();
    let resume_from = s.current_revision();
    let a2 = s.update("/rs/a", a.mod_revision, val("2")).await.unwrap();
    let b = s.create("/rs/b", val("b")).await.unwrap();
    let gone = s.create("/rs/gone", val("g")).await.unwrap();
    let deleted = s.delete("/rs/gone", None).await.unwrap();
    let before = s.current_revision();
    drop(s);

    let s = h.restart().await;
    assert_eq!(s.current_revision(), before);
    assert_eq!(s.get("/rs/a").await.unwrap(), Some(a2.clone()));
    assert_eq!(s.get("/rs/b").await.unwrap(), Some(b.clone()));
    assert_eq!(s.get("/rs/gone").await.unwrap(), None);
    let listed = s.list(list("/rs/")).await.unwrap();
    assert_eq!(listed.items, vec![a2.clone(), b.clone()]);
    assert_eq!(listed.revision, before);

    let mut w = s.watch("/rs/", resume_from).await.unwrap();
    let c = s.create("/rs/c", val("c")).await.unwrap();
    assert!(
        c.mod_revision > before,
        "revisions continue after a restart"
    );
    let mut got = Vec::new();
    for _ in 0..5 {
        got.push(next(&mut w).await.unwrap());
    }
    let revs: Vec<Revision> = got.iter().map(Event::revision).collect();
    assert_eq!(
        revs,
        [
            a2.mod_revision,
            b.mod_revision,
            gone.mod_revision,
            deleted.mod_revision,
            c.mod_revision
        ]
    );
    assert_eq!(got[3].kind, EventKind::Deleted);
    assert_eq!(got[3].prev, Some(gone));
}

pub async fn compaction_keeps_the_latest_state(h: &dyn Harness) {
    let s = h.store().await;
    let a = s.create("/cp/a", val("1")).await.unwrap();
    let a2 = s.update("/cp/a", a.mod_revision, val("2")).await.unwrap();
    s.create("/cp/b", val("b")).await.unwrap();
    s.delete("/cp/b", None).await.unwrap();
    let c = s.create("/cp/c", val("c")).await.unwrap();
    let floor = s.current_revision();
    s.compact(floor).await.unwrap();
    assert_eq!(s.compacted_revision(), floor);
    assert_eq!(s.list(list("/cp/")).await.unwrap().items, vec![a2, c]);
    s.compact(floor - 1).await.unwrap();
    assert_eq!(s.compacted_revision(), floor, "the floor never moves back");
    let mut w = s.watch("/cp/", floor).await.unwrap();
    let d = s.create("/cp/d", val("d")).await.unwrap();
    assert_eq!(next(&mut w).await.unwrap().kv, d);
}

/// A small deterministic pseudo-random sequence (the checks must be reproducible).
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % n
    }
}

pub async fn list_at_every_revision_matches_the_history(h: &dyn Harness) {
    let s = h.store().await;
    let mut rng = Lcg(7);
    let mut model: BTreeMap<String, KeyValue> = BTreeMap::new();
    let mut states: Vec<(Revision, Vec<KeyValue>)> = Vec::new();
    let mut events: Vec<(Revision, EventKind)> = Vec::new();
    let start = s.current_revision();
    for step in 0..300 {
        let key = format!("/h/k{}", rng.below(12));
        let result = match (model.get(&key).cloned(), rng.below(3)) {
            (None, _) => s
                .create(&key, val(&format!("v{step}")))
                .await
                .map(|kv| (kv, EventKind::Created)),
            (Some(_), 0) => s
                .delete(&key, None)
                .await
                .map(|kv| (kv, EventKind::Deleted)),
            (Some(kv), _) => s
                .update(&key, kv.mod_revision, val(&format!("v{step}")))
                .await
                .map(|kv| (kv, EventKind::Updated)),
        };
        let (kv, kind) = result.unwrap();
        if kind == EventKind::Deleted {
            model.remove(&key);
        } else {
            model.insert(key, kv.clone());
        }
        events.push((kv.mod_revision, kind));
        states.push((kv.mod_revision, model.values().cloned().collect()));
        if step == 150 {
            s.compact(states[100].0).await.unwrap();
        }
    }
    let floor = s.compacted_revision();
    assert_eq!(floor, states[100].0);
    for (rev, state) in states.iter().filter(|(rev, _)| *rev >= floor) {
        let listed = s
            .list(ListRequest {
                revision: Some(*rev),
                ..list("/h/")
            })
            .await
            .unwrap();
        assert_eq!(&listed.items, state, "state at revision {rev}");
    }
    let mut w = s.watch("/h/", floor).await.unwrap();
    let mut replayed = Vec::new();
    let expected: Vec<_> = events.into_iter().filter(|(rev, _)| *rev > floor).collect();
    while replayed.len() < expected.len() {
        let event = next(&mut w).await.unwrap();
        replayed.push((event.revision(), event.kind));
    }
    assert_eq!(replayed, expected);
    assert!(start < floor);
}

pub async fn a_watch_started_during_a_write_storm_has_no_gaps_or_repeats(h: &dyn Harness) {
    let s = h.store().await;
    let base = s.current_revision();
    let (tasks, per_task) = (16, 100);
    let writers: Vec<_> = (0..tasks)
        .map(|t| {
            let s = s.clone();
            tokio::spawn(async move {
                let mut revs = Vec::new();
                for i in 0..per_task {
                    let key = format!("/st/{t}/{i}");
                    revs.push(s.create(&key, val("v")).await.unwrap().mod_revision);
                }
                revs
            })
        })
        .collect();
    while s.current_revision() < base + 400 {
        tokio::task::yield_now().await;
    }
    let from = s.current_revision() - 200;
    let mut w = s.watch("/st/", from).await.unwrap();
    // Nothing else writes, so the storm ends exactly `tasks * per_task` revisions after `base`.
    let last = base + tasks * per_task;
    let reader = tokio::spawn(async move {
        let mut got = Vec::new();
        while got.last().is_none_or(|rev| *rev < last) {
            got.push(next(&mut w).await.unwrap().revision());
        }
        assert_quiet(&mut w).await;
        got
    });
    let mut written = BTreeSet::new();
    for writer in writers {
        written.extend(writer.await.unwrap());
    }
    let expected: Vec<Revision> = written.into_iter().filter(|rev| *rev > from).collect();
    assert_eq!(reader.await.unwrap(), expected);
}
