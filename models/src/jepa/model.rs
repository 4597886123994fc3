//! The JEPA model and its training step (methods.md §1.6, §1.10): target branch without the
//! tape, context branch, predictor, loss (+ C-JEPA terms), backward, AdamW over the four
//! official groups, EMA of the target encoder. EC-IJEPA conditioning per §3.

use super::cjepa;
use super::cond::{self, CondInput, CondKeep};
use super::config::{CJepaVariant, Conditioning, EvalPolicy, JepaConfig, Method, RegressionLoss};
use crate::optim::{ema_update, AdamW};
use crate::rng::Rng;
use crate::vit::{
    index, EncoderInputs, ModelError, ModelResult, VisionTransformer, VisionTransformerPredictor,
};
use jepa_engine::{Gradients, RowIndex, Tensor};

/// One view of a batch: images `[B, C, S, S]` and its masks (nenc × `[B, K_c]`, npred × `[B, K_t]`).
#[derive(Clone, Copy, Debug)]
pub struct Batch<'a> {
    pub imgs: &'a Tensor,
    pub masks_enc: &'a [RowIndex],
    pub masks_pred: &'a [RowIndex],
}

/// The forward pass of one step, before backward.
#[derive(Clone, Debug)]
pub struct LossOutput {
    /// Total loss (tracked; call `backward` on it).
    pub loss: Tensor,
    /// The regression term (smooth-L1 or MSE), averaged over views.
    pub regression: f32,
    /// Unweighted C-JEPA terms, when the method adds them.
    pub inv: Option<f32>,
    pub var: Option<f32>,
    pub cov: Option<f32>,
    /// Context-encoder output `[nenc·B, K_c, D]` (first view).
    pub z_ctx: Tensor,
    /// Predictor output `[npred·nenc·B, K_t, D]` (first view).
    pub z_pred: Tensor,
    /// Layer-normed target features, block-major like `z_pred` (first view).
    pub target: Tensor,
}

/// Learning rate, weight decay and EMA momentum of one step.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StepHyper {
    pub lr: f64,
    pub wd: f64,
    pub momentum: f64,
}

/// What a training step reports.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StepStats {
    /// 1-based index of the step just taken.
    pub step: u64,
    pub loss: f32,
    pub regression: f32,
    pub inv: Option<f32>,
    pub var: Option<f32>,
    pub cov: Option<f32>,
    pub hyper: StepHyper,
    /// Whether EC-IJEPA conditioning was on (false when dropped this step or not EC-IJEPA).
    pub conditioned: bool,
}

/// Context encoder, predictor, EMA target encoder and optimizer of one run.
#[derive(Debug)]
pub struct Jepa {
    pub(super) cfg: JepaConfig,
    pub(super) encoder: VisionTransformer,
    pub(super) predictor: VisionTransformerPredictor,
    pub(super) target: VisionTransformer,
    pub(super) opt: AdamW,
    pub(super) steps_done: u64,
}

impl Jepa {
    /// Freshly initialised networks (§1.9); the target encoder starts as a copy.
    pub fn new(cfg: JepaConfig) -> ModelResult<Jepa> {
        cfg.validate()?;
        let extra = cond::cond_specs(cfg.conditioning(), cfg.encoder.dim);
        let encoder = VisionTransformer::new(cfg.encoder.clone(), extra, cfg.seed, true)?;
        let predictor =
            VisionTransformerPredictor::new(cfg.predictor.clone(), cfg.seed.wrapping_add(1))?;
        Self::from_parts(cfg, encoder, predictor)
    }

    /// From existing (trainable) networks; the target encoder is a frozen copy of `encoder`.
    pub fn from_parts(
        cfg: JepaConfig,
        encoder: VisionTransformer,
        predictor: VisionTransformerPredictor,
    ) -> ModelResult<Jepa> {
        cfg.validate()?;
        if encoder.config() != &cfg.encoder || predictor.config() != &cfg.predictor {
            return Err(ModelError::Config(
                "networks do not match the JEPA config".into(),
            ));
        }
        if !encoder.store().is_trainable() || !predictor.store().is_trainable() {
            return Err(ModelError::Config(
                "context encoder and predictor must be trainable".into(),
            ));
        }
        let target = encoder.frozen_copy()?;
        let o = &cfg.optim;
        let opt = AdamW::official(
            &[
                ("encoder", encoder.store()),
                ("predictor", predictor.store()),
            ],
            o.lr.at(1),
            o.wd.at(1),
            o.betas,
            o.eps,
        )?;
        Ok(Jepa {
            cfg,
            encoder,
            predictor,
            target,
            opt,
            steps_done: 0,
        })
    }

