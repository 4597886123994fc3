//! Tensor ops, one file per op family: forward, backward rule and tests together.
//! Every op validates shapes/dtypes/devices first (typed errors), computes in f32 (bf16/f16
//! inputs are converted and results rounded back), and records a backward closure only when an
//! input tracks gradients.

pub mod attention;
mod binary;
mod classify;
mod concat;
pub mod gather;
mod gelu;
mod layernorm;
mod linear;
mod loss;
mod matmul;
pub mod optim;
mod patchify;
mod reduce;
mod softmax;
mod unary;
mod vicreg;
pub mod vit_block;

#[cfg(test)]
pub(crate) mod block_tests;
#[cfg(test)]
pub(crate) mod check;

use crate::{Result, Tensor};

/// `Some(f())` when `need`, else None: backward closures skip gradients nobody asked for.
pub(crate) fn grad_if(need: bool, f: impl FnOnce() -> Result<Tensor>) -> Result<Option<Tensor>> {
    if need {
        f().map(Some)
    } else {
        Ok(None)
    }
}
