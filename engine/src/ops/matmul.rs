//! Batched matmul over the kernels' strided GEMM. Operands are passed by layout, so transposed
//! and broadcast views cost nothing; batch dims broadcast (NumPy rules). The longest run of
//! batch dims that both operands can address with a single stride becomes the GEMM batch; any
//! remaining outer batch dims are looped over.

use crate::autograd::{record, tracking};
use crate::layout::{walk, Layout};
use crate::{Error, Result, Shape, Tensor};
use jepa_kernels::cpu::gemm::{gemm, Strides};

impl Tensor {
    /// `self · rhs` for `[.., m, k] · [.., k, n]`; batch dims broadcast.
    pub fn matmul(&self, rhs: &Tensor) -> Result<Tensor> {
        let op = "matmul";
        self.same_kind(op, rhs)?;
        self.expect_float(op)?;
        self.shape().expect_min_rank(op, 2)?;
        rhs.shape().expect_min_rank(op, 2)?;
        let (ra, rb) = (self.rank(), rhs.rank());
        let (m, k, n) = (self.dims()[ra - 2], self.dims()[ra - 1], rhs.dims()[rb - 1]);
        if rhs.dims()[rb - 2] != k {
            return Err(Error::ShapeMismatch {
                op,
                lhs: self.shape().clone(),
                rhs: rhs.shape().clone(),
            });
        }
        // [.., m, k] · [k, n] with a contiguous lhs is one GEMM over all rows; the reshape keeps
        // the weight gradient a single GEMM as well instead of a batch then a sum.
        if rb == 2 && ra > 2 && self.is_contiguous() {
            let mut dims = self.dims()[..ra - 1].to_vec();
            let rows: usize = self.dims()[..ra - 1].iter().product();
            let out = self.reshape([rows, k])?.matmul(rhs)?;
            dims.push(n);
            return out.reshape(dims);
        }
        let a_batch = Shape::from(&self.dims()[..ra - 2]);
        let batch = a_batch.broadcast_with(op, &Shape::from(&rhs.dims()[..rb - 2]))?;
        let out = if self.device().is_cuda() {
            crate::cuda::matmul(self, rhs, &batch, (m, k, n))?
        } else {
            let v = {
                let (ab, al) = self.f32_strided(op)?;
                let (bb, bl) = rhs.f32_strided(op)?;
                bmm(&ab, &al, &bb, &bl, &batch, (m, k, n), None)?
            };
            let mut dims = batch.dims().to_vec();
            dims.extend([m, n]);
            Tensor::from_f32(v, dims, self.dtype())
        };
        if !tracking(&[self, rhs]) {
            return Ok(out);
        }
        let (a, b) = (self.detach(), rhs.detach());
        Ok(record(out, &[self, rhs], move |g, needs| {
            let da = super::grad_if(needs[0], || g.matmul(&b.t()?)?.sum_to(a.shape()))?;
            let db = super::grad_if(needs[1], || a.t()?.matmul(g)?.sum_to(b.shape()))?;
            Ok(vec![da, db])
        }))
    }
}

/// `c = a·b (+ bias)` for every index of `batch`; `al` / `bl` address `[.., m, k]` / `[.., k, n]`
/// operands in the f32 buffers `ab` / `bb`. Returns contiguous `[batch.., m, n]`.
pub(crate) fn bmm(
    ab: &[f32],
    al: &Layout,
    bb: &[f32],
    bl: &Layout,
    batch: &Shape,
    (m, k, n): (usize, usize, usize),
    bias: Option<&[f32]>,
) -> Result<Vec<f32>> {
    let op = "matmul";
    let mut c = vec![0f32; batch.elem_count() * m * n];
    if c.is_empty() {
        return Ok(c);
    }
    if k == 0 {
        // An empty sum: the product is zero, leaving only the bias.
        if let Some(bias) = bias {
            c.chunks_mut(n).for_each(|row| row.copy_from_slice(bias));
        }
        return Ok(c);
    }
    let mut a_dims = batch.dims().to_vec();
    a_dims.extend([m, k]);
    let mut b_dims = batch.dims().to_vec();
    b_dims.extend([k, n]);
    let al = al.broadcast_as(op, &a_dims.into())?;
    let bl = bl.broadcast_as(op, &b_dims.into())?;
    let nb = batch.rank();
    let (sa, sb) = (&al.stride()[nb..], &bl.stride()[nb..]);
    // Size-1 batch dims address nothing; drop them so they cannot block merging.
    let dims: Vec<(usize, usize, usize)> = (0..nb)
        .filter(|&i| batch.dims()[i] != 1)
        .map(|i| (batch.dims()[i], al.stride()[i], bl.stride()[i]))
        .collect();
    // Longest suffix of batch dims where dim i-1 steps exactly over dim i in both operands.
    let mut split = dims.len().saturating_sub(1);
    while split > 0 {
        let ((_, oa, ob), (d, ia, ib)) = (dims[split - 1], dims[split]);
        if oa == ia * d && ob == ib * d {
            split -= 1;
        } else {
            break;
        }
    }
    let (outer, inner) = dims.split_at(split);
    let inner_count: usize = inner.iter().map(|t| t.0).product();
    let (ia, ib) = inner.last().map_or((0, 0), |t| (t.1, t.2));
    let sa = Strides {
        batch: ia,
        row: sa[0],
        col: sa[1],
    };
    let sb = Strides {
        batch: ib,
        row: sb[0],
        col: sb[1],
    };
    let chunk = inner_count * m * n;
    let outer_dims: Vec<usize> = outer.iter().map(|t| t.0).collect();
    let outer_sa: Vec<usize> = outer.iter().map(|t| t.1).collect();
    let outer_sb: Vec<usize> = outer.iter().map(|t| t.2).collect();
    let mut chunks = c.chunks_mut(chunk);
    walk(
        &outer_dims,
        [&outer_sa, &outer_sb],
        [al.start_offset(), bl.start_offset()],
        |[oa, ob]| {
            if let Some(dst) = chunks.next() {
                gemm(
                    inner_count,
                    m,
                    k,
                    n,
                    &ab[oa..],
                    sa,
                    &bb[ob..],
                    sb,
                    dst,
                    bias,
                    false,
                );
            }
        },
    );
    Ok(c)
}

