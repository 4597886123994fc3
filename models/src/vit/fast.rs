//! Tape-free encoder forward for inference and for the target branch (llm.c style): the kernels
//! run directly on the store's flat buffer and on scratch buffers reused across blocks and
//! calls. Residual adds are fused into the GEMMs (accumulate); attention reads the qkv product
//! in place (a head permute only for batches too small to split by sequence).
//! Numerically it is the engine path's forward (same kernels, same order of operations).

use super::error::{ModelError, ModelResult};
use super::kern::{add_rows, bias_gelu, grow, heads_tokens, linear, split_qkv, Heads};
use super::params::ParamStore;
use jepa_engine::{Device, Tensor};
use jepa_kernels::cpu::attention::{attention_fwd, attention_fwd_packed, AttnShape};
use jepa_kernels::cpu::layernorm::layernorm_fwd;
use jepa_kernels::cpu::simd::SimdPath;
use rayon::prelude::*;
use std::ops::Range;

/// Ranges of one block's parameters in the flat buffer.
#[derive(Clone, Debug)]
pub(crate) struct BlockRanges {
    pub norm1: (Range<usize>, Range<usize>),
    pub qkv: (Range<usize>, Option<Range<usize>>),
    pub proj: (Range<usize>, Range<usize>),
    pub norm2: (Range<usize>, Range<usize>),
    pub fc1: (Range<usize>, Range<usize>),
    pub fc2: (Range<usize>, Range<usize>),
}

impl BlockRanges {
    /// The block stored under `prefix` (e.g. `blocks.3.`).
    pub(crate) fn new(store: &ParamStore, prefix: &str) -> ModelResult<BlockRanges> {
        let b = |s: &str| range(store, &format!("{prefix}{s}"));
        Ok(BlockRanges {
            norm1: (b("norm1.weight")?, b("norm1.bias")?),
            qkv: (b("attn.qkv.weight")?, b("attn.qkv.bias").ok()),
            proj: (b("attn.proj.weight")?, b("attn.proj.bias")?),
            norm2: (b("norm2.weight")?, b("norm2.bias")?),
            fc1: (b("mlp.fc1.weight")?, b("mlp.fc1.bias")?),
            fc2: (b("mlp.fc2.weight")?, b("mlp.fc2.bias")?),
        })
    }
}

/// Flat-buffer ranges of every encoder parameter.
#[derive(Clone, Debug)]
pub(crate) struct FlatLayout {
    pub patch_w: Range<usize>,
    pub patch_b: Range<usize>,
    pub pos: Range<usize>,
    pub norm: (Range<usize>, Range<usize>),
    pub blocks: Vec<BlockRanges>,
}

pub(crate) fn range(store: &ParamStore, name: &str) -> ModelResult<Range<usize>> {
    let p = store.get(name).ok_or_else(|| ModelError::MissingParam {
        name: name.into(),
        origin: "the parameter store".into(),
    })?;
    Ok(p.offset()..p.offset() + p.numel())
}

impl FlatLayout {
    pub(crate) fn new(store: &ParamStore, depth: usize) -> ModelResult<FlatLayout> {
        let r = |n: &str| range(store, n);
        let blocks = (0..depth)
            .map(|i| BlockRanges::new(store, &format!("blocks.{i}.")))
            .collect::<ModelResult<Vec<_>>>()?;
        Ok(FlatLayout {
            patch_w: r("patch_embed.proj.weight")?,
            patch_b: r("patch_embed.proj.bias")?,
            pos: r("pos_embed")?,
            norm: (r("norm.weight")?, r("norm.bias")?),
            blocks,
        })
    }
}

/// Reusable activation buffers (grown on demand, never shrunk).
#[derive(Debug, Default)]
pub(crate) struct Scratch {
    y: Vec<f32>,
    qkv: Vec<f32>,
    qkvp: Vec<f32>,
    o: Vec<f32>,
    oc: Vec<f32>,
    h: Vec<f32>,
    g: Vec<f32>,
    stats: Vec<f32>,
    lse: Vec<f32>,
}

/// Sizes of one forward.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Dims {
    /// Sequences (batch rows after the mask gather).
    pub rows: usize,
    /// Tokens per sequence (kept + extra).
    pub t: usize,
    /// Tokens kept in the output.
    pub keep: usize,
    pub d: usize,
    pub heads: usize,
    pub hidden: usize,
    pub eps: f32,
}

/// `[B, C, S, S]` images → `[B, N, D]` patch embed + pos embed.
pub(crate) fn embed(
    lay: &FlatLayout,
    flat: &[f32],
    imgs: &[f32],
    (b, c, s, p, d): (usize, usize, usize, usize, usize),
) -> Vec<f32> {
    let (n, cpp) = ((s / p) * (s / p), c * p * p);
    let mut patches = vec![0f32; b * n * cpp];
    jepa_kernels::cpu::patchify::patchify(b, c, s, s, p, imgs, &mut patches);
    let mut x = vec![0f32; b * n * d];
    let (w, bias) = (&flat[lay.patch_w.clone()], &flat[lay.patch_b.clone()]);
    linear(b * n, cpp, d, &patches, w, Some(bias), &mut x, false);
    let pos = &flat[lay.pos.clone()];
    x.par_chunks_mut(n * d).for_each(|xb| {
        xb.iter_mut().zip(pos).for_each(|(v, &pv)| *v += pv);
    });
    x
}

