//! safetensors IO. Loading memory-maps the file: the 8-byte header length is checked against
//! the file size with a plain read before the `unsafe` map, then the safetensors crate validates
//! the whole header (JSON, dtypes, offsets covering the data exactly) on the mapped bytes.
//! Tensors are decoded (little-endian) only when asked for, so opening a large checkpoint to read
//! a few entries touches only those pages. Saving writes a temporary file in the target's
//! directory, fsyncs it and renames it over the target, so readers never see a partial file.

use crate::{DType, Device, Error, Result, Tensor};
use memmap2::Mmap;
use safetensors::tensor::{Metadata, SafeTensors, TensorInfo, View};
use safetensors::Dtype as StDtype;
use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

/// An opened, validated safetensors file.
pub struct SafetensorsFile {
    path: PathBuf,
    mmap: Mmap,
    data_start: usize,
    meta: Metadata,
}

fn io_err(path: &Path, e: impl std::fmt::Display) -> Error {
    Error::Io {
        path: path.to_path_buf(),
        msg: e.to_string(),
    }
}
fn st_err(path: &Path, tensor: Option<&str>, msg: impl Into<String>) -> Error {
    Error::Safetensors {
        path: path.to_path_buf(),
        tensor: tensor.map(str::to_string),
        msg: msg.into(),
    }
}

impl SafetensorsFile {
    /// Opens and validates `path`.
    pub fn open(path: impl AsRef<Path>) -> Result<SafetensorsFile> {
        let path = path.as_ref();
        let mut file = File::open(path).map_err(|e| io_err(path, e))?;
        let len = file.metadata().map_err(|e| io_err(path, e))?.len();
        let mut n = [0u8; 8];
        file.read_exact(&mut n)
            .map_err(|_| st_err(path, None, format!("file of {len} bytes has no header")))?;
        let n = u64::from_le_bytes(n);
        if n.checked_add(8).is_none_or(|end| end > len) {
            return Err(st_err(
                path,
                None,
                format!("header length {n} exceeds file size {len}"),
            ));
        }
        // SAFETY: the map is read-only and private to this struct. Like every mmap reader we
        // rely on the file not being truncated while mapped; `save` replaces files by rename,
        // which leaves existing maps of the old inode intact.
        let mmap = unsafe { Mmap::map(&file) }.map_err(|e| io_err(path, e))?;
        let (n, meta) =
            SafeTensors::read_metadata(&mmap).map_err(|e| st_err(path, None, e.to_string()))?;
        Ok(SafetensorsFile {
            path: path.to_path_buf(),
            mmap,
            data_start: 8 + n,
            meta,
        })
    }

    /// The file this was opened from.
    pub fn path(&self) -> &Path {
        &self.path
    }
    /// Tensor names, sorted.
    pub fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.meta.tensors().into_keys().collect();
        names.sort();
        names
    }
    /// The free-form `__metadata__` string map, if present.
    pub fn metadata(&self) -> Option<&HashMap<String, String>> {
        self.meta.metadata().as_ref()
    }
    /// The stored shape of `name`.
    pub fn shape(&self, name: &str) -> Result<Vec<usize>> {
        Ok(self.info(name)?.shape.clone())
    }

    fn info(&self, name: &str) -> Result<&TensorInfo> {
        self.meta
            .info(name)
            .ok_or_else(|| st_err(&self.path, Some(name), "no such tensor"))
    }

    /// Decodes tensor `name` (F32, BF16, F16 or I64) into a CPU tensor.
    pub fn tensor(&self, name: &str) -> Result<Tensor> {
        let info = self.info(name)?;
        let (start, end) = info.data_offsets;
        let bytes = &self.mmap[self.data_start + start..self.data_start + end];
        let shape = info.shape.clone();
        macro_rules! decode {
            ($t:ty, $n:literal) => {
                bytes
                    .chunks_exact($n)
                    .map(|c| <$t>::from_le_bytes(c.try_into().unwrap_or([0; $n])))
                    .collect::<Vec<_>>()
            };
        }
        match info.dtype {
            StDtype::F32 => Tensor::from_vec(decode!(f32, 4), shape, Device::Cpu),
            StDtype::BF16 => Tensor::from_vec(decode!(half::bf16, 2), shape, Device::Cpu),
            StDtype::F16 => Tensor::from_vec(decode!(half::f16, 2), shape, Device::Cpu),
            StDtype::I64 => Tensor::from_vec(decode!(i64, 8), shape, Device::Cpu),
            other => Err(st_err(
                &self.path,
                Some(name),
                format!("unsupported dtype {other:?}"),
            )),
        }
        .map_err(|e| match e {
            Error::Safetensors { .. } => e,
            e => st_err(&self.path, Some(name), e.to_string()),
        })
    }

    /// Every tensor, by name.
    pub fn load_all(&self) -> Result<HashMap<String, Tensor>> {
        self.names()
            .into_iter()
            .map(|n| Ok((n.clone(), self.tensor(&n)?)))
            .collect()
    }
}

/// Loads every tensor of a safetensors file.
pub fn load(path: impl AsRef<Path>) -> Result<HashMap<String, Tensor>> {
    SafetensorsFile::open(path)?.load_all()
}

/// One tensor's little-endian bytes, ready for serialisation.
struct Raw {
    dtype: StDtype,
    shape: Vec<usize>,
    bytes: Vec<u8>,
}

