//! Times the ViT-Tiny/4 forward (batch 64) and one training step (batch 64, predictor 96 × 4) on
//! random data: `cargo run --release -p jepa-models --example step_timing [--forward | --step]
//! [--method ijepa|cjepa|cjepa-a] [--batch N] [--iters N] [--warmup N]`.
//!
//! `cjepa` is the default single-view C-JEPA (§4.2), `cjepa-a` variant A (§4.3, two views,
//! β 0.04).

use jepa_models::jepa::{
    bench_ijepa_step, bench_vit_forward, tiny_step_config, BenchReport, CJepaConfig, Method,
};
use jepa_models::vit::{VitConfig, VitSize};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let value = |flag: &str| {
        args.iter()
            .position(|a| a == flag)
            .and_then(|i| args.get(i + 1))
    };
    let get = |flag: &str, default: usize| {
        value(flag)
            .map(|v| v.parse().expect("a number"))
            .unwrap_or(default)
    };
    let (batch, iters, warmup) = (get("--batch", 64), get("--iters", 10), get("--warmup", 3));
    let only_fwd = args.iter().any(|a| a == "--forward");
    let only_step = args.iter().any(|a| a == "--step");
    if !only_step {
        let cfg = VitConfig::sized(VitSize::Tiny, 32, 4);
        print(&bench_vit_forward(&cfg, batch, warmup, iters).expect("forward bench"));
    }
    if !only_fwd {
        let mut cfg = tiny_step_config();
        match value("--method").map(String::as_str).unwrap_or("ijepa") {
            "ijepa" => {}
            "cjepa" => cfg.method = Method::CJepa,
            "cjepa-a" => {
                cfg.method = Method::CJepa;
                cfg.cjepa = CJepaConfig::two_views(0.04);
            }
            other => panic!("--method {other}: expected ijepa, cjepa or cjepa-a"),
        }
        print(&bench_ijepa_step(&cfg, batch, warmup, iters).expect("step bench"));
    }
}

fn print(r: &BenchReport) {
    println!(
        "{}: batch {} median {:.1} ms ({:.1} img/s), cpu {:.1} ms/iter, all {:?} ms, peak RSS {:.0} \
         MiB, ctx {:?} tgt {:?}",
        r.label,
        r.batch,
        r.median_ms,
        r.images_per_s,
        r.cpu_ms_per_iter.unwrap_or(f64::NAN),
        r.times_ms.iter().map(|t| (t * 10.0).round() / 10.0).collect::<Vec<_>>(),
        r.peak_rss_mib.unwrap_or(f64::NAN),
        r.mean_context_tokens,
        r.mean_target_tokens
    );
}