    pub fn config(&self) -> &JepaConfig {
        &self.cfg
    }
    pub fn encoder(&self) -> &VisionTransformer {
        &self.encoder
    }
    pub fn predictor(&self) -> &VisionTransformerPredictor {
        &self.predictor
    }
    pub fn target_encoder(&self) -> &VisionTransformer {
        &self.target
    }
    pub fn optimizer(&self) -> &AdamW {
        &self.opt
    }
    pub fn optimizer_mut(&mut self) -> &mut AdamW {
        &mut self.opt
    }
    /// Optimizer steps taken so far.
    pub fn steps_done(&self) -> u64 {
        self.steps_done
    }
    /// Sets the step counter (checkpoint resume: schedules continue from here).
    pub fn set_steps_done(&mut self, s: u64) {
        self.steps_done = s;
    }

    /// The scheduled hyperparameters of the next step (schedules count from 1, EMA from 0).
    pub fn scheduled(&self) -> StepHyper {
        let (o, s) = (&self.cfg.optim, self.steps_done);
        StepHyper {
            lr: o.lr.at(s + 1),
            wd: o.wd.at(s + 1),
            momentum: o.ema.at(s),
        }
    }

    /// Layer-normed target features (§1.6) gathered block-major (repeated per context mask):
    /// `[npred·nenc·B, K_t, D]`; the target encoder is frozen, so nothing is recorded.
    pub fn targets(&self, b: Batch, keep: &CondKeep) -> ModelResult<Tensor> {
        let bsz = b.imgs.dims().first().copied().unwrap_or(0);
        let n = self.cfg.encoder.num_patches();
        index::validate(b.masks_pred, bsz, n, "masks_pred")?;
        let c = cond::build(&self.target, self.cfg.conditioning(), b.masks_enc, 1, keep)?;
        let h = self
            .target
            .forward_with(b.imgs, inputs(None, c.as_ref()))?
            .out;
        let h = h.layer_norm(None, None, self.cfg.target_ln_eps)?;
        let nenc = b.masks_enc.len().max(1);
        let mut parts = Vec::with_capacity(b.masks_pred.len() * nenc);
        for m in b.masks_pred {
            let g = h.gather_rows_idx(m)?;
            parts.extend(std::iter::repeat_n(g, nenc));
        }
        let refs: Vec<&Tensor> = parts.iter().collect();
        Ok(Tensor::cat(&refs, 0)?)
    }

    /// Context-encoder features of the kept tokens (conditioned on the target windows for
    /// EC-IJEPA): `[nenc·B, K_c, D]`, tracked.
    pub fn context(&self, b: Batch, keep: &CondKeep) -> ModelResult<Tensor> {
        let nenc = b.masks_enc.len();
        let c = cond::build(
            &self.encoder,
            self.cfg.conditioning(),
            b.masks_pred,
            nenc,
            keep,
        )?;
        let inp = inputs(Some(b.masks_enc), c.as_ref());
        Ok(self.encoder.forward_with(b.imgs, inp)?.out)
    }

    /// The full forward of one view (plus C-JEPA single-view terms).
    pub fn forward_loss(&self, b: Batch, keep: &CondKeep) -> ModelResult<LossOutput> {
        let target = self.targets(b, keep)?;
        let z_ctx = self.context(b, keep)?;
        let z_pred = self.predictor.forward(&z_ctx, b.masks_enc, b.masks_pred)?;
        let reg = match self.cfg.loss {
            RegressionLoss::SmoothL1 { beta } => z_pred.smooth_l1_loss(&target, beta)?,
            RegressionLoss::Mse => z_pred.mse_loss(&target)?,
        };
        let regression = reg.to_scalar_f32()?;
        let mut out = LossOutput {
            loss: reg,
            regression,
            inv: None,
            var: None,
            cov: None,
            z_ctx,
            z_pred,
            target,
        };
        if self.cfg.method == Method::CJepa && self.cfg.cjepa.variant != CJepaVariant::TwoViews {
            let t = cjepa::single_view(&self.cfg.cjepa, &out.z_pred, &out.target, &out.z_ctx)?;
            out.loss = out.loss.add(&t.total)?;
            (out.inv, out.var, out.cov) = (t.inv, Some(t.var), Some(t.cov));
        }
        Ok(out)
    }

    /// C-JEPA variant A: `½(L(X¹) + L(X²)) + β·VICReg(pool(Z¹_ctx), pool(Z²_ctx))`.
    pub fn forward_loss_two_views(
        &self,
        a: Batch,
        b: Batch,
        keep: &CondKeep,
    ) -> ModelResult<LossOutput> {
        let la = self.forward_loss(a, keep)?;
        let lb = self.forward_loss(b, keep)?;
        let t = cjepa::two_views(&self.cfg.cjepa, &la.z_ctx, &lb.z_ctx)?;
        let loss = la.loss.add(&lb.loss)?.mul_scalar(0.5)?.add(&t.total)?;
        Ok(LossOutput {
            loss,
            regression: 0.5 * (la.regression + lb.regression),
            inv: t.inv,
            var: Some(t.var),
            cov: Some(t.cov),
            ..la
        })
    }

