//! LayerNorm over the last dimension (biased variance), with or without affine.
//!
//! Forward per row: `mean = Σx/D`, `var = Σ(x−mean)²/D` (two passes over a row that sits in L1:
//! a one-pass Σx² in f32 cancels badly when |mean| ≫ std), `rstd = 1/√(var+eps)`,
//! `out = (x−mean)·rstd·w + b`.
//! Backward per row with `x̂ = (x−mean)·rstd`, `g = dout·w`:
//! `dx = rstd·(g − mean(g) − x̂·mean(g·x̂))`, `dw = Σ_rows dout·x̂`, `db = Σ_rows dout`.
//!
//! The fast versions split rows into a few chunks per rayon thread (never one task per row), run
//! a row kernel (AVX-512, or one generic kernel on AVX2 intrinsics or portable `wide`; chosen
//! once) over each chunk, and for `dw`/`db` let every chunk accumulate its own partial sums that
//! are combined at the end.

#[cfg(target_arch = "x86_64")]
mod avx512;
mod portable;

use super::simd::{rows_per_task, SimdPath};
use rayon::prelude::*;
use std::sync::OnceLock;

/// A chunk of the forward: rows = `mean.len()`, `x`/`out` hold `rows·dim`, `w`/`b` ≥ `dim`.
type FwdRows = unsafe fn(
    usize,
    f32,
    &[f32],
    Option<&[f32]>,
    Option<&[f32]>,
    &mut [f32],
    &mut [f32],
    &mut [f32],
);
/// A chunk of the backward; adds this chunk's `Σ dout·x̂` / `Σ dout` into the partials.
type BwdRows = unsafe fn(
    usize,
    &[f32],
    Option<&[f32]>,
    &[f32],
    &[f32],
    &[f32],
    &mut [f32],
    Option<&mut [f32]>,
    Option<&mut [f32]>,
);

struct Kernels {
    fwd: FwdRows,
    bwd: BwdRows,
}

static PORTABLE: Kernels = Kernels {
    fwd: portable::fwd_rows::<wide::f32x8>,
    bwd: portable::bwd_rows::<wide::f32x8>,
};
#[cfg(target_arch = "x86_64")]
static AVX2: Kernels = Kernels {
    fwd: portable::avx2::fwd_rows,
    bwd: portable::avx2::bwd_rows,
};
#[cfg(target_arch = "x86_64")]
static AVX512: Kernels = Kernels {
    fwd: avx512::fwd_rows,
    bwd: avx512::bwd_rows,
};

fn kernels(path: SimdPath) -> &'static Kernels {
    match path.or_portable() {
        #[cfg(target_arch = "x86_64")]
        SimdPath::Avx512 => &AVX512,
        #[cfg(target_arch = "x86_64")]
        SimdPath::Avx2 => &AVX2,
        _ => &PORTABLE,
    }
}

fn best() -> &'static Kernels {
    static BEST: OnceLock<&'static Kernels> = OnceLock::new();
    BEST.get_or_init(|| kernels(SimdPath::best()))
}

/// Elements per rayon task below which a call stays on one thread.
const MIN_TASK_ELEMS: usize = 16 * 1024;

#[track_caller]
fn check(rows: usize, dim: usize, what: &str, s: &[f32], per_row: bool) {
    let need = if per_row { rows } else { rows * dim };
    assert!(
        s.len() >= need,
        "layernorm: `{what}` has {} elements, needs {need}",
        s.len()
    );
}

#[track_caller]
fn check_param(dim: usize, what: &str, s: Option<&[f32]>) {
    if let Some(s) = s {
        assert!(
            s.len() >= dim,
            "layernorm: `{what}` has {} elements, needs {dim}",
            s.len()
        );
    }
}

/// x, out: `[rows, dim]`; weight, bias: `[dim]` or None; mean, rstd: `[rows]` (saved for backward).
///
/// # Panics
/// If a slice is shorter than the shape requires (the engine validates shapes first).
#[allow(clippy::too_many_arguments)]
pub fn layernorm_fwd(
    rows: usize,
    dim: usize,
    eps: f32,
    x: &[f32],
    weight: Option<&[f32]>,
    bias: Option<&[f32]>,
    out: &mut [f32],
    mean: &mut [f32],
    rstd: &mut [f32],
) {
    layernorm_fwd_with(
        SimdPath::best(),
        rows,
        dim,
        eps,
        x,
        weight,
        bias,
        out,
        mean,
        rstd,
    )
}

