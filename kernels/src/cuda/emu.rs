//! Bindings to the CUDA emulation harness (`kernels/emu/harness.cpp`, rung 2 of the verification
//! ladder): the unmodified `.cu` kernels compiled for the CPU by g++ through `emu_cuda.hpp`.
//!
//! The interface mirrors `cuLaunchKernel`: a kernel name, grid and block dimensions, and one
//! pointer per kernel parameter. Buffers are host memory. Used by the emulation tests; it is a
//! verification tool, far too slow for real work.

use std::ffi::{c_char, c_int, c_void, CStr, CString};

#[repr(C)]
#[derive(Clone, Copy, Debug)]
struct EmuDims {
    gx: u32,
    gy: u32,
    gz: u32,
    bx: u32,
    by: u32,
    bz: u32,
    smem: u32,
}

extern "C" {
    fn emu_launch(
        name: *const c_char,
        dims: EmuDims,
        args: *mut *mut c_void,
        nargs: c_int,
    ) -> c_int;
    fn emu_error() -> *const c_char;
    fn emu_set_fibers(on: c_int);
    fn emu_kernel_count() -> c_int;
    fn emu_kernel_name(i: c_int) -> *const c_char;
}

/// Kernel parameters, each in its own 8-byte-aligned slot (the harness reads them with the
/// kernel's declared types, so the Rust type pushed must match the `.cu` signature exactly).
/// A slot is one or more 8-byte words, so by-value structs fit too.
#[derive(Default)]
pub struct EmuArgs {
    slots: Vec<Vec<u64>>,
}

impl EmuArgs {
    pub fn new() -> Self {
        Self::default()
    }
    fn push_bytes(&mut self, bytes: &[u8]) -> &mut Self {
        let mut words = vec![0u64; bytes.len().div_ceil(8).max(1)];
        for (w, chunk) in words.iter_mut().zip(bytes.chunks(8)) {
            let mut b = [0u8; 8];
            b[..chunk.len()].copy_from_slice(chunk);
            *w = u64::from_ne_bytes(b);
        }
        self.slots.push(words);
        self
    }
    /// A by-value struct parameter (e.g. a `#[repr(C)]` layout descriptor); `T` must have the
    /// `.cu` struct's exact layout, no padding bytes (make padding an explicit field) and an
    /// alignment of at most 8.
    pub fn raw<T: Copy>(&mut self, v: &T) -> &mut Self {
        // SAFETY: `T: Copy` is plain data; reading its bytes is valid for size_of::<T>().
        let bytes = unsafe {
            std::slice::from_raw_parts((v as *const T).cast::<u8>(), std::mem::size_of::<T>())
        };
        self.push_bytes(bytes)
    }
    /// An `int` parameter.
    pub fn i32(&mut self, v: i32) -> &mut Self {
        self.push_bytes(&v.to_ne_bytes())
    }
    /// A `long long` parameter.
    pub fn i64(&mut self, v: i64) -> &mut Self {
        self.push_bytes(&v.to_ne_bytes())
    }
    /// A `float` parameter.
    pub fn f32(&mut self, v: f32) -> &mut Self {
        self.push_bytes(&v.to_ne_bytes())
    }
    /// A pointer parameter (null for optional buffers).
    pub fn ptr<T>(&mut self, p: *const T) -> &mut Self {
        self.push_bytes(&(p as usize).to_ne_bytes())
    }
}

/// Selects fiber mode (deterministic, fast; the default for tests) or OS-thread mode.
pub fn set_fibers(on: bool) {
    // SAFETY: stores an integer in the harness.
    unsafe { emu_set_fibers(on as c_int) }
}

/// Every kernel the harness can run.
pub fn kernel_names() -> Vec<String> {
    // SAFETY: indices are within the count; names are static C strings.
    unsafe {
        (0..emu_kernel_count())
            .filter_map(|i| {
                let p = emu_kernel_name(i);
                (!p.is_null()).then(|| CStr::from_ptr(p).to_string_lossy().into_owned())
            })
            .collect()
    }
}

/// Runs `name<<<grid, block>>>(args…)` on the CPU; `Err` carries the emulator's report
/// (divergent barrier, invalid shuffle, deadlock, argument count mismatch, unknown kernel).
///
/// # Safety
/// Every pointer in `args` must be valid for all accesses the kernel makes with the given shapes.
pub unsafe fn launch(
    name: &str,
    grid: (u32, u32, u32),
    block: (u32, u32, u32),
    args: &mut EmuArgs,
) -> Result<(), String> {
    let cname = CString::new(name).map_err(|e| e.to_string())?;
    let dims = EmuDims {
        gx: grid.0,
        gy: grid.1,
        gz: grid.2,
        bx: block.0,
        by: block.1,
        bz: block.2,
        smem: 0,
    };
    let mut ptrs: Vec<*mut c_void> = args
        .slots
        .iter_mut()
        .map(|b| b.as_mut_ptr() as *mut c_void)
        .collect();
    let rc = emu_launch(cname.as_ptr(), dims, ptrs.as_mut_ptr(), ptrs.len() as c_int);
    if rc == 0 {
        Ok(())
    } else {
        Err(CStr::from_ptr(emu_error()).to_string_lossy().into_owned())
    }
}
