//! Row-major building blocks of the fused ViT block ([`super`]): GEMM wrappers for `x·Wᵀ` and
//! its two gradients, parallel bias / GELU / column-sum passes, the head permutes of attention
//! for batches too small to split by sequence.

use jepa_kernels::cpu::gelu::gelu_fwd;
use jepa_kernels::cpu::gemm::{gemm, Strides};
use rayon::prelude::*;

/// `c (+)= a · wᵀ (+ b)` with `a: [m, k]`, `w: [n, k]` (PyTorch layout), `c: [m, n]`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn linear(
    m: usize,
    k: usize,
    n: usize,
    a: &[f32],
    w: &[f32],
    b: Option<&[f32]>,
    c: &mut [f32],
    acc: bool,
) {
    let wt = Strides {
        batch: 0,
        row: 1,
        col: k,
    };
    gemm(1, m, k, n, a, Strides::row_major(m, k), w, wt, c, b, acc);
}

/// `dx (+)= dy · w` with `dy: [m, n]`, `w: [n, k]`, `dx: [m, k]`.
pub(crate) fn linear_dx(
    m: usize,
    k: usize,
    n: usize,
    dy: &[f32],
    w: &[f32],
    dx: &mut [f32],
    acc: bool,
) {
    let sw = Strides::row_major(n, k);
    gemm(
        1,
        m,
        n,
        k,
        dy,
        Strides::row_major(m, n),
        w,
        sw,
        dx,
        None,
        acc,
    );
}

/// `dw += dyᵀ · x` with `dy: [m, n]`, `x: [m, k]`, `dw: [n, k]`.
pub(crate) fn linear_dw(m: usize, k: usize, n: usize, dy: &[f32], x: &[f32], dw: &mut [f32]) {
    let dyt = Strides {
        batch: 0,
        row: 1,
        col: n,
    };
    gemm(
        1,
        n,
        m,
        k,
        dy,
        dyt,
        x,
        Strides::row_major(m, k),
        dw,
        None,
        true,
    );
}

/// Rows per rayon task of the elementwise passes (~64 KiB of floats).
pub(crate) fn task_rows(width: usize) -> usize {
    (16 * 1024 / width.max(1)).max(1)
}

/// `db += Σ_rows dy[r, :]` (`dy: [rows, n]`), partial sums per task of fixed size, added in
/// task order. (A rayon `reduce` would combine the partials in an order that depends on work
/// stealing, so bias gradients, and from them whole training runs, would differ between runs.)
pub(crate) fn colsum_add(dy: &[f32], db: &mut [f32]) {
    let n = db.len();
    if n == 0 {
        return;
    }
    let parts: Vec<Vec<f32>> = dy
        .par_chunks(n * task_rows(n))
        .map(|c| {
            let mut acc = vec![0f32; n];
            for row in c.chunks_exact(n) {
                acc.iter_mut().zip(row).for_each(|(a, &v)| *a += v);
            }
            acc
        })
        .collect();
    for part in &parts {
        db.iter_mut().zip(part).for_each(|(d, p)| *d += p);
    }
}

/// `x[r, :] += b` for every row, in parallel.
pub(crate) fn add_rows(x: &mut [f32], b: &[f32]) {
    let n = b.len();
    x.par_chunks_mut(n * task_rows(n)).for_each(|c| {
        c.chunks_mut(n)
            .for_each(|row| row.iter_mut().zip(b).for_each(|(v, &bv)| *v += bv));
    });
}

/// `x += y` elementwise, in parallel.
pub(crate) fn add_into(x: &mut [f32], y: &[f32]) {
    x.par_chunks_mut(16 * 1024)
        .zip(y.par_chunks(16 * 1024))
        .for_each(|(a, b)| a.iter_mut().zip(b).for_each(|(v, &w)| *v += w));
}

/// `g = gelu(h + b)` row-wise; `h` keeps the bias added (the GELU backward needs it). Each task
/// works on a cache-sized block, so the GELU reads it from L2.
pub(crate) fn bias_gelu(h: &mut [f32], b: &[f32], g: &mut [f32]) {
    let n = b.len();
    let chunk = n * task_rows(n);
    h.par_chunks_mut(chunk)
        .zip(g.par_chunks_mut(chunk))
        .for_each(|(hc, gc)| {
            hc.chunks_mut(n)
                .for_each(|row| row.iter_mut().zip(b).for_each(|(v, &bv)| *v += bv));
            gelu_fwd(hc, gc);
        });
}

/// Sizes of a `[rows, t, h, dh]` token tensor.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Heads {
    pub rows: usize,
    pub t: usize,
    pub h: usize,
    pub dh: usize,
}

impl Heads {
    fn d(self) -> usize {
        self.h * self.dh
    }
}

