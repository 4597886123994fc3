//! Stacking per-image index lists into rectangular `[B, K]` batches (methods.md §2.2 step 5).

use crate::rng::Rng;

/// A `[rows, k]` row-major matrix of patch indices, one row per image. The real entries of a
/// row are sorted ascending. When built by padding, `key_mask` marks the real entries; padded
/// slots follow them and repeat the row's first index so that a gather on them stays in bounds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IndexBatch {
    rows: usize,
    k: usize,
    indices: Vec<usize>,
    key_mask: Option<Vec<bool>>,
}

impl IndexBatch {
    /// Number of rows (images).
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Entries per row.
    pub fn k(&self) -> usize {
        self.k
    }

    /// Row-major `[rows * k]` indices.
    pub fn as_flat(&self) -> &[usize] {
        &self.indices
    }

    /// Row `b`; empty when `b` is out of range.
    pub fn row(&self, b: usize) -> &[usize] {
        self.indices
            .get(b * self.k..(b + 1) * self.k)
            .unwrap_or(&[])
    }

    /// `[rows * k]` flags, `true` for real entries; `None` unless the lists were padded.
    pub fn key_mask(&self) -> Option<&[bool]> {
        self.key_mask.as_deref()
    }

    /// Real (non-padding) entries of row `b`.
    pub fn valid_row(&self, b: usize) -> Vec<usize> {
        let row = self.row(b);
        match self.row_mask(b) {
            Some(m) => row
                .iter()
                .zip(m)
                .filter(|(_, &v)| v)
                .map(|(&i, _)| i)
                .collect(),
            None => row.to_vec(),
        }
    }

    fn row_mask(&self, b: usize) -> Option<&[bool]> {
        let m = self.key_mask.as_ref()?;
        m.get(b * self.k..(b + 1) * self.k)
    }

    /// The rows as nested vectors (padding included).
    pub fn to_nested(&self) -> Vec<Vec<usize>> {
        (0..self.rows).map(|b| self.row(b).to_vec()).collect()
    }
}

/// Official collate: every list keeps its FIRST `min_len` entries. Dropping from the end of a
/// sorted list removes the bottom-right-most patches, a bias kept for parity.
pub fn truncate_first(lists: &[Vec<usize>]) -> IndexBatch {
    let k = lists.iter().map(Vec::len).min().unwrap_or(0);
    let indices = lists.iter().flat_map(|l| l[..k].iter().copied()).collect();
    IndexBatch {
        rows: lists.len(),
        k,
        indices,
        key_mask: None,
    }
}

/// Truncates every list to the batch minimum by a uniformly random sorted subset, so no region
/// of the grid is systematically dropped.
pub fn truncate_random(lists: &[Vec<usize>], rng: &mut Rng) -> IndexBatch {
    let k = lists.iter().map(Vec::len).min().unwrap_or(0);
    let mut indices = Vec::with_capacity(lists.len() * k);
    for l in lists {
        // Positions within a sorted list, sorted, select a sorted sub-list.
        indices.extend(rng.sorted_subset(l.len(), k).into_iter().map(|p| l[p]));
    }
    IndexBatch {
        rows: lists.len(),
        k,
        indices,
        key_mask: None,
    }
}

/// Pads every list to the batch maximum and records which entries are real.
pub fn pad_to_max(lists: &[Vec<usize>]) -> IndexBatch {
    let k = lists.iter().map(Vec::len).max().unwrap_or(0);
    let mut indices = Vec::with_capacity(lists.len() * k);
    let mut mask = Vec::with_capacity(lists.len() * k);
    for l in lists {
        let fill = l.first().copied().unwrap_or(0);
        indices.extend(l.iter().copied().chain(std::iter::repeat(fill)).take(k));
        mask.extend((0..k).map(|j| j < l.len()));
    }
    IndexBatch {
        rows: lists.len(),
        k,
        indices,
        key_mask: Some(mask),
    }
}
