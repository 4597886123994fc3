//! Patchify: the stride = kernel patch-embedding conv as reshape + GEMM.
//!
//! Patchify is a permutation of the image (h and w are multiples of p), so its adjoint
//! `unpatchify` is also its inverse: each image element lands in exactly one patch slot, and the
//! backward needs no accumulation.
//!
//! Fast versions move contiguous runs of `p` floats (one patch row of one channel) and run in
//! parallel over bands of `p` image rows, which map to disjoint output ranges in both directions.

use rayon::prelude::*;

/// Below this many floats one thread does everything.
const PAR_MIN: usize = 1 << 15;

/// img: `[b, c, h, w]` (h, w multiples of p) → out: `[b, (h/p)·(w/p), c·p·p]`, patches in
/// row-major grid order, each patch flattened as (c, py, px) — the layout of a conv weight
/// `[D, c, p, p]` reshaped to `[D, c·p·p]`, so `out · Wᵀ` is the conv.
pub fn patchify(b: usize, c: usize, h: usize, w: usize, p: usize, img: &[f32], out: &mut [f32]) {
    let total = b * c * h * w;
    if total == 0 || p == 0 {
        return;
    }
    let (gh, gw) = (h / p, w / p);
    // One task = one row of patches of one image: `gw` patches of `c·p·p` floats.
    let band = |(r, dst): (usize, &mut [f32])| {
        let (bi, gy) = (r / gh, r % gh);
        for gx in 0..gw {
            for ci in 0..c {
                for py in 0..p {
                    let src = ((bi * c + ci) * h + gy * p + py) * w + gx * p;
                    let at = (gx * c + ci) * p * p + py * p;
                    dst[at..at + p].copy_from_slice(&img[src..src + p]);
                }
            }
        }
    };
    let out = &mut out[..total];
    if total < PAR_MIN {
        out.chunks_mut(gw * c * p * p).enumerate().for_each(band);
    } else {
        out.par_chunks_mut(gw * c * p * p)
            .enumerate()
            .for_each(band);
    }
}

/// Scalar reference of [`patchify`].
pub fn patchify_ref(
    b: usize,
    c: usize,
    h: usize,
    w: usize,
    p: usize,
    img: &[f32],
    out: &mut [f32],
) {
    let (gh, gw) = (h / p, w / p);
    for bi in 0..b {
        for gy in 0..gh {
            for gx in 0..gw {
                for ci in 0..c {
                    for py in 0..p {
                        for px in 0..p {
                            let o = ((bi * gh + gy) * gw + gx) * c * p * p + (ci * p + py) * p + px;
                            out[o] = img[((bi * c + ci) * h + gy * p + py) * w + gx * p + px];
                        }
                    }
                }
            }
        }
    }
}

/// Adjoint of patchify (scatter patches back into the image layout); overwrites dimg.
pub fn unpatchify(
    b: usize,
    c: usize,
    h: usize,
    w: usize,
    p: usize,
    patches: &[f32],
    dimg: &mut [f32],
) {
    let total = b * c * h * w;
    if total == 0 || p == 0 {
        return;
    }
    let (gh, gw) = (h / p, w / p);
    // One task = `p` consecutive image rows of one channel of one image.
    let band = |(r, dst): (usize, &mut [f32])| {
        let (bi, ci, gy) = (r / (c * gh), (r / gh) % c, r % gh);
        for py in 0..p {
            for gx in 0..gw {
                let src = ((bi * gh + gy) * gw + gx) * c * p * p + (ci * p + py) * p;
                let at = py * w + gx * p;
                dst[at..at + p].copy_from_slice(&patches[src..src + p]);
            }
        }
    };
    let dimg = &mut dimg[..total];
    if total < PAR_MIN {
        dimg.chunks_mut(p * w).enumerate().for_each(band);
    } else {
        dimg.par_chunks_mut(p * w).enumerate().for_each(band);
    }
}

/// Scalar reference of [`unpatchify`].
pub fn unpatchify_ref(
    b: usize,
    c: usize,
    h: usize,
    w: usize,
    p: usize,
    patches: &[f32],
    dimg: &mut [f32],
) {
    let (gh, gw) = (h / p, w / p);
    for bi in 0..b {
        for ci in 0..c {
            for y in 0..h {
                for x in 0..w {
                    let (gy, py, gx, px) = (y / p, y % p, x / p, x % p);
                    let src = ((bi * gh + gy) * gw + gx) * c * p * p + (ci * p + py) * p + px;
                    dimg[((bi * c + ci) * h + y) * w + x] = patches[src];
                }
            }
        }
    }
}
