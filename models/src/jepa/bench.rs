//! Timing entry points for the CLI's bench and the `step_timing` example: ViT forward and one
//! full training step on random data with pre-sampled official-style masks.

use super::config::{JepaConfig, Method};
use super::model::{Batch, Jepa};
use crate::masks::{MaskConfig, MaskGenerator};
use crate::vit::{index, ModelError, ModelResult, VisionTransformer, VitConfig, VitSize};
use jepa_engine::{no_grad, Device, RowIndex, Tensor};
use std::time::Instant;

/// Timings of one benchmark.
#[derive(Clone, Debug, PartialEq)]
pub struct BenchReport {
    pub label: String,
    pub batch: usize,
    /// Wall time of each timed iteration (warm-up excluded).
    pub times_ms: Vec<f64>,
    pub median_ms: f64,
    pub images_per_s: f64,
    /// Process CPU time (user + system, all threads) per timed iteration: on a shared machine
    /// this stays meaningful when the wall time does not.
    pub cpu_ms_per_iter: Option<f64>,
    /// Peak resident set (VmHWM) of the process after the run, when the OS reports it.
    pub peak_rss_mib: Option<f64>,
    /// Mean context / target-block lengths of the timed masks (step bench only).
    pub mean_context_tokens: Option<f64>,
    pub mean_target_tokens: Option<f64>,
    /// Target blocks per image (`npred`; step bench only).
    pub target_blocks: Option<usize>,
}

/// The baseline step model: ViT-Tiny/4 at 32 px, predictor 96 × 4 (3 heads), I-JEPA.
pub fn tiny_step_config() -> JepaConfig {
    let enc = VitConfig::sized(VitSize::Tiny, 32, 4);
    JepaConfig::new(Method::IJepa, enc, 96, 4)
}

/// ViT forward over all tokens (no tape) on random images.
pub fn bench_vit_forward(
    cfg: &VitConfig,
    batch: usize,
    warmup: usize,
    iters: usize,
) -> ModelResult<BenchReport> {
    check_counts(batch, iters)?;
    let vit = VisionTransformer::new(cfg.clone(), Vec::new(), 0, false)?;
    let imgs = random_images(cfg, batch, 1)?;
    let _g = no_grad();
    let mut times = Vec::with_capacity(iters);
    let mut cpu0 = None;
    for i in 0..warmup + iters {
        if i == warmup {
            cpu0 = cpu_ms();
        }
        let t0 = Instant::now();
        let out = vit.forward(&imgs)?;
        drop(out);
        if i >= warmup {
            times.push(t0.elapsed().as_secs_f64() * 1e3);
        }
    }
    let cpu = cpu0.zip(cpu_ms()).map(|(a, b)| (b - a) / iters as f64);
    Ok(report(
        format!("vit_forward d{} L{}", cfg.dim, cfg.depth),
        batch,
        times,
        cpu,
    ))
}

