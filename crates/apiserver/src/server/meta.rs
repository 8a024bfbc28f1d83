//! Object metadata rules shared by every resource: storage keys, names, timestamps, generation.

use rand::Rng;
use serde_json::{Map, Value, json};

use crate::error::Cause;
use crate::registry::ResourceDef;

/// The storage key of an object. Views (`storage_of`) use the key space of the stored resource.
pub fn key(def: &ResourceDef, namespace: Option<&str>, name: &str) -> String {
    format!("{}{}", prefix(def, namespace), name)
}

/// The key prefix of a collection: all namespaces when `namespace` is `None`.
pub fn prefix(def: &ResourceDef, namespace: Option<&str>) -> String {
    let (group, plural) = match &def.storage_of {
        Some((gr, _)) => (gr.group.as_str(), gr.resource.as_str()),
        None => (def.group.as_str(), def.plural.as_str()),
    };
    let group = if group.is_empty() { "core" } else { group };
    match namespace {
        Some(ns) if def.namespaced => format!("/{group}/{plural}/{ns}/"),
        _ => format!("/{group}/{plural}/"),
    }
}

/// Now, with second precision, as Kubernetes writes `creationTimestamp`.
pub fn now() -> String {
    let ts = jiff::Timestamp::now();
    jiff::Timestamp::from_second(ts.as_second())
        .expect("in range")
        .to_string()
}

/// Now with microseconds, as in `managedFields[].time`-adjacent MicroTime fields.
pub fn now_micro() -> String {
    let ts = jiff::Timestamp::now();
    let micros = ts.as_microsecond();
    jiff::Timestamp::from_microsecond(micros)
        .expect("in range")
        .strftime("%Y-%m-%dT%H:%M:%S%.6fZ")
        .to_string()
}

/// A name from `generateName`: the prefix plus five characters from the same alphabet as
/// apimachinery (no vowels, no confusable digits).
pub fn generate_name(prefix: &str) -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let mut rng = rand::rng();
    let suffix: String = (0..5)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect();
    // apimachinery trims the prefix so the result fits in 63 characters.
    let max_prefix = 63 - 5;
    let p = if prefix.len() > max_prefix {
        &prefix[..max_prefix]
    } else {
        prefix
    };
    format!("{p}{suffix}")
}

/// Name rules: namespaces and a few kinds need a DNS label; everything else a DNS subdomain.
pub fn validate_name(def: &ResourceDef, name: &str) -> Vec<Cause> {
    let mut causes = Vec::new();
    let field = "metadata.name";
    if name.is_empty() {
        causes.push(Cause::required(
            field,
            "Required value: name or generateName is required",
        ));
        return causes;
    }
    let label_only =
        def.group.is_empty() && matches!(def.plural.as_str(), "namespaces" | "services");
    let ok = if label_only {
        is_dns1123_label(name)
    } else {
        is_dns1123_subdomain(name)
    };
    if !ok {
        let msg = if label_only {
            format!(
                "Invalid value: \"{name}\": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
            )
        } else {
            format!(
                "Invalid value: \"{name}\": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
            )
        };
        causes.push(Cause::invalid(field, msg));
    }
    causes
}

pub fn is_dns1123_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

/// apimachinery's `IsDNS1123Subdomain`: at most 253 characters; unlike a label, a part between
/// dots has no length limit of its own.
pub fn is_dns1123_subdomain(s: &str) -> bool {
    let part = |l: &str| {
        !l.is_empty()
            && l.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    !s.is_empty() && s.len() <= 253 && s.split('.').all(part)
}

/// `metadata` of an object (empty map if absent or malformed).
pub fn metadata(obj: &Value) -> &Map<String, Value> {
    static EMPTY: std::sync::OnceLock<Map<String, Value>> = std::sync::OnceLock::new();
    obj.get("metadata")
        .and_then(Value::as_object)
        .unwrap_or_else(|| EMPTY.get_or_init(Map::new))
}

/// `metadata`, created if missing.
pub fn metadata_mut(obj: &mut Value) -> &mut Map<String, Value> {
    if !obj.get("metadata").is_some_and(Value::is_object) {
        obj["metadata"] = json!({});
    }
    obj["metadata"].as_object_mut().expect("just ensured")
}

pub fn meta_str<'a>(obj: &'a Value, field: &str) -> Option<&'a str> {
    metadata(obj).get(field).and_then(Value::as_str)
}

pub fn name(obj: &Value) -> &str {
    meta_str(obj, "name").unwrap_or("")
}

pub fn uid(obj: &Value) -> &str {
    meta_str(obj, "uid").unwrap_or("")
}

