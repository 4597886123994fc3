//! Checkpoints: named f32 tensors plus string metadata (step, RNG state, config text) in a
//! safetensors file, written atomically and read back with validation.
//!
//! The model code decides tensor names (official I-JEPA state-dict keys); this module only
//! stores them. Readers validate the whole header before touching data and report the file and
//! tensor in every error.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use safetensors::tensor::{SafeTensors, View};
use safetensors::Dtype;

use crate::rng::Rng;

/// Metadata key holding the format tag written by [`Checkpoint::save`].
pub const META_FORMAT: &str = "format";
/// Format tag value.
pub const FORMAT_TAG: &str = "jepa-checkpoint-v1";
/// Conventional key for the global training step.
pub const META_STEP: &str = "step";
/// Conventional key for the run configuration text (TOML or JSON).
pub const META_CONFIG: &str = "config";

const IN_MEMORY: &str = "<bytes>";

/// Checkpoint failures; each names the file (or `<bytes>`) and, where relevant, the tensor or
/// metadata key.
#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// Not a valid safetensors file: truncated, bad header, offsets not covering the data.
    #[error("{origin}: corrupt checkpoint: {reason}")]
    Corrupt { origin: String, reason: String },
    #[error("{origin}: tensor `{tensor}` has dtype {dtype}, expected F32")]
    WrongDtype {
        origin: String,
        tensor: String,
        dtype: String,
    },
    #[error("{origin}: tensor `{tensor}` not found")]
    MissingTensor { origin: String, tensor: String },
    #[error("{origin}: tensor `{tensor}` has shape {found:?}, expected {expected:?}")]
    ShapeMismatch {
        origin: String,
        tensor: String,
        expected: Vec<usize>,
        found: Vec<usize>,
    },
    /// Data length does not match the shape when building a checkpoint.
    #[error("tensor `{tensor}`: {len} values for shape {shape:?}")]
    BadTensor {
        tensor: String,
        shape: Vec<usize>,
        len: usize,
    },
    #[error("{origin}: metadata `{key}` not found")]
    MissingMetadata { origin: String, key: String },
    #[error("{origin}: metadata `{key}` = {value:?} is invalid: {reason}")]
    BadMetadata {
        origin: String,
        key: String,
        value: String,
        reason: String,
    },
}

/// One tensor: shape and row-major values.
#[derive(Clone, Debug, PartialEq)]
pub struct TensorData {
    pub shape: Vec<usize>,
    pub data: Vec<f32>,
}

/// A set of named f32 tensors and string metadata.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Checkpoint {
    origin: String,
    tensors: BTreeMap<String, TensorData>,
    metadata: BTreeMap<String, String>,
}

/// Borrowed f32 tensor for the safetensors writer.
struct F32View<'a>(&'a TensorData);

impl View for F32View<'_> {
    fn dtype(&self) -> Dtype {
        Dtype::F32
    }

    fn shape(&self) -> &[usize] {
        &self.0.shape
    }

    fn data(&self) -> Cow<'_, [u8]> {
        if cfg!(target_endian = "little") {
            Cow::Borrowed(bytemuck::cast_slice(&self.0.data))
        } else {
            Cow::Owned(self.0.data.iter().flat_map(|v| v.to_le_bytes()).collect())
        }
    }

    fn data_len(&self) -> usize {
        self.0.data.len() * 4
    }
}

fn corrupt(origin: &str, e: impl std::fmt::Display) -> CheckpointError {
    CheckpointError::Corrupt {
        origin: origin.to_string(),
        reason: e.to_string(),
    }
}

impl Checkpoint {
    pub fn new() -> Self {
        Self {
            origin: IN_MEMORY.into(),
            ..Self::default()
        }
    }

    /// Where this checkpoint was read from (`<bytes>` if built or parsed in memory).
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// Adds or replaces a tensor; `data.len()` must equal the product of `shape`.
    pub fn insert(
        &mut self,
        name: impl Into<String>,
        shape: &[usize],
        data: Vec<f32>,
    ) -> Result<(), CheckpointError> {
        let name = name.into();
        if shape.iter().try_fold(1usize, |a, &d| a.checked_mul(d)) != Some(data.len()) {
            return Err(CheckpointError::BadTensor {
                tensor: name,
                shape: shape.to_vec(),
                len: data.len(),
            });
        }
        let shape = shape.to_vec();
        self.tensors.insert(name, TensorData { shape, data });
        Ok(())
    }

