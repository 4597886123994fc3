//! AVX-512F micro-kernels for the attention head, selected at run time.
//!
//! GEMM tile: 6 rows × 64 columns = 24 zmm accumulators + 4 B vectors + 1 broadcast (29 of 32
//! registers); narrower panels use taller tiles (8 × 48, 12 × 32, 12 × 16). Per k step that is
//! 24 FMAs against at most 14 loads and broadcasts, so the two FMA ports stay the bottleneck.
//! The last vector of a column panel is loaded and stored under a lane mask, so any n or d runs
//! on the same kernel with no scalar tail.

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
    use super::super::head::{Epi, EpiPtr, Kernels, Mm};
    use crate::cpu::simd::has_avx512f;
    use std::arch::x86_64::*;

    /// Widest column panel, in 16-lane vectors.
    const NV: usize = 4;

    /// Below this, e^x is under `f32::MIN_POSITIVE`: clamping there keeps every result normal.
    const EXP_LO: f32 = -87.3;
    /// ln 2 = LN2_HI + LN2_LO, LN2_HI with 9 significant bits so that `n·LN2_HI` is exact.
    const LN2_HI: f32 = 355.0 / 512.0;
    const LN2_LO: f32 = -2.121_944_4e-4;
    /// 1/k! for k = 7..2, highest first: e^r = 1 + r + r²·(1/2 + r/6 + …), |r| ≤ ln2/2, with a
    /// truncation error under 6e-9 relative.
    const EXP_P: [f32; 6] = [
        1.0 / 5040.0,
        1.0 / 720.0,
        1.0 / 120.0,
        1.0 / 24.0,
        1.0 / 6.0,
        0.5,
    ];

    /// Proof that the CPU has AVX-512F: the only constructor checks.
    #[derive(Clone, Copy)]
    pub(crate) struct Avx512(());

    impl Avx512 {
        pub fn new() -> Option<Self> {
            has_avx512f().then_some(Avx512(()))
        }
    }

    impl Kernels for Avx512 {
        fn matmul(self, g: Mm, epi: Epi, a: &[f32], b: &[f32], c: &mut [f32]) {
            g.check(epi, a, b, c);
            // SAFETY: `self` exists only with AVX-512F; `check` bounds every access.
            unsafe { matmul(&g, epi, a.as_ptr(), b.as_ptr(), c.as_mut_ptr()) }
        }

        fn softmax_rows(
            self,
            n: usize,
            ld: usize,
            s: &mut [f32],
            lse: &mut [f32],
            inv_sum: &mut [f32],
        ) {
            let rows = lse.len().min(inv_sum.len());
            assert!(rows == 0 || s.len() >= (rows - 1) * ld + n);
            // SAFETY: AVX-512F present; rows < `rows` of n entries are inside `s`.
            unsafe { softmax_rows(n, ld, s.as_mut_ptr(), lse, inv_sum) }
        }

        fn transpose(self, n: usize, d: usize, x: &[f32], xs: usize, ld: usize, xt: &mut [f32]) {
            assert!(
                n == 0
                    || d == 0
                    || (xs >= d && x.len() >= (n - 1) * xs + d && xt.len() >= (d - 1) * ld + n)
            );
            // SAFETY: AVX-512F present; rows < n of x and rows < d (n entries) of xt are in bounds.
            unsafe { transpose(n, d, x.as_ptr(), xs, ld, xt.as_mut_ptr()) }
        }
    }

    /// Lanes in use of a vector covering `w` ∈ 1..=16 columns.
    fn tail_mask(w: usize) -> __mmask16 {
        match w % 16 {
            0 => 0xffff,
            t => (1u16 << t) - 1,
        }
    }

    /// Columns split into balanced panels of at most `NV` vectors (13 vectors → 4+3+3+3, not
    /// 4+4+4+1: a one-vector panel is bound by its broadcasts, not its FMAs). Tile heights keep
    /// rows × vectors ≈ 24 accumulators.
    #[target_feature(enable = "avx512f")]
    unsafe fn matmul(g: &Mm, epi: Epi, a: *const f32, b: *const f32, c: *mut f32) {
        let vecs = g.n.div_ceil(16);
        let panels = vecs.div_ceil(NV);
        let mut j = 0;
        for pi in 0..panels {
            let nv = vecs / panels + usize::from(pi < vecs % panels);
            let mask = if pi + 1 == panels {
                tail_mask(g.n - j - 16 * (nv - 1))
            } else {
                0xffff
            };
            match nv {
                1 => panel::<1, 12>(g, epi, a, b, c, j, mask),
                2 => panel::<2, 12>(g, epi, a, b, c, j, mask),
                3 => panel::<3, 8>(g, epi, a, b, c, j, mask),
                _ => panel::<NV, 6>(g, epi, a, b, c, j, mask),
            }
            j += 16 * nv;
        }
    }

    /// Columns `j..j + 16V` for every row: tiles of `MR` rows, then 4, 2, 1.
    #[target_feature(enable = "avx512f")]
    #[inline]
    unsafe fn panel<const V: usize, const MR: usize>(
        g: &Mm,
        epi: Epi,
        a: *const f32,
        b: *const f32,
        c: *mut f32,
        j: usize,
        mask: __mmask16,
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
                r if r >= MR => tile::<MR, V>(g, ap, bp, cp, e, mask),
                r if r >= 4 => tile::<4, V>(g, ap, bp, cp, e, mask),
                r if r >= 2 => tile::<2, V>(g, ap, bp, cp, e, mask),
                _ => tile::<1, V>(g, ap, bp, cp, e, mask),
            };
        }
    }

    /// `R × 16V` block of C, the last vector's lanes limited to `mask`. Returns R.
    #[target_feature(enable = "avx512f")]
    #[inline]
    unsafe fn tile<const R: usize, const V: usize>(
        g: &Mm,
        a: *const f32,
        b: *const f32,
        c: *mut f32,
        epi: EpiPtr,
        mask: __mmask16,
    ) -> usize {
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
        // One loop nest per epilogue (not a match per element), so that each nest unrolls and
        // the accumulators stay in registers instead of a zeroed, reloaded stack array.
        let alpha = _mm512_set1_ps(g.alpha);
        let each = |f: &mut dyn FnMut(usize, usize, __m512, *mut f32, __mmask16)| {
            for (r, acc_r) in acc.iter().enumerate() {
                for (v, &x) in acc_r.iter().enumerate() {
                    f(
                        r,
                        v,
                        _mm512_mul_ps(x, alpha),
                        c.add(r * g.ldc + 16 * v),
                        lane_mask(v),
                    );
                }
            }
        };
        match epi {
            EpiPtr::Plain if g.acc => each(&mut |_, _, x, cv, m| {
                _mm512_mask_storeu_ps(cv, m, _mm512_add_ps(x, _mm512_maskz_loadu_ps(m, cv)))
            }),
            EpiPtr::Plain => each(&mut |_, _, x, cv, m| _mm512_mask_storeu_ps(cv, m, x)),
            EpiPtr::ExpMinus(l) => each(&mut |r, _, x, cv, m| {
                _mm512_mask_storeu_ps(cv, m, _mm512_sub_ps(x, _mm512_set1_ps(*l.add(r))))
            }),
            EpiPtr::RowScale(s) => each(&mut |r, _, x, cv, m| {
                _mm512_mask_storeu_ps(cv, m, _mm512_mul_ps(x, _mm512_set1_ps(*s.add(r))))
            }),
            EpiPtr::GradScores(p, ds) => each(&mut |r, v, x, cv, m| {
                let p = _mm512_maskz_loadu_ps(m, p.add(r * g.ldc + 16 * v));
                let d = _mm512_sub_ps(x, _mm512_set1_ps(*ds.add(r)));
                _mm512_mask_storeu_ps(cv, m, _mm512_mul_ps(p, d))
            }),
        }
        if let EpiPtr::ExpMinus(_) = epi {
            // The exponential runs on the stored tile while it is in L1: inlined above, its code
            // size made LLVM keep the accumulators in memory for every tile.
            exp_tile(R, V, c, g.ldc, mask);
        }
        R
    }

    /// `x ← exp(x)` over `rows` rows of `vecs` vectors (the last one under `mask`).
    #[target_feature(enable = "avx512f")]
    #[inline(never)]
    unsafe fn exp_tile(rows: usize, vecs: usize, c: *mut f32, ldc: usize, mask: __mmask16) {
        for r in 0..rows {
            for v in 0..vecs {
                let (cv, m) = (
                    c.add(r * ldc + 16 * v),
                    if v + 1 == vecs { mask } else { 0xffff },
                );
                _mm512_mask_storeu_ps(cv, m, exp_nonpositive(_mm512_maskz_loadu_ps(m, cv)));
            }
        }
    }

    /// Calls `f(j, mask)` for each 16-lane piece of a row of `n` floats.
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

    /// Three sweeps over the block (row maxima, then exp and row sums, then log and reciprocal of
    /// 16 sums at a time) rather than one row at a time: a row of 64 scores is only four vectors,
    /// and per row the horizontal reductions and the exp latency chain left the core idle.
    #[target_feature(enable = "avx512f")]
    unsafe fn softmax_rows(n: usize, ld: usize, s: *mut f32, lse: &mut [f32], inv_sum: &mut [f32]) {
        let rows = lse.len().min(inv_sum.len());
        for (i, l) in lse.iter_mut().enumerate().take(rows) {
            let row = s.add(i * ld);
            let mut vm = _mm512_set1_ps(f32::NEG_INFINITY);
            for_lanes(n, |j, k| {
                vm = _mm512_mask_max_ps(vm, k, vm, _mm512_maskz_loadu_ps(k, row.add(j)))
            });
            *l = _mm512_reduce_max_ps(vm);
        }
        for (i, (&m, sum)) in lse.iter().zip(inv_sum.iter_mut()).enumerate().take(rows) {
            let (row, vm) = (s.add(i * ld), _mm512_set1_ps(m));
            let mut vs = _mm512_setzero_ps();
            for_lanes(n, |j, k| {
                let e = exp_nonpositive(_mm512_sub_ps(_mm512_maskz_loadu_ps(k, row.add(j)), vm));
                _mm512_mask_storeu_ps(row.add(j), k, e);
                vs = _mm512_mask_add_ps(vs, k, vs, e);
            });
            *sum = _mm512_reduce_add_ps(vs);
        }
        let (l, inv) = (lse.as_mut_ptr(), inv_sum.as_mut_ptr());
        for_lanes(rows, |j, k| {
            // Each sum is ≥ 1 (the max term is e⁰), so the log is finite.
            let sum = _mm512_mask_loadu_ps(_mm512_set1_ps(1.0), k, inv.add(j));
            let lse = _mm512_add_ps(_mm512_maskz_loadu_ps(k, l.add(j)), ln(sum));
            _mm512_mask_storeu_ps(l.add(j), k, lse);
            _mm512_mask_storeu_ps(inv.add(j), k, _mm512_div_ps(_mm512_set1_ps(1.0), sum));
        });
    }

    /// `e^x` for x ≤ 0 (scores minus their row maximum, or minus their log-sum-exp), the same
    /// range reduction as `simd::exp_avx512` but without its overflow and NaN fix-ups, which
    /// cannot trigger here (a NaN input still propagates: `max` returns its second operand).
    #[target_feature(enable = "avx512f")]
    #[inline]
    unsafe fn exp_nonpositive(x: __m512) -> __m512 {
        let x = _mm512_max_ps(_mm512_set1_ps(EXP_LO), x);
        let n = _mm512_roundscale_ps::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(
            _mm512_mul_ps(x, _mm512_set1_ps(std::f32::consts::LOG2_E)),
        );
        let r = _mm512_fnmadd_ps(n, _mm512_set1_ps(LN2_HI), x);
        let r = _mm512_fnmadd_ps(n, _mm512_set1_ps(LN2_LO), r);
        let mut p = _mm512_set1_ps(EXP_P[0]);
        for &c in &EXP_P[1..] {
            p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(c));
        }
        let e = _mm512_add_ps(
            _mm512_fmadd_ps(_mm512_mul_ps(r, r), p, r),
            _mm512_set1_ps(1.0),
        );
        _mm512_scalef_ps(e, n)
    }

    /// Natural log for x ≥ 1 (finite, normal): x = m·2^e with m ∈ [0.75, 1.5), then
    /// ln m = 2·atanh(s), s = (m − 1)/(m + 1) ∈ [−0.15, 0.2], by its odd series to s⁹
    /// (truncation < 2e-9 relative).
    #[target_feature(enable = "avx512f")]
    #[inline]
    unsafe fn ln(x: __m512) -> __m512 {
        let one = _mm512_set1_ps(1.0);
        let m = _mm512_getmant_ps::<_MM_MANT_NORM_P75_1P5, _MM_MANT_SIGN_SRC>(x);
        let e = _mm512_getexp_ps(x);
        // getexp gives ⌊log2 x⌋ for a mantissa in [1, 2); a mantissa folded below 1 adds one.
        let e = _mm512_mask_add_ps(e, _mm512_cmp_ps_mask::<_CMP_LT_OQ>(m, one), e, one);
        let s = _mm512_div_ps(_mm512_sub_ps(m, one), _mm512_add_ps(m, one));
        let s2 = _mm512_mul_ps(s, s);
        let mut p = _mm512_set1_ps(1.0 / 9.0);
        for c in [1.0 / 7.0, 1.0 / 5.0, 1.0 / 3.0, 1.0] {
            p = _mm512_fmadd_ps(p, s2, _mm512_set1_ps(c));
        }
        let two_s = _mm512_add_ps(s, s);
        _mm512_fmadd_ps(
            e,
            _mm512_set1_ps(std::f32::consts::LN_2),
            _mm512_mul_ps(two_s, p),
        )
    }

    /// 16×16 blocks through four shuffle stages (32-bit, 64-bit, then two 128-bit lane
    /// stages: 64 shuffles per 256 floats). Edge blocks use masks (a zero mask touches no
    /// memory), so every block is the same straight-line code with its 16 rows in registers.
    #[target_feature(enable = "avx512f")]
    unsafe fn transpose(n: usize, d: usize, x: *const f32, xs: usize, ld: usize, xt: *mut f32) {
        for j0 in (0..n).step_by(16) {
            let rows = (n - j0).min(16);
            for c0 in (0..d).step_by(16) {
                let cols = (d - c0).min(16);
                let cmask = tail_mask(cols);
                let mut r = [_mm512_setzero_ps(); 16];
                for (i, ri) in r.iter_mut().enumerate() {
                    let m = if i < rows { cmask } else { 0 };
                    *ri = _mm512_maskz_loadu_ps(m, x.wrapping_add((j0 + i) * xs + c0));
                }
                let t = transpose16(r);
                let rmask = tail_mask(rows);
                for (c, tc) in t.iter().enumerate() {
                    let m = if c < cols { rmask } else { 0 };
                    _mm512_mask_storeu_ps(xt.wrapping_add((c0 + c) * ld + j0), m, *tc);
                }
            }
        }
    }

    /// Register transpose: `out[c]` lane `i` = `r[i]` lane `c`.
    #[target_feature(enable = "avx512f")]
    #[inline]
    unsafe fn transpose16(r: [__m512; 16]) -> [__m512; 16] {
        // Within each 128-bit lane: rows pairwise interleaved, then row pairs interleaved, so
        // u[4g + c] holds, per 128-bit lane l, column 4l + c of rows 4g..4g + 4.
        let mut t = [_mm512_setzero_ps(); 16];
        for k in 0..8 {
            t[2 * k] = _mm512_unpacklo_ps(r[2 * k], r[2 * k + 1]);
            t[2 * k + 1] = _mm512_unpackhi_ps(r[2 * k], r[2 * k + 1]);
        }
        let mut u = [_mm512_setzero_ps(); 16];
        for g in 0..4 {
            for h in 0..2 {
                let a = _mm512_castps_pd(t[4 * g + h]);
                let b = _mm512_castps_pd(t[4 * g + 2 + h]);
                u[4 * g + 2 * h] = _mm512_castpd_ps(_mm512_unpacklo_pd(a, b));
                u[4 * g + 2 * h + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(a, b));
            }
        }
        // Gather the four 128-bit pieces of each output row (one from each row group).
        let mut out = [_mm512_setzero_ps(); 16];
        for c in 0..4 {
            let v0 = _mm512_shuffle_f32x4::<0x44>(u[c], u[4 + c]);
            let v1 = _mm512_shuffle_f32x4::<0xEE>(u[c], u[4 + c]);
            let v2 = _mm512_shuffle_f32x4::<0x44>(u[8 + c], u[12 + c]);
            let v3 = _mm512_shuffle_f32x4::<0xEE>(u[8 + c], u[12 + c]);
            out[c] = _mm512_shuffle_f32x4::<0x88>(v0, v2);
            out[4 + c] = _mm512_shuffle_f32x4::<0xDD>(v0, v2);
            out[8 + c] = _mm512_shuffle_f32x4::<0x88>(v1, v3);
            out[12 + c] = _mm512_shuffle_f32x4::<0xDD>(v1, v3);
        }
        out
    }
}
