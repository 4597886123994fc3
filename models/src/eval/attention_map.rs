//! Last-layer self-attention of a ViT encoder, for pictures (C-JEPA paper, figs. 3–8).
//!
//! The I-JEPA ViT has no CLS token, so there is no "CLS → patches" row to draw. What is drawn
//! instead is the attention each patch *receives*: the softmax weights of the last block
//! averaged over all query patches (a column mean), per head or averaged over heads. A patch
//! that many others read from is bright. Column means sum to 1 over the patches, so a map of
//! an encoder that attends uniformly (random init: q·k ≈ 0) is flat at 1/N, and the map's
//! contrast is itself the measure of structure. [`attention_entropy`] puts a number on it.

use jepa_engine::{no_grad, Tensor};

use crate::vit::{EncoderInputs, ModelError, ModelResult, VisionTransformer};

/// Softmax attention weights of one layer: `probs[b][h][query][key]`, row-major.
#[derive(Clone, Debug, PartialEq)]
pub struct AttentionProbs {
    pub batch: usize,
    pub heads: usize,
    /// Patches (tokens) N: queries and keys.
    pub tokens: usize,
    pub probs: Vec<f32>,
}

impl AttentionProbs {
    fn row(&self, b: usize, h: usize, q: usize) -> &[f32] {
        let n = self.tokens;
        let at = ((b * self.heads + h) * n + q) * n;
        &self.probs[at..at + n]
    }

    /// Attention each key patch receives, averaged over queries: `[N]` for image `b`, head `h`
    /// (`None`: averaged over heads too). Sums to 1.
    pub fn received(&self, b: usize, h: Option<usize>) -> Vec<f32> {
        let n = self.tokens;
        let heads: Vec<usize> = match h {
            Some(h) => vec![h],
            None => (0..self.heads).collect(),
        };
        let mut out = vec![0.0f64; n];
        for &h in &heads {
            for q in 0..n {
                for (o, &p) in out.iter_mut().zip(self.row(b, h, q)) {
                    *o += f64::from(p);
                }
            }
        }
        let scale = 1.0 / (n * heads.len()).max(1) as f64;
        out.iter().map(|&v| (v * scale) as f32).collect()
    }
}

/// Mean entropy of the attention rows divided by ln N: 1.0 for uniform attention, lower the
/// more each query concentrates on a few keys.
pub fn attention_entropy(a: &AttentionProbs) -> f64 {
    let n = a.tokens;
    if n < 2 {
        return 0.0;
    }
    let rows = a.probs.len() / n;
    let total: f64 = a
        .probs
        .chunks(n)
        .map(|r| {
            -r.iter()
                .filter(|&&p| p > 0.0)
                .map(|&p| f64::from(p) * f64::from(p).ln())
                .sum::<f64>()
        })
        .sum();
    total / rows.max(1) as f64 / (n as f64).ln()
}

/// The attention weights of `enc`'s last block for `imgs` `[B, C, S, S]`, recomputed from the
/// block's input (the previous block's output) and its `norm1` / `attn.qkv` parameters, with
/// the qkv features laid out `[3][heads][D/heads]` as in the official checkpoints.
pub fn last_layer_attention(enc: &VisionTransformer, imgs: &Tensor) -> ModelResult<AttentionProbs> {
    let _guard = no_grad();
    let cfg = enc.config();
    let last = cfg.depth.checked_sub(1).ok_or_else(|| {
        ModelError::Input("an encoder without blocks has no attention to draw".into())
    })?;
    let out = enc.forward_with(
        imgs,
        EncoderInputs {
            keep_blocks: true,
            ..Default::default()
        },
    )?;
    let x = match last {
        0 => out.tokens0,
        i => out.blocks.get(i - 1).cloned(),
    }
    .ok_or_else(|| ModelError::Input("the encoder did not return its block outputs".into()))?;
    let (b, n, d) = (x.dims()[0], x.dims()[1], x.dims()[2]);
    let (h, dh) = (cfg.heads, d / cfg.heads.max(1));
    let store = enc.store();
    let p = |s: &str| store.value(&format!("blocks.{last}.{s}"));
    let y = x.layer_norm(
        Some(&p("norm1.weight")?),
        Some(&p("norm1.bias")?),
        cfg.ln_eps,
    )?;
    let w = p("attn.qkv.weight")?;
    let bias = if cfg.qkv_bias {
        Some(p("attn.qkv.bias")?)
    } else {
        None
    };
    // q is part 0 and k part 1 of the [3][h][dh] output features.
    let part = |i: usize| -> ModelResult<Tensor> {
        let wi = w.narrow(0, i * d, d)?;
        let bi = bias.as_ref().map(|t| t.narrow(0, i * d, d)).transpose()?;
        Ok(y.linear(&wi, bi.as_ref())?
            .reshape([b, n, h, dh])?
            .permute(&[0, 2, 1, 3])?
            .contiguous()?)
    };
    let (q, k) = (part(0)?, part(1)?);
    let scores = q
        .matmul(&k.transpose(2, 3)?)?
        .mul_scalar(1.0 / (dh as f32).sqrt())?;
    let probs = scores.softmax(3)?.to_vec_f32()?;
    if probs.iter().any(|v| !v.is_finite()) {
        return Err(ModelError::Input(
            "the last layer's attention weights are not finite".into(),
        ));
    }
    Ok(AttentionProbs {
        batch: b,
        heads: h,
        tokens: n,
        probs,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vit::VitConfig;
    use jepa_engine::Device;

    fn tiny(depth: usize) -> VisionTransformer {
        let cfg = VitConfig::custom(16, depth, 2, 8, 4);
        VisionTransformer::new(cfg, Vec::new(), 3, false).unwrap()
    }

    fn images(b: usize) -> Tensor {
        let v: Vec<f32> = (0..b * 3 * 8 * 8)
            .map(|i| ((i * 37) % 11) as f32 / 5.0 - 1.0)
            .collect();
        Tensor::from_vec(v, [b, 3, 8, 8], Device::Cpu).unwrap()
    }

    #[test]
    fn rows_are_distributions_and_received_sums_to_one() {
        for depth in [1, 2] {
            let a = last_layer_attention(&tiny(depth), &images(2)).unwrap();
            assert_eq!((a.batch, a.heads, a.tokens), (2, 2, 4));
            for r in a.probs.chunks(4) {
                assert!((r.iter().sum::<f32>() - 1.0).abs() < 1e-5, "{r:?}");
            }
            for h in [None, Some(1)] {
                let m = a.received(1, h);
                assert!((m.iter().sum::<f32>() - 1.0).abs() < 1e-5, "{m:?}");
            }
            let e = attention_entropy(&a);
            assert!(e > 0.0 && e <= 1.0 + 1e-9, "{e}");
        }
    }

    #[test]
    fn entropy_is_one_for_uniform_and_lower_for_peaked_attention() {
        let uniform = AttentionProbs {
            batch: 1,
            heads: 1,
            tokens: 4,
            probs: vec![0.25; 16],
        };
        assert!((attention_entropy(&uniform) - 1.0).abs() < 1e-9);
        let mut peaked = uniform.clone();
        peaked.probs = [1.0, 0.0, 0.0, 0.0].repeat(4);
        assert_eq!(attention_entropy(&peaked), 0.0);
        assert_eq!(peaked.received(0, None), vec![1.0, 0.0, 0.0, 0.0]);
    }
}
