//! create, update and patch, including the status and scale subresources and server-side apply.

use serde_json::{Value, json};

use super::options::{FieldValidation, PatchType, WriteOptions};
use super::{Api, Outcome, Scope, meta, schema, to_bytes};
use crate::error::{ApiError, Cause};
use crate::jsonpath;
use crate::patch::{self, PatchError};
use crate::plugin::{Operation, UserInfo};
use crate::store::{KeyValue, StoreError};

/// How many times a patch is retried when a concurrent write wins the compare-and-swap.
const PATCH_RETRIES: usize = 8;

/// Where a write goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sub {
    Main,
    Status,
    Scale,
}

impl Sub {
    pub fn parse(s: Option<&str>) -> Result<Sub, ApiError> {
        match s {
            None | Some("") => Ok(Sub::Main),
            Some("status") => Ok(Sub::Status),
            Some("scale") => Ok(Sub::Scale),
            Some(_) => Err(ApiError::method_not_allowed()),
        }
    }
    fn name(self) -> Option<&'static str> {
        match self {
            Sub::Main => None,
            Sub::Status => Some("status"),
            Sub::Scale => Some("scale"),
        }
    }
}

/// The manager name for managedFields: `fieldManager`, else derived from the user agent.
fn manager(opts: &WriteOptions, user_agent: Option<&str>) -> String {
    if let Some(m) = &opts.field_manager {
        return m.clone();
    }
    user_agent
        .and_then(|ua| ua.split('/').next())
        .filter(|s| !s.is_empty())
        .unwrap_or("unknown")
        .to_string()
}

fn patch_error(e: PatchError, scope: &Scope, name: &str) -> ApiError {
    match e {
        PatchError::Malformed(m) => ApiError::bad_request(m),
        // As the real server: a generic 422 whose cause carries the patch library's message.
        PatchError::Failed(m) => ApiError::Custom {
            code: 422,
            reason: "Invalid".into(),
            message: format!("the server rejected our request due to an error in our request: {m}"),
            target: crate::error::Target::default(),
        },
        c @ PatchError::Conflicts(_) => ApiError::conflict(scope.target(name), c.to_string()),
    }
}

/// Parses a request body as JSON, or YAML when `yaml` is set, with the real server's messages.
pub fn parse_body(body: &[u8], yaml: bool) -> Result<Value, ApiError> {
    let parsed = if yaml {
        serde_saphyr::from_slice::<Value>(body)
            .map_err(|e| format!("error converting YAML to JSON: yaml: {e}"))
    } else {
        serde_json::from_slice::<Value>(body)
            .map_err(|e| format!("couldn't get version/kind; json parse error: {e}"))
    };
    match parsed {
        Ok(v) if v.is_object() => Ok(v),
        Ok(v) => Err(ApiError::bad_request(format!(
            "couldn't get version/kind; json parse error: json: cannot unmarshal {} into Go value of type struct {{ APIVersion string \"json:\\\"apiVersion,omitempty\\\"\"; Kind string \"json:\\\"kind,omitempty\\\"\" }}",
            match v {
                Value::Array(_) => "array",
                Value::String(_) => "string",
                Value::Number(_) => "number",
                Value::Bool(_) => "bool",
                _ => "null",
            }
        ))),
        Err(e) => Err(ApiError::bad_request(e)),
    }
}

impl Api {
    /// Checks `apiVersion`/`kind` of a request body against the endpoint.
    fn check_type(&self, scope: &Scope, obj: &Value) -> Result<(), ApiError> {
        let expected_av = scope.def.api_version(&scope.version);
        let av = obj.get("apiVersion").and_then(Value::as_str).unwrap_or("");
        let kind = obj.get("kind").and_then(Value::as_str).unwrap_or("");
        if kind.is_empty() {
            return Err(ApiError::bad_request(format!(
                "Object 'Kind' is missing in '{}'",
                compact(obj)
            )));
        }
        if av.is_empty() {
            return Err(ApiError::bad_request(format!(
                "Object 'apiVersion' is missing in '{}'",
                compact(obj)
            )));
        }
        if kind != scope.def.kind {
            return Err(ApiError::bad_request(format!(
                "the kind in the data ({kind}) does not match the expected kind ({})",
                scope.def.kind
            )));
        }
        if av != expected_av {
            return Err(ApiError::bad_request(format!(
                "the API version in the data ({av}) does not match the expected API version ({expected_av})"
            )));
        }
        Ok(())
    }

