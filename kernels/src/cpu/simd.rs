//! Shared SIMD helpers for the fast CPU kernels: the SIMD path (`path.rs`: detected once, or forced
//! with `JEPA_SIMD`), a vectorised `exp`, and small slice primitives (sum, max, dot, axpy, scale).
//!
//! Stable names other kernels import: [`has_avx512f`], [`SimdPath`], [`rows_per_task`], [`fast_exp`], [`exp_f32x8`],
//! [`exp_avx512`], [`hsum`], [`sum`], [`max`], [`dot`], [`axpy`], [`scale`], [`load8`],
//! [`store8`].
//!
//! `exp` in every flavour (scalar, `f32x8`, AVX-512) runs the same algorithm so results agree
//! bit-for-bit up to FMA contraction: range reduction `x = n·ln2 + r`, |r| ≤ ln2/2, a degree-7
//! polynomial for `e^r`, then a scale by `2^n`. Relative error ≤ 2e-7 for results in the normal
//! range; inputs below `EXP_LO` (results under `f32::MIN_POSITIVE`) give exactly 0, inputs above
//! `EXP_HI` give +inf, NaN gives NaN.

use wide::{f32x8, i32x8};

mod path;
pub use path::{has_avx2_fma, has_avx512f, ParseSimdPathError, SimdPath, SIMD_ENV};
mod v8;
#[cfg(target_arch = "x86_64")]
pub(crate) use v8::A8;
pub(crate) use v8::{row_max, F8};

/// Rows per rayon task for a row-wise kernel: about four tasks per thread for load balance, but
/// never fewer than `min_elems` elements per task, so small tensors run on the calling thread.
pub fn rows_per_task(rows: usize, dim: usize, min_elems: usize) -> usize {
    let threads = rayon::current_num_threads().max(1);
    let min_rows = (min_elems / dim.max(1)).max(1);
    rows.div_ceil(threads * 4).max(min_rows).max(1)
}

/// Below this, `e^x < f32::MIN_POSITIVE`; chosen slightly above `-126·ln2` so that the clamped
/// lanes still produce a normal number (no denormal micro-code assists in the hot loop).
pub const EXP_LO: f32 = -87.3365;
/// Just above `ln(f32::MAX)`: anything larger overflows to +inf through the `2^n` scale.
pub const EXP_HI: f32 = 88.72284;
const LOG2E: f32 = std::f32::consts::LOG2_E;
// ln2 split so that `n·LN2_HI` is exact for |n| ≤ 2^8 (LN2_HI has 16 significant bits).
const LN2_HI: f32 = 0.693_145_75;
const LN2_LO: f32 = 1.428_606_8e-6;
// Taylor-like coefficients 1/k! refitted (minimax on [-ln2/2, ln2/2]) for e^r = 1 + r + r²·P(r).
const P0: f32 = 0.5;
const P1: f32 = 1.666_666_6e-1;
const P2: f32 = 4.166_579_6e-2;
const P3: f32 = 8.333_452e-3;
const P4: f32 = 1.398_199_9e-3;
const P5: f32 = 1.987_569_1e-4;

/// Scalar `e^x`, same algorithm as [`exp_f32x8`] (relative error ≤ 2e-7, see module docs).
/// Always inlined: inside a `#[target_feature]` kernel its `mul_add`s must be FMA instructions,
/// not calls to libm's `fmaf` (what they are in a function built without the FMA feature).
#[inline(always)]
pub fn fast_exp(x: f32) -> f32 {
    if x.is_nan() {
        return x;
    }
    if x < EXP_LO {
        return 0.0;
    }
    let xc = x.min(EXP_HI);
    let n = (xc * LOG2E).round_ties_even();
    let r = (-n).mul_add(LN2_HI, xc);
    let r = (-n).mul_add(LN2_LO, r);
    let p = P5
        .mul_add(r, P4)
        .mul_add(r, P3)
        .mul_add(r, P2)
        .mul_add(r, P1)
        .mul_add(r, P0);
    let e = (r * r).mul_add(p, r) + 1.0;
    // n ∈ [-126, 128]: split it so both factors are normal powers of two (2^128 is not).
    let ni = n as i32;
    let n1 = ni >> 1;
    let n2 = ni - n1;
    e * f32::from_bits(((n1 + 127) as u32) << 23) * f32::from_bits(((n2 + 127) as u32) << 23)
}

/// Eight-lane `e^x` (see module docs for accuracy and edge cases).
#[inline]
pub fn exp_f32x8(x: f32x8) -> f32x8 {
    let xc = x
        .fast_max(f32x8::splat(EXP_LO))
        .fast_min(f32x8::splat(EXP_HI));
    let n = (xc * f32x8::splat(LOG2E)).round_ties_even();
    let r = n.mul_neg_add(f32x8::splat(LN2_HI), xc);
    let r = n.mul_neg_add(f32x8::splat(LN2_LO), r);
    let p = f32x8::splat(P5).mul_add(r, f32x8::splat(P4));
    let p = p.mul_add(r, f32x8::splat(P3));
    let p = p.mul_add(r, f32x8::splat(P2));
    let p = p.mul_add(r, f32x8::splat(P1));
    let p = p.mul_add(r, f32x8::splat(P0));
    let e = (r * r).mul_add(p, r) + f32x8::splat(1.0);
    let ni = n.round_int();
    let n1 = ni >> 1;
    let n2 = ni - n1;
    let bias = i32x8::splat(127);
    let s1: f32x8 = bytemuck::cast((n1 + bias) << 23);
    let s2: f32x8 = bytemuck::cast((n2 + bias) << 23);
    let res = e * s1 * s2;
    let res = x.simd_lt(f32x8::splat(EXP_LO)).select(f32x8::ZERO, res);
    x.simd_ne(x).select(x, res)
}

