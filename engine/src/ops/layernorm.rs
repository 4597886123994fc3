//! LayerNorm over the last dim (biased variance), affine optional. The kernel saves per-row
//! mean and rstd; backward needs only x, the weight and those two vectors.

use super::grad_if;
use crate::autograd::{record, tracking};
use crate::{Error, Result, Shape, Tensor};
use jepa_kernels::cpu::layernorm::{layernorm_bwd, layernorm_fwd};

impl Tensor {
    /// `(x − mean)·rstd·weight + bias` over the last dim; `weight`, `bias`: `[D]` or None.
    pub fn layer_norm(
        &self,
        weight: Option<&Tensor>,
        bias: Option<&Tensor>,
        eps: f32,
    ) -> Result<Tensor> {
        Ok(self.layer_norm_stats(weight, bias, eps)?.0)
    }

    /// [`Tensor::layer_norm`] that also returns the per-row `mean` and `rstd` (shape of `x`
    /// without its last dim; untracked).
    pub fn layer_norm_stats(
        &self,
        weight: Option<&Tensor>,
        bias: Option<&Tensor>,
        eps: f32,
    ) -> Result<(Tensor, Tensor, Tensor)> {
        let op = "layer_norm";
        self.expect_float(op)?;
        self.shape().expect_min_rank(op, 1)?;
        let dim = self.dims()[self.rank() - 1];
        for p in [weight, bias].into_iter().flatten() {
            self.same_kind(op, p)?;
            if p.dims() != [dim] {
                return Err(Error::ShapeMismatch {
                    op,
                    lhs: self.shape().clone(),
                    rhs: p.shape().clone(),
                });
            }
        }
        if eps.is_nan() || eps < 0.0 {
            let msg = format!("eps must be >= 0, got {eps}");
            return Err(Error::InvalidArgument {
                op,
                shape: self.shape().clone(),
                msg,
            });
        }
        let rows: usize = self.dims()[..self.rank() - 1].iter().product();
        let x = self.contiguous()?;
        if self.device().is_cuda() {
            return layer_norm_cuda(self, &x, weight, bias, eps, (rows, dim));
        }
        let (mut out, mut mean, mut rstd) =
            (vec![0f32; rows * dim], vec![0f32; rows], vec![0f32; rows]);
        if rows * dim > 0 {
            let xs = x.f32_contig(op)?;
            let ws = weight.map(|w| w.f32_contig(op)).transpose()?;
            let bs = bias.map(|b| b.f32_contig(op)).transpose()?;
            layernorm_fwd(
                rows,
                dim,
                eps,
                &xs,
                ws.as_deref(),
                bs.as_deref(),
                &mut out,
                &mut mean,
                &mut rstd,
            );
        }
        let row_shape = Shape::from(&self.dims()[..self.rank() - 1]);
        let mean_t = Tensor::from_f32(mean.clone(), row_shape.clone(), crate::DType::F32);
        let rstd_t = Tensor::from_f32(rstd.clone(), row_shape, crate::DType::F32);
        let out = Tensor::from_f32(out, self.shape().clone(), self.dtype());
        let mut inputs = vec![self];
        inputs.extend(weight);
        inputs.extend(bias);
        if !tracking(&inputs) {
            return Ok((out, mean_t, rstd_t));
        }
        let (x, w) = (x.detach(), weight.map(Tensor::detach));
        let has_bias = bias.is_some();
        let out = record(out, &inputs, move |g, needs| {
            let (need_w, need_b) = (w.is_some() && needs[1], has_bias && needs[needs.len() - 1]);
            let (xs, gs) = (x.f32_contig(op)?, g.f32_contig(op)?);
            let ws = w.as_ref().map(|w| w.f32_contig(op)).transpose()?;
            let mut dx = vec![0f32; rows * dim];
            let mut dw = need_w.then(|| vec![0f32; dim]);
            let mut db = need_b.then(|| vec![0f32; dim]);
            if rows * dim > 0 {
                layernorm_bwd(
                    rows,
                    dim,
                    &xs,
                    ws.as_deref(),
                    &mean,
                    &rstd,
                    &gs,
                    &mut dx,
                    dw.as_deref_mut(),
                    db.as_deref_mut(),
                );
            }
            let param = |v: Option<Vec<f32>>| v.map(|v| Tensor::from_f32(v, [dim], x.dtype()));
            let mut grads = vec![grad_if(needs[0], || {
                Ok(Tensor::from_f32(dx, x.shape().clone(), x.dtype()))
            })?];
            if w.is_some() {
                grads.push(param(dw));
            }
            if has_bias {
                grads.push(param(db));
            }
            Ok(grads)
        });
        Ok((out, mean_t, rstd_t))
    }
}

