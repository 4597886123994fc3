//! Forward and backward of the pointwise, reduction, matmul / linear and view ops, one body per
//! device (CPU always; CUDA when a GPU is usable, see `common`).

#[macro_use]
mod common;

use common::{check, check_grad, rand, rand_in};
use jepa_engine::{Shape, Tensor};

/// `a: [r, c]` with `b: [c]` broadcast over rows, as f64.
fn bcast(v: &[Vec<f64>], f: impl Fn(f64, f64) -> f64) -> Vec<f64> {
    let c = v[1].len();
    v[0].iter()
        .enumerate()
        .map(|(i, &a)| f(a, v[1][i % c]))
        .collect()
}

fn map(v: &[Vec<f64>], f: impl Fn(f64) -> f64) -> Vec<f64> {
    v[0].iter().map(|&x| f(x)).collect()
}

/// Batched `[b, m, k] · [b?, k, n]` in f64 (rhs shared when it has no batch).
fn mm(
    a: &[f64],
    b: &[f64],
    (bt, m, k, n): (usize, usize, usize, usize),
    b_batched: bool,
) -> Vec<f64> {
    let mut c = vec![0.0; bt * m * n];
    for z in 0..bt {
        let bo = if b_batched { z * k * n } else { 0 };
        for i in 0..m {
            for j in 0..n {
                c[(z * m + i) * n + j] = (0..k)
                    .map(|p| a[(z * m + i) * k + p] * b[bo + p * n + j])
                    .sum();
            }
        }
    }
    c
}

device_test!(binary_ops_broadcast, |dev| {
    let x = [rand(&[3, 4], 1), rand_in(&[4], 0.5, 1.5, 2)];
    check(dev, &x, |t| t[0].add(&t[1]), |v| bcast(v, |a, b| a + b));
    check(dev, &x, |t| t[0].sub(&t[1]), |v| bcast(v, |a, b| a - b));
    check(dev, &x, |t| t[0].mul(&t[1]), |v| bcast(v, |a, b| a * b));
    check(dev, &x, |t| t[0].div(&t[1]), |v| bcast(v, |a, b| a / b));
    // Broadcast on the left operand through a size-1 middle dim, and a transposed operand.
    check(
        dev,
        &[rand(&[4], 3), rand(&[2, 1, 4], 4)],
        |t| t[0].mul(&t[1]),
        |v| (0..8).map(|i| v[0][i % 4] * v[1][i]).collect(),
    );
    check_grad(dev, &[rand(&[3, 5], 5), rand(&[5, 3], 6)], |t| {
        t[0].mul(&t[1].t()?)
    });
});

device_test!(unary_ops, |dev| {
    let x = [rand(&[3, 5], 11)];
    let pos = [rand_in(&[3, 5], 0.25, 2.0, 12)];
    check(dev, &x, |t| t[0].sqr(), |v| map(v, |x| x * x));
    check(dev, &pos, |t| t[0].sqrt(), |v| map(v, f64::sqrt));
    check(dev, &x, |t| t[0].exp(), |v| map(v, f64::exp));
    check(dev, &pos, |t| t[0].log(), |v| map(v, f64::ln));
    check(dev, &x, |t| t[0].tanh(), |v| map(v, f64::tanh));
    check(dev, &pos, |t| t[0].powf(1.5), |v| map(v, |x| x.powf(1.5)));
    check(
        dev,
        &x,
        |t| t[0].affine(-2.5, 0.75),
        |v| map(v, |x| -2.5 * x + 0.75),
    );
    check(
        dev,
        &x,
        |t| t[0].add_scalar(0.5)?.neg(),
        |v| map(v, |x| -(x + 0.5)),
    );
    // Kinked ops with inputs kept ≥ 1/32 away from the kink (beyond the FD step).
    let k = rand(&[4, 6], 13).to_vec_f32().unwrap();
    let k: Vec<f32> = k
        .iter()
        .map(|&a| if a.abs() < 0.03125 { 0.5 } else { a })
        .collect();
    let k = [Tensor::from_vec(k, [4, 6], jepa_engine::Device::Cpu).unwrap()];
    check(dev, &k, |t| t[0].relu(), |v| map(v, |x| x.max(0.0)));
    check(dev, &k, |t| t[0].abs(), |v| map(v, f64::abs));
});

