//! Configuration of a JEPA training run: method, networks, loss, variant options, optimizer
//! and schedules (methods.md §1, §3, §4, §6).

use crate::optim::{CosineWd, EmaSchedule, WarmupCosine};
use crate::vit::{ModelError, ModelResult, PredictorConfig, VitConfig};

/// The training method.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Method {
    IJepa,
    CJepa,
    EcIJepa,
}

/// The prediction loss against the layer-normed targets (§1.6).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum RegressionLoss {
    /// Huber, mean over all elements (official, β = 1).
    SmoothL1 { beta: f32 },
    /// Mean squared error (the paper's L2 form up to a constant).
    Mse,
}

/// Which embeddings the C-JEPA VICReg terms act on (§4.2–§4.4).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CJepaVariant {
    /// Default (§4.2): var/cov (+ optional invariance) on block-pooled predictions `[M·B, D]`.
    PooledPredictions,
    /// Variant A (§4.3): two augmented views, VICReg between the pooled context features.
    TwoViews,
    /// Variant B (§4.4): pooled predictions and pooled context features, single view.
    PredictionsAndContext,
}

/// C-JEPA options: `L = L_jepa + β·(λ·inv + μ·var + ν·cov)` (terms per variant).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CJepaConfig {
    pub variant: CJepaVariant,
    /// Outer weight β (1 for the default variant).
    pub beta: f32,
    /// λ: invariance (MSE) weight.
    pub inv_coeff: f32,
    /// μ: variance hinge weight.
    pub var_coeff: f32,
    /// ν: covariance weight.
    pub cov_coeff: f32,
    /// ε inside the variance square root (1e-4).
    pub eps: f32,
}

impl Default for CJepaConfig {
    /// The §4.2 defaults the golden cases use: μ = 1, ν = 0.04, λ = 0, β = 1.
    fn default() -> Self {
        CJepaConfig {
            variant: CJepaVariant::PooledPredictions,
            beta: 1.0,
            inv_coeff: 0.0,
            var_coeff: 1.0,
            cov_coeff: 0.04,
            eps: 1e-4,
        }
    }
}

impl CJepaConfig {
    /// Variant A with the VICReg code coefficients (λ = μ = 25, ν = 1) and outer weight `beta`.
    pub fn two_views(beta: f32) -> Self {
        CJepaConfig {
            variant: CJepaVariant::TwoViews,
            beta,
            inv_coeff: 25.0,
            var_coeff: 25.0,
            cov_coeff: 1.0,
            eps: 1e-4,
        }
    }
    /// Variant B with VICReg coefficients (λ = μ = 25, ν = 1) and outer weight `beta`.
    pub fn predictions_and_context(beta: f32) -> Self {
        CJepaConfig {
            variant: CJepaVariant::PredictionsAndContext,
            ..Self::two_views(beta)
        }
    }
}

/// How EC-IJEPA injects window positions (§3.2, §3.2b, §3.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Conditioning {
    /// No conditioning (plain I-JEPA graph).
    None,
    /// Default: one token per window, the mean of the fixed pos embed over the window.
    BlockMean,
    /// One token per position, `W_c·pe[p] + e_cond` (learned, identity / zero init).
    PerPosition,
    /// `MLP(mean pe[P])` added to every token before block 0 (last layer zero-init).
    Additive,
}

/// EC-IJEPA evaluation policy (§3.4).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EvalPolicy {
    /// (a) Target encoder unconditioned: the plain I-JEPA evaluation graph.
    Unconditioned,
    /// (b) Target encoder conditioned on all N positions.
    AllPositions,
}

/// EC-IJEPA options.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct EcConfig {
    pub conditioning: Conditioning,
    /// Conditioning dropout probability. Token modes drop per batch (the fused attention has no
    /// key mask); the additive mode drops per sample.
    pub dropout: f64,
    pub eval_policy: EvalPolicy,
}

impl Default for EcConfig {
    fn default() -> Self {
        EcConfig {
            conditioning: Conditioning::BlockMean,
            dropout: 0.1,
            eval_policy: EvalPolicy::Unconditioned,
        }
    }
}

