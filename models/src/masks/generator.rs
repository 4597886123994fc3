//! Per-batch multi-block mask generation in `parity` and `fixed` modes (methods.md §2.2, §2.4).

use super::block::{fixed_block_size, parity_block_size, place, BlockSize, GridMask};
use super::collate::{pad_to_max, truncate_first, truncate_random, IndexBatch};
use super::config::{ContextLists, FixedOptions, MaskConfig, MaskMode};
use super::MaskError;
use crate::rng::Rng;

/// Failures before the official loop drops one more target constraint.
const PARITY_TIMEOUT: usize = 20;
/// Purpose tag appended to `(run_seed, step)` so mask draws never share a stream with data draws.
const MASK_STREAM: u64 = 0x6d61_736b; // "mask"

/// The masks of one batch.
#[derive(Clone, Debug, PartialEq)]
pub struct MaskBatch {
    /// Target block size, shared by every image and every block of the batch.
    pub target_size: BlockSize,
    /// Context block size, shared by the batch.
    pub context_size: BlockSize,
    /// `nenc` context batches, each `[B, K_c]`.
    pub enc: Vec<IndexBatch>,
    /// `npred` target batches, each `[B, K_t]`.
    pub pred: Vec<IndexBatch>,
    /// Context length of every (image, context) pair before truncation or padding, image-major
    /// (`b * nenc + e`). Diagnostics: the batch minimum is what parity keeps.
    pub context_lengths: Vec<usize>,
    /// Parity only: how many times the relax-after-20 rule dropped a target constraint. When
    /// non-zero, some contexts may overlap some targets, exactly as in the official code.
    pub relaxations: usize,
}

/// Per-image lists before collation.
struct ImageMasks {
    targets: Vec<Vec<usize>>,
    contexts: Vec<Vec<usize>>,
}

/// The multi-block mask generator. Stateless: the masks of a batch are a pure function of
/// `(run_seed, step, batch_size)`, so a resumed run replays them without saving RNG state.
#[derive(Clone, Debug)]
pub struct MaskGenerator {
    cfg: MaskConfig,
}

impl MaskGenerator {
    /// Validates `cfg` (see [`MaskConfig::validate`]).
    pub fn new(cfg: MaskConfig) -> Result<Self, MaskError> {
        cfg.validate()?;
        Ok(Self { cfg })
    }

    pub fn config(&self) -> &MaskConfig {
        &self.cfg
    }

    /// Masks for training step `step` of run `run_seed`.
    pub fn generate(
        &self,
        batch_size: usize,
        run_seed: u64,
        step: u64,
    ) -> Result<MaskBatch, MaskError> {
        let mut rng = Rng::from_seeds(&[run_seed, step, MASK_STREAM]);
        self.generate_with(batch_size, &mut rng)
    }

    /// Masks drawn from a caller-supplied stream.
    pub fn generate_with(&self, batch_size: usize, rng: &mut Rng) -> Result<MaskBatch, MaskError> {
        if batch_size == 0 {
            return Err(MaskError::EmptyBatch);
        }
        match &self.cfg.mode {
            MaskMode::Parity => self.parity_batch(batch_size, rng),
            MaskMode::Fixed(opts) => self.fixed_batch(batch_size, rng, opts),
        }
    }

    fn grid(&self) -> (usize, usize) {
        (self.cfg.height, self.cfg.width)
    }

    fn parity_batch(&self, batch_size: usize, rng: &mut Rng) -> Result<MaskBatch, MaskError> {
        let cfg = &self.cfg;
        // One draw per call, targets first: the official order of the two size calls.
        let t = parity_block_size(
            cfg,
            rng.next_f32_lattice(),
            cfg.pred_scale,
            cfg.aspect_ratio,
        );
        let c = parity_block_size(
            cfg,
            rng.next_f32_lattice(),
            cfg.enc_scale,
            cfg.enc_aspect_ratio,
        );
        cfg.check_parity_target(t)?;
        cfg.check_parity_context(c)?;
        let mut relaxations = 0;
        let mut images = Vec::with_capacity(batch_size);
        for _ in 0..batch_size {
            let mut targets = Vec::with_capacity(cfg.npred);
            let mut complements = Vec::with_capacity(cfg.npred);
            for _ in 0..cfg.npred {
                let corner = place(rng, self.grid(), t, false);
                targets.push(GridMask::block(self.grid(), corner, t).indices());
                let mut comp = GridMask::filled(cfg.height, cfg.width, true);
                comp.set_block(corner, t, false);
                complements.push(comp);
            }
            let mut contexts = Vec::with_capacity(cfg.nenc);
            for _ in 0..cfg.nenc {
                contexts.push(self.parity_context(rng, c, &complements, &mut relaxations)?);
            }
            images.push(ImageMasks { targets, contexts });
        }
        Ok(collate(cfg, t, c, &images, relaxations, |lists| {
            truncate_first(lists)
        }))
    }

