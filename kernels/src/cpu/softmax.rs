//! Row softmax over the last dimension.
//!
//! Forward per row: `out = e^{x − max x} / Σ e^{x − max x}` (max-subtracted, so no overflow and
//! the largest term is exactly 1, which also keeps the sum ≥ 1). Backward:
//! `dx = out ⊙ (dout − Σ dout⊙out)`. A row of all −∞ (or containing NaN) gives NaN, as in PyTorch.
//!
//! The fast versions split rows into a few chunks per rayon thread and run a row kernel over each
//! chunk: AVX-512, or one generic kernel on AVX2 intrinsics or portable `wide` (chosen once);
//! `exp` is the shared one from `simd`.

#[cfg(target_arch = "x86_64")]
mod avx512;

use super::simd::{fast_exp, row_max, rows_per_task, SimdPath, F8};
use rayon::prelude::*;
use std::sync::OnceLock;
use wide::f32x8;

/// `(dim, x, out)`: rows = `x.len() / dim`.
type Fwd = unsafe fn(usize, &[f32], &mut [f32]);
/// `(dim, out, dout, dx)`.
type Bwd = unsafe fn(usize, &[f32], &[f32], &mut [f32]);

struct Kernels {
    fwd: Fwd,
    bwd: Bwd,
}

static PORTABLE: Kernels = Kernels {
    fwd: fwd_portable,
    bwd: bwd_portable,
};
#[cfg(target_arch = "x86_64")]
static AVX2: Kernels = Kernels {
    fwd: avx2::fwd,
    bwd: avx2::bwd,
};
#[cfg(target_arch = "x86_64")]
static AVX512: Kernels = Kernels {
    fwd: avx512::fwd_rows,
    bwd: avx512::bwd_rows,
};

fn kernels(path: SimdPath) -> &'static Kernels {
    static BEST: OnceLock<&'static Kernels> = OnceLock::new();
    let pick = |p: SimdPath| -> &'static Kernels {
        match p.or_portable() {
            #[cfg(target_arch = "x86_64")]
            SimdPath::Avx512 => &AVX512,
            #[cfg(target_arch = "x86_64")]
            SimdPath::Avx2 => &AVX2,
            _ => &PORTABLE,
        }
    };
    if path == SimdPath::best() {
        BEST.get_or_init(|| pick(path))
    } else {
        pick(path)
    }
}

/// Elements per rayon task below which a call stays on one thread.
const MIN_TASK_ELEMS: usize = 16 * 1024;

#[track_caller]
fn check(rows: usize, dim: usize, what: &str, s: &[f32]) {
    let need = rows
        .checked_mul(dim)
        .expect("softmax: rows × dim overflows");
    assert!(
        s.len() >= need,
        "softmax: `{what}` has {} elements, needs {need}",
        s.len()
    );
}

/// Runs `f` over row chunks of `a` (read) and `out` (written), in parallel when large enough.
fn for_chunks(
    rows: usize,
    dim: usize,
    a: &[f32],
    b: &[f32],
    out: &mut [f32],
    f: impl Fn(&[f32], &[f32], &mut [f32]) + Sync,
) {
    let n = rows * dim;
    let (a, out) = (&a[..n], &mut out[..n]);
    let b = &b[..b.len().min(n)];
    let cr = rows_per_task(rows, dim, MIN_TASK_ELEMS);
    if cr >= rows {
        f(a, b, out);
        return;
    }
    let cl = cr * dim;
    out.par_chunks_mut(cl).enumerate().for_each(|(ci, o)| {
        let span = ci * cl..ci * cl + o.len();
        let bs = if b.is_empty() { b } else { &b[span.clone()] };
        f(&a[span], bs, o)
    });
}

/// out = softmax(x) row-wise; x, out: `[rows, dim]`.
///
/// # Panics
/// If a slice is shorter than `rows·dim`.
pub fn softmax_fwd(rows: usize, dim: usize, x: &[f32], out: &mut [f32]) {
    softmax_fwd_with(SimdPath::best(), rows, dim, x, out)
}