    /// Prunes unknown fields and validates types against the requested version's schema;
    /// honours `fieldValidation`. A version served without a schema (an old version served by
    /// conversion) is checked in its stored form instead, see [`Api::apply_storage_schema`].
    fn apply_schema(
        &self,
        scope: &Scope,
        obj: &mut Value,
        opts: &WriteOptions,
    ) -> Result<Vec<String>, ApiError> {
        let Some(schema) = scope
            .def
            .version(&scope.version)
            .and_then(|v| v.schema.as_ref())
        else {
            return Ok(vec![]);
        };
        self.check_against(scope, schema, obj, opts)
    }

    /// For versions without a schema: validates the converted object against the storage
    /// version's schema, so that a field that does not survive conversion is still reported.
    fn apply_storage_schema(
        &self,
        scope: &Scope,
        stored: &mut Value,
        opts: &WriteOptions,
    ) -> Result<Vec<String>, ApiError> {
        if scope
            .def
            .version(&scope.version)
            .is_some_and(|v| v.schema.is_some())
        {
            return Ok(vec![]);
        }
        let target = match &scope.def.storage_of {
            Some((gr, _)) => self.registry().get(&gr.group, &gr.resource).cloned(),
            None => Some(scope.def.clone()),
        };
        let Some(schema) = target.and_then(|d| d.storage_version().schema.clone()) else {
            return Ok(vec![]);
        };
        self.check_against(scope, &schema, stored, opts)
    }

    fn check_against(
        &self,
        scope: &Scope,
        schema: &Value,
        obj: &mut Value,
        opts: &WriteOptions,
    ) -> Result<Vec<String>, ApiError> {
        let name = meta::name(obj).to_string();
        let report = schema::prune_and_validate(schema, obj);
        let unknown: Vec<String> = report
            .unknown
            .iter()
            .map(|p| format!("unknown field \"{p}\""))
            .collect();
        // As the real server: strict decoding (400) fails before schema validation (422).
        if opts.field_validation == FieldValidation::Strict && !unknown.is_empty() {
            return Err(ApiError::bad_request(format!(
                "{kind} in version \"{v}\" cannot be handled as a {kind}: strict decoding error: {}",
                unknown.join(", "),
                kind = scope.def.kind,
                v = scope.version
            )));
        }
        if !report.errors.is_empty() {
            return Err(ApiError::invalid(
                &scope.def.kind,
                scope.target(&name),
                report.errors,
            ));
        }
        Ok(if opts.field_validation == FieldValidation::Warn {
            unknown
        } else {
            vec![]
        })
    }

    async fn check_namespace(&self, scope: &Scope) -> Result<(), ApiError> {
        let Some(ns) = scope.namespace.as_deref().filter(|_| scope.def.namespaced) else {
            return Ok(());
        };
        let Ok(ns_scope) = self.scope("", "v1", "namespaces", None) else {
            return Ok(());
        };
        match self.get(&ns_scope, ns).await {
            Ok(obj) if meta::is_deleting(&obj) => Err(ApiError::Forbidden {
                message: format!(
                    "{} \"{}\" is forbidden: unable to create new content in namespace {ns} because it is being terminated",
                    scope.target("").qualified(),
                    ""
                ),
                target: scope.target(""),
            }),
            Ok(_) => Ok(()),
            Err(ApiError::NotFound(_)) => Err(ApiError::NotFound(ns_scope.target(ns))),
            Err(e) => Err(e),
        }
    }

