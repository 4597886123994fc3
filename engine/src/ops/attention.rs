//! Fused attention `softmax(q·kᵀ·scale)·v` over `[B, H, N, D]` operands. The kernel never
//! materialises the N×N scores: forward saves the row log-sum-exp and backward recomputes the
//! probabilities from it, so the tape keeps q, k, v, out and lse (O(N·D) per head).

use super::grad_if;
use crate::autograd::{record, tracking};
use crate::{DType, Error, Result, Tensor};
use jepa_kernels::cpu::attention::{attention_bwd, attention_fwd, AttnShape};

/// Attention with the usual `scale = 1/√D` when `scale` is None. q, k, v: `[B, H, N, D]`.
pub fn attention(q: &Tensor, k: &Tensor, v: &Tensor, scale: Option<f32>) -> Result<Tensor> {
    Ok(attention_with_lse(q, k, v, scale)?.0)
}

/// [`attention`] that also returns the row log-sum-exp of the scaled scores (`[B, H, N]`, f32,
/// untracked).
pub fn attention_with_lse(
    q: &Tensor,
    k: &Tensor,
    v: &Tensor,
    scale: Option<f32>,
) -> Result<(Tensor, Tensor)> {
    let op = "attention";
    q.expect_float(op)?;
    q.shape().expect_rank(op, 4)?;
    for t in [k, v] {
        q.same_kind(op, t)?;
        if t.shape() != q.shape() {
            return Err(Error::ShapeMismatch {
                op,
                lhs: q.shape().clone(),
                rhs: t.shape().clone(),
            });
        }
    }
    let d = q.dims();
    let s = AttnShape {
        b: d[0],
        h: d[1],
        n: d[2],
        d: d[3],
    };
    let scale = scale.unwrap_or(1.0 / (s.d.max(1) as f32).sqrt());
    if q.device().is_cuda() {
        return attention_cuda(q, k, v, s, scale);
    }
    let (qc, kc, vc) = (q.contiguous()?, k.contiguous()?, v.contiguous()?);
    let mut out = vec![0f32; q.elem_count()];
    let mut lse = vec![0f32; s.b * s.h * s.n];
    if !out.is_empty() {
        let (qs, ks, vs) = (qc.f32_contig(op)?, kc.f32_contig(op)?, vc.f32_contig(op)?);
        attention_fwd(s, scale, &qs, &ks, &vs, &mut out, &mut lse);
    }
    let lse_t = Tensor::from_f32(lse.clone(), [s.b, s.h, s.n], DType::F32);
    // Backward reads the forward output in f32 even for bf16 operands, as the kernel wrote it.
    let out32 = Tensor::from_f32(out, q.shape().clone(), DType::F32);
    let out = out32.to_dtype(q.dtype())?;
    if !tracking(&[q, k, v]) {
        return Ok((out, lse_t));
    }
    let (qc, kc, vc) = (qc.detach(), kc.detach(), vc.detach());
    let out = record(out, &[q, k, v], move |g, needs| {
        let n = qc.elem_count();
        let (mut dq, mut dk, mut dv) = (vec![0f32; n], vec![0f32; n], vec![0f32; n]);
        if n > 0 {
            let (qs, ks, vs) = (qc.f32_contig(op)?, kc.f32_contig(op)?, vc.f32_contig(op)?);
            let (os, gs) = (out32.f32_contig(op)?, g.f32_contig(op)?);
            attention_bwd(
                s, scale, &qs, &ks, &vs, &os, &lse, &gs, &mut dq, &mut dk, &mut dv,
            );
        }
        let wrap = |v: Vec<f32>| Ok(Tensor::from_f32(v, qc.shape().clone(), qc.dtype()));
        Ok(vec![
            grad_if(needs[0], || wrap(dq))?,
            grad_if(needs[1], || wrap(dk))?,
            grad_if(needs[2], || wrap(dv))?,
        ])
    });
    Ok((out, lse_t))
}