/// `warmup + iters` full training steps (targets, context, predictor, loss, backward, AdamW,
/// EMA) on random images with masks from the official generator (parity, min_keep 4). C-JEPA
/// variant A steps on two views (a second random image set with its own masks); `batch` and
/// `images_per_s` count images, not views.
pub fn bench_ijepa_step(
    cfg: &JepaConfig,
    batch: usize,
    warmup: usize,
    iters: usize,
) -> ModelResult<BenchReport> {
    check_counts(batch, iters)?;
    let mut jepa = Jepa::new(cfg.clone())?;
    let g = cfg.encoder.grid();
    let mut mcfg = MaskConfig::official(g, g);
    mcfg.min_keep = 4;
    let gen = MaskGenerator::new(mcfg).map_err(|e| ModelError::Config(e.to_string()))?;
    let mut times = Vec::with_capacity(iters);
    let (mut kc, mut kt, mut blocks) = (0usize, 0usize, 0usize);
    let imgs = random_images(&cfg.encoder, batch, 2)?;
    let two_views = cfg.two_views();
    let imgs2 = two_views
        .then(|| random_images(&cfg.encoder, batch, 3))
        .transpose()?;
    let mut cpu0 = None;
    for i in 0..warmup + iters {
        if i == warmup {
            cpu0 = cpu_ms();
        }
        let (me, mp) = step_masks(&gen, batch, cfg.seed, i as u64)?;
        let b = Batch {
            imgs: &imgs,
            masks_enc: &me,
            masks_pred: &mp,
        };
        // The second view's masks are drawn before the clock starts, like the first view's.
        let view2 = match &imgs2 {
            Some(im) => Some((
                im,
                step_masks(&gen, batch, cfg.seed.wrapping_add(1), i as u64)?,
            )),
            None => None,
        };
        let t0 = Instant::now();
        if let Some((imgs2, (me2, mp2))) = &view2 {
            let b2 = Batch {
                imgs: imgs2,
                masks_enc: me2,
                masks_pred: mp2,
            };
            jepa.train_step_two_views(b, b2)?;
        } else {
            jepa.train_step(b)?;
        }
        if i >= warmup {
            times.push(t0.elapsed().as_secs_f64() * 1e3);
            kc += me[0].dims().1;
            kt += mp[0].dims().1;
            blocks = mp.len();
        }
    }
    let cpu = cpu0.zip(cpu_ms()).map(|(a, b)| (b - a) / iters as f64);
    let label = if two_views {
        "CJepa two-view step".to_string()
    } else {
        format!("{:?} step", cfg.method)
    };
    let mut r = report(label, batch, times, cpu);
    r.mean_context_tokens = Some(kc as f64 / iters as f64);
    r.mean_target_tokens = Some(kt as f64 / iters as f64);
    r.target_blocks = Some(blocks);
    Ok(r)
}

/// The masks of one step as row indices: (context, targets).
fn step_masks(
    gen: &MaskGenerator,
    batch: usize,
    seed: u64,
    step: u64,
) -> ModelResult<(Vec<RowIndex>, Vec<RowIndex>)> {
    let m = gen
        .generate(batch, seed, step)
        .map_err(|e| ModelError::Mask(e.to_string()))?;
    let rows = |v: &[crate::masks::IndexBatch]| -> ModelResult<Vec<RowIndex>> {
        v.iter().map(index::from_index_batch).collect()
    };
    Ok((rows(&m.enc)?, rows(&m.pred)?))
}

fn check_counts(batch: usize, iters: usize) -> ModelResult<()> {
    if batch == 0 || iters == 0 {
        return Err(ModelError::Config(
            "bench needs batch >= 1 and iters >= 1".into(),
        ));
    }
    Ok(())
}

fn random_images(cfg: &VitConfig, batch: usize, seed: u64) -> ModelResult<Tensor> {
    let shape = [batch, cfg.in_chans, cfg.img_size, cfg.img_size];
    Ok(Tensor::randn(shape, 0.0, 1.0, seed, Device::Cpu)?)
}

fn report(label: String, batch: usize, times: Vec<f64>, cpu: Option<f64>) -> BenchReport {
    let mut sorted = times.clone();
    sorted.sort_by(f64::total_cmp);
    let median = sorted.get(sorted.len() / 2).copied().unwrap_or(f64::NAN);
    BenchReport {
        label,
        batch,
        times_ms: times,
        median_ms: median,
        images_per_s: batch as f64 / (median / 1e3),
        cpu_ms_per_iter: cpu,
        peak_rss_mib: peak_rss_mib(),
        mean_context_tokens: None,
        mean_target_tokens: None,
        target_blocks: None,
    }
}

/// VmHWM of this process in MiB (Linux).
pub fn peak_rss_mib() -> Option<f64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

/// User + system CPU time of this process in ms (Linux `/proc/self/stat`, 100 Hz ticks).
fn cpu_ms() -> Option<f64> {
    let s = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let rest = &s[s.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?;
    Some(ticks * 10.0)
}
