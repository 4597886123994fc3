//! Regression losses between predictions z and targets h, mean over all elements.
//!
//! I-JEPA regresses layer-normed target features with smooth-L1 (beta = 1); MSE is the paper's
//! L2 option. Forward sums run in f32 vector lanes inside chunks of `CHUNK` elements and in f64
//! across chunks, so the error does not grow with the element count.

use rayon::prelude::*;
use wide::f32x8;

/// Elements per rayon task and per f32 partial sum.
const CHUNK: usize = 1 << 13;
/// Below this many elements one thread does everything.
const PAR_MIN: usize = 1 << 16;

/// smooth-L1: 0.5·d²/beta if |d| < beta else |d| − 0.5·beta, d = z − h; returns the mean.
pub fn smooth_l1_fwd(z: &[f32], h: &[f32], beta: f32) -> f32 {
    let inv2b = f32x8::splat(0.5 / beta);
    let vbeta = f32x8::splat(beta);
    let hb = f32x8::splat(0.5 * beta);
    let lane = |d: f32x8| {
        let ad = d.abs();
        ad.simd_lt(vbeta).select(d * d * inv2b, ad - hb)
    };
    let scalar = |d: f32| {
        if d.abs() < beta {
            0.5 * d * d / beta
        } else {
            d.abs() - 0.5 * beta
        }
    };
    mean_of(z, h, lane, scalar)
}

/// Scalar reference of [`smooth_l1_fwd`] (f64 accumulation).
pub fn smooth_l1_fwd_ref(z: &[f32], h: &[f32], beta: f32) -> f32 {
    let beta = beta as f64;
    let sum: f64 = z
        .iter()
        .zip(h)
        .map(|(&z, &h)| {
            let d = z as f64 - h as f64;
            if d.abs() < beta {
                0.5 * d * d / beta
            } else {
                d.abs() - 0.5 * beta
            }
        })
        .sum();
    (sum / z.len() as f64) as f32
}

/// dz = upstream · d loss / dz (dh = −dz); overwrites dz.
pub fn smooth_l1_bwd(z: &[f32], h: &[f32], beta: f32, upstream: f32, dz: &mut [f32]) {
    let coef = (upstream as f64 / z.len() as f64) as f32;
    if beta > 0.0 {
        // |d| ≥ beta ⇔ |d/beta| ≥ 1, so clamping d/beta gives both branches of the derivative.
        let (vb, one, c) = (f32x8::splat(beta), f32x8::ONE, f32x8::splat(coef));
        let lane = |d: f32x8| (d / vb).fast_max(-one).fast_min(one) * c;
        let scalar = |d: f32| (d / beta).clamp(-1.0, 1.0) * coef;
        map_into(z, h, dz, lane, scalar);
    } else {
        // beta = 0 is plain L1: the derivative is sign(d), 0 at d = 0 (as in PyTorch).
        let (one, c) = (f32x8::ONE, f32x8::splat(coef));
        let lane = |d: f32x8| ((d.simd_gt(f32x8::ZERO) & one) - (d.simd_lt(f32x8::ZERO) & one)) * c;
        map_into(z, h, dz, lane, |d| sign(d) * coef);
    }
}

/// Scalar reference of [`smooth_l1_bwd`].
pub fn smooth_l1_bwd_ref(z: &[f32], h: &[f32], beta: f32, upstream: f32, dz: &mut [f32]) {
    let coef = upstream as f64 / z.len() as f64;
    for ((o, &z), &h) in dz.iter_mut().zip(z).zip(h) {
        let d = z as f64 - h as f64;
        let g = if d.abs() < beta as f64 {
            d / beta as f64
        } else {
            sign(d as f32) as f64
        };
        *o = (g * coef) as f32;
    }
}

/// mean((z − h)²)
pub fn mse_fwd(z: &[f32], h: &[f32]) -> f32 {
    mean_of(z, h, |d| d * d, |d| d * d)
}

/// Scalar reference of [`mse_fwd`] (f64 accumulation).
pub fn mse_fwd_ref(z: &[f32], h: &[f32]) -> f32 {
    let sum: f64 = z
        .iter()
        .zip(h)
        .map(|(&z, &h)| {
            let d = z as f64 - h as f64;
            d * d
        })
        .sum();
    (sum / z.len() as f64) as f32
}

