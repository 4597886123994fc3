//! View ops: new layouts over the same storage (no data moves), each with its backward.
//! `contiguous`, and `reshape` of a non-contiguous tensor, are the only copies here.

use crate::autograd::record;
use crate::layout::Layout;
use crate::storage::{CudaStorage, Storage};
use crate::{DType, Device, Error, Result, Shape, Tensor};

impl Tensor {
    /// Same elements in a new shape (equal element count). Free when contiguous.
    pub fn reshape(&self, shape: impl Into<Shape>) -> Result<Tensor> {
        let shape = shape.into();
        if shape.elem_count() != self.elem_count() {
            return Err(Error::ElementCountMismatch {
                op: "reshape",
                from: self.shape().clone(),
                to: shape,
            });
        }
        let src = self.contiguous()?;
        let stride = shape.stride_contiguous();
        let out = src.view_with(Layout::new(shape, stride, src.layout().start_offset()));
        let orig = self.shape().clone();
        Ok(record(out, &[self], move |g, _| {
            Ok(vec![Some(g.reshape(orig)?)])
        }))
    }

    /// Swaps dims `d0` and `d1` (a view).
    pub fn transpose(&self, d0: usize, d1: usize) -> Result<Tensor> {
        let out = self.view_with(self.layout().transpose("transpose", d0, d1)?);
        Ok(record(out, &[self], move |g, _| {
            Ok(vec![Some(g.transpose(d0, d1)?)])
        }))
    }

    /// Transpose of the last two dims (a view; `matmul` reads it without copying).
    pub fn t(&self) -> Result<Tensor> {
        self.shape().expect_min_rank("t", 2)?;
        self.transpose(self.rank() - 2, self.rank() - 1)
    }

    /// Reorders dims: output dim `i` is input dim `perm[i]` (a view).
    pub fn permute(&self, perm: &[usize]) -> Result<Tensor> {
        let out = self.view_with(self.layout().permute("permute", perm)?);
        let mut inverse = vec![0; perm.len()];
        for (i, &p) in perm.iter().enumerate() {
            inverse[p] = i;
        }
        Ok(record(out, &[self], move |g, _| {
            Ok(vec![Some(g.permute(&inverse)?)])
        }))
    }

    /// Entries `start..start + len` of dim `dim` (a view).
    pub fn narrow(&self, dim: usize, start: usize, len: usize) -> Result<Tensor> {
        let out = self.view_with(self.layout().narrow("narrow", dim, start, len)?);
        let full = self.dims()[dim];
        Ok(record(out, &[self], move |g, _| {
            // Zero-pad the gradient back to the full extent of `dim`.
            let pad = |n: usize| {
                let mut dims = g.dims().to_vec();
                dims[dim] = n;
                Tensor::zeros(dims, g.dtype(), g.device())
            };
            let mut parts = Vec::with_capacity(3);
            if start > 0 {
                parts.push(pad(start)?);
            }
            parts.push(g.clone());
            let after = full - start - len;
            if after > 0 {
                parts.push(pad(after)?);
            }
            let refs: Vec<&Tensor> = parts.iter().collect();
            Ok(vec![Some(Tensor::cat(&refs, dim)?)])
        }))
    }

    /// Broadcasts to `shape` (NumPy rules) as a stride-0 view; backward sums the copies.
    pub fn broadcast_as(&self, shape: impl Into<Shape>) -> Result<Tensor> {
        let shape = shape.into();
        if &shape == self.shape() {
            return Ok(self.clone());
        }
        let out = self.view_with(self.layout().broadcast_as("broadcast_as", &shape)?);
        let orig = self.shape().clone();
        Ok(record(out, &[self], move |g, _| {
            Ok(vec![Some(g.sum_to(&orig)?)])
        }))
    }

    /// Alias of [`Tensor::broadcast_as`] (PyTorch's `expand`).
    pub fn expand(&self, shape: impl Into<Shape>) -> Result<Tensor> {
        self.broadcast_as(shape)
    }

    /// Inserts a size-1 dim at `dim` (0..=rank).
    pub fn unsqueeze(&self, dim: usize) -> Result<Tensor> {
        if dim > self.rank() {
            return Err(Error::DimOutOfRange {
                op: "unsqueeze",
                dim,
                rank: self.rank(),
            });
        }
        let mut dims = self.dims().to_vec();
        dims.insert(dim, 1);
        self.reshape(dims)
    }

    /// Removes dim `dim`, which must have size 1.
    pub fn squeeze(&self, dim: usize) -> Result<Tensor> {
        if self.dim(dim)? != 1 {
            let msg = format!("dim {dim} has size {}, not 1", self.dims()[dim]);
            return Err(Error::InvalidArgument {
                op: "squeeze",
                shape: self.shape().clone(),
                msg,
            });
        }
        let mut dims = self.dims().to_vec();
        dims.remove(dim);
        self.reshape(dims)
    }

