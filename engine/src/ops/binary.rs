//! Elementwise add / sub / mul / div with NumPy broadcasting. Operands are read through their
//! (broadcast) layouts, so a `[d]` bias or a transposed view is never materialised. Backward
//! reduces each gradient to its operand's shape with `sum_to`.

use super::grad_if;
use crate::autograd::{record, tracking};
use crate::layout::{for_each_row, Layout};
use crate::{Result, Shape, Tensor};
use jepa_kernels::cuda::launch::meta::BinaryOp;

#[derive(Clone, Copy)]
enum BinOp {
    Add,
    Sub,
    Mul,
    Div,
}

impl BinOp {
    fn name(self) -> &'static str {
        match self {
            BinOp::Add => "add",
            BinOp::Sub => "sub",
            BinOp::Mul => "mul",
            BinOp::Div => "div",
        }
    }
    fn kernel_op(self) -> BinaryOp {
        match self {
            BinOp::Add => BinaryOp::Add,
            BinOp::Sub => BinaryOp::Sub,
            BinOp::Mul => BinaryOp::Mul,
            BinOp::Div => BinaryOp::Div,
        }
    }
}

impl Tensor {
    /// `self + rhs` (broadcasting).
    pub fn add(&self, rhs: &Tensor) -> Result<Tensor> {
        binary(self, rhs, BinOp::Add)
    }
    /// `self - rhs` (broadcasting).
    pub fn sub(&self, rhs: &Tensor) -> Result<Tensor> {
        binary(self, rhs, BinOp::Sub)
    }
    /// `self * rhs` elementwise (broadcasting).
    pub fn mul(&self, rhs: &Tensor) -> Result<Tensor> {
        binary(self, rhs, BinOp::Mul)
    }
    /// `self / rhs` elementwise (broadcasting).
    pub fn div(&self, rhs: &Tensor) -> Result<Tensor> {
        binary(self, rhs, BinOp::Div)
    }
}

fn binary(lhs: &Tensor, rhs: &Tensor, op: BinOp) -> Result<Tensor> {
    let name = op.name();
    lhs.same_kind(name, rhs)?;
    lhs.expect_float(name)?;
    let shape = lhs.shape().broadcast_with(name, rhs.shape())?;
    let out = if lhs.device().is_cuda() {
        crate::cuda::binary(lhs, rhs, &shape, op.kernel_op(), name)?
    } else {
        let v = match op {
            BinOp::Add => forward(lhs, rhs, &shape, name, |a, b| a + b)?,
            BinOp::Sub => forward(lhs, rhs, &shape, name, |a, b| a - b)?,
            BinOp::Mul => forward(lhs, rhs, &shape, name, |a, b| a * b)?,
            BinOp::Div => forward(lhs, rhs, &shape, name, |a, b| a / b)?,
        };
        Tensor::from_f32(v, shape, lhs.dtype())
    };
    if !tracking(&[lhs, rhs]) {
        return Ok(out);
    }
    let (ls, rs) = (lhs.shape().clone(), rhs.shape().clone());
    let inputs = [lhs, rhs];
    // Only mul and div capture operand values; add and sub keep shapes alone.
    Ok(match op {
        BinOp::Add => record(out, &inputs, move |g, needs| {
            Ok(vec![
                grad_if(needs[0], || g.sum_to(&ls))?,
                grad_if(needs[1], || g.sum_to(&rs))?,
            ])
        }),
        BinOp::Sub => record(out, &inputs, move |g, needs| {
            Ok(vec![
                grad_if(needs[0], || g.sum_to(&ls))?,
                grad_if(needs[1], || g.neg()?.sum_to(&rs))?,
            ])
        }),
        BinOp::Mul => {
            let (a, b) = (lhs.detach(), rhs.detach());
            record(out, &inputs, move |g, needs| {
                let da = grad_if(needs[0], || g.mul(&b)?.sum_to(&ls))?;
                Ok(vec![da, grad_if(needs[1], || g.mul(&a)?.sum_to(&rs))?])
            })
        }
        BinOp::Div => {
            let (a, b) = (lhs.detach(), rhs.detach());
            record(out, &inputs, move |g, needs| {
                let da = grad_if(needs[0], || g.div(&b)?.sum_to(&ls))?;
                // d(a/b)/db = -a/b²
                let db = grad_if(needs[1], || g.mul(&a)?.div(&b.sqr()?)?.neg()?.sum_to(&rs))?;
                Ok(vec![da, db])
            })
        }
    })
}

