//! The JEPA-specific ops on the device: row gather / scatter-add (gather.cu), patchify and its
//! adjoint (patchify.cu), the regression losses (loss.cu) and the VICReg terms (vicreg.cu).
//! Backward helpers return the gradient for an upstream of 1; the op files scale it by the
//! upstream scalar with a broadcasting multiply, which keeps that scalar on the device.

use super::{alloc, cuda_err, dev_storage, driver_err, exact, float_dispatch, wrap};
use crate::{DType, Error, Result, Shape, Tensor};
use jepa_kernels::cuda::launch::{self, VicregScratch};
use jepa_kernels::cuda::{CudaRuntime, CudaSlice};

/// Row indices as the i32 device buffer gather.cu reads (validated `< n` by the caller).
fn upload_index(rt: &CudaRuntime, op: &'static str, idx: &[usize]) -> Result<CudaSlice<i32>> {
    let v = idx
        .iter()
        .map(|&i| {
            i32::try_from(i).map_err(|_| Error::IndexOutOfRange {
                op,
                index: i as i64,
                size: i32::MAX as usize,
            })
        })
        .collect::<Result<Vec<i32>>>()?;
    let s = rt.stream();
    if v.is_empty() {
        return s.alloc_zeros::<i32>(1).map_err(driver_err("htod"));
    }
    s.clone_htod(&v).map_err(driver_err("htod"))
}

/// `out[i, j, :] = x[i, idx[i·k + j], :]` for `x: [b, n, d]` → `[b, k, d]`.
pub(crate) fn gather_fwd(
    x: &Tensor,
    (b, n, d, k): (usize, usize, usize, usize),
    idx: &[usize],
) -> Result<Tensor> {
    const OP: &str = "gather_rows";
    let rt = dev_storage(x, OP)?.runtime().clone();
    let index = upload_index(&rt, OP, idx)?;
    float_dispatch!(x.dtype(), OP, T => {
        let xs = exact::<T>(x, OP)?;
        let mut out = alloc::<T>(&rt, b * k * d)?;
        if b * k * d > 0 {
            launch::gather_rows(&rt, b, n, d, k, &xs, &index, &mut out).map_err(cuda_err("gather_rows"))?;
        }
        Ok(wrap(&rt, out, [b, k, d]))
    })
}

/// Scatter-add of `g: [b, k, d]` into a zero `[b, n, d]` (repeated indices accumulate, in f32).
pub(crate) fn scatter_bwd(
    g: &Tensor,
    (b, n, d, k): (usize, usize, usize, usize),
    idx: &[usize],
    dtype: DType,
) -> Result<Tensor> {
    const OP: &str = "gather_rows";
    let rt = dev_storage(g, OP)?.runtime().clone();
    let index = upload_index(&rt, OP, idx)?;
    let g = g.to_dtype(dtype)?;
    let mut dx = alloc::<f32>(&rt, b * n * d)?;
    if b * k * d > 0 {
        float_dispatch!(dtype, OP, T => {
            let gs = exact::<T>(&g, OP)?;
            launch::scatter_add_rows(&rt, b, n, d, k, &gs, &index, &mut dx).map_err(cuda_err("scatter_add_rows"))
        })?;
    }
    wrap(&rt, dx, [b, n, d]).to_dtype(dtype)
}

/// Patchify (`forward`) of `[b, c, h, w]` images into `[b, L, c·p·p]` rows, or its adjoint from
/// such rows back to images; `src` is the input of the chosen direction, `dims` = (b, c, h, w, p).
pub(crate) fn patchify(src: &Tensor, dims: [usize; 5], forward: bool) -> Result<Tensor> {
    const OP: &str = "patchify";
    let [b, c, h, w, p] = dims;
    let rt = dev_storage(src, OP)?.runtime().clone();
    let out_shape: Shape = if forward {
        [b, (h / p) * (w / p), c * p * p].into()
    } else {
        [b, c, h, w].into()
    };
    float_dispatch!(src.dtype(), OP, T => {
        let xs = exact::<T>(src, OP)?;
        let mut out = alloc::<T>(&rt, src.elem_count())?;
        if src.elem_count() > 0 {
            if forward {
                launch::patchify(&rt, b, c, h, w, p, &xs, &mut out).map_err(cuda_err("patchify"))?;
            } else {
                launch::unpatchify(&rt, b, c, h, w, p, &xs, &mut out).map_err(cuda_err("unpatchify"))?;
            }
        }
        Ok(wrap(&rt, out, out_shape))
    })
}

