//! The runtime probe and the per-device state: context, stream, module and function caches,
//! cuBLAS handle. Nothing in here panics on a machine without CUDA (cuda.md §3): library presence
//! is checked before any cudarc call, and the steps that could still panic run under
//! `catch_unwind`.

use std::collections::HashMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Mutex, OnceLock};

use cudarc::cublas::CudaBlas;
use cudarc::driver::{CudaContext, CudaFunction, CudaModule, CudaStream};
use cudarc::nvrtc::Ptx;

use super::compile::{compile_cubin, nvrtc_present, nvrtc_version};
use super::registry::{kernel_file, KernelFile};
use super::{CudaError, CudaUnavailable};

/// Oldest driver accepted: the CUDA major this crate was built for (CUBINs from NVRTC 12.9 load on
/// any 12.x driver through minor-version compatibility; a 13 build needs a 13 driver).
#[cfg(not(feature = "cuda-13"))]
pub const MIN_DRIVER_VERSION: i32 = 12000;
#[cfg(feature = "cuda-13")]
pub const MIN_DRIVER_VERSION: i32 = 13000;

/// One CUDA device with its single stream and its caches. Obtained from [`probe`].
pub struct CudaRuntime {
    ctx: Arc<CudaContext>,
    stream: Arc<CudaStream>,
    arch: (i32, i32),
    driver_version: i32,
    nvrtc_version: (i32, i32),
    name: String,
    modules: Mutex<HashMap<&'static str, Arc<CudaModule>>>,
    functions: Mutex<HashMap<&'static str, CudaFunction>>,
    blas: OnceLock<Result<CudaBlas, String>>,
}

impl std::fmt::Debug for CudaRuntime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "CudaRuntime({}, sm_{}{}, driver {}, nvrtc {}.{})",
            self.name,
            self.arch.0,
            self.arch.1,
            self.driver_version,
            self.nvrtc_version.0,
            self.nvrtc_version.1
        )
    }
}

/// Probes device 0 once per process and caches the outcome (success or the reason it failed).
pub fn probe() -> Result<Arc<CudaRuntime>, CudaUnavailable> {
    static PROBE: OnceLock<Result<Arc<CudaRuntime>, CudaUnavailable>> = OnceLock::new();
    PROBE
        .get_or_init(|| match catch_unwind(probe_uncached) {
            Ok(r) => r,
            Err(payload) => Err(CudaUnavailable::Panicked(panic_message(payload))),
        })
        .clone()
}

pub(crate) fn panic_message(payload: Box<dyn std::any::Any + Send>) -> String {
    if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else if let Some(s) = payload.downcast_ref::<&str>() {
        s.to_string()
    } else {
        "unknown panic payload".to_string()
    }
}

fn probe_uncached() -> Result<Arc<CudaRuntime>, CudaUnavailable> {
    // SAFETY: only dlopens candidate library names.
    if !unsafe { cudarc::driver::sys::is_culib_present() } {
        return Err(CudaUnavailable::NoDriver);
    }
    if !nvrtc_present() {
        return Err(CudaUnavailable::NoNvrtc);
    }
    let mut version = 0;
    // SAFETY: the driver library is present; the out-pointer is valid. A missing symbol panics and
    // is caught by the caller's catch_unwind.
    let rc = unsafe { cudarc::driver::sys::cuDriverGetVersion(&mut version) };
    if rc != cudarc::driver::sys::CUresult::CUDA_SUCCESS {
        return Err(CudaUnavailable::Driver(format!(
            "cuDriverGetVersion: {rc:?}"
        )));
    }
    if version < MIN_DRIVER_VERSION {
        return Err(CudaUnavailable::DriverTooOld {
            found: version,
            required: MIN_DRIVER_VERSION,
        });
    }
    match CudaContext::device_count() {
        Ok(n) if n > 0 => {}
        Ok(_) => return Err(CudaUnavailable::NoDevice("device count is 0".into())),
        Err(e) => return Err(CudaUnavailable::NoDevice(e.to_string())),
    }
    let ctx = CudaContext::new(0).map_err(|e| CudaUnavailable::Driver(e.to_string()))?;
    // Single-stream engine: per-buffer read/write events would only add overhead.
    // SAFETY: called before the first allocation on this context.
    unsafe { ctx.disable_event_tracking() };
    let arch = ctx
        .compute_capability()
        .map_err(|e| CudaUnavailable::Driver(e.to_string()))?;
    let name = ctx.name().unwrap_or_else(|_| "unknown device".into());
    let stream = ctx.default_stream();
    let nvrtc = nvrtc_version().ok_or(CudaUnavailable::NoNvrtc)?;
    let rt = CudaRuntime {
        ctx,
        stream,
        arch,
        driver_version: version,
        nvrtc_version: nvrtc,
        name,
        modules: Mutex::new(HashMap::new()),
        functions: Mutex::new(HashMap::new()),
        blas: OnceLock::new(),
    };
    // The first NVRTC compile is the other place cudarc/NVRTC can fail hard (wrong builtins
    // library, unsupported arch); do it now so a broken setup reports here, not mid-training.
    rt.module("elementwise")
        .map_err(|e| CudaUnavailable::Compile(e.to_string()))?;
    Ok(Arc::new(rt))
}