/// Sixteen-lane `e^x` with AVX-512F (same algorithm and accuracy as [`exp_f32x8`]).
///
/// # Safety
/// The CPU must support AVX-512F (check [`has_avx512f`]).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
#[inline]
pub unsafe fn exp_avx512(x: std::arch::x86_64::__m512) -> std::arch::x86_64::__m512 {
    use std::arch::x86_64::*;
    let xc = _mm512_min_ps(
        _mm512_max_ps(x, _mm512_set1_ps(EXP_LO)),
        _mm512_set1_ps(EXP_HI),
    );
    let n = _mm512_roundscale_ps::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(
        _mm512_mul_ps(xc, _mm512_set1_ps(LOG2E)),
    );
    let r = _mm512_fnmadd_ps(n, _mm512_set1_ps(LN2_HI), xc);
    let r = _mm512_fnmadd_ps(n, _mm512_set1_ps(LN2_LO), r);
    let mut p = _mm512_fmadd_ps(_mm512_set1_ps(P5), r, _mm512_set1_ps(P4));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(P3));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(P2));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(P1));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(P0));
    let e = _mm512_add_ps(
        _mm512_fmadd_ps(_mm512_mul_ps(r, r), p, r),
        _mm512_set1_ps(1.0),
    );
    // scalef computes e·2^n in one instruction and handles the 2^128 end of the range.
    let res = _mm512_scalef_ps(e, n);
    let keep = _mm512_cmp_ps_mask::<_CMP_GE_OQ>(x, _mm512_set1_ps(EXP_LO));
    let res = _mm512_maskz_mov_ps(keep, res);
    let nan = _mm512_cmp_ps_mask::<_CMP_UNORD_Q>(x, x);
    _mm512_mask_mov_ps(res, nan, x)
}

/// Sum of the eight lanes.
#[inline]
pub fn hsum(v: f32x8) -> f32 {
    v.reduce_add()
}

/// Loads `s[..8]` into a vector. Panics if `s` is shorter than 8.
#[inline]
pub fn load8(s: &[f32]) -> f32x8 {
    let a: [f32; 8] = s[..8].try_into().expect("slice of 8");
    f32x8::from(a)
}

/// Stores `v` into `s[..8]`. Panics if `s` is shorter than 8.
#[inline]
pub fn store8(s: &mut [f32], v: f32x8) {
    s[..8].copy_from_slice(&v.to_array());
}

/// Σ x, accumulated in four independent vector lanes to hide FMA latency.
pub fn sum(x: &[f32]) -> f32 {
    let mut acc = [f32x8::ZERO; 4];
    let mut chunks = x.chunks_exact(32);
    for c in &mut chunks {
        for (j, a) in acc.iter_mut().enumerate() {
            *a += load8(&c[j * 8..]);
        }
    }
    let mut tail = chunks.remainder().chunks_exact(8);
    for c in &mut tail {
        acc[0] += load8(c);
    }
    let v = (acc[0] + acc[1]) + (acc[2] + acc[3]);
    hsum(v) + tail.remainder().iter().sum::<f32>()
}

/// max x (−inf for an empty slice). NaN handling follows `maxps`: not propagated reliably.
pub fn max(x: &[f32]) -> f32 {
    let mut acc = f32x8::splat(f32::NEG_INFINITY);
    let mut chunks = x.chunks_exact(8);
    for c in &mut chunks {
        acc = acc.fast_max(load8(c));
    }
    let m = acc.to_array().into_iter().fold(f32::NEG_INFINITY, f32::max);
    chunks.remainder().iter().copied().fold(m, f32::max)
}

/// Σ a·b over the common length.
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    let len = a.len().min(b.len());
    let (a, b) = (&a[..len], &b[..len]);
    let mut acc = [f32x8::ZERO; 4];
    let mut i = 0;
    while i + 32 <= len {
        for (j, s) in acc.iter_mut().enumerate() {
            let o = i + j * 8;
            *s = load8(&a[o..]).mul_add(load8(&b[o..]), *s);
        }
        i += 32;
    }
    while i + 8 <= len {
        acc[0] = load8(&a[i..]).mul_add(load8(&b[i..]), acc[0]);
        i += 8;
    }
    let mut s = hsum((acc[0] + acc[1]) + (acc[2] + acc[3]));
    for k in i..len {
        s = a[k].mul_add(b[k], s);
    }
    s
}

/// y += alpha·x over the common length.
pub fn axpy(alpha: f32, x: &[f32], y: &mut [f32]) {
    let len = x.len().min(y.len());
    let va = f32x8::splat(alpha);
    let mut i = 0;
    while i + 8 <= len {
        let v = va.mul_add(load8(&x[i..]), load8(&y[i..]));
        store8(&mut y[i..], v);
        i += 8;
    }
    for k in i..len {
        y[k] = alpha.mul_add(x[k], y[k]);
    }
}

/// x *= alpha.
pub fn scale(alpha: f32, x: &mut [f32]) {
    let va = f32x8::splat(alpha);
    let mut chunks = x.chunks_exact_mut(8);
    for c in &mut chunks {
        store8(c, load8(c) * va);
    }
    for v in chunks.into_remainder() {
        *v *= alpha;
    }
}

#[cfg(test)]
mod tests;
