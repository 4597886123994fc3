//! One eight-lane f32 vector interface, [`F8`], so a row kernel is written once and compiled
//! twice: on `wide::f32x8` (the portable path, whatever the build's target features give) and
//! on [`A8`], raw AVX2+FMA intrinsics, inside a `#[target_feature(enable = "avx2,fma")]` entry
//! point chosen at run time. `wide` picks its code by `cfg(target_feature)` when it is compiled,
//! so without the workspace's x86-64-v3 rustflags it is SSE2 even inside such an entry point;
//! `A8` is what makes a consumer's build (which does not read `.cargo/config.toml`) fast.
//!
//! Every method is `#[inline(always)]`: the generic kernels inline into their entry point, and
//! the intrinsics then compile with the entry point's features.

use super::{exp_f32x8, load8, store8};
use std::ops::{Add, AddAssign, Div, Mul, Neg, Sub};
use wide::f32x8;

/// Eight f32 lanes. `mul_add(m, a)` is `self·m + a`, fused where the hardware has FMA.
pub(crate) trait F8:
    Copy
    + Add<Output = Self>
    + Sub<Output = Self>
    + Mul<Output = Self>
    + Div<Output = Self>
    + Neg<Output = Self>
    + AddAssign
{
    const ZERO: Self;
    fn splat(x: f32) -> Self;
    /// `s[..8]`; panics if `s` is shorter.
    fn load8(s: &[f32]) -> Self;
    /// Into `s[..8]`; panics if `s` is shorter.
    fn store8(self, s: &mut [f32]);
    /// # Safety
    /// `p..p+8` must be readable.
    unsafe fn load(p: *const f32) -> Self;
    /// # Safety
    /// `p..p+8` must be writable.
    unsafe fn store(self, p: *mut f32);
    fn mul_add(self, m: Self, a: Self) -> Self;
    fn fast_max(self, o: Self) -> Self;
    fn fast_min(self, o: Self) -> Self;
    fn abs(self) -> Self;
    /// Lane mask (all bits set where true) of `self < o`; false for NaN.
    fn lt(self, o: Self) -> Self;
    /// Lane mask of `self >= o`; false for NaN.
    fn ge(self, o: Self) -> Self;
    /// `t` where `mask` is set, else `f`.
    fn select(mask: Self, t: Self, f: Self) -> Self;
    /// One bit per lane of a mask (lane 0 lowest).
    fn move_mask(self) -> u32;
    fn reduce_add(self) -> f32;
    fn reduce_max(self) -> f32;
    /// `e^x`, the algorithm of [`super::exp_f32x8`] (same accuracy and edge cases).
    fn exp(self) -> Self;
    /// The 8×8 transpose: lane `c` of row `r` becomes lane `r` of row `c`.
    fn transpose8(rows: [Self; 8]) -> [Self; 8];
}

impl F8 for f32x8 {
    const ZERO: Self = f32x8::ZERO;
    #[inline(always)]
    fn splat(x: f32) -> Self {
        f32x8::splat(x)
    }
    #[inline(always)]
    fn load8(s: &[f32]) -> Self {
        load8(s)
    }
    #[inline(always)]
    fn store8(self, s: &mut [f32]) {
        store8(s, self)
    }
    #[inline(always)]
    unsafe fn load(p: *const f32) -> Self {
        f32x8::from(p.cast::<[f32; 8]>().read_unaligned())
    }
    #[inline(always)]
    unsafe fn store(self, p: *mut f32) {
        p.cast::<[f32; 8]>().write_unaligned(self.to_array())
    }
    #[inline(always)]
    fn mul_add(self, m: Self, a: Self) -> Self {
        f32x8::mul_add(self, m, a)
    }
    #[inline(always)]
    fn fast_max(self, o: Self) -> Self {
        f32x8::fast_max(self, o)
    }
    #[inline(always)]
    fn fast_min(self, o: Self) -> Self {
        f32x8::fast_min(self, o)
    }
    #[inline(always)]
    fn abs(self) -> Self {
        f32x8::abs(self)
    }
    #[inline(always)]
    fn lt(self, o: Self) -> Self {
        self.simd_lt(o)
    }
    #[inline(always)]
    fn ge(self, o: Self) -> Self {
        self.simd_ge(o)
    }
    #[inline(always)]
    fn select(mask: Self, t: Self, f: Self) -> Self {
        mask.select(t, f)
    }
    #[inline(always)]
    fn move_mask(self) -> u32 {
        f32x8::to_bitmask(self)
    }
    #[inline(always)]
    fn reduce_add(self) -> f32 {
        f32x8::reduce_add(self)
    }
    #[inline(always)]
    fn reduce_max(self) -> f32 {
        self.to_array()
            .into_iter()
            .fold(f32::NEG_INFINITY, f32::max)
    }
    #[inline(always)]
    fn exp(self) -> Self {
        exp_f32x8(self)
    }
    #[inline(always)]
    fn transpose8(rows: [Self; 8]) -> [Self; 8] {
        f32x8::transpose(rows)
    }
}