device_test!(reductions, |dev| {
    let x = [rand(&[2, 3, 4], 21)];
    check(dev, &x, |t| t[0].sum_all(), |v| vec![v[0].iter().sum()]);
    check(
        dev,
        &x,
        |t| t[0].mean_all(),
        |v| vec![v[0].iter().sum::<f64>() / 24.0],
    );
    let mid = |v: &[Vec<f64>]| -> Vec<f64> {
        (0..8)
            .map(|o| (0..3).map(|j| v[0][(o / 4) * 12 + j * 4 + o % 4]).sum())
            .collect()
    };
    check(dev, &x, |t| t[0].sum_dims(&[1], false), mid);
    check(
        dev,
        &x,
        |t| t[0].mean_dims(&[2, 0], true),
        |v| {
            (0..3)
                .map(|j| {
                    (0..8)
                        .map(|o| v[0][(o / 4) * 12 + j * 4 + o % 4])
                        .sum::<f64>()
                        / 8.0
                })
                .collect()
        },
    );
    // Sums of views (transpose, narrow) and sum_to, the broadcasting adjoint.
    check_grad(dev, &[rand(&[3, 4], 22)], |t| {
        t[0].t()?.sum_dims(&[1], false)
    });
    check_grad(dev, &[rand(&[3, 4], 23)], |t| {
        t[0].narrow(1, 1, 2)?.sum_to(&Shape::from([1, 2]))
    });
    check(
        dev,
        &[rand(&[5, 3], 24)],
        |t| t[0].sum_to(&Shape::from([3])),
        |v| {
            (0..3)
                .map(|j| (0..5).map(|i| v[0][i * 3 + j]).sum())
                .collect()
        },
    );
});

device_test!(matmul_batched_broadcast_transposed, |dev| {
    check(
        dev,
        &[rand(&[3, 4], 1), rand(&[4, 5], 2)],
        |t| t[0].matmul(&t[1]),
        |v| mm(&v[0], &v[1], (1, 3, 4, 5), true),
    );
    check(
        dev,
        &[rand(&[2, 3, 4], 3), rand(&[2, 4, 2], 4)],
        |t| t[0].matmul(&t[1]),
        |v| mm(&v[0], &v[1], (2, 3, 4, 2), true),
    );
    // A shared rhs (batch stride 0), a transposed lhs view, a permuted (copied) operand.
    check(
        dev,
        &[rand(&[2, 3, 4], 5), rand(&[4, 2], 6)],
        |t| t[0].matmul(&t[1]),
        |v| mm(&v[0], &v[1], (2, 3, 4, 2), false),
    );
    check_grad(dev, &[rand(&[4, 3], 7), rand(&[4, 2], 8)], |t| {
        t[0].t()?.matmul(&t[1])
    });
    check_grad(dev, &[rand(&[2, 3, 2, 4], 9)], |t| {
        let q = t[0].permute(&[0, 2, 1, 3])?;
        q.matmul(&q.t()?)
    });
    check_grad(
        dev,
        &[rand(&[1, 2, 3, 4], 10), rand(&[3, 2, 4, 2], 11)],
        |t| t[0].matmul(&t[1]),
    );
});

device_test!(linear_with_and_without_bias, |dev| {
    let lin = |v: &[Vec<f64>]| -> Vec<f64> {
        let mut out = vec![0.0; 6 * 4];
        for r in 0..6 {
            for o in 0..4 {
                let b = v.get(2).map_or(0.0, |b| b[o]);
                out[r * 4 + o] = b
                    + (0..5)
                        .map(|i| v[0][r * 5 + i] * v[1][o * 5 + i])
                        .sum::<f64>();
            }
        }
        out
    };
    let x = [rand(&[2, 3, 5], 1), rand(&[4, 5], 2), rand(&[4], 3)];
    check(dev, &x, |t| t[0].linear(&t[1], Some(&t[2])), lin);
    check(dev, &x[..2], |t| t[0].linear(&t[1], None), lin);
    check_grad(dev, &[rand(&[5, 3], 4), rand(&[5, 4], 5)], |t| {
        t[0].t()?.linear(&t[1].t()?, None)
    });
});

