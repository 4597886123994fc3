//! Construction, readback and in-place updates of [`Tensor`].

use crate::ops::check::rand;
use crate::{DType, Device, Error, Tensor};

#[test]
fn construction_and_readback_errors() {
    assert!(matches!(
        Tensor::from_vec(vec![1f32; 5], [2, 3], Device::Cpu),
        Err(Error::ElementCountMismatch { .. })
    ));
    let x = rand(&[2, 3], 1);
    assert!(matches!(
        x.to_vec::<i64>(),
        Err(Error::DTypeMismatch { .. })
    ));
    assert!(matches!(
        x.to_scalar_f32(),
        Err(Error::ElementCountMismatch { .. })
    ));
    let i = Tensor::from_vec(vec![1i64, 2], [2], Device::Cpu).unwrap();
    assert!(matches!(
        i.to_vec_f32(),
        Err(Error::UnsupportedDType { .. })
    ));
    assert_eq!(Tensor::scalar(2.5).to_scalar_f32().unwrap(), 2.5);
    assert_eq!(
        Tensor::ones([2], DType::F16, Device::Cpu)
            .unwrap()
            .to_vec_f32()
            .unwrap(),
        vec![1.0, 1.0]
    );
}

#[test]
fn in_place_updates_keep_identity() {
    let x = rand(&[3, 3], 1);
    let id = x.id();
    x.update_f32(|v| v.iter_mut().for_each(|e| *e = 1.0))
        .unwrap();
    assert_eq!((x.id(), x.to_vec_f32().unwrap()), (id, vec![1.0; 9]));
    assert!(matches!(
        x.t().unwrap().update_f32(|_| ()),
        Err(Error::InvalidArgument { .. })
    ));
    let y = Tensor::from_vec((0..9).map(|v| v as f32).collect(), [3, 3], Device::Cpu).unwrap();
    // Assigning a view of the tensor to itself must not deadlock or alias mid-copy.
    y.assign(&y.t().unwrap()).unwrap();
    assert_eq!(
        y.to_vec_f32().unwrap(),
        vec![0., 3., 6., 1., 4., 7., 2., 5., 8.]
    );
    // Writing through a narrowed view touches only its elements.
    let row = y.narrow(0, 1, 1).unwrap();
    row.assign(&Tensor::zeros([1, 3], DType::BF16, Device::Cpu).unwrap())
        .unwrap();
    assert_eq!(
        y.to_vec_f32().unwrap(),
        vec![0., 3., 6., 0., 0., 0., 2., 5., 8.]
    );
    assert!(matches!(
        y.assign(&rand(&[9], 2)),
        Err(Error::ShapeMismatch { .. })
    ));
}

#[test]
fn random_tensors_are_seeded() {
    let a = Tensor::randn([1000], 0.5, 2.0, 42, Device::Cpu)
        .unwrap()
        .to_vec_f32()
        .unwrap();
    let b = Tensor::randn([1000], 0.5, 2.0, 42, Device::Cpu)
        .unwrap()
        .to_vec_f32()
        .unwrap();
    assert_eq!(a, b);
    let mean = a.iter().sum::<f32>() / 1000.0;
    let var = a.iter().map(|v| (v - mean).powi(2)).sum::<f32>() / 999.0;
    assert!(
        (mean - 0.5).abs() < 0.2 && (var.sqrt() - 2.0).abs() < 0.2,
        "mean {mean} std {}",
        var.sqrt()
    );
    let u = Tensor::rand_uniform([500], -1.0, 3.0, 1, Device::Cpu)
        .unwrap()
        .to_vec_f32()
        .unwrap();
    assert!(u.iter().all(|&v| (-1.0..3.0).contains(&v)));
}

#[test]
fn tensors_and_gradients_cross_threads() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<Tensor>();
    send_sync::<crate::Gradients>();
    send_sync::<crate::Var>();
    // A tracked graph built on one thread can be backpropagated on another.
    let x = rand(&[3], 1).requires_grad();
    let y = x.sqr().unwrap().sum_all().unwrap();
    let g = std::thread::spawn(move || y.backward().unwrap())
        .join()
        .unwrap();
    assert_eq!(g.len(), 1);
}
