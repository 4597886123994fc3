//! What a training run is: model and method, data, masks, schedule parameters, duration,
//! seeds, threads and the run directory's logging / checkpoint cadence.

use std::path::PathBuf;

use super::fingerprint::Fingerprint;
use super::TrainError;
use crate::data::{TrainTransform, Transform};
use crate::jepa::{JepaConfig, Method, OptimConfig};
use crate::masks::{ContextLists, MaskConfig, MaskMode};
use crate::optim::{CosineWd, EmaSchedule, WarmupCosine};
use crate::vit::VitConfig;

/// Where the images come from. Every source has a train and a test split.
#[derive(Clone, Debug, PartialEq)]
pub enum DataSource {
    /// CIFAR-10 binary batches in `dir` (or `dir/cifar-10-batches-bin`).
    Cifar10 { dir: PathBuf },
    /// Fashion-MNIST idx files in `dir` (optionally gzipped).
    FashionMnist { dir: PathBuf },
    /// ImageFolder trees (directories or `.tar` / `.tar.gz` archives); `test` defaults to
    /// `train` (evaluation then runs on the training images).
    ImageFolder {
        train: PathBuf,
        test: Option<PathBuf>,
    },
    /// Generated RGB images with class-dependent colour and stripes (tests, smoke runs).
    Synthetic {
        samples: usize,
        classes: usize,
        size: usize,
        seed: u64,
    },
}

/// How long to train.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Duration {
    Steps(u64),
    /// Full passes over the training set (`drop_last` batches).
    Epochs(u64),
}

/// Parameters of the LR / WD / EMA schedules (methods.md §1.7, §1.8); the step counts come from
/// the duration and the batches per epoch.
#[derive(Clone, Debug, PartialEq)]
pub struct ScheduleConfig {
    pub start_lr: f64,
    pub ref_lr: f64,
    pub final_lr: f64,
    /// Linear warmup length in epochs (may be fractional); clamped to the run length.
    pub warmup_epochs: f64,
    pub ref_wd: f64,
    pub final_wd: f64,
    /// EMA momentum `(start, end)`, linear per step.
    pub ema: (f64, f64),
}

impl Default for ScheduleConfig {
    /// The small-scale start of methods.md §6: 2e-4 → 1e-3 → 1e-6, 15 warmup epochs,
    /// wd 0.04 → 0.4, EMA 0.996 → 1.0.
    fn default() -> Self {
        Self {
            start_lr: 2e-4,
            ref_lr: 1e-3,
            final_lr: 1e-6,
            warmup_epochs: 15.0,
            ref_wd: 0.04,
            final_wd: 0.4,
            ema: (0.996, 1.0),
        }
    }
}

impl ScheduleConfig {
    /// The optimizer schedules for a run of `total_steps` with `ipe` batches per epoch.
    pub fn optim(&self, total_steps: u64, ipe: u64) -> OptimConfig {
        let total = total_steps.max(1);
        let warmup = ((self.warmup_epochs * ipe as f64).round() as u64).min(total);
        OptimConfig {
            lr: WarmupCosine {
                start_lr: self.start_lr,
                ref_lr: self.ref_lr,
                final_lr: self.final_lr,
                warmup_steps: warmup,
                total_steps: total,
            },
            wd: CosineWd {
                ref_wd: self.ref_wd,
                final_wd: self.final_wd,
                total_steps: total,
            },
            ema: EmaSchedule {
                start: self.ema.0,
                end: self.ema.1,
                total_steps: total,
            },
            betas: (0.9, 0.999),
            eps: 1e-8,
        }
    }
}

/// Everything that defines a run. `jepa.optim` and `jepa.seed` are overwritten by the trainer
/// (from `schedule` and `seed`).
#[derive(Clone, Debug, PartialEq)]
pub struct TrainConfig {
    /// Method, encoder / predictor sizes, loss, C-JEPA and EC-IJEPA options.
    pub jepa: JepaConfig,
    pub data: DataSource,
    /// Training augmentation; its size and channels must match the encoder.
    pub transform: TrainTransform,
    /// Mask mode and scales; the grid must match the encoder's.
    pub masks: MaskConfig,
    pub batch_size: usize,
    pub duration: Duration,
    pub schedule: ScheduleConfig,
    /// Seeds parameter init, data order, augmentation and masks.
    pub seed: u64,
    /// Compute threads (0: rayon's default, one per core).
    pub threads: usize,
    /// Image decoding threads of the loader.
    pub workers: usize,
    /// Batches decoded ahead.
    pub prefetch: usize,
    /// Run directory: metrics, checkpoints, evaluation results.
    pub out_dir: PathBuf,
    /// Steps between checkpoints (0: only at the end and on a stop request).
    pub checkpoint_every: u64,
    /// Also keep a step-numbered copy of every checkpoint.
    pub keep_checkpoints: bool,
    /// Steps between metrics records (the last step is always logged).
    pub log_every: u64,
    /// Steps between RankMe / feature-std measurements on the batch's pooled target features
    /// (0: never).
    pub collapse_every: u64,
    /// Steps between evaluation-hook calls (0: only at the end, when a hook is set).
    pub eval_every: u64,
}