/// Runs every block on `x: [rows, t, d]` in place, then the final norm over the first `keep`
/// tokens of each sequence. `keep_blocks` collects each block's first `keep` tokens.
pub(crate) fn run_blocks(
    lay: &FlatLayout,
    flat: &[f32],
    x: &mut [f32],
    dm: Dims,
    sc: &mut Scratch,
    mut keep_blocks: Option<&mut Vec<Vec<f32>>>,
) -> Vec<f32> {
    let Dims {
        rows,
        t,
        keep,
        d,
        heads,
        hidden,
        eps,
    } = dm;
    let (r, dh) = (rows * t, d / heads);
    let shape = AttnShape {
        b: rows,
        h: heads,
        n: t,
        d: dh,
    };
    let scale = 1.0 / (dh as f32).sqrt();
    for blk in &lay.blocks {
        let p = |rg: &Range<usize>| &flat[rg.clone()];
        let stats = grow(&mut sc.stats, 2 * r);
        let (mean, rstd) = stats.split_at_mut(r);
        let y = grow(&mut sc.y, r * d);
        layernorm_fwd(
            r,
            d,
            eps,
            x,
            Some(p(&blk.norm1.0)),
            Some(p(&blk.norm1.1)),
            y,
            mean,
            rstd,
        );
        // Biases are applied in the parallel passes that follow each GEMM (the GEMM's own bias
        // epilogue pre-fills the output on one thread).
        let qkv = grow(&mut sc.qkv, r * 3 * d);
        linear(r, d, 3 * d, y, p(&blk.qkv.0), None, qkv, false);
        let qkv_b = blk.qkv.1.as_ref().map(p);
        let oc = grow(&mut sc.oc, r * d);
        let lse = grow(&mut sc.lse, r * heads);
        if rows >= 2 * rayon::current_num_threads() {
            // Attention straight on the product's layout: no head permutes; the tasks are
            // whole sequences, which needs enough of them to fill the threads.
            if let Some(b) = qkv_b {
                add_rows(qkv, b);
            }
            attention_fwd_packed(SimdPath::best(), shape, scale, qkv, oc, lse);
        } else {
            // Few sequences (single-image embedding): split by head so every thread works.
            let hs = Heads {
                rows,
                t,
                h: heads,
                dh,
            };
            let qkvp = grow(&mut sc.qkvp, r * 3 * d);
            split_qkv(hs, qkv, qkv_b, qkvp);
            let (q, kv) = qkvp.split_at(r * d);
            let (k, v) = kv.split_at(r * d);
            let o = grow(&mut sc.o, r * d);
            attention_fwd(shape, scale, q, k, v, o, lse);
            heads_tokens(hs, o, oc, false);
        }
        add_rows(x, p(&blk.proj.1));
        linear(r, d, d, oc, p(&blk.proj.0), None, x, true);
        layernorm_fwd(
            r,
            d,
            eps,
            x,
            Some(p(&blk.norm2.0)),
            Some(p(&blk.norm2.1)),
            y,
            mean,
            rstd,
        );
        let h = grow(&mut sc.h, r * hidden);
        linear(r, d, hidden, y, p(&blk.fc1.0), None, h, false);
        let g = grow(&mut sc.g, r * hidden);
        bias_gelu(h, p(&blk.fc1.1), g);
        add_rows(x, p(&blk.fc2.1));
        linear(r, hidden, d, g, p(&blk.fc2.0), None, x, true);
        if let Some(kb) = keep_blocks.as_deref_mut() {
            kb.push(first_tokens(x, rows, t, keep, d));
        }
    }
    let kept;
    let src = if keep == t {
        &x[..rows * t * d]
    } else {
        kept = first_tokens(x, rows, t, keep, d);
        &kept[..]
    };
    let mut out = vec![0f32; rows * keep * d];
    let stats = grow(&mut sc.stats, 2 * rows * keep);
    let (mean, rstd) = stats.split_at_mut(rows * keep);
    let (nw, nb) = (&flat[lay.norm.0.clone()], &flat[lay.norm.1.clone()]);
    layernorm_fwd(
        rows * keep,
        d,
        eps,
        src,
        Some(nw),
        Some(nb),
        &mut out,
        mean,
        rstd,
    );
    out
}

/// The first `keep` of `t` tokens of each sequence.
pub(crate) fn first_tokens(x: &[f32], rows: usize, t: usize, keep: usize, d: usize) -> Vec<f32> {
    if keep == t {
        return x[..rows * t * d].to_vec();
    }
    x.chunks(t * d)
        .take(rows)
        .flat_map(|s| s[..keep * d].iter().copied())
        .collect()
}

/// A `[dims]` F32 CPU tensor from a vector.
pub(crate) fn tensor(v: Vec<f32>, dims: &[usize]) -> ModelResult<Tensor> {
    Ok(Tensor::from_vec(v, dims.to_vec(), Device::Cpu)?)
}
