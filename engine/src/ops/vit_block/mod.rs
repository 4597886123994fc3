//! The fused pre-norm ViT block as one op: `x + proj(attn(LN1(x)))`, then
//! `x + fc2(GELU(fc1(LN2(x))))` (docs/design.md, "one op's whole story").
//!
//! Like a PyTorch custom autograd function (or FlashAttention's wrapper), the forward runs the
//! whole block at once, saves what its hand-written backward needs, and is
//! recorded on the tape as **one node** whose backward returns the gradient of the input and of
//! every parameter. Nothing is recorded when no input tracks gradients (a frozen EMA target
//! encoder, an inference encoder): then the forward saves nothing and works in place.
//!
//! Files: `cpu.rs` (forward / backward on slices, calling the SIMD kernels of
//! `jepa_kernels::cpu`), `rows.rs` (GEMM wrappers and row passes), `tests.rs` (against the block composed of primitive ops, and finite differences).
//! Devices reach their kernels here: a CUDA block is the next device to add.

mod cpu;
mod rows;
#[cfg(test)]
mod tests;

use super::grad_if;
use crate::autograd::{record, tracking};
use crate::{DType, Error, Result, Tensor};
use std::sync::{Arc, Mutex};

/// One block's saved activations, kept between its forward and backward and reused by its next
/// forward (so a training step neither allocates nor zero-fills them). Part of
/// [`BlockWeights`]: clones of the weights share it.
#[derive(Clone, Debug, Default)]
pub struct SavedActivations(Arc<Mutex<Option<cpu::Acts>>>);

impl SavedActivations {
    fn take(&self) -> cpu::Acts {
        self.0
            .lock()
            .map(|mut g| g.take())
            .ok()
            .flatten()
            .unwrap_or_default()
    }
    fn put(&self, a: cpu::Acts) {
        if let Ok(mut g) = self.0.lock() {
            *g = Some(a);
        }
    }
}

/// Runs `f` with the shared backward / inference scratch: blocks run one after another, so one
/// set serves them all; a caller that finds it busy (another thread) gets a private one.
fn with_work<R>(f: impl FnOnce(&mut cpu::Work) -> R) -> R {
    static WORK: Mutex<cpu::Work> = Mutex::new(cpu::Work::new());
    match WORK.try_lock() {
        Ok(mut w) => f(&mut w),
        Err(_) => f(&mut cpu::Work::default()),
    }
}

/// One block's parameters (PyTorch layouts and the official I-JEPA names in comments).
#[derive(Clone, Debug)]
pub struct BlockWeights {
    /// `norm1.{weight,bias}` `[D]`.
    pub norm1: (Tensor, Tensor),
    /// `attn.qkv.weight` `[3D, D]` (features `[3][heads][D/heads]`), optional bias `[3D]`.
    pub qkv: (Tensor, Option<Tensor>),
    /// `attn.proj` `[D, D]`, `[D]`.
    pub proj: (Tensor, Tensor),
    /// `norm2` `[D]`, `[D]`.
    pub norm2: (Tensor, Tensor),
    /// `mlp.fc1` `[H, D]`, `[H]`.
    pub fc1: (Tensor, Tensor),
    /// `mlp.fc2` `[D, H]`, `[D]`.
    pub fc2: (Tensor, Tensor),
    pub heads: usize,
    /// LayerNorm epsilon of both norms.
    pub eps: f32,
    /// Reused activation buffers of this block (`Default::default()` for a new block).
    pub saved: SavedActivations,
}

impl BlockWeights {
    /// Every parameter tensor, in the order the backward returns their gradients.
    fn tensors(&self) -> Vec<&Tensor> {
        let mut v = vec![&self.norm1.0, &self.norm1.1, &self.qkv.0];
        v.extend(self.qkv.1.as_ref());
        v.extend([
            &self.proj.0,
            &self.proj.1,
            &self.norm2.0,
            &self.norm2.1,
            &self.fc1.0,
            &self.fc1.1,
            &self.fc2.0,
            &self.fc2.1,
        ]);
        v
    }

    /// Errors unless `x: [B, N, D]` and every parameter fit, all F32 on one device.
    fn check(&self, x: &Tensor) -> Result<cpu::Dims> {
        let op = "vit_block";
        x.shape().expect_rank(op, 3)?;
        if x.dtype() != DType::F32 {
            return Err(Error::UnsupportedDType {
                op,
                dtype: x.dtype(),
            });
        }
        let (rows, t, d) = (x.dims()[0], x.dims()[1], x.dims()[2]);
        let hd = self.fc1.0.dims().first().copied().unwrap_or(0);
        let mut want: Vec<(&Tensor, Vec<usize>)> = vec![
            (&self.norm1.0, vec![d]),
            (&self.norm1.1, vec![d]),
            (&self.qkv.0, vec![3 * d, d]),
            (&self.proj.0, vec![d, d]),
            (&self.proj.1, vec![d]),
            (&self.norm2.0, vec![d]),
            (&self.norm2.1, vec![d]),
            (&self.fc1.0, vec![hd, d]),
            (&self.fc1.1, vec![hd]),
            (&self.fc2.0, vec![d, hd]),
            (&self.fc2.1, vec![d]),
        ];
        want.extend(self.qkv.1.as_ref().map(|b| (b, vec![3 * d])));
        for (p, dims) in want {
            x.same_kind(op, p)?;
            if p.dims() != dims.as_slice() {
                return Err(Error::ShapeMismatch {
                    op,
                    lhs: x.shape().clone(),
                    rhs: p.shape().clone(),
                });
            }
        }
        if self.heads == 0 || d % self.heads != 0 {
            return Err(Error::InvalidArgument {
                op,
                shape: x.shape().clone(),
                msg: format!("width {d} is not a multiple of {} heads", self.heads),
            });
        }
        Ok(cpu::Dims {
            rows,
            t,
            d,
            heads: self.heads,
            hidden: hd,
            eps: self.eps,
        })
    }
}

