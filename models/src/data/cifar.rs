//! CIFAR-10 binary batches (`data_batch_{1..5}.bin`, `test_batch.bin`): records of one label
//! byte followed by 3072 pixel bytes, the red, green and blue 32×32 planes in turn.

use std::path::{Path, PathBuf};

use super::{read_file, ArrayDataset, DataError, IN_MEMORY};

pub const CIFAR_CLASSES: usize = 10;
const SIDE: usize = 32;
const PLANE: usize = SIDE * SIDE;
/// One label byte plus three 32×32 planes.
pub const CIFAR_RECORD_BYTES: usize = 1 + 3 * PLANE;

/// Parses one or more concatenated CIFAR-10 records into HWC images. The length must be a
/// non-zero multiple of [`CIFAR_RECORD_BYTES`] and every label below 10, which also catches most
/// misaligned or truncated files.
pub fn parse_cifar_bin(bytes: &[u8]) -> Result<ArrayDataset, DataError> {
    if bytes.is_empty() {
        return Err(DataError::Empty {
            origin: IN_MEMORY.into(),
        });
    }
    let n = bytes.len() / CIFAR_RECORD_BYTES;
    if n * CIFAR_RECORD_BYTES != bytes.len() {
        return Err(DataError::format(
            IN_MEMORY,
            format!(
                "{} bytes is not a multiple of the {CIFAR_RECORD_BYTES}-byte record (truncated?)",
                bytes.len()
            ),
        ));
    }
    let mut labels = Vec::with_capacity(n);
    let mut pixels = Vec::with_capacity(n * 3 * PLANE);
    for (i, rec) in bytes.chunks_exact(CIFAR_RECORD_BYTES).enumerate() {
        if usize::from(rec[0]) >= CIFAR_CLASSES {
            return Err(DataError::format(
                IN_MEMORY,
                format!("record {i}: label byte {} is not a CIFAR-10 class", rec[0]),
            ));
        }
        labels.push(rec[0]);
        let (r, g, b) = (
            &rec[1..1 + PLANE],
            &rec[1 + PLANE..1 + 2 * PLANE],
            &rec[1 + 2 * PLANE..],
        );
        for p in 0..PLANE {
            pixels.extend_from_slice(&[r[p], g[p], b[p]]);
        }
    }
    ArrayDataset::new((SIDE, SIDE, 3), pixels, labels, CIFAR_CLASSES)
}

/// Which CIFAR-10 files to read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CifarSplit {
    /// `data_batch_1.bin` … `data_batch_5.bin` (50,000 images).
    Train,
    /// `test_batch.bin` (10,000 images).
    Test,
}

impl ArrayDataset {
    /// CIFAR-10 from `dir` or from `dir/cifar-10-batches-bin` (the official archive's layout).
    pub fn cifar10(dir: &Path, split: CifarSplit) -> Result<Self, DataError> {
        let nested = dir.join("cifar-10-batches-bin");
        let dir = if nested.is_dir() {
            nested
        } else {
            dir.to_path_buf()
        };
        let files: Vec<PathBuf> = match split {
            CifarSplit::Train => (1..=5)
                .map(|i| dir.join(format!("data_batch_{i}.bin")))
                .collect(),
            CifarSplit::Test => vec![dir.join("test_batch.bin")],
        };
        Self::from_cifar_files(&files)
    }

    /// Concatenates the records of several CIFAR-10 binary files, in the given order.
    pub fn from_cifar_files(files: &[PathBuf]) -> Result<Self, DataError> {
        let mut pixels = Vec::new();
        let mut labels = Vec::new();
        for f in files {
            let part = parse_cifar_bin(&read_file(f)?).map_err(|e| e.at(f))?;
            pixels.extend_from_slice(part.pixels());
            labels.extend_from_slice(part.raw_labels());
        }
        if labels.is_empty() {
            return Err(DataError::InvalidConfig("no CIFAR-10 files given".into()));
        }
        ArrayDataset::new((SIDE, SIDE, 3), pixels, labels, CIFAR_CLASSES)
    }
}
