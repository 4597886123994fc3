//! Generic eight-lane row kernels for LayerNorm (see the parent module for the math), compiled
//! on `wide::f32x8` (portable path) and on AVX2 intrinsics (`simd::A8`, the AVX2 path).
//!
//! Like the AVX-512 kernels, they work on groups of `G` rows so the short per-row reduction
//! chains overlap, and load weight/bias (and update the dw/db partials) once per group. Row
//! tails past the last multiple of 8 are handled with scalar code.

use crate::cpu::simd::F8;

/// Rows processed together.
const G: usize = 4;

/// Mean and biased variance of the `N` rows of `x` (row length `dim`), two passes each.
#[inline(always)]
fn stats<V: F8, const N: usize>(x: &[f32], dim: usize) -> ([f32; N], [f32; N]) {
    let main = dim - dim % 8;
    assert!(x.len() >= N * dim);
    let xp = x.as_ptr();
    let mut acc = [V::ZERO; N];
    for i in (0..main).step_by(8) {
        for (r, a) in acc.iter_mut().enumerate() {
            // SAFETY: r < N and i + 8 ≤ dim, inside the N·dim asserted above.
            *a += unsafe { V::load(xp.add(r * dim + i)) };
        }
    }
    let mut mu = [0f32; N];
    for r in 0..N {
        let tail: f32 = x[r * dim + main..(r + 1) * dim].iter().sum();
        mu[r] = (acc[r].reduce_add() + tail) / dim as f32;
    }
    let vmu: [V; N] = std::array::from_fn(|r| V::splat(mu[r]));
    let mut q = [V::ZERO; N];
    for i in (0..main).step_by(8) {
        for (r, q) in q.iter_mut().enumerate() {
            // SAFETY: as above.
            let d = unsafe { V::load(xp.add(r * dim + i)) } - vmu[r];
            *q = d.mul_add(d, *q);
        }
    }
    let mut var = [0f32; N];
    for r in 0..N {
        let tail: f32 = x[r * dim + main..(r + 1) * dim]
            .iter()
            .map(|&v| (v - mu[r]) * (v - mu[r]))
            .sum();
        var[r] = (q[r].reduce_add() + tail) / dim as f32;
    }
    (mu, var)
}

#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn fwd_group<V: F8, const N: usize>(
    dim: usize,
    eps: f32,
    x: &[f32],
    w: Option<&[f32]>,
    b: Option<&[f32]>,
    out: &mut [f32],
    mean: &mut [f32],
    rstd: &mut [f32],
) {
    let (mu, var) = stats::<V, N>(x, dim);
    let mut rs = [0f32; N];
    for r in 0..N {
        rs[r] = 1.0 / (var[r] + eps).sqrt();
        mean[r] = mu[r];
        rstd[r] = rs[r];
    }
    let main = dim - dim % 8;
    // Raw pointers after one bounds check: per-load slice checks and a per-vector test of the
    // Option weight/bias cost this loop a third of its time (it is a few ops per 8 floats).
    assert!(x.len() >= N * dim && out.len() >= N * dim);
    assert!(w.is_none_or(|w| w.len() >= dim) && b.is_none_or(|b| b.len() >= dim));
    let (xp, op) = (x.as_ptr(), out.as_mut_ptr());
    let (vmu, vrs): ([V; N], [V; N]) = (
        std::array::from_fn(|r| V::splat(mu[r])),
        std::array::from_fn(|r| V::splat(rs[r])),
    );
    // SAFETY (all loads and stores): r < N, i + 8 ≤ dim; x/out hold N·dim, w/b hold dim.
    let rows = |i: usize, vw: V, vb: V| {
        for r in 0..N {
            unsafe {
                let y = (V::load(xp.add(r * dim + i)) - vmu[r]) * vrs[r];
                y.mul_add(vw, vb).store(op.add(r * dim + i));
            }
        }
    };
    match (w, b) {
        (Some(w), Some(b)) => {
            for i in (0..main).step_by(8) {
                unsafe { rows(i, V::load(w.as_ptr().add(i)), V::load(b.as_ptr().add(i))) };
            }
        }
        _ => {
            for i in (0..main).step_by(8) {
                let vw = w.map_or(V::splat(1.0), |w| V::load8(&w[i..]));
                let vb = b.map_or(V::ZERO, |b| V::load8(&b[i..]));
                rows(i, vw, vb);
            }
        }
    }
    for i in main..dim {
        let (wi, bi) = (w.map_or(1.0, |w| w[i]), b.map_or(0.0, |b| b[i]));
        for r in 0..N {
            out[r * dim + i] = ((x[r * dim + i] - mu[r]) * rs[r]).mul_add(wi, bi);
        }
    }
}

