//! Softmax along a dim. The kernel works on the last dim; other dims go through a transpose
//! view. Backward needs only the output.

use crate::autograd::record;
use crate::{Result, Tensor};
use jepa_kernels::cpu::softmax::{softmax_bwd, softmax_fwd};

impl Tensor {
    /// `exp(x) / Σ exp(x)` along `dim`.
    pub fn softmax(&self, dim: usize) -> Result<Tensor> {
        let op = "softmax";
        self.expect_float(op)?;
        let last = self.shape().dim(op, dim).map(|_| self.rank() - 1)?;
        if dim != last {
            return self
                .transpose(dim, last)?
                .softmax(last)?
                .transpose(dim, last);
        }
        let d = self.dims()[last];
        let rows: usize = self.dims()[..last].iter().product();
        if self.device().is_cuda() {
            let out = crate::cuda::softmax(self, None, (rows, d))?;
            let y = out.detach();
            return Ok(record(out, &[self], move |g, _| {
                Ok(vec![Some(crate::cuda::softmax(&y, Some(g), (rows, d))?)])
            }));
        }
        let mut out = vec![0f32; self.elem_count()];
        if !out.is_empty() {
            softmax_fwd(rows, d, &self.f32_contig(op)?, &mut out);
        }
        let out = Tensor::from_f32(out, self.shape().clone(), self.dtype());
        let y = out.clone();
        Ok(record(out, &[self], move |g, _| {
            let mut dx = vec![0f32; y.elem_count()];
            if !dx.is_empty() {
                softmax_bwd(rows, d, &y.f32_contig(op)?, &g.f32_contig(op)?, &mut dx);
            }
            Ok(vec![Some(Tensor::from_f32(
                dx,
                y.shape().clone(),
                y.dtype(),
            ))])
        }))
    }
}

#[cfg(test)]
mod tests {
    use crate::ops::check::{check, rand};

    #[test]
    fn softmax_last_and_inner_dim() {
        let x = [rand(&[3, 5], 1).mul_scalar(3.0).unwrap()];
        check(
            &x,
            |t| t[0].softmax(1),
            |v| {
                v[0].chunks(5)
                    .flat_map(|r| {
                        let s: f64 = r.iter().map(|x| x.exp()).sum();
                        r.iter().map(move |x| x.exp() / s).collect::<Vec<_>>()
                    })
                    .collect()
            },
        );
        check(
            &x,
            |t| t[0].softmax(0),
            |v| {
                (0..15)
                    .map(|i| v[0][i].exp() / (0..3).map(|r| v[0][r * 5 + i % 5].exp()).sum::<f64>())
                    .collect()
            },
        );
        assert!(x[0].softmax(2).is_err());
    }
}
