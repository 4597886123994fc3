//! Collapse diagnostics (methods.md §7): mean per-dimension standard deviation and RankMe, the
//! exponential of the entropy of the normalised singular values (Garrido et al., 2023).
//!
//! Singular values come from the eigenvalues of the Gram matrix in f64 (XᵀX when N ≥ D, XXᵀ
//! otherwise; both have the same non-zero spectrum), so the tail of the spectrum, which is what
//! collapse shows up in, is not buried under f32 rounding.

use rayon::prelude::*;

use super::eigen::symmetric_eigenvalues;
use super::{EvalError, FeatureMatrix};

/// The ε added to each normalised singular value (the RankMe paper's value).
pub const RANKME_EPS: f64 = 1e-7;

/// Rows converted to f64 and accumulated at a time: bounds the scratch memory and fixes the
/// summation order, so the result does not depend on the thread count.
const GRAM_BLOCK: usize = 512;

/// Mean over dimensions of the unbiased standard deviation of each feature (needs ≥ 2 rows).
pub fn feature_std(x: &FeatureMatrix) -> Result<f64, EvalError> {
    let (n, d) = (x.rows(), x.dim());
    if n < 2 {
        return Err(EvalError::InvalidInput(format!(
            "feature std needs >= 2 rows, got {n}"
        )));
    }
    x.check_finite("features")?;
    let mut mean = vec![0.0f64; d];
    for r in 0..n {
        mean.iter_mut()
            .zip(x.row(r))
            .for_each(|(m, &v)| *m += v as f64);
    }
    mean.iter_mut().for_each(|m| *m /= n as f64);
    let mut var = vec![0.0f64; d];
    for r in 0..n {
        for ((s, &v), m) in var.iter_mut().zip(x.row(r)).zip(&mean) {
            let dv = v as f64 - m;
            *s += dv * dv;
        }
    }
    Ok(var.iter().map(|s| (s / (n - 1) as f64).sqrt()).sum::<f64>() / d as f64)
}

/// The f64 Gram matrix of `x` and its side: `XᵀX` (`[D, D]`) when `N ≥ D`, else `XXᵀ`
/// (`[N, N]`). Only the upper triangle is filled (what the eigen-solver reads).
pub fn gram_f64(x: &FeatureMatrix) -> Result<(Vec<f64>, usize), EvalError> {
    x.check_finite("features")?;
    let (n, d) = (x.rows(), x.dim());
    if n < d {
        let mut g = vec![0.0f64; n * n];
        g.par_chunks_mut(n.max(1)).enumerate().for_each(|(a, row)| {
            let xa = x.row(a);
            for (b, out) in row.iter_mut().enumerate().skip(a) {
                *out = xa
                    .iter()
                    .zip(x.row(b))
                    .map(|(&p, &q)| p as f64 * q as f64)
                    .sum();
            }
        });
        return Ok((g, n));
    }
    let mut g = vec![0.0f64; d * d];
    let mut block = Vec::with_capacity(GRAM_BLOCK * d);
    for start in (0..n).step_by(GRAM_BLOCK) {
        let rows = GRAM_BLOCK.min(n - start);
        block.clear();
        block.extend(
            x.as_slice()[start * d..(start + rows) * d]
                .iter()
                .map(|&v| v as f64),
        );
        // Each task owns output rows, so every element is summed in row order whatever the
        // thread count.
        g.par_chunks_mut(d).enumerate().for_each(|(i, gi)| {
            for r in block.chunks_exact(d) {
                let xi = r[i];
                if xi != 0.0 {
                    gi[i..]
                        .iter_mut()
                        .zip(&r[i..])
                        .for_each(|(o, &xj)| *o += xi * xj);
                }
            }
        });
    }
    Ok((g, d))
}

/// RankMe of `x`: `exp(−Σ p_k log p_k)` with `p_k = σ_k / Σσ + ε` over the singular values of
/// the (uncentred) feature matrix, as in the paper. Ranges from 1 (collapse) to `min(N, D)`.
/// An all-zero matrix gives 1.
pub fn rankme(x: &FeatureMatrix) -> Result<f64, EvalError> {
    if x.rows() == 0 {
        return Err(EvalError::InvalidInput("RankMe of 0 rows".into()));
    }
    let (g, m) = gram_f64(x)?;
    let sigma: Vec<f64> = symmetric_eigenvalues(&g, m)?
        .into_iter()
        .map(|l| l.max(0.0).sqrt())
        .collect();
    let total: f64 = sigma.iter().sum();
    if total <= 0.0 {
        return Ok(1.0);
    }
    let entropy: f64 = sigma
        .iter()
        .map(|s| {
            let p = s / total + RANKME_EPS;
            -p * p.ln()
        })
        .sum();
    Ok(entropy.exp())
}
