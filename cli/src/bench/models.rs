//! Model benchmarks through the models crate's timing entry points: ViT-Tiny/4 forward at 32 px
//! and one full training step per method (baseline.md's model shapes, batch 64).

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
    let (n, d) = (c.num_patches() as f64, c.dim as f64);
    let hidden = c.mlp_hidden as f64;
    let block = 2.0 * n * d * (3.0 * d + d + 2.0 * hidden) + 4.0 * n * n * d;
    c.depth as f64 * block + 2.0 * n * c.patch_dim() as f64 * d
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
                Ok(to_record(&n, &r, None, threads, peak))
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
    fn required_model_benchmarks_are_listed() {
        let names: Vec<String> = runners().into_iter().map(|(n, _)| n).collect();
        assert!(names.contains(&"vit_tiny_forward_b64".to_string()));
        assert!(names.contains(&"ijepa_step_vit_tiny_b64".to_string()));
    }
}
