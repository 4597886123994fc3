//! EMA of the target encoder: `target = m·target + (1 − m)·online`.
//! STUB: signatures are the contract; bodies are filled in by the kernels work.

pub fn ema_update(momentum: f32, target: &mut [f32], online: &[f32]) { let _ = (momentum, target, online); todo!() }
pub fn ema_update_ref(momentum: f32, target: &mut [f32], online: &[f32]) { let _ = (momentum, target, online); todo!() }
