//! Patchify: the stride = kernel patch-embedding conv as reshape + GEMM.
//! STUB: signatures are the contract; bodies are filled in by the kernels work.

/// img: `[b, c, h, w]` (h, w multiples of p) → out: `[b, (h/p)·(w/p), c·p·p]`, patches in
/// row-major grid order, each patch flattened as (c, py, px) — the layout of a conv weight
/// `[D, c, p, p]` reshaped to `[D, c·p·p]`, so `out · Wᵀ` is the conv.
pub fn patchify(b: usize, c: usize, h: usize, w: usize, p: usize, img: &[f32], out: &mut [f32]) { let _ = (b, c, h, w, p, img, out); todo!() }
pub fn patchify_ref(b: usize, c: usize, h: usize, w: usize, p: usize, img: &[f32], out: &mut [f32]) { let _ = (b, c, h, w, p, img, out); todo!() }
/// Adjoint of patchify (scatter patches back into the image layout); overwrites dimg.
pub fn unpatchify(b: usize, c: usize, h: usize, w: usize, p: usize, patches: &[f32], dimg: &mut [f32]) { let _ = (b, c, h, w, p, patches, dimg); todo!() }
