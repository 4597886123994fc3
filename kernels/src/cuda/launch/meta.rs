//! By-value layout descriptors for copy.cu (`StridedMeta`, `ReduceMeta`), the op codes of copy.cu
//! and unary.cu, and the Rust CPU references of those kernels (plain loops, f64 sums).
//!
//! The descriptors merge dims that both operands can address with one stride and drop size-1
//! dims, so typical views (a transpose, a broadcast row, a narrow) reach the kernel with rank
//! 1–3; more than [`MAX_RANK`] dims after merging is an error, never a silent truncation.

use cudarc::driver::DeviceRepr;

use crate::cuda::CudaError;

/// Dims a descriptor holds after merging (`COPY_MAX_RANK` in copy.cu).
pub const MAX_RANK: usize = 8;

/// Shape plus two strided operands (source/destination of a copy, lhs/rhs of a binary op).
/// Same layout as `struct StridedMeta` in copy.cu.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StridedMeta {
    pub dims: [i64; MAX_RANK],
    pub stride_a: [i64; MAX_RANK],
    pub stride_b: [i64; MAX_RANK],
    pub offset_a: i64,
    pub offset_b: i64,
    pub rank: i32,
    pad: i32,
}

// SAFETY: repr(C), integers only, no implicit padding; matches copy.cu's struct field for field.
unsafe impl DeviceRepr for StridedMeta {}

/// A reduction of one strided input over some of its dims; the output is contiguous over the
/// kept dims in their order. Same layout as `struct ReduceMeta` in copy.cu.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReduceMeta {
    pub kept_dims: [i64; MAX_RANK],
    pub kept_stride: [i64; MAX_RANK],
    pub red_dims: [i64; MAX_RANK],
    pub red_stride: [i64; MAX_RANK],
    pub offset: i64,
    pub kept_rank: i32,
    pub red_rank: i32,
}

// SAFETY: as for StridedMeta.
unsafe impl DeviceRepr for ReduceMeta {}

fn bad(kernel: &'static str, reason: String) -> CudaError {
    CudaError::InvalidArgument { kernel, reason }
}

fn i64_of(kernel: &'static str, v: usize) -> Result<i64, CudaError> {
    i64::try_from(v).map_err(|_| bad(kernel, format!("{v} exceeds i64")))
}

/// Drops size-1 dims and merges an outer dim into the next inner one when every operand steps
/// over the inner dim exactly (`stride_outer == dim_inner · stride_inner`). Each entry is
/// (dim, strides per operand).
fn merge<const K: usize>(
    dims: impl Iterator<Item = (usize, [usize; K])>,
) -> Vec<(usize, [usize; K])> {
    let mut out: Vec<(usize, [usize; K])> = Vec::new();
    for (d, s) in dims.filter(|(d, _)| *d != 1) {
        if let Some((ld, ls)) = out.last_mut() {
            if (0..K).all(|k| ls[k] == d * s[k]) {
                *ld *= d;
                *ls = s;
                continue;
            }
        }
        out.push((d, s));
    }
    out
}

/// Largest element offset + 1 that `dims`/`strides` from `offset` address (0 when empty).
fn span(dims: &[i64], strides: &[i64], offset: i64) -> usize {
    if dims.contains(&0) {
        return 0;
    }
    let last: i64 = dims.iter().zip(strides).map(|(d, s)| (d - 1) * s).sum();
    (offset + last + 1) as usize
}

impl StridedMeta {
    /// `dims` addressed through `a = (strides, offset)` and `b = (strides, offset)`.
    pub fn new(
        dims: &[usize],
        a: (&[usize], usize),
        b: (&[usize], usize),
    ) -> Result<Self, CudaError> {
        const K: &str = "strided";
        if a.0.len() != dims.len() || b.0.len() != dims.len() {
            return Err(bad(
                K,
                format!("{} dims but strides {:?} / {:?}", dims.len(), a.0, b.0),
            ));
        }
        let mut m = StridedMeta {
            offset_a: i64_of(K, a.1)?,
            offset_b: i64_of(K, b.1)?,
            ..Default::default()
        };
        if dims.contains(&0) {
            m.rank = 1; // dims[0] = 0: nothing to launch
            return Ok(m);
        }
        let merged = merge((0..dims.len()).map(|i| (dims[i], [a.0[i], b.0[i]])));
        if merged.len() > MAX_RANK {
            return Err(bad(
                K,
                format!("{} dims after merging (max {MAX_RANK})", merged.len()),
            ));
        }
        for (i, (d, s)) in merged.iter().enumerate() {
            m.dims[i] = i64_of(K, *d)?;
            m.stride_a[i] = i64_of(K, s[0])?;
            m.stride_b[i] = i64_of(K, s[1])?;
        }
        m.rank = merged.len() as i32;
        Ok(m)
    }
    /// Number of elements (coordinates) the descriptor covers.
    pub fn elem_count(&self) -> usize {
        self.dims[..self.rank as usize].iter().product::<i64>() as usize
    }
    /// Elements operand a (resp. b) must hold: its largest offset + 1.
    pub fn span_a(&self) -> usize {
        let r = self.rank as usize;
        span(&self.dims[..r], &self.stride_a[..r], self.offset_a)
    }
    pub fn span_b(&self) -> usize {
        let r = self.rank as usize;
        span(&self.dims[..r], &self.stride_b[..r], self.offset_b)
    }
    /// Storage offsets (a, b) of row-major index `i`.
    pub fn offsets(&self, mut i: usize) -> (usize, usize) {
        let (mut oa, mut ob) = (self.offset_a, self.offset_b);
        for d in (0..self.rank as usize).rev() {
            let c = (i % self.dims[d] as usize) as i64;
            i /= self.dims[d] as usize;
            oa += c * self.stride_a[d];
            ob += c * self.stride_b[d];
        }
        (oa as usize, ob as usize)
    }
}

