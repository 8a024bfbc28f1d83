//! The command line of the launcher process, usable from any binary:
//! `virt-launcher --run-dir <dir>` (the `virt-launcher` binary), or a subcommand of another
//! binary that hands its remaining arguments to [`main`].

use std::path::PathBuf;
use std::process::ExitCode;

const USAGE: &str = "usage: virt-launcher --run-dir <dir>

Supervises the QEMU guest described by <dir>/launch.json until it ends; see the virt-launcher
crate documentation for the run directory layout.";

/// Runs the launcher with `args` (without the program name). Blocks until QEMU ends.
///
/// The process makes itself a session leader (when it is not one already), so that signals
/// sent to the group of the process that started it never reach it.
pub fn main(args: impl IntoIterator<Item = String>) -> ExitCode {
    let mut run_dir: Option<PathBuf> = None;
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--run-dir" => run_dir = args.next().map(PathBuf::from),
            "-h" | "--help" => {
                println!("{USAGE}");
                return ExitCode::SUCCESS;
            }
            other => {
                eprintln!("unexpected argument {other:?}\n{USAGE}");
                return ExitCode::from(2);
            }
        }
    }
    let Some(run_dir) = run_dir else {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    };
    let run_dir = match std::fs::canonicalize(&run_dir) {
        Ok(dir) => dir,
        Err(e) => {
            eprintln!("cannot use run directory {}: {e}", run_dir.display());
            return ExitCode::from(2);
        }
    };
    // Already a session leader when started through `setsid`; that error is expected.
    let _ = nix::unistd::setsid();
    let _ = std::env::set_current_dir(&run_dir);
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_ansi(false)
        .with_writer(std::io::stderr)
        .try_init();
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    // QEMU is spawned from this thread, which lives until the process ends: its parent-death
    // signal is tied to the spawning thread.
    match runtime.block_on(crate::supervisor::run(&run_dir)) {
        Ok(_) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{e}");
            ExitCode::FAILURE
        }
    }
}