/// dz = upstream · 2·(z − h) / len; overwrites dz.
pub fn mse_bwd(z: &[f32], h: &[f32], upstream: f32, dz: &mut [f32]) {
    let coef = (2.0 * upstream as f64 / z.len() as f64) as f32;
    let c = f32x8::splat(coef);
    map_into(z, h, dz, |d| d * c, |d| d * coef);
}

/// Scalar reference of [`mse_bwd`].
pub fn mse_bwd_ref(z: &[f32], h: &[f32], upstream: f32, dz: &mut [f32]) {
    let coef = 2.0 * upstream as f64 / z.len() as f64;
    for ((o, &z), &h) in dz.iter_mut().zip(z).zip(h) {
        *o = ((z as f64 - h as f64) * coef) as f32;
    }
}

fn sign(d: f32) -> f32 {
    if d > 0.0 {
        1.0
    } else if d < 0.0 {
        -1.0
    } else {
        0.0
    }
}

fn lanes(s: &[f32]) -> f32x8 {
    f32x8::from(<[f32; 8]>::try_from(s).expect("chunk of 8"))
}

/// mean over i of `f(z_i − h_i)`; `lane` and `scalar` must compute the same `f`.
fn mean_of(
    z: &[f32],
    h: &[f32],
    lane: impl Fn(f32x8) -> f32x8 + Sync,
    scalar: impl Fn(f32) -> f32 + Sync,
) -> f32 {
    let len = z.len().min(h.len());
    let chunk_sum = |(z, h): (&[f32], &[f32])| -> f64 {
        // Two accumulators so consecutive adds do not wait on each other.
        let mut acc = [f32x8::ZERO; 2];
        let (mut z16, mut h16) = (z.chunks_exact(16), h.chunks_exact(16));
        for (z, h) in (&mut z16).zip(&mut h16) {
            acc[0] += lane(lanes(&z[..8]) - lanes(&h[..8]));
            acc[1] += lane(lanes(&z[8..]) - lanes(&h[8..]));
        }
        let tail: f32 = z16
            .remainder()
            .iter()
            .zip(h16.remainder())
            .map(|(&z, &h)| scalar(z - h))
            .sum();
        (acc[0] + acc[1]).reduce_add() as f64 + tail as f64
    };
    let (z, h) = (&z[..len], &h[..len]);
    let sum: f64 = if len < PAR_MIN {
        z.chunks(CHUNK).zip(h.chunks(CHUNK)).map(chunk_sum).sum()
    } else {
        // Partials collected in chunk order and added sequentially: rayon's parallel `sum`
        // combines them in a work-stealing-dependent order, so the total would change between
        // runs in its last bits.
        let parts: Vec<f64> = z
            .par_chunks(CHUNK)
            .zip(h.par_chunks(CHUNK))
            .map(chunk_sum)
            .collect();
        parts.iter().sum()
    };
    (sum / len as f64) as f32
}

/// `out_i = f(z_i − h_i)`; `lane` and `scalar` must compute the same `f`.
fn map_into(
    z: &[f32],
    h: &[f32],
    out: &mut [f32],
    lane: impl Fn(f32x8) -> f32x8 + Sync,
    scalar: impl Fn(f32) -> f32 + Sync,
) {
    let len = z.len().min(h.len()).min(out.len());
    let chunk = |((o, z), h): ((&mut [f32], &[f32]), &[f32])| {
        let done = o.len() / 8 * 8;
        let mut o8 = o.chunks_exact_mut(8);
        for ((o, z), h) in (&mut o8).zip(z.chunks_exact(8)).zip(h.chunks_exact(8)) {
            o.copy_from_slice(lane(lanes(z) - lanes(h)).as_array());
        }
        for ((o, &z), &h) in o8
            .into_remainder()
            .iter_mut()
            .zip(&z[done..])
            .zip(&h[done..])
        {
            *o = scalar(z - h);
        }
    };
    let (z, h, out) = (&z[..len], &h[..len], &mut out[..len]);
    if len < PAR_MIN {
        out.chunks_mut(CHUNK)
            .zip(z.chunks(CHUNK))
            .zip(h.chunks(CHUNK))
            .for_each(chunk);
    } else {
        out.par_chunks_mut(CHUNK)
            .zip(z.par_chunks(CHUNK))
            .zip(h.par_chunks(CHUNK))
            .for_each(chunk);
    }
}
