//! The I-JEPA ViT encoder (methods.md §1.2, official names §1.5): patch embed (patchify + one
//! GEMM with the conv weight viewed as `[D, C·p·p]`), fixed sin-cos pos embed, optional gather
//! of kept tokens (after the pos embed, before the blocks), pre-norm blocks, final norm.

use super::block::{block_specs, Block};
use super::config::VitConfig;
use super::error::{ModelError, ModelResult};
use super::index;
use super::params::{Init, ParamSpec, ParamStore};
use super::pos_embed::{check_pos_embed, write_pos_embed};
use jepa_engine::{RowIndex, Tensor};

/// Options of [`VisionTransformer::forward_with`].
#[derive(Clone, Copy, Debug, Default)]
pub struct EncoderInputs<'a> {
    /// Kept-patch indices (each `[B, K]`); the gathers are stacked block-major.
    pub masks: Option<&'a [RowIndex]>,
    /// Extra tokens `[rows, E, D]` appended after the patch tokens, run through every block and
    /// dropped before the final norm (EC-IJEPA conditioning).
    pub extra_tokens: Option<&'a Tensor>,
    /// `[rows, 1, D]` added to every token before block 0 (additive conditioning).
    pub additive: Option<&'a Tensor>,
    /// Keep every block's output (before the final norm, extra tokens dropped).
    pub keep_blocks: bool,
}

/// Output of [`VisionTransformer::forward_with`].
#[derive(Clone, Debug)]
pub struct EncoderOutput {
    /// After the final norm: `[rows, K, D]`.
    pub out: Tensor,
    /// Patch embed + pos embed (after the mask gather when masked).
    pub tokens0: Option<Tensor>,
    /// Each block's output when asked for, extra tokens dropped, before the final norm.
    pub blocks: Vec<Tensor>,
}

/// The encoder; context and target encoders are two instances with identical layouts.
#[derive(Debug)]
pub struct VisionTransformer {
    cfg: VitConfig,
    store: ParamStore,
    /// The official `[D, C, p, p]` conv weight.
    patch_w: Tensor,
    patch_b: Tensor,
    pos_embed: Tensor,
    blocks: Vec<Block>,
    norm: (Tensor, Tensor),
}

/// Official parameter declarations, in state-dict order.
pub fn encoder_specs(cfg: &VitConfig) -> Vec<ParamSpec> {
    let (d, p) = (cfg.dim, cfg.patch_size);
    let mut v = vec![
        ParamSpec::fixed("pos_embed", &[1, cfg.num_patches(), d]),
        ParamSpec::new(
            "patch_embed.proj.weight",
            &[d, cfg.in_chans, p, p],
            Init::TruncNormal(0.02),
        ),
        ParamSpec::new("patch_embed.proj.bias", &[d], Init::Zeros),
    ];
    for i in 0..cfg.depth {
        v.extend(block_specs(
            &format!("blocks.{i}."),
            d,
            cfg.mlp_hidden,
            cfg.qkv_bias,
        ));
    }
    v.push(ParamSpec::new("norm.weight", &[d], Init::Ones));
    v.push(ParamSpec::new("norm.bias", &[d], Init::Zeros));
    v
}

impl VisionTransformer {
    /// A freshly initialised encoder (§1.9) with `extra` parameters appended to the store
    /// (e.g. conditioning weights); `trainable` makes the parameters gradient leaves.
    pub fn new(
        cfg: VitConfig,
        extra: Vec<ParamSpec>,
        seed: u64,
        trainable: bool,
    ) -> ModelResult<VisionTransformer> {
        cfg.validate()?;
        let mut specs = encoder_specs(&cfg);
        specs.extend(extra);
        let store = ParamStore::new(specs, trainable)?;
        store.init(seed)?;
        write_pos_embed(&store, "pos_embed", cfg.dim, cfg.grid())?;
        Self::from_store(cfg, store)
    }

    /// Wraps a store that holds (at least) the official encoder names for `cfg`.
    pub fn from_store(cfg: VitConfig, store: ParamStore) -> ModelResult<VisionTransformer> {
        cfg.validate()?;
        for spec in encoder_specs(&cfg) {
            let p = store
                .get(&spec.name)
                .ok_or_else(|| ModelError::MissingParam {
                    name: spec.name.clone(),
                    origin: "the parameter store".into(),
                })?;
            if p.shape() != spec.shape.as_slice() {
                return Err(ModelError::ParamShape {
                    name: spec.name,
                    expected: spec.shape,
                    found: p.shape().to_vec(),
                });
            }
        }
        let blocks = (0..cfg.depth)
            .map(|i| Block::from_store(&store, &format!("blocks.{i}."), cfg.heads, cfg.ln_eps))
            .collect::<ModelResult<Vec<_>>>()?;
        Ok(VisionTransformer {
            patch_w: store.value("patch_embed.proj.weight")?,
            patch_b: store.value("patch_embed.proj.bias")?,
            pos_embed: store.value("pos_embed")?,
            norm: (store.value("norm.weight")?, store.value("norm.bias")?),
            blocks,
            cfg,
            store,
        })
    }

    /// An independent copy whose parameters never track gradients (the EMA target encoder).
    pub fn frozen_copy(&self) -> ModelResult<VisionTransformer> {
        Self::from_store(self.cfg.clone(), self.store.frozen_copy()?)
    }

    pub fn config(&self) -> &VitConfig {
        &self.cfg
    }
    pub fn store(&self) -> &ParamStore {
        &self.store
    }
    /// The fixed `[1, N, D]` position embedding.
    pub fn pos_embed(&self) -> &Tensor {
        &self.pos_embed
    }

