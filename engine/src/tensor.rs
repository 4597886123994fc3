//! `Tensor`: an `Arc` around (id, shared storage, layout, dtype, device, autograd node).
//! Cloning is an `Arc` clone; views share the storage; every new tensor gets a fresh id, which
//! keys its gradient.

use crate::autograd::Node;
use crate::layout::Layout;
use crate::storage::{CpuStorage, Storage};
use crate::{DType, Device, Element, Error, Result, Shape};
use parking_lot::{RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::ops::Deref;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Unique tensor identity; ids grow monotonically, so an op's output always has a larger id
/// than its inputs (the autograd tape relies on this for its topological order).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TensorId(u64);

impl TensorId {
    pub(crate) fn fresh() -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        TensorId(NEXT.fetch_add(1, Ordering::Relaxed))
    }
}

pub(crate) struct Inner {
    pub(crate) id: TensorId,
    pub(crate) storage: Arc<RwLock<Storage>>,
    pub(crate) layout: Layout,
    pub(crate) dtype: DType,
    pub(crate) device: Device,
    /// Some when gradients flow to or through this tensor.
    pub(crate) node: Option<Arc<Node>>,
}

/// An n-dimensional array. Cheap to clone; see the crate docs for the API overview.
#[derive(Clone)]
pub struct Tensor(pub(crate) Arc<Inner>);

impl std::fmt::Debug for Tensor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Tensor(id={:?}, shape={}, {}, {}{})",
            self.id().0,
            self.shape(),
            self.dtype(),
            self.device(),
            if self.tracks_grad() { ", grad" } else { "" }
        )
    }
}

impl Tensor {
    /// A tensor over `storage` viewed through `layout`, not tracked by autograd.
    pub(crate) fn from_parts(
        storage: Arc<RwLock<Storage>>,
        layout: Layout,
        dtype: DType,
        device: Device,
    ) -> Tensor {
        let id = TensorId::fresh();
        Tensor(Arc::new(Inner {
            id,
            storage,
            layout,
            dtype,
            device,
            node: None,
        }))
    }
    /// A contiguous CPU tensor owning `storage`.
    pub(crate) fn from_cpu(storage: CpuStorage, shape: Shape) -> Tensor {
        let dtype = storage.dtype();
        let storage = Arc::new(RwLock::new(Storage::Cpu(storage)));
        Tensor::from_parts(storage, Layout::contiguous(shape), dtype, Device::Cpu)
    }
    /// A contiguous tensor of `dtype` from f32 results (the compute type of every op).
    pub(crate) fn from_f32(v: Vec<f32>, shape: impl Into<Shape>, dtype: DType) -> Tensor {
        let shape = shape.into();
        debug_assert_eq!(
            v.len(),
            shape.elem_count(),
            "op produced a buffer of the wrong length"
        );
        Tensor::from_cpu(CpuStorage::from_f32_vec(v, dtype), shape)
    }
    /// A new view of the same storage (fresh id, untracked).
    pub(crate) fn view_with(&self, layout: Layout) -> Tensor {
        Tensor::from_parts(self.0.storage.clone(), layout, self.dtype(), self.device())
    }

    /// Identity of this tensor (keys its gradient in [`crate::Gradients`]).
    pub fn id(&self) -> TensorId {
        self.0.id
    }
    /// The logical shape.
    pub fn shape(&self) -> &Shape {
        self.0.layout.shape()
    }
    /// The logical dims.
    pub fn dims(&self) -> &[usize] {
        self.0.layout.dims()
    }
    /// Number of dims.
    pub fn rank(&self) -> usize {
        self.dims().len()
    }
    /// Size of dim `d`, or [`Error::DimOutOfRange`].
    pub fn dim(&self, d: usize) -> Result<usize> {
        self.shape().dim("dim", d)
    }
    /// Number of elements.
    pub fn elem_count(&self) -> usize {
        self.shape().elem_count()
    }
    /// Element type.
    pub fn dtype(&self) -> DType {
        self.0.dtype
    }
    /// Device of the storage.
    pub fn device(&self) -> Device {
        self.0.device
    }
    /// Shape, strides and offset into the storage.
    pub fn layout(&self) -> &Layout {
        &self.0.layout
    }
    /// True when the elements are row-major without gaps.
    pub fn is_contiguous(&self) -> bool {
        self.0.layout.is_contiguous()
    }
    /// True when two tensors share one storage buffer (views of each other).
    pub fn same_storage(&self, other: &Tensor) -> bool {
        Arc::ptr_eq(&self.0.storage, &other.0.storage)
    }

