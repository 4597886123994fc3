//! `linear`: `x·Wᵀ + b` with PyTorch's `[out, in]` weight layout. Leading dims of `x` fold into
//! the GEMM rows, the transpose of `W` is a stride swap and the bias is the GEMM epilogue, so
//! the forward is one GEMM and the backward three (dx, dW) plus a column sum (db).

use super::grad_if;
use crate::autograd::{record, tracking};
use crate::{Error, Result, Shape, Tensor};
use jepa_kernels::cpu::gemm::{gemm, Strides};

impl Tensor {
    /// `self · weightᵀ + bias` for `self: [.., in]`, `weight: [out, in]`, `bias: [out]`.
    pub fn linear(&self, weight: &Tensor, bias: Option<&Tensor>) -> Result<Tensor> {
        let op = "linear";
        self.same_kind(op, weight)?;
        self.expect_float(op)?;
        weight.shape().expect_rank(op, 2)?;
        self.shape().expect_min_rank(op, 1)?;
        let (n_out, n_in) = (weight.dims()[0], weight.dims()[1]);
        if self.dims()[self.rank() - 1] != n_in {
            return Err(Error::ShapeMismatch {
                op,
                lhs: self.shape().clone(),
                rhs: weight.shape().clone(),
            });
        }
        if let Some(b) = bias {
            self.same_kind(op, b)?;
            if b.dims() != [n_out] {
                return Err(Error::ShapeMismatch {
                    op,
                    lhs: weight.shape().clone(),
                    rhs: b.shape().clone(),
                });
            }
        }
        if self.device().is_cuda() {
            return linear_composed(self, weight, bias);
        }
        let rows: usize = self.dims()[..self.rank() - 1].iter().product();
        let x = self.contiguous()?;
        let v = {
            let xs = x.f32_contig(op)?;
            let (wb, wl) = weight.f32_strided(op)?;
            let bs = bias.map(|b| b.f32_contig(op)).transpose()?;
            let mut c = vec![0f32; rows * n_out];
            // wᵀ as a [in, out] matrix: element (p, j) is w[j, p].
            let ws = Strides {
                batch: 0,
                row: wl.stride()[1],
                col: wl.stride()[0],
            };
            mm(
                rows,
                n_in,
                n_out,
                &xs,
                Strides::row_major(rows, n_in),
                &wb[wl.start_offset()..],
                ws,
                &mut c,
                bs.as_deref(),
            );
            c
        };
        let mut dims = self.dims().to_vec();
        if let Some(last) = dims.last_mut() {
            *last = n_out;
        }
        let out = Tensor::from_f32(v, dims, self.dtype());
        let mut inputs = vec![self, weight];
        inputs.extend(bias);
        if !tracking(&inputs) {
            return Ok(out);
        }
        let (x, w) = (x.detach(), weight.detach());
        let x_shape = self.shape().clone();
        Ok(record(out, &inputs, move |g, needs| {
            let g = g.contiguous()?;
            let gs = g.f32_contig(op)?;
            let dx = grad_if(needs[0], || {
                let (wb, wl) = w.f32_strided(op)?;
                let ws = Strides {
                    batch: 0,
                    row: wl.stride()[0],
                    col: wl.stride()[1],
                };
                let mut dx = vec![0f32; rows * n_in];
                mm(
                    rows,
                    n_out,
                    n_in,
                    &gs,
                    Strides::row_major(rows, n_out),
                    &wb[wl.start_offset()..],
                    ws,
                    &mut dx,
                    None,
                );
                Ok(Tensor::from_f32(dx, x_shape.clone(), x.dtype()))
            })?;
            let dw = grad_if(needs[1], || {
                let xs = x.f32_contig(op)?;
                let mut dw = vec![0f32; n_out * n_in];
                // gᵀ through strides: [out, rows] with row stride 1, column stride out.
                let gt = Strides {
                    batch: 0,
                    row: 1,
                    col: n_out,
                };
                mm(
                    n_out,
                    rows,
                    n_in,
                    &gs,
                    gt,
                    &xs,
                    Strides::row_major(rows, n_in),
                    &mut dw,
                    None,
                );
                Ok(Tensor::from_f32(dw, [n_out, n_in], w.dtype()))
            })?;
            let mut grads = vec![dx, dw];
            if needs.len() == 3 {
                grads.push(grad_if(needs[2], || {
                    let mut db = vec![0f64; n_out];
                    for row in gs.chunks(n_out.max(1)) {
                        db.iter_mut().zip(row).for_each(|(d, &v)| *d += v as f64);
                    }
                    Ok(Tensor::from_f32(
                        db.into_iter().map(|v| v as f32).collect(),
                        Shape::from([n_out]),
                        w.dtype(),
                    ))
                })?);
            }
            Ok(grads)
        }))
    }
}

