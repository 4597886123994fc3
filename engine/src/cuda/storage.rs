//! [`CudaStorage`]: one device buffer per dtype plus its runtime; allocation, host transfers and
//! typed, exactly-sized access for the kernel wrappers (which take whole `CudaSlice`s).

use super::{copy_layout, cuda_err, dev_storage, driver_err, float_dispatch, runtime, wrap};
use crate::layout::Layout;
use crate::storage::CpuStorage;
use crate::{DType, Device, Error, Result, Shape, Tensor};
use half::bf16;
use jepa_kernels::cuda::launch::{self, CopyElem};
use jepa_kernels::cuda::{CudaRuntime, CudaSlice, ValidAsZeroBits};
use parking_lot::MappedRwLockReadGuard;
use std::ops::Deref;
use std::sync::Arc;

/// The buffer of one device storage.
pub(crate) enum CudaBuf {
    F32(CudaSlice<f32>),
    /// bf16 as raw bits.
    BF16(CudaSlice<u16>),
    I64(CudaSlice<i64>),
}

/// Device memory behind a tensor: the buffer for its dtype (f32; bf16 as `u16` bits; i64) and the
/// runtime (context, stream, kernel caches) that owns it.
pub struct CudaStorage {
    pub(crate) buf: CudaBuf,
    rt: Arc<CudaRuntime>,
}

impl std::fmt::Debug for CudaStorage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "CudaStorage({} × {} on {:?})",
            self.dtype(),
            self.len(),
            self.rt
        )
    }
}

/// Element types a device buffer holds, and their [`CudaBuf`] variant.
pub(crate) trait DevElem: CopyElem + ValidAsZeroBits + Default {
    const DTYPE: DType;
    fn get(b: &CudaBuf) -> Option<&CudaSlice<Self>>;
    fn get_mut(b: &mut CudaBuf) -> Option<&mut CudaSlice<Self>>;
    fn wrap(s: CudaSlice<Self>) -> CudaBuf;
    fn take(b: CudaBuf) -> Option<CudaSlice<Self>>;
}

macro_rules! dev_elem {
    ($t:ty, $variant:ident) => {
        impl DevElem for $t {
            const DTYPE: DType = DType::$variant;
            fn get(b: &CudaBuf) -> Option<&CudaSlice<Self>> {
                match b {
                    CudaBuf::$variant(s) => Some(s),
                    _ => None,
                }
            }
            fn get_mut(b: &mut CudaBuf) -> Option<&mut CudaSlice<Self>> {
                match b {
                    CudaBuf::$variant(s) => Some(s),
                    _ => None,
                }
            }
            fn wrap(s: CudaSlice<Self>) -> CudaBuf {
                CudaBuf::$variant(s)
            }
            fn take(b: CudaBuf) -> Option<CudaSlice<Self>> {
                match b {
                    CudaBuf::$variant(s) => Some(s),
                    _ => None,
                }
            }
        }
    };
}
dev_elem!(f32, F32);
dev_elem!(u16, BF16);
dev_elem!(i64, I64);

/// `n` zeroed elements (at least one: a zero-byte device allocation is an error in the driver,
/// and empty tensors never launch a kernel on their buffer).
pub(crate) fn alloc<T: DevElem>(rt: &CudaRuntime, n: usize) -> Result<CudaSlice<T>> {
    rt.stream()
        .alloc_zeros::<T>(n.max(1))
        .map_err(driver_err("alloc"))
}

impl CudaStorage {
    pub(crate) fn new<T: DevElem>(rt: Arc<CudaRuntime>, s: CudaSlice<T>) -> Self {
        CudaStorage {
            buf: T::wrap(s),
            rt,
        }
    }
    /// The element type.
    pub fn dtype(&self) -> DType {
        match self.buf {
            CudaBuf::F32(_) => DType::F32,
            CudaBuf::BF16(_) => DType::BF16,
            CudaBuf::I64(_) => DType::I64,
        }
    }
    /// Elements allocated (at least 1, see the crate's allocation rule).
    pub fn len(&self) -> usize {
        match &self.buf {
            CudaBuf::F32(s) => s.len(),
            CudaBuf::BF16(s) => s.len(),
            CudaBuf::I64(s) => s.len(),
        }
    }
    /// True when nothing is allocated.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// The runtime (device, stream, kernel caches) this storage belongs to.
    pub fn runtime(&self) -> &Arc<CudaRuntime> {
        &self.rt
    }
    /// The device (`Cuda(0)`: the runtime drives ordinal 0).
    pub fn device(&self) -> Device {
        Device::Cuda(self.rt.context().ordinal())
    }

