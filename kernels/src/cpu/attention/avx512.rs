//! AVX-512F micro-kernels for the attention head, selected at run time.
//!
//! GEMM tile: 6 rows × 64 columns = 24 zmm accumulators + 4 B vectors + 1 broadcast (29 of 32
//! registers). Per k step that is 24 FMAs against 4 loads and 6 broadcasts, so the two FMA ports
//! stay the bottleneck. The last vector of a column panel is loaded and stored under a lane mask,
//! so any n or d runs on the same kernel with no scalar tail.

#[cfg(not(target_arch = "x86_64"))]
pub(crate) struct Avx512;

#[cfg(not(target_arch = "x86_64"))]
impl Avx512 {
    /// Never available off x86-64; the type keeps the dispatch in `attention.rs` uniform.
    pub fn new() -> Option<super::portable::Portable> {
        None
    }
}

#[cfg(target_arch = "x86_64")]
pub(crate) use imp::Avx512;

#[cfg(target_arch = "x86_64")]
mod imp {
    use super::super::head::{Kernels, Mm};
    use crate::cpu::simd::{exp_avx512, has_avx512f};
    use std::arch::x86_64::*;

    const MR: usize = 6;
    const NV: usize = 4;

    /// Proof that the CPU has AVX-512F: the only constructor checks.
    #[derive(Clone, Copy)]
    pub(crate) struct Avx512(());

    impl Avx512 {
        pub fn new() -> Option<Self> {
            has_avx512f().then_some(Avx512(()))
        }
    }

    impl Kernels for Avx512 {
        fn matmul(self, g: Mm, a: &[f32], b: &[f32], c: &mut [f32]) {
            g.check(a, b, c);
            // SAFETY: `self` exists only with AVX-512F; `check` bounds every access.
            unsafe { matmul(&g, a.as_ptr(), b.as_ptr(), c.as_mut_ptr()) }
        }

        fn softmax_rows(self, n: usize, ld: usize, s: &mut [f32], lse: &mut [f32]) {
            assert!(lse.is_empty() || s.len() >= (lse.len() - 1) * ld + n);
            // SAFETY: AVX-512F present; rows < lse.len() of n entries are inside `s`.
            unsafe { softmax_rows(n, ld, s.as_mut_ptr(), lse) }
        }

        fn exp_rows(self, n: usize, ld: usize, s: &mut [f32], lse: &[f32]) {
            assert!(lse.is_empty() || s.len() >= (lse.len() - 1) * ld + n);
            // SAFETY: as for `softmax_rows`.
            unsafe { exp_rows(n, ld, s.as_mut_ptr(), lse) }
        }

        fn ds_rows(self, n: usize, ld: usize, p: &[f32], dp: &mut [f32], dsum: &[f32]) {
            let need = if dsum.is_empty() {
                0
            } else {
                (dsum.len() - 1) * ld + n
            };
            assert!(p.len() >= need && dp.len() >= need);
            // SAFETY: as for `softmax_rows`, for both p and dp.
            unsafe { ds_rows(n, ld, p.as_ptr(), dp.as_mut_ptr(), dsum) }
        }
    }

    /// Lanes in use of the last 16-wide vector covering `w` columns.
    fn tail_mask(w: usize) -> __mmask16 {
        match w % 16 {
            0 => 0xffff,
            t => (1u16 << t) - 1,
        }
    }

    #[target_feature(enable = "avx512f")]
    unsafe fn matmul(g: &Mm, a: *const f32, b: *const f32, c: *mut f32) {
        let mut j = 0;
        while j < g.n {
            let w = (g.n - j).min(16 * NV);
            let mask = tail_mask(w);
            let mut i = 0;
            while i < g.m {
                let mr = (g.m - i).min(MR);
                let (ap, bp, cp) = (a.add(i * g.rs_a), b.add(j), c.add(i * g.ldc + j));
                match w.div_ceil(16) {
                    1 => rows::<1>(mr, g, ap, bp, cp, mask),
                    2 => rows::<2>(mr, g, ap, bp, cp, mask),
                    3 => rows::<3>(mr, g, ap, bp, cp, mask),
                    _ => rows::<NV>(mr, g, ap, bp, cp, mask),
                }
                i += mr;
            }
            j += 16 * NV;
        }
    }

    #[target_feature(enable = "avx512f")]
    #[inline]
    unsafe fn rows<const V: usize>(
        mr: usize,
        g: &Mm,
        a: *const f32,
        b: *const f32,
        c: *mut f32,
        m: __mmask16,
    ) {
        match mr {
            1 => tile::<1, V>(g, a, b, c, m),
            2 => tile::<2, V>(g, a, b, c, m),
            3 => tile::<3, V>(g, a, b, c, m),
            4 => tile::<4, V>(g, a, b, c, m),
            5 => tile::<5, V>(g, a, b, c, m),
            _ => tile::<MR, V>(g, a, b, c, m),
        }
    }