#[allow(clippy::too_many_arguments)]
#[inline(always)]
pub(super) fn fwd_rows<V: F8>(
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
    let full = rows - rows % G;
    let (xg, xt) = x.split_at(full * dim);
    let (og, ot) = out.split_at_mut(full * dim);
    let (mg, mt) = mean.split_at_mut(full);
    let (sg, st) = rstd.split_at_mut(full);
    let groups = xg.chunks_exact(G * dim).zip(og.chunks_exact_mut(G * dim));
    for ((xc, oc), (mc, sc)) in groups.zip(mg.chunks_exact_mut(G).zip(sg.chunks_exact_mut(G))) {
        fwd_group::<V, G>(dim, eps, xc, w, b, oc, mc, sc);
    }
    let singles = xt.chunks_exact(dim).zip(ot.chunks_exact_mut(dim));
    for ((xc, oc), (mc, sc)) in singles.zip(mt.chunks_exact_mut(1).zip(st.chunks_exact_mut(1))) {
        fwd_group::<V, 1>(dim, eps, xc, w, b, oc, mc, sc);
    }
}

/// `g = dout·w` for lanes `i..i+8` of row `r`.
#[inline(always)]
fn g8<V: F8>(dout: &[f32], vw: V, at: usize) -> V {
    V::load8(&dout[at..]) * vw
}

#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn bwd_group<V: F8, const N: usize>(
    dim: usize,
    x: &[f32],
    w: Option<&[f32]>,
    mean: &[f32],
    rstd: &[f32],
    dout: &[f32],
    dx: &mut [f32],
    mut dw: Option<&mut [f32]>,
    mut db: Option<&mut [f32]>,
) {
    let main = dim - dim % 8;
    let one = V::splat(1.0);
    // Pass 1: Σg and Σg·x̂ per row, and the group's dw/db contribution.
    let (mut s1, mut s2) = ([V::ZERO; N], [V::ZERO; N]);
    for i in (0..main).step_by(8) {
        let vw = w.map_or(one, |w| V::load8(&w[i..]));
        let (mut gw, mut gb) = (V::ZERO, V::ZERO);
        for r in 0..N {
            let d = V::load8(&dout[r * dim + i..]);
            let xh = (V::load8(&x[r * dim + i..]) - V::splat(mean[r])) * V::splat(rstd[r]);
            let g = d * vw;
            s1[r] += g;
            s2[r] = g.mul_add(xh, s2[r]);
            gw = d.mul_add(xh, gw);
            gb += d;
        }
        if let Some(dw) = dw.as_deref_mut() {
            let acc = V::load8(&dw[i..]) + gw;
            acc.store8(&mut dw[i..]);
        }
        if let Some(db) = db.as_deref_mut() {
            let acc = V::load8(&db[i..]) + gb;
            acc.store8(&mut db[i..]);
        }
    }
    let (mut t1, mut t2) = ([0f32; N], [0f32; N]);
    for r in 0..N {
        t1[r] = s1[r].reduce_add();
        t2[r] = s2[r].reduce_add();
    }
    for i in main..dim {
        let wi = w.map_or(1.0, |w| w[i]);
        for r in 0..N {
            let d = dout[r * dim + i];
            let xh = (x[r * dim + i] - mean[r]) * rstd[r];
            t1[r] += d * wi;
            t2[r] = (d * wi).mul_add(xh, t2[r]);
            if let Some(dw) = dw.as_deref_mut() {
                dw[i] = d.mul_add(xh, dw[i]);
            }
            if let Some(db) = db.as_deref_mut() {
                db[i] += d;
            }
        }
    }
    // Pass 2: dx = rs·g − rs·mean(g) − x̂·rs·mean(g·x̂).
    let inv_d = 1.0 / dim as f32;
    let (mut c1, mut c2) = ([0f32; N], [0f32; N]);
    for r in 0..N {
        c1[r] = rstd[r] * t1[r] * inv_d;
        c2[r] = rstd[r] * t2[r] * inv_d;
    }
    for i in (0..main).step_by(8) {
        let vw = w.map_or(one, |w| V::load8(&w[i..]));
        for r in 0..N {
            let vr = V::splat(rstd[r]);
            let xh = (V::load8(&x[r * dim + i..]) - V::splat(mean[r])) * vr;
            let v =
                g8::<V>(dout, vw, r * dim + i).mul_add(vr, -V::splat(c1[r])) - xh * V::splat(c2[r]);
            v.store8(&mut dx[r * dim + i..]);
        }
    }
    for i in main..dim {
        let wi = w.map_or(1.0, |w| w[i]);
        for r in 0..N {
            let xh = (x[r * dim + i] - mean[r]) * rstd[r];
            dx[r * dim + i] = (dout[r * dim + i] * wi).mul_add(rstd[r], -c1[r]) - xh * c2[r];
        }
    }
}

