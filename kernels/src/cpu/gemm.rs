//! Batched GEMM with arbitrary (non-negative) strides and an optional bias epilogue.
//!
//! The fast version wraps the `gemm` crate, whose convention is `dst = alpha·dst + beta·lhs·rhs`
//! with free row/column strides (so transposed operands cost nothing). The bias epilogue is folded
//! in by pre-filling (or pre-adding to) `c` and letting the crate accumulate onto it, which saves a
//! second pass over `c` after the product. Batches of small products (attention-sized) are spread
//! over rayon with each product single-threaded; large products use the crate's own threading.
//!
//! [`MatmulPrecision`] mirrors `torch.set_float32_matmul_precision`: at `High` or `Medium`,
//! products run on AMX bf16 tiles where the CPU has them (`gemm/amx.rs`, `gemm/bf16.rs`), and
//! stay exact f32 elsewhere. The default, `Highest`, is plain f32.

#[cfg(target_arch = "x86_64")]
mod amx;
#[cfg(target_arch = "x86_64")]
mod bf16;
#[cfg(target_arch = "x86_64")]
mod bf16_pack;

use gemm::Parallelism;
use rayon::prelude::*;
use std::fmt;
use std::str::FromStr;
use std::sync::atomic::{AtomicU8, Ordering};

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
        Strides {
            batch: rows * cols,
            row: cols,
            col: 1,
        }
    }
    /// The transpose view of a contiguous row-major `[cols, rows]` matrix.
    pub fn transposed(rows: usize, cols: usize) -> Self {
        Strides {
            batch: rows * cols,
            row: 1,
            col: rows,
        }
    }
}

/// Why a set of [`gemm()`] arguments cannot be run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GemmArgError {
    /// An operand slice is shorter than its shape and strides reach.
    TooShort {
        operand: &'static str,
        needed: usize,
        len: usize,
    },
    /// Shape times strides does not fit in `usize`/`isize`.
    Overflow { operand: &'static str },
}

impl fmt::Display for GemmArgError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GemmArgError::TooShort {
                operand,
                needed,
                len,
            } => {
                write!(
                    f,
                    "gemm operand `{operand}` needs {needed} elements, slice has {len}"
                )
            }
            GemmArgError::Overflow { operand } => {
                write!(f, "gemm operand `{operand}`: shape × strides overflows")
            }
        }
    }
}

impl std::error::Error for GemmArgError {}

/// Number of elements a strided `[batch, rows, cols]` view reaches (0 when any dim is 0).
fn extent(operand: &'static str, dims: [usize; 3], s: Strides) -> Result<usize, GemmArgError> {
    if dims.contains(&0) {
        return Ok(0);
    }
    let over = || GemmArgError::Overflow { operand };
    let last = [
        (dims[0] - 1, s.batch),
        (dims[1] - 1, s.row),
        (dims[2] - 1, s.col),
    ]
    .iter()
    .try_fold(0usize, |acc, &(i, st)| acc.checked_add(i.checked_mul(st)?))
    .ok_or_else(over)?;
    // The crate takes isize strides and offsets.
    let fits = |v: usize| isize::try_from(v).is_ok();
    if !(fits(last) && fits(s.batch) && fits(s.row) && fits(s.col)) {
        return Err(over());
    }
    Ok(last + 1)
}

/// Checks that every slice covers what the shape and strides of a [`gemm()`] call reach.
#[allow(clippy::too_many_arguments)]
pub fn check_gemm_args(
    batch: usize,
    m: usize,
    k: usize,
    n: usize,
    a: &[f32],
    sa: Strides,
    b: &[f32],
    sb: Strides,
    c: &[f32],
    bias: Option<&[f32]>,
) -> Result<(), GemmArgError> {
    let need = |operand, needed: usize, len: usize| {
        if needed > len {
            Err(GemmArgError::TooShort {
                operand,
                needed,
                len,
            })
        } else {
            Ok(())
        }
    };
    need("a", extent("a", [batch, m, k], sa)?, a.len())?;
    need("b", extent("b", [batch, k, n], sb)?, b.len())?;
    let c_len = extent("c", [batch, m, n], Strides::row_major(m, n))?;
    need("c", c_len, c.len())?;
    if let Some(bias) = bias {
        need("bias", if batch * m == 0 { 0 } else { n }, bias.len())?;
    }
    Ok(())
}

/// Internal precision of f32 matrix products, as in `torch.set_float32_matmul_precision`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum MatmulPrecision {
    /// f32 multiply-adds (the default).
    #[default]
    Highest,
    /// Each operand as the sum of two bf16 (≈ 16 significant bits), three bf16 products per
    /// pair, f32 accumulation: relative error ≈ 1e-5 of Σ|a·b|.
    High,
    /// Operands rounded to bf16 (8 significant bits), f32 accumulation: ≈ 4e-3 of Σ|a·b|.
    Medium,
}

