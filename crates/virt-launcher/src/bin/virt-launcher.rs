//! The per-VMI QEMU supervisor process. See [`virt_launcher::cli`].

fn main() -> std::process::ExitCode {
    virt_launcher::cli::main(std::env::args().skip(1))
}
