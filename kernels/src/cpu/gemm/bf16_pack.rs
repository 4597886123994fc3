//! f32 → bf16 packing for the AMX products (`amx.rs` describes the tile layouts).
//!
//! Rounding is to nearest even (the `half` crate's, which the vector paths reproduce); `split`
//! gives `x ≈ hi + lo` with `lo = bf16(x − hi)`. Each packer has vector fast paths for the two
//! layouts the engine produces (contiguous rows, and the transposed views of backward passes)
//! and a scalar path for any other strides; all three write the same bytes, which the tests
//! check through the products.

use super::amx::{B_TILE, KSTEP};
use half::bf16;
use std::arch::x86_64::*;

/// `(hi, lo)` with `hi = bf16(x)` and `lo = bf16(x − hi)`.
#[inline(always)]
pub fn split(x: f32) -> (u16, u16) {
    let hi = bf16::from_f32(x);
    (hi.to_bits(), bf16::from_f32(x - hi.to_f32()).to_bits())
}

/// Sixteen lanes of [`split`], each result in the upper 16 bits of a 32-bit lane (lower zero).
#[inline]
#[target_feature(enable = "avx512f")]
unsafe fn split16_wide(v: __m512) -> (__m512i, __m512i) {
    #[inline(always)]
    unsafe fn round(v: __m512) -> __m512i {
        let b = _mm512_castps_si512(v);
        let odd = _mm512_and_si512(_mm512_srli_epi32::<16>(b), _mm512_set1_epi32(1));
        let r = _mm512_add_epi32(_mm512_add_epi32(b, _mm512_set1_epi32(0x7FFF)), odd);
        _mm512_and_si512(r, _mm512_set1_epi32(-65536))
    }
    // NaN lanes become a quiet NaN (rounding could carry a signalling payload into ±inf).
    let nan = _mm512_cmp_ps_mask::<_CMP_UNORD_Q>(v, v);
    let qnan = _mm512_set1_epi32(0x7FC0_0000);
    let hi = _mm512_mask_mov_epi32(round(v), nan, qnan);
    let lo = _mm512_mask_mov_epi32(round(_mm512_sub_ps(v, _mm512_castsi512_ps(hi))), nan, qnan);
    (hi, lo)
}

/// Sixteen lanes of [`split`] as 16 packed bf16 each.
#[inline]
#[target_feature(enable = "avx512f")]
unsafe fn split16(v: __m512) -> (__m256i, __m256i) {
    let (hi, lo) = split16_wide(v);
    (
        _mm512_cvtepi32_epi16(_mm512_srli_epi32::<16>(hi)),
        _mm512_cvtepi32_epi16(_mm512_srli_epi32::<16>(lo)),
    )
}

#[inline(always)]
fn mask(live: usize) -> __mmask16 {
    if live >= 16 {
        0xFFFF
    } else {
        ((1u32 << live) - 1) as u16
    }
}

/// In-place transpose of a 16 × 16 f32 block held as 16 rows: four butterfly stages, each
/// swapping one bit of the row index with the same bit of the column index.
#[inline]
#[target_feature(enable = "avx512f")]
unsafe fn transpose16(r: &mut [__m512; 16]) {
    for d in [8usize, 4, 2, 1] {
        let idx = |upper: bool| {
            let lane = |j: usize| -> i32 {
                let v = match (j & d == 0, upper) {
                    (true, false) => j,
                    (false, false) => 16 + j - d,
                    (true, true) => j + d,
                    (false, true) => 16 + j,
                };
                v as i32
            };
            let l: [i32; 16] = std::array::from_fn(lane);
            _mm512_loadu_si512(l.as_ptr().cast())
        };
        let (lo_idx, hi_idx) = (idx(false), idx(true));
        for x in 0..16 {
            if x & d == 0 {
                let (a, b) = (r[x], r[x + d]);
                r[x] = _mm512_permutex2var_ps(a, lo_idx, b);
                r[x + d] = _mm512_permutex2var_ps(a, hi_idx, b);
            }
        }
    }
}

/// Packed operands of one k block: bf16 `hi` and (for `High`) `lo` parts, same layout.
pub struct Packed<'a> {
    pub hi: &'a mut [u16],
    pub lo: Option<&'a mut [u16]>,
}

impl Packed<'_> {
    fn zero(&mut self) {
        self.zero_range(0..self.hi.len());
    }
    /// Zeroes elements `range` of each part.
    fn zero_range(&mut self, range: std::ops::Range<usize>) {
        self.hi[range.clone()].fill(0);
        if let Some(lo) = self.lo.as_deref_mut() {
            lo[range].fill(0);
        }
    }
    #[inline(always)]
    fn put(&mut self, at: usize, (h, l): (u16, u16)) {
        self.hi[at] = h;
        if let Some(lo) = self.lo.as_deref_mut() {
            lo[at] = l;
        }
    }
    /// Stores 16 bf16 (as produced by `split16`) at element `at` of each part.
    #[inline(always)]
    unsafe fn put16(&mut self, at: usize, (h, l): (__m256i, __m256i)) {
        assert!(at + 16 <= self.hi.len());
        _mm256_storeu_si256(self.hi.as_mut_ptr().add(at).cast(), h);
        if let Some(lo) = self.lo.as_deref_mut() {
            _mm256_storeu_si256(lo.as_mut_ptr().add(at).cast(), l);
        }
    }
}

