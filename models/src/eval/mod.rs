//! Frozen-feature evaluation (methods.md §7): feature extraction from the target encoder, a
//! linear probe, a kNN classifier and collapse diagnostics.
//!
//! Everything after extraction works on plain `[N, D]` feature matrices ([`FeatureMatrix`]), so
//! the probes can be tested on synthetic features and reused for any encoder.

mod attention_map;
mod collapse;
mod eigen;
mod features;
mod knn;
mod pca_map;
mod probe;
mod probe_fast;
mod probe_tape;
mod report;

pub use attention_map::{attention_entropy, last_layer_attention, AttentionProbs};
pub use collapse::{feature_std, gram_f64, rankme, RANKME_EPS};
pub use eigen::{symmetric_eigen, symmetric_eigenvalues, SymmetricEigen};
pub use features::{extract_features, ExtractConfig, ExtractedFeatures, FeatureEncoder, LAST_N};
pub use knn::{knn_classify, KnnConfig, KnnResult};
pub use pca_map::{image_share, pca_rgb, remove_position_mean, PcaColours};
pub use probe::{
    linear_probe, linear_probe_ref, LinearClassifier, ProbeConfig, ProbeResult, ProbeTrainer,
    ProbeTrial, Standardizer,
};
pub use probe_fast::train_linear;
pub use probe_tape::train_linear_ref;
pub use report::{evaluate, EvalConfig, ProbeReport};

use crate::data::DataError;

/// Evaluation failures.
#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    #[error(transparent)]
    Engine(#[from] jepa_engine::Error),
    #[error(transparent)]
    Data(#[from] DataError),
    #[error(transparent)]
    Model(#[from] crate::vit::ModelError),
    /// Sizes or settings that cannot be evaluated (empty sets, mismatched lengths, bad labels).
    #[error("invalid evaluation input: {0}")]
    InvalidInput(String),
    /// NaN or infinity in features, a matrix, or a probe's loss.
    #[error("non-finite values in {0}")]
    NonFinite(String),
    #[error("did not converge: {0}")]
    NotConverged(String),
}

/// A dense row-major `[rows, dim]` f32 matrix of features, one row per sample.
#[derive(Clone, Debug, PartialEq)]
pub struct FeatureMatrix {
    rows: usize,
    dim: usize,
    data: Vec<f32>,
}

impl FeatureMatrix {
    /// Checks that `data` holds `rows · dim` values and `dim >= 1`.
    pub fn new(rows: usize, dim: usize, data: Vec<f32>) -> Result<Self, EvalError> {
        if dim == 0 || rows.checked_mul(dim) != Some(data.len()) {
            return Err(EvalError::InvalidInput(format!(
                "feature matrix {rows}x{dim} with {} values",
                data.len()
            )));
        }
        Ok(Self { rows, dim, data })
    }

    pub fn rows(&self) -> usize {
        self.rows
    }

    pub fn dim(&self) -> usize {
        self.dim
    }

    /// Row-major values.
    pub fn as_slice(&self) -> &[f32] {
        &self.data
    }

    pub fn into_vec(self) -> Vec<f32> {
        self.data
    }

    /// Row `i`; empty when out of range.
    pub fn row(&self, i: usize) -> &[f32] {
        self.data
            .get(i * self.dim..(i + 1) * self.dim)
            .unwrap_or(&[])
    }

    /// The rows at `indices`, in that order.
    pub fn select(&self, indices: &[usize]) -> Result<Self, EvalError> {
        let mut data = Vec::with_capacity(indices.len() * self.dim);
        for &i in indices {
            if i >= self.rows {
                return Err(EvalError::InvalidInput(format!(
                    "row {i} of a {}-row feature matrix",
                    self.rows
                )));
            }
            data.extend_from_slice(self.row(i));
        }
        Self::new(indices.len(), self.dim, data)
    }

    /// Appends the rows of `other` (same dim).
    pub fn extend(&mut self, other: &FeatureMatrix) -> Result<(), EvalError> {
        if other.dim != self.dim {
            return Err(EvalError::InvalidInput(format!(
                "appending {}-dim features to {}-dim ones",
                other.dim, self.dim
            )));
        }
        self.data.extend_from_slice(&other.data);
        self.rows += other.rows;
        Ok(())
    }

    /// Errors on NaN or infinity (named `what` in the message).
    pub fn check_finite(&self, what: &str) -> Result<(), EvalError> {
        match self.data.iter().position(|v| !v.is_finite()) {
            Some(i) => Err(EvalError::NonFinite(format!(
                "{what} (row {}, column {})",
                i / self.dim,
                i % self.dim
            ))),
            None => Ok(()),
        }
    }
}

/// Checks that `labels` has one entry per row and every label is below `classes`.
pub(crate) fn check_labels(labels: &[usize], rows: usize, classes: usize) -> Result<(), EvalError> {
    if labels.len() != rows {
        return Err(EvalError::InvalidInput(format!(
            "{} labels for {rows} feature rows",
            labels.len()
        )));
    }
    if let Some(&l) = labels.iter().find(|&&l| l >= classes) {
        return Err(EvalError::InvalidInput(format!(
            "label {l} not below the class count {classes}"
        )));
    }
    Ok(())
}

/// Fraction of `pred[i] == truth[i]`, in percent (0 for empty input).
pub fn top1_percent(pred: &[usize], truth: &[usize]) -> f64 {
    if truth.is_empty() {
        return 0.0;
    }
    let hits = pred.iter().zip(truth).filter(|(p, t)| p == t).count();
    100.0 * hits as f64 / truth.len() as f64
}
