//! `jepa show attention | features`: pictures of what an encoder has learned, for a few images.
//! The drawing functions ([`draw_attention`], [`draw_features`]) take loaded encoders and
//! images, so `jepa report` and library users draw the same pictures without the CLI.

pub mod args;
pub mod attention;
pub mod features;
pub mod images;
pub mod picture;

use std::path::Path;

use jepa_models::vit::VisionTransformer;

pub use args::{AttentionArgs, FeaturesArgs, ShowArgs, ShowCommon, ShowWhat};
pub use attention::{draw_attention, AttentionSummary};
pub use features::{draw_features, FeatureSummary};
pub use images::ShowImages;

use crate::encoder::{self, Which};
use crate::error::{CliError, CliResult};
use crate::probe::RANDOM_INIT_SEED;
use crate::runtime;

/// Label of the untrained encoder in every picture.
pub const RANDOM_LABEL: &str = "random init";

/// Refuses, before any work, an output that is not a .png in an existing directory.
pub fn check_png_out(out: &Path) -> CliResult<()> {
    crate::plot::require_png(out, "picture")?;
    if out.is_dir() {
        return Err(CliError::Usage(format!(
            "--out {}: is a directory",
            out.display()
        )));
    }
    crate::embed::check_output_dir(out)
}

/// Reads the images for an encoder of `cfg`.
fn start(c: &ShowCommon, cfg: &jepa_models::vit::VitConfig) -> CliResult<ShowImages> {
    if c.tile < 8 {
        return Err(CliError::Usage("--tile must be >= 8 pixels".into()));
    }
    images::prepare(images::decode(&c.images, c.count, c.spread)?, cfg)
}

/// Sets up the compute flags and checks `--out`, before anything is loaded.
fn setup(c: &ShowCommon) -> CliResult<()> {
    runtime::configure_threads(c.compute.threads)?;
    runtime::configure_precision(c.compute.matmul_precision.as_deref())?;
    runtime::compute_device(c.compute.device.as_deref())?;
    check_png_out(&c.out)
}

/// The target and context encoders of `path`; `None` for the context encoder of a file that
/// holds one encoder only (a bare state dict, or a target-only export).
pub fn both_encoders(
    path: &Path,
    heads: Option<usize>,
) -> CliResult<(VisionTransformer, Option<VisionTransformer>)> {
    let target = encoder::load(path, Which::Target, heads)?;
    // Without prefixed names both loads would read the same bare state dict.
    let context = encoder::load(path, Which::Context, heads)
        .ok()
        .filter(|c| !c.prefix.is_empty())
        .map(|c| c.encoder);
    Ok((target.encoder, context))
}

fn run_attention(a: &AttentionArgs) -> CliResult<()> {
    let c = &a.common;
    setup(c)?;
    let (target, context) = both_encoders(&c.checkpoint, c.heads)?;
    let shown = start(c, target.config())?;
    let random = c
        .random_init
        .then(|| encoder::random_like(target.config(), RANDOM_INIT_SEED))
        .transpose()?;
    let mut encoders = vec![("target encoder".to_string(), &target)];
    match &context {
        Some(e) => encoders.push(("context encoder".to_string(), e)),
        None => eprintln!("jepa: {} has one encoder only", c.checkpoint.display()),
    }
    if let Some(r) = &random {
        encoders.push((RANDOM_LABEL.to_string(), r));
    }
    let summaries = draw_attention(&encoders, &shown, a.per_head, c.tile, &c.out)?;
    for s in &summaries {
        eprintln!(
            "jepa: {}: attention entropy / ln N {:.3}, peak {:.2}× uniform",
            s.label, s.entropy, s.peak
        );
    }
    println!("{}", c.out.display());
    Ok(())
}

fn label_of(path: &Path) -> String {
    let stem = |p: &Path| p.file_stem().map(|s| s.to_string_lossy().into_owned());
    // A run's checkpoint is named by its run directory.
    match (stem(path), path.parent().and_then(stem)) {
        (Some(s), Some(dir)) if s == "checkpoint" => dir,
        (Some(s), _) => s,
        _ => path.display().to_string(),
    }
}

fn run_features(a: &FeaturesArgs) -> CliResult<()> {
    let c = &a.common;
    setup(c)?;
    let which = encoder::Which::parse(&a.encoder)?;
    let first = encoder::load(&c.checkpoint, which, c.heads)?.encoder;
    let second = a
        .compare
        .as_ref()
        .map(|p| encoder::load(p, which, c.heads).map(|l| (label_of(p), l.encoder)))
        .transpose()?;
    let shown = start(c, first.config())?;
    if let Some((label, e)) = &second {
        if e.config().img_size != first.config().img_size
            || e.config().in_chans != first.config().in_chans
        {
            return Err(CliError::Usage(format!(
                "--compare {label}: its input size differs from --checkpoint's"
            )));
        }
    }
    let random = c
        .random_init
        .then(|| encoder::random_like(first.config(), RANDOM_INIT_SEED))
        .transpose()?;
    let mut encoders = vec![(label_of(&c.checkpoint), &first)];
    if let Some((label, e)) = &second {
        encoders.push((label.clone(), e));
    }
    if let Some(r) = &random {
        encoders.push((RANDOM_LABEL.to_string(), r));
    }
    let summaries = draw_features(&encoders, &shown, a.centre_positions, c.tile, &c.out)?;
    for s in &summaries {
        let e = s.explained;
        eprintln!(
            "jepa: {}: PC 1/2/3 explain {:.1}/{:.1}/{:.1}% of the patch-feature variance; share between images {:.3}",
            s.label,
            100.0 * e[0],
            100.0 * e[1],
            100.0 * e[2],
            s.image_share
        );
    }
    println!("{}", c.out.display());
    Ok(())
}

pub fn run(args: &ShowArgs) -> CliResult<()> {
    match &args.what {
        ShowWhat::Attention(a) => run_attention(a),
        ShowWhat::Features(a) => run_features(a),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jepa_models::data::ImageU8;
    use jepa_models::vit::VitConfig;

    /// The library path `jepa report` takes: encoders and images in, pictures and numbers out.
    #[test]
    fn pictures_through_the_library_api() {
        let cfg = VitConfig::custom(32, 2, 2, 16, 4);
        let a = encoder::random_like(&cfg, 1).unwrap();
        let b = encoder::random_like(&cfg, 2).unwrap();
        let images: Vec<(String, ImageU8)> = (0..3u8)
            .map(|i| {
                let data = (0..20 * 20 * 3)
                    .map(|p| (p as u8).wrapping_mul(i + 3))
                    .collect();
                (format!("img{i}"), ImageU8::new(20, 20, 3, data).unwrap())
            })
            .collect();
        let shown = images::prepare(images, &cfg).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let encoders = [("a".to_string(), &a), ("b".to_string(), &b)];
        let att = draw_attention(&encoders, &shown, true, 16, &dir.path().join("a.png")).unwrap();
        // 0.02-std random weights: q·k ≈ 0, so attention is uniform to a fraction of a percent.
        for s in &att {
            assert!(s.entropy > 0.99 && s.peak < 1.1, "{s:?}");
        }
        let feat = draw_features(&encoders, &shown, true, 16, &dir.path().join("f.png")).unwrap();
        assert_eq!(feat.len(), 2);
        for s in &feat {
            assert!(s.explained[0] >= s.explained[1] && (0.0..=1.0).contains(&s.image_share));
        }
        let png = image::open(dir.path().join("f.png")).unwrap();
        assert_eq!(png.width(), 3 * (16 + 6) + 6, "input and two encoders");
    }
}