    /// Draws this step's conditioning dropout (§3.4). The stream is keyed by (seed, step), not
    /// carried across steps, so a run resumed from a checkpoint draws exactly what the
    /// uninterrupted run would have drawn.
    fn draw_keep(&self, bsz: usize) -> CondKeep {
        let p = self.cfg.ec.dropout;
        let mut rng = Rng::from_seeds(&[self.cfg.seed, 0x636f_6e64, self.steps_done]); // "cond"
        match self.cfg.conditioning() {
            Conditioning::None => CondKeep::Off,
            Conditioning::Additive if p > 0.0 => {
                CondKeep::PerSample((0..bsz).map(|_| !rng.bernoulli(p)).collect())
            }
            _ if p > 0.0 && rng.bernoulli(p) => CondKeep::Off,
            _ => CondKeep::All,
        }
    }

    /// One scheduled training step on one view.
    pub fn train_step(&mut self, b: Batch) -> ModelResult<StepStats> {
        let hp = self.scheduled();
        self.train_step_with(b, hp)
    }

    /// One training step with explicit hyperparameters.
    pub fn train_step_with(&mut self, b: Batch, hp: StepHyper) -> ModelResult<StepStats> {
        if self.cfg.two_views() {
            return Err(ModelError::Config(
                "C-JEPA variant A needs two views: use train_step_two_views".into(),
            ));
        }
        let keep = self.draw_keep(b.imgs.dims().first().copied().unwrap_or(0));
        let out = self.forward_loss(b, &keep)?;
        self.finish(out, hp, keep != CondKeep::Off)
    }

    /// One scheduled step of C-JEPA variant A on two views of the same images.
    pub fn train_step_two_views(&mut self, a: Batch, b: Batch) -> ModelResult<StepStats> {
        let hp = self.scheduled();
        let keep = self.draw_keep(a.imgs.dims().first().copied().unwrap_or(0));
        let out = self.forward_loss_two_views(a, b, &keep)?;
        self.finish(out, hp, keep != CondKeep::Off)
    }

    fn finish(
        &mut self,
        out: LossOutput,
        hp: StepHyper,
        conditioned: bool,
    ) -> ModelResult<StepStats> {
        let loss = out.loss.to_scalar_f32()?;
        if !loss.is_finite() {
            return Err(ModelError::NonFiniteLoss { loss });
        }
        let grads = out.loss.backward()?;
        self.apply_gradients(&grads, hp)?;
        Ok(stats(&out, loss, self.steps_done, hp, conditioned))
    }

    /// AdamW with `hp.lr` (all groups) and `hp.wd` (decay groups), then the EMA with
    /// `hp.momentum`; advances the step counter.
    pub fn apply_gradients(&mut self, grads: &Gradients, hp: StepHyper) -> ModelResult<()> {
        self.opt.set_lr(hp.lr);
        self.opt.set_weight_decay(hp.wd);
        self.opt
            .step(&[self.encoder.store(), self.predictor.store()], grads)?;
        ema_update(
            self.target.store(),
            self.encoder.store(),
            hp.momentum as f32,
        )?;
        self.steps_done += 1;
        Ok(())
    }

    /// Evaluation features of the target encoder (§7): `[B, N, D]` after `norm`, conditioned
    /// on all positions under policy (b) for EC-IJEPA.
    pub fn target_features(&self, imgs: &Tensor, policy: EvalPolicy) -> ModelResult<Tensor> {
        let mode = self.cfg.conditioning();
        if policy == EvalPolicy::Unconditioned || mode == Conditioning::None {
            return self.target.forward(imgs);
        }
        let bsz = imgs.dims().first().copied().unwrap_or(0);
        let all = cond::all_positions(bsz, self.cfg.encoder.num_patches())?;
        let c = cond::build(&self.target, mode, &[all], 1, &CondKeep::All)?;
        Ok(self
            .target
            .forward_with(imgs, inputs(None, c.as_ref()))?
            .out)
    }
}

fn stats(out: &LossOutput, loss: f32, step: u64, hp: StepHyper, conditioned: bool) -> StepStats {
    StepStats {
        step,
        loss,
        regression: out.regression,
        inv: out.inv,
        var: out.var,
        cov: out.cov,
        hyper: hp,
        conditioned,
    }
}

fn inputs<'a>(masks: Option<&'a [RowIndex]>, c: Option<&'a CondInput>) -> EncoderInputs<'a> {
    EncoderInputs {
        masks,
        extra_tokens: match c {
            Some(CondInput::Tokens(t)) => Some(t),
            _ => None,
        },
        additive: match c {
            Some(CondInput::Additive(t)) => Some(t),
            _ => None,
        },
        keep_blocks: false,
    }
}