device_test!(views_and_copies, |dev| {
    let x = [rand(&[2, 3, 4], 1)];
    check(
        dev,
        &x,
        |t| t[0].permute(&[2, 0, 1])?.reshape([4, 6]),
        |v| (0..24).map(|o| v[0][(o % 6) * 4 + o / 6]).collect(),
    );
    check(
        dev,
        &x,
        |t| t[0].narrow(1, 1, 2)?.contiguous(),
        |v| (0..16).map(|o| v[0][(o / 8) * 12 + 4 + o % 8]).collect(),
    );
    check_grad(dev, &x, |t| {
        t[0].transpose(0, 2)?
            .flatten(1, 2)?
            .unsqueeze(0)?
            .squeeze(0)
    });
    check_grad(dev, &[rand(&[3, 1], 2)], |t| t[0].expand([2, 3, 4]));
    check_grad(
        dev,
        &[rand(&[2, 3], 3), rand(&[2, 1], 4), rand(&[2, 2], 5)],
        |t| Tensor::cat(&[&t[0], &t[1], &t[2].t()?], 1),
    );
    check_grad(dev, &[rand(&[3, 2, 2], 6)], |t| {
        let s = t[0]
            .narrow(0, 1, 2)?
            .sum_dims(&[0], true)?
            .broadcast_as([3, 2, 2])?;
        Tensor::stack(&[&t[0], &s], 0)
    });
});

device_test!(empty_shapes_and_offset_views, |dev| {
    use jepa_engine::DType;
    let z = |s: &[usize]| Tensor::zeros(s.to_vec(), DType::F32, dev).unwrap();
    let ones = Tensor::ones([4], DType::F32, dev).unwrap();
    // Zero-size dims give correctly shaped (empty, zero or bias-only) results, not errors.
    let y = z(&[3, 0]).linear(&z(&[4, 0]), Some(&ones)).unwrap();
    assert_eq!(
        (y.dims(), y.to_vec_f32().unwrap()),
        (&[3usize, 4][..], vec![1.0; 12])
    );
    assert_eq!(
        z(&[0, 5]).linear(&z(&[4, 5]), None).unwrap().dims(),
        &[0, 4]
    );
    let (out, mean, _) = z(&[2, 3, 0]).layer_norm_stats(None, None, 1e-5).unwrap();
    assert_eq!(
        (out.dims(), mean.dims()),
        (&[2usize, 3, 0][..], &[2usize, 3][..])
    );
    assert_eq!(z(&[2, 0, 3]).softmax(2).unwrap().dims(), &[2, 0, 3]);
    assert_eq!(
        z(&[2, 3, 0])
            .matmul(&z(&[0, 2]))
            .unwrap()
            .to_vec_f32()
            .unwrap(),
        vec![0.0; 12]
    );
    assert_eq!(
        z(&[3, 0])
            .sum_dims(&[1], false)
            .unwrap()
            .to_vec_f32()
            .unwrap(),
        vec![0.0; 3]
    );
    assert_eq!(
        z(&[0, 4])
            .add(&ones)
            .unwrap()
            .gelu()
            .unwrap()
            .exp()
            .unwrap()
            .dims(),
        &[0, 4]
    );
    let g = z(&[2, 0]).requires_grad();
    let grads = g.sqr().unwrap().sum_all().unwrap().backward().unwrap();
    assert_eq!(grads.get(&g).unwrap().dims(), &[2, 0]);
    // Views that start inside their storage (narrow offsets) feed the kernels and cuBLAS.
    check_grad(dev, &[rand(&[5, 4], 1), rand(&[4, 3], 2)], |t| {
        t[0].narrow(0, 1, 3)?.matmul(&t[1])
    });
    check_grad(dev, &[rand(&[4, 6], 3)], |t| {
        t[0].narrow(1, 2, 3)?.gelu()?.softmax(1)
    });
    // Rows of 6 spread over ±4, so the row std stays well above the FD step.
    check_grad(dev, &[rand(&[6, 7], 4).mul_scalar(4.0).unwrap()], |t| {
        t[0].narrow(1, 1, 5)?.t()?.layer_norm(None, None, 1e-5)
    });
});
