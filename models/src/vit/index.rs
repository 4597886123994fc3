//! Mask index lists as the models use them: validation against the batch and grid, and the
//! block-major stacking of the official `apply_masks` (rows `m·B … m·B+B−1` belong to mask m).

use super::error::{ModelError, ModelResult};
use crate::masks::IndexBatch;
use jepa_engine::{RowIndex, Tensor};

/// Checks `masks` (non-empty, each `[b, k]` with one shared k, indices < n); returns k.
pub fn validate(masks: &[RowIndex], b: usize, n: usize, what: &str) -> ModelResult<usize> {
    let first = masks
        .first()
        .ok_or_else(|| ModelError::Mask(format!("{what}: no mask given")))?;
    let k = first.dims().1;
    if k == 0 {
        return Err(ModelError::Mask(format!("{what}: masks keep no patch")));
    }
    for (i, m) in masks.iter().enumerate() {
        let (mb, mk) = m.dims();
        if mb != b || mk != k {
            return Err(ModelError::Mask(format!(
                "{what}[{i}] is [{mb}, {mk}], expected [{b}, {k}] (batch {b}, shared length)"
            )));
        }
        if let Some(&bad) = m.as_slice().iter().find(|&&v| v >= n) {
            return Err(ModelError::Mask(format!(
                "{what}[{i}] holds patch index {bad} >= {n} patches"
            )));
        }
    }
    Ok(k)
}

/// The masks stacked block-major into one `[len·b, k]` index.
pub fn stack(masks: &[RowIndex]) -> ModelResult<RowIndex> {
    let (b, k) = masks.first().map_or((0, 0), RowIndex::dims);
    let idx: Vec<usize> = masks
        .iter()
        .flat_map(|m| m.as_slice().iter().copied())
        .collect();
    Ok(RowIndex::new(b * masks.len(), k, idx)?)
}

/// Official `repeat_interleave_batch`: every chunk of `b` rows repeated `repeat` times in place.
pub fn repeat_chunks(idx: &RowIndex, b: usize, repeat: usize) -> ModelResult<RowIndex> {
    let (rows, k) = idx.dims();
    if b == 0 || rows % b != 0 {
        return Err(ModelError::Mask(format!(
            "{rows} rows are not chunks of {b}"
        )));
    }
    let s = idx.as_slice();
    let mut out = Vec::with_capacity(rows * k * repeat);
    for chunk in s.chunks(b * k) {
        for _ in 0..repeat {
            out.extend_from_slice(chunk);
        }
    }
    Ok(RowIndex::new(rows * repeat, k, out)?)
}

/// A generator batch as a row index. Padded batches (with a key mask) are rejected: the fused
/// attention has no key mask, so padding would attend to the repeated first index.
pub fn from_index_batch(ib: &IndexBatch) -> ModelResult<RowIndex> {
    if ib.key_mask().is_some() {
        return Err(ModelError::Mask(
            "padded index batches need attention key masks, which the engine lacks; use \
             truncation"
                .into(),
        ));
    }
    Ok(RowIndex::new(ib.rows(), ib.k(), ib.as_flat().to_vec())?)
}

/// Several I64 `[B, K]` tensors as row indices.
pub fn from_tensors(ts: &[Tensor]) -> ModelResult<Vec<RowIndex>> {
    Ok(ts
        .iter()
        .map(RowIndex::from_tensor)
        .collect::<Result<_, _>>()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stacking_is_block_major_and_repeat_keeps_chunks() {
        let a = RowIndex::new(2, 2, vec![0, 1, 2, 3]).unwrap();
        let b = RowIndex::new(2, 2, vec![4, 5, 6, 7]).unwrap();
        let s = stack(&[a.clone(), b]).unwrap();
        assert_eq!(s.dims(), (4, 2));
        assert_eq!(s.as_slice(), &[0, 1, 2, 3, 4, 5, 6, 7]);
        let r = repeat_chunks(&s, 2, 2).unwrap();
        assert_eq!(
            r.as_slice(),
            &[0, 1, 2, 3, 0, 1, 2, 3, 4, 5, 6, 7, 4, 5, 6, 7]
        );
        assert!(repeat_chunks(&s, 3, 2).is_err());
        assert_eq!(validate(std::slice::from_ref(&a), 2, 4, "m").unwrap(), 2);
        assert!(
            validate(std::slice::from_ref(&a), 2, 3, "m").is_err(),
            "index 3 >= 3 patches"
        );
        assert!(validate(&[a], 3, 4, "m").is_err(), "batch mismatch");
        assert!(validate(&[], 3, 4, "m").is_err());
    }
}