    /// Creates an object. `user_agent` names the field manager when `fieldManager` is unset.
    pub async fn create(
        &self,
        scope: &Scope,
        mut obj: Value,
        opts: &WriteOptions,
        user: &UserInfo,
        user_agent: Option<&str>,
    ) -> Result<Outcome, ApiError> {
        self.check_type(scope, &obj)?;
        if let Some(ns) = meta::meta_str(&obj, "namespace").filter(|s| !s.is_empty())
            && scope.def.namespaced
            && scope.namespace.as_deref().is_some_and(|s| s != ns)
        {
            return Err(ApiError::bad_request(
                "the namespace of the provided object does not match the namespace sent on the request",
            ));
        }
        if scope.def.namespaced && scope.namespace.is_none() {
            return Err(ApiError::method_not_allowed());
        }
        let mut warnings = self.apply_schema(scope, &mut obj, opts)?;
        self.check_namespace(scope).await?;
        let generate = meta::meta_str(&obj, "generateName")
            .unwrap_or("")
            .to_string();
        let given = meta::name(&obj).to_string();
        let mut obj = self.to_storage(scope, obj)?;
        warnings.extend(self.apply_storage_schema(scope, &mut obj, opts)?);
        meta::reset_server_fields(&mut obj);
        {
            let m = meta::metadata_mut(&mut obj);
            match &scope.namespace {
                Some(ns) if scope.def.namespaced => {
                    m.insert("namespace".into(), json!(ns));
                }
                _ => {
                    m.remove("namespace");
                }
            }
            m.insert("uid".into(), json!(uuid::Uuid::new_v4().to_string()));
            m.insert("creationTimestamp".into(), json!(meta::now()));
            m.insert("generation".into(), json!(1));
        }
        if scope
            .def
            .version(&scope.version)
            .is_some_and(|v| v.status_subresource)
            && let Some(o) = obj.as_object_mut()
        {
            o.remove("status");
        }
        prepare_builtin_create(scope, &mut obj);
        let manager = manager(opts, user_agent);
        for attempt in 0.. {
            let mut candidate = obj.clone();
            let name = if given.is_empty() && !generate.is_empty() {
                meta::generate_name(&generate)
            } else {
                given.clone()
            };
            meta::metadata_mut(&mut candidate).insert("name".into(), json!(name));
            let causes = meta::validate_name(&scope.def, &name);
            if !causes.is_empty() {
                return Err(ApiError::invalid(
                    &scope.def.kind,
                    scope.target(&name),
                    causes,
                ));
            }
            let mut w = self.admit(
                scope,
                Operation::Create,
                None,
                &name,
                user,
                opts.dry_run,
                &mut candidate,
                None,
            )?;
            patch::record_update(None, &mut candidate, &manager, &meta::now());
            meta::normalize_metadata(&mut candidate);
            if opts.dry_run {
                warnings.append(&mut w);
                return Ok(Outcome {
                    object: self.to_client(scope, candidate)?,
                    warnings,
                    code: 201,
                });
            }
            match self
                .inner
                .store
                .create(&scope.key(&name), to_bytes(&candidate))
                .await
            {
                Ok(kv) => {
                    warnings.append(&mut w);
                    meta::set_resource_version(&mut candidate, kv.mod_revision);
                    return Ok(Outcome {
                        object: self.to_client(scope, candidate)?,
                        warnings,
                        code: 201,
                    });
                }
                Err(StoreError::AlreadyExists) if given.is_empty() && attempt < 5 => continue,
                Err(e) => return Err(ApiError::from_store(e, scope.target(&name))),
            }
        }
        unreachable!("the loop returns")
    }

