//! Wrappers for copy.cu: strided copy, strided binary ops and reductions over any dims.
//! Operands are whole cudarc buffers plus element offsets and strides in the descriptor, so
//! views of a buffer (narrow, transpose, broadcast) need no sub-slices.

use cudarc::driver::{CudaSlice, DeviceRepr, LaunchConfig, PushKernelArg};

use super::meta::{BinaryOp, ReduceMeta, ReduceOp, StridedMeta};
use super::{check_len, driver_err, grid_stride, to_i64};
use crate::cuda::{CudaError, CudaRuntime, Elem};

/// Element types `strided_copy` moves bitwise: f32, bf16 bits (`u16`) and i64 indices.
pub trait CopyElem: DeviceRepr + Copy + Send + Sync + 'static {
    /// The entry-point suffix.
    const SUFFIX: &'static str;
}
impl CopyElem for f32 {
    const SUFFIX: &'static str = "f32";
}
impl CopyElem for u16 {
    const SUFFIX: &'static str = "bf16";
}
impl CopyElem for i64 {
    const SUFFIX: &'static str = "i64";
}

/// `dst[b(i)] = src[a(i)]` for every coordinate of `m` (a = source, b = destination layout).
/// Overlapping source and destination regions are not supported (the buffers are distinct).
pub fn strided_copy<T: CopyElem>(
    rt: &CudaRuntime,
    m: &StridedMeta,
    src: &CudaSlice<T>,
    dst: &mut CudaSlice<T>,
) -> Result<(), CudaError> {
    const K: &str = "strided_copy";
    let n = m.elem_count();
    if n == 0 {
        return Ok(());
    }
    check_len(K, "src", src, m.span_a())?;
    check_len(K, "dst", dst, m.span_b())?;
    let f = rt.function("copy", &format!("{K}_{}", T::SUFFIX))?;
    let n64 = to_i64(K, n)?;
    // SAFETY: argument types match the kernel; every offset the descriptor reaches is in bounds.
    unsafe {
        rt.stream()
            .launch_builder(&f)
            .arg(&n64)
            .arg(m)
            .arg(src)
            .arg(dst)
            .launch(grid_stride(n))
    }
    .map_err(driver_err(K))?;
    Ok(())
}

/// `out[i] = a(i) ∘ b(i)` over the coordinates of `m`; `out` is contiguous (stride-0 operand
/// dims broadcast).
pub fn binary_strided<T: Elem>(
    rt: &CudaRuntime,
    op: BinaryOp,
    m: &StridedMeta,
    a: &CudaSlice<T>,
    b: &CudaSlice<T>,
    out: &mut CudaSlice<T>,
) -> Result<(), CudaError> {
    const K: &str = "binary_strided";
    let n = m.elem_count();
    if n == 0 {
        return Ok(());
    }
    check_len(K, "a", a, m.span_a())?;
    check_len(K, "b", b, m.span_b())?;
    check_len(K, "out", out, n)?;
    let f = rt.function("copy", &format!("{K}_{}", T::SUFFIX))?;
    let (n64, code) = (to_i64(K, n)?, op as i32);
    // SAFETY: as above.
    unsafe {
        rt.stream()
            .launch_builder(&f)
            .arg(&n64)
            .arg(&code)
            .arg(m)
            .arg(a)
            .arg(b)
            .arg(out)
            .launch(grid_stride(n))
    }
    .map_err(driver_err(K))?;
    Ok(())
}

/// Sum or max of `x` over the reduced dims of `m` into contiguous `out` (`m.out_count()`
/// elements). An empty reduction gives 0 (sum) or −∞ (max).
pub fn reduce<T: Elem>(
    rt: &CudaRuntime,
    op: ReduceOp,
    m: &ReduceMeta,
    x: &CudaSlice<T>,
    out: &mut CudaSlice<T>,
) -> Result<(), CudaError> {
    const K: &str = "reduce";
    let (n_out, n_red) = (m.out_count(), m.red_count());
    if n_out == 0 {
        return Ok(());
    }
    check_len(K, "x", x, m.span())?;
    check_len(K, "out", out, n_out)?;
    let (entry, cfg) = if m.outputs_contiguous() {
        let tiles = n_out.div_ceil(32).clamp(1, 65535) as u32;
        let cfg = LaunchConfig {
            grid_dim: (tiles, 1, 1),
            block_dim: (32, 8, 1),
            shared_mem_bytes: 0,
        };
        ("reduce_cols", cfg)
    } else {
        let cfg = LaunchConfig {
            grid_dim: (n_out.clamp(1, 65535) as u32, 1, 1),
            block_dim: (256, 1, 1),
            shared_mem_bytes: 0,
        };
        ("reduce_rows", cfg)
    };
    let f = rt.function("copy", &format!("{entry}_{}", T::SUFFIX))?;
    let (o64, r64, code) = (to_i64(K, n_out)?, to_i64(K, n_red)?, op as i32);
    // SAFETY: as above; the span check covers every (output, reduced) pair.
    unsafe {
        rt.stream()
            .launch_builder(&f)
            .arg(&o64)
            .arg(&r64)
            .arg(&code)
            .arg(m)
            .arg(x)
            .arg(out)
            .launch(cfg)
    }
    .map_err(driver_err(K))?;
    Ok(())
}
