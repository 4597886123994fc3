//! Fused attention on the device (attention.cu: flash-style forward saving the row log-sum-exp,
//! recomputing backward). The kernels exist for head dims in [`ATTENTION_HEAD_DIMS`]; for any
//! other shape `attention_fwd` returns None and the op composes matmul + softmax instead.

use super::{alloc, cuda_err, dev_storage, exact, float_dispatch, wrap, DevElem};
use crate::{DType, Result, Tensor};
use jepa_kernels::cpu::attention::AttnShape;
use jepa_kernels::cuda::launch::{self, ATTENTION_HEAD_DIMS};
use jepa_kernels::cuda::Elem;

const OP: &str = "attention";

/// True when the fused kernels take this shape (head dim instantiated, grid within limits).
pub(crate) fn fused_supported(s: AttnShape) -> bool {
    let bh = s.b * s.h;
    ATTENTION_HEAD_DIMS.contains(&s.d) && (1..=65535).contains(&bh) && s.n > 0
}

/// (out in q's dtype, lse `[b, h, n]` f32) for contiguous-or-copied q, k, v `[b, h, n, d]`, or
/// None when the shape has no fused kernel.
pub(crate) fn attention_fwd(
    q: &Tensor,
    k: &Tensor,
    v: &Tensor,
    s: AttnShape,
    scale: f32,
) -> Result<Option<(Tensor, Tensor)>> {
    if !fused_supported(s) {
        return Ok(None);
    }
    let rt = dev_storage(q, OP)?.runtime().clone();
    let mut lse = alloc::<f32>(&rt, s.b * s.h * s.n)?;
    let out = float_dispatch!(q.dtype(), OP, T => {
        let (qs, ks, vs) = (exact::<T>(q, OP)?, exact::<T>(k, OP)?, exact::<T>(v, OP)?);
        let mut out = alloc::<T>(&rt, q.elem_count())?;
        launch::attention_fwd(&rt, s, scale, &qs, &ks, &vs, &mut out, &mut lse)
            .map_err(cuda_err("attention_fwd"))?;
        Ok(wrap(&rt, out, q.shape().clone()))
    })?;
    Ok(Some((out, wrap(&rt, lse, [s.b, s.h, s.n]))))
}

/// (dq, dk, dv) in q's dtype for upstream `g`, from the saved forward output and lse.
#[allow(clippy::too_many_arguments)]
pub(crate) fn attention_bwd(
    q: &Tensor,
    k: &Tensor,
    v: &Tensor,
    out: &Tensor,
    lse: &Tensor,
    g: &Tensor,
    s: AttnShape,
    scale: f32,
) -> Result<[Tensor; 3]> {
    let g = g.to_dtype(q.dtype())?;
    float_dispatch!(q.dtype(), OP, T => bwd_t::<T>([q, k, v, out, &g], lse, s, scale))
}

fn bwd_t<T: DevElem + Elem>(
    t: [&Tensor; 5],
    lse: &Tensor,
    s: AttnShape,
    scale: f32,
) -> Result<[Tensor; 3]> {
    let [q, k, v, out, g] = t;
    let rt = dev_storage(q, OP)?.runtime().clone();
    let (qs, ks, vs) = (exact::<T>(q, OP)?, exact::<T>(k, OP)?, exact::<T>(v, OP)?);
    let (os, gs) = (exact::<T>(out, OP)?, exact::<T>(g, OP)?);
    let ls = exact::<f32>(lse, OP)?;
    let n = q.elem_count();
    let (mut dq, mut dk, mut dv) = (
        alloc::<T>(&rt, n)?,
        alloc::<T>(&rt, n)?,
        alloc::<T>(&rt, n)?,
    );
    launch::attention_bwd(
        &rt, s, scale, &qs, &ks, &vs, &os, &ls, &gs, &mut dq, &mut dk, &mut dv,
    )
    .map_err(cuda_err("attention_bwd"))?;
    let shape = q.shape().clone();
    Ok([
        wrap(&rt, dq, shape.clone()),
        wrap(&rt, dk, shape.clone()),
        wrap(&rt, dv, shape),
    ])
}

/// The row log-sum-exp of `scores` (`[b, h, n, n]`, untracked) as `[b, h, n]` f32, for the
/// composed path: max-subtracted so large scores neither overflow nor lose the small terms.
pub(crate) fn row_lse(scores: &Tensor) -> Result<Tensor> {
    let s = scores.detach();
    let m = super::max_last_keepdim(&s)?;
    let last = s.rank().saturating_sub(1);
    let lse = s.sub(&m)?.exp()?.sum_dims(&[last], true)?.log()?.add(&m)?;
    lse.squeeze(last)?.to_dtype(DType::F32)
}
