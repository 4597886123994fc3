//! Frozen-feature extraction (methods.md §7): the target encoder over eval-transformed images,
//! no tape; average-pooled last-layer tokens `[N, D]` and the last-4 concatenation `[N, 4D]`.

use std::sync::Arc;

use jepa_engine::{no_grad, Device, Tensor};

use super::{EvalError, FeatureMatrix};
use crate::data::{Dataset, EvalTransform, Loader, LoaderConfig, Transform};
use crate::vit::{EncoderInputs, VisionTransformer};

/// Blocks concatenated for the last-4 features.
pub const LAST_N: usize = 4;

/// An encoder whose intermediate token outputs can be read out.
pub trait FeatureEncoder {
    /// Token outputs `[B, N, D]` of the last `last_n` blocks (oldest first, the final block
    /// last), **each passed through the encoder's final norm**; for `last_n = 1` this is the
    /// encoder output. `images` is `[B, C, H, W]`.
    fn normed_block_outputs(
        &self,
        images: &Tensor,
        last_n: usize,
    ) -> Result<Vec<Tensor>, EvalError>;
}

impl FeatureEncoder for VisionTransformer {
    /// The unconditioned encoder (EC-IJEPA evaluation policy (a), the plain I-JEPA graph).
    fn normed_block_outputs(
        &self,
        images: &Tensor,
        last_n: usize,
    ) -> Result<Vec<Tensor>, EvalError> {
        let depth = self.config().depth;
        if last_n == 0 || last_n > depth {
            return Err(EvalError::InvalidInput(format!(
                "{last_n} block outputs from a {depth}-block encoder"
            )));
        }
        if last_n == 1 {
            return Ok(vec![self.forward(images)?]);
        }
        let inputs = EncoderInputs {
            keep_blocks: true,
            ..EncoderInputs::default()
        };
        let out = self.forward_with(images, inputs)?;
        let kept = out.blocks.len();
        if kept < last_n {
            return Err(EvalError::InvalidInput(format!(
                "encoder kept {kept} block outputs, {last_n} needed"
            )));
        }
        out.blocks[kept - last_n..]
            .iter()
            .map(|b| Ok(self.apply_norm(b)?))
            .collect()
    }
}

/// Features of a labelled set.
#[derive(Clone, Debug, PartialEq)]
pub struct ExtractedFeatures {
    /// Average-pooled last-layer tokens, `[N, D]`.
    pub last: FeatureMatrix,
    /// Pooled outputs of the last 4 blocks concatenated, `[N, 4D]` (when requested).
    pub last4: Option<FeatureMatrix>,
    pub labels: Vec<usize>,
}

/// Extraction settings.
#[derive(Clone, Debug, PartialEq)]
pub struct ExtractConfig {
    pub transform: EvalTransform,
    pub batch_size: usize,
    /// Decoding threads of the loader.
    pub workers: usize,
    pub last4: bool,
}

impl ExtractConfig {
    /// `EvalTransform::plain(size)`, batch 256, 2 decode workers, last-4 on.
    pub fn plain(size: usize) -> Self {
        Self {
            transform: EvalTransform::plain(size),
            batch_size: 256,
            workers: 2,
            last4: true,
        }
    }
}

/// Pools `[B, N, D]` tokens over N into `[B, D]` row-major values.
fn pool(tokens: &Tensor) -> Result<(usize, Vec<f32>), EvalError> {
    if tokens.rank() != 3 {
        return Err(EvalError::InvalidInput(format!(
            "encoder output of shape {} (expected [B, N, D])",
            tokens.shape()
        )));
    }
    let d = tokens.dims()[2];
    Ok((d, tokens.mean_dims(&[1], false)?.to_vec_f32()?))
}

/// Runs `encoder` over every sample of `dataset` in order (no shuffling, no dropped batch).
pub fn extract_features<D: Dataset + 'static>(
    encoder: &dyn FeatureEncoder,
    dataset: Arc<D>,
    cfg: &ExtractConfig,
) -> Result<ExtractedFeatures, EvalError> {
    let mut lc = LoaderConfig::new(cfg.batch_size, 0);
    lc.shuffle = false;
    lc.drop_last = false;
    lc.workers = cfg.workers;
    let loader = Loader::new(dataset, Transform::Eval(cfg.transform.clone()), lc, None)?;
    let last_n = if cfg.last4 { LAST_N } else { 1 };
    let _guard = no_grad();
    let (mut last, mut last4, mut labels) = (Vec::new(), Vec::new(), Vec::new());
    let mut dim = 0;
    for batch in loader {
        let batch = batch?;
        let images = Tensor::from_vec(batch.images, batch.shape, Device::Cpu)?;
        let outs = encoder.normed_block_outputs(&images, last_n)?;
        if outs.len() != last_n {
            return Err(EvalError::InvalidInput(format!(
                "encoder gave {} block outputs, asked for {last_n}",
                outs.len()
            )));
        }
        let pooled = outs.iter().map(pool).collect::<Result<Vec<_>, _>>()?;
        let b = batch.labels.len();
        dim = pooled[last_n - 1].0;
        if pooled.iter().any(|(d, v)| *d != dim || v.len() != b * dim) {
            return Err(EvalError::InvalidInput(
                "encoder block outputs disagree in shape".into(),
            ));
        }
        last.extend_from_slice(&pooled[last_n - 1].1);
        if cfg.last4 {
            for r in 0..b {
                for (_, v) in &pooled {
                    last4.extend_from_slice(&v[r * dim..(r + 1) * dim]);
                }
            }
        }
        labels.extend(batch.labels);
    }
    let n = labels.len();
    let last = FeatureMatrix::new(n, dim, last)?;
    let last4 = if cfg.last4 {
        Some(FeatureMatrix::new(n, LAST_N * dim, last4)?)
    } else {
        None
    };
    Ok(ExtractedFeatures {
        last,
        last4,
        labels,
    })
}
