//! CPU forward and backward of one pre-norm ViT block on row-major slices (the kernels of
//! `jepa_kernels::cpu`): `x + proj(attn(LN1(x)))`, then `+ fc2(GELU(fc1(LN2(·))))`.
//!
//! The residual adds are fused into the GEMMs (accumulate into the output), attention reads q,
//! k, v straight out of the qkv product and writes its output token-major
//! (`attention_*_packed`), so neither direction permutes heads. The training forward saves what
//! the backward needs ([`Acts`]); the GELU output is recomputed in backward rather than kept (4
//! of 16 activation floats per token and width).
//!
//! Buffers are reused, never zero-filled per call (fresh zeroed activations cost a ViT-Tiny step
//! ~5 % in memset and page faults): each block keeps its own saved activations between steps
//! ([`Acts`], handed back by its backward), and one shared [`Work`] set serves the backward and
//! the inference forward of every block, as at most one block runs at a time. A global pool
//! of buffers was tried instead and dropped: its idle buffers could not serve the tape's other
//! allocations, and the step's peak RSS rose from 405 to 629 MiB.

use super::rows::{
    add_into, add_rows, bias_gelu, colsum_add, heads_tokens, linear, linear_dw, linear_dx,
    split_qkv, Heads,
};
use jepa_kernels::cpu::attention::{
    attention_bwd_packed, attention_fwd, attention_fwd_packed, AttnShape,
};
use jepa_kernels::cpu::gelu::gelu_fwd_bwd;
use jepa_kernels::cpu::layernorm::{layernorm_bwd, layernorm_fwd};
use jepa_kernels::cpu::simd::SimdPath;

/// One block's parameters as slices (PyTorch layouts: weights `[out, in]`).
pub(crate) struct P<'a> {
    pub norm1: (&'a [f32], &'a [f32]),
    pub qkv: (&'a [f32], Option<&'a [f32]>),
    pub proj: (&'a [f32], &'a [f32]),
    pub norm2: (&'a [f32], &'a [f32]),
    pub fc1: (&'a [f32], &'a [f32]),
    pub fc2: (&'a [f32], &'a [f32]),
}

/// Grows `v` to at least `n` elements and returns its first `n` (contents unspecified). A
/// buffer that must grow is freed first and replaced by one with 1/8 headroom: mask sizes vary a
/// little from batch to batch, and a `Vec` doubling would leave activation-sized holes.
fn grow(v: &mut Vec<f32>, n: usize) -> &mut [f32] {
    if v.len() < n {
        *v = Vec::new();
        *v = vec![0.0; n + n / 8];
    }
    &mut v[..n]
}

/// Sizes: `rows` sequences of `t` tokens of width `d`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Dims {
    pub rows: usize,
    pub t: usize,
    pub d: usize,
    pub heads: usize,
    pub hidden: usize,
    pub eps: f32,
}

impl Dims {
    fn attn(&self) -> (AttnShape, f32) {
        let dh = self.d / self.heads;
        let s = AttnShape {
            b: self.rows,
            h: self.heads,
            n: self.t,
            d: dh,
        };
        (s, 1.0 / (dh as f32).sqrt())
    }
}

/// Activations the backward needs (the block input itself is kept by the caller). Each buffer
/// may be longer than the current call needs; the first `len` elements are the activation.
#[derive(Debug, Default)]
pub(crate) struct Acts {
    y1: Vec<f32>,
    st1: Vec<f32>,
    qkv: Vec<f32>,
    o: Vec<f32>,
    lse: Vec<f32>,
    x_mid: Vec<f32>,
    y2: Vec<f32>,
    st2: Vec<f32>,
    h: Vec<f32>,
}

/// Scratch of the backward and of the inference forward.
#[derive(Debug, Default)]
pub(crate) struct Work {
    // Named by position only: each function documents what it keeps where.
    a: Vec<f32>,
    b: Vec<f32>,
    c: Vec<f32>,
    d: Vec<f32>,
    e: Vec<f32>,
    f: Vec<f32>,
    g: Vec<f32>,
    h: Vec<f32>,
}

impl Work {
    pub(crate) const fn new() -> Work {
        let v = Vec::new;
        Work {
            a: v(),
            b: v(),
            c: v(),
            d: v(),
            e: v(),
            f: v(),
            g: v(),
            h: v(),
        }
    }
}

/// Parameter gradients, in the order of [`P`]'s fields.
pub(crate) struct Grads {
    pub norm1: (Vec<f32>, Vec<f32>),
    pub qkv: (Vec<f32>, Option<Vec<f32>>),
    pub proj: (Vec<f32>, Vec<f32>),
    pub norm2: (Vec<f32>, Vec<f32>),
    pub fc1: (Vec<f32>, Vec<f32>),
    pub fc2: (Vec<f32>, Vec<f32>),
}