/// max of a row (−inf for an empty one) with two chains: the reduction is latency-bound at
/// attention-sized rows. NaN handling follows `maxps`, as [`super::max`].
#[inline(always)]
pub(crate) fn row_max<V: F8>(row: &[f32]) -> f32 {
    let ninf = V::splat(f32::NEG_INFINITY);
    let (mut m0, mut m1) = (ninf, ninf);
    let mut pairs = row.chunks_exact(16);
    for c in &mut pairs {
        m0 = m0.fast_max(V::load8(c));
        m1 = m1.fast_max(V::load8(&c[8..]));
    }
    let mut rest = pairs.remainder().chunks_exact(8);
    for c in &mut rest {
        m0 = m0.fast_max(V::load8(c));
    }
    let m = m0.fast_max(m1).reduce_max();
    rest.remainder().iter().copied().fold(m, f32::max)
}

#[cfg(target_arch = "x86_64")]
pub(crate) use avx2::A8;

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use super::super::{EXP_HI, EXP_LO, LN2_HI, LN2_LO, LOG2E, P0, P1, P2, P3, P4, P5};
    use super::F8;
    use std::arch::x86_64::*;
    use std::ops::{Add, AddAssign, Div, Mul, Neg, Sub};

    /// Eight lanes in a ymm register.
    ///
    /// Soundness rule (the reason this type is crate-private): its methods execute AVX2 and FMA
    /// instructions, so they may only run inside a `#[target_feature(enable = "avx2,fma")]`
    /// function entered after [`super::super::has_avx2_fma`] returned true (the kernels' `avx2`
    /// entry points, reached through `SimdPath::Avx2`).
    #[derive(Clone, Copy)]
    #[repr(transparent)]
    pub(crate) struct A8(pub(crate) __m256);

    // SAFETY (all the `unsafe` blocks below): the intrinsics need AVX/AVX2/FMA, which the soundness
    // rule of `A8` guarantees; pointer arguments are the caller's contract or bounds-checked.
    macro_rules! binop {
        ($tr:ident, $f:ident, $intr:ident) => {
            impl $tr for A8 {
                type Output = A8;
                #[inline(always)]
                fn $f(self, o: A8) -> A8 {
                    A8(unsafe { $intr(self.0, o.0) })
                }
            }
        };
    }
    binop!(Add, add, _mm256_add_ps);
    binop!(Sub, sub, _mm256_sub_ps);
    binop!(Mul, mul, _mm256_mul_ps);
    binop!(Div, div, _mm256_div_ps);

    impl Neg for A8 {
        type Output = A8;
        #[inline(always)]
        fn neg(self) -> A8 {
            A8(unsafe { _mm256_xor_ps(self.0, _mm256_set1_ps(-0.0)) })
        }
    }

    impl AddAssign for A8 {
        #[inline(always)]
        fn add_assign(&mut self, o: A8) {
            *self = *self + o;
        }
    }

    #[inline(always)]
    unsafe fn hsum128(v: __m128) -> f32 {
        let s = _mm_add_ps(v, _mm_movehl_ps(v, v));
        _mm_cvtss_f32(_mm_add_ss(s, _mm_shuffle_ps::<0b01>(s, s)))
    }

    impl F8 for A8 {
        // SAFETY: __m256 is plain data with the layout of [f32; 8].
        const ZERO: Self = A8(unsafe { std::mem::transmute::<[f32; 8], __m256>([0.0; 8]) });
        #[inline(always)]
        fn splat(x: f32) -> Self {
            A8(unsafe { _mm256_set1_ps(x) })
        }
        #[inline(always)]
        fn load8(s: &[f32]) -> Self {
            let s = &s[..8];
            unsafe { Self::load(s.as_ptr()) }
        }
        #[inline(always)]
        fn store8(self, s: &mut [f32]) {
            let s = &mut s[..8];
            unsafe { self.store(s.as_mut_ptr()) }
        }
        #[inline(always)]
        unsafe fn load(p: *const f32) -> Self {
            A8(_mm256_loadu_ps(p))
        }
        #[inline(always)]
        unsafe fn store(self, p: *mut f32) {
            _mm256_storeu_ps(p, self.0)
        }
        #[inline(always)]
        fn mul_add(self, m: Self, a: Self) -> Self {
            A8(unsafe { _mm256_fmadd_ps(self.0, m.0, a.0) })
        }
        #[inline(always)]
        fn fast_max(self, o: Self) -> Self {
            A8(unsafe { _mm256_max_ps(self.0, o.0) })
        }
        #[inline(always)]
        fn fast_min(self, o: Self) -> Self {
            A8(unsafe { _mm256_min_ps(self.0, o.0) })
        }
        #[inline(always)]
        fn abs(self) -> Self {
            A8(unsafe { _mm256_andnot_ps(_mm256_set1_ps(-0.0), self.0) })
        }
        #[inline(always)]
        fn lt(self, o: Self) -> Self {
            A8(unsafe { _mm256_cmp_ps::<_CMP_LT_OQ>(self.0, o.0) })
        }
        #[inline(always)]
        fn ge(self, o: Self) -> Self {
            A8(unsafe { _mm256_cmp_ps::<_CMP_GE_OQ>(self.0, o.0) })
        }
        #[inline(always)]
        fn select(mask: Self, t: Self, f: Self) -> Self {
            A8(unsafe { _mm256_blendv_ps(f.0, t.0, mask.0) })
        }
        #[inline(always)]
        fn move_mask(self) -> u32 {
            unsafe { _mm256_movemask_ps(self.0) as u32 }
        }
        #[inline(always)]
        fn reduce_add(self) -> f32 {
            unsafe {
                let v = _mm_add_ps(
                    _mm256_castps256_ps128(self.0),
                    _mm256_extractf128_ps::<1>(self.0),
                );
                hsum128(v)
            }
        }
        #[inline(always)]
        fn reduce_max(self) -> f32 {
            unsafe {
                let v = _mm_max_ps(
                    _mm256_castps256_ps128(self.0),
                    _mm256_extractf128_ps::<1>(self.0),
                );
                let v = _mm_max_ps(v, _mm_movehl_ps(v, v));
                _mm_cvtss_f32(_mm_max_ss(v, _mm_shuffle_ps::<0b01>(v, v)))
            }
        }
        #[inline(always)]
        fn exp(self) -> Self {
            unsafe {
                let x = self.0;
                let xc = _mm256_min_ps(
                    _mm256_max_ps(x, _mm256_set1_ps(EXP_LO)),
                    _mm256_set1_ps(EXP_HI),
                );
                let n = _mm256_round_ps::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(
                    _mm256_mul_ps(xc, _mm256_set1_ps(LOG2E)),
                );
                let r = _mm256_fnmadd_ps(n, _mm256_set1_ps(LN2_HI), xc);
                let r = _mm256_fnmadd_ps(n, _mm256_set1_ps(LN2_LO), r);
                let mut p = _mm256_fmadd_ps(_mm256_set1_ps(P5), r, _mm256_set1_ps(P4));
                p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(P3));
                p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(P2));
                p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(P1));
                p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(P0));
                let e = _mm256_add_ps(
                    _mm256_fmadd_ps(_mm256_mul_ps(r, r), p, r),
                    _mm256_set1_ps(1.0),
                );
                // 2^n as two normal factors, as the f32x8 version (2^128 is not normal).
                let ni = _mm256_cvtps_epi32(n);
                let n1 = _mm256_srai_epi32::<1>(ni);
                let n2 = _mm256_sub_epi32(ni, n1);
                let bias = _mm256_set1_epi32(127);
                let s1 = _mm256_castsi256_ps(_mm256_slli_epi32::<23>(_mm256_add_epi32(n1, bias)));
                let s2 = _mm256_castsi256_ps(_mm256_slli_epi32::<23>(_mm256_add_epi32(n2, bias)));
                let res = _mm256_mul_ps(_mm256_mul_ps(e, s1), s2);
                let low = _mm256_cmp_ps::<_CMP_LT_OQ>(x, _mm256_set1_ps(EXP_LO));
                let res = _mm256_andnot_ps(low, res);
                let nan = _mm256_cmp_ps::<_CMP_UNORD_Q>(x, x);
                A8(_mm256_blendv_ps(res, x, nan))
            }
        }
        #[inline(always)]
        fn transpose8(r: [Self; 8]) -> [Self; 8] {
            unsafe {
                // Interleave pairs of rows, then pairs of pairs, then swap 128-bit halves.
                let t: [__m256; 8] = std::array::from_fn(|i| {
                    let (a, b) = (r[i / 2 * 2].0, r[i / 2 * 2 + 1].0);
                    if i % 2 == 0 {
                        _mm256_unpacklo_ps(a, b)
                    } else {
                        _mm256_unpackhi_ps(a, b)
                    }
                });
                let u: [__m256; 8] = std::array::from_fn(|i| {
                    // u[0..4] from t[0..4], u[4..8] from t[4..8]: (t0,t2) lo/hi, (t1,t3) lo/hi.
                    let base = i / 4 * 4;
                    let (a, b) = (t[base + (i % 4) / 2], t[base + (i % 4) / 2 + 2]);
                    if i % 2 == 0 {
                        _mm256_shuffle_ps::<0x44>(a, b)
                    } else {
                        _mm256_shuffle_ps::<0xEE>(a, b)
                    }
                });
                std::array::from_fn(|c| {
                    let (a, b) = (u[c % 4], u[c % 4 + 4]);
                    A8(if c < 4 {
                        _mm256_permute2f128_ps::<0x20>(a, b)
                    } else {
                        _mm256_permute2f128_ps::<0x31>(a, b)
                    })
                })
            }
        }
    }
}
