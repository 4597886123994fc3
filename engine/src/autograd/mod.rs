//! Tape autograd (dfdx-style closures, candle-style ownership).
//!
//! Every op whose inputs track gradients records one backward closure in a tape node
//! attached to its output. A closure captures only what its derivative needs (detached tensors
//! or plain vectors, never the tracked output itself, so no reference cycles) and maps the
//! output gradient to one optional gradient per input. `backward` collects the nodes reachable
//! from the loss — that list *is* the tape — orders them by tensor id (ids grow, so descending
//! id is reverse topological order), runs each closure once and drops it. Memory is bounded:
//! nothing is recorded for untracked inputs or inside [`no_grad`], the tape lives only as long
//! as the tensors that own it, and backward consumes it.

mod grads;
mod tape;

pub use grads::Gradients;
pub(crate) use tape::{record, tracking, Node};

use crate::{Result, Tensor};
use std::cell::Cell;
use std::marker::PhantomData;

thread_local! {
    static GRAD_ENABLED: Cell<bool> = const { Cell::new(true) };
}

/// True unless a [`no_grad`] guard is alive on this thread.
pub fn is_grad_enabled() -> bool {
    GRAD_ENABLED.with(Cell::get)
}

/// While alive, ops on this thread record nothing. Restores the previous state on drop.
#[must_use = "gradients are disabled only while the guard is alive"]
pub struct NoGradGuard {
    prev: bool,
    // The flag is per thread, so the guard must stay on the thread that made it.
    _not_send: PhantomData<*const ()>,
}

/// Disables gradient recording until the returned guard is dropped (nestable, free).
pub fn no_grad() -> NoGradGuard {
    grad_mode(false)
}

/// Sets this thread's recording flag to `enabled` until the guard is dropped. For work that
/// moves between threads ([`crate::on_pool`]), where the flag must be the caller's whichever
/// way it points: a pool worker may be inside another caller's `no_grad`.
pub(crate) fn grad_mode(enabled: bool) -> NoGradGuard {
    let prev = GRAD_ENABLED.with(|g| g.replace(enabled));
    NoGradGuard {
        prev,
        _not_send: PhantomData,
    }
}

impl Drop for NoGradGuard {
    fn drop(&mut self) {
        GRAD_ENABLED.with(|g| g.set(self.prev));
    }
}

/// Runs `f` with gradient recording disabled.
pub fn with_no_grad<R>(f: impl FnOnce() -> R) -> R {
    let _guard = no_grad();
    f()
}

impl Tensor {
    /// A leaf that accumulates gradients: same storage, fresh id, no history.
    pub fn requires_grad(&self) -> Tensor {
        let t = self.view_with(self.layout().clone());
        let node = Node::leaf(t.id(), t.shape().clone(), t.dtype());
        t.with_node(node)
    }
    /// True when gradients flow to or through this tensor.
    pub fn tracks_grad(&self) -> bool {
        self.0.node.is_some()
    }
    /// True for a tensor made by [`Tensor::requires_grad`].
    pub fn is_leaf(&self) -> bool {
        self.0.node.as_ref().is_some_and(|n| n.is_leaf())
    }
    /// The same values without history: shares storage, fresh id, records nothing.
    pub fn detach(&self) -> Tensor {
        self.view_with(self.layout().clone())
    }

    /// Gradients of this one-element loss with respect to every leaf it depends on.
    pub fn backward(&self) -> Result<Gradients> {
        let mut grads = Gradients::new();
        self.backward_into(&mut grads)?;
        Ok(grads)
    }
    /// Like [`Tensor::backward`], adding into `grads` (gradient accumulation across calls).
    pub fn backward_into(&self, grads: &mut Gradients) -> Result<()> {
        if self.elem_count() != 1 {
            let msg = format!(
                "backward needs a one-element loss, got shape {}",
                self.shape()
            );
            return Err(crate::Error::autograd(msg));
        }
        let seed = Tensor::ones(self.shape(), self.dtype(), self.device())?;
        // On a worker, the backward's many parallel ops skip the outside-thread hand-off.
        crate::on_pool(|| tape::backward(self, seed, grads))
    }
    /// Backward from an explicit upstream gradient `dout` (same shape as `self`).
    pub fn backward_with(&self, dout: &Tensor, grads: &mut Gradients) -> Result<()> {
        if dout.shape() != self.shape() {
            let (lhs, rhs) = (self.shape().clone(), dout.shape().clone());
            return Err(crate::Error::ShapeMismatch {
                op: "backward_with",
                lhs,
                rhs,
            });
        }
        crate::on_pool(|| tape::backward(self, dout.detach(), grads))
    }

    /// The same tensor (same id) carrying `node`.
    pub(crate) fn with_node(self, node: Node) -> Tensor {
        use crate::tensor::Inner;
        use std::sync::Arc;
        let node = Some(Arc::new(node));
        match Arc::try_unwrap(self.0) {
            Ok(inner) => Tensor(Arc::new(Inner { node, ..inner })),
            Err(shared) => Tensor(Arc::new(Inner {
                id: shared.id,
                storage: shared.storage.clone(),
                layout: shared.layout.clone(),
                dtype: shared.dtype,
                device: shared.device,
                node,
            })),
        }
    }
}

#[cfg(test)]
mod tests;
