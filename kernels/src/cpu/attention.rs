//! Fused attention: `out = softmax(q·kᵀ·scale)·v`, flash-style.
//!
//! Forward saves only the row log-sum-exp of the scaled scores; backward recomputes the
//! probabilities from it (flash-attention-2): with `P = exp(scale·q·kᵀ − lse)`,
//! `D_i = Σ_c dout_ic·out_ic`, `dS = P ⊙ (dout·vᵀ − D)`:
//! `dq = scale·dS·k`, `dk = scale·dSᵀ·q`, `dv = Pᵀ·dout`.
//!
//! Fast version: one rayon task per (batch, head) (`attention/head.rs`). Inside a head, query
//! rows go in blocks of at most 64; a block's score rows `[rows, n]` live in a per-thread
//! scratch, and every product is a register-blocked micro-kernel call whose epilogue applies the
//! elementwise step (exp, dS, softmax normalisation) while the tile is in registers
//! (`attention/avx512.rs` when the CPU has AVX-512F, else `attention/portable.rs` on AVX2
//! intrinsics or `wide::f32x8`). A head's K and V (`n·d` floats each) stay in L1/L2 across its blocks.
//! `attention/packed.rs` runs the same head kernels on a ViT block's own layouts (q, k, v inside
//! the qkv product, the output token-major), so the models need no head permutes.
//! FLOPs: 4·n²·d forward, 10·n²·d backward (recomputing the scores is the price of not storing
//! P). A single head runs on one thread, with denormals flushed (`cpu/denormals.rs`): sharp
//! softmax rows make denormal products, which cost Intel cores a microcode assist each.

mod avx512;
mod head;
mod packed;
mod portable;

/// Runs `$run` with the head kernels of `$path`: AVX-512 where asked and present, else AVX2
/// where asked (or more) and present, else portable (the fallback `SimdPath` documents).
macro_rules! dispatch {
    ($path:expr, $run:ident($($arg:expr),* $(,)?)) => {{
        let path: SimdPath = $path;
        match (path, avx512::Avx512::new()) {
            (SimdPath::Avx512, Some(kr)) => $run(kr, $($arg),*),
            #[cfg(target_arch = "x86_64")]
            (SimdPath::Avx2 | SimdPath::Avx512, _) if portable::Avx2::new().is_some() => {
                $run(portable::Avx2::new().expect("checked"), $($arg),*)
            }
            _ => $run(portable::Portable, $($arg),*),
        }
    }};
}
pub(crate) use dispatch;

pub use packed::{attention_bwd_packed, attention_fwd_packed};

use super::denormals::FlushDenormals;
use super::simd::SimdPath;
use head::{head_bwd, head_fwd, with_scratch, GradsOut, Kernels, Ld};
use rayon::prelude::*;

/// q, k, v, out, dq, dk, dv are contiguous `[b, h, n, d]`; lse is `[b, h, n]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AttnShape {
    pub b: usize,
    pub h: usize,
    pub n: usize,
    pub d: usize,
}

/// Forward; writes `out` and the row log-sum-exp of the scaled scores (`lse`) for backward.
pub fn attention_fwd(
    s: AttnShape,
    scale: f32,
    q: &[f32],
    k: &[f32],
    v: &[f32],
    out: &mut [f32],
    lse: &mut [f32],
) {
    attention_fwd_with(SimdPath::best(), s, scale, q, k, v, out, lse)
}

/// [`attention_fwd`] on a chosen path; an unavailable path falls back to `Portable`.
#[allow(clippy::too_many_arguments)]
pub fn attention_fwd_with(
    path: SimdPath,
    s: AttnShape,
    scale: f32,
    q: &[f32],
    k: &[f32],
    v: &[f32],
    out: &mut [f32],
    lse: &mut [f32],
) {
    dispatch!(path, run_fwd(s, scale, q, k, v, out, lse))
}

