//! cuBLAS GEMM from row-major code (cuda.md §8).
//!
//! cuBLAS is column-major; a row-major `[R, C]` buffer is the column-major `[C, R]` matrix. So
//! `C = op(A)·op(B)` is computed as `Cᵀ = op(B)ᵀ·op(A)ᵀ` by swapping the operands: cuBLAS gets
//! `m = N, n = M, k = K`, B first, A second, `ldc = N`. A transposed row-major operand keeps its
//! stored leading dimension and flips cuBLAS's transpose flag.

use cudarc::cublas::sys::{
    cublasComputeType_t, cublasGemmAlgo_t, cublasOperation_t, cudaDataType_t,
};
use cudarc::cublas::{Gemm, GemmConfig, StridedBatchedConfig};
use cudarc::driver::{CudaSlice, DevicePtr, DevicePtrMut};

use super::{CudaError, CudaRuntime};

/// A row-major, strided-batched GEMM: for each of `batch` items,
/// `C[M,N] = alpha·op(A)·op(B) + beta·C`, `op(A)` `[M,K]`, `op(B)` `[K,N]`.
///
/// `trans_a = false`: A is stored `[M, K]`; `true`: A is stored `[K, M]` (so op(A) = Aᵀ).
/// Likewise B is stored `[K, N]` or, with `trans_b`, `[N, K]` (a PyTorch-layout Linear weight).
/// Strides are in elements between consecutive batch items (0 broadcasts one matrix).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GemmShape {
    pub m: usize,
    pub n: usize,
    pub k: usize,
    pub batch: usize,
    pub trans_a: bool,
    pub trans_b: bool,
    pub stride_a: usize,
    pub stride_b: usize,
    pub stride_c: usize,
}

impl GemmShape {
    /// One contiguous row-major GEMM `C[M,N] = A[M,K]·B[K,N]` (batch 1).
    pub fn new(m: usize, n: usize, k: usize) -> Self {
        Self {
            m,
            n,
            k,
            batch: 1,
            trans_a: false,
            trans_b: false,
            stride_a: m * k,
            stride_b: k * n,
            stride_c: m * n,
        }
    }
}

/// The column-major call for a row-major shape, after validating buffer lengths.
fn plan(
    op: &'static str,
    s: &GemmShape,
    lens: (usize, usize, usize),
) -> Result<GemmConfig<()>, CudaError> {
    let bad = |reason: String| CudaError::InvalidArgument { kernel: op, reason };
    let need = |stride: usize, size: usize| {
        s.batch
            .saturating_sub(1)
            .saturating_mul(stride)
            .saturating_add(size)
    };
    if s.batch == 0 || s.m == 0 || s.n == 0 || s.k == 0 {
        return Err(bad(format!("empty GEMM {s:?}")));
    }
    if i32::try_from(s.batch).is_err()
        || [s.stride_a, s.stride_b, s.stride_c]
            .iter()
            .any(|v| i64::try_from(*v).is_err())
    {
        return Err(bad(format!("batch or strides out of range: {s:?}")));
    }
    let (la, lb, lc) = lens;
    for (what, len, req) in [
        ("a", la, need(s.stride_a, s.m * s.k)),
        ("b", lb, need(s.stride_b, s.k * s.n)),
        ("c", lc, need(s.stride_c, s.m * s.n)),
    ] {
        if len < req {
            return Err(bad(format!(
                "{what} holds {len} elements, the shape needs {req}"
            )));
        }
    }
    let i = |v: usize| i32::try_from(v).map_err(|_| bad(format!("dimension {v} exceeds i32")));
    let op_of = |t: bool| {
        if t {
            cublasOperation_t::CUBLAS_OP_T
        } else {
            cublasOperation_t::CUBLAS_OP_N
        }
    };
    Ok(GemmConfig {
        transa: op_of(s.trans_b),
        transb: op_of(s.trans_a),
        m: i(s.n)?,
        n: i(s.m)?,
        k: i(s.k)?,
        alpha: (),
        lda: i(if s.trans_b { s.k } else { s.n })?,
        ldb: i(if s.trans_a { s.m } else { s.k })?,
        beta: (),
        ldc: i(s.n)?,
    })
}

fn with_scalars<T>(g: GemmConfig<()>, alpha: T, beta: T) -> GemmConfig<T> {
    GemmConfig {
        transa: g.transa,
        transb: g.transb,
        m: g.m,
        n: g.n,
        k: g.k,
        alpha,
        lda: g.lda,
        ldb: g.ldb,
        beta,
        ldc: g.ldc,
    }
}

fn blas_err(op: &'static str) -> impl Fn(cudarc::cublas::result::CublasError) -> CudaError {
    move |e| CudaError::Blas {
        op,
        message: e.to_string(),
    }
}

/// f32 GEMM (`cublasSgemmStridedBatched`, FP32 math: no TF32 unless the engine opts in).
pub fn gemm_f32(
    rt: &CudaRuntime,
    s: GemmShape,
    alpha: f32,
    a: &CudaSlice<f32>,
    b: &CudaSlice<f32>,
    beta: f32,
    c: &mut CudaSlice<f32>,
) -> Result<(), CudaError> {
    gemm_f32_on(rt, s, alpha, a, b, beta, c)
}

