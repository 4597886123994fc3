//! Training state ↔ checkpoint: the three networks under their official prefixes
//! (`encoder.`, `predictor.`, `target_encoder.`), the AdamW moments under `opt.<model>.`, and
//! the run position (step, epoch, batch in epoch) plus resume checks in the metadata.
//!
//! The data loader and the mask generator are pure functions of `(seed, epoch, batch)` and
//! `(seed, step)`, so the position is all the "RNG state" a resumed run needs.

use std::path::Path;

use super::TrainError;
use crate::checkpoint::{Checkpoint, META_CONFIG, META_STEP};
use crate::jepa::Jepa;
use crate::optim::MomentState;
use crate::vit::ParamStore;
use jepa_engine::Tensor;

/// Metadata keys (besides [`META_STEP`] and [`META_CONFIG`]).
pub const META_EPOCH: &str = "epoch";
pub const META_BATCH_IN_EPOCH: &str = "batch_in_epoch";
pub const META_BATCHES_PER_EPOCH: &str = "batches_per_epoch";
pub const META_FINGERPRINT: &str = "fingerprint";
pub const META_ELAPSED: &str = "elapsed_seconds";
pub const META_METHOD: &str = "method";

/// Model names of the optimizer's stores, in the order `AdamW::official` was given them.
const OPT_MODELS: [&str; 2] = ["encoder", "predictor"];

/// Where a run stands: `step` optimizer steps done; the next batch is `batch_in_epoch` of
/// `epoch`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RunPosition {
    pub step: u64,
    pub epoch: u64,
    pub batch_in_epoch: u64,
}

impl RunPosition {
    /// The position after `step` steps of `batches_per_epoch` batches each epoch.
    pub fn after(step: u64, batches_per_epoch: u64) -> Self {
        let ipe = batches_per_epoch.max(1);
        Self {
            step,
            epoch: step / ipe,
            batch_in_epoch: step % ipe,
        }
    }
}

/// Everything besides the tensors that a checkpoint records.
#[derive(Clone, Debug, PartialEq)]
pub struct StateMeta {
    pub position: RunPosition,
    pub batches_per_epoch: u64,
    pub fingerprint: String,
    /// Human-readable run configuration.
    pub config: String,
    pub method: String,
    pub elapsed_seconds: f64,
}

