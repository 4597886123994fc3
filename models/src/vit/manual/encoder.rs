//! Context-encoder forward with saved activations and its backward (manual, tape-free):
//! patchify → gather kept patches → patch-embed GEMM (+ bias + pos) → [extra tokens] →
//! blocks → final norm over the kept tokens.

use super::block::{self, ln_backward, Acts, Work};
use crate::vit::fast::{Dims, FlatLayout};
use crate::vit::kern::{colsum_add, grow, linear, linear_dw};
use crate::vit::VitConfig;
use jepa_engine::RowIndex;
use jepa_kernels::cpu::gather::gather_rows;
use jepa_kernels::cpu::layernorm::layernorm_fwd;
use jepa_kernels::cpu::patchify::patchify;
use rayon::prelude::*;

/// What the encoder backward needs from its forward.
#[derive(Debug, Default)]
pub(crate) struct EncTrace {
    dims: Option<Dims>,
    /// Gathered patches `[rows·keep, C·p·p]`.
    patches: Vec<f32>,
    all_patches: Vec<f32>,
    acts: Vec<Acts>,
    /// Input of the final norm `[rows·keep, d]` and its stats.
    x_last: Vec<f32>,
    st: Vec<f32>,
    x: Vec<f32>,
    dx: Vec<f32>,
    pub(crate) work: Work,
}

/// `imgs: [b, C, S, S]` (row-major), `masks` (each `[b, k]`, validated), `extra`: `(E, [rows,
/// E, d])` → output `[rows, k, d]` with rows = len(masks)·b.
#[allow(clippy::too_many_arguments)]
pub(crate) fn forward(
    cfg: &VitConfig,
    lay: &FlatLayout,
    flat: &[f32],
    imgs: &[f32],
    b: usize,
    masks: &[RowIndex],
    extra: Option<(usize, &[f32])>,
    tr: &mut EncTrace,
) -> Vec<f32> {
    let (n, d, cpp) = (cfg.num_patches(), cfg.dim, cfg.patch_dim());
    let k = masks[0].dims().1;
    let rows = masks.len() * b;
    let e = extra.map_or(0, |e| e.0);
    let t = k + e;
    let dm = Dims {
        rows,
        t,
        keep: k,
        d,
        heads: cfg.heads,
        hidden: cfg.mlp_hidden,
        eps: cfg.ln_eps,
    };
    tr.dims = Some(dm);
    let all = grow(&mut tr.all_patches, b * n * cpp);
    let s = cfg.img_size;
    patchify(b, cfg.in_chans, s, s, cfg.patch_size, imgs, all);
    let pg = grow(&mut tr.patches, rows * k * cpp);
    for (m, dst) in masks.iter().zip(pg.chunks_mut(b * k * cpp)) {
        gather_rows(b, n, cpp, k, &tr.all_patches, m.as_slice(), dst);
    }
    // Kept tokens are embedded directly: the patch embed is row-wise, so gathering patches
    // before the GEMM equals gathering embedded tokens after it.
    let x = grow(&mut tr.x, rows * t * d);
    let x0 = &mut x[..rows * k * d];
    linear(
        rows * k,
        cpp,
        d,
        &tr.patches[..rows * k * cpp],
        &flat[lay.patch_w.clone()],
        None,
        x0,
        false,
    );
    let (bias, pos) = (&flat[lay.patch_b.clone()], &flat[lay.pos.clone()]);
    x0.par_chunks_mut(k * d).enumerate().for_each(|(r, xr)| {
        let idx = &masks[r / b].as_slice()[(r % b) * k..][..k];
        for (tok, &pi) in xr.chunks_mut(d).zip(idx) {
            let pe = &pos[pi * d..][..d];
            tok.iter_mut()
                .zip(bias.iter().zip(pe))
                .for_each(|(v, (&bv, &pv))| *v += bv + pv);
        }
    });
    if let Some((e, ev)) = extra {
        // Spread [rows, k, d] to [rows, t, d] from the back so nothing is overwritten early.
        for r in (0..rows).rev() {
            x.copy_within(r * k * d..(r + 1) * k * d, r * t * d);
            x[(r * t + k) * d..(r + 1) * t * d].copy_from_slice(&ev[r * e * d..(r + 1) * e * d]);
        }
    }
    tr.acts.resize_with(lay.blocks.len(), Acts::default);
    for (br, a) in lay.blocks.iter().zip(tr.acts.iter_mut()) {
        block::forward(br, flat, x, &dm, a, &mut tr.work);
    }
    let xl = grow(&mut tr.x_last, rows * k * d);
    for (dst, src) in xl.chunks_mut(k * d).zip(x.chunks(t * d)) {
        dst.copy_from_slice(&src[..k * d]);
    }
    let mut out = vec![0f32; rows * k * d];
    let (mean, rstd) = grow(&mut tr.st, 2 * rows * k).split_at_mut(rows * k);
    let (nw, nb) = (&flat[lay.norm.0.clone()], &flat[lay.norm.1.clone()]);
    layernorm_fwd(
        rows * k,
        d,
        dm.eps,
        xl,
        Some(nw),
        Some(nb),
        &mut out,
        mean,
        rstd,
    );
    out
}

/// Adds the gradients of every encoder parameter for upstream `dout: [rows, k, d]` into
/// `grad` (laid out like the store). The pos embed is fixed and gets none.
pub(crate) fn backward(
    cfg: &VitConfig,
    lay: &FlatLayout,
    flat: &[f32],
    grad: &mut [f32],
    dout: &[f32],
    tr: &mut EncTrace,
) {
    let Some(dm) = tr.dims else {
        return;
    };
    let (rows, t, k, d) = (dm.rows, dm.t, dm.keep, dm.d);
    let dx = grow(&mut tr.dx, rows * t * d);
    dx.fill(0.0);
    let mut dk = vec![0f32; rows * k * d];
    let (xl, st) = (&tr.x_last[..rows * k * d], &tr.st[..2 * rows * k]);
    let bufs = (&mut Vec::new(), &mut Vec::new());
    ln_backward(&lay.norm, flat, grad, xl, st, dout, &mut dk, bufs);
    for (dst, src) in dx.chunks_mut(t * d).zip(dk.chunks(k * d)) {
        dst[..k * d].copy_from_slice(src);
    }
    for (br, a) in lay.blocks.iter().zip(&tr.acts).rev() {
        block::backward(br, flat, grad, dx, &dm, a, &mut tr.work);
    }
    let dx0: Vec<f32> = if t == k {
        dx[..rows * k * d].to_vec()
    } else {
        dx.chunks(t * d)
            .flat_map(|r| r[..k * d].iter().copied())
            .collect()
    };
    let cpp = cfg.patch_dim();
    let pg = &tr.patches[..rows * k * cpp];
    linear_dw(rows * k, cpp, d, &dx0, pg, &mut grad[lay.patch_w.clone()]);
    colsum_add(&dx0, &mut grad[lay.patch_b.clone()]);
}
