//! Wrapper for vicreg.cu: five launches (column stats, centring + variance gradient, Gram tiles
//! with the fused off-diagonal square sum, finalize, covariance gradient).

use cudarc::driver::{CudaSlice, LaunchConfig, PushKernelArg};

use super::{check_len, driver_err, grid_stride, to_i32, NULL_PTR};
use crate::cuda::{CudaError, CudaRuntime};

/// Device scratch for [`vicreg`], sized for one `[n, d]` shape; reuse it across steps.
pub struct VicregScratch {
    n: usize,
    d: usize,
    mean: CudaSlice<f32>,
    std: CudaSlice<f32>,
    ec: CudaSlice<f32>,
    coff: CudaSlice<f32>,
    partial: CudaSlice<f32>,
}

impl VicregScratch {
    pub fn new(rt: &CudaRuntime, n: usize, d: usize) -> Result<Self, CudaError> {
        let s = rt.stream();
        let e = driver_err("vicreg");
        let tiles = d.div_ceil(32);
        Ok(Self {
            n,
            d,
            mean: s.alloc_zeros(d.max(1)).map_err(&e)?,
            std: s.alloc_zeros(d.max(1)).map_err(&e)?,
            ec: s.alloc_zeros((n * d).max(1)).map_err(&e)?,
            coff: s.alloc_zeros((d * d).max(1)).map_err(&e)?,
            partial: s.alloc_zeros((tiles * tiles).max(1)).map_err(&e)?,
        })
    }
}

/// VICReg var/cov losses of `e` (`[n, d]`, n ≥ 2) into `losses` = [var_loss, cov_loss]; when
/// given, `de_var`/`de_cov` (`[n, d]`) are overwritten with the gradients for upstream 1.
#[allow(clippy::too_many_arguments)]
pub fn vicreg(
    rt: &CudaRuntime,
    n: usize,
    d: usize,
    e: &CudaSlice<f32>,
    eps: f32,
    scratch: &mut VicregScratch,
    losses: &mut CudaSlice<f32>,
    de_var: Option<&mut CudaSlice<f32>>,
    de_cov: Option<&mut CudaSlice<f32>>,
) -> Result<(), CudaError> {
    const K: &str = "vicreg";
    if n < 2 || d == 0 {
        return Err(CudaError::InvalidArgument {
            kernel: K,
            reason: format!("need n ≥ 2 and d ≥ 1, got [{n}, {d}]"),
        });
    }
    if n.div_ceil(32) > 65535 {
        return Err(CudaError::InvalidArgument {
            kernel: K,
            reason: format!("n = {n} exceeds the grid.y limit"),
        });
    }
    if (scratch.n, scratch.d) != (n, d) {
        return Err(CudaError::InvalidArgument {
            kernel: K,
            reason: format!("scratch is for [{}, {}]", scratch.n, scratch.d),
        });
    }
    check_len(K, "e", e, n * d)?;
    check_len(K, "losses", losses, 2)?;
    if let Some(g) = &de_var {
        check_len(K, "de_var", g, n * d)?;
    }
    if let Some(g) = &de_cov {
        check_len(K, "de_cov", g, n * d)?;
    }
    let (ni, di) = (to_i32(K, "n", n)?, to_i32(K, "d", d)?);
    let tiles = d.div_ceil(32) as u32;
    let s = rt.stream();
    let VicregScratch {
        mean,
        std,
        ec,
        coff,
        partial,
        ..
    } = scratch;

    let f = rt.function("vicreg", "vicreg_colstats_f32")?;
    let cfg = LaunchConfig {
        grid_dim: (tiles, 1, 1),
        block_dim: (32, 8, 1),
        shared_mem_bytes: 0,
    };
    // SAFETY: argument types match the kernels; lengths checked above and by construction of scratch.
    unsafe {
        s.launch_builder(&f)
            .arg(&ni)
            .arg(&di)
            .arg(&eps)
            .arg(e)
            .arg(&mut *mean)
            .arg(&mut *std)
            .launch(cfg)
    }
    .map_err(driver_err(K))?;

    let f = rt.function("vicreg", "vicreg_center_f32")?;
    let mut b = s.launch_builder(&f);
    b.arg(&ni)
        .arg(&di)
        .arg(e)
        .arg(&*mean)
        .arg(&*std)
        .arg(&mut *ec);
    match de_var {
        Some(g) => b.arg(g),
        None => b.arg(&NULL_PTR),
    };
    // SAFETY: as above.
    unsafe { b.launch(grid_stride(n * d)) }.map_err(driver_err(K))?;

    let inv_nm1 = (1.0 / (n as f64 - 1.0)) as f32;
    let f = rt.function("vicreg", "vicreg_gram_f32")?;
    let cfg = LaunchConfig {
        grid_dim: (tiles, tiles, 1),
        block_dim: (32, 8, 1),
        shared_mem_bytes: 0,
    };
    // SAFETY: as above.
    unsafe {
        s.launch_builder(&f)
            .arg(&ni)
            .arg(&di)
            .arg(&inv_nm1)
            .arg(&*ec)
            .arg(&mut *coff)
            .arg(&mut *partial)
            .launch(cfg)
    }
    .map_err(driver_err(K))?;

    let nparts = (tiles * tiles) as i32;
    let f = rt.function("vicreg", "vicreg_finalize_f32")?;
    let cfg = LaunchConfig {
        grid_dim: (1, 1, 1),
        block_dim: (256, 1, 1),
        shared_mem_bytes: 0,
    };
    // SAFETY: as above.
    unsafe {
        s.launch_builder(&f)
            .arg(&di)
            .arg(&nparts)
            .arg(&*std)
            .arg(&*partial)
            .arg(losses)
            .launch(cfg)
    }
    .map_err(driver_err(K))?;

    if let Some(g) = de_cov {
        let scale = (4.0 / (d as f64 * (n as f64 - 1.0))) as f32;
        let f = rt.function("vicreg", "vicreg_cov_grad_f32")?;
        let cfg = LaunchConfig {
            grid_dim: (tiles, n.div_ceil(32) as u32, 1),
            block_dim: (32, 8, 1),
            shared_mem_bytes: 0,
        };
        // SAFETY: as above.
        unsafe {
            s.launch_builder(&f)
                .arg(&ni)
                .arg(&di)
                .arg(&scale)
                .arg(&*ec)
                .arg(&*coff)
                .arg(g)
                .launch(cfg)
        }
        .map_err(driver_err(K))?;
    }
    Ok(())
}