/// `out = block(x)` (`x`, `out`: `[rows·t, d]`, `out` holding a copy of `x`), saving what
/// [`backward`] needs into `a`.
pub(crate) fn forward_train(
    p: &P,
    x: &[f32],
    out: &mut [f32],
    dm: &Dims,
    a: &mut Acts,
    w: &mut Work,
) {
    let (r, d, hd, eps) = (dm.rows * dm.t, dm.d, dm.hidden, dm.eps);
    let (shape, scale) = dm.attn();
    let (m1, s1) = grow(&mut a.st1, 2 * r).split_at_mut(r);
    let y1 = grow(&mut a.y1, r * d);
    layernorm_fwd(r, d, eps, x, Some(p.norm1.0), Some(p.norm1.1), y1, m1, s1);
    // qkv `[r, 3·d]` = [rows, t, 3, h, dh]: kept for backward as it comes out of the product.
    let qkv = grow(&mut a.qkv, 3 * r * d);
    linear(r, d, 3 * d, y1, p.qkv.0, None, qkv, false);
    if let Some(b) = p.qkv.1 {
        add_rows(qkv, b);
    }
    // o `[rows, t, h, dh]`: the heads already merged for the projection.
    let (o, lse) = (grow(&mut a.o, r * d), grow(&mut a.lse, r * dm.heads));
    attention_fwd_packed(SimdPath::best(), shape, scale, qkv, o, lse);
    add_rows(out, p.proj.1);
    linear(r, d, d, o, p.proj.0, None, out, true);
    grow(&mut a.x_mid, r * d).copy_from_slice(out);
    let (m2, s2) = grow(&mut a.st2, 2 * r).split_at_mut(r);
    let y2 = grow(&mut a.y2, r * d);
    layernorm_fwd(r, d, eps, out, Some(p.norm2.0), Some(p.norm2.1), y2, m2, s2);
    let h = grow(&mut a.h, r * hd);
    linear(r, d, hd, y2, p.fc1.0, None, h, false);
    let g = grow(&mut w.a, r * hd);
    bias_gelu(h, p.fc1.1, g);
    add_rows(out, p.fc2.1);
    linear(r, hd, d, g, p.fc2.0, None, out, true);
}

/// `x = block(x)` in place, saving nothing (inference and the EMA target branch). The same
/// kernels in the same order as [`forward_train`], so both give the same bits.
pub(crate) fn forward_infer(p: &P, x: &mut [f32], dm: &Dims, w: &mut Work) {
    let (rows, t, d, heads, hd, eps) = (dm.rows, dm.t, dm.d, dm.heads, dm.hidden, dm.eps);
    let r = rows * t;
    let (shape, scale) = dm.attn();
    let (mean, rstd) = grow(&mut w.a, 2 * r).split_at_mut(r);
    let y = grow(&mut w.b, r * d);
    layernorm_fwd(
        r,
        d,
        eps,
        x,
        Some(p.norm1.0),
        Some(p.norm1.1),
        y,
        mean,
        rstd,
    );
    let qkv = grow(&mut w.c, r * 3 * d);
    linear(r, d, 3 * d, y, p.qkv.0, None, qkv, false);
    let (oc, lse) = (grow(&mut w.d, r * d), grow(&mut w.e, r * heads));
    if rows >= 2 * rayon::current_num_threads() {
        // Attention straight on the product's layout: the tasks are whole sequences, which
        // needs enough of them to fill the threads.
        if let Some(b) = p.qkv.1 {
            add_rows(qkv, b);
        }
        attention_fwd_packed(SimdPath::best(), shape, scale, qkv, oc, lse);
    } else {
        // Few sequences (single-image embedding): split by head so every thread works.
        let hs = Heads {
            rows,
            t,
            h: heads,
            dh: d / heads,
        };
        let qkvp = grow(&mut w.f, r * 3 * d);
        split_qkv(hs, qkv, p.qkv.1, qkvp);
        let (q, kv) = qkvp.split_at(r * d);
        let (k, v) = kv.split_at(r * d);
        let o = grow(&mut w.g, r * d);
        attention_fwd(shape, scale, q, k, v, o, lse);
        heads_tokens(hs, o, oc, false);
    }
    add_rows(x, p.proj.1);
    linear(r, d, d, oc, p.proj.0, None, x, true);
    let y = grow(&mut w.b, r * d);
    let (mean, rstd) = grow(&mut w.a, 2 * r).split_at_mut(r);
    layernorm_fwd(
        r,
        d,
        eps,
        x,
        Some(p.norm2.0),
        Some(p.norm2.1),
        y,
        mean,
        rstd,
    );
    let (h, g) = (grow(&mut w.g, r * hd), grow(&mut w.h, r * hd));
    linear(r, d, hd, y, p.fc1.0, None, h, false);
    bias_gelu(h, p.fc1.1, g);
    add_rows(x, p.fc2.1);
    linear(r, hd, d, g, p.fc2.0, None, x, true);
}

