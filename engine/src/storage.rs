//! Storage: where the elements live. `Storage` is the device switch (one variant per backend),
//! `CpuStorage` the per-dtype switch of host memory; [`CudaStorage`] holds device memory.
//! Element moves (strided copies, casts) are written once as generic functions and dispatched
//! here, so no op is written once per dtype.

pub use crate::cuda::CudaStorage;
use crate::layout::{copy_strided, for_each_row, Layout};
use crate::{DType, Device, Error, Result};
use half::{bf16, f16};

/// Host memory, one vector per dtype.
#[derive(Clone, Debug)]
pub enum CpuStorage {
    F32(Vec<f32>),
    BF16(Vec<bf16>),
    F16(Vec<f16>),
    I64(Vec<i64>),
}

/// A tensor's buffer on some device. Views share one `Storage` through an `Arc`.
#[derive(Debug)]
pub enum Storage {
    Cpu(CpuStorage),
    /// Device memory on `Device::Cuda(0)`.
    Cuda(CudaStorage),
}

/// Applies the same generic expression to whichever vector a `CpuStorage` holds.
macro_rules! each_dtype {
    ($s:expr, $v:ident => $e:expr) => {
        match $s {
            CpuStorage::F32($v) => CpuStorage::F32($e),
            CpuStorage::BF16($v) => CpuStorage::BF16($e),
            CpuStorage::F16($v) => CpuStorage::F16($e),
            CpuStorage::I64($v) => CpuStorage::I64($e),
        }
    };
}

impl CpuStorage {
    /// The element type.
    pub fn dtype(&self) -> DType {
        match self {
            CpuStorage::F32(_) => DType::F32,
            CpuStorage::BF16(_) => DType::BF16,
            CpuStorage::F16(_) => DType::F16,
            CpuStorage::I64(_) => DType::I64,
        }
    }
    /// Number of elements held.
    pub fn len(&self) -> usize {
        match self {
            CpuStorage::F32(v) => v.len(),
            CpuStorage::BF16(v) => v.len(),
            CpuStorage::F16(v) => v.len(),
            CpuStorage::I64(v) => v.len(),
        }
    }
    /// True when no element is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// `n` zeros of `dtype`.
    pub(crate) fn zeros(dtype: DType, n: usize) -> CpuStorage {
        match dtype {
            DType::F32 => CpuStorage::F32(vec![0.0; n]),
            DType::BF16 => CpuStorage::BF16(vec![bf16::ZERO; n]),
            DType::F16 => CpuStorage::F16(vec![f16::ZERO; n]),
            DType::I64 => CpuStorage::I64(vec![0; n]),
        }
    }

    /// The elements `layout` addresses, row-major, same dtype.
    pub(crate) fn copy_strided(&self, layout: &Layout) -> CpuStorage {
        each_dtype!(self, v => copy_strided(v, layout))
    }

    /// Writes the elements `src_layout` addresses in `self` to the places `dst_layout`
    /// addresses in `dst` (same shape, same dtype; checked by the caller).
    pub(crate) fn copy_into(
        &self,
        src_layout: &Layout,
        dst: &mut CpuStorage,
        dst_layout: &Layout,
    ) -> Result<()> {
        match (self, dst) {
            (CpuStorage::F32(s), CpuStorage::F32(d)) => copy_into(s, src_layout, d, dst_layout),
            (CpuStorage::BF16(s), CpuStorage::BF16(d)) => copy_into(s, src_layout, d, dst_layout),
            (CpuStorage::F16(s), CpuStorage::F16(d)) => copy_into(s, src_layout, d, dst_layout),
            (CpuStorage::I64(s), CpuStorage::I64(d)) => copy_into(s, src_layout, d, dst_layout),
            (s, d) => {
                return Err(Error::DTypeMismatch {
                    op: "copy",
                    expected: d.dtype(),
                    got: s.dtype(),
                });
            }
        }
        Ok(())
    }

    /// The addressed elements as row-major f32 (floats only; I64 is an index type).
    pub(crate) fn to_f32_vec(&self, op: &'static str, layout: &Layout) -> Result<Vec<f32>> {
        match self {
            CpuStorage::I64(_) => Err(Error::UnsupportedDType {
                op,
                dtype: DType::I64,
            }),
            _ => Ok(self.values_f32(layout)),
        }
    }

