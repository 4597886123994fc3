//! Command-line grammar. Flags of `pretrain` are all optional so that they can override a preset
//! or a `--config` file; `config::resolve` merges the three and validates the result.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "jepa",
    version,
    about = "Self-supervised JEPA vision models (I-JEPA, C-JEPA, EC-IJEPA) on a pure-Rust engine"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Pretrain an encoder on unlabelled images.
    Pretrain(Box<PretrainArgs>),
    /// Embed images with a checkpoint's encoder into .npy or .safetensors.
    Embed(EmbedArgs),
    /// Linear-probe and kNN accuracy of a checkpoint's frozen encoder.
    Probe(ProbeArgs),
    /// List a checkpoint's tensors and metadata.
    Inspect(InspectArgs),
    /// Kernel and model microbenchmarks with percent of the measured FMA peak.
    Bench(BenchArgs),
    /// Draw the PNG plots (loss, lr, EMA momentum, RankMe) of a run directory.
    Plot(PlotArgs),
    /// A short pretrain + probe on a built-in default dataset, beside the random-init baseline.
    Quickstart(QuickstartArgs),
    /// Pictures of what an encoder learned: attention maps, PCA maps of patch features.
    Show(crate::show::ShowArgs),
    /// One self-contained RUN_DIR/report.html: config, probe table, curves, pictures.
    Report(ReportArgs),
}

/// Options shared by every command that computes.
#[derive(Debug, Clone, Args)]
pub struct ComputeArgs {
    /// Compute device: `cpu` (default). `cuda` / `cuda:N` is refused with a one-line reason: the
    /// models run on the CPU in this build.
    #[arg(long, value_name = "DEVICE")]
    pub device: Option<String>,
    /// Worker threads of the compute pool (default: all cores).
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
    /// Internal precision of f32 matrix products, as `torch.set_float32_matmul_precision`:
    /// highest (default: f32), high (bf16×3 on AMX, ≈ 1e-5 relative) or medium (bf16 on AMX,
    /// ≈ 4e-3). Without AMX, high and medium compute in f32.
    #[arg(long, value_name = "LEVEL")]
    pub matmul_precision: Option<String>,
}

#[derive(Debug, Clone, Args)]
pub struct PretrainArgs {
    /// TOML run configuration; flags given here override it.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Starting configuration: vit-tiny-cifar (default), quickstart, cifar-cjepa-b,
    /// cifar-cjepa-b-hour, vit-small-stl64, in1k-vith14; the config file and flags override it.
    #[arg(long, value_name = "NAME")]
    pub preset: Option<String>,
    /// ImageFolder directory, .tar/.tar.gz ImageFolder archive, CIFAR-10 binary dir or idx dir.
    #[arg(long, value_name = "PATH")]
    pub data: Option<PathBuf>,
    /// Run directory: checkpoints, metrics, plots.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Run length in optimizer steps (replaces epochs).
    #[arg(long, value_name = "N", conflicts_with = "epochs")]
    pub steps: Option<u64>,
    /// Run length in passes over the data (replaces steps).
    #[arg(long, value_name = "N")]
    pub epochs: Option<u64>,
    /// ijepa, cjepa or ecijepa.
    #[arg(long, value_name = "METHOD")]
    pub method: Option<String>,
    /// Encoder size: tiny, small, base, large, huge, giant.
    #[arg(long, value_name = "SIZE")]
    pub model: Option<String>,
    /// Input side in pixels (training images are random-resized-cropped to it).
    #[arg(long, value_name = "PX")]
    pub image_size: Option<usize>,
    /// Patch side in pixels; the token grid is image-size / patch-size per side.
    #[arg(long, value_name = "PX")]
    pub patch_size: Option<usize>,
    /// Images per optimizer step.
    #[arg(long, value_name = "N")]
    pub batch_size: Option<usize>,
    /// Peak learning rate.
    #[arg(long, value_name = "LR")]
    pub lr: Option<f64>,
    /// Learning rate at step 0 (start of the linear warm-up).
    #[arg(long, value_name = "LR")]
    pub start_lr: Option<f64>,
    /// Learning rate at the end of the cosine decay.
    #[arg(long, value_name = "LR")]
    pub final_lr: Option<f64>,
    /// Warm-up length in epochs (fractions allowed).
    #[arg(long, value_name = "EPOCHS")]
    pub warmup_epochs: Option<f64>,
    /// Weight decay at step 0 (cosine-increases to --final-weight-decay).
    #[arg(long, value_name = "WD")]
    pub weight_decay: Option<f64>,
    /// Weight decay at the last step.
    #[arg(long, value_name = "WD")]
    pub final_weight_decay: Option<f64>,
    /// EMA momentum at the first step (ramps linearly to --ema-end).
    #[arg(long, value_name = "M")]
    pub ema_start: Option<f64>,
    /// EMA momentum at the last step.
    #[arg(long, value_name = "M")]
    pub ema_end: Option<f64>,
    /// Mask generator: parity (official) or fixed (repaired for small grids).
    #[arg(long, value_name = "MODE")]
    pub mask_mode: Option<String>,
    /// Save a checkpoint every N steps (0: only at the end).
    #[arg(long, value_name = "N")]
    pub checkpoint_every: Option<u64>,
    /// Seed of parameter init, data order, augmentation and masks.
    #[arg(long, value_name = "N")]
    pub seed: Option<u64>,
    /// Hold N images out of --data and never pretrain on them: the same stratified split that
    /// `jepa probe --holdout N` scores on (for data without a test split)
    #[arg(long, value_name = "N")]
    pub holdout: Option<usize>,
    /// Probe the target encoder every N steps and at the end (kNN, RankMe and, with
    /// `eval.linear`, a linear probe) on held-out images: needs --holdout (config `eval.every`).
    #[arg(long, value_name = "N")]
    pub eval_every: Option<u64>,
    /// Continue from the latest checkpoint in --out.
    #[arg(long)]
    pub resume: bool,
    /// Print one line per log interval instead of a progress bar.
    #[arg(long)]
    pub no_progress: bool,
    #[command(flatten)]
    pub compute: ComputeArgs,
}

