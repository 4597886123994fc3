//! Evaluation during training: a hook the trainer calls every `eval_every` steps and at the
//! end, and the standard one (frozen target-encoder features → linear probe, kNN, RankMe).

use std::sync::Arc;

use super::TrainError;
use crate::data::Dataset;
use crate::eval::{evaluate, extract_features, EvalConfig, ExtractConfig, ProbeReport};
use crate::jepa::Jepa;

/// Something that scores the current model (runs on the trainer's compute pool, hence `Send`).
pub trait EvalHook: Send {
    fn evaluate(&mut self, jepa: &Jepa, step: u64) -> Result<ProbeReport, TrainError>;
}

/// methods.md §7 on the target encoder (unconditioned: EC-IJEPA policy (a)).
pub struct ProbeHook {
    pub train: Arc<dyn Dataset>,
    pub test: Arc<dyn Dataset>,
    pub extract: ExtractConfig,
    pub eval: EvalConfig,
    /// Prefix of the report label (the step is appended).
    pub label: String,
}

impl EvalHook for ProbeHook {
    fn evaluate(&mut self, jepa: &Jepa, step: u64) -> Result<ProbeReport, TrainError> {
        let enc = jepa.target_encoder();
        let train = extract_features(enc, Arc::new(self.train.clone()), &self.extract)?;
        let test = extract_features(enc, Arc::new(self.test.clone()), &self.extract)?;
        let classes = self.train.num_classes().max(self.test.num_classes());
        let label = format!("{} step {step}", self.label);
        Ok(evaluate(&label, &train, &test, classes, &self.eval)?)
    }
}
