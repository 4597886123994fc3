//! View ops: new layouts over the same storage (no data moves), each with its backward.
//! `contiguous`, and `reshape` of a non-contiguous tensor, are the only copies here.

use crate::autograd::record;
use crate::layout::Layout;
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
        let data = self
            .read()
            .as_cpu("contiguous")?
            .copy_strided(self.layout());
        let out = Tensor::from_cpu(data, self.shape().clone());
        Ok(record(out, &[self], |g, _| Ok(vec![Some(g.clone())])))
    }

    /// Converts the elements to `dtype` (floats round to nearest even); backward casts back.
    pub fn to_dtype(&self, dtype: DType) -> Result<Tensor> {
        if dtype == self.dtype() {
            return Ok(self.clone());
        }
        let data = self.read().as_cpu("to_dtype")?.cast(self.layout(), dtype);
        let out = Tensor::from_cpu(data, self.shape().clone());
        let src = self.dtype();
        if !src.is_float() || !dtype.is_float() {
            return Ok(out); // index casts carry no gradient
        }
        Ok(record(out, &[self], move |g, _| {
            Ok(vec![Some(g.to_dtype(src)?)])
        }))
    }

    /// A copy on `device` (CPU only for now; CUDA returns [`Error::DeviceUnavailable`]).
    pub fn to_device(&self, device: Device) -> Result<Tensor> {
        device.ensure_available("to_device")?;
        Ok(self.clone())
    }

    /// A deep copy with its own storage (contiguous, untracked).
    pub fn copy(&self) -> Result<Tensor> {
        let data = self.read().as_cpu("copy")?.copy_strided(self.layout());
        Ok(Tensor::from_cpu(data, self.shape().clone()))
    }
}