/// [`gemm_f32`] on any device buffers, e.g. [`cudarc::driver::CudaView`]s that start at a
/// tensor's element offset inside a larger allocation. Lengths are the views' lengths.
pub fn gemm_f32_on<A: DevicePtr<f32>, B: DevicePtr<f32>, C: DevicePtrMut<f32>>(
    rt: &CudaRuntime,
    s: GemmShape,
    alpha: f32,
    a: &A,
    b: &B,
    beta: f32,
    c: &mut C,
) -> Result<(), CudaError> {
    let g = with_scalars(
        plan("gemm_f32", &s, (a.len(), b.len(), c.len()))?,
        alpha,
        beta,
    );
    let cfg = StridedBatchedConfig {
        gemm: g,
        batch_size: s.batch as i32,
        stride_a: s.stride_b as i64,
        stride_b: s.stride_a as i64,
        stride_c: s.stride_c as i64,
    };
    // SAFETY: lengths validated by `plan`; operands swapped for row-major (module docs).
    unsafe { rt.blas()?.gemm_strided_batched(cfg, b, a, c) }.map_err(blas_err("gemm_f32"))
}

/// bf16 GEMM on `u16` bit buffers through `cublasGemmStridedBatchedEx` with f32 accumulation
/// (`CUBLAS_COMPUTE_32F`); alpha and beta are f32.
pub fn gemm_bf16(
    rt: &CudaRuntime,
    s: GemmShape,
    alpha: f32,
    a: &CudaSlice<u16>,
    b: &CudaSlice<u16>,
    beta: f32,
    c: &mut CudaSlice<u16>,
) -> Result<(), CudaError> {
    gemm_bf16_on(rt, s, alpha, a, b, beta, c)
}

/// [`gemm_bf16`] on any device buffers (views at an offset included).
pub fn gemm_bf16_on<A: DevicePtr<u16>, B: DevicePtr<u16>, C: DevicePtrMut<u16>>(
    rt: &CudaRuntime,
    s: GemmShape,
    alpha: f32,
    a: &A,
    b: &B,
    beta: f32,
    c: &mut C,
) -> Result<(), CudaError> {
    let g = plan("gemm_bf16", &s, (a.len(), b.len(), c.len()))?;
    let blas = rt.blas()?;
    let stream = rt.stream();
    let (pa, _ra) = a.device_ptr(stream);
    let (pb, _rb) = b.device_ptr(stream);
    let (pc, _rc) = c.device_ptr_mut(stream);
    // SAFETY: lengths validated by `plan`; alpha/beta outlive the call; operands swapped.
    unsafe {
        cudarc::cublas::result::gemm_strided_batched_ex(
            *blas.handle(),
            g.transa,
            g.transb,
            g.m,
            g.n,
            g.k,
            (&alpha) as *const f32 as *const _,
            pb as *const _,
            cudaDataType_t::CUDA_R_16BF,
            g.lda,
            s.stride_b as i64,
            pa as *const _,
            cudaDataType_t::CUDA_R_16BF,
            g.ldb,
            s.stride_a as i64,
            (&beta) as *const f32 as *const _,
            pc as *mut _,
            cudaDataType_t::CUDA_R_16BF,
            g.ldc,
            s.stride_c as i64,
            s.batch as i32,
            cublasComputeType_t::CUBLAS_COMPUTE_32F,
            cublasGemmAlgo_t::CUBLAS_GEMM_DEFAULT,
        )
    }
    .map_err(blas_err("gemm_bf16"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_row_major_product_swaps_operands() {
        // C[M,N] = A[M,K]·B[K,N]: m = N, n = M, k = K, B first (lda = N), A second (ldb = K).
        let g = plan("t", &GemmShape::new(5, 7, 3), (15, 21, 35)).unwrap();
        assert_eq!((g.m, g.n, g.k, g.lda, g.ldb, g.ldc), (7, 5, 3, 7, 3, 7));
        assert_eq!(
            (g.transa, g.transb),
            (
                cublasOperation_t::CUBLAS_OP_N,
                cublasOperation_t::CUBLAS_OP_N
            )
        );
    }

    #[test]
    fn linear_layer_weight_is_transposed_first_operand() {
        // C[M,N] = A[M,K]·W[N,K]ᵀ: first operand W with transa = T, lda = K; A with ldb = K.
        let s = GemmShape {
            trans_b: true,
            ..GemmShape::new(4, 6, 8)
        };
        let g = plan("t", &s, (32, 48, 24)).unwrap();
        assert_eq!((g.m, g.n, g.k, g.lda, g.ldb, g.ldc), (6, 4, 8, 8, 8, 6));
        assert_eq!(g.transa, cublasOperation_t::CUBLAS_OP_T);
        assert_eq!(g.transb, cublasOperation_t::CUBLAS_OP_N);
        let s = GemmShape {
            trans_a: true,
            ..GemmShape::new(4, 6, 8)
        };
        let g = plan("t", &s, (32, 48, 24)).unwrap();
        assert_eq!((g.ldb, g.transb), (4, cublasOperation_t::CUBLAS_OP_T));
    }

    #[test]
    fn short_buffers_and_empty_shapes_are_errors_not_launches() {
        let s = GemmShape {
            batch: 2,
            ..GemmShape::new(2, 2, 2)
        };
        assert!(matches!(
            plan("t", &s, (7, 8, 8)),
            Err(CudaError::InvalidArgument { .. })
        ));
        assert!(plan("t", &s, (8, 8, 8)).is_ok());
        assert!(plan("t", &GemmShape::new(0, 2, 2), (8, 8, 8)).is_err());
    }
}
