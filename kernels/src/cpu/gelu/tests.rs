// Reference values are quoted to the digits the source gave.
#![allow(clippy::excessive_precision)]

use super::*;
use crate::cpu::simd::load8;
use proptest::prelude::*;

#[test]
fn erf_f64_matches_high_precision_values() {
    // 20-digit values from mpmath.
    let erf_cases = [
        (0.1, 0.1124629160182848984),
        (0.5, 0.52049987781304653768),
        (1.0, 0.84270079294971486934),
        (2.0, 0.99532226501895273416),
        (3.5, 0.99999925690162765859),
    ];
    for (x, want) in erf_cases {
        assert!(
            (erf_f64(x) - want).abs() <= 1e-15,
            "erf({x}) = {}",
            erf_f64(x)
        );
        assert!((erf_f64(-x) + want).abs() <= 1e-15, "erf odd at {x}");
    }
    let erfc_cases = [
        (2.0, 0.0046777349810472658379),
        (3.0, 0.000022090496998585441373),
        (5.0, 1.5374597944280348502e-12),
        (10.0, 2.088487583762544757e-45),
        (26.0, 5.6631924088561428465e-296),
    ];
    for (x, want) in erfc_cases {
        let got = erfc_f64(x);
        assert!(
            ((got - want) / want).abs() <= 1e-13,
            "erfc({x}) = {got:e}, want {want:e}"
        );
    }
    assert_eq!(erf_f64(f64::INFINITY), 1.0);
    assert_eq!(erf_f64(0.0), 0.0);
    assert!(erf_f64(f64::NAN).is_nan());
}

fn grid() -> Vec<f32> {
    (-300_000..=300_000).map(|i| i as f32 * 2e-5).collect()
}

#[test]
fn erf_f32_absolute_error_within_1e7() {
    let xs = grid();
    let mut worst = 0f64;
    for c in xs.chunks_exact(8) {
        let v = erf_f32x8(load8(c)).to_array();
        for (&x, &g) in c.iter().zip(&v) {
            let want = erf_f64(x as f64);
            worst = worst
                .max((g as f64 - want).abs())
                .max((erf(x) as f64 - want).abs());
        }
    }
    assert!(worst <= 1e-7, "worst abs error {worst:e}");
    assert_eq!(erf(f32::INFINITY), 1.0);
    assert_eq!(erf(f32::NEG_INFINITY), -1.0);
    assert!(erf(f32::NAN).is_nan());
}

/// Fast output against the f64 reference: ≤ 2.5e-7 absolute or 2e-6 relative (the negative
/// tail, where values are tiny, is held to the relative bound).
fn close(got: &[f32], want: &[f32], what: &str) -> Result<(), TestCaseError> {
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        let d = (g as f64 - w as f64).abs();
        let ok = d <= 2.5e-7 * (1.0 + (w as f64).abs()) || d <= 2e-6 * (w as f64).abs();
        prop_assert!(
            ok || (g.is_nan() && w.is_nan()),
            "{} [{}]: {} vs {}",
            what,
            i,
            g,
            w
        );
    }
    Ok(())
}

