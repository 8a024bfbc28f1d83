//! The `subresources.kubevirt.io` API group (versions `v1` and `v1alpha3`): start, stop,
//! restart and migrate of VirtualMachines; pause, unpause, reset, soft reboot, serial console,
//! VNC and guest agent queries and port forwarding of VirtualMachineInstances; `expand-spec`; `version`
//! and `healthz`.
//!
//! The handlers follow upstream virt-api (`pkg/virt-api/rest`): the same validation order,
//! status codes and messages. They never create or delete VMIs; they edit the VM spec or
//! status (the VM controller does the rest), the VMI grace period, create migrations, or ask
//! the node agent through [`NodeGateway`]. Every write is made as `virt-api`'s service account.

pub mod console;
mod discovery;
pub mod error;
pub mod expand;
pub mod guest;
pub mod lifecycle;
pub mod migrate;
pub mod pause;
pub mod portforward;
pub mod requests;
pub mod reset;

use std::sync::Arc;

use api::{VirtualMachine, VirtualMachineInstance};
use apiserver::error::Target;
use apiserver::plugin::{GroupPlugin, UserInfo};
use apiserver::registry::PluginGroup;
use apiserver::server::{PatchType, Scope, Sub, WriteOptions};
use apiserver::{Api, ApiError};
use async_trait::async_trait;
use axum::body::Body;
use axum::response::{IntoResponse, Response};
use http::{Method, Request, StatusCode, header};
use serde::de::DeserializeOwned;
use serde_json::Value;

pub use error::{Kind, SubresourceError};

use crate::node::NodeGateway;
use guest::GuestQuery;

/// Largest request body read (the API server's own limit).
const MAX_BODY: usize = 3 * 1024 * 1024;
/// The identity of virt-api's own writes.
const COMPONENT: &str = "virt-api";

/// The `subresources.kubevirt.io` plug-in.
pub struct Subresources {
    node: Arc<dyn NodeGateway>,
}

impl Subresources {
    /// A plug-in that reaches the node agents through `node`.
    pub fn new(node: Arc<dyn NodeGateway>) -> Self {
        Subresources { node }
    }
}

#[async_trait]
impl GroupPlugin for Subresources {
    fn group(&self) -> PluginGroup {
        discovery::group()
    }

    async fn handle(
        &self,
        api: Api,
        _user: UserInfo,
        version: &str,
        path: &str,
        request: Request<Body>,
    ) -> Result<Response, ApiError> {
        if !discovery::VERSIONS.contains(&version) {
            return Err(ApiError::NotFound(Target::default()));
        }
        self.serve(api, path, request).await.map_err(ApiError::from)
    }
}

/// The object a request is about.
enum Route<'a> {
    Version,
    Healthz,
    ExpandVmSpec {
        ns: &'a str,
    },
    Vm {
        ns: &'a str,
        name: &'a str,
        sub: String,
    },
    Vmi {
        ns: &'a str,
        name: &'a str,
        sub: String,
    },
}

fn route(path: &str) -> Option<Route<'_>> {
    let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    match segs.as_slice() {
        ["version"] => Some(Route::Version),
        ["healthz"] => Some(Route::Healthz),
        ["namespaces", ns, "expand-vm-spec"] => Some(Route::ExpandVmSpec { ns }),
        ["namespaces", ns, "virtualmachines", name, sub @ ..] if !sub.is_empty() => {
            Some(Route::Vm {
                ns,
                name,
                sub: sub.join("/"),
            })
        }
        ["namespaces", ns, "virtualmachineinstances", name, sub @ ..] if !sub.is_empty() => {
            Some(Route::Vmi {
                ns,
                name,
                sub: sub.join("/"),
            })
        }
        _ => None,
    }
}

fn not_found_path() -> SubresourceError {
    SubresourceError::Api(ApiError::NotFound(Target::default()))
}

fn method_not_allowed() -> SubresourceError {
    SubresourceError::Api(ApiError::method_not_allowed())
}

/// Checks the method of a route served by one method only.
fn expect(method: &Method, wanted: Method) -> Result<(), SubresourceError> {
    if *method == wanted {
        Ok(())
    } else {
        Err(method_not_allowed())
    }
}

