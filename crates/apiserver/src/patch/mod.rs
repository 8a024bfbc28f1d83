//! Patch formats: JSON patch (RFC 6902), JSON merge patch (RFC 7396), strategic merge patch
//! (built-in kinds only) and server-side apply with `managedFields`.
//!
//! All functions are pure: the live object in, the patched object out. The API layer handles
//! resourceVersion, admission and storage.

use serde_json::Value;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PatchError {
    /// The patch document itself is malformed (400 BadRequest).
    #[error("{0}")]
    Malformed(String),
    /// A JSON patch operation could not be applied, including a failed `test` (422 Invalid).
    #[error("{0}")]
    Failed(String),
    /// Server-side apply found fields owned by other managers (409 Conflict). Each entry is
    /// `(manager, field path)`, e.g. `("kubectl-client-side-apply", ".spec.replicas")`.
    #[error("Apply failed with {} conflict(s)", .0.len())]
    Conflicts(Vec<(String, String)>),
}

/// Applies an RFC 6902 JSON patch (all six ops, `-` append, `~0`/`~1` escapes).
pub fn json_patch(doc: &Value, patch: &Value) -> Result<Value, PatchError> {
    let _ = (doc, patch);
    todo!()
}

/// Applies an RFC 7396 merge patch (`null` deletes, arrays replace).
pub fn merge_patch(doc: &Value, patch: &Value) -> Result<Value, PatchError> {
    let _ = (doc, patch);
    todo!()
}

/// Applies a strategic merge patch to a built-in kind: lists with a known merge key (containers,
/// volumes, ports, env, conditions, ...) merge by key, `$patch: delete|replace|merge` and
/// `$setElementOrder`/`$retainKeys`/`$deleteFromPrimitiveList` directives are honoured; other
/// lists replace as in a merge patch. `kind` is the object's kind (e.g. "Pod").
pub fn strategic_merge_patch(doc: &Value, patch: &Value, kind: &str) -> Result<Value, PatchError> {
    let _ = (doc, patch, kind);
    todo!()
}

/// Server-side apply of `applied` (a full or partial object) by `manager`.
///
/// `live` is the current object (`None` when creating). Returns the merged object with
/// `metadata.managedFields` updated: the manager's `Apply` entry owns exactly the fields in
/// `applied`; fields it owned before and no longer applies are removed unless another manager
/// also owns them; a field owned by another manager with a different value is a conflict
/// unless `force`, which takes ownership. `now` is the RFC 3339 time recorded in the entry.
pub fn apply(
    live: Option<&Value>,
    applied: &Value,
    manager: &str,
    force: bool,
    now: &str,
) -> Result<Value, PatchError> {
    let _ = (live, applied, manager, force, now);
    todo!()
}

/// Records an `Update` operation by `manager` in `managedFields` of `new`, given the object
/// before (`old`): the manager gains the fields whose values it changed or added, and other
/// managers lose them. Used for create/update/non-apply patches that name a `fieldManager`.
pub fn record_update(old: Option<&Value>, new: &mut Value, manager: &str, now: &str) {
    let _ = (old, new, manager, now);
    todo!()
}
