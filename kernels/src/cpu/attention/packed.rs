//! Attention straight on a ViT block's layouts: q, k, v read out of the qkv product
//! `[b, n, 3, h, d]` (`x·W_qkvᵀ`, columns part-major then head), the output written as
//! `[b, n, h, d]` (the input of the output projection), and in backward dout read and dq, dk, dv
//! written in those same layouts. The head kernels take row strides (`head::Ld`), so the
//! permutes to and from `[b, h, n, d]` around the contiguous entry points — a full read and
//! write of q, k, v, the output and their gradients per block, about 8 % of a training step on
//! a 2-core guest (`perf`, BENCHMARKS.md) — are not needed.
//!
//! The heads of one batch item share rows of every buffer, so a task owns a whole item (its
//! rows are contiguous and disjoint from other items') and runs the item's heads in turn: the
//! work splits over `b` items, not `b·h` heads. Results are bit-identical to the contiguous
//! entry points on permuted copies (same kernels, same blocking), which the tests check.

use super::head::{head_bwd, head_fwd, with_scratch, GradsOut, Kernels, Ld};
use super::{avx512, dispatch, portable, AttnShape, BwdIn, PAR_MIN_FLOP};
use crate::cpu::denormals::FlushDenormals;
use crate::cpu::simd::SimdPath;
use rayon::prelude::*;

/// Forward: `qkv` `[b, n, 3, h, d]`, `out` `[b, n, h, d]`, `lse` `[b, h, n]` (as
/// [`super::attention_fwd`]).
///
/// # Panics
/// If a slice is shorter than the shape needs.
pub fn attention_fwd_packed(
    path: SimdPath,
    s: AttnShape,
    scale: f32,
    qkv: &[f32],
    out: &mut [f32],
    lse: &mut [f32],
) {
    dispatch!(path, run_fwd(s, scale, qkv, out, lse))
}

/// Backward: `out`, `dout` `[b, n, h, d]`, `lse` `[b, h, n]`; overwrites `dqkv` `[b, n, 3, h, d]`.
///
/// # Panics
/// If a slice is shorter than the shape needs.
#[allow(clippy::too_many_arguments)]
pub fn attention_bwd_packed(
    path: SimdPath,
    s: AttnShape,
    scale: f32,
    qkv: &[f32],
    out: &[f32],
    lse: &[f32],
    dout: &[f32],
    dqkv: &mut [f32],
) {
    dispatch!(path, run_bwd(s, scale, qkv, out, lse, dout, dqkv))
}

/// Floats per item of the qkv and output layouts, and the head strides.
fn sizes(s: AttnShape) -> (usize, usize, Ld) {
    let hd = s.h * s.d;
    let ld = Ld {
        q: 3 * hd,
        k: 3 * hd,
        v: 3 * hd,
        o: hd,
    };
    (s.n * 3 * hd, s.n * hd, ld)
}

/// Runs `item(i, chunk)` for every batch item, in parallel when the work is worth it.
fn for_items<T: Send>(s: AttnShape, chunks: Vec<T>, item: impl Fn(usize, T) + Sync + Send) {
    if s.b == 1 || s.b * s.h * s.n * s.n * s.d < PAR_MIN_FLOP {
        chunks.into_iter().enumerate().for_each(|(i, c)| item(i, c));
    } else {
        chunks
            .into_par_iter()
            .enumerate()
            .for_each(|(i, c)| item(i, c));
    }
}

fn run_fwd<K: Kernels>(
    kr: K,
    s: AttnShape,
    scale: f32,
    qkv: &[f32],
    out: &mut [f32],
    lse: &mut [f32],
) {
    let (n, d, h) = (s.n, s.d, s.h);
    let (item_in, item_out, ld) = sizes(s);
    assert!(qkv.len() >= s.b * item_in && out.len() >= s.b * item_out);
    assert!(lse.len() >= s.b * h * n);
    if s.b * h * n == 0 {
        return;
    }
    if d == 0 {
        lse[..s.b * h * n].fill((n as f32).ln());
        return;
    }
    let chunks: Vec<_> = out[..s.b * item_out]
        .chunks_mut(item_out)
        .zip(lse[..s.b * h * n].chunks_mut(h * n))
        .collect();
    for_items(s, chunks, |i, (o, l)| {
        let x = &qkv[i * item_in..(i + 1) * item_in];
        let _ftz = FlushDenormals::new();
        with_scratch(|scr| {
            for hh in 0..h {
                let (q, k, v) = (&x[hh * d..], &x[(h + hh) * d..], &x[(2 * h + hh) * d..]);
                let lh = &mut l[hh * n..(hh + 1) * n];
                head_fwd(kr, n, d, scale, ld, q, k, v, &mut o[hh * d..], lh, scr);
            }
        });
    });
}

#[allow(clippy::too_many_arguments)]
fn run_bwd<K: Kernels>(
    kr: K,
    s: AttnShape,
    scale: f32,
    qkv: &[f32],
    out: &[f32],
    lse: &[f32],
    dout: &[f32],
    dqkv: &mut [f32],
) {
    let (n, d, h) = (s.n, s.d, s.h);
    let (item_in, item_out, ld) = sizes(s);
    assert!(qkv.len() >= s.b * item_in && dqkv.len() >= s.b * item_in);
    assert!(out.len() >= s.b * item_out && dout.len() >= s.b * item_out);
    assert!(lse.len() >= s.b * h * n);
    if s.b * h * n * d == 0 {
        dqkv[..s.b * item_in].fill(0.0);
        return;
    }
    let chunks: Vec<_> = dqkv[..s.b * item_in].chunks_mut(item_in).collect();
    for_items(s, chunks, |i, g| {
        let x = &qkv[i * item_in..(i + 1) * item_in];
        let (o, go) = (
            &out[i * item_out..(i + 1) * item_out],
            &dout[i * item_out..(i + 1) * item_out],
        );
        let _ftz = FlushDenormals::new();
        with_scratch(|scr| {
            for hh in 0..h {
                let t = BwdIn {
                    q: &x[hh * d..],
                    k: &x[(h + hh) * d..],
                    v: &x[(2 * h + hh) * d..],
                    out: &o[hh * d..],
                    lse: &lse[(i * h + hh) * n..(i * h + hh + 1) * n],
                    dout: &go[hh * d..],
                };
                // A head's dq, dk, dv rows are interleaved with every other head's in `g`.
                let at = [hh * d, (h + hh) * d, (2 * h + hh) * d];
                head_bwd(kr, n, d, scale, ld, t, GradsOut::Shared(&mut *g, at), scr);
            }
        });
    });
}

#[cfg(test)]
mod tests;
