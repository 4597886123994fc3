//! Concatenation along a dim (copies into one new buffer; any dtype). Backward narrows.

use crate::autograd::record;
use crate::layout::Layout;
use crate::storage::{CpuStorage, CudaStorage};
use crate::{Error, Result, Shape, Tensor};

impl Tensor {
    /// Joins `tensors` along `dim`; all other dims, the dtype and the device must agree.
    pub fn cat(tensors: &[&Tensor], dim: usize) -> Result<Tensor> {
        let op = "cat";
        let Some(first) = tensors.first() else {
            let msg = "needs at least one tensor".into();
            return Err(Error::InvalidArgument {
                op,
                shape: Shape::from(()),
                msg,
            });
        };
        if dim >= first.rank() {
            return Err(Error::DimOutOfRange {
                op,
                dim,
                rank: first.rank(),
            });
        }
        let mut dims = first.dims().to_vec();
        dims[dim] = 0;
        for t in tensors {
            first.device().same(op, t.device())?;
            if t.dtype() != first.dtype() {
                return Err(Error::DTypeMismatch {
                    op,
                    expected: first.dtype(),
                    got: t.dtype(),
                });
            }
            let fits = t.rank() == first.rank()
                && t.dims()
                    .iter()
                    .zip(first.dims())
                    .enumerate()
                    .all(|(i, (a, b))| i == dim || a == b);
            if !fits {
                return Err(Error::ShapeMismatch {
                    op,
                    lhs: first.shape().clone(),
                    rhs: t.shape().clone(),
                });
            }
            dims[dim] += t.dims()[dim];
        }
        let shape = Shape::from(dims);
        let full = Layout::contiguous(shape.clone());
        let mut spans = Vec::with_capacity(tensors.len());
        let mut offset = 0;
        for t in tensors {
            let len = t.dims()[dim];
            spans.push((offset, full.narrow(op, dim, offset, len)?));
            offset += len;
        }
        let out = if first.device().is_cuda() {
            let rt = crate::cuda::runtime(op, first.device())?;
            let mut out = CudaStorage::zeros(rt, first.dtype(), shape.elem_count(), op)?;
            for (t, (_, dst)) in tensors.iter().zip(&spans) {
                let src = crate::cuda::dev_storage(t, op)?;
                crate::cuda::copy_into(&src, t.layout(), &mut out, dst, op)?;
            }
            Tensor::from_cuda(out, shape)
        } else {
            let mut out = CpuStorage::zeros(first.dtype(), shape.elem_count());
            for (t, (_, dst)) in tensors.iter().zip(&spans) {
                t.read().as_cpu(op)?.copy_into(t.layout(), &mut out, dst)?;
            }
            Tensor::from_cpu(out, shape)
        };
        let spans: Vec<(usize, usize)> = spans
            .iter()
            .map(|(start, l)| (*start, l.dims()[dim]))
            .collect();
        Ok(record(out, tensors, move |g, needs| {
            let mut grads = Vec::with_capacity(spans.len());
            for (&(start, len), &need) in spans.iter().zip(needs) {
                grads.push(super::grad_if(need, || g.narrow(dim, start, len))?);
            }
            Ok(grads)
        }))
    }

    /// Stacks equally shaped tensors along a new dim `dim`.
    pub fn stack(tensors: &[&Tensor], dim: usize) -> Result<Tensor> {
        let parts = tensors
            .iter()
            .map(|t| t.unsqueeze(dim))
            .collect::<Result<Vec<_>>>()?;
        Tensor::cat(&parts.iter().collect::<Vec<_>>(), dim)
    }
}

#[cfg(test)]
mod tests {
    use crate::ops::check::{check_grad, rand};
    use crate::{Device, Error, Tensor};

    #[test]
    fn cat_values_and_grad() {
        let a = Tensor::from_vec(vec![1f32, 2., 3., 4.], [2, 2], Device::Cpu).unwrap();
        let b = Tensor::from_vec(vec![5f32, 6.], [2, 1], Device::Cpu).unwrap();
        let c = Tensor::cat(&[&a, &b], 1).unwrap();
        assert_eq!(c.to_vec::<f32>().unwrap(), vec![1., 2., 5., 3., 4., 6.]);
        check_grad(
            &[rand(&[2, 3], 1), rand(&[2, 1], 2), rand(&[2, 2], 3)],
            |x| Tensor::cat(&[&x[0], &x[1], &x[2].t()?], 1),
        );
        check_grad(&[rand(&[3, 2, 2], 4)], |x| {
            Tensor::stack(
                &[
                    &x[0],
                    &x[0]
                        .narrow(0, 1, 2)?
                        .sum_dims(&[0], true)?
                        .broadcast_as([3, 2, 2])?,
                ],
                0,
            )
        });
    }

    #[test]
    fn cat_errors() {
        let a = rand(&[2, 2], 1);
        let b = rand(&[3, 3], 2);
        assert!(matches!(
            Tensor::cat(&[&a, &b], 0),
            Err(Error::ShapeMismatch { op: "cat", .. })
        ));
        assert!(matches!(
            Tensor::cat(&[&a], 2),
            Err(Error::DimOutOfRange { .. })
        ));
        assert!(matches!(
            Tensor::cat(&[], 0),
            Err(Error::InvalidArgument { .. })
        ));
        let i = Tensor::from_vec(vec![1i64, 2, 3, 4], [2, 2], Device::Cpu).unwrap();
        assert!(matches!(
            Tensor::cat(&[&a, &i], 0),
            Err(Error::DTypeMismatch { .. })
        ));
        let ii = Tensor::cat(&[&i, &i], 0).unwrap();
        assert_eq!(ii.to_vec::<i64>().unwrap(), vec![1, 2, 3, 4, 1, 2, 3, 4]);
    }
}
