//! [`Trainer`]: runs a [`TrainConfig`] step by step, logging, checkpointing, evaluating, and
//! stopping cleanly on request or on non-finite values.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use super::config::{Duration, TrainConfig};
use super::fingerprint::Fingerprint;
use super::hooks::{eval_line, EvalHook, TrainClock};
use super::inputs::{collapse_metrics, images, ViewInputs};
use super::record::{StepRecord, StopReason, TrainOutcome};
use super::source::{open_dataset, Split};
use super::state::StateMeta;
use super::state::{load_state, parameters_finite, read_meta, to_checkpoint, RunPosition};
use super::{Progress, TrainError};
use crate::checkpoint::Checkpoint;
use crate::data::{batches_per_epoch, Batch, Dataset, Loader, LoaderConfig, Transform};
use crate::jepa::{Jepa, StepStats};
use crate::masks::MaskGenerator;
use crate::metrics::MetricsLogger;
use crate::vit::ModelError;

/// The latest checkpoint in the run directory (replaced atomically).
pub const CHECKPOINT_FILE: &str = "checkpoint.safetensors";
/// Evaluation reports, one JSON line each.
const EVAL_FILE: &str = "eval.jsonl";

/// A training run in progress.
pub struct Trainer {
    cfg: TrainConfig,
    jepa: Jepa,
    dataset: Arc<dyn Dataset>,
    masks: MaskGenerator,
    pool: rayon::ThreadPool,
    ipe: u64,
    total_steps: u64,
    stop: Arc<AtomicBool>,
    hook: Option<Box<dyn EvalHook>>,
    elapsed_before: f64,
    last_checkpoint: Option<PathBuf>,
}

impl Trainer {
    /// A fresh run: validates the config, opens the training split, initialises the model.
    pub fn new(cfg: TrainConfig) -> Result<Self, TrainError> {
        cfg.validate()?;
        let dataset = open_dataset(&cfg.data, Split::Train)?;
        Self::with_dataset(cfg, dataset)
    }

    /// A fresh run on an already opened training set (`cfg.data` is then not read).
    pub fn with_dataset(cfg: TrainConfig, dataset: Arc<dyn Dataset>) -> Result<Self, TrainError> {
        cfg.validate()?;
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(cfg.threads)
            .thread_name(|i| format!("jepa-train-{i}"))
            .build()
            .map_err(|e| TrainError::Config(format!("compute pool: {e}")))?;
        let ipe = batches_per_epoch(dataset.len(), cfg.batch_size, true) as u64;
        if ipe == 0 {
            return Err(TrainError::Config(format!(
                "{} training images make no batch of {}",
                dataset.len(),
                cfg.batch_size
            )));
        }
        let total_steps = match cfg.duration {
            Duration::Steps(n) => n,
            Duration::Epochs(e) => e.saturating_mul(ipe),
        };
        let mut jc = cfg.jepa.clone();
        jc.optim = cfg.schedule.optim(total_steps, ipe);
        jc.seed = cfg.seed;
        let jepa = pool.install(|| Jepa::new(jc))?;
        let masks = MaskGenerator::new(cfg.masks.clone())?;
        std::fs::create_dir_all(&cfg.out_dir).map_err(|e| TrainError::io(&cfg.out_dir, e))?;
        Ok(Self {
            cfg,
            jepa,
            dataset,
            masks,
            pool,
            ipe,
            total_steps,
            stop: Arc::new(AtomicBool::new(false)),
            hook: None,
            elapsed_before: 0.0,
            last_checkpoint: None,
        })
    }

    /// Continues the run saved in `checkpoint`, which must come from the same architecture,
    /// method, batch size, seed and dataset size (see [`TrainConfig::fingerprint`]).
    pub fn resume(cfg: TrainConfig, checkpoint: &Path) -> Result<Self, TrainError> {
        let mut t = Self::new(cfg)?;
        t.load_checkpoint(checkpoint)?;
        Ok(t)
    }

    /// Loads the state saved in `checkpoint` into this (not yet run) trainer; see
    /// [`Trainer::resume`] for the checks.
    pub fn load_checkpoint(&mut self, checkpoint: &Path) -> Result<(), TrainError> {
        let ck = Checkpoint::load(checkpoint)?;
        let meta = read_meta(&ck)?;
        if let Err(diff) = Fingerprint::accepts(&self.cfg, &meta.fingerprint) {
            return Err(TrainError::Resume(format!(
                "{} was written by a different run: {diff}",
                checkpoint.display()
            )));
        }
        let pos = meta.position;
        if meta.batches_per_epoch != self.ipe || pos != RunPosition::after(pos.step, self.ipe) {
            return Err(TrainError::Resume(format!(
                "{}: position {pos:?} with {} batches per epoch, this run has {}",
                checkpoint.display(),
                meta.batches_per_epoch,
                self.ipe
            )));
        }
        if pos.step > self.total_steps {
            return Err(TrainError::Resume(format!(
                "{}: step {} is past this run's {} steps",
                checkpoint.display(),
                pos.step,
                self.total_steps
            )));
        }
        load_state(&mut self.jepa, &ck)?;
        self.elapsed_before = meta.elapsed_seconds;
        self.last_checkpoint = Some(checkpoint.to_path_buf());
        Ok(())
    }

