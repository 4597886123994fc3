//! Tensors on each device: creation, transfers both ways (with their gradient), dtypes, in-place
//! updates, concat of index tensors, device mismatches; and, on a machine without a usable GPU,
//! the one-line `DeviceUnavailable` error for every way of asking for CUDA.

#[macro_use]
mod common;

use common::{check_grad, rand};
use jepa_engine::{DType, Device, Error, Tensor};

device_test!(creation_reads_and_dtypes, |dev| {
    let z = Tensor::zeros([2, 3], DType::F32, dev).unwrap();
    assert_eq!((z.device(), z.to_vec_f32().unwrap()), (dev, vec![0.0; 6]));
    let o = Tensor::ones([4], DType::BF16, dev).unwrap();
    assert_eq!(
        (o.dtype(), o.to_vec_f32().unwrap()),
        (DType::BF16, vec![1.0; 4])
    );
    let f = Tensor::full(2.5, [3], DType::I64, dev).unwrap();
    assert_eq!(f.to_vec::<i64>().unwrap(), vec![2, 2, 2]);
    // Seeded random values are drawn on the host: identical on every device.
    let r = Tensor::randn([5], 0.0, 1.0, 7, dev).unwrap();
    let rc = Tensor::randn([5], 0.0, 1.0, 7, Device::Cpu).unwrap();
    assert_eq!(r.to_vec_f32().unwrap(), rc.to_vec_f32().unwrap());
    let x = Tensor::from_vec(vec![1.0f32, 1.0 + 1.0 / 512.0, -3.5, 7.0], [2, 2], dev).unwrap();
    assert!(x.to_scalar_f32().is_err(), "4 elements are not a scalar");
    let b = x.to_dtype(DType::BF16).unwrap();
    assert_eq!(
        b.to_vec_f32().unwrap(),
        vec![1.0, 1.0, -3.5, 7.0],
        "bf16 keeps 8 bits"
    );
    assert_eq!(
        x.t().unwrap().to_vec::<f32>().unwrap(),
        vec![1.0, -3.5, 1.0 + 1.0 / 512.0, 7.0]
    );
    let i = x.to_dtype(DType::I64).unwrap();
    assert_eq!(
        i.to_vec::<i64>().unwrap(),
        vec![1, 1, -3, 7],
        "truncation toward zero"
    );
    let ii = Tensor::cat(&[&i, &i.narrow(0, 1, 1).unwrap()], 0).unwrap();
    assert_eq!(
        (ii.device(), ii.to_vec::<i64>().unwrap()),
        (dev, vec![1, 1, -3, 7, -3, 7])
    );
    assert!(matches!(
        x.to_vec::<i64>(),
        Err(Error::DTypeMismatch { .. })
    ));
    let sum = x.with_f32(|v| v.iter().sum::<f32>()).unwrap();
    assert!((sum - (5.5 + 1.0 / 512.0)).abs() < 1e-6);
    let empty = Tensor::zeros([0, 3], DType::F32, dev).unwrap();
    assert_eq!(empty.sum_all().unwrap().to_scalar_f32().unwrap(), 0.0);
    assert!(empty
        .matmul(&Tensor::zeros([3, 2], DType::F32, dev).unwrap())
        .unwrap()
        .to_vec_f32()
        .unwrap()
        .is_empty());
});

device_test!(in_place_updates, |dev| {
    let p = Tensor::from_vec(vec![1f32, 2., 3., 4.], [2, 2], dev).unwrap();
    p.update_f32(|v| v.iter_mut().for_each(|x| *x *= 10.0))
        .unwrap();
    assert_eq!(p.to_vec_f32().unwrap(), vec![10., 20., 30., 40.]);
    // A narrowed (offset) row of the same storage, then assign from a transposed view of itself.
    p.narrow(0, 1, 1)
        .unwrap()
        .update_f32(|v| v[1] = -1.0)
        .unwrap();
    assert_eq!(p.to_vec_f32().unwrap(), vec![10., 20., 30., -1.]);
    p.assign(&p.t().unwrap()).unwrap();
    assert_eq!(p.to_vec_f32().unwrap(), vec![10., 30., 20., -1.]);
    let b = Tensor::zeros([2, 2], DType::BF16, dev).unwrap();
    b.assign(&p).unwrap();
    assert_eq!(b.to_vec_f32().unwrap(), vec![10., 30., 20., -1.]);
    assert!(matches!(
        b.update_f32(|_| ()),
        Err(Error::DTypeMismatch { .. })
    ));
});

