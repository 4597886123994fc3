//! CPU kernels. One file per op family, reference and fast version side by side.
//!
//! Conventions shared by every kernel in this module:
//! - slices are contiguous, row-major `f32`; shapes are passed explicitly;
//! - outputs are overwritten (never accumulated into) unless the doc says otherwise;
//! - `*_ref` is the scalar reference, the name without suffix is the fast version;
//! - fast versions parallelise with rayon (respecting `RAYON_NUM_THREADS`) above a minimum
//!   amount of work and never allocate inside their hot loops.

pub mod adamw;
pub mod alloc;
pub mod attention;
pub mod denormals;
pub mod ema;
pub mod gather;
pub mod gelu;
pub mod gemm;
pub mod layernorm;
pub mod loss;
pub mod patchify;
pub mod simd;
pub mod softmax;
pub mod vicreg;
