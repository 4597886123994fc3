//! Datasets, image transforms and a prefetching batch loader.
//!
//! Readers: idx (MNIST / Fashion-MNIST, optionally gzip), CIFAR-10 binary batches and, behind the
//! `images` feature, ImageFolder trees of JPEG/PNG files, on disk or inside a `.tar(.gz)`. Every
//! reader has a byte-slice entry point (`parse_idx`, `parse_cifar_bin`, `decode_image`,
//! `parse_tar`) that returns a typed error, never panics, on corrupt, truncated or empty input;
//! the file-level wrappers add the file's path.

#[cfg(feature = "images")]
mod archive;
mod cifar;
mod color;
#[cfg(feature = "images")]
mod folder;
mod idx;
mod loader;
mod memory;
mod resize;
mod split;
mod transform;

use std::path::{Path, PathBuf};

#[cfg(feature = "images")]
pub use archive::{parse_tar, ImageArchive, TarEntry};
pub use cifar::{parse_cifar_bin, CifarSplit, CIFAR_CLASSES, CIFAR_RECORD_BYTES};
#[cfg(feature = "images")]
pub use folder::{decode_image, ImageFolder};
pub use idx::{
    maybe_gunzip, parse_idx, read_idx_file, IdxArray, IdxSplit, FASHION_MNIST_DEBIAN_DIR,
    MAX_DECOMPRESSED_BYTES,
};
pub use loader::{batches_per_epoch, Batch, Loader, LoaderConfig};
pub use memory::ArrayDataset;
pub use split::stratified_split;
pub use transform::{EvalTransform, Normalize, TrainTransform, Transform};

use crate::masks::MaskError;

/// Where a reader's bytes came from, for error messages.
const IN_MEMORY: &str = "<bytes>";

/// Data-pipeline failures. Each names the file (or `<bytes>` for in-memory parsing).
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// Wrong magic, bad header, inconsistent sizes, truncated or trailing data.
    #[error("{origin}: corrupt or unsupported data: {reason}")]
    Format { origin: String, reason: String },
    #[error("{origin}: no data")]
    Empty { origin: String },
    /// An image file whose bytes the decoder rejected.
    #[error("{origin}: cannot decode image: {reason}")]
    Decode { origin: String, reason: String },
    #[error("index {index} out of range for a dataset of {len} samples")]
    IndexOutOfRange { index: usize, len: usize },
    #[error("invalid data configuration: {0}")]
    InvalidConfig(String),
    #[error("mask generation failed: {0}")]
    Mask(#[from] MaskError),
}

impl DataError {
    pub(crate) fn format(origin: &str, reason: impl Into<String>) -> Self {
        Self::Format {
            origin: origin.to_string(),
            reason: reason.into(),
        }
    }

    pub(crate) fn io(path: &Path, source: std::io::Error) -> Self {
        Self::Io {
            path: path.to_path_buf(),
            source,
        }
    }

    /// Replaces an in-memory origin with the file the bytes were read from.
    pub(crate) fn at(self, path: &Path) -> Self {
        let name = path.display().to_string();
        match self {
            Self::Format { reason, .. } => Self::Format {
                origin: name,
                reason,
            },
            Self::Empty { .. } => Self::Empty { origin: name },
            Self::Decode { reason, .. } => Self::Decode {
                origin: name,
                reason,
            },
            other => other,
        }
    }
}

/// Reads a whole file, naming it in the error.
pub(crate) fn read_file(path: &Path) -> Result<Vec<u8>, DataError> {
    std::fs::read(path).map_err(|e| DataError::io(path, e))
}

/// An 8-bit image, row-major interleaved (HWC), 1 (grey) or 3 (RGB) channels.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImageU8 {
    pub height: usize,
    pub width: usize,
    pub channels: usize,
    pub data: Vec<u8>,
}

impl ImageU8 {
    /// Checks that `data` holds exactly `height * width * channels` bytes of a non-empty 1- or
    /// 3-channel image.
    pub fn new(
        height: usize,
        width: usize,
        channels: usize,
        data: Vec<u8>,
    ) -> Result<Self, DataError> {
        let img = Self {
            height,
            width,
            channels,
            data,
        };
        img.check()?;
        Ok(img)
    }

    /// The invariant of [`ImageU8::new`]; the fields are public, so consumers re-check it.
    pub fn check(&self) -> Result<(), DataError> {
        let (h, w, c) = (self.height, self.width, self.channels);
        let want = h.checked_mul(w).and_then(|n| n.checked_mul(c));
        if h == 0 || w == 0 || !matches!(c, 1 | 3) || want != Some(self.data.len()) {
            return Err(DataError::format(
                IN_MEMORY,
                format!("image {h}x{w}x{c} with {} bytes", self.data.len()),
            ));
        }
        Ok(())
    }
}

/// A labelled image dataset. Implementations are shared across decoding threads.
pub trait Dataset: Send + Sync {
    fn len(&self) -> usize;

    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Number of classes (labels are `0..num_classes`).
    fn num_classes(&self) -> usize;

    /// Label of sample `index`.
    fn label(&self, index: usize) -> Result<usize, DataError>;

    /// Decoded pixels of sample `index`.
    fn image(&self, index: usize) -> Result<ImageU8, DataError>;

    /// All labels in order (used by the stratified split).
    fn labels(&self) -> Result<Vec<usize>, DataError> {
        (0..self.len()).map(|i| self.label(i)).collect()
    }
}

/// A view of selected samples of another dataset (e.g. one side of a train/validation split).
pub struct Subset<D> {
    inner: D,
    indices: Vec<usize>,
}

impl<D: Dataset> Subset<D> {
    /// Fails if any index is out of range for `inner`.
    pub fn new(inner: D, indices: Vec<usize>) -> Result<Self, DataError> {
        let len = inner.len();
        if let Some(&index) = indices.iter().find(|&&i| i >= len) {
            return Err(DataError::IndexOutOfRange { index, len });
        }
        Ok(Self { inner, indices })
    }

    /// Indices into the inner dataset.
    pub fn indices(&self) -> &[usize] {
        &self.indices
    }

    fn map(&self, index: usize) -> Result<usize, DataError> {
        self.indices
            .get(index)
            .copied()
            .ok_or(DataError::IndexOutOfRange {
                index,
                len: self.indices.len(),
            })
    }
}

impl<D: Dataset> Dataset for Subset<D> {
    fn len(&self) -> usize {
        self.indices.len()
    }

    fn num_classes(&self) -> usize {
        self.inner.num_classes()
    }

    fn label(&self, index: usize) -> Result<usize, DataError> {
        self.inner.label(self.map(index)?)
    }

    fn image(&self, index: usize) -> Result<ImageU8, DataError> {
        self.inner.image(self.map(index)?)
    }
}

impl<D: Dataset + ?Sized> Dataset for std::sync::Arc<D> {
    fn len(&self) -> usize {
        (**self).len()
    }

    fn num_classes(&self) -> usize {
        (**self).num_classes()
    }

    fn label(&self, index: usize) -> Result<usize, DataError> {
        (**self).label(index)
    }

    fn image(&self, index: usize) -> Result<ImageU8, DataError> {
        (**self).image(index)
    }
}
