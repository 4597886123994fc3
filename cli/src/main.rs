//! The `jepa` binary; everything lives in the `jepa_cli` library.

fn main() {
    std::process::exit(jepa_cli::main_with_args(std::env::args_os()));
}
