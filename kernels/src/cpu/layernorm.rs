//! LayerNorm over the last dimension (biased variance), with or without affine.
//! STUB: signatures are the contract; bodies are filled in by the kernels work.

/// x, out: `[rows, dim]`; weight, bias: `[dim]` or None; mean, rstd: `[rows]` (saved for backward).
#[allow(clippy::too_many_arguments)]
pub fn layernorm_fwd(rows: usize, dim: usize, eps: f32, x: &[f32], weight: Option<&[f32]>, bias: Option<&[f32]>, out: &mut [f32], mean: &mut [f32], rstd: &mut [f32]) {
    let _ = (rows, dim, eps, x, weight, bias, out, mean, rstd);
    todo!()
}
#[allow(clippy::too_many_arguments)]
pub fn layernorm_fwd_ref(rows: usize, dim: usize, eps: f32, x: &[f32], weight: Option<&[f32]>, bias: Option<&[f32]>, out: &mut [f32], mean: &mut [f32], rstd: &mut [f32]) {
    let _ = (rows, dim, eps, x, weight, bias, out, mean, rstd);
    todo!()
}
/// Overwrites dx, and dweight / dbias when given (summed over rows).
#[allow(clippy::too_many_arguments)]
pub fn layernorm_bwd(rows: usize, dim: usize, x: &[f32], weight: Option<&[f32]>, mean: &[f32], rstd: &[f32], dout: &[f32], dx: &mut [f32], dweight: Option<&mut [f32]>, dbias: Option<&mut [f32]>) {
    let _ = (rows, dim, x, weight, mean, rstd, dout, dx, dweight, dbias);
    todo!()
}
#[allow(clippy::too_many_arguments)]
pub fn layernorm_bwd_ref(rows: usize, dim: usize, x: &[f32], weight: Option<&[f32]>, mean: &[f32], rstd: &[f32], dout: &[f32], dx: &mut [f32], dweight: Option<&mut [f32]>, dbias: Option<&mut [f32]>) {
    let _ = (rows, dim, x, weight, mean, rstd, dout, dx, dweight, dbias);
    todo!()
}
