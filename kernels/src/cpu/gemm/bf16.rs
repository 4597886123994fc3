//! Blocking and threading for the AMX products of the reduced matmul precisions (`amx.rs` has
//! the tile kernel and the packing).
//!
//! Per k block of ≤ `KC` (a multiple of 32, balanced over k): B is packed once into 32-column
//! panels shared by all tasks; each rayon task owns a block of about `MC` rows (a whole number
//! of blocks per thread), packs its A once and sweeps panel by panel, every 32-row sub-block
//! under each panel. A panel (64 KiB of bf16 at kc 1024, twice that with the `lo` part) and
//! the task's A block stay in L2. Deep k blocks matter: every k block re-reads and re-writes
//! C, and packing and a barrier come with each (measured, 2 threads: 4096 × 768 × 192 took
//! 2.7 ms at `High` with 256-deep blocks, 1.8 ms with 1024).

use super::amx::{self, Tiles, BLOCK};
use super::bf16_pack::{pack_a, pack_b, Packed};
use super::Strides;
use rayon::prelude::*;
use std::cell::RefCell;
use std::thread::LocalKey;

/// Depth of a k block (bf16 elements).
const KC: usize = 1024;
/// Rows per task, about (rounded so that every thread gets the same number of tasks).
const MC: usize = 64;

thread_local! {
    static BUF_A: RefCell<Vec<u16>> = const { RefCell::new(Vec::new()) };
    static BUF_B: RefCell<Vec<u16>> = const { RefCell::new(Vec::new()) };
}

/// Runs `f` on a 64-byte-aligned scratch slice of `len` elements from this thread's buffer (a
/// fresh one if a nested call on the same thread holds it already).
fn with_buf<R>(
    key: &'static LocalKey<RefCell<Vec<u16>>>,
    len: usize,
    f: impl FnOnce(&mut [u16]) -> R,
) -> R {
    fn aligned(v: &mut Vec<u16>, len: usize) -> &mut [u16] {
        if v.len() < len + 32 {
            v.resize(len + 32, 0);
        }
        let off = v.as_ptr().align_offset(64);
        &mut v[off..off + len]
    }
    key.with(|cell| match cell.try_borrow_mut() {
        Ok(mut v) => f(aligned(&mut v, len)),
        Err(_) => f(aligned(&mut Vec::new(), len)),
    })
}

/// Splits a packed chunk into its `hi` and (when `three`) `lo` halves.
fn halves(chunk: &mut [u16], three: bool) -> Packed<'_> {
    if three {
        let (hi, lo) = chunk.split_at_mut(chunk.len() / 2);
        Packed { hi, lo: Some(lo) }
    } else {
        Packed {
            hi: chunk,
            lo: None,
        }
    }
}

#[derive(Clone, Copy)]
struct Ptrs {
    a: *const f32,
    b: *const f32,
    c: *mut f32,
}
// SAFETY: only dereferenced inside `gemm`'s scope; a/b are read-only and tasks write disjoint
// row blocks of c.
unsafe impl Send for Ptrs {}
unsafe impl Sync for Ptrs {}

/// Rows per task: about `MC`, a multiple of 32, with a task count that divides evenly among
/// the threads where the rows allow it.
pub(super) fn rows_per_task(m: usize, threads: usize) -> usize {
    let tasks = m.div_ceil(MC).next_multiple_of(threads.max(1));
    m.div_ceil(tasks).next_multiple_of(BLOCK)
}

