//! The pre-norm transformer block (methods.md §1.2) shared by encoder and predictor:
//! `x + proj(attn(LN1(x)))`, then `x + fc2(GELU(fc1(LN2(x))))`.

use super::error::ModelResult;
use super::params::{Init, ParamSpec, ParamStore};
use jepa_engine::{BlockWeights, Tensor};

/// Parameter declarations of one block under `prefix` (e.g. `blocks.3.`), official names.
pub fn block_specs(prefix: &str, dim: usize, hidden: usize, qkv_bias: bool) -> Vec<ParamSpec> {
    let tn = Init::TruncNormal(0.02);
    let mut v = vec![
        ParamSpec::new(format!("{prefix}norm1.weight"), &[dim], Init::Ones),
        ParamSpec::new(format!("{prefix}norm1.bias"), &[dim], Init::Zeros),
        ParamSpec::new(format!("{prefix}attn.qkv.weight"), &[3 * dim, dim], tn),
    ];
    if qkv_bias {
        v.push(ParamSpec::new(
            format!("{prefix}attn.qkv.bias"),
            &[3 * dim],
            Init::Zeros,
        ));
    }
    v.extend([
        ParamSpec::new(format!("{prefix}attn.proj.weight"), &[dim, dim], tn),
        ParamSpec::new(format!("{prefix}attn.proj.bias"), &[dim], Init::Zeros),
        ParamSpec::new(format!("{prefix}norm2.weight"), &[dim], Init::Ones),
        ParamSpec::new(format!("{prefix}norm2.bias"), &[dim], Init::Zeros),
        ParamSpec::new(format!("{prefix}mlp.fc1.weight"), &[hidden, dim], tn),
        ParamSpec::new(format!("{prefix}mlp.fc1.bias"), &[hidden], Init::Zeros),
        ParamSpec::new(format!("{prefix}mlp.fc2.weight"), &[dim, hidden], tn),
        ParamSpec::new(format!("{prefix}mlp.fc2.bias"), &[dim], Init::Zeros),
    ]);
    v
}

/// One block: handles to its parameters (cheap clones of the store's tensors; loading a state
/// dict writes the shared storage in place, so the handles stay valid), run as the engine's
/// fused block op ([`Tensor::vit_block`]: one tape node with a hand-written backward).
#[derive(Clone, Debug)]
pub struct Block {
    w: BlockWeights,
}

impl Block {
    /// The block stored under `prefix` in `store`.
    pub fn from_store(
        store: &ParamStore,
        prefix: &str,
        heads: usize,
        eps: f32,
    ) -> ModelResult<Block> {
        let g = |s: &str| store.value(&format!("{prefix}{s}"));
        let qkv_bias = store
            .get(&format!("{prefix}attn.qkv.bias"))
            .map(|p| p.value().clone());
        Ok(Block {
            w: BlockWeights {
                norm1: (g("norm1.weight")?, g("norm1.bias")?),
                qkv: (g("attn.qkv.weight")?, qkv_bias),
                proj: (g("attn.proj.weight")?, g("attn.proj.bias")?),
                norm2: (g("norm2.weight")?, g("norm2.bias")?),
                fc1: (g("mlp.fc1.weight")?, g("mlp.fc1.bias")?),
                fc2: (g("mlp.fc2.weight")?, g("mlp.fc2.bias")?),
                heads,
                eps,
                saved: Default::default(),
            },
        })
    }

    /// `x: [B, N, D]` → `[B, N, D]`.
    pub fn forward(&self, x: &Tensor) -> ModelResult<Tensor> {
        Ok(x.vit_block(&self.w)?)
    }
}
