//! End-to-end: a kube-rs 5 client against a real `kubevirtd`.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use api::{VirtualMachine, VirtualMachineSpec};
use common::Kubevirtd;
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::{ConfigMap, Event};
use kube::api::{
    Api, DeleteParams, ListParams, Patch, PatchParams, PostParams, WatchEvent, WatchParams,
};
use kube::runtime::events::{Event as KubeEvent, EventType, Recorder, Reporter};
use kube::runtime::{WatchStreamExt, finalizer, watcher};
use kube::{Resource, ResourceExt};
use serde_json::json;

fn configmap(name: &str) -> ConfigMap {
    ConfigMap {
        metadata: kube::api::ObjectMeta {
            name: Some(name.into()),
            ..Default::default()
        },
        data: Some(BTreeMap::from([("k".to_string(), "v".to_string())])),
        ..Default::default()
    }
}

fn vm(name: &str) -> VirtualMachine {
    let spec: VirtualMachineSpec = serde_json::from_value(json!({
        "runStrategy": "Halted",
        "template": {"spec": {"domain": {"devices": {}, "resources": {"requests": {"memory": "64Mi"}}}}}
    }))
    .unwrap();
    VirtualMachine::new(name, spec)
}

#[tokio::test(flavor = "multi_thread")]
async fn typed_crud_with_conflicts_and_not_found() {
    let k = Kubevirtd::start();
    let client = k.client().await;
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let created = cms
        .create(&PostParams::default(), &configmap("a"))
        .await
        .unwrap();
    assert!(created.metadata.uid.is_some());
    let err = cms
        .create(&PostParams::default(), &configmap("a"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, kube::Error::Api(ref s) if s.code == 409 && s.reason == "AlreadyExists"),
        "{err:?}"
    );

    let mut stale = created.clone();
    let mut fresh = created.clone();
    fresh.data = Some(BTreeMap::from([("k".into(), "2".into())]));
    cms.replace("a", &PostParams::default(), &fresh)
        .await
        .unwrap();
    stale.data = Some(BTreeMap::from([("k".into(), "3".into())]));
    let err = cms
        .replace("a", &PostParams::default(), &stale)
        .await
        .unwrap_err();
    assert!(
        matches!(err, kube::Error::Api(ref s) if s.code == 409 && s.reason == "Conflict"),
        "{err:?}"
    );

    let err = cms.get("missing").await.unwrap_err();
    assert!(
        matches!(err, kube::Error::Api(ref s) if s.code == 404),
        "{err:?}"
    );
    assert!(cms.get_opt("missing").await.unwrap().is_none());

    let vms: Api<VirtualMachine> = Api::namespaced(client, "default");
    let v = vms
        .create(&PostParams::default(), &vm("vm1"))
        .await
        .unwrap();
    assert_eq!(v.spec.run_strategy.as_deref(), Some("Halted"));
    let listed = vms.list(&ListParams::default()).await.unwrap();
    assert_eq!(listed.items.len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn pagination_returns_every_object_once() {
    let k = Kubevirtd::start();
    let cms: Api<ConfigMap> = Api::namespaced(k.client().await, "default");
    for i in 0..25 {
        cms.create(&PostParams::default(), &configmap(&format!("cm-{i:02}")))
            .await
            .unwrap();
    }
    let mut names = Vec::new();
    let mut lp = ListParams::default().limit(7);
    loop {
        let page = cms.list(&lp).await.unwrap();
        names.extend(page.items.iter().map(|c| c.name_any()));
        match page.metadata.continue_ {
            Some(c) if !c.is_empty() => lp = lp.continue_token(&c),
            _ => break,
        }
    }
    let mut sorted = names.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(names.len(), 25);
    assert_eq!(sorted.len(), 25);
}

#[tokio::test(flavor = "multi_thread")]
async fn raw_watch_sees_added_modified_deleted_in_order() {
    let k = Kubevirtd::start();
    let cms: Api<ConfigMap> = Api::namespaced(k.client().await, "default");
    let list = cms.list(&ListParams::default()).await.unwrap();
    let rv = list.metadata.resource_version.unwrap();
    let mut stream = cms
        .watch(&WatchParams::default().timeout(20), &rv)
        .await
        .unwrap()
        .boxed();
    cms.create(&PostParams::default(), &configmap("w"))
        .await
        .unwrap();
    cms.patch(
        "w",
        &PatchParams::default(),
        &Patch::Merge(json!({"data": {"k": "changed"}})),
    )
    .await
    .unwrap();
    cms.delete("w", &DeleteParams::default()).await.unwrap();
    let mut kinds = Vec::new();
    while kinds.len() < 3 {
        match tokio::time::timeout(Duration::from_secs(10), stream.try_next())
            .await
            .unwrap()
            .unwrap()
        {
            Some(WatchEvent::Added(_)) => kinds.push("ADDED"),
            Some(WatchEvent::Modified(_)) => kinds.push("MODIFIED"),
            Some(WatchEvent::Deleted(_)) => kinds.push("DELETED"),
            Some(WatchEvent::Bookmark(_)) => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(kinds, ["ADDED", "MODIFIED", "DELETED"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn watch_from_a_compacted_or_bogus_version_is_gone() {
    let k = Kubevirtd::start();
    let cms: Api<ConfigMap> = Api::namespaced(k.client().await, "default");
    // Version 1 predates compaction only after many writes; a malformed one is a 400.
    let err = cms
        .watch(&WatchParams::default().timeout(2), "not-a-number")
        .await;
    let failed = match err {
        Err(kube::Error::Api(s)) => s.code == 400,
        Ok(s) => matches!(
            s.boxed().next().await,
            Some(Err(_)) | Some(Ok(WatchEvent::Error(_)))
        ),
        Err(_) => true,
    };
    assert!(failed, "a malformed resourceVersion must not start a watch");
}

#[tokio::test(flavor = "multi_thread")]
async fn runtime_watcher_reflects_changes_and_label_selector_transitions() {
    let k = Kubevirtd::start();
    let cms: Api<ConfigMap> = Api::namespaced(k.client().await, "default");
    let cfg = watcher::Config::default().labels("team=blue");
    let mut events = watcher(cms.clone(), cfg).applied_objects().boxed();
    let mut cm = configmap("sel");
    cm.metadata.labels = Some(BTreeMap::from([("team".into(), "red".into())]));
    cms.create(&PostParams::default(), &cm).await.unwrap();
    // Entering the selector is seen as an addition.
    cms.patch(
        "sel",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"labels": {"team": "blue"}}})),
    )
    .await
    .unwrap();
    let seen = tokio::time::timeout(Duration::from_secs(10), events.try_next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(seen.name_any(), "sel");
    assert_eq!(seen.labels().get("team").map(String::as_str), Some("blue"));
}

#[tokio::test(flavor = "multi_thread")]
async fn finalizer_helper_adds_and_removes_with_json_patch_tests() {
    let k = Kubevirtd::start();
    let client = k.client().await;
    let cms: Api<ConfigMap> = Api::namespaced(client, "default");
    cms.create(&PostParams::default(), &configmap("f"))
        .await
        .unwrap();
    let obj = std::sync::Arc::new(cms.get("f").await.unwrap());
    finalizer(&cms, "example.com/cleanup", obj, |_ev| async {
        Ok::<_, std::convert::Infallible>(kube::runtime::controller::Action::await_change())
    })
    .await
    .unwrap();
    let with = cms.get("f").await.unwrap();
    assert_eq!(with.finalizers(), ["example.com/cleanup"]);
    cms.delete("f", &DeleteParams::default()).await.unwrap();
    let deleting = cms.get("f").await.unwrap();
    assert!(
        deleting.meta().deletion_timestamp.is_some(),
        "a finalizer keeps the object"
    );
    finalizer(
        &cms,
        "example.com/cleanup",
        std::sync::Arc::new(deleting),
        |_ev| async {
            Ok::<_, std::convert::Infallible>(kube::runtime::controller::Action::await_change())
        },
    )
    .await
    .unwrap();
    assert!(
        cms.get_opt("f").await.unwrap().is_none(),
        "removing the last finalizer deletes the object"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn server_side_apply_through_kube_rs() {
    let k = Kubevirtd::start();
    let cms: Api<ConfigMap> = Api::namespaced(k.client().await, "default");
    let pp = PatchParams::apply("my-manager");
    let applied = cms
        .patch("ssa", &pp, &Patch::Apply(json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "ssa"}, "data": {"a": "1"}})))
        .await
        .unwrap();
    assert_eq!(applied.data.unwrap()["a"], "1");
    let managers: Vec<_> = applied
        .metadata
        .managed_fields
        .unwrap()
        .iter()
        .filter_map(|m| m.manager.clone())
        .collect();
    assert_eq!(managers, ["my-manager"]);
    // Another manager changing the same field conflicts unless it forces.
    let other = PatchParams::apply("other");
    let err = cms
        .patch("ssa", &other, &Patch::Apply(json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "ssa"}, "data": {"a": "2"}})))
        .await
        .unwrap_err();
    assert!(
        matches!(err, kube::Error::Api(ref s) if s.code == 409),
        "{err:?}"
    );
    let forced = cms
        .patch("ssa", &other.force(), &Patch::Apply(json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "ssa"}, "data": {"a": "2"}})))
        .await
        .unwrap();
    assert_eq!(forced.data.unwrap()["a"], "2");
}

