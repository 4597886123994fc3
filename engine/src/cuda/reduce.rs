//! Reductions on the device (copy.cu's `reduce_rows` / `reduce_cols`): sums over any set of
//! dims, read through the input's strides, and the row max that the composed log-softmax and
//! attention fallbacks subtract for stability.

use super::{alloc, cuda_err, dev_storage, float_dispatch, wrap};
use crate::{Result, Shape, Tensor};
use jepa_kernels::cuda::launch;
use jepa_kernels::cuda::launch::meta::{ReduceMeta, ReduceOp};

/// `op` over the dims flagged in `reduce`; the result has `keep` shape (reduced dims as 1),
/// contiguous, in `x`'s dtype. Untracked: callers record the backward.
fn reduce_dims(
    x: &Tensor,
    reduce: &[bool],
    keep: Shape,
    op: ReduceOp,
    name: &'static str,
) -> Result<Tensor> {
    let l = x.layout();
    let m = ReduceMeta::new(l.dims(), l.stride(), l.start_offset(), reduce)
        .map_err(cuda_err("reduce"))?;
    let st = dev_storage(x, name)?;
    let rt = st.runtime().clone();
    float_dispatch!(x.dtype(), name, T => {
        let mut out = alloc::<T>(&rt, keep.elem_count())?;
        launch::reduce(&rt, op, &m, st.slice::<T>(name)?, &mut out).map_err(cuda_err("reduce"))?;
        Ok(wrap(&rt, out, keep))
    })
}

/// Σ over the dims flagged in `reduce`, shaped `keep` (reduced dims kept as size 1).
pub(crate) fn sum_dims(x: &Tensor, reduce: &[bool], keep: Shape) -> Result<Tensor> {
    reduce_dims(x, reduce, keep, ReduceOp::Sum, "sum_dims")
}

/// Max over the last dim, kept as size 1 (untracked).
pub(crate) fn max_last_keepdim(x: &Tensor) -> Result<Tensor> {
    let rank = x.rank();
    let reduce: Vec<bool> = (0..rank).map(|d| d + 1 == rank).collect();
    let mut keep = x.dims().to_vec();
    if let Some(last) = keep.last_mut() {
        *last = 1;
    }
    reduce_dims(x, &reduce, keep.into(), ReduceOp::Max, "max")
}
