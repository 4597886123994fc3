//! Regression losses between predictions z and targets h, mean over all elements.
//! STUB: signatures are the contract; bodies are filled in by the kernels work.

/// smooth-L1: 0.5·d²/beta if |d| < beta else |d| − 0.5·beta, d = z − h; returns the mean.
pub fn smooth_l1_fwd(z: &[f32], h: &[f32], beta: f32) -> f32 { let _ = (z, h, beta); todo!() }
pub fn smooth_l1_fwd_ref(z: &[f32], h: &[f32], beta: f32) -> f32 { let _ = (z, h, beta); todo!() }
/// dz = upstream · d loss / dz (dh = −dz); overwrites dz.
pub fn smooth_l1_bwd(z: &[f32], h: &[f32], beta: f32, upstream: f32, dz: &mut [f32]) { let _ = (z, h, beta, upstream, dz); todo!() }
pub fn smooth_l1_bwd_ref(z: &[f32], h: &[f32], beta: f32, upstream: f32, dz: &mut [f32]) { let _ = (z, h, beta, upstream, dz); todo!() }
/// mean((z − h)²)
pub fn mse_fwd(z: &[f32], h: &[f32]) -> f32 { let _ = (z, h); todo!() }
pub fn mse_fwd_ref(z: &[f32], h: &[f32]) -> f32 { let _ = (z, h); todo!() }
pub fn mse_bwd(z: &[f32], h: &[f32], upstream: f32, dz: &mut [f32]) { let _ = (z, h, upstream, dz); todo!() }
pub fn mse_bwd_ref(z: &[f32], h: &[f32], upstream: f32, dz: &mut [f32]) { let _ = (z, h, upstream, dz); todo!() }
