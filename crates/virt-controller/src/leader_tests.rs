use super::*;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// An in-memory lease shared by candidates; each candidate's client can be cut off.
#[derive(Default)]
struct Store {
    lease: Option<ObservedLease>,
    revision: u64,
}

struct FakeLeases {
    store: Arc<Mutex<Store>>,
    cut_off: Arc<AtomicBool>,
}

impl FakeLeases {
    fn check(&self) -> Result<std::sync::MutexGuard<'_, Store>, LeaderError> {
        if self.cut_off.load(Ordering::SeqCst) {
            return Err(LeaderError::Api("connection refused".into()));
        }
        Ok(self.store.lock().unwrap())
    }
}

fn write(store: &mut Store, record: &LeaseRecord) -> ObservedLease {
    store.revision += 1;
    let lease = ObservedLease {
        record: record.clone(),
        resource_version: store.revision.to_string(),
    };
    store.lease = Some(lease.clone());
    lease
}

#[async_trait]
impl LeaseClient for FakeLeases {
    async fn get(&self) -> Result<Option<ObservedLease>, LeaderError> {
        Ok(self.check()?.lease.clone())
    }

    async fn create(&self, record: &LeaseRecord) -> Result<ObservedLease, LeaderError> {
        let mut store = self.check()?;
        if store.lease.is_some() {
            return Err(LeaderError::Conflict);
        }
        Ok(write(&mut store, record))
    }

    async fn update(
        &self,
        record: &LeaseRecord,
        resource_version: &str,
    ) -> Result<ObservedLease, LeaderError> {
        let mut store = self.check()?;
        if store.lease.as_ref().map(|l| l.resource_version.as_str()) != Some(resource_version) {
            return Err(LeaderError::Conflict);
        }
        Ok(write(&mut store, record))
    }
}

struct Candidate {
    elector: LeaderElector,
    cut_off: Arc<AtomicBool>,
}

fn candidate(store: &Arc<Mutex<Store>>, identity: &str) -> Candidate {
    let cut_off = Arc::new(AtomicBool::new(false));
    let client = Arc::new(FakeLeases {
        store: store.clone(),
        cut_off: cut_off.clone(),
    });
    Candidate {
        elector: LeaderElector::with_lease_client(
            client,
            "kubevirtd",
            identity,
            LeaseTiming::default(),
        ),
        cut_off,
    }
}

/// Counts the candidates working at once and the most ever seen.
#[derive(Default)]
struct Activity {
    now: AtomicUsize,
    max: AtomicUsize,
    started: Mutex<Vec<String>>,
}

struct Working(Arc<Activity>);