/// [`softmax_fwd`] on a chosen SIMD path (falls back to portable where unsupported).
#[track_caller]
pub fn softmax_fwd_with(path: SimdPath, rows: usize, dim: usize, x: &[f32], out: &mut [f32]) {
    check(rows, dim, "x", x);
    check(rows, dim, "out", out);
    if dim == 0 || rows == 0 {
        return;
    }
    let k = kernels(path);
    // SAFETY: `kernels` only hands out the AVX-512 kernel when the CPU supports it; every call
    // gets whole rows with equally long input and output.
    for_chunks(rows, dim, x, &[], out, |xc, _, oc| unsafe {
        (k.fwd)(dim, xc, oc)
    });
}

/// dx = out ⊙ (dout − Σ dout⊙out) per row; overwrites dx.
///
/// # Panics
/// If a slice is shorter than `rows·dim`.
pub fn softmax_bwd(rows: usize, dim: usize, out: &[f32], dout: &[f32], dx: &mut [f32]) {
    softmax_bwd_with(SimdPath::best(), rows, dim, out, dout, dx)
}

/// [`softmax_bwd`] on a chosen SIMD path (falls back to portable where unsupported).
#[track_caller]
pub fn softmax_bwd_with(
    path: SimdPath,
    rows: usize,
    dim: usize,
    out: &[f32],
    dout: &[f32],
    dx: &mut [f32],
) {
    check(rows, dim, "out", out);
    check(rows, dim, "dout", dout);
    check(rows, dim, "dx", dx);
    if dim == 0 || rows == 0 {
        return;
    }
    let k = kernels(path);
    // SAFETY: as in the forward.
    for_chunks(rows, dim, out, dout, dx, |oc, gc, dc| unsafe {
        (k.bwd)(dim, oc, gc, dc)
    });
}

fn fwd_portable(dim: usize, x: &[f32], out: &mut [f32]) {
    fwd_rows::<f32x8>(dim, x, out)
}

fn bwd_portable(dim: usize, out: &[f32], dout: &[f32], dx: &mut [f32]) {
    bwd_rows::<f32x8>(dim, out, dout, dx)
}

/// The row kernels on raw AVX2+FMA (fast without the workspace's rustflags floor).
#[cfg(target_arch = "x86_64")]
mod avx2 {
    use crate::cpu::simd::A8;

    /// # Safety
    /// The CPU must support AVX2 and FMA.
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn fwd(dim: usize, x: &[f32], out: &mut [f32]) {
        super::fwd_rows::<A8>(dim, x, out)
    }

    /// # Safety
    /// The CPU must support AVX2 and FMA.
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn bwd(dim: usize, out: &[f32], dout: &[f32], dx: &mut [f32]) {
        super::bwd_rows::<A8>(dim, out, dout, dx)
    }
}

#[inline(always)]
fn fwd_rows<V: F8>(dim: usize, x: &[f32], out: &mut [f32]) {
    if dim.is_multiple_of(8) {
        match dim / 8 {
            1 => return short_rows::<V, 1>(x, out),
            2 => return short_rows::<V, 2>(x, out),
            3 => return short_rows::<V, 3>(x, out),
            4 => return short_rows::<V, 4>(x, out),
            5 => return short_rows::<V, 5>(x, out),
            6 => return short_rows::<V, 6>(x, out),
            7 => return short_rows::<V, 7>(x, out),
            8 => return short_rows::<V, 8>(x, out),
            _ => {}
        }
    }
    for (xr, or) in x.chunks_exact(dim).zip(out.chunks_exact_mut(dim)) {
        let m = row_max::<V>(xr);
        let vm = V::splat(m);
        let (mut s0, mut s1) = (V::ZERO, V::ZERO);
        let mut xs = xr.chunks_exact(16);
        let mut os = or.chunks_exact_mut(16);
        for (xc, oc) in (&mut xs).zip(&mut os) {
            let e0 = (V::load8(xc) - vm).exp();
            let e1 = (V::load8(&xc[8..]) - vm).exp();
            e0.store8(oc);
            e1.store8(&mut oc[8..]);
            s0 += e0;
            s1 += e1;
        }
        let mut sum = (s0 + s1).reduce_add();
        for (&v, o) in xs.remainder().iter().zip(os.into_remainder()) {
            *o = fast_exp(v - m);
            sum += *o;
        }
        let inv = 1.0 / sum;
        let vi = V::splat(inv);
        let mut os = or.chunks_exact_mut(8);
        for c in &mut os {
            (V::load8(c) * vi).store8(c);
        }
        os.into_remainder().iter_mut().for_each(|v| *v *= inv);
    }
}

