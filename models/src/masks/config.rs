//! Mask-generator configuration, presets and validation (methods.md §2.1, §2.4).

use super::block::{parity_block_size, BlockSize};
use super::MaskError;

/// Which variant of the multi-block algorithm to run (methods.md §2.4).
#[derive(Clone, Debug, PartialEq)]
pub enum MaskMode {
    /// The official algorithm with every quirk: one correlated draw for scale and aspect ratio,
    /// exclusive position bounds with the H−1 clamp, relax-after-20 for the context, first-K
    /// batch-minimum truncation. Never hangs: configurations the official loop could not finish
    /// are rejected (see [`MaskConfig::validate`]).
    Parity,
    /// The project's repaired variant for small grids.
    Fixed(FixedOptions),
}

/// How `fixed` mode makes the per-image context lists rectangular.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ContextLists {
    /// Truncate every list to the batch minimum by a random sorted subset (not the first K, which
    /// would always drop the bottom-right patches).
    RandomSubset,
    /// Pad every list to the batch maximum; the batch carries a key mask marking real entries.
    Pad,
}

/// Options of [`MaskMode::Fixed`].
#[derive(Clone, Debug, PartialEq)]
pub struct FixedOptions {
    pub context_lists: ContextLists,
    /// Context placements tried per set of target blocks before the targets are redrawn.
    pub max_context_attempts: usize,
    /// Target redraws per image before the generator gives up with
    /// [`MaskError::ContextTooSmall`].
    pub max_target_redraws: usize,
}

impl Default for FixedOptions {
    fn default() -> Self {
        Self {
            context_lists: ContextLists::RandomSubset,
            max_context_attempts: 50,
            max_target_redraws: 20,
        }
    }
}

/// Parameters of the multi-block mask generator. Ranges are `(min, max)`; aspect ratios are
/// height / width.
#[derive(Clone, Debug, PartialEq)]
pub struct MaskConfig {
    /// Patch-grid height H.
    pub height: usize,
    /// Patch-grid width W.
    pub width: usize,
    pub enc_scale: (f64, f64),
    pub pred_scale: (f64, f64),
    pub aspect_ratio: (f64, f64),
    /// Context-block aspect ratio; the official code fixes it at (1, 1).
    pub enc_aspect_ratio: (f64, f64),
    /// Number of context masks per image.
    pub nenc: usize,
    /// Number of target blocks per image (M).
    pub npred: usize,
    /// Parity: every accepted block must have `> min_keep` patches (official test).
    /// Fixed: the context must have `>= max(min_keep, 1)` patches; targets are not tested.
    pub min_keep: usize,
    /// When `true`, the context is not cut by the targets.
    pub allow_overlap: bool,
    pub mode: MaskMode,
}

/// Largest grid accepted; far above any real ViT grid, it only bounds allocations on bad input.
const MAX_PATCHES: usize = 1 << 20;

impl MaskConfig {
    /// The released I-JEPA configuration (methods.md §2.1) in `parity` mode.
    pub fn official(height: usize, width: usize) -> Self {
        Self {
            height,
            width,
            enc_scale: (0.85, 1.0),
            pred_scale: (0.15, 0.2),
            aspect_ratio: (0.75, 1.5),
            enc_aspect_ratio: (1.0, 1.0),
            nenc: 1,
            npred: 4,
            min_keep: 10,
            allow_overlap: false,
            mode: MaskMode::Parity,
        }
    }

    /// The CPU small-scale start (methods.md §6): official scales, `fixed` mode, `min_keep` 4.
    pub fn small_grid(height: usize, width: usize) -> Self {
        Self {
            min_keep: 4,
            mode: MaskMode::Fixed(FixedOptions::default()),
            ..Self::official(height, width)
        }
    }

    /// Number of patches N = H·W.
    pub fn num_patches(&self) -> usize {
        self.height * self.width
    }

