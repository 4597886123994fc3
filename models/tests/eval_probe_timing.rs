//! Wall time of the probe protocol, fast slices vs the tape reference, at CIFAR-10 scale
//! (36,000 × 192 and × 768 features, 10 classes, the full default grid). A measurement, not a check:
//! run on demand with
//! `cargo test -p jepa-models --test eval_probe_timing -- --ignored --nocapture`.
//! The tape path is timed over `REF_EPOCHS` epochs and scaled to 100 (its cost per step is
//! constant), since a full tape run takes many minutes.

use std::time::Instant;

use jepa_models::eval::{linear_probe, linear_probe_ref, FeatureMatrix, ProbeConfig};
use jepa_models::rng::Rng;

const REF_EPOCHS: usize = 3;

fn random(n: usize, d: usize, seed: u64) -> (FeatureMatrix, Vec<usize>) {
    let mut rng = Rng::new(seed);
    let data = (0..n * d).map(|_| rng.next_f64() as f32 - 0.5).collect();
    let labels = (0..n).map(|_| rng.index(10)).collect();
    (FeatureMatrix::new(n, d, data).unwrap(), labels)
}

#[test]
#[ignore = "timing printout (minutes); run with --ignored --nocapture"]
fn probe_wall_time_fast_vs_tape() {
    let full = ProbeConfig::default();
    let short = ProbeConfig {
        epochs: REF_EPOCHS,
        ..full.clone()
    };
    for d in [192, 768] {
        let (x, y) = random(36_000, d, 1);
        let (xt, yt) = random(2_000, d, 2);
        let t = Instant::now();
        let fast = linear_probe(&x, &y, &xt, &yt, 10, &full).unwrap();
        let fast_s = t.elapsed().as_secs_f64();
        let t = Instant::now();
        let fast_short = linear_probe(&x, &y, &xt, &yt, 10, &short).unwrap();
        let fast_short_s = t.elapsed().as_secs_f64();
        let t = Instant::now();
        let reference = linear_probe_ref(&x, &y, &xt, &yt, 10, &short).unwrap();
        let ref_s = t.elapsed().as_secs_f64();
        assert_eq!(fast_short, reference, "fast and tape disagree at D = {d}");
        println!(
            "D = {d}: fast {fast_s:.1} s for 100 epochs (top-1 {:.2}); {REF_EPOCHS} epochs: fast \
             {fast_short_s:.2} s, tape {ref_s:.1} s -> tape ~{:.0} s for 100 epochs",
            fast.top1,
            ref_s * 100.0 / REF_EPOCHS as f64
        );
    }
}