impl Drop for Working {
    fn drop(&mut self) {
        self.0.now.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Work that runs until cancelled, recording that it runs.
fn endless(
    activity: Arc<Activity>,
    who: &'static str,
) -> impl FnOnce() -> std::pin::Pin<Box<dyn Future<Output = ()> + Send>> {
    move || {
        Box::pin(async move {
            let n = activity.now.fetch_add(1, Ordering::SeqCst) + 1;
            activity.max.fetch_max(n, Ordering::SeqCst);
            activity.started.lock().unwrap().push(who.to_string());
            let _working = Working(activity.clone());
            std::future::pending::<()>().await
        })
    }
}

fn holder(store: &Arc<Mutex<Store>>) -> Option<String> {
    store
        .lock()
        .unwrap()
        .lease
        .as_ref()
        .and_then(|l| l.record.holder.clone())
}

#[test]
fn decision_table() {
    let t0 = Instant::now();
    let timing = LeaseTiming::default();
    let wall: Timestamp = "2025-01-01T00:00:00Z".parse().unwrap();
    let earlier: Timestamp = "2024-12-31T23:00:00Z".parse().unwrap();
    let held = |holder: Option<&str>| LeaseRecord {
        holder: holder.map(Into::into),
        lease_duration_seconds: 15,
        acquire_time: Some(earlier),
        renew_time: Some(earlier),
        transitions: 3,
    };
    let secs = Duration::from_secs;
    let cases: Vec<(&str, Option<LeaseRecord>, Duration, Attempt)> = vec![
        (
            "no lease: create it",
            None,
            secs(0),
            Attempt::Create(LeaseRecord {
                holder: Some("me".into()),
                lease_duration_seconds: 15,
                acquire_time: Some(wall),
                renew_time: Some(wall),
                transitions: 0,
            }),
        ),
        (
            "a fresh lease of another: wait",
            Some(held(Some("other"))),
            secs(14),
            Attempt::HeldBy("other".into()),
        ),
        (
            "another's lease unchanged for the lease duration: take it",
            Some(held(Some("other"))),
            secs(15),
            Attempt::Update(LeaseRecord {
                acquire_time: Some(wall),
                renew_time: Some(wall),
                transitions: 4,
                ..held(Some("me"))
            }),
        ),
        (
            "our own lease: renew, keeping the acquire time",
            Some(held(Some("me"))),
            secs(1),
            Attempt::Update(LeaseRecord {
                renew_time: Some(wall),
                ..held(Some("me"))
            }),
        ),
        (
            "a released lease: take it at once, without a transition",
            Some(held(None)),
            secs(0),
            Attempt::Update(LeaseRecord {
                acquire_time: Some(wall),
                renew_time: Some(wall),
                ..held(Some("me"))
            }),
        ),
        (
            "an empty holder counts as released",
            Some(held(Some(""))),
            secs(0),
            Attempt::Update(LeaseRecord {
                acquire_time: Some(wall),
                renew_time: Some(wall),
                ..held(Some("me"))
            }),
        ),
    ];
    for (name, record, elapsed, want) in cases {
        assert_eq!(
            decide(record.as_ref(), t0, "me", t0 + elapsed, wall, &timing),
            want,
            "{name}"
        );
    }
}

#[test]
fn the_holders_own_duration_decides_expiry() {
    let t0 = Instant::now();
    let record = LeaseRecord {
        holder: Some("other".into()),
        lease_duration_seconds: 60,
        ..Default::default()
    };
    let wall = Timestamp::UNIX_EPOCH;
    let at = |s| {
        decide(
            Some(&record),
            t0,
            "me",
            t0 + Duration::from_secs(s),
            wall,
            &LeaseTiming::default(),
        )
    };
    assert_eq!(at(30), Attempt::HeldBy("other".into()));
    assert!(matches!(at(60), Attempt::Update(_)));
}

#[tokio::test(start_paused = true)]
async fn a_single_candidate_runs_its_work_and_releases_the_lease() {
    let store = Arc::new(Mutex::new(Store::default()));
    let c = candidate(&store, "a");
    let out = c.elector.run_while_leader(|| async { 42 }).await;
    assert_eq!(out, Ok(42));
    assert_eq!(holder(&store), None, "released");
}

#[tokio::test(start_paused = true)]
async fn two_candidates_never_work_at_once_even_when_the_leader_is_cut_off() {
    let store = Arc::new(Mutex::new(Store::default()));
    let activity = Arc::new(Activity::default());
    let a = candidate(&store, "a");
    let a_cut = a.cut_off.clone();
    let a_task = tokio::spawn(a.elector.run_while_leader(endless(activity.clone(), "a")));
    tokio::time::sleep(Duration::from_millis(10)).await;
    let b = candidate(&store, "b");
    let b_task = tokio::spawn(b.elector.run_while_leader(endless(activity.clone(), "b")));

    tokio::time::sleep(Duration::from_secs(60)).await;
    assert_eq!(
        *activity.started.lock().unwrap(),
        vec!["a".to_string()],
        "b waits while a renews"
    );
    assert_eq!(holder(&store).as_deref(), Some("a"));

    // a loses its connection: it must stop before b may take over.
    a_cut.store(true, Ordering::SeqCst);
    let cut_at = Instant::now();
    let lost = a_task.await.unwrap();
    assert_eq!(lost, Err(LeaderError::Lost("kubevirtd".into())));
    assert!(
        cut_at.elapsed() <= Duration::from_secs(10),
        "a stops within the renew deadline"
    );

    tokio::time::sleep(Duration::from_secs(60)).await;
    assert_eq!(
        *activity.started.lock().unwrap(),
        vec!["a".to_string(), "b".to_string()]
    );
    assert_eq!(activity.max.load(Ordering::SeqCst), 1, "never two at once");
    assert_eq!(activity.now.load(Ordering::SeqCst), 1);
    let lease = store.lock().unwrap().lease.clone().unwrap();
    assert_eq!(
        (lease.record.holder.as_deref(), lease.record.transitions),
        (Some("b"), 1)
    );
    b_task.abort();
}

#[tokio::test(start_paused = true)]
async fn a_finished_leader_hands_over_within_a_retry_period() {
    let store = Arc::new(Mutex::new(Store::default()));
    let a = candidate(&store, "a");
    let a_task = tokio::spawn(
        a.elector
            .run_while_leader(|| tokio::time::sleep(Duration::from_secs(5))),
    );
    tokio::time::sleep(Duration::from_millis(10)).await;
    let b = candidate(&store, "b");
    let started = Instant::now();
    let b_out = b
        .elector
        .run_while_leader(|| async { Instant::now() })
        .await
        .unwrap();
    assert_eq!(a_task.await.unwrap(), Ok(()));
    let waited = b_out.duration_since(started);
    assert!(
        waited >= Duration::from_secs(4) && waited <= Duration::from_secs(8),
        "{waited:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_leader_that_sees_another_holder_stops_at_once() {
    let store = Arc::new(Mutex::new(Store::default()));
    let activity = Arc::new(Activity::default());
    let a = candidate(&store, "a");
    let a_task = tokio::spawn(a.elector.run_while_leader(endless(activity.clone(), "a")));
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(activity.now.load(Ordering::SeqCst), 1);
    {
        let mut s = store.lock().unwrap();
        let mut record = s.lease.clone().unwrap().record;
        record.holder = Some("intruder".into());
        write(&mut s, &record);
    }
    let stolen_at = Instant::now();
    assert_eq!(
        a_task.await.unwrap(),
        Err(LeaderError::Lost("kubevirtd".into()))
    );
    assert!(stolen_at.elapsed() <= Duration::from_secs(2));
    assert_eq!(
        activity.now.load(Ordering::SeqCst),
        0,
        "the work was cancelled"
    );
}

#[tokio::test(start_paused = true)]
async fn a_short_outage_within_the_deadline_keeps_leadership() {
    let store = Arc::new(Mutex::new(Store::default()));
    let activity = Arc::new(Activity::default());
    let a = candidate(&store, "a");
    let cut = a.cut_off.clone();
    let a_task = tokio::spawn(a.elector.run_while_leader(endless(activity.clone(), "a")));
    tokio::time::sleep(Duration::from_secs(3)).await;
    cut.store(true, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_secs(5)).await;
    cut.store(false, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_secs(30)).await;
    assert!(!a_task.is_finished());
    assert_eq!(activity.now.load(Ordering::SeqCst), 1);
    a_task.abort();
}

/// A leader whose work keeps its thread busy past the renew deadline (as a controller handling
/// a re-list of thousands of objects does on a loaded machine) must keep renewing: losing the
/// lease restarts every controller, whose re-lists then overload the process again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn work_that_blocks_its_thread_does_not_cost_the_lease() {
    let store = Arc::new(Mutex::new(Store::default()));
    let timing = LeaseTiming {
        lease_duration: Duration::from_secs(3),
        renew_deadline: Duration::from_secs(2),
        retry_period: Duration::from_millis(200),
    };
    let a = candidate(&store, "a");
    let elector = a.elector.with_timing(timing);
    let renewed_before = Arc::new(Mutex::new(None));
    let seen = renewed_before.clone();
    let watched = store.clone();
    let out = elector
        .run_while_leader(|| async move {
            tokio::time::sleep(Duration::from_millis(100)).await;
            let revision = watched.lock().unwrap().revision;
            *seen.lock().unwrap() = Some(revision);
            // Synchronous work in the leader's task: this thread does nothing else meanwhile.
            std::thread::sleep(Duration::from_secs(5));
            tokio::time::sleep(Duration::from_millis(10)).await;
            42
        })
        .await;
    assert_eq!(
        out,
        Ok(42),
        "the leader kept its lease through the busy spell"
    );
    let before = renewed_before.lock().unwrap().expect("the work ran");
    let after = store.lock().unwrap().revision;
    assert!(
        after >= before + 3,
        "renewals went on while the work blocked ({before} → {after})"
    );
}

/// A real API server (built-in kinds only) and an administrator client.
async fn real_server() -> (kube::Client, tempfile::TempDir, tokio::task::JoinHandle<()>) {
    use apiserver::server::auth::Authenticator;
    use apiserver::store::sqlite::{SqliteOptions, SqliteStore};
    let dir = tempfile::tempdir().unwrap();
    let mut registry = apiserver::Registry::new();
    for def in apiserver::builtin::resources() {
        registry.register(def).unwrap();
    }
    let store = SqliteStore::open(&dir.path().join("store.db"), SqliteOptions::default()).unwrap();
    let api = apiserver::Api::new(registry, Arc::new(store), apiserver::Plugins::default());
    api.bootstrap().await.unwrap();
    let mut auth = Authenticator::new();
    auth.add("t", apiserver::UserInfo::system("virt-controller"));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let router = apiserver::server::http::router(api, Arc::new(auth));
    let server = tokio::spawn(apiserver::server::serve::serve_plain(listener, router));
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut config = kube::Config::new(format!("http://{addr}").parse().unwrap());
    config.auth_info.token = Some("t".to_string().into());
    (kube::Client::try_from(config).unwrap(), dir, server)
}

#[tokio::test]
async fn lease_writes_on_a_real_server_are_guarded_by_resource_version() {
    let (client, _dir, server) = real_server().await;
    let leases = KubeLeaseClient::new(client, "kube-system", "kubevirtd");
    assert_eq!(leases.get().await, Ok(None));
    let now = Timestamp::now();
    let mine = LeaseRecord {
        holder: Some("a".into()),
        lease_duration_seconds: 15,
        acquire_time: Some(now),
        renew_time: Some(now),
        transitions: 0,
    };
    let created = leases.create(&mine).await.unwrap();
    assert_eq!(leases.create(&mine).await, Err(LeaderError::Conflict));
    let read = leases.get().await.unwrap().unwrap();
    assert_eq!(read.record.holder.as_deref(), Some("a"));
    assert_eq!(
        read.record.renew_time.map(|t| t.as_microsecond()),
        Some(now.as_microsecond())
    );
    let renewed = leases
        .update(
            &LeaseRecord {
                transitions: 1,
                ..mine.clone()
            },
            &created.resource_version,
        )
        .await
        .unwrap();
    assert_eq!(renewed.record.transitions, 1);
    assert_eq!(
        leases.update(&mine, &created.resource_version).await,
        Err(LeaderError::Conflict),
        "stale version"
    );
    server.abort();
}

#[tokio::test]
async fn electors_on_a_real_server_take_turns() {
    let (client, _dir, server) = real_server().await;
    let fast = LeaseTiming {
        lease_duration: Duration::from_secs(3),
        renew_deadline: Duration::from_secs(2),
        retry_period: Duration::from_millis(200),
    };
    let a = LeaderElector::new(client.clone(), "kube-system", "kubevirtd", "a").with_timing(fast);
    let b = LeaderElector::new(client.clone(), "kube-system", "kubevirtd", "b").with_timing(fast);
    let order = Arc::new(Mutex::new(Vec::new()));
    let (o1, o2) = (order.clone(), order.clone());
    let a_task = tokio::spawn(a.run_while_leader(move || async move {
        o1.lock().unwrap().push("a starts");
        tokio::time::sleep(Duration::from_millis(700)).await;
        o1.lock().unwrap().push("a ends");
    }));
    tokio::time::sleep(Duration::from_millis(100)).await;
    let b_out = b
        .run_while_leader(move || async move { o2.lock().unwrap().push("b runs") })
        .await;
    assert_eq!(b_out, Ok(()));
    assert_eq!(a_task.await.unwrap(), Ok(()));
    assert_eq!(*order.lock().unwrap(), vec!["a starts", "a ends", "b runs"]);
    server.abort();
}
