//! GELU, erf form: `0.5·x·(1 + erf(x/√2))`.
//! STUB: signatures are the contract; bodies are filled in by the kernels work.

pub fn gelu_fwd(x: &[f32], out: &mut [f32]) { let _ = (x, out); todo!() }
pub fn gelu_fwd_ref(x: &[f32], out: &mut [f32]) { let _ = (x, out); todo!() }
/// dx = dout · gelu'(x); overwrites dx.
pub fn gelu_bwd(x: &[f32], dout: &[f32], dx: &mut [f32]) { let _ = (x, dout, dx); todo!() }
pub fn gelu_bwd_ref(x: &[f32], dout: &[f32], dx: &mut [f32]) { let _ = (x, dout, dx); todo!() }
