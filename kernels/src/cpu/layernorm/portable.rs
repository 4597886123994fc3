//! Portable `wide::f32x8` row kernels for LayerNorm (see the parent module for the math).

use crate::cpu::simd::{hsum, load8, store8};
use wide::f32x8;

/// Σ row, four vector accumulators.
#[inline(always)]
fn row_sum(x: &[f32]) -> f32 {
    let mut acc = [f32x8::ZERO; 4];
    let mut c = x.chunks_exact(32);
    for v in &mut c {
        for (j, a) in acc.iter_mut().enumerate() {
            *a += load8(&v[j * 8..]);
        }
    }
    let mut t = c.remainder().chunks_exact(8);
    for v in &mut t {
        acc[0] += load8(v);
    }
    hsum((acc[0] + acc[1]) + (acc[2] + acc[3])) + t.remainder().iter().sum::<f32>()
}

/// Σ (row − mu)².
#[inline(always)]
fn row_centered_sq(x: &[f32], mu: f32) -> f32 {
    let vm = f32x8::splat(mu);
    let (mut a0, mut a1) = (f32x8::ZERO, f32x8::ZERO);
    let mut c = x.chunks_exact(16);
    for v in &mut c {
        let d0 = load8(v) - vm;
        let d1 = load8(&v[8..]) - vm;
        a0 = d0.mul_add(d0, a0);
        a1 = d1.mul_add(d1, a1);
    }
    let mut t = c.remainder().chunks_exact(8);
    for v in &mut t {
        let d = load8(v) - vm;
        a0 = d.mul_add(d, a0);
    }
    hsum(a0 + a1)
        + t.remainder()
            .iter()
            .map(|&v| (v - mu) * (v - mu))
            .sum::<f32>()
}

#[allow(clippy::too_many_arguments)]
pub(super) fn fwd_rows(
    dim: usize,
    eps: f32,
    x: &[f32],
    w: Option<&[f32]>,
    b: Option<&[f32]>,
    out: &mut [f32],
    mean: &mut [f32],
    rstd: &mut [f32],
) {
    let inv_d = 1.0 / dim as f32;
    for (r, (xr, or)) in x
        .chunks_exact(dim)
        .zip(out.chunks_exact_mut(dim))
        .enumerate()
    {
        let mu = row_sum(xr) * inv_d;
        let rs = 1.0 / (row_centered_sq(xr, mu) * inv_d + eps).sqrt();
        mean[r] = mu;
        rstd[r] = rs;
        let (vm, vr) = (f32x8::splat(mu), f32x8::splat(rs));
        let main = dim - dim % 8;
        match (w, b) {
            (Some(w), Some(b)) => {
                for i in (0..main).step_by(8) {
                    let y = (load8(&xr[i..]) - vm) * vr;
                    store8(&mut or[i..], y.mul_add(load8(&w[i..]), load8(&b[i..])));
                }
                for i in main..dim {
                    or[i] = ((xr[i] - mu) * rs).mul_add(w[i], b[i]);
                }
            }
            _ => {
                for i in (0..main).step_by(8) {
                    store8(&mut or[i..], (load8(&xr[i..]) - vm) * vr);
                }
                for i in main..dim {
                    or[i] = (xr[i] - mu) * rs;
                }
                // Weight without bias (or the reverse) is rare: fix the L1-hot row up in place.
                if let Some(w) = w {
                    or.iter_mut().zip(w).for_each(|(o, &v)| *o *= v);
                }
                if let Some(b) = b {
                    or.iter_mut().zip(b).for_each(|(o, &v)| *o += v);
                }
            }
        }
    }
}

#[allow(clippy::too_many_arguments)]
pub(super) fn bwd_rows(
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
    let inv_d = 1.0 / dim as f32;
    let main = dim - dim % 8;
    let rows = x
        .chunks_exact(dim)
        .zip(dout.chunks_exact(dim))
        .zip(dx.chunks_exact_mut(dim));
    for (r, ((xr, gr), dxr)) in rows.enumerate() {
        let (mu, rs) = (mean[r], rstd[r]);
        let (vm, vr) = (f32x8::splat(mu), f32x8::splat(rs));
        // Pass 1: Σg and Σg·x̂, and this chunk's dw/db partials.
        let (mut s1, mut s2) = (f32x8::ZERO, f32x8::ZERO);
        for i in (0..main).step_by(8) {
            let d = load8(&gr[i..]);
            let xh = (load8(&xr[i..]) - vm) * vr;
            let g = match w {
                Some(w) => d * load8(&w[i..]),
                None => d,
            };
            s1 += g;
            s2 = g.mul_add(xh, s2);
            if let Some(dw) = dw.as_deref_mut() {
                let acc = d.mul_add(xh, load8(&dw[i..]));
                store8(&mut dw[i..], acc);
            }
            if let Some(db) = db.as_deref_mut() {
                let acc = load8(&db[i..]) + d;
                store8(&mut db[i..], acc);
            }
        }
        let (mut t1, mut t2) = (hsum(s1), hsum(s2));
        for i in main..dim {
            let d = gr[i];
            let xh = (xr[i] - mu) * rs;
            let g = w.map_or(d, |w| d * w[i]);
            t1 += g;
            t2 = g.mul_add(xh, t2);
            if let Some(dw) = dw.as_deref_mut() {
                dw[i] = d.mul_add(xh, dw[i]);
            }
            if let Some(db) = db.as_deref_mut() {
                db[i] += d;
            }
        }
        // Pass 2: dx = rs·g − rs·mean(g) − x̂·rs·mean(g·x̂).
        let (c1, c2) = (rs * t1 * inv_d, rs * t2 * inv_d);
        let (vc1, vc2) = (f32x8::splat(c1), f32x8::splat(c2));
        for i in (0..main).step_by(8) {
            let d = load8(&gr[i..]);
            let g = match w {
                Some(w) => d * load8(&w[i..]),
                None => d,
            };
            let xh = (load8(&xr[i..]) - vm) * vr;
            store8(&mut dxr[i..], g.mul_add(vr, -vc1) - xh * vc2);
        }
        for i in main..dim {
            let g = w.map_or(gr[i], |w| gr[i] * w[i]);
            let xh = (xr[i] - mu) * rs;
            dxr[i] = g.mul_add(rs, -c1) - xh * c2;
        }
    }
}