    /// The buffer as `CudaSlice<T>`, or a dtype mismatch.
    pub(crate) fn slice<T: DevElem>(&self, op: &'static str) -> Result<&CudaSlice<T>> {
        T::get(&self.buf).ok_or(Error::DTypeMismatch {
            op,
            expected: T::DTYPE,
            got: self.dtype(),
        })
    }
    pub(crate) fn slice_mut<T: DevElem>(&mut self, op: &'static str) -> Result<&mut CudaSlice<T>> {
        let got = self.dtype();
        T::get_mut(&mut self.buf).ok_or(Error::DTypeMismatch {
            op,
            expected: T::DTYPE,
            got,
        })
    }

    /// The buffer itself, as `CudaSlice<T>`.
    pub(crate) fn into_slice<T: DevElem>(self, op: &'static str) -> Result<CudaSlice<T>> {
        let got = self.dtype();
        T::take(self.buf).ok_or(Error::DTypeMismatch {
            op,
            expected: T::DTYPE,
            got,
        })
    }

    /// `n` zeros of `dtype`.
    pub(crate) fn zeros(
        rt: Arc<CudaRuntime>,
        dtype: DType,
        n: usize,
        op: &'static str,
    ) -> Result<Self> {
        let buf = match dtype {
            DType::F32 => CudaBuf::F32(alloc(&rt, n)?),
            DType::BF16 => CudaBuf::BF16(alloc(&rt, n)?),
            DType::I64 => CudaBuf::I64(alloc(&rt, n)?),
            DType::F16 => return Err(Error::UnsupportedDType { op, dtype }),
        };
        Ok(CudaStorage { buf, rt })
    }

    /// The host elements `layout` addresses, copied to the device (row-major).
    pub(crate) fn from_host(
        rt: Arc<CudaRuntime>,
        cpu: &CpuStorage,
        layout: &Layout,
        op: &'static str,
    ) -> Result<Self> {
        let up = |e| driver_err("htod")(e);
        let s = rt.stream();
        let buf = match cpu.copy_strided(layout) {
            CpuStorage::F32(v) if v.is_empty() => CudaBuf::F32(alloc(&rt, 0)?),
            CpuStorage::BF16(v) if v.is_empty() => CudaBuf::BF16(alloc(&rt, 0)?),
            CpuStorage::I64(v) if v.is_empty() => CudaBuf::I64(alloc(&rt, 0)?),
            CpuStorage::F32(v) => CudaBuf::F32(s.clone_htod(&v).map_err(up)?),
            CpuStorage::BF16(v) => {
                let bits: Vec<u16> = v.iter().map(|x| x.to_bits()).collect();
                CudaBuf::BF16(s.clone_htod(&bits).map_err(up)?)
            }
            CpuStorage::I64(v) => CudaBuf::I64(s.clone_htod(&v).map_err(up)?),
            CpuStorage::F16(_) => {
                return Err(Error::UnsupportedDType {
                    op,
                    dtype: DType::F16,
                })
            }
        };
        Ok(CudaStorage { buf, rt })
    }

    /// The elements `layout` addresses, row-major, copied to the host (waits for the device).
    /// A contiguous layout is copied straight from its range; any other is made contiguous on
    /// the device first, so only the addressed elements cross the bus.
    pub(crate) fn to_host(&self, layout: &Layout, op: &'static str) -> Result<CpuStorage> {
        if !layout.is_contiguous() {
            let dense = copy_layout(self, layout, op)?;
            return dense.to_host(&Layout::contiguous(layout.shape()), op);
        }
        let (off, n) = (layout.start_offset(), layout.shape().elem_count());
        Ok(match &self.buf {
            CudaBuf::F32(d) => CpuStorage::F32(self.dtoh(d, off, n, op)?),
            CudaBuf::BF16(d) => CpuStorage::BF16(
                self.dtoh(d, off, n, op)?
                    .into_iter()
                    .map(bf16::from_bits)
                    .collect(),
            ),
            CudaBuf::I64(d) => CpuStorage::I64(self.dtoh(d, off, n, op)?),
        })
    }

