//! Element types. Floating dtypes compute in f32 (bf16/f16 are converted on the way in and out);
//! I64 exists for index tensors (masks) and supports only views, concat and IO.

use crate::storage::CpuStorage;
use half::{bf16, f16};

/// The element type of a tensor.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DType {
    F32,
    BF16,
    F16,
    I64,
}

impl DType {
    /// Bytes per element.
    pub fn size_in_bytes(self) -> usize {
        match self {
            DType::F32 => 4,
            DType::BF16 | DType::F16 => 2,
            DType::I64 => 8,
        }
    }
    /// True for the floating dtypes ops can compute on.
    pub fn is_float(self) -> bool {
        !matches!(self, DType::I64)
    }
}

impl std::fmt::Display for DType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = match self {
            DType::F32 => "f32",
            DType::BF16 => "bf16",
            DType::F16 => "f16",
            DType::I64 => "i64",
        };
        f.write_str(s)
    }
}

/// A Rust element type that a tensor can hold. Sealed: implemented for f32, bf16, f16, i64.
pub trait Element: Copy + Send + Sync + 'static + sealed::Sealed {
    /// The matching [`DType`].
    const DTYPE: DType;
    #[doc(hidden)]
    fn into_storage(v: Vec<Self>) -> CpuStorage;
    #[doc(hidden)]
    fn slice(s: &CpuStorage) -> Option<&[Self]>;
}

macro_rules! element {
    ($t:ty, $variant:ident) => {
        impl Element for $t {
            const DTYPE: DType = DType::$variant;
            fn into_storage(v: Vec<Self>) -> CpuStorage {
                CpuStorage::$variant(v)
            }
            fn slice(s: &CpuStorage) -> Option<&[Self]> {
                match s {
                    CpuStorage::$variant(v) => Some(v),
                    _ => None,
                }
            }
        }
    };
}
element!(f32, F32);
element!(bf16, BF16);
element!(f16, F16);
element!(i64, I64);

mod sealed {
    pub trait Sealed {}
    impl Sealed for f32 {}
    impl Sealed for half::bf16 {}
    impl Sealed for half::f16 {}
    impl Sealed for i64 {}
}
