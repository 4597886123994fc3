//! A named parameter store: an ordered map official-name → tensor over ONE flat f32 buffer.
//!
//! Every parameter is a view (offset + shape) into the flat buffer, so optimizer steps and the
//! EMA run over contiguous memory, and loading / saving safetensors with official names is a 1:1
//! map. Trainable parameters are [`Var`]s (leaves keyed by a stable id); a frozen store (the
//! target encoder) holds plain views that never record a tape.

use super::error::{ModelError, ModelResult};
use crate::rng::Rng;
use jepa_engine::{DType, Device, Gradients, Tensor, Var};
use std::collections::HashMap;
use std::path::Path;

/// How [`ParamStore::init`] fills a parameter.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Init {
    /// Normal(0, std) truncated at ±2 absolute (official `trunc_normal_`, effectively untruncated).
    TruncNormal(f32),
    Zeros,
    Ones,
    /// Identity matrix (square 2-D parameters).
    Identity,
    /// Left as written by the owner (fixed tables such as the sin-cos position embedding).
    Keep,
}

/// Declaration of one parameter.
#[derive(Clone, Debug, PartialEq)]
pub struct ParamSpec {
    pub name: String,
    pub shape: Vec<usize>,
    pub init: Init,
    /// False for fixed buffers stored in the state dict but never trained (pos embeds).
    pub trainable: bool,
}

impl ParamSpec {
    pub fn new(name: impl Into<String>, shape: &[usize], init: Init) -> ParamSpec {
        ParamSpec {
            name: name.into(),
            shape: shape.to_vec(),
            init,
            trainable: true,
        }
    }
    /// A fixed (never trained) buffer.
    pub fn fixed(name: impl Into<String>, shape: &[usize]) -> ParamSpec {
        ParamSpec {
            trainable: false,
            ..ParamSpec::new(name, shape, Init::Keep)
        }
    }
}

/// One parameter of a store.
#[derive(Clone, Debug)]
pub struct Param {
    spec: ParamSpec,
    offset: usize,
    numel: usize,
    /// The value used in ops: a tracked leaf for trainable params of a trainable store.
    value: Tensor,
    var: Option<Var>,
}

impl Param {
    pub fn name(&self) -> &str {
        &self.spec.name
    }
    pub fn shape(&self) -> &[usize] {
        &self.spec.shape
    }
    pub fn spec(&self) -> &ParamSpec {
        &self.spec
    }
    /// Offset of the first element in the store's flat buffer.
    pub fn offset(&self) -> usize {
        self.offset
    }
    pub fn numel(&self) -> usize {
        self.numel
    }
    /// The tensor to use in ops (a tracked [`Var`] when trainable).
    pub fn value(&self) -> &Tensor {
        &self.value
    }
    /// The leaf, when this parameter receives gradients.
    pub fn var(&self) -> Option<&Var> {
        self.var.as_ref()
    }
    /// Official weight-decay rule (methods.md §1.8): decayed unless the name contains `bias` or
    /// the parameter is 1-D. `mask_token` [1,1,Dp] and the patch-embed conv weight ARE decayed.
    pub fn decayed(&self) -> bool {
        !self.spec.name.contains("bias") && self.spec.shape.len() != 1
    }
}

/// Ordered official-name → parameter map over one flat f32 buffer. Not `Clone`: a clone would
/// alias the buffer; use [`ParamStore::frozen_copy`] for an independent copy.
#[derive(Debug)]
pub struct ParamStore {
    flat: Tensor,
    params: Vec<Param>,
    index: HashMap<String, usize>,
    trainable: bool,
}

impl ParamStore {
    /// A zero-filled store; `trainable` makes every trainable spec a gradient leaf.
    pub fn new(specs: Vec<ParamSpec>, trainable: bool) -> ModelResult<ParamStore> {
        let total: usize = specs
            .iter()
            .map(|s| s.shape.iter().product::<usize>())
            .sum();
        let flat = Tensor::zeros([total], DType::F32, Device::Cpu)?;
        let mut params = Vec::with_capacity(specs.len());
        let mut index = HashMap::new();
        let mut offset = 0;
        for spec in specs {
            let numel: usize = spec.shape.iter().product();
            let view = flat.narrow(0, offset, numel)?.reshape(spec.shape.clone())?;
            let var = (trainable && spec.trainable).then(|| Var::new(&view));
            let value = var.as_ref().map_or(view, |v| v.as_tensor().clone());
            if index.insert(spec.name.clone(), params.len()).is_some() {
                return Err(ModelError::Config(format!(
                    "duplicate parameter `{}`",
                    spec.name
                )));
            }
            params.push(Param {
                spec,
                offset,
                numel,
                value,
                var,
            });
            offset += numel;
        }
        Ok(ParamStore {
            flat,
            params,
            index,
            trainable,
        })
    }

