//! Classification pieces for linear probes: `log_softmax`, `cross_entropy` (mean NLL over a
//! batch of integer labels) and `argmax`. Row maxima are subtracted before exponentiating and
//! sums run in f64, so large logits neither overflow nor lose the small terms.

use crate::autograd::record;
use crate::{Error, Result, Shape, Tensor};

impl Tensor {
    /// `x − log Σ exp(x)` along `dim`. Backward needs only the output.
    pub fn log_softmax(&self, dim: usize) -> Result<Tensor> {
        let op = "log_softmax";
        self.expect_float(op)?;
        let last = self.shape().dim(op, dim).map(|_| self.rank() - 1)?;
        if dim != last {
            return self
                .transpose(dim, last)?
                .log_softmax(last)?
                .transpose(dim, last);
        }
        if self.device().is_cuda() {
            // Composed from tracked ops: x − m − log Σ exp(x − m) with m the (constant) row max;
            // the derivative through m cancels exactly, so treating it as a constant is exact.
            let m = crate::cuda::max_last_keepdim(&self.detach())?;
            let z = self.sub(&m)?;
            let lse = z.exp()?.sum_dims(&[last], true)?.log()?;
            return z.sub(&lse);
        }
        let d = self.dims()[last].max(1);
        let mut out = self.f32_contig(op)?.to_vec();
        for row in out.chunks_mut(d) {
            let m = row.iter().fold(f32::NEG_INFINITY, |a, &b| a.max(b));
            let lse = m as f64
                + row
                    .iter()
                    .map(|&v| ((v - m) as f64).exp())
                    .sum::<f64>()
                    .ln();
            row.iter_mut().for_each(|v| *v = (*v as f64 - lse) as f32);
        }
        let out = Tensor::from_f32(out, self.shape().clone(), self.dtype());
        let y = out.clone();
        Ok(record(out, &[self], move |g, _| {
            let (ys, gs) = (y.f32_contig(op)?, g.f32_contig(op)?);
            let mut dx = Vec::with_capacity(ys.len());
            for (yr, gr) in ys.chunks(d).zip(gs.chunks(d)) {
                let total: f64 = gr.iter().map(|&v| v as f64).sum();
                dx.extend(
                    yr.iter()
                        .zip(gr)
                        .map(|(&y, &g)| (g as f64 - (y as f64).exp() * total) as f32),
                );
            }
            Ok(vec![Some(Tensor::from_f32(
                dx,
                y.shape().clone(),
                y.dtype(),
            ))])
        }))
    }

    /// Mean negative log-likelihood of `labels` under `self: [N, C]` logits; rank-0.
    pub fn cross_entropy(&self, labels: &[usize]) -> Result<Tensor> {
        let op = "cross_entropy";
        self.shape().expect_rank(op, 2)?;
        let (n, c) = (self.dims()[0], self.dims()[1]);
        if labels.len() != n {
            let rhs = Shape::from([labels.len()]);
            return Err(Error::ShapeMismatch {
                op,
                lhs: self.shape().clone(),
                rhs,
            });
        }
        if let Some(&bad) = labels.iter().find(|&&l| l >= c) {
            return Err(Error::IndexOutOfRange {
                op,
                index: bad as i64,
                size: c,
            });
        }
        let mut onehot = vec![0f32; n * c];
        labels
            .iter()
            .enumerate()
            .for_each(|(i, &l)| onehot[i * c + l] = -1.0 / n.max(1) as f32);
        let weights = Tensor::from_f32(onehot, [n, c], self.dtype()).to_device(self.device())?;
        self.log_softmax(1)?.mul(&weights)?.sum_all()
    }