    /// Set it (e.g. from a Ctrl-C handler) to make [`Trainer::run`] checkpoint after the
    /// current step and return [`StopReason::Interrupted`].
    pub fn stop_flag(&self) -> Arc<AtomicBool> {
        self.stop.clone()
    }

    /// Installs the hook called every `eval_every` steps and at the end of the run.
    pub fn set_eval_hook(&mut self, hook: Box<dyn EvalHook>) {
        self.hook = Some(hook);
    }

    pub fn jepa(&self) -> &Jepa {
        &self.jepa
    }

    pub fn config(&self) -> &TrainConfig {
        &self.cfg
    }

    pub fn total_steps(&self) -> u64 {
        self.total_steps
    }

    pub fn batches_per_epoch(&self) -> u64 {
        self.ipe
    }

    /// Path of the latest checkpoint of this run directory.
    pub fn checkpoint_path(&self) -> PathBuf {
        self.cfg.out_dir.join(CHECKPOINT_FILE)
    }

    /// The checkpoint written last (or resumed from).
    pub fn last_checkpoint(&self) -> Option<&Path> {
        self.last_checkpoint.as_deref()
    }

    fn meta(&self, elapsed: f64) -> StateMeta {
        StateMeta {
            position: RunPosition::after(self.jepa.steps_done(), self.ipe),
            batches_per_epoch: self.ipe,
            fingerprint: self.cfg.fingerprint().to_string(),
            config: format!("{:#?}", self.cfg),
            method: format!("{:?}", self.cfg.jepa.method),
            elapsed_seconds: elapsed,
        }
    }

    /// Writes the checkpoint of the current state (refusing non-finite parameters).
    fn write_checkpoint(&mut self, elapsed: f64) -> Result<PathBuf, TrainError> {
        let step = self.jepa.steps_done();
        if !parameters_finite(&self.jepa)? {
            return Err(self.non_finite(step, "parameters"));
        }
        let ck = to_checkpoint(&self.jepa, &self.meta(elapsed))?;
        let path = self.checkpoint_path();
        ck.save(&path)?;
        if self.cfg.keep_checkpoints {
            let numbered = self
                .cfg
                .out_dir
                .join(format!("checkpoint-{step:08}.safetensors"));
            ck.save(&numbered)?;
        }
        self.last_checkpoint = Some(path.clone());
        Ok(path)
    }

    fn non_finite(&self, step: u64, what: &str) -> TrainError {
        TrainError::NonFinite {
            step,
            what: what.into(),
            last_checkpoint: self.last_checkpoint.clone(),
        }
    }

    /// Runs the hook and appends its report, with the step and the training time
    /// `train_seconds`, to `eval.jsonl`.
    fn run_eval(
        &mut self,
        train_seconds: f64,
        progress: &mut dyn Progress,
    ) -> Result<(), TrainError> {
        let step = self.jepa.steps_done();
        let (Some(hook), jepa, pool) = (self.hook.as_mut(), &self.jepa, &self.pool) else {
            return Ok(());
        };
        let t = Instant::now();
        let report = pool.install(|| hook.evaluate(jepa, step))?;
        let line = eval_line(&report, step, train_seconds, t.elapsed().as_secs_f64());
        let path = self.cfg.out_dir.join(EVAL_FILE);
        OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .and_then(|mut f| writeln!(f, "{line}"))
            .map_err(|e| TrainError::io(&path, e))?;
        progress.on_eval(&report);
        Ok(())
    }

