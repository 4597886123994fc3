//! NVRTC compilation of a kernel file to CUBIN for one architecture, through `cudarc::nvrtc::sys`
//! (the safe API only returns PTX, and CUBIN is what we load: it needs no driver JIT, §4).
//!
//! Callers must have checked that NVRTC is present ([`nvrtc_present`]); cudarc panics otherwise.

use std::ffi::{CStr, CString};

use cudarc::nvrtc::sys;

use super::registry::KernelFile;
use super::CudaError;

/// True when `libnvrtc` can be loaded (never panics).
pub fn nvrtc_present() -> bool {
    // SAFETY: only tries to dlopen the candidate names; no symbol is called.
    unsafe { sys::is_culib_present() }
}

/// NVRTC's (major, minor) version; `None` when the library is absent.
pub fn nvrtc_version() -> Option<(i32, i32)> {
    if !nvrtc_present() {
        return None;
    }
    let (mut major, mut minor) = (0, 0);
    // SAFETY: the library is present; both out-pointers are valid.
    let rc = unsafe { sys::nvrtcVersion(&mut major, &mut minor) };
    (rc == sys::nvrtcResult::NVRTC_SUCCESS).then_some((major, minor))
}

/// Options every production compile uses, without the architecture.
pub fn base_options() -> Vec<String> {
    // FMA contraction stays on (NVRTC default); no --use_fast_math: no kernel header asks for it.
    vec!["-std=c++17".into(), "-lineinfo".into()]
}

/// Extra options of the rung-1 budget check: ptxas prints per-kernel resources and warns on spills.
pub fn report_options() -> Vec<String> {
    vec![
        "-Xptxas=-v".into(),
        "-Xptxas=--warn-on-spills".into(),
        "-Xptxas=--warn-on-local-memory-usage".into(),
        "-Xptxas=--warn-on-double-precision-use".into(),
    ]
}

/// A compiled module: the CUBIN image and NVRTC's log (ptxas report included when requested).
#[derive(Debug, Clone)]
pub struct Compiled {
    pub cubin: Vec<u8>,
    pub log: String,
}

/// Compiles `file` (with `common.cuh` prepended) for `sm_{major}{minor}` to CUBIN.
pub fn compile_cubin(
    file: &KernelFile,
    arch: (i32, i32),
    extra: &[String],
) -> Result<Compiled, CudaError> {
    if !nvrtc_present() {
        return Err(CudaError::Unavailable(super::CudaUnavailable::NoNvrtc));
    }
    let err = |log: String| CudaError::Compile {
        file: file.name,
        log,
    };
    let src =
        CString::new(file.full_source()).map_err(|e| err(format!("source has a NUL byte: {e}")))?;
    let name = CString::new(format!("{}.cu", file.name)).map_err(|e| err(e.to_string()))?;
    let mut opts = base_options();
    opts.push(format!("--gpu-architecture=sm_{}{}", arch.0, arch.1));
    opts.extend(extra.iter().cloned());
    let c_opts: Vec<CString> = opts
        .iter()
        .map(|o| CString::new(o.as_str()))
        .collect::<Result<_, _>>()
        .map_err(|e| err(e.to_string()))?;
    let c_ptrs: Vec<*const std::ffi::c_char> = c_opts.iter().map(|o| o.as_ptr()).collect();

    let mut prog: sys::nvrtcProgram = std::ptr::null_mut();
    // SAFETY: NVRTC is present; every pointer outlives the calls; prog is destroyed below.
    unsafe {
        let rc = sys::nvrtcCreateProgram(
            &mut prog,
            src.as_ptr(),
            name.as_ptr(),
            0,
            std::ptr::null(),
            std::ptr::null(),
        );
        if rc != sys::nvrtcResult::NVRTC_SUCCESS {
            return Err(err(format!("nvrtcCreateProgram: {}", error_string(rc))));
        }
        let rc = sys::nvrtcCompileProgram(prog, c_ptrs.len() as i32, c_ptrs.as_ptr());
        let log = program_log(prog);
        let result = if rc != sys::nvrtcResult::NVRTC_SUCCESS {
            Err(err(format!(
                "{} (options {:?})\n{log}",
                error_string(rc),
                opts
            )))
        } else {
            cubin(prog)
                .map(|cubin| Compiled { cubin, log })
                .map_err(err)
        };
        sys::nvrtcDestroyProgram(&mut prog);
        result
    }
}

unsafe fn error_string(rc: sys::nvrtcResult) -> String {
    let p = sys::nvrtcGetErrorString(rc);
    if p.is_null() {
        format!("{rc:?}")
    } else {
        CStr::from_ptr(p).to_string_lossy().into_owned()
    }
}

unsafe fn program_log(prog: sys::nvrtcProgram) -> String {
    let mut size = 0usize;
    if sys::nvrtcGetProgramLogSize(prog, &mut size) != sys::nvrtcResult::NVRTC_SUCCESS || size == 0
    {
        return String::new();
    }
    let mut buf = vec![0u8; size];
    if sys::nvrtcGetProgramLog(prog, buf.as_mut_ptr().cast()) != sys::nvrtcResult::NVRTC_SUCCESS {
        return String::new();
    }
    String::from_utf8_lossy(&buf)
        .trim_end_matches('\0')
        .trim_end()
        .to_string()
}

unsafe fn cubin(prog: sys::nvrtcProgram) -> Result<Vec<u8>, String> {
    let mut size = 0usize;
    let rc = sys::nvrtcGetCUBINSize(prog, &mut size);
    if rc != sys::nvrtcResult::NVRTC_SUCCESS || size == 0 {
        return Err(format!("nvrtcGetCUBINSize: {}", error_string(rc)));
    }
    let mut buf = vec![0u8; size];
    let rc = sys::nvrtcGetCUBIN(prog, buf.as_mut_ptr().cast());
    if rc != sys::nvrtcResult::NVRTC_SUCCESS {
        return Err(format!("nvrtcGetCUBIN: {}", error_string(rc)));
    }
    Ok(buf)
}
