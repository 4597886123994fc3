//! VICReg variance and covariance losses of an embedding matrix `E: [n, d]` (official-code
//! normalisation, see the kernel). Both losses come from one forward; each output records its
//! own backward, which asks the kernel for that loss's gradient only.

use crate::autograd::{record, tracking};
use crate::{Error, Result, Shape, Tensor};
use jepa_kernels::cpu::vicreg::vicreg;

impl Tensor {
    /// `(var_loss, cov_loss)` of `self: [n, d]` (n ≥ 2) as rank-0 tensors:
    /// var = mean_j relu(1 − √(var_unbiased(E[:, j]) + eps)), cov = Σ_{i≠j} C_ij² / d.
    pub fn vicreg(&self, eps: f32) -> Result<(Tensor, Tensor)> {
        let op = "vicreg";
        self.expect_float(op)?;
        self.shape().expect_rank(op, 2)?;
        let (n, d) = (self.dims()[0], self.dims()[1]);
        if n < 2 {
            let msg = "needs at least 2 rows for an unbiased variance".into();
            return Err(Error::InvalidArgument {
                op,
                shape: self.shape().clone(),
                msg,
            });
        }
        if self.device().is_cuda() {
            return vicreg_cuda(self, eps);
        }
        let e = self.contiguous()?;
        let losses = vicreg(n, d, &e.f32_contig(op)?, eps, None, None);
        let var = Tensor::from_f32(vec![losses.var_loss], Shape::from(()), self.dtype());
        let cov = Tensor::from_f32(vec![losses.cov_loss], Shape::from(()), self.dtype());
        if !tracking(&[self]) {
            return Ok((var, cov));
        }
        let grad = move |e: Tensor, want_var: bool| {
            move |g: &Tensor, _: &[bool]| {
                let mut de = vec![0f32; n * d];
                let es = e.f32_contig(op)?;
                if want_var {
                    vicreg(n, d, &es, eps, Some(&mut de), None);
                } else {
                    vicreg(n, d, &es, eps, None, Some(&mut de));
                }
                let up = g.to_scalar_f32()?;
                de.iter_mut().for_each(|v| *v *= up);
                Ok(vec![Some(Tensor::from_f32(de, [n, d], e.dtype()))])
            }
        };
        let var = record(var, &[self], grad(e.detach(), true));
        let cov = record(cov, &[self], grad(e.detach(), false));
        Ok((var, cov))
    }
}

/// The device path: vicreg.cu for the losses, and again per backward for that loss's gradient
/// at an upstream of 1, scaled by the upstream scalar on the device.
fn vicreg_cuda(e: &Tensor, eps: f32) -> Result<(Tensor, Tensor)> {
    let mut losses = crate::cuda::vicreg(e, eps, None)?.into_iter();
    let (Some(var), Some(cov)) = (losses.next(), losses.next()) else {
        return Err(Error::autograd(
            "vicreg: the device path returned no losses",
        ));
    };
    if !tracking(&[e]) {
        return Ok((var, cov));
    }
    let grad = move |e: Tensor, want_var: bool| {
        move |g: &Tensor, _: &[bool]| {
            let de = crate::cuda::vicreg(&e, eps, Some(want_var))?;
            let de = de
                .into_iter()
                .next()
                .ok_or_else(|| Error::autograd("vicreg: the device path returned no gradient"))?;
            Ok(vec![Some(de.mul(&g.to_dtype(e.dtype())?)?)])
        }
    };
    let var = record(var, &[e], grad(e.detach(), true));
    let cov = record(cov, &[e], grad(e.detach(), false));
    Ok((var, cov))
}

#[cfg(test)]
mod tests {
    use crate::ops::check::{check, rand};
    use crate::{Error, Tensor};

    fn stats(v: &[f64], n: usize, d: usize) -> (Vec<f64>, Vec<Vec<f64>>) {
        let mean: Vec<f64> = (0..d)
            .map(|j| (0..n).map(|i| v[i * d + j]).sum::<f64>() / n as f64)
            .collect();
        let c = (0..d)
            .map(|a| {
                (0..d)
                    .map(|b| {
                        (0..n)
                            .map(|i| (v[i * d + a] - mean[a]) * (v[i * d + b] - mean[b]))
                            .sum::<f64>()
                            / (n - 1) as f64
                    })
                    .collect()
            })
            .collect();
        (mean, c)
    }

    #[test]
    fn vicreg_losses_and_grads() {
        // Columns with std both below and above 1, so the relu is active for some.
        let e = rand(&[6, 4], 1)
            .mul(&Tensor::from_vec(vec![0.5f32, 3.0, 1.0, 2.0], [4], crate::Device::Cpu).unwrap())
            .unwrap();
        let x = [e];
        check(
            &x,
            |t| Ok(t[0].vicreg(1e-4)?.0),
            |v| {
                let (_, c) = stats(&v[0], 6, 4);
                vec![
                    (0..4)
                        .map(|j| (1.0 - (c[j][j] + 1e-4).sqrt()).max(0.0))
                        .sum::<f64>()
                        / 4.0,
                ]
            },
        );
        check(
            &x,
            |t| Ok(t[0].vicreg(1e-4)?.1),
            |v| {
                let (_, c) = stats(&v[0], 6, 4);
                vec![
                    (0..4)
                        .flat_map(|a| (0..4).map(move |b| (a, b)))
                        .filter(|(a, b)| a != b)
                        .map(|(a, b)| c[a][b].powi(2))
                        .sum::<f64>()
                        / 4.0,
                ]
            },
        );
        // Both losses in one graph: gradients add.
        crate::ops::check::check_grad(&x, |t| {
            let (v, c) = t[0].vicreg(1e-4)?;
            v.add(&c.mul_scalar(0.04)?)
        });
    }

    #[test]
    fn vicreg_errors() {
        assert!(matches!(
            rand(&[1, 4], 1).vicreg(1e-4),
            Err(Error::InvalidArgument { .. })
        ));
        assert!(matches!(
            rand(&[4], 1).vicreg(1e-4),
            Err(Error::RankMismatch { .. })
        ));
    }
}
