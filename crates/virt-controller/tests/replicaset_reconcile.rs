//! Table tests of the replica set decisions: validation, claiming, partitions, burst-limited
//! scaling, the generateName quirk and the status.

use api::{VirtualMachineInstance, VirtualMachineInstanceReplicaSet};
use jiff::Timestamp;
use serde_json::{Value, json};
use virt_controller::replicaset::reconcile::{
    ScaleStep, SpecError, adopt_patch, base_name, claim, cleanup, new_vmi, next_status, partition,
    pause_event, release_patch, scale_step, validate,
};

fn now() -> Timestamp {
    Timestamp::from_second(1_700_000_000).unwrap()
}

fn rs_with(spec: Value, status: Value) -> VirtualMachineInstanceReplicaSet {
    serde_json::from_value(json!({
        "apiVersion": "kubevirt.io/v1", "kind": "VirtualMachineInstanceReplicaSet",
        "metadata": {"name": "foo", "namespace": "default", "uid": "rs-uid"},
        "spec": spec, "status": status,
    }))
    .unwrap()
}

fn rs(replicas: Option<i32>) -> VirtualMachineInstanceReplicaSet {
    let mut spec = json!({
        "selector": {"matchLabels": {"app": "web"}},
        "template": {"metadata": {"labels": {"app": "web"}},
                     "spec": {"domain": {"devices": {}}}},
    });
    if let Some(r) = replicas {
        spec["replicas"] = json!(r);
    }
    rs_with(spec, json!({}))
}

fn vmi(name: &str, owner: Option<&str>, labels: Value, extra: Value) -> VirtualMachineInstance {
    let mut meta = json!({"name": name, "namespace": "default", "uid": format!("{name}-uid"), "labels": labels});
    if let Some(uid) = owner {
        meta["ownerReferences"] = json!([{"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachineInstanceReplicaSet",
            "name": "foo", "uid": uid, "controller": true}]);
    }
    let mut v = json!({"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachineInstance",
        "metadata": meta, "spec": {"domain": {"devices": {}}}});
    if let (Some(o), Value::Object(e)) = (v.as_object_mut(), extra) {
        for (k, val) in e {
            if k == "metadata" {
                for (mk, mv) in val.as_object().unwrap() {
                    o["metadata"][mk] = mv.clone();
                }
            } else {
                o.insert(k, val);
            }
        }
    }
    serde_json::from_value(v).unwrap()
}

fn owned(name: &str) -> VirtualMachineInstance {
    vmi(name, Some("rs-uid"), json!({"app": "web"}), json!({}))
}

fn names(v: &[&VirtualMachineInstance]) -> Vec<String> {
    v.iter().map(|v| v.metadata.name.clone().unwrap()).collect()
}

