//! Evaluation during training: a hook the trainer calls every `eval_every` steps and at the
//! end, the standard one (frozen target-encoder features → linear probe, kNN, RankMe), the
//! `eval.jsonl` line it produces, and the clock that keeps evaluation out of the training time.

use std::sync::Arc;
use std::time::Instant;

use super::TrainError;
use crate::data::Dataset;
use crate::eval::{
    evaluate, extract_features, feature_std, knn_classify, rankme, EvalConfig, ExtractConfig,
    ExtractedFeatures, KnnConfig, ProbeReport, ProbeResult,
};
use crate::jepa::Jepa;

/// Something that scores the current model (runs on the trainer's compute pool, hence `Send`).
pub trait EvalHook: Send {
    fn evaluate(&mut self, jepa: &Jepa, step: u64) -> Result<ProbeReport, TrainError>;
}

/// methods.md §7 on the target encoder (unconditioned: EC-IJEPA policy (a)).
///
/// `eval.probe.epochs == 0` skips the linear probe (the costly part when it runs often): the
/// report then carries only kNN, RankMe and feature std, its linear accuracies NaN (`null` in
/// JSON).
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
        if self.eval.probe.epochs == 0 {
            return knn_only(&label, &train, &test, classes, &self.eval.knn);
        }
        Ok(evaluate(&label, &train, &test, classes, &self.eval)?)
    }
}

/// The report without a linear probe.
fn knn_only(
    label: &str,
    train: &ExtractedFeatures,
    test: &ExtractedFeatures,
    classes: usize,
    knn: &KnnConfig,
) -> Result<ProbeReport, TrainError> {
    let (tr, te) = (&train.last, &test.last);
    let result = knn_classify(tr, &train.labels, te, &test.labels, classes, knn)?;
    Ok(ProbeReport {
        label: label.into(),
        train_samples: tr.rows(),
        test_samples: te.rows(),
        dim: tr.dim(),
        linear_last: ProbeResult {
            top1: f64::NAN,
            train_top1: f64::NAN,
            lr: f64::NAN,
            weight_decay: f64::NAN,
            trials: Vec::new(),
        },
        linear_last4: None,
        knn_k: knn.k,
        knn_temperature: knn.temperature,
        knn_top1: result.top1,
        rankme: rankme(tr)?,
        feature_std: feature_std(tr)?,
    })
}

/// One `eval.jsonl` line: the report's fields, then `step`, `train_seconds` (training wall time
/// at that step, see [`TrainClock`]) and `eval_seconds` (what this evaluation took), so that
/// accuracy can be plotted against the time spent training.
pub(crate) fn eval_line(
    report: &ProbeReport,
    step: u64,
    train_seconds: f64,
    eval_seconds: f64,
) -> String {
    report
        .record()
        .int("step", step as i64)
        .float("train_seconds", train_seconds)
        .float("eval_seconds", eval_seconds)
        .to_json()
}

/// Training wall time of a run: the time before a resume plus this session's, less the time
/// spent evaluating and writing checkpoints. Runs that evaluate often thus report the same
/// time per step as runs that do not, and a resumed run continues the same count (the
/// checkpoint stores this clock, not the raw wall time).
pub(crate) struct TrainClock {
    start: Instant,
    before: f64,
    paused: f64,
}

impl TrainClock {
    pub(crate) fn new(before: f64) -> Self {
        Self {
            start: Instant::now(),
            before,
            paused: 0.0,
        }
    }

    pub(crate) fn seconds(&self) -> f64 {
        self.before + (self.start.elapsed().as_secs_f64() - self.paused).max(0.0)
    }

    /// Runs `f` with the clock stopped.
    pub(crate) fn off<T>(&mut self, f: impl FnOnce() -> T) -> T {
        let t = Instant::now();
        let out = f();
        self.paused += t.elapsed().as_secs_f64();
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_off_the_clock_is_not_counted() {
        let mut c = TrainClock::new(10.0);
        c.off(|| std::thread::sleep(std::time::Duration::from_millis(60)));
        let s = c.seconds();
        assert!((10.0..10.05).contains(&s), "{s}");
        std::thread::sleep(std::time::Duration::from_millis(30));
        assert!(c.seconds() >= 10.03, "{}", c.seconds());
    }
}
