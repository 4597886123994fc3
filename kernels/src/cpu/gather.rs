//! Masked gather of token rows and its backward (scatter-add; indices may repeat).
//! STUB: signatures are the contract; bodies are filled in by the kernels work.

/// x: `[b, n, d]`, index: `[b, k]` with values in `0..n` (validated by the caller),
/// out: `[b, k, d]`, `out[i, j, :] = x[i, index[i, j], :]`.
pub fn gather_rows(b: usize, n: usize, d: usize, k: usize, x: &[f32], index: &[usize], out: &mut [f32]) { let _ = (b, n, d, k, x, index, out); todo!() }
pub fn gather_rows_ref(b: usize, n: usize, d: usize, k: usize, x: &[f32], index: &[usize], out: &mut [f32]) { let _ = (b, n, d, k, x, index, out); todo!() }
/// Backward: dx (`[b, n, d]`) is overwritten with the scatter-add of dout (`[b, k, d]`).
pub fn scatter_add_rows(b: usize, n: usize, d: usize, k: usize, dout: &[f32], index: &[usize], dx: &mut [f32]) { let _ = (b, n, d, k, dout, index, dx); todo!() }
pub fn scatter_add_rows_ref(b: usize, n: usize, d: usize, k: usize, dout: &[f32], index: &[usize], dx: &mut [f32]) { let _ = (b, n, d, k, dout, index, dx); todo!() }
