//! erf / Gaussian tail for GELU: a vectorisable f32 approximation and an f64 reference.
//!
//! f32 scheme, with `a = |z|`, computing the upper tail `h(a) = erfc(a)/2` (so `Φ(x) = 1 − h`
//! for x ≥ 0 and `Φ(x) = h` for x < 0 at `a = |x|/√2`, which keeps full relative accuracy of the
//! small GELU values on the negative side instead of cancelling `1 + erf`):
//! - `a < SPLIT`: `erf(a) = a·PA(a²)`, `h = ½ − ½·erf(a)`;
//! - `a ≥ SPLIT`: `erfc(a) = e^{−a²}·v·PB(v)` with `v = 1/a`.
//!
//! PA and PB were fitted for this crate (Lawson-weighted least squares in 40-digit arithmetic,
//! PA against |error of erf| on [0, 1.25], PB against the relative error of erfc for
//! a ∈ [1.25, 10]; beyond 10, e^{−a²} is 0 in f32). The coefficients were rounded to f32 one at
//! a time, refitting the rest after each. Fit error with the rounded coefficients: 1.2e-8
//! absolute (PA), 9.1e-8 relative (PB); evaluated in f32, erf is within 1e-7 absolute.

use crate::cpu::simd::{fast_exp, F8};
use wide::f32x8;

pub(crate) const SPLIT: f32 = 1.25;
pub(crate) const FRAC_1_SQRT_2PI: f32 = 0.398_942_3;
// PA[0] is close to 2/√π but deliberately one f32 step below it: the fit traded it against
// the other (f32-rounded) coefficients.
#[allow(clippy::approx_constant)]
const PA: [f32; 8] = [
    1.1283791,
    -0.37612495,
    0.11282816,
    -0.026837057,
    0.0051775156,
    -0.00081122556,
    9.5595184e-05,
    -6.3445327e-06,
];
const PB: [f32; 9] = [
    0.5642133,
    -0.00083146285,
    -0.26988408,
    -0.09848797,
    0.9010714,
    -1.4051063,
    1.1520402,
    -0.5144273,
    0.099011526,
];

/// Upper tail and Gaussian factor at `a = |z|` (scalar): returns `(erfc(a)/2, e^{−a²}, erf(a))`
/// where the `erf` is only accurate in region A (use `1 − 2h` otherwise).
#[inline]
fn tail(a: f32) -> (f32, f32, f32) {
    let t = a * a;
    let e = fast_exp(-t);
    if a < SPLIT {
        let q = PA[1..]
            .iter()
            .rev()
            .fold(0.0, |acc: f32, &c| acc.mul_add(t, c));
        let erf = a.mul_add(PA[0], a * t * q);
        (0.5 - 0.5 * erf, e, erf)
    } else {
        let v = 1.0 / a;
        let p = PB.iter().rev().fold(0.0, |acc: f32, &c| acc.mul_add(v, c));
        let h = 0.5 * e * v * p;
        (h, e, 1.0 - 2.0 * h)
    }
}

/// f32 error function (absolute error ≤ 1e-7).
pub fn erf(x: f32) -> f32 {
    let (_, _, e) = tail(x.abs());
    if x.is_nan() {
        x
    } else {
        e.copysign(x)
    }
}

/// `(Φ(x), e^{−x²/2})` for one value: the normal CDF and the unnormalised density.
#[inline]
pub(crate) fn cdf_scalar(x: f32) -> (f32, f32) {
    let (h, e, _) = tail(x.abs() * std::f32::consts::FRAC_1_SQRT_2);
    (if x >= 0.0 { 1.0 - h } else { h }, e)
}

/// Eight-lane version of `tail`: `(erfc(a)/2, e^{−a²}, a·PA(a²))`, both regions blended.
#[inline(always)]
fn tail8<V: F8>(a: V) -> (V, V, V) {
    let t = a * a;
    let e = (-t).exp();
    let erf_a = erf_small::<V>(a, t);
    let ha = V::splat(-0.5).mul_add(erf_a, V::splat(0.5));
    let hb = tail_b::<V>(a, e);
    (V::select(a.lt(V::splat(SPLIT)), ha, hb), e, erf_a)
}

