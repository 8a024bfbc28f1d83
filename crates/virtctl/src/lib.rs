//! virtctl, the KubeVirt command-line client, compatible with upstream's: the same commands,
//! flags, messages and exit codes, talking to any Kubernetes API server that serves KubeVirt
//! (including `kubevirtd`) through a kubeconfig loaded with client-go's rules.
//!
//! Run as `kubectl-virt` (a file of that name on the `PATH`, for example a symbolic link to
//! `virtctl`), it is the `kubectl virt` plugin and names itself so in its help.

pub mod cli;
pub mod client;
pub mod clientconfig;
pub mod commands;
pub mod create_vm;
pub mod flags;
pub mod help;
pub mod log;
pub mod parse;
pub mod stream;
pub mod version;

use std::ffi::OsString;

/// Runs virtctl with `args` (`args[0]` is the program) and returns the exit code: 0 on success,
/// 1 on any failure (after printing it on standard error).
pub fn run(args: Vec<OsString>) -> i32 {
    let argv0 = args
        .first()
        .map(|a| a.to_string_lossy().into_owned())
        .unwrap_or_else(|| "virtctl".into());
    let program = help::program_name(&argv0);
    match parse::parse(&args, &program) {
        Ok(parse::Outcome::Print(text)) => {
            print!("{text}");
            0
        }
        Ok(parse::Outcome::Run(invocation)) => {
            // kube's TLS stack finds more than one rustls backend in this build; pick one.
            let _ = rustls::crypto::ring::default_provider().install_default();
            let runtime = match tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
            {
                Ok(r) => r,
                Err(e) => {
                    eprintln!("{e}");
                    return 1;
                }
            };
            let code = runtime.block_on(commands::run(*invocation, program, argv0));
            // Blocking reads of standard input may still be pending; do not wait for them.
            runtime.shutdown_background();
            code
        }
        Err(parse::UsageError::WithHelp { help, message }) => {
            eprint!("{help}");
            eprintln!("{message}");
            1
        }
        Err(e) => {
            eprintln!("{e}");
            1
        }
    }
}