    /// A store with the same layout and values whose parameters never track gradients.
    pub fn frozen_copy(&self) -> ModelResult<ParamStore> {
        let specs = self.params.iter().map(|p| p.spec.clone()).collect();
        let out = ParamStore::new(specs, false)?;
        out.copy_values_from(self)?;
        Ok(out)
    }

    /// Fills every parameter by its [`Init`]; each parameter draws from its own stream
    /// `(seed, hash(name))`, so adding a parameter never changes the others' values.
    pub fn init(&self, seed: u64) -> ModelResult<()> {
        let params = &self.params;
        self.flat.update_f32(|flat| {
            for p in params {
                let dst = &mut flat[p.offset..p.offset + p.numel];
                match p.spec.init {
                    Init::TruncNormal(std) => {
                        let mut rng = Rng::from_seeds(&[seed, fnv1a(&p.spec.name)]);
                        dst.iter_mut()
                            .for_each(|v| *v = trunc_normal(&mut rng, std));
                    }
                    Init::Zeros => dst.fill(0.0),
                    Init::Ones => dst.fill(1.0),
                    Init::Identity => {
                        dst.fill(0.0);
                        let n = p.spec.shape.last().copied().unwrap_or(0);
                        for i in 0..n.min(dst.len() / n.max(1)) {
                            dst[i * n + i] = 1.0;
                        }
                    }
                    Init::Keep => {}
                }
            }
        })?;
        Ok(())
    }

    pub fn len(&self) -> usize {
        self.params.len()
    }
    pub fn is_empty(&self) -> bool {
        self.params.is_empty()
    }
    /// Total element count (length of the flat buffer).
    pub fn numel(&self) -> usize {
        self.flat.elem_count()
    }
    /// Whether trainable specs are gradient leaves in this store.
    pub fn is_trainable(&self) -> bool {
        self.trainable
    }
    /// Parameters in declaration (official state-dict) order.
    pub fn params(&self) -> &[Param] {
        &self.params
    }
    pub fn get(&self, name: &str) -> Option<&Param> {
        self.index.get(name).map(|&i| &self.params[i])
    }
    /// The op value of `name`, or [`ModelError::MissingParam`].
    pub fn value(&self, name: &str) -> ModelResult<Tensor> {
        self.get(name)
            .map(|p| p.value.clone())
            .ok_or_else(|| ModelError::MissingParam {
                name: name.into(),
                origin: "the model".into(),
            })
    }
    /// The flat buffer (`[numel]`, F32).
    pub fn flat(&self) -> &Tensor {
        &self.flat
    }
    /// Runs `f` on the flat buffer in place (optimizer steps, EMA, loading).
    pub fn with_flat_mut<R>(&self, f: impl FnOnce(&mut [f32]) -> R) -> ModelResult<R> {
        Ok(self.flat.update_f32(f)?)
    }
    /// The values of `name` as a row-major vector.
    pub fn to_vec(&self, name: &str) -> ModelResult<Vec<f32>> {
        Ok(self.value(name)?.to_vec_f32()?)
    }

    /// Copies every value of `other`, which must have the same names, shapes and order.
    pub fn copy_values_from(&self, other: &ParamStore) -> ModelResult<()> {
        self.check_same_layout(other)?;
        let src = other.flat.to_vec_f32()?;
        self.with_flat_mut(|d| d.copy_from_slice(&src))
    }

    /// Errors unless `other` has the same parameter names, shapes and offsets.
    pub fn check_same_layout(&self, other: &ParamStore) -> ModelResult<()> {
        for (a, b) in self.params.iter().zip(&other.params) {
            if a.spec.name != b.spec.name || a.spec.shape != b.spec.shape {
                return Err(ModelError::ParamShape {
                    name: format!("{} vs {}", a.spec.name, b.spec.name),
                    expected: a.spec.shape.clone(),
                    found: b.spec.shape.clone(),
                });
            }
        }
        if self.params.len() != other.params.len() {
            return Err(ModelError::Config(format!(
                "stores differ in length: {} vs {} parameters",
                self.params.len(),
                other.params.len()
            )));
        }
        Ok(())
    }

