//! Wrappers for unary.cu (elementwise unary ops with the op as a parameter) and the op's Rust
//! reference, which follows the CPU engine's definitions (kinks included).

use cudarc::driver::{CudaSlice, PushKernelArg};

use super::{check_len, driver_err, grid_stride, to_i64};
use crate::cuda::{CudaError, CudaRuntime, Elem};

/// An elementwise op of unary.cu.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum UnaryOp {
    Sqr,
    Sqrt,
    Exp,
    Log,
    Relu,
    Abs,
    Tanh,
    Powf(f32),
    /// `mul·x + add`.
    Affine {
        mul: f32,
        add: f32,
    },
}

impl UnaryOp {
    /// (op code, p0, p1) as unary.cu takes them.
    pub fn code(self) -> (i32, f32, f32) {
        match self {
            UnaryOp::Sqr => (0, 0.0, 0.0),
            UnaryOp::Sqrt => (1, 0.0, 0.0),
            UnaryOp::Exp => (2, 0.0, 0.0),
            UnaryOp::Log => (3, 0.0, 0.0),
            UnaryOp::Relu => (4, 0.0, 0.0),
            UnaryOp::Abs => (5, 0.0, 0.0),
            UnaryOp::Tanh => (6, 0.0, 0.0),
            UnaryOp::Powf(p) => (7, p, 0.0),
            UnaryOp::Affine { mul, add } => (8, mul, add),
        }
    }
    /// True when the derivative takes the output y (sqrt, exp, tanh) instead of the input x.
    pub fn uses_output(self) -> bool {
        matches!(self, UnaryOp::Sqrt | UnaryOp::Exp | UnaryOp::Tanh)
    }
    /// Reference forward.
    pub fn f(self, x: f32) -> f32 {
        match self {
            UnaryOp::Sqr => x * x,
            UnaryOp::Sqrt => x.sqrt(),
            UnaryOp::Exp => x.exp(),
            UnaryOp::Log => x.ln(),
            UnaryOp::Relu => x.max(0.0),
            UnaryOp::Abs => x.abs(),
            UnaryOp::Tanh => x.tanh(),
            UnaryOp::Powf(p) => x.powf(p),
            UnaryOp::Affine { mul, add } => mul * x + add,
        }
    }
    /// Reference derivative at `v` (x, or y when [`Self::uses_output`]).
    pub fn df(self, v: f32) -> f32 {
        match self {
            UnaryOp::Sqr => 2.0 * v,
            UnaryOp::Sqrt => 0.5 / v,
            UnaryOp::Exp => v,
            UnaryOp::Log => 1.0 / v,
            UnaryOp::Relu => (v > 0.0) as u8 as f32,
            UnaryOp::Abs => v.signum() * (v != 0.0) as u8 as f32,
            UnaryOp::Tanh => 1.0 - v * v,
            UnaryOp::Powf(p) => p * v.powf(p - 1.0),
            UnaryOp::Affine { mul, .. } => mul,
        }
    }
}

/// `out[i] = op(x[i])` over `out.len()` elements.
pub fn unary_fwd<T: Elem>(
    rt: &CudaRuntime,
    op: UnaryOp,
    x: &CudaSlice<T>,
    out: &mut CudaSlice<T>,
) -> Result<(), CudaError> {
    const K: &str = "unary_fwd";
    let n = out.len();
    check_len(K, "x", x, n)?;
    if n == 0 {
        return Ok(());
    }
    let (code, p0, p1) = op.code();
    let f = rt.function("unary", &format!("{K}_{}", T::SUFFIX))?;
    let n64 = to_i64(K, n)?;
    // SAFETY: argument types match the kernel; lengths checked above.
    unsafe {
        rt.stream()
            .launch_builder(&f)
            .arg(&n64)
            .arg(&code)
            .arg(&p0)
            .arg(&p1)
            .arg(x)
            .arg(out)
            .launch(grid_stride(n))
    }
    .map_err(driver_err(K))?;
    Ok(())
}

/// `dx[i] = g[i] · op'(saved[i])` over `dx.len()` elements; `saved` is the forward input, or the
/// forward output when [`UnaryOp::uses_output`].
pub fn unary_bwd<T: Elem>(
    rt: &CudaRuntime,
    op: UnaryOp,
    saved: &CudaSlice<T>,
    g: &CudaSlice<T>,
    dx: &mut CudaSlice<T>,
) -> Result<(), CudaError> {
    const K: &str = "unary_bwd";
    let n = dx.len();
    check_len(K, "saved", saved, n)?;
    check_len(K, "g", g, n)?;
    if n == 0 {
        return Ok(());
    }
    let (code, p0, _) = op.code();
    let f = rt.function("unary", &format!("{K}_{}", T::SUFFIX))?;
    let n64 = to_i64(K, n)?;
    // SAFETY: as above.
    unsafe {
        rt.stream()
            .launch_builder(&f)
            .arg(&n64)
            .arg(&code)
            .arg(&p0)
            .arg(saved)
            .arg(g)
            .arg(dx)
            .launch(grid_stride(n))
    }
    .map_err(driver_err(K))?;
    Ok(())
}