/// Packs rows `r0..r0+rows`, k `p0..p0+kc` of a strided f32 matrix into row-major bf16
/// `[rows_pad][kc_pad]`, zero-padded (`dst` parts hold `rows_pad·kc_pad`).
///
/// # Safety
/// The block is in bounds of `a`; the CPU supports AVX-512F.
#[allow(clippy::too_many_arguments)]
#[target_feature(enable = "avx512f")]
pub unsafe fn pack_a(
    mut dst: Packed<'_>,
    a: *const f32,
    (row, col): (usize, usize),
    r0: usize,
    rows: usize,
    p0: usize,
    kc: usize,
    kc_pad: usize,
) {
    // Every path below writes rows < `rows` at k < kc (the vector paths up to kc rounded up to
    // 16, with zeros), so only the padding needs zeroing first (a full `zero` was 0.7 % of a
    // training step).
    let rows_pad = dst.hi.len() / kc_pad;
    for i in 0..rows {
        dst.zero_range(i * kc_pad + kc..(i + 1) * kc_pad);
    }
    dst.zero_range(rows * kc_pad..rows_pad * kc_pad);
    let base = a.add(r0 * row + p0 * col);
    if col == 1 {
        for i in 0..rows {
            let src = base.add(i * row);
            for p in (0..kc).step_by(16) {
                let v = _mm512_maskz_loadu_ps(mask(kc - p), src.add(p));
                // Lanes past kc are zero, and so is the padding they land in.
                dst.put16(i * kc_pad + p, split16(v));
            }
        }
    } else if row == 1 {
        // Transposed A (dYᵀ·X): 16 × 16 blocks, loaded along the rows and transposed in
        // registers so each packed row is written with one vector store.
        for i in (0..rows).step_by(16) {
            let live = (rows - i).min(16);
            for p in (0..kc).step_by(16) {
                let mut v = [_mm512_setzero_ps(); 16];
                for (t, v) in v.iter_mut().enumerate().take(kc - p) {
                    *v = _mm512_maskz_loadu_ps(mask(live), base.add((p + t) * col + i));
                }
                transpose16(&mut v);
                for (u, v) in v.iter().enumerate().take(live) {
                    dst.put16((i + u) * kc_pad + p, split16(*v));
                }
            }
        }
    } else {
        for i in 0..rows {
            for p in 0..kc {
                dst.put(i * kc_pad + p, split(*base.add(i * row + p * col)));
            }
        }
    }
}

/// Offset of element (k `p`, column `j`) in a packed 32-column B panel: 32-deep step p/32,
/// tile j/16, pair row (p%32)/2, column j%16, slot p%2.
#[inline(always)]
fn b_at(p: usize, j: usize) -> usize {
    (p / KSTEP) * 2 * B_TILE + (j / 16) * B_TILE + ((p % KSTEP) / 2) * 32 + (j % 16) * 2 + p % 2
}

/// Packs k `p0..p0+kc`, columns `j0..j0+cols` (≤ 32) of a strided f32 matrix into one
/// 32-column panel of B tiles, zero-padded (`dst` parts hold `kc_pad·32`).
///
/// # Safety
/// The block is in bounds of `b`; the CPU supports AVX-512F.
#[allow(clippy::too_many_arguments)]
#[target_feature(enable = "avx512f")]
pub unsafe fn pack_b(
    mut dst: Packed<'_>,
    b: *const f32,
    (row, col): (usize, usize),
    p0: usize,
    kc: usize,
    j0: usize,
    cols: usize,
) {
    // A full panel (32 columns, kc a whole number of 32-deep steps) is written entirely below.
    if !(cols == 32 && dst.hi.len() == kc * 32) {
        dst.zero();
    }
    let base = b.add(p0 * row + j0 * col);
    if col == 1 {
        // Rows p and p+1 interleave into one 64-byte tile row: low halves from p, high from p+1.
        for p in (0..kc).step_by(2) {
            for jt in (0..cols).step_by(16) {
                let m = mask(cols - jt);
                let v0 = _mm512_maskz_loadu_ps(m, base.add(p * row + jt));
                let v1 = if p + 1 < kc {
                    _mm512_maskz_loadu_ps(m, base.add((p + 1) * row + jt))
                } else {
                    _mm512_setzero_ps()
                };
                let ((h0, l0), (h1, l1)) = (split16_wide(v0), split16_wide(v1));
                let at = b_at(p, jt);
                let pair = |x: __m512i, y: __m512i| _mm512_or_si512(_mm512_srli_epi32::<16>(x), y);
                assert!(at + 32 <= dst.hi.len());
                _mm512_storeu_si512(dst.hi.as_mut_ptr().add(at).cast(), pair(h0, h1));
                if let Some(lo) = dst.lo.as_deref_mut() {
                    _mm512_storeu_si512(lo.as_mut_ptr().add(at).cast(), pair(l0, l1));
                }
            }
        }
    } else if row == 1 {
        // Transposed B (x·Wᵀ): a column's k pairs are adjacent, so 16 floats give 8 ready
        // pairs; each goes to its own tile row.
        let mut h = [0u32; 8];
        let mut l = [0u32; 8];
        for j in 0..cols {
            let src = base.add(j * col);
            for p in (0..kc).step_by(16) {
                let (vh, vl) = split16(_mm512_maskz_loadu_ps(mask(kc - p), src.add(p)));
                _mm256_storeu_si256(h.as_mut_ptr().cast(), vh);
                _mm256_storeu_si256(l.as_mut_ptr().cast(), vl);
                for q in 0..(kc - p).div_ceil(2).min(8) {
                    let at = b_at(p + 2 * q, j);
                    dst.put(at, (h[q] as u16, l[q] as u16));
                    dst.put(at + 1, ((h[q] >> 16) as u16, (l[q] >> 16) as u16));
                }
            }
        }
    } else {
        for p in 0..kc {
            for j in 0..cols {
                dst.put(b_at(p, j), split(*base.add(p * row + j * col)));
            }
        }
    }
}
