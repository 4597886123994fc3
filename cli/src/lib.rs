//! The `jepa` command line: argument handling, one-line errors, and one module per subcommand.
//!
//! The binary (`src/main.rs`) only calls [`main_with_args`]. Everything is a library so that the
//! fuzz targets and the corpus-replay test reach the same parsers (see [`fuzzing`]).

pub mod args;
pub mod atomic;
pub mod bench;
pub mod config;
pub mod datasets;
pub mod embed;
pub mod encoder;
pub mod error;
pub mod fuzzing;
pub mod inspect;
pub mod npy;
pub mod plot;
pub mod pretrain;
pub mod probe;
pub mod progress;
pub mod quickstart;
pub mod report;
pub mod runtime;
pub mod show;
pub mod train_config;

use std::ffi::OsString;

use clap::error::ErrorKind;
use clap::Parser;

use args::{Cli, Command};
pub use error::{CliError, CliResult};

/// Parses `args` (program name first), runs the command and returns the process exit status.
/// Errors are printed as one line, `jepa: <message>`, on stderr.
pub fn main_with_args<I, T>(args: I) -> i32
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    runtime::install_panic_hook();
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => return clap_exit(&e),
    };
    match dispatch(cli.command) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("jepa: {}", e.one_line());
            e.exit_code()
        }
    }
}

fn dispatch(command: Command) -> CliResult<()> {
    match command {
        Command::Inspect(a) => inspect::run(&a),
        Command::Bench(a) => bench::run(&a),
        Command::Plot(a) => plot::run(&a),
        Command::Embed(a) => embed::run(&a),
        Command::Probe(a) => probe::run(&a),
        Command::Pretrain(a) => pretrain::run(&a),
        Command::Quickstart(a) => quickstart::run(&a),
        Command::Show(a) => show::run(&a),
        Command::Report(a) => report::run(&a),
    }
}

/// Help and version go to stdout with status 0; every other clap error becomes one line.
fn clap_exit(e: &clap::Error) -> i32 {
    match e.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
            print!("{}", e.render());
            0
        }
        ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            eprint!("{}", e.render());
            error::EXIT_USAGE
        }
        _ => {
            let text = e.render().to_string();
            let first = text
                .lines()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("invalid arguments");
            let first = first.trim().trim_start_matches("error:").trim();
            eprintln!("jepa: {first} (see --help)");
            error::EXIT_USAGE
        }
    }
}
