//! Launch wrappers: one safe function per kernel family, taking cudarc buffers and plain shapes.
//!
//! Each wrapper validates every buffer length against the shape (returning
//! [`CudaError::InvalidArgument`](super::CudaError::InvalidArgument), never launching out of
//! bounds), picks the launch configuration documented in the `.cu` header, and enqueues on the
//! runtime's stream. Nothing synchronises; copy results back with `stream().clone_dtoh`.

mod attention;
mod copy;
mod layout;
mod loss;
pub mod meta;
mod pointwise;
mod rows;
mod unary;
mod vicreg;

pub use attention::{attention_bwd, attention_fwd, ATTENTION_HEAD_DIMS};
pub use copy::{binary_strided, reduce, strided_copy, CopyElem};
pub use layout::{gather_rows, patchify, scatter_add_rows, unpatchify};
pub use loss::{mse_bwd, mse_fwd, smooth_l1_bwd, smooth_l1_fwd};
pub use pointwise::{
    adamw_step, add, axpy, cast_bf16_to_f32, cast_f32_to_bf16, ema_update, fill, gelu_bwd,
    gelu_fwd, mul, scale,
};
pub use rows::{layernorm_bwd, layernorm_fwd, softmax_bwd, softmax_fwd};
pub use unary::{unary_bwd, unary_fwd, UnaryOp};
pub use vicreg::{vicreg, VicregScratch};

use cudarc::driver::{CudaSlice, DriverError, LaunchConfig};

use super::CudaError;

/// Fails unless `buf` holds at least `need` elements.
pub(crate) fn check_len<T>(
    kernel: &'static str,
    what: &str,
    buf: &CudaSlice<T>,
    need: usize,
) -> Result<(), CudaError> {
    if buf.len() < need {
        return Err(CudaError::InvalidArgument {
            kernel,
            reason: format!(
                "{what} holds {} elements, the shape needs {need}",
                buf.len()
            ),
        });
    }
    Ok(())
}

/// Converts a size to the kernel's `int` parameter, failing instead of wrapping.
pub(crate) fn to_i32(kernel: &'static str, what: &str, v: usize) -> Result<i32, CudaError> {
    i32::try_from(v).map_err(|_| CudaError::InvalidArgument {
        kernel,
        reason: format!("{what} = {v} exceeds i32"),
    })
}

pub(crate) fn to_i64(kernel: &'static str, v: usize) -> Result<i64, CudaError> {
    i64::try_from(v).map_err(|_| CudaError::InvalidArgument {
        kernel,
        reason: format!("size {v} exceeds i64"),
    })
}

/// Grid-stride launch: 256 threads, enough blocks to cover `n` up to a cap that fills any GPU.
pub(crate) fn grid_stride(n: usize) -> LaunchConfig {
    let blocks = n.div_ceil(256).clamp(1, 8192) as u32;
    LaunchConfig {
        grid_dim: (blocks, 1, 1),
        block_dim: (256, 1, 1),
        shared_mem_bytes: 0,
    }
}

/// One warp per row, 4 rows per 128-thread block.
pub(crate) fn warp_per_row(rows: usize) -> Result<LaunchConfig, CudaError> {
    let blocks =
        u32::try_from(rows.div_ceil(4).max(1)).map_err(|_| CudaError::InvalidArgument {
            kernel: "warp_per_row",
            reason: format!("{rows} rows"),
        })?;
    Ok(LaunchConfig {
        grid_dim: (blocks, 1, 1),
        block_dim: (128, 1, 1),
        shared_mem_bytes: 0,
    })
}

pub(crate) fn driver_err(kernel: &'static str) -> impl Fn(DriverError) -> CudaError {
    move |source| CudaError::Driver {
        kernel: kernel.to_string(),
        source,
    }
}

/// Device address 0, pushed for optional pointer parameters (`weight`, `de_var`, …).
pub(crate) const NULL_PTR: u64 = 0;
