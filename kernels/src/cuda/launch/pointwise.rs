//! Wrappers for elementwise.cu, gelu.cu and optim.cu (grid-stride kernels over flat buffers).

use cudarc::driver::{CudaSlice, PushKernelArg};

use super::{check_len, driver_err, grid_stride, to_i64};
use crate::cpu::adamw::AdamW;
use crate::cuda::{CudaError, CudaRuntime, Elem};

fn entry(op: &str, suffix: &str) -> String {
    format!("{op}_{suffix}")
}

/// `out = a + b` over `out.len()` elements.
pub fn add<T: Elem>(
    rt: &CudaRuntime,
    a: &CudaSlice<T>,
    b: &CudaSlice<T>,
    out: &mut CudaSlice<T>,
) -> Result<(), CudaError> {
    binary(rt, "add", a, b, out)
}

/// `out = a ⊙ b` over `out.len()` elements.
pub fn mul<T: Elem>(
    rt: &CudaRuntime,
    a: &CudaSlice<T>,
    b: &CudaSlice<T>,
    out: &mut CudaSlice<T>,
) -> Result<(), CudaError> {
    binary(rt, "mul", a, b, out)
}

fn binary<T: Elem>(
    rt: &CudaRuntime,
    op: &'static str,
    a: &CudaSlice<T>,
    b: &CudaSlice<T>,
    out: &mut CudaSlice<T>,
) -> Result<(), CudaError> {
    let n = out.len();
    check_len(op, "a", a, n)?;
    check_len(op, "b", b, n)?;
    let f = rt.function("elementwise", &entry(op, T::SUFFIX))?;
    let n64 = to_i64(op, n)?;
    // SAFETY: argument types match the kernel signature; lengths were checked above.
    unsafe {
        rt.stream()
            .launch_builder(&f)
            .arg(&n64)
            .arg(a)
            .arg(b)
            .arg(out)
            .launch(grid_stride(n))
    }
    .map_err(driver_err(op))?;
    Ok(())
}

/// `out = alpha · x` over `out.len()` elements.
pub fn scale<T: Elem>(
    rt: &CudaRuntime,
    alpha: f32,
    x: &CudaSlice<T>,
    out: &mut CudaSlice<T>,
) -> Result<(), CudaError> {
    let n = out.len();
    check_len("scale", "x", x, n)?;
    let f = rt.function("elementwise", &entry("scale", T::SUFFIX))?;
    let n64 = to_i64("scale", n)?;
    // SAFETY: as in `binary`.
    unsafe {
        rt.stream()
            .launch_builder(&f)
            .arg(&n64)
            .arg(&alpha)
            .arg(x)
            .arg(out)
            .launch(grid_stride(n))
    }
    .map_err(driver_err("scale"))?;
    Ok(())
}

/// `y += alpha · x` over `y.len()` elements (gradient accumulation).
pub fn axpy<T: Elem>(
    rt: &CudaRuntime,
    alpha: f32,
    x: &CudaSlice<T>,
    y: &mut CudaSlice<T>,
) -> Result<(), CudaError> {
    let n = y.len();
    check_len("axpy", "x", x, n)?;
    let f = rt.function("elementwise", &entry("axpy", T::SUFFIX))?;
    let n64 = to_i64("axpy", n)?;
    // SAFETY: as in `binary`.
    unsafe {
        rt.stream()
            .launch_builder(&f)
            .arg(&n64)
            .arg(&alpha)
            .arg(x)
            .arg(y)
            .launch(grid_stride(n))
    }
    .map_err(driver_err("axpy"))?;
    Ok(())
}

/// Sets every element of `out` to `value` (rounded to bf16 for `u16` buffers).
pub fn fill<T: Elem>(
    rt: &CudaRuntime,
    value: f32,
    out: &mut CudaSlice<T>,
) -> Result<(), CudaError> {
    let n = out.len();
    let f = rt.function("elementwise", &entry("fill", T::SUFFIX))?;
    let n64 = to_i64("fill", n)?;
    // SAFETY: as in `binary`.
    unsafe {
        rt.stream()
            .launch_builder(&f)
            .arg(&n64)
            .arg(&value)
            .arg(out)
            .launch(grid_stride(n))
    }
    .map_err(driver_err("fill"))?;
    Ok(())
}

/// f32 → bf16 bits, round to nearest even.
pub fn cast_f32_to_bf16(
    rt: &CudaRuntime,
    x: &CudaSlice<f32>,
    out: &mut CudaSlice<u16>,
) -> Result<(), CudaError> {
    cast(rt, "cast_f32_to_bf16", x, out)
}

/// bf16 bits → f32 (exact).
pub fn cast_bf16_to_f32(
    rt: &CudaRuntime,
    x: &CudaSlice<u16>,
    out: &mut CudaSlice<f32>,
) -> Result<(), CudaError> {
    cast(rt, "cast_bf16_to_f32", x, out)
}