/// [`layernorm_fwd`] on a chosen SIMD path (falls back to portable where unsupported).
#[allow(clippy::too_many_arguments)]
#[track_caller]
pub fn layernorm_fwd_with(
    path: SimdPath,
    rows: usize,
    dim: usize,
    eps: f32,
    x: &[f32],
    weight: Option<&[f32]>,
    bias: Option<&[f32]>,
    out: &mut [f32],
    mean: &mut [f32],
    rstd: &mut [f32],
) {
    check(rows, dim, "x", x, false);
    check(rows, dim, "out", out, false);
    check(rows, dim, "mean", mean, true);
    check(rows, dim, "rstd", rstd, true);
    check_param(dim, "weight", weight);
    check_param(dim, "bias", bias);
    let k = if path == SimdPath::best() {
        best()
    } else {
        kernels(path)
    };
    let (x, out) = (&x[..rows * dim], &mut out[..rows * dim]);
    let (mean, rstd) = (&mut mean[..rows], &mut rstd[..rows]);
    if dim == 0 {
        // Empty rows: mean 0 and rstd 1/√eps, as the reference computes.
        mean.fill(0.0);
        rstd.fill((1.0 / (eps as f64).sqrt()) as f32);
        return;
    }
    let cr = rows_per_task(rows, dim, MIN_TASK_ELEMS);
    // SAFETY (both calls): the slices are cut to exactly `rows·dim` / `rows` above and split
    // consistently per chunk; weight/bias hold ≥ dim; the AVX-512 kernel is only selected when
    // the CPU supports it (`kernels` falls back otherwise).
    if cr >= rows {
        unsafe { (k.fwd)(dim, eps, x, weight, bias, out, mean, rstd) };
        return;
    }
    out.par_chunks_mut(cr * dim)
        .zip(mean.par_chunks_mut(cr).zip(rstd.par_chunks_mut(cr)))
        .enumerate()
        .for_each(|(ci, (o, (m, r)))| {
            let xs = &x[ci * cr * dim..ci * cr * dim + o.len()];
            unsafe { (k.fwd)(dim, eps, xs, weight, bias, o, m, r) };
        });
}

/// Overwrites dx, and dweight / dbias when given (summed over rows).
///
/// # Panics
/// If a slice is shorter than the shape requires (the engine validates shapes first).
#[allow(clippy::too_many_arguments)]
pub fn layernorm_bwd(
    rows: usize,
    dim: usize,
    x: &[f32],
    weight: Option<&[f32]>,
    mean: &[f32],
    rstd: &[f32],
    dout: &[f32],
    dx: &mut [f32],
    dweight: Option<&mut [f32]>,
    dbias: Option<&mut [f32]>,
) {
    layernorm_bwd_with(
        SimdPath::best(),
        rows,
        dim,
        x,
        weight,
        mean,
        rstd,
        dout,
        dx,
        dweight,
        dbias,
    )
}

/// [`layernorm_bwd`] on a chosen SIMD path (falls back to portable where unsupported).
#[allow(clippy::too_many_arguments)]
#[track_caller]
pub fn layernorm_bwd_with(
    path: SimdPath,
    rows: usize,
    dim: usize,
    x: &[f32],
    weight: Option<&[f32]>,
    mean: &[f32],
    rstd: &[f32],
    dout: &[f32],
    dx: &mut [f32],
    dweight: Option<&mut [f32]>,
    dbias: Option<&mut [f32]>,
) {
    check(rows, dim, "x", x, false);
    check(rows, dim, "dout", dout, false);
    check(rows, dim, "dx", dx, false);
    check(rows, dim, "mean", mean, true);
    check(rows, dim, "rstd", rstd, true);
    check_param(dim, "weight", weight);
    check_param(dim, "dweight", dweight.as_deref());
    check_param(dim, "dbias", dbias.as_deref());
    let k = if path == SimdPath::best() {
        best()
    } else {
        kernels(path)
    };
    let (x, dout, dx) = (&x[..rows * dim], &dout[..rows * dim], &mut dx[..rows * dim]);
    let (mean, rstd) = (&mean[..rows], &rstd[..rows]);
    let mut dweight = dweight.map(|d| &mut d[..dim]);
    let mut dbias = dbias.map(|d| &mut d[..dim]);
    dweight.iter_mut().for_each(|d| d.fill(0.0));
    dbias.iter_mut().for_each(|d| d.fill(0.0));
    if dim == 0 || rows == 0 {
        return;
    }
    let cr = rows_per_task(rows, dim, MIN_TASK_ELEMS);
    // SAFETY (both calls): as in the forward; partial buffers hold exactly `dim` per chunk.
    if cr >= rows {
        unsafe { (k.bwd)(dim, x, weight, mean, rstd, dout, dx, dweight, dbias) };
        return;
    }
    let chunks = rows.div_ceil(cr);
    let (want_w, want_b) = (dweight.is_some(), dbias.is_some());
    // One row of partial dweight and one of dbias per chunk; allocated once per call.
    let mut partial = vec![
        0f32;
        if want_w || want_b {
            chunks * 2 * dim
        } else {
            0
        }
    ];
    let run = |ci: usize, dxc: &mut [f32], p: Option<&mut [f32]>| {
        let (r0, r1) = (ci * cr, (ci * cr + cr).min(rows));
        let span = r0 * dim..r1 * dim;
        let (pw, pb) = match p {
            Some(p) => {
                let (pw, pb) = p.split_at_mut(dim);
                (want_w.then_some(pw), want_b.then_some(pb))
            }
            None => (None, None),
        };
        let (xs, ds, ms, rs) = (&x[span.clone()], &dout[span], &mean[r0..r1], &rstd[r0..r1]);
        unsafe { (k.bwd)(dim, xs, weight, ms, rs, ds, dxc, pw, pb) };
    };
    if partial.is_empty() {
        dx.par_chunks_mut(cr * dim)
            .enumerate()
            .for_each(|(ci, dxc)| run(ci, dxc, None));
        return;
    }
    dx.par_chunks_mut(cr * dim)
        .zip(partial.par_chunks_mut(2 * dim))
        .enumerate()
        .for_each(|(ci, (dxc, p))| run(ci, dxc, Some(p)));
    for p in partial.chunks_exact(2 * dim) {
        let (pw, pb) = p.split_at(dim);
        if let Some(dw) = dweight.as_deref_mut() {
            dw.iter_mut().zip(pw).for_each(|(d, v)| *d += v);
        }
        if let Some(db) = dbias.as_deref_mut() {
            db.iter_mut().zip(pb).for_each(|(d, v)| *d += v);
        }
    }
}

