//! Predictor forward with saved activations and its backward (manual, tape-free), in the
//! official block-major order (see `vit::predictor`).

use super::block::{self, ln_backward, Acts, Work};
use crate::vit::fast::{range, BlockRanges, Dims};
use crate::vit::kern::{colsum_add, grow, linear, linear_dw, linear_dx};
use crate::vit::{ModelResult, ParamStore, PredictorConfig};
use jepa_engine::RowIndex;
use jepa_kernels::cpu::layernorm::layernorm_fwd;
use rayon::prelude::*;
use std::ops::Range;

/// Flat-buffer ranges of the predictor parameters.
#[derive(Clone, Debug)]
pub(crate) struct PredLayout {
    mask_token: Range<usize>,
    pos: Range<usize>,
    embed: (Range<usize>, Range<usize>),
    blocks: Vec<BlockRanges>,
    norm: (Range<usize>, Range<usize>),
    proj: (Range<usize>, Range<usize>),
}

impl PredLayout {
    pub(crate) fn new(store: &ParamStore, depth: usize) -> ModelResult<PredLayout> {
        let r = |n: &str| range(store, n);
        Ok(PredLayout {
            mask_token: r("mask_token")?,
            pos: r("predictor_pos_embed")?,
            embed: (r("predictor_embed.weight")?, r("predictor_embed.bias")?),
            blocks: (0..depth)
                .map(|i| BlockRanges::new(store, &format!("predictor_blocks.{i}.")))
                .collect::<ModelResult<_>>()?,
            norm: (r("predictor_norm.weight")?, r("predictor_norm.bias")?),
            proj: (r("predictor_proj.weight")?, r("predictor_proj.bias")?),
        })
    }
}

/// What the predictor backward needs from its forward.
#[derive(Debug, Default)]
pub(crate) struct PredTrace {
    /// (rows, nb, kc, kt, dims of the blocks)
    shape: Option<(usize, usize, usize, usize, Dims)>,
    z: Vec<f32>,
    s: Vec<f32>,
    acts: Vec<Acts>,
    y_last: Vec<f32>,
    st: Vec<f32>,
    normed: Vec<f32>,
    ds: Vec<f32>,
    pub(crate) work: Work,
}

/// `z: [nb, kc, D]` (nb = nenc·b context rows) → predictions `[npred·nb, kt, D]`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn forward(
    cfg: &PredictorConfig,
    lay: &PredLayout,
    flat: &[f32],
    z: &[f32],
    b: usize,
    masks_enc: &[RowIndex],
    masks_pred: &[RowIndex],
    tr: &mut PredTrace,
) -> Vec<f32> {
    let (d, dp) = (cfg.enc_dim, cfg.dim);
    let (nb, kc, kt) = (
        masks_enc.len() * b,
        masks_enc[0].dims().1,
        masks_pred[0].dims().1,
    );
    let (rows, t) = (masks_pred.len() * nb, kc + kt);
    let dm = Dims {
        rows,
        t,
        keep: kt,
        d: dp,
        heads: cfg.heads,
        hidden: cfg.mlp_hidden,
        eps: cfg.ln_eps,
    };
    tr.shape = Some((rows, nb, kc, kt, dm));
    grow(&mut tr.z, nb * kc * d).copy_from_slice(&z[..nb * kc * d]);
    let mut e = vec![0f32; nb * kc * dp];
    linear(
        nb * kc,
        d,
        dp,
        z,
        &flat[lay.embed.0.clone()],
        None,
        &mut e,
        false,
    );
    let (eb, pos, mt) = (
        &flat[lay.embed.1.clone()],
        &flat[lay.pos.clone()],
        &flat[lay.mask_token.clone()],
    );
    e.par_chunks_mut(kc * dp).enumerate().for_each(|(j, er)| {
        let idx = &masks_enc[j / b].as_slice()[(j % b) * kc..][..kc];
        for (tok, &pi) in er.chunks_mut(dp).zip(idx) {
            let pe = &pos[pi * dp..][..dp];
            tok.iter_mut()
                .zip(eb.iter().zip(pe))
                .for_each(|(v, (&bv, &pv))| *v += bv + pv);
        }
    });
    // Row (m, j): the embedded context j, then mask_token + pos of target block m for image j % b.
    let s = grow(&mut tr.s, rows * t * dp);
    s.par_chunks_mut(t * dp).enumerate().for_each(|(r, sr)| {
        let (m, j) = (r / nb, r % nb);
        sr[..kc * dp].copy_from_slice(&e[j * kc * dp..(j + 1) * kc * dp]);
        let idx = &masks_pred[m].as_slice()[(j % b) * kt..][..kt];
        for (tok, &pi) in sr[kc * dp..].chunks_mut(dp).zip(idx) {
            let pe = &pos[pi * dp..][..dp];
            tok.iter_mut()
                .zip(mt.iter().zip(pe))
                .for_each(|(v, (&a, &p))| *v = a + p);
        }
    });
    tr.acts.resize_with(lay.blocks.len(), Acts::default);
    for (br, a) in lay.blocks.iter().zip(tr.acts.iter_mut()) {
        block::forward(br, flat, s, &dm, a, &mut tr.work);
    }
    let yl = grow(&mut tr.y_last, rows * kt * dp);
    for (dst, src) in yl.chunks_mut(kt * dp).zip(s.chunks(t * dp)) {
        dst.copy_from_slice(&src[kc * dp..]);
    }
    let normed = grow(&mut tr.normed, rows * kt * dp);
    let (mean, rstd) = grow(&mut tr.st, 2 * rows * kt).split_at_mut(rows * kt);
    let (nw, nbias) = (&flat[lay.norm.0.clone()], &flat[lay.norm.1.clone()]);
    layernorm_fwd(
        rows * kt,
        dp,
        dm.eps,
        yl,
        Some(nw),
        Some(nbias),
        normed,
        mean,
        rstd,
    );
    let mut out = vec![0f32; rows * kt * d];
    let (pw, pb) = (&flat[lay.proj.0.clone()], &flat[lay.proj.1.clone()]);
    linear(rows * kt, dp, d, normed, pw, Some(pb), &mut out, false);
    out
}