/// `dx`: in, d loss / d block output; out, d loss / d block input (`x`: the block input).
/// Returns the parameter gradients.
pub(crate) fn backward(
    p: &P,
    x: &[f32],
    dx: &mut [f32],
    dm: &Dims,
    a: &Acts,
    w: &mut Work,
) -> Grads {
    let (r, d, hd) = (dm.rows * dm.t, dm.d, dm.hidden);
    let (shape, scale) = dm.attn();
    let z = |n: usize| vec![0f32; n];
    let mut gr = Grads {
        norm1: (z(d), z(d)),
        qkv: (z(3 * d * d), p.qkv.1.map(|_| z(3 * d))),
        proj: (z(d * d), z(d)),
        norm2: (z(d), z(d)),
        fc1: (z(hd * d), z(hd)),
        fc2: (z(d * hd), z(d)),
    };
    let (x_mid, st1, st2) = (&a.x_mid[..r * d], &a.st1[..2 * r], &a.st2[..2 * r]);
    let (y1, y2, o) = (&a.y1[..r * d], &a.y2[..r * d], &a.o[..r * d]);
    let (qkv, lse, h) = (&a.qkv[..3 * r * d], &a.lse[..r * dm.heads], &a.h[..r * hd]);
    // MLP: x_out = x_mid + fc2(gelu(fc1(LN2(x_mid)))).
    let dh = grow(&mut w.a, r * hd);
    linear_dx(r, hd, d, dx, p.fc2.0, dh, false);
    // The GELU output (not kept by the forward) for fc2's weight gradient, and dg turned into
    // dh in place, from one evaluation of Φ per element instead of two.
    let g = grow(&mut w.b, r * hd);
    gelu_fwd_bwd(h, g, dh);
    linear_dw(r, hd, d, dx, g, &mut gr.fc2.0);
    colsum_add(dx, &mut gr.fc2.1);
    linear_dw(r, d, hd, dh, y2, &mut gr.fc1.0);
    colsum_add(dh, &mut gr.fc1.1);
    let dy = grow(&mut w.c, r * d);
    linear_dx(r, d, hd, dh, p.fc1.0, dy, false);
    ln_backward(p.norm2.0, &mut gr.norm2, x_mid, st2, dy, dx, &mut w.d);
    // Attention: x_mid = x_in + proj(attn(LN1(x_in))).
    let doc = grow(&mut w.c, r * d);
    linear_dx(r, d, d, dx, p.proj.0, doc, false);
    linear_dw(r, d, d, dx, o, &mut gr.proj.0);
    colsum_add(dx, &mut gr.proj.1);
    let dqkv = grow(&mut w.e, 3 * r * d);
    attention_bwd_packed(SimdPath::best(), shape, scale, qkv, o, lse, doc, dqkv);
    linear_dw(r, d, 3 * d, dqkv, y1, &mut gr.qkv.0);
    if let Some(b) = gr.qkv.1.as_mut() {
        colsum_add(dqkv, b);
    }
    let dy = grow(&mut w.c, r * d);
    linear_dx(r, d, 3 * d, dqkv, p.qkv.0, dy, false);
    ln_backward(p.norm1.0, &mut gr.norm1, x, st1, dy, dx, &mut w.d);
    gr
}

/// LayerNorm backward: `dx += LN'(x)ᵀ·dy`; the kernel writes the weight / bias gradients into
/// `gw` (fresh zeros, each block parameter is used once); `stats` = mean then rstd per row.
fn ln_backward(
    w: &[f32],
    gw: &mut (Vec<f32>, Vec<f32>),
    x: &[f32],
    stats: &[f32],
    dy: &[f32],
    dx: &mut [f32],
    tmp: &mut Vec<f32>,
) {
    let d = w.len();
    let r = x.len() / d.max(1);
    let (mean, rstd) = stats.split_at(r);
    let tmp = grow(tmp, r * d);
    let (dw, db) = (Some(&mut gw.0[..]), Some(&mut gw.1[..]));
    layernorm_bwd(r, d, x, Some(w), mean, rstd, dy, tmp, dw, db);
    add_into(dx, tmp);
}
