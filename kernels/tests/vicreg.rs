//! VICReg var/cov: fast vs reference, and reference gradients vs f64 finite differences.

use jepa_kernels::cpu::vicreg::*;
use proptest::prelude::*;

fn rand_vec(seed: u64, len: usize) -> Vec<f32> {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            (s >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0
        })
        .collect()
}

/// Columns with amplitudes from 0.3 to 3.3 and offsets, so some stds are below 1 (hinge active)
/// and some above; the offsets exercise the centring.
fn embeddings(n: usize, d: usize, seed: u64) -> Vec<f32> {
    let amp = rand_vec(seed + 1, d);
    rand_vec(seed, n * d)
        .iter()
        .enumerate()
        .map(|(k, &u)| u * (1.8 + 1.5 * amp[k % d]) + amp[k % d] * 5.0)
        .collect()
}

fn max_abs(x: &[f32]) -> f32 {
    x.iter().fold(0.0, |m, v| m.max(v.abs()))
}

fn check(n: usize, d: usize, seed: u64) {
    let e = embeddings(n, d, seed);
    let (mut dv, mut dc) = (vec![f32::NAN; n * d], vec![f32::NAN; n * d]);
    let (mut dv_ref, mut dc_ref) = (vec![f32::NAN; n * d], vec![f32::NAN; n * d]);
    let l = vicreg(n, d, &e, 1e-4, Some(&mut dv), Some(&mut dc));
    let r = vicreg_ref(n, d, &e, 1e-4, Some(&mut dv_ref), Some(&mut dc_ref));
    assert!(
        (l.var_loss - r.var_loss).abs() <= 1e-5 * (1.0 + r.var_loss),
        "var {l:?} vs {r:?}"
    );
    assert!(
        (l.cov_loss - r.cov_loss).abs() <= 1e-4 * (1e-3 + r.cov_loss),
        "cov {l:?} vs {r:?}"
    );
    for (name, a, b) in [("dE_var", &dv, &dv_ref), ("dE_cov", &dc, &dc_ref)] {
        let tol = 1e-4 * max_abs(b) + 1e-12;
        for (k, (x, y)) in a.iter().zip(b.iter()).enumerate() {
            assert!(
                (x - y).abs() <= tol,
                "{name} n {n} d {d} at {k}: {x} vs {y}"
            );
        }
    }
    // Losses without gradients are the same numbers.
    assert_eq!(vicreg(n, d, &e, 1e-4, None, None), l);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(40))]
    #[test]
    fn fast_matches_reference(n in 2usize..40, d in 1usize..30, seed in any::<u64>()) {
        check(n, d, seed);
    }
}

#[test]
fn c_jepa_shape_matches_reference() {
    check(256, 192, 4);
}

/// The two losses in f64, written out independently of the crate.
fn losses_f64(n: usize, d: usize, e: &[f64], eps: f64) -> (f64, f64) {
    let mean: Vec<f64> = (0..d)
        .map(|j| (0..n).map(|i| e[i * d + j]).sum::<f64>() / n as f64)
        .collect();
    let ec = |i: usize, j: usize| e[i * d + j] - mean[j];
    let mut var = 0.0;
    let mut cov = 0.0;
    for a in 0..d {
        for b in 0..d {
            let c = (0..n).map(|i| ec(i, a) * ec(i, b)).sum::<f64>() / (n - 1) as f64;
            if a == b {
                var += (1.0 - (c + eps).sqrt()).max(0.0);
            } else {
                cov += c * c;
            }
        }
    }
    (var / d as f64, cov / d as f64)
}

#[test]
fn reference_gradients_match_finite_differences() {
    let (n, d) = (8, 5);
    for seed in [1u64, 2, 3] {
        let e32 = embeddings(n, d, seed);
        let (mut dv, mut dc) = (vec![0.0; n * d], vec![0.0; n * d]);
        let l = vicreg_ref(n, d, &e32, 1e-4, Some(&mut dv), Some(&mut dc));
        let e: Vec<f64> = e32.iter().map(|&x| x as f64).collect();
        let (v0, c0) = losses_f64(n, d, &e, 1e-4);
        assert!(
            (l.var_loss as f64 - v0).abs() < 1e-6 && (l.cov_loss as f64 - c0).abs() < 1e-5 * c0
        );
        assert!(
            dv.iter().any(|&g| g != 0.0),
            "seed {seed}: hinge inactive everywhere, test is vacuous"
        );
        let h = 1e-6;
        for k in 0..n * d {
            let mut ep = e.clone();
            ep[k] += h;
            let (vp, cp) = losses_f64(n, d, &ep, 1e-4);
            ep[k] -= 2.0 * h;
            let (vm, cm) = losses_f64(n, d, &ep, 1e-4);
            let (fv, fc) = ((vp - vm) / (2.0 * h), (cp - cm) / (2.0 * h));
            assert!(
                (dv[k] as f64 - fv).abs() <= 1e-6 + 1e-4 * fv.abs(),
                "dE_var at {k}: {} vs {fv}",
                dv[k]
            );
            assert!(
                (dc[k] as f64 - fc).abs() <= 1e-5 + 1e-4 * fc.abs(),
                "dE_cov at {k}: {} vs {fc}",
                dc[k]
            );
        }
    }
}

#[test]
fn hinge_is_off_for_wide_columns() {
    // Every column has std ≫ 1: no variance loss and no variance gradient.
    let (n, d) = (6, 3);
    let e: Vec<f32> = (0..n * d).map(|k| ((k * 7) % 11) as f32 * 10.0).collect();
    let mut dv = vec![1.0; n * d];
    let l = vicreg(n, d, &e, 1e-4, Some(&mut dv), None);
    assert_eq!(l.var_loss, 0.0);
    assert!(dv.iter().all(|&g| g == 0.0));
}
