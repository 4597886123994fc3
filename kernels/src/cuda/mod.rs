//! CUDA back end: kernel sources, NVRTC loading, the runtime probe and launch wrappers.
//!
//! Always compiled (no `cfg(feature = "cuda")`): cudarc loads every CUDA library lazily with
//! `dlopen`, so binaries start anywhere and [`probe`] decides at run time (cuda.md §1, §3).
//!
//! Typical use (by the engine's `Device::Cuda` storage):
//! ```no_run
//! use jepa_kernels::cuda::{self, launch};
//! let rt = cuda::probe().expect("no usable GPU");
//! let x = rt.stream().clone_htod(&[1.0f32, -2.0, 3.0]).unwrap();
//! let mut y = rt.stream().alloc_zeros::<f32>(3).unwrap();
//! launch::gelu_fwd(&rt, &x, &mut y).unwrap();
//! let host = rt.stream().clone_dtoh(&y).unwrap();
//! ```
//! Buffers are cudarc [`CudaSlice`]s: `CudaSlice<f32>` for f32 and `CudaSlice<u16>` for bf16 (raw
//! bits, as in `common.cuh`). Every wrapper checks buffer lengths against the shape it is given
//! and returns [`CudaError::InvalidArgument`] instead of launching out of bounds; launches are
//! asynchronous on [`CudaRuntime::stream`].

pub mod blas;
pub mod compile;
pub mod emu;
pub mod launch;
pub mod ptxas;
pub mod registry;
pub mod runtime;

pub use cudarc::driver::{CudaSlice, DeviceRepr};
/// More cudarc buffer types and traits, so dependents (the engine) need no direct cudarc pin.
pub use cudarc::driver::{
    CudaView, CudaViewMut, DevicePtr, DevicePtrMut, DeviceSlice, DriverError, ValidAsZeroBits,
};
pub use runtime::{probe, CudaRuntime};

/// Why no CUDA device can be used. Cheap to clone: [`probe`] caches it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CudaUnavailable {
    /// `libcuda` cannot be loaded (no driver installed).
    NoDriver,
    /// `libnvrtc` cannot be loaded (see `scripts/cuda-env.sh` for making it findable).
    NoNvrtc,
    /// The driver loads but reports no device.
    NoDevice(String),
    DriverTooOld {
        found: i32,
        required: i32,
    },
    /// A driver call failed during the probe.
    Driver(String),
    /// The probe's test compile failed (wrong NVRTC setup, unsupported arch).
    Compile(String),
    /// cudarc panicked inside the probe (caught); the payload message.
    Panicked(String),
}

impl std::fmt::Display for CudaUnavailable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::NoDriver => write!(f, "CUDA driver library (libcuda) not found"),
            Self::NoNvrtc => write!(f, "NVRTC library (libnvrtc) not found"),
            Self::NoDevice(m) => write!(f, "no CUDA device: {m}"),
            Self::DriverTooOld { found, required } => {
                write!(
                    f,
                    "CUDA driver version {found} is older than the required {required}"
                )
            }
            Self::Driver(m) => write!(f, "CUDA driver error during probe: {m}"),
            Self::Compile(m) => write!(f, "NVRTC probe compile failed: {m}"),
            Self::Panicked(m) => write!(f, "CUDA probe panicked: {m}"),
        }
    }
}

impl std::error::Error for CudaUnavailable {}

/// An error from a CUDA operation; the engine wraps it as `Cuda { kernel, source }`.
#[derive(Debug)]
pub enum CudaError {
    Unavailable(CudaUnavailable),
    /// NVRTC rejected a kernel file; `log` is NVRTC's full log.
    Compile {
        file: &'static str,
        log: String,
    },
    Driver {
        kernel: String,
        source: cudarc::driver::DriverError,
    },
    Blas {
        op: &'static str,
        message: String,
    },
    /// A kernel name not in the registry.
    UnknownKernel(String),
    /// Shapes or buffer sizes that would make a launch read or write out of bounds.
    InvalidArgument {
        kernel: &'static str,
        reason: String,
    },
}

impl std::fmt::Display for CudaError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Unavailable(u) => write!(f, "{u}"),
            Self::Compile { file, log } => write!(f, "NVRTC failed to compile {file}.cu:\n{log}"),
            Self::Driver { kernel, source } => write!(f, "CUDA driver error in {kernel}: {source}"),
            Self::Blas { op, message } => write!(f, "cuBLAS error in {op}: {message}"),
            Self::UnknownKernel(k) => write!(f, "unknown kernel {k}"),
            Self::InvalidArgument { kernel, reason } => {
                write!(f, "invalid arguments for {kernel}: {reason}")
            }
        }
    }
}

impl std::error::Error for CudaError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Unavailable(u) => Some(u),
            Self::Driver { source, .. } => Some(source),
            _ => None,
        }
    }
}

impl From<CudaUnavailable> for CudaError {
    fn from(u: CudaUnavailable) -> Self {
        Self::Unavailable(u)
    }
}

/// Element types the kernels are instantiated for: `f32`, and bf16 stored as its `u16` bits.
pub trait Elem: DeviceRepr + Copy + Send + Sync + 'static {
    /// The entry-point suffix (`"f32"`, `"bf16"`).
    const SUFFIX: &'static str;
}
impl Elem for f32 {
    const SUFFIX: &'static str = "f32";
}
impl Elem for u16 {
    const SUFFIX: &'static str = "bf16";
}
