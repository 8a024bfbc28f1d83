//! A generic, Kubernetes-compatible API server: real `kubectl` and kube-rs clients work against
//! it unmodified. It knows nothing of virtual machines; resources are registered with their
//! schema, scope, printer columns and subresources ([`registry`]), and admission and extra API
//! groups are plug-ins.

pub mod builtin;
pub mod discovery;
pub mod error;
pub mod jsonpath;
pub mod openapi;
pub mod patch;
pub mod plugin;
pub mod protobuf;
pub mod registry;
pub mod selector;
pub mod server;
pub mod store;

pub use error::{ApiError, Cause, Target};
pub use plugin::{
    Admission, AdmissionRequest, EventKindAlias, GroupPlugin, Operation, Plugins, UserInfo,
};
pub use registry::{GroupResource, Registry, ResourceDef};
pub use server::{Api, Outcome, Scope};