#[derive(Debug, Clone, Args)]
pub struct EmbedArgs {
    /// jepa checkpoint or converted I-JEPA safetensors file.
    #[arg(long, value_name = "FILE")]
    pub checkpoint: PathBuf,
    /// Image files or directories (searched recursively for .jpg/.jpeg/.png).
    #[arg(long, value_name = "PATH", required = true, num_args = 1..)]
    pub images: Vec<PathBuf>,
    /// Output file: .npy or .safetensors.
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    /// One vector per patch ([N, P, D]) instead of the average-pooled [N, D].
    #[arg(long)]
    pub per_patch: bool,
    /// Encoder to use: target (default, the evaluation backbone) or context.
    #[arg(long, value_name = "WHICH", default_value = "target")]
    pub encoder: String,
    /// Images per forward pass.
    #[arg(long, value_name = "N", default_value_t = 64)]
    pub batch_size: usize,
    /// Attention heads, for checkpoints whose width is not an official size and that carry no
    /// jepa config.
    #[arg(long, value_name = "N")]
    pub heads: Option<usize>,
    /// No progress bar (bars are only drawn on a terminal anyway).
    #[arg(long)]
    pub no_progress: bool,
    #[command(flatten)]
    pub compute: ComputeArgs,
}

#[derive(Debug, Clone, Args)]
pub struct ProbeArgs {
    /// Checkpoint whose encoder is probed (its architecture is also the random-init baseline's).
    #[arg(long, value_name = "FILE")]
    pub checkpoint: PathBuf,
    /// Labelled training data (any format `pretrain --data` takes).
    #[arg(long, value_name = "PATH")]
    pub train: PathBuf,
    /// Labelled test data (for CIFAR / idx directories, their test split). Without it, a
    /// stratified hold-out of --train is the test set (see --holdout).
    #[arg(long, value_name = "PATH")]
    pub test: Option<PathBuf>,
    /// Images held out of --train as the test set when --test is not given.
    #[arg(long, value_name = "N", default_value_t = 1000)]
    pub holdout: usize,
    /// Also probe the same architecture untrained, side by side.
    #[arg(long)]
    pub random_init: bool,
    /// Neighbours of the kNN classifier.
    #[arg(long, value_name = "K", default_value_t = 20)]
    pub k: usize,
    /// Use at most this many training images (stratified), 0 for all.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub max_train: usize,
    /// Use at most this many test images (stratified), 0 for all.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub max_test: usize,
    /// Linear probe: learning rates to select from, comma-separated (default:
    /// 1e-3,3e-3,1e-2,3e-2,0.1,0.3,1; methods.md §7's grid is the first three).
    #[arg(long, value_name = "LIST", value_delimiter = ',')]
    pub lrs: Vec<f64>,
    /// Linear probe: weight decays to select from, comma-separated (default: 0,1e-4).
    #[arg(long, value_name = "LIST", value_delimiter = ',')]
    pub weight_decays: Vec<f64>,
    /// Print the table as JSON.
    #[arg(long)]
    pub json: bool,
    /// Encoder to probe: target (default) or context.
    #[arg(long, value_name = "WHICH", default_value = "target")]
    pub encoder: String,
    /// Attention heads, for checkpoints whose width is not an official size and that carry no
    /// jepa config.
    #[arg(long, value_name = "N")]
    pub heads: Option<usize>,

