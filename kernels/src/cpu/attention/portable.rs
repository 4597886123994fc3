//! Eight-lane micro-kernels for the attention head, written once over `simd::F8` and compiled
//! twice: on `wide::f32x8` ([`Portable`]; AVX2 + FMA at the workspace floor, SSE2 without it)
//! and on AVX2 intrinsics ([`Avx2`], chosen at run time, fast without the floor).
//!
//! GEMM tile: 6 rows × 16 columns = 12 accumulators, 2 B vectors and 1 broadcast, which fills the
//! 16 ymm registers without spilling. Leftover rows take 4-, 2- and 1-row tiles; columns past the
//! last multiple of 8 (only when n or d is not a multiple of 8) take a scalar loop.

use super::head::{Epi, EpiPtr, Kernels, Mm};
use crate::cpu::simd::{fast_exp, row_max, F8};
use wide::f32x8;

const MR: usize = 6;

#[derive(Clone, Copy)]
pub(crate) struct Portable;

impl Kernels for Portable {
    fn matmul(self, g: Mm, epi: Epi, a: &[f32], b: &[f32], c: &mut [f32]) {
        matmul::<f32x8>(g, epi, a, b, c)
    }
    fn softmax_rows(
        self,
        n: usize,
        ld: usize,
        s: &mut [f32],
        lse: &mut [f32],
        inv_sum: &mut [f32],
    ) {
        softmax_rows::<f32x8>(n, ld, s, lse, inv_sum)
    }
    fn transpose(self, n: usize, d: usize, x: &[f32], xs: usize, ld: usize, xt: &mut [f32]) {
        transpose::<f32x8>(n, d, x, xs, ld, xt)
    }
}

/// Proof that the CPU has AVX2 and FMA: the only constructor checks. Runs the same generic
/// code as [`Portable`] on `simd::A8`, inside `#[target_feature]` entry points.
#[cfg(target_arch = "x86_64")]
#[derive(Clone, Copy)]
pub(crate) struct Avx2(());

#[cfg(target_arch = "x86_64")]
impl Avx2 {
    pub fn new() -> Option<Self> {
        crate::cpu::simd::has_avx2_fma().then_some(Avx2(()))
    }
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use super::super::head::{Epi, Mm};
    use crate::cpu::simd::A8;

    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn matmul(g: Mm, epi: Epi, a: &[f32], b: &[f32], c: &mut [f32]) {
        super::matmul::<A8>(g, epi, a, b, c)
    }
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn softmax_rows(
        n: usize,
        ld: usize,
        s: &mut [f32],
        lse: &mut [f32],
        inv_sum: &mut [f32],
    ) {
        super::softmax_rows::<A8>(n, ld, s, lse, inv_sum)
    }
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn transpose(
        n: usize,
        d: usize,
        x: &[f32],
        xs: usize,
        ld: usize,
        xt: &mut [f32],
    ) {
        super::transpose::<A8>(n, d, x, xs, ld, xt)
    }
}

// SAFETY (the three calls): `Avx2` exists only where AVX2 and FMA were detected.
#[cfg(target_arch = "x86_64")]
impl Kernels for Avx2 {
    fn matmul(self, g: Mm, epi: Epi, a: &[f32], b: &[f32], c: &mut [f32]) {
        unsafe { avx2::matmul(g, epi, a, b, c) }
    }
    fn softmax_rows(
        self,
        n: usize,
        ld: usize,
        s: &mut [f32],
        lse: &mut [f32],
        inv_sum: &mut [f32],
    ) {
        unsafe { avx2::softmax_rows(n, ld, s, lse, inv_sum) }
    }
    fn transpose(self, n: usize, d: usize, x: &[f32], xs: usize, ld: usize, xt: &mut [f32]) {
        unsafe { avx2::transpose(n, d, x, xs, ld, xt) }
    }
}

#[inline(always)]
fn matmul<V: F8>(g: Mm, epi: Epi, a: &[f32], b: &[f32], c: &mut [f32]) {
    g.check(epi, a, b, c);
    let full = g.n / 8 * 8;
    let (a, b, c) = (a.as_ptr(), b.as_ptr(), c.as_mut_ptr());
    let mut j = 0;
    while j < full {
        // SAFETY: `check` bounds every (row < m, p < k, column < n) access of the panel.
        unsafe {
            if full - j >= 16 {
                panel::<V, 2>(&g, epi, a, b, c, j);
                j += 16;
            } else {
                panel::<V, 1>(&g, epi, a, b, c, j);
                j += 8;
            }
        }
    }
    // SAFETY: as above, columns full..n.
    unsafe { tail_columns(&g, epi, full, a, b, c) };
}