/// Which regression loss.
#[derive(Clone, Copy)]
pub(crate) enum LossKind {
    SmoothL1(f32),
    Mse,
}

/// mean(loss(z − h)) as a rank-0 tensor in z's dtype (NaN for no elements, as on the CPU).
pub(crate) fn loss_fwd(z: &Tensor, h: &Tensor, kind: LossKind, op: &'static str) -> Result<Tensor> {
    if z.elem_count() == 0 {
        return Tensor::full(f32::NAN, Shape::from(()), z.dtype(), z.device());
    }
    let rt = dev_storage(z, op)?.runtime().clone();
    let mut out = alloc::<f32>(&rt, 1)?;
    float_dispatch!(z.dtype(), op, T => {
        let (zs, hs) = (exact::<T>(z, op)?, exact::<T>(h, op)?);
        match kind {
            LossKind::SmoothL1(beta) => launch::smooth_l1_fwd(&rt, &zs, &hs, beta, &mut out),
            LossKind::Mse => launch::mse_fwd(&rt, &zs, &hs, &mut out),
        }
        .map_err(cuda_err("loss_fwd"))
    })?;
    wrap(&rt, out, Shape::from(())).to_dtype(z.dtype())
}

/// d loss / dz for an upstream of 1 (dh is its negation), in z's dtype.
pub(crate) fn loss_bwd(z: &Tensor, h: &Tensor, kind: LossKind, op: &'static str) -> Result<Tensor> {
    let rt = dev_storage(z, op)?.runtime().clone();
    float_dispatch!(z.dtype(), op, T => {
        let (zs, hs) = (exact::<T>(z, op)?, exact::<T>(h, op)?);
        let mut dz = alloc::<T>(&rt, z.elem_count())?;
        if z.elem_count() > 0 {
            match kind {
                LossKind::SmoothL1(beta) => launch::smooth_l1_bwd(&rt, &zs, &hs, beta, 1.0, &mut dz),
                LossKind::Mse => launch::mse_bwd(&rt, &zs, &hs, 1.0, &mut dz),
            }
            .map_err(cuda_err("loss_bwd"))?;
        }
        Ok(wrap(&rt, dz, z.shape().clone()))
    })
}

/// VICReg on `e: [n, d]` (n ≥ 2, checked by the op): the (var, cov) losses as rank-0 tensors
/// when `grad` is None, else the gradient of the var (`Some(true)`) or cov (`Some(false)`) loss
/// for an upstream of 1 as the only element of the result. Computed in f32 (vicreg.cu is f32
/// only); results are cast to e's dtype.
pub(crate) fn vicreg(e: &Tensor, eps: f32, grad: Option<bool>) -> Result<Vec<Tensor>> {
    const OP: &str = "vicreg";
    let (n, d) = (e.dims()[0], e.dims()[1]);
    let e32 = e.detach().to_dtype(DType::F32)?;
    let es = exact::<f32>(&e32, OP)?;
    let rt = dev_storage(e, OP)?.runtime().clone();
    let mut scratch = VicregScratch::new(&rt, n, d).map_err(cuda_err(OP))?;
    let mut losses = alloc::<f32>(&rt, 2)?;
    let mut de = grad.map(|_| alloc::<f32>(&rt, n * d)).transpose()?;
    let (dv, dc) = match (grad, de.as_mut()) {
        (Some(true), Some(g)) => (Some(g), None),
        (Some(false), Some(g)) => (None, Some(g)),
        _ => (None, None),
    };
    launch::vicreg(&rt, n, d, &es, eps, &mut scratch, &mut losses, dv, dc).map_err(cuda_err(OP))?;
    if let Some(de) = de {
        return Ok(vec![wrap(&rt, de, [n, d]).to_dtype(e.dtype())?]);
    }
    let both = wrap(&rt, losses, [2]);
    let pick = |i: usize| {
        both.narrow(0, i, 1)?
            .reshape(Shape::from(()))?
            .to_dtype(e.dtype())
    };
    Ok(vec![pick(0)?, pick(1)?])
}