/// `erf(a) = a·PA(a²)` (region A), `t = a²`.
#[inline(always)]
fn erf_small<V: F8>(a: V, t: V) -> V {
    let mut q = V::splat(PA[7]);
    for &c in PA[1..7].iter().rev() {
        q = q.mul_add(t, V::splat(c));
    }
    a.mul_add(V::splat(PA[0]), a * t * q)
}

/// `erfc(a)/2 = ½·e^{−a²}·v·PB(v)`, `v = 1/a` (region B). Region-A lanes divide by SPLIT
/// instead of a possibly zero `a`; their result is discarded.
#[inline(always)]
fn tail_b<V: F8>(a: V, e: V) -> V {
    let v = V::splat(1.0) / a.fast_max(V::splat(SPLIT));
    let mut pb = V::splat(PB[8]);
    for &c in PB[..8].iter().rev() {
        pb = pb.mul_add(v, V::splat(c));
    }
    V::splat(0.5) * e * v * pb
}

/// Φ(x) and `e^{−x²/2}` for 8 lanes. Without `NEED_E` (the forward) a vector whose lanes all
/// sit on one side of the split evaluates only that side, and no exponential below it, as
/// `cdf_avx512` does. With `NEED_E` the exponential is needed anyway, so a skip saves only the
/// tail's polynomial and division, less than the branch costs at 8 lanes when inputs straddle
/// the split (std-1 inputs: the fused backward ran 30 % slower), so both sides are evaluated.
/// Same bits either way.
#[inline(always)]
pub(crate) fn cdf8<V: F8, const NEED_E: bool>(x: V) -> (V, V) {
    let a = x.abs() * V::splat(std::f32::consts::FRAC_1_SQRT_2);
    let in_a = a.lt(V::splat(SPLIT)).move_mask();
    let (h, e) = if NEED_E || (in_a != 0 && in_a != 0xFF) {
        let (h, e, _) = tail8::<V>(a);
        (h, e)
    } else if in_a == 0xFF {
        let erf_a = erf_small::<V>(a, a * a);
        (V::splat(-0.5).mul_add(erf_a, V::splat(0.5)), V::ZERO)
    } else {
        let e = (-(a * a)).exp();
        (tail_b::<V>(a, e), e)
    };
    let phi = V::select(x.ge(V::ZERO), V::splat(1.0) - h, h);
    (phi, e)
}

pub fn erf_f32x8(x: f32x8) -> f32x8 {
    let a = x.abs();
    let (h, _, erf_a) = tail8::<f32x8>(a);
    let r = a
        .simd_lt(f32x8::splat(SPLIT))
        .select(erf_a, f32x8::splat(-2.0).mul_add(h, f32x8::splat(1.0)));
    // copysign; NaN lanes keep their NaN from the arithmetic above.
    r.copysign(x)
}

