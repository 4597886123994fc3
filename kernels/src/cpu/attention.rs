//! Fused attention: `out = softmax(q·kᵀ·scale)·v`, flash-style.
//! STUB: signatures are the contract; bodies are filled in by the kernels work.

/// q, k, v, out, dq, dk, dv are contiguous `[b, h, n, d]`; lse is `[b, h, n]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AttnShape {
    pub b: usize,
    pub h: usize,
    pub n: usize,
    pub d: usize,
}

/// Forward; writes `out` and the row log-sum-exp of the scaled scores (`lse`) for backward.
pub fn attention_fwd(s: AttnShape, scale: f32, q: &[f32], k: &[f32], v: &[f32], out: &mut [f32], lse: &mut [f32]) {
    let _ = (s, scale, q, k, v, out, lse);
    todo!()
}
pub fn attention_fwd_ref(s: AttnShape, scale: f32, q: &[f32], k: &[f32], v: &[f32], out: &mut [f32], lse: &mut [f32]) {
    let _ = (s, scale, q, k, v, out, lse);
    todo!()
}

/// Backward for upstream `dout`; recomputes probabilities from `lse`. Overwrites dq, dk, dv.
#[allow(clippy::too_many_arguments)]
pub fn attention_bwd(
    s: AttnShape, scale: f32, q: &[f32], k: &[f32], v: &[f32], out: &[f32], lse: &[f32], dout: &[f32],
    dq: &mut [f32], dk: &mut [f32], dv: &mut [f32],
) {
    let _ = (s, scale, q, k, v, out, lse, dout, dq, dk, dv);
    todo!()
}
#[allow(clippy::too_many_arguments)]
pub fn attention_bwd_ref(
    s: AttnShape, scale: f32, q: &[f32], k: &[f32], v: &[f32], out: &[f32], lse: &[f32], dout: &[f32],
    dq: &mut [f32], dk: &mut [f32], dv: &mut [f32],
) {
    let _ = (s, scale, q, k, v, out, lse, dout, dq, dk, dv);
    todo!()
}
