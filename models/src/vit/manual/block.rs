//! One pre-norm block, forward with saved activations and its hand-written backward.
//! Gradients of the block's parameters are added into a flat buffer laid out like the store.

use crate::vit::fast::{BlockRanges, Dims};
use crate::vit::kern::{
    add_into, add_rows, bias_gelu, colsum_add, grow, linear, linear_dw, linear_dx,
};
use jepa_kernels::cpu::attention::{attention_bwd_packed, attention_fwd_packed, AttnShape};
use jepa_kernels::cpu::gelu::gelu_fwd_bwd;
use jepa_kernels::cpu::layernorm::{layernorm_bwd, layernorm_fwd};
use jepa_kernels::cpu::simd::SimdPath;
use std::ops::Range;

/// Activations one block's backward needs (buffers grow on demand and are reused). The GELU
/// output is recomputed in backward rather than kept (4 of 16 activation floats per token and
/// width). Attention reads q, k, v straight out of the qkv product and writes its output
/// token-major (`attention_*_packed`), so neither direction permutes heads.
#[derive(Debug, Default)]
pub(crate) struct Acts {
    x_in: Vec<f32>,
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

/// Scratch of the backward, shared by all blocks.
#[derive(Debug, Default)]
pub(crate) struct Work {
    hd1: Vec<f32>,
    hd2: Vec<f32>,
    d1: Vec<f32>,
    d2: Vec<f32>,
    d4: Vec<f32>,
    small: Vec<f32>,
}

fn heads(dm: &Dims) -> (AttnShape, f32) {
    let dh = dm.d / dm.heads;
    let shape = AttnShape {
        b: dm.rows,
        h: dm.heads,
        n: dm.t,
        d: dh,
    };
    (shape, 1.0 / (dh as f32).sqrt())
}

/// `x: [rows·t, d]` → block output, in place; saves what backward needs into `a`.
pub(crate) fn forward(
    br: &BlockRanges,
    flat: &[f32],
    x: &mut [f32],
    dm: &Dims,
    a: &mut Acts,
    w: &mut Work,
) {
    let (r, d, hd, eps) = (dm.rows * dm.t, dm.d, dm.hidden, dm.eps);
    let (shape, scale) = heads(dm);
    let p = |rg: &Range<usize>| &flat[rg.clone()];
    grow(&mut a.x_in, r * d).copy_from_slice(x);
    let (m1, s1) = grow(&mut a.st1, 2 * r).split_at_mut(r);
    let y1 = grow(&mut a.y1, r * d);
    layernorm_fwd(
        r,
        d,
        eps,
        x,
        Some(p(&br.norm1.0)),
        Some(p(&br.norm1.1)),
        y1,
        m1,
        s1,
    );
    // qkv `[r, 3·d]` = [rows, t, 3, h, dh]: kept for backward as it comes out of the product.
    let qkv = grow(&mut a.qkv, 3 * r * d);
    linear(r, d, 3 * d, y1, p(&br.qkv.0), None, qkv, false);
    if let Some(b) = &br.qkv.1 {
        add_rows(qkv, p(b));
    }
    // o `[rows, t, h, dh]`: the heads already merged for the projection.
    let o = grow(&mut a.o, r * d);
    let lse = grow(&mut a.lse, r * dm.heads);
    attention_fwd_packed(SimdPath::best(), shape, scale, qkv, o, lse);
    let oc = &a.o[..r * d];
    add_rows(x, p(&br.proj.1));
    linear(r, d, d, oc, p(&br.proj.0), None, x, true);
    grow(&mut a.x_mid, r * d).copy_from_slice(x);
    let (m2, s2) = grow(&mut a.st2, 2 * r).split_at_mut(r);
    let y2 = grow(&mut a.y2, r * d);
    layernorm_fwd(
        r,
        d,
        eps,
        x,
        Some(p(&br.norm2.0)),
        Some(p(&br.norm2.1)),
        y2,
        m2,
        s2,
    );
    let h = grow(&mut a.h, r * hd);
    linear(r, d, hd, y2, p(&br.fc1.0), None, h, false);
    bias_gelu(h, p(&br.fc1.1), grow(&mut w.hd1, r * hd));
    add_rows(x, p(&br.fc2.1));
    linear(r, hd, d, &w.hd1[..r * hd], p(&br.fc2.0), None, x, true);
}

/// `dx`: in, d loss / d block output; out, d loss / d block input. Parameter gradients are
/// added into `grad` (same layout as `flat`).
pub(crate) fn backward(
    br: &BlockRanges,
    flat: &[f32],
    grad: &mut [f32],
    dx: &mut [f32],
    dm: &Dims,
    a: &Acts,
    w: &mut Work,
) {
    let (r, d, hd) = (dm.rows * dm.t, dm.d, dm.hidden);
    let (shape, scale) = heads(dm);
    let p = |rg: &Range<usize>| &flat[rg.clone()];
    // MLP: x_out = x_mid + fc2(gelu(fc1(LN2(x_mid)))).
    let dg = grow(&mut w.hd1, r * hd);
    linear_dx(r, hd, d, dx, p(&br.fc2.0), dg, false);
    // The GELU output (not kept by the forward) for fc2's weight gradient, and dg turned into
    // dh in place, from one evaluation of Φ per element instead of two.
    let g = grow(&mut w.hd2, r * hd);
    gelu_fwd_bwd(&a.h[..r * hd], g, dg);
    let dh: &[f32] = dg;
    linear_dw(r, hd, d, dx, g, &mut grad[br.fc2.0.clone()]);
    colsum_add(dx, &mut grad[br.fc2.1.clone()]);
    linear_dw(r, d, hd, dh, &a.y2[..r * d], &mut grad[br.fc1.0.clone()]);
    colsum_add(dh, &mut grad[br.fc1.1.clone()]);
    let dy = grow(&mut w.d1, r * d);
    linear_dx(r, d, hd, dh, p(&br.fc1.0), dy, false);
    let (x_mid, st2) = (&a.x_mid[..r * d], &a.st2[..2 * r]);
    let bufs = (&mut w.d2, &mut w.small);
    ln_backward(&br.norm2, flat, grad, x_mid, st2, &w.d1[..r * d], dx, bufs);
    // Attention: x_mid = x_in + proj(attn(LN1(x_in))).
    let doc = grow(&mut w.d1, r * d);
    linear_dx(r, d, d, dx, p(&br.proj.0), doc, false);
    linear_dw(r, d, d, dx, &a.o[..r * d], &mut grad[br.proj.0.clone()]);
    colsum_add(dx, &mut grad[br.proj.1.clone()]);
    let dqkv = grow(&mut w.d4, 3 * r * d);
    let (qkv, o, lse) = (&a.qkv[..3 * r * d], &a.o[..r * d], &a.lse[..r * dm.heads]);
    attention_bwd_packed(SimdPath::best(), shape, scale, qkv, o, lse, doc, dqkv);
    linear_dw(
        r,
        d,
        3 * d,
        dqkv,
        &a.y1[..r * d],
        &mut grad[br.qkv.0.clone()],
    );
    if let Some(b) = &br.qkv.1 {
        colsum_add(dqkv, &mut grad[b.clone()]);
    }
    let dy = grow(&mut w.d1, r * d);
    linear_dx(r, d, 3 * d, &w.d4[..3 * r * d], p(&br.qkv.0), dy, false);
    let (x_in, st1) = (&a.x_in[..r * d], &a.st1[..2 * r]);
    let bufs = (&mut w.d2, &mut w.small);
    ln_backward(&br.norm1, flat, grad, x_in, st1, &w.d1[..r * d], dx, bufs);
}

/// LayerNorm backward: `dx += LN'(x)ᵀ·dy`, weight / bias gradients added into `grad`;
/// `stats` = mean then rstd per row; `bufs` = (a `[rows, d]` and a `[2·d]` scratch).
#[allow(clippy::too_many_arguments)]
pub(crate) fn ln_backward(
    ln: &(Range<usize>, Range<usize>),
    flat: &[f32],
    grad: &mut [f32],
    x: &[f32],
    stats: &[f32],
    dy: &[f32],
    dx: &mut [f32],
    bufs: (&mut Vec<f32>, &mut Vec<f32>),
) {
    let d = ln.0.len();
    let r = x.len() / d.max(1);
    let (mean, rstd) = stats.split_at(r);
    let (dw, db) = grow(bufs.1, 2 * d).split_at_mut(d);
    let tmp = grow(bufs.0, r * d);
    let weight = Some(&flat[ln.0.clone()]);
    layernorm_bwd(r, d, x, weight, mean, rstd, dy, tmp, Some(dw), Some(db));
    add_into(dx, tmp);
    add_into(&mut grad[ln.0.clone()], dw);
    add_into(&mut grad[ln.1.clone()], db);
}
