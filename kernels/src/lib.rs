//! Compute kernels for `jepa`.
//!
//! Every op exists twice: a plain scalar reference (`*_ref`, readable, f64 accumulation where it
//! matters) and a fast version (SIMD + rayon, no allocation in hot loops). The reference is the
//! test oracle for the fast CPU version, the CUDA emulation harness and the real GPU.
//!
//! Kernels work on contiguous row-major `f32` slices and trust their caller on sizes; the engine
//! validates shapes and returns typed errors before it calls in here.
//!
//! [`cuda`] holds the CUDA C sources (`kernels/cuda/*.cu`), compiled at run time by NVRTC behind a
//! probe that never panics, and launch wrappers over cudarc buffers.

pub mod cpu;
pub mod cuda;
