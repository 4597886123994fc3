//! Sums and means over all elements or along dims (f64 accumulation), and `sum_to`, the
//! reduction every broadcasting backward uses.

use crate::autograd::record;
use crate::layout::{for_each_row, Layout};
use crate::{Error, Result, Shape, Tensor};

impl Tensor {
    /// Sum over `dims` (any order, no repeats); kept as size-1 dims when `keepdim`.
    pub fn sum_dims(&self, dims: &[usize], keepdim: bool) -> Result<Tensor> {
        let op = "sum_dims";
        self.expect_float(op)?;
        let mut kept = self.dims().to_vec();
        for &d in dims {
            if d >= self.rank() {
                return Err(Error::DimOutOfRange {
                    op,
                    dim: d,
                    rank: self.rank(),
                });
            }
            if kept[d] == usize::MAX {
                let msg = format!("dim {d} listed twice in {dims:?}");
                return Err(Error::InvalidArgument {
                    op,
                    shape: self.shape().clone(),
                    msg,
                });
            }
            kept[d] = usize::MAX;
        }
        let keep_shape: Shape = kept
            .iter()
            .map(|&d| if d == usize::MAX { 1 } else { d })
            .collect::<Vec<_>>()
            .into();
        let out_shape: Shape = if keepdim {
            keep_shape.clone()
        } else {
            kept.iter()
                .copied()
                .filter(|&d| d != usize::MAX)
                .collect::<Vec<_>>()
                .into()
        };
        let out = if self.device().is_cuda() {
            let reduce: Vec<bool> = kept.iter().map(|&d| d == usize::MAX).collect();
            crate::cuda::sum_dims(self, &reduce, keep_shape.clone())?.reshape(out_shape)?
        } else {
            Tensor::from_f32(sum_into(self, &keep_shape)?, out_shape, self.dtype())
        };
        let in_shape = self.shape().clone();
        Ok(record(out, &[self], move |g, _| {
            Ok(vec![Some(g.reshape(keep_shape)?.broadcast_as(in_shape)?)])
        }))
    }

    /// Mean over `dims`.
    pub fn mean_dims(&self, dims: &[usize], keepdim: bool) -> Result<Tensor> {
        let count: usize = dims
            .iter()
            .map(|&d| self.dims().get(d).copied().unwrap_or(1))
            .product();
        self.sum_dims(dims, keepdim)?
            .mul_scalar(1.0 / count.max(1) as f32)
    }

    /// Sum of all elements, as a rank-0 tensor.
    pub fn sum_all(&self) -> Result<Tensor> {
        let all: Vec<usize> = (0..self.rank()).collect();
        self.sum_dims(&all, false)
    }

    /// Mean of all elements, as a rank-0 tensor.
    pub fn mean_all(&self) -> Result<Tensor> {
        self.sum_all()?
            .mul_scalar(1.0 / self.elem_count().max(1) as f32)
    }

    /// Sums the broadcast copies away so that the result has `shape` (the adjoint of
    /// [`Tensor::broadcast_as`]).
    pub fn sum_to(&self, shape: &Shape) -> Result<Tensor> {
        if shape == self.shape() {
            return Ok(self.clone());
        }
        let mismatch = || Error::ShapeMismatch {
            op: "sum_to",
            lhs: self.shape().clone(),
            rhs: shape.clone(),
        };
        if shape.rank() > self.rank() {
            return Err(mismatch());
        }
        let lead = self.rank() - shape.rank();
        let mut dims: Vec<usize> = (0..lead).collect();
        for (i, (&t, &s)) in shape.dims().iter().zip(&self.dims()[lead..]).enumerate() {
            if t == 1 && s != 1 {
                dims.push(lead + i);
            } else if t != s {
                return Err(mismatch());
            }
        }
        self.sum_dims(&dims, true)?.reshape(shape.clone())
    }
}

/// Sums `x` into the row-major `keep` shape (reduced dims of size 1), accumulating in f64.
fn sum_into(x: &Tensor, keep: &Shape) -> Result<Vec<f32>> {
    let (buf, xl) = x.f32_strided("sum")?;
    // The output viewed with stride 0 along reduced dims walks in lockstep with the input.
    let ol: Layout = Layout::contiguous(keep.clone()).broadcast_as("sum", x.shape())?;
    let mut acc = vec![0f64; keep.elem_count()];
    let ((len, xs), (_, os)) = (xl.row(), ol.row());
    for_each_row([&xl, &ol], |[xo, oo]| {
        if os == 0 {
            acc[oo] += (0..len).map(|i| buf[xo + i * xs] as f64).sum::<f64>();
        } else {
            for i in 0..len {
                acc[oo + i] += buf[xo + i * xs] as f64;
            }
        }
    });
    Ok(acc.into_iter().map(|v| v as f32).collect())
}

#[cfg(test)]
mod tests {
    use crate::ops::check::{check, check_grad, rand};
    use crate::{Error, Shape};

    #[test]
    fn sums_and_means() {
        let x = [rand(&[2, 3, 4], 21)];
        check(&x, |t| t[0].sum_all(), |v| vec![v[0].iter().sum()]);
        check(
            &x,
            |t| t[0].mean_all(),
            |v| vec![v[0].iter().sum::<f64>() / 24.0],
        );
        check(
            &x,
            |t| t[0].sum_dims(&[1], false),
            |v| {
                (0..8)
                    .map(|o| (0..3).map(|j| v[0][(o / 4) * 12 + j * 4 + o % 4]).sum())
                    .collect()
            },
        );
        check(
            &x,
            |t| t[0].mean_dims(&[2, 0], true),
            |v| {
                (0..3)
                    .map(|j| {
                        (0..8)
                            .map(|o| v[0][(o / 4) * 12 + j * 4 + o % 4])
                            .sum::<f64>()
                            / 8.0
                    })
                    .collect()
            },
        );
    }

    #[test]
    fn sum_of_views() {
        let x = [rand(&[3, 4], 22)];
        check_grad(&x, |t| t[0].t()?.sum_dims(&[1], false));
        check_grad(&x, |t| t[0].narrow(1, 1, 2)?.sum_to(&Shape::from([1, 2])));
        let s = x[0]
            .t()
            .unwrap()
            .sum_dims(&[0], false)
            .unwrap()
            .to_vec_f32()
            .unwrap();
        let v = x[0].to_vec_f32().unwrap();
        for (r, got) in s.iter().enumerate() {
            let want: f32 = v[r * 4..r * 4 + 4].iter().sum();
            assert!((got - want).abs() < 1e-6);
        }
    }

    #[test]
    fn bad_dims() {
        let x = rand(&[2, 3], 1);
        assert!(matches!(
            x.sum_dims(&[2], false),
            Err(Error::DimOutOfRange { .. })
        ));
        assert!(matches!(
            x.sum_dims(&[1, 1], false),
            Err(Error::InvalidArgument { .. })
        ));
        assert!(matches!(
            x.sum_to(&Shape::from([2])),
            Err(Error::ShapeMismatch { .. })
        ));
        assert_eq!(x.sum_to(&Shape::from([3])).unwrap().dims(), &[3]);
    }
}