    /// Merges dims `start..=end` into one.
    pub fn flatten(&self, start: usize, end: usize) -> Result<Tensor> {
        if start > end || end >= self.rank() {
            let msg = format!("cannot flatten dims {start}..={end}");
            return Err(Error::InvalidArgument {
                op: "flatten",
                shape: self.shape().clone(),
                msg,
            });
        }
        let d = self.dims();
        let mut dims = d[..start].to_vec();
        dims.push(d[start..=end].iter().product());
        dims.extend_from_slice(&d[end + 1..]);
        self.reshape(dims)
    }

    /// A row-major copy when the layout is not already contiguous (else `self`).
    pub fn contiguous(&self) -> Result<Tensor> {
        if self.is_contiguous() {
            return Ok(self.clone());
        }
        let out = self.dense_copy("contiguous")?;
        Ok(record(out, &[self], |g, _| Ok(vec![Some(g.clone())])))
    }

    /// A contiguous copy with its own storage on the same device (untracked).
    fn dense_copy(&self, op: &'static str) -> Result<Tensor> {
        let shape = self.shape().clone();
        Ok(match &*self.read() {
            Storage::Cpu(c) => Tensor::from_cpu(c.copy_strided(self.layout()), shape),
            Storage::Cuda(c) => {
                Tensor::from_cuda(crate::cuda::copy_layout(c, self.layout(), op)?, shape)
            }
        })
    }

    /// Converts the elements to `dtype` (floats round to nearest even); backward casts back.
    pub fn to_dtype(&self, dtype: DType) -> Result<Tensor> {
        if dtype == self.dtype() {
            return Ok(self.clone());
        }
        let (shape, op) = (self.shape().clone(), "to_dtype");
        let out = match &*self.read() {
            Storage::Cpu(c) => Tensor::from_cpu(c.cast(self.layout(), dtype), shape),
            Storage::Cuda(c) => {
                Tensor::from_cuda(crate::cuda::cast(c, self.layout(), dtype, op)?, shape)
            }
        };
        let src = self.dtype();
        if !src.is_float() || !dtype.is_float() {
            return Ok(out); // index casts carry no gradient
        }
        Ok(record(out, &[self], move |g, _| {
            Ok(vec![Some(g.to_dtype(src)?)])
        }))
    }

    /// A copy on `device` (`self` when already there); backward copies the gradient back.
    /// Moving to CUDA where the probe failed is [`Error::DeviceUnavailable`].
    pub fn to_device(&self, device: Device) -> Result<Tensor> {
        const OP: &str = "to_device";
        device.ensure_available(OP)?;
        let src = self.device();
        if device == src {
            return Ok(self.clone());
        }
        let shape = self.shape().clone();
        let out = match &*self.read() {
            Storage::Cpu(c) => {
                let rt = crate::cuda::runtime(OP, device)?;
                Tensor::from_cuda(CudaStorage::from_host(rt, c, self.layout(), OP)?, shape)
            }
            Storage::Cuda(c) => Tensor::from_cpu(c.to_host(self.layout(), OP)?, shape),
        };
        Ok(record(out, &[self], move |g, _| {
            Ok(vec![Some(g.to_device(src)?)])
        }))
    }

    /// A deep copy with its own storage (contiguous, untracked).
    pub fn copy(&self) -> Result<Tensor> {
        self.dense_copy("copy")
    }
}

#[cfg(test)]
mod tests {
    use crate::ops::check::{check, check_grad, rand};
    use crate::{DType, Device, Error, Tensor};

    #[test]
    fn views_share_storage_and_backprop() {
        let x = rand(&[2, 3, 4], 1);
        let p = x.permute(&[2, 0, 1]).unwrap();
        assert!(p.same_storage(&x) && !p.is_contiguous());
        assert!(x.narrow(2, 1, 2).unwrap().same_storage(&x));
        assert!(x.reshape([6, 4]).unwrap().same_storage(&x));
        assert!(
            !p.reshape([24]).unwrap().same_storage(&x),
            "non-contiguous reshape copies"
        );
        let x = [x];
        check(
            &x,
            |t| t[0].permute(&[2, 0, 1])?.reshape([4, 6]),
            |v| (0..24).map(|o| v[0][(o % 6) * 4 + o / 6]).collect(),
        );
        check(
            &x,
            |t| t[0].narrow(1, 1, 2)?.contiguous(),
            |v| (0..16).map(|o| v[0][(o / 8) * 12 + 4 + o % 8]).collect(),
        );
        check_grad(&x, |t| {
            t[0].transpose(0, 2)?
                .flatten(1, 2)?
                .unsqueeze(0)?
                .squeeze(0)
        });
        check_grad(&[rand(&[3, 1], 2)], |t| t[0].expand([2, 3, 4]));
    }

