//! Turning a loader batch into step inputs, and the per-batch collapse diagnostics.

use jepa_engine::{Device, RowIndex, Tensor};

use super::TrainError;
use crate::data::Batch;
use crate::eval::{feature_std, rankme, FeatureMatrix};
use crate::jepa::Jepa;
use crate::masks::IndexBatch;

/// RankMe and feature std of the batch's pooled target features.
pub(crate) fn collapse_metrics(
    jepa: &Jepa,
    imgs: &Tensor,
) -> Result<(f64, Option<f64>), TrainError> {
    let h = jepa.target_features(imgs, jepa.config().ec.eval_policy)?;
    let (b, d) = (h.dims()[0], h.dims()[2]);
    let pooled = FeatureMatrix::new(b, d, h.mean_dims(&[1], false)?.to_vec_f32()?)?;
    let std = if b >= 2 {
        Some(feature_std(&pooled)?)
    } else {
        None
    };
    Ok((rankme(&pooled)?, std))
}

pub(crate) fn images(batch: &Batch) -> Result<Tensor, TrainError> {
    Ok(Tensor::from_slice(&batch.images, batch.shape, Device::Cpu)?)
}

pub(crate) fn row_indices(batches: &[IndexBatch]) -> Result<Vec<RowIndex>, TrainError> {
    batches
        .iter()
        .map(|ib| {
            if ib.key_mask().is_some() {
                return Err(TrainError::Config(
                    "padded mask lists are not supported by the training step".into(),
                ));
            }
            Ok(RowIndex::new(ib.rows(), ib.k(), ib.as_flat().to_vec())?)
        })
        .collect()
}
