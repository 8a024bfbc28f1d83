//! virt-launcher: one QEMU supervisor per VirtualMachineInstance.
//!
//! # Pieces
//! - [`qemu::command_line`] turns a VMI and the host resources resolved for it
//!   ([`spec::LaunchEnv`]) into a QEMU argv. Pure.
//! - [`disks`] plans ([`disks::plan`], pure) and prepares ([`disks::prepare`]) the files behind
//!   the VMI's volumes: the image store for container disks ([`disks::import_image`]),
//!   per-VMI qcow2 overlays, empty disks, host disks, cloud-init and config ISOs.
//! - [`qmp::QmpClient`]: async QMP with events.
//! - The `virt-launcher` process ([`cli::main`], [`supervisor::run`]) supervises one QEMU for
//!   one run directory; [`client::LauncherClient`] starts it detached, reattaches to it and
//!   controls it.
//! - [`probe_accel`] decides between KVM and TCG by trying KVM.
//!
//! # Starting a guest (what a node driver does)
//! ```no_run
//! # async fn f(vmi: api::VirtualMachineInstance) -> Result<(), Box<dyn std::error::Error>> {
//! use virt_launcher::disks::{self, DirImageStore, PlanInputs};
//! use virt_launcher::{LaunchEnv, LaunchSpec, LauncherClient, probe_accel};
//! # let run_dir = std::path::Path::new("run"); let images = std::path::Path::new("images");
//! let accel = tokio::task::spawn_blocking(probe_accel).await?; // once per node
//! let inputs = PlanInputs { work_dir: run_dir.join("disks"), ..Default::default() };
//! let plans = disks::plan(&vmi, &inputs, &DirImageStore::new(images))?;
//! tokio::task::spawn_blocking({ let p = plans.clone(); move || disks::prepare(&p) }).await??;
//! let mut env = LaunchEnv::new(accel.accel);
//! env.volumes = disks::resolved_volumes(&plans);
//! let launcher = LauncherClient::spawn(run_dir, &LaunchSpec { vmi, env }).await?;
//! launcher.status().await?; // Running, or Paused{User} with startStrategy: Paused
//! # Ok(()) }
//! ```
//!
//! # The run directory
//! | file | written by | content |
//! |---|---|---|
//! | `launch.json` | [`LauncherClient::spawn`] | [`spec::LaunchSpec`]: the VMI and its [`spec::LaunchEnv`] |
//! | `state.json` | the launcher, on every change and at the end | [`state::StateFile`]: PIDs, [`DomainState`], message, timestamps, QEMU's exit |
//! | `control.sock` | the launcher, while QEMU runs | [`control`] protocol (JSON lines) |
//! | `console.sock` | the launcher, while QEMU runs | raw serial console; one session, a new one evicts the old |
//! | `serial.log` | the launcher | everything the guest printed on its serial port |
//! | `vnc.sock` | QEMU | VNC (RFB) when the VMI has a graphics device |
//! | `qmp.sock`, `serial.sock` | QEMU | owned by the launcher; do not connect |
//! | `launcher.log`, `qemu.log` | the processes | diagnostics |
//! | `disks/` | [`disks::prepare`] (conventionally) | overlays, empty disks, ISOs |
//!
//! # Process model
//! The launcher runs in its own session (`setsid --fork`), not as a child of the node driver:
//! stopping or killing the driver never stops a guest. QEMU is the launcher's child with a
//! parent-death signal, so killing the launcher kills QEMU (and leaves a non-final
//! `state.json`, which [`state::StateFile::effective_state`] reads as a crash). When QEMU ends,
//! the launcher writes the final state and exits.
//!
//! # Test guest
//! `scripts/build-test-guest.sh [out-dir]` builds a busybox guest (kernel, initramfs and a
//! bootable `disk.qcow2`) that prints `kubevirt-rs test guest: boot complete` on its serial
//! console, reads cloud-init user-data, powers off on ACPI power-button presses and offers a
//! `guest# ` shell on ttyS0.

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
