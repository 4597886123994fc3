//! `wide::f32x8` micro-kernels for the attention head (AVX2 + FMA at the workspace floor).
//!
//! GEMM tile: 6 rows × 16 columns = 12 accumulators, 2 B vectors and 1 broadcast, which fills the
//! 16 ymm registers without spilling. Columns past the last multiple of 8 (only when n or d is
//! not a multiple of 8) take a scalar loop.

use super::head::{Kernels, Mm};
use crate::cpu::simd::{exp_f32x8, fast_exp, max, scale};
use wide::f32x8;

const MR: usize = 6;
const NV: usize = 2;

#[derive(Clone, Copy)]
pub(crate) struct Portable;

impl Kernels for Portable {
    fn matmul(self, g: Mm, a: &[f32], b: &[f32], c: &mut [f32]) {
        g.check(a, b, c);
        let full = g.n / 8 * 8;
        let (a, b, c) = (a.as_ptr(), b.as_ptr(), c.as_mut_ptr());
        let mut j = 0;
        while j < full {
            let nv = ((full - j) / 8).min(NV);
            let mut i = 0;
            while i < g.m {
                let mr = (g.m - i).min(MR);
                // SAFETY: `check` bounds every (row < m, p < k, column < n) access the tile makes.
                unsafe {
                    let (ap, bp, cp) = (a.add(i * g.rs_a), b.add(j), c.add(i * g.ldc + j));
                    match nv {
                        1 => rows::<1>(mr, &g, ap, bp, cp),
                        _ => rows::<2>(mr, &g, ap, bp, cp),
                    }
                }
                i += mr;
            }
            j += nv * 8;
        }
        // SAFETY: as above, columns full..n.
        unsafe { tail_columns(&g, full, a, b, c) };
    }

    fn softmax_rows(self, n: usize, ld: usize, s: &mut [f32], lse: &mut [f32]) {
        for (i, l) in lse.iter_mut().enumerate() {
            let row = &mut s[i * ld..i * ld + n];
            let m = max(row);
            let sum = map_row(row, |x| exp_f32x8(x - f32x8::splat(m)), |x| fast_exp(x - m));
            scale(1.0 / sum, row);
            *l = m + sum.ln();
        }
    }

    fn exp_rows(self, n: usize, ld: usize, s: &mut [f32], lse: &[f32]) {
        for (i, &l) in lse.iter().enumerate() {
            map_row(
                &mut s[i * ld..i * ld + n],
                |x| exp_f32x8(x - f32x8::splat(l)),
                |x| fast_exp(x - l),
            );
        }
    }

    fn ds_rows(self, n: usize, ld: usize, p: &[f32], dp: &mut [f32], dsum: &[f32]) {
        for (i, &ds) in dsum.iter().enumerate() {
            let (p, dp) = (&p[i * ld..i * ld + n], &mut dp[i * ld..i * ld + n]);
            let done = n / 8 * 8;
            for (d8, p8) in dp.chunks_exact_mut(8).zip(p.chunks_exact(8)) {
                let r = lanes(p8) * (lanes(d8) - f32x8::splat(ds));
                d8.copy_from_slice(r.as_array());
            }
            for (d, &p) in dp[done..].iter_mut().zip(&p[done..]) {
                *d = p * (*d - ds);
            }
        }
    }
}

/// Applies `f` in place and returns the sum of the results.
fn map_row(row: &mut [f32], f: impl Fn(f32x8) -> f32x8, f1: impl Fn(f32) -> f32) -> f32 {
    let mut acc = f32x8::ZERO;
    let mut chunks = row.chunks_exact_mut(8);
    for c in &mut chunks {
        let e = f(lanes(c));
        c.copy_from_slice(e.as_array());
        acc += e;
    }
    let mut sum = acc.reduce_add();
    for x in chunks.into_remainder() {
        *x = f1(*x);
        sum += *x;
    }
    sum
}

fn lanes(s: &[f32]) -> f32x8 {
    f32x8::from(<[f32; 8]>::try_from(&s[..8]).expect("8 lanes"))
}

#[inline(always)]
unsafe fn load(p: *const f32) -> f32x8 {
    f32x8::from(p.cast::<[f32; 8]>().read_unaligned())
}

#[inline(always)]
unsafe fn rows<const V: usize>(mr: usize, g: &Mm, a: *const f32, b: *const f32, c: *mut f32) {
    match mr {
        1 => tile::<1, V>(g, a, b, c),
        2 => tile::<2, V>(g, a, b, c),
        3 => tile::<3, V>(g, a, b, c),
        4 => tile::<4, V>(g, a, b, c),
        5 => tile::<5, V>(g, a, b, c),
        _ => tile::<MR, V>(g, a, b, c),
    }
}

/// `R × 8V` block of C; accumulators stay in registers for the whole k loop.
#[inline(always)]
unsafe fn tile<const R: usize, const V: usize>(g: &Mm, a: *const f32, b: *const f32, c: *mut f32) {
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
        for (v, &x) in acc_r.iter().enumerate() {
            let cp = c.add(r * g.ldc + 8 * v);
            let mut x = x * alpha;
            if g.acc {
                x += load(cp);
            }
            cp.cast::<[f32; 8]>().write_unaligned(x.to_array());
        }
    }
}

/// Scalar product for columns `from..n`.
unsafe fn tail_columns(g: &Mm, from: usize, a: *const f32, b: *const f32, c: *mut f32) {
    for i in 0..g.m {
        for j in from..g.n {
            let mut s = 0f32;
            for p in 0..g.k {
                s = (*a.add(i * g.rs_a + p * g.cs_a)).mul_add(*b.add(p * g.ldb + j), s);
            }
            let cp = c.add(i * g.ldc + j);
            *cp = if g.acc {
                *cp + g.alpha * s
            } else {
                g.alpha * s
            };
        }
    }
}
