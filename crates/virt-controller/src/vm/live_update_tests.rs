use super::*;
use crate::vm::testing::*;
use api::{ResourceRequirements, RunStrategy, VirtualMachineInstancePhase as Phase};
use k8s_openapi::api::core::v1::Toleration;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

fn sockets(spec: &mut VirtualMachineInstanceSpec, sockets: u32, max: Option<u32>) {
    spec.domain.cpu = Some(Cpu {
        sockets: Some(sockets),
        max_sockets: max,
        ..Default::default()
    });
}

#[test]
fn more_sockets_are_hotplugged_with_grown_cpu_requests() {
    let v = vm(RunStrategy::Always);
    let mut running = vmi(&v, Phase::Running);
    sockets(&mut running.spec, 1, Some(4));
    running.spec.domain.resources = Some(ResourceRequirements {
        requests: Some(BTreeMap::from([("cpu".into(), Quantity("100m".into()))])),
        ..Default::default()
    });
    let mut want = running.spec.clone();
    sockets(&mut want, 3, Some(4));
    let LiveChange::Patch(patch) = cpu_change(&want, &running, now()) else {
        panic!()
    };
    assert_eq!(
        patch[0],
        json!({"op": "test", "path": "/spec/domain/cpu/sockets", "value": 1})
    );
    assert_eq!(
        patch[1],
        json!({"op": "add", "path": "/spec/domain/cpu/sockets", "value": 3})
    );
    assert_eq!(patch[2]["value"], "100m");
    assert_eq!(
        patch[3],
        json!({"op": "add", "path": "/spec/domain/resources/requests/cpu", "value": "300m"})
    );
}

#[test]
fn fewer_or_too_many_sockets_need_a_restart() {
    let v = vm(RunStrategy::Always);
    let mut running = vmi(&v, Phase::Running);
    sockets(&mut running.spec, 2, Some(4));
    let mut want = running.spec.clone();
    sockets(&mut want, 1, Some(4));
    assert_eq!(
        cpu_change(&want, &running, now()),
        LiveChange::RestartRequired("Reduction of CPU socket count requires a restart".into())
    );
    sockets(&mut want, 5, Some(4));
    assert_eq!(
        cpu_change(&want, &running, now()),
        LiveChange::RestartRequired(
            "CPU sockets updated in template spec to a value higher than what's available".into()
        )
    );
    let busy = with_condition(running, "HotVCPUChange", "True", None);
    sockets(&mut want, 3, Some(4));
    assert_eq!(
        cpu_change(&want, &busy, now()),
        LiveChange::Error("another CPU hotplug is in progress".into())
    );
}

#[test]
fn node_selector_affinity_and_tolerations_follow_the_template() {
    let v = vm(RunStrategy::Always);
    let mut running = vmi(&v, Phase::Running);
    running.spec.node_selector = Some(BTreeMap::from([("zone".into(), "a".into())]));
    let mut want = running.spec.clone();
    assert_eq!(affinity_change(&want, &running, now()), LiveChange::None);
    want.node_selector = None;
    assert_eq!(
        affinity_change(&want, &running, now()),
        LiveChange::Patch(json!([{"op": "remove", "path": "/spec/nodeSelector"}]))
    );
    want.tolerations = Some(vec![Toleration {
        key: Some("k".into()),
        ..Default::default()
    }]);
    let LiveChange::Patch(patch) = tolerations_change(&want, &running, now()) else {
        panic!()
    };
    assert_eq!(patch[0]["op"], "add");
    assert_eq!(patch[0]["value"][0]["key"], "k");
    // Empty and absent lists are the same.
    want.tolerations = Some(vec![]);
    assert_eq!(tolerations_change(&want, &running, now()), LiveChange::None);
}

#[test]
fn changed_guest_memory_needs_a_restart_on_non_migratable_vmis() {
    let v = vm(RunStrategy::Always);
    let mut running = vmi(&v, Phase::Running);
    running.spec.domain.memory = Some(api::Memory {
        guest: Some(Quantity("1Gi".into())),
        ..Default::default()
    });
    let mut want = running.spec.clone();
    assert_eq!(
        memory_change(&want, &running),
        LiveChange::None,
        "no current memory reported"
    );
    running.status.as_mut().unwrap().memory = Some(api::MemoryStatus {
        guest_current: Some(Quantity("1Gi".into())),
        ..Default::default()
    });
    assert_eq!(memory_change(&want, &running), LiveChange::None);
    want.domain.memory = Some(api::Memory {
        guest: Some(Quantity("2Gi".into())),
        ..Default::default()
    });
    assert_eq!(
        memory_change(&want, &running),
        LiveChange::RestartRequired(
            "memory updated in template spec. Memory-hotplug is only available for migratable VMs"
                .into()
        )
    );
}

#[test]
fn dynamic_annotations_and_labels_are_synced() {
    let v = vm(RunStrategy::Always);
    let running = vmi(&v, Phase::Running);
    let template_annotations = BTreeMap::from([
        (
            "descheduler.alpha.kubernetes.io/evict".to_string(),
            "true".to_string(),
        ),
        ("other".to_string(), "x".to_string()),
    ]);
    let template_labels = BTreeMap::from([("vendor.io/a".to_string(), "1".to_string())]);
    let patch = dynamic_metadata_patch(
        Some(&template_labels),
        Some(&template_annotations),
        None,
        &running,
        &["vendor.io/*".to_string(), "*".to_string()],
        &[],
    )
    .unwrap();
    let labels = &patch[1]["value"];
    assert_eq!(labels["vendor.io/a"], "1");
    let annotations = &patch[3]["value"];
    assert_eq!(annotations["descheduler.alpha.kubernetes.io/evict"], "true");
    assert!(annotations.get("other").is_none());
    assert_eq!(annotations["kubevirt.io/vm-generation"], "2");
    assert!(dynamic_metadata_patch(None, None, None, &running, &[], &[]).is_none());
}

#[test]
fn cpu_quantities_parse_to_millicores() {
    assert_eq!(cpu_millis("2"), Some(2000));
    assert_eq!(cpu_millis("1.5"), Some(1500));
    assert_eq!(cpu_millis("250m"), Some(250));
    assert_eq!(cpu_millis("x"), None);
}
