//! Symmetric eigen-decomposition by the cyclic Jacobi method, in f64.
//!
//! Jacobi is slower than tridiagonalisation + QR (O(n³) per sweep, a handful of sweeps), but it
//! is short, unconditionally stable and computes small eigenvalues to high *relative* accuracy,
//! which is what RankMe needs: the tail of the spectrum of a nearly collapsed representation is
//! exactly what it measures. The collapse metrics call it on D×D matrices (D ≤ a few hundred).

use super::EvalError;

/// Sweeps after which a non-converged decomposition is reported as an error. Cyclic Jacobi
/// converges quadratically once the off-diagonal mass is small; real inputs need 6–12 sweeps.
const MAX_SWEEPS: usize = 100;

/// Eigenvalues in descending order and the matching orthonormal eigenvectors.
#[derive(Clone, Debug, PartialEq)]
pub struct SymmetricEigen {
    pub n: usize,
    /// Descending.
    pub values: Vec<f64>,
    /// Row-major `[n, n]`; column `k` is the unit eigenvector of `values[k]`.
    pub vectors: Vec<f64>,
}

/// Eigenvalues and eigenvectors of the symmetric row-major `[n, n]` matrix `a`.
/// Only the upper triangle is read (the lower one is assumed to mirror it).
pub fn symmetric_eigen(a: &[f64], n: usize) -> Result<SymmetricEigen, EvalError> {
    let (values, vectors) = jacobi(a, n, true)?;
    Ok(SymmetricEigen { n, values, vectors })
}

/// Eigenvalues only (descending); about half the work of [`symmetric_eigen`].
pub fn symmetric_eigenvalues(a: &[f64], n: usize) -> Result<Vec<f64>, EvalError> {
    Ok(jacobi(a, n, false)?.0)
}

fn jacobi(a: &[f64], n: usize, want_vectors: bool) -> Result<(Vec<f64>, Vec<f64>), EvalError> {
    if n.checked_mul(n) != Some(a.len()) {
        return Err(EvalError::InvalidInput(format!(
            "eigen: {} values for a {n}x{n} matrix",
            a.len()
        )));
    }
    if a.iter().any(|v| !v.is_finite()) {
        return Err(EvalError::NonFinite("eigen: matrix".into()));
    }
    // Work on a symmetrised copy built from the upper triangle.
    let mut m = vec![0.0; n * n];
    for p in 0..n {
        for q in p..n {
            m[p * n + q] = a[p * n + q];
            m[q * n + p] = a[p * n + q];
        }
    }
    let mut v = if want_vectors {
        let mut id = vec![0.0; n * n];
        (0..n).for_each(|i| id[i * n + i] = 1.0);
        id
    } else {
        Vec::new()
    };
    let mut converged = n < 2;
    for _ in 0..MAX_SWEEPS {
        if converged {
            break;
        }
        let mut rotations = 0usize;
        for p in 0..n - 1 {
            for q in p + 1..n {
                let apq = m[p * n + q];
                if apq == 0.0 {
                    continue;
                }
                let (app, aqq) = (m[p * n + p], m[q * n + q]);
                // An element below rounding of both diagonal entries cannot move an eigenvalue
                // by more than one ulp of them; dropping it is what lets the sweep terminate.
                if apq.abs() <= 0.5 * f64::EPSILON * app.abs().min(aqq.abs()) {
                    m[p * n + q] = 0.0;
                    m[q * n + p] = 0.0;
                    continue;
                }
                rotate(&mut m, &mut v, n, p, q);
                rotations += 1;
            }
        }
        converged = rotations == 0 || off_diagonal_negligible(&m, n);
    }
    if !converged {
        return Err(EvalError::NotConverged(format!(
            "Jacobi eigen-solver: {n}x{n} matrix after {MAX_SWEEPS} sweeps"
        )));
    }
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&i, &j| m[j * n + j].total_cmp(&m[i * n + i]));
    let values = order.iter().map(|&i| m[i * n + i]).collect();
    let vectors = if want_vectors {
        let mut out = vec![0.0; n * n];
        for (k, &src) in order.iter().enumerate() {
            for r in 0..n {
                out[r * n + k] = v[r * n + src];
            }
        }
        out
    } else {
        Vec::new()
    };
    Ok((values, vectors))
}

/// One Jacobi rotation zeroing `m[p][q]`: `m ← JᵀmJ`, `v ← vJ`.
fn rotate(m: &mut [f64], v: &mut [f64], n: usize, p: usize, q: usize) {
    let (app, aqq, apq) = (m[p * n + p], m[q * n + q], m[p * n + q]);
    // t = tan(φ) of the smaller rotation angle solving t² + 2θt − 1 = 0, θ = (aqq − app)/(2apq);
    // the form 1/(|θ| + √(θ²+1)) avoids cancellation, and for huge θ it tends to 1/(2θ).
    let theta = (aqq - app) / (2.0 * apq);
    let t = if theta.abs() > 1e150 {
        0.5 / theta
    } else {
        theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt())
    };
    let c = 1.0 / (t * t + 1.0).sqrt();
    let s = t * c;
    // Columns p and q of every row, then rows p and q (which fixes the 2x2 block again below).
    for k in 0..n {
        let (mkp, mkq) = (m[k * n + p], m[k * n + q]);
        m[k * n + p] = c * mkp - s * mkq;
        m[k * n + q] = s * mkp + c * mkq;
    }
    for k in 0..n {
        let (mpk, mqk) = (m[p * n + k], m[q * n + k]);
        m[p * n + k] = c * mpk - s * mqk;
        m[q * n + k] = s * mpk + c * mqk;
    }
    // The exact values of the rotated 2x2 block, free of the rounding of the two passes above.
    m[p * n + p] = app - t * apq;
    m[q * n + q] = aqq + t * apq;
    m[p * n + q] = 0.0;
    m[q * n + p] = 0.0;
    if !v.is_empty() {
        for k in 0..n {
            let (vkp, vkq) = (v[k * n + p], v[k * n + q]);
            v[k * n + p] = c * vkp - s * vkq;
            v[k * n + q] = s * vkp + c * vkq;
        }
    }
}

/// True when the off-diagonal mass is at rounding level relative to the whole matrix.
fn off_diagonal_negligible(m: &[f64], n: usize) -> bool {
    let (mut off, mut total) = (0.0f64, 0.0f64);
    for p in 0..n {
        for q in 0..n {
            let x = m[p * n + q] * m[p * n + q];
            total += x;
            if p != q {
                off += x;
            }
        }
    }
    off <= (f64::EPSILON * f64::EPSILON) * total
}
