//! Devices: the CPU, and `Cuda(ordinal)` backed by the runtime-loaded CUDA backend (see
//! spec/cuda.md and [`crate::storage::CudaStorage`]). Whether CUDA works is decided at run time
//! by the kernels' probe; where it fails, asking for `Cuda` gives
//! [`Error::DeviceUnavailable`] with the probe's one-line reason, never a panic.

use crate::{Error, Result};

/// Where a tensor's storage lives.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Device {
    Cpu,
    /// A CUDA device by ordinal.
    Cuda(usize),
}

impl Device {
    /// True for [`Device::Cpu`].
    pub fn is_cpu(self) -> bool {
        matches!(self, Device::Cpu)
    }

    /// True for [`Device::Cuda`].
    pub fn is_cuda(self) -> bool {
        matches!(self, Device::Cuda(_))
    }

    /// Ok when storage can be allocated on this device in this process. For CUDA this runs the
    /// (cached) runtime probe: no driver, no device or a broken NVRTC setup give
    /// [`Error::DeviceUnavailable`] with the reason, e.g. "CUDA driver library (libcuda) not
    /// found"; only ordinal 0 is driven.
    pub fn ensure_available(self, op: &'static str) -> Result<()> {
        match self {
            Device::Cpu => Ok(()),
            Device::Cuda(_) => crate::cuda::runtime(op, self).map(|_| ()),
        }
    }

    /// Ok when `self` and `other` are the same device.
    pub fn same(self, op: &'static str, other: Device) -> Result<()> {
        if self == other {
            Ok(())
        } else {
            Err(Error::DeviceMismatch {
                op,
                lhs: self,
                rhs: other,
            })
        }
    }
}

impl std::fmt::Display for Device {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Device::Cpu => f.write_str("cpu"),
            Device::Cuda(i) => write!(f, "cuda:{i}"),
        }
    }
}
