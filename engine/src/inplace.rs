//! Direct element access: borrowed f32 reads and in-place writes (optimizer steps, EMA, loading
//! weights into parameter buffers). These bypass autograd; ids stay the same.

use crate::layout::Layout;
use crate::storage::{CpuStorage, Storage};
use crate::{DType, Error, Result, Tensor};

impl Tensor {
    /// Runs `f` on the elements as one f32 slice: borrowed from the storage when the tensor is
    /// contiguous F32, converted otherwise. Do not write to this tensor's storage inside `f`.
    pub fn with_f32<R>(&self, f: impl FnOnce(&[f32]) -> R) -> Result<R> {
        Ok(f(&self.host_f32("with_f32")?))
    }

    /// Runs `f` on the elements of a contiguous F32 tensor **in place** (optimizer steps, EMA,
    /// loading weights into a flat parameter buffer). The id stays; values saved for an
    /// autograd backward that is still pending see the change, as in PyTorch. On a device the
    /// elements are copied to the host, updated by `f` and copied back.
    pub fn update_f32<R>(&self, f: impl FnOnce(&mut [f32]) -> R) -> Result<R> {
        if self.dtype() != DType::F32 {
            return Err(Error::DTypeMismatch {
                op: "update_f32",
                expected: DType::F32,
                got: self.dtype(),
            });
        }
        if !self.is_contiguous() {
            let msg = "in-place update needs a contiguous tensor".into();
            return Err(Error::InvalidArgument {
                op: "update_f32",
                shape: self.shape().clone(),
                msg,
            });
        }
        let mut guard = self.write();
        let (start, n) = (self.layout().start_offset(), self.elem_count());
        match &mut *guard {
            Storage::Cpu(CpuStorage::F32(v)) => Ok(f(&mut v[start..start + n])),
            Storage::Cuda(c) => c.update_host(start, n, f),
            other => Err(Error::DTypeMismatch {
                op: "update_f32",
                expected: DType::F32,
                got: other.dtype(),
            }),
        }
    }

    /// Copies `src` (same shape; converted to this dtype) into this tensor's elements in place.
    pub fn assign(&self, src: &Tensor) -> Result<()> {
        if src.shape() != self.shape() {
            return Err(Error::ShapeMismatch {
                op: "assign",
                lhs: self.shape().clone(),
                rhs: src.shape().clone(),
            });
        }
        self.device().same("assign", src.device())?;
        if self.device().is_cuda() {
            // Materialised (and cast) first, and the read lock released before the write lock:
            // `src` may be a view of this very storage.
            let vals = crate::cuda::cast(
                &*crate::cuda::dev_storage(src, "assign")?,
                src.layout(),
                self.dtype(),
                "assign",
            )?;
            let mut guard = self.write();
            let dst = guard.as_cuda_mut("assign")?;
            let dense = Layout::contiguous(self.shape());
            return crate::cuda::copy_into(&vals, &dense, dst, self.layout(), "assign");
        }
        // Materialise first: `src` may be a view of this very storage.
        let vals = src
            .read()
            .as_cpu("assign")?
            .cast(src.layout(), self.dtype());
        let mut guard = self.write();
        vals.copy_into(
            &Layout::contiguous(self.shape()),
            guard.as_cpu_mut("assign")?,
            self.layout(),
        )
    }
}