/// `c = (read_dst ? c : 0) + a·b` for one product on AMX: `a` `[m, k]`, `b` `[k, n]` through
/// their row/column strides, `c` contiguous `[m, n]`. `three` selects `High` (hi/lo split)
/// over `Medium` (one bf16 term).
///
/// # Safety
/// [`amx::available`] is true; `m, k, n > 0`; every element the strides reach is in bounds.
#[allow(clippy::too_many_arguments)]
pub(super) unsafe fn gemm(
    m: usize,
    k: usize,
    n: usize,
    a: *const f32,
    sa: Strides,
    b: *const f32,
    sb: Strides,
    c: *mut f32,
    read_dst: bool,
    threads: usize,
    three: bool,
) {
    let kb = k.div_ceil(KC);
    let kc_max = k.div_ceil(kb).next_multiple_of(32);
    let np = n.div_ceil(BLOCK);
    let parts = if three { 2 } else { 1 };
    let mc = rows_per_task(m, threads);
    let tasks = m.div_ceil(mc);
    let p = Ptrs { a, b, c };
    with_buf(&BUF_B, parts * np * kc_max * BLOCK, |bbuf| {
        for kbi in 0..kb {
            let p0 = kbi * kc_max;
            let kc = kc_max.min(k - p0);
            let kc_pad = kc.next_multiple_of(32);
            let pw = parts * kc_pad * BLOCK;
            let bbuf = &mut bbuf[..np * pw];
            let pack = |(j, chunk): (usize, &mut [u16])| {
                let p = &p;
                let cols = (n - j * BLOCK).min(BLOCK);
                // SAFETY: columns j·32.. and rows p0..p0+kc of b are in bounds.
                unsafe {
                    pack_b(
                        halves(chunk, three),
                        p.b,
                        (sb.row, sb.col),
                        p0,
                        kc,
                        j * BLOCK,
                        cols,
                    )
                }
            };
            if threads > 1 && np > 1 {
                bbuf.par_chunks_mut(pw).enumerate().for_each(pack);
            } else {
                bbuf.chunks_mut(pw).enumerate().for_each(pack);
            }
            let bbuf = &*bbuf;
            let accumulate = read_dst || kbi > 0;
            let task = |t: usize| {
                let p = &p;
                let r0 = t * mc;
                let rows = mc.min(m - r0);
                let rows_pad = rows.next_multiple_of(BLOCK);
                with_buf(&BUF_A, parts * rows_pad * kc_pad, |abuf| {
                    // SAFETY: amx::available() (caller); the A block and every C block written
                    // are in bounds, and C rows r0..r0+rows belong to this task alone.
                    unsafe {
                        let _tiles = Tiles::configure();
                        let ap = halves(abuf, three);
                        let a_hi = ap.hi.as_ptr();
                        let a_lo = ap.lo.as_deref().map_or(a_hi, |l| l.as_ptr());
                        pack_a(ap, p.a, (sa.row, sa.col), r0, rows, p0, kc, kc_pad);
                        for (j, panel) in bbuf.chunks_exact(pw).enumerate() {
                            let cols = (n - j * BLOCK).min(BLOCK);
                            let b_hi = panel.as_ptr();
                            let b_lo = b_hi.add(if three { kc_pad * BLOCK } else { 0 });
                            for s in 0..rows_pad / BLOCK {
                                let i0 = r0 + s * BLOCK;
                                let live = (m - i0).min(BLOCK);
                                let off = s * BLOCK * kc_pad;
                                let (ah, al) = (a_hi.add(off), a_lo.add(off));
                                let ct = p.c.add(i0 * n + j * BLOCK);
                                if live == BLOCK && cols == BLOCK {
                                    amx::block(
                                        kc_pad, ah, al, kc_pad, b_hi, b_lo, ct, n, accumulate,
                                        three,
                                    );
                                } else {
                                    edge_block(
                                        kc_pad,
                                        (ah, al),
                                        (b_hi, b_lo),
                                        ct,
                                        n,
                                        live,
                                        cols,
                                        accumulate,
                                        three,
                                    );
                                }
                            }
                        }
                    }
                })
            };
            if threads > 1 && tasks > 1 {
                (0..tasks).into_par_iter().for_each(task);
            } else {
                (0..tasks).for_each(task);
            }
        }
    });
}

/// A block that sticks out of C: computed in a 32 × 32 scratch block, `live × cols` copied.
///
/// # Safety
/// As [`amx::block`], with `c` valid for `live` rows of `cols` floats at stride `ldc`.
#[allow(clippy::too_many_arguments)]
unsafe fn edge_block(
    kc_pad: usize,
    (a_hi, a_lo): (*const u16, *const u16),
    (b_hi, b_lo): (*const u16, *const u16),
    c: *mut f32,
    ldc: usize,
    live: usize,
    cols: usize,
    accumulate: bool,
    three: bool,
) {
    let mut tmp = [0f32; BLOCK * BLOCK];
    if accumulate {
        for i in 0..live {
            let src = std::slice::from_raw_parts(c.add(i * ldc), cols);
            tmp[i * BLOCK..i * BLOCK + cols].copy_from_slice(src);
        }
    }
    let t = tmp.as_mut_ptr();
    amx::block(
        kc_pad, a_hi, a_lo, kc_pad, b_hi, b_lo, t, BLOCK, accumulate, three,
    );
    for i in 0..live {
        let dst = std::slice::from_raw_parts_mut(c.add(i * ldc), cols);
        dst.copy_from_slice(&tmp[i * BLOCK..i * BLOCK + cols]);
    }
}
