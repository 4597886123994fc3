//! Turning a loader batch into step inputs, and the per-batch collapse diagnostics.

use jepa_engine::{Device, RowIndex, Tensor};

use super::TrainError;
use crate::data::Batch;
use crate::eval::{feature_std, rankme, FeatureMatrix};
use crate::jepa::{self, Jepa};
use crate::masks::{IndexBatch, MaskBatch};

/// One view of a loader batch as step inputs: the images as a tensor, the masks as row indices.
pub(crate) struct ViewInputs {
    imgs: Tensor,
    enc: Vec<RowIndex>,
    pred: Vec<RowIndex>,
}

impl ViewInputs {
    /// View 1 (`images`, `masks`).
    pub(crate) fn first(batch: &Batch) -> Result<Self, TrainError> {
        Self::new(&batch.images, batch.shape, batch.masks.as_ref(), "")
    }

    /// View 2 (`images2`, `masks2`) of a two-view batch.
    pub(crate) fn second(batch: &Batch) -> Result<Self, TrainError> {
        let imgs = batch.images2.as_deref().ok_or_else(|| {
            TrainError::Config("two-view training got a batch without a second view".into())
        })?;
        Self::new(
            imgs,
            batch.shape,
            batch.masks2.as_ref(),
            " for the second view",
        )
    }

    fn new(
        images: &[f32],
        shape: [usize; 4],
        masks: Option<&MaskBatch>,
        which: &str,
    ) -> Result<Self, TrainError> {
        let masks = masks.ok_or_else(|| {
            TrainError::Config(format!("loader gave a batch without masks{which}"))
        })?;
        Ok(Self {
            imgs: Tensor::from_slice(images, shape, Device::Cpu)?,
            enc: row_indices(&masks.enc)?,
            pred: row_indices(&masks.pred)?,
        })
    }

    pub(crate) fn batch(&self) -> jepa::Batch<'_> {
        jepa::Batch {
            imgs: &self.imgs,
            masks_enc: &self.enc,
            masks_pred: &self.pred,
        }
    }
}

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