impl MatmulPrecision {
    pub const ALL: [MatmulPrecision; 3] = [Self::Highest, Self::High, Self::Medium];
    pub fn name(self) -> &'static str {
        match self {
            Self::Highest => "highest",
            Self::High => "high",
            Self::Medium => "medium",
        }
    }
}

impl FromStr for MatmulPrecision {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|p| p.name() == s)
            .ok_or_else(|| {
                format!("unknown matmul precision `{s}` (expected highest, high or medium)")
            })
    }
}

impl fmt::Display for MatmulPrecision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

static PRECISION: AtomicU8 = AtomicU8::new(0);

/// Sets the precision every later [`gemm()`] call in this process uses.
pub fn set_matmul_precision(p: MatmulPrecision) {
    PRECISION.store(p as u8, Ordering::Relaxed);
}

/// The precision set by [`set_matmul_precision`] (default `Highest`).
pub fn matmul_precision() -> MatmulPrecision {
    MatmulPrecision::ALL[PRECISION.load(Ordering::Relaxed) as usize]
}

/// Whether `High`/`Medium` have hardware here (AMX-BF16 granted by the OS); without it they
/// compute in f32, like PyTorch where no faster algorithm exists.
pub fn reduced_precision_available() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        amx::available()
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// Below this many multiply-adds a product runs single-threaded: rayon dispatch would cost more
/// than it saves.
const PAR_MIN_FLOPS: usize = 48 * 48 * 48;
/// Per-item size below which a batch is always parallelised over items rather than inside each
/// product (the crate's own threading has too little to split there).
const BATCH_ITEM_MAX_FLOPS: usize = 256 * 256 * 256;

/// Whether to spread a batch over rayon with single-threaded products. Large products go over
/// the batch too when the items divide evenly among threads (or there are many of them);
/// otherwise, e.g. 3 big items on 2 threads, splitting inside each product balances better.
fn batch_parallel(batch: usize, flops: usize, threads: usize) -> bool {
    batch > 1
        && threads > 1
        && (flops < BATCH_ITEM_MAX_FLOPS || batch.is_multiple_of(threads) || batch >= 4 * threads)
}

/// `c[b] = (accumulate ? c[b] : 0) + a[b]·b[b] (+ bias)` for `b in 0..batch`.
/// `a[b]` is `[m, k]`, `b[b]` is `[k, n]` (read through strides), `c` is contiguous
/// `[batch, m, n]`, `bias` is `[n]` added to every row.
///
/// # Panics
/// If a slice is shorter than its shape and strides reach (see [`check_gemm_args`], which
/// callers use to get a typed error instead).
#[allow(clippy::too_many_arguments)]
pub fn gemm(
    batch: usize,
    m: usize,
    k: usize,
    n: usize,
    a: &[f32],
    sa: Strides,
    b: &[f32],
    sb: Strides,
    c: &mut [f32],
    bias: Option<&[f32]>,
    accumulate: bool,
) {
    gemm_at(
        matmul_precision(),
        batch,
        m,
        k,
        n,
        a,
        sa,
        b,
        sb,
        c,
        bias,
        accumulate,
    )
}

/// [`gemm()`] at an explicit precision instead of the process-wide setting.
#[allow(clippy::too_many_arguments)]
pub fn gemm_at(
    precision: MatmulPrecision,
    batch: usize,
    m: usize,
    k: usize,
    n: usize,
    a: &[f32],
    sa: Strides,
    b: &[f32],
    sb: Strides,
    c: &mut [f32],
    bias: Option<&[f32]>,
    accumulate: bool,
) {
    if let Err(e) = check_gemm_args(batch, m, k, n, a, sa, b, sb, c, bias) {
        panic!("{e}");
    }
    if batch == 0 || m == 0 || n == 0 {
        return;
    }
    let item = m * n;
    let c = &mut c[..batch * item];
    let flops = m.saturating_mul(n).saturating_mul(k);
    let threads = rayon::current_num_threads();
    let amx = (reduced_precision_available() && amx_pays(precision, m, k, n))
        .then_some(precision == MatmulPrecision::High);
    let one = |bi: usize, cb: &mut [f32], threads: usize| {
        // SAFETY: check_gemm_args proved every index the kernels read (a, b) or write (cb) is
        // in bounds and fits in isize; cb is exclusively borrowed; `amx` implies AMX is usable.
        unsafe {
            gemm_item(
                m, k, n, a, sa, b, sb, bi, cb, bias, accumulate, threads, amx,
            )
        }
    };
    if batch_parallel(batch, flops, threads) {
        // Group items so each rayon task carries at least PAR_MIN_FLOPS of work.
        let min_len = (PAR_MIN_FLOPS / flops.max(1)).max(1);
        c.par_chunks_mut(item)
            .enumerate()
            .with_min_len(min_len)
            .for_each(|(bi, cb)| one(bi, cb, 1));
    } else {
        let par = if flops >= PAR_MIN_FLOPS { threads } else { 1 };
        for (bi, cb) in c.chunks_exact_mut(item).enumerate() {
            one(bi, cb, par);
        }
    }
}