#[allow(clippy::too_many_arguments)]
#[inline(always)]
pub(super) fn bwd_rows<V: F8>(
    dim: usize,
    x: &[f32],
    w: Option<&[f32]>,
    mean: &[f32],
    rstd: &[f32],
    dout: &[f32],
    dx: &mut [f32],
    mut dw: Option<&mut [f32]>,
    mut db: Option<&mut [f32]>,
) {
    let rows = mean.len();
    let mut r = 0;
    while r < rows {
        let n = if r + G <= rows { G } else { 1 };
        let span = r * dim..(r + n) * dim;
        let (xs, ds, dxs) = (&x[span.clone()], &dout[span.clone()], &mut dx[span]);
        let (ms, ss) = (&mean[r..r + n], &rstd[r..r + n]);
        let (pw, pb) = (dw.as_deref_mut(), db.as_deref_mut());
        if n == G {
            bwd_group::<V, G>(dim, xs, w, ms, ss, ds, dxs, pw, pb);
        } else {
            bwd_group::<V, 1>(dim, xs, w, ms, ss, ds, dxs, pw, pb);
        }
        r += n;
    }
}

/// The row kernels on raw AVX2+FMA (fast without the workspace's rustflags floor).
#[cfg(target_arch = "x86_64")]
pub(super) mod avx2 {
    use crate::cpu::simd::A8;

    /// # Safety
    /// The CPU must support AVX2 and FMA.
    #[allow(clippy::too_many_arguments)]
    #[target_feature(enable = "avx2,fma")]
    pub(in super::super) unsafe fn fwd_rows(
        dim: usize,
        eps: f32,
        x: &[f32],
        w: Option<&[f32]>,
        b: Option<&[f32]>,
        out: &mut [f32],
        mean: &mut [f32],
        rstd: &mut [f32],
    ) {
        super::fwd_rows::<A8>(dim, eps, x, w, b, out, mean, rstd)
    }

    /// # Safety
    /// The CPU must support AVX2 and FMA.
    #[allow(clippy::too_many_arguments)]
    #[target_feature(enable = "avx2,fma")]
    pub(in super::super) unsafe fn bwd_rows(
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
        super::bwd_rows::<A8>(dim, x, w, mean, rstd, dout, dx, dw, db)
    }
}