    /// Replaces an object (PUT), through the main endpoint or the status subresource.
    #[allow(clippy::too_many_arguments)]
    pub async fn update(
        &self,
        scope: &Scope,
        name: &str,
        sub: Sub,
        mut obj: Value,
        opts: &WriteOptions,
        user: &UserInfo,
        user_agent: Option<&str>,
    ) -> Result<Outcome, ApiError> {
        if sub == Sub::Scale {
            return self
                .update_scale(scope, name, obj, opts, user, user_agent)
                .await;
        }
        self.check_type(scope, &obj)?;
        let body_name = meta::name(&obj);
        if !body_name.is_empty() && body_name != name {
            return Err(ApiError::bad_request(format!(
                "the name of the object ({body_name}) does not match the name on the URL ({name})"
            )));
        }
        if let Some(ns) = meta::meta_str(&obj, "namespace").filter(|s| !s.is_empty())
            && scope.def.namespaced
            && scope.namespace.as_deref() != Some(ns)
        {
            return Err(ApiError::bad_request(
                "the namespace of the provided object does not match the namespace sent on the request",
            ));
        }
        let mut warnings = self.apply_schema(scope, &mut obj, opts)?;
        let expected = match meta::resource_version(&obj) {
            Some(rv) => Some(super::read::parse_rv(rv)?),
            None if !scope.def.builtin => {
                return Err(ApiError::invalid(
                    &scope.def.kind,
                    scope.target(name),
                    vec![Cause::invalid(
                        "metadata.resourceVersion",
                        "Invalid value: 0: must be specified for an update",
                    )],
                ));
            }
            None => None,
        };
        let mut new = self.to_storage(scope, obj)?;
        warnings.extend(self.apply_storage_schema(scope, &mut new, opts)?);
        loop {
            let current = self.current(scope, name).await?;
            if let Some(rv) = expected
                && rv != current.mod_revision
            {
                return Err(ApiError::stale(scope.target(name)));
            }
            match self
                .write_update(
                    scope,
                    name,
                    sub,
                    &current,
                    new.clone(),
                    opts,
                    user,
                    user_agent,
                    warnings.clone(),
                )
                .await
            {
                Err(WriteError::Conflict) if expected.is_none() => continue,
                Err(WriteError::Conflict) => return Err(ApiError::stale(scope.target(name))),
                Err(WriteError::Api(e)) => return Err(e),
                Ok(o) => return Ok(o),
            }
        }
    }

    async fn current(&self, scope: &Scope, name: &str) -> Result<KeyValue, ApiError> {
        self.inner
            .store
            .get(&scope.key(name))
            .await
            .map_err(|e| ApiError::from_store(e, scope.target(name)))?
            .ok_or_else(|| ApiError::NotFound(scope.target(name)))
    }

    fn stored(&self, kv: &KeyValue) -> Result<Value, ApiError> {
        let mut v: Value = serde_json::from_slice(&kv.value)
            .map_err(|e| ApiError::internal(format!("corrupt object: {e}")))?;
        meta::set_resource_version(&mut v, kv.mod_revision);
        Ok(v)
    }

