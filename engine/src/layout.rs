//! How a tensor's logical elements map onto its storage: shape, per-dim element strides and a
//! start offset (candle-style). View ops only produce new layouts; data moves only in
//! `contiguous` (and in ops that need contiguous inputs).

use crate::{Error, Result, Shape};

/// Shape + strides (in elements) + start offset into the storage.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Layout {
    shape: Shape,
    stride: Vec<usize>,
    start_offset: usize,
}

impl Layout {
    /// Row-major layout of `shape` starting at element 0.
    pub fn contiguous(shape: impl Into<Shape>) -> Self {
        let shape = shape.into();
        let stride = shape.stride_contiguous();
        Layout {
            shape,
            stride,
            start_offset: 0,
        }
    }
    pub(crate) fn new(shape: Shape, stride: Vec<usize>, start_offset: usize) -> Self {
        Layout {
            shape,
            stride,
            start_offset,
        }
    }
    /// The logical shape.
    pub fn shape(&self) -> &Shape {
        &self.shape
    }
    /// The logical dims.
    pub fn dims(&self) -> &[usize] {
        self.shape.dims()
    }
    /// Element strides, one per dim (0 for broadcast dims).
    pub fn stride(&self) -> &[usize] {
        &self.stride
    }
    /// Offset of element `[0, .., 0]` in the storage.
    pub fn start_offset(&self) -> usize {
        self.start_offset
    }

    /// True when the elements are stored row-major without gaps (size-1 dims ignored).
    pub fn is_contiguous(&self) -> bool {
        let mut acc = 1;
        for (&d, &s) in self.dims().iter().zip(&self.stride).rev() {
            if d != 1 && s != acc {
                return false;
            }
            acc *= d;
        }
        true
    }

    /// Swaps dims `d0` and `d1`.
    pub fn transpose(&self, op: &'static str, d0: usize, d1: usize) -> Result<Layout> {
        let rank = self.shape.rank();
        for d in [d0, d1] {
            if d >= rank {
                return Err(Error::DimOutOfRange { op, dim: d, rank });
            }
        }
        let mut perm: Vec<usize> = (0..rank).collect();
        perm.swap(d0, d1);
        self.permute(op, &perm)
    }

    /// Reorders dims: output dim `i` is input dim `perm[i]`.
    pub fn permute(&self, op: &'static str, perm: &[usize]) -> Result<Layout> {
        let rank = self.shape.rank();
        let mut seen = vec![false; rank];
        if perm.len() != rank {
            return Err(Error::InvalidArgument {
                op,
                shape: self.shape.clone(),
                msg: format!("permutation {perm:?} has the wrong length"),
            });
        }
        for &p in perm {
            if p >= rank || std::mem::replace(&mut seen[p], true) {
                return Err(Error::InvalidArgument {
                    op,
                    shape: self.shape.clone(),
                    msg: format!("{perm:?} is not a permutation of 0..{rank}"),
                });
            }
        }
        let dims = perm.iter().map(|&p| self.dims()[p]).collect::<Vec<_>>();
        let stride = perm.iter().map(|&p| self.stride[p]).collect();
        Ok(Layout::new(dims.into(), stride, self.start_offset))
    }

    /// Keeps `len` entries of dim `dim` starting at `start`.
    pub fn narrow(&self, op: &'static str, dim: usize, start: usize, len: usize) -> Result<Layout> {
        let size = self.shape.dim(op, dim)?;
        if start.checked_add(len).is_none_or(|end| end > size) {
            return Err(Error::InvalidArgument {
                op,
                shape: self.shape.clone(),
                msg: format!("range {start}..{start}+{len} exceeds dim {dim} of size {size}"),
            });
        }
        let mut dims = self.dims().to_vec();
        dims[dim] = len;
        let offset = if len == 0 {
            self.start_offset
        } else {
            self.start_offset + start * self.stride[dim]
        };
        Ok(Layout::new(dims.into(), self.stride.clone(), offset))
    }

    /// Broadcasts to `shape` (NumPy rules; new leading dims and expanded 1-dims get stride 0).
    pub fn broadcast_as(&self, op: &'static str, shape: &Shape) -> Result<Layout> {
        let (src, dst) = (self.dims(), shape.dims());
        let mismatch = || Error::ShapeMismatch {
            op,
            lhs: self.shape.clone(),
            rhs: shape.clone(),
        };
        if dst.len() < src.len() {
            return Err(mismatch());
        }
        let extra = dst.len() - src.len();
        let mut stride = vec![0; dst.len()];
        for (i, &d) in dst.iter().enumerate().skip(extra) {
            let s = src[i - extra];
            stride[i] = if s == d {
                self.stride[i - extra]
            } else if s == 1 {
                0
            } else {
                return Err(mismatch());
            };
        }
        Ok(Layout::new(shape.clone(), stride, self.start_offset))
    }

