//! VICReg variance and covariance losses (official-code normalisation) and their gradients.
//! var = mean_j relu(1 − sqrt(var_unbiased(E[:, j]) + eps)); cov = Σ_{i≠j} C_ij² / D,
//! C = Ecᵀ·Ec / (n − 1). The fast version materialises at most one D×D matrix.
//! STUB: signatures are the contract; bodies are filled in by the kernels work.

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct VicregLosses {
    pub var_loss: f32,
    pub cov_loss: f32,
}

/// e: `[n, d]`, n ≥ 2. When given, de_var / de_cov (`[n, d]`) are overwritten with d loss / dE
/// for upstream gradient 1 of each loss.
pub fn vicreg(n: usize, d: usize, e: &[f32], eps: f32, de_var: Option<&mut [f32]>, de_cov: Option<&mut [f32]>) -> VicregLosses { let _ = (n, d, e, eps, de_var, de_cov); todo!() }
pub fn vicreg_ref(n: usize, d: usize, e: &[f32], eps: f32, de_var: Option<&mut [f32]>, de_cov: Option<&mut [f32]>) -> VicregLosses { let _ = (n, d, e, eps, de_var, de_cov); todo!() }