    /// The common tail of update and patch: merge rules, admission, bookkeeping, CAS write.
    #[allow(clippy::too_many_arguments)]
    async fn write_update(
        &self,
        scope: &Scope,
        name: &str,
        sub: Sub,
        current: &KeyValue,
        new: Value,
        opts: &WriteOptions,
        user: &UserInfo,
        user_agent: Option<&str>,
        mut warnings: Vec<String>,
    ) -> Result<Outcome, WriteError> {
        let old = self.stored(current)?;
        let mut new = merge_for_update(scope, sub, &old, new);
        check_finalizers(scope, name, &old, &new)?;
        let w = self.admit(
            scope,
            Operation::Update,
            sub.name(),
            name,
            user,
            opts.dry_run,
            &mut new,
            Some(&old),
        )?;
        warnings.extend(w);
        // Admission may not change what the endpoint does not own.
        let mut new = merge_for_update(scope, sub, &old, new);
        meta::normalize_metadata(&mut new);
        if meta::spec_part(&old) != meta::spec_part(&new) {
            let generation = meta::metadata(&old)
                .get("generation")
                .and_then(Value::as_i64)
                .unwrap_or(1);
            meta::metadata_mut(&mut new).insert("generation".into(), json!(generation + 1));
        }
        if meta::same_content(&old, &new) {
            return Ok(Outcome {
                object: self.to_client(scope, old)?,
                warnings,
                code: 200,
            });
        }
        patch::record_update(
            Some(&old),
            &mut new,
            &manager(opts, user_agent),
            &meta::now(),
        );
        meta::normalize_metadata(&mut new);
        let deleting_done =
            meta::is_deleting(&new) && !meta::has_pending_finalizers(&new, is_namespace(scope));
        if opts.dry_run {
            return Ok(Outcome {
                object: self.to_client(scope, new)?,
                warnings,
                code: 200,
            });
        }
        let key = scope.key(name);
        let store = &self.inner.store;
        let kv = if deleting_done {
            // Removing the last finalizer of a deleting object deletes it.
            match store
                .update(&key, current.mod_revision, to_bytes(&new))
                .await
            {
                Ok(kv) => store.delete(&key, Some(kv.mod_revision)).await,
                Err(e) => Err(e),
            }
        } else {
            store
                .update(&key, current.mod_revision, to_bytes(&new))
                .await
        };
        match kv {
            Ok(kv) => {
                meta::set_resource_version(&mut new, kv.mod_revision);
                Ok(Outcome {
                    object: self.to_client(scope, new)?,
                    warnings,
                    code: 200,
                })
            }
            Err(StoreError::Conflict { .. }) => Err(WriteError::Conflict),
            Err(StoreError::NotFound) => {
                Err(WriteError::Api(ApiError::NotFound(scope.target(name))))
            }
            Err(e) => Err(WriteError::Api(ApiError::from_store(e, scope.target(name)))),
        }
    }

    /// Applies a patch (any of the four types) to an object or its status/scale subresource.
    #[allow(clippy::too_many_arguments)]
    pub async fn patch(
        &self,
        scope: &Scope,
        name: &str,
        sub: Sub,
        patch_type: PatchType,
        body: &[u8],
        opts: &WriteOptions,
        user: &UserInfo,
        user_agent: Option<&str>,
    ) -> Result<Outcome, ApiError> {
        if patch_type == PatchType::Strategic && !scope.def.builtin {
            return Err(ApiError::UnsupportedMediaType {
                message: "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml".into(),
            });
        }
        let doc: Value = match patch_type {
            PatchType::Apply => serde_saphyr::from_slice::<Value>(body)
                .map_err(|e| ApiError::bad_request(format!("error decoding YAML: {e}")))?,
            _ => serde_json::from_slice(body)
                .map_err(|e| ApiError::bad_request(format!("error decoding patch: {e}")))?,
        };
        if patch_type == PatchType::Apply && opts.field_manager.is_none() {
            return Err(ApiError::bad_request(
                "PATCH /apply requires fieldManager to be set",
            ));
        }
        if opts.force && patch_type != PatchType::Apply {
            return Err(ApiError::bad_request(
                "force flag is only supported for apply patches",
            ));
        }
        for _ in 0..PATCH_RETRIES {
            let current = match self.current(scope, name).await {
                Ok(kv) => kv,
                Err(ApiError::NotFound(_))
                    if patch_type == PatchType::Apply && sub == Sub::Main =>
                {
                    return self.apply_create(scope, name, doc, opts, user).await;
                }
                Err(e) => return Err(e),
            };
            let versioned = self.to_client(scope, self.stored(&current)?)?;
            if sub == Sub::Scale {
                let scale = scale_of(scope, &versioned)?;
                let patched = apply_patch(patch_type, &scale, &doc, &scope.def.kind, opts, now_s())
                    .map_err(|e| patch_error(e, scope, name))?;
                let replicas = patched
                    .pointer("/spec/replicas")
                    .cloned()
                    .unwrap_or(Value::Null);
                match self
                    .write_replicas(
                        scope, name, &current, versioned, replicas, opts, user, user_agent,
                    )
                    .await
                {
                    Ok(o) => return Ok(o),
                    Err(WriteError::Conflict) => continue,
                    Err(WriteError::Api(e)) => return Err(e),
                }
            }
            let mut patched =
                apply_patch(patch_type, &versioned, &doc, &scope.def.kind, opts, now_s())
                    .map_err(|e| patch_error(e, scope, name))?;
            // A resourceVersion in the patch is a precondition.
            let pinned = match meta::resource_version(&patched) {
                Some(rv) if rv != current.mod_revision.to_string() => {
                    return Err(ApiError::stale(scope.target(name)));
                }
                Some(_) => doc.pointer("/metadata/resourceVersion").is_some(),
                None => false,
            };
            if meta::name(&patched) != name {
                return Err(ApiError::bad_request(format!(
                    "the name of the object ({}) does not match the name on the URL ({name})",
                    meta::name(&patched)
                )));
            }
            let mut warnings = self.apply_schema(scope, &mut patched, opts)?;
            let mut new = self.to_storage(scope, patched)?;
            warnings.extend(self.apply_storage_schema(scope, &mut new, opts)?);
            match self
                .write_update(
                    scope, name, sub, &current, new, opts, user, user_agent, warnings,
                )
                .await
            {
                Ok(o) => return Ok(o),
                Err(WriteError::Conflict) if !pinned => continue,
                Err(WriteError::Conflict) => return Err(ApiError::stale(scope.target(name))),
                Err(WriteError::Api(e)) => return Err(e),
            }
        }
        Err(ApiError::conflict(
            scope.target(name),
            "too many concurrent writes; please retry".to_string(),
        ))
    }

