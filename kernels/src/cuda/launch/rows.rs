//! Wrappers for layernorm.cu and softmax.cu (one warp per row).

use cudarc::driver::{CudaSlice, LaunchConfig, PushKernelArg};

use super::{check_len, driver_err, to_i32, warp_per_row, NULL_PTR};
use crate::cuda::{CudaError, CudaRuntime, Elem};

/// LayerNorm forward over `[rows, dim]`; `weight`/`bias` are `[dim]` f32 or `None`; writes
/// `out` (`[rows, dim]`) and the `mean`/`rstd` (`[rows]` f32) that the backward needs.
#[allow(clippy::too_many_arguments)]
pub fn layernorm_fwd<T: Elem>(
    rt: &CudaRuntime,
    rows: usize,
    dim: usize,
    eps: f32,
    x: &CudaSlice<T>,
    weight: Option<&CudaSlice<f32>>,
    bias: Option<&CudaSlice<f32>>,
    out: &mut CudaSlice<T>,
    mean: &mut CudaSlice<f32>,
    rstd: &mut CudaSlice<f32>,
) -> Result<(), CudaError> {
    const K: &str = "layernorm_fwd";
    check_len(K, "x", x, rows * dim)?;
    check_len(K, "out", out, rows * dim)?;
    check_len(K, "mean", mean, rows)?;
    check_len(K, "rstd", rstd, rows)?;
    if let Some(w) = weight {
        check_len(K, "weight", w, dim)?;
    }
    if let Some(b) = bias {
        check_len(K, "bias", b, dim)?;
    }
    if rows == 0 || dim == 0 {
        return Ok(());
    }
    let (r, d) = (to_i32(K, "rows", rows)?, to_i32(K, "dim", dim)?);
    let f = rt.function("layernorm", &format!("{K}_{}", T::SUFFIX))?;
    let mut b = rt.stream().launch_builder(&f);
    b.arg(&r).arg(&d).arg(&eps).arg(x);
    match weight {
        Some(w) => b.arg(w),
        None => b.arg(&NULL_PTR),
    };
    match bias {
        Some(v) => b.arg(v),
        None => b.arg(&NULL_PTR),
    };
    b.arg(out).arg(mean).arg(rstd);
    // SAFETY: argument types match the kernel; lengths checked above.
    unsafe { b.launch(warp_per_row(rows)?) }.map_err(driver_err(K))?;
    Ok(())
}

/// LayerNorm backward: overwrites `dx`, and `dweight`/`dbias` (`[dim]` f32) when given.
#[allow(clippy::too_many_arguments)]
pub fn layernorm_bwd<T: Elem>(
    rt: &CudaRuntime,
    rows: usize,
    dim: usize,
    x: &CudaSlice<T>,
    weight: Option<&CudaSlice<f32>>,
    mean: &CudaSlice<f32>,
    rstd: &CudaSlice<f32>,
    dout: &CudaSlice<T>,
    dx: &mut CudaSlice<T>,
    dweight: Option<&mut CudaSlice<f32>>,
    dbias: Option<&mut CudaSlice<f32>>,
) -> Result<(), CudaError> {
    const K: &str = "layernorm_bwd";
    check_len(K, "x", x, rows * dim)?;
    check_len(K, "dout", dout, rows * dim)?;
    check_len(K, "dx", dx, rows * dim)?;
    check_len(K, "mean", mean, rows)?;
    check_len(K, "rstd", rstd, rows)?;
    if let Some(w) = weight {
        check_len(K, "weight", w, dim)?;
    }
    if let Some(w) = &dweight {
        check_len(K, "dweight", w, dim)?;
    }
    if let Some(b) = &dbias {
        check_len(K, "dbias", b, dim)?;
    }
    if rows == 0 || dim == 0 {
        return Ok(());
    }
    let (r, d) = (to_i32(K, "rows", rows)?, to_i32(K, "dim", dim)?);
    let f = rt.function("layernorm", &format!("layernorm_bwd_dx_{}", T::SUFFIX))?;
    let mut b = rt.stream().launch_builder(&f);
    b.arg(&r).arg(&d).arg(x);
    match weight {
        Some(w) => b.arg(w),
        None => b.arg(&NULL_PTR),
    };
    b.arg(mean).arg(rstd).arg(dout).arg(dx);
    // SAFETY: as above.
    unsafe { b.launch(warp_per_row(rows)?) }.map_err(driver_err(K))?;

    if dweight.is_none() && dbias.is_none() {
        return Ok(());
    }
    let f = rt.function("layernorm", &format!("layernorm_bwd_params_{}", T::SUFFIX))?;
    let mut b = rt.stream().launch_builder(&f);
    b.arg(&r).arg(&d).arg(x).arg(mean).arg(rstd).arg(dout);
    match dweight {
        Some(w) => b.arg(w),
        None => b.arg(&NULL_PTR),
    };
    match dbias {
        Some(v) => b.arg(v),
        None => b.arg(&NULL_PTR),
    };
    let cfg = LaunchConfig {
        grid_dim: (dim.div_ceil(32) as u32, 1, 1),
        block_dim: (32, 8, 1),
        shared_mem_bytes: 0,
    };
    // SAFETY: as above.
    unsafe { b.launch(cfg) }.map_err(driver_err(K))?;
    Ok(())
}

/// Row softmax over `[rows, dim]`.
pub fn softmax_fwd<T: Elem>(
    rt: &CudaRuntime,
    rows: usize,
    dim: usize,
    x: &CudaSlice<T>,
    out: &mut CudaSlice<T>,
) -> Result<(), CudaError> {
    const K: &str = "softmax_fwd";
    check_len(K, "x", x, rows * dim)?;
    check_len(K, "out", out, rows * dim)?;
    if rows == 0 || dim == 0 {
        return Ok(());
    }
    let (r, d) = (to_i32(K, "rows", rows)?, to_i32(K, "dim", dim)?);
    let f = rt.function("softmax", &format!("{K}_{}", T::SUFFIX))?;
    // SAFETY: as above.
    unsafe {
        rt.stream()
            .launch_builder(&f)
            .arg(&r)
            .arg(&d)
            .arg(x)
            .arg(out)
            .launch(warp_per_row(rows)?)
    }
    .map_err(driver_err(K))?;
    Ok(())
}

/// Softmax backward from the forward output: `dx = out ⊙ (dout − Σ dout⊙out)` per row.
pub fn softmax_bwd<T: Elem>(
    rt: &CudaRuntime,
    rows: usize,
    dim: usize,
    out: &CudaSlice<T>,
    dout: &CudaSlice<T>,
    dx: &mut CudaSlice<T>,
) -> Result<(), CudaError> {
    const K: &str = "softmax_bwd";
    check_len(K, "out", out, rows * dim)?;
    check_len(K, "dout", dout, rows * dim)?;
    check_len(K, "dx", dx, rows * dim)?;
    if rows == 0 || dim == 0 {
        return Ok(());
    }
    let (r, d) = (to_i32(K, "rows", rows)?, to_i32(K, "dim", dim)?);
    let f = rt.function("softmax", &format!("{K}_{}", T::SUFFIX))?;
    // SAFETY: as above.
    unsafe {
        rt.stream()
            .launch_builder(&f)
            .arg(&r)
            .arg(&d)
            .arg(out)
            .arg(dout)
            .arg(dx)
            .launch(warp_per_row(rows)?)
    }
    .map_err(driver_err(K))?;
    Ok(())
}