fn check_paths(x: &[f32], dout: &[f32]) -> Result<(), TestCaseError> {
    let n = x.len();
    let (mut want, mut dwant) = (vec![0.0; n], vec![0.0; n]);
    gelu_fwd_ref(x, &mut want);
    gelu_bwd_ref(x, dout, &mut dwant);
    for path in SimdPath::supported() {
        let (mut out, mut dx) = (vec![f32::NAN; n], vec![f32::NAN; n]);
        gelu_fwd_with(path, x, &mut out);
        close(&out, &want, &format!("{path:?} fwd"))?;
        gelu_bwd_with(path, x, dout, &mut dx);
        close(&dx, &dwant, &format!("{path:?} bwd"))?;
        // The fused pass must give the very bits of the two separate ones.
        let (mut g, mut d) = (vec![f32::NAN; n], dout.to_vec());
        gelu_fwd_bwd_with(path, x, &mut g, &mut d);
        let bits = |v: &[f32]| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
        prop_assert_eq!(bits(&g), bits(&out), "{:?} fused fwd", path);
        prop_assert_eq!(bits(&d), bits(&dx), "{:?} fused bwd", path);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn gelu_fast_matches_ref(
        x in prop::collection::vec(prop_oneof![-12f32..12f32, -3f32..3f32], 0..300),
        seed in 0u32..1000,
    ) {
        let dout: Vec<f32> = (0..x.len()).map(|i| ((i as u32 * 7 + seed) % 19) as f32 * 0.1 - 0.9).collect();
        check_paths(&x, &dout)?;
    }
}

#[test]
fn gelu_dense_sweep_and_parallel_chunks() {
    // 600k values across [-6, 6]: several rayon chunks, every region boundary, both signs.
    let x = grid();
    let dout: Vec<f32> = (0..x.len()).map(|i| (i % 13) as f32 * 0.15 - 0.9).collect();
    check_paths(&x, &dout).unwrap();
}

#[test]
fn gelu_special_values() {
    let x = [
        f32::NEG_INFINITY,
        -1e30,
        -30.0,
        -0.0,
        0.0,
        30.0,
        f32::INFINITY,
        f32::NAN,
    ];
    let want = [0.0, 0.0, 0.0, 0.0, 0.0, 30.0, f32::INFINITY, f32::NAN];
    let dwant = [0.0, 0.0, 0.0, 0.5, 0.5, 1.0, 1.0, f32::NAN];
    let mut r = [0f32; 8];
    gelu_fwd_ref(&x, &mut r);
    for path in SimdPath::supported() {
        let (mut out, mut dx) = ([9f32; 8], [9f32; 8]);
        gelu_fwd_with(path, &x, &mut out);
        gelu_bwd_with(path, &x, &[1.0; 8], &mut dx);
        let (mut g, mut d) = ([9f32; 8], [1f32; 8]);
        gelu_fwd_bwd_with(path, &x, &mut g, &mut d);
        for i in 0..8 {
            assert_eq!(
                g[i].to_bits(),
                out[i].to_bits(),
                "{path:?} fused gelu({})",
                x[i]
            );
            assert_eq!(
                d[i].to_bits(),
                dx[i].to_bits(),
                "{path:?} fused gelu'({})",
                x[i]
            );
            let same = |a: f32, b: f32| a == b || (a.is_nan() && b.is_nan());
            assert!(
                same(out[i], want[i]) && same(r[i], want[i]),
                "{path:?} gelu({}) = {}",
                x[i],
                out[i]
            );
            assert!(
                same(dx[i], dwant[i]),
                "{path:?} gelu'({}) = {}",
                x[i],
                dx[i]
            );
        }
    }
}

#[test]
fn gelu_bwd_ref_matches_finite_differences() {
    let f = |v: f64| v * cdf_f64(v);
    let h = 1e-6;
    let xs: Vec<f32> = (-80..=80).map(|i| i as f32 * 0.1 + 0.013).collect();
    let dout: Vec<f32> = (0..xs.len()).map(|i| (i % 5) as f32 * 0.5 - 1.0).collect();
    let mut dx = vec![0.0; xs.len()];
    gelu_bwd_ref(&xs, &dout, &mut dx);
    for i in 0..xs.len() {
        let v = xs[i] as f64;
        let want = dout[i] as f64 * (f(v + h) - f(v - h)) / (2.0 * h);
        assert!(
            (dx[i] as f64 - want).abs() <= 1e-6 * (1.0 + want.abs()),
            "x {v}: {} vs {want}",
            dx[i]
        );
    }
}

/// Every path, applied to `x`, gives each element exactly the bits it gets inside vectors of
/// other company: the AVX-512 kernel skips the side of the split no lane of a vector needs,
/// which must never change a lane's value.
fn lane_values_ignore_their_neighbours(x: &[f32]) -> Result<(), TestCaseError> {
    let n = x.len();
    let run = |path: SimdPath, x: &[f32]| {
        let (mut out, mut dx, mut g) = (vec![0.0; x.len()], vec![0.0; x.len()], vec![0.0; x.len()]);
        let dout = vec![1.0; x.len()];
        let mut d = dout.clone();
        gelu_fwd_with(path, x, &mut out);
        gelu_bwd_with(path, x, &dout, &mut dx);
        gelu_fwd_bwd_with(path, x, &mut g, &mut d);
        (out, dx, g, d)
    };
    for path in SimdPath::supported() {
        let (out, dx, g, d) = run(path, x);
        for i in 0..n {
            // Alone among large values (a mixed vector) and alone among zeros (one side only).
            for fill in [4.0f32, 0.0] {
                let mut y = vec![fill; 16];
                y[i % 16] = x[i];
                let (o2, dx2, g2, d2) = run(path, &y);
                let j = i % 16;
                prop_assert_eq!(o2[j].to_bits(), out[i].to_bits(), "{:?} fwd {}", path, x[i]);
                prop_assert_eq!(dx2[j].to_bits(), dx[i].to_bits(), "{:?} bwd {}", path, x[i]);
                prop_assert_eq!(
                    g2[j].to_bits(),
                    g[i].to_bits(),
                    "{:?} fused fwd {}",
                    path,
                    x[i]
                );
                prop_assert_eq!(
                    d2[j].to_bits(),
                    d[i].to_bits(),
                    "{:?} fused bwd {}",
                    path,
                    x[i]
                );
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    #[test]
    fn gelu_lanes_are_independent_of_their_vector(
        small in prop::collection::vec(-2.4f32..2.4f32, 0..40),
        large in prop::collection::vec(prop_oneof![-12f32..-1.8f32, 1.8f32..12f32], 0..40),
        cut in 0usize..40,
    ) {
        // Runs of one side, then the rest of both mixed: whole vectors of each kind and mixed ones.
        let cut = cut.min(small.len());
        let mut x = small[..cut].to_vec();
        x.extend(&large);
        x.extend(&small[cut..]);
        // Whole vectors only: the portable path's scalar tail is a different evaluation.
        x.resize(x.len().next_multiple_of(16), 0.5);
        lane_values_ignore_their_neighbours(&x)?;
    }
}