fn cast<A: Elem, B: Elem>(
    rt: &CudaRuntime,
    name: &'static str,
    x: &CudaSlice<A>,
    out: &mut CudaSlice<B>,
) -> Result<(), CudaError> {
    let n = out.len();
    check_len(name, "x", x, n)?;
    let f = rt.function("elementwise", name)?;
    let n64 = to_i64(name, n)?;
    // SAFETY: as in `binary`.
    unsafe {
        rt.stream()
            .launch_builder(&f)
            .arg(&n64)
            .arg(x)
            .arg(out)
            .launch(grid_stride(n))
    }
    .map_err(driver_err(name))?;
    Ok(())
}

/// GELU (erf form) over `out.len()` elements.
pub fn gelu_fwd<T: Elem>(
    rt: &CudaRuntime,
    x: &CudaSlice<T>,
    out: &mut CudaSlice<T>,
) -> Result<(), CudaError> {
    let n = out.len();
    check_len("gelu_fwd", "x", x, n)?;
    let f = rt.function("gelu", &entry("gelu_fwd", T::SUFFIX))?;
    let n64 = to_i64("gelu_fwd", n)?;
    // SAFETY: as in `binary`.
    unsafe {
        rt.stream()
            .launch_builder(&f)
            .arg(&n64)
            .arg(x)
            .arg(out)
            .launch(grid_stride(n))
    }
    .map_err(driver_err("gelu_fwd"))?;
    Ok(())
}

/// `dx = dout · gelu'(x)` over `dx.len()` elements.
pub fn gelu_bwd<T: Elem>(
    rt: &CudaRuntime,
    x: &CudaSlice<T>,
    dout: &CudaSlice<T>,
    dx: &mut CudaSlice<T>,
) -> Result<(), CudaError> {
    let n = dx.len();
    check_len("gelu_bwd", "x", x, n)?;
    check_len("gelu_bwd", "dout", dout, n)?;
    let f = rt.function("gelu", &entry("gelu_bwd", T::SUFFIX))?;
    let n64 = to_i64("gelu_bwd", n)?;
    // SAFETY: as in `binary`.
    unsafe {
        rt.stream()
            .launch_builder(&f)
            .arg(&n64)
            .arg(x)
            .arg(dout)
            .arg(dx)
            .launch(grid_stride(n))
    }
    .map_err(driver_err("gelu_bwd"))?;
    Ok(())
}

/// One AdamW step over `param.len()` elements; `step` counts from 1 (bias correction).
pub fn adamw_step(
    rt: &CudaRuntime,
    cfg: AdamW,
    step: u64,
    param: &mut CudaSlice<f32>,
    grad: &CudaSlice<f32>,
    m: &mut CudaSlice<f32>,
    v: &mut CudaSlice<f32>,
) -> Result<(), CudaError> {
    let n = param.len();
    check_len("adamw_step", "grad", grad, n)?;
    check_len("adamw_step", "m", m, n)?;
    check_len("adamw_step", "v", v, n)?;
    if step == 0 {
        return Err(CudaError::InvalidArgument {
            kernel: "adamw_step",
            reason: "step counts from 1".into(),
        });
    }
    // Bias corrections in f64 on the host, once per step.
    let t = step.min(i32::MAX as u64) as i32;
    let bc1 = (1.0 - (cfg.beta1 as f64).powi(t)) as f32;
    let bc2 = (1.0 - (cfg.beta2 as f64).powi(t)) as f32;
    let f = rt.function("optim", "adamw_step_f32")?;
    let n64 = to_i64("adamw_step", n)?;
    // SAFETY: as in `binary`.
    unsafe {
        rt.stream()
            .launch_builder(&f)
            .arg(&n64)
            .arg(&cfg.lr)
            .arg(&cfg.beta1)
            .arg(&cfg.beta2)
            .arg(&cfg.eps)
            .arg(&cfg.weight_decay)
            .arg(&bc1)
            .arg(&bc2)
            .arg(param)
            .arg(grad)
            .arg(m)
            .arg(v)
            .launch(grid_stride(n))
    }
    .map_err(driver_err("adamw_step"))?;
    Ok(())
}

/// `target = momentum · target + (1 − momentum) · online` over `target.len()` elements.
pub fn ema_update(
    rt: &CudaRuntime,
    momentum: f32,
    target: &mut CudaSlice<f32>,
    online: &CudaSlice<f32>,
) -> Result<(), CudaError> {
    let n = target.len();
    check_len("ema_update", "online", online, n)?;
    let f = rt.function("optim", "ema_update_f32")?;
    let n64 = to_i64("ema_update", n)?;
    // SAFETY: as in `binary`.
    unsafe {
        rt.stream()
            .launch_builder(&f)
            .arg(&n64)
            .arg(&momentum)
            .arg(target)
            .arg(online)
            .launch(grid_stride(n))
    }
    .map_err(driver_err("ema_update"))?;
    Ok(())
}