/// `[rows, t, 3, h, dh]` (+ bias `[3·h·dh]`) → `[3, rows, h, t, dh]` (q, k, v contiguous).
pub(crate) fn split_qkv(s: Heads, qkv: &[f32], bias: Option<&[f32]>, out: &mut [f32]) {
    let (d, dh) = (s.d(), s.dh);
    out[..3 * s.rows * s.t * d]
        .par_chunks_mut(s.h * s.t * dh)
        .enumerate()
        .for_each(|(i, dst)| {
            let (part, row) = (i / s.rows, i % s.rows);
            let bias = bias.map(|b| &b[part * d..(part + 1) * d]);
            for tok in 0..s.t {
                let src = &qkv[(row * s.t + tok) * 3 * d + part * d..][..d];
                for hh in 0..s.h {
                    let o = &mut dst[(hh * s.t + tok) * dh..][..dh];
                    let x = &src[hh * dh..][..dh];
                    // One pass (copy + bias), which vectorises; a copy then an add would not.
                    match bias {
                        Some(b) => {
                            let b = &b[hh * dh..][..dh];
                            for ((o, &x), &b) in o.iter_mut().zip(x).zip(b) {
                                *o = x + b;
                            }
                        }
                        None => copy_row(o, x),
                    }
                }
            }
        });
}

/// `[rows, h, t, dh]` → `[rows, t, h·dh]` (`inverse` swaps the direction).
pub(crate) fn heads_tokens(s: Heads, src: &[f32], out: &mut [f32], inverse: bool) {
    let (d, dh, td) = (s.d(), s.dh, s.t * s.d());
    out[..s.rows * td]
        .par_chunks_mut(td)
        .zip(src[..s.rows * td].par_chunks(td))
        .for_each(|(dst, src)| {
            for hh in 0..s.h {
                for tok in 0..s.t {
                    let (a, b) = ((hh * s.t + tok) * dh, tok * d + hh * dh);
                    let (from, to) = if inverse { (b, a) } else { (a, b) };
                    copy_row(&mut dst[to..to + dh], &src[from..from + dh]);
                }
            }
        });
}

/// `dst = src` for the short head rows of the permutes: 16-float array moves that inline as
/// vector loads / stores (a `copy_from_slice` of a runtime length calls memmove per row).
#[inline(always)]
fn copy_row(dst: &mut [f32], src: &[f32]) {
    let mut d = dst.chunks_exact_mut(16);
    let mut s = src.chunks_exact(16);
    for (a, b) in (&mut d).zip(&mut s) {
        if let (Ok(a), Ok(b)) = (<&mut [f32; 16]>::try_from(a), <&[f32; 16]>::try_from(b)) {
            *a = *b;
        }
    }
    d.into_remainder().copy_from_slice(s.remainder());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permutes_round_trip() {
        let s = Heads {
            rows: 2,
            t: 3,
            h: 2,
            dh: 4,
        };
        let n = s.rows * s.t * s.d();
        let qkv: Vec<f32> = (0..3 * n).map(|i| i as f32).collect();
        let mut split = vec![0f32; 3 * n];
        split_qkv(s, &qkv, None, &mut split);
        // k (part 1) of row 1, head 1, token 2, channel 3.
        let want = qkv[(3 + 2) * 3 * 8 + 8 + 4 + 3];
        assert_eq!(split[n + ((2 + 1) * 3 + 2) * 4 + 3], want);
        let (d, dh) = (s.d(), s.dh);
        for part in 0..3 {
            for row in 0..s.rows {
                for hh in 0..s.h {
                    for tok in 0..s.t {
                        for c in 0..dh {
                            let from = (row * s.t + tok) * 3 * d + part * d + hh * dh + c;
                            let to = part * n + ((row * s.h + hh) * s.t + tok) * dh + c;
                            assert_eq!(split[to], qkv[from]);
                        }
                    }
                }
            }
        }
        let x: Vec<f32> = (0..n).map(|i| i as f32).collect();
        let (mut y, mut z) = (vec![0f32; n], vec![0f32; n]);
        heads_tokens(s, &x, &mut y, false);
        heads_tokens(s, &y, &mut z, true);
        assert_eq!(z, x);
        assert_eq!(
            y[8 + 4],
            x[16],
            "token 1, head 1 ← [row 0, head 1, token 1]"
        );
        let mut db = vec![1f32; 2];
        colsum_add(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], &mut db);
        assert_eq!(db, vec![10.0, 13.0]);
    }

    /// The bias-gradient sum is bit-for-bit the sequential sum in task order, on a 4-thread pool
    /// and with many tasks, so training does not depend on work stealing.
    #[test]
    fn colsum_is_deterministic() {
        let n = 48;
        let rows = 40 * task_rows(n) + 17;
        let mut s = 0x2545_f491_4f6c_dd1du64;
        let dy: Vec<f32> = (0..rows * n)
            .map(|_| {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                (s >> 40) as f32 / (1u64 << 20) as f32 - 8.0
            })
            .collect();
        let mut want = vec![0.5f32; n];
        for c in dy.chunks(n * task_rows(n)) {
            let mut acc = vec![0f32; n];
            for row in c.chunks_exact(n) {
                acc.iter_mut().zip(row).for_each(|(a, &v)| *a += v);
            }
            want.iter_mut().zip(&acc).for_each(|(w, a)| *w += a);
        }
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(4)
            .build()
            .unwrap();
        for _ in 0..20 {
            let mut db = vec![0.5f32; n];
            pool.install(|| colsum_add(&dy, &mut db));
            let same = db
                .iter()
                .zip(&want)
                .all(|(a, b)| a.to_bits() == b.to_bits());
            assert!(same, "colsum_add differs from the task-order sum");
        }
    }
}
