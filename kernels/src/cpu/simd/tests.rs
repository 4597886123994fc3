use super::*;
use proptest::prelude::*;

fn rel_err(got: f32, x: f32) -> f64 {
    let want = (x as f64).exp();
    ((got as f64 - want) / want).abs()
}

/// Evenly spaced sweep over the whole normal-result range plus the neighbourhood of 0,
/// where the reduction `r = x − n·ln2` switches sign.
fn sweep() -> impl Iterator<Item = f32> {
    let n = 400_000;
    let wide = (0..=n).map(move |i| EXP_LO + (EXP_HI - 0.001 - EXP_LO) * i as f32 / n as f32);
    let near0 = (-2000..=2000).map(|i| i as f32 * 1e-3);
    wide.chain(near0)
}

#[test]
fn fast_exp_relative_error_within_2e7() {
    let worst = sweep().map(|x| rel_err(fast_exp(x), x)).fold(0.0, f64::max);
    assert!(worst <= 2e-7, "worst relative error {worst:e}");
}

#[test]
fn exp_f32x8_matches_scalar_and_accuracy() {
    let xs: Vec<f32> = sweep().collect();
    let mut worst = 0f64;
    for c in xs.chunks_exact(8) {
        let got = exp_f32x8(load8(c)).to_array();
        for (g, &x) in got.iter().zip(c) {
            worst = worst.max(rel_err(*g, x));
            assert!(
                (g - fast_exp(x)).abs() <= f32::EPSILON * g.abs(),
                "lane differs from scalar at {x}"
            );
        }
    }
    assert!(worst <= 2e-7, "worst relative error {worst:e}");
}

#[test]
fn exp_edge_cases_all_flavours() {
    let cases = [
        (f32::NEG_INFINITY, 0.0),
        (-1e30, 0.0),
        (-100.0, 0.0),
        (-87.34, 0.0),
        (0.0, 1.0),
        (89.0, f32::INFINITY),
        (1e30, f32::INFINITY),
        (f32::INFINITY, f32::INFINITY),
    ];
    for (x, want) in cases {
        assert_eq!(fast_exp(x), want, "scalar exp({x})");
        assert_eq!(
            exp_f32x8(f32x8::splat(x)).to_array()[3],
            want,
            "f32x8 exp({x})"
        );
    }
    assert!(fast_exp(f32::NAN).is_nan());
    assert!(exp_f32x8(f32x8::splat(f32::NAN))
        .to_array()
        .iter()
        .all(|v| v.is_nan()));
    // The largest finite result stays finite, just below the overflow threshold.
    assert!(fast_exp(88.72).is_finite() && fast_exp(88.72) > 3.3e38);
}

#[cfg(target_arch = "x86_64")]
#[test]
fn exp_avx512_matches_f32x8() {
    if !has_avx512f() {
        eprintln!("exp_avx512_matches_f32x8: host lacks AVX-512F, path not testable here");
        return;
    }
    use std::arch::x86_64::*;
    let mut xs: Vec<f32> = sweep().collect();
    xs.extend([
        f32::NEG_INFINITY,
        -100.0,
        89.0,
        f32::INFINITY,
        f32::NAN,
        0.0,
    ]);
    xs.resize(xs.len().div_ceil(16) * 16, 1.0);
    for c in xs.chunks_exact(16) {
        let mut got = [0f32; 16];
        // SAFETY: AVX-512F checked above; the pointers cover 16 floats each.
        unsafe { _mm512_storeu_ps(got.as_mut_ptr(), exp_avx512(_mm512_loadu_ps(c.as_ptr()))) };
        for (g, &x) in got.iter().zip(c) {
            let want = fast_exp(x);
            let ok = (g.is_nan() && want.is_nan())
                || *g == want
                || (g - want).abs() <= f32::EPSILON * want.abs();
            assert!(ok, "exp_avx512({x}) = {g}, scalar {want}");
        }
    }
}

