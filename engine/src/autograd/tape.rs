//! Tape nodes, recording, and the reverse sweep.

use super::{is_grad_enabled, no_grad, Gradients};
use crate::tensor::TensorId;
use crate::{DType, Error, Result, Shape, Tensor};
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

/// Maps the output gradient to one optional gradient per input. `needs[i]` says whether input
/// `i` tracks gradients, so closures can skip work (e.g. `dx` of a frozen input).
pub(crate) type BackwardFn =
    Box<dyn FnOnce(&Tensor, &[bool]) -> Result<Vec<Option<Tensor>>> + Send>;

/// One tape entry: the output's identity and "ghost" (shape, dtype), edges to the inputs'
/// nodes, and the backward closure (taken, i.e. consumed, by the first backward).
pub(crate) struct Node {
    id: TensorId,
    shape: Shape,
    dtype: DType,
    parents: Vec<Option<Arc<Node>>>,
    /// None for leaves, and for op nodes after their backward ran.
    backward: Mutex<Option<BackwardFn>>,
    leaf: bool,
}

impl Node {
    pub(crate) fn leaf(id: TensorId, shape: Shape, dtype: DType) -> Node {
        Node {
            id,
            shape,
            dtype,
            parents: Vec::new(),
            backward: Mutex::new(None),
            leaf: true,
        }
    }
    pub(crate) fn is_leaf(&self) -> bool {
        self.leaf
    }
}

impl Drop for Node {
    /// Unlinks the chain of parents iteratively: the default recursive drop of a long graph
    /// (thousands of chained ops) would overflow the stack.
    fn drop(&mut self) {
        let mut stack: Vec<Arc<Node>> = self.parents.drain(..).flatten().collect();
        while let Some(p) = stack.pop() {
            if let Some(mut last) = Arc::into_inner(p) {
                stack.extend(last.parents.drain(..).flatten());
            }
        }
    }
}

/// True when an op on `inputs` must record a node (grad enabled and some input tracked).
pub(crate) fn tracking(inputs: &[&Tensor]) -> bool {
    is_grad_enabled() && inputs.iter().any(|t| t.tracks_grad())
}

/// Attaches a backward closure for `inputs` to `out` when [`tracking`]; returns `out` as is
/// otherwise. Callers check `tracking` first when preparing the closure's captures costs work.
pub(crate) fn record<F>(out: Tensor, inputs: &[&Tensor], f: F) -> Tensor
where
    F: FnOnce(&Tensor, &[bool]) -> Result<Vec<Option<Tensor>>> + Send + 'static,
{
    if !tracking(inputs) {
        return out;
    }
    let node = Node {
        id: out.id(),
        shape: out.shape().clone(),
        dtype: out.dtype(),
        parents: inputs.iter().map(|t| t.0.node.clone()).collect(),
        backward: Mutex::new(Some(Box::new(f))),
        leaf: false,
    };
    out.with_node(node)
}

/// Runs the tape reachable from `root` with upstream gradient `seed`, adding leaf gradients
/// into `grads`.
pub(crate) fn backward(root: &Tensor, seed: Tensor, grads: &mut Gradients) -> Result<()> {
    let root_node = root
        .0
        .node
        .clone()
        .ok_or_else(|| Error::autograd("backward of a tensor that does not require grad"))?;
    let tape = collect(root_node);
    let _no_grad = no_grad();
    let mut pending: HashMap<TensorId, Tensor> = HashMap::new();
    pending.insert(root.id(), seed);
    for node in tape {
        // Taking the closure even when no gradient arrives frees its saved tensors now.
        let f = node
            .backward
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        let Some(g) = pending.remove(&node.id) else {
            continue;
        };
        if node.leaf {
            grads.accumulate(node.id, cast_to(g, node.dtype)?)?;
            continue;
        }
        let f = f.ok_or_else(|| {
            Error::autograd(
                "graph already consumed by an earlier backward; run the forward pass again",
            )
        })?;
        let needs: Vec<bool> = node.parents.iter().map(Option::is_some).collect();
        let dins = f(&g, &needs)?;
        if dins.len() != node.parents.len() {
            return Err(Error::autograd(format!(
                "op returned {} gradients for {} inputs",
                dins.len(),
                needs.len()
            )));
        }
        for (parent, d) in node.parents.iter().zip(dins) {
            let (Some(p), Some(d)) = (parent, d) else {
                continue;
            };
            if d.shape() != &p.shape {
                let msg = format!(
                    "gradient of shape {} for a tensor of shape {}",
                    d.shape(),
                    p.shape
                );
                return Err(Error::autograd(msg));
            }
            let d = cast_to(d, p.dtype)?;
            let sum = match pending.remove(&p.id) {
                Some(prev) => prev.add(&d)?,
                None => d,
            };
            pending.insert(p.id, sum);
        }
    }
    Ok(())
}

/// Every node reachable from `root`, in reverse topological order (descending id).
fn collect(root: Arc<Node>) -> Vec<Arc<Node>> {
    let mut seen = HashSet::new();
    let mut stack = vec![root];
    let mut tape = Vec::new();
    while let Some(n) = stack.pop() {
        if !seen.insert(n.id) {
            continue;
        }
        stack.extend(
            n.parents
                .iter()
                .flatten()
                .filter(|p| !seen.contains(&p.id))
                .cloned(),
        );
        tape.push(n);
    }
    tape.sort_unstable_by_key(|n| std::cmp::Reverse(n.id));
    tape
}

fn cast_to(g: Tensor, dtype: DType) -> Result<Tensor> {
    if g.dtype() == dtype {
        Ok(g)
    } else {
        g.to_dtype(dtype)
    }
}