/// Rows of `8K ≤ 64` floats (attention rows over 64 keys) kept in registers from load to
/// store: one read and one write per element instead of the general loop's extra pass over
/// `out`, and no loop or tail control per row.
#[inline(always)]
fn short_rows<V: F8, const K: usize>(x: &[f32], out: &mut [f32]) {
    for (xr, or) in x.chunks_exact(8 * K).zip(out.chunks_exact_mut(8 * K)) {
        let v: [V; K] = std::array::from_fn(|k| V::load8(&xr[8 * k..]));
        let m = v[1..].iter().fold(v[0], |a, &b| a.fast_max(b));
        let vm = V::splat(m.reduce_max());
        let e: [V; K] = std::array::from_fn(|k| (v[k] - vm).exp());
        let s = e[1..].iter().fold(e[0], |a, &b| a + b);
        let inv = V::splat(1.0 / s.reduce_add());
        for (k, ek) in e.iter().enumerate() {
            (*ek * inv).store8(&mut or[8 * k..]);
        }
    }
}

#[inline(always)]
fn bwd_rows<V: F8>(dim: usize, out: &[f32], dout: &[f32], dx: &mut [f32]) {
    let rows = out
        .chunks_exact(dim)
        .zip(dout.chunks_exact(dim))
        .zip(dx.chunks_exact_mut(dim));
    for ((or, gr), dr) in rows {
        let (mut a0, mut a1) = (V::ZERO, V::ZERO);
        let mut os = or.chunks_exact(16);
        let mut gs = gr.chunks_exact(16);
        for (oc, gc) in (&mut os).zip(&mut gs) {
            a0 = V::load8(oc).mul_add(V::load8(gc), a0);
            a1 = V::load8(&oc[8..]).mul_add(V::load8(&gc[8..]), a1);
        }
        let mut s = (a0 + a1).reduce_add();
        for (&o, &g) in os.remainder().iter().zip(gs.remainder()) {
            s = o.mul_add(g, s);
        }
        let vs = V::splat(s);
        let mut os = or.chunks_exact(8);
        let mut gs = gr.chunks_exact(8);
        let mut ds = dr.chunks_exact_mut(8);
        for ((oc, gc), dc) in (&mut os).zip(&mut gs).zip(&mut ds) {
            ((V::load8(gc) - vs) * V::load8(oc)).store8(dc);
        }
        let rest = os
            .remainder()
            .iter()
            .zip(gs.remainder())
            .zip(ds.into_remainder());
        for ((&o, &g), d) in rest {
            *d = (g - s) * o;
        }
    }
}

/// Scalar reference of [`softmax_fwd`] in f64.
pub fn softmax_fwd_ref(rows: usize, dim: usize, x: &[f32], out: &mut [f32]) {
    for r in 0..rows {
        let xr = &x[r * dim..(r + 1) * dim];
        let m = xr.iter().fold(f64::NEG_INFINITY, |a, &v| a.max(v as f64));
        let sum: f64 = xr.iter().map(|&v| (v as f64 - m).exp()).sum();
        for (o, &v) in out[r * dim..(r + 1) * dim].iter_mut().zip(xr) {
            *o = ((v as f64 - m).exp() / sum) as f32;
        }
    }
}

/// Scalar reference of [`softmax_bwd`] in f64.
pub fn softmax_bwd_ref(rows: usize, dim: usize, out: &[f32], dout: &[f32], dx: &mut [f32]) {
    for r in 0..rows {
        let row = r * dim..(r + 1) * dim;
        let s: f64 = out[row.clone()]
            .iter()
            .zip(&dout[row.clone()])
            .map(|(&o, &g)| o as f64 * g as f64)
            .sum();
        for j in row {
            dx[j] = ((dout[j] as f64 - s) * out[j] as f64) as f32;
        }
    }
}

#[cfg(test)]
mod tests;
