//! Devices. Only the CPU has a backend today; `Cuda(ordinal)` exists so that APIs and errors are
//! already device-aware: asking for it returns [`Error::DeviceUnavailable`] until the CUDA
//! backend (runtime-loaded, see spec/cuda.md) is wired into [`crate::storage::Storage`].

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

    /// Ok when storage can be allocated on this device in this process.
    pub fn ensure_available(self, op: &'static str) -> Result<()> {
        match self {
            Device::Cpu => Ok(()),
            Device::Cuda(_) => Err(Error::DeviceUnavailable {
                op,
                device: self,
                reason: "the CUDA backend is not part of this build yet",
            }),
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
