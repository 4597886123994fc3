//! C-JEPA regularisers (methods.md §4.2–§4.4, VICReg normalisation §5): VICReg variance and
//! covariance (and optionally invariance) on pooled embeddings, added to the I-JEPA loss.

use super::config::{CJepaConfig, CJepaVariant};
use crate::vit::ModelResult;
use jepa_engine::Tensor;

/// The weighted regulariser and its unweighted parts (for logging and golden checks).
#[derive(Clone, Debug)]
pub struct VicTerms {
    /// `β·(λ·inv + μ·var + ν·cov)`, tracked.
    pub total: Tensor,
    pub inv: Option<f32>,
    pub var: f32,
    pub cov: f32,
}

/// `pool(Y[R, K, D])`: mean over the K tokens → `[R, D]`.
pub fn pool(y: &Tensor) -> ModelResult<Tensor> {
    Ok(y.mean_dims(&[1], false)?)
}

/// Single-view variants: §4.2 (pooled predictions) and §4.4 (predictions and context).
/// `target` is the layer-normed target `[M·B, K_t, D]` (stop-gradient by construction).
pub fn single_view(
    cfg: &CJepaConfig,
    z_pred: &Tensor,
    target: &Tensor,
    z_ctx: &Tensor,
) -> ModelResult<VicTerms> {
    let e = pool(z_pred)?;
    let (v, c) = e.vicreg(cfg.eps)?;
    let (mut var, mut cov) = (v, c);
    if cfg.variant == CJepaVariant::PredictionsAndContext {
        let (vc, cc) = pool(z_ctx)?.vicreg(cfg.eps)?;
        var = var.add(&vc)?;
        cov = cov.add(&cc)?;
    }
    let inv = if cfg.inv_coeff > 0.0 {
        Some(e.mse_loss(&pool(&target.detach())?)?)
    } else {
        None
    };
    weigh(cfg, inv, var, cov)
}

/// Variant A (§4.3): VICReg between the pooled context features of two views, in the official
/// code form: inv = MSE, var averaged over the branches, cov summed.
pub fn two_views(cfg: &CJepaConfig, z1_ctx: &Tensor, z2_ctx: &Tensor) -> ModelResult<VicTerms> {
    let (a, b) = (pool(z1_ctx)?, pool(z2_ctx)?);
    let (va, ca) = a.vicreg(cfg.eps)?;
    let (vb, cb) = b.vicreg(cfg.eps)?;
    let var = va.add(&vb)?.mul_scalar(0.5)?;
    let cov = ca.add(&cb)?;
    let inv = (cfg.inv_coeff > 0.0).then(|| a.mse_loss(&b)).transpose()?;
    weigh(cfg, inv, var, cov)
}

fn weigh(
    cfg: &CJepaConfig,
    inv: Option<Tensor>,
    var: Tensor,
    cov: Tensor,
) -> ModelResult<VicTerms> {
    let mut total = var
        .mul_scalar(cfg.var_coeff)?
        .add(&cov.mul_scalar(cfg.cov_coeff)?)?;
    if let Some(i) = &inv {
        total = total.add(&i.mul_scalar(cfg.inv_coeff)?)?;
    }
    if cfg.beta != 1.0 {
        total = total.mul_scalar(cfg.beta)?;
    }
    Ok(VicTerms {
        total,
        inv: inv.map(|i| i.to_scalar_f32()).transpose()?,
        var: var.to_scalar_f32()?,
        cov: cov.to_scalar_f32()?,
    })
}