/// Backward for upstream `dout`; recomputes probabilities from `lse`. Overwrites dq, dk, dv.
#[allow(clippy::too_many_arguments)]
pub fn attention_bwd(
    s: AttnShape,
    scale: f32,
    q: &[f32],
    k: &[f32],
    v: &[f32],
    out: &[f32],
    lse: &[f32],
    dout: &[f32],
    dq: &mut [f32],
    dk: &mut [f32],
    dv: &mut [f32],
) {
    attention_bwd_with(
        SimdPath::best(),
        s,
        scale,
        q,
        k,
        v,
        out,
        lse,
        dout,
        dq,
        dk,
        dv,
    )
}

/// [`attention_bwd`] on a chosen path; an unavailable path falls back to `Portable`.
#[allow(clippy::too_many_arguments)]
pub fn attention_bwd_with(
    path: SimdPath,
    s: AttnShape,
    scale: f32,
    q: &[f32],
    k: &[f32],
    v: &[f32],
    out: &[f32],
    lse: &[f32],
    dout: &[f32],
    dq: &mut [f32],
    dk: &mut [f32],
    dv: &mut [f32],
) {
    let t = BwdIn {
        q,
        k,
        v,
        out,
        lse,
        dout,
    };
    dispatch!(path, run_bwd(s, scale, t, dq, dk, dv))
}

/// The read-only operands of the backward, all `[b, h, n, d]` except `lse` (`[b, h, n]`).
#[derive(Clone, Copy)]
struct BwdIn<'a> {
    q: &'a [f32],
    k: &'a [f32],
    v: &'a [f32],
    out: &'a [f32],
    lse: &'a [f32],
    dout: &'a [f32],
}

#[allow(clippy::too_many_arguments)]
fn run_fwd<K: Kernels>(
    kr: K,
    s: AttnShape,
    scale: f32,
    q: &[f32],
    k: &[f32],
    v: &[f32],
    out: &mut [f32],
    lse: &mut [f32],
) {
    let (heads, n, d) = (s.b * s.h, s.n, s.d);
    let hd = n * d;
    if heads * n == 0 {
        return;
    }
    if d == 0 {
        // Every score is 0: uniform probabilities over n keys, and nothing to write in `out`.
        lse[..heads * n].fill((n as f32).ln());
        return;
    }
    let head = |(i, (o, l)): (usize, (&mut [f32], &mut [f32]))| {
        let r = i * hd..(i + 1) * hd;
        let _ftz = FlushDenormals::new();
        with_scratch(|scr| {
            head_fwd(
                kr,
                n,
                d,
                scale,
                Ld::contiguous(d),
                &q[r.clone()],
                &k[r.clone()],
                &v[r],
                o,
                l,
                scr,
            )
        });
    };
    let (out, lse) = (&mut out[..heads * hd], &mut lse[..heads * n]);
    if heads == 1 || heads * hd * n < PAR_MIN_FLOP {
        out.chunks_mut(hd)
            .zip(lse.chunks_mut(n))
            .enumerate()
            .for_each(head);
    } else {
        out.par_chunks_mut(hd)
            .zip(lse.par_chunks_mut(n))
            .enumerate()
            .for_each(head);
    }
}

fn run_bwd<K: Kernels>(
    kr: K,
    s: AttnShape,
    scale: f32,
    t: BwdIn,
    dq: &mut [f32],
    dk: &mut [f32],
    dv: &mut [f32],
) {
    let (heads, n, d) = (s.b * s.h, s.n, s.d);
    let hd = n * d;
    if heads * hd == 0 {
        return;
    }
    type Grads<'a> = (usize, ((&'a mut [f32], &'a mut [f32]), &'a mut [f32]));
    let head = |(i, ((dq, dk), dv)): Grads| {
        let r = i * hd..(i + 1) * hd;
        let one = BwdIn {
            q: &t.q[r.clone()],
            k: &t.k[r.clone()],
            v: &t.v[r.clone()],
            out: &t.out[r.clone()],
            lse: &t.lse[i * n..(i + 1) * n],
            dout: &t.dout[r],
        };
        let _ftz = FlushDenormals::new();
        let g = GradsOut::Split([dq, dk, dv]);
        with_scratch(|scr| head_bwd(kr, n, d, scale, Ld::contiguous(d), one, g, scr));
    };
    let (dq, dk, dv) = (
        &mut dq[..heads * hd],
        &mut dk[..heads * hd],
        &mut dv[..heads * hd],
    );
    if heads == 1 || heads * hd * n < PAR_MIN_FLOP {
        dq.chunks_mut(hd)
            .zip(dk.chunks_mut(hd))
            .zip(dv.chunks_mut(hd))
            .enumerate()
            .for_each(head);
    } else {
        dq.par_chunks_mut(hd)
            .zip(dk.par_chunks_mut(hd))
            .zip(dv.par_chunks_mut(hd))
            .enumerate()
            .for_each(head);
    }
}

