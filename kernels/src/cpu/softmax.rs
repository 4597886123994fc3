//! Row softmax over the last dimension.
//!
//! Forward per row: `out = e^{x − max x} / Σ e^{x − max x}` (max-subtracted, so no overflow and
//! the largest term is exactly 1, which also keeps the sum ≥ 1). Backward:
//! `dx = out ⊙ (dout − Σ dout⊙out)`. A row of all −∞ (or containing NaN) gives NaN, as in PyTorch.
//!
//! The fast versions split rows into a few chunks per rayon thread and run a row kernel (AVX-512
//! or portable `wide`, chosen once) over each chunk; `exp` is the shared one from `simd`.

#[cfg(target_arch = "x86_64")]
mod avx512;

use super::simd::{dot, exp_f32x8, fast_exp, load8, max, rows_per_task, scale, store8, SimdPath};
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
    for (xr, or) in x.chunks_exact(dim).zip(out.chunks_exact_mut(dim)) {
        let m = max(xr);
        let vm = f32x8::splat(m);
        let (mut s0, mut s1) = (f32x8::ZERO, f32x8::ZERO);
        let mut xs = xr.chunks_exact(16);
        let mut os = or.chunks_exact_mut(16);
        for (xc, oc) in (&mut xs).zip(&mut os) {
            let e0 = exp_f32x8(load8(xc) - vm);
            let e1 = exp_f32x8(load8(&xc[8..]) - vm);
            store8(oc, e0);
            store8(&mut oc[8..], e1);
            s0 += e0;
            s1 += e1;
        }
        let mut sum = (s0 + s1).reduce_add();
        for (&v, o) in xs.remainder().iter().zip(os.into_remainder()) {
            *o = fast_exp(v - m);
            sum += *o;
        }
        scale(1.0 / sum, or);
    }
}

fn bwd_portable(dim: usize, out: &[f32], dout: &[f32], dx: &mut [f32]) {
    let rows = out
        .chunks_exact(dim)
        .zip(dout.chunks_exact(dim))
        .zip(dx.chunks_exact_mut(dim));
    for ((or, gr), dr) in rows {
        let s = dot(or, gr);
        let vs = f32x8::splat(s);
        let mut os = or.chunks_exact(8);
        let mut gs = gr.chunks_exact(8);
        let mut ds = dr.chunks_exact_mut(8);
        for ((oc, gc), dc) in (&mut os).zip(&mut gs).zip(&mut ds) {
            store8(dc, (load8(gc) - vs) * load8(oc));
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