impl Subresources {
    async fn serve(
        &self,
        api: Api,
        path: &str,
        request: Request<Body>,
    ) -> Result<Response, SubresourceError> {
        let method = request.method().clone();
        match route(path).ok_or_else(not_found_path)? {
            Route::Version => {
                expect(&method, Method::GET)?;
                Ok(json_response(StatusCode::OK, &discovery::version_info()))
            }
            Route::Healthz => {
                expect(&method, Method::GET)?;
                Ok(json_response(StatusCode::OK, &discovery::healthz()))
            }
            Route::ExpandVmSpec { ns } => {
                expect(&method, Method::PUT)?;
                expand::expand_vm_spec(&api, ns, request.into_body()).await
            }
            Route::Vm { ns, name, sub } => {
                let ctx = Ctx::new(api, ns, name);
                match sub.as_str() {
                    "start" | "stop" | "restart" | "migrate" => expect(&method, Method::PUT)?,
                    "expand-spec" => expect(&method, Method::GET)?,
                    s if s.starts_with("portforward/") => expect(&method, Method::GET)?,
                    _ => return Err(not_found_path()),
                }
                if let Some(rest) = sub.strip_prefix("portforward/") {
                    let node = self.node.as_ref();
                    return portforward::port_forward(&ctx, node, true, rest, request).await;
                }
                let body = request.into_body();
                match sub.as_str() {
                    "start" => lifecycle::start(&ctx, body).await,
                    "stop" => lifecycle::stop(&ctx, body).await,
                    "restart" => lifecycle::restart(&ctx, body).await,
                    "migrate" => migrate::migrate(&ctx, body).await,
                    _ => expand::expand_spec(&ctx).await,
                }
            }
            Route::Vmi { ns, name, sub } => {
                let ctx = Ctx::new(api, ns, name);
                let node = self.node.as_ref();
                match sub.as_str() {
                    "pause" | "unpause" | "reset" | "softreboot" => expect(&method, Method::PUT)?,
                    "console" | "vnc" | "vnc/screenshot" | "guestosinfo" | "userlist"
                    | "filesystemlist" => expect(&method, Method::GET)?,
                    s if s.starts_with("portforward/") => expect(&method, Method::GET)?,
                    _ => return Err(not_found_path()),
                }
                match sub.as_str() {
                    "pause" => pause::pause(&ctx, node, request.into_body()).await,
                    "unpause" => pause::unpause(&ctx, node, request.into_body()).await,
                    "reset" => reset::reset(&ctx, node).await,
                    "softreboot" => pause::soft_reboot(&ctx, node).await,
                    "console" => console::console(&ctx, node, request).await,
                    "vnc" => console::vnc(&ctx, node, request).await,
                    "vnc/screenshot" => console::screenshot(&ctx, node).await,
                    "guestosinfo" => guest::query(&ctx, node, GuestQuery::OsInfo).await,
                    "userlist" => guest::query(&ctx, node, GuestQuery::UserList).await,
                    "filesystemlist" => guest::query(&ctx, node, GuestQuery::FilesystemList).await,
                    s => {
                        let rest = s.strip_prefix("portforward/").unwrap_or_default();
                        portforward::port_forward(&ctx, node, false, rest, request).await
                    }
                }
            }
        }
    }
}

/// A JSON response.
pub(crate) fn json_response(code: StatusCode, body: &Value) -> Response {
    (
        code,
        [(header::CONTENT_TYPE, "application/json")],
        serde_json::to_vec(body).unwrap_or_default(),
    )
        .into_response()
}

/// An empty response with `code` (202 for the lifecycle actions, 200 for node actions).
pub(crate) fn empty_response(code: StatusCode) -> Response {
    let mut response = Response::new(Body::empty());
    *response.status_mut() = code;
    response
}

/// Decodes an optional options body, JSON or YAML, as upstream's YAML-or-JSON decoder: an
/// empty body gives the defaults; anything undecodable is a 400.
pub(crate) fn decode_options<T: DeserializeOwned + Default>(
    bytes: &[u8],
) -> Result<T, SubresourceError> {
    let text = std::str::from_utf8(bytes).map_err(|e| SubresourceError::Body(e.to_string()))?;
    let trimmed = text.trim();
    if trimmed.is_empty() || trimmed == "null" {
        return Ok(T::default());
    }
    if trimmed.starts_with('{') {
        serde_json::from_str(trimmed).map_err(|e| SubresourceError::Body(e.to_string()))
    } else {
        let value: Value =
            serde_saphyr::from_str(trimmed).map_err(|e| SubresourceError::Body(e.to_string()))?;
        if value.is_null() {
            return Ok(T::default());
        }
        serde_json::from_value(value).map_err(|e| SubresourceError::Body(e.to_string()))
    }
}