fn stores(jepa: &Jepa) -> [(&'static str, &ParamStore); 3] {
    [
        ("encoder.", jepa.encoder().store()),
        ("predictor.", jepa.predictor().store()),
        ("target_encoder.", jepa.target_encoder().store()),
    ]
}

/// True when every parameter of the three networks is finite.
pub fn parameters_finite(jepa: &Jepa) -> Result<bool, TrainError> {
    for (_, store) in stores(jepa) {
        if !store.with_flat_mut(|f| f.iter().all(|v| v.is_finite()))? {
            return Ok(false);
        }
    }
    Ok(true)
}

/// The checkpoint of `jepa` at `meta`.
pub fn to_checkpoint(jepa: &Jepa, meta: &StateMeta) -> Result<Checkpoint, TrainError> {
    let mut ck = Checkpoint::new();
    for (prefix, store) in stores(jepa) {
        let flat = store.flat().to_vec_f32()?;
        for p in store.params() {
            let vals = flat[p.offset()..p.offset() + p.numel()].to_vec();
            ck.insert(format!("{prefix}{}", p.name()), p.shape(), vals)?;
        }
    }
    let state = jepa.optimizer().state();
    if state.len() != OPT_MODELS.len() {
        return Err(TrainError::Config(format!(
            "optimizer has {} stores, expected encoder and predictor",
            state.len()
        )));
    }
    for (name, st) in OPT_MODELS.iter().zip(state) {
        let (m, v) = (st.m.to_vec_f32()?, st.v.to_vec_f32()?);
        ck.insert(format!("opt.{name}.exp_avg"), &[m.len()], m)?;
        ck.insert(format!("opt.{name}.exp_avg_sq"), &[v.len()], v)?;
        ck.set_u64s(format!("opt.{name}.steps"), &st.steps);
    }
    let pos = meta.position;
    ck.set_u64(META_STEP, pos.step);
    ck.set_u64(META_EPOCH, pos.epoch);
    ck.set_u64(META_BATCH_IN_EPOCH, pos.batch_in_epoch);
    ck.set_u64(META_BATCHES_PER_EPOCH, meta.batches_per_epoch);
    ck.set_meta(META_FINGERPRINT, meta.fingerprint.clone());
    ck.set_meta(META_CONFIG, meta.config.clone());
    ck.set_meta(META_METHOD, meta.method.clone());
    ck.set_meta(META_ELAPSED, format!("{:?}", meta.elapsed_seconds));
    Ok(ck)
}

/// Writes the checkpoint of `jepa` to `path` atomically.
pub fn save_state(jepa: &Jepa, meta: &StateMeta, path: &Path) -> Result<(), TrainError> {
    Ok(to_checkpoint(jepa, meta)?.save(path)?)
}

/// Reads the run metadata of a checkpoint.
pub fn read_meta(ck: &Checkpoint) -> Result<StateMeta, TrainError> {
    let elapsed = ck.meta(META_ELAPSED).ok().and_then(|s| s.parse().ok());
    Ok(StateMeta {
        position: RunPosition {
            step: ck.u64(META_STEP)?,
            epoch: ck.u64(META_EPOCH)?,
            batch_in_epoch: ck.u64(META_BATCH_IN_EPOCH)?,
        },
        batches_per_epoch: ck.u64(META_BATCHES_PER_EPOCH)?,
        fingerprint: ck.meta(META_FINGERPRINT)?.to_string(),
        config: ck.meta(META_CONFIG).unwrap_or_default().to_string(),
        method: ck.meta(META_METHOD).unwrap_or_default().to_string(),
        elapsed_seconds: elapsed.unwrap_or(0.0),
    })
}

/// Loads parameters, optimizer state and step counter of `ck` into `jepa` (whose architecture
/// must match: every tensor present with its shape, none left over). Returns the metadata.
pub fn load_state(jepa: &mut Jepa, ck: &Checkpoint) -> Result<StateMeta, TrainError> {
    let meta = read_meta(ck)?;
    let mut expected = 0usize;
    for (prefix, store) in stores(jepa) {
        let mut vals = Vec::with_capacity(store.params().len());
        for p in store.params() {
            vals.push(ck.get(&format!("{prefix}{}", p.name()), p.shape())?);
        }
        expected += vals.len();
        store.with_flat_mut(|flat| {
            for (p, v) in store.params().iter().zip(vals) {
                flat[p.offset()..p.offset() + p.numel()].copy_from_slice(v);
            }
        })?;
    }
    let mut state = Vec::with_capacity(OPT_MODELS.len());
    for (name, current) in OPT_MODELS.iter().zip(jepa.optimizer().state()) {
        let n = current.m.elem_count();
        let dev = current.m.device();
        let moment = |key: &str| -> Result<Tensor, TrainError> {
            let v = ck.get(&format!("opt.{name}.{key}"), &[n])?;
            Ok(Tensor::from_slice(v, [n], dev)?)
        };
        state.push(MomentState {
            m: moment("exp_avg")?,
            v: moment("exp_avg_sq")?,
            steps: ck.u64s(&format!("opt.{name}.steps"))?,
        });
        expected += 2;
    }
    if ck.len() != expected {
        let known = |name: &str| {
            stores(jepa).iter().any(|(prefix, s)| {
                name.strip_prefix(prefix)
                    .is_some_and(|rest| s.get(rest).is_some())
            }) || name.starts_with("opt.")
        };
        let extra = ck.names().find(|n| !known(n)).unwrap_or("?").to_string();
        return Err(TrainError::Resume(format!(
            "{}: unexpected tensor `{extra}` (a different architecture?)",
            ck.origin()
        )));
    }
    jepa.optimizer_mut().set_state(state)?;
    jepa.set_steps_done(meta.position.step);
    Ok(meta)
}
