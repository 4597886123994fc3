//! The fused block against the same block composed of primitive ops (`ops/block_tests.rs`,
//! itself checked by finite differences) on random and awkward shapes, plus finite differences
//! on the fused op directly and the one-node tape property.

use super::BlockWeights;
use crate::ops::block_tests::block;
use crate::ops::check::{assert_close, check_grad, rand, rand_in};
use crate::{with_no_grad, Gradients, Tensor};
use proptest::prelude::*;

const EPS: f32 = 1e-6;

/// Parameters in `block`'s order: norm1, qkv (w, b), proj, norm2, fc1, fc2.
fn params(d: usize, hidden: usize, seed: u64) -> Vec<Tensor> {
    let shapes: [Vec<usize>; 12] = [
        vec![d],
        vec![d],
        vec![3 * d, d],
        vec![3 * d],
        vec![d, d],
        vec![d],
        vec![d],
        vec![d],
        vec![hidden, d],
        vec![hidden],
        vec![d, hidden],
        vec![d],
    ];
    let ln_weight = |i: usize| i == 0 || i == 6;
    shapes
        .iter()
        .enumerate()
        .map(|(i, s)| match ln_weight(i) {
            true => rand_in(s, 0.5, 1.5, seed + i as u64),
            false => rand(s, seed + i as u64),
        })
        .collect()
}

fn weights(p: &[Tensor], heads: usize) -> BlockWeights {
    BlockWeights {
        norm1: (p[0].clone(), p[1].clone()),
        qkv: (p[2].clone(), Some(p[3].clone())),
        proj: (p[4].clone(), p[5].clone()),
        norm2: (p[6].clone(), p[7].clone()),
        fc1: (p[8].clone(), p[9].clone()),
        fc2: (p[10].clone(), p[11].clone()),
        heads,
        eps: EPS,
        saved: Default::default(),
    }
}

fn vals(t: &Tensor) -> Vec<f64> {
    t.to_vec_f32().unwrap().into_iter().map(f64::from).collect()
}

/// Forward (recorded and not) and every gradient of the fused op against the composed block.
fn matches_composed(b: usize, n: usize, d: usize, heads: usize, hidden: usize, seed: u64) {
    let x = rand(&[b, n, d], seed);
    let p = params(d, hidden, seed + 100);
    let want = with_no_grad(|| block(&x, &p, heads)).unwrap();
    let infer = x.vit_block(&weights(&p, heads)).unwrap();
    assert_close(&infer.to_vec_f32().unwrap(), &vals(&want), 2e-5, "forward");
    let r = rand(&[b, n, d], seed + 7);
    let grads = |f: &dyn Fn(&Tensor, &[Tensor]) -> Tensor| {
        let leaves: Vec<Tensor> = std::iter::once(&x)
            .chain(&p)
            .map(Tensor::requires_grad)
            .collect();
        let y = f(&leaves[0], &leaves[1..]);
        let mut g = Gradients::new();
        y.backward_with(&r, &mut g).unwrap();
        let got: Vec<Tensor> = leaves.iter().map(|l| g.get(l).unwrap().clone()).collect();
        (y, got)
    };
    let (y_fused, g_fused) = grads(&|x, p| x.vit_block(&weights(p, heads)).unwrap());
    let (_, g_ref) = grads(&|x, p| block(x, p, heads).unwrap());
    assert_eq!(
        y_fused.to_vec_f32().unwrap(),
        infer.to_vec_f32().unwrap(),
        "train == infer bits"
    );
    for (i, (a, w)) in g_fused.iter().zip(&g_ref).enumerate() {
        assert_close(
            &a.to_vec_f32().unwrap(),
            &vals(w),
            1e-4,
            &format!("grad {i}"),
        );
    }
}

#[test]
fn fused_block_matches_the_composed_block() {
    matches_composed(2, 5, 8, 2, 16, 1);
    // More sequences than threads (the inference forward's packed attention) and one sequence.
    matches_composed(9, 3, 12, 3, 20, 2);
    matches_composed(1, 7, 16, 4, 8, 3);
}

#[test]
fn fused_block_gradients_match_finite_differences() {
    let x = rand(&[2, 3, 4], 100);
    let mut inputs = vec![x];
    inputs.extend(params(4, 8, 0));
    check_grad(&inputs, |t| t[0].vit_block(&weights(&t[1..], 2)));
}

#[test]
fn fused_block_is_one_tape_node_and_checks_shapes() {
    let x = rand(&[2, 3, 4], 5).requires_grad();
    let p: Vec<Tensor> = params(4, 8, 9).iter().map(Tensor::requires_grad).collect();
    let y = x.vit_block(&weights(&p, 2)).unwrap();
    // One node: its backward delivers the input's and all 12 parameters' gradients at once.
    let g = y.sum_all().unwrap().backward().unwrap();
    assert!(g.get(&x).is_some() && p.iter().all(|t| g.get(t).is_some()));
    let bad = rand(&[2, 3, 5], 1);
    assert!(bad.vit_block(&weights(&p, 2)).is_err(), "width mismatch");
    assert!(
        x.vit_block(&weights(&p, 3)).is_err(),
        "heads must divide the width"
    );
    assert!(
        rand(&[6, 4], 1).vit_block(&weights(&p, 2)).is_err(),
        "rank 2"
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]
    #[test]
    fn random_shapes_match_composed(b in 1usize..4, n in 1usize..9, h in 1usize..4,
                                    dh in 1usize..6, hidden in 1usize..13, seed in 0u64..1000) {
        matches_composed(b, n, h * dh, h, hidden, seed);
    }
}

/// One block's saved buffers are reused across calls of different sizes (grown, then read only
/// up to the current size): every call still matches the composed block.
#[test]
fn reused_buffers_across_calls_of_different_sizes() {
    let p: Vec<Tensor> = params(8, 12, 40)
        .iter()
        .map(Tensor::requires_grad)
        .collect();
    let w = weights(&p, 2);
    for (i, n) in [5usize, 2, 7, 3].into_iter().enumerate() {
        let x = rand(&[3, n, 8], 50 + i as u64).requires_grad();
        let r = rand(&[3, n, 8], 60 + i as u64);
        let run = |y: Tensor| {
            let mut g = Gradients::new();
            y.backward_with(&r, &mut g).unwrap();
            (g.get(&x).unwrap().clone(), g.get(&p[8]).unwrap().clone())
        };
        let (dx, dfc1) = run(x.vit_block(&w).unwrap());
        let (dx_ref, dfc1_ref) = run(block(&x, &p, 2).unwrap());
        assert_close(
            &dx.to_vec_f32().unwrap(),
            &vals(&dx_ref),
            1e-4,
            &format!("dx, n {n}"),
        );
        assert_close(
            &dfc1.to_vec_f32().unwrap(),
            &vals(&dfc1_ref),
            1e-4,
            &format!("fc1, n {n}"),
        );
    }
}
