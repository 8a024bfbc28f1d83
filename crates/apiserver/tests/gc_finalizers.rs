//! Garbage collection and finalizer semantics, through the in-process `Api` with a real store
//! and the collector running.

use std::sync::Arc;
use std::time::Duration;

use apiserver::server::{
    DeleteOptions, ListOptions, PatchType, Propagation, Sub, WriteOptions, gc,
};
use apiserver::store::sqlite::{SqliteOptions, SqliteStore};
use apiserver::{Api, ApiError, Plugins, Registry, Scope, UserInfo};
use serde_json::{Value, json};

struct Env {
    api: Api,
    _dir: tempfile::TempDir,
}

async fn env() -> Env {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("s.db"), SqliteOptions::default()).unwrap();
    let api = Api::new(
        Registry::with_builtins(),
        Arc::new(store),
        Plugins::default(),
    );
    api.bootstrap().await.unwrap();
    tokio::spawn(gc::run(api.clone()));
    Env { api, _dir: dir }
}

fn user() -> UserInfo {
    UserInfo::new("alice", &["system:authenticated"])
}

fn cms(api: &Api) -> Scope {
    api.scope("", "v1", "configmaps", Some("default")).unwrap()
}

async fn create(api: &Api, name: &str, owners: Value, finalizers: Value) -> Value {
    let obj = json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": name, "ownerReferences": owners, "finalizers": finalizers}});
    api.create(&cms(api), obj, &WriteOptions::default(), &user(), None)
        .await
        .unwrap()
        .object
}

fn owner_ref(owner: &Value, block: bool) -> Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap", "name": owner["metadata"]["name"],
        "uid": owner["metadata"]["uid"], "controller": true, "blockOwnerDeletion": block})
}

async fn exists(api: &Api, name: &str) -> bool {
    match api.get(&cms(api), name).await {
        Ok(_) => true,
        Err(ApiError::NotFound(_)) => false,
        Err(e) => panic!("{e}"),
    }
}