    /// `R × 16V` block of C; the last vector's lanes are limited to `mask`.
    #[target_feature(enable = "avx512f")]
    #[inline]
    unsafe fn tile<const R: usize, const V: usize>(
        g: &Mm,
        a: *const f32,
        b: *const f32,
        c: *mut f32,
        mask: __mmask16,
    ) {
        let lane_mask = |v: usize| if v + 1 == V { mask } else { 0xffff };
        let mut acc = [[_mm512_setzero_ps(); V]; R];
        for p in 0..g.k {
            let bp = b.add(p * g.ldb);
            let mut bv = [_mm512_setzero_ps(); V];
            for (v, x) in bv.iter_mut().enumerate() {
                *x = _mm512_maskz_loadu_ps(lane_mask(v), bp.add(16 * v));
            }
            let ap = a.add(p * g.cs_a);
            for (r, acc_r) in acc.iter_mut().enumerate() {
                let av = _mm512_set1_ps(*ap.add(r * g.rs_a));
                for (x, &bv) in acc_r.iter_mut().zip(&bv) {
                    *x = _mm512_fmadd_ps(av, bv, *x);
                }
            }
        }
        let alpha = _mm512_set1_ps(g.alpha);
        for (r, acc_r) in acc.iter().enumerate() {
            for (v, &x) in acc_r.iter().enumerate() {
                let cp = c.add(r * g.ldc + 16 * v);
                let x = if g.acc {
                    _mm512_fmadd_ps(x, alpha, _mm512_maskz_loadu_ps(lane_mask(v), cp))
                } else {
                    _mm512_mul_ps(x, alpha)
                };
                _mm512_mask_storeu_ps(cp, lane_mask(v), x);
            }
        }
    }

    /// Calls `f(ptr, mask)` for each 16-lane piece of a row of `n` floats.
    #[target_feature(enable = "avx512f")]
    #[inline]
    unsafe fn for_lanes(n: usize, mut f: impl FnMut(usize, __mmask16)) {
        let mut j = 0;
        while j + 16 <= n {
            f(j, 0xffff);
            j += 16;
        }
        if j < n {
            f(j, tail_mask(n - j));
        }
    }

    #[target_feature(enable = "avx512f")]
    unsafe fn softmax_rows(n: usize, ld: usize, s: *mut f32, lse: &mut [f32]) {
        for (i, l) in lse.iter_mut().enumerate() {
            let row = s.add(i * ld);
            let mut vm = _mm512_set1_ps(f32::NEG_INFINITY);
            for_lanes(n, |j, k| {
                vm = _mm512_mask_max_ps(vm, k, vm, _mm512_maskz_loadu_ps(k, row.add(j)))
            });
            let m = _mm512_set1_ps(_mm512_reduce_max_ps(vm));
            let mut vs = _mm512_setzero_ps();
            for_lanes(n, |j, k| {
                let e = exp_avx512(_mm512_sub_ps(_mm512_maskz_loadu_ps(k, row.add(j)), m));
                _mm512_mask_storeu_ps(row.add(j), k, e);
                vs = _mm512_mask_add_ps(vs, k, vs, e);
            });
            let sum = _mm512_reduce_add_ps(vs);
            let inv = _mm512_set1_ps(1.0 / sum);
            for_lanes(n, |j, k| {
                let x = _mm512_mul_ps(_mm512_maskz_loadu_ps(k, row.add(j)), inv);
                _mm512_mask_storeu_ps(row.add(j), k, x);
            });
            *l = _mm512_cvtss_f32(m) + sum.ln();
        }
    }

    #[target_feature(enable = "avx512f")]
    unsafe fn exp_rows(n: usize, ld: usize, s: *mut f32, lse: &[f32]) {
        for (i, &l) in lse.iter().enumerate() {
            let (row, l) = (s.add(i * ld), _mm512_set1_ps(l));
            for_lanes(n, |j, k| {
                let e = exp_avx512(_mm512_sub_ps(_mm512_maskz_loadu_ps(k, row.add(j)), l));
                _mm512_mask_storeu_ps(row.add(j), k, e);
            });
        }
    }

    #[target_feature(enable = "avx512f")]
    unsafe fn ds_rows(n: usize, ld: usize, p: *const f32, dp: *mut f32, dsum: &[f32]) {
        for (i, &ds) in dsum.iter().enumerate() {
            let (pr, dr, ds) = (p.add(i * ld), dp.add(i * ld), _mm512_set1_ps(ds));
            for_lanes(n, |j, k| {
                let d = _mm512_sub_ps(_mm512_maskz_loadu_ps(k, dr.add(j)), ds);
                _mm512_mask_storeu_ps(
                    dr.add(j),
                    k,
                    _mm512_mul_ps(_mm512_maskz_loadu_ps(k, pr.add(j)), d),
                );
            });
        }
    }
}
