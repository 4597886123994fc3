//! One (batch, head) of the fast attention, generic over the micro-kernel set ([`Kernels`]).
//!
//! Query rows are processed in blocks of at most `BLOCK` rows, so the per-thread scratch is
//! `O(n)` rows of scores whatever n is; the transposed Kᵀ (and Vᵀ for backward) are built once
//! per head so that every score product is a plain row-major GEMM with contiguous B rows.

use super::BwdIn;
use crate::cpu::simd::{dot, fast_exp};
use std::cell::RefCell;

/// Target query rows per block: 64 rows of scores for n = 196 are 53 KB, L2-resident next to
/// the head's K and V.
const BLOCK: usize = 64;

/// 64-byte aligned storage unit of the per-thread scratch (rows of scores start on a cache line).
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
#[repr(C, align(64))]
pub(crate) struct Align64([f32; 16]);

/// One product `C = alpha·A·B (+ C when acc)`, `m×k` times `k×n`. A's element (i, p) is at
/// `a[i·rs_a + p·cs_a]` (so transposed operands are free); B and C are row-major with leading
/// dimensions `ldb` and `ldc`.
#[derive(Clone, Copy, Debug)]
pub(super) struct Mm {
    pub m: usize,
    pub k: usize,
    pub n: usize,
    pub alpha: f32,
    pub rs_a: usize,
    pub cs_a: usize,
    pub ldb: usize,
    pub ldc: usize,
    pub acc: bool,
}

/// What the product's epilogue does with `x = alpha·(A·B)_ij` before storing it, while the tile
/// is in registers or, for the exponential, still in L1 (saves separate passes over the scores).
#[derive(Clone, Copy, Debug)]
pub(super) enum Epi<'a> {
    /// `C = x` (or `C + x` when `Mm::acc`).
    Plain,
    /// `C = exp(x − v_i)`: probabilities from the saved log-sum-exp.
    ExpMinus(&'a [f32]),
    /// `C = p_ij·(x − v_i)`: dS from dP; `p` has C's layout (leading dimension `ldc`).
    GradScores { p: &'a [f32], dsum: &'a [f32] },
    /// `C = x·v_i`: the softmax normalisation applied after P·V.
    RowScale(&'a [f32]),
}

/// [`Epi`] with its operands as raw pointers offset to one tile's first row and column.
#[derive(Clone, Copy)]
pub(super) enum EpiPtr {
    Plain,
    ExpMinus(*const f32),
    GradScores(*const f32, *const f32),
    RowScale(*const f32),
}

impl Epi<'_> {
    /// Pointers for the tile starting at row `i`, column `j`.
    ///
    /// # Safety
    /// `i < m` and `j < n` of a product this epilogue passed [`Mm::check`] for.
    pub unsafe fn at(self, i: usize, j: usize, ldc: usize) -> EpiPtr {
        match self {
            Epi::Plain => EpiPtr::Plain,
            Epi::ExpMinus(v) => EpiPtr::ExpMinus(v.as_ptr().add(i)),
            Epi::GradScores { p, dsum } => {
                EpiPtr::GradScores(p.as_ptr().add(i * ldc + j), dsum.as_ptr().add(i))
            }
            Epi::RowScale(v) => EpiPtr::RowScale(v.as_ptr().add(i)),
        }
    }

    /// The epilogue for one element (scalar tails): `x = alpha·(A·B)_ij`, `old = C_ij`.
    #[inline(always)]
    pub fn scalar(self, i: usize, j: usize, ldc: usize, x: f32, old: f32, acc: bool) -> f32 {
        match self {
            Epi::Plain if acc => old + x,
            Epi::Plain => x,
            Epi::ExpMinus(v) => fast_exp(x - v[i]),
            Epi::GradScores { p, dsum } => p[i * ldc + j] * (x - dsum[i]),
            Epi::RowScale(v) => x * v[i],
        }
    }
}

impl Mm {
    /// Bounds check before a kernel runs on raw pointers. A failure is a bug in this module
    /// (the shapes come from `head_fwd` / `head_bwd`), never a user error.
    pub fn check(&self, epi: Epi, a: &[f32], b: &[f32], c: &[f32]) {
        if self.m == 0 || self.n == 0 {
            return;
        }
        if self.k > 0 {
            assert!(
                a.len() > (self.m - 1) * self.rs_a + (self.k - 1) * self.cs_a,
                "A too short for {self:?}"
            );
            assert!(
                b.len() >= (self.k - 1) * self.ldb + self.n,
                "B too short for {self:?}"
            );
        }
        let c_len = (self.m - 1) * self.ldc + self.n;
        assert!(c.len() >= c_len, "C too short for {self:?}");
        let rows_ok = match epi {
            Epi::Plain => true,
            Epi::ExpMinus(v) | Epi::RowScale(v) => v.len() >= self.m,
            Epi::GradScores { p, dsum } => dsum.len() >= self.m && p.len() >= c_len,
        };
        assert!(rows_ok, "epilogue operand too short for {self:?}");
    }
}