    /// Length and stride of the innermost dim (a scalar is one row of length 1).
    pub(crate) fn row(&self) -> (usize, usize) {
        match (self.dims().last(), self.stride.last()) {
            (Some(&d), Some(&s)) => (d, s),
            _ => (1, 1),
        }
    }
}

/// Calls `f` with the storage offsets of `K` layouts for every index of `dims` (row-major),
/// where layout `k` has strides `strides[k]` and start `starts[k]`. Nothing is called when a dim
/// is 0; `f` is called once for `dims == []`.
pub(crate) fn walk<const K: usize>(
    dims: &[usize],
    strides: [&[usize]; K],
    starts: [usize; K],
    mut f: impl FnMut([usize; K]),
) {
    if dims.contains(&0) {
        return;
    }
    let mut idx = vec![0usize; dims.len()];
    let mut offs = starts;
    loop {
        f(offs);
        let mut d = dims.len();
        loop {
            if d == 0 {
                return;
            }
            d -= 1;
            idx[d] += 1;
            for k in 0..K {
                offs[k] += strides[k][d];
            }
            if idx[d] < dims[d] {
                break;
            }
            for k in 0..K {
                offs[k] -= strides[k][d] * dims[d];
            }
            idx[d] = 0;
        }
    }
}

/// [`walk`] over every dim but the last: `f` gets the start offsets of each innermost row.
pub(crate) fn for_each_row<const K: usize>(layouts: [&Layout; K], f: impl FnMut([usize; K])) {
    let dims = layouts[0].dims();
    let lead = dims.len().saturating_sub(1);
    if dims.last() == Some(&0) {
        return;
    }
    let strides = layouts.map(|l| &l.stride()[..lead]);
    walk(&dims[..lead], strides, layouts.map(|l| l.start_offset()), f)
}

/// Copies the elements `layout` addresses in `src` into a new row-major vector.
pub(crate) fn copy_strided<T: Copy>(src: &[T], layout: &Layout) -> Vec<T> {
    let n = layout.shape().elem_count();
    if layout.is_contiguous() {
        let s = layout.start_offset();
        return src[s..s + n].to_vec();
    }
    let mut out = Vec::with_capacity(n);
    let (len, st) = layout.row();
    for_each_row([layout], |[o]| {
        if st == 1 {
            out.extend_from_slice(&src[o..o + len]);
        } else {
            out.extend((0..len).map(|i| src[o + i * st]));
        }
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transpose_then_copy_reads_columns() {
        let l = Layout::contiguous([2, 3]);
        let t = l.transpose("t", 0, 1).unwrap();
        assert!(!t.is_contiguous());
        let data = [0, 1, 2, 3, 4, 5];
        assert_eq!(copy_strided(&data, &t), vec![0, 3, 1, 4, 2, 5]);
    }

    #[test]
    fn narrow_and_broadcast() {
        let l = Layout::contiguous([3, 4]).narrow("n", 1, 1, 2).unwrap();
        let data: Vec<i32> = (0..12).collect();
        assert_eq!(copy_strided(&data, &l), vec![1, 2, 5, 6, 9, 10]);
        assert!(Layout::contiguous([3, 4]).narrow("n", 1, 3, 2).is_err());
        let b = Layout::contiguous([1, 2])
            .broadcast_as("b", &Shape::from([2, 3, 2]))
            .unwrap();
        assert_eq!(b.stride(), &[0, 0, 1]);
        assert_eq!(
            copy_strided(&[7, 8], &b),
            vec![7, 8, 7, 8, 7, 8, 7, 8, 7, 8, 7, 8]
        );
        assert!(Layout::contiguous([2])
            .broadcast_as("b", &Shape::from([3]))
            .is_err());
    }

    #[test]
    fn permute_validates() {
        let l = Layout::contiguous([2, 3, 4]);
        assert!(l.permute("p", &[0, 0, 1]).is_err());
        assert!(l.permute("p", &[0, 1]).is_err());
        let p = l.permute("p", &[2, 0, 1]).unwrap();
        assert_eq!(p.dims(), &[4, 2, 3]);
        assert_eq!(p.stride(), &[1, 12, 4]);
    }
}