/// Products below this many multiply-adds stay in f32 at every precision: a 32 × 32 AMX block
/// would be mostly padding.
const AMX_MIN_FLOPS: usize = 16 * 16 * 16;

/// Whether AMX beats f32 on this shape (`kernels/examples/gemm_precision.rs`, 2 threads):
/// converting both operands to bf16 costs O(m·k + k·n) against O(m·k·n) of tile work, so it
/// needs products that are neither thin (small m or n) nor, at `High`'s three bf16 products,
/// much deeper than wide (the ViT's weight gradients over 6400 tokens with 96 × 384 outputs
/// ran 1.2–1.6× slower than f32 there, while 768 × 4096 × 192 ran 1.4× faster).
fn amx_pays(p: MatmulPrecision, m: usize, k: usize, n: usize) -> bool {
    let big = m.saturating_mul(k).saturating_mul(n) >= AMX_MIN_FLOPS && m >= 32 && n >= 32;
    match p {
        MatmulPrecision::Highest => false,
        MatmulPrecision::High => big && k >= 64 && k <= 8 * (m + n),
        MatmulPrecision::Medium => big && k >= 32,
    }
}

/// One product of the batch into the contiguous `[m, n]` block `cb`, on up to `threads` rayon
/// workers; `amx` = Some(three terms?) runs it on AMX tiles.
///
/// # Safety
/// `a`/`b` must cover item `bi` through their strides, `cb.len() == m·n`, `bias` (if any) ≥ n,
/// and every offset must fit in isize; `amx` only where [`reduced_precision_available`].
#[allow(clippy::too_many_arguments)]
unsafe fn gemm_item(
    m: usize,
    k: usize,
    n: usize,
    a: &[f32],
    sa: Strides,
    b: &[f32],
    sb: Strides,
    bi: usize,
    cb: &mut [f32],
    bias: Option<&[f32]>,
    accumulate: bool,
    threads: usize,
    amx: Option<bool>,
) {
    let mut read_dst = accumulate;
    if let Some(bias) = bias {
        let bias = &bias[..n];
        for row in cb.chunks_exact_mut(n) {
            if accumulate {
                row.iter_mut().zip(bias).for_each(|(o, &v)| *o += v);
            } else {
                row.copy_from_slice(bias);
            }
        }
        read_dst = true;
    }
    if k == 0 {
        if !read_dst {
            cb.fill(0.0);
        }
        return;
    }
    // Offsets into a/b are only formed for non-empty operands, so they stay in bounds.
    let pa = a.as_ptr().add(bi * sa.batch);
    let pb = b.as_ptr().add(bi * sb.batch);
    #[cfg(target_arch = "x86_64")]
    if let Some(three) = amx {
        bf16::gemm(
            m,
            k,
            n,
            pa,
            sa,
            pb,
            sb,
            cb.as_mut_ptr(),
            read_dst,
            threads,
            three,
        );
        return;
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = amx;
    let par = if threads > 1 {
        Parallelism::Rayon(threads)
    } else {
        Parallelism::None
    };
    gemm::gemm(
        m,
        n,
        k,
        cb.as_mut_ptr(),
        1,
        n as isize,
        read_dst,
        pa,
        sa.col as isize,
        sa.row as isize,
        pb,
        sb.col as isize,
        sb.row as isize,
        1.0f32,
        1.0f32,
        false,
        false,
        false,
        par,
    );
}

/// Scalar reference of [`gemm()`], f64 accumulation.
#[allow(clippy::too_many_arguments)]
pub fn gemm_ref(
    batch: usize,
    m: usize,
    k: usize,
    n: usize,
    a: &[f32],
    sa: Strides,
    b: &[f32],
    sb: Strides,
    c: &mut [f32],
    bias: Option<&[f32]>,
    accumulate: bool,
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
                *o = if accumulate {
                    *o + acc as f32
                } else {
                    acc as f32
                };
            }
        }
    }
}

#[cfg(test)]
mod tests;