/// The micro-kernels a head needs.
pub(super) trait Kernels: Copy + Send + Sync {
    fn matmul(self, g: Mm, epi: Epi, a: &[f32], b: &[f32], c: &mut [f32]);
    /// For each of the `lse.len()` rows of `n` scores (`ld` apart): `s_ij ← exp(s_ij − max_i)`,
    /// `lse_i = logsumexp(s_i)` and `inv_sum_i = 1 / Σ_j s_ij` (the normalisation, left to P·V).
    fn softmax_rows(self, n: usize, ld: usize, s: &mut [f32], lse: &mut [f32], inv_sum: &mut [f32]);
    /// `xt[c, j] = x[j, c]` for x `[n, d]` with rows `xs` apart, xt `[d, ld]`.
    fn transpose(self, n: usize, d: usize, x: &[f32], xs: usize, ld: usize, xt: &mut [f32]);
}

/// Balanced blocks of at most `BLOCK` rows (n = 196 → 4 blocks of 49, not 64+64+64+4).
fn block_rows(n: usize) -> usize {
    n.div_ceil(n.div_ceil(BLOCK).max(1))
}

thread_local! {
    /// Per-thread scratch, kept between calls: a head needs `O((d + BLOCK)·n)` floats, and
    /// reallocating (and zeroing) them per head or per call showed up in profiles.
    static SCRATCH: RefCell<Vec<Align64>> = const { RefCell::new(Vec::new()) };
}

/// Runs `f` with this thread's scratch (a fresh one if it is already in use further up the stack).
pub(super) fn with_scratch<R>(f: impl FnOnce(&mut Vec<Align64>) -> R) -> R {
    SCRATCH.with(|s| match s.try_borrow_mut() {
        Ok(mut scr) => f(&mut scr),
        Err(_) => f(&mut Vec::new()),
    })
}

/// Splits the scratch into aligned pieces of the given lengths, growing it when needed.
fn carve<const N: usize>(scr: &mut Vec<Align64>, lens: [usize; N]) -> [&mut [f32]; N] {
    let units: usize = lens.iter().map(|l| l.div_ceil(16)).sum();
    if scr.len() < units {
        scr.resize(units, Align64([0.0; 16]));
    }
    let mut rest: &mut [f32] = bytemuck::cast_slice_mut(&mut scr[..]);
    lens.map(|l| {
        let (piece, tail) = std::mem::take(&mut rest).split_at_mut(l.div_ceil(16) * 16);
        rest = tail;
        &mut piece[..l]
    })
}

/// Row strides (floats) of one head's operands: row i of q starts at `q[i·ld.q]`. The gradients
/// share their operand's layout (dq like q, dk like k, dv like v, dout like out). Contiguous
/// `[n, d]` heads have every stride d; heads read straight out of a `[n, 3, h, d]` qkv product
/// have 3·h·d for q, k, v and h·d for out.
#[derive(Clone, Copy, Debug)]
pub(super) struct Ld {
    pub q: usize,
    pub k: usize,
    pub v: usize,
    pub o: usize,
}

impl Ld {
    pub fn contiguous(d: usize) -> Ld {
        Ld {
            q: d,
            k: d,
            v: d,
            o: d,
        }
    }
}

/// Forward of one head: q, k, v, out `[n, d]` with rows `ld` apart, lse `[n]`.
#[allow(clippy::too_many_arguments)]
pub(super) fn head_fwd<K: Kernels>(
    kr: K,
    n: usize,
    d: usize,
    scale: f32,
    ld: Ld,
    q: &[f32],
    k: &[f32],
    v: &[f32],
    out: &mut [f32],
    lse: &mut [f32],
    scr: &mut Vec<Align64>,
) {
    let ldn = n.next_multiple_of(16);
    let br = block_rows(n);
    let [kt, s, inv_sum] = carve(scr, [d * ldn, br * ldn, br]);
    kr.transpose(n, d, k, ld.k, ldn, kt);
    for r0 in (0..n).step_by(br) {
        let rows = br.min(n - r0);
        let inv_sum = &mut inv_sum[..rows];
        let score = Mm {
            m: rows,
            k: d,
            n,
            alpha: scale,
            rs_a: ld.q,
            cs_a: 1,
            ldb: ldn,
            ldc: ldn,
            acc: false,
        };
        kr.matmul(score, Epi::Plain, &q[r0 * ld.q..], kt, s);
        kr.softmax_rows(n, ldn, s, &mut lse[r0..r0 + rows], inv_sum);
        let pv = Mm {
            m: rows,
            k: n,
            n: d,
            alpha: 1.0,
            rs_a: ldn,
            cs_a: 1,
            ldb: ld.v,
            ldc: ld.o,
            acc: false,
        };
        kr.matmul(pv, Epi::RowScale(&*inv_sum), s, v, &mut out[r0 * ld.o..]);
    }
}