/// Runs `f` on the parameters as slices (borrowed from their storage).
fn with_params<R>(w: &BlockWeights, f: impl FnOnce(&cpu::P) -> R) -> Result<R> {
    fn s(t: &Tensor) -> Result<crate::tensor::F32Slice<'_>> {
        t.f32_contig("vit_block")
    }
    let (n1w, n1b, qw) = (s(&w.norm1.0)?, s(&w.norm1.1)?, s(&w.qkv.0)?);
    let qb = w.qkv.1.as_ref().map(s).transpose()?;
    let (pw, pb, n2w, n2b) = (s(&w.proj.0)?, s(&w.proj.1)?, s(&w.norm2.0)?, s(&w.norm2.1)?);
    let (f1w, f1b, f2w, f2b) = (s(&w.fc1.0)?, s(&w.fc1.1)?, s(&w.fc2.0)?, s(&w.fc2.1)?);
    Ok(f(&cpu::P {
        norm1: (&n1w, &n1b),
        qkv: (&qw, qb.as_deref()),
        proj: (&pw, &pb),
        norm2: (&n2w, &n2b),
        fc1: (&f1w, &f1b),
        fc2: (&f2w, &f2b),
    }))
}

impl Tensor {
    /// The fused ViT block on `self: [B, N, D]` → `[B, N, D]`, one tape node when recorded.
    pub fn vit_block(&self, w: &BlockWeights) -> Result<Tensor> {
        let op = "vit_block";
        let dm = w.check(self)?;
        if self.device().is_cuda() {
            return Err(Error::Unsupported {
                op,
                msg: "no CUDA kernel for the fused ViT block yet (CPU only)".into(),
            });
        }
        let n = self.elem_count();
        let x = self.contiguous()?;
        let mut inputs = vec![self];
        inputs.extend(w.tensors());
        // The residual stream starts as a copy of the input (a copy, not a zero-fill).
        let mut out = x.f32_contig(op)?.to_vec();
        if !tracking(&inputs) {
            if n > 0 {
                with_work(|wk| with_params(w, |p| cpu::forward_infer(p, &mut out, &dm, wk)))?;
            }
            return Ok(Tensor::from_f32(out, self.shape().clone(), DType::F32));
        }
        let acts = if n > 0 {
            let xs = x.f32_contig(op)?;
            let mut a = w.saved.take();
            let fwd =
                |p: &cpu::P| with_work(|wk| cpu::forward_train(p, &xs, &mut out, &dm, &mut a, wk));
            with_params(w, fwd)?;
            Some(a)
        } else {
            None
        };
        let out = Tensor::from_f32(out, self.shape().clone(), DType::F32);
        let (x, w) = (x.detach(), w.clone());
        Ok(record(out, &inputs, move |g, needs| {
            let mut dx = g.contiguous()?.f32_contig(op)?.to_vec();
            let grads = match acts {
                Some(a) => {
                    let xs = x.f32_contig(op)?;
                    let bwd =
                        |p: &cpu::P| with_work(|wk| cpu::backward(p, &xs, &mut dx, &dm, &a, wk));
                    let g = with_params(&w, bwd)?;
                    w.saved.put(a);
                    Some(g)
                }
                None => None,
            };
            param_grads(&w, &x, dx, grads, needs)
        }))
    }
}

/// The gradient list of the block node: `dx`, then each parameter's in [`BlockWeights::tensors`]
/// order (zeros for an empty input).
fn param_grads(
    w: &BlockWeights,
    x: &Tensor,
    dx: Vec<f32>,
    g: Option<cpu::Grads>,
    needs: &[bool],
) -> Result<Vec<Option<Tensor>>> {
    let params = w.tensors();
    let mut flat: Vec<Vec<f32>> = match g {
        Some(g) => {
            let mut v = vec![g.norm1.0, g.norm1.1, g.qkv.0];
            v.extend(g.qkv.1);
            v.extend([
                g.proj.0, g.proj.1, g.norm2.0, g.norm2.1, g.fc1.0, g.fc1.1, g.fc2.0, g.fc2.1,
            ]);
            v
        }
        None => params.iter().map(|p| vec![0f32; p.elem_count()]).collect(),
    };
    let mut out = vec![grad_if(needs[0], || {
        Ok(Tensor::from_f32(dx, x.shape().clone(), DType::F32))
    })?];
    for (i, (p, v)) in params.iter().zip(flat.drain(..)).enumerate() {
        out.push(grad_if(needs[i + 1], || {
            Ok(Tensor::from_f32(v, p.shape().clone(), DType::F32))
        })?);
    }
    Ok(out)
}
