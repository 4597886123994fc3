//! Elementwise unary ops and scalar affine maps. Each op declares which values its derivative
//! needs (input, output or neither), and its backward captures only those.

use crate::autograd::{record, tracking};
use crate::{Result, Tensor};
use jepa_kernels::cuda::launch::UnaryOp;

#[derive(Clone, Copy)]
enum Unary {
    Sqr,
    Sqrt,
    Exp,
    Log,
    Relu,
    Abs,
    Tanh,
    Powf(f32),
}

impl Unary {
    fn name(self) -> &'static str {
        match self {
            Unary::Sqr => "sqr",
            Unary::Sqrt => "sqrt",
            Unary::Exp => "exp",
            Unary::Log => "log",
            Unary::Relu => "relu",
            Unary::Abs => "abs",
            Unary::Tanh => "tanh",
            Unary::Powf(_) => "powf",
        }
    }
    fn f(self, x: f32) -> f32 {
        match self {
            Unary::Sqr => x * x,
            Unary::Sqrt => x.sqrt(),
            Unary::Exp => x.exp(),
            Unary::Log => x.ln(),
            Unary::Relu => x.max(0.0),
            Unary::Abs => x.abs(),
            Unary::Tanh => x.tanh(),
            Unary::Powf(p) => x.powf(p),
        }
    }
    /// The device kernel's op (same definitions, kinks included).
    fn kernel_op(self) -> UnaryOp {
        match self {
            Unary::Sqr => UnaryOp::Sqr,
            Unary::Sqrt => UnaryOp::Sqrt,
            Unary::Exp => UnaryOp::Exp,
            Unary::Log => UnaryOp::Log,
            Unary::Relu => UnaryOp::Relu,
            Unary::Abs => UnaryOp::Abs,
            Unary::Tanh => UnaryOp::Tanh,
            Unary::Powf(p) => UnaryOp::Powf(p),
        }
    }
    /// True when the derivative is cheaper from the output y than from the input x.
    fn uses_output(self) -> bool {
        matches!(self, Unary::Sqrt | Unary::Exp | Unary::Tanh)
    }
    /// dy/dx given x (or y when [`Unary::uses_output`]).
    fn df(self, v: f32) -> f32 {
        match self {
            Unary::Sqr => 2.0 * v,
            Unary::Sqrt => 0.5 / v,
            Unary::Exp => v,
            Unary::Log => 1.0 / v,
            Unary::Relu => (v > 0.0) as u8 as f32,
            Unary::Abs => v.signum() * (v != 0.0) as u8 as f32,
            Unary::Tanh => 1.0 - v * v,
            Unary::Powf(p) => p * v.powf(p - 1.0),
        }
    }
}

impl Tensor {
    /// `x²`.
    pub fn sqr(&self) -> Result<Tensor> {
        unary(self, Unary::Sqr)
    }
    /// `√x`.
    pub fn sqrt(&self) -> Result<Tensor> {
        unary(self, Unary::Sqrt)
    }
    /// `eˣ`.
    pub fn exp(&self) -> Result<Tensor> {
        unary(self, Unary::Exp)
    }
    /// Natural log.
    pub fn log(&self) -> Result<Tensor> {
        unary(self, Unary::Log)
    }
    /// `max(x, 0)` (gradient 0 at 0).
    pub fn relu(&self) -> Result<Tensor> {
        unary(self, Unary::Relu)
    }
    /// `|x|` (gradient 0 at 0).
    pub fn abs(&self) -> Result<Tensor> {
        unary(self, Unary::Abs)
    }
    /// `tanh x`.
    pub fn tanh(&self) -> Result<Tensor> {
        unary(self, Unary::Tanh)
    }
    /// `xᵖ`.
    pub fn powf(&self, p: f32) -> Result<Tensor> {
        unary(self, Unary::Powf(p))
    }
    /// `x·mul + add`; backward scales by `mul`.
    pub fn affine(&self, mul: f32, add: f32) -> Result<Tensor> {
        self.expect_float("affine")?;
        let out = if self.device().is_cuda() {
            crate::cuda::unary_fwd(self, UnaryOp::Affine { mul, add }, "affine")?
        } else {
            let v = self
                .f32_contig("affine")?
                .iter()
                .map(|&x| x * mul + add)
                .collect();
            Tensor::from_f32(v, self.shape().clone(), self.dtype())
        };
        Ok(record(out, &[self], move |g, _| {
            Ok(vec![Some(g.affine(mul, 0.0)?)])
        }))
    }
    /// `x·s`.
    pub fn mul_scalar(&self, s: f32) -> Result<Tensor> {
        self.affine(s, 0.0)
    }
    /// `x + s`.
    pub fn add_scalar(&self, s: f32) -> Result<Tensor> {
        self.affine(1.0, s)
    }
    /// `-x`.
    pub fn neg(&self) -> Result<Tensor> {
        self.affine(-1.0, 0.0)
    }
}

