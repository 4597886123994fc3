//! Creating tensors: from host data, filled, zeros, on any device. Host data bound for a device
//! is built on the host and copied over once; zeros and fills are made on the device itself.

use crate::layout::Layout;
use crate::storage::{CpuStorage, CudaStorage, Storage};
use crate::{DType, Device, Element, Error, Result, Shape, Tensor};
use parking_lot::RwLock;
use std::sync::Arc;

impl Tensor {
    /// A contiguous device tensor owning `storage`.
    pub(crate) fn from_cuda(storage: CudaStorage, shape: Shape) -> Tensor {
        let (dtype, device) = (storage.dtype(), storage.device());
        let storage = Arc::new(RwLock::new(Storage::Cuda(storage)));
        Tensor::from_parts(storage, Layout::contiguous(shape), dtype, device)
    }
    /// A contiguous tensor on `device` from host elements (copied over for a device).
    pub(crate) fn from_host(
        storage: CpuStorage,
        shape: Shape,
        device: Device,
        op: &'static str,
    ) -> Result<Tensor> {
        if device.is_cpu() {
            return Ok(Tensor::from_cpu(storage, shape));
        }
        let rt = crate::cuda::runtime(op, device)?;
        let layout = Layout::contiguous(shape.clone());
        let dev = CudaStorage::from_host(rt, &storage, &layout, op)?;
        Ok(Tensor::from_cuda(dev, shape))
    }
    /// A tensor from a vector of elements in row-major order.
    pub fn from_vec<T: Element>(
        data: Vec<T>,
        shape: impl Into<Shape>,
        device: Device,
    ) -> Result<Tensor> {
        let shape = shape.into();
        device.ensure_available("from_vec")?;
        if data.len() != shape.elem_count() {
            let from = Shape::from([data.len()]);
            return Err(Error::ElementCountMismatch {
                op: "from_vec",
                from,
                to: shape,
            });
        }
        Tensor::from_host(T::into_storage(data), shape, device, "from_vec")
    }
    /// A tensor copied from a slice in row-major order.
    pub fn from_slice<T: Element>(
        data: &[T],
        shape: impl Into<Shape>,
        device: Device,
    ) -> Result<Tensor> {
        Tensor::from_vec(data.to_vec(), shape, device)
    }
    /// A rank-0 f32 CPU tensor.
    pub fn scalar(v: f32) -> Tensor {
        Tensor::from_cpu(CpuStorage::F32(vec![v]), Shape::from(()))
    }
    /// Every element set to `value` (converted to `dtype`).
    pub fn full(
        value: f32,
        shape: impl Into<Shape>,
        dtype: DType,
        device: Device,
    ) -> Result<Tensor> {
        device.ensure_available("full")?;
        let shape = shape.into();
        if device.is_cuda() {
            return crate::cuda::full(value, shape, dtype, device);
        }
        Ok(Tensor::from_f32(
            vec![value; shape.elem_count()],
            shape,
            dtype,
        ))
    }
    /// All zeros.
    pub fn zeros(shape: impl Into<Shape>, dtype: DType, device: Device) -> Result<Tensor> {
        device.ensure_available("zeros")?;
        let shape = shape.into();
        if device.is_cuda() {
            let rt = crate::cuda::runtime("zeros", device)?;
            let dev = CudaStorage::zeros(rt, dtype, shape.elem_count(), "zeros")?;
            return Ok(Tensor::from_cuda(dev, shape));
        }
        Ok(Tensor::from_cpu(
            CpuStorage::zeros(dtype, shape.elem_count()),
            shape,
        ))
    }
    /// All ones.
    pub fn ones(shape: impl Into<Shape>, dtype: DType, device: Device) -> Result<Tensor> {
        Tensor::full(1.0, shape, dtype, device)
    }
    /// Zeros with the shape, dtype and device of `self`.
    pub fn zeros_like(&self) -> Result<Tensor> {
        Tensor::zeros(self.shape(), self.dtype(), self.device())
    }
}
