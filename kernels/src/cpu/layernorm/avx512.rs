//! AVX-512F row kernels for LayerNorm (see the parent module for the math).
//!
//! A row of a ViT (D = 192…1280) is only a dozen or so vectors, so one row's reductions are a
//! short serial chain of dependent adds plus a horizontal sum: latency, not bandwidth, bounds
//! them. The kernels therefore work on groups of `G` rows at once, whose chains are independent
//! and overlap; weight/bias (and the dw/db partials) are also loaded once per group. Row tails use
//! masked loads/stores, which never touch masked-off memory, so any `dim` works.
//!
//! Safety contract shared by both kernels (upheld by the parent's driver): the CPU supports
//! AVX-512F; `x`/`out`/`dout`/`dx` hold `rows·dim` with rows = `mean.len()` = `rstd.len()`;
//! weight/bias and the partial sums hold at least `dim`.

use std::arch::x86_64::*;

/// Rows processed together.
const G: usize = 4;

/// Lanes of the 16-wide block starting at `i` that fall inside a row of `dim` (0 past the end).
#[inline(always)]
fn mask_at(dim: usize, i: usize) -> __mmask16 {
    match dim.saturating_sub(i) {
        n if n >= 16 => 0xFFFF,
        n => ((1u32 << n) - 1) as u16,
    }
}

/// Mean and biased variance of `N` rows starting at `p` (row stride `dim`), two passes each.
#[inline]
#[target_feature(enable = "avx512f")]
unsafe fn stats<const N: usize>(p: *const f32, dim: usize) -> ([f32; N], [f32; N]) {
    let z = _mm512_setzero_ps();
    let mut a = [[z; 2]; N];
    let mut i = 0;
    while i + 32 <= dim {
        for (r, a) in a.iter_mut().enumerate() {
            a[0] = _mm512_add_ps(a[0], _mm512_loadu_ps(p.add(r * dim + i)));
            a[1] = _mm512_add_ps(a[1], _mm512_loadu_ps(p.add(r * dim + i + 16)));
        }
        i += 32;
    }
    let (m0, m1) = (mask_at(dim, i), mask_at(dim, i + 16));
    let mut mu = [0f32; N];
    for (r, a) in a.iter().enumerate() {
        let t0 = _mm512_maskz_loadu_ps(m0, p.wrapping_add(r * dim + i));
        let t1 = _mm512_maskz_loadu_ps(m1, p.wrapping_add(r * dim + i + 16));
        let s = _mm512_add_ps(_mm512_add_ps(a[0], t0), _mm512_add_ps(a[1], t1));
        mu[r] = _mm512_reduce_add_ps(s) / dim as f32;
    }

    let mut q = [[z; 2]; N];
    let mut i = 0;
    while i + 32 <= dim {
        for (r, q) in q.iter_mut().enumerate() {
            let vm = _mm512_set1_ps(mu[r]);
            let d0 = _mm512_sub_ps(_mm512_loadu_ps(p.add(r * dim + i)), vm);
            let d1 = _mm512_sub_ps(_mm512_loadu_ps(p.add(r * dim + i + 16)), vm);
            q[0] = _mm512_fmadd_ps(d0, d0, q[0]);
            q[1] = _mm512_fmadd_ps(d1, d1, q[1]);
        }
        i += 32;
    }
    let mut var = [0f32; N];
    for (r, q) in q.iter().enumerate() {
        let vm = _mm512_set1_ps(mu[r]);
        // maskz_sub zeroes the lanes past the row, so they add nothing to the variance.
        let d0 = _mm512_maskz_sub_ps(
            m0,
            _mm512_maskz_loadu_ps(m0, p.wrapping_add(r * dim + i)),
            vm,
        );
        let d1 = _mm512_maskz_sub_ps(
            m1,
            _mm512_maskz_loadu_ps(m1, p.wrapping_add(r * dim + i + 16)),
            vm,
        );
        let s = _mm512_add_ps(_mm512_fmadd_ps(d0, d0, q[0]), _mm512_fmadd_ps(d1, d1, q[1]));
        var[r] = _mm512_reduce_add_ps(s) / dim as f32;
    }
    (mu, var)
}

