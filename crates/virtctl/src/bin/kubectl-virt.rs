//! `kubectl-virt`: virtctl as the `kubectl virt` plugin.

fn main() {
    let code = virtctl::run(std::env::args_os().collect());
    std::process::exit(code);
}
