//! The probe report of one encoder (methods.md §7): linear probe on last-layer and last-4
//! features, kNN, RankMe and mean feature std, as a table and as one JSON line.

use std::fmt;

use super::features::ExtractedFeatures;
use super::{
    feature_std, knn_classify, linear_probe, rankme, EvalError, KnnConfig, ProbeConfig, ProbeResult,
};
use crate::metrics::Record;

/// Probe and kNN settings for [`evaluate`].
#[derive(Clone, Debug, Default, PartialEq)]
pub struct EvalConfig {
    pub probe: ProbeConfig,
    pub knn: KnnConfig,
}

/// Every number methods.md §7 asks for, for one encoder.
#[derive(Clone, Debug, PartialEq)]
pub struct ProbeReport {
    /// Free text naming the run (method, checkpoint, step).
    pub label: String,
    pub train_samples: usize,
    pub test_samples: usize,
    /// Last-layer feature dim D.
    pub dim: usize,
    pub linear_last: ProbeResult,
    /// `None` when last-4 features were not extracted.
    pub linear_last4: Option<ProbeResult>,
    pub knn_k: usize,
    pub knn_temperature: f64,
    pub knn_top1: f64,
    /// RankMe of the last-layer training features.
    pub rankme: f64,
    /// Mean per-dimension std of the last-layer training features.
    pub feature_std: f64,
}

/// Runs every probe on extracted train/test features.
pub fn evaluate(
    label: &str,
    train: &ExtractedFeatures,
    test: &ExtractedFeatures,
    classes: usize,
    cfg: &EvalConfig,
) -> Result<ProbeReport, EvalError> {
    let linear_last = linear_probe(
        &train.last,
        &train.labels,
        &test.last,
        &test.labels,
        classes,
        &cfg.probe,
    )?;
    let linear_last4 = match (&train.last4, &test.last4) {
        (Some(tr), Some(te)) => Some(linear_probe(
            tr,
            &train.labels,
            te,
            &test.labels,
            classes,
            &cfg.probe,
        )?),
        _ => None,
    };
    let knn = knn_classify(
        &train.last,
        &train.labels,
        &test.last,
        &test.labels,
        classes,
        &cfg.knn,
    )?;
    Ok(ProbeReport {
        label: label.into(),
        train_samples: train.last.rows(),
        test_samples: test.last.rows(),
        dim: train.last.dim(),
        linear_last,
        linear_last4,
        knn_k: cfg.knn.k,
        knn_temperature: cfg.knn.temperature,
        knn_top1: knn.top1,
        rankme: rankme(&train.last)?,
        feature_std: feature_std(&train.last)?,
    })
}

impl ProbeReport {
    /// The report as a flat record (also what [`ProbeReport::to_json_line`] prints).
    pub fn record(&self) -> Record {
        let l4 = self.linear_last4.as_ref();
        Record::new()
            .text("label", &self.label)
            .int("train_samples", self.train_samples as i64)
            .int("test_samples", self.test_samples as i64)
            .int("dim", self.dim as i64)
            .float("linear_last_top1", self.linear_last.top1)
            .float("linear_last_lr", self.linear_last.lr)
            .float("linear_last_wd", self.linear_last.weight_decay)
            .opt_float("linear_last4_top1", l4.map(|r| r.top1))
            .opt_float("linear_last4_lr", l4.map(|r| r.lr))
            .opt_float("linear_last4_wd", l4.map(|r| r.weight_decay))
            .int("knn_k", self.knn_k as i64)
            .float("knn_temperature", self.knn_temperature)
            .float("knn_top1", self.knn_top1)
            .float("rankme", self.rankme)
            .float("feature_std", self.feature_std)
    }

    /// One-line JSON object (for appending to a results file).
    pub fn to_json_line(&self) -> String {
        self.record().to_json()
    }
}

impl fmt::Display for ProbeReport {
    /// A small aligned table.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let setting = |r: &ProbeResult| format!("lr {:.0e}, wd {:.0e}", r.lr, r.weight_decay);
        writeln!(
            f,
            "probe report: {} ({} train / {} test, D = {})",
            self.label, self.train_samples, self.test_samples, self.dim
        )?;
        writeln!(f, "  {:<22} {:>8}  notes", "metric", "value")?;
        writeln!(
            f,
            "  {:<22} {:>7.2}%  {}",
            "linear, last layer",
            self.linear_last.top1,
            setting(&self.linear_last)
        )?;
        match &self.linear_last4 {
            Some(r) => writeln!(
                f,
                "  {:<22} {:>7.2}%  {}",
                "linear, last 4 layers",
                r.top1,
                setting(r)
            )?,
            None => writeln!(f, "  {:<22} {:>8}", "linear, last 4 layers", "-")?,
        }
        writeln!(
            f,
            "  {:<22} {:>7.2}%  k = {}, cosine, T = {}",
            "kNN", self.knn_top1, self.knn_k, self.knn_temperature
        )?;
        writeln!(
            f,
            "  {:<22} {:>8.2}  of min(N, D) = {}",
            "RankMe",
            self.rankme,
            self.dim.min(self.train_samples)
        )?;
        write!(f, "  {:<22} {:>8.4}", "feature std", self.feature_std)
    }
}
