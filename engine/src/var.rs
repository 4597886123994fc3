//! `Var`: a trainable parameter, i.e. a leaf tensor that accumulates gradients.

use crate::{Gradients, Result, Tensor};

/// A leaf tensor with `requires_grad`. Derefs to [`Tensor`]; its id is stable across steps, so
/// it keys its gradient in every [`Gradients`] store and is updated in place by optimizers.
#[derive(Clone, Debug)]
pub struct Var(Tensor);

impl Var {
    /// Makes `t` (its storage, not its history) a trainable leaf.
    pub fn new(t: &Tensor) -> Var {
        Var(t.requires_grad())
    }
    /// The leaf tensor, to use in ops.
    pub fn as_tensor(&self) -> &Tensor {
        &self.0
    }
    /// The accumulated gradient, if any backward reached this parameter.
    pub fn grad<'g>(&self, grads: &'g Gradients) -> Option<&'g Tensor> {
        grads.get(&self.0)
    }
    /// Overwrites the values in place (same id), e.g. when loading a checkpoint.
    pub fn set(&self, src: &Tensor) -> Result<()> {
        self.0.assign(src)
    }
}

impl std::ops::Deref for Var {
    type Target = Tensor;
    fn deref(&self) -> &Tensor {
        &self.0
    }
}

impl AsRef<Tensor> for Var {
    fn as_ref(&self) -> &Tensor {
        &self.0
    }
}