fn unary(x: &Tensor, op: Unary) -> Result<Tensor> {
    x.expect_float(op.name())?;
    let out = if x.device().is_cuda() {
        crate::cuda::unary_fwd(x, op.kernel_op(), op.name())?
    } else {
        let v: Vec<f32> = x.f32_contig(op.name())?.iter().map(|&v| op.f(v)).collect();
        Tensor::from_f32(v, x.shape().clone(), x.dtype())
    };
    if !tracking(&[x]) {
        return Ok(out);
    }
    let saved = if op.uses_output() {
        out.clone()
    } else {
        x.detach()
    };
    Ok(record(out, &[x], move |g, _| {
        if saved.device().is_cuda() {
            let dx = crate::cuda::unary_bwd(&saved, g, op.kernel_op(), op.name())?;
            return Ok(vec![Some(dx)]);
        }
        let (g32, s) = (g.f32_contig(op.name())?, saved.f32_contig(op.name())?);
        let dx = g32
            .iter()
            .zip(s.iter())
            .map(|(&g, &v)| g * op.df(v))
            .collect();
        Ok(vec![Some(Tensor::from_f32(
            dx,
            saved.shape().clone(),
            saved.dtype(),
        ))])
    }))
}

#[cfg(test)]
mod tests {
    use crate::ops::check::{check, rand, rand_in};

    fn map(v: &[Vec<f64>], f: impl Fn(f64) -> f64) -> Vec<f64> {
        v[0].iter().map(|&x| f(x)).collect()
    }

    #[test]
    fn unary_forward_and_grads() {
        let x = [rand(&[3, 5], 11)];
        let pos = [rand_in(&[3, 5], 0.25, 2.0, 12)];
        check(&x, |t| t[0].sqr(), |v| map(v, |x| x * x));
        check(&pos, |t| t[0].sqrt(), |v| map(v, f64::sqrt));
        check(&x, |t| t[0].exp(), |v| map(v, f64::exp));
        check(&pos, |t| t[0].log(), |v| map(v, f64::ln));
        check(&x, |t| t[0].tanh(), |v| map(v, f64::tanh));
        check(&pos, |t| t[0].powf(1.5), |v| map(v, |x| x.powf(1.5)));
        check(
            &x,
            |t| t[0].affine(-2.5, 0.75),
            |v| map(v, |x| -2.5 * x + 0.75),
        );
        check(&x, |t| t[0].neg(), |v| map(v, |x| -x));
    }

    #[test]
    fn kinked_ops_away_from_the_kink() {
        // Entries are multiples of 1/1024 kept >= 1/32 from zero, beyond the FD step.
        let x = rand(&[4, 6], 13);
        let v: Vec<f32> = x
            .to_vec_f32()
            .unwrap()
            .iter()
            .map(|&a| if a.abs() < 0.03125 { 0.5 } else { a })
            .collect();
        let x = [crate::Tensor::from_vec(v, [4, 6], crate::Device::Cpu).unwrap()];
        check(&x, |t| t[0].relu(), |v| map(v, |x| x.max(0.0)));
        check(&x, |t| t[0].abs(), |v| map(v, f64::abs));
    }
}
