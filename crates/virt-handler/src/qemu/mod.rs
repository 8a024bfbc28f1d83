//! The QEMU node driver: real guests through one virt-launcher per VMI.

pub mod domain;
pub mod guest;
pub mod host;
pub mod plan;
pub mod status;
pub mod stop;

/// Merges `patch` into `base` as a JSON merge patch would (objects recursively, other values
/// replaced, nulls kept).
#[cfg(test)]
pub(crate) fn merge_json(base: &mut serde_json::Value, patch: serde_json::Value) {
    use serde_json::Value;
    match (base, patch) {
        (Value::Object(b), Value::Object(p)) => {
            for (k, v) in p {
                merge_json(b.entry(k).or_insert(Value::Null), v);
            }
        }
        (b, p) => *b = p,
    }
}
