//! What the trainer reports: one record per step (the metrics row) and the end state of a run.

use std::path::PathBuf;

use crate::metrics::Record;

/// What one step reports (and what the metrics files hold).
#[derive(Clone, Debug, PartialEq)]
pub struct StepRecord {
    pub step: u64,
    pub total_steps: u64,
    pub epoch: u64,
    pub loss: f32,
    pub regression: f32,
    pub inv: Option<f32>,
    pub var: Option<f32>,
    pub cov: Option<f32>,
    pub lr: f64,
    pub wd: f64,
    pub ema_momentum: f64,
    /// Over the steps since the previous metrics record.
    pub images_per_sec: f64,
    /// Training wall time of the run (evaluation and checkpoint writing excluded), including
    /// the training time before a resume.
    pub elapsed_seconds: f64,
    /// On the batch's pooled target features, every `collapse_every` steps.
    pub rankme: Option<f64>,
    pub feature_std: Option<f64>,
}

impl StepRecord {
    /// The metrics row. Every key is always present (missing values as NaN → JSON `null`),
    /// so the CSV columns never change within a run.
    pub fn record(&self) -> Record {
        let f = |v: Option<f32>| v.map_or(f64::NAN, f64::from);
        Record::new()
            .int("step", self.step as i64)
            .int("epoch", self.epoch as i64)
            .float("loss", f64::from(self.loss))
            .float("regression", f64::from(self.regression))
            .float("inv", f(self.inv))
            .float("var", f(self.var))
            .float("cov", f(self.cov))
            .float("lr", self.lr)
            .float("wd", self.wd)
            .float("ema_momentum", self.ema_momentum)
            .float("images_per_sec", self.images_per_sec)
            .float("elapsed_seconds", self.elapsed_seconds)
            .float("rankme", self.rankme.unwrap_or(f64::NAN))
            .float("feature_std", self.feature_std.unwrap_or(f64::NAN))
    }
}

/// Why [`Trainer::run`] returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StopReason {
    Completed,
    /// The stop flag was set; a checkpoint of the last finished step was written.
    Interrupted,
}

/// The end state of a run.
#[derive(Clone, Debug, PartialEq)]
pub struct TrainOutcome {
    pub reason: StopReason,
    pub steps_done: u64,
    pub last_loss: Option<f32>,
    pub checkpoint: Option<PathBuf>,
    pub elapsed_seconds: f64,
}
