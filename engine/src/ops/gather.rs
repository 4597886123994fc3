//! Row gather along the token dim (`out[b, j, :] = x[b, index[b, j], :]`, the I-JEPA mask
//! application) and `index_select` built on it. Backward is a scatter-add, so repeated indices
//! accumulate. Indices are validated before the kernel runs.

use crate::autograd::record;
use crate::{DType, Error, Result, Shape, Tensor};
use jepa_kernels::cpu::gather::{gather_rows, scatter_add_rows};
use std::sync::Arc;

/// Row indices `[b, k]` for [`Tensor::gather_rows_idx`]; values are checked against the gathered
/// tensor's row count when used.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RowIndex {
    b: usize,
    k: usize,
    idx: Arc<Vec<usize>>,
}

impl RowIndex {
    /// Indices for `b` batch items of `k` rows each, row-major.
    pub fn new(b: usize, k: usize, idx: Vec<usize>) -> Result<RowIndex> {
        if idx.len() != b * k {
            let (from, to) = (Shape::from([idx.len()]), Shape::from([b, k]));
            return Err(Error::ElementCountMismatch {
                op: "RowIndex::new",
                from,
                to,
            });
        }
        Ok(RowIndex {
            b,
            k,
            idx: Arc::new(idx),
        })
    }
    /// From an I64 tensor `[b, k]` (or `[k]`, taken as b = 1); negative values are rejected.
    pub fn from_tensor(t: &Tensor) -> Result<RowIndex> {
        let op = "gather_rows";
        let (b, k) = match t.dims() {
            [k] => (1, *k),
            [b, k] => (*b, *k),
            _ => {
                return Err(Error::RankMismatch {
                    op,
                    expected: 2,
                    got: t.shape().clone(),
                })
            }
        };
        if t.dtype() != DType::I64 {
            return Err(Error::DTypeMismatch {
                op,
                expected: DType::I64,
                got: t.dtype(),
            });
        }
        let idx = t
            .to_vec::<i64>()?
            .into_iter()
            .map(|i| {
                usize::try_from(i).map_err(|_| Error::IndexOutOfRange {
                    op,
                    index: i,
                    size: 0,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        RowIndex::new(b, k, idx)
    }
    /// `(b, k)`.
    pub fn dims(&self) -> (usize, usize) {
        (self.b, self.k)
    }
    /// The indices, row-major.
    pub fn as_slice(&self) -> &[usize] {
        &self.idx
    }
}

impl Tensor {
    /// Gathers rows of `self: [B, N, D]` by an I64 `index: [B, K]` → `[B, K, D]`. A `self`
    /// with B = 1 is shared by every index row (e.g. a positional embedding).
    pub fn gather_rows(&self, index: &Tensor) -> Result<Tensor> {
        self.gather_rows_idx(&RowIndex::from_tensor(index)?)
    }

    /// [`Tensor::gather_rows`] with a prepared [`RowIndex`].
    pub fn gather_rows_idx(&self, index: &RowIndex) -> Result<Tensor> {
        let op = "gather_rows";
        self.expect_float(op)?;
        self.shape().expect_rank(op, 3)?;
        let (bx, n) = (self.dims()[0], self.dims()[1]);
        let (b, k) = index.dims();
        if bx != b && bx != 1 {
            let rhs = Shape::from([b, k]);
            return Err(Error::ShapeMismatch {
                op,
                lhs: self.shape().clone(),
                rhs,
            });
        }
        check_range(op, index.as_slice(), n)?;
        // A shared table is one batch item whose index list is all rows of the batch.
        let (gb, gk) = if bx == b { (b, k) } else { (1, b * k) };
        let out = gather3(self, gb, gk, index.idx.clone())?;
        out.reshape([b, k, self.dims()[2]])
    }

    /// Entries `idx` of dim `dim` (any order, repeats allowed), like `torch.index_select`.
    pub fn index_select(&self, dim: usize, idx: &[usize]) -> Result<Tensor> {
        let op = "index_select";
        self.expect_float(op)?;
        let n = self.shape().dim(op, dim)?;
        check_range(op, idx, n)?;
        let outer: usize = self.dims()[..dim].iter().product();
        let inner: usize = self.dims()[dim + 1..].iter().product();
        let x3 = self.reshape([outer, n, inner])?;
        let rep: Vec<usize> = (0..outer).flat_map(|_| idx.iter().copied()).collect();
        let out = gather3(&x3, outer, idx.len(), Arc::new(rep))?;
        let mut dims = self.dims().to_vec();
        dims[dim] = idx.len();
        out.reshape(dims)
    }
}

fn check_range(op: &'static str, idx: &[usize], n: usize) -> Result<()> {
    match idx.iter().find(|&&i| i >= n) {
        Some(&i) => Err(Error::IndexOutOfRange {
            op,
            index: i as i64,
            size: n,
        }),
        None => Ok(()),
    }
}

/// `x: [b, n, d]` gathered by validated `idx: [b, k]` → `[b, k, d]`.
fn gather3(x: &Tensor, b: usize, k: usize, idx: Arc<Vec<usize>>) -> Result<Tensor> {
    let (n, d) = (x.dims()[1], x.dims()[2]);
    if x.device().is_cuda() {
        let out = crate::cuda::gather_fwd(x, (b, n, d, k), &idx)?;
        let dtype = x.dtype();
        return Ok(record(out, &[x], move |g, _| {
            let dx = crate::cuda::scatter_bwd(g, (b, n, d, k), &idx, dtype)?;
            Ok(vec![Some(dx)])
        }));
    }
    let mut out = vec![0f32; b * k * d];
    if !out.is_empty() {
        gather_rows(
            b,
            n,
            d,
            k,
            &x.contiguous()?.f32_contig("gather_rows")?,
            &idx,
            &mut out,
        );
    }
    let out = Tensor::from_f32(out, [b, k, d], x.dtype());
    let (shape, dtype) = (x.shape().clone(), x.dtype());
    Ok(record(out, &[x], move |g, _| {
        let mut dx = vec![0f32; b * n * d];
        if !dx.is_empty() {
            scatter_add_rows(b, n, d, k, &g.f32_contig("gather_rows")?, &idx, &mut dx);
        }
        Ok(vec![Some(Tensor::from_f32(dx, shape, dtype))])
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::check::{check, rand};
    use crate::Device;

    #[test]
    fn gather_with_duplicates_accumulates() {
        let idx = Tensor::from_vec(vec![2i64, 0, 2, 1, 1, 1], [2, 3], Device::Cpu).unwrap();
        let want = |v: &[Vec<f64>]| -> Vec<f64> {
            let ix = [2, 0, 2, 1, 1, 1];
            (0..12)
                .map(|o| v[0][((o / 6) * 3 + ix[o / 2]) * 2 + o % 2])
                .collect()
        };
        check(&[rand(&[2, 3, 2], 1)], |t| t[0].gather_rows(&idx), want);
        // A shared [1, N, D] table gathered for two index rows.
        let shared = |v: &[Vec<f64>]| -> Vec<f64> {
            let ix = [2, 0, 2, 1, 1, 1];
            (0..12).map(|o| v[0][ix[o / 2] * 2 + o % 2]).collect()
        };
        check(&[rand(&[1, 3, 2], 2)], |t| t[0].gather_rows(&idx), shared);
    }

    #[test]
    fn index_select_middle_dim() {
        let x = [rand(&[2, 4, 3], 3)];
        check(
            &x,
            |t| t[0].index_select(1, &[3, 0, 3]),
            |v| {
                let ix = [3, 0, 3];
                (0..18)
                    .map(|o| v[0][(o / 9) * 12 + ix[(o / 3) % 3] * 3 + o % 3])
                    .collect()
            },
        );
    }

    #[test]
    fn bad_indices_are_typed_errors() {
        let x = rand(&[2, 3, 2], 1);
        let big = Tensor::from_vec(vec![0i64, 3], [1, 2], Device::Cpu).unwrap();
        let r = x.narrow(0, 0, 1).unwrap().gather_rows(&big);
        assert!(matches!(
            r,
            Err(Error::IndexOutOfRange {
                index: 3,
                size: 3,
                ..
            })
        ));
        let neg = Tensor::from_vec(vec![-1i64, 0], [1, 2], Device::Cpu).unwrap();
        assert!(matches!(
            x.gather_rows(&neg),
            Err(Error::IndexOutOfRange { index: -1, .. })
        ));
        let f = rand(&[2, 2], 2);
        assert!(matches!(
            x.gather_rows(&f),
            Err(Error::DTypeMismatch { .. })
        ));
        let three = Tensor::from_vec(vec![0i64; 6], [3, 2], Device::Cpu).unwrap();
        assert!(matches!(
            x.gather_rows(&three),
            Err(Error::ShapeMismatch { .. })
        ));
        assert!(matches!(
            x.index_select(2, &[2]),
            Err(Error::IndexOutOfRange { .. })
        ));
        assert!(RowIndex::new(2, 2, vec![0; 3]).is_err());
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(32))]
        #[test]
        fn random_gathers_match_reference(b in 1usize..4, n in 1usize..9, d in 1usize..11, k in 1usize..12, seed in 0u64..1000) {
            let idx: Vec<usize> = (0..b * k).map(|i| ((i as u64 * 7919 + seed) % n as u64) as usize).collect();
            let ri = RowIndex::new(b, k, idx.clone()).unwrap();
            let want = |v: &[Vec<f64>]| -> Vec<f64> {
                (0..b * k * d).map(|o| v[0][((o / (k * d)) * n + idx[o / d]) * d + o % d]).collect()
            };
            check(&[rand(&[b, n, d], seed)], |t| t[0].gather_rows_idx(&ri), want);
        }
    }
}