    /// Loads `prefix + name` for every parameter from `map`. Extra names in `map` that start
    /// with `prefix` are an error when `strict`; a leading `module.` (DDP) is stripped.
    pub fn load_map(
        &self,
        map: &HashMap<String, Tensor>,
        prefix: &str,
        origin: &str,
        strict: bool,
    ) -> ModelResult<()> {
        let lookup = |name: &str| {
            let key = format!("{prefix}{name}");
            map.get(&key).or_else(|| map.get(&format!("module.{key}")))
        };
        for p in &self.params {
            let t = lookup(&p.spec.name).ok_or_else(|| ModelError::MissingParam {
                name: format!("{prefix}{}", p.spec.name),
                origin: origin.into(),
            })?;
            if t.dims() != p.spec.shape.as_slice() {
                return Err(ModelError::ParamShape {
                    name: format!("{prefix}{}", p.spec.name),
                    expected: p.spec.shape.clone(),
                    found: t.dims().to_vec(),
                });
            }
        }
        if strict {
            for key in map.keys() {
                let key = key.strip_prefix("module.").unwrap_or(key);
                if let Some(name) = key.strip_prefix(prefix) {
                    if !self.index.contains_key(name) {
                        return Err(ModelError::UnknownParam {
                            name: key.into(),
                            origin: origin.into(),
                        });
                    }
                }
            }
        }
        let vals = self
            .params
            .iter()
            .map(|p| Ok(lookup(&p.spec.name).map(|t| t.to_vec_f32()).transpose()?))
            .collect::<ModelResult<Vec<_>>>()?;
        self.with_flat_mut(|flat| {
            for (p, v) in self.params.iter().zip(vals.into_iter().flatten()) {
                flat[p.offset..p.offset + p.numel].copy_from_slice(&v);
            }
        })
    }

    /// Loads a safetensors file written with official names (strict).
    pub fn load_safetensors(&self, path: impl AsRef<Path>, prefix: &str) -> ModelResult<()> {
        let path = path.as_ref();
        let map = jepa_engine::io::load(path)?;
        self.load_map(&map, prefix, &path.display().to_string(), true)
    }

    /// `(prefix + name, independent copy)` for every parameter, in order.
    pub fn state_dict(&self, prefix: &str) -> ModelResult<Vec<(String, Tensor)>> {
        self.params
            .iter()
            .map(|p| Ok((format!("{prefix}{}", p.spec.name), p.value.copy()?)))
            .collect()
    }

    /// Writes every parameter under `prefix + name` (atomic write).
    pub fn save_safetensors(
        &self,
        path: impl AsRef<Path>,
        prefix: &str,
        metadata: Option<HashMap<String, String>>,
    ) -> ModelResult<()> {
        let sd = self.state_dict(prefix)?;
        jepa_engine::io::save(sd.iter().map(|(n, t)| (n.as_str(), t)), metadata, path)?;
        Ok(())
    }

    /// The gradient of every trainable parameter as one flat vector laid out like the store
    /// (zeros where a parameter got no gradient).
    pub fn flat_grads(&self, grads: &Gradients) -> ModelResult<Vec<f32>> {
        let mut out = vec![0f32; self.numel()];
        for p in &self.params {
            if let Some(g) = p.var.as_ref().and_then(|v| v.grad(grads)) {
                let g = g.to_vec_f32()?;
                out[p.offset..p.offset + p.numel].copy_from_slice(&g);
            }
        }
        Ok(out)
    }
}

/// Normal(0, std) by Box–Muller, redrawn outside ±2 (absolute, as the official init).
fn trunc_normal(rng: &mut Rng, std: f32) -> f32 {
    loop {
        let (u1, u2) = (1.0 - rng.next_f64(), rng.next_f64());
        let z = (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos();
        let v = z * std as f64;
        if v.abs() <= 2.0 {
            return v as f32;
        }
    }
}

/// FNV-1a: a stable name hash for per-parameter seed streams.
fn fnv1a(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ b as u64).wrapping_mul(0x0100_0000_01b3)
    })
}
