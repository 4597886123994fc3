//! Block sizes and placements on the patch grid (methods.md §2.2 steps 2–4).

use super::config::MaskConfig;
use crate::rng::Rng;

/// A block's size in patches: `h` rows by `w` columns.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BlockSize {
    pub h: usize,
    pub w: usize,
}

impl BlockSize {
    pub fn area(self) -> usize {
        self.h * self.w
    }
}

/// `(h, w)` before clamping, shared by both modes: `max_keep = ⌊H·W·s⌋`,
/// `h = round(√(max_keep·ar))`, `w = round(√(max_keep/ar))`. Python's `round` is
/// round-half-to-even, which `round_ties_even` reproduces for the exact-half cases.
fn raw_size(cfg: &MaskConfig, scale: f64, ar: f64) -> (usize, usize) {
    let max_keep = ((cfg.num_patches() as f64) * scale).floor();
    let h = (max_keep * ar).sqrt().round_ties_even();
    let w = (max_keep / ar).sqrt().round_ties_even();
    // Float-to-int `as` saturates, so absurd configs cannot wrap; the clamps below bound them.
    (h as usize, w as usize)
}

/// The official size rule: ONE uniform `r` drives both the scale and the aspect ratio, then
/// `h <= H - 1`, `w <= W - 1` (the official decrement loops; needed by its exclusive position
/// bound).
pub fn parity_block_size(cfg: &MaskConfig, r: f64, scale: (f64, f64), ar: (f64, f64)) -> BlockSize {
    let s = scale.0 + r * (scale.1 - scale.0);
    let a = ar.0 + r * (ar.1 - ar.0);
    let (h, w) = raw_size(cfg, s, a);
    BlockSize {
        h: h.min(cfg.height.saturating_sub(1)),
        w: w.min(cfg.width.saturating_sub(1)),
    }
}

/// The `fixed` size rule: scale and aspect ratio from independent draws, clamped to
/// `1 ..= H` × `1 ..= W` (the inclusive position bound allows a full-height block).
pub fn fixed_block_size(
    cfg: &MaskConfig,
    r_scale: f64,
    r_ar: f64,
    scale: (f64, f64),
    ar: (f64, f64),
) -> BlockSize {
    let s = scale.0 + r_scale * (scale.1 - scale.0);
    let a = ar.0 + r_ar * (ar.1 - ar.0);
    let (h, w) = raw_size(cfg, s, a);
    BlockSize {
        h: h.clamp(1, cfg.height),
        w: w.clamp(1, cfg.width),
    }
}

/// Top-left corner of a block. Parity draws from `U{0 … H−h−1}` (exclusive upper bound, so the
/// last row and column are never covered); fixed draws from `U{0 … H−h}`.
pub fn place(
    rng: &mut Rng,
    grid: (usize, usize),
    size: BlockSize,
    inclusive: bool,
) -> (usize, usize) {
    let extra = usize::from(inclusive);
    let top = rng.index(grid.0.saturating_sub(size.h) + extra);
    let left = rng.index(grid.1.saturating_sub(size.w) + extra);
    (top, left)
}

/// A boolean patch grid, row-major.
#[derive(Clone, Debug)]
pub struct GridMask {
    width: usize,
    cells: Vec<bool>,
}

impl GridMask {
    pub fn filled(height: usize, width: usize, value: bool) -> Self {
        Self {
            width,
            cells: vec![value; height * width],
        }
    }

    /// The grid with exactly the block at `(top, left)` of `size` set (clipped to the grid).
    pub fn block(grid: (usize, usize), corner: (usize, usize), size: BlockSize) -> Self {
        let mut m = Self::filled(grid.0, grid.1, false);
        m.set_block(corner, size, true);
        m
    }

    pub fn set_block(&mut self, corner: (usize, usize), size: BlockSize, value: bool) {
        let height = self.cells.len() / self.width.max(1);
        for r in corner.0..(corner.0 + size.h).min(height) {
            for c in corner.1..(corner.1 + size.w).min(self.width) {
                self.cells[r * self.width + c] = value;
            }
        }
    }

    /// Keeps only cells also set in `other` (the official `mask *= acceptable_region`).
    pub fn and_assign(&mut self, other: &GridMask) {
        for (a, &b) in self.cells.iter_mut().zip(&other.cells) {
            *a &= b;
        }
    }

    pub fn count(&self) -> usize {
        self.cells.iter().filter(|&&c| c).count()
    }

    /// Sorted flat indices of the set cells (the official `nonzero(mask.flatten())`).
    pub fn indices(&self) -> Vec<usize> {
        self.cells
            .iter()
            .enumerate()
            .filter_map(|(i, &c)| c.then_some(i))
            .collect()
    }
}
