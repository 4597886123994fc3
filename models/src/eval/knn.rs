//! Weighted kNN classifier on L2-normalised features (methods.md §7, DINO-style): the k most
//! cosine-similar training samples vote for their class with weight `exp(sim / T)`.
//!
//! Similarities are computed a block of test rows at a time with one GEMM against all training
//! rows, so memory stays at `block_rows × N_train` floats.

use jepa_engine::{Device, Tensor};
use rayon::prelude::*;

use super::{check_labels, top1_percent, EvalError, FeatureMatrix};

/// kNN settings.
#[derive(Clone, Debug, PartialEq)]
pub struct KnnConfig {
    /// Neighbours per query (clamped to the training-set size).
    pub k: usize,
    /// Vote temperature T in `exp(sim / T)`.
    pub temperature: f64,
    /// Test rows per similarity GEMM.
    pub block_rows: usize,
}

impl Default for KnnConfig {
    /// k = 20, T = 0.07, 256-row blocks.
    fn default() -> Self {
        Self {
            k: 20,
            temperature: 0.07,
            block_rows: 256,
        }
    }
}

/// Predicted class per test row and the top-1 accuracy in percent.
#[derive(Clone, Debug, PartialEq)]
pub struct KnnResult {
    pub predictions: Vec<usize>,
    pub top1: f64,
}

/// Rows scaled to unit L2 norm; all-zero rows stay zero (as `F.normalize` with its ε).
fn l2_normalised(x: &FeatureMatrix) -> Vec<f32> {
    let mut out = x.as_slice().to_vec();
    out.par_chunks_mut(x.dim()).for_each(|row| {
        let norm = row.iter().map(|&v| v as f64 * v as f64).sum::<f64>().sqrt();
        let inv = (1.0 / norm.max(1e-12)) as f32;
        row.iter_mut().for_each(|v| *v *= inv);
    });
    out
}

/// Classifies every row of `test` by weighted vote of its `k` nearest `train` rows.
pub fn knn_classify(
    train: &FeatureMatrix,
    train_labels: &[usize],
    test: &FeatureMatrix,
    test_labels: &[usize],
    classes: usize,
    cfg: &KnnConfig,
) -> Result<KnnResult, EvalError> {
    if train.rows() == 0 || test.rows() == 0 || classes == 0 {
        return Err(EvalError::InvalidInput(format!(
            "kNN with {} train rows, {} test rows, {classes} classes",
            train.rows(),
            test.rows()
        )));
    }
    if train.dim() != test.dim() {
        return Err(EvalError::InvalidInput(format!(
            "kNN: train dim {} vs test dim {}",
            train.dim(),
            test.dim()
        )));
    }
    if cfg.k == 0 || cfg.block_rows == 0 || !cfg.temperature.is_finite() || cfg.temperature <= 0.0 {
        return Err(EvalError::InvalidInput(format!("kNN config {cfg:?}")));
    }
    check_labels(train_labels, train.rows(), classes)?;
    check_labels(test_labels, test.rows(), classes)?;
    train.check_finite("kNN train features")?;
    test.check_finite("kNN test features")?;
    let (d, n_train) = (train.dim(), train.rows());
    let k = cfg.k.min(n_train);
    // The transpose is a stride swap of the row-major bank (no copy).
    let bank = Tensor::from_vec(l2_normalised(train), [n_train, d], Device::Cpu)?.t()?;
    let queries = l2_normalised(test);
    let mut predictions = Vec::with_capacity(test.rows());
    for chunk in queries.chunks(cfg.block_rows * d) {
        let rows = chunk.len() / d;
        let q = Tensor::from_slice(chunk, [rows, d], Device::Cpu)?;
        let sims = q.matmul(&bank)?.to_vec_f32()?;
        let block: Vec<usize> = sims
            .par_chunks(n_train)
            .map(|row| vote(row, train_labels, classes, k, cfg.temperature))
            .collect();
        predictions.extend(block);
    }
    let top1 = top1_percent(&predictions, test_labels);
    Ok(KnnResult { predictions, top1 })
}

/// The class with the largest summed weight among the `k` most similar entries of `sims`
/// (ties between classes go to the lower label).
fn vote(sims: &[f32], labels: &[usize], classes: usize, k: usize, t: f64) -> usize {
    let mut idx: Vec<u32> = (0..sims.len() as u32).collect();
    let by_sim_desc = |a: &u32, b: &u32| {
        sims[*b as usize]
            .total_cmp(&sims[*a as usize])
            .then(a.cmp(b))
    };
    if k < idx.len() {
        idx.select_nth_unstable_by(k - 1, by_sim_desc);
    }
    let mut votes = vec![0.0f64; classes];
    for &i in &idx[..k] {
        votes[labels[i as usize]] += (sims[i as usize] as f64 / t).exp();
    }
    votes
        .iter()
        .enumerate()
        .fold(0, |best, (c, &w)| if w > votes[best] { c } else { best })
}
