//! delete and deletecollection: preconditions, finalizers, propagation policies and graceful
//! deletion of pods bound to a node.

use serde_json::{Value, json};

use super::options::{DeleteOptions, ListOptions, Propagation};
use super::read::Filter;
use super::write::is_namespace;
use super::{Api, Outcome, Scope, meta, to_bytes};
use crate::error::ApiError;
use crate::plugin::{Operation, UserInfo};
use crate::store::StoreError;

pub const FINALIZER_ORPHAN: &str = "orphan";
pub const FINALIZER_FOREGROUND: &str = "foregroundDeletion";

/// Default grace period of a pod without `spec.terminationGracePeriodSeconds`.
const POD_DEFAULT_GRACE: i64 = 30;

fn is_pod(scope: &Scope) -> bool {
    scope.def.builtin && scope.def.group.is_empty() && scope.def.plural == "pods"
}

impl Api {
    /// Deletes an object, or marks it deleting when finalizers, a propagation policy that needs
    /// the garbage collector, or a pod grace period stand in the way.
    pub async fn delete(
        &self,
        scope: &Scope,
        name: &str,
        opts: &DeleteOptions,
        user: &UserInfo,
    ) -> Result<Outcome, ApiError> {
        let store = &self.inner.store;
        let key = scope.key(name);
        loop {
            let kv = store
                .get(&key)
                .await
                .map_err(|e| ApiError::from_store(e, scope.target(name)))?
                .ok_or_else(|| ApiError::NotFound(scope.target(name)))?;
            let mut obj: Value =
                serde_json::from_slice(&kv.value).map_err(|e| ApiError::internal(e.to_string()))?;
            meta::set_resource_version(&mut obj, kv.mod_revision);
            check_preconditions(scope, name, &obj, opts)?;
            let mut scratch = obj.clone();
            let warnings = self.admit(
                scope,
                Operation::Delete,
                None,
                name,
                user,
                opts.dry_run,
                &mut scratch,
                Some(&obj),
            )?;

            let mut next = obj.clone();
            let mut needs_update = false;
            // Graceful deletion of a pod that a node is running.
            if is_pod(scope) {
                let bound = obj
                    .pointer("/spec/nodeName")
                    .and_then(Value::as_str)
                    .is_some_and(|n| !n.is_empty());
                let terminal = matches!(
                    obj.pointer("/status/phase").and_then(Value::as_str),
                    Some("Succeeded" | "Failed")
                );
                let grace = opts.grace_period_seconds.unwrap_or_else(|| {
                    obj.pointer("/spec/terminationGracePeriodSeconds")
                        .and_then(Value::as_i64)
                        .unwrap_or(POD_DEFAULT_GRACE)
                });
                let grace = if !bound || terminal { 0 } else { grace.max(0) };
                let current_grace = meta::metadata(&obj)
                    .get("deletionGracePeriodSeconds")
                    .and_then(Value::as_i64);
                if grace > 0 {
                    // A repeated delete may only shorten the grace period.
                    if current_grace.is_none_or(|c| grace < c) {
                        let deadline =
                            jiff::Timestamp::now() + jiff::SignedDuration::from_secs(grace);
                        let deadline =
                            jiff::Timestamp::from_second(deadline.as_second()).expect("in range");
                        let m = meta::metadata_mut(&mut next);
                        m.insert("deletionTimestamp".into(), json!(deadline.to_string()));
                        m.insert("deletionGracePeriodSeconds".into(), json!(grace));
                        needs_update = true;
                    } else {
                        return Ok(Outcome {
                            object: self.to_client(scope, obj)?,
                            warnings,
                            code: 200,
                        });
                    }
                } else if current_grace.is_some_and(|c| c > 0) || !meta::is_deleting(&obj) {
                    let m = meta::metadata_mut(&mut next);
                    m.insert("deletionGracePeriodSeconds".into(), json!(0));
                }
            }

            let mut finalizers = meta::finalizers(&next);
            match opts.propagation {
                Some(Propagation::Orphan) => {
                    finalizers.retain(|f| f != FINALIZER_FOREGROUND);
                    if !finalizers.iter().any(|f| f == FINALIZER_ORPHAN) {
                        finalizers.push(FINALIZER_ORPHAN.into());
                    }
                }
                Some(Propagation::Foreground) => {
                    finalizers.retain(|f| f != FINALIZER_ORPHAN);
                    if !finalizers.iter().any(|f| f == FINALIZER_FOREGROUND) {
                        finalizers.push(FINALIZER_FOREGROUND.into());
                    }
                }
                // An explicit background delete cancels a pending orphan or foreground.
                Some(Propagation::Background) if meta::is_deleting(&obj) => {
                    finalizers.retain(|f| f != FINALIZER_ORPHAN && f != FINALIZER_FOREGROUND);
                }
                Some(Propagation::Background) => {}
                None => {}
            }
            if finalizers != meta::finalizers(&next) {
                meta::set_finalizers(&mut next, &finalizers);
                needs_update = true;
            }
            if is_namespace(scope) && meta::has_pending_finalizers(&next, true) {
                // A namespace is emptied by the namespace controller before it goes away.
                if next.pointer("/status/phase").and_then(Value::as_str) != Some("Terminating") {
                    next["status"] = json!({"phase": "Terminating"});
                    needs_update = true;
                }
            }
            let held = meta::has_pending_finalizers(&next, is_namespace(scope));
            if held || needs_update {
                if !meta::is_deleting(&next) {
                    let m = meta::metadata_mut(&mut next);
                    m.insert("deletionTimestamp".into(), json!(meta::now()));
                    m.entry("deletionGracePeriodSeconds").or_insert(json!(0));
                    needs_update = true;
                }
                if held
                    || meta::metadata(&next)
                        .get("deletionGracePeriodSeconds")
                        .and_then(Value::as_i64)
                        .unwrap_or(0)
                        > 0
                {
                    if !needs_update {
                        // Already deleting and nothing to change: report it as in progress.
                        return Ok(Outcome {
                            object: self.to_client(scope, obj)?,
                            warnings,
                            code: 202,
                        });
                    }
                    if opts.dry_run {
                        return Ok(Outcome {
                            object: self.to_client(scope, next)?,
                            warnings,
                            code: 202,
                        });
                    }
                    match store.update(&key, kv.mod_revision, to_bytes(&next)).await {
                        Ok(kv) => {
                            meta::set_resource_version(&mut next, kv.mod_revision);
                            return Ok(Outcome {
                                object: self.to_client(scope, next)?,
                                warnings,
                                code: 202,
                            });
                        }
                        Err(StoreError::Conflict { .. }) => continue,
                        Err(e) => return Err(ApiError::from_store(e, scope.target(name))),
                    }
                }
            }
            if opts.dry_run {
                return Ok(Outcome {
                    object: self.to_client(scope, obj)?,
                    warnings,
                    code: 200,
                });
            }
            match store.delete(&key, Some(kv.mod_revision)).await {
                Ok(deleted) => {
                    let mut o = obj;
                    meta::set_resource_version(&mut o, deleted.mod_revision);
                    return Ok(Outcome {
                        object: self.to_client(scope, o)?,
                        warnings,
                        code: 200,
                    });
                }
                Err(StoreError::Conflict { .. }) => continue,
                Err(StoreError::NotFound) => return Err(ApiError::NotFound(scope.target(name))),
                Err(e) => return Err(ApiError::from_store(e, scope.target(name))),
            }
        }
    }