/// Reads and decodes an options body.
pub(crate) async fn read_options<T: DeserializeOwned + Default>(
    body: Body,
) -> Result<T, SubresourceError> {
    let bytes = axum::body::to_bytes(body, MAX_BODY)
        .await
        .map_err(|e| SubresourceError::Body(e.to_string()))?;
    decode_options(&bytes)
}

/// Whether a `dryRun` option asks for a dry run. The API server accepts only `All`; other
/// values are refused as it would refuse them.
pub(crate) fn dry_run(values: Option<&[String]>) -> Result<bool, SubresourceError> {
    match values {
        None | Some([]) => Ok(false),
        Some(v) if v.iter().all(|d| d == api::keys::DRY_RUN_ALL) => Ok(true),
        Some(v) => Err(SubresourceError::BadRequest(format!(
            "dryRun: Unsupported value: {v:?}: supported values: \"All\""
        ))),
    }
}

/// True when a JSON-patch `test` operation failed: the state changed since it was read.
fn is_test_failure(e: &ApiError) -> bool {
    matches!(e, ApiError::Custom { code: 422, message, .. } if message.contains(": test failed"))
}

/// A failed VM patch: 409 when a `test` failed, 500 otherwise.
pub(crate) fn vm_patch_error(name: &str, e: ApiError) -> SubresourceError {
    if is_test_failure(&e) {
        SubresourceError::conflict(Kind::Vm, name, e.to_string())
    } else {
        SubresourceError::Internal(e.to_string())
    }
}

/// The VM or VMI a request names, and in-process access to the API.
pub(crate) struct Ctx {
    api: Api,
    ns: String,
    name: String,
}

impl Ctx {
    fn new(api: Api, ns: &str, name: &str) -> Self {
        Ctx {
            api,
            ns: ns.to_owned(),
            name: name.to_owned(),
        }
    }

    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    pub(crate) fn api(&self) -> &Api {
        &self.api
    }

    fn scope(&self, plural: &str) -> Result<Scope, SubresourceError> {
        self.api
            .scope(api::keys::GROUP, api::keys::VERSION, plural, Some(&self.ns))
            .map_err(|e| SubresourceError::Internal(e.to_string()))
    }

    async fn get<T: DeserializeOwned>(&self, kind: Kind) -> Result<Option<T>, SubresourceError> {
        let plural = match kind {
            Kind::Vm => "virtualmachines",
            Kind::Vmi => "virtualmachineinstances",
        };
        let what = match kind {
            Kind::Vm => "vm",
            Kind::Vmi => "vmi",
        };
        let retrieve = |e: String| {
            SubresourceError::Internal(format!("unable to retrieve {what} [{}]: {e}", self.name))
        };
        match self.api.get(&self.scope(plural)?, &self.name).await {
            Ok(v) => serde_json::from_value(v)
                .map(Some)
                .map_err(|e| retrieve(e.to_string())),
            Err(ApiError::NotFound(_)) => Ok(None),
            Err(e) => Err(retrieve(e.to_string())),
        }
    }

    /// The VM, or 404.
    pub(crate) async fn vm(&self) -> Result<VirtualMachine, SubresourceError> {
        self.vm_opt()
            .await?
            .ok_or_else(|| SubresourceError::not_found(Kind::Vm, &self.name))
    }

    /// The VM if it exists.
    pub(crate) async fn vm_opt(&self) -> Result<Option<VirtualMachine>, SubresourceError> {
        self.get(Kind::Vm).await
    }

    /// The VMI, or 404.
    pub(crate) async fn vmi(&self) -> Result<VirtualMachineInstance, SubresourceError> {
        self.vmi_opt()
            .await?
            .ok_or_else(|| SubresourceError::not_found(Kind::Vmi, &self.name))
    }

    /// The VMI if it exists.
    pub(crate) async fn vmi_opt(&self) -> Result<Option<VirtualMachineInstance>, SubresourceError> {
        self.get(Kind::Vmi).await
    }

    fn write_options(dry_run: bool) -> WriteOptions {
        WriteOptions {
            dry_run,
            ..Default::default()
        }
    }

    /// Applies a JSON patch to the VM spec (`Sub::Main`) or status.
    pub(crate) async fn patch_vm(
        &self,
        sub: Sub,
        ops: &[Value],
        dry_run: bool,
    ) -> Result<(), ApiError> {
        self.patch("virtualmachines", sub, ops, dry_run).await
    }