impl CudaRuntime {
    pub fn context(&self) -> &Arc<CudaContext> {
        &self.ctx
    }
    /// The one stream every wrapper launches on.
    pub fn stream(&self) -> &Arc<CudaStream> {
        &self.stream
    }
    /// Compute capability (major, minor); kernels are compiled for exactly this `sm_XY`.
    pub fn arch(&self) -> (i32, i32) {
        self.arch
    }
    pub fn driver_version(&self) -> i32 {
        self.driver_version
    }
    pub fn nvrtc_version(&self) -> (i32, i32) {
        self.nvrtc_version
    }
    pub fn device_name(&self) -> &str {
        &self.name
    }

    /// The module of one kernel file, compiled on first use and cached for this context.
    pub fn module(&self, file: &str) -> Result<Arc<CudaModule>, CudaError> {
        let file: &'static KernelFile =
            kernel_file(file).ok_or_else(|| CudaError::UnknownKernel(file.to_string()))?;
        let mut modules = self.modules.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(m) = modules.get(file.name) {
            return Ok(m.clone());
        }
        let compiled = catch_unwind(AssertUnwindSafe(|| compile_cubin(file, self.arch, &[])))
            .map_err(|p| CudaError::Compile {
                file: file.name,
                log: panic_message(p),
            })??;
        let module = self
            .ctx
            .load_module(Ptx::from_binary(compiled.cubin))
            .map_err(|e| CudaError::Driver {
                kernel: file.name.to_string(),
                source: e,
            })?;
        modules.insert(file.name, module.clone());
        Ok(module)
    }

    /// A cached function handle for entry point `entry` of kernel file `file`.
    pub fn function(&self, file: &str, entry: &str) -> Result<CudaFunction, CudaError> {
        let kf = kernel_file(file).ok_or_else(|| CudaError::UnknownKernel(file.to_string()))?;
        let Some(&entry) = kf.entries.iter().find(|e| **e == entry) else {
            return Err(CudaError::UnknownKernel(format!("{file}::{entry}")));
        };
        if let Some(f) = self
            .functions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(entry)
        {
            return Ok(f.clone());
        }
        let module = self.module(file)?;
        let f = module.load_function(entry).map_err(|e| CudaError::Driver {
            kernel: entry.to_string(),
            source: e,
        })?;
        self.functions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(entry, f.clone());
        Ok(f)
    }

    /// The cuBLAS handle bound to [`Self::stream`], created on first use.
    pub fn blas(&self) -> Result<&CudaBlas, CudaError> {
        let r = self.blas.get_or_init(|| {
            // SAFETY: only dlopens candidate names.
            if !unsafe { cudarc::cublas::sys::is_culib_present() } {
                return Err("libcublas not found".to_string());
            }
            match catch_unwind(AssertUnwindSafe(|| CudaBlas::new(self.stream.clone()))) {
                Ok(Ok(b)) => Ok(b),
                Ok(Err(e)) => Err(e.to_string()),
                Err(p) => Err(panic_message(p)),
            }
        });
        r.as_ref().map_err(|e| CudaError::Blas {
            op: "cublasCreate",
            message: e.clone(),
        })
    }

    /// Blocks until all work queued on the stream has finished.
    pub fn synchronize(&self) -> Result<(), CudaError> {
        self.stream.synchronize().map_err(|e| CudaError::Driver {
            kernel: "synchronize".into(),
            source: e,
        })
    }
}