/// The device path: layernorm.cu forward, and a backward that keeps mean and rstd on the device.
fn layer_norm_cuda(
    input: &Tensor,
    x: &Tensor,
    weight: Option<&Tensor>,
    bias: Option<&Tensor>,
    eps: f32,
    (rows, dim): (usize, usize),
) -> Result<(Tensor, Tensor, Tensor)> {
    let row_shape = Shape::from(&input.dims()[..input.rank() - 1]);
    let (out, mean, rstd) =
        crate::cuda::layer_norm_fwd(x, weight, bias, eps, (rows, dim), row_shape)?;
    let mut inputs = vec![input];
    inputs.extend(weight);
    inputs.extend(bias);
    if !tracking(&inputs) {
        return Ok((out, mean, rstd));
    }
    let (x, w) = (x.detach(), weight.map(Tensor::detach));
    let (m, r) = (mean.detach(), rstd.detach());
    let has_bias = bias.is_some();
    let out = record(out, &inputs, move |g, needs| {
        let need = (w.is_some() && needs[1], has_bias && needs[needs.len() - 1]);
        let (dx, dw, db) =
            crate::cuda::layer_norm_bwd(&x, w.as_ref(), &m, &r, g, need, (rows, dim))?;
        let mut grads = vec![needs[0].then_some(dx)];
        if w.is_some() {
            grads.push(dw);
        }
        if has_bias {
            grads.push(db);
        }
        Ok(grads)
    });
    Ok((out, mean, rstd))
}

#[cfg(test)]
mod tests {
    use crate::ops::check::{check, check_grad, rand, rand_in};
    use crate::Error;

    fn ln_ref(v: &[Vec<f64>], dim: usize, eps: f64) -> Vec<f64> {
        let mut out = Vec::new();
        for row in v[0].chunks(dim) {
            let mean = row.iter().sum::<f64>() / dim as f64;
            let var = row.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / dim as f64;
            for (i, x) in row.iter().enumerate() {
                let (w, b) = (
                    v.get(1).map_or(1.0, |w| w[i]),
                    v.get(2).map_or(0.0, |b| b[i]),
                );
                out.push((x - mean) / (var + eps).sqrt() * w + b);
            }
        }
        out
    }

    #[test]
    fn layernorm_plain_and_affine() {
        let x = [rand(&[3, 7], 1), rand_in(&[7], 0.5, 1.5, 2), rand(&[7], 3)];
        check(
            &x[..1],
            |t| t[0].layer_norm(None, None, 1e-5),
            |v| ln_ref(v, 7, 1e-5),
        );
        check(
            &x,
            |t| t[0].layer_norm(Some(&t[1]), Some(&t[2]), 1e-6),
            |v| ln_ref(v, 7, 1e-6),
        );
        // weight without bias, and a non-contiguous input
        check_grad(&x[..2], |t| t[0].layer_norm(Some(&t[1]), None, 1e-6));
        check_grad(&[rand(&[7, 3], 4)], |t| {
            t[0].t()?.layer_norm(None, None, 1e-5)
        });
    }

    #[test]
    fn layernorm_errors() {
        let x = rand(&[3, 7], 1);
        let w = rand(&[6], 2);
        assert!(matches!(
            x.layer_norm(Some(&w), None, 1e-5),
            Err(Error::ShapeMismatch { .. })
        ));
        assert!(matches!(
            x.layer_norm(None, None, f32::NAN),
            Err(Error::InvalidArgument { .. })
        ));
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(24))]
        #[test]
        fn random_shapes_match_reference(rows in 1usize..5, dim in 3usize..20, affine in proptest::prelude::any::<bool>()) {
            let seed = (rows * 100 + dim) as u64;
            // Spread ±4 keeps the row std well above the FD step: a near-constant row makes
            // x̂ nearly discontinuous and the finite difference meaningless, not the gradient.
            let x = [rand(&[rows, dim], seed).mul_scalar(4.0).unwrap(), rand_in(&[dim], 0.5, 1.5, seed + 1), rand(&[dim], seed + 2)];
            if affine {
                check(&x, |t| t[0].layer_norm(Some(&t[1]), Some(&t[2]), 1e-5), |v| ln_ref(v, dim, 1e-5));
            } else {
                check(&x[..1], |t| t[0].layer_norm(None, None, 1e-5), |v| ln_ref(v, dim, 1e-5));
            }
        }
    }
}
