//! Reading a run's metrics log: JSON lines (one object per logged step) or CSV with a header.
//! Every numeric field becomes a series over the step column; non-numeric fields are ignored,
//! and a truncated last line (a run killed mid-write) is skipped rather than fatal.

use std::collections::BTreeMap;
use std::path::Path;

use crate::error::{CliError, CliResult};

/// Column names accepted as the x axis, in order of preference.
const STEP_KEYS: &[&str] = &["step", "global_step", "iter", "iteration"];

/// Numeric series by field name, each a list of `(step, value)`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Metrics {
    pub series: BTreeMap<String, Vec<(f64, f64)>>,
}

impl Metrics {
    /// The first series whose name is one of `keys` (exact match first, then prefix match), so
    /// the plots work whatever the trainer calls e.g. its EMA momentum (`ema`, `momentum`, ...).
    pub fn find(&self, keys: &[&str]) -> Option<(&str, &[(f64, f64)])> {
        let exact = keys.iter().find_map(|k| self.series.get_key_value(*k));
        let pick = exact.or_else(|| {
            keys.iter()
                .find_map(|k| self.series.iter().find(|(name, _)| name.starts_with(k)))
        });
        pick.filter(|(_, v)| !v.is_empty())
            .map(|(n, v)| (n.as_str(), v.as_slice()))
    }

    fn push_row(&mut self, row: &[(String, f64)], index: usize) {
        let step = STEP_KEYS
            .iter()
            .find_map(|k| row.iter().find(|(n, _)| n == k).map(|(_, v)| *v))
            .unwrap_or(index as f64);
        for (name, v) in row {
            if !STEP_KEYS.contains(&name.as_str()) && v.is_finite() {
                self.series
                    .entry(name.clone())
                    .or_default()
                    .push((step, *v));
            }
        }
    }
}

/// Parses JSON-lines text.
pub fn parse_jsonl(text: &str) -> Metrics {
    let mut m = Metrics::default();
    let mut index = 0;
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let Ok(serde_json::Value::Object(obj)) = serde_json::from_str(line) else {
            continue;
        };
        let row: Vec<(String, f64)> = obj
            .into_iter()
            .filter_map(|(k, v)| Some((k, v.as_f64()?)))
            .collect();
        m.push_row(&row, index);
        index += 1;
    }
    m
}

/// Parses CSV text with a header row (no quoting needed: all fields are numbers or names).
pub fn parse_csv(text: &str) -> Metrics {
    let mut m = Metrics::default();
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let Some(header) = lines.next() else {
        return m;
    };
    let names: Vec<String> = header.split(',').map(|s| s.trim().to_string()).collect();
    for (index, line) in lines.enumerate() {
        let cells: Vec<&str> = line.split(',').collect();
        if cells.len() != names.len() {
            continue;
        }
        let row: Vec<(String, f64)> = names
            .iter()
            .zip(cells)
            .filter_map(|(n, c)| Some((n.clone(), c.trim().parse::<f64>().ok()?)))
            .collect();
        m.push_row(&row, index);
    }
    m
}

/// The metrics file of `dir`: `metrics.jsonl`, else `metrics.csv`.
pub fn find_metrics_file(dir: &Path) -> CliResult<std::path::PathBuf> {
    if !dir.is_dir() {
        return Err(CliError::Usage(format!(
            "{}: not a run directory",
            dir.display()
        )));
    }
    for name in ["metrics.jsonl", "metrics.csv"] {
        let p = dir.join(name);
        if p.is_file() {
            return Ok(p);
        }
    }
    Err(CliError::Other(format!(
        "{}: no metrics.jsonl or metrics.csv (is this a `jepa pretrain` run directory?)",
        dir.display()
    )))
}

/// Reads and parses a metrics file by its extension.
pub fn read_metrics(path: &Path) -> CliResult<Metrics> {
    let text = std::fs::read_to_string(path).map_err(|e| CliError::io(path, e))?;
    let m = if path.extension().is_some_and(|e| e == "csv") {
        parse_csv(&text)
    } else {
        parse_jsonl(&text)
    };
    if m.series.is_empty() {
        return Err(CliError::Other(format!(
            "{}: no numeric metrics found",
            path.display()
        )));
    }
    Ok(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jsonl_rows_become_series_over_step_and_bad_lines_are_skipped() {
        let text = "{\"step\": 1, \"loss\": 0.5, \"lr\": 1e-4, \"phase\": \"train\"}\n\
                    {\"step\": 2, \"loss\": 0.25, \"lr\": 2e-4}\n\
                    {\"step\": 3, \"loss\": 0.1";
        let m = parse_jsonl(text);
        assert_eq!(m.series["loss"], vec![(1.0, 0.5), (2.0, 0.25)]);
        assert_eq!(m.series["lr"].len(), 2);
        assert!(!m.series.contains_key("phase") && !m.series.contains_key("step"));
    }

    #[test]
    fn csv_with_header_and_nan_cells() {
        let m = parse_csv("step,loss,rankme\n0,1.0,nan\n10,0.5,12.5\n20,0.4\n");
        assert_eq!(m.series["loss"], vec![(0.0, 1.0), (10.0, 0.5)]);
        assert_eq!(m.series["rankme"], vec![(10.0, 12.5)]);
    }

    #[test]
    fn find_prefers_exact_names_then_prefixes() {
        let m = parse_jsonl("{\"step\":0,\"ema_momentum\":0.99,\"loss_total\":1,\"loss\":2}");
        assert_eq!(m.find(&["loss"]).unwrap().0, "loss");
        assert_eq!(m.find(&["momentum", "ema"]).unwrap().0, "ema_momentum");
        assert!(m.find(&["rankme"]).is_none());
    }

    #[test]
    fn missing_step_uses_the_row_index() {
        let m = parse_jsonl("{\"loss\":3}\n{\"loss\":2}\n");
        assert_eq!(m.series["loss"], vec![(0.0, 3.0), (1.0, 2.0)]);
    }
}
