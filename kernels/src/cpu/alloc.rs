//! A global allocator that puts every large block on a 64-byte boundary.
//!
//! glibc's `malloc` aligns to 16 bytes, and a block big enough to be `mmap`ed starts 16 bytes
//! past a page boundary. A tensor in a `Vec<f32>` then has every 64-byte vector of every row
//! straddle two cache lines: each AVX-512 load or store touches two lines. LayerNorm 4096×192
//! measured 245 µs median on 64-byte aligned buffers against 327–334 µs at offsets of 16 and 32
//! bytes (`kernels/examples/ln_align.rs`, 2 threads). PyTorch's CPU allocator aligns every tensor
//! to 64 bytes, so without this jepa's kernels ran at a disadvantage that no kernel can undo
//! (the buffers come from the caller).
//!
//! Register it in a binary with
//! `#[global_allocator] static ALLOC: jepa_kernels::cpu::alloc::AlignedAlloc = AlignedAlloc;`
//! (the `jepa` binary does). Blocks under [`MIN_SIZE`] bytes keep the system's alignment: small
//! objects would only waste space.

use std::alloc::{GlobalAlloc, Layout, System};

/// Alignment of large blocks: one cache line, one AVX-512 vector.
pub const ALIGN: usize = 64;
/// Blocks of at least this many bytes are aligned to [`ALIGN`].
pub const MIN_SIZE: usize = 4096;

/// [`System`] with large blocks aligned to [`ALIGN`] bytes.
pub struct AlignedAlloc;

/// The layout actually requested from the system. A pure function of the caller's layout, so
/// `dealloc` and `realloc`, which receive the caller's layout, recover the same one.
#[inline]
fn widened(l: Layout) -> Layout {
    if l.size() >= MIN_SIZE && l.align() < ALIGN {
        Layout::from_size_align(l.size(), ALIGN).unwrap_or(l)
    } else {
        l
    }
}

// SAFETY: every block is obtained from and returned to `System` with the same (widened)
// layout, which satisfies the caller's layout (same size, alignment at least the requested).
unsafe impl GlobalAlloc for AlignedAlloc {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        System.alloc(widened(l))
    }

    unsafe fn alloc_zeroed(&self, l: Layout) -> *mut u8 {
        System.alloc_zeroed(widened(l))
    }

    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        System.dealloc(p, widened(l))
    }

    unsafe fn realloc(&self, p: *mut u8, l: Layout, new_size: usize) -> *mut u8 {
        let old = widened(l);
        // SAFETY (caller's contract): `new_size` rounded up to `l.align()` does not overflow.
        let new = widened(Layout::from_size_align_unchecked(new_size, l.align()));
        if new.align() == old.align() {
            return System.realloc(p, old, new_size);
        }
        // Growing past (or shrinking under) MIN_SIZE changes the alignment: move the block.
        let q = System.alloc(new);
        if !q.is_null() {
            std::ptr::copy_nonoverlapping(p, q, l.size().min(new_size));
            System.dealloc(p, old);
        }
        q
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roundtrip(size: usize, align: usize) {
        let l = Layout::from_size_align(size, align).unwrap();
        // SAFETY: non-zero sizes; every block is freed with the layout it was made with.
        unsafe {
            for zeroed in [false, true] {
                let p = if zeroed {
                    AlignedAlloc.alloc_zeroed(l)
                } else {
                    AlignedAlloc.alloc(l)
                };
                assert!(!p.is_null());
                let want = if size >= MIN_SIZE {
                    ALIGN.max(align)
                } else {
                    align
                };
                assert_eq!(p as usize % want, 0, "size {size} align {align}");
                if zeroed {
                    assert!(std::slice::from_raw_parts(p, size).iter().all(|&b| b == 0));
                }
                p.write_bytes(0xAB, size);
                AlignedAlloc.dealloc(p, l);
            }
        }
    }

    #[test]
    fn large_blocks_are_64_byte_aligned_small_ones_keep_theirs() {
        for size in [1, 24, MIN_SIZE - 1, MIN_SIZE, 3 << 20, (3 << 20) + 4] {
            for align in [1, 4, 16, 128] {
                roundtrip(size, align);
            }
        }
    }

    #[test]
    fn realloc_keeps_contents_across_the_threshold_both_ways() {
        let l = Layout::from_size_align(100, 4).unwrap();
        // SAFETY: each realloc passes the layout of the block as it currently is.
        unsafe {
            let p = AlignedAlloc.alloc(l);
            for i in 0..100 {
                *p.add(i) = i as u8;
            }
            let big = 1 << 20;
            let q = AlignedAlloc.realloc(p, l, big);
            assert_eq!(q as usize % ALIGN, 0);
            assert!((0..100).all(|i| *q.add(i) == i as u8));
            let lb = Layout::from_size_align(big, 4).unwrap();
            let q2 = AlignedAlloc.realloc(q, lb, 2 * big);
            assert_eq!(q2 as usize % ALIGN, 0);
            assert!((0..100).all(|i| *q2.add(i) == i as u8));
            let l2 = Layout::from_size_align(2 * big, 4).unwrap();
            let r = AlignedAlloc.realloc(q2, l2, 50);
            assert!((0..50).all(|i| *r.add(i) == i as u8));
            AlignedAlloc.dealloc(r, Layout::from_size_align(50, 4).unwrap());
        }
    }
}