    /// Tensor names in sorted order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.tensors.keys().map(String::as_str)
    }

    pub fn len(&self) -> usize {
        self.tensors.len()
    }

    pub fn is_empty(&self) -> bool {
        self.tensors.is_empty()
    }

    /// The tensor `name`, whatever its shape.
    pub fn tensor(&self, name: &str) -> Result<&TensorData, CheckpointError> {
        self.tensors
            .get(name)
            .ok_or_else(|| CheckpointError::MissingTensor {
                origin: self.origin.clone(),
                tensor: name.into(),
            })
    }

    /// Values of `name`, which must have shape `expected`.
    pub fn get(&self, name: &str, expected: &[usize]) -> Result<&[f32], CheckpointError> {
        let t = self.tensor(name)?;
        if t.shape != expected {
            return Err(CheckpointError::ShapeMismatch {
                origin: self.origin.clone(),
                tensor: name.into(),
                expected: expected.to_vec(),
                found: t.shape.clone(),
            });
        }
        Ok(&t.data)
    }

    /// Removes and returns `name` after checking its shape, so a loader can finish by checking
    /// that nothing unexpected is left (see [`Checkpoint::names`]).
    pub fn take(&mut self, name: &str, expected: &[usize]) -> Result<Vec<f32>, CheckpointError> {
        self.get(name, expected)?;
        Ok(self
            .tensors
            .remove(name)
            .map(|t| t.data)
            .unwrap_or_default())
    }

    pub fn set_meta(&mut self, key: impl Into<String>, value: impl Into<String>) {
        self.metadata.insert(key.into(), value.into());
    }

    pub fn metadata(&self) -> &BTreeMap<String, String> {
        &self.metadata
    }

    /// Metadata value of `key`.
    pub fn meta(&self, key: &str) -> Result<&str, CheckpointError> {
        self.metadata
            .get(key)
            .map(String::as_str)
            .ok_or_else(|| CheckpointError::MissingMetadata {
                origin: self.origin.clone(),
                key: key.into(),
            })
    }

    fn bad_meta(&self, key: &str, reason: impl Into<String>) -> CheckpointError {
        CheckpointError::BadMetadata {
            origin: self.origin.clone(),
            key: key.into(),
            value: self.metadata.get(key).cloned().unwrap_or_default(),
            reason: reason.into(),
        }
    }

    /// Stores integers as a comma-separated decimal list (exact, unlike JSON numbers).
    pub fn set_u64s(&mut self, key: impl Into<String>, values: &[u64]) {
        let text: Vec<String> = values.iter().map(u64::to_string).collect();
        self.set_meta(key, text.join(","));
    }

    pub fn u64s(&self, key: &str) -> Result<Vec<u64>, CheckpointError> {
        let text = self.meta(key)?;
        if text.is_empty() {
            return Ok(Vec::new());
        }
        text.split(',')
            .map(|s| s.trim().parse::<u64>())
            .collect::<Result<_, _>>()
            .map_err(|e| self.bad_meta(key, e.to_string()))
    }

    pub fn set_u64(&mut self, key: impl Into<String>, value: u64) {
        self.set_u64s(key, &[value]);
    }

    pub fn u64(&self, key: &str) -> Result<u64, CheckpointError> {
        match self.u64s(key)?[..] {
            [v] => Ok(v),
            _ => Err(self.bad_meta(key, "expected one integer")),
        }
    }

    /// Stores a generator's state as its four state words.
    pub fn set_rng(&mut self, key: impl Into<String>, rng: &Rng) {
        self.set_u64s(key, &rng.state());
    }

    pub fn rng(&self, key: &str) -> Result<Rng, CheckpointError> {
        let words: [u64; 4] = self.u64s(key)?[..]
            .try_into()
            .map_err(|_| self.bad_meta(key, "expected 4 state words"))?;
        Rng::from_state(words).ok_or_else(|| self.bad_meta(key, "all-zero generator state"))
    }

    fn st_metadata(&self) -> HashMap<String, String> {
        let mut m: HashMap<String, String> = self.metadata.clone().into_iter().collect();
        m.insert(META_FORMAT.into(), FORMAT_TAG.into());
        m
    }

    fn views(&self) -> impl Iterator<Item = (&str, F32View<'_>)> {
        self.tensors.iter().map(|(k, v)| (k.as_str(), F32View(v)))
    }

    /// The safetensors bytes of this checkpoint.
    pub fn to_bytes(&self) -> Result<Vec<u8>, CheckpointError> {
        safetensors::serialize(self.views(), Some(self.st_metadata()))
            .map_err(|e| corrupt(&self.origin, e))
    }

    /// Parses safetensors bytes (fully validated; every tensor must be F32).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, CheckpointError> {
        parse(bytes, IN_MEMORY)
    }

    /// Writes `path` atomically: a reader sees the previous file or this one, never a mix; on
    /// error no temporary file is left and an existing `path` is untouched.
    pub fn save(&self, path: &Path) -> Result<(), CheckpointError> {
        let io = |p: &Path, source| CheckpointError::Io {
            path: p.to_path_buf(),
            source,
        };
        let write = |tmp: &Path| {
            let meta = Some(self.st_metadata());
            safetensors::serialize_to_file(self.views(), meta, tmp).map_err(|e| match e {
                safetensors::SafeTensorError::IoError(source) => io(tmp, source),
                other => corrupt(&path.display().to_string(), other),
            })
        };
        jepa_engine::atomic::replace_file(path, write, io)
    }

    /// Reads and validates `path`.
    pub fn load(path: &Path) -> Result<Self, CheckpointError> {
        let bytes = std::fs::read(path).map_err(|source| CheckpointError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        parse(&bytes, &path.display().to_string())
    }
}

fn parse(bytes: &[u8], origin: &str) -> Result<Checkpoint, CheckpointError> {
    // `read_metadata` checks the header JSON, every dtype/shape/offset, and that the offsets
    // tile the data section exactly, so the slicing below cannot go out of bounds.
    let (n, meta) = SafeTensors::read_metadata(bytes).map_err(|e| corrupt(origin, e))?;
    let data = bytes
        .get(8 + n..)
        .ok_or_else(|| corrupt(origin, "no data section"))?;
    let mut tensors = BTreeMap::new();
    for (name, info) in meta.tensors() {
        if info.dtype != Dtype::F32 {
            return Err(CheckpointError::WrongDtype {
                origin: origin.into(),
                tensor: name,
                dtype: format!("{:?}", info.dtype),
            });
        }
        let (start, end) = info.data_offsets;
        let raw = data
            .get(start..end)
            .ok_or_else(|| corrupt(origin, format!("tensor `{name}` offsets out of range")))?;
        let values = raw
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        let shape = info.shape.clone();
        tensors.insert(
            name,
            TensorData {
                shape,
                data: values,
            },
        );
    }
    let metadata = meta
        .metadata()
        .clone()
        .unwrap_or_default()
        .into_iter()
        .collect();
    Ok(Checkpoint {
        origin: origin.into(),
        tensors,
        metadata,
    })
}
