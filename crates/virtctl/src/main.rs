//! `virtctl`: see the library documentation.

fn main() {
    let code = virtctl::run(std::env::args_os().collect());
    std::process::exit(code);
}
