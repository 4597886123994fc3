//! Data movement on the device: strided copies (making views contiguous, writing into a strided
//! destination for `cat` / `assign`) through copy.cu, and dtype casts.

use super::storage::{alloc, CudaBuf};
use super::{cuda_err, CudaStorage};
use crate::layout::Layout;
use crate::storage::CpuStorage;
use crate::{DType, Error, Result};
use jepa_kernels::cuda::launch::{self, meta::StridedMeta};

/// The descriptor for reading `src` and writing `dst` (same shape).
fn meta(src: &Layout, dst: &Layout) -> Result<StridedMeta> {
    StridedMeta::new(
        src.dims(),
        (src.stride(), src.start_offset()),
        (dst.stride(), dst.start_offset()),
    )
    .map_err(cuda_err("strided_copy"))
}

/// A new contiguous storage holding the elements `layout` addresses in `src`, row-major.
pub(crate) fn copy_layout(
    src: &CudaStorage,
    layout: &Layout,
    op: &'static str,
) -> Result<CudaStorage> {
    let n = layout.shape().elem_count();
    let mut out = CudaStorage::zeros(src.runtime().clone(), src.dtype(), n, op)?;
    copy_into(
        src,
        layout,
        &mut out,
        &Layout::contiguous(layout.shape()),
        op,
    )?;
    Ok(out)
}

/// Writes the elements `sl` addresses in `src` to the places `dl` addresses in `dst` (same
/// shape and dtype; distinct buffers).
pub(crate) fn copy_into(
    src: &CudaStorage,
    sl: &Layout,
    dst: &mut CudaStorage,
    dl: &Layout,
    op: &'static str,
) -> Result<()> {
    if sl.shape() != dl.shape() {
        return Err(Error::ShapeMismatch {
            op,
            lhs: sl.shape().clone(),
            rhs: dl.shape().clone(),
        });
    }
    let m = meta(sl, dl)?;
    let rt = src.runtime().clone();
    let e = cuda_err("strided_copy");
    match (&src.buf, &mut dst.buf) {
        (CudaBuf::F32(s), CudaBuf::F32(d)) => launch::strided_copy(&rt, &m, s, d).map_err(e),
        (CudaBuf::BF16(s), CudaBuf::BF16(d)) => launch::strided_copy(&rt, &m, s, d).map_err(e),
        (CudaBuf::I64(s), CudaBuf::I64(d)) => launch::strided_copy(&rt, &m, s, d).map_err(e),
        _ => Err(Error::DTypeMismatch {
            op,
            expected: dst.dtype(),
            got: src.dtype(),
        }),
    }
}

/// The elements `layout` addresses, converted to `dtype`, as a new contiguous storage.
/// f32 ↔ bf16 run on the device (round to nearest even); casts to or from I64 go through the
/// host, where the CPU rules (truncation toward zero) apply; F16 has no device storage.
pub(crate) fn cast(
    src: &CudaStorage,
    layout: &Layout,
    dtype: DType,
    op: &'static str,
) -> Result<CudaStorage> {
    let dense = copy_layout(src, layout, op)?;
    if dtype == src.dtype() {
        return Ok(dense);
    }
    let n = layout.shape().elem_count();
    let rt = src.runtime().clone();
    match (&dense.buf, dtype) {
        (CudaBuf::F32(x), DType::BF16) => {
            let mut out = alloc::<u16>(&rt, n)?;
            launch::cast_f32_to_bf16(&rt, x, &mut out).map_err(cuda_err("cast_f32_to_bf16"))?;
            Ok(CudaStorage::new(rt, out))
        }
        (CudaBuf::BF16(x), DType::F32) => {
            let mut out = alloc::<f32>(&rt, n)?;
            launch::cast_bf16_to_f32(&rt, x, &mut out).map_err(cuda_err("cast_bf16_to_f32"))?;
            Ok(CudaStorage::new(rt, out))
        }
        (_, DType::F16) => Err(Error::UnsupportedDType { op, dtype }),
        _ => {
            let contiguous = Layout::contiguous(layout.shape());
            let host: CpuStorage = dense.to_host(&contiguous, op)?.cast(&contiguous, dtype);
            CudaStorage::from_host(rt, &host, &contiguous, op)
        }
    }
}
