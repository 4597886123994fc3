//! Masked gather of token rows and its backward (scatter-add; indices may repeat).
//!
//! I-JEPA keeps a subset of patch tokens per image (`index[b, :]`), so the forward is a row gather
//! inside each batch item and the backward a scatter-add into a zeroed `dx`. Repeated indices are
//! legal (the target blocks of one image overlap), hence the backward accumulates.
//!
//! Fast versions: the gather is a pure row copy, parallel over output rows; the scatter writes
//! into rows that may collide inside a batch item, so it is parallel over batch items only.

use rayon::prelude::*;
use wide::f32x8;

/// Below this many copied floats the rayon fork/join costs more than it saves.
const PAR_MIN: usize = 1 << 15;

/// x: `[b, n, d]`, index: `[b, k]` with values in `0..n` (validated by the caller),
/// out: `[b, k, d]`, `out[i, j, :] = x[i, index[i, j], :]`.
pub fn gather_rows(
    b: usize,
    n: usize,
    d: usize,
    k: usize,
    x: &[f32],
    index: &[usize],
    out: &mut [f32],
) {
    debug_assert!(x.len() >= b * n * d && index.len() >= b * k && out.len() >= b * k * d);
    if b * k * d == 0 {
        return;
    }
    let out = &mut out[..b * k * d];
    let copy_row = |(r, row): (usize, &mut [f32])| {
        let src = (r / k) * n + index[r];
        row.copy_from_slice(&x[src * d..(src + 1) * d]);
    };
    if b * k * d < PAR_MIN {
        out.chunks_mut(d).enumerate().for_each(copy_row);
    } else {
        let min_rows = (PAR_MIN / 4 / d).max(1);
        out.par_chunks_mut(d)
            .enumerate()
            .with_min_len(min_rows)
            .for_each(copy_row);
    }
}

/// Scalar reference of [`gather_rows`].
pub fn gather_rows_ref(
    b: usize,
    n: usize,
    d: usize,
    k: usize,
    x: &[f32],
    index: &[usize],
    out: &mut [f32],
) {
    for i in 0..b {
        for j in 0..k {
            let src = index[i * k + j];
            for c in 0..d {
                out[(i * k + j) * d + c] = x[(i * n + src) * d + c];
            }
        }
    }
}

/// Backward: dx (`[b, n, d]`) is overwritten with the scatter-add of dout (`[b, k, d]`).
pub fn scatter_add_rows(
    b: usize,
    n: usize,
    d: usize,
    k: usize,
    dout: &[f32],
    index: &[usize],
    dx: &mut [f32],
) {
    debug_assert!(dout.len() >= b * k * d && index.len() >= b * k && dx.len() >= b * n * d);
    if b * n * d == 0 {
        return;
    }
    let dx = &mut dx[..b * n * d];
    let one_item = |(i, dxi): (usize, &mut [f32])| {
        dxi.fill(0.0);
        for j in 0..k {
            let dst = index[i * k + j];
            let src = &dout[(i * k + j) * d..(i * k + j + 1) * d];
            add_assign(&mut dxi[dst * d..(dst + 1) * d], src);
        }
    };
    if b * (n + k) * d < PAR_MIN || b == 1 {
        dx.chunks_mut(n * d).enumerate().for_each(one_item);
    } else {
        dx.par_chunks_mut(n * d).enumerate().for_each(one_item);
    }
}

/// Scalar reference of [`scatter_add_rows`].
pub fn scatter_add_rows_ref(
    b: usize,
    n: usize,
    d: usize,
    k: usize,
    dout: &[f32],
    index: &[usize],
    dx: &mut [f32],
) {
    dx[..b * n * d].fill(0.0);
    for i in 0..b {
        for j in 0..k {
            let dst = index[i * k + j];
            for c in 0..d {
                dx[(i * n + dst) * d + c] += dout[(i * k + j) * d + c];
            }
        }
    }
}

/// `acc += x` elementwise, eight lanes at a time.
fn add_assign(acc: &mut [f32], x: &[f32]) {
    let mut a8 = acc.chunks_exact_mut(8);
    let mut x8 = x.chunks_exact(8);
    for (a, x) in (&mut a8).zip(&mut x8) {
        let s = lanes(a) + lanes(x);
        a.copy_from_slice(s.as_array());
    }
    for (a, x) in a8.into_remainder().iter_mut().zip(x8.remainder()) {
        *a += x;
    }
}

fn lanes(s: &[f32]) -> f32x8 {
    f32x8::from(<[f32; 8]>::try_from(s).expect("chunk of 8"))
}