/// The device path: `x·Wᵀ (+ b)` from tracked ops, so autograd needs no extra rule. The rows of
/// `x` fold into one cuBLAS GEMM with the weight read transposed in place; dx and dW are GEMMs
/// of matmul's backward and db is a column sum.
fn linear_composed(x: &Tensor, weight: &Tensor, bias: Option<&Tensor>) -> Result<Tensor> {
    let (n_in, n_out) = (weight.dims()[1], weight.dims()[0]);
    let rows: usize = x.dims()[..x.rank() - 1].iter().product();
    let y = x.reshape([rows, n_in])?.matmul(&weight.t()?)?;
    let y = match bias {
        Some(b) => y.add(b)?,
        None => y,
    };
    let mut dims = x.dims().to_vec();
    if let Some(last) = dims.last_mut() {
        *last = n_out;
    }
    y.reshape(dims)
}

/// One unbatched GEMM `c = a·b (+ bias)`; an empty inner dim leaves `c` as zeros (+ bias).
#[allow(clippy::too_many_arguments)]
fn mm(
    m: usize,
    k: usize,
    n: usize,
    a: &[f32],
    sa: Strides,
    b: &[f32],
    sb: Strides,
    c: &mut [f32],
    bias: Option<&[f32]>,
) {
    if m * n == 0 {
        return;
    }
    if k == 0 {
        if let Some(bias) = bias {
            c.chunks_mut(n).for_each(|row| row.copy_from_slice(bias));
        }
        return;
    }
    gemm(1, m, k, n, a, sa, b, sb, c, bias, false);
}

#[cfg(test)]
mod tests {
    use crate::ops::check::{check, check_grad, rand};
    use crate::{Error, Tensor};

    fn lin_ref(v: &[Vec<f64>], rows: usize, n_in: usize, n_out: usize) -> Vec<f64> {
        let mut out = vec![0.0; rows * n_out];
        for r in 0..rows {
            for o in 0..n_out {
                let b = v.get(2).map_or(0.0, |b| b[o]);
                out[r * n_out + o] = b
                    + (0..n_in)
                        .map(|i| v[0][r * n_in + i] * v[1][o * n_in + i])
                        .sum::<f64>();
            }
        }
        out
    }

    #[test]
    fn linear_forward_and_grads() {
        let x = [rand(&[2, 3, 5], 1), rand(&[4, 5], 2), rand(&[4], 3)];
        check(
            &x,
            |t| t[0].linear(&t[1], Some(&t[2])),
            |v| lin_ref(v, 6, 5, 4),
        );
        check(
            &x[..2],
            |t| t[0].linear(&t[1], None),
            |v| lin_ref(v, 6, 5, 4),
        );
        // A transposed input and a weight used through a view.
        check_grad(&[rand(&[5, 3], 4), rand(&[5, 4], 5)], |t| {
            t[0].t()?.linear(&t[1].t()?, None)
        });
    }

    #[test]
    fn frozen_input_gets_no_gradient() {
        let x = rand(&[3, 5], 1);
        let w = rand(&[4, 5], 2).requires_grad();
        let g = x
            .linear(&w, None)
            .unwrap()
            .sum_all()
            .unwrap()
            .backward()
            .unwrap();
        assert_eq!(g.len(), 1);
        let want: Vec<f32> = (0..20)
            .map(|i| (0..3).map(|r| x.to_vec_f32().unwrap()[r * 5 + i % 5]).sum())
            .collect();
        crate::ops::check::assert_close(
            &g.get(&w).unwrap().to_vec_f32().unwrap(),
            &want.iter().map(|&v| v as f64).collect::<Vec<_>>(),
            1e-6,
            "dW",
        );
    }

    #[test]
    fn linear_shape_errors() {
        let (x, w) = (rand(&[3, 5], 1), rand(&[4, 6], 2));
        assert!(matches!(
            x.linear(&w, None),
            Err(Error::ShapeMismatch { op: "linear", .. })
        ));
        let w = rand(&[4, 5], 2);
        assert!(matches!(
            x.linear(&w, Some(&rand(&[5], 3))),
            Err(Error::ShapeMismatch { .. })
        ));
        assert!(matches!(
            x.linear(&rand(&[5], 3), None),
            Err(Error::RankMismatch { .. })
        ));
        let s = Tensor::scalar(1.0);
        assert!(matches!(
            s.linear(&w, None),
            Err(Error::RankTooSmall { .. })
        ));
    }
}

#[cfg(test)]
mod empty {
    use crate::{DType, Device, Tensor};

    /// Zero-sized dims give correctly shaped (empty or bias-only) results, not panics.
    #[test]
    fn empty_inner_and_outer_dims() {
        let z = |s: &[usize]| Tensor::zeros(s.to_vec(), DType::F32, Device::Cpu).unwrap();
        let b = Tensor::ones([4], DType::F32, Device::Cpu).unwrap();
        let y = z(&[3, 0]).linear(&z(&[4, 0]), Some(&b)).unwrap();
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
    }
}
