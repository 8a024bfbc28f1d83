//! KubeVirt `kubevirt.io/v1` API types — VirtualMachine, VirtualMachineInstance,
//! VirtualMachineInstanceReplicaSet and VirtualMachineInstanceMigration — and their
//! CustomResourceDefinitions.
//!
//! Field names, JSON spellings and presence rules follow upstream KubeVirt: every field that
//! upstream marks optional is an `Option` that is omitted when `None`, so decoding a manifest and
//! encoding it again loses nothing. Marker types such as [`InterfaceBridge`] are empty structs
//! that encode as `{}`. The rustdoc of the fields is the upstream field documentation; it becomes
//! the `description` of the CRD schema and thus the text of `kubectl explain`.
//!
//! The types of the embedded CDI `DataVolume` spec live in [`cdi`]; they are not re-exported
//! because some of their names clash with KubeVirt's own.

// The field documentation is upstream API text (it feeds `kubectl explain`); it contains
// bracketed words, angle brackets and bare URLs that are not rustdoc markup.
#![allow(
    rustdoc::broken_intra_doc_links,
    rustdoc::invalid_html_tags,
    rustdoc::bare_urls
)]

pub mod access_credentials;
pub mod cdi;
pub mod crd;
pub mod datasource;
pub mod devices;
pub mod domain;
pub mod features;
pub mod instancetype;
pub mod keys;
pub mod lifecycle;
pub mod migration;
pub mod migration_policy;
pub mod migration_state;
pub mod networks;
pub mod pool;
pub mod preference;
pub mod preset;
pub mod replicaset;
mod schema;
pub mod subresources;
pub mod vm;
pub mod vm_status;
pub mod vmi;
pub mod vmi_status;
pub mod volumes;

pub use access_credentials::*;
pub use cdi::{DataVolume, DataVolumeCondition, DataVolumeStatus};
pub use crd::{DEPRECATION_WARNING, crd_yaml, crds};
pub use datasource::*;
pub use devices::*;
pub use domain::*;
pub use features::*;
pub use instancetype::*;
pub use lifecycle::*;
pub use migration::*;
pub use migration_policy::*;
pub use migration_state::*;
pub use networks::*;
pub use pool::*;
pub use preference::*;
pub use preset::*;
pub use replicaset::*;
pub use schema::QUANTITY_PATTERN;
pub use subresources::*;
pub use vm::*;
pub use vm_status::*;
pub use vmi::*;
pub use vmi_status::*;
pub use volumes::*;
