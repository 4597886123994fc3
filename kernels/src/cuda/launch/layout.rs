//! Wrappers for gather.cu and patchify.cu (relayouts).

use cudarc::driver::{CudaSlice, PushKernelArg};

use super::{check_len, driver_err, grid_stride, to_i32};
use crate::cuda::{CudaError, CudaRuntime, Elem};

/// `out[i, j, :] = x[i, index[i, j], :]`; x `[b, n, d]`, index `[b, k]` i32 in `0..n`
/// (out-of-range entries give zero rows), out `[b, k, d]`.
#[allow(clippy::too_many_arguments)]
pub fn gather_rows<T: Elem>(
    rt: &CudaRuntime,
    b: usize,
    n: usize,
    d: usize,
    k: usize,
    x: &CudaSlice<T>,
    index: &CudaSlice<i32>,
    out: &mut CudaSlice<T>,
) -> Result<(), CudaError> {
    const K: &str = "gather_rows";
    check_len(K, "x", x, b * n * d)?;
    check_len(K, "index", index, b * k)?;
    check_len(K, "out", out, b * k * d)?;
    let dims = [
        to_i32(K, "b", b)?,
        to_i32(K, "n", n)?,
        to_i32(K, "d", d)?,
        to_i32(K, "k", k)?,
    ];
    let f = rt.function("gather", &format!("{K}_{}", T::SUFFIX))?;
    // SAFETY: argument types match the kernel; lengths checked above.
    unsafe {
        rt.stream()
            .launch_builder(&f)
            .arg(&dims[0])
            .arg(&dims[1])
            .arg(&dims[2])
            .arg(&dims[3])
            .arg(x)
            .arg(index)
            .arg(out)
            .launch(grid_stride(b * k * d))
    }
    .map_err(driver_err(K))?;
    Ok(())
}

/// Backward of [`gather_rows`]: `dx` (`[b, n, d]` f32) is overwritten with the scatter-add of
/// `dout` (`[b, k, d]`); repeated indices accumulate (float atomics, so the order of the
/// additions, and the last bits, vary run to run).
#[allow(clippy::too_many_arguments)]
pub fn scatter_add_rows<T: Elem>(
    rt: &CudaRuntime,
    b: usize,
    n: usize,
    d: usize,
    k: usize,
    dout: &CudaSlice<T>,
    index: &CudaSlice<i32>,
    dx: &mut CudaSlice<f32>,
) -> Result<(), CudaError> {
    const K: &str = "scatter_add_rows";
    check_len(K, "dout", dout, b * k * d)?;
    check_len(K, "index", index, b * k)?;
    check_len(K, "dx", dx, b * n * d)?;
    rt.stream().memset_zeros(dx).map_err(driver_err(K))?;
    let dims = [
        to_i32(K, "b", b)?,
        to_i32(K, "n", n)?,
        to_i32(K, "d", d)?,
        to_i32(K, "k", k)?,
    ];
    let f = rt.function("gather", &format!("{K}_{}", T::SUFFIX))?;
    // SAFETY: as above.
    unsafe {
        rt.stream()
            .launch_builder(&f)
            .arg(&dims[0])
            .arg(&dims[1])
            .arg(&dims[2])
            .arg(&dims[3])
            .arg(dout)
            .arg(index)
            .arg(dx)
            .launch(grid_stride(b * k * d))
    }
    .map_err(driver_err(K))?;
    Ok(())
}

fn patch_dims(
    kernel: &'static str,
    b: usize,
    c: usize,
    h: usize,
    w: usize,
    p: usize,
) -> Result<[i32; 5], CudaError> {
    if p == 0 || !h.is_multiple_of(p) || !w.is_multiple_of(p) {
        return Err(CudaError::InvalidArgument {
            kernel,
            reason: format!("image {h}×{w} is not a multiple of patch {p}"),
        });
    }
    Ok([
        to_i32(kernel, "b", b)?,
        to_i32(kernel, "c", c)?,
        to_i32(kernel, "h", h)?,
        to_i32(kernel, "w", w)?,
        to_i32(kernel, "p", p)?,
    ])
}

/// img `[b, c, h, w]` → out `[b, (h/p)·(w/p), c·p·p]` (see patchify.cu).
#[allow(clippy::too_many_arguments)]
pub fn patchify<T: Elem>(
    rt: &CudaRuntime,
    b: usize,
    c: usize,
    h: usize,
    w: usize,
    p: usize,
    img: &CudaSlice<T>,
    out: &mut CudaSlice<T>,
) -> Result<(), CudaError> {
    relayout(rt, "patchify", [b, c, h, w, p], img, out)
}

/// Adjoint of [`patchify`]: patches back into `[b, c, h, w]`.
#[allow(clippy::too_many_arguments)]
pub fn unpatchify<T: Elem>(
    rt: &CudaRuntime,
    b: usize,
    c: usize,
    h: usize,
    w: usize,
    p: usize,
    patches: &CudaSlice<T>,
    dimg: &mut CudaSlice<T>,
) -> Result<(), CudaError> {
    relayout(rt, "unpatchify", [b, c, h, w, p], patches, dimg)
}

fn relayout<T: Elem>(
    rt: &CudaRuntime,
    kernel: &'static str,
    s: [usize; 5],
    src: &CudaSlice<T>,
    dst: &mut CudaSlice<T>,
) -> Result<(), CudaError> {
    let [b, c, h, w, p] = s;
    let dims = patch_dims(kernel, b, c, h, w, p)?;
    let total = b * c * h * w;
    check_len(kernel, "input", src, total)?;
    check_len(kernel, "output", dst, total)?;
    let f = rt.function("patchify", &format!("{kernel}_{}", T::SUFFIX))?;
    // SAFETY: argument types match the kernel; lengths checked above.
    unsafe {
        rt.stream()
            .launch_builder(&f)
            .arg(&dims[0])
            .arg(&dims[1])
            .arg(&dims[2])
            .arg(&dims[3])
            .arg(&dims[4])
            .arg(src)
            .arg(dst)
            .launch(grid_stride(total))
    }
    .map_err(driver_err(kernel))?;
    Ok(())
}
