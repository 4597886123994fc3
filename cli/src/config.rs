//! The pretraining run configuration: a TOML file (every table rejects unknown keys), named
//! presets, and `pretrain` flags that override both. Precedence, lowest first: built-in defaults
//! (the `vit-tiny-cifar` preset), `--preset`, `--config` (which may itself name a preset), flags.

mod check;
mod presets;
mod resolve;

pub use check::{cjepa_variant, conditioning, mask_config, regression_loss, validate};
pub use presets::{preset, PRESETS};
pub use resolve::{parse_config_text, preset_or_err, resolve, saved_config, MODEL_SIZES};

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// Which JEPA variant to train.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Method {
    Ijepa,
    Cjepa,
    Ecijepa,
}

impl Method {
    pub fn parse(s: &str) -> Option<Self> {
        match s.to_ascii_lowercase().replace(['-', '_'], "").as_str() {
            "ijepa" => Some(Self::Ijepa),
            "cjepa" => Some(Self::Cjepa),
            "ecijepa" => Some(Self::Ecijepa),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Ijepa => "ijepa",
            Self::Cjepa => "cjepa",
            Self::Ecijepa => "ecijepa",
        }
    }
}

/// Mask generator mode (methods.md §2.4).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MaskModeName {
    Parity,
    Fixed,
}

/// A whole run. Every section is optional in a file; absent keys keep the preset's value.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunConfig {
    /// Preset the file builds on (applied before the file's own keys).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preset: Option<String>,
    pub method: Method,
    pub seed: u64,
    /// `cpu`, `cuda` or `cuda:N`.
    pub device: String,
    /// Compute threads; 0 means all cores.
    pub threads: usize,
    /// Internal precision of matrix products: highest, high or medium (`--matmul-precision`).
    #[serde(default = "highest")]
    pub matmul_precision: String,
    pub data: DataSection,
    pub model: ModelSection,
    pub train: TrainSection,
    pub optim: OptimSection,
    pub mask: MaskSection,
    pub output: OutputSection,
    pub cjepa: CjepaSection,
    pub ecijepa: EcijepaSection,
    pub eval: EvalSection,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataSection {
    /// ImageFolder dir, `.tar(.gz)` ImageFolder archive, CIFAR-10 binary dir or idx dir.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<PathBuf>,
    /// Decoding threads of the loader.
    pub workers: usize,
    /// Random horizontal flips (off in official I-JEPA).
    pub hflip: bool,
    /// Smallest RandomResizedCrop area fraction (official 0.3).
    pub crop_scale_min: f64,
    /// Colour-jitter strength in [0, 1] (0: off, the official I-JEPA setting); 1 is VICReg's
    /// brightness 0.4, contrast 0.4, saturation 0.2, hue 0.1, applied with probability 0.8.
    pub color_jitter: f64,
    /// Probability of converting a training crop to grey (VICReg: 0.2).
    pub grayscale: f64,
    /// Images held out of the training data and never pretrained on: the same stratified split
    /// that `jepa probe --holdout N` scores on (0: pretrain on everything).
    pub holdout: usize,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelSection {
    /// tiny, small, base, large, huge, giant.
    pub size: String,
    /// Encoder depth override (0: the size's depth).
    pub depth: usize,
    pub image_size: usize,
    pub patch_size: usize,
    pub pred_dim: usize,
    pub pred_depth: usize,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainSection {
    /// Run length: exactly one of `epochs` and `steps` is non-zero after resolution.
    pub epochs: u64,
    pub steps: u64,
    pub batch_size: usize,
    /// Save a checkpoint every N steps (0: only at the end).
    pub checkpoint_every: u64,
    /// Metrics line every N steps.
    pub log_every: u64,
    /// Compute RankMe of the target features every N steps (0: never).
    pub rankme_every: u64,
    /// Prediction loss against the normalised targets: `smooth-l1` (official) or `mse`.
    pub loss: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OptimSection {
    pub lr: f64,
    pub start_lr: f64,
    pub final_lr: f64,
    /// Warm-up length in epochs (fractions allowed; with `steps` runs, epochs of the dataset).
    pub warmup_epochs: f64,
    pub weight_decay: f64,
    pub final_weight_decay: f64,
    pub ema_start: f64,
    pub ema_end: f64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MaskSection {
    pub mode: MaskModeName,
    pub npred: usize,
    pub nenc: usize,
    pub pred_scale: [f64; 2],
    pub enc_scale: [f64; 2],
    pub aspect_ratio: [f64; 2],
    pub min_keep: usize,
    pub allow_overlap: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutputSection {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dir: Option<PathBuf>,
    /// Draw PNG plots at the end of the run.
    pub plots: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CjepaSection {
    /// Which embeddings VICReg acts on (methods.md §4.2–§4.4): `predictions` (default, pooled
    /// predictor outputs), `two-views` (variant A: pooled context features of two augmented
    /// views) or `predictions-and-context` (variant B).
    pub variant: String,
    /// Outer weight β of the VICReg terms.
    pub beta: f64,
    /// μ: weight of the VICReg variance hinge on pooled predictions (methods.md §4.2).
    pub var_weight: f64,
    /// ν: weight of the covariance term.
    pub cov_weight: f64,
    /// λ: weight of the pooled-mean invariance term.
    pub inv_weight: f64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EcijepaSection {
    /// `block-mean` (default), `per-position`, `additive` or `none` (methods.md §3).
    pub conditioning: String,
    /// Probability of dropping the conditioning per sample (methods.md §3.4).
    pub dropout: f64,
}

/// Probing during pretraining (every `every` steps and at the end): frozen target-encoder
/// features of a stratified subset of the pretraining images (the probe's training set) and of
/// the held-out images (its test set; needs `data.holdout > 0`), appended to `RUN/eval.jsonl`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvalSection {
    /// Steps between evaluations (0: never, not even at the end).
    pub every: u64,
    /// Pretraining images the probe trains on (0: all).
    pub train_images: usize,
    /// Held-out images it is scored on (0: all of `data.holdout`).
    pub test_images: usize,
    /// Run the linear probe (false: only kNN, RankMe and feature std, much cheaper).
    pub linear: bool,
}

impl RunConfig {
    /// The TOML text of this configuration (stored in checkpoints and `config.toml`).
    pub fn to_toml(&self) -> String {
        toml::to_string(self).unwrap_or_default()
    }
}

fn highest() -> String {
    "highest".into()
}