    /// Server-side apply to an absent object creates it.
    async fn apply_create(
        &self,
        scope: &Scope,
        name: &str,
        doc: Value,
        opts: &WriteOptions,
        user: &UserInfo,
    ) -> Result<Outcome, ApiError> {
        let manager = opts.field_manager.clone().unwrap_or_default();
        let mut obj = patch::apply(None, &doc, &manager, opts.force, &now_s())
            .map_err(|e| patch_error(e, scope, name))?;
        if meta::name(&obj).is_empty() {
            meta::metadata_mut(&mut obj).insert("name".into(), json!(name));
        }
        let managed = meta::metadata(&obj).get("managedFields").cloned();
        // The apply entry is already recorded; create must not add an Update entry for it.
        let create_opts = WriteOptions {
            field_manager: Some(manager),
            ..opts.clone()
        };
        let mut out = self.create(scope, obj, &create_opts, user, None).await?;
        if let Some(m) = managed {
            meta::metadata_mut(&mut out.object).insert("managedFields".into(), m);
        }
        Ok(out)
    }

    /// Stores `versioned` (the client's form of `current`) with `spec.replicas` set to
    /// `replicas`, answering with the Scale of the result.
    #[allow(clippy::too_many_arguments)]
    async fn write_replicas(
        &self,
        scope: &Scope,
        name: &str,
        current: &KeyValue,
        versioned: Value,
        replicas: Value,
        opts: &WriteOptions,
        user: &UserInfo,
        user_agent: Option<&str>,
    ) -> Result<Outcome, WriteError> {
        let new = self.to_storage(scope, set_spec_replicas(scope, versioned, replicas)?)?;
        let o = self
            .write_update(
                scope,
                name,
                Sub::Main,
                current,
                new,
                opts,
                user,
                user_agent,
                vec![],
            )
            .await?;
        Ok(Outcome {
            object: scale_of(scope, &o.object)?,
            ..o
        })
    }