    /// Loads official names (`prefix` + name, `module.` stripped) and checks that the stored
    /// pos embed is the sin-cos table (a layout check, max abs diff < 1e-5).
    pub fn load_map(
        &self,
        map: &std::collections::HashMap<String, Tensor>,
        prefix: &str,
        origin: &str,
    ) -> ModelResult<()> {
        self.store.load_map(map, prefix, origin, true)?;
        check_pos_embed(&self.store, "pos_embed", self.cfg.dim, self.cfg.grid())
    }

    /// [`VisionTransformer::load_map`] from a safetensors file.
    pub fn load_safetensors(
        &self,
        path: impl AsRef<std::path::Path>,
        prefix: &str,
    ) -> ModelResult<()> {
        let path = path.as_ref();
        let map = jepa_engine::io::load(path)?;
        self.load_map(&map, prefix, &path.display().to_string())
    }

    fn check_images(&self, imgs: &Tensor) -> ModelResult<()> {
        let c = &self.cfg;
        let want = [c.in_chans, c.img_size, c.img_size];
        if imgs.rank() != 4 || imgs.dims()[1..] != want {
            return Err(ModelError::Input(format!(
                "images of shape {:?}, expected [B, {}, {}, {}]",
                imgs.dims(),
                want[0],
                want[1],
                want[2]
            )));
        }
        Ok(())
    }

    /// Patch embed + pos embed: `[B, C, S, S]` → `[B, N, D]`.
    pub fn embed(&self, imgs: &Tensor) -> ModelResult<Tensor> {
        self.check_images(imgs)?;
        let c = &self.cfg;
        let patches = imgs.patchify(c.patch_size)?;
        // The [D, C, p, p] → [D, C·p·p] view is taken per call: a cached view of a tracked leaf
        // would carry a tape node that the first backward consumes.
        let w = self.patch_w.reshape([c.dim, c.patch_dim()])?;
        // Bias and pos embed are summed first, then added once (one rounding per element, as
        // the fused add of the earlier hand-written path did).
        let t = patches.linear(&w, None)?;
        Ok(t.add(&self.pos_embed.add(&self.patch_b)?)?)
    }

    /// All N tokens, after the final norm: `[B, N, D]`.
    pub fn forward(&self, imgs: &Tensor) -> ModelResult<Tensor> {
        Ok(self.forward_with(imgs, EncoderInputs::default())?.out)
    }

    /// Only the kept tokens of each mask: `[len(masks)·B, K, D]`, block-major.
    pub fn forward_masked(&self, imgs: &Tensor, masks: &[RowIndex]) -> ModelResult<Tensor> {
        let inputs = EncoderInputs {
            masks: Some(masks),
            ..Default::default()
        };
        Ok(self.forward_with(imgs, inputs)?.out)
    }

    /// The general forward (see [`EncoderInputs`]): engine ops, recorded on the tape when the
    /// parameters are trainable or an input tracks gradients (the context encoder in training),
    /// not recorded for a frozen encoder (the EMA target, inference). Called from outside the
    /// thread pool, it moves onto a worker first ([`jepa_engine::on_pool`]).
    pub fn forward_with(&self, imgs: &Tensor, inp: EncoderInputs) -> ModelResult<EncoderOutput> {
        jepa_engine::on_pool(|| self.forward_on_pool(imgs, inp))
    }

    fn forward_on_pool(&self, imgs: &Tensor, inp: EncoderInputs) -> ModelResult<EncoderOutput> {
        let mut t = self.embed(imgs)?;
        if let Some(masks) = inp.masks {
            index::validate(masks, t.dims()[0], self.cfg.num_patches(), "masks")?;
            let parts = masks
                .iter()
                .map(|m| t.gather_rows_idx(m))
                .collect::<Result<Vec<_>, _>>()?;
            t = Tensor::cat(&parts.iter().collect::<Vec<_>>(), 0)?;
        }
        let tokens0 = t.clone();
        let (rows, keep, d) = (t.dims()[0], t.dims()[1], self.cfg.dim);
        if let Some(a) = inp.additive {
            expect_dims(a, &[rows, 1, d], "additive conditioning")?;
            t = t.add(a)?;
        }
        if let Some(e) = inp.extra_tokens {
            if e.rank() != 3 || e.dims()[0] != rows || e.dims()[2] != d {
                return Err(ModelError::Input(format!(
                    "extra tokens of shape {:?}, expected [{rows}, E, {d}]",
                    e.dims()
                )));
            }
            t = Tensor::cat(&[&t, e], 1)?;
        }
        let extra = inp.extra_tokens.is_some();
        let mut blocks = Vec::new();
        for blk in &self.blocks {
            t = blk.forward(&t)?;
            if inp.keep_blocks {
                blocks.push(if extra {
                    t.narrow(1, 0, keep)?
                } else {
                    t.clone()
                });
            }
        }
        if extra {
            t = t.narrow(1, 0, keep)?;
        }
        let out = self.apply_norm(&t)?;
        Ok(EncoderOutput {
            out,
            tokens0: Some(tokens0),
            blocks,
        })
    }

    /// The final `norm` on any `[.., D]` features (e.g. kept block outputs for evaluation).
    pub fn apply_norm(&self, x: &Tensor) -> ModelResult<Tensor> {
        Ok(x.layer_norm(Some(&self.norm.0), Some(&self.norm.1), self.cfg.ln_eps)?)
    }
}

fn expect_dims(t: &Tensor, want: &[usize], what: &str) -> ModelResult<()> {
    if t.dims() != want {
        return Err(ModelError::Input(format!(
            "{what} of shape {:?}, expected {want:?}",
            t.dims()
        )));
    }
    Ok(())
}
