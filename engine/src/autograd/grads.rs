//! The gradient store: leaf gradients keyed by tensor id, accumulated across backward calls.

use crate::tensor::TensorId;
use crate::{Error, Result, Tensor};
use std::collections::HashMap;

/// Gradients of leaves (tensors made with [`Tensor::requires_grad`]). Each backward adds into
/// the store, so several backward calls accumulate until [`Gradients::zero_grad`].
#[derive(Default, Debug)]
pub struct Gradients {
    map: HashMap<TensorId, Tensor>,
}

impl Gradients {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }
    /// The accumulated gradient of `t` (contiguous, same shape and dtype as `t`).
    pub fn get(&self, t: &Tensor) -> Option<&Tensor> {
        self.map.get(&t.id())
    }
    /// The accumulated gradient for a tensor id.
    pub fn get_id(&self, id: TensorId) -> Option<&Tensor> {
        self.map.get(&id)
    }
    /// Takes the gradient of `t` out of the store.
    pub fn remove(&mut self, t: &Tensor) -> Option<Tensor> {
        self.map.remove(&t.id())
    }
    /// Sets the gradient of `t` (e.g. after all-reduce or clipping); the shape must match.
    pub fn insert(&mut self, t: &Tensor, grad: Tensor) -> Result<()> {
        if grad.shape() != t.shape() {
            return Err(Error::ShapeMismatch {
                op: "Gradients::insert",
                lhs: t.shape().clone(),
                rhs: grad.shape().clone(),
            });
        }
        self.map.insert(t.id(), grad);
        Ok(())
    }
    /// Drops every stored gradient (the next backward starts from zero).
    pub fn zero_grad(&mut self) {
        self.map.clear();
    }
    /// Number of tensors with a gradient.
    pub fn len(&self) -> usize {
        self.map.len()
    }
    /// True when no gradient is stored.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
    /// All (id, gradient) pairs, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = (&TensorId, &Tensor)> {
        self.map.iter()
    }

    /// Adds `g` to the gradient stored for `id` (stored gradients are kept contiguous).
    pub(crate) fn accumulate(&mut self, id: TensorId, g: Tensor) -> Result<()> {
        let g = match self.map.remove(&id) {
            Some(prev) => prev.add(&g)?,
            None => g.contiguous()?,
        };
        self.map.insert(id, g);
        Ok(())
    }
}
