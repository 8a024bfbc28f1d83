//! Patch formats: JSON patch (RFC 6902), JSON merge patch (RFC 7396), strategic merge patch
//! (built-in kinds only) and server-side apply with `managedFields`.
//!
//! All functions are pure: the live object in, the patched object out. The API layer handles
//! resourceVersion, admission and storage. See [`apply`](mod@apply) for the server-side apply
//! model and where it diverges from Kubernetes.

pub mod apply;
pub mod fieldset;
mod json;
mod merge;
pub mod schema;
mod strategic;
mod typed;

use serde_json::Value;

pub use apply::{ManagedFieldsEntry, apply_subresource, managed_fields, record_update_subresource};
pub use fieldset::FieldSet;
pub use json::json_patch;
pub use merge::{merge_diff, merge_patch};
pub use strategic::strategic_merge_patch;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PatchError {
    /// The patch document itself is malformed (400 BadRequest).
    #[error("{0}")]
    Malformed(String),
    /// A JSON patch operation could not be applied, including a failed `test` (422 Invalid).
    #[error("{0}")]
    Failed(String),
    /// Server-side apply found fields owned by other managers (409 Conflict). Each entry is
    /// `(manager, field path)`, where the manager is described as the API server does in its
    /// messages: quoted, with ` using <apiVersion>` for `Update` managers, e.g.
    /// `("\"kubectl-client-side-apply\" using v1", ".spec.replicas")`. Sorted by manager, then
    /// path. The `Display` form is the API server's message.
    #[error("{}", conflict_message(.0))]
    Conflicts(Vec<(String, String)>),
}

impl PatchError {
    /// For [`PatchError::Conflicts`], the `details.causes` of the API server's 409 Status:
    /// `(message, field)` pairs such as `("conflict with \"kubectl\"", ".spec.replicas")`,
    /// to be sent with reason `FieldManagerConflict`. Empty for other errors.
    pub fn conflict_causes(&self) -> Vec<(String, String)> {
        match self {
            PatchError::Conflicts(c) => c
                .iter()
                .map(|(m, p)| (format!("conflict with {m}"), p.clone()))
                .collect(),
            _ => Vec::new(),
        }
    }
}

/// `Apply failed with 1 conflict: conflict with "m" using v1: .spec.replicas`, or for several,
/// the conflicts grouped by manager, one `- path` line each.
fn conflict_message(conflicts: &[(String, String)]) -> String {
    if let [(m, p)] = conflicts {
        return format!("Apply failed with 1 conflict: conflict with {m}: {p}");
    }
    let mut managers: Vec<&String> = conflicts.iter().map(|(m, _)| m).collect();
    managers.sort();
    managers.dedup();
    let mut lines = Vec::new();
    for m in managers {
        lines.push(format!("conflicts with {m}:"));
        lines.extend(
            conflicts
                .iter()
                .filter(|(cm, _)| cm == m)
                .map(|(_, p)| format!("- {p}")),
        );
    }
    format!(
        "Apply failed with {} conflicts: {}",
        conflicts.len(),
        lines.join("\n")
    )
}

/// Server-side apply of `applied` (a full or partial object) by `manager`.
///
/// `live` is the current object (`None` when creating). Returns the merged object with
/// `metadata.managedFields` updated: the manager's `Apply` entry owns exactly the fields in
/// `applied`; fields it owned before and no longer applies are removed unless another manager
/// also owns them; a field owned by another manager with a different value is a conflict
/// unless `force`, which takes ownership. `now` is the RFC 3339 time recorded in the entry.
/// An empty `manager` is [`PatchError::Malformed`] (`fieldManager is required for apply
/// requests`).
pub fn apply(
    live: Option<&Value>,
    applied: &Value,
    manager: &str,
    force: bool,
    now: &str,
) -> Result<Value, PatchError> {
    apply_subresource(live, applied, manager, "", force, now)
}

/// Records an `Update` operation by `manager` in `managedFields` of `new`, given the object
/// before (`old`): the manager gains the fields whose values it changed or added, and other
/// managers lose them. Used for create/update/non-apply patches that name a `fieldManager`.
pub fn record_update(old: Option<&Value>, new: &mut Value, manager: &str, now: &str) {
    record_update_subresource(old, new, manager, "", now)
}
