//! Changes applied to a running VMI without a restart (pure: each returns the JSON patch to send,
//! a RestartRequired message, or an error): CPU sockets, node selector and affinity,
//! tolerations, guest memory checks, and the "dynamic" labels and annotations.

use std::collections::BTreeMap;

use api::keys::vmi_condition;
use api::{Cpu, VirtualMachineInstance, VirtualMachineInstanceSpec};
use k8s_openapi::jiff::Timestamp;
use serde::Serialize;
use serde_json::{Value, json};

use super::util::{
    DESCHEDULER_EVICT_ANNOTATION, DESCHEDULER_PREFER_NO_EVICTION_ANNOTATION,
    SKIP_BACKUP_HOOKS_ANNOTATION, is_migrating, vmi_has_condition,
};

/// vCPUs per physical CPU the pod requests for (the cluster default allocation ratio).
pub const CPU_ALLOCATION_RATIO: i64 = 10;

/// What a live-update check decided.
#[derive(Clone, Debug, PartialEq)]
pub enum LiveChange {
    /// Nothing to do.
    None,
    /// Send this JSON patch to the VMI.
    Patch(Value),
    /// The change needs a restart; set RestartRequired with this message.
    RestartRequired(String),
    /// The change cannot be made now.
    Error(String),
}

/// `test` the current value (null when absent) and `add` the new one: `add` replaces object
/// members, and works when the member is missing.
pub fn test_and_set<T: Serialize>(path: &str, old: Option<&T>, new: &T) -> Vec<Value> {
    vec![
        json!({"op": "test", "path": path, "value": old}),
        json!({"op": "add", "path": path, "value": new}),
    ]
}

fn vcpus(cpu: &Cpu) -> i64 {
    let n = |v: Option<u32>| i64::from(v.unwrap_or(0).max(1));
    n(cpu.cores) * n(cpu.sockets) * n(cpu.threads)
}

/// Millicores of a CPU quantity (`2`, `1.5`, `500m`), or `None` if it is not one.
pub fn cpu_millis(q: &str) -> Option<i64> {
    if let Some(m) = q.strip_suffix('m') {
        return m.parse().ok();
    }
    let v: f64 = q.parse().ok()?;
    // Quantities are small; rounding to whole millicores is what the API server stores.
    Some((v * 1000.0).round() as i64)
}

fn format_millis(m: i64) -> String {
    if m % 1000 == 0 {
        (m / 1000).to_string()
    } else {
        format!("{m}m")
    }
}

fn resource<'a>(spec: &'a VirtualMachineInstanceSpec, limits: bool, name: &str) -> Option<&'a str> {
    let r = spec.domain.resources.as_ref()?;
    let map = if limits {
        r.limits.as_ref()
    } else {
        r.requests.as_ref()
    }?;
    map.get(name).map(|q| q.0.as_str())
}

/// CPU socket changes: more sockets are hot-plugged (with the pod's CPU requests and limits
/// grown by 1000/ratio millicores per added vCPU); fewer sockets, more than `maxSockets`, or an
/// arm64 guest need a restart.
pub fn cpu_change(
    vm_spec: &VirtualMachineInstanceSpec,
    vmi: &VirtualMachineInstance,
    now: Timestamp,
) -> LiveChange {
    if vmi.is_marked_for_deletion() {
        return LiveChange::None;
    }
    let (Some(want), Some(have)) = (vm_spec.domain.cpu.as_ref(), vmi.spec.domain.cpu.as_ref())
    else {
        return LiveChange::None;
    };
    let (want_sockets, have_sockets) = (want.sockets.unwrap_or(0), have.sockets.unwrap_or(0));
    if want_sockets == have_sockets {
        return LiveChange::None;
    }
    if vmi_has_condition(Some(vmi), vmi_condition::HOT_VCPU_CHANGE, "True", None) {
        return LiveChange::Error("another CPU hotplug is in progress".into());
    }
    if is_migrating(vmi, now) {
        return LiveChange::Error("CPU hotplug is not allowed while VMI is migrating".into());
    }
    if want_sockets > have.max_sockets.unwrap_or(0) {
        return LiveChange::RestartRequired(
            "CPU sockets updated in template spec to a value higher than what's available".into(),
        );
    }
    if want_sockets < have_sockets {
        return LiveChange::RestartRequired(
            "Reduction of CPU socket count requires a restart".into(),
        );
    }
    if vm_spec.architecture.as_deref() == Some("arm64") {
        return LiveChange::RestartRequired("ARM doesn't support CPU hotplug".into());
    }
    let mut ops = test_and_set(
        "/spec/domain/cpu/sockets",
        have.sockets.as_ref(),
        &want_sockets,
    );
    let delta = (vcpus(want) - vcpus(have)) * (1000 / CPU_ALLOCATION_RATIO);
    for (limits, kind) in [(false, "requests"), (true, "limits")] {
        if resource(vm_spec, limits, "cpu")
            .and_then(cpu_millis)
            .unwrap_or(0)
            == 0
        {
            continue;
        }
        let current = resource(&vmi.spec, limits, "cpu").map(String::from);
        let grown = current.as_deref().and_then(cpu_millis).unwrap_or(0) + delta;
        ops.extend(test_and_set(
            &format!("/spec/domain/resources/{kind}/cpu"),
            current.as_ref(),
            &format_millis(grown),
        ));
    }
    LiveChange::Patch(Value::Array(ops))
}