    /// PUT on `/scale`.
    async fn update_scale(
        &self,
        scope: &Scope,
        name: &str,
        scale: Value,
        opts: &WriteOptions,
        user: &UserInfo,
        user_agent: Option<&str>,
    ) -> Result<Outcome, ApiError> {
        let replicas = scale.pointer("/spec/replicas").cloned().unwrap_or(json!(0));
        let expected = meta::resource_version(&scale)
            .map(super::read::parse_rv)
            .transpose()?;
        loop {
            let current = self.current(scope, name).await?;
            if expected.is_some_and(|rv| rv != current.mod_revision) {
                return Err(ApiError::stale(scope.target(name)));
            }
            let versioned = self.to_client(scope, self.stored(&current)?)?;
            let replicas = replicas.clone();
            match self
                .write_replicas(
                    scope, name, &current, versioned, replicas, opts, user, user_agent,
                )
                .await
            {
                Ok(o) => return Ok(o),
                Err(WriteError::Conflict) if expected.is_none() => continue,
                Err(WriteError::Conflict) => return Err(ApiError::stale(scope.target(name))),
                Err(WriteError::Api(e)) => return Err(e),
            }
        }
    }

    /// GET on `/scale`.
    pub async fn get_scale(&self, scope: &Scope, name: &str) -> Result<Value, ApiError> {
        let obj = self.get(scope, name).await?;
        scale_of(scope, &obj)
    }
}

fn now_s() -> String {
    meta::now()
}

fn apply_patch(
    t: PatchType,
    live: &Value,
    doc: &Value,
    kind: &str,
    opts: &WriteOptions,
    now: String,
) -> Result<Value, PatchError> {
    match t {
        PatchType::Json => patch::json_patch(live, doc),
        PatchType::Merge => patch::merge_patch(live, doc),
        PatchType::Strategic => patch::strategic_merge_patch(live, doc, kind),
        PatchType::Apply => patch::apply(
            Some(live),
            doc,
            opts.field_manager.as_deref().unwrap_or(""),
            opts.force,
            &now,
        ),
    }
}

pub(crate) enum WriteError {
    Conflict,
    Api(ApiError),
}

impl From<ApiError> for WriteError {
    fn from(e: ApiError) -> Self {
        WriteError::Api(e)
    }
}

/// Which parts of `new` an endpoint may change; the rest comes from `old`.
fn merge_for_update(scope: &Scope, sub: Sub, old: &Value, new: Value) -> Value {
    let has_status = scope
        .def
        .version(&scope.version)
        .is_some_and(|v| v.status_subresource);
    let mut out = match sub {
        Sub::Status => {
            let mut o = old.clone();
            match new.get("status") {
                Some(s) => o["status"] = s.clone(),
                None => {
                    o.as_object_mut().map(|m| m.remove("status"));
                }
            }
            o
        }
        _ if has_status => {
            let mut n = new;
            match old.get("status") {
                Some(s) => n["status"] = s.clone(),
                None => {
                    n.as_object_mut().map(|m| m.remove("status"));
                }
            }
            n
        }
        _ => new,
    };
    let old_meta = meta::metadata(old).clone();
    let m = meta::metadata_mut(&mut out);
    for f in [
        "name",
        "namespace",
        "uid",
        "creationTimestamp",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "generation",
    ] {
        match old_meta.get(f) {
            Some(v) => {
                m.insert(f.into(), v.clone());
            }
            None => {
                m.remove(f);
            }
        }
    }
    m.remove("selfLink");
    out
}

fn check_finalizers(scope: &Scope, name: &str, old: &Value, new: &Value) -> Result<(), ApiError> {
    if !meta::is_deleting(old) {
        return Ok(());
    }
    let before = meta::finalizers(old);
    let added: Vec<String> = meta::finalizers(new)
        .into_iter()
        .filter(|f| !before.contains(f))
        .collect();
    if added.is_empty() {
        return Ok(());
    }
    Err(ApiError::invalid(
        &scope.def.kind,
        scope.target(name),
        vec![Cause::new(
            "FieldValueForbidden",
            format!(
                "Forbidden: no new finalizers can be added if the object is being deleted, found new finalizers {added:?}"
            ),
            "metadata.finalizers",
        )],
    ))
}

