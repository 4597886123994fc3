//! Every SIMD path this CPU runs, forced with `JEPA_SIMD`, gives the same results: a ViT forward
//! of the frozen target encoder (nothing recorded), and an I-JEPA step's loss and gradients
//! through the tape. The path is decided once per process, so each one runs in a child process: this test
//! binary again, on the ignored `simd_child` test, which writes what it computed to a file.
//! `baseline` is what a CPU without AVX2 gets, so it is compared on every x86 host.

use jepa_engine::{Device, RowIndex, Tensor};
use jepa_kernels::cpu::simd::{SimdPath, SIMD_ENV};
use jepa_models::jepa::{Batch, CondKeep, Jepa, JepaConfig, Method};
use jepa_models::rng::Rng;
use jepa_models::vit::{EncoderInputs, VitConfig};
use std::process::Command;

/// Where the child writes its results.
const OUT_ENV: &str = "JEPA_SIMD_CHILD_OUT";
const B: usize = 3;

/// Head dims 12 and 20, widths 36 and 60: every kernel runs its vector body and its tail.
fn config() -> JepaConfig {
    let mut c = JepaConfig::new(Method::IJepa, VitConfig::custom(36, 2, 3, 16, 4), 60, 1);
    c.seed = 11;
    c
}

/// The path name, then the ViT output, the loss and the encoder and predictor gradients.
fn compute() -> (String, Vec<f32>) {
    let jepa = Jepa::new(config()).unwrap();
    // Larger weights keep the gradients well above rounding noise.
    for s in [jepa.encoder().store(), jepa.predictor().store()] {
        s.with_flat_mut(|f| f.iter_mut().for_each(|v| *v *= 4.0))
            .unwrap();
    }
    let imgs = Tensor::randn([B, 3, 16, 16], 0.0, 1.0, 3, Device::Cpu).unwrap();
    let mut rng = Rng::new(9);
    let mut mask = |k: usize| {
        let idx = (0..B).flat_map(|_| rng.sorted_subset(16, k)).collect();
        RowIndex::new(B, k, idx).unwrap()
    };
    let (enc, pred) = (vec![mask(9)], vec![mask(5), mask(5)]);
    jepa.target_encoder()
        .store()
        .copy_values_from(jepa.encoder().store())
        .unwrap();
    let mut vals = jepa
        .target_encoder()
        .forward_with(&imgs, EncoderInputs::default())
        .unwrap()
        .out
        .to_vec_f32()
        .unwrap();
    let batch = Batch {
        imgs: &imgs,
        masks_enc: &enc,
        masks_pred: &pred,
    };
    let step = jepa.forward_loss(batch, &CondKeep::Off).unwrap();
    vals.push(step.loss.to_scalar_f32().unwrap());
    let grads = step.loss.backward().unwrap();
    for s in [jepa.encoder().store(), jepa.predictor().store()] {
        vals.extend(s.flat_grads(&grads).unwrap());
    }
    (SimdPath::best().name().to_string(), vals)
}

#[test]
#[ignore = "child process of every_simd_path_gives_the_same_results"]
fn simd_child() {
    let out = std::env::var(OUT_ENV).expect("run by every_simd_path_gives_the_same_results");
    let (path, vals) = compute();
    let mut text = path + "\n";
    for v in vals {
        text += &format!("{v}\n");
    }
    std::fs::write(out, text).unwrap();
}

/// Runs `simd_child` with `JEPA_SIMD=path` and reads back (path it ran, values).
fn run_child(path: SimdPath) -> (String, Vec<f32>) {
    let file = std::env::temp_dir().join(format!(
        "jepa-simd-{}-{}.txt",
        std::process::id(),
        path.name()
    ));
    let status = Command::new(std::env::current_exe().unwrap())
        .args(["simd_child", "--exact", "--ignored", "--test-threads", "1"])
        .env(SIMD_ENV, path.name())
        .env(OUT_ENV, &file)
        .status()
        .unwrap();
    assert!(status.success(), "child on {path} failed: {status}");
    let text = std::fs::read_to_string(&file).unwrap();
    std::fs::remove_file(&file).ok();
    let mut lines = text.lines();
    let ran = lines.next().unwrap_or_default().to_string();
    (ran, lines.map(|l| l.parse().unwrap()).collect())
}

#[test]
fn every_simd_path_gives_the_same_results() {
    let paths = SimdPath::supported();
    assert_eq!(paths[0], SimdPath::Portable, "baseline always runs");
    if paths.len() == 1 {
        eprintln!("SKIPPED comparison: this CPU runs only the baseline path (nothing to compare)");
    }
    let runs: Vec<_> = paths.iter().map(|&p| (p, run_child(p))).collect();
    let (_, (_, base)) = &runs[0];
    assert!(base.len() > 1000, "child wrote {} values", base.len());
    for (p, (ran, vals)) in &runs {
        assert_eq!(ran, p.name(), "JEPA_SIMD={p} did not force the path");
        assert_eq!(vals.len(), base.len(), "{p}");
        let scale = base.iter().fold(0f32, |m, v| m.max(v.abs()));
        let (mut worst, mut differ) = (0f32, 0usize);
        for (i, (a, b)) in vals.iter().zip(base).enumerate() {
            differ += usize::from(a != b);
            // Paths differ in summation order, FMA contraction and exp/erf polynomials only.
            let tol = 1e-5 * scale + 1e-4 * b.abs();
            assert!((a - b).abs() <= tol, "{p} vs baseline at {i}: {a} vs {b}");
            worst = worst.max((a - b).abs() / tol);
        }
        eprintln!(
            "{p}: {differ} of {} values differ from baseline, worst at {worst:.3} of the tolerance",
            base.len()
        );
    }
}