    /// No progress bar (bars are only drawn on a terminal anyway).
    #[arg(long)]
    pub no_progress: bool,
    #[command(flatten)]
    pub compute: ComputeArgs,
}

#[derive(Debug, Clone, Args)]
pub struct InspectArgs {
    /// A safetensors checkpoint.
    pub file: PathBuf,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Clone, Args)]
pub struct BenchArgs {
    /// Print a JSON array of records instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Threads of the compute pool (default: all cores).
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
    /// Only run benchmarks whose name contains this string.
    #[arg(long, value_name = "SUBSTR")]
    pub filter: Option<String>,
    /// Fewer repeats and a shorter peak measurement: a smoke run.
    #[arg(long)]
    pub quick: bool,
    /// `cpu` (default); `cuda` is refused with a one-line reason (no CUDA benchmarks yet).
    #[arg(long, value_name = "DEVICE")]
    pub device: Option<String>,
    /// Internal precision of f32 matrix products, as `torch.set_float32_matmul_precision`:
    /// highest (default: f32), high (bf16×3 on AMX, ≈ 1e-5 relative) or medium (bf16 on AMX,
    /// ≈ 4e-3). Without AMX, high and medium compute in f32.
    #[arg(long, value_name = "LEVEL")]
    pub matmul_precision: Option<String>,
}

#[derive(Debug, Clone, Args)]
pub struct PlotArgs {
    /// A run directory written by `jepa pretrain` (several with --compare).
    #[arg(required = true, value_name = "RUN_DIR")]
    pub run_dirs: Vec<PathBuf>,
    /// One line per run of probe top-1 (linear, and kNN in a second panel) from each run's
    /// eval.jsonl against pretraining minutes, into the single PNG --out.
    #[arg(long)]
    pub compare: bool,
    /// The PNG --compare writes.
    #[arg(long, value_name = "FILE.png")]
    pub out: Option<PathBuf>,
    /// A horizontal reference line, `NAME=VALUE` in percent (repeatable); it goes on the kNN
    /// panel when NAME mentions kNN, else on the linear one, e.g. "random init linear=44.9".
    #[arg(long, value_name = "NAME=VALUE", requires = "compare")]
    pub baseline: Vec<String>,
    /// The `random-init` row of `jepa probe --json --random-init` output as baselines (linear
    /// and kNN top-1; repeatable).
    #[arg(long, value_name = "PROBE.json", requires = "compare")]
    pub baseline_json: Vec<PathBuf>,
}

#[derive(Debug, Clone, Args)]
pub struct QuickstartArgs {
    /// Dataset to use instead of the default (CIFAR-10 archive, else Fashion-MNIST).
    #[arg(long, value_name = "PATH")]
    pub data: Option<PathBuf>,
    /// Run directory.
    #[arg(long, value_name = "DIR", default_value = "runs/quickstart")]
    pub out: PathBuf,
    /// Pretraining steps (default: the preset's).
    #[arg(long, value_name = "N")]
    pub steps: Option<u64>,
    /// Recipe to run: `quickstart` (default: minutes, on a 10,000-image subset) or another
    /// preset of `jepa pretrain`, run at full size with RESULTS.md's protocol (10,000 images held
    /// out and probed on, 10,000 probe-training images), e.g. cifar-cjepa-b-hour (about an hour).
    #[arg(long, value_name = "NAME", default_value = "quickstart")]
    pub preset: String,
    /// No progress bar (bars are only drawn on a terminal anyway).
    #[arg(long)]
    pub no_progress: bool,
    #[command(flatten)]
    pub compute: ComputeArgs,
}

#[derive(Debug, Clone, Args)]
pub struct ReportArgs {
    /// A run directory written by `jepa pretrain` or `jepa quickstart`.
    #[arg(value_name = "RUN_DIR")]
    pub run_dir: PathBuf,
    /// Images for the attention and feature maps (default: the first 8 of the run's dataset,
    /// when it is still there).
    #[arg(long, value_name = "PATH")]
    pub images: Option<PathBuf>,
    #[command(flatten)]
    pub compute: ComputeArgs,
}
