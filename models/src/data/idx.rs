//! The idx format of MNIST and Fashion-MNIST, plain or gzip-compressed.
//!
//! Layout: two zero bytes, a type byte (0x08 = unsigned byte, the only one these datasets use),
//! the number of dimensions, one big-endian `u32` per dimension, then the data row-major.

use std::io::Read;
use std::path::{Path, PathBuf};

use super::{read_file, ArrayDataset, DataError, IN_MEMORY};

/// Where Debian's `dataset-fashion-mnist` package installs the four gzip-compressed idx files
/// (`train-images-idx3-ubyte.gz`, `train-labels-idx1-ubyte.gz`, `t10k-…`):
/// `apt-get install dataset-fashion-mnist`.
pub const FASHION_MNIST_DEBIAN_DIR: &str = "/usr/share/datasets/fashion-mnist";

/// Cap on gzip output, so that a corrupt or hostile file cannot exhaust memory (the largest
/// legitimate file, MNIST's training images, is 47 MB).
pub const MAX_DECOMPRESSED_BYTES: u64 = 1 << 30;

const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];
const TYPE_U8: u8 = 0x08;

/// A parsed idx array of unsigned bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdxArray {
    pub dims: Vec<usize>,
    pub data: Vec<u8>,
}

/// Parses idx bytes; gzip input (detected by its magic) is decompressed first.
pub fn parse_idx(bytes: &[u8]) -> Result<IdxArray, DataError> {
    if bytes.starts_with(&GZIP_MAGIC) {
        let raw = gunzip(bytes)?;
        return parse_raw(&raw);
    }
    parse_raw(bytes)
}

/// Decompresses `bytes` if they carry the gzip magic (output capped at
/// [`MAX_DECOMPRESSED_BYTES`]), else returns them unchanged.
pub fn maybe_gunzip(bytes: Vec<u8>) -> Result<Vec<u8>, DataError> {
    if bytes.starts_with(&GZIP_MAGIC) {
        gunzip(&bytes)
    } else {
        Ok(bytes)
    }
}

fn gunzip(bytes: &[u8]) -> Result<Vec<u8>, DataError> {
    let mut out = Vec::new();
    flate2::read::MultiGzDecoder::new(bytes)
        .take(MAX_DECOMPRESSED_BYTES + 1)
        .read_to_end(&mut out)
        .map_err(|e| DataError::format(IN_MEMORY, format!("gzip: {e}")))?;
    if out.len() as u64 > MAX_DECOMPRESSED_BYTES {
        return Err(DataError::format(
            IN_MEMORY,
            format!("gzip output exceeds {MAX_DECOMPRESSED_BYTES} bytes"),
        ));
    }
    Ok(out)
}

fn parse_raw(bytes: &[u8]) -> Result<IdxArray, DataError> {
    if bytes.is_empty() {
        return Err(DataError::Empty {
            origin: IN_MEMORY.into(),
        });
    }
    let bad = |reason: String| Err(DataError::format(IN_MEMORY, reason));
    let Some(&[z0, z1, dtype, ndim]) = bytes.first_chunk::<4>() else {
        return bad(format!(
            "{} bytes is shorter than the 4-byte magic",
            bytes.len()
        ));
    };
    if (z0, z1) != (0, 0) {
        return bad(format!("bad magic {z0:#04x}{z1:02x}, expected 0x0000"));
    }
    if dtype != TYPE_U8 {
        return bad(format!(
            "element type {dtype:#04x} unsupported (only 0x08, u8)"
        ));
    }
    if ndim == 0 {
        return bad("zero dimensions".into());
    }
    let header = 4 + 4 * usize::from(ndim);
    let Some(dim_bytes) = bytes.get(4..header) else {
        return bad(format!(
            "truncated header: {ndim} dims need {header} bytes, have {}",
            bytes.len()
        ));
    };
    let dims: Vec<usize> = dim_bytes
        .chunks_exact(4)
        .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]) as usize)
        .collect();
    let count = dims.iter().try_fold(1usize, |acc, &d| acc.checked_mul(d));
    let payload = bytes.len() - header;
    match count {
        Some(n) if n == payload => Ok(IdxArray {
            dims,
            data: bytes[header..].to_vec(),
        }),
        Some(n) if n > payload => bad(format!(
            "truncated: dims {dims:?} need {n} bytes, have {payload}"
        )),
        Some(n) => bad(format!(
            "{} trailing bytes after dims {dims:?}",
            payload - n
        )),
        None => bad(format!("dims {dims:?} overflow")),
    }
}

/// Reads and parses an idx file (plain or `.gz`), naming the file in any error.
pub fn read_idx_file(path: &Path) -> Result<IdxArray, DataError> {
    let bytes = read_file(path)?;
    parse_idx(&bytes).map_err(|e| e.at(path))
}

/// Which half of an MNIST-style dataset.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IdxSplit {
    Train,
    Test,
}

impl ArrayDataset {
    /// Pairs an images file `[N, H, W]` (or `[N, H, W, C]` with C in {1, 3}) with a labels file
    /// `[N]`; labels must be below `num_classes`.
    pub fn from_idx_files(
        images: &Path,
        labels: &Path,
        num_classes: usize,
    ) -> Result<Self, DataError> {
        let imgs = read_idx_file(images)?;
        let labs = read_idx_file(labels)?;
        let (n, shape) = match imgs.dims[..] {
            [n, h, w] => (n, (h, w, 1)),
            [n, h, w, c] => (n, (h, w, c)),
            _ => {
                return Err(DataError::format(
                    &images.display().to_string(),
                    format!(
                        "image dims {:?}, expected [N, H, W] or [N, H, W, C]",
                        imgs.dims
                    ),
                ))
            }
        };
        if labs.dims != [n] {
            return Err(DataError::format(
                &labels.display().to_string(),
                format!(
                    "label dims {:?} do not match {n} images in {}",
                    labs.dims,
                    images.display()
                ),
            ));
        }
        ArrayDataset::new(shape, imgs.data, labs.data, num_classes).map_err(|e| e.at(images))
    }

    /// Fashion-MNIST (or MNIST) from a directory holding the standard file names, with or without
    /// `.gz`, e.g. [`FASHION_MNIST_DEBIAN_DIR`]. Ten classes, 28×28 grey.
    pub fn fashion_mnist(dir: &Path, split: IdxSplit) -> Result<Self, DataError> {
        let prefix = match split {
            IdxSplit::Train => "train",
            IdxSplit::Test => "t10k",
        };
        let images = find_variant(dir, &format!("{prefix}-images-idx3-ubyte"))?;
        let labels = find_variant(dir, &format!("{prefix}-labels-idx1-ubyte"))?;
        Self::from_idx_files(&images, &labels, 10)
    }
}

/// `dir/name.gz` if present, else `dir/name` (whose absence is then the reported error).
fn find_variant(dir: &Path, name: &str) -> Result<PathBuf, DataError> {
    let gz = dir.join(format!("{name}.gz"));
    if gz.is_file() {
        return Ok(gz);
    }
    let plain = dir.join(name);
    match std::fs::metadata(&plain) {
        Ok(_) => Ok(plain),
        Err(e) => Err(DataError::io(&plain, e)),
    }
}