impl ReduceMeta {
    /// Reduces the dims flagged in `reduce` of an input with `dims`, `strides`, `offset`.
    pub fn new(
        dims: &[usize],
        strides: &[usize],
        offset: usize,
        reduce: &[bool],
    ) -> Result<Self, CudaError> {
        const K: &str = "reduce";
        if strides.len() != dims.len() || reduce.len() != dims.len() {
            return Err(bad(
                K,
                format!("dims {dims:?}, strides {strides:?}, reduce {reduce:?}"),
            ));
        }
        let mut m = ReduceMeta {
            offset: i64_of(K, offset)?,
            ..Default::default()
        };
        let pick = |want: bool| {
            let it = (0..dims.len()).filter(move |&i| reduce[i] == want);
            // A zero-size dim empties the whole side; keep it unmerged so the count stays 0.
            if it.clone().any(|i| dims[i] == 0) {
                vec![(0, [0])]
            } else {
                merge(it.map(|i| (dims[i], [strides[i]])))
            }
        };
        let (kept, red) = (pick(false), pick(true));
        if kept.len() > MAX_RANK || red.len() > MAX_RANK {
            return Err(bad(
                K,
                format!(
                    "{} kept / {} reduced dims after merging",
                    kept.len(),
                    red.len()
                ),
            ));
        }
        for (i, (d, s)) in kept.iter().enumerate() {
            m.kept_dims[i] = i64_of(K, *d)?;
            m.kept_stride[i] = i64_of(K, s[0])?;
        }
        for (i, (d, s)) in red.iter().enumerate() {
            m.red_dims[i] = i64_of(K, *d)?;
            m.red_stride[i] = i64_of(K, s[0])?;
        }
        m.kept_rank = kept.len() as i32;
        m.red_rank = red.len() as i32;
        Ok(m)
    }
    /// Number of outputs (product of the kept dims).
    pub fn out_count(&self) -> usize {
        self.kept_dims[..self.kept_rank as usize]
            .iter()
            .product::<i64>() as usize
    }
    /// Number of elements reduced into each output.
    pub fn red_count(&self) -> usize {
        self.red_dims[..self.red_rank as usize]
            .iter()
            .product::<i64>() as usize
    }
    /// True when consecutive outputs are consecutive in memory (the column kernel coalesces).
    pub fn outputs_contiguous(&self) -> bool {
        self.kept_rank > 0 && self.kept_stride[self.kept_rank as usize - 1] == 1
    }
    /// Elements the input must hold.
    pub fn span(&self) -> usize {
        if self.out_count() == 0 || self.red_count() == 0 {
            return 0;
        }
        let (k, r) = (self.kept_rank as usize, self.red_rank as usize);
        let kept = span(&self.kept_dims[..k], &self.kept_stride[..k], self.offset);
        kept + span(&self.red_dims[..r], &self.red_stride[..r], 0) - 1
    }
    fn offset_of(dims: &[i64], stride: &[i64], mut i: usize) -> usize {
        let mut o = 0i64;
        for d in (0..dims.len()).rev() {
            o += (i % dims[d] as usize) as i64 * stride[d];
            i /= dims[d] as usize;
        }
        o as usize
    }
    /// Storage offset of output `o`, reduced element `r`.
    pub fn offset_of_pair(&self, o: usize, r: usize) -> usize {
        let (k, rr) = (self.kept_rank as usize, self.red_rank as usize);
        self.offset as usize
            + Self::offset_of(&self.kept_dims[..k], &self.kept_stride[..k], o)
            + Self::offset_of(&self.red_dims[..rr], &self.red_stride[..rr], r)
    }
}

/// copy.cu's `BinaryOpCode`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BinaryOp {
    Add = 0,
    Sub = 1,
    Mul = 2,
    Div = 3,
}

impl BinaryOp {
    pub fn apply(self, a: f32, b: f32) -> f32 {
        match self {
            BinaryOp::Add => a + b,
            BinaryOp::Sub => a - b,
            BinaryOp::Mul => a * b,
            BinaryOp::Div => a / b,
        }
    }
}

/// copy.cu's `ReduceOpCode`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReduceOp {
    Sum = 0,
    Max = 1,
}

/// Reference of `strided_copy_*`: `dst[b(i)] = src[a(i)]`.
pub fn strided_copy_ref<T: Copy>(m: &StridedMeta, src: &[T], dst: &mut [T]) {
    for i in 0..m.elem_count() {
        let (a, b) = m.offsets(i);
        dst[b] = src[a];
    }
}

/// Reference of `binary_strided_*` (f32 inputs; the result is contiguous).
pub fn binary_strided_ref(op: BinaryOp, m: &StridedMeta, a: &[f32], b: &[f32]) -> Vec<f32> {
    (0..m.elem_count())
        .map(|i| {
            let (oa, ob) = m.offsets(i);
            op.apply(a[oa], b[ob])
        })
        .collect()
}

/// Reference of `reduce_rows_*` / `reduce_cols_*`, summing in f64.
pub fn reduce_ref(op: ReduceOp, m: &ReduceMeta, x: &[f32]) -> Vec<f32> {
    (0..m.out_count())
        .map(|o| {
            let vals = (0..m.red_count()).map(|r| x[m.offset_of_pair(o, r)] as f64);
            match op {
                ReduceOp::Sum => vals.sum::<f64>() as f32,
                ReduceOp::Max => vals.fold(f64::NEG_INFINITY, f64::max) as f32,
            }
        })
        .collect()
}
