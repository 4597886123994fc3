//! The training loop: [`TrainConfig`] describes a run, [`Trainer`] executes it — loader
//! (batches + masks) → JEPA step → schedules → metrics (JSONL + CSV) → periodic checkpoints
//! → optional evaluation hook — with bit-identical resume on CPU, a NaN/Inf guard and a stop
//! flag for Ctrl-C.

mod config;
mod fingerprint;
mod hooks;
mod inputs;
mod record;
mod source;
mod state;
mod trainer;

pub use config::{DataSource, Duration, ScheduleConfig, TrainConfig};
pub use fingerprint::Fingerprint;
pub use hooks::{EvalHook, ProbeHook};
pub use record::{StepRecord, StopReason, TrainOutcome};
pub use source::{open_dataset, synthetic, Split};
pub use state::{
    load_state, parameters_finite, read_meta, save_state, to_checkpoint, RunPosition, StateMeta,
};
pub use trainer::{Trainer, CHECKPOINT_FILE};

use std::path::PathBuf;

use crate::checkpoint::CheckpointError;
use crate::data::DataError;
use crate::eval::{EvalError, ProbeReport};
use crate::masks::MaskError;
use crate::vit::ModelError;

/// Training failures.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    #[error("invalid training config: {0}")]
    Config(String),
    #[error(transparent)]
    Model(#[from] ModelError),
    #[error(transparent)]
    Engine(#[from] jepa_engine::Error),
    #[error(transparent)]
    Data(#[from] DataError),
    #[error(transparent)]
    Mask(#[from] MaskError),
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    #[error(transparent)]
    Eval(#[from] EvalError),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A checkpoint that does not belong to this run (architecture, seed, batch differ).
    #[error("cannot resume: {0}")]
    Resume(String),
    /// The loss or the parameters became NaN/Inf. Nothing was written after the last good
    /// checkpoint.
    #[error(
        "non-finite {what} at step {step}; stopped. Last good checkpoint: {}",
        last_checkpoint.as_ref().map_or("none".to_string(), |p| p.display().to_string())
    )]
    NonFinite {
        step: u64,
        what: String,
        last_checkpoint: Option<PathBuf>,
    },
}

impl TrainError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            path: path.into(),
            source,
        }
    }
}

/// Callbacks for a front end (progress bar, console log). Every method has an empty default.
pub trait Progress {
    /// Before the first step: the total and the step the run starts from (non-zero on resume).
    fn on_start(&mut self, _total_steps: u64, _start_step: u64) {}
    /// After every step.
    fn on_step(&mut self, _record: &StepRecord) {}
    /// After a checkpoint is written.
    fn on_checkpoint(&mut self, _path: &std::path::Path, _step: u64) {}
    /// After the evaluation hook ran.
    fn on_eval(&mut self, _report: &ProbeReport) {}
}

/// A [`Progress`] that ignores everything.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoProgress;

impl Progress for NoProgress {}
