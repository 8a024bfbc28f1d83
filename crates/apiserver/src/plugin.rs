//! Plug-in points: admission (mutating and validating) and extra API groups served by a plug-in
//! (e.g. `subresources.kubevirt.io`).

use std::sync::Arc;

use async_trait::async_trait;
use axum::body::Body;
use axum::response::Response;
use http::Request;
use serde_json::Value;

use crate::error::ApiError;
use crate::registry::{PluginGroup, ResourceDef};
use crate::server::Api;

/// Who is making a request.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct UserInfo {
    pub username: String,
    pub groups: Vec<String>,
}

impl UserInfo {
    pub fn new(username: &str, groups: &[&str]) -> Self {
        UserInfo {
            username: username.into(),
            groups: groups.iter().map(|g| g.to_string()).collect(),
        }
    }
    /// The identity of in-process controllers and agents.
    pub fn system(component: &str) -> Self {
        UserInfo::new(
            &format!("system:serviceaccount:kubevirt:{component}"),
            &[
                "system:serviceaccounts",
                "system:serviceaccounts:kubevirt",
                "system:authenticated",
            ],
        )
    }
    pub fn is_service_account_of(&self, namespace: &str) -> bool {
        self.username
            .starts_with(&format!("system:serviceaccount:{namespace}:"))
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operation {
    Create,
    Update,
    Delete,
}

/// What an admission plug-in is told about a request.
#[derive(Clone, Debug)]
pub struct AdmissionRequest<'a> {
    pub operation: Operation,
    pub resource: &'a ResourceDef,
    /// The version the client used (objects are always passed in the storage version).
    pub version: &'a str,
    /// `Some("status")` for writes through the status subresource.
    pub subresource: Option<&'a str>,
    pub namespace: &'a str,
    pub name: &'a str,
    pub user: &'a UserInfo,
    pub dry_run: bool,
}

/// Admission control, called for every write to the resources it claims, after defaulting and
/// schema pruning, before storage. Objects are in the storage version. Returned strings are
/// sent to the client as `Warning` headers.
pub trait Admission: Send + Sync {
    /// Whether this plug-in wants requests for `resource` (group/plural).
    fn handles(&self, resource: &ResourceDef) -> bool;

    /// Mutating phase; may change `object`. `old` is the stored object on update.
    fn mutate(
        &self,
        req: &AdmissionRequest<'_>,
        object: &mut Value,
        old: Option<&Value>,
    ) -> Result<Vec<String>, ApiError> {
        let _ = (req, object, old);
        Ok(vec![])
    }

    /// Validating phase; must not change anything.
    fn validate(
        &self,
        req: &AdmissionRequest<'_>,
        object: &Value,
        old: Option<&Value>,
    ) -> Result<Vec<String>, ApiError> {
        let _ = (req, object, old);
        Ok(vec![])
    }
}

/// An API group served by a plug-in. Requests under `/apis/<group>/<version>/...` are handed to
/// it with the authenticated user; it answers through the in-process [`Api`].
#[async_trait]
pub trait GroupPlugin: Send + Sync {
    /// Discovery information for the group.
    fn group(&self) -> PluginGroup;

    /// Serves one request. `path` is the part after `/apis/<group>/<version>/`.
    async fn handle(
        &self,
        api: Api,
        user: UserInfo,
        version: &str,
        path: &str,
        request: Request<Body>,
    ) -> Result<Response, ApiError>;
}

/// A kind whose events are recorded under another kind. A view of stored objects (an old kind
/// name served by conversion, say) shows objects with the names and uids of the stored ones,
/// but controllers record events about the stored kind, in its own API version. Declared with
/// [`Registry::add_event_kind_alias`](crate::Registry::add_event_kind_alias), it makes event
/// field selectors whose kind term (`involvedObject.kind` in core/v1, `regarding.kind` in
/// events.k8s.io/v1) names `kind` match events about `recorded_kind` as well, and their
/// apiVersion term naming `api_version` match `recorded_api_version` too; so `kubectl describe`
/// and `kubectl events --for` of the view list the stored object's events.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventKindAlias {
    /// The `group/version` clients ask about, e.g. `kubevirt.io/v1alpha1`.
    pub api_version: String,
    /// The kind clients ask about, e.g. an old name.
    pub kind: String,
    /// The `group/version` events are recorded with.
    pub recorded_api_version: String,
    /// The kind events are recorded about.
    pub recorded_kind: String,
}

impl EventKindAlias {
    /// Events about `api_version` `kind` are those recorded about `recorded_api_version`
    /// `recorded_kind`.
    pub fn new(
        (api_version, kind): (&str, &str),
        (recorded_api_version, recorded_kind): (&str, &str),
    ) -> Self {
        EventKindAlias {
            api_version: api_version.into(),
            kind: kind.into(),
            recorded_api_version: recorded_api_version.into(),
            recorded_kind: recorded_kind.into(),
        }
    }
}

/// The plug-ins a server is built with.
#[derive(Clone, Default)]
pub struct Plugins {
    pub admission: Vec<Arc<dyn Admission>>,
    pub groups: Vec<Arc<dyn GroupPlugin>>,
}