    /// Applies a JSON patch to the VMI (which has no status subresource).
    pub(crate) async fn patch_vmi(&self, ops: &[Value], dry_run: bool) -> Result<(), ApiError> {
        self.patch("virtualmachineinstances", Sub::Main, ops, dry_run)
            .await
    }

    async fn patch(
        &self,
        plural: &str,
        sub: Sub,
        ops: &[Value],
        dry_run: bool,
    ) -> Result<(), ApiError> {
        let scope = self
            .api
            .scope(api::keys::GROUP, api::keys::VERSION, plural, Some(&self.ns))?;
        let body = serde_json::to_vec(ops).map_err(|e| ApiError::internal(e.to_string()))?;
        tracing::debug!(vm = %self.name, patch = %String::from_utf8_lossy(&body), "patching");
        self.api
            .patch(
                &scope,
                &self.name,
                sub,
                PatchType::Json,
                &body,
                &Self::write_options(dry_run),
                &UserInfo::system(COMPONENT),
                Some(COMPONENT),
            )
            .await
            .map(drop)
    }

    /// Creates a kubevirt.io object in the request's namespace.
    pub(crate) async fn create(
        &self,
        plural: &str,
        object: Value,
        dry_run: bool,
    ) -> Result<Value, ApiError> {
        let scope = self
            .api
            .scope(api::keys::GROUP, api::keys::VERSION, plural, Some(&self.ns))?;
        self.api
            .create(
                &scope,
                object,
                &Self::write_options(dry_run),
                &UserInfo::system(COMPONENT),
                Some(COMPONENT),
            )
            .await
            .map(|o| o.object)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use api::{RestartOptions, StopOptions};

    #[test]
    fn routes_split_object_and_subresource() {
        assert!(matches!(route("version"), Some(Route::Version)));
        assert!(matches!(route("healthz"), Some(Route::Healthz)));
        match route("namespaces/ns/virtualmachineinstances/v/vnc/screenshot") {
            Some(Route::Vmi { ns, name, sub }) => {
                assert_eq!((ns, name, sub.as_str()), ("ns", "v", "vnc/screenshot"));
            }
            _ => panic!("not a VMI route"),
        }
        assert!(matches!(
            route("namespaces/ns/virtualmachines/vm/start"),
            Some(Route::Vm { .. })
        ));
        assert!(route("namespaces/ns/virtualmachines/vm").is_none());
        assert!(route("namespaces/ns/pods/p/start").is_none());
    }

    #[test]
    fn options_decode_from_json_yaml_or_nothing() {
        let empty: StopOptions = decode_options(b"").unwrap();
        assert_eq!(empty, StopOptions::default());
        let json: StopOptions = decode_options(br#"{"gracePeriod": 5}"#).unwrap();
        assert_eq!(json.grace_period, Some(5));
        let yaml: RestartOptions =
            decode_options(b"gracePeriodSeconds: 0\ndryRun: [All]\n").unwrap();
        assert_eq!(yaml.grace_period_seconds, Some(0));
        assert_eq!(yaml.dry_run, Some(vec!["All".to_owned()]));
    }

    #[test]
    fn undecodable_body_is_a_bad_request_with_upstream_wording() {
        let err = decode_options::<StopOptions>(br#"{"gracePeriod": "soon"}"#).unwrap_err();
        let api_err = ApiError::from(err);
        assert_eq!(api_err.status().0.as_u16(), 400);
        assert!(
            api_err
                .to_string()
                .starts_with("Can not unmarshal Request body to struct, error: "),
            "{api_err}"
        );
    }

    #[test]
    fn only_all_is_a_valid_dry_run() {
        assert!(!dry_run(None).unwrap());
        assert!(!dry_run(Some(&[])).unwrap());
        assert!(dry_run(Some(&["All".to_owned()])).unwrap());
        let err = dry_run(Some(&["Some".to_owned()])).unwrap_err();
        assert_eq!(ApiError::from(err).status().0.as_u16(), 400);
    }

    #[test]
    fn failed_patch_test_is_a_conflict_and_other_failures_internal() {
        let failed_test = ApiError::Custom {
            code: 422,
            reason: "Invalid".into(),
            message: "the server rejected our request due to an error in our request: testing value /status/stateChangeRequests failed: test failed".into(),
            target: Target::default(),
        };
        let conflict = ApiError::from(vm_patch_error("vm", failed_test));
        assert_eq!(conflict.status().0.as_u16(), 409);
        let other = ApiError::from(vm_patch_error("vm", ApiError::internal("disk full")));
        assert_eq!(other.status().0.as_u16(), 500);
    }
}
