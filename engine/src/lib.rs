//! `jepa-engine`: tensors (shape, strides, dtype, device), views, ops and a tape autograd.
//!
//! # API overview
//! - [`Tensor`]: `Arc`'d storage + [`Layout`] (shape, strides, offset) + [`DType`]
//!   (F32, BF16, F16; I64 for indices) + [`Device`] (`Cpu`, or `Cuda(0)`: device storage
//!   ([`storage::CudaStorage`]) on which every op and its backward run through the `jepa-kernels`
//!   CUDA kernels and cuBLAS; where the runtime probe fails, asking for CUDA is
//!   [`Error::DeviceUnavailable`] with a one-line reason, never a panic). Clones are cheap; each
//!   tensor has a [`TensorId`]. Build with [`Tensor::from_vec`], [`Tensor::zeros`], [`Tensor::full`],
//!   [`Tensor::randn`]; read with [`Tensor::to_vec`], [`Tensor::to_vec_f32`],
//!   [`Tensor::with_f32`]; write in place with [`Tensor::update_f32`], [`Tensor::assign`].
//! - Views share storage: `reshape`, `transpose`, `t`, `permute`, `narrow`, `broadcast_as` /
//!   `expand`, `unsqueeze`, `squeeze`, `flatten`; copies: `contiguous`, [`Tensor::cat`],
//!   `to_dtype`.
//! - Ops (each with its backward): `add sub mul div` (broadcasting), `affine mul_scalar
//!   add_scalar neg sqr sqrt exp log relu abs tanh powf`, `sum_all mean_all sum_dims mean_dims
//!   sum_to`, `matmul` (batched, broadcast batch dims, transposes free), `linear` (PyTorch
//!   `[out, in]` weights), `layer_norm`, `gelu`, `softmax`, [`attention`], `gather_rows` /
//!   `index_select`, `vicreg`, `smooth_l1_loss`, `mse_loss`, `patchify`.
//!   bf16/f16 inputs are computed in f32 and the result rounded back to the input dtype.
//! - Autograd: `x.requires_grad()` makes a leaf ([`Var`] wraps one); ops on tracked tensors
//!   record backward closures; `loss.backward()` returns [`Gradients`] (leaf id → gradient),
//!   `backward_into(&mut grads)` accumulates; [`no_grad`] disables recording; `detach()`.
//! - Threads: CPU ops run on rayon's pool; [`on_pool`] moves a loop of ops onto a worker so
//!   that each op does not pay a hand-off from an outside thread (see `pool.rs`).
//! - [`io`]: safetensors load (memory-mapped, header validated) and atomic save.
//! - Errors: one [`Error`] enum with op / shape / dtype / device payloads; no public function
//!   panics on bad input.
//!
//! # CUDA
//! `Device::Cuda(0)` tensors hold f32, bf16 (as raw bits) or I64 device buffers; F16 is an
//! [`Error::UnsupportedDType`] there. Operands of one op must share a device
//! ([`Error::DeviceMismatch`]); move data with [`Tensor::to_device`] (differentiable). Kernel
//! and driver failures are [`Error::Cuda`] naming the kernel. Forward and backward run on the
//! device for every op, with these implementations:
//! - CUDA kernels: views made contiguous, `cat`, `assign`, f32↔bf16 casts (strided copy);
//!   `add sub mul div` with broadcasting read through strides; the unary ops and `affine`;
//!   `sum_dims` and everything built on it (reductions over any dims); `layer_norm`, `gelu`,
//!   `softmax`; [`attention`] for head dims 32, 64, 128; `gather_rows` / `index_select`;
//!   `patchify`; `smooth_l1_loss`, `mse_loss`; `vicreg`.
//! - cuBLAS: `matmul` (packed and transposed views in place, other layouts copied first);
//!   `linear` is composed from it (plus a broadcast bias add), so its backward is GEMMs and a
//!   column sum.
//! - Composed from the above, so autograd needs no extra rule: `log_softmax` / `cross_entropy`
//!   (row max subtracted), [`attention`] for other head dims (scores materialised).
//! - Through the host (index results and in-place host callbacks, no gradient): `argmax`,
//!   casts to or from I64, [`Tensor::update_f32`], and the readers (`to_vec*`, `with_f32`).

pub mod atomic;
pub mod autograd;
mod creation;
mod cuda;
mod device;
mod dtype;
mod error;
mod inplace;
pub mod io;
mod layout;
pub mod ops;
mod pool;
mod random;
mod shape;
pub mod storage;
mod tensor;
#[cfg(test)]
mod tensor_tests;
mod var;
mod views;

pub use autograd::{is_grad_enabled, no_grad, with_no_grad, Gradients, NoGradGuard};
pub use device::Device;
pub use dtype::{DType, Element};
pub use error::{Error, Result};
pub use layout::Layout;
pub use ops::attention::{attention, attention_with_lse};
pub use ops::gather::RowIndex;
pub use ops::optim::AdamWStep;
pub use ops::vit_block::{BlockWeights, SavedActivations};
pub use pool::on_pool;
pub use shape::Shape;
pub use tensor::{Tensor, TensorId};
pub use var::Var;