/// AdamW, schedules and EMA (official defaults via [`OptimConfig::official`]).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct OptimConfig {
    pub lr: WarmupCosine,
    pub wd: CosineWd,
    pub ema: EmaSchedule,
    pub betas: (f32, f32),
    pub eps: f32,
}

impl OptimConfig {
    /// Official recipe shape: lr 2e-4 → 1e-3 → 1e-6 with `warmup_epochs`, wd 0.04 → 0.4,
    /// EMA 0.996 → 1.0, over `epochs · ipe` iterations (ipe_scale 1).
    pub fn official(epochs: u64, ipe: u64, warmup_epochs: u64) -> OptimConfig {
        let total = (epochs * ipe).max(1);
        OptimConfig {
            lr: WarmupCosine {
                start_lr: 2e-4,
                ref_lr: 1e-3,
                final_lr: 1e-6,
                warmup_steps: warmup_epochs * ipe,
                total_steps: total,
            },
            wd: CosineWd {
                ref_wd: 0.04,
                final_wd: 0.4,
                total_steps: total,
            },
            ema: EmaSchedule {
                start: 0.996,
                end: 1.0,
                total_steps: total,
            },
            betas: (0.9, 0.999),
            eps: 1e-8,
        }
    }
}

/// Everything that defines a JEPA model and its training step.
#[derive(Clone, Debug, PartialEq)]
pub struct JepaConfig {
    pub method: Method,
    pub encoder: VitConfig,
    pub predictor: PredictorConfig,
    pub loss: RegressionLoss,
    /// LayerNorm eps of the (no-affine) target normalisation: 1e-5 (F.layer_norm default).
    pub target_ln_eps: f32,
    pub cjepa: CJepaConfig,
    pub ec: EcConfig,
    pub optim: OptimConfig,
    /// Seeds parameter init and conditioning dropout.
    pub seed: u64,
}

impl JepaConfig {
    /// Whether the method trains on two augmented views per image (C-JEPA variant A).
    pub fn two_views(&self) -> bool {
        self.method == Method::CJepa && self.cjepa.variant == CJepaVariant::TwoViews
    }

    /// Official defaults around `encoder` with a predictor of width `pred_dim`, depth
    /// `pred_depth` (encoder heads).
    pub fn new(method: Method, encoder: VitConfig, pred_dim: usize, pred_depth: usize) -> Self {
        let predictor = PredictorConfig::for_encoder(&encoder, pred_dim, pred_depth);
        JepaConfig {
            method,
            encoder,
            predictor,
            loss: RegressionLoss::SmoothL1 { beta: 1.0 },
            target_ln_eps: 1e-5,
            cjepa: CJepaConfig::default(),
            ec: EcConfig::default(),
            optim: OptimConfig::official(100, 100, 10),
            seed: 0,
        }
    }

    /// The conditioning actually used (None unless the method is EC-IJEPA).
    pub fn conditioning(&self) -> Conditioning {
        match self.method {
            Method::EcIJepa => self.ec.conditioning,
            _ => Conditioning::None,
        }
    }

    pub fn validate(&self) -> ModelResult<()> {
        self.encoder.validate()?;
        self.predictor.validate()?;
        let bad = |m: &str| Err(ModelError::Config(m.into()));
        if self.predictor.enc_dim != self.encoder.dim
            || self.predictor.num_patches != self.encoder.num_patches()
        {
            return bad("predictor enc_dim / num_patches must match the encoder");
        }
        if !(0.0..=1.0).contains(&self.ec.dropout) {
            return bad("conditioning dropout must be in [0, 1]");
        }
        let c = &self.cjepa;
        let coeffs = [c.beta, c.inv_coeff, c.var_coeff, c.cov_coeff, c.eps];
        if coeffs.iter().any(|v| !v.is_finite() || *v < 0.0) {
            return bad("C-JEPA coefficients must be finite and >= 0");
        }
        if self.target_ln_eps.is_nan() || self.target_ln_eps < 0.0 {
            return bad("target_ln_eps must be >= 0");
        }
        if let RegressionLoss::SmoothL1 { beta } = self.loss {
            if beta.is_nan() || beta < 0.0 {
                return bad("smooth-L1 beta must be >= 0");
            }
        }
        Ok(())
    }
}