#[allow(clippy::too_many_arguments)]
#[inline]
#[target_feature(enable = "avx512f")]
unsafe fn fwd_group<const N: usize>(
    dim: usize,
    eps: f32,
    x: *const f32,
    w: Option<&[f32]>,
    b: Option<&[f32]>,
    out: *mut f32,
    mean: &mut [f32],
    rstd: &mut [f32],
) {
    let (mu, var) = stats::<N>(x, dim);
    let mut vm = [_mm512_setzero_ps(); N];
    let mut vr = [_mm512_setzero_ps(); N];
    for r in 0..N {
        let rs = 1.0 / (var[r] + eps).sqrt();
        mean[r] = mu[r];
        rstd[r] = rs;
        vm[r] = _mm512_set1_ps(mu[r]);
        vr[r] = _mm512_set1_ps(rs);
    }
    let one = _mm512_set1_ps(1.0);
    let mut i = 0;
    while i < dim {
        let m = mask_at(dim, i);
        let vw = w.map_or(one, |w| _mm512_maskz_loadu_ps(m, w.as_ptr().add(i)));
        let vb = b.map_or(_mm512_setzero_ps(), |b| {
            _mm512_maskz_loadu_ps(m, b.as_ptr().add(i))
        });
        for r in 0..N {
            let xv = _mm512_maskz_loadu_ps(m, x.add(r * dim + i));
            let y = _mm512_mul_ps(_mm512_sub_ps(xv, vm[r]), vr[r]);
            _mm512_mask_storeu_ps(out.add(r * dim + i), m, _mm512_fmadd_ps(y, vw, vb));
        }
        i += 16;
    }
}

#[allow(clippy::too_many_arguments)]
#[target_feature(enable = "avx512f")]
pub(super) unsafe fn fwd_rows(
    dim: usize,
    eps: f32,
    x: &[f32],
    w: Option<&[f32]>,
    b: Option<&[f32]>,
    out: &mut [f32],
    mean: &mut [f32],
    rstd: &mut [f32],
) {
    let rows = mean.len();
    let (px, po) = (x.as_ptr(), out.as_mut_ptr());
    let mut r = 0;
    while r + G <= rows {
        let (m, s) = (&mut mean[r..r + G], &mut rstd[r..r + G]);
        fwd_group::<G>(dim, eps, px.add(r * dim), w, b, po.add(r * dim), m, s);
        r += G;
    }
    for r in r..rows {
        let (m, s) = (&mut mean[r..r + 1], &mut rstd[r..r + 1]);
        fwd_group::<1>(dim, eps, px.add(r * dim), w, b, po.add(r * dim), m, s);
    }
}