#[inline(always)]
fn softmax_rows<V: F8>(n: usize, ld: usize, s: &mut [f32], lse: &mut [f32], inv_sum: &mut [f32]) {
    for (i, (l, inv)) in lse.iter_mut().zip(inv_sum.iter_mut()).enumerate() {
        let row = &mut s[i * ld..i * ld + n];
        let m = row_max::<V>(row);
        let vm = V::splat(m);
        let (mut a0, mut a1) = (V::ZERO, V::ZERO);
        let mut pairs = row.chunks_exact_mut(16);
        for c in &mut pairs {
            let e0 = (V::load8(c) - vm).exp();
            let e1 = (V::load8(&c[8..]) - vm).exp();
            e0.store8(c);
            e1.store8(&mut c[8..]);
            a0 += e0;
            a1 += e1;
        }
        let mut rest = pairs.into_remainder().chunks_exact_mut(8);
        for c in &mut rest {
            let e = (V::load8(c) - vm).exp();
            e.store8(c);
            a0 += e;
        }
        let mut sum = (a0 + a1).reduce_add();
        for x in rest.into_remainder() {
            *x = fast_exp(*x - m);
            sum += *x;
        }
        *l = m + sum.ln();
        *inv = 1.0 / sum;
    }
}

/// 8×8 register transposes, scalar edges.
#[inline(always)]
fn transpose<V: F8>(n: usize, d: usize, x: &[f32], xs: usize, ld: usize, xt: &mut [f32]) {
    let (n8, d8) = (n / 8 * 8, d / 8 * 8);
    for j0 in (0..n8).step_by(8) {
        for c0 in (0..d8).step_by(8) {
            let rows: [V; 8] = std::array::from_fn(|r| V::load8(&x[(j0 + r) * xs + c0..]));
            for (c, col) in V::transpose8(rows).into_iter().enumerate() {
                col.store8(&mut xt[(c0 + c) * ld + j0..]);
            }
        }
    }
    let mut scalar = |j: usize, c: usize| xt[c * ld + j] = x[j * xs + c];
    for j in 0..n8 {
        (d8..d).for_each(|c| scalar(j, c));
    }
    for j in n8..n {
        (0..d).for_each(|c| scalar(j, c));
    }
}

/// Columns `j..j + 8W` for every row: full tiles of `MR` rows, then 4, 2, 1.
#[inline(always)]
unsafe fn panel<V: F8, const W: usize>(
    g: &Mm,
    epi: Epi,
    a: *const f32,
    b: *const f32,
    c: *mut f32,
    j: usize,
) {
    let mut i = 0;
    while i < g.m {
        let (ap, bp, cp, e) = (
            a.add(i * g.rs_a),
            b.add(j),
            c.add(i * g.ldc + j),
            epi.at(i, j, g.ldc),
        );
        i += match g.m - i {
            r if r >= MR => tile::<V, MR, W>(g, ap, bp, cp, e),
            r if r >= 4 => tile::<V, 4, W>(g, ap, bp, cp, e),
            r if r >= 2 => tile::<V, 2, W>(g, ap, bp, cp, e),
            _ => tile::<V, 1, W>(g, ap, bp, cp, e),
        };
    }
}

/// `R × 8W` block of C; accumulators stay in registers for the whole k loop. Returns R.
#[inline(always)]
unsafe fn tile<V: F8, const R: usize, const W: usize>(
    g: &Mm,
    a: *const f32,
    b: *const f32,
    c: *mut f32,
    epi: EpiPtr,
) -> usize {
    let mut acc = [[V::ZERO; W]; R];
    for p in 0..g.k {
        let bp = b.add(p * g.ldb);
        let bv: [V; W] = std::array::from_fn(|v| V::load(bp.add(8 * v)));
        let ap = a.add(p * g.cs_a);
        for (r, acc_r) in acc.iter_mut().enumerate() {
            let av = V::splat(*ap.add(r * g.rs_a));
            for (x, &bv) in acc_r.iter_mut().zip(&bv) {
                *x = av.mul_add(bv, *x);
            }
        }
    }
    let alpha = V::splat(g.alpha);
    for (r, acc_r) in acc.iter().enumerate() {
        let row = match epi {
            EpiPtr::Plain => V::ZERO,
            EpiPtr::ExpMinus(v) | EpiPtr::RowScale(v) | EpiPtr::GradScores(_, v) => {
                V::splat(*v.add(r))
            }
        };
        for (v, &x) in acc_r.iter().enumerate() {
            let at = r * g.ldc + 8 * v;
            let x = x * alpha;
            let y = match epi {
                EpiPtr::Plain if g.acc => x + V::load(c.add(at)),
                EpiPtr::Plain => x,
                EpiPtr::ExpMinus(_) => (x - row).exp(),
                EpiPtr::GradScores(p, _) => V::load(p.add(at)) * (x - row),
                EpiPtr::RowScale(_) => x * row,
            };
            y.store(c.add(at));
        }
    }
    R
}

/// Scalar product and epilogue for columns `from..n`. Inlined so that it compiles with the AVX2
/// entry point's features: elsewhere, without the workspace's floor, every scalar `mul_add`
/// would be a call to libm's `fmaf` (the N = 196 attention ran 1.56× slower for it).
#[inline(always)]
unsafe fn tail_columns(g: &Mm, epi: Epi, from: usize, a: *const f32, b: *const f32, c: *mut f32) {
    for i in 0..g.m {
        for j in from..g.n {
            let mut s = 0f32;
            for p in 0..g.k {
                s = (*a.add(i * g.rs_a + p * g.cs_a)).mul_add(*b.add(p * g.ldb + j), s);
            }
            let cp = c.add(i * g.ldc + j);
            *cp = epi.scalar(i, j, g.ldc, g.alpha * s, *cp, g.acc);
        }
    }
}
