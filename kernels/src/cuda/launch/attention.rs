//! Wrappers for attention.cu (flash-style forward, key- and query-parallel backward).

use cudarc::driver::{CudaSlice, LaunchConfig, PushKernelArg};

use super::{check_len, driver_err, to_i32, to_i64, warp_per_row};
use crate::cpu::attention::AttnShape;
use crate::cuda::{CudaError, CudaRuntime, Elem};

/// Head dimensions with a compiled instantiation.
pub const ATTENTION_HEAD_DIMS: [usize; 3] = [32, 64, 128];

fn validate<T>(
    kernel: &'static str,
    s: AttnShape,
    bufs: &[(&str, &CudaSlice<T>)],
) -> Result<(i32, u32), CudaError> {
    if !ATTENTION_HEAD_DIMS.contains(&s.d) {
        return Err(CudaError::InvalidArgument {
            kernel,
            reason: format!("head dim {} not in {ATTENTION_HEAD_DIMS:?}", s.d),
        });
    }
    let bh = s.b * s.h;
    if bh == 0 || s.n == 0 || bh > 65535 {
        return Err(CudaError::InvalidArgument {
            kernel,
            reason: format!("b·h = {bh}, n = {} (need 1..=65535, ≥ 1)", s.n),
        });
    }
    for (what, buf) in bufs {
        check_len(kernel, what, buf, bh * s.n * s.d)?;
    }
    Ok((to_i32(kernel, "n", s.n)?, bh as u32))
}

/// `out = softmax(q·kᵀ·scale)·v` per (batch, head); writes `lse` (`[b, h, n]` f32) for backward.
#[allow(clippy::too_many_arguments)]
pub fn attention_fwd<T: Elem>(
    rt: &CudaRuntime,
    s: AttnShape,
    scale: f32,
    q: &CudaSlice<T>,
    k: &CudaSlice<T>,
    v: &CudaSlice<T>,
    out: &mut CudaSlice<T>,
    lse: &mut CudaSlice<f32>,
) -> Result<(), CudaError> {
    const K: &str = "attention_fwd";
    let (n, bh) = validate(K, s, &[("q", q), ("k", k), ("v", v), ("out", out)])?;
    check_len(K, "lse", lse, bh as usize * s.n)?;
    let f = rt.function(
        "attention",
        &format!("attention_fwd_d{}_{}", s.d, T::SUFFIX),
    )?;
    let cfg = LaunchConfig {
        grid_dim: (s.n.div_ceil(16) as u32, bh, 1),
        block_dim: (128, 1, 1),
        shared_mem_bytes: 0,
    };
    // SAFETY: argument types match the kernel; lengths checked above.
    unsafe {
        rt.stream()
            .launch_builder(&f)
            .arg(&n)
            .arg(&scale)
            .arg(q)
            .arg(k)
            .arg(v)
            .arg(out)
            .arg(lse)
            .launch(cfg)
    }
    .map_err(driver_err(K))?;
    Ok(())
}

/// Backward for upstream `dout`; recomputes probabilities from `lse`. Overwrites dq, dk, dv.
/// Allocates one `[b, h, n]` f32 scratch buffer (δ = rowsum(dout ⊙ out)).
#[allow(clippy::too_many_arguments)]
pub fn attention_bwd<T: Elem>(
    rt: &CudaRuntime,
    s: AttnShape,
    scale: f32,
    q: &CudaSlice<T>,
    k: &CudaSlice<T>,
    v: &CudaSlice<T>,
    out: &CudaSlice<T>,
    lse: &CudaSlice<f32>,
    dout: &CudaSlice<T>,
    dq: &mut CudaSlice<T>,
    dk: &mut CudaSlice<T>,
    dv: &mut CudaSlice<T>,
) -> Result<(), CudaError> {
    const K: &str = "attention_bwd";
    let (n, bh) = validate(
        K,
        s,
        &[
            ("q", q),
            ("k", k),
            ("v", v),
            ("out", out),
            ("dout", dout),
            ("dq", dq),
            ("dk", dk),
            ("dv", dv),
        ],
    )?;
    let rows = bh as usize * s.n;
    check_len(K, "lse", lse, rows)?;
    let mut delta = rt
        .stream()
        .alloc_zeros::<f32>(rows)
        .map_err(driver_err(K))?;

    let f = rt.function("attention", &format!("attention_bwd_delta_{}", T::SUFFIX))?;
    let (rows64, d) = (to_i64(K, rows)?, to_i32(K, "d", s.d)?);
    // SAFETY: as above.
    unsafe {
        rt.stream()
            .launch_builder(&f)
            .arg(&rows64)
            .arg(&d)
            .arg(out)
            .arg(dout)
            .arg(&mut delta)
            .launch(warp_per_row(rows)?)
    }
    .map_err(driver_err(K))?;

    let keys_per_block = if s.d == 128 { 8 } else { 16 };
    let f = rt.function(
        "attention",
        &format!("attention_bwd_dkdv_d{}_{}", s.d, T::SUFFIX),
    )?;
    let cfg = LaunchConfig {
        grid_dim: (s.n.div_ceil(keys_per_block) as u32, bh, 1),
        block_dim: (128, 1, 1),
        shared_mem_bytes: 0,
    };
    // SAFETY: as above.
    unsafe {
        rt.stream()
            .launch_builder(&f)
            .arg(&n)
            .arg(&scale)
            .arg(q)
            .arg(k)
            .arg(v)
            .arg(lse)
            .arg(&delta)
            .arg(dout)
            .arg(dk)
            .arg(dv)
            .launch(cfg)
    }
    .map_err(driver_err(K))?;

    let f = rt.function(
        "attention",
        &format!("attention_bwd_dq_d{}_{}", s.d, T::SUFFIX),
    )?;
    let mut cfg = cfg;
    cfg.grid_dim.0 = s.n.div_ceil(keys_per_block) as u32; // dq blocks hold the same row count
                                                          // SAFETY: as above.
    unsafe {
        rt.stream()
            .launch_builder(&f)
            .arg(&n)
            .arg(&scale)
            .arg(q)
            .arg(k)
            .arg(v)
            .arg(lse)
            .arg(&delta)
            .arg(dout)
            .arg(dq)
            .launch(cfg)
    }
    .map_err(driver_err(K))?;
    Ok(())
}
