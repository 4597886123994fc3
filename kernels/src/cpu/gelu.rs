//! GELU, erf form: `gelu(x) = x·Φ(x) = 0.5·x·(1 + erf(x/√2))`,
//! `gelu'(x) = Φ(x) + x·φ(x)` with `φ(x) = e^{−x²/2}/√(2π)`.
//!
//! Both directions evaluate Φ through the Gaussian upper tail (see `erf.rs`) so negative inputs
//! keep their relative accuracy, and share one `e^{−x²/2}` between Φ and φ. Inputs below −20
//! (Φ < 1e-88, zero in f32) give exactly 0 even for −∞ instead of `−∞·0 = NaN`.
//! The fast versions run a SIMD kernel (AVX-512, or one generic kernel on AVX2 intrinsics or
//! portable `wide`; chosen once) over a few contiguous chunks per rayon thread. A vector evaluates only the side of the erf split its
//! lanes need (AVX-512 both directions, portable the forward): activations mostly sit below it,
//! where the forward needs no exponential (`erf.rs`; `examples/gelu_spread.rs` times it).

#[cfg(target_arch = "x86_64")]
mod avx512;
mod erf;

pub use erf::{erf, erf_f32x8, erf_f64, erfc_f64};

use super::simd::{SimdPath, F8};
use erf::{cdf8, cdf_scalar, FRAC_1_SQRT_2PI};
use rayon::prelude::*;
use std::sync::OnceLock;
use wide::f32x8;

/// Where Φ has underflowed: clamping here keeps `x·Φ(x)` finite for x = −∞.
const X_LO: f32 = -20.0;

type Fwd = unsafe fn(&[f32], &mut [f32]);
type Bwd = unsafe fn(&[f32], &[f32], &mut [f32]);
/// `(x, g, d)`: g = gelu(x), and d (dout on entry) becomes dout·gelu'(x).
type FwdBwd = unsafe fn(&[f32], &mut [f32], &mut [f32]);

struct Kernels {
    fwd: Fwd,
    bwd: Bwd,
    fwd_bwd: FwdBwd,
}

