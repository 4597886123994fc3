//! gather_rows / scatter_add_rows: fast vs reference, the adjoint identity, repeated indices.

use jepa_kernels::cpu::gather::*;
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

fn rand_index(seed: u64, len: usize, n: usize) -> Vec<usize> {
    rand_vec(seed, len)
        .iter()
        .map(|&u| (((u + 1.0) * 0.5 * n as f32) as usize).min(n - 1))
        .collect()
}

fn check_fast_matches_ref(b: usize, n: usize, d: usize, k: usize, seed: u64) {
    let x = rand_vec(seed, b * n * d);
    let dout = rand_vec(seed + 1, b * k * d);
    let index = rand_index(seed + 2, b * k, n);
    let (mut out, mut out_ref) = (vec![f32::NAN; b * k * d], vec![f32::NAN; b * k * d]);
    gather_rows(b, n, d, k, &x, &index, &mut out);
    gather_rows_ref(b, n, d, k, &x, &index, &mut out_ref);
    assert_eq!(out, out_ref);
    // dx starts as garbage: both versions must overwrite, not accumulate into it.
    let (mut dx, mut dx_ref) = (vec![7.0; b * n * d], vec![-3.0; b * n * d]);
    scatter_add_rows(b, n, d, k, &dout, &index, &mut dx);
    scatter_add_rows_ref(b, n, d, k, &dout, &index, &mut dx_ref);
    // Same addition order (ascending j) in both, so the sums agree exactly.
    assert_eq!(dx, dx_ref);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]
    #[test]
    fn fast_matches_reference(
        b in 1usize..4, n in 1usize..20, d in 1usize..40, k in 0usize..30, seed in any::<u64>(),
    ) {
        check_fast_matches_ref(b, n, d, k, seed);
    }

    /// ⟨gather(x), y⟩ = ⟨x, scatter_add(y)⟩ for any index, repeated or not.
    #[test]
    fn scatter_add_is_adjoint_of_gather(
        b in 1usize..4, n in 1usize..12, d in 1usize..20, k in 1usize..25, seed in any::<u64>(),
    ) {
        let x = rand_vec(seed, b * n * d);
        let y = rand_vec(seed + 7, b * k * d);
        let index = rand_index(seed + 3, b * k, n);
        let mut gx = vec![0.0; b * k * d];
        gather_rows(b, n, d, k, &x, &index, &mut gx);
        let mut sy = vec![0.0; b * n * d];
        scatter_add_rows(b, n, d, k, &y, &index, &mut sy);
        let lhs: f64 = gx.iter().zip(&y).map(|(&a, &b)| a as f64 * b as f64).sum();
        let rhs: f64 = x.iter().zip(&sy).map(|(&a, &b)| a as f64 * b as f64).sum();
        prop_assert!((lhs - rhs).abs() <= 1e-5 * (1.0 + lhs.abs()), "{lhs} vs {rhs}");
    }
}

#[test]
fn parallel_paths_match_reference() {
    // Large enough to cross the rayon thresholds of both directions, with b = 1 and b > 1.
    check_fast_matches_ref(8, 64, 128, 40, 11);
    check_fast_matches_ref(1, 300, 192, 400, 12);
}

#[test]
fn repeated_indices_accumulate() {
    let (b, n, d, k) = (2, 3, 5, 4);
    let dout: Vec<f32> = (0..b * k * d).map(|i| i as f32).collect();
    let index = vec![1, 1, 1, 1, 0, 2, 0, 0];
    let mut dx = vec![0.0; b * n * d];
    scatter_add_rows(b, n, d, k, &dout, &index, &mut dx);
    for c in 0..d {
        let col = |j: usize| dout[j * d + c];
        assert_eq!(dx[d + c], col(0) + col(1) + col(2) + col(3));
        assert_eq!(dx[c], 0.0);
        assert_eq!(dx[n * d + c], col(4) + col(6) + col(7));
        assert_eq!(dx[(n + 2) * d + c], col(5));
        assert_eq!(dx[(n + 1) * d + c], 0.0);
    }
}

#[test]
fn gather_picks_the_indexed_rows() {
    let (b, n, d, k) = (1, 4, 3, 2);
    let x: Vec<f32> = (0..n * d).map(|i| i as f32).collect();
    let mut out = vec![0.0; b * k * d];
    gather_rows(b, n, d, k, &x, &[3, 0], &mut out);
    assert_eq!(out, vec![9.0, 10.0, 11.0, 0.0, 1.0, 2.0]);
}
