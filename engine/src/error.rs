//! The engine's one error type. Variants are grouped by what went wrong (shape, dtype, device,
//! index, op, io, cuda) and carry the op name plus the offending shapes / dtypes / devices, so a
//! failure deep inside a model names its cause without a debugger.

use crate::{DType, Device, Shape};
use std::path::PathBuf;

/// `Result` with the engine [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

/// Everything the public API can fail with. No public function panics on user input.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    // ---- shape ----
    /// Two operands whose shapes do not fit together (binary ops, matmul, losses, concat).
    #[error("{op}: shape mismatch, lhs {lhs} vs rhs {rhs}")]
    ShapeMismatch {
        op: &'static str,
        lhs: Shape,
        rhs: Shape,
    },
    /// An operand of the wrong rank.
    #[error("{op}: expected rank {expected}, got shape {got}")]
    RankMismatch {
        op: &'static str,
        expected: usize,
        got: Shape,
    },
    /// An operand whose rank is below the minimum the op needs.
    #[error("{op}: expected rank >= {min}, got shape {got}")]
    RankTooSmall {
        op: &'static str,
        min: usize,
        got: Shape,
    },
    /// A dimension index past the rank.
    #[error("{op}: dim {dim} out of range for rank {rank}")]
    DimOutOfRange {
        op: &'static str,
        dim: usize,
        rank: usize,
    },
    /// A reshape between shapes with different element counts.
    #[error("{op}: cannot reshape {from} ({} elements) into {to} ({} elements)", from.elem_count(), to.elem_count())]
    ElementCountMismatch {
        op: &'static str,
        from: Shape,
        to: Shape,
    },
    /// A shape-related argument that is invalid for the op (e.g. a narrow past the end).
    #[error("{op}: invalid argument for shape {shape}: {msg}")]
    InvalidArgument {
        op: &'static str,
        shape: Shape,
        msg: String,
    },

    // ---- dtype ----
    /// Operands of different dtypes, or an operand of the wrong dtype.
    #[error("{op}: dtype mismatch, expected {expected}, got {got}")]
    DTypeMismatch {
        op: &'static str,
        expected: DType,
        got: DType,
    },
    /// A dtype the op does not support (e.g. arithmetic on I64 index tensors).
    #[error("{op}: unsupported dtype {dtype}")]
    UnsupportedDType { op: &'static str, dtype: DType },

    // ---- device ----
    /// Operands on different devices.
    #[error("{op}: device mismatch, lhs {lhs} vs rhs {rhs}")]
    DeviceMismatch {
        op: &'static str,
        lhs: Device,
        rhs: Device,
    },
    /// The device is not available in this build / on this machine.
    #[error("{op}: device {device} unavailable: {reason}")]
    DeviceUnavailable {
        op: &'static str,
        device: Device,
        reason: &'static str,
    },

    // ---- index ----
    /// An index value outside `0..size`.
    #[error("{op}: index {index} out of range for size {size}")]
    IndexOutOfRange {
        op: &'static str,
        index: i64,
        size: usize,
    },

    // ---- op / autograd ----
    /// An op or argument combination that is not implemented.
    #[error("{op}: unsupported: {msg}")]
    Unsupported { op: &'static str, msg: String },
    /// Misuse of the autograd tape (backward of an untracked or non-scalar tensor, a graph
    /// already consumed by an earlier backward, a gradient of the wrong shape).
    #[error("autograd: {msg}")]
    Autograd { msg: String },

    // ---- io ----
    /// A filesystem error while reading or writing `path`.
    #[error("io error on {path}: {msg}")]
    Io { path: PathBuf, msg: String },
    /// A malformed or unsupported safetensors file; `tensor` names the entry when known.
    #[error("safetensors {path}{}: {msg}", tensor.as_ref().map(|t| format!(" (tensor `{t}`)")).unwrap_or_default())]
    Safetensors {
        path: PathBuf,
        tensor: Option<String>,
        msg: String,
    },

    // ---- cuda ----
    /// A CUDA driver / NVRTC failure; `source` holds the driver error or the NVRTC log.
    #[error("cuda kernel {kernel}: {source}")]
    Cuda {
        kernel: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

impl Error {
    pub(crate) fn autograd(msg: impl Into<String>) -> Self {
        Error::Autograd { msg: msg.into() }
    }
}