    /// The official context loop: after every 20 failures one more target complement (from the
    /// end of the list) stops being applied. Once all are dropped the bare block passes, because
    /// `check_parity_context` guaranteed its area exceeds `min_keep`; so at most `20·M + 1` draws.
    fn parity_context(
        &self,
        rng: &mut Rng,
        c: BlockSize,
        complements: &[GridMask],
        relaxations: &mut usize,
    ) -> Result<Vec<usize>, MaskError> {
        let cfg = &self.cfg;
        let cap = PARITY_TIMEOUT * (cfg.npred + 1) + 1;
        let (mut tries, mut timeout) = (0usize, PARITY_TIMEOUT);
        for _ in 0..cap {
            let corner = place(rng, self.grid(), c, false);
            let mut mask = GridMask::block(self.grid(), corner, c);
            if !cfg.allow_overlap {
                for comp in &complements[..cfg.npred.saturating_sub(tries)] {
                    mask.and_assign(comp);
                }
            }
            if mask.count() > cfg.min_keep {
                return Ok(mask.indices());
            }
            timeout -= 1;
            if timeout == 0 {
                tries += 1;
                *relaxations += 1;
                timeout = PARITY_TIMEOUT;
            }
        }
        Err(MaskError::RetryCap { draws: cap })
    }

    fn fixed_batch(
        &self,
        batch_size: usize,
        rng: &mut Rng,
        opts: &FixedOptions,
    ) -> Result<MaskBatch, MaskError> {
        let cfg = &self.cfg;
        let t = fixed_block_size(
            cfg,
            rng.next_f64(),
            rng.next_f64(),
            cfg.pred_scale,
            cfg.aspect_ratio,
        );
        let c = fixed_block_size(
            cfg,
            rng.next_f64(),
            rng.next_f64(),
            cfg.enc_scale,
            cfg.enc_aspect_ratio,
        );
        let mut images = Vec::with_capacity(batch_size);
        for image in 0..batch_size {
            images.push(self.fixed_image(rng, t, c, opts, image)?);
        }
        let batch = match opts.context_lists {
            ContextLists::RandomSubset => {
                collate(cfg, t, c, &images, 0, |lists| truncate_random(lists, rng))
            }
            ContextLists::Pad => collate(cfg, t, c, &images, 0, pad_to_max),
        };
        Ok(batch)
    }

    /// Targets anywhere (inclusive bound); contexts must keep `max(min_keep, 1)` patches outside
    /// every target. Failing that, the context is redrawn, then the whole target set, then the
    /// generator gives up with a typed error instead of looping.
    fn fixed_image(
        &self,
        rng: &mut Rng,
        t: BlockSize,
        c: BlockSize,
        opts: &FixedOptions,
        image: usize,
    ) -> Result<ImageMasks, MaskError> {
        let cfg = &self.cfg;
        let need = cfg.min_keep.max(1);
        'redraw: for _ in 0..opts.max_target_redraws {
            let mut free = GridMask::filled(cfg.height, cfg.width, true);
            let mut targets = Vec::with_capacity(cfg.npred);
            for _ in 0..cfg.npred {
                let corner = place(rng, self.grid(), t, true);
                targets.push(GridMask::block(self.grid(), corner, t).indices());
                free.set_block(corner, t, false);
            }
            let mut contexts = Vec::with_capacity(cfg.nenc);
            for _ in 0..cfg.nenc {
                let found = (0..opts.max_context_attempts).find_map(|_| {
                    let corner = place(rng, self.grid(), c, true);
                    let mut mask = GridMask::block(self.grid(), corner, c);
                    if !cfg.allow_overlap {
                        mask.and_assign(&free);
                    }
                    (mask.count() >= need).then(|| mask.indices())
                });
                match found {
                    Some(ctx) => contexts.push(ctx),
                    None => continue 'redraw,
                }
            }
            return Ok(ImageMasks { targets, contexts });
        }
        Err(MaskError::ContextTooSmall {
            image,
            min_keep: need,
            attempts: opts.max_target_redraws * opts.max_context_attempts,
        })
    }
}

/// Transposes per-image lists into per-mask `[B, K]` batches.
fn collate(
    cfg: &MaskConfig,
    t: BlockSize,
    c: BlockSize,
    images: &[ImageMasks],
    relaxations: usize,
    mut stack_context: impl FnMut(&[Vec<usize>]) -> IndexBatch,
) -> MaskBatch {
    let pred = (0..cfg.npred)
        .map(|m| {
            let lists: Vec<Vec<usize>> = images.iter().map(|im| im.targets[m].clone()).collect();
            truncate_first(&lists)
        })
        .collect();
    let enc = (0..cfg.nenc)
        .map(|e| {
            let lists: Vec<Vec<usize>> = images.iter().map(|im| im.contexts[e].clone()).collect();
            stack_context(&lists)
        })
        .collect();
    let context_lengths = images
        .iter()
        .flat_map(|im| im.contexts.iter().map(Vec::len))
        .collect();
    MaskBatch {
        target_size: t,
        context_size: c,
        enc,
        pred,
        context_lengths,
        relaxations,
    }
}