device_test!(transfers_carry_gradients, |dev| {
    // CPU → dev → CPU inside the graph: the gradient comes back to the CPU leaf.
    check_grad(Device::Cpu, &[rand(&[3, 4], 1)], |t| {
        t[0].to_device(dev)?
            .sqr()?
            .sum_dims(&[1], false)?
            .to_device(Device::Cpu)
    });
    let x = rand(&[2, 3], 2).to_device(dev).unwrap();
    assert_eq!(
        x.to_device(dev).unwrap().id(),
        x.id(),
        "same device: no copy"
    );
    let leaf = x.requires_grad();
    let g = leaf
        .to_device(Device::Cpu)
        .unwrap()
        .sum_all()
        .unwrap()
        .backward()
        .unwrap();
    let gl = g.get(&leaf).unwrap();
    assert_eq!((gl.device(), gl.to_vec_f32().unwrap()), (dev, vec![1.0; 6]));
});

device_test!(device_mismatch_is_typed, |dev| {
    if dev.is_cpu() {
        continue; // needs a second device
    }
    let (a, b) = (rand(&[2, 2], 1), rand(&[2, 2], 2).to_device(dev).unwrap());
    assert!(matches!(
        a.add(&b),
        Err(Error::DeviceMismatch { op: "add", .. })
    ));
    assert!(matches!(b.matmul(&a), Err(Error::DeviceMismatch { .. })));
    assert!(matches!(
        Tensor::cat(&[&a, &b], 0),
        Err(Error::DeviceMismatch { .. })
    ));
    assert!(matches!(
        b.linear(&a, None),
        Err(Error::DeviceMismatch { .. })
    ));
});

/// Without a usable GPU every way of asking for CUDA is `DeviceUnavailable` with a one-line
/// message naming the reason; with one, the same calls succeed.
#[test]
fn cuda_request_without_gpu_is_a_one_line_error() {
    let Err(reason) = jepa_kernels::cuda::probe() else {
        let z = Tensor::zeros([2, 3], DType::F32, Device::Cuda(0)).unwrap();
        assert_eq!(z.to_vec_f32().unwrap(), vec![0.0; 6]);
        return;
    };
    // The engine reports the reason on one line, whitespace collapsed.
    let reason = reason
        .to_string()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    let reason: String = reason.chars().take(100).collect();
    let cuda = Device::Cuda(0);
    let x = rand(&[2], 1);
    let attempts = [
        Tensor::zeros([2, 3], DType::F32, cuda).map(|_| ()),
        Tensor::ones([2], DType::BF16, cuda).map(|_| ()),
        Tensor::from_vec(vec![1f32, 2.0], [2], cuda).map(|_| ()),
        Tensor::randn([2], 0.0, 1.0, 1, cuda).map(|_| ()),
        x.to_device(cuda).map(|_| ()),
        cuda.ensure_available("probe"),
    ];
    for r in attempts {
        let e = r.expect_err("CUDA must be unavailable when the probe failed");
        assert!(
            matches!(
                e,
                Error::DeviceUnavailable {
                    device: Device::Cuda(0),
                    ..
                }
            ),
            "{e:?}"
        );
        let msg = e.to_string();
        assert!(!msg.contains('\n'), "one line: {msg}");
        assert!(msg.contains(&reason), "{msg} names {reason}");
    }
    let e = Tensor::zeros([2], DType::F32, cuda)
        .unwrap_err()
        .to_string();
    println!("CUDA unavailable here, as expected: {e}");
}