pub(crate) fn is_namespace(scope: &Scope) -> bool {
    scope.def.builtin && scope.def.group.is_empty() && scope.def.plural == "namespaces"
}

/// Built-in kinds that the real server initialises on create.
fn prepare_builtin_create(scope: &Scope, obj: &mut Value) {
    if !scope.def.builtin || !scope.def.group.is_empty() {
        return;
    }
    match scope.def.plural.as_str() {
        "namespaces" => {
            if obj.pointer("/spec/finalizers").is_none() {
                obj["spec"] = json!({"finalizers": ["kubernetes"]});
            }
            obj["status"] = json!({"phase": "Active"});
        }
        "secrets" if obj.get("type").is_none_or(|t| t.as_str() == Some("")) => {
            obj["type"] = json!("Opaque");
        }
        "pods" if obj.pointer("/status/phase").is_none() => {
            obj["status"] = json!({"phase": "Pending", "qosClass": "BestEffort"});
        }
        _ => {}
    }
}

/// The autoscaling/v1 `Scale` view of an object.
fn scale_of(scope: &Scope, obj: &Value) -> Result<Value, ApiError> {
    let sd = scope
        .def
        .version(&scope.version)
        .and_then(|v| v.scale.clone())
        .ok_or_else(|| ApiError::NotFound(scope.target(meta::name(obj))))?;
    let first = |p: &str| jsonpath::select(p, obj).into_iter().next();
    let spec = first(&sd.spec_replicas_path)
        .and_then(|v| v.as_i64())
        .unwrap_or(0);
    let status = first(&sd.status_replicas_path)
        .and_then(|v| v.as_i64())
        .unwrap_or(0);
    let mut status_obj = json!({"replicas": status});
    if let Some(sel) = sd
        .label_selector_path
        .as_deref()
        .and_then(first)
        .and_then(|v| v.as_str().map(String::from))
    {
        status_obj["selector"] = json!(sel);
    }
    let m = meta::metadata(obj);
    let mut metadata = json!({});
    for f in [
        "name",
        "namespace",
        "uid",
        "resourceVersion",
        "creationTimestamp",
    ] {
        if let Some(v) = m.get(f) {
            metadata[f] = v.clone();
        }
    }
    Ok(json!({
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": metadata,
        "spec": {"replicas": spec},
        "status": status_obj,
    }))
}

fn set_spec_replicas(scope: &Scope, mut obj: Value, replicas: Value) -> Result<Value, ApiError> {
    let path = scope
        .def
        .version(&scope.version)
        .and_then(|v| v.scale.as_ref().map(|s| s.spec_replicas_path.clone()))
        .ok_or_else(|| ApiError::NotFound(scope.target(meta::name(&obj))))?;
    if !(replicas.is_i64() || replicas.is_u64()) || replicas.as_i64().is_some_and(|r| r < 0) {
        return Err(ApiError::invalid(
            "Scale",
            scope.target(meta::name(&obj)),
            vec![Cause::invalid(
                "spec.replicas",
                format!("Invalid value: {replicas}: must be greater than or equal to 0"),
            )],
        ));
    }
    let mut cur = &mut obj;
    let parts: Vec<&str> = path.trim_start_matches('.').split('.').collect();
    for (i, p) in parts.iter().enumerate() {
        if i + 1 == parts.len() {
            cur[*p] = replicas.clone();
        } else {
            if !cur.get(*p).is_some_and(Value::is_object) {
                cur[*p] = json!({});
            }
            cur = cur.get_mut(*p).expect("just ensured");
        }
    }
    Ok(obj)
}

fn compact(v: &Value) -> String {
    let s = v.to_string();
    if s.len() > 200 {
        format!("{}...", &s[..200])
    } else {
        s
    }
}
