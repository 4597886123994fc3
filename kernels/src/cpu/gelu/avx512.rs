//! AVX-512F GELU kernels (the parent module holds the math). Tails use masked loads/stores.
//!
//! Safety contract (upheld by the parent's driver): the CPU supports AVX-512F and all slices
//! passed to one call have the length of `x`.

use super::erf::{cdf_avx512, FRAC_1_SQRT_2PI};
use super::X_LO;
use std::arch::x86_64::*;

#[inline(always)]
fn mask_at(n: usize, i: usize) -> __mmask16 {
    match n.saturating_sub(i) {
        r if r >= 16 => 0xFFFF,
        r => ((1u32 << r) - 1) as u16,
    }
}

#[target_feature(enable = "avx512f")]
pub(super) unsafe fn fwd(x: &[f32], out: &mut [f32]) {
    let n = x.len().min(out.len());
    let (px, po) = (x.as_ptr(), out.as_mut_ptr());
    let lo = _mm512_set1_ps(X_LO);
    let mut i = 0;
    while i < n {
        let m = mask_at(n, i);
        let v = _mm512_maskz_loadu_ps(m, px.add(i));
        let (phi, _) = cdf_avx512::<false>(v);
        _mm512_mask_storeu_ps(po.add(i), m, _mm512_mul_ps(_mm512_max_ps(v, lo), phi));
        i += 16;
    }
}

#[target_feature(enable = "avx512f")]
pub(super) unsafe fn bwd(x: &[f32], dout: &[f32], dx: &mut [f32]) {
    let n = x.len().min(dout.len()).min(dx.len());
    let (px, pg, pd) = (x.as_ptr(), dout.as_ptr(), dx.as_mut_ptr());
    let (lo, hi) = (_mm512_set1_ps(X_LO), _mm512_set1_ps(-X_LO));
    let c = _mm512_set1_ps(FRAC_1_SQRT_2PI);
    let mut i = 0;
    while i < n {
        let m = mask_at(n, i);
        let v = _mm512_maskz_loadu_ps(m, px.add(i));
        let (phi, e) = cdf_avx512::<true>(v);
        // Clamped x in x·φ(x): φ is 0 there anyway, and ±∞·0 would be NaN.
        let vc = _mm512_min_ps(_mm512_max_ps(v, lo), hi);
        let d = _mm512_fmadd_ps(_mm512_mul_ps(vc, e), c, phi);
        let g = _mm512_maskz_loadu_ps(m, pg.add(i));
        _mm512_mask_storeu_ps(pd.add(i), m, _mm512_mul_ps(g, d));
        i += 16;
    }
}

/// `g = gelu(x)` and `d ← d·gelu'(x)` from one evaluation of Φ (the two functions above, fused).
#[target_feature(enable = "avx512f")]
pub(super) unsafe fn fwd_bwd(x: &[f32], g: &mut [f32], d: &mut [f32]) {
    let n = x.len().min(g.len()).min(d.len());
    let (px, pg, pd) = (x.as_ptr(), g.as_mut_ptr(), d.as_mut_ptr());
    let (lo, hi) = (_mm512_set1_ps(X_LO), _mm512_set1_ps(-X_LO));
    let c = _mm512_set1_ps(FRAC_1_SQRT_2PI);
    let mut i = 0;
    while i < n {
        let m = mask_at(n, i);
        let v = _mm512_maskz_loadu_ps(m, px.add(i));
        let (phi, e) = cdf_avx512::<true>(v);
        _mm512_mask_storeu_ps(pg.add(i), m, _mm512_mul_ps(_mm512_max_ps(v, lo), phi));
        let vc = _mm512_min_ps(_mm512_max_ps(v, lo), hi);
        let dd = _mm512_fmadd_ps(_mm512_mul_ps(vc, e), c, phi);
        let dout = _mm512_maskz_loadu_ps(m, pd.add(i));
        _mm512_mask_storeu_ps(pd.add(i), m, _mm512_mul_ps(dout, dd));
        i += 16;
    }
}
