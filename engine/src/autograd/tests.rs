//! Tape behaviour: accumulation, no_grad, consumption, detach, bounded memory, deep graphs.

use crate::ops::check::{check_grad, rand};
use crate::{no_grad, DType, Device, Error, Gradients, Tensor, Var};
use std::sync::Arc;

fn grad_vec(g: &Gradients, t: &Tensor) -> Vec<f32> {
    g.get(t).expect("gradient").to_vec_f32().unwrap()
}

#[test]
fn gradients_accumulate_until_zero_grad() {
    let x = Tensor::from_vec(vec![1f32, -2., 3.], [3], Device::Cpu)
        .unwrap()
        .requires_grad();
    let mut grads = Gradients::new();
    for _ in 0..2 {
        let loss = x.sqr().unwrap().sum_all().unwrap();
        loss.backward_into(&mut grads).unwrap();
    }
    assert_eq!(grad_vec(&grads, &x), vec![4., -8., 12.]);
    grads.zero_grad();
    assert!(grads.is_empty());
    x.sum_all().unwrap().backward_into(&mut grads).unwrap();
    assert_eq!(grad_vec(&grads, &x), vec![1., 1., 1.]);
}

#[test]
fn no_grad_records_nothing_and_restores() {
    let x = rand(&[2, 2], 1).requires_grad();
    {
        let _g = no_grad();
        let y = x.mul(&x).unwrap();
        assert!(!y.tracks_grad());
        assert!(matches!(
            y.sum_all().unwrap().backward(),
            Err(Error::Autograd { .. })
        ));
        let _nested = no_grad();
    }
    assert!(crate::is_grad_enabled());
    assert!(x.mul(&x).unwrap().tracks_grad());
    // Untracked inputs record nothing either.
    assert!(!rand(&[2], 2).exp().unwrap().tracks_grad());
}

#[test]
fn tape_is_consumed_and_errors_on_reuse() {
    let x = rand(&[3], 1).requires_grad();
    let loss = x.exp().unwrap().sum_all().unwrap();
    loss.backward().unwrap();
    let again = loss.backward();
    assert!(matches!(again, Err(Error::Autograd { msg }) if msg.contains("consumed")));
    let not_scalar = x.exp().unwrap();
    assert!(matches!(not_scalar.backward(), Err(Error::Autograd { .. })));
    let mut g = Gradients::new();
    let wrong = Tensor::zeros([2], DType::F32, Device::Cpu).unwrap();
    assert!(matches!(
        not_scalar.backward_with(&wrong, &mut g),
        Err(Error::ShapeMismatch { .. })
    ));
}

#[test]
fn saved_tensors_are_freed_by_backward_and_by_drop() {
    let x = rand(&[4, 4], 1).requires_grad();
    let count = || Arc::strong_count(&x.0.storage);
    let base = count();
    let y = x.mul(&x).unwrap(); // saves two views of x's storage
    assert!(count() > base);
    let loss = y.sum_all().unwrap();
    loss.backward().unwrap();
    assert_eq!(count(), base, "backward must release what closures saved");
    let z = x.mul(&x).unwrap();
    assert!(count() > base);
    drop(z);
    assert_eq!(
        count(),
        base,
        "dropping an un-backpropagated graph releases it"
    );
}

#[test]
fn detach_blocks_gradient_and_diamonds_accumulate() {
    let x = Tensor::from_vec(vec![3f32], [1], Device::Cpu)
        .unwrap()
        .requires_grad();
    let g = x
        .mul(&x.detach())
        .unwrap()
        .sum_all()
        .unwrap()
        .backward()
        .unwrap();
    assert_eq!(grad_vec(&g, &x), vec![3.0]);
    // a used on two paths: d(a·b + a)/da = b + 1
    check_grad(&[rand(&[2, 3], 1), rand(&[2, 3], 2)], |t| {
        t[0].mul(&t[1])?.add(&t[0])
    });
}

#[test]
fn deep_graphs_do_not_recurse() {
    let x = rand(&[8], 1).requires_grad();
    let mut y = x.clone();
    for _ in 0..20_000 {
        y = y.add_scalar(1e-3).unwrap();
    }
    let g = y.sum_all().unwrap().backward().unwrap();
    assert_eq!(grad_vec(&g, &x), vec![1.0; 8]);
}

#[test]
fn var_and_low_precision_leaves() {
    let w = Var::new(&rand(&[2, 3], 1));
    let id = w.id();
    let g = w.sum_all().unwrap().backward().unwrap();
    assert_eq!(w.grad(&g).unwrap().to_vec_f32().unwrap(), vec![1.0; 6]);
    w.set(&Tensor::zeros([2, 3], DType::F32, Device::Cpu).unwrap())
        .unwrap();
    assert_eq!((w.id(), w.to_vec_f32().unwrap()), (id, vec![0.0; 6]));
    let b = rand(&[4], 2).to_dtype(DType::BF16).unwrap().requires_grad();
    let g = b
        .mul_scalar(2.0)
        .unwrap()
        .sum_all()
        .unwrap()
        .backward()
        .unwrap();
    let gb = g.get(&b).unwrap();
    assert_eq!(gb.dtype(), DType::BF16);
    assert_eq!(gb.to_vec_f32().unwrap(), vec![2.0; 4]);
}
