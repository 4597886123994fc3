//! Row-wise layers on the device: LayerNorm (forward and backward), GELU and softmax over the
//! last dim, through layernorm.cu, gelu.cu and softmax.cu. Inputs are made exact (contiguous,
//! offset 0) first; results are new contiguous tensors, untracked (the op files record).

use super::{alloc, cuda_err, dev_storage, exact, float_dispatch, wrap, DevElem};
use crate::{DType, Result, Shape, Tensor};
use jepa_kernels::cuda::launch;
use jepa_kernels::cuda::Elem;

/// A parameter as an exact f32 device buffer owner (the LayerNorm kernels take f32 weights for
/// every activation dtype).
fn f32_param(p: Option<&Tensor>) -> Result<Option<Tensor>> {
    p.map(|p| p.detach().to_dtype(DType::F32)).transpose()
}

/// LayerNorm of `x: [rows, dim]` (any leading shape; contiguous on entry or copied): returns
/// (out in x's dtype, mean `[row_shape]` f32, rstd `[row_shape]` f32).
pub(crate) fn layer_norm_fwd(
    x: &Tensor,
    weight: Option<&Tensor>,
    bias: Option<&Tensor>,
    eps: f32,
    (rows, dim): (usize, usize),
    row_shape: Shape,
) -> Result<(Tensor, Tensor, Tensor)> {
    const OP: &str = "layer_norm";
    let (w, b) = (f32_param(weight)?, f32_param(bias)?);
    let ws = w.as_ref().map(|w| exact::<f32>(w, OP)).transpose()?;
    let bs = b.as_ref().map(|b| exact::<f32>(b, OP)).transpose()?;
    let rt = dev_storage(x, OP)?.runtime().clone();
    let mut mean = alloc::<f32>(&rt, rows)?;
    let mut rstd = alloc::<f32>(&rt, rows)?;
    let out = float_dispatch!(x.dtype(), OP, T => {
        let xs = exact::<T>(x, OP)?;
        let mut out = alloc::<T>(&rt, rows * dim)?;
        launch::layernorm_fwd(&rt, rows, dim, eps, &xs, ws.as_deref(), bs.as_deref(), &mut out, &mut mean, &mut rstd)
            .map_err(cuda_err("layernorm_fwd"))?;
        Ok(wrap(&rt, out, x.shape().clone()))
    })?;
    Ok((
        out,
        wrap(&rt, mean, row_shape.clone()),
        wrap(&rt, rstd, row_shape),
    ))
}

/// LayerNorm backward: (dx in x's dtype, dweight, dbias as `[dim]` in x's dtype when asked).
#[allow(clippy::too_many_arguments)]
pub(crate) fn layer_norm_bwd(
    x: &Tensor,
    weight: Option<&Tensor>,
    mean: &Tensor,
    rstd: &Tensor,
    g: &Tensor,
    (need_w, need_b): (bool, bool),
    (rows, dim): (usize, usize),
) -> Result<(Tensor, Option<Tensor>, Option<Tensor>)> {
    const OP: &str = "layer_norm";
    let w = f32_param(weight)?;
    let ws = w.as_ref().map(|w| exact::<f32>(w, OP)).transpose()?;
    let (ms, rs) = (exact::<f32>(mean, OP)?, exact::<f32>(rstd, OP)?);
    let rt = dev_storage(x, OP)?.runtime().clone();
    let mut dw = need_w.then(|| alloc::<f32>(&rt, dim)).transpose()?;
    let mut db = need_b.then(|| alloc::<f32>(&rt, dim)).transpose()?;
    let g = g.to_dtype(x.dtype())?;
    let dx = float_dispatch!(x.dtype(), OP, T => {
        let (xs, gs) = (exact::<T>(x, OP)?, exact::<T>(&g, OP)?);
        let mut dx = alloc::<T>(&rt, rows * dim)?;
        launch::layernorm_bwd(&rt, rows, dim, &xs, ws.as_deref(), &ms, &rs, &gs, &mut dx, dw.as_mut(), db.as_mut())
            .map_err(cuda_err("layernorm_bwd"))?;
        Ok(wrap(&rt, dx, x.shape().clone()))
    })?;
    let param = |v: Option<_>| {
        v.map(|v| wrap::<f32>(&rt, v, [dim]).to_dtype(x.dtype()))
            .transpose()
    };
    Ok((dx, param(dw)?, param(db)?))
}

/// Forward (`dout` None) or backward (`dout` Some) of GELU; contiguous, x's dtype.
pub(crate) fn gelu(x: &Tensor, dout: Option<&Tensor>) -> Result<Tensor> {
    const OP: &str = "gelu";
    let rt = dev_storage(x, OP)?.runtime().clone();
    float_dispatch!(x.dtype(), OP, T => {
        let xs = exact::<T>(x, OP)?;
        let mut out = alloc::<T>(&rt, x.elem_count())?;
        if x.elem_count() > 0 {
            match dout {
                None => launch::gelu_fwd(&rt, &xs, &mut out).map_err(cuda_err("gelu_fwd"))?,
                Some(g) => {
                    let g = g.to_dtype(x.dtype())?;
                    let gs = exact::<T>(&g, OP)?;
                    launch::gelu_bwd(&rt, &xs, &gs, &mut out).map_err(cuda_err("gelu_bwd"))?
                }
            }
        }
        Ok(wrap(&rt, out, x.shape().clone()))
    })
}

/// Softmax over the last dim (`dout` None), or its backward from the output `y` (`dout` Some).
pub(crate) fn softmax(
    y_or_x: &Tensor,
    dout: Option<&Tensor>,
    (rows, d): (usize, usize),
) -> Result<Tensor> {
    const OP: &str = "softmax";
    let t = y_or_x;
    let rt = dev_storage(t, OP)?.runtime().clone();
    float_dispatch!(t.dtype(), OP, T => softmax_t::<T>(&rt, t, dout, (rows, d)))
}

fn softmax_t<T: DevElem + Elem>(
    rt: &std::sync::Arc<jepa_kernels::cuda::CudaRuntime>,
    t: &Tensor,
    dout: Option<&Tensor>,
    (rows, d): (usize, usize),
) -> Result<Tensor> {
    const OP: &str = "softmax";
    let ts = exact::<T>(t, OP)?;
    let mut out = alloc::<T>(rt, rows * d)?;
    match dout {
        None => launch::softmax_fwd(rt, rows, d, &ts, &mut out).map_err(cuda_err("softmax_fwd"))?,
        Some(g) => {
            let g = g.to_dtype(t.dtype())?;
            let gs = exact::<T>(&g, OP)?;
            launch::softmax_bwd(rt, rows, d, &ts, &gs, &mut out).map_err(cuda_err("softmax_bwd"))?
        }
    }
    Ok(wrap(rt, out, t.shape().clone()))
}
