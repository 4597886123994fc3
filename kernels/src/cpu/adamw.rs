//! AdamW step (PyTorch semantics: decoupled weight decay `p -= lr·wd·p` before the Adam update,
//! bias correction with the 1-based `step`).
//! STUB: signatures are the contract; bodies are filled in by the kernels work.

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AdamW {
    pub lr: f32,
    pub beta1: f32,
    pub beta2: f32,
    pub eps: f32,
    pub weight_decay: f32,
}

/// Updates param, m, v in place; `step` counts from 1.
pub fn adamw_step(cfg: AdamW, step: u64, param: &mut [f32], grad: &[f32], m: &mut [f32], v: &mut [f32]) { let _ = (cfg, step, param, grad, m, v); todo!() }
pub fn adamw_step_ref(cfg: AdamW, step: u64, param: &mut [f32], grad: &[f32], m: &mut [f32], v: &mut [f32]) { let _ = (cfg, step, param, grad, m, v); todo!() }