    /// Index of the largest entry along `dim` (first one on ties), as I64 with `dim` removed.
    pub fn argmax(&self, dim: usize) -> Result<Tensor> {
        let op = "argmax";
        self.expect_float(op)?;
        let last = self.shape().dim(op, dim).map(|_| self.rank() - 1)?;
        if self.device().is_cuda() {
            // An index result with no gradient: computed on the host (one copy down and up).
            let host = self.detach().to_device(crate::Device::Cpu)?;
            return host.argmax(dim)?.to_device(self.device());
        }
        let x = self.transpose(dim, last)?.contiguous()?;
        let d = x.dims()[last];
        if d == 0 {
            let msg = "argmax over an empty dim".into();
            return Err(Error::InvalidArgument {
                op,
                shape: self.shape().clone(),
                msg,
            });
        }
        let v = x.f32_contig(op)?;
        let idx: Vec<i64> = v
            .chunks(d)
            .map(|r| {
                r.iter()
                    .enumerate()
                    .fold(0, |best, (i, &e)| if e > r[best] { i } else { best })
                    as i64
            })
            .collect();
        let mut dims = x.dims().to_vec();
        dims.pop();
        let out = Tensor::from_vec(idx, dims, self.device())?;
        // Restore the order of the remaining dims (the transpose moved `last` into `dim`).
        if dim == last {
            Ok(out)
        } else {
            let mut perm: Vec<usize> = (0..out.rank()).collect();
            let moved = perm.remove(dim);
            perm.push(moved);
            out.permute(&perm)?.contiguous()
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::ops::check::{check, rand};
    use crate::{Device, Error, Tensor};

    fn log_softmax_ref(v: &[f64], d: usize) -> Vec<f64> {
        v.chunks(d)
            .flat_map(|r| {
                let lse = r.iter().map(|x| x.exp()).sum::<f64>().ln();
                r.iter().map(move |x| x - lse).collect::<Vec<_>>()
            })
            .collect()
    }

    #[test]
    fn log_softmax_and_cross_entropy() {
        let x = [rand(&[3, 5], 1).mul_scalar(4.0).unwrap()];
        check(&x, |t| t[0].log_softmax(1), |v| log_softmax_ref(&v[0], 5));
        let labels = [4, 0, 2];
        check(
            &x,
            |t| t[0].cross_entropy(&labels),
            |v| {
                let ls = log_softmax_ref(&v[0], 5);
                vec![-(0..3).map(|i| ls[i * 5 + labels[i]]).sum::<f64>() / 3.0]
            },
        );
        let big = Tensor::from_vec(vec![1000f32, 0.0], [1, 2], Device::Cpu).unwrap();
        assert_eq!(
            big.log_softmax(1).unwrap().to_vec_f32().unwrap(),
            vec![0.0, -1000.0]
        );
        assert!(matches!(
            x[0].cross_entropy(&[0, 1]),
            Err(Error::ShapeMismatch { .. })
        ));
        assert!(matches!(
            x[0].cross_entropy(&[0, 1, 5]),
            Err(Error::IndexOutOfRange { index: 5, .. })
        ));
    }

    #[test]
    fn argmax_any_dim() {
        let x = Tensor::from_vec(vec![1f32, 5., 5., 0., 2., 3.], [2, 3], Device::Cpu).unwrap();
        assert_eq!(x.argmax(1).unwrap().to_vec::<i64>().unwrap(), vec![1, 2]);
        assert_eq!(x.argmax(0).unwrap().to_vec::<i64>().unwrap(), vec![0, 0, 0]);
        let y = rand(&[2, 3, 4], 3);
        let a = y.argmax(1).unwrap();
        assert_eq!(a.dims(), &[2, 4]);
        let v = y.to_vec_f32().unwrap();
        for (o, &got) in a.to_vec::<i64>().unwrap().iter().enumerate() {
            let col: Vec<f32> = (0..3).map(|j| v[(o / 4) * 12 + j * 4 + o % 4]).collect();
            let best = col.iter().cloned().fold(f32::MIN, f32::max);
            assert_eq!(col[got as usize], best);
        }
    }
}