pub fn finalizers(obj: &Value) -> Vec<String> {
    metadata(obj)
        .get("finalizers")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|f| f.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

pub fn set_finalizers(obj: &mut Value, finalizers: &[String]) {
    let m = metadata_mut(obj);
    if finalizers.is_empty() {
        m.remove("finalizers");
    } else {
        m.insert("finalizers".into(), json!(finalizers));
    }
}

/// Whether anything still holds the object: `metadata.finalizers`, or for a namespace its
/// `spec.finalizers` (emptied by the namespace controller once the namespace is empty).
pub fn has_pending_finalizers(obj: &Value, is_namespace: bool) -> bool {
    !finalizers(obj).is_empty()
        || (is_namespace
            && obj
                .pointer("/spec/finalizers")
                .and_then(Value::as_array)
                .is_some_and(|a| !a.is_empty()))
}

pub fn is_deleting(obj: &Value) -> bool {
    metadata(obj)
        .get("deletionTimestamp")
        .is_some_and(|v| !v.is_null())
}

pub fn owner_references(obj: &Value) -> Vec<Value> {
    metadata(obj)
        .get("ownerReferences")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
}

/// Sets `metadata.resourceVersion`.
pub fn set_resource_version(obj: &mut Value, rev: u64) {
    metadata_mut(obj).insert("resourceVersion".into(), Value::String(rev.to_string()));
}

/// The `resourceVersion` an object carries, if any. A malformed one is an error for the caller.
pub fn resource_version(obj: &Value) -> Option<&str> {
    meta_str(obj, "resourceVersion").filter(|s| !s.is_empty())
}

/// Everything except `metadata` and `status`: a change here bumps `metadata.generation`.
pub fn spec_part(obj: &Value) -> Value {
    let mut v = obj.clone();
    if let Some(o) = v.as_object_mut() {
        o.remove("metadata");
        o.remove("status");
        o.remove("apiVersion");
        o.remove("kind");
    }
    v
}

/// Whether two objects differ in anything but server-managed bookkeeping, so that an update
/// that changes nothing keeps its resourceVersion (as the real server's no-op detection does).
pub fn same_content(a: &Value, b: &Value) -> bool {
    strip_bookkeeping(a) == strip_bookkeeping(b)
}

fn strip_bookkeeping(v: &Value) -> Value {
    let mut v = v.clone();
    if let Some(m) = v.get_mut("metadata").and_then(Value::as_object_mut) {
        m.remove("resourceVersion");
        m.remove("managedFields");
        if m.get("annotations")
            .and_then(Value::as_object)
            .is_some_and(|a| a.is_empty())
        {
            m.remove("annotations");
        }
        if m.get("labels")
            .and_then(Value::as_object)
            .is_some_and(|a| a.is_empty())
        {
            m.remove("labels");
        }
    }
    v
}

/// ObjectMeta's fields are all `omitempty`: the real server never stores an empty list or map
/// in metadata (e.g. `ownerReferences: []` reads back as absent).
pub fn normalize_metadata(obj: &mut Value) {
    if let Some(m) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
        m.retain(|_, v| match v {
            Value::Null => false,
            Value::Array(a) => !a.is_empty(),
            Value::Object(o) => !o.is_empty(),
            Value::String(s) => !s.is_empty(),
            _ => true,
        });
    }
}

/// Removes fields a client may not set on create (they are assigned by the server).
pub fn reset_server_fields(obj: &mut Value) {
    let m = metadata_mut(obj);
    for f in [
        "uid",
        "resourceVersion",
        "creationTimestamp",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "generation",
        "selfLink",
    ] {
        m.remove(f);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::ResourceDef;

    fn def(group: &str, plural: &str, namespaced: bool) -> ResourceDef {
        let crd = json!({"spec": {"group": group, "scope": if namespaced {"Namespaced"} else {"Cluster"},
            "names": {"kind": "X", "plural": plural}, "versions": [{"name": "v1", "storage": true}]}});
        ResourceDef::from_crd(&crd).unwrap()
    }

    #[test]
    fn keys_separate_groups_namespaces_and_names() {
        let d = def("kubevirt.io", "virtualmachines", true);
        assert_eq!(
            key(&d, Some("default"), "vm1"),
            "/kubevirt.io/virtualmachines/default/vm1"
        );
        assert_eq!(prefix(&d, None), "/kubevirt.io/virtualmachines/");
        let n = def("", "namespaces", false);
        assert_eq!(
            key(&n, Some("ignored"), "default"),
            "/core/namespaces/default"
        );
    }

    #[test]
    fn generated_names_keep_the_prefix_and_add_five_characters() {
        let n = generate_name("virt-launcher-vm1-");
        assert!(n.starts_with("virt-launcher-vm1-"));
        assert_eq!(n.len(), "virt-launcher-vm1-".len() + 5);
        assert!(is_dns1123_subdomain(&n));
    }

    #[test]
    fn names_must_be_dns_subdomains() {
        let d = def("kubevirt.io", "virtualmachines", true);
        assert!(validate_name(&d, "vm-1.a").is_empty());
        assert_eq!(validate_name(&d, "VM").len(), 1);
        assert_eq!(validate_name(&d, "")[0].reason, "FieldValueRequired");
        let ns = def("", "namespaces", false);
        assert_eq!(validate_name(&ns, "a.b").len(), 1);
        // A 70-character single label is a valid subdomain (scenario 54's VMI names).
        assert!(validate_name(&d, &"a".repeat(70)).is_empty());
        assert_eq!(validate_name(&ns, &"a".repeat(70)).len(), 1);
    }

    #[test]
    fn timestamps_have_second_precision() {
        let t = now();
        assert!(t.ends_with('Z') && !t.contains('.'), "{t}");
    }

    #[test]
    fn bookkeeping_changes_are_not_content_changes() {
        let a = json!({"metadata": {"name": "a", "resourceVersion": "1"}, "spec": {"x": 1}});
        let b = json!({"metadata": {"name": "a", "resourceVersion": "2", "managedFields": []}, "spec": {"x": 1}});
        assert!(same_content(&a, &b));
        let c = json!({"metadata": {"name": "a"}, "spec": {"x": 2}});
        assert!(!same_content(&a, &c));
    }
}
