//! A whole pre-norm ViT block composed from engine ops, checked end to end by finite
//! differences: catches errors in how views, attention and the residual stream compose that
//! single-op tests cannot see. It is also the oracle of the fused block op (`vit_block/tests.rs`).

use crate::ops::check::{check_grad, rand, rand_in};
use crate::{attention, Result, Tensor};

/// x [B, N, D] → x + proj(attn(ln1(x))) → + fc2(gelu(fc1(ln2(·)))); p = parameters.
pub(crate) fn block(x: &Tensor, p: &[Tensor], heads: usize) -> Result<Tensor> {
    let (b, n, d) = (x.dims()[0], x.dims()[1], x.dims()[2]);
    let h = x.layer_norm(Some(&p[0]), Some(&p[1]), 1e-6)?;
    let qkv = h
        .linear(&p[2], Some(&p[3]))?
        .reshape([b, n, 3, heads, d / heads])?
        .permute(&[2, 0, 3, 1, 4])?;
    let [q, k, v] = [0, 1, 2].map(|i| qkv.narrow(0, i, 1).and_then(|t| t.squeeze(0)));
    let a = attention(&q?, &k?, &v?, None)?
        .transpose(1, 2)?
        .reshape([b, n, d])?;
    let x = x.add(&a.linear(&p[4], Some(&p[5]))?)?;
    let m = x
        .layer_norm(Some(&p[6]), Some(&p[7]), 1e-6)?
        .linear(&p[8], Some(&p[9]))?
        .gelu()?;
    x.add(&m.linear(&p[10], Some(&p[11]))?)
}

#[test]
fn vit_block_gradients_match_finite_differences() {
    let (d, hidden) = (4, 8);
    let shapes: [&[usize]; 12] = [
        &[d],
        &[d],
        &[3 * d, d],
        &[3 * d],
        &[d, d],
        &[d],
        &[d],
        &[d],
        &[hidden, d],
        &[hidden],
        &[d, hidden],
        &[d],
    ];
    let mut inputs = vec![rand(&[2, 3, d], 100)];
    for (i, s) in shapes.iter().enumerate() {
        // LayerNorm weights near 1, everything else small and centred.
        let is_ln_weight = i == 0 || i == 6;
        inputs.push(if is_ln_weight {
            rand_in(s, 0.5, 1.5, i as u64)
        } else {
            rand(s, i as u64)
        });
    }
    check_grad(&inputs, |t| block(&t[0], &t[1..], 2));
}

#[test]
fn patch_embed_and_masked_tokens() {
    // patchify + linear + pos-embed broadcast + gather of kept tokens, as a ViT encoder starts.
    let img = rand(&[2, 2, 4, 4], 1);
    let w = rand(&[3, 8], 2);
    let pos = rand(&[1, 4, 3], 3);
    let keep = Tensor::from_vec(vec![3i64, 0, 1, 2], [2, 2], crate::Device::Cpu).unwrap();
    check_grad(&[img, w, pos], |t| {
        t[0].patchify(2)?
            .linear(&t[1], None)?
            .add(&t[2])?
            .gather_rows(&keep)
    });
}