/// Pointers and per-row constants for one group in the backward.
#[allow(clippy::too_many_arguments)]
#[inline]
#[target_feature(enable = "avx512f")]
unsafe fn bwd_group<const N: usize>(
    dim: usize,
    x: *const f32,
    w: Option<&[f32]>,
    mean: &[f32],
    rstd: &[f32],
    dout: *const f32,
    dx: *mut f32,
    dw: Option<*mut f32>,
    db: Option<*mut f32>,
) {
    let z = _mm512_setzero_ps();
    let one = _mm512_set1_ps(1.0);
    let mut vm = [z; N];
    let mut vr = [z; N];
    for r in 0..N {
        vm[r] = _mm512_set1_ps(mean[r]);
        vr[r] = _mm512_set1_ps(rstd[r]);
    }
    // Pass 1: Σg and Σg·x̂ per row (masked-off lanes load dout = 0, so g = 0 there), and the
    // group's dw/db contribution added once into the chunk partials.
    let (mut s1, mut s2) = ([z; N], [z; N]);
    let mut i = 0;
    while i < dim {
        let m = mask_at(dim, i);
        let vw = w.map_or(one, |w| _mm512_maskz_loadu_ps(m, w.as_ptr().add(i)));
        let (mut gw, mut gb) = (z, z);
        for r in 0..N {
            let d = _mm512_maskz_loadu_ps(m, dout.add(r * dim + i));
            let xv = _mm512_maskz_loadu_ps(m, x.add(r * dim + i));
            let xh = _mm512_mul_ps(_mm512_sub_ps(xv, vm[r]), vr[r]);
            let g = _mm512_mul_ps(d, vw);
            s1[r] = _mm512_add_ps(s1[r], g);
            s2[r] = _mm512_fmadd_ps(g, xh, s2[r]);
            gw = _mm512_fmadd_ps(d, xh, gw);
            gb = _mm512_add_ps(gb, d);
        }
        if let Some(p) = dw {
            let acc = _mm512_add_ps(gw, _mm512_maskz_loadu_ps(m, p.add(i)));
            _mm512_mask_storeu_ps(p.add(i), m, acc);
        }
        if let Some(p) = db {
            let acc = _mm512_add_ps(gb, _mm512_maskz_loadu_ps(m, p.add(i)));
            _mm512_mask_storeu_ps(p.add(i), m, acc);
        }
        i += 16;
    }
    let inv_d = 1.0 / dim as f32;
    let (mut c1, mut c2) = ([z; N], [z; N]);
    for r in 0..N {
        c1[r] = _mm512_set1_ps(rstd[r] * _mm512_reduce_add_ps(s1[r]) * inv_d);
        c2[r] = _mm512_set1_ps(rstd[r] * _mm512_reduce_add_ps(s2[r]) * inv_d);
    }
    // Pass 2: dx = rs·g − rs·mean(g) − x̂·rs·mean(g·x̂).
    let mut i = 0;
    while i < dim {
        let m = mask_at(dim, i);
        let vw = w.map_or(one, |w| _mm512_maskz_loadu_ps(m, w.as_ptr().add(i)));
        for r in 0..N {
            let g = _mm512_mul_ps(_mm512_maskz_loadu_ps(m, dout.add(r * dim + i)), vw);
            let xv = _mm512_maskz_loadu_ps(m, x.add(r * dim + i));
            let xh = _mm512_mul_ps(_mm512_sub_ps(xv, vm[r]), vr[r]);
            let v = _mm512_fnmadd_ps(xh, c2[r], _mm512_fmsub_ps(g, vr[r], c1[r]));
            _mm512_mask_storeu_ps(dx.add(r * dim + i), m, v);
        }
        i += 16;
    }
}

#[allow(clippy::too_many_arguments)]
#[target_feature(enable = "avx512f")]
pub(super) unsafe fn bwd_rows(
    dim: usize,
    x: &[f32],
    w: Option<&[f32]>,
    mean: &[f32],
    rstd: &[f32],
    dout: &[f32],
    dx: &mut [f32],
    dw: Option<&mut [f32]>,
    db: Option<&mut [f32]>,
) {
    let rows = mean.len();
    let (px, pd, pdx) = (x.as_ptr(), dout.as_ptr(), dx.as_mut_ptr());
    let (pdw, pdb) = (dw.map(|d| d.as_mut_ptr()), db.map(|d| d.as_mut_ptr()));
    let mut r = 0;
    while r + G <= rows {
        let o = r * dim;
        let (m, s) = (&mean[r..r + G], &rstd[r..r + G]);
        bwd_group::<G>(dim, px.add(o), w, m, s, pd.add(o), pdx.add(o), pdw, pdb);
        r += G;
    }
    for r in r..rows {
        let o = r * dim;
        let (m, s) = (&mean[r..r + 1], &rstd[r..r + 1]);
        bwd_group::<1>(dim, px.add(o), w, m, s, pd.add(o), pdx.add(o), pdw, pdb);
    }
}
