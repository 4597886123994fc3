//! Model benchmarks through the models crate's timing entry points: ViT-Tiny/4 forward at 32 px
//! and one full training step per method (baseline.md's model shapes, batch 64).

use jepa_models::jepa::JepaConfig;
use jepa_models::jepa::{
    bench_ijepa_step, bench_vit_forward, tiny_step_config, BenchReport, Method,
};
use jepa_models::vit::VitConfig;

use super::record::{Record, Work};
use crate::error::CliResult;

const BATCH: usize = 64;

/// FLOPs of one ViT forward per image: per block 24·N·D² (qkv, proj, MLP ×4) + 4·N²·D
/// (attention), plus the patch-embed GEMM; ≈ 0.72 GFLOP for ViT-Tiny/4 at 32 px (baseline.md).
pub fn vit_forward_flops(c: &VitConfig) -> f64 {
    let n = c.num_patches() as f64;
    blocks_flops(n, c.dim, c.mlp_hidden, c.depth) + 2.0 * n * c.patch_dim() as f64 * c.dim as f64
}

/// Matmul FLOPs of `depth` pre-norm blocks over one sequence of `n` tokens (forward).
fn blocks_flops(n: f64, dim: usize, hidden: usize, depth: usize) -> f64 {
    let (d, h) = (dim as f64, hidden as f64);
    depth as f64 * (2.0 * n * d * (4.0 * d + 2.0 * h) + 4.0 * n * n * d)
}

/// Matmul FLOPs of one training step per image, counted as `bench_torch.py` counts torch's
/// (`approx_gflops`), so that both sides' GFLOP/s and share of the FMA ceiling compare: the
/// target encoder's forward over all tokens, the context encoder's forward and backward (3×)
/// over `ctx` tokens, and per target block the predictor's forward and backward over
/// `ctx + tgt` tokens with its two projections. Patch embedding, losses and the optimizer are
/// left out (< 0.5 %), as are EC-IJEPA's conditioning tokens.
pub fn step_flops(c: &JepaConfig, ctx: f64, tgt: f64, targets: usize) -> f64 {
    let (e, p) = (&c.encoder, &c.predictor);
    let n = e.num_patches() as f64;
    let (d, dp) = (e.dim as f64, p.dim as f64);
    let predictor = blocks_flops(ctx + tgt, p.dim, p.mlp_hidden, p.depth)
        + 2.0 * ctx * d * dp
        + 2.0 * tgt * dp * d;
    blocks_flops(n, e.dim, e.mlp_hidden, e.depth)
        + 3.0 * blocks_flops(ctx, e.dim, e.mlp_hidden, e.depth)
        + 3.0 * targets as f64 * predictor
}

fn to_record(
    name: &str,
    r: &BenchReport,
    flops_per_image: Option<f64>,
    threads: usize,
    peak: f64,
) -> Record {
    let work = Work {
        flops: flops_per_image.map(|f| f * r.batch as f64),
        images: Some(r.batch as f64),
        ..Work::default()
    };
    let mut rec = Record::new(name, r.median_ms, work, threads, peak);
    rec.peak_rss_mib = r.peak_rss_mib;
    rec
}

type Runner = Box<dyn Fn(bool, usize, f64) -> CliResult<Record>>;

/// `(name, runner(quick, threads, peak_gflops))` of every model benchmark.
pub fn runners() -> Vec<(String, Runner)> {
    let mut v: Vec<(String, Runner)> = Vec::new();
    v.push((
        "vit_tiny_forward_b64".into(),
        Box::new(|quick, threads, peak| {
            let cfg = tiny_step_config().encoder;
            let (warm, iters) = if quick { (1, 3) } else { (3, 10) };
            let r = bench_vit_forward(&cfg, BATCH, warm, iters)?;
            Ok(to_record(
                "vit_tiny_forward_b64",
                &r,
                Some(vit_forward_flops(&cfg)),
                threads,
                peak,
            ))
        }),
    ));
    for (method, tag) in [
        (Method::IJepa, "ijepa"),
        (Method::CJepa, "cjepa"),
        (Method::EcIJepa, "ecijepa"),
    ] {
        let name = format!("{tag}_step_vit_tiny_b64");
        let n = name.clone();
        v.push((
            name,
            Box::new(move |quick, threads, peak| {
                let mut cfg = tiny_step_config();
                cfg.method = method;
                let (warm, iters) = if quick { (1, 2) } else { (2, 8) };
                let r = bench_ijepa_step(&cfg, BATCH, warm, iters)?;
                let flops = match (r.mean_context_tokens, r.mean_target_tokens, r.target_blocks) {
                    (Some(kc), Some(kt), Some(nt)) => {
                        // C-JEPA's two-view variant runs the whole step on each view.
                        let views = if cfg.two_views() { 2.0 } else { 1.0 };
                        Some(views * step_flops(&cfg, kc, kt, nt))
                    }
                    _ => None,
                };
                Ok(to_record(&n, &r, flops, threads, peak))
            }),
        ));
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use jepa_models::vit::VitSize;

    #[test]
    fn vit_tiny_forward_is_the_baselines_0_72_gflop_per_image() {
        let f = vit_forward_flops(&VitConfig::sized(VitSize::Tiny, 32, 4));
        assert!((f / 1e9 - 0.72).abs() < 0.01, "{f}");
    }

    #[test]
    fn step_flops_follow_bench_torch_counting() {
        let cfg = tiny_step_config();
        // bench_torch.py's formula at 12 context and 11 target tokens, 4 targets, by hand.
        let vit =
            |n: f64, d: f64, l: f64| l * (2.0 * n * d * (3.0 * d + d + 8.0 * d) + 4.0 * n * n * d);
        let want = vit(64.0, 192.0, 12.0)
            + 3.0 * vit(12.0, 192.0, 12.0)
            + 12.0 * (vit(23.0, 96.0, 4.0) + 2.0 * 12.0 * 192.0 * 96.0 + 2.0 * 11.0 * 96.0 * 192.0);
        let got = step_flops(&cfg, 12.0, 11.0, 4);
        assert!((got / want - 1.0).abs() < 1e-12, "{got} vs {want}");
        // About 1.35 GFLOP per image: 86 GFLOP per batch of 64, as torch's records imply.
        assert!((1.2e9..1.5e9).contains(&got), "{got}");
    }

    #[test]
    fn required_model_benchmarks_are_listed() {
        let names: Vec<String> = runners().into_iter().map(|(n, _)| n).collect();
        assert!(names.contains(&"vit_tiny_forward_b64".to_string()));
        assert!(names.contains(&"ijepa_step_vit_tiny_b64".to_string()));
    }
}
