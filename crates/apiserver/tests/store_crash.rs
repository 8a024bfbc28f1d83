//! Durability of `SqliteStore` across a crash: a child process runs a write storm and reports
//! every acknowledged write on stdout; the test kills it with SIGKILL in the middle of the storm,
//! reopens the store and checks that every acknowledged write is there with its revision.
//!
//! The child is this test binary itself, started again to run only `write_storm_child`.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Command, Stdio};

use apiserver::store::{Revision, SqliteOptions, SqliteStore, Storage};

const CHILD_DIR: &str = "APISERVER_STORE_CRASH_DIR";
/// Acknowledged writes to wait for before killing the child.
const KILL_AFTER: usize = 3_000;
const WRITERS: usize = 16;

fn store_path(dir: &Path) -> std::path::PathBuf {
    dir.join("store.db")
}

/// One acknowledged write as the child reports it: `ACK <create|update> <key> <revision>`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Ack {
    update: bool,
    key: String,
    revision: Revision,
}

fn parse_ack(line: &str) -> Option<Ack> {
    let mut words = line.strip_prefix("ACK ")?.split(' ');
    let update = match words.next()? {
        "create" => false,
        "update" => true,
        _ => return None,
    };
    let key = words.next()?.to_owned();
    let revision = words.next()?.parse().ok()?;
    words.next().is_none().then_some(Ack {
        update,
        key,
        revision,
    })
}

/// The write storm; only runs when started by `acknowledged_writes_survive_sigkill`.
#[test]
#[ignore = "started as a child process by acknowledged_writes_survive_sigkill"]
fn write_storm_child() {
    let dir = std::env::var_os(CHILD_DIR).expect("the crash test sets the store directory");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async move {
        let store = SqliteStore::open(&store_path(Path::new(&dir)), SqliteOptions::default());
        let store = std::sync::Arc::new(store.unwrap());
        let tasks: Vec<_> = (0..WRITERS)
            .map(|t| {
                let store = store.clone();
                tokio::spawn(async move {
                    for i in 0.. {
                        let key = format!("/crash/{t}/{i}");
                        let kv = store
                            .create(&key, format!("created {i}").into())
                            .await
                            .unwrap();
                        report("create", &key, kv.mod_revision);
                        if i % 3 == 0 {
                            let value = format!("updated {i}").into();
                            let kv = store.update(&key, kv.mod_revision, value).await.unwrap();
                            report("update", &key, kv.mod_revision);
                        }
                    }
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
    });
}

fn report(what: &str, key: &str, revision: Revision) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    writeln!(out, "ACK {what} {key} {revision}").unwrap();
    out.flush().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_writes_survive_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "write_storm_child",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_DIR, dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut acks = Vec::new();
    let mut line = String::new();
    let mut killed = false;
    loop {
        line.clear();
        if out.read_line(&mut line).unwrap() == 0 {
            break;
        }
        // A line cut short by the kill was never fully reported, so it does not count.
        if let Some(ack) = line.strip_suffix('\n').and_then(parse_ack) {
            acks.push(ack);
        }
        if !killed && acks.len() >= KILL_AFTER {
            child.kill().unwrap();
            killed = true;
        }
    }
    let status = child.wait().unwrap();
    assert!(killed, "the child stopped by itself: {status}");
    assert_eq!(
        status.signal(),
        Some(9),
        "the child died of SIGKILL, not otherwise: {status}"
    );
    assert!(acks.len() >= KILL_AFTER);

    let store = SqliteStore::open(&store_path(dir.path()), SqliteOptions::default()).unwrap();
    let max = acks.iter().map(|a| a.revision).max().unwrap();
    assert!(
        store.current_revision() >= max,
        "revisions continue after the crash"
    );
    let mut updated: HashMap<&str, Revision> = HashMap::new();
    for ack in acks.iter().filter(|a| a.update) {
        updated.insert(&ack.key, ack.revision);
    }
    for ack in &acks {
        let kv = store.get(&ack.key).await.unwrap();
        let kv = kv.unwrap_or_else(|| panic!("acknowledged {ack:?} is missing"));
        if ack.update {
            assert_eq!(kv.mod_revision, ack.revision, "{ack:?}");
            assert!(kv.value.starts_with(b"updated "), "{ack:?}");
        } else {
            assert_eq!(kv.create_revision, ack.revision, "{ack:?}");
            if !updated.contains_key(ack.key.as_str()) {
                // An update may have committed without being reported before the kill.
                assert!(kv.mod_revision >= ack.revision, "{ack:?}");
            }
        }
    }
    let before = store.current_revision();
    let next = store.create("/crash/after", "x".into()).await.unwrap();
    assert_eq!(
        next.mod_revision,
        before + 1,
        "new writes continue from the last commit"
    );
}

#[test]
fn ack_lines_round_trip_and_partial_lines_are_rejected() {
    assert_eq!(
        parse_ack("ACK update /crash/3/7 42"),
        Some(Ack {
            update: true,
            key: "/crash/3/7".into(),
            revision: 42
        })
    );
    assert_eq!(
        parse_ack("ACK create /crash/3/7 4"),
        Some(Ack {
            update: false,
            key: "/crash/3/7".into(),
            revision: 4
        })
    );
    assert_eq!(parse_ack("ACK create /crash/3/7"), None);
    assert_eq!(parse_ack("test write_storm_child ... "), None);
}
