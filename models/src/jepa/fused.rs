//! The manual-backward training step (methods.md §1.10 without the tape): target branch by the
//! tape-free forward, context encoder and predictor by `vit::manual`, loss gradients from the
//! kernels, C-JEPA single-view terms from the VICReg kernel. Covers I-JEPA, C-JEPA §4.2 / §4.4
//! and EC-IJEPA block-mean conditioning; the tape path covers the rest and checks this one.

use super::cjepa_manual;
use super::cond::{self, CondInput, CondKeep};
use super::config::{CJepaVariant, Conditioning, Method, RegressionLoss};
use super::model::{Batch, Jepa, LossOutput, StepHyper};
use crate::optim::ema_update;
use crate::vit::manual::encoder::{self as menc, EncTrace};
use crate::vit::manual::predictor::{self as mpred, PredTrace};
use crate::vit::{index, ModelError, ModelResult};
use jepa_engine::{Device, Tensor};
use jepa_kernels::cpu::loss::{mse_bwd, mse_fwd, smooth_l1_bwd, smooth_l1_fwd};

/// Reusable activations and gradient buffers of the manual path.
#[derive(Debug, Default)]
pub(crate) struct FusedState {
    enc: EncTrace,
    pred: PredTrace,
    enc_grad: Vec<f32>,
    pred_grad: Vec<f32>,
}

impl Jepa {
    /// Whether [`Jepa::forward_backward_manual`] covers this configuration.
    pub fn manual_supported(&self) -> bool {
        let c = &self.cfg;
        matches!(
            c.conditioning(),
            Conditioning::None | Conditioning::BlockMean
        ) && !c.two_views()
    }

    /// Forward and manual backward of one view. The gradients (flat, laid out like the encoder
    /// and predictor stores) are available from [`Jepa::manual_grads`] until the next call.
    pub fn forward_backward_manual(
        &mut self,
        b: Batch,
        keep: &CondKeep,
    ) -> ModelResult<LossOutput> {
        if !self.manual_supported() {
            return Err(ModelError::Config(
                "the manual backward covers I-JEPA, C-JEPA (single view) and block-mean \
                 EC-IJEPA only"
                    .into(),
            ));
        }
        let target = self.targets(b, keep)?;
        let bsz = b.imgs.dims()[0];
        let (ecfg, pcfg) = (&self.cfg.encoder, &self.cfg.predictor);
        let kc = index::validate(b.masks_enc, bsz, ecfg.num_patches(), "masks_enc")?;
        let nenc = b.masks_enc.len();
        let extra = match cond::build(
            &self.encoder,
            self.cfg.conditioning(),
            b.masks_pred,
            nenc,
            keep,
        )? {
            Some(CondInput::Tokens(t)) => Some((t.dims()[1], t.to_vec_f32()?)),
            _ => None,
        };
        let imgs = b.imgs.to_vec_f32()?;
        let tv = target.to_vec_f32()?;
        let (enc, pred, st) = (&self.encoder, &self.predictor, &mut self.fused);
        let (method, cj, loss_kind) = (self.cfg.method, self.cfg.cjepa, self.cfg.loss);
        let d = ecfg.dim;
        let res = enc.store().with_flat_mut(|ef| {
            pred.store().with_flat_mut(|pf| -> ModelResult<_> {
                let ex = extra.as_ref().map(|(e, v)| (*e, v.as_slice()));
                let z = menc::forward(
                    ecfg,
                    enc.flat_layout(),
                    ef,
                    &imgs,
                    bsz,
                    b.masks_enc,
                    ex,
                    &mut st.enc,
                );
                let (ml, mp) = (pred.flat_layout(), b.masks_pred);
                let zp = mpred::forward(pcfg, ml, pf, &z, bsz, b.masks_enc, mp, &mut st.pred);
                let mut dzp = vec![0f32; zp.len()];
                let regression = match loss_kind {
                    RegressionLoss::SmoothL1 { beta } => {
                        smooth_l1_bwd(&zp, &tv, beta, 1.0, &mut dzp);
                        smooth_l1_fwd(&zp, &tv, beta)
                    }
                    RegressionLoss::Mse => {
                        mse_bwd(&zp, &tv, 1.0, &mut dzp);
                        mse_fwd(&zp, &tv)
                    }
                };
                let kt = b.masks_pred[0].dims().1;
                let mut dz_extra = None;
                let terms = if method == Method::CJepa {
                    let rows = zp.len() / (kt * d);
                    let t = cjepa_manual::pooled(&cj, &zp, rows, kt, d, Some(&tv), &mut dzp)?;
                    if cj.variant == CJepaVariant::PredictionsAndContext {
                        let mut dzc = vec![0f32; z.len()];
                        let mut ctx_cfg = cj;
                        ctx_cfg.inv_coeff = 0.0;
                        let tc = cjepa_manual::pooled(
                            &ctx_cfg,
                            &z,
                            z.len() / (kc * d),
                            kc,
                            d,
                            None,
                            &mut dzc,
                        )?;
                        dz_extra = Some(dzc);
                        Some(t.plus(tc))
                    } else {
                        Some(t)
                    }
                } else {
                    None
                };
                st.enc_grad.clear();
                st.enc_grad.resize(ef.len(), 0.0);
                st.pred_grad.clear();
                st.pred_grad.resize(pf.len(), 0.0);
                let mut dz = mpred::backward(pcfg, ml, pf, &mut st.pred_grad, &dzp, &mut st.pred);
                if let Some(e) = &dz_extra {
                    dz.iter_mut().zip(e).for_each(|(a, &v)| *a += v);
                }
                menc::backward(
                    ecfg,
                    enc.flat_layout(),
                    ef,
                    &mut st.enc_grad,
                    &dz,
                    &mut st.enc,
                );
                Ok((z, zp, regression, terms))
            })
        })???;
        let (z, zp, regression, terms) = res;
        let kt = b.masks_pred[0].dims().1;
        let total = regression + terms.as_ref().map_or(0.0, |t| t.total);
        let t = |v: Vec<f32>, dims: &[usize]| Tensor::from_vec(v, dims.to_vec(), Device::Cpu);
        Ok(LossOutput {
            loss: Tensor::scalar(total),
            regression,
            inv: terms.as_ref().and_then(|t| t.inv),
            var: terms.as_ref().map(|t| t.var),
            cov: terms.as_ref().map(|t| t.cov),
            z_ctx: t(z, &[nenc * bsz, kc, d])?,
            z_pred: t(zp, &[target.dims()[0], kt, d])?,
            target,
        })
    }

    /// Flat gradients of the last [`Jepa::forward_backward_manual`]: (encoder, predictor).
    pub fn manual_grads(&self) -> (&[f32], &[f32]) {
        (&self.fused.enc_grad, &self.fused.pred_grad)
    }

    /// AdamW from the manual gradients, then the EMA; advances the step counter.
    pub fn apply_manual_gradients(&mut self, hp: StepHyper) -> ModelResult<()> {
        self.opt.set_lr(hp.lr);
        self.opt.set_weight_decay(hp.wd);
        let stores = [self.encoder.store(), self.predictor.store()];
        let grads = [
            self.fused.enc_grad.as_slice(),
            self.fused.pred_grad.as_slice(),
        ];
        self.opt.step_flat(&stores, &grads)?;
        ema_update(
            self.target.store(),
            self.encoder.store(),
            hp.momentum as f32,
        )?;
        self.steps_done += 1;
        Ok(())
    }
}