    /// Trains until the configured duration, a stop request, or an error. Every time it reports
    /// (`elapsed_seconds` of the metrics and the outcome, `train_seconds` of `eval.jsonl`, the
    /// time stored in checkpoints) is training time: evaluation and checkpoint writing are not
    /// counted, and a resumed run continues from the checkpoint's count.
    pub fn run(&mut self, progress: &mut dyn Progress) -> Result<TrainOutcome, TrainError> {
        let start_step = self.jepa.steps_done();
        progress.on_start(self.total_steps, start_step);
        let mut logger = MetricsLogger::open(&self.cfg.out_dir)
            .map_err(|e| TrainError::io(&self.cfg.out_dir, e))?;
        let mut clock = TrainClock::new(self.elapsed_before);
        let mut last_loss = None;
        let (mut window_start, mut window_images) = (clock.seconds(), 0usize);
        let (mut checkpointed_at, mut evaluated_at) = (None, None);
        if start_step < self.total_steps && !self.stop.load(Ordering::SeqCst) {
            let loader = self.loader(start_step)?;
            for batch in loader {
                let batch = batch?;
                let step_before = self.jepa.steps_done();
                if batch.step != step_before {
                    return Err(TrainError::Config(format!(
                        "loader produced step {} for model step {step_before}",
                        batch.step
                    )));
                }
                let stats = self.step(&batch)?;
                let step = stats.step;
                last_loss = Some(stats.loss);
                window_images += batch.labels.len();
                let due = |every: u64| every > 0 && step % every == 0;
                let (rankme, feature_std) = if due(self.cfg.collapse_every) {
                    let imgs = images(&batch)?;
                    let jepa = &self.jepa;
                    let (r, s) = self.pool.install(|| collapse_metrics(jepa, &imgs))?;
                    (Some(r), s)
                } else {
                    (None, None)
                };
                let secs = clock.seconds() - window_start;
                let rec = StepRecord {
                    step,
                    total_steps: self.total_steps,
                    epoch: batch.epoch as u64,
                    loss: stats.loss,
                    regression: stats.regression,
                    inv: stats.inv,
                    var: stats.var,
                    cov: stats.cov,
                    lr: stats.hyper.lr,
                    wd: stats.hyper.wd,
                    ema_momentum: stats.hyper.momentum,
                    images_per_sec: if secs > 0.0 {
                        window_images as f64 / secs
                    } else {
                        0.0
                    },
                    elapsed_seconds: clock.seconds(),
                    rankme,
                    feature_std,
                };
                progress.on_step(&rec);
                let last = step >= self.total_steps;
                if due(self.cfg.log_every) || last {
                    logger
                        .log(&rec.record())
                        .map_err(|e| TrainError::io(logger.csv_path().to_path_buf(), e))?;
                    (window_start, window_images) = (clock.seconds(), 0);
                }
                if due(self.cfg.checkpoint_every) {
                    let at = clock.seconds();
                    let path = clock.off(|| self.write_checkpoint(at))?;
                    progress.on_checkpoint(&path, step);
                    checkpointed_at = Some(step);
                }
                if due(self.cfg.eval_every) {
                    let at = clock.seconds();
                    clock.off(|| self.run_eval(at, progress))?;
                    evaluated_at = Some(step);
                }
                if last || self.stop.load(Ordering::SeqCst) {
                    break;
                }
            }
        }
        let steps_done = self.jepa.steps_done();
        let reason = if steps_done >= self.total_steps {
            StopReason::Completed
        } else if self.stop.load(Ordering::SeqCst) {
            StopReason::Interrupted
        } else {
            return Err(TrainError::Config(format!(
                "the loader ended at step {steps_done} of {}",
                self.total_steps
            )));
        };
        let train_seconds = clock.seconds();
        self.elapsed_before = train_seconds;
        if checkpointed_at != Some(steps_done) {
            let path = self.write_checkpoint(train_seconds)?;
            progress.on_checkpoint(&path, steps_done);
        }
        if reason == StopReason::Completed && evaluated_at != Some(steps_done) {
            self.run_eval(train_seconds, progress)?;
        }
        Ok(TrainOutcome {
            reason,
            steps_done,
            last_loss,
            checkpoint: self.last_checkpoint.clone(),
            elapsed_seconds: train_seconds,
        })
    }

    /// The loader from the batch of step `start_step` to the end of the run.
    fn loader(&self, start_step: u64) -> Result<Loader, TrainError> {
        let pos = RunPosition::after(start_step, self.ipe);
        let mut lc = LoaderConfig::new(self.cfg.batch_size, self.cfg.seed);
        lc.workers = self.cfg.workers;
        lc.prefetch = self.cfg.prefetch;
        lc.start_epoch = pos.epoch as usize;
        lc.start_batch = pos.batch_in_epoch as usize;
        lc.end_epoch = Some(self.total_steps.div_ceil(self.ipe) as usize);
        lc.views = if self.cfg.two_views() { 2 } else { 1 };
        Ok(Loader::new(
            Arc::new(self.dataset.clone()),
            Transform::Train(self.cfg.transform.clone()),
            lc,
            Some((self.masks.clone(), self.cfg.seed)),
        )?)
    }

    /// One optimizer step on `batch` (both views for C-JEPA variant A), with the NaN/Inf guard.
    fn step(&mut self, batch: &Batch) -> Result<StepStats, TrainError> {
        let v1 = ViewInputs::first(batch)?;
        let v2 = if self.cfg.two_views() {
            Some(ViewInputs::second(batch)?)
        } else {
            None
        };
        let step = self.jepa.steps_done() + 1;
        let (jepa, pool) = (&mut self.jepa, &self.pool);
        let result = pool.install(|| match &v2 {
            Some(v2) => jepa.train_step_two_views(v1.batch(), v2.batch()),
            None => jepa.train_step(v1.batch()),
        });
        let stats = match result {
            Ok(s) => s,
            // The step checks its loss before backward, so the parameters are untouched.
            Err(ModelError::NonFiniteLoss { .. }) => {
                return Err(self.non_finite(step, "loss"));
            }
            Err(e) => return Err(e.into()),
        };
        if !self.pool.install(|| parameters_finite(&self.jepa))? {
            return Err(self.non_finite(step, "parameters after the update"));
        }
        Ok(stats)
    }
}