#[cfg(test)]
mod tests {
    use crate::ops::check::{check, check_grad, rand};
    use crate::{Device, Error, Tensor};
    use proptest::prelude::*;

    /// f64 reference of a batched product with the rhs shared when it has no batch dims.
    fn mm(
        a: &[f64],
        b: &[f64],
        batch: usize,
        m: usize,
        k: usize,
        n: usize,
        b_batched: bool,
    ) -> Vec<f64> {
        let mut c = vec![0.0; batch * m * n];
        for z in 0..batch {
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

    #[test]
    fn matmul_2d_batched_and_broadcast() {
        check(
            &[rand(&[3, 4], 1), rand(&[4, 5], 2)],
            |t| t[0].matmul(&t[1]),
            |v| mm(&v[0], &v[1], 1, 3, 4, 5, true),
        );
        check(
            &[rand(&[2, 3, 4], 3), rand(&[2, 4, 2], 4)],
            |t| t[0].matmul(&t[1]),
            |v| mm(&v[0], &v[1], 2, 3, 4, 2, true),
        );
        check(
            &[rand(&[2, 3, 4], 5), rand(&[4, 2], 6)],
            |t| t[0].matmul(&t[1]),
            |v| mm(&v[0], &v[1], 2, 3, 4, 2, false),
        );
    }

    #[test]
    fn transposed_and_permuted_operands() {
        // xᵀ·y through strides, and a [B, N, H, D] → [B, H, N, D] permute as in attention.
        check_grad(&[rand(&[4, 3], 7), rand(&[4, 2], 8)], |t| {
            t[0].t()?.matmul(&t[1])
        });
        check_grad(&[rand(&[2, 3, 2, 4], 9)], |t| {
            let q = t[0].permute(&[0, 2, 1, 3])?;
            q.matmul(&q.t()?)
        });
        // A batch-broadcast lhs that is not contiguous ([1, H] vs [B, H]) loops the outer dim.
        check_grad(&[rand(&[1, 2, 3, 4], 10), rand(&[3, 2, 4, 2], 11)], |t| {
            t[0].matmul(&t[1])
        });
    }

    #[test]
    fn shape_errors() {
        let (a, b) = (rand(&[3, 4], 1), rand(&[3, 4], 2));
        assert!(matches!(
            a.matmul(&b),
            Err(Error::ShapeMismatch { op: "matmul", .. })
        ));
        let v = rand(&[4], 3);
        assert!(matches!(a.matmul(&v), Err(Error::RankTooSmall { .. })));
        let (c, d) = (rand(&[2, 3, 4], 1), rand(&[3, 4, 2], 2));
        assert!(matches!(c.matmul(&d), Err(Error::ShapeMismatch { .. })));
        let e = Tensor::zeros([4, 0], crate::DType::F32, Device::Cpu).unwrap();
        assert_eq!(a.matmul(&e).unwrap().dims(), &[3, 0]);
        let z = Tensor::zeros([3, 0], crate::DType::F32, Device::Cpu).unwrap();
        let w = Tensor::zeros([0, 2], crate::DType::F32, Device::Cpu).unwrap();
        assert_eq!(z.matmul(&w).unwrap().to_vec_f32().unwrap(), vec![0.0; 6]);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(32))]
        #[test]
        fn random_shapes_match_reference(b in 1usize..4, m in 1usize..6, k in 1usize..7, n in 1usize..6, tr in any::<bool>()) {
            let a = rand(&[b, m, k], (b * 31 + m) as u64);
            let bm = if tr { rand(&[b, n, k], k as u64).t().unwrap() } else { rand(&[b, k, n], k as u64) };
            let got = a.matmul(&bm).unwrap().to_vec_f32().unwrap();
            let bv: Vec<f64> = bm.to_vec_f32().unwrap().into_iter().map(f64::from).collect();
            let av: Vec<f64> = a.to_vec_f32().unwrap().into_iter().map(f64::from).collect();
            crate::ops::check::assert_close(&got, &mm(&av, &bv, b, m, k, n, true), 1e-5, "matmul");
        }
    }
}