#[tokio::test(flavor = "multi_thread")]
async fn events_from_the_recorder_are_listed_as_core_events() {
    let k = Kubevirtd::start();
    let client = k.client().await;
    let cms: Api<ConfigMap> = Api::namespaced(client.clone(), "default");
    let cm = cms
        .create(&PostParams::default(), &configmap("e"))
        .await
        .unwrap();
    let recorder = Recorder::new(
        client.clone(),
        Reporter {
            controller: "test-controller".into(),
            instance: None,
        },
    );
    recorder
        .publish(
            &KubeEvent {
                type_: EventType::Normal,
                reason: "Tested".into(),
                note: Some("it works".into()),
                action: "Test".into(),
                secondary: None,
            },
            &cm.object_ref(&()),
        )
        .await
        .unwrap();
    let events: Api<Event> = Api::namespaced(client, "default");
    let list = events
        .list(&ListParams::default().fields(&format!(
            "involvedObject.name=e,involvedObject.uid={}",
            cm.uid().unwrap()
        )))
        .await
        .unwrap();
    assert_eq!(list.items.len(), 1);
    assert_eq!(list.items[0].reason.as_deref(), Some("Tested"));
    assert_eq!(list.items[0].message.as_deref(), Some("it works"));
}

#[tokio::test(flavor = "multi_thread")]
async fn acknowledged_writes_survive_kill_9() {
    let mut k = Kubevirtd::start();
    let cms: Api<ConfigMap> = Api::namespaced(k.client().await, "default");
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let mut writers = Vec::new();
    for w in 0..8 {
        let cms = cms.clone();
        let tx = tx.clone();
        writers.push(tokio::spawn(async move {
            for i in 0.. {
                let name = format!("w{w}-{i}");
                match cms.create(&PostParams::default(), &configmap(&name)).await {
                    Ok(c) => {
                        let _ = tx.send((name, c.resource_version().unwrap()));
                    }
                    Err(_) => return,
                }
            }
        }));
    }
    drop(tx);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    k.kill9();
    for w in writers {
        let _ = w.await;
    }
    let mut acked = Vec::new();
    while let Some(a) = rx.recv().await {
        acked.push(a);
    }
    assert!(
        acked.len() > 20,
        "the storm made too few writes ({})",
        acked.len()
    );
    k.start_again();
    let cms: Api<ConfigMap> = Api::namespaced(k.client().await, "default");
    let stored = cms.list(&ListParams::default()).await.unwrap();
    let by_name: BTreeMap<String, String> = stored
        .items
        .iter()
        .map(|c| (c.name_any(), c.resource_version().unwrap()))
        .collect();
    for (name, rv) in &acked {
        assert_eq!(
            by_name.get(name),
            Some(rv),
            "acknowledged write {name}@{rv} lost"
        );
    }
}