    #[test]
    fn dtype_casts_round_and_backprop() {
        let x = Tensor::from_vec(vec![1.0f32, 1.0 + 1.0 / 512.0, -3.5], [3], Device::Cpu).unwrap();
        let b = x.to_dtype(DType::BF16).unwrap();
        assert_eq!(
            b.to_vec_f32().unwrap(),
            vec![1.0, 1.0, -3.5],
            "bf16 keeps 8 mantissa bits"
        );
        let i = Tensor::from_vec(vec![2i64, -1], [2], Device::Cpu).unwrap();
        assert_eq!(
            i.to_dtype(DType::F32).unwrap().to_vec_f32().unwrap(),
            vec![2.0, -1.0]
        );
        let leaf = x.requires_grad();
        let g = leaf
            .to_dtype(DType::F16)
            .unwrap()
            .sum_all()
            .unwrap()
            .backward()
            .unwrap();
        assert_eq!(g.get(&leaf).unwrap().dtype(), DType::F32);
    }

    #[test]
    fn view_errors_are_typed() {
        let x = rand(&[2, 3], 1);
        assert!(matches!(
            x.reshape([4, 2]),
            Err(Error::ElementCountMismatch { .. })
        ));
        assert!(matches!(
            x.transpose(0, 2),
            Err(Error::DimOutOfRange { .. })
        ));
        assert!(matches!(
            x.narrow(1, 2, 2),
            Err(Error::InvalidArgument { .. })
        ));
        assert!(matches!(
            x.broadcast_as([3, 3]),
            Err(Error::ShapeMismatch { .. })
        ));
        assert!(matches!(x.squeeze(0), Err(Error::InvalidArgument { .. })));
        assert!(matches!(x.unsqueeze(3), Err(Error::DimOutOfRange { .. })));
        assert!(matches!(
            x.flatten(1, 2),
            Err(Error::InvalidArgument { .. })
        ));
        assert!(matches!(rand(&[3], 1).t(), Err(Error::RankTooSmall { .. })));
    }

    #[test]
    fn cuda_without_a_gpu_is_a_typed_error() {
        // On a machine where the probe fails (no driver, no device), every way to put data on
        // CUDA is DeviceUnavailable; with a GPU the same calls succeed.
        let x = rand(&[2], 1);
        let moved = x.to_device(Device::Cuda(0));
        let z = Tensor::zeros([2], DType::F32, Device::Cuda(0));
        match jepa_kernels::cuda::probe() {
            Err(_) => {
                assert!(matches!(moved, Err(Error::DeviceUnavailable { .. })));
                assert!(matches!(
                    z,
                    Err(Error::DeviceUnavailable {
                        device: Device::Cuda(0),
                        ..
                    })
                ));
            }
            Ok(_) => {
                assert_eq!(moved.unwrap().device(), Device::Cuda(0));
                assert_eq!(z.unwrap().to_vec_f32().unwrap(), vec![0.0; 2]);
            }
        }
        assert!(matches!(
            Tensor::zeros([2], DType::F32, Device::Cuda(1)),
            Err(Error::DeviceUnavailable { .. })
        ));
    }
}

#[cfg(test)]
mod prop {
    use crate::ops::check::rand;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]
        /// A random permutation then narrow read through strides equals index arithmetic.
        #[test]
        fn permute_narrow_contiguous(d0 in 1usize..4, d1 in 1usize..5, d2 in 1usize..6, p in 0usize..6, s in 0usize..3) {
            let perms = [[0, 1, 2], [0, 2, 1], [1, 0, 2], [1, 2, 0], [2, 0, 1], [2, 1, 0]];
            let perm = perms[p];
            let dims = [d0, d1, d2];
            let x = rand(&dims, (d0 * 100 + d1 * 10 + d2) as u64);
            let v = x.to_vec_f32().unwrap();
            let y = x.permute(&perm).unwrap();
            let pd = [dims[perm[0]], dims[perm[1]], dims[perm[2]]];
            let start = s.min(pd[2] - 1);
            let z = y.narrow(2, start, pd[2] - start).unwrap().contiguous().unwrap();
            let got = z.to_vec_f32().unwrap();
            let mut i = 0;
            for a in 0..pd[0] {
                for b in 0..pd[1] {
                    for c in start..pd[2] {
                        let mut src = [0; 3];
                        src[perm[0]] = a;
                        src[perm[1]] = b;
                        src[perm[2]] = c;
                        prop_assert_eq!(got[i], v[(src[0] * d1 + src[1]) * d2 + src[2]]);
                        i += 1;
                    }
                }
            }
            prop_assert_eq!(i, got.len());
        }
    }
}
