//! The CLI's error type. Every failure reaches the user as one line on stderr (`jepa: …`), so
//! the `Display` of each variant names the file, tensor or flag at fault and nothing is printed
//! over several lines (see [`CliError::one_line`]).

use std::path::{Path, PathBuf};

use jepa_models::checkpoint::CheckpointError;
use jepa_models::data::DataError;

/// Exit status for bad usage: unknown flag, bad config key or value.
pub const EXIT_USAGE: i32 = 2;
/// Exit status for a failed run (bad data, IO, non-finite loss, …).
pub const EXIT_FAILURE: i32 = 1;
/// Exit status after Ctrl-C (128 + SIGINT, the shell convention).
pub const EXIT_INTERRUPTED: i32 = 130;

#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// Unknown flag, missing argument, conflicting options.
    #[error("{0}")]
    Usage(String),
    /// A config file or value that cannot be used.
    #[error("{0}")]
    Config(String),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Data(#[from] DataError),
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    #[error(transparent)]
    Engine(#[from] jepa_engine::Error),
    #[error(transparent)]
    Model(#[from] jepa_models::vit::ModelError),
    #[error(transparent)]
    Eval(#[from] jepa_models::eval::EvalError),
    #[error(transparent)]
    Train(#[from] jepa_models::train::TrainError),
    /// The user asked for a device this process cannot use.
    #[error("{0}")]
    Device(String),
    /// Loss became NaN or infinite; the last good checkpoint is kept.
    #[error("{0}")]
    NonFinite(String),
    /// Ctrl-C: the run stopped cleanly after saving.
    #[error("{0}")]
    Interrupted(String),
    /// Anything else, already phrased for the user.
    #[error("{0}")]
    Other(String),
}

pub type CliResult<T> = Result<T, CliError>;

impl CliError {
    pub fn io(path: &Path, source: std::io::Error) -> Self {
        Self::Io {
            path: path.to_path_buf(),
            source,
        }
    }

    pub fn exit_code(&self) -> i32 {
        match self {
            Self::Usage(_) | Self::Config(_) => EXIT_USAGE,
            Self::Interrupted(_) => EXIT_INTERRUPTED,
            _ => EXIT_FAILURE,
        }
    }

    /// The message as a single line: inner newlines (from wrapped library errors) become `; `.
    pub fn one_line(&self) -> String {
        one_line(&self.to_string())
    }
}

/// Collapses whitespace runs that contain a newline into `; ` and trims the ends.
pub fn one_line(text: &str) -> String {
    let parts: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    parts.join("; ")
}

impl From<jepa_models::masks::MaskError> for CliError {
    fn from(e: jepa_models::masks::MaskError) -> Self {
        Self::Config(e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_joins_lines_and_drops_blank_ones() {
        assert_eq!(one_line("a\n\n  b  \nc\n"), "a; b; c");
        assert_eq!(one_line("single"), "single");
    }

    #[test]
    fn exit_codes_separate_usage_from_failures() {
        assert_eq!(CliError::Usage("x".into()).exit_code(), EXIT_USAGE);
        assert_eq!(CliError::Other("x".into()).exit_code(), EXIT_FAILURE);
        assert_eq!(
            CliError::Interrupted("x".into()).exit_code(),
            EXIT_INTERRUPTED
        );
    }
}
