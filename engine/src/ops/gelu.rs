//! GELU, erf form. Backward needs only the input.

use crate::autograd::record;
use crate::{Result, Tensor};
use jepa_kernels::cpu::gelu::{gelu_bwd, gelu_fwd};

impl Tensor {
    /// `0.5·x·(1 + erf(x/√2))` elementwise.
    pub fn gelu(&self) -> Result<Tensor> {
        self.expect_float("gelu")?;
        if self.device().is_cuda() {
            let out = crate::cuda::gelu(self, None)?;
            let x = self.detach();
            return Ok(record(out, &[self], move |g, _| {
                Ok(vec![Some(crate::cuda::gelu(&x, Some(g))?)])
            }));
        }
        let mut out = vec![0f32; self.elem_count()];
        gelu_fwd(&self.f32_contig("gelu")?, &mut out);
        let out = Tensor::from_f32(out, self.shape().clone(), self.dtype());
        let x = self.detach();
        Ok(record(out, &[self], move |g, _| {
            let mut dx = vec![0f32; x.elem_count()];
            gelu_bwd(&x.f32_contig("gelu")?, &g.f32_contig("gelu")?, &mut dx);
            Ok(vec![Some(Tensor::from_f32(
                dx,
                x.shape().clone(),
                x.dtype(),
            ))])
        }))
    }
}

#[cfg(test)]
mod tests {
    use crate::ops::check::{check, rand_in};

    /// erf by its Maclaurin series: exact to f64 rounding for |z| < 3.
    fn erf(z: f64) -> f64 {
        let (mut term, mut sum) = (z, z);
        for n in 1..80 {
            term *= -z * z / n as f64;
            sum += term / (2 * n + 1) as f64;
        }
        sum * 2.0 / std::f64::consts::PI.sqrt()
    }

    #[test]
    fn gelu_forward_and_grad() {
        let x = [rand_in(&[4, 9], -3.0, 3.0, 1)];
        check(
            &x,
            |t| t[0].gelu(),
            |v| {
                v[0].iter()
                    .map(|&x| 0.5 * x * (1.0 + erf(x / 2f64.sqrt())))
                    .collect()
            },
        );
    }
}
