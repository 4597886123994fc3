//! Forward and backward of the network ops (LayerNorm, GELU, softmax, log-softmax /
//! cross-entropy, attention, gather, patchify, losses, VICReg), one body per device (CPU always;
//! CUDA when a GPU is usable, see `common`).

#[macro_use]
mod common;

use common::{check, check_grad, cpu_reference, rand, rand_in};
use jepa_engine::{attention, Device, RowIndex, Tensor};

fn softmax_rows(v: &[f64], d: usize) -> Vec<f64> {
    v.chunks(d)
        .flat_map(|r| {
            let s: f64 = r.iter().map(|x| x.exp()).sum();
            r.iter().map(move |x| x.exp() / s).collect::<Vec<_>>()
        })
        .collect()
}

fn log_softmax_rows(v: &[f64], d: usize) -> Vec<f64> {
    softmax_rows(v, d).into_iter().map(f64::ln).collect()
}

/// erf by its Maclaurin series: exact to f64 rounding for |z| < 3.
fn erf(z: f64) -> f64 {
    let (mut term, mut sum) = (z, z);
    for n in 1..80 {
        term *= -z * z / n as f64;
        sum += term / (2 * n + 1) as f64;
    }
    sum * 2.0 / std::f64::consts::PI.sqrt()
}

device_test!(layer_norm_plain_and_affine, |dev| {
    let x = [
        rand(&[3, 7], 1).mul_scalar(4.0).unwrap(),
        rand_in(&[7], 0.5, 1.5, 2),
        rand(&[7], 3),
    ];
    let f = |t: &[Tensor]| t[0].layer_norm(Some(&t[1]), Some(&t[2]), 1e-5);
    check(
        dev,
        &x,
        f,
        cpu_reference(vec![vec![3, 7], vec![7], vec![7]], f),
    );
    let plain = |t: &[Tensor]| t[0].layer_norm(None, None, 1e-5);
    check(dev, &x[..1], plain, cpu_reference(vec![vec![3, 7]], plain));
    check_grad(dev, &x[..2], |t| t[0].layer_norm(Some(&t[1]), None, 1e-6));
    check_grad(dev, &[rand(&[7, 3], 4).mul_scalar(4.0).unwrap()], |t| {
        t[0].t()?.layer_norm(None, None, 1e-5)
    });
});

device_test!(gelu_and_softmax, |dev| {
    check(
        dev,
        &[rand_in(&[4, 9], -3.0, 3.0, 1)],
        |t| t[0].gelu(),
        |v| {
            v[0].iter()
                .map(|&x| 0.5 * x * (1.0 + erf(x / 2f64.sqrt())))
                .collect()
        },
    );
    let x = [rand(&[3, 5], 2).mul_scalar(3.0).unwrap()];
    check(dev, &x, |t| t[0].softmax(1), |v| softmax_rows(&v[0], 5));
    check(
        dev,
        &x,
        |t| t[0].softmax(0),
        |v| {
            (0..15)
                .map(|i| v[0][i].exp() / (0..3).map(|r| v[0][r * 5 + i % 5].exp()).sum::<f64>())
                .collect()
        },
    );
});

device_test!(log_softmax_cross_entropy_argmax, |dev| {
    let x = [rand(&[3, 5], 1).mul_scalar(4.0).unwrap()];
    check(
        dev,
        &x,
        |t| t[0].log_softmax(1),
        |v| log_softmax_rows(&v[0], 5),
    );
    let labels = [4, 0, 2];
    check(
        dev,
        &x,
        |t| t[0].cross_entropy(&labels),
        |v| {
            let ls = log_softmax_rows(&v[0], 5);
            vec![-(0..3).map(|i| ls[i * 5 + labels[i]]).sum::<f64>() / 3.0]
        },
    );
    // Large logits: the max is subtracted before exponentiating.
    let big = Tensor::from_vec(vec![1000f32, 0.0], [1, 2], dev).unwrap();
    assert_eq!(
        big.log_softmax(1).unwrap().to_vec_f32().unwrap(),
        vec![0.0, -1000.0]
    );
    let a = Tensor::from_vec(vec![1f32, 5., 5., 0., 2., 3.], [2, 3], dev).unwrap();
    let idx = a.argmax(1).unwrap();
    assert_eq!(idx.device(), dev);
    assert_eq!(idx.to_vec::<i64>().unwrap(), vec![1, 2]);
    assert_eq!(a.argmax(0).unwrap().to_vec::<i64>().unwrap(), vec![0, 0, 0]);
});

