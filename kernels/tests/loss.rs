//! smooth-L1 and MSE: fast vs reference, backward vs f64 finite differences.

use jepa_kernels::cpu::loss::*;
use proptest::prelude::*;

fn rand_vec(seed: u64, len: usize, amp: f32) -> Vec<f32> {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            ((s >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0) * amp
        })
        .collect()
}

fn close(a: f32, b: f32, tol: f32) -> bool {
    (a - b).abs() <= tol * (1.0 + b.abs())
}

fn check_fast_vs_ref(len: usize, beta: f32, upstream: f32, seed: u64) {
    let z = rand_vec(seed, len, 2.0);
    let h = rand_vec(seed + 1, len, 2.0);
    let (f, r) = (smooth_l1_fwd(&z, &h, beta), smooth_l1_fwd_ref(&z, &h, beta));
    assert!(
        close(f, r, 1e-5),
        "smooth_l1 fwd len {len} beta {beta}: {f} vs {r}"
    );
    let (f, r) = (mse_fwd(&z, &h), mse_fwd_ref(&z, &h));
    assert!(close(f, r, 1e-5), "mse fwd len {len}: {f} vs {r}");
    let (mut g, mut g_ref) = (vec![f32::NAN; len], vec![f32::NAN; len]);
    smooth_l1_bwd(&z, &h, beta, upstream, &mut g);
    smooth_l1_bwd_ref(&z, &h, beta, upstream, &mut g_ref);
    let scale = upstream.abs() / len as f32;
    for (i, (a, b)) in g.iter().zip(&g_ref).enumerate() {
        assert!(
            (a - b).abs() <= 1e-5 * scale,
            "smooth_l1 bwd len {len} beta {beta} at {i}: {a} vs {b}"
        );
    }
    mse_bwd(&z, &h, upstream, &mut g);
    mse_bwd_ref(&z, &h, upstream, &mut g_ref);
    for (i, (a, b)) in g.iter().zip(&g_ref).enumerate() {
        assert!(
            (a - b).abs() <= 1e-5 * scale * 8.0,
            "mse bwd len {len} at {i}: {a} vs {b}"
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]
    #[test]
    fn fast_matches_reference(
        len in 1usize..200, beta_i in 0usize..4, upstream in -3.0f32..3.0, seed in any::<u64>(),
    ) {
        check_fast_vs_ref(len, [0.0, 0.3, 1.0, 2.5][beta_i], upstream, seed);
    }
}

#[test]
fn parallel_path_matches_reference() {
    check_fast_vs_ref(100_003, 1.0, 1.0, 3);
}

/// Per-element smooth-L1 in f64; the mean's derivative w.r.t. z_i only involves element i.
fn smooth_l1_elem(d: f64, beta: f64) -> f64 {
    if d.abs() < beta {
        0.5 * d * d / beta
    } else {
        d.abs() - 0.5 * beta
    }
}

#[test]
fn backward_matches_finite_differences() {
    let len = 67;
    let upstream = 0.7f64;
    let z = rand_vec(21, len, 2.0);
    let h = rand_vec(22, len, 2.0);
    let eps = 1e-6;
    for beta in [0.0f32, 0.5, 1.0] {
        let mut g = vec![0.0; len];
        smooth_l1_bwd_ref(&z, &h, beta, upstream as f32, &mut g);
        for i in 0..len {
            let d = z[i] as f64 - h[i] as f64;
            if (d.abs() - beta as f64).abs() < 1e-3 || d.abs() < 1e-3 {
                continue; // kink of the loss: no derivative to compare with
            }
            let fd = (smooth_l1_elem(d + eps, beta as f64) - smooth_l1_elem(d - eps, beta as f64))
                / (2.0 * eps)
                * upstream
                / len as f64;
            assert!(
                (g[i] as f64 - fd).abs() < 1e-6,
                "beta {beta} at {i}: {} vs {fd}",
                g[i]
            );
        }
    }
    let mut g = vec![0.0; len];
    mse_bwd_ref(&z, &h, upstream as f32, &mut g);
    for i in 0..len {
        let d = z[i] as f64 - h[i] as f64;
        let fd = ((d + eps).powi(2) - (d - eps).powi(2)) / (2.0 * eps) * upstream / len as f64;
        assert!(
            (g[i] as f64 - fd).abs() < 1e-6,
            "mse at {i}: {} vs {fd}",
            g[i]
        );
    }
}

#[test]
fn known_values() {
    // d = [0.5, -2, 0]: smooth-L1 (beta 1) = (0.125 + 1.5 + 0) / 3, MSE = (0.25 + 4) / 3.
    let z = [1.5f32, -1.0, 3.0];
    let h = [1.0f32, 1.0, 3.0];
    assert!(close(smooth_l1_fwd(&z, &h, 1.0), 1.625 / 3.0, 1e-6));
    assert!(close(mse_fwd(&z, &h), 4.25 / 3.0, 1e-6));
    let mut g = [0.0; 3];
    smooth_l1_bwd(&z, &h, 1.0, 3.0, &mut g);
    assert_eq!(g, [0.5, -1.0, 0.0]);
    smooth_l1_bwd(&z, &h, 0.0, 3.0, &mut g);
    assert_eq!(g, [1.0, -1.0, 0.0], "beta 0 is L1 with sign(0) = 0");
}