fn is_empty_value(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Object(m) => m.is_empty(),
        Value::Array(a) => a.is_empty(),
        _ => false,
    }
}

/// Semantic equality of two optional values (absent and empty are the same).
fn same<T: Serialize>(a: Option<&T>, b: Option<&T>) -> bool {
    let a = serde_json::to_value(a).unwrap_or_default();
    let b = serde_json::to_value(b).unwrap_or_default();
    (is_empty_value(&a) && is_empty_value(&b)) || a == b
}

fn sync_field<T: Serialize>(path: &str, want: Option<&T>, have: Option<&T>) -> Vec<Value> {
    match (want, have) {
        (Some(w), None) => vec![json!({"op": "add", "path": path, "value": w})],
        (Some(w), Some(h)) => vec![
            json!({"op": "test", "path": path, "value": h}),
            json!({"op": "replace", "path": path, "value": w}),
        ],
        (None, _) => vec![json!({"op": "remove", "path": path})],
    }
}

/// Node selector and affinity follow the template; not while migrating.
pub fn affinity_change(
    vm_spec: &VirtualMachineInstanceSpec,
    vmi: &VirtualMachineInstance,
    now: Timestamp,
) -> LiveChange {
    if vmi.is_marked_for_deletion() {
        return LiveChange::None;
    }
    let selector_changed = !same(
        vm_spec.node_selector.as_ref(),
        vmi.spec.node_selector.as_ref(),
    );
    let affinity_changed = !same(vm_spec.affinity.as_ref(), vmi.spec.affinity.as_ref());
    if !selector_changed && !affinity_changed {
        return LiveChange::None;
    }
    if is_migrating(vmi, now) {
        return LiveChange::Error(
            "Node affinity should not be changed during VMI migration".into(),
        );
    }
    let mut ops = Vec::new();
    if affinity_changed {
        ops.extend(sync_field(
            "/spec/affinity",
            vm_spec.affinity.as_ref(),
            vmi.spec.affinity.as_ref(),
        ));
    }
    if selector_changed {
        ops.extend(sync_field(
            "/spec/nodeSelector",
            vm_spec.node_selector.as_ref(),
            vmi.spec.node_selector.as_ref(),
        ));
    }
    LiveChange::Patch(Value::Array(ops))
}

/// Tolerations follow the template; not while migrating.
pub fn tolerations_change(
    vm_spec: &VirtualMachineInstanceSpec,
    vmi: &VirtualMachineInstance,
    now: Timestamp,
) -> LiveChange {
    if vmi.is_marked_for_deletion()
        || same(vm_spec.tolerations.as_ref(), vmi.spec.tolerations.as_ref())
    {
        return LiveChange::None;
    }
    if is_migrating(vmi, now) {
        return LiveChange::Error("tolerations should not be changed during VMI migration".into());
    }
    LiveChange::Patch(Value::Array(sync_field(
        "/spec/tolerations",
        vm_spec.tolerations.as_ref(),
        vmi.spec.tolerations.as_ref(),
    )))
}

