//! The I-JEPA predictor (methods.md §1.4, official names §1.5). Context features are embedded
//! to width Dp and get the predictor pos embed of their patches; each target block gets its own
//! sequence `[context ; mask_token + pos(target)]`, stacked block-major, so blocks never see each
//! other's mask tokens. Output: the target positions after `predictor_norm` and `predictor_proj`.

use super::block::{block_specs, Block};
use super::config::PredictorConfig;
use super::error::{ModelError, ModelResult};
use super::index;
use super::params::{Init, ParamSpec, ParamStore};
use super::pos_embed::{check_pos_embed, write_pos_embed};
use jepa_engine::{RowIndex, Tensor};

/// Official parameter declarations, in state-dict order.
pub fn predictor_specs(cfg: &PredictorConfig) -> Vec<ParamSpec> {
    let (d, dp) = (cfg.enc_dim, cfg.dim);
    let tn = Init::TruncNormal(0.02);
    let mut v = vec![
        ParamSpec::new("mask_token", &[1, 1, dp], tn),
        ParamSpec::fixed("predictor_pos_embed", &[1, cfg.num_patches, dp]),
        ParamSpec::new("predictor_embed.weight", &[dp, d], tn),
        ParamSpec::new("predictor_embed.bias", &[dp], Init::Zeros),
    ];
    for i in 0..cfg.depth {
        v.extend(block_specs(
            &format!("predictor_blocks.{i}."),
            dp,
            cfg.mlp_hidden,
            cfg.qkv_bias,
        ));
    }
    v.extend([
        ParamSpec::new("predictor_norm.weight", &[dp], Init::Ones),
        ParamSpec::new("predictor_norm.bias", &[dp], Init::Zeros),
        ParamSpec::new("predictor_proj.weight", &[d, dp], tn),
        ParamSpec::new("predictor_proj.bias", &[d], Init::Zeros),
    ]);
    v
}

/// The predictor network.
#[derive(Debug)]
pub struct VisionTransformerPredictor {
    cfg: PredictorConfig,
    store: ParamStore,
    mask_token: Tensor,
    pos_embed: Tensor,
    embed: (Tensor, Tensor),
    blocks: Vec<Block>,
    norm: (Tensor, Tensor),
    proj: (Tensor, Tensor),
}

impl VisionTransformerPredictor {
    /// A freshly initialised (§1.9), trainable predictor.
    pub fn new(cfg: PredictorConfig, seed: u64) -> ModelResult<VisionTransformerPredictor> {
        cfg.validate()?;
        let store = ParamStore::new(predictor_specs(&cfg), true)?;
        store.init(seed)?;
        write_pos_embed(&store, "predictor_pos_embed", cfg.dim, cfg.grid())?;
        Self::from_store(cfg, store)
    }

    /// Wraps a store holding the official predictor names for `cfg`.
    pub fn from_store(
        cfg: PredictorConfig,
        store: ParamStore,
    ) -> ModelResult<VisionTransformerPredictor> {
        cfg.validate()?;
        for spec in predictor_specs(&cfg) {
            let found = store.get(&spec.name).map(|p| p.shape().to_vec());
            if found.as_deref() != Some(spec.shape.as_slice()) {
                return Err(ModelError::ParamShape {
                    name: spec.name,
                    expected: spec.shape,
                    found: found.unwrap_or_default(),
                });
            }
        }
        let g = |n: &str| store.value(n);
        let blocks = (0..cfg.depth)
            .map(|i| {
                Block::from_store(
                    &store,
                    &format!("predictor_blocks.{i}."),
                    cfg.heads,
                    cfg.ln_eps,
                )
            })
            .collect::<ModelResult<Vec<_>>>()?;
        Ok(VisionTransformerPredictor {
            mask_token: g("mask_token")?,
            pos_embed: g("predictor_pos_embed")?,
            embed: (g("predictor_embed.weight")?, g("predictor_embed.bias")?),
            norm: (g("predictor_norm.weight")?, g("predictor_norm.bias")?),
            proj: (g("predictor_proj.weight")?, g("predictor_proj.bias")?),
            blocks,
            cfg,
            store,
        })
    }

    pub fn config(&self) -> &PredictorConfig {
        &self.cfg
    }
    pub fn store(&self) -> &ParamStore {
        &self.store
    }

    /// Loads official names (`prefix` + name) and checks the stored pos embed layout.
    pub fn load_map(
        &self,
        map: &std::collections::HashMap<String, Tensor>,
        prefix: &str,
        origin: &str,
    ) -> ModelResult<()> {
        self.store.load_map(map, prefix, origin, true)?;
        check_pos_embed(
            &self.store,
            "predictor_pos_embed",
            self.cfg.dim,
            self.cfg.grid(),
        )
    }

    /// [`VisionTransformerPredictor::load_map`] from a safetensors file.
    pub fn load_safetensors(
        &self,
        path: impl AsRef<std::path::Path>,
        prefix: &str,
    ) -> ModelResult<()> {
        let path = path.as_ref();
        let map = jepa_engine::io::load(path)?;
        self.load_map(&map, prefix, &path.display().to_string())
    }

    /// `z: [nenc·B, K_c, D]` context features, `masks_enc` (nenc × `[B, K_c]`), `masks_pred`
    /// (npred × `[B, K_t]`) → predictions `[npred·nenc·B, K_t, D]`; row block `(m, e)` holds
    /// target block m predicted from context e, as the official code orders them.
    pub fn forward(
        &self,
        z: &Tensor,
        masks_enc: &[RowIndex],
        masks_pred: &[RowIndex],
    ) -> ModelResult<Tensor> {
        let n = self.cfg.num_patches;
        let nenc = masks_enc.len().max(1);
        if z.rank() != 3 || !z.dims()[0].is_multiple_of(nenc) || z.dims()[2] != self.cfg.enc_dim {
            return Err(ModelError::Input(format!(
                "context features of shape {:?}, expected [{nenc}·B, K_c, {}]",
                z.dims(),
                self.cfg.enc_dim
            )));
        }
        let b = z.dims()[0] / nenc;
        let kc = index::validate(masks_enc, b, n, "masks_enc")?;
        let kt = index::validate(masks_pred, b, n, "masks_pred")?;
        if z.dims()[1] != kc {
            return Err(ModelError::Input(format!(
                "context features hold {} tokens, masks_enc keep {kc}",
                z.dims()[1]
            )));
        }
        // Bias and pos embed are summed first, then added once (one rounding per element, as
        // the fused add of the earlier hand-written path did).
        let pos = self.pos_embed.gather_rows_idx(&index::stack(masks_enc)?)?;
        let x = z.linear(&self.embed.0, None)?;
        let x = x.add(&pos.add(&self.embed.1)?)?;
        let tgt_idx = index::repeat_chunks(&index::stack(masks_pred)?, b, nenc)?;
        let tgt = self
            .pos_embed
            .gather_rows_idx(&tgt_idx)?
            .add(&self.mask_token)?;
        let ctx: Vec<&Tensor> = std::iter::repeat_n(&x, masks_pred.len()).collect();
        let mut s = Tensor::cat(&[&Tensor::cat(&ctx, 0)?, &tgt], 1)?;
        for blk in &self.blocks {
            s = blk.forward(&s)?;
        }
        let s = s.narrow(1, kc, kt)?;
        let s = s.layer_norm(Some(&self.norm.0), Some(&self.norm.1), self.cfg.ln_eps)?;
        Ok(s.linear(&self.proj.0, Some(&self.proj.1))?)
    }
}
