//! The server: typed operations on resources ([`Api`]) and the HTTP layer in front of them.
//!
//! [`Api`] is the single implementation of Kubernetes object semantics (create, update, patch,
//! delete, list, watch, status and scale subresources, finalizers, admission). The HTTP handlers
//! parse requests into typed values and call it; plug-ins call it directly in-process.

pub mod auth;
mod delete;
pub mod gc;
pub mod http;
pub mod meta;
pub mod metrics;
pub mod options;
mod read;
pub mod schema;
pub mod serve;
pub mod table;
pub mod tls;
pub mod watch;
mod write;

use std::sync::Arc;

use bytes::Bytes;
use serde_json::Value;

use crate::error::{ApiError, Target};
use crate::plugin::{Admission, AdmissionRequest, Operation, Plugins, UserInfo};
use crate::registry::{Registry, ResourceDef};
use crate::store::{KeyValue, Storage};

pub use options::{
    DeleteOptions, FieldValidation, ListOptions, PatchType, Propagation, WriteOptions,
};
pub use write::Sub;

/// A collection a request is about: a resource at a version, in a namespace or across all.
#[derive(Clone, Debug)]
pub struct Scope {
    pub def: Arc<ResourceDef>,
    pub version: String,
    /// `None` for cluster-scoped resources and all-namespace requests.
    pub namespace: Option<String>,
}

impl Scope {
    pub fn target(&self, name: &str) -> Target {
        Target::new(&self.def.group, &self.def.plural, name)
    }
    fn key(&self, name: &str) -> String {
        meta::key(&self.def, self.namespace.as_deref(), name)
    }
    fn prefix(&self) -> String {
        meta::prefix(&self.def, self.namespace.as_deref())
    }
}

/// The result of a write: the object as the client sees it, and warnings for the client.
#[derive(Clone, Debug)]
pub struct Outcome {
    pub object: Value,
    pub warnings: Vec<String>,
    /// 201 for a create, 200 otherwise (202 for deletes still in progress).
    pub code: u16,
}

struct Inner {
    registry: Registry,
    store: Arc<dyn Storage>,
    plugins: Plugins,
}

/// In-process access to the API with full Kubernetes semantics. Cheap to clone.
#[derive(Clone)]
pub struct Api {
    inner: Arc<Inner>,
}

impl Api {
    pub fn new(registry: Registry, store: Arc<dyn Storage>, plugins: Plugins) -> Self {
        let mut registry = registry;
        for g in &plugins.groups {
            registry.register_plugin_group(g.group());
        }
        Api {
            inner: Arc::new(Inner {
                registry,
                store,
                plugins,
            }),
        }
    }

    pub fn registry(&self) -> &Registry {
        &self.inner.registry
    }

    pub fn store(&self) -> &Arc<dyn Storage> {
        &self.inner.store
    }

    pub fn plugins(&self) -> &Plugins {
        &self.inner.plugins
    }

    /// The scope for `group/version/plural` in `namespace`, or 404 if not served.
    pub fn scope(
        &self,
        group: &str,
        version: &str,
        plural: &str,
        namespace: Option<&str>,
    ) -> Result<Scope, ApiError> {
        let def = self
            .inner
            .registry
            .lookup(group, version, plural)
            .ok_or_else(|| ApiError::NotFound(Target::new(group, plural, "")))?;
        Ok(Scope {
            namespace: if def.namespaced {
                namespace.map(String::from)
            } else {
                None
            },
            def: def.clone(),
            version: version.to_string(),
        })
    }

    /// Decodes a stored value into the client's version, with its resourceVersion set.
    fn decode(&self, scope: &Scope, kv: &KeyValue) -> Result<Value, ApiError> {
        let mut obj: Value = serde_json::from_slice(&kv.value)
            .map_err(|e| ApiError::internal(format!("stored object {} is corrupt: {e}", kv.key)))?;
        meta::set_resource_version(&mut obj, kv.mod_revision);
        self.to_client(scope, obj)
    }

    /// Stored form → the client's version (and kind, for views).
    pub(crate) fn to_client(&self, scope: &Scope, mut obj: Value) -> Result<Value, ApiError> {
        if let Some((_, conv)) = &scope.def.storage_of {
            return conv.from_storage(&scope.version, obj);
        }
        if let Some(o) = obj.as_object_mut() {
            o.insert(
                "apiVersion".into(),
                Value::String(scope.def.api_version(&scope.version)),
            );
            o.insert("kind".into(), Value::String(scope.def.kind.clone()));
        }
        Ok(obj)
    }

    /// The client's version → stored form.
    pub(crate) fn to_storage(&self, scope: &Scope, mut obj: Value) -> Result<Value, ApiError> {
        if let Some((_, conv)) = &scope.def.storage_of {
            return conv.to_storage(&scope.version, obj);
        }
        if let Some(o) = obj.as_object_mut() {
            o.insert(
                "apiVersion".into(),
                Value::String(scope.def.api_version(&scope.def.storage_version().name)),
            );
            o.insert("kind".into(), Value::String(scope.def.kind.clone()));
        }
        Ok(obj)
    }

    fn admission_for(&self, def: &ResourceDef) -> Vec<Arc<dyn Admission>> {
        self.inner
            .plugins
            .admission
            .iter()
            .filter(|a| a.handles(def))
            .cloned()
            .collect()
    }

    /// Runs mutating then validating admission; returns the warnings.
    #[allow(clippy::too_many_arguments)]
    fn admit(
        &self,
        scope: &Scope,
        operation: Operation,
        subresource: Option<&str>,
        name: &str,
        user: &UserInfo,
        dry_run: bool,
        object: &mut Value,
        old: Option<&Value>,
    ) -> Result<Vec<String>, ApiError> {
        let plugins = self.admission_for(&scope.def);
        if plugins.is_empty() {
            return Ok(vec![]);
        }
        let ns = meta::meta_str(object, "namespace")
            .map(String::from)
            .or_else(|| scope.namespace.clone())
            .unwrap_or_default();
        let req = AdmissionRequest {
            operation,
            resource: &scope.def,
            version: &scope.version,
            subresource,
            namespace: &ns,
            name,
            user,
            dry_run,
        };
        let mut warnings = Vec::new();
        for p in &plugins {
            warnings.extend(p.mutate(&req, object, old)?);
        }
        for p in &plugins {
            warnings.extend(p.validate(&req, object, old)?);
        }
        Ok(warnings)
    }
}

/// Namespaces every cluster has.
pub const DEFAULT_NAMESPACES: &[&str] =
    &["default", "kube-system", "kube-public", "kube-node-lease"];

impl Api {
    /// Creates the default namespaces that are missing (idempotent; run at every start).
    pub async fn bootstrap(&self) -> Result<(), ApiError> {
        let Ok(scope) = self.scope("", "v1", "namespaces", None) else {
            return Ok(());
        };
        let user = UserInfo::system("kubevirtd");
        for ns in DEFAULT_NAMESPACES {
            let obj = serde_json::json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}});
            match self
                .create(
                    &scope,
                    obj,
                    &WriteOptions::default(),
                    &user,
                    Some("kubevirtd"),
                )
                .await
            {
                Ok(_) | Err(ApiError::AlreadyExists(_)) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}

fn to_bytes(obj: &Value) -> Bytes {
    // The stored form never carries resourceVersion: it is the store's revision.
    let mut obj = obj.clone();
    if let Some(m) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
        m.remove("resourceVersion");
    }
    Bytes::from(serde_json::to_vec(&obj).expect("JSON values serialize"))
}