    /// Checks ranges and, in parity mode, that the official retry loop can terminate for every
    /// block size it can draw. The official loop spins forever when a target block (which has
    /// nothing to relax) or an unconstrained context block has `<= min_keep` patches, e.g. the
    /// 3×3 targets of an 8×8 grid with `min_keep` 10 (methods.md §2.3).
    pub fn validate(&self) -> Result<(), MaskError> {
        let bad = |msg: String| Err(MaskError::InvalidConfig(msg));
        let (h, w) = (self.height, self.width);
        if h == 0 || w == 0 || h.checked_mul(w).is_none_or(|n| n > MAX_PATCHES) {
            return bad(format!(
                "grid {h}x{w} must be non-empty with at most {MAX_PATCHES} patches"
            ));
        }
        for (name, (lo, hi)) in [
            ("enc_scale", self.enc_scale),
            ("pred_scale", self.pred_scale),
        ] {
            if !(lo.is_finite() && hi.is_finite() && 0.0 < lo && lo <= hi && hi <= 1.0) {
                return bad(format!(
                    "{name} ({lo}, {hi}) must satisfy 0 < min <= max <= 1"
                ));
            }
        }
        for (name, (lo, hi)) in [
            ("aspect_ratio", self.aspect_ratio),
            ("enc_aspect_ratio", self.enc_aspect_ratio),
        ] {
            if !(lo.is_finite() && hi.is_finite() && 0.0 < lo && lo <= hi) {
                return bad(format!("{name} ({lo}, {hi}) must satisfy 0 < min <= max"));
            }
        }
        if self.nenc == 0 || self.npred == 0 {
            return bad(format!(
                "nenc ({}) and npred ({}) must be >= 1",
                self.nenc, self.npred
            ));
        }
        match &self.mode {
            MaskMode::Parity => self.validate_parity(),
            MaskMode::Fixed(o) => {
                if o.max_context_attempts == 0 || o.max_target_redraws == 0 {
                    return bad("fixed-mode retry caps must be >= 1".into());
                }
                Ok(())
            }
        }
    }

    fn validate_parity(&self) -> Result<(), MaskError> {
        if self.height < 2 || self.width < 2 {
            return Err(MaskError::InvalidConfig(format!(
                "parity mode needs a grid of at least 2x2 (exclusive position bound), got {}x{}",
                self.height, self.width
            )));
        }
        // Block sizes are step functions of one uniform draw on the 2^-24 lattice; a 2^16-point
        // sweep finds every size whose interval is wider than 2^-16. Narrower ones are caught per
        // batch by the generator with the same error.
        const SWEEP: u32 = 1 << 16;
        let last = 1.0 - 1.0 / f64::from(1u32 << 24);
        for r in (0..SWEEP)
            .map(|i| f64::from(i) / f64::from(SWEEP))
            .chain([last])
        {
            let t = parity_block_size(self, r, self.pred_scale, self.aspect_ratio);
            self.check_parity_target(t)?;
            let c = parity_block_size(self, r, self.enc_scale, self.enc_aspect_ratio);
            self.check_parity_context(c)?;
        }
        Ok(())
    }

    pub(crate) fn check_parity_target(&self, t: BlockSize) -> Result<(), MaskError> {
        if t.area() <= self.min_keep {
            return Err(MaskError::WouldHang(format!(
                "target block {}x{} = {} patches can never exceed min_keep = {} on a {}x{} grid \
                 (the official loop never ends); lower min_keep or use fixed mode",
                t.h,
                t.w,
                t.area(),
                self.min_keep,
                self.height,
                self.width
            )));
        }
        Ok(())
    }

    pub(crate) fn check_parity_context(&self, c: BlockSize) -> Result<(), MaskError> {
        if c.area() <= self.min_keep {
            return Err(MaskError::WouldHang(format!(
                "context block {}x{} = {} patches can never exceed min_keep = {} even with every \
                 target constraint relaxed; lower min_keep or use fixed mode",
                c.h,
                c.w,
                c.area(),
                self.min_keep
            )));
        }
        Ok(())
    }
}
