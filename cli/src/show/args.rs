//! Command-line grammar of `jepa show attention | features`.

use std::path::PathBuf;

use clap::{Args, Subcommand};

use crate::args::ComputeArgs;

#[derive(Debug, Clone, Args)]
pub struct ShowArgs {
    #[command(subcommand)]
    pub what: ShowWhat,
}

#[derive(Debug, Clone, Subcommand)]
pub enum ShowWhat {
    /// Last-layer attention of the target and context encoders over a few images: the
    /// attention each patch receives, mean over heads (per head with --per-head).
    Attention(AttentionArgs),
    /// The first three principal components of the patch features as RGB beside each image
    /// (PCA fitted on all patches of the images together).
    Features(FeaturesArgs),
}

/// What every picture takes.
#[derive(Debug, Clone, Args)]
pub struct ShowCommon {
    /// jepa checkpoint or converted I-JEPA safetensors file.
    #[arg(long, value_name = "FILE")]
    pub checkpoint: PathBuf,
    /// An image, a folder of images (searched recursively for .jpg/.jpeg/.png), or a dataset
    /// (.tar/.tar.gz archive, CIFAR-10 or idx directory: its test split when it has one).
    #[arg(long, value_name = "PATH")]
    pub images: PathBuf,
    /// The PNG to write.
    #[arg(long, value_name = "FILE.png")]
    pub out: PathBuf,
    /// Use the first N images.
    #[arg(long, value_name = "N", default_value_t = 8)]
    pub count: usize,
    /// Take the N images evenly spaced over the dataset or folder instead of the first N (a
    /// dataset sorted by class then shows several classes).
    #[arg(long)]
    pub spread: bool,
    /// Side of each tile in pixels (the images are upsampled to it).
    #[arg(long, value_name = "PX", default_value_t = 128)]
    pub tile: u32,
    /// Also draw the same architecture untrained (seed 0, as `jepa probe --random-init`).
    #[arg(long)]
    pub random_init: bool,
    /// Attention heads, for checkpoints whose width is not an official size and that carry no
    /// jepa config.
    #[arg(long, value_name = "N")]
    pub heads: Option<usize>,
    #[command(flatten)]
    pub compute: ComputeArgs,
}

#[derive(Debug, Clone, Args)]
pub struct AttentionArgs {
    #[command(flatten)]
    pub common: ShowCommon,
    /// One map per head after each encoder's mean map.
    #[arg(long)]
    pub per_head: bool,
}

#[derive(Debug, Clone, Args)]
pub struct FeaturesArgs {
    #[command(flatten)]
    pub common: ShowCommon,
    /// A second checkpoint drawn beside the first (its own PCA).
    #[arg(long, value_name = "FILE")]
    pub compare: Option<PathBuf>,
    /// Remove each patch position's mean feature over the images before the PCA, so the
    /// components show what differs between images rather than where a patch is.
    #[arg(long)]
    pub centre_positions: bool,
    /// Encoder whose patch features are drawn: target (default) or context.
    #[arg(long, value_name = "WHICH", default_value = "target")]
    pub encoder: String,
}
