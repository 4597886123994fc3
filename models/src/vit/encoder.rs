//! The I-JEPA ViT encoder (methods.md §1.2, official names §1.5): patch embed (patchify + one
//! GEMM with the conv weight viewed as `[D, C·p·p]`), fixed sin-cos pos embed, optional gather
//! of kept tokens (after the pos embed, before the blocks), pre-norm blocks, final norm.

use super::block::{block_specs, Block};
use super::config::VitConfig;
use super::error::{ModelError, ModelResult};
use super::fast::{self, Dims, FlatLayout, Scratch};
use super::index;
use super::params::{Init, ParamSpec, ParamStore};
use super::pos_embed::{check_pos_embed, write_pos_embed};
use jepa_engine::{is_grad_enabled, RowIndex, Tensor};
use std::sync::Mutex;

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
    /// Patch embed + pos embed (after the mask gather when masked); the tape-free path fills it
    /// only with `keep_blocks`.
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
    layout: FlatLayout,
    /// Activation buffers of the tape-free forward, reused across calls.
    scratch: Mutex<Scratch>,
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
            layout: FlatLayout::new(&store, cfg.depth)?,
            scratch: Mutex::new(Scratch::default()),
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
    /// Flat-buffer ranges of the official parameters (tape-free paths).
    pub(crate) fn flat_layout(&self) -> &FlatLayout {
        &self.layout
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
        let t = patches.linear(&w, Some(&self.patch_b))?;
        Ok(t.add(&self.pos_embed)?)
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

    /// The general forward (see [`EncoderInputs`]). Runs the tape-free kernels path when no
    /// gradient can flow (grad disabled, or frozen parameters and untracked inputs), the engine
    /// ops path otherwise. Both compute the same values. Called from outside the thread pool,
    /// it moves onto a worker first ([`jepa_engine::on_pool`]).
    pub fn forward_with(&self, imgs: &Tensor, inp: EncoderInputs) -> ModelResult<EncoderOutput> {
        let tracked = [Some(imgs), inp.extra_tokens, inp.additive]
            .into_iter()
            .flatten()
            .any(Tensor::tracks_grad);
        jepa_engine::on_pool(|| {
            if !is_grad_enabled() || !(self.store.is_trainable() || tracked) {
                self.forward_fast(imgs, inp)
            } else {
                self.forward_engine(imgs, inp)
            }
        })
    }

    /// [`VisionTransformer::forward_with`] through engine ops (recorded on the tape).
    pub fn forward_engine(&self, imgs: &Tensor, inp: EncoderInputs) -> ModelResult<EncoderOutput> {
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

    /// [`VisionTransformer::forward_with`] through the kernels directly (never recorded).
    pub fn forward_fast(&self, imgs: &Tensor, inp: EncoderInputs) -> ModelResult<EncoderOutput> {
        self.check_images(imgs)?;
        let c = &self.cfg;
        let (b, n, d) = (imgs.dims()[0], c.num_patches(), c.dim);
        let img = imgs.to_vec_f32()?;
        let masks = match inp.masks {
            Some(m) => {
                let k = index::validate(m, b, n, "masks")?;
                Some((m, k))
            }
            None => None,
        };
        let rows = masks.map_or(b, |(m, _)| m.len() * b);
        let keep = masks.map_or(n, |(_, k)| k);
        let add = match inp.additive {
            Some(a) => {
                expect_dims(a, &[rows, 1, d], "additive conditioning")?;
                Some(a.to_vec_f32()?)
            }
            None => None,
        };
        let extra = match inp.extra_tokens {
            Some(e) if e.rank() != 3 || e.dims()[0] != rows || e.dims()[2] != d => {
                return Err(ModelError::Input(format!(
                    "extra tokens of shape {:?}, expected [{rows}, E, {d}]",
                    e.dims()
                )))
            }
            Some(e) => Some((e.dims()[1], e.to_vec_f32()?)),
            None => None,
        };
        let t = keep + extra.as_ref().map_or(0, |e| e.0);
        let mut guard = self.scratch.try_lock();
        let mut local = Scratch::default();
        let sc = match guard.as_deref_mut() {
            Ok(s) => s,
            Err(_) => &mut local,
        };
        let dims = Dims {
            rows,
            t,
            keep,
            d,
            heads: c.heads,
            hidden: c.mlp_hidden,
            eps: c.ln_eps,
        };
        let (out, tokens0, blocks) = self.store.with_flat_mut(|flat| {
            let shape = (b, c.in_chans, c.img_size, c.patch_size, d);
            let x0 = fast::embed(&self.layout, flat, &img, shape);
            let mut x = match masks {
                Some((ms, k)) => {
                    let mut g = vec![0f32; rows * k * d];
                    for (m, dst) in ms.iter().zip(g.chunks_mut(b * k * d)) {
                        let idx = m.as_slice();
                        jepa_kernels::cpu::gather::gather_rows(b, n, d, k, &x0, idx, dst);
                    }
                    g
                }
                None => x0,
            };
            let tokens0 = inp.keep_blocks.then(|| x.clone());
            if let Some(a) = &add {
                x.chunks_mut(keep * d)
                    .zip(a.chunks(d))
                    .for_each(|(xr, ar)| {
                        xr.chunks_mut(d)
                            .for_each(|tok| tok.iter_mut().zip(ar).for_each(|(v, &w)| *v += w));
                    });
            }
            if let Some((e, ev)) = &extra {
                let mut xt = Vec::with_capacity(rows * t * d);
                for (xr, er) in x.chunks(keep * d).zip(ev.chunks(e * d)) {
                    xt.extend_from_slice(xr);
                    xt.extend_from_slice(er);
                }
                x = xt;
            }
            let mut kb = Vec::new();
            let out = fast::run_blocks(
                &self.layout,
                flat,
                &mut x,
                dims,
                sc,
                inp.keep_blocks.then_some(&mut kb),
            );
            (out, tokens0, kb)
        })?;
        let shape = [rows, keep, d];
        Ok(EncoderOutput {
            out: fast::tensor(out, &shape)?,
            tokens0: tokens0.map(|v| fast::tensor(v, &shape)).transpose()?,
            blocks: blocks
                .into_iter()
                .map(|v| fast::tensor(v, &shape))
                .collect::<ModelResult<_>>()?,
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