/// Where one head's gradients go: three buffers, or one buffer holding dq, dk and dv at three
/// offsets with their rows interleaved (as q, k, v sit in a qkv product). Each product borrows
/// its destination only for the call, so interleaved destinations never alias as `&mut`.
pub(super) enum GradsOut<'a> {
    Split([&'a mut [f32]; 3]),
    Shared(&'a mut [f32], [usize; 3]),
}

impl GradsOut<'_> {
    /// Gradient `which` (0 = dq, 1 = dk, 2 = dv) from its element `from` on.
    fn at(&mut self, which: usize, from: usize) -> &mut [f32] {
        match self {
            GradsOut::Split(g) => &mut g[which][from..],
            GradsOut::Shared(g, off) => &mut g[off[which] + from..],
        }
    }
}

/// Backward of one head: `t` holds this head's slices; dq, dk, dv `[n, d]` (rows `ld` apart,
/// like q, k, v) are overwritten.
#[allow(clippy::too_many_arguments)]
pub(super) fn head_bwd<K: Kernels>(
    kr: K,
    n: usize,
    d: usize,
    scale: f32,
    ld: Ld,
    t: BwdIn,
    mut g: GradsOut,
    scr: &mut Vec<Align64>,
) {
    let ldn = n.next_multiple_of(16);
    let br = block_rows(n);
    let [kt, vt, p, dp, dsum] = carve(scr, [d * ldn, d * ldn, br * ldn, br * ldn, br]);
    kr.transpose(n, d, t.k, ld.k, ldn, kt);
    kr.transpose(n, d, t.v, ld.v, ldn, vt);
    for r0 in (0..n).step_by(br) {
        let rows = br.min(n - r0);
        let (qb, ob, dob) = (&t.q[r0 * ld.q..], &t.out[r0 * ld.o..], &t.dout[r0 * ld.o..]);
        let dsum = &mut dsum[..rows];
        for (i, ds) in dsum.iter_mut().enumerate() {
            *ds = dot(&dob[i * ld.o..][..d], &ob[i * ld.o..][..d]);
        }
        // P = exp(scale·Q_b·Kᵀ − lse), then dS = P ⊙ (dO_b·Vᵀ − D), both in the epilogues.
        let score = Mm {
            m: rows,
            k: d,
            n,
            alpha: scale,
            rs_a: ld.q,
            cs_a: 1,
            ldb: ldn,
            ldc: ldn,
            acc: false,
        };
        kr.matmul(score, Epi::ExpMinus(&t.lse[r0..r0 + rows]), qb, kt, p);
        let grad = Epi::GradScores {
            p: &*p,
            dsum: &*dsum,
        };
        kr.matmul(
            Mm {
                alpha: 1.0,
                rs_a: ld.o,
                ..score
            },
            grad,
            dob,
            vt,
            dp,
        );
        // dV (+)= Pᵀ·dO_b and dK (+)= scale·dSᵀ·Q_b: the first block overwrites.
        let key_side = Mm {
            m: n,
            k: rows,
            n: d,
            alpha: 1.0,
            rs_a: 1,
            cs_a: ldn,
            ldb: ld.o,
            ldc: ld.v,
            acc: r0 > 0,
        };
        kr.matmul(key_side, Epi::Plain, p, dob, g.at(2, 0));
        kr.matmul(
            Mm {
                alpha: scale,
                ldb: ld.q,
                ldc: ld.k,
                ..key_side
            },
            Epi::Plain,
            dp,
            qb,
            g.at(1, 0),
        );
        // dQ_b = scale·dS·K.
        let query_side = Mm {
            m: rows,
            k: n,
            n: d,
            alpha: scale,
            rs_a: ldn,
            cs_a: 1,
            ldb: ld.k,
            ldc: ld.q,
            acc: false,
        };
        kr.matmul(query_side, Epi::Plain, dp, t.k, g.at(0, r0 * ld.q));
    }
}