fn vec_f32(max_len: usize) -> impl Strategy<Value = Vec<f32>> {
    prop::collection::vec(-10f32..10f32, 0..max_len)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn slice_helpers_match_scalar(a in vec_f32(200), b in vec_f32(200), alpha in -3f32..3f32) {
        let s64: f64 = a.iter().map(|&v| v as f64).sum();
        let abs: f64 = a.iter().map(|&v| v.abs() as f64).sum();
        prop_assert!((sum(&a) as f64 - s64).abs() <= 1e-5 * (1.0 + abs));

        let m = a.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        prop_assert_eq!(max(&a), m);

        let len = a.len().min(b.len());
        let d64: f64 = (0..len).map(|i| a[i] as f64 * b[i] as f64).sum();
        let dabs: f64 = (0..len).map(|i| (a[i] as f64 * b[i] as f64).abs()).sum();
        prop_assert!((dot(&a, &b) as f64 - d64).abs() <= 1e-5 * (1.0 + dabs));

        let mut y = b.clone();
        axpy(alpha, &a, &mut y);
        for i in 0..b.len() {
            let want = if i < len { alpha as f64 * a[i] as f64 + b[i] as f64 } else { b[i] as f64 };
            prop_assert!((y[i] as f64 - want).abs() <= 1e-5 * (1.0 + want.abs()));
        }

        let mut z = a.clone();
        scale(alpha, &mut z);
        for (zi, ai) in z.iter().zip(&a) {
            prop_assert_eq!(*zi, alpha * ai);
        }
    }
}

/// Every `F8` operation of the AVX2 `A8` against `wide::f32x8`, lane by lane: the generic
/// kernels rely on the two giving the same bits (up to FMA contraction, which both use here).
#[cfg(target_arch = "x86_64")]
#[test]
fn a8_matches_f32x8() {
    if !has_avx2_fma() {
        eprintln!("a8_matches_f32x8: host lacks AVX2+FMA, path not testable here");
        return;
    }
    #[target_feature(enable = "avx2,fma")]
    unsafe fn ops<V: F8>(a: &[f32], b: &[f32]) -> Vec<f32> {
        let (x, y) = (V::load8(a), V::load8(b));
        let rows: [V; 8] = std::array::from_fn(|r| V::load8(&a[r..]) * y);
        let mut out = vec![0f32; 8 * 20];
        let vals = [
            x + y,
            x - y,
            x * y,
            x / y,
            -x,
            x.mul_add(y, x),
            x.fast_max(y),
            x.fast_min(y),
            x.abs(),
            (x * V::splat(0.125)).exp(),
            V::select(x.lt(y), x, y),
            V::select(x.ge(y), x, y),
        ];
        for (i, v) in vals.iter().enumerate() {
            v.store8(&mut out[8 * i..]);
        }
        for (i, v) in V::transpose8(rows).iter().enumerate() {
            v.store8(&mut out[8 * (12 + i)..]);
        }
        out.extend([
            // On `y`: a NaN lane may reach a max reduction in either order.
            y.reduce_add(),
            y.reduce_max(),
            x.lt(y).move_mask() as f32,
            V::ZERO.reduce_add(),
        ]);
        out
    }
    let mut rng = 12345u32;
    let mut next = || {
        rng = rng.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        (rng >> 8) as f32 / (1u32 << 24) as f32 * 200.0 - 100.0
    };
    for round in 0..200 {
        let mut a: Vec<f32> = (0..16).map(|_| next()).collect();
        let b: Vec<f32> = (0..8).map(|_| next()).collect();
        if round == 0 {
            a[..4].copy_from_slice(&[f32::NAN, f32::INFINITY, f32::NEG_INFINITY, -0.0]);
        }
        // SAFETY: AVX2+FMA checked above.
        let (want, got) = unsafe { (ops::<f32x8>(&a, &b), ops::<A8>(&a, &b)) };
        for (i, (w, g)) in want.iter().zip(&got).enumerate() {
            assert!(
                w.to_bits() == g.to_bits() || (w.is_nan() && g.is_nan()),
                "round {round}, value {i}: f32x8 {w} vs A8 {g}"
            );
        }
    }
}
