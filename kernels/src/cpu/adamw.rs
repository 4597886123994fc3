//! AdamW step (PyTorch semantics: decoupled weight decay `p -= lr·wd·p` before the Adam update,
//! bias correction with the 1-based `step`).
//!
//! The fast version follows the operation order of PyTorch's single-tensor AdamW in f32
//! (`m.lerp_(g, 1−β1)`, `v = β2·v + (1−β2)·g²`, `p -= (lr/bc1) · m / (√v/√bc2 + eps)`), with the
//! bias-correction scalars formed in f64 like PyTorch's Python floats; the reference does the
//! whole update in f64 and rounds once.

use rayon::prelude::*;
use wide::f32x8;

/// Elements per rayon task.
const CHUNK: usize = 1 << 13;
/// Below this many elements one thread does everything.
const PAR_MIN: usize = 1 << 16;

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AdamW {
    pub lr: f32,
    pub beta1: f32,
    pub beta2: f32,
    pub eps: f32,
    pub weight_decay: f32,
}

/// Per-call scalars shared by every element.
struct Coefs {
    decay: f32,
    one_m_b1: f32,
    beta2: f32,
    one_m_b2: f32,
    step_size: f32,
    bc2_sqrt: f32,
    eps: f32,
}

impl Coefs {
    fn new(cfg: AdamW, step: u64) -> Self {
        // A step of 0 would divide by a zero bias correction; treat it as the first step.
        let t = step.max(1).min(i32::MAX as u64) as i32;
        let bc1 = 1.0 - (cfg.beta1 as f64).powi(t);
        let bc2 = 1.0 - (cfg.beta2 as f64).powi(t);
        Coefs {
            decay: (1.0 - cfg.lr as f64 * cfg.weight_decay as f64) as f32,
            one_m_b1: 1.0 - cfg.beta1,
            beta2: cfg.beta2,
            one_m_b2: 1.0 - cfg.beta2,
            step_size: (cfg.lr as f64 / bc1) as f32,
            bc2_sqrt: bc2.sqrt() as f32,
            eps: cfg.eps,
        }
    }
}

/// Updates param, m, v in place; `step` counts from 1.
pub fn adamw_step(
    cfg: AdamW,
    step: u64,
    param: &mut [f32],
    grad: &[f32],
    m: &mut [f32],
    v: &mut [f32],
) {
    let c = Coefs::new(cfg, step);
    let len = param.len().min(grad.len()).min(m.len()).min(v.len());
    type Chunk<'a> = (((&'a mut [f32], &'a [f32]), &'a mut [f32]), &'a mut [f32]);
    let chunk = |(((p, g), m), v): Chunk| {
        let done = p.len() / 8 * 8;
        for i in (0..done).step_by(8) {
            let (np, nm, nv) = update8(
                &c,
                lanes(&p[i..]),
                lanes(&g[i..]),
                lanes(&m[i..]),
                lanes(&v[i..]),
            );
            p[i..i + 8].copy_from_slice(np.as_array());
            m[i..i + 8].copy_from_slice(nm.as_array());
            v[i..i + 8].copy_from_slice(nv.as_array());
        }
        for i in done..p.len() {
            (p[i], m[i], v[i]) = update1(&c, p[i], g[i], m[i], v[i]);
        }
    };
    let (p, g, m, v) = (
        &mut param[..len],
        &grad[..len],
        &mut m[..len],
        &mut v[..len],
    );
    if len < PAR_MIN {
        p.chunks_mut(CHUNK)
            .zip(g.chunks(CHUNK))
            .zip(m.chunks_mut(CHUNK))
            .zip(v.chunks_mut(CHUNK))
            .for_each(chunk);
    } else {
        p.par_chunks_mut(CHUNK)
            .zip(g.par_chunks(CHUNK))
            .zip(m.par_chunks_mut(CHUNK))
            .zip(v.par_chunks_mut(CHUNK))
            .for_each(chunk);
    }
}

/// Scalar reference of [`adamw_step`], every element updated in f64.
pub fn adamw_step_ref(
    cfg: AdamW,
    step: u64,
    param: &mut [f32],
    grad: &[f32],
    m: &mut [f32],
    v: &mut [f32],
) {
    let t = step.max(1).min(i32::MAX as u64) as i32;
    let (lr, b1, b2) = (cfg.lr as f64, cfg.beta1 as f64, cfg.beta2 as f64);
    let bc1 = 1.0 - b1.powi(t);
    let bc2 = 1.0 - b2.powi(t);
    for i in 0..param.len() {
        let g = grad[i] as f64;
        let p = param[i] as f64 * (1.0 - lr * cfg.weight_decay as f64);
        let mi = b1 * m[i] as f64 + (1.0 - b1) * g;
        let vi = b2 * v[i] as f64 + (1.0 - b2) * g * g;
        let denom = (vi / bc2).sqrt() + cfg.eps as f64;
        param[i] = (p - lr * (mi / bc1) / denom) as f32;
        m[i] = mi as f32;
        v[i] = vi as f32;
    }
}

fn lanes(s: &[f32]) -> f32x8 {
    f32x8::from(<[f32; 8]>::try_from(&s[..8]).expect("chunk of 8"))
}

#[inline]
fn update8(c: &Coefs, p: f32x8, g: f32x8, m: f32x8, v: f32x8) -> (f32x8, f32x8, f32x8) {
    let s = f32x8::splat;
    let p = p * s(c.decay);
    // lerp(m, g, w) = m + w·(g − m), PyTorch's form for weights below one half.
    let m = m + s(c.one_m_b1) * (g - m);
    let v = v * s(c.beta2) + s(c.one_m_b2) * (g * g);
    let denom = v.sqrt() / s(c.bc2_sqrt) + s(c.eps);
    (p - s(c.step_size) * (m / denom), m, v)
}

#[inline]
fn update1(c: &Coefs, p: f32, g: f32, m: f32, v: f32) -> (f32, f32, f32) {
    let p = p * c.decay;
    let m = m + c.one_m_b1 * (g - m);
    let v = v * c.beta2 + c.one_m_b2 * (g * g);
    let denom = v.sqrt() / c.bc2_sqrt + c.eps;
    (p - c.step_size * (m / denom), m, v)
}