/// Scalar reference of [`layernorm_fwd`], f64 statistics.
#[allow(clippy::too_many_arguments)]
pub fn layernorm_fwd_ref(
    rows: usize,
    dim: usize,
    eps: f32,
    x: &[f32],
    weight: Option<&[f32]>,
    bias: Option<&[f32]>,
    out: &mut [f32],
    mean: &mut [f32],
    rstd: &mut [f32],
) {
    for r in 0..rows {
        let xr = &x[r * dim..(r + 1) * dim];
        let mu = xr.iter().map(|&v| v as f64).sum::<f64>() / dim.max(1) as f64;
        let var = xr.iter().map(|&v| (v as f64 - mu).powi(2)).sum::<f64>() / dim.max(1) as f64;
        let rs = 1.0 / (var + eps as f64).sqrt();
        for (j, &v) in xr.iter().enumerate() {
            let mut y = (v as f64 - mu) * rs;
            if let Some(w) = weight {
                y *= w[j] as f64;
            }
            if let Some(b) = bias {
                y += b[j] as f64;
            }
            out[r * dim + j] = y as f32;
        }
        mean[r] = mu as f32;
        rstd[r] = rs as f32;
    }
}

/// Scalar reference of [`layernorm_bwd`], f64 accumulation.
#[allow(clippy::too_many_arguments)]
pub fn layernorm_bwd_ref(
    rows: usize,
    dim: usize,
    x: &[f32],
    weight: Option<&[f32]>,
    mean: &[f32],
    rstd: &[f32],
    dout: &[f32],
    dx: &mut [f32],
    dweight: Option<&mut [f32]>,
    dbias: Option<&mut [f32]>,
) {
    let mut dw = vec![0f64; dim];
    let mut db = vec![0f64; dim];
    for r in 0..rows {
        let (mu, rs) = (mean[r] as f64, rstd[r] as f64);
        let row = r * dim..(r + 1) * dim;
        let xhat: Vec<f64> = x[row.clone()]
            .iter()
            .map(|&v| (v as f64 - mu) * rs)
            .collect();
        let g: Vec<f64> = (0..dim)
            .map(|j| dout[r * dim + j] as f64 * weight.map_or(1.0, |w| w[j] as f64))
            .collect();
        let mg = g.iter().sum::<f64>() / dim as f64;
        let mgx = g.iter().zip(&xhat).map(|(a, b)| a * b).sum::<f64>() / dim as f64;
        for j in 0..dim {
            dx[r * dim + j] = (rs * (g[j] - mg - xhat[j] * mgx)) as f32;
            dw[j] += dout[r * dim + j] as f64 * xhat[j];
            db[j] += dout[r * dim + j] as f64;
        }
    }
    if let Some(d) = dweight {
        d.iter_mut().zip(&dw).for_each(|(o, v)| *o = *v as f32);
    }
    if let Some(d) = dbias {
        d.iter_mut().zip(&db).for_each(|(o, v)| *o = *v as f32);
    }
}

#[cfg(test)]
mod tests;