/// Guest memory changes. Memory hotplug itself is not performed: a changed `memory.guest` on a
/// VMI that reports its current guest memory needs a restart, with upstream's message for the
/// failed, non-migratable and unsupported cases.
pub fn memory_change(
    vm_spec: &VirtualMachineInstanceSpec,
    vmi: &VirtualMachineInstance,
) -> LiveChange {
    if vmi.is_marked_for_deletion() {
        return LiveChange::None;
    }
    let want = vm_spec
        .domain
        .memory
        .as_ref()
        .and_then(|m| m.guest.as_ref());
    let have = vmi
        .spec
        .domain
        .memory
        .as_ref()
        .and_then(|m| m.guest.as_ref());
    let current = vmi
        .status
        .as_ref()
        .and_then(|s| s.memory.as_ref())
        .and_then(|m| m.guest_current.as_ref());
    let (Some(want), Some(have), Some(_)) = (want, have, current) else {
        return LiveChange::None;
    };
    if vmi_has_condition(Some(vmi), vmi_condition::HOT_MEMORY_CHANGE, "False", None) {
        return LiveChange::RestartRequired(
            "memory updated in template spec. Memory-hotplug failed and is not available for this VM configuration".into(),
        );
    }
    if want == have {
        return LiveChange::None;
    }
    if !vmi_has_condition(Some(vmi), vmi_condition::LIVE_MIGRATABLE, "True", None) {
        return LiveChange::RestartRequired(
            "memory updated in template spec. Memory-hotplug is only available for migratable VMs"
                .into(),
        );
    }
    LiveChange::RestartRequired(
        "memory updated in template spec. Memory-hotplug is not available for this VM configuration".into(),
    )
}

/// Brings the keys `patterns` select (exact keys, or `prefix/*`; a bare `*` is ignored) of
/// `source` onto `target`. Returns whether anything changed.
fn sync_keys(
    patterns: &[String],
    source: &BTreeMap<String, String>,
    target: &mut BTreeMap<String, String>,
) -> bool {
    let mut changed = false;
    let mut sync_key = |key: &str, target: &mut BTreeMap<String, String>| {
        if source.get(key) == target.get(key) {
            return;
        }
        changed = true;
        match source.get(key) {
            Some(v) => target.insert(key.to_string(), v.clone()),
            None => target.remove(key),
        };
    };
    for pattern in patterns.iter().filter(|p| !p.is_empty()) {
        if let Some(prefix) = pattern.strip_suffix('*') {
            if prefix.is_empty() {
                continue;
            }
            let mut keys: Vec<String> = source
                .keys()
                .filter(|k| k.starts_with(prefix))
                .cloned()
                .collect();
            keys.extend(target.keys().filter(|k| k.starts_with(prefix)).cloned());
            keys.sort();
            keys.dedup();
            for k in keys {
                sync_key(&k, target);
            }
        } else {
            sync_key(pattern, target);
        }
    }
    changed
}

/// The JSON patch that syncs the dynamic labels and annotations of a running VMI: the configured
/// label patterns and the descheduler and configured annotation patterns from the template, and
/// `kubevirt.io/skip-backup-hooks` from the VM's own annotations.
pub fn dynamic_metadata_patch(
    template_labels: Option<&BTreeMap<String, String>>,
    template_annotations: Option<&BTreeMap<String, String>>,
    vm_annotations: Option<&BTreeMap<String, String>>,
    vmi: &VirtualMachineInstance,
    label_patterns: &[String],
    annotation_patterns: &[String],
) -> Option<Value> {
    if vmi.is_marked_for_deletion() {
        return None;
    }
    let empty = BTreeMap::new();
    let mut ops = Vec::new();
    let mut labels = vmi.metadata.labels.clone().unwrap_or_default();
    if sync_keys(
        label_patterns,
        template_labels.unwrap_or(&empty),
        &mut labels,
    ) {
        ops.extend(test_and_set(
            "/metadata/labels",
            vmi.metadata.labels.as_ref(),
            &labels,
        ));
    }
    let mut annotations = vmi.metadata.annotations.clone().unwrap_or_default();
    let mut patterns = vec![
        DESCHEDULER_EVICT_ANNOTATION.to_string(),
        DESCHEDULER_PREFER_NO_EVICTION_ANNOTATION.to_string(),
    ];
    patterns.extend(annotation_patterns.iter().cloned());
    let a = sync_keys(
        &patterns,
        template_annotations.unwrap_or(&empty),
        &mut annotations,
    );
    let b = sync_keys(
        &[SKIP_BACKUP_HOOKS_ANNOTATION.to_string()],
        vm_annotations.unwrap_or(&empty),
        &mut annotations,
    );
    if a || b {
        ops.extend(test_and_set(
            "/metadata/annotations",
            vmi.metadata.annotations.as_ref(),
            &annotations,
        ));
    }
    (!ops.is_empty()).then_some(Value::Array(ops))
}

#[cfg(test)]
#[path = "live_update_tests.rs"]
mod tests;
