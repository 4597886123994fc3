//! Row softmax over the last dimension.
//! STUB: signatures are the contract; bodies are filled in by the kernels work.

pub fn softmax_fwd(rows: usize, dim: usize, x: &[f32], out: &mut [f32]) { let _ = (rows, dim, x, out); todo!() }
pub fn softmax_fwd_ref(rows: usize, dim: usize, x: &[f32], out: &mut [f32]) { let _ = (rows, dim, x, out); todo!() }
/// dx = out ⊙ (dout − Σ dout⊙out) per row; overwrites dx.
pub fn softmax_bwd(rows: usize, dim: usize, out: &[f32], dout: &[f32], dx: &mut [f32]) { let _ = (rows, dim, out, dout, dx); todo!() }
pub fn softmax_bwd_ref(rows: usize, dim: usize, out: &[f32], dout: &[f32], dx: &mut [f32]) { let _ = (rows, dim, out, dout, dx); todo!() }
