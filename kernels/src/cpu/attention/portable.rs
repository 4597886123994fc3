//! `wide::f32x8` micro-kernels for the attention head (AVX2 + FMA at the workspace floor).
//!
//! GEMM tile: 6 rows × 16 columns = 12 accumulators, 2 B vectors and 1 broadcast, which fills the
//! 16 ymm registers without spilling. Leftover rows take 4-, 2- and 1-row tiles; columns past the
//! last multiple of 8 (only when n or d is not a multiple of 8) take a scalar loop.

use super::head::{Epi, EpiPtr, Kernels, Mm};
use crate::cpu::simd::{exp_f32x8, fast_exp, load8, max, store8};
use wide::f32x8;

const MR: usize = 6;

#[derive(Clone, Copy)]
pub(crate) struct Portable;

impl Kernels for Portable {
    fn matmul(self, g: Mm, epi: Epi, a: &[f32], b: &[f32], c: &mut [f32]) {
        g.check(epi, a, b, c);
        let full = g.n / 8 * 8;
        let (a, b, c) = (a.as_ptr(), b.as_ptr(), c.as_mut_ptr());
        let mut j = 0;
        while j < full {
            // SAFETY: `check` bounds every (row < m, p < k, column < n) access of the panel.
            unsafe {
                if full - j >= 16 {
                    panel::<2>(&g, epi, a, b, c, j);
                    j += 16;
                } else {
                    panel::<1>(&g, epi, a, b, c, j);
                    j += 8;
                }
            }
        }
        // SAFETY: as above, columns full..n.
        unsafe { tail_columns(&g, epi, full, a, b, c) };
    }

    fn softmax_rows(
        self,
        n: usize,
        ld: usize,
        s: &mut [f32],
        lse: &mut [f32],
        inv_sum: &mut [f32],
    ) {
        for (i, (l, inv)) in lse.iter_mut().zip(inv_sum.iter_mut()).enumerate() {
            let row = &mut s[i * ld..i * ld + n];
            let m = max(row);
            let vm = f32x8::splat(m);
            let mut acc = f32x8::ZERO;
            let mut chunks = row.chunks_exact_mut(8);
            for c in &mut chunks {
                let e = exp_f32x8(f32x8::from(<[f32; 8]>::try_from(&c[..]).expect("8 lanes")) - vm);
                c.copy_from_slice(e.as_array());
                acc += e;
            }
            let mut sum = acc.reduce_add();
            for x in chunks.into_remainder() {
                *x = fast_exp(*x - m);
                sum += *x;
            }
            *l = m + sum.ln();
            *inv = 1.0 / sum;
        }
    }

    /// 8×8 register transposes, scalar edges.
    fn transpose(self, n: usize, d: usize, x: &[f32], xs: usize, ld: usize, xt: &mut [f32]) {
        let (n8, d8) = (n / 8 * 8, d / 8 * 8);
        for j0 in (0..n8).step_by(8) {
            for c0 in (0..d8).step_by(8) {
                let rows: [f32x8; 8] = std::array::from_fn(|r| load8(&x[(j0 + r) * xs + c0..]));
                for (c, col) in f32x8::transpose(rows).into_iter().enumerate() {
                    store8(&mut xt[(c0 + c) * ld + j0..], col);
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
}

#[inline(always)]
unsafe fn load(p: *const f32) -> f32x8 {
    f32x8::from(p.cast::<[f32; 8]>().read_unaligned())
}

/// Columns `j..j + 8V` for every row: full tiles of `MR` rows, then 4, 2, 1.
#[inline(always)]
unsafe fn panel<const V: usize>(
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
            r if r >= MR => tile::<MR, V>(g, ap, bp, cp, e),
            r if r >= 4 => tile::<4, V>(g, ap, bp, cp, e),
            r if r >= 2 => tile::<2, V>(g, ap, bp, cp, e),
            _ => tile::<1, V>(g, ap, bp, cp, e),
        };
    }
}

/// `R × 8V` block of C; accumulators stay in registers for the whole k loop. Returns R.
#[inline(always)]
unsafe fn tile<const R: usize, const V: usize>(
    g: &Mm,
    a: *const f32,
    b: *const f32,
    c: *mut f32,
    epi: EpiPtr,
) -> usize {
    let mut acc = [[f32x8::ZERO; V]; R];
    for p in 0..g.k {
        let bp = b.add(p * g.ldb);
        let bv: [f32x8; V] = std::array::from_fn(|v| load(bp.add(8 * v)));
        let ap = a.add(p * g.cs_a);
        for (r, acc_r) in acc.iter_mut().enumerate() {
            let av = f32x8::splat(*ap.add(r * g.rs_a));
            for (x, &bv) in acc_r.iter_mut().zip(&bv) {
                *x = av.mul_add(bv, *x);
            }
        }
    }
    let alpha = f32x8::splat(g.alpha);
    for (r, acc_r) in acc.iter().enumerate() {
        let row = match epi {
            EpiPtr::Plain => f32x8::ZERO,
            EpiPtr::ExpMinus(v) | EpiPtr::RowScale(v) | EpiPtr::GradScores(_, v) => {
                f32x8::splat(*v.add(r))
            }
        };
        for (v, &x) in acc_r.iter().enumerate() {
            let at = r * g.ldc + 8 * v;
            let x = x * alpha;
            let y = match epi {
                EpiPtr::Plain if g.acc => x + load(c.add(at)),
                EpiPtr::Plain => x,
                EpiPtr::ExpMinus(_) => exp_f32x8(x - row),
                EpiPtr::GradScores(p, _) => load(p.add(at)) * (x - row),
                EpiPtr::RowScale(_) => x * row,
            };
            c.add(at).cast::<[f32; 8]>().write_unaligned(y.to_array());
        }
    }
    R
}

/// Scalar product and epilogue for columns `from..n`.
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