    fn dtoh<T: DevElem>(
        &self,
        d: &CudaSlice<T>,
        off: usize,
        n: usize,
        op: &'static str,
    ) -> Result<Vec<T>> {
        if n == 0 {
            return Ok(Vec::new());
        }
        let view = d
            .try_slice(off..off + n)
            .ok_or_else(|| Error::InvalidArgument {
                op,
                shape: Shape::from([n]),
                msg: format!(
                    "elements {off}..{} past a device buffer of {}",
                    off + n,
                    d.len()
                ),
            })?;
        self.rt
            .stream()
            .clone_dtoh(&view)
            .map_err(driver_err("dtoh"))
    }
}

/// `value` (rounded to `dtype`) in every element of a new tensor on `device`.
pub(crate) fn full(value: f32, shape: Shape, dtype: DType, device: Device) -> Result<Tensor> {
    let rt = runtime("full", device)?;
    let n = shape.elem_count();
    if dtype == DType::I64 {
        let host = CpuStorage::from_f32_vec(vec![value; n], dtype);
        return Tensor::from_host(host, shape, device, "full");
    }
    float_dispatch!(dtype, "full", T => {
        let mut buf = alloc::<T>(&rt, n)?;
        launch::fill(&rt, value, &mut buf).map_err(cuda_err("fill"))?;
        Ok(wrap(&rt, buf, shape))
    })
}

impl CudaStorage {
    /// Runs `f` on the F32 elements `start..start + n` copied to the host, then writes them back
    /// (the device path of `Tensor::update_f32`; the copies wait for the device).
    pub(crate) fn update_host<R>(
        &mut self,
        start: usize,
        n: usize,
        f: impl FnOnce(&mut [f32]) -> R,
    ) -> Result<R> {
        const OP: &str = "update_f32";
        if n == 0 {
            return Ok(f(&mut []));
        }
        let rt = self.rt.clone();
        let s = rt.stream();
        let buf = self.slice_mut::<f32>(OP)?;
        let range = || Error::InvalidArgument {
            op: OP,
            shape: Shape::from([n]),
            msg: format!("elements {start}..{} past the buffer", start + n),
        };
        let mut host = {
            let view = buf.try_slice(start..start + n).ok_or_else(range)?;
            s.clone_dtoh(&view).map_err(driver_err("dtoh"))?
        };
        let r = f(&mut host);
        let mut view = buf.try_slice_mut(start..start + n).ok_or_else(range)?;
        s.memcpy_htod(&host, &mut view)
            .map_err(driver_err("htod"))?;
        Ok(r)
    }
}

/// A tensor's elements as one exactly-sized, offset-0 device buffer: the storage itself when it
/// already is one (read-locked), else a contiguous copy made on the device.
pub(crate) enum Exact<'a, T> {
    Shared(MappedRwLockReadGuard<'a, CudaSlice<T>>),
    Owned(CudaSlice<T>),
}

impl<T> Deref for Exact<'_, T> {
    type Target = CudaSlice<T>;
    fn deref(&self) -> &CudaSlice<T> {
        match self {
            Exact::Shared(g) => g,
            Exact::Owned(s) => s,
        }
    }
}

/// [`Exact`] access to `t` as element type `T` (f32, u16 for bf16, i64).
pub(crate) fn exact<'a, T: DevElem>(t: &'a Tensor, op: &'static str) -> Result<Exact<'a, T>> {
    let st = dev_storage(t, op)?;
    let n = t.elem_count();
    let l = t.layout();
    let len = st.slice::<T>(op)?.len();
    if l.is_contiguous() && l.start_offset() == 0 && (len == n || n == 0) {
        let mapped = MappedRwLockReadGuard::try_map(st, |c| T::get(&c.buf));
        return mapped.map(Exact::Shared).map_err(|_| Error::DTypeMismatch {
            op,
            expected: T::DTYPE,
            got: t.dtype(),
        });
    }
    Ok(Exact::Owned(copy_layout(&st, l, op)?.into_slice(op)?))
}
