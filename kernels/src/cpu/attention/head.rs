//! One (batch, head) of the fast attention, generic over the micro-kernel set ([`Kernels`]).
//!
//! Query rows are processed in blocks of at most `BLOCK` rows, so the per-thread scratch is
//! `O(n)` rows of scores whatever n is; the transposed Kᵀ (and Vᵀ for backward) are built once
//! per head so that every score product is a plain row-major GEMM with contiguous B rows.

use super::BwdIn;
use crate::cpu::simd::dot;

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

impl Mm {
    /// Bounds check before a kernel runs on raw pointers. A failure is a bug in this module
    /// (the shapes come from `head_fwd` / `head_bwd`), never a user error.
    pub fn check(&self, a: &[f32], b: &[f32], c: &[f32]) {
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
        assert!(
            c.len() >= (self.m - 1) * self.ldc + self.n,
            "C too short for {self:?}"
        );
    }
}

/// The micro-kernels a head needs. Row operations act on `lse.len()` / `dsum.len()` rows of `n`
/// entries each, `ld` floats apart.
pub(super) trait Kernels: Copy + Send + Sync {
    fn matmul(self, g: Mm, a: &[f32], b: &[f32], c: &mut [f32]);
    /// Row i becomes softmax(s_i); `lse[i]` = logsumexp(s_i).
    fn softmax_rows(self, n: usize, ld: usize, s: &mut [f32], lse: &mut [f32]);
    /// `s_ij ← exp(s_ij − lse_i)`.
    fn exp_rows(self, n: usize, ld: usize, s: &mut [f32], lse: &[f32]);
    /// `dp_ij ← p_ij·(dp_ij − dsum_i)`.
    fn ds_rows(self, n: usize, ld: usize, p: &[f32], dp: &mut [f32], dsum: &[f32]);
}

/// Balanced blocks of at most `BLOCK` rows (n = 196 → 4 blocks of 49, not 64+64+64+4).
fn block_rows(n: usize) -> usize {
    n.div_ceil(n.div_ceil(BLOCK).max(1))
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

/// `xt[c, j] = x[j, c]` for x `[n, d]`, xt `[d, ld]`.
fn transpose_into(n: usize, d: usize, x: &[f32], ld: usize, xt: &mut [f32]) {
    for (j, row) in x.chunks_exact(d).take(n).enumerate() {
        for (c, &val) in row.iter().enumerate() {
            xt[c * ld + j] = val;
        }
    }
}

/// Forward of one head: q, k, v, out `[n, d]`, lse `[n]`.
#[allow(clippy::too_many_arguments)]
pub(super) fn head_fwd<K: Kernels>(
    kr: K,
    n: usize,
    d: usize,
    scale: f32,
    q: &[f32],
    k: &[f32],
    v: &[f32],
    out: &mut [f32],
    lse: &mut [f32],
    scr: &mut Vec<Align64>,
) {
    let ldn = n.next_multiple_of(16);
    let br = block_rows(n);
    let [kt, s] = carve(scr, [d * ldn, br * ldn]);
    transpose_into(n, d, k, ldn, kt);
    for r0 in (0..n).step_by(br) {
        let rows = br.min(n - r0);
        let score = Mm {
            m: rows,
            k: d,
            n,
            alpha: scale,
            rs_a: d,
            cs_a: 1,
            ldb: ldn,
            ldc: ldn,
            acc: false,
        };
        kr.matmul(score, &q[r0 * d..], kt, s);
        kr.softmax_rows(n, ldn, s, &mut lse[r0..r0 + rows]);
        let pv = Mm {
            m: rows,
            k: n,
            n: d,
            alpha: 1.0,
            rs_a: ldn,
            cs_a: 1,
            ldb: d,
            ldc: d,
            acc: false,
        };
        kr.matmul(pv, s, v, &mut out[r0 * d..]);
    }
}

/// Backward of one head: `t` holds this head's slices; dq, dk, dv `[n, d]` are overwritten.
#[allow(clippy::too_many_arguments)]
pub(super) fn head_bwd<K: Kernels>(
    kr: K,
    n: usize,
    d: usize,
    scale: f32,
    t: BwdIn,
    dq: &mut [f32],
    dk: &mut [f32],
    dv: &mut [f32],
    scr: &mut Vec<Align64>,
) {
    let ldn = n.next_multiple_of(16);
    let br = block_rows(n);
    let [kt, vt, p, dp, dsum] = carve(scr, [d * ldn, d * ldn, br * ldn, br * ldn, br]);
    transpose_into(n, d, t.k, ldn, kt);
    transpose_into(n, d, t.v, ldn, vt);
    for r0 in (0..n).step_by(br) {
        let rows = br.min(n - r0);
        let blk = r0 * d..(r0 + rows) * d;
        let (qb, ob, dob) = (&t.q[blk.clone()], &t.out[blk.clone()], &t.dout[blk.clone()]);
        // P = exp(scale·Q_b·Kᵀ − lse), dP = dO_b·Vᵀ, dS = P ⊙ (dP − D).
        let score = Mm {
            m: rows,
            k: d,
            n,
            alpha: scale,
            rs_a: d,
            cs_a: 1,
            ldb: ldn,
            ldc: ldn,
            acc: false,
        };
        kr.matmul(score, qb, kt, p);
        kr.exp_rows(n, ldn, p, &t.lse[r0..r0 + rows]);
        kr.matmul(
            Mm {
                alpha: 1.0,
                ..score
            },
            dob,
            vt,
            dp,
        );
        for (i, ds) in dsum[..rows].iter_mut().enumerate() {
            *ds = dot(&dob[i * d..(i + 1) * d], &ob[i * d..(i + 1) * d]);
        }
        kr.ds_rows(n, ldn, p, dp, &dsum[..rows]);
        // dV (+)= Pᵀ·dO_b and dK (+)= scale·dSᵀ·Q_b: the first block overwrites.
        let key_side = Mm {
            m: n,
            k: rows,
            n: d,
            alpha: 1.0,
            rs_a: 1,
            cs_a: ldn,
            ldb: d,
            ldc: d,
            acc: r0 > 0,
        };
        kr.matmul(key_side, p, dob, dv);
        kr.matmul(
            Mm {
                alpha: scale,
                ..key_side
            },
            dp,
            qb,
            dk,
        );
        // dQ_b = scale·dS·K.
        let query_side = Mm {
            m: rows,
            k: n,
            n: d,
            alpha: scale,
            rs_a: ldn,
            cs_a: 1,
            ldb: d,
            ldc: d,
            acc: false,
        };
        kr.matmul(query_side, dp, t.k, &mut dq[blk]);
    }
}