#[test]
fn specs_the_controller_cannot_act_on_are_rejected() {
    let no_labels = rs_with(
        json!({"selector": {"matchLabels": {"app": "web"}},
               "template": {"metadata": {}, "spec": {"domain": {"devices": {}}}}}),
        json!({}),
    );
    assert_eq!(
        validate(&no_labels).unwrap_err(),
        SpecError::NoTemplateLabels
    );
    let mismatch = rs_with(
        json!({"selector": {"matchLabels": {"app": "db"}},
               "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"domain": {"devices": {}}}}}),
        json!({}),
    );
    assert_eq!(
        validate(&mismatch).unwrap_err(),
        SpecError::SelectorMismatch
    );
    let bad = rs_with(
        json!({"selector": {"matchExpressions": [{"key": "app", "operator": "Sometimes", "values": ["web"]}]},
               "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"domain": {"devices": {}}}}}),
        json!({}),
    );
    assert!(matches!(validate(&bad), Err(SpecError::Selector(_))));
    let no_template = rs_with(
        json!({"selector": {"matchLabels": {"app": "web"}}, "template": {}}),
        json!({}),
    );
    assert_eq!(validate(&no_template).unwrap_err(), SpecError::NoTemplate);
    assert!(validate(&rs(Some(1))).is_ok());
}

#[test]
fn claiming_adopts_matching_orphans_and_releases_non_matching_vmis() {
    let r = rs(Some(3));
    let selector = validate(&r).unwrap();
    let mine = owned("mine");
    let strayed = vmi(
        "strayed",
        Some("rs-uid"),
        json!({"app": "other"}),
        json!({}),
    );
    let theirs = vmi(
        "theirs",
        Some("other-uid"),
        json!({"app": "web"}),
        json!({}),
    );
    let orphan = vmi("orphan", None, json!({"app": "web"}), json!({}));
    let stranger = vmi("stranger", None, json!({"app": "db"}), json!({}));
    let dying = vmi(
        "dying",
        None,
        json!({"app": "web"}),
        json!({"metadata": {"deletionTimestamp": "2024-01-01T00:00:00Z"}}),
    );
    let all = [&mine, &strayed, &theirs, &orphan, &stranger, &dying];
    let c = claim(&r, &selector, &all);
    assert_eq!(names(&c.owned), ["mine"]);
    assert_eq!(names(&c.adopt), ["orphan"]);
    assert_eq!(names(&c.release), ["strayed"]);

    let mut deleting = r.clone();
    deleting.metadata.deletion_timestamp =
        Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(now()));
    let c = claim(&deleting, &selector, &all);
    assert_eq!(names(&c.owned), ["mine"]);
    assert!(
        c.adopt.is_empty() && c.release.is_empty(),
        "a deleting replica set only keeps what it owns"
    );
}

#[test]
fn adoption_and_release_are_merge_patches_of_the_owner_references() {
    let r = rs(Some(1));
    let orphan = vmi("orphan", None, json!({"app": "web"}), json!({}));
    let patch = adopt_patch(&r, &orphan);
    assert_eq!(patch["metadata"]["uid"], "orphan-uid");
    let owner = &patch["metadata"]["ownerReferences"][0];
    assert_eq!(owner["kind"], "VirtualMachineInstanceReplicaSet");
    assert_eq!(
        (
            owner["controller"].clone(),
            owner["blockOwnerDeletion"].clone()
        ),
        (json!(true), json!(true))
    );
    assert_eq!(
        release_patch(),
        json!({"metadata": {"ownerReferences": []}})
    );
}

fn ready(status: &str, reason: &str) -> Value {
    json!({"status": {"phase": "Running", "conditions": [{"type": "Ready", "status": status, "reason": reason,
        "lastProbeTime": null, "lastTransitionTime": null}]}})
}

#[test]
fn partitions_split_active_finished_and_terminating() {
    let active = owned("active");
    let ready_one = vmi(
        "ready",
        Some("rs-uid"),
        json!({"app": "web"}),
        ready("True", ""),
    );
    let finished = vmi(
        "finished",
        Some("rs-uid"),
        json!({"app": "web"}),
        json!({"status": {"phase": "Succeeded"}}),
    );
    let terminating = vmi(
        "terminating",
        Some("rs-uid"),
        json!({"app": "web"}),
        ready("False", "PodTerminating"),
    );
    let deleting = vmi(
        "deleting",
        Some("rs-uid"),
        json!({"app": "web"}),
        json!({"metadata": {"deletionTimestamp": "2024-01-01T00:00:00Z"}}),
    );
    let p = partition(&[&active, &ready_one, &finished, &terminating, &deleting]);
    assert_eq!(names(&p.active), ["active", "ready"]);
    assert_eq!(names(&p.finished), ["finished"]);
    assert_eq!(names(&p.unknown), ["terminating"]);
    assert_eq!(names(&cleanup(&p, 10)), ["finished", "terminating"]);
    assert_eq!(names(&cleanup(&p, 1)), ["finished"]);
}

#[test]
fn scaling_is_limited_to_the_burst() {
    let vmis: Vec<VirtualMachineInstance> = (0..15).map(|i| owned(&format!("v{i:02}"))).collect();
    let all: Vec<&VirtualMachineInstance> = vmis.iter().collect();
    assert_eq!(scale_step(&rs(Some(15)), &[], 10), ScaleStep::Create(10));
    assert_eq!(
        scale_step(&rs(Some(15)), &all[..10], 10),
        ScaleStep::Create(5)
    );
    match scale_step(&rs(Some(0)), &all, 10) {
        ScaleStep::Delete(v) => {
            assert_eq!(names(&v), names(&all[..10]), "the first active VMIs go")
        }
        other => panic!("expected deletions, got {other:?}"),
    }
    assert_eq!(scale_step(&rs(Some(15)), &all, 10), ScaleStep::Nothing);
    assert_eq!(
        scale_step(&rs(None), &[], 10),
        ScaleStep::Create(1),
        "replicas default to 1"
    );
}

#[test]
fn new_vmis_come_from_the_template_without_a_dash() {
    let r = rs(Some(1));
    assert_eq!(base_name(&r), "foo");
    let v = new_vmi(&r);
    assert_eq!(v.metadata.generate_name.as_deref(), Some("foo"));
    assert_eq!(v.metadata.name, None);
    assert_eq!(v.metadata.namespace.as_deref(), Some("default"));
    assert_eq!(v.metadata.labels.as_ref().unwrap()["app"], "web");
    let owner = &v.metadata.owner_references.as_ref().unwrap()[0];
    assert_eq!(
        (
            owner.uid.as_str(),
            owner.controller,
            owner.block_owner_deletion
        ),
        ("rs-uid", Some(true), Some(true))
    );

    let mut named = r.clone();
    named.spec.template.metadata.as_mut().unwrap().generate_name = Some("gen".into());
    assert_eq!(base_name(&named), "gen");
    named.spec.template.metadata.as_mut().unwrap().name = Some("tmpl".into());
    assert_eq!(base_name(&named), "tmpl");
}

#[test]
fn status_counts_replicas_and_publishes_the_canonical_selector() {
    let r = rs_with(
        json!({"replicas": 3,
               "selector": {"matchLabels": {"app": "web"},
                            "matchExpressions": [{"key": "tier", "operator": "In", "values": ["b", "a"]}]},
               "template": {"metadata": {"labels": {"app": "web", "tier": "a"}}, "spec": {"domain": {"devices": {}}}}}),
        json!({}),
    );
    let selector = validate(&r).unwrap();
    let a = owned("a");
    let b = vmi(
        "b",
        Some("rs-uid"),
        json!({"app": "web"}),
        ready("True", ""),
    );
    let status = next_status(&r, &selector, &[&a, &b], None, now()).expect("changed");
    assert_eq!(status.replicas, Some(2));
    assert_eq!(status.ready_replicas, Some(1));
    assert_eq!(
        status.label_selector.as_deref(),
        Some("app=web,tier in (a,b)")
    );
    assert_eq!(status.conditions, None);

    let mut written = r.clone();
    written.status = Some(status);
    assert_eq!(
        next_status(&written, &selector, &[&a, &b], None, now()),
        None,
        "unchanged"
    );
    let empty = next_status(&written, &selector, &[], None, now()).unwrap();
    assert_eq!(
        (empty.replicas, empty.ready_replicas),
        (None, None),
        "zero is omitted"
    );
}

fn conditions(s: &api::VirtualMachineInstanceReplicaSetStatus) -> Vec<(String, String, String)> {
    s.conditions
        .iter()
        .flatten()
        .map(|c| {
            (
                c.type_.clone(),
                c.reason.clone().unwrap_or_default(),
                c.message.clone().unwrap_or_default(),
            )
        })
        .collect()
}

#[test]
fn paused_condition_follows_the_spec_with_events() {
    let mut r = rs(Some(2));
    r.spec.paused = Some(true);
    let selector = validate(&r).unwrap();
    let s = next_status(&r, &selector, &[], None, now()).unwrap();
    assert_eq!(
        conditions(&s),
        [(
            "ReplicaPaused".into(),
            "Paused".into(),
            "Controller got paused".into()
        )]
    );
    assert_eq!(pause_event(&r), Some(("SuccessfulPaused", "Paused")));
    r.status = Some(s);
    assert_eq!(pause_event(&r), None);
    r.spec.paused = Some(false);
    assert_eq!(pause_event(&r), Some(("SuccessfulResumed", "Resumed")));
    let s = next_status(&r, &selector, &[], None, now()).unwrap();
    assert_eq!(s.conditions, None);
}

#[test]
fn scale_errors_set_replica_failure_until_a_clean_pass() {
    let r = rs(Some(2));
    let selector = validate(&r).unwrap();
    let s = next_status(&r, &selector, &[], Some("quota exceeded"), now()).unwrap();
    assert_eq!(
        conditions(&s),
        [(
            "ReplicaFailure".into(),
            "FailedCreate".into(),
            "quota exceeded".into()
        )]
    );
    let mut failed = r.clone();
    failed.status = Some(s);
    assert_eq!(
        next_status(&failed, &selector, &[], Some("again"), now()),
        None,
        "an existing failure is kept as it is"
    );
    assert_eq!(
        next_status(&failed, &selector, &[], None, now())
            .unwrap()
            .conditions,
        None
    );

    let shrink = rs(Some(0));
    let a = owned("a");
    let s = next_status(&shrink, &selector, &[&a], Some("forbidden"), now()).unwrap();
    assert_eq!(conditions(&s)[0].1, "FailedDelete");
}