/// `f` over the broadcast of both operands, row by row with the inner loop specialised on the
/// innermost strides (both contiguous, one a broadcast scalar, or general).
fn forward(
    lhs: &Tensor,
    rhs: &Tensor,
    shape: &Shape,
    name: &'static str,
    f: impl Fn(f32, f32) -> f32,
) -> Result<Vec<f32>> {
    let (lb, ll) = lhs.f32_strided(name)?;
    let (rb, rl) = rhs.f32_strided(name)?;
    let ll: Layout = ll.broadcast_as(name, shape)?;
    let rl: Layout = rl.broadcast_as(name, shape)?;
    let n = shape.elem_count();
    if ll.is_contiguous() && rl.is_contiguous() {
        let (a, b) = (&lb[ll.start_offset()..][..n], &rb[rl.start_offset()..][..n]);
        return Ok(a.iter().zip(b).map(|(&a, &b)| f(a, b)).collect());
    }
    let mut out = Vec::with_capacity(n);
    let ((len, sa), (_, sb)) = (ll.row(), rl.row());
    for_each_row([&ll, &rl], |[oa, ob]| match (sa, sb) {
        (1, 1) => out.extend(
            lb[oa..oa + len]
                .iter()
                .zip(&rb[ob..ob + len])
                .map(|(&a, &b)| f(a, b)),
        ),
        (1, 0) => out.extend(lb[oa..oa + len].iter().map(|&a| f(a, rb[ob]))),
        (0, 1) => out.extend(rb[ob..ob + len].iter().map(|&b| f(lb[oa], b))),
        _ => out.extend((0..len).map(|i| f(lb[oa + i * sa], rb[ob + i * sb]))),
    });
    Ok(out)
}

#[cfg(test)]
mod tests {
    use crate::ops::check::{check, rand, rand_in};
    use crate::{Device, Error, Tensor};
    use proptest::prelude::*;

    /// Reference: broadcast `a` ([r, c]) with `b` ([c]) as f64.
    fn bcast(v: &[Vec<f64>], f: impl Fn(f64, f64) -> f64) -> Vec<f64> {
        let c = v[1].len();
        v[0].iter()
            .enumerate()
            .map(|(i, &a)| f(a, v[1][i % c]))
            .collect()
    }

    #[test]
    fn broadcast_ops_and_grads() {
        let (a, b) = (rand(&[3, 4], 1), rand_in(&[4], 0.5, 1.5, 2));
        let x = [a, b];
        check(&x, |t| t[0].add(&t[1]), |v| bcast(v, |a, b| a + b));
        check(&x, |t| t[0].sub(&t[1]), |v| bcast(v, |a, b| a - b));
        check(&x, |t| t[0].mul(&t[1]), |v| bcast(v, |a, b| a * b));
        check(&x, |t| t[0].div(&t[1]), |v| bcast(v, |a, b| a / b));
        // broadcasting on the left operand and a size-1 middle dim
        check(
            &[rand(&[4], 3), rand(&[2, 1, 4], 4)],
            |t| t[0].mul(&t[1]),
            |v| (0..8).map(|i| v[0][i % 4] * v[1][i]).collect(),
        );
    }

    #[test]
    fn transposed_operands_read_through_strides() {
        let a = rand(&[3, 5], 5);
        let b = rand(&[5, 3], 6);
        let want: Vec<f32> = {
            let (av, bv) = (a.to_vec_f32().unwrap(), b.to_vec_f32().unwrap());
            (0..15).map(|i| av[i] + bv[(i % 5) * 3 + i / 5]).collect()
        };
        assert_eq!(a.add(&b.t().unwrap()).unwrap().to_vec_f32().unwrap(), want);
        crate::ops::check::check_grad(&[a, b], |t| t[0].mul(&t[1].t()?));
    }

    #[test]
    fn errors_are_typed() {
        let (a, b) = (rand(&[2, 3], 1), rand(&[3, 2], 2));
        assert!(matches!(
            a.add(&b),
            Err(Error::ShapeMismatch { op: "add", .. })
        ));
        let i = Tensor::from_vec(vec![1i64; 6], [2, 3], Device::Cpu).unwrap();
        assert!(matches!(
            a.mul(&i),
            Err(Error::DTypeMismatch { op: "mul", .. })
        ));
        assert!(matches!(
            i.mul(&i),
            Err(Error::UnsupportedDType { op: "mul", .. })
        ));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(32))]
        #[test]
        fn broadcast_backward_reduces(r in 1usize..5, c in 1usize..6, lead in 1usize..3) {
            let x = [rand(&[lead, r, c], r as u64), rand(&[r, 1], c as u64)];
            crate::ops::check::check_grad(&x, |t| t[0].mul(&t[1]));
        }
    }
}
