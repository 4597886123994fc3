//! EMA of the target encoder: `target = m·target + (1 − m)·online`.
//!
//! Same operation order as the official I-JEPA update `t.mul_(m).add_((1 − m)·o)`.

use rayon::prelude::*;
use wide::f32x8;

/// Elements per rayon task.
const CHUNK: usize = 1 << 14;
/// Below this many elements one thread does everything.
const PAR_MIN: usize = 1 << 16;

/// Fast version of [`ema_update_ref`] (f32 vectors, parallel over chunks).
pub fn ema_update(momentum: f32, target: &mut [f32], online: &[f32]) {
    let len = target.len().min(online.len());
    let (m, w) = (momentum, 1.0 - momentum);
    let chunk = |(t, o): (&mut [f32], &[f32])| {
        let (vm, vw) = (f32x8::splat(m), f32x8::splat(w));
        let done = t.len() / 8 * 8;
        let mut t8 = t.chunks_exact_mut(8);
        for (t, o) in (&mut t8).zip(o.chunks_exact(8)) {
            let r = lanes(t) * vm + vw * lanes(o);
            t.copy_from_slice(r.as_array());
        }
        for (t, &o) in t8.into_remainder().iter_mut().zip(&o[done..]) {
            *t = *t * m + w * o;
        }
    };
    let (t, o) = (&mut target[..len], &online[..len]);
    if len < PAR_MIN {
        t.chunks_mut(CHUNK).zip(o.chunks(CHUNK)).for_each(chunk);
    } else {
        t.par_chunks_mut(CHUNK)
            .zip(o.par_chunks(CHUNK))
            .for_each(chunk);
    }
}

/// Scalar reference: each element blended in f64 and rounded once.
pub fn ema_update_ref(momentum: f32, target: &mut [f32], online: &[f32]) {
    let m = momentum as f64;
    for (t, &o) in target.iter_mut().zip(online) {
        *t = (m * *t as f64 + (1.0 - m) * o as f64) as f32;
    }
}

fn lanes(s: &[f32]) -> f32x8 {
    f32x8::from(<[f32; 8]>::try_from(s).expect("chunk of 8"))
}
