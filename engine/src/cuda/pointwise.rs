//! Elementwise ops on the device: unary ops forward/backward (unary.cu) and binary ops with
//! broadcasting, read through both operands' strides (copy.cu's `binary_strided`, so a `[d]`
//! bias or a transposed view is never materialised).

use super::{alloc, DevElem};
use super::{cuda_err, dev_storage, exact, float_dispatch, wrap};
use crate::layout::Layout;
use crate::{Result, Shape, Tensor};
use jepa_kernels::cuda::launch::meta::{BinaryOp, StridedMeta};
use jepa_kernels::cuda::launch::{self, UnaryOp};

/// `op(x)` elementwise, contiguous, same dtype.
pub(crate) fn unary_fwd(x: &Tensor, op: UnaryOp, name: &'static str) -> Result<Tensor> {
    float_dispatch!(x.dtype(), name, T => unary_fwd_t::<T>(x, op, name))
}

fn unary_fwd_t<T: DevElem + jepa_kernels::cuda::Elem>(
    x: &Tensor,
    op: UnaryOp,
    name: &'static str,
) -> Result<Tensor> {
    let xs = exact::<T>(x, name)?;
    let rt = dev_storage(x, name)?.runtime().clone();
    let mut out = alloc::<T>(&rt, x.elem_count())?;
    launch::unary_fwd(&rt, op, &xs, &mut out).map_err(cuda_err("unary_fwd"))?;
    Ok(wrap(&rt, out, x.shape().clone()))
}

/// `g · op'(saved)`, where `saved` is the forward input (or output, see
/// [`UnaryOp::uses_output`]); contiguous, dtype of `saved`.
pub(crate) fn unary_bwd(
    saved: &Tensor,
    g: &Tensor,
    op: UnaryOp,
    name: &'static str,
) -> Result<Tensor> {
    let g = g.to_dtype(saved.dtype())?;
    float_dispatch!(saved.dtype(), name, T => {
        let (s, gs) = (exact::<T>(saved, name)?, exact::<T>(&g, name)?);
        let rt = dev_storage(saved, name)?.runtime().clone();
        let mut dx = alloc::<T>(&rt, saved.elem_count())?;
        launch::unary_bwd(&rt, op, &s, &gs, &mut dx).map_err(cuda_err("unary_bwd"))?;
        Ok(wrap(&rt, dx, saved.shape().clone()))
    })
}

/// `lhs ∘ rhs` over `shape` (the broadcast of both; dtypes already checked equal).
pub(crate) fn binary(
    lhs: &Tensor,
    rhs: &Tensor,
    shape: &Shape,
    op: BinaryOp,
    name: &'static str,
) -> Result<Tensor> {
    let ll: Layout = lhs.layout().broadcast_as(name, shape)?;
    let rl: Layout = rhs.layout().broadcast_as(name, shape)?;
    let m = StridedMeta::new(
        shape.dims(),
        (ll.stride(), ll.start_offset()),
        (rl.stride(), rl.start_offset()),
    )
    .map_err(cuda_err("binary_strided"))?;
    let (a, b) = (dev_storage(lhs, name)?, dev_storage(rhs, name)?);
    let rt = a.runtime().clone();
    float_dispatch!(lhs.dtype(), name, T => {
        let mut out = alloc::<T>(&rt, shape.elem_count())?;
        launch::binary_strided(&rt, op, &m, a.slice::<T>(name)?, b.slice::<T>(name)?, &mut out)
            .map_err(cuda_err("binary_strided"))?;
        Ok(wrap(&rt, out, shape.clone()))
    })
}
