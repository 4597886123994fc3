//! Batched GEMM with arbitrary (non-negative) strides and an optional bias epilogue.
//! STUB: signatures are the contract; bodies are filled in by the kernels work.

/// Element strides of one operand: between batch items, rows and columns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Strides {
    pub batch: usize,
    pub row: usize,
    pub col: usize,
}

impl Strides {
    /// Contiguous row-major `[rows, cols]` matrices packed one after another.
    pub fn row_major(rows: usize, cols: usize) -> Self {
        Strides { batch: rows * cols, row: cols, col: 1 }
    }
    /// The transpose view of a contiguous row-major `[cols, rows]` matrix.
    pub fn transposed(rows: usize, cols: usize) -> Self {
        Strides { batch: rows * cols, row: 1, col: rows }
    }
}

/// `c[b] = (accumulate ? c[b] : 0) + a[b]·b[b] (+ bias)` for `b in 0..batch`.
/// `a[b]` is `[m, k]`, `b[b]` is `[k, n]` (read through strides), `c` is contiguous
/// `[batch, m, n]`, `bias` is `[n]` added to every row.
#[allow(clippy::too_many_arguments)]
pub fn gemm(
    batch: usize, m: usize, k: usize, n: usize,
    a: &[f32], sa: Strides, b: &[f32], sb: Strides,
    c: &mut [f32], bias: Option<&[f32]>, accumulate: bool,
) {
    gemm_ref(batch, m, k, n, a, sa, b, sb, c, bias, accumulate)
}

/// Scalar reference of [`gemm`], f64 accumulation.
#[allow(clippy::too_many_arguments)]
pub fn gemm_ref(
    batch: usize, m: usize, k: usize, n: usize,
    a: &[f32], sa: Strides, b: &[f32], sb: Strides,
    c: &mut [f32], bias: Option<&[f32]>, accumulate: bool,
) {
    for bi in 0..batch {
        for i in 0..m {
            for j in 0..n {
                let mut acc = 0f64;
                for p in 0..k {
                    acc += a[bi * sa.batch + i * sa.row + p * sa.col] as f64
                        * b[bi * sb.batch + p * sb.row + j * sb.col] as f64;
                }
                if let Some(bias) = bias {
                    acc += bias[j] as f64;
                }
                let o = &mut c[(bi * m + i) * n + j];
                *o = if accumulate { *o + acc as f32 } else { acc as f32 };
            }
        }
    }
}