async fn raw(
    client: &kube::Client,
    method: &str,
    path: &str,
    content_type: &str,
    body: &str,
) -> (u16, serde_json::Value) {
    let req = http::Request::builder()
        .method(method)
        .uri(path)
        .header("Content-Type", content_type)
        .body(body.as_bytes().to_vec())
        .unwrap();
    let resp = client
        .send(req.map(kube::client::Body::from))
        .await
        .unwrap();
    let code = resp.status().as_u16();
    let bytes = http_body_util::BodyExt::collect(resp.into_body())
        .await
        .unwrap()
        .to_bytes();
    (
        code,
        serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn malformed_bodies_get_the_real_servers_400s_and_store_nothing() {
    let k = Kubevirtd::start();
    let client = k.client().await;
    let path = "/api/v1/namespaces/default/configmaps";
    let (code, status) = raw(&client, "POST", path, "application/json", "{not json").await;
    assert_eq!(code, 400);
    assert_eq!(status["reason"], "BadRequest");
    assert!(
        status["message"]
            .as_str()
            .unwrap()
            .starts_with("couldn't get version/kind; json parse error"),
        "{status}"
    );
    let (code, status) = raw(&client, "POST", path, "application/yaml", "a: [unclosed").await;
    assert_eq!(code, 400);
    assert!(
        status["message"]
            .as_str()
            .unwrap()
            .starts_with("error converting YAML to JSON"),
        "{status}"
    );
    let (code, status) = raw(
        &client,
        "POST",
        path,
        "application/json",
        r#"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"x"}}"#,
    )
    .await;
    assert_eq!(code, 400, "{status}");
    assert!(
        status["message"]
            .as_str()
            .unwrap()
            .contains("does not match the expected kind"),
        "{status}"
    );
    let (code, status) = raw(&client, "POST", path, "text/plain", "{}").await;
    assert_eq!(code, 415, "{status}");
    assert_eq!(status["reason"], "UnsupportedMediaType");
    let cms: Api<ConfigMap> = Api::namespaced(client, "default");
    assert!(
        cms.list(&ListParams::default())
            .await
            .unwrap()
            .items
            .is_empty()
    );
}
