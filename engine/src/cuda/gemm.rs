//! Batched matmul on the device through cuBLAS (strided batched GEMM with the row-major operand
//! swap of cuda.md §8, done by `jepa_kernels::cuda::blas`).
//!
//! cuBLAS addresses each operand as `batch` packed matrices at one batch stride, stored either
//! row-major or transposed. Most engine views already are that (a contiguous tensor, a `.t()`
//! of one, a `[k, n]` weight shared by every batch item with stride 0), and are passed in place,
//! starting at their element offset. Any other layout (a permuted batch, a partly broadcast
//! batch) is first made contiguous on the device.

use super::{alloc, copy_layout, cuda_err, dev_storage, wrap, CudaStorage, DevElem};
use crate::layout::Layout;
use crate::{DType, Error, Result, Shape, Tensor};
use jepa_kernels::cuda::blas::{gemm_bf16_on, gemm_f32_on, GemmShape};
use jepa_kernels::cuda::CudaView;
use parking_lot::MappedRwLockReadGuard;
use std::ops::Deref;

/// An operand's storage: the tensor's own (read-locked) or a contiguous copy.
enum Src<'a> {
    Shared(MappedRwLockReadGuard<'a, CudaStorage>),
    Owned(CudaStorage),
}

impl Deref for Src<'_> {
    type Target = CudaStorage;
    fn deref(&self) -> &CudaStorage {
        match self {
            Src::Shared(g) => g,
            Src::Owned(s) => s,
        }
    }
}

/// How cuBLAS reads one operand: storage, element offset, stored transposed, batch stride.
struct Operand<'a> {
    src: Src<'a>,
    offset: usize,
    trans: bool,
    batch_stride: usize,
}

/// `(trans, batch_stride)` when `l` (`[batch.., rows, cols]`) is packed matrices at one batch
/// stride; None when it must be copied first.
fn packed(l: &Layout, nb: usize, rows: usize, cols: usize) -> Option<(bool, usize)> {
    let (sr, sc) = (l.stride()[nb], l.stride()[nb + 1]);
    let trans = if (cols == 1 || sc == 1) && (rows == 1 || sr == cols) {
        false
    } else if (rows == 1 || sr == 1) && (cols == 1 || sc == rows) {
        true
    } else {
        return None;
    };
    // Batch dims of size > 1, innermost first: each must step over all the inner ones.
    let mut stride: Option<usize> = None;
    let mut inner = 1usize;
    for d in (0..nb).rev().filter(|&d| l.dims()[d] != 1) {
        let s = l.stride()[d];
        match stride {
            None => stride = Some(s),
            Some(base) if s == base * inner => {}
            Some(_) => return None,
        }
        inner *= l.dims()[d];
    }
    Some((trans, stride.unwrap_or(rows * cols)))
}

fn operand<'a>(t: &'a Tensor, batch: &Shape, rows: usize, cols: usize) -> Result<Operand<'a>> {
    const OP: &str = "matmul";
    let mut dims = batch.dims().to_vec();
    dims.extend([rows, cols]);
    let l = t.layout().broadcast_as(OP, &Shape::from(dims))?;
    let st = dev_storage(t, OP)?;
    if let Some((trans, batch_stride)) = packed(&l, batch.rank(), rows, cols) {
        let offset = l.start_offset();
        return Ok(Operand {
            src: Src::Shared(st),
            offset,
            trans,
            batch_stride,
        });
    }
    Ok(Operand {
        src: Src::Owned(copy_layout(&st, &l, OP)?),
        offset: 0,
        trans: false,
        batch_stride: rows * cols,
    })
}

/// `a · b` for `a: [.., m, k]`, `b: [.., k, n]` whose batch dims broadcast to `batch`; returns
/// a contiguous `[batch.., m, n]` tensor in the operands' dtype. Untracked.
pub(crate) fn matmul(
    a: &Tensor,
    b: &Tensor,
    batch: &Shape,
    (m, k, n): (usize, usize, usize),
) -> Result<Tensor> {
    const OP: &str = "matmul";
    let count = batch.elem_count();
    let mut out_dims = batch.dims().to_vec();
    out_dims.extend([m, n]);
    let rt = dev_storage(a, OP)?.runtime().clone();
    if count * m * n == 0 || k == 0 {
        // An empty sum is zero (and cuBLAS rejects empty shapes).
        return Tensor::zeros(out_dims, a.dtype(), a.device());
    }
    let (oa, ob) = (operand(a, batch, m, k)?, operand(b, batch, k, n)?);
    let shape = GemmShape {
        m,
        n,
        k,
        batch: count,
        trans_a: oa.trans,
        trans_b: ob.trans,
        stride_a: oa.batch_stride,
        stride_b: ob.batch_stride,
        stride_c: m * n,
    };
    let c_len = count * m * n;
    match a.dtype() {
        DType::F32 => {
            let mut c = alloc::<f32>(&rt, c_len)?;
            let (va, vb) = (view::<f32>(&oa)?, view::<f32>(&ob)?);
            gemm_f32_on(&rt, shape, 1.0, &va, &vb, 0.0, &mut c).map_err(cuda_err("gemm_f32"))?;
            Ok(wrap(&rt, c, out_dims))
        }
        DType::BF16 => {
            let mut c = alloc::<u16>(&rt, c_len)?;
            let (va, vb) = (view::<u16>(&oa)?, view::<u16>(&ob)?);
            gemm_bf16_on(&rt, shape, 1.0, &va, &vb, 0.0, &mut c).map_err(cuda_err("gemm_bf16"))?;
            Ok(wrap(&rt, c, out_dims))
        }
        dtype => Err(Error::UnsupportedDType { op: OP, dtype }),
    }
}

/// The operand's buffer from its element offset to the end (cuBLAS's lengths are checked against
/// the view, so a view past a tensor's own elements is still bounded by the allocation).
fn view<'o, T: DevElem>(o: &'o Operand) -> Result<CudaView<'o, T>> {
    const OP: &str = "matmul";
    let whole = o.src.slice::<T>(OP)?;
    whole
        .try_slice(o.offset..)
        .ok_or_else(|| Error::Unsupported {
            op: OP,
            msg: format!(
                "operand offset {} past its buffer of {}",
                o.offset,
                whole.len()
            ),
        })
}