/// Below about this many multiply-adds (`heads·n²·d`) a second thread does not pay for itself.
const PAR_MIN_FLOP: usize = 1 << 18;

/// Scalar reference of [`attention_fwd`]: f64 scores, softmax and sums.
pub fn attention_fwd_ref(
    s: AttnShape,
    scale: f32,
    q: &[f32],
    k: &[f32],
    v: &[f32],
    out: &mut [f32],
    lse: &mut [f32],
) {
    let (n, d) = (s.n, s.d);
    let mut p = vec![0f64; n];
    for hh in 0..s.b * s.h {
        let at = |x: &[f32], i: usize, c: usize| x[(hh * n + i) * d + c] as f64;
        for i in 0..n {
            for (j, pj) in p.iter_mut().enumerate() {
                *pj = scale as f64 * (0..d).map(|c| at(q, i, c) * at(k, j, c)).sum::<f64>();
            }
            let m = p.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let l: f64 = p.iter().map(|x| (x - m).exp()).sum();
            let row_lse = m + l.ln();
            lse[hh * n + i] = row_lse as f32;
            for c in 0..d {
                let o: f64 = p
                    .iter()
                    .enumerate()
                    .map(|(j, x)| (x - row_lse).exp() * at(v, j, c))
                    .sum();
                out[(hh * n + i) * d + c] = o as f32;
            }
        }
    }
}

/// Scalar reference of [`attention_bwd`]: f64 throughout, P recomputed from the given `lse`.
#[allow(clippy::too_many_arguments)]
pub fn attention_bwd_ref(
    s: AttnShape,
    scale: f32,
    q: &[f32],
    k: &[f32],
    v: &[f32],
    out: &[f32],
    lse: &[f32],
    dout: &[f32],
    dq: &mut [f32],
    dk: &mut [f32],
    dv: &mut [f32],
) {
    let (n, d, sc) = (s.n, s.d, scale as f64);
    let mut ds = vec![0f64; n * n];
    let mut p = vec![0f64; n * n];
    for hh in 0..s.b * s.h {
        let at = |x: &[f32], i: usize, c: usize| x[(hh * n + i) * d + c] as f64;
        let dot = |x: &[f32], i: usize, y: &[f32], j: usize| {
            (0..d).map(|c| at(x, i, c) * at(y, j, c)).sum::<f64>()
        };
        for i in 0..n {
            let di = dot(dout, i, out, i);
            for j in 0..n {
                let pij = (sc * dot(q, i, k, j) - lse[hh * n + i] as f64).exp();
                p[i * n + j] = pij;
                ds[i * n + j] = pij * (dot(dout, i, v, j) - di);
            }
        }
        for i in 0..n {
            for c in 0..d {
                let o = (hh * n + i) * d + c;
                dq[o] = (sc * (0..n).map(|j| ds[i * n + j] * at(k, j, c)).sum::<f64>()) as f32;
                dk[o] = (sc * (0..n).map(|j| ds[j * n + i] * at(q, j, c)).sum::<f64>()) as f32;
                dv[o] = (0..n).map(|j| p[j * n + i] * at(dout, j, c)).sum::<f64>() as f32;
            }
        }
    }
}