impl TrainConfig {
    /// The CPU small-scale start (methods.md §6) for `method` on 32×32 images: ViT-Tiny/4
    /// (192 / 12 / 3), predictor 96 / 4, batch 128, `fixed` masks with `min_keep` 4.
    pub fn small(method: Method, data: DataSource, out_dir: PathBuf) -> Self {
        let encoder = VitConfig::custom(192, 12, 3, 32, 4);
        Self::with_encoder(method, encoder, 96, 4, data, out_dir)
    }

    /// A run around an explicit encoder and predictor size, other settings as [`Self::small`].
    pub fn with_encoder(
        method: Method,
        encoder: VitConfig,
        pred_dim: usize,
        pred_depth: usize,
        data: DataSource,
        out_dir: PathBuf,
    ) -> Self {
        let grid = encoder.grid();
        let mut transform = TrainTransform::ijepa(encoder.img_size);
        transform.channels = encoder.in_chans;
        Self {
            jepa: JepaConfig::new(method, encoder, pred_dim, pred_depth),
            data,
            transform,
            masks: MaskConfig::small_grid(grid, grid),
            batch_size: 128,
            duration: Duration::Epochs(100),
            schedule: ScheduleConfig::default(),
            seed: 0,
            threads: 0,
            workers: 2,
            prefetch: 2,
            out_dir,
            checkpoint_every: 1000,
            keep_checkpoints: false,
            log_every: 10,
            collapse_every: 100,
            eval_every: 0,
        }
    }

    /// Checks that the parts fit together (shapes, grid, counts) before anything is built.
    pub fn validate(&self) -> Result<(), TrainError> {
        let bad = |m: String| Err(TrainError::Config(m));
        let enc = &self.jepa.encoder;
        if self.transform.size != enc.img_size || self.transform.channels != enc.in_chans {
            return bad(format!(
                "transform gives {}x{} images with {} channels, the encoder takes {}x{} with {}",
                self.transform.size,
                self.transform.size,
                self.transform.channels,
                enc.img_size,
                enc.img_size,
                enc.in_chans
            ));
        }
        if (self.masks.height, self.masks.width) != (enc.grid(), enc.grid()) {
            return bad(format!(
                "mask grid {}x{} differs from the encoder grid {}x{}",
                self.masks.height,
                self.masks.width,
                enc.grid(),
                enc.grid()
            ));
        }
        if let MaskMode::Fixed(o) = &self.masks.mode {
            if o.context_lists == ContextLists::Pad {
                return bad("padded context lists need attention key masks, which the \
                            training step does not take; use RandomSubset"
                    .into());
            }
        }
        Transform::Train(self.transform.clone()).validate()?;
        let min_batch = if self.jepa.method == Method::CJepa {
            2
        } else {
            1
        };
        if self.batch_size < min_batch || self.workers == 0 || self.prefetch == 0 {
            return bad(format!(
                "batch {} (>= {min_batch}), workers {}, prefetch {} must be positive",
                self.batch_size, self.workers, self.prefetch
            ));
        }
        if matches!(self.duration, Duration::Steps(0) | Duration::Epochs(0)) {
            return bad("the run must have at least one step".into());
        }
        if self.log_every == 0 {
            return bad("log_every must be >= 1".into());
        }
        let s = &self.schedule;
        let finite = [
            s.start_lr,
            s.ref_lr,
            s.final_lr,
            s.warmup_epochs,
            s.ref_wd,
            s.final_wd,
            s.ema.0,
            s.ema.1,
        ];
        if finite.iter().any(|v| !v.is_finite() || *v < 0.0) || s.ema.0 > 1.0 || s.ema.1 > 1.0 {
            return bad(format!(
                "schedule values must be finite and >= 0, EMA in [0, 1]: {s:?}"
            ));
        }
        if let DataSource::Synthetic {
            samples,
            classes,
            size,
            ..
        } = self.data
        {
            if samples == 0 || !(1..=256).contains(&classes) || size == 0 {
                return bad(format!(
                    "synthetic data: {samples} samples, {classes} classes (1..=256), size {size}"
                ));
            }
        }
        self.masks.validate()?;
        self.jepa.validate()?;
        Ok(())
    }

    /// Whether the method trains on two augmented views per image (C-JEPA variant A).
    pub(crate) fn two_views(&self) -> bool {
        self.jepa.two_views()
    }

    /// The settings a resumed run must share with the checkpoint for the trajectory to be the
    /// one it would have been (see [`Fingerprint`]).
    pub fn fingerprint(&self) -> Fingerprint {
        Fingerprint::of(self)
    }
}