/// Sixteen-lane `(Φ(x), e^{−x²/2})` with AVX-512F, same scheme as [`cdf8`].
///
/// # Safety
/// The CPU must support AVX-512F.
/// Φ(x) and `e^{−x²/2}` for 16 lanes. Each side of [`SPLIT`] is evaluated only when some lane
/// needs it: pre-activations mostly sit below it (|x| < 1.77), where Φ needs neither the
/// exponential nor the tail's division, so `NEED_E = false` (the forward) skips both for such a
/// vector. Lanes get bit-for-bit the values of evaluating both sides and blending.
#[cfg(target_arch = "x86_64")]
#[inline]
#[target_feature(enable = "avx512f")]
pub(crate) unsafe fn cdf_avx512<const NEED_E: bool>(
    x: std::arch::x86_64::__m512,
) -> (std::arch::x86_64::__m512, std::arch::x86_64::__m512) {
    use std::arch::x86_64::*;
    let a = _mm512_mul_ps(
        _mm512_abs_ps(x),
        _mm512_set1_ps(std::f32::consts::FRAC_1_SQRT_2),
    );
    let t = _mm512_mul_ps(a, a);
    let in_a = _mm512_cmp_ps_mask::<_CMP_LT_OQ>(a, _mm512_set1_ps(SPLIT));
    // NaN lanes compare false, so they take the tail side, as the blend always did.
    let need_tail = in_a != 0xFFFF;
    let e = if NEED_E || need_tail {
        crate::cpu::simd::exp_avx512(_mm512_sub_ps(_mm512_setzero_ps(), t))
    } else {
        _mm512_setzero_ps()
    };
    let half = _mm512_set1_ps(0.5);
    let ha = if in_a != 0 {
        let mut q = _mm512_set1_ps(PA[7]);
        for &c in PA[1..7].iter().rev() {
            q = _mm512_fmadd_ps(q, t, _mm512_set1_ps(c));
        }
        let erf_a = _mm512_fmadd_ps(
            a,
            _mm512_set1_ps(PA[0]),
            _mm512_mul_ps(_mm512_mul_ps(a, t), q),
        );
        _mm512_fnmadd_ps(half, erf_a, half)
    } else {
        _mm512_setzero_ps()
    };
    let h = if need_tail {
        let v = _mm512_div_ps(_mm512_set1_ps(1.0), _mm512_max_ps(a, _mm512_set1_ps(SPLIT)));
        let mut pb = _mm512_set1_ps(PB[8]);
        for &c in PB[..8].iter().rev() {
            pb = _mm512_fmadd_ps(pb, v, _mm512_set1_ps(c));
        }
        let hb = _mm512_mul_ps(_mm512_mul_ps(half, e), _mm512_mul_ps(v, pb));
        _mm512_mask_blend_ps(in_a, hb, ha)
    } else {
        ha
    };
    let pos = _mm512_cmp_ps_mask::<_CMP_GE_OQ>(x, _mm512_setzero_ps());
    let phi = _mm512_mask_blend_ps(pos, h, _mm512_sub_ps(_mm512_set1_ps(1.0), h));
    (phi, e)
}

pub fn erf_f64(x: f64) -> f64 {
    if x.is_nan() {
        return x;
    }
    let a = x.abs();
    let r = if a > 3.0 {
        1.0 - erfc_cf(a)
    } else {
        let (mut term, mut sum, mut n) = (a, a, 0.0);
        while term > 1e-17 * sum {
            n += 1.0;
            term *= 2.0 * a * a / (2.0 * n + 1.0);
            sum += term;
        }
        std::f64::consts::FRAC_2_SQRT_PI * (-a * a).exp() * sum
    };
    r.copysign(x)
}

/// f64 complementary error function: `1 − erf` near 0, a continued fraction for x > 2 where the
/// subtraction would lose the digits that matter.
pub fn erfc_f64(x: f64) -> f64 {
    if x > 2.0 {
        erfc_cf(x)
    } else {
        1.0 - erf_f64(x)
    }
}

/// `erfc(a)` for a > 2: `e^{−a²}/√π · 1/(a + (1/2)/(a + 1/(a + (3/2)/(a + …))))`, evaluated
/// with the modified Lentz method.
fn erfc_cf(a: f64) -> f64 {
    if a.is_infinite() {
        return 0.0;
    }
    let tiny = 1e-300;
    let (mut f, mut c, mut d) = (a, a, 0.0);
    for k in 1..2000 {
        let num = k as f64 / 2.0;
        d = a + num * d;
        d = if d.abs() < tiny { tiny } else { d };
        c = a + num / c;
        c = if c.abs() < tiny { tiny } else { c };
        d = 1.0 / d;
        let delta = c * d;
        f *= delta;
        if (delta - 1.0).abs() < 1e-16 {
            break;
        }
    }
    (-a * a).exp() / (f * std::f64::consts::PI.sqrt())
}
