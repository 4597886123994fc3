//! The pre-norm transformer block (methods.md §1.2) shared by encoder and predictor:
//! `x + proj(attn(LN1(x)))`, then `x + fc2(GELU(fc1(LN2(x))))`.

use super::error::ModelResult;
use super::params::{Init, ParamSpec, ParamStore};
use jepa_engine::{attention, Tensor};

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

/// Handles to one block's parameters (cheap clones of the store's tensors; loading a state
/// dict writes the shared storage in place, so the handles stay valid).
#[derive(Clone, Debug)]
pub struct Block {
    norm1: (Tensor, Tensor),
    qkv: (Tensor, Option<Tensor>),
    proj: (Tensor, Tensor),
    norm2: (Tensor, Tensor),
    fc1: (Tensor, Tensor),
    fc2: (Tensor, Tensor),
    heads: usize,
    eps: f32,
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
            norm1: (g("norm1.weight")?, g("norm1.bias")?),
            qkv: (g("attn.qkv.weight")?, qkv_bias),
            proj: (g("attn.proj.weight")?, g("attn.proj.bias")?),
            norm2: (g("norm2.weight")?, g("norm2.bias")?),
            fc1: (g("mlp.fc1.weight")?, g("mlp.fc1.bias")?),
            fc2: (g("mlp.fc2.weight")?, g("mlp.fc2.bias")?),
            heads,
            eps,
        })
    }

    /// `x: [B, N, D]` → `[B, N, D]`.
    pub fn forward(&self, x: &Tensor) -> ModelResult<Tensor> {
        let x = x.add(&self.attn(x)?)?;
        let h = x.layer_norm(Some(&self.norm2.0), Some(&self.norm2.1), self.eps)?;
        let h = h.linear(&self.fc1.0, Some(&self.fc1.1))?.gelu()?;
        Ok(x.add(&h.linear(&self.fc2.0, Some(&self.fc2.1))?)?)
    }

    /// `proj(attention(LN1(x)))`. The qkv features are laid out `[3][h][D/h]`; q, k and v are
    /// computed as three GEMMs with row views of the qkv weight, so each gradient flows back
    /// through its own `[B, N, D]` tensor (one `[3, …]` tensor split by views would pad every
    /// part's gradient back to full size in backward).
    fn attn(&self, x: &Tensor) -> ModelResult<Tensor> {
        let (b, n, d) = (x.dims()[0], x.dims()[1], x.dims()[2]);
        let (h, dh) = (self.heads, d / self.heads);
        let y = x.layer_norm(Some(&self.norm1.0), Some(&self.norm1.1), self.eps)?;
        let part = |i: usize| -> ModelResult<Tensor> {
            let w = self.qkv.0.narrow(0, i * d, d)?;
            let bias = self
                .qkv
                .1
                .as_ref()
                .map(|b| b.narrow(0, i * d, d))
                .transpose()?;
            let t = y.linear(&w, bias.as_ref())?;
            Ok(t.reshape([b, n, h, dh])?
                .permute(&[0, 2, 1, 3])?
                .contiguous()?)
        };
        let o = attention(&part(0)?, &part(1)?, &part(2)?, None)?;
        let o = o.permute(&[0, 2, 1, 3])?.reshape([b, n, d])?;
        Ok(o.linear(&self.proj.0, Some(&self.proj.1))?)
    }
}
