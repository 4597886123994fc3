//! AVX-512F softmax row kernels (the parent module holds the math). Row tails use masked loads
//! and stores; masked-off lanes are kept out of the max (loaded as −∞) and the sums.
//!
//! Safety contract (upheld by the parent's driver): the CPU supports AVX-512F; slices hold
//! whole rows of `dim` and have equal lengths.

use crate::cpu::simd::exp_avx512;
use std::arch::x86_64::*;

#[inline(always)]
fn mask_at(n: usize, i: usize) -> __mmask16 {
    match n.saturating_sub(i) {
        r if r >= 16 => 0xFFFF,
        r => ((1u32 << r) - 1) as u16,
    }
}

#[target_feature(enable = "avx512f")]
pub(super) unsafe fn fwd_rows(dim: usize, x: &[f32], out: &mut [f32]) {
    let rows = x.len().min(out.len()) / dim;
    let ninf = _mm512_set1_ps(f32::NEG_INFINITY);
    for r in 0..rows {
        let xr = x.as_ptr().add(r * dim);
        let or = out.as_mut_ptr().add(r * dim);
        // Two max chains: the reduction is latency-bound for attention-sized rows.
        let (mut m0, mut m1) = (ninf, ninf);
        let mut i = 0;
        while i + 32 <= dim {
            m0 = _mm512_max_ps(m0, _mm512_loadu_ps(xr.add(i)));
            m1 = _mm512_max_ps(m1, _mm512_loadu_ps(xr.add(i + 16)));
            i += 32;
        }
        m0 = _mm512_max_ps(
            m0,
            _mm512_mask_loadu_ps(ninf, mask_at(dim, i), xr.wrapping_add(i)),
        );
        m1 = _mm512_max_ps(
            m1,
            _mm512_mask_loadu_ps(ninf, mask_at(dim, i + 16), xr.wrapping_add(i + 16)),
        );
        let vm = _mm512_set1_ps(_mm512_reduce_max_ps(_mm512_max_ps(m0, m1)));

        let mut s = _mm512_setzero_ps();
        let mut i = 0;
        while i < dim {
            let m = mask_at(dim, i);
            let e = exp_avx512(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, xr.add(i)), vm));
            _mm512_mask_storeu_ps(or.add(i), m, e);
            s = _mm512_mask_add_ps(s, m, s, e);
            i += 16;
        }
        let inv = _mm512_set1_ps(1.0 / _mm512_reduce_add_ps(s));
        let mut i = 0;
        while i < dim {
            let m = mask_at(dim, i);
            let v = _mm512_mul_ps(_mm512_maskz_loadu_ps(m, or.add(i)), inv);
            _mm512_mask_storeu_ps(or.add(i), m, v);
            i += 16;
        }
    }
}

#[target_feature(enable = "avx512f")]
pub(super) unsafe fn bwd_rows(dim: usize, out: &[f32], dout: &[f32], dx: &mut [f32]) {
    let rows = out.len().min(dout.len()).min(dx.len()) / dim;
    for r in 0..rows {
        let (or, gr) = (out.as_ptr().add(r * dim), dout.as_ptr().add(r * dim));
        let dr = dx.as_mut_ptr().add(r * dim);
        let (mut s0, mut s1) = (_mm512_setzero_ps(), _mm512_setzero_ps());
        let mut i = 0;
        while i + 32 <= dim {
            s0 = _mm512_fmadd_ps(_mm512_loadu_ps(or.add(i)), _mm512_loadu_ps(gr.add(i)), s0);
            s1 = _mm512_fmadd_ps(
                _mm512_loadu_ps(or.add(i + 16)),
                _mm512_loadu_ps(gr.add(i + 16)),
                s1,
            );
            i += 32;
        }
        for (j, acc) in [(i, &mut s0), (i + 16, &mut s1)] {
            let m = mask_at(dim, j);
            let (o, g) = (
                _mm512_maskz_loadu_ps(m, or.wrapping_add(j)),
                _mm512_maskz_loadu_ps(m, gr.wrapping_add(j)),
            );
            *acc = _mm512_fmadd_ps(o, g, *acc);
        }
        let vs = _mm512_set1_ps(_mm512_reduce_add_ps(_mm512_add_ps(s0, s1)));
        let mut i = 0;
        while i < dim {
            let m = mask_at(dim, i);
            let g = _mm512_sub_ps(_mm512_maskz_loadu_ps(m, gr.add(i)), vs);
            _mm512_mask_storeu_ps(
                dr.add(i),
                m,
                _mm512_mul_ps(g, _mm512_maskz_loadu_ps(m, or.add(i))),
            );
            i += 16;
        }
    }
}