async fn eventually(what: &str, mut f: impl AsyncFnMut() -> bool) {
    for _ in 0..200 {
        if f().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for {what}");
}

async fn delete(api: &Api, name: &str, propagation: Option<Propagation>) -> u16 {
    let opts = DeleteOptions {
        propagation,
        ..Default::default()
    };
    api.delete(&cms(api), name, &opts, &user())
        .await
        .unwrap()
        .code
}

async fn remove_finalizers(api: &Api, name: &str) {
    let body = serde_json::to_vec(&json!({"metadata": {"finalizers": null}})).unwrap();
    api.patch(
        &cms(api),
        name,
        Sub::Main,
        PatchType::Merge,
        &body,
        &WriteOptions::default(),
        &user(),
        None,
    )
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn background_deletion_collects_dependents() {
    let e = env().await;
    let owner = create(&e.api, "owner", json!([]), json!([])).await;
    create(&e.api, "dep", json!([owner_ref(&owner, false)]), json!([])).await;
    assert_eq!(
        delete(&e.api, "owner", None).await,
        200,
        "no finalizers: deleted at once"
    );
    eventually("the dependent to be collected", async || {
        !exists(&e.api, "dep").await
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_dependent_with_another_live_owner_survives_and_loses_only_the_dead_reference() {
    let e = env().await;
    let a = create(&e.api, "a", json!([]), json!([])).await;
    let b = create(&e.api, "b", json!([]), json!([])).await;
    create(
        &e.api,
        "dep",
        json!([owner_ref(&a, false), owner_ref(&b, false)]),
        json!([]),
    )
    .await;
    delete(&e.api, "a", None).await;
    eventually("the dead reference to be stripped", async || {
        let dep = e.api.get(&cms(&e.api), "dep").await.unwrap();
        dep["metadata"]["ownerReferences"]
            .as_array()
            .is_some_and(|r| r.len() == 1)
    })
    .await;
    let dep = e.api.get(&cms(&e.api), "dep").await.unwrap();
    assert_eq!(dep["metadata"]["ownerReferences"][0]["name"], "b");
}

#[tokio::test(flavor = "multi_thread")]
async fn foreground_deletion_waits_for_blocking_dependents() {
    let e = env().await;
    let owner = create(&e.api, "owner", json!([]), json!([])).await;
    // The dependent has its own finalizer, so it lingers while deleting and blocks the owner.
    create(
        &e.api,
        "dep",
        json!([owner_ref(&owner, true)]),
        json!(["example.com/hold"]),
    )
    .await;
    assert_eq!(
        delete(&e.api, "owner", Some(Propagation::Foreground)).await,
        202
    );
    eventually("the dependent to be marked deleting", async || {
        let dep = e.api.get(&cms(&e.api), "dep").await.unwrap();
        dep["metadata"]["deletionTimestamp"].is_string()
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let owner_now = e.api.get(&cms(&e.api), "owner").await.unwrap();
    assert_eq!(
        owner_now["metadata"]["finalizers"],
        json!(["foregroundDeletion"]),
        "blocked by dep"
    );
    remove_finalizers(&e.api, "dep").await;
    eventually("the owner to go once the dependent is gone", async || {
        !exists(&e.api, "owner").await
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn orphan_deletion_keeps_dependents_without_the_reference() {
    let e = env().await;
    let owner = create(&e.api, "owner", json!([]), json!([])).await;
    create(&e.api, "dep", json!([owner_ref(&owner, true)]), json!([])).await;
    assert_eq!(
        delete(&e.api, "owner", Some(Propagation::Orphan)).await,
        202
    );
    eventually("the owner to be gone", async || {
        !exists(&e.api, "owner").await
    })
    .await;
    let dep = e.api.get(&cms(&e.api), "dep").await.unwrap();
    assert!(dep["metadata"].get("ownerReferences").is_none(), "{dep}");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_object_whose_owner_never_existed_is_collected() {
    let e = env().await;
    let ghost = json!({"apiVersion": "v1", "kind": "ConfigMap", "name": "ghost",
        "uid": "00000000-0000-4000-8000-000000000000", "controller": true});
    create(&e.api, "dangling", json!([ghost]), json!([])).await;
    eventually("the dangling dependent to be collected", async || {
        !exists(&e.api, "dangling").await
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn finalizers_hold_an_object_until_removed_and_none_can_be_added_while_deleting() {
    let e = env().await;
    create(&e.api, "held", json!([]), json!(["example.com/a"])).await;
    assert_eq!(delete(&e.api, "held", None).await, 202);
    let obj = e.api.get(&cms(&e.api), "held").await.unwrap();
    assert!(obj["metadata"]["deletionTimestamp"].is_string());
    let add = serde_json::to_vec(
        &json!({"metadata": {"finalizers": ["example.com/a", "example.com/b"]}}),
    )
    .unwrap();
    let err = e
        .api
        .patch(
            &cms(&e.api),
            "held",
            Sub::Main,
            PatchType::Merge,
            &add,
            &WriteOptions::default(),
            &user(),
            None,
        )
        .await
        .unwrap_err();
    assert_eq!(err.status().0.as_u16(), 422, "{err}");
    assert!(err.to_string().contains("no new finalizers"), "{err}");
    // A second delete reports the deletion in progress and changes nothing.
    assert_eq!(delete(&e.api, "held", None).await, 202);
    remove_finalizers(&e.api, "held").await;
    assert!(
        !exists(&e.api, "held").await,
        "removing the last finalizer deletes the object"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn delete_preconditions_and_dry_run_leave_the_object_alone() {
    let e = env().await;
    let obj = create(&e.api, "p", json!([]), json!([])).await;
    let wrong_uid = DeleteOptions {
        precondition_uid: Some("nope".into()),
        ..Default::default()
    };
    let err = e
        .api
        .delete(&cms(&e.api), "p", &wrong_uid, &user())
        .await
        .unwrap_err();
    assert_eq!(err.status().0.as_u16(), 409);
    assert!(
        err.to_string()
            .contains("Precondition failed: UID in precondition: nope"),
        "{err}"
    );
    let wrong_rv = DeleteOptions {
        precondition_resource_version: Some("1".into()),
        ..Default::default()
    };
    assert_eq!(
        e.api
            .delete(&cms(&e.api), "p", &wrong_rv, &user())
            .await
            .unwrap_err()
            .status()
            .0
            .as_u16(),
        409
    );
    let dry = DeleteOptions {
        dry_run: true,
        ..Default::default()
    };
    e.api
        .delete(&cms(&e.api), "p", &dry, &user())
        .await
        .unwrap();
    assert!(exists(&e.api, "p").await);
    let right = DeleteOptions {
        precondition_uid: obj["metadata"]["uid"].as_str().map(String::from),
        ..Default::default()
    };
    e.api
        .delete(&cms(&e.api), "p", &right, &user())
        .await
        .unwrap();
    assert!(!exists(&e.api, "p").await);
}

#[tokio::test(flavor = "multi_thread")]
async fn bound_pods_are_deleted_gracefully_and_the_grace_period_only_shortens() {
    let e = env().await;
    let pods = e.api.scope("", "v1", "pods", Some("default")).unwrap();
    let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
        "spec": {"nodeName": "node01", "terminationGracePeriodSeconds": 60, "containers": [{"name": "c", "image": "i"}]}});
    e.api
        .create(&pods, pod, &WriteOptions::default(), &user(), None)
        .await
        .unwrap();
    let first = e
        .api
        .delete(&pods, "p", &DeleteOptions::default(), &user())
        .await
        .unwrap();
    assert_eq!(first.object["metadata"]["deletionGracePeriodSeconds"], 60);
    let longer = DeleteOptions {
        grace_period_seconds: Some(120),
        ..Default::default()
    };
    let again = e.api.delete(&pods, "p", &longer, &user()).await.unwrap();
    assert_eq!(
        again.object["metadata"]["deletionGracePeriodSeconds"], 60,
        "a longer grace period is ignored"
    );
    let now = DeleteOptions {
        grace_period_seconds: Some(0),
        ..Default::default()
    };
    e.api.delete(&pods, "p", &now, &user()).await.unwrap();
    assert!(matches!(
        e.api.get(&pods, "p").await,
        Err(ApiError::NotFound(_))
    ));
}

#[tokio::test(flavor = "multi_thread")]
async fn deleting_a_namespace_empties_it_then_removes_it() {
    let e = env().await;
    let ns = e.api.scope("", "v1", "namespaces", None).unwrap();
    e.api
        .create(
            &ns,
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "tmp"}}),
            &WriteOptions::default(),
            &user(),
            None,
        )
        .await
        .unwrap();
    let in_tmp = e.api.scope("", "v1", "configmaps", Some("tmp")).unwrap();
    e.api
        .create(
            &in_tmp,
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}}),
            &WriteOptions::default(),
            &user(),
            None,
        )
        .await
        .unwrap();
    let out = e
        .api
        .delete(&ns, "tmp", &DeleteOptions::default(), &user())
        .await
        .unwrap();
    assert_eq!(out.object["status"]["phase"], "Terminating");
    let err = e
        .api
        .create(
            &in_tmp,
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "late"}}),
            &WriteOptions::default(),
            &user(),
            None,
        )
        .await
        .unwrap_err();
    assert_eq!(err.status().0.as_u16(), 403, "{err}");
    eventually("the namespace to be gone", async || {
        matches!(e.api.get(&ns, "tmp").await, Err(ApiError::NotFound(_)))
    })
    .await;
    let left = e.api.list(&in_tmp, &ListOptions::default()).await.unwrap();
    assert_eq!(left["items"], json!([]));
}
