//! Wrappers for loss.cu: block partial sums, then one block that scales the total into `out[0]`.

use cudarc::driver::{CudaSlice, LaunchConfig, PushKernelArg};

use super::{check_len, driver_err, grid_stride, to_i64};
use crate::cuda::{CudaError, CudaRuntime, Elem};

/// Partial sums go to a small scratch buffer; at most this many blocks (the reduce kernel reads
/// them with one 1024-thread block).
const MAX_PARTIAL_BLOCKS: usize = 1024;

fn reduce_cfg(n: usize) -> LaunchConfig {
    let mut cfg = grid_stride(n);
    cfg.grid_dim.0 = cfg.grid_dim.0.min(MAX_PARTIAL_BLOCKS as u32);
    cfg
}

fn mean_loss<T: Elem>(
    rt: &CudaRuntime,
    kernel: &'static str,
    z: &CudaSlice<T>,
    h: &CudaSlice<T>,
    beta: Option<f32>,
    out: &mut CudaSlice<f32>,
) -> Result<(), CudaError> {
    let n = z.len();
    check_len(kernel, "h", h, n)?;
    check_len(kernel, "out", out, 1)?;
    if n == 0 {
        return Err(CudaError::InvalidArgument {
            kernel,
            reason: "mean over zero elements".into(),
        });
    }
    let cfg = reduce_cfg(n);
    let nparts = cfg.grid_dim.0 as i32;
    let mut partial = rt
        .stream()
        .alloc_zeros::<f32>(nparts as usize)
        .map_err(driver_err(kernel))?;
    let n64 = to_i64(kernel, n)?;
    let f = rt.function("loss", &format!("{kernel}_partial_{}", T::SUFFIX))?;
    let mut b = rt.stream().launch_builder(&f);
    b.arg(&n64).arg(z).arg(h);
    if let Some(beta) = &beta {
        b.arg(beta);
    }
    b.arg(&mut partial);
    // SAFETY: argument types match the kernel; lengths checked above.
    unsafe { b.launch(cfg) }.map_err(driver_err(kernel))?;
    let f = rt.function("loss", "reduce_sum_scaled_f32")?;
    let scale = (1.0 / n as f64) as f32;
    let one = LaunchConfig {
        grid_dim: (1, 1, 1),
        block_dim: (1024, 1, 1),
        shared_mem_bytes: 0,
    };
    // SAFETY: as above.
    unsafe {
        rt.stream()
            .launch_builder(&f)
            .arg(&nparts)
            .arg(&partial)
            .arg(&scale)
            .arg(out)
            .launch(one)
    }
    .map_err(driver_err(kernel))?;
    Ok(())
}

/// Mean smooth-L1 between `z` and `h` (same length) into `out[0]`.
pub fn smooth_l1_fwd<T: Elem>(
    rt: &CudaRuntime,
    z: &CudaSlice<T>,
    h: &CudaSlice<T>,
    beta: f32,
    out: &mut CudaSlice<f32>,
) -> Result<(), CudaError> {
    mean_loss(rt, "smooth_l1", z, h, Some(beta), out)
}

/// Mean squared error between `z` and `h` into `out[0]`.
pub fn mse_fwd<T: Elem>(
    rt: &CudaRuntime,
    z: &CudaSlice<T>,
    h: &CudaSlice<T>,
    out: &mut CudaSlice<f32>,
) -> Result<(), CudaError> {
    mean_loss(rt, "mse", z, h, None, out)
}

/// `dz = upstream · d smooth_l1 / dz` (dh = −dz).
pub fn smooth_l1_bwd<T: Elem>(
    rt: &CudaRuntime,
    z: &CudaSlice<T>,
    h: &CudaSlice<T>,
    beta: f32,
    upstream: f32,
    dz: &mut CudaSlice<T>,
) -> Result<(), CudaError> {
    const K: &str = "smooth_l1_bwd";
    let n = z.len();
    check_len(K, "h", h, n)?;
    check_len(K, "dz", dz, n)?;
    let n64 = to_i64(K, n)?;
    let f = rt.function("loss", &format!("{K}_{}", T::SUFFIX))?;
    // SAFETY: as above.
    unsafe {
        rt.stream()
            .launch_builder(&f)
            .arg(&n64)
            .arg(z)
            .arg(h)
            .arg(&beta)
            .arg(&upstream)
            .arg(dz)
            .launch(grid_stride(n))
    }
    .map_err(driver_err(K))?;
    Ok(())
}

/// `dz = upstream · d mse / dz`.
pub fn mse_bwd<T: Elem>(
    rt: &CudaRuntime,
    z: &CudaSlice<T>,
    h: &CudaSlice<T>,
    upstream: f32,
    dz: &mut CudaSlice<T>,
) -> Result<(), CudaError> {
    const K: &str = "mse_bwd";
    let n = z.len();
    check_len(K, "h", h, n)?;
    check_len(K, "dz", dz, n)?;
    let n64 = to_i64(K, n)?;
    let f = rt.function("loss", &format!("{K}_{}", T::SUFFIX))?;
    // SAFETY: as above.
    unsafe {
        rt.stream()
            .launch_builder(&f)
            .arg(&n64)
            .arg(z)
            .arg(h)
            .arg(&upstream)
            .arg(dz)
            .launch(grid_stride(n))
    }
    .map_err(driver_err(K))?;
    Ok(())
}