    /// Deletes every object of a collection that matches the selectors.
    pub async fn delete_collection(
        &self,
        scope: &Scope,
        list: &ListOptions,
        opts: &DeleteOptions,
        user: &UserInfo,
    ) -> Result<Value, ApiError> {
        let filter = Filter::parse(self.registry(), scope, list)?;
        let (items, _, _) = self
            .list_items(
                scope,
                &ListOptions {
                    limit: None,
                    continue_token: None,
                    ..list.clone()
                },
                &filter,
            )
            .await?;
        let mut deleted = Vec::new();
        for item in items {
            let name = meta::name(&item).to_string();
            let item_scope = Scope {
                namespace: meta::meta_str(&item, "namespace")
                    .map(String::from)
                    .or_else(|| scope.namespace.clone()),
                ..scope.clone()
            };
            match self.delete(&item_scope, &name, opts, user).await {
                Ok(o) => deleted.push(o.object),
                Err(ApiError::NotFound(_)) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(json!({
            "apiVersion": scope.def.api_version(&scope.version),
            "kind": scope.def.list_kind,
            "metadata": {"resourceVersion": self.inner.store.current_revision().to_string()},
            "items": deleted,
        }))
    }
}

fn check_preconditions(
    scope: &Scope,
    name: &str,
    obj: &Value,
    opts: &DeleteOptions,
) -> Result<(), ApiError> {
    if let Some(uid) = &opts.precondition_uid
        && uid != meta::uid(obj)
    {
        return Err(ApiError::conflict(
            scope.target(name),
            format!(
                "Operation cannot be fulfilled on {} \"{name}\": Precondition failed: UID in precondition: {uid}, UID in object meta: {}",
                scope.target(name).qualified(),
                meta::uid(obj)
            ),
        ));
    }
    if let Some(rv) = &opts.precondition_resource_version
        && Some(rv.as_str()) != meta::resource_version(obj)
    {
        return Err(ApiError::conflict(
            scope.target(name),
            format!(
                "Operation cannot be fulfilled on {} \"{name}\": the ResourceVersion in the precondition ({rv}) does not match the ResourceVersion in record ({}). The object might have been modified",
                scope.target(name).qualified(),
                meta::resource_version(obj).unwrap_or("")
            ),
        ));
    }
    Ok(())
}
