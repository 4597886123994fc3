//! Shapes: a list of dimension sizes plus the broadcasting rule shared by all binary ops.

use crate::{Error, Result};

/// The dimension sizes of a tensor, outermost first. Rank 0 (`[]`) is a scalar.
#[derive(Clone, PartialEq, Eq, Hash, Default)]
pub struct Shape(Vec<usize>);

impl Shape {
    /// A shape from its dimension sizes.
    pub fn new(dims: Vec<usize>) -> Self {
        Shape(dims)
    }
    /// The dimension sizes.
    pub fn dims(&self) -> &[usize] {
        &self.0
    }
    /// Number of dimensions.
    pub fn rank(&self) -> usize {
        self.0.len()
    }
    /// Product of the dimension sizes (1 for a scalar).
    pub fn elem_count(&self) -> usize {
        self.0.iter().product()
    }
    /// Row-major (C-order) element strides for this shape.
    pub fn stride_contiguous(&self) -> Vec<usize> {
        let mut stride = vec![0; self.rank()];
        let mut acc = 1;
        for (s, &d) in stride.iter_mut().zip(&self.0).rev() {
            *s = acc;
            acc *= d;
        }
        stride
    }
    /// Size of dimension `dim`, or [`Error::DimOutOfRange`].
    pub fn dim(&self, op: &'static str, dim: usize) -> Result<usize> {
        self.0.get(dim).copied().ok_or(Error::DimOutOfRange {
            op,
            dim,
            rank: self.rank(),
        })
    }
    /// Checks the rank is exactly `rank`.
    pub fn expect_rank(&self, op: &'static str, rank: usize) -> Result<()> {
        if self.rank() == rank {
            Ok(())
        } else {
            Err(Error::RankMismatch {
                op,
                expected: rank,
                got: self.clone(),
            })
        }
    }
    /// Checks the rank is at least `min`.
    pub fn expect_min_rank(&self, op: &'static str, min: usize) -> Result<()> {
        if self.rank() >= min {
            Ok(())
        } else {
            Err(Error::RankTooSmall {
                op,
                min,
                got: self.clone(),
            })
        }
    }

    /// NumPy broadcasting: align trailing dims; each pair must be equal or contain a 1.
    pub fn broadcast_with(&self, op: &'static str, rhs: &Shape) -> Result<Shape> {
        let rank = self.rank().max(rhs.rank());
        let mut out = vec![0; rank];
        for (i, o) in out.iter_mut().enumerate() {
            let l = dim_from_right(&self.0, rank - 1 - i);
            let r = dim_from_right(&rhs.0, rank - 1 - i);
            *o = match (l, r) {
                (a, b) if a == b => a,
                (1, b) => b,
                (a, 1) => a,
                _ => {
                    return Err(Error::ShapeMismatch {
                        op,
                        lhs: self.clone(),
                        rhs: rhs.clone(),
                    })
                }
            };
        }
        Ok(Shape(out))
    }
}

/// Size of the `k`-th dim counted from the right, 1 past the rank (implicit leading ones).
fn dim_from_right(dims: &[usize], k: usize) -> usize {
    if k < dims.len() {
        dims[dims.len() - 1 - k]
    } else {
        1
    }
}

impl std::fmt::Debug for Shape {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", self.0)
    }
}
impl std::fmt::Display for Shape {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", self.0)
    }
}

impl From<Vec<usize>> for Shape {
    fn from(v: Vec<usize>) -> Self {
        Shape(v)
    }
}
impl From<&[usize]> for Shape {
    fn from(v: &[usize]) -> Self {
        Shape(v.to_vec())
    }
}
impl<const N: usize> From<[usize; N]> for Shape {
    fn from(v: [usize; N]) -> Self {
        Shape(v.to_vec())
    }
}
impl From<&Shape> for Shape {
    fn from(s: &Shape) -> Self {
        s.clone()
    }
}
impl From<()> for Shape {
    fn from(_: ()) -> Self {
        Shape(Vec::new())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broadcast_rules() {
        let a = Shape::from([4, 1, 3]);
        let b = Shape::from([5, 1]);
        assert_eq!(a.broadcast_with("t", &b).unwrap(), Shape::from([4, 5, 3]));
        let c = Shape::from([2, 3]);
        assert!(matches!(
            Shape::from([4, 3]).broadcast_with("add", &c),
            Err(Error::ShapeMismatch { op: "add", .. })
        ));
        assert_eq!(Shape::from(()).broadcast_with("t", &c).unwrap(), c);
    }

    #[test]
    fn contiguous_strides() {
        assert_eq!(Shape::from([2, 3, 4]).stride_contiguous(), vec![12, 4, 1]);
        assert_eq!(Shape::from(()).stride_contiguous(), Vec::<usize>::new());
        assert_eq!(Shape::from(()).elem_count(), 1);
    }
}