    /// The elements in row-major order; `T` must match the dtype. Device tensors are copied to
    /// the host (this waits for the device).
    pub fn to_vec<T: Element>(&self) -> Result<Vec<T>> {
        let mismatch = Error::DTypeMismatch {
            op: "to_vec",
            expected: T::DTYPE,
            got: self.dtype(),
        };
        if T::DTYPE != self.dtype() {
            return Err(mismatch);
        }
        let guard = self.read();
        match &*guard {
            Storage::Cpu(cpu) => {
                let data = T::slice(cpu).ok_or(mismatch)?;
                Ok(crate::layout::copy_strided(data, self.layout()))
            }
            Storage::Cuda(dev) => {
                let host = dev.to_host(self.layout(), "to_vec")?;
                T::slice(&host).map(<[T]>::to_vec).ok_or(mismatch)
            }
        }
    }
    /// The elements converted to f32, row-major (floating dtypes only).
    pub fn to_vec_f32(&self) -> Result<Vec<f32>> {
        Ok(self.host_f32("to_vec_f32")?.to_vec())
    }
    /// The single element of a one-element tensor, as f32.
    pub fn to_scalar_f32(&self) -> Result<f32> {
        if self.elem_count() != 1 {
            let to = Shape::from(());
            return Err(Error::ElementCountMismatch {
                op: "to_scalar",
                from: self.shape().clone(),
                to,
            });
        }
        Ok(self.host_f32("to_scalar")?[0])
    }

    /// Recursive read lock: one op may read the same storage through several operands even
    /// while another thread waits to write.
    pub(crate) fn read(&self) -> RwLockReadGuard<'_, Storage> {
        self.0.storage.read_recursive()
    }
    pub(crate) fn write(&self) -> RwLockWriteGuard<'_, Storage> {
        self.0.storage.write()
    }

    /// Floating elements as one contiguous f32 slice on the host: [`Self::f32_contig`], after a
    /// copy from the device for device tensors (the public readers use this).
    pub(crate) fn host_f32(&self, op: &'static str) -> Result<F32Slice<'_>> {
        if self.device().is_cpu() {
            return self.f32_contig(op);
        }
        let host = self.read().as_cuda(op)?.to_host(self.layout(), op)?;
        let v = host.to_f32_vec(op, &Layout::contiguous(self.shape()))?;
        Ok(F32Slice {
            start: 0,
            len: v.len(),
            buf: F32Buf::Owned(v),
        })
    }

    /// Errors for device tensors: the caller reads host memory and has no device path.
    fn host_only(&self, op: &'static str) -> Result<()> {
        if self.device().is_cpu() {
            return Ok(());
        }
        Err(Error::Unsupported {
            op,
            msg: format!("no {} implementation (host-only code path)", self.device()),
        })
    }

    /// Floating elements as one contiguous f32 slice: borrowed when already contiguous F32,
    /// converted / gathered otherwise. Host tensors only.
    pub(crate) fn f32_contig(&self, op: &'static str) -> Result<F32Slice<'_>> {
        self.host_only(op)?;
        let n = self.elem_count();
        if self.dtype() == DType::F32 && self.is_contiguous() {
            let start = self.layout().start_offset();
            return Ok(F32Slice {
                buf: F32Buf::Shared(self.read()),
                start,
                len: n,
            });
        }
        let v = self.read().as_cpu(op)?.to_f32_vec(op, self.layout())?;
        Ok(F32Slice {
            buf: F32Buf::Owned(v),
            start: 0,
            len: n,
        })
    }

    /// Floating elements as an f32 buffer plus the layout that addresses them in it: the shared
    /// storage with this tensor's layout for F32, a converted contiguous copy otherwise.
    pub(crate) fn f32_strided(&self, op: &'static str) -> Result<(F32Buf<'_>, Layout)> {
        self.host_only(op)?;
        if self.dtype() == DType::F32 {
            return Ok((F32Buf::Shared(self.read()), self.layout().clone()));
        }
        let v = self.read().as_cpu(op)?.to_f32_vec(op, self.layout())?;
        Ok((F32Buf::Owned(v), Layout::contiguous(self.shape())))
    }

    /// Errors unless `self` and `rhs` share dtype and device.
    pub(crate) fn same_kind(&self, op: &'static str, rhs: &Tensor) -> Result<()> {
        self.device().same(op, rhs.device())?;
        if self.dtype() != rhs.dtype() {
            return Err(Error::DTypeMismatch {
                op,
                expected: self.dtype(),
                got: rhs.dtype(),
            });
        }
        Ok(())
    }
    /// Errors unless the dtype is floating (ops compute in f32).
    pub(crate) fn expect_float(&self, op: &'static str) -> Result<()> {
        if self.dtype().is_float() {
            Ok(())
        } else {
            Err(Error::UnsupportedDType {
                op,
                dtype: self.dtype(),
            })
        }
    }
}

/// An f32 buffer that is either the shared storage (read-locked) or an owned conversion.
pub(crate) enum F32Buf<'a> {
    Shared(RwLockReadGuard<'a, Storage>),
    Owned(Vec<f32>),
}

impl Deref for F32Buf<'_> {
    type Target = [f32];
    fn deref(&self) -> &[f32] {
        match self {
            // Only constructed for host F32 storage; the other arms cannot occur.
            F32Buf::Shared(g) => match &**g {
                Storage::Cpu(CpuStorage::F32(v)) => v,
                Storage::Cpu(_) | Storage::Cuda(_) => &[],
            },
            F32Buf::Owned(v) => v,
        }
    }
}

/// A contiguous run of f32 elements (see [`Tensor::f32_contig`]).
pub(crate) struct F32Slice<'a> {
    buf: F32Buf<'a>,
    start: usize,
    len: usize,
}

impl Deref for F32Slice<'_> {
    type Target = [f32];
    fn deref(&self) -> &[f32] {
        &self.buf[self.start..self.start + self.len]
    }
}
