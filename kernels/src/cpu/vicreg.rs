//! VICReg variance and covariance losses (official-code normalisation) and their gradients.
//! var = mean_j relu(1 − sqrt(var_unbiased(E[:, j]) + eps)); cov = Σ_{i≠j} C_ij² / D,
//! C = Ecᵀ·Ec / (n − 1). The fast version materialises at most one D×D matrix.
//!
//! Gradients (Ec = E − column means; centring drops out of both because Σ_i Ec_ij = 0):
//! - dvar/dE_ij = −Ec_ij / (D·(n−1)·std_j) where std_j < 1, else 0 (relu'(0) = 0 as in PyTorch);
//! - dcov/dE = (4 / (D·(n−1))) · Ec · C_off, with C_off = C with its diagonal zeroed.
//!
//! Fast version: one n×D centred copy, G = Ecᵀ·Ec by GEMM, then a single pass over G that sums
//! the off-diagonal squares and overwrites G in place with the scaled C_off, and a second GEMM for
//! dcov/dE.

use super::gemm::{gemm, Strides};

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct VicregLosses {
    pub var_loss: f32,
    pub cov_loss: f32,
}

/// e: `[n, d]`, n ≥ 2. When given, de_var / de_cov (`[n, d]`) are overwritten with d loss / dE
/// for upstream gradient 1 of each loss.
pub fn vicreg(
    n: usize,
    d: usize,
    e: &[f32],
    eps: f32,
    de_var: Option<&mut [f32]>,
    de_cov: Option<&mut [f32]>,
) -> VicregLosses {
    if n * d == 0 {
        return empty(n, d, de_var, de_cov);
    }
    let e = &e[..n * d];
    let nm1 = (n - 1) as f64;

    // Column statistics in f64: the mean first, then the centred sum of squares (two passes, so
    // large means do not cancel the variance).
    let mut mean = vec![0f64; d];
    for row in e.chunks_exact(d) {
        for (m, &x) in mean.iter_mut().zip(row) {
            *m += x as f64;
        }
    }
    mean.iter_mut().for_each(|m| *m /= n as f64);
    let mean32: Vec<f32> = mean.iter().map(|&m| m as f32).collect();
    let mut ec = vec![0f32; n * d];
    let mut sumsq = vec![0f64; d];
    for (crow, row) in ec.chunks_exact_mut(d).zip(e.chunks_exact(d)) {
        for (((c, &x), &m), s) in crow.iter_mut().zip(row).zip(&mean32).zip(sumsq.iter_mut()) {
            *c = x - m;
            *s += (*c as f64) * (*c as f64);
        }
    }

    // Variance hinge; `sumsq` is reused to hold each column's gradient coefficient.
    let mut var_sum = 0f64;
    for s in sumsq.iter_mut() {
        let std = (*s / nm1 + eps as f64).sqrt();
        var_sum += (1.0 - std).max(0.0);
        *s = if std < 1.0 {
            -1.0 / (d as f64 * nm1 * std)
        } else {
            0.0
        };
    }
    if let Some(dv) = de_var {
        let coef: Vec<f32> = sumsq.iter().map(|&c| c as f32).collect();
        for (drow, crow) in dv[..n * d].chunks_exact_mut(d).zip(ec.chunks_exact(d)) {
            for ((o, &c), &k) in drow.iter_mut().zip(crow).zip(&coef) {
                *o = k * c;
            }
        }
    }

    // G = Ecᵀ·Ec, the only D×D matrix.
    let mut g = vec![0f32; d * d];
    let ect = Strides::transposed(d, n);
    gemm(
        1,
        d,
        n,
        d,
        &ec,
        ect,
        &ec,
        Strides::row_major(n, d),
        &mut g,
        None,
        false,
    );
    // Σ_{i≠j} C_ij² = Σ_{i≠j} G_ij² / (n−1)²; in the same pass G becomes (4/(D(n−1)²))·G_off,
    // which is (4/(D(n−1)))·C_off, the right factor of dcov/dE.
    let gscale = (4.0 / (d as f64 * nm1 * nm1)) as f32;
    let mut off_sq = 0f64;
    for (i, row) in g.chunks_exact_mut(d).enumerate() {
        let mut row_sq = 0f32;
        for (j, x) in row.iter_mut().enumerate() {
            let keep = if i == j { 0.0 } else { *x };
            row_sq += keep * keep;
            *x = keep * gscale;
        }
        off_sq += row_sq as f64;
    }
    if let Some(dc) = de_cov {
        let rm = Strides::row_major;
        gemm(
            1,
            n,
            d,
            d,
            &ec,
            rm(n, d),
            &g,
            rm(d, d),
            &mut dc[..n * d],
            None,
            false,
        );
    }
    VicregLosses {
        var_loss: (var_sum / d as f64) as f32,
        cov_loss: (off_sq / (nm1 * nm1 * d as f64)) as f32,
    }
}

/// Scalar reference of [`vicreg`]: everything in f64, C materialised in full.
pub fn vicreg_ref(
    n: usize,
    d: usize,
    e: &[f32],
    eps: f32,
    de_var: Option<&mut [f32]>,
    de_cov: Option<&mut [f32]>,
) -> VicregLosses {
    if n * d == 0 {
        return empty(n, d, de_var, de_cov);
    }
    let nm1 = (n - 1) as f64;
    let at = |i: usize, j: usize| e[i * d + j] as f64;
    let mean: Vec<f64> = (0..d)
        .map(|j| (0..n).map(|i| at(i, j)).sum::<f64>() / n as f64)
        .collect();
    let ec: Vec<f64> = (0..n * d).map(|k| at(k / d, k % d) - mean[k % d]).collect();
    let std: Vec<f64> = (0..d)
        .map(|j| ((0..n).map(|i| ec[i * d + j].powi(2)).sum::<f64>() / nm1 + eps as f64).sqrt())
        .collect();
    let var_loss = std.iter().map(|s| (1.0 - s).max(0.0)).sum::<f64>() / d as f64;
    let c: Vec<f64> = (0..d * d)
        .map(|k| {
            (0..n)
                .map(|i| ec[i * d + k / d] * ec[i * d + k % d])
                .sum::<f64>()
                / nm1
        })
        .collect();
    let cov_loss = (0..d * d)
        .filter(|k| k / d != k % d)
        .map(|k| c[k] * c[k])
        .sum::<f64>()
        / d as f64;
    if let Some(dv) = de_var {
        for k in 0..n * d {
            let s = std[k % d];
            dv[k] = if s < 1.0 {
                (-ec[k] / (d as f64 * nm1 * s)) as f32
            } else {
                0.0
            };
        }
    }
    if let Some(dc) = de_cov {
        for i in 0..n {
            for j in 0..d {
                let acc: f64 = (0..d)
                    .filter(|&l| l != j)
                    .map(|l| ec[i * d + l] * c[l * d + j])
                    .sum();
                dc[i * d + j] = (4.0 / (d as f64 * nm1) * acc) as f32;
            }
        }
    }
    VicregLosses {
        var_loss: var_loss as f32,
        cov_loss: cov_loss as f32,
    }
}

/// No columns (or no rows): both losses are means over nothing useful; report zeros and zero
/// gradients rather than NaN so that a degenerate batch cannot poison training.
fn empty(
    n: usize,
    d: usize,
    de_var: Option<&mut [f32]>,
    de_cov: Option<&mut [f32]>,
) -> VicregLosses {
    for g in [de_var, de_cov].into_iter().flatten() {
        g[..n * d].fill(0.0);
    }
    VicregLosses {
        var_loss: 0.0,
        cov_loss: 0.0,
    }
}
