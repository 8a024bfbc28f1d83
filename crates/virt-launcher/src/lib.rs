//! virt-launcher: one QEMU supervisor per VirtualMachineInstance.
//!
//! - [`qemu::command_line`] turns a VMI and its resolved host resources ([`spec::LaunchEnv`])
//!   into a QEMU argv (pure).
//! - [`disks`] plans and prepares the files behind the VMI's volumes (image store, overlays,
//!   empty disks, host disks, cloud-init and config ISOs).
//! - [`qmp`] is an async QMP client.
//! - The `virt-launcher` binary supervises one QEMU process per run directory; the node driver
//!   talks to it through [`client::LauncherClient`].
//! - [`probe_accel`] decides between KVM and TCG.

pub mod accel;
pub mod cli;
pub mod client;
pub mod control;
pub mod disks;
pub mod ppm;
pub mod process;
pub mod qemu;
pub mod qmp;
pub mod quantity;
pub mod sockpath;
pub mod spec;
pub mod state;
pub mod supervisor;

pub use accel::{ACCEL_ENV, AccelChoice, probe_accel};
pub use client::{LauncherClient, LauncherCommand};
pub use spec::{Accel, DiskFormat, LaunchEnv, LaunchSpec, ResolvedVolume};
pub use state::{DomainState, StateFile};
