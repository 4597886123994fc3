//! In-place optimizer updates on tensors: the fused AdamW step and the EMA of a target network.
//! They bypass autograd (like `torch.no_grad()` updates in an optimizer's `step`), keep the
//! tensors' ids, and reach the kernels through the device of the operands (CPU: the SIMD
//! kernels of `jepa_kernels::cpu::{adamw, ema}`; CUDA: `kernels/cuda/optim.cu` is the kernel
//! to wire, refused with a typed error until then).

use crate::{DType, Error, Result, Tensor};
use jepa_kernels::cpu::adamw::{adamw_step, AdamW};
use jepa_kernels::cpu::ema::ema_update;

/// The hyper-parameters of one AdamW update (PyTorch's `AdamW`; `step` counts from 1).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AdamWStep {
    pub lr: f32,
    pub beta1: f32,
    pub beta2: f32,
    pub eps: f32,
    pub weight_decay: f32,
    pub step: u64,
}

/// Errors unless every operand is a contiguous F32 host tensor of `like`'s shape.
fn check(op: &'static str, like: &Tensor, others: &[&Tensor]) -> Result<()> {
    for t in std::iter::once(like).chain(others.iter().copied()) {
        like.device().same(op, t.device())?;
        if t.dtype() != DType::F32 {
            return Err(Error::UnsupportedDType {
                op,
                dtype: t.dtype(),
            });
        }
        if t.shape() != like.shape() {
            return Err(Error::ShapeMismatch {
                op,
                lhs: like.shape().clone(),
                rhs: t.shape().clone(),
            });
        }
    }
    if like.device().is_cuda() {
        return Err(Error::Unsupported {
            op,
            msg: "no CUDA optimizer update wired yet (CPU only)".into(),
        });
    }
    Ok(())
}

impl Tensor {
    /// AdamW on this parameter in place, with its moments `m`, `v` (updated in place) and the
    /// gradient `grad`. The three written tensors must not share storage with each other.
    pub fn adamw_(&self, grad: &Tensor, m: &Tensor, v: &Tensor, hp: AdamWStep) -> Result<()> {
        let op = "adamw_";
        check(op, self, &[grad, m, v])?;
        let cfg = AdamW {
            lr: hp.lr,
            beta1: hp.beta1,
            beta2: hp.beta2,
            eps: hp.eps,
            weight_decay: hp.weight_decay,
        };
        let g = grad.contiguous()?;
        let gs = g.f32_contig(op)?;
        m.update_f32(|ms| {
            v.update_f32(|vs| self.update_f32(|ps| adamw_step(cfg, hp.step, ps, &gs, ms, vs)))
        })???;
        Ok(())
    }

    /// `self ← momentum·self + (1 − momentum)·online`, in place (the EMA target encoder).
    pub fn ema_(&self, online: &Tensor, momentum: f32) -> Result<()> {
        let op = "ema_";
        check(op, self, &[online])?;
        if self.same_storage(online) {
            return Err(Error::InvalidArgument {
                op,
                shape: self.shape().clone(),
                msg: "target and online tensors share storage".into(),
            });
        }
        // Read in place: the online values are borrowed while the target's storage is written.
        let os = online.f32_contig(op)?;
        self.update_f32(|t| ema_update(momentum, t, &os))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Device;
    use jepa_kernels::cpu::adamw::adamw_step_ref;

    fn t(v: &[f32]) -> Tensor {
        Tensor::from_slice(v, [v.len()], Device::Cpu).unwrap()
    }

    #[test]
    fn adamw_matches_the_reference_kernel_and_checks_operands() {
        let (p, g) = (t(&[1.0, -2.0, 0.5]), t(&[0.1, 0.2, -0.3]));
        let (m, v) = (t(&[0.0; 3]), t(&[0.0; 3]));
        let hp = AdamWStep {
            lr: 0.1,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.05,
            step: 1,
        };
        p.adamw_(&g, &m, &v, hp).unwrap();
        let (mut pr, mut mr, mut vr) = (vec![1.0, -2.0, 0.5], vec![0.0; 3], vec![0.0; 3]);
        let cfg = AdamW {
            lr: 0.1,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.05,
        };
        adamw_step_ref(cfg, 1, &mut pr, &[0.1, 0.2, -0.3], &mut mr, &mut vr);
        for (a, b) in p.to_vec_f32().unwrap().iter().zip(&pr) {
            assert!((a - b).abs() <= 1e-6, "{a} vs {b}");
        }
        assert_eq!(m.to_vec_f32().unwrap().len(), 3);
        assert!(p.adamw_(&t(&[0.0; 2]), &m, &v, hp).is_err(), "shape");
    }

    #[test]
    fn ema_moves_towards_online() {
        let (tgt, on) = (t(&[1.0, 0.0]), t(&[0.0, 1.0]));
        tgt.ema_(&on, 0.75).unwrap();
        assert_eq!(tgt.to_vec_f32().unwrap(), vec![0.75, 0.25]);
        assert!(tgt.ema_(&t(&[1.0]), 0.5).is_err());
    }
}