/// Adds every predictor parameter gradient for upstream `dout: [rows, kt, D]` into `grad` and
/// returns d loss / d z (`[nb, kc, D]`).
pub(crate) fn backward(
    cfg: &PredictorConfig,
    lay: &PredLayout,
    flat: &[f32],
    grad: &mut [f32],
    dout: &[f32],
    tr: &mut PredTrace,
) -> Vec<f32> {
    let Some((rows, nb, kc, kt, dm)) = tr.shape else {
        return Vec::new();
    };
    let (d, dp, t) = (cfg.enc_dim, cfg.dim, kc + kt);
    let n = rows * kt;
    linear_dw(
        n,
        dp,
        d,
        dout,
        &tr.normed[..n * dp],
        &mut grad[lay.proj.0.clone()],
    );
    colsum_add(dout, &mut grad[lay.proj.1.clone()]);
    let mut dn = vec![0f32; n * dp];
    linear_dx(n, dp, d, dout, &flat[lay.proj.0.clone()], &mut dn, false);
    let mut dl = vec![0f32; n * dp];
    let (yl, st) = (&tr.y_last[..n * dp], &tr.st[..2 * n]);
    ln_backward(
        &lay.norm,
        flat,
        grad,
        yl,
        st,
        &dn,
        &mut dl,
        (&mut dn.clone(), &mut Vec::new()),
    );
    let ds = grow(&mut tr.ds, rows * t * dp);
    ds.par_chunks_mut(t * dp)
        .zip(dl.par_chunks(kt * dp))
        .for_each(|(dst, src)| {
            dst[..kc * dp].fill(0.0);
            dst[kc * dp..].copy_from_slice(src);
        });
    for (br, a) in lay.blocks.iter().zip(&tr.acts).rev() {
        block::backward(br, flat, grad, ds, &dm, a, &mut tr.work);
    }
    // mask_token feeds every target token; each context row is replicated once per block.
    let mut dmt = vec![0f32; dp];
    let mut de = vec![0f32; nb * kc * dp];
    for (r, sr) in ds.chunks(t * dp).enumerate() {
        for tok in sr[kc * dp..].chunks(dp) {
            dmt.iter_mut().zip(tok).for_each(|(a, &v)| *a += v);
        }
        let j = r % nb;
        de[j * kc * dp..(j + 1) * kc * dp]
            .iter_mut()
            .zip(&sr[..kc * dp])
            .for_each(|(a, &v)| *a += v);
    }
    grad[lay.mask_token.clone()]
        .iter_mut()
        .zip(&dmt)
        .for_each(|(g, &v)| *g += v);
    linear_dw(
        nb * kc,
        d,
        dp,
        &de,
        &tr.z[..nb * kc * d],
        &mut grad[lay.embed.0.clone()],
    );
    colsum_add(&de, &mut grad[lay.embed.1.clone()]);
    let mut dz = vec![0f32; nb * kc * d];
    linear_dx(
        nb * kc,
        d,
        dp,
        &de,
        &flat[lay.embed.0.clone()],
        &mut dz,
        false,
    );
    dz
}
