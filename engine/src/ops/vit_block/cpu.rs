//! CPU forward and backward of one pre-norm ViT block on row-major slices (the kernels of
//! `jepa_kernels::cpu`): `x + proj(attn(LN1(x)))`, then `+ fc2(GELU(fc1(LN2(·))))`.
//!
//! The residual adds are fused into the GEMMs (accumulate into the output), attention reads q,
//! k, v straight out of the qkv product and writes its output token-major
//! (`attention_*_packed`), so neither direction permutes heads. The training forward saves what
//! the backward needs ([`Acts`]); the GELU output is recomputed in backward rather than kept (4
//! of 16 activation floats per token and width).
//!
//! Buffers are plain allocations, freed when the backward has used them. A pool that kept them
//! across steps (as the earlier hand-written path kept grow-only buffers) was tried: its idle
//! buffers cannot serve the tape's other allocations, and the step's peak RSS rose from 405 to
//! 629 MiB (ViT-Tiny/4, batch 64) with no speed-up measurable on a 2-core host.

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

fn zeros(n: usize) -> Vec<f32> {
    vec![0.0; n]
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

/// Activations the backward needs (the block input itself is kept by the caller).
#[derive(Debug)]
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

/// Parameter gradients, in the order of [`P`]'s fields.
pub(crate) struct Grads {
    pub norm1: (Vec<f32>, Vec<f32>),
    pub qkv: (Vec<f32>, Option<Vec<f32>>),
    pub proj: (Vec<f32>, Vec<f32>),
    pub norm2: (Vec<f32>, Vec<f32>),
    pub fc1: (Vec<f32>, Vec<f32>),
    pub fc2: (Vec<f32>, Vec<f32>),
}

/// `out = block(x)` (`x`, `out`: `[rows·t, d]`), saving what [`backward`] needs.
pub(crate) fn forward_train(p: &P, x: &[f32], out: &mut [f32], dm: &Dims) -> Acts {
    let (r, d, hd, eps) = (dm.rows * dm.t, dm.d, dm.hidden, dm.eps);
    let (shape, scale) = dm.attn();
    let mut st1 = zeros(2 * r);
    let (m1, s1) = st1.split_at_mut(r);
    let mut y1 = zeros(r * d);
    layernorm_fwd(
        r,
        d,
        eps,
        x,
        Some(p.norm1.0),
        Some(p.norm1.1),
        &mut y1,
        m1,
        s1,
    );
    // qkv `[r, 3·d]` = [rows, t, 3, h, dh]: kept for backward as it comes out of the product.
    let mut qkv = zeros(3 * r * d);
    linear(r, d, 3 * d, &y1, p.qkv.0, None, &mut qkv, false);
    if let Some(b) = p.qkv.1 {
        add_rows(&mut qkv, b);
    }
    // o `[rows, t, h, dh]`: the heads already merged for the projection.
    let (mut o, mut lse) = (zeros(r * d), zeros(r * dm.heads));
    attention_fwd_packed(SimdPath::best(), shape, scale, &qkv, &mut o, &mut lse);
    out.copy_from_slice(x);
    add_rows(out, p.proj.1);
    linear(r, d, d, &o, p.proj.0, None, out, true);
    let mut x_mid = zeros(r * d);
    x_mid.copy_from_slice(out);
    let mut st2 = zeros(2 * r);
    let (m2, s2) = st2.split_at_mut(r);
    let mut y2 = zeros(r * d);
    layernorm_fwd(
        r,
        d,
        eps,
        out,
        Some(p.norm2.0),
        Some(p.norm2.1),
        &mut y2,
        m2,
        s2,
    );
    let mut h = zeros(r * hd);
    linear(r, d, hd, &y2, p.fc1.0, None, &mut h, false);
    let mut g = zeros(r * hd);
    bias_gelu(&mut h, p.fc1.1, &mut g);
    add_rows(out, p.fc2.1);
    linear(r, hd, d, &g, p.fc2.0, None, out, true);
    Acts {
        y1,
        st1,
        qkv,
        o,
        lse,
        x_mid,
        y2,
        st2,
        h,
    }
}

/// `x = block(x)` in place, saving nothing (inference and the EMA target branch). The same
/// kernels in the same order as [`forward_train`], so both give the same bits.
pub(crate) fn forward_infer(p: &P, x: &mut [f32], dm: &Dims) {
    let (rows, t, d, heads, hd, eps) = (dm.rows, dm.t, dm.d, dm.heads, dm.hidden, dm.eps);
    let r = rows * t;
    let (shape, scale) = dm.attn();
    let mut stats = zeros(2 * r);
    let (mean, rstd) = stats.split_at_mut(r);
    let mut y = zeros(r * d);
    layernorm_fwd(
        r,
        d,
        eps,
        x,
        Some(p.norm1.0),
        Some(p.norm1.1),
        &mut y,
        mean,
        rstd,
    );
    let mut qkv = zeros(r * 3 * d);
    linear(r, d, 3 * d, &y, p.qkv.0, None, &mut qkv, false);
    let (mut oc, mut lse) = (zeros(r * d), zeros(r * heads));
    if rows >= 2 * rayon::current_num_threads() {
        // Attention straight on the product's layout: the tasks are whole sequences, which
        // needs enough of them to fill the threads.
        if let Some(b) = p.qkv.1 {
            add_rows(&mut qkv, b);
        }
        attention_fwd_packed(SimdPath::best(), shape, scale, &qkv, &mut oc, &mut lse);
    } else {
        // Few sequences (single-image embedding): split by head so every thread works.
        let hs = Heads {
            rows,
            t,
            h: heads,
            dh: d / heads,
        };
        let mut qkvp = zeros(r * 3 * d);
        split_qkv(hs, &qkv, p.qkv.1, &mut qkvp);
        let (q, kv) = qkvp.split_at(r * d);
        let (k, v) = kv.split_at(r * d);
        let mut o = zeros(r * d);
        attention_fwd(shape, scale, q, k, v, &mut o, &mut lse);
        heads_tokens(hs, &o, &mut oc, false);
    }
    add_rows(x, p.proj.1);
    linear(r, d, d, &oc, p.proj.0, None, x, true);
    layernorm_fwd(
        r,
        d,
        eps,
        x,
        Some(p.norm2.0),
        Some(p.norm2.1),
        &mut y,
        mean,
        rstd,
    );
    let (mut h, mut g) = (zeros(r * hd), zeros(r * hd));
    linear(r, d, hd, &y, p.fc1.0, None, &mut h, false);
    bias_gelu(&mut h, p.fc1.1, &mut g);
    add_rows(x, p.fc2.1);
    linear(r, hd, d, &g, p.fc2.0, None, x, true);
}

/// `dx`: in, d loss / d block output; out, d loss / d block input (`x`: the block input).
/// Returns the parameter gradients.
pub(crate) fn backward(p: &P, x: &[f32], dx: &mut [f32], dm: &Dims, a: &Acts) -> Grads {
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
    // MLP: x_out = x_mid + fc2(gelu(fc1(LN2(x_mid)))).
    let mut dh = zeros(r * hd);
    linear_dx(r, hd, d, dx, p.fc2.0, &mut dh, false);
    // The GELU output (not kept by the forward) for fc2's weight gradient, and dg turned into
    // dh in place, from one evaluation of Φ per element instead of two.
    let mut g = zeros(r * hd);
    gelu_fwd_bwd(&a.h, &mut g, &mut dh);
    linear_dw(r, hd, d, dx, &g, &mut gr.fc2.0);
    colsum_add(dx, &mut gr.fc2.1);
    drop(g);
    linear_dw(r, d, hd, &dh, &a.y2, &mut gr.fc1.0);
    colsum_add(&dh, &mut gr.fc1.1);
    let mut dy = zeros(r * d);
    linear_dx(r, d, hd, &dh, p.fc1.0, &mut dy, false);
    drop(dh);
    ln_backward(p.norm2.0, &mut gr.norm2, &a.x_mid, &a.st2, &dy, dx);
    // Attention: x_mid = x_in + proj(attn(LN1(x_in))).
    let doc = &mut dy;
    linear_dx(r, d, d, dx, p.proj.0, doc, false);
    linear_dw(r, d, d, dx, &a.o, &mut gr.proj.0);
    colsum_add(dx, &mut gr.proj.1);
    let mut dqkv = zeros(3 * r * d);
    attention_bwd_packed(
        SimdPath::best(),
        shape,
        scale,
        &a.qkv,
        &a.o,
        &a.lse,
        doc,
        &mut dqkv,
    );
    linear_dw(r, d, 3 * d, &dqkv, &a.y1, &mut gr.qkv.0);
    if let Some(b) = gr.qkv.1.as_mut() {
        colsum_add(&dqkv, b);
    }
    linear_dx(r, d, 3 * d, &dqkv, p.qkv.0, &mut dy, false);
    ln_backward(p.norm1.0, &mut gr.norm1, x, &a.st1, &dy, dx);
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
) {
    let d = w.len();
    let r = x.len() / d.max(1);
    let (mean, rstd) = stats.split_at(r);
    let mut tmp = zeros(r * d);
    let (dw, db) = (Some(&mut gw.0[..]), Some(&mut gw.1[..]));
    layernorm_bwd(r, d, x, Some(w), mean, rstd, dy, &mut tmp, dw, db);
    add_into(dx, &tmp);
}
