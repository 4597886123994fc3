//! The CUDA backend: device storage ([`CudaStorage`]), the runtime lookup behind
//! `Device::Cuda`, typed access to a tensor's device buffer, and the forward/backward
//! implementations the ops call when their operands live on the GPU.
//!
//! Always compiled (cuda.md §1): `jepa_kernels::cuda::probe` loads the driver at run time and
//! never panics, so a binary built here starts on any machine; asking for `Device::Cuda` where
//! the probe failed gives [`Error::DeviceUnavailable`] with the probe's one-line reason.
//!
//! Conventions shared by every file in here:
//! - All work is enqueued on the runtime's single stream; nothing synchronises except copies to
//!   the host. Buffers are freed stream-ordered (cudarc `cuMemFreeAsync`), so dropping an input
//!   right after a launch is safe.
//! - f32 tensors use `CudaSlice<f32>`, bf16 tensors `CudaSlice<u16>` (the bits; kernels compute
//!   in f32 and round once on store, like the CPU ops), I64 index tensors `CudaSlice<i64>` (views,
//!   copies and transfers only). F16 has no device kernels: it is an
//!   [`Error::UnsupportedDType`] on CUDA.
//! - Only ordinal 0 exists: the kernels' probe opens device 0.

mod attention;
mod copy;
mod gemm;
mod misc;
mod nn;
mod pointwise;
mod reduce;
mod storage;

pub use storage::CudaStorage;

pub(crate) use attention::{attention_bwd, attention_fwd, row_lse};
pub(crate) use copy::{cast, copy_into, copy_layout};
pub(crate) use gemm::matmul;
pub(crate) use misc::{gather_fwd, loss_bwd, loss_fwd, patchify, scatter_bwd, vicreg, LossKind};
pub(crate) use nn::{gelu, layer_norm_bwd, layer_norm_fwd, softmax};
pub(crate) use pointwise::{binary, unary_bwd, unary_fwd};
pub(crate) use reduce::{max_last_keepdim, sum_dims};
pub(crate) use storage::{alloc, exact, full, DevElem};

use crate::storage::Storage;
use crate::{Device, Error, Result, Shape, Tensor};
use jepa_kernels::cuda::{probe, CudaError, CudaRuntime, CudaSlice, DriverError};
use parking_lot::{MappedRwLockReadGuard, RwLockReadGuard};
use std::sync::{Arc, OnceLock};

/// The runtime behind `device`, or [`Error::DeviceUnavailable`] with a one-line reason.
pub(crate) fn runtime(op: &'static str, device: Device) -> Result<Arc<CudaRuntime>> {
    let Device::Cuda(ordinal) = device else {
        return Err(Error::DeviceMismatch {
            op,
            lhs: Device::Cuda(0),
            rhs: device,
        });
    };
    if ordinal != 0 {
        return Err(Error::DeviceUnavailable {
            op,
            device,
            reason: "this build drives CUDA device 0 only",
        });
    }
    probe().map_err(|e| Error::DeviceUnavailable {
        op,
        device,
        reason: unavailable_reason(&e.to_string()),
    })
}

/// The probe's failure as a `'static` one-line reason. The probe caches its outcome for the
/// process, so the message is built once and kept (the error type's field is `&'static str`).
fn unavailable_reason(msg: &str) -> &'static str {
    static REASON: OnceLock<String> = OnceLock::new();
    REASON.get_or_init(|| {
        let line = msg.split_whitespace().collect::<Vec<_>>().join(" ");
        let mut line: String = line.chars().take(300).collect();
        if line.is_empty() {
            line = "CUDA probe failed".into();
        }
        line
    })
}

/// Wraps a kernel-crate error as [`Error::Cuda`].
pub(crate) fn cuda_err(kernel: &'static str) -> impl Fn(CudaError) -> Error {
    move |e| Error::Cuda {
        kernel: kernel.to_string(),
        source: Box::new(e),
    }
}

/// Wraps a driver error (allocation, copy, synchronisation) as [`Error::Cuda`].
pub(crate) fn driver_err(kernel: &'static str) -> impl Fn(DriverError) -> Error {
    move |e| Error::Cuda {
        kernel: kernel.to_string(),
        source: Box::new(CudaError::Driver {
            kernel: kernel.to_string(),
            source: e,
        }),
    }
}

/// The device storage of `t`, read-locked (recursively, like every op read).
pub(crate) fn dev_storage<'a>(
    t: &'a Tensor,
    op: &'static str,
) -> Result<MappedRwLockReadGuard<'a, CudaStorage>> {
    RwLockReadGuard::try_map(t.read(), |s| match s {
        Storage::Cuda(c) => Some(c),
        Storage::Cpu(_) => None,
    })
    .map_err(|_| Error::DeviceMismatch {
        op,
        lhs: Device::Cuda(0),
        rhs: Device::Cpu,
    })
}

/// A new contiguous device tensor of `shape` owning `buf`.
pub(crate) fn wrap<T: DevElem>(
    rt: &Arc<CudaRuntime>,
    buf: CudaSlice<T>,
    shape: impl Into<Shape>,
) -> Tensor {
    Tensor::from_cuda(CudaStorage::new(rt.clone(), buf), shape.into())
}

/// Runs `$body` with `$t` bound to the kernel element type of a floating `$dtype` (f32, or u16
/// for bf16); other dtypes are [`Error::UnsupportedDType`] on the device.
macro_rules! float_dispatch {
    ($dtype:expr, $op:expr, $t:ident => $body:expr) => {
        match $dtype {
            $crate::DType::F32 => {
                type $t = f32;
                $body
            }
            $crate::DType::BF16 => {
                type $t = u16;
                $body
            }
            other => Err($crate::Error::UnsupportedDType {
                op: $op,
                dtype: other,
            }),
        }
    };
}
pub(crate) use float_dispatch;