impl View for &Raw {
    fn dtype(&self) -> StDtype {
        self.dtype
    }
    fn shape(&self) -> &[usize] {
        &self.shape
    }
    fn data(&self) -> Cow<'_, [u8]> {
        Cow::Borrowed(&self.bytes)
    }
    fn data_len(&self) -> usize {
        self.bytes.len()
    }
}

fn to_raw(t: &Tensor) -> Result<Raw> {
    let shape = t.dims().to_vec();
    let (dtype, bytes): (StDtype, Vec<u8>) = match t.dtype() {
        DType::F32 => (
            StDtype::F32,
            t.to_vec::<f32>()?
                .iter()
                .flat_map(|v| v.to_le_bytes())
                .collect(),
        ),
        DType::BF16 => (
            StDtype::BF16,
            t.to_vec::<half::bf16>()?
                .iter()
                .flat_map(|v| v.to_le_bytes())
                .collect(),
        ),
        DType::F16 => (
            StDtype::F16,
            t.to_vec::<half::f16>()?
                .iter()
                .flat_map(|v| v.to_le_bytes())
                .collect(),
        ),
        DType::I64 => (
            StDtype::I64,
            t.to_vec::<i64>()?
                .iter()
                .flat_map(|v| v.to_le_bytes())
                .collect(),
        ),
    };
    Ok(Raw {
        dtype,
        shape,
        bytes,
    })
}

/// Writes `tensors` (and optional `__metadata__`) to `path` atomically: a temporary file in the
/// same directory is written, fsynced and renamed over `path`.
pub fn save<'a>(
    tensors: impl IntoIterator<Item = (&'a str, &'a Tensor)>,
    metadata: Option<HashMap<String, String>>,
    path: impl AsRef<Path>,
) -> Result<()> {
    let path = path.as_ref();
    let mut seen = HashSet::new();
    let mut raws = Vec::new();
    for (name, t) in tensors {
        if !seen.insert(name) {
            return Err(st_err(path, Some(name), "duplicate tensor name"));
        }
        raws.push((
            name.to_string(),
            to_raw(t).map_err(|e| st_err(path, Some(name), e.to_string()))?,
        ));
    }
    let bytes = safetensors::serialize(raws.iter().map(|(n, r)| (n.as_str(), r)), metadata)
        .map_err(|e| st_err(path, None, e.to_string()))?;
    crate::atomic::write_atomic(
        path,
        |w| w.write_all(&bytes).map_err(|e| io_err(path, e)),
        |p, e| io_err(p, e),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmpdir(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("jepa-engine-io-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn roundtrip_all_dtypes_and_views() {
        let d = tmpdir("rt");
        let a = Tensor::rand_uniform([3, 4], -1.0, 1.0, 7, Device::Cpu).unwrap();
        let at = a.t().unwrap(); // saved in logical (transposed) order
        let b = a.to_dtype(DType::BF16).unwrap();
        let h = a.to_dtype(DType::F16).unwrap();
        let i = Tensor::from_vec(vec![1i64, -2, 3], [3], Device::Cpu).unwrap();
        let meta = HashMap::from([("k".to_string(), "v".to_string())]);
        let p = d.join("x.safetensors");
        save(
            [("a", &at), ("b", &b), ("h", &h), ("i", &i)],
            Some(meta),
            &p,
        )
        .unwrap();
        let f = SafetensorsFile::open(&p).unwrap();
        assert_eq!(f.names(), vec!["a", "b", "h", "i"]);
        assert_eq!(f.metadata().unwrap()["k"], "v");
        assert_eq!(
            f.tensor("a").unwrap().to_vec::<f32>().unwrap(),
            at.to_vec::<f32>().unwrap()
        );
        assert_eq!(
            f.tensor("b").unwrap().to_vec::<half::bf16>().unwrap(),
            b.to_vec::<half::bf16>().unwrap()
        );
        assert_eq!(f.tensor("h").unwrap().dtype(), DType::F16);
        assert_eq!(
            f.tensor("i").unwrap().to_vec::<i64>().unwrap(),
            vec![1, -2, 3]
        );
        assert!(
            matches!(f.tensor("zz"), Err(Error::Safetensors { tensor: Some(t), .. }) if t == "zz")
        );
        assert!(std::fs::read_dir(&d).unwrap().all(|e| !e
            .unwrap()
            .file_name()
            .to_string_lossy()
            .contains(".tmp")));
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn corrupt_files_are_typed_errors() {
        let d = tmpdir("bad");
        let p = d.join("bad.safetensors");
        std::fs::write(&p, [1u8, 2, 3]).unwrap();
        assert!(matches!(
            SafetensorsFile::open(&p),
            Err(Error::Safetensors { .. })
        ));
        std::fs::write(&p, 1000u64.to_le_bytes()).unwrap();
        assert!(matches!(
            SafetensorsFile::open(&p),
            Err(Error::Safetensors { .. })
        ));
        let mut bytes = 2u64.to_le_bytes().to_vec();
        bytes.extend(b"{]");
        std::fs::write(&p, &bytes).unwrap();
        assert!(
            matches!(SafetensorsFile::open(&p), Err(Error::Safetensors { path, .. }) if path == p)
        );
        assert!(matches!(
            SafetensorsFile::open(d.join("missing")),
            Err(Error::Io { .. })
        ));
        let t = Tensor::scalar(1.0);
        assert!(matches!(
            save([("x", &t), ("x", &t)], None, &p),
            Err(Error::Safetensors { .. })
        ));
        std::fs::remove_dir_all(&d).unwrap();
    }
}