device_test!(attention_fused_and_composed, |dev| {
    // d = 32 has a fused CUDA kernel; d = 3 takes the composed path on the device.
    for (shape, seed) in [([1usize, 2, 5, 32], 1u64), ([2, 1, 4, 3], 7)] {
        let x = [
            rand(&shape, seed),
            rand(&shape, seed + 1),
            rand(&shape, seed + 2),
        ];
        let f = |t: &[Tensor]| attention(&t[0], &t[1], &t[2], None);
        check(dev, &x, f, cpu_reference(vec![shape.to_vec(); 3], f));
        let (out, lse) = jepa_engine::attention_with_lse(&x[0], &x[1], &x[2], Some(0.5)).unwrap();
        let xs = common::on(dev, &x);
        let (o2, l2) = jepa_engine::attention_with_lse(&xs[0], &xs[1], &xs[2], Some(0.5)).unwrap();
        common::assert_close(
            &o2.to_vec_f32().unwrap(),
            &common::to_f64(&out),
            common::fwd_tol(dev),
            "out",
        );
        common::assert_close(
            &l2.to_vec_f32().unwrap(),
            &common::to_f64(&lse),
            common::fwd_tol(dev),
            "lse",
        );
    }
    // q = k = v from one permuted tensor, as a ViT block produces them.
    check_grad(dev, &[rand(&[2, 4, 1, 3], 4)], |t| {
        let qkv = t[0].permute(&[0, 2, 1, 3])?;
        attention(&qkv, &qkv, &qkv, Some(0.7))
    });
});

device_test!(gather_and_index_select, |dev| {
    let idx = Tensor::from_vec(vec![2i64, 0, 2, 1, 1, 1], [2, 3], dev).unwrap();
    let ix = [2usize, 0, 2, 1, 1, 1];
    check(
        dev,
        &[rand(&[2, 3, 2], 1)],
        |t| t[0].gather_rows(&idx),
        |v| {
            (0..12)
                .map(|o| v[0][((o / 6) * 3 + ix[o / 2]) * 2 + o % 2])
                .collect()
        },
    );
    // A shared [1, N, D] table, and a prepared RowIndex.
    check(
        dev,
        &[rand(&[1, 3, 2], 2)],
        |t| t[0].gather_rows(&idx),
        |v| (0..12).map(|o| v[0][ix[o / 2] * 2 + o % 2]).collect(),
    );
    let ri = RowIndex::new(1, 4, vec![3, 3, 0, 1]).unwrap();
    check_grad(dev, &[rand(&[1, 4, 5], 3)], |t| t[0].gather_rows_idx(&ri));
    check(
        dev,
        &[rand(&[2, 4, 3], 4)],
        |t| t[0].index_select(1, &[3, 0, 3]),
        |v| {
            let ix = [3, 0, 3];
            (0..18)
                .map(|o| v[0][(o / 9) * 12 + ix[(o / 3) % 3] * 3 + o % 3])
                .collect()
        },
    );
});

device_test!(patchify_rows, |dev| {
    let (b, c, h, w, p) = (2, 2, 4, 6, 2);
    check(
        dev,
        &[rand(&[b, c, h, w], 1)],
        |t| t[0].patchify(p),
        |v| {
            let mut out = Vec::new();
            for bi in 0..b {
                for gy in 0..h / p {
                    for gx in 0..w / p {
                        for ci in 0..c {
                            for py in 0..p {
                                for px in 0..p {
                                    out.push(
                                        v[0][((bi * c + ci) * h + gy * p + py) * w + gx * p + px],
                                    );
                                }
                            }
                        }
                    }
                }
            }
            out
        },
    );
});

device_test!(regression_losses, |dev| {
    let x = [rand(&[3, 8], 1), rand(&[3, 8], 2)];
    let n = 24.0;
    check(
        dev,
        &x,
        |t| t[0].smooth_l1_loss(&t[1], 0.5),
        |v| {
            let l = v[0].iter().zip(&v[1]).map(|(z, h)| {
                let d = (z - h).abs();
                if d < 0.5 {
                    d * d
                } else {
                    d - 0.25
                }
            });
            vec![l.sum::<f64>() / n]
        },
    );
    check(
        dev,
        &x,
        |t| t[0].mse_loss(&t[1]),
        |v| {
            vec![
                v[0].iter()
                    .zip(&v[1])
                    .map(|(z, h)| (z - h).powi(2))
                    .sum::<f64>()
                    / n,
            ]
        },
    );
});

device_test!(vicreg_terms, |dev| {
    let scale = Tensor::from_vec(vec![0.5f32, 3.0, 1.0, 2.0], [4], Device::Cpu).unwrap();
    let x = [rand(&[6, 4], 1).mul(&scale).unwrap()];
    let var = |t: &[Tensor]| Ok(t[0].vicreg(1e-4)?.0);
    let cov = |t: &[Tensor]| Ok(t[0].vicreg(1e-4)?.1);
    check(dev, &x, var, cpu_reference(vec![vec![6, 4]], var));
    check(dev, &x, cov, cpu_reference(vec![vec![6, 4]], cov));
    check_grad(dev, &x, |t| {
        let (v, c) = t[0].vicreg(1e-4)?;
        v.add(&c.mul_scalar(0.04)?)
    });
});
