//! Build script: compiles the CUDA emulation harness (rung 2 of the verification ladder) into a
//! static library, and optionally bakes an NVRTC RUNPATH into this package's own test binaries.
//!
//! Needs only a C++20 compiler: bf16 is header-free in common.cuh, so no NVIDIA headers or wheels
//! are involved, and nothing here looks for a GPU, a driver or nvcc.

fn main() {
    for path in ["emu/emu_cuda.hpp", "emu/harness.cpp", "cuda"] {
        println!("cargo:rerun-if-changed={path}");
    }
    cc::Build::new()
        .cpp(true)
        .std("c++20")
        .file("emu/harness.cpp")
        // The emulator is slow at -O0 (dev profile of a workspace member); always optimise it.
        .opt_level(2)
        .debug(false)
        // `#pragma unroll` is for NVRTC; g++ would warn on every one.
        .flag("-Wno-unknown-pragmas")
        .compile("jepa_emu");

    // cudarc dlopens bare names; a RUNPATH lets test binaries find the wheel's libnvrtc.so.12
    // without LD_LIBRARY_PATH (cuda.md §5). Reaches only this package's own targets.
    println!("cargo:rerun-if-env-changed=NVRTC_LIB_DIR");
    if let Ok(dir) = std::env::var("NVRTC_LIB_DIR") {
        if !dir.is_empty() {
            println!("cargo:rustc-link-arg=-Wl,-rpath,{dir}");
        }
    }
}