/// The device path: attention.cu when the head dim has a fused kernel, otherwise matmul +
/// softmax + matmul (scores materialised; autograd through those ops) with the lse from the
/// max-subtracted scores.
fn attention_cuda(
    q: &Tensor,
    k: &Tensor,
    v: &Tensor,
    s: AttnShape,
    scale: f32,
) -> Result<(Tensor, Tensor)> {
    let (qc, kc, vc) = (q.contiguous()?, k.contiguous()?, v.contiguous()?);
    let Some((out, lse)) = crate::cuda::attention_fwd(&qc, &kc, &vc, s, scale)? else {
        let scores = q.matmul(&k.t()?)?.mul_scalar(scale)?;
        let out = scores.softmax(3)?.matmul(v)?;
        return Ok((out, crate::cuda::row_lse(&scores)?));
    };
    if !tracking(&[q, k, v]) {
        return Ok((out, lse));
    }
    let saved = [qc, kc, vc, out.clone(), lse.clone()].map(|t| t.detach());
    let out = record(out, &[q, k, v], move |g, needs| {
        let [q, k, v, o, l] = &saved;
        let [dq, dk, dv] = crate::cuda::attention_bwd(q, k, v, o, l, g, s, scale)?;
        Ok(vec![
            needs[0].then_some(dq),
            needs[1].then_some(dk),
            needs[2].then_some(dv),
        ])
    });
    Ok((out, lse))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::check::{check, check_grad, rand};

    /// Naive f64 attention over contiguous [B, H, N, D].
    fn attn_ref(v: &[Vec<f64>], bh: usize, n: usize, d: usize, scale: f64) -> Vec<f64> {
        let mut out = vec![0.0; bh * n * d];
        for z in 0..bh {
            let at = |t: &Vec<f64>, i: usize, c: usize| t[(z * n + i) * d + c];
            for i in 0..n {
                let s: Vec<f64> = (0..n)
                    .map(|j| {
                        (0..d)
                            .map(|c| at(&v[0], i, c) * at(&v[1], j, c))
                            .sum::<f64>()
                            * scale
                    })
                    .collect();
                let m = s.iter().cloned().fold(f64::MIN, f64::max);
                let z_: f64 = s.iter().map(|x| (x - m).exp()).sum();
                for c in 0..d {
                    out[(z * n + i) * d + c] = (0..n)
                        .map(|j| (s[j] - m).exp() / z_ * at(&v[2], j, c))
                        .sum();
                }
            }
        }
        out
    }

    #[test]
    fn attention_forward_and_grads() {
        let x = [
            rand(&[1, 2, 5, 3], 1),
            rand(&[1, 2, 5, 3], 2),
            rand(&[1, 2, 5, 3], 3),
        ];
        let scale = 1.0 / 3f64.sqrt();
        check(
            &x,
            |t| attention(&t[0], &t[1], &t[2], None),
            |v| attn_ref(v, 2, 5, 3, scale),
        );
        // q = k = v from one permuted tensor, as a ViT block produces them.
        check_grad(&[rand(&[2, 4, 1, 3], 4)], |t| {
            let qkv = t[0].permute(&[0, 2, 1, 3])?;
            attention(&qkv, &qkv, &qkv, Some(0.7))
        });
    }

    #[test]
    fn attention_shape_errors() {
        let q = rand(&[1, 2, 5, 3], 1);
        let k = rand(&[1, 2, 4, 3], 2);
        assert!(matches!(
            attention(&q, &k, &q, None),
            Err(Error::ShapeMismatch {
                op: "attention",
                ..
            })
        ));
        let r3 = rand(&[2, 5, 3], 3);
        assert!(matches!(
            attention(&r3, &r3, &r3, None),
            Err(Error::RankMismatch { .. })
        ));
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(24))]
        /// Awkward sizes: single token, head dims that are not SIMD multiples.
        #[test]
        fn random_shapes_match_reference(b in 1usize..3, h in 1usize..3, n in 1usize..7, d in 1usize..10) {
            let seed = (b * 1000 + h * 100 + n * 10 + d) as u64;
            let x = [rand(&[b, h, n, d], seed), rand(&[b, h, n, d], seed + 1), rand(&[b, h, n, d], seed + 2)];
            let scale = 1.0 / (d as f64).sqrt();
            check(&x, |t| attention(&t[0], &t[1], &t[2], None), |v| attn_ref(v, b * h, n, d, scale));
        }
    }
}