    /// The addressed elements converted to f32 (index values too).
    fn values_f32(&self, layout: &Layout) -> Vec<f32> {
        match self {
            CpuStorage::F32(v) => copy_strided(v, layout),
            CpuStorage::BF16(v) => copy_strided(v, layout)
                .into_iter()
                .map(bf16::to_f32)
                .collect(),
            CpuStorage::F16(v) => copy_strided(v, layout)
                .into_iter()
                .map(f16::to_f32)
                .collect(),
            CpuStorage::I64(v) => copy_strided(v, layout)
                .into_iter()
                .map(|x| x as f32)
                .collect(),
        }
    }

    /// f32 values rounded to `dtype` (round-to-nearest-even for bf16/f16).
    pub(crate) fn from_f32_vec(v: Vec<f32>, dtype: DType) -> CpuStorage {
        match dtype {
            DType::F32 => CpuStorage::F32(v),
            DType::BF16 => CpuStorage::BF16(v.into_iter().map(bf16::from_f32).collect()),
            DType::F16 => CpuStorage::F16(v.into_iter().map(f16::from_f32).collect()),
            // Truncation toward zero, like a C cast; only reachable through `to_dtype`.
            DType::I64 => CpuStorage::I64(v.into_iter().map(|x| x as i64).collect()),
        }
    }

    /// The addressed elements converted to `dtype`, row-major.
    pub(crate) fn cast(&self, layout: &Layout, dtype: DType) -> CpuStorage {
        if self.dtype() == dtype {
            return self.copy_strided(layout);
        }
        CpuStorage::from_f32_vec(self.values_f32(layout), dtype)
    }
}

fn copy_into<T: Copy>(src: &[T], sl: &Layout, dst: &mut [T], dl: &Layout) {
    let (len, ss) = sl.row();
    let (_, ds) = dl.row();
    for_each_row([sl, dl], |[so, do_]| {
        if ss == 1 && ds == 1 {
            dst[do_..do_ + len].copy_from_slice(&src[so..so + len]);
        } else {
            for i in 0..len {
                dst[do_ + i * ds] = src[so + i * ss];
            }
        }
    });
}

impl Storage {
    /// The device this storage lives on.
    pub fn device(&self) -> Device {
        match self {
            Storage::Cpu(_) => Device::Cpu,
            Storage::Cuda(c) => c.device(),
        }
    }
    /// The element type.
    pub fn dtype(&self) -> DType {
        match self {
            Storage::Cpu(c) => c.dtype(),
            Storage::Cuda(c) => c.dtype(),
        }
    }
    /// The host storage, or [`Error::DeviceMismatch`] (lhs: the CPU this needs, rhs: where the
    /// storage is) for device storage: copy it with `to_device(Device::Cpu)` first.
    pub fn as_cpu(&self, op: &'static str) -> Result<&CpuStorage> {
        match self {
            Storage::Cpu(c) => Ok(c),
            Storage::Cuda(c) => Err(Error::DeviceMismatch {
                op,
                lhs: Device::Cpu,
                rhs: c.device(),
            }),
        }
    }
    /// Mutable host storage (in-place updates such as optimizer steps); errors as [`Self::as_cpu`].
    pub fn as_cpu_mut(&mut self, op: &'static str) -> Result<&mut CpuStorage> {
        match self {
            Storage::Cpu(c) => Ok(c),
            Storage::Cuda(c) => Err(Error::DeviceMismatch {
                op,
                lhs: Device::Cpu,
                rhs: c.device(),
            }),
        }
    }
    /// The device storage, or [`Error::DeviceMismatch`] for host storage.
    pub fn as_cuda(&self, op: &'static str) -> Result<&CudaStorage> {
        match self {
            Storage::Cuda(c) => Ok(c),
            Storage::Cpu(_) => Err(Error::DeviceMismatch {
                op,
                lhs: Device::Cuda(0),
                rhs: Device::Cpu,
            }),
        }
    }
    /// Mutable device storage; errors as [`Self::as_cuda`].
    pub fn as_cuda_mut(&mut self, op: &'static str) -> Result<&mut CudaStorage> {
        match self {
            Storage::Cuda(c) => Ok(c),
            Storage::Cpu(_) => Err(Error::DeviceMismatch {
                op,
                lhs: Device::Cuda(0),
                rhs: Device::Cpu,
            }),
        }
    }
}
