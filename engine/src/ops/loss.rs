//! Regression losses between predictions z and targets h, mean over all elements: smooth-L1
//! (I-JEPA) and MSE. The kernel writes dz; dh is its negation.

use super::grad_if;
use crate::autograd::{record, tracking};
use crate::cuda::LossKind;
use crate::{Error, Result, Shape, Tensor};
use jepa_kernels::cpu::loss::{mse_bwd, mse_fwd, smooth_l1_bwd, smooth_l1_fwd};

#[derive(Clone, Copy)]
enum Kind {
    SmoothL1(f32),
    Mse,
}

impl Tensor {
    /// mean(0.5·d²/beta if |d| < beta else |d| − 0.5·beta), d = self − target; rank-0.
    pub fn smooth_l1_loss(&self, target: &Tensor, beta: f32) -> Result<Tensor> {
        if beta.is_nan() || beta < 0.0 {
            let msg = format!("beta must be >= 0, got {beta}");
            return Err(Error::InvalidArgument {
                op: "smooth_l1_loss",
                shape: self.shape().clone(),
                msg,
            });
        }
        regression(self, target, Kind::SmoothL1(beta))
    }
    /// mean((self − target)²); rank-0.
    pub fn mse_loss(&self, target: &Tensor) -> Result<Tensor> {
        regression(self, target, Kind::Mse)
    }
}

fn regression(z: &Tensor, h: &Tensor, kind: Kind) -> Result<Tensor> {
    let op = match kind {
        Kind::SmoothL1(_) => "smooth_l1_loss",
        Kind::Mse => "mse_loss",
    };
    z.same_kind(op, h)?;
    z.expect_float(op)?;
    if z.shape() != h.shape() {
        return Err(Error::ShapeMismatch {
            op,
            lhs: z.shape().clone(),
            rhs: h.shape().clone(),
        });
    }
    if z.device().is_cuda() {
        return regression_cuda(z, h, kind, op);
    }
    let (zc, hc) = (z.contiguous()?, h.contiguous()?);
    let loss = if z.elem_count() == 0 {
        f32::NAN // mean of nothing, as in PyTorch
    } else {
        let (zs, hs) = (zc.f32_contig(op)?, hc.f32_contig(op)?);
        match kind {
            Kind::SmoothL1(beta) => smooth_l1_fwd(&zs, &hs, beta),
            Kind::Mse => mse_fwd(&zs, &hs),
        }
    };
    let out = Tensor::from_f32(vec![loss], Shape::from(()), z.dtype());
    if !tracking(&[z, h]) {
        return Ok(out);
    }
    let (zc, hc) = (zc.detach(), hc.detach());
    Ok(record(out, &[z, h], move |g, needs| {
        let up = g.to_scalar_f32()?;
        let mut dz = vec![0f32; zc.elem_count()];
        if !dz.is_empty() {
            let (zs, hs) = (zc.f32_contig(op)?, hc.f32_contig(op)?);
            match kind {
                Kind::SmoothL1(beta) => smooth_l1_bwd(&zs, &hs, beta, up, &mut dz),
                Kind::Mse => mse_bwd(&zs, &hs, up, &mut dz),
            }
        }
        let dh = grad_if(needs[1], || {
            Ok(Tensor::from_f32(
                dz.iter().map(|v| -v).collect(),
                zc.shape().clone(),
                hc.dtype(),
            ))
        })?;
        let dz = grad_if(needs[0], || {
            Ok(Tensor::from_f32(dz, zc.shape().clone(), zc.dtype()))
        })?;
        Ok(vec![dz, dh])
    }))
}

/// The device path: loss.cu forward; backward asks the kernel for dz at an upstream of 1 and
/// scales by the upstream scalar on the device (no host round trip).
fn regression_cuda(z: &Tensor, h: &Tensor, kind: Kind, op: &'static str) -> Result<Tensor> {
    let kind = match kind {
        Kind::SmoothL1(beta) => LossKind::SmoothL1(beta),
        Kind::Mse => LossKind::Mse,
    };
    let out = crate::cuda::loss_fwd(z, h, kind, op)?;
    if !tracking(&[z, h]) {
        return Ok(out);
    }
    let (zd, hd) = (z.detach(), h.detach());
    Ok(record(out, &[z, h], move |g, needs| {
        let dz = crate::cuda::loss_bwd(&zd, &hd, kind, op)?.mul(&g.to_dtype(zd.dtype())?)?;
        let dh = grad_if(needs[1], || dz.neg())?;
        Ok(vec![needs[0].then_some(dz), dh])
    }))
}

#[cfg(test)]
mod tests {
    use crate::ops::check::{check, rand};
    use crate::Error;

    #[test]
    fn losses_forward_and_grads() {
        // z − h spread over ±2 with beta = 0.5 hits both branches; the helper's inputs are
        // multiples of 2⁻¹⁰, so |d| = beta exactly would be a kink: shift h off the grid.
        let z = rand(&[3, 8], 1).mul_scalar(2.0).unwrap();
        let h = rand(&[3, 8], 2).add_scalar(1.0 / 4096.0).unwrap();
        let x = [z, h];
        let sl1 = |v: &[Vec<f64>]| {
            let n = v[0].len() as f64;
            vec![
                v[0].iter()
                    .zip(&v[1])
                    .map(|(z, h)| {
                        let d = (z - h).abs();
                        if d < 0.5 {
                            d * d
                        } else {
                            d - 0.25
                        }
                    })
                    .sum::<f64>()
                    / n,
            ]
        };
        check(&x, |t| t[0].smooth_l1_loss(&t[1], 0.5), sl1);
        check(
            &x,
            |t| t[0].mse_loss(&t[1]),
            |v| {
                vec![
                    v[0].iter()
                        .zip(&v[1])
                        .map(|(z, h)| (z - h).powi(2))
                        .sum::<f64>()
                        / v[0].len() as f64,
                ]
            },
        );
    }

    #[test]
    fn loss_errors() {
        let (a, b) = (rand(&[3, 8], 1), rand(&[8, 3], 2));
        assert!(matches!(
            a.mse_loss(&b),
            Err(Error::ShapeMismatch { op: "mse_loss", .. })
        ));
        assert!(matches!(
            a.smooth_l1_loss(&a, -1.0),
            Err(Error::InvalidArgument { .. })
        ));
    }
}