static PORTABLE: Kernels = Kernels {
    fwd: fwd_portable,
    bwd: bwd_portable,
    fwd_bwd: fwd_bwd_portable,
};
#[cfg(target_arch = "x86_64")]
static AVX2: Kernels = Kernels {
    fwd: avx2::fwd,
    bwd: avx2::bwd,
    fwd_bwd: avx2::fwd_bwd,
};
#[cfg(target_arch = "x86_64")]
static AVX512: Kernels = Kernels {
    fwd: avx512::fwd,
    bwd: avx512::bwd,
    fwd_bwd: avx512::fwd_bwd,
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

/// Elements per rayon task below which a call stays on one thread (~40 flops per element).
const MIN_TASK_ELEMS: usize = 8 * 1024;

fn chunk_len(n: usize) -> usize {
    let threads = rayon::current_num_threads().max(1);
    // Multiple of 16 so only the last chunk has a SIMD tail.
    n.div_ceil(threads * 4)
        .max(MIN_TASK_ELEMS)
        .next_multiple_of(16)
}

#[track_caller]
fn check(what: &str, need: usize, s: &[f32]) {
    assert!(
        s.len() >= need,
        "gelu: `{what}` has {} elements, needs {need}",
        s.len()
    );
}

/// out = gelu(x) over `x.len()` elements.
///
/// # Panics
/// If `out` is shorter than `x`.
pub fn gelu_fwd(x: &[f32], out: &mut [f32]) {
    gelu_fwd_with(SimdPath::best(), x, out)
}

/// [`gelu_fwd`] on a chosen SIMD path (falls back to portable where unsupported).
#[track_caller]
pub fn gelu_fwd_with(path: SimdPath, x: &[f32], out: &mut [f32]) {
    check("out", x.len(), out);
    let k = kernels(path);
    let out = &mut out[..x.len()];
    let cl = chunk_len(x.len());
    // SAFETY: `kernels` only hands out the AVX-512 kernel when the CPU supports it, and every
    // call gets equally long input/output slices.
    if cl >= x.len() {
        unsafe { (k.fwd)(x, out) };
    } else {
        x.par_chunks(cl)
            .zip(out.par_chunks_mut(cl))
            .for_each(|(xc, oc)| unsafe { (k.fwd)(xc, oc) });
    }
}

/// dx = dout · gelu'(x); overwrites dx.
///
/// # Panics
/// If `dout` or `dx` is shorter than `x`.
pub fn gelu_bwd(x: &[f32], dout: &[f32], dx: &mut [f32]) {
    gelu_bwd_with(SimdPath::best(), x, dout, dx)
}

/// [`gelu_bwd`] on a chosen SIMD path (falls back to portable where unsupported).
#[track_caller]
pub fn gelu_bwd_with(path: SimdPath, x: &[f32], dout: &[f32], dx: &mut [f32]) {
    check("dout", x.len(), dout);
    check("dx", x.len(), dx);
    let k = kernels(path);
    let (dout, dx) = (&dout[..x.len()], &mut dx[..x.len()]);
    let cl = chunk_len(x.len());
    // SAFETY: as in the forward.
    if cl >= x.len() {
        unsafe { (k.bwd)(x, dout, dx) };
    } else {
        x.par_chunks(cl)
            .zip(dout.par_chunks(cl))
            .zip(dx.par_chunks_mut(cl))
            .for_each(|((xc, gc), dc)| unsafe { (k.bwd)(xc, gc, dc) });
    }
}

/// Both directions from one evaluation of Φ: `g = gelu(x)` and `d ← d·gelu'(x)` (`d` holds
/// dout on entry, dx on return). A backward that needs the GELU output again (for the next
/// layer's weight gradient) without having stored it pays one erf per element instead of two;
/// the results are bit-identical to [`gelu_fwd`] and [`gelu_bwd`].
///
/// # Panics
/// If `g` or `d` is shorter than `x`.
pub fn gelu_fwd_bwd(x: &[f32], g: &mut [f32], d: &mut [f32]) {
    gelu_fwd_bwd_with(SimdPath::best(), x, g, d)
}

/// [`gelu_fwd_bwd`] on a chosen SIMD path (falls back to portable where unsupported).
#[track_caller]
pub fn gelu_fwd_bwd_with(path: SimdPath, x: &[f32], g: &mut [f32], d: &mut [f32]) {
    check("g", x.len(), g);
    check("d", x.len(), d);
    let k = kernels(path);
    let (g, d) = (&mut g[..x.len()], &mut d[..x.len()]);
    let cl = chunk_len(x.len());
    // SAFETY: as in the forward.
    if cl >= x.len() {
        unsafe { (k.fwd_bwd)(x, g, d) };
    } else {
        x.par_chunks(cl)
            .zip(g.par_chunks_mut(cl))
            .zip(d.par_chunks_mut(cl))
            .for_each(|((xc, gc), dc)| unsafe { (k.fwd_bwd)(xc, gc, dc) });
    }
}

fn fwd_portable(x: &[f32], out: &mut [f32]) {
    fwd8::<f32x8>(x, out)
}

fn bwd_portable(x: &[f32], dout: &[f32], dx: &mut [f32]) {
    bwd8::<f32x8>(x, dout, dx)
}

fn fwd_bwd_portable(x: &[f32], g: &mut [f32], d: &mut [f32]) {
    fwd_bwd8::<f32x8>(x, g, d)
}

/// The generic kernels on raw AVX2+FMA (fast without the workspace's rustflags floor).
#[cfg(target_arch = "x86_64")]
mod avx2 {
    use crate::cpu::simd::A8;

    /// # Safety
    /// The CPU must support AVX2 and FMA.
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn fwd(x: &[f32], out: &mut [f32]) {
        super::fwd8::<A8>(x, out)
    }
    /// # Safety
    /// The CPU must support AVX2 and FMA.
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn bwd(x: &[f32], dout: &[f32], dx: &mut [f32]) {
        super::bwd8::<A8>(x, dout, dx)
    }
    /// # Safety
    /// The CPU must support AVX2 and FMA.
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn fwd_bwd(x: &[f32], g: &mut [f32], d: &mut [f32]) {
        super::fwd_bwd8::<A8>(x, g, d)
    }
}

#[inline(always)]
fn fwd8<V: F8>(x: &[f32], out: &mut [f32]) {
    let mut xs = x.chunks_exact(8);
    let mut os = out.chunks_exact_mut(8);
    for (xc, oc) in (&mut xs).zip(&mut os) {
        let v = V::load8(xc);
        let (phi, _) = cdf8::<V, false>(v);
        (v.fast_max(V::splat(X_LO)) * phi).store8(oc);
    }
    for (&v, o) in xs.remainder().iter().zip(os.into_remainder()) {
        *o = v.max(X_LO) * cdf_scalar(v).0;
    }
}

#[inline(always)]
fn bwd8<V: F8>(x: &[f32], dout: &[f32], dx: &mut [f32]) {
    let (mut xs, mut gs) = (x.chunks_exact(8), dout.chunks_exact(8));
    let mut ds = dx.chunks_exact_mut(8);
    let (lo, hi, c) = (V::splat(X_LO), V::splat(-X_LO), V::splat(FRAC_1_SQRT_2PI));
    for ((xc, gc), dc) in (&mut xs).zip(&mut gs).zip(&mut ds) {
        let v = V::load8(xc);
        let (phi, e) = cdf8::<V, true>(v);
        // Clamped x in x·φ(x): φ is 0 there anyway, and ±∞·0 would be NaN.
        let d = (v.fast_max(lo).fast_min(hi) * e).mul_add(c, phi);
        (V::load8(gc) * d).store8(dc);
    }
    let rest = xs
        .remainder()
        .iter()
        .zip(gs.remainder())
        .zip(ds.into_remainder());
    for ((&v, &g), d) in rest {
        let (phi, e) = cdf_scalar(v);
        *d = g * (v.clamp(X_LO, -X_LO) * e).mul_add(FRAC_1_SQRT_2PI, phi);
    }
}

#[inline(always)]
fn fwd_bwd8<V: F8>(x: &[f32], g: &mut [f32], d: &mut [f32]) {
    let (mut xs, mut gs) = (x.chunks_exact(8), g.chunks_exact_mut(8));
    let mut ds = d.chunks_exact_mut(8);
    let (lo, hi, c) = (V::splat(X_LO), V::splat(-X_LO), V::splat(FRAC_1_SQRT_2PI));
    for ((xc, gc), dc) in (&mut xs).zip(&mut gs).zip(&mut ds) {
        let v = V::load8(xc);
        let (phi, e) = cdf8::<V, true>(v);
        (v.fast_max(lo) * phi).store8(gc);
        let dd = (v.fast_max(lo).fast_min(hi) * e).mul_add(c, phi);
        (V::load8(dc) * dd).store8(dc);
    }
    let rest = xs
        .remainder()
        .iter()
        .zip(gs.into_remainder())
        .zip(ds.into_remainder());
    for ((&v, g), d) in rest {
        let (phi, e) = cdf_scalar(v);
        *g = v.max(X_LO) * phi;
        *d *= (v.clamp(X_LO, -X_LO) * e).mul_add(FRAC_1_SQRT_2PI, phi);
    }
}

/// Φ(x) in f64 without cancelling `1 + erf` on the negative side.
fn cdf_f64(x: f64) -> f64 {
    let z = x * std::f64::consts::FRAC_1_SQRT_2;
    if z >= -2.0 {
        0.5 * (1.0 + erf_f64(z))
    } else {
        0.5 * erfc_f64(-z)
    }
}

/// Scalar reference of [`gelu_fwd`] in f64.
pub fn gelu_fwd_ref(x: &[f32], out: &mut [f32]) {
    for (o, &v) in out.iter_mut().zip(x) {
        let v = v as f64;
        *o = (v.max(X_LO as f64) * cdf_f64(v)) as f32;
    }
}

/// Scalar reference of [`gelu_bwd`] in f64.
pub fn gelu_bwd_ref(x: &[f32], dout: &[f32], dx: &mut [f32]) {
    let c = 1.0 / (2.0 * std::f64::consts::PI).sqrt();
    for ((d, &v), &g) in dx.iter_mut().zip(x).zip(dout) {
        let v = v as f64;
        let vc = v.clamp(X_LO as f64, -X_LO as f64);
        *d = (g as f64 * (cdf_f64(v) + vc * c * (-0.5 * v * v).exp())) as f32;
    }
}

#[cfg(test)]
mod tests;
