//! Probe accuracy over pretraining time, from the `eval.jsonl` that `jepa pretrain` writes with
//! `[eval] every = N`: one run's `probe.png`, and `jepa plot --compare` (one line per run,
//! horizontal baseline levels such as the random-init probe).

use std::path::{Path, PathBuf};

use super::draw::{self, Chart};
use crate::error::{CliError, CliResult};

/// The evaluation log of a run directory.
pub const EVAL_FILE: &str = "eval.jsonl";
/// The x axis of every accuracy plot: the trainer's `train_seconds`, which leaves out the time
/// spent evaluating and writing checkpoints.
const X_LABEL: &str = "pretraining minutes (evaluation excluded)";
const LINEAR_TITLE: &str = "linear probe top-1 % (last layer)";
const KNN_TITLE: &str = "kNN top-1 %";

/// One evaluation: when (step, training minutes) and what it scored (percent).
#[derive(Clone, Debug, PartialEq)]
pub struct EvalPoint {
    pub step: f64,
    pub minutes: f64,
    /// `None` when the run probed without the linear probe (`eval.linear = false`).
    pub linear: Option<f64>,
    pub knn: Option<f64>,
}

/// The evaluations of `eval.jsonl` text that carry `train_seconds` (older logs lack it); a
/// truncated or malformed line is skipped.
pub fn parse_eval(text: &str) -> Vec<EvalPoint> {
    text.lines()
        .filter_map(|line| {
            let v: serde_json::Value = serde_json::from_str(line).ok()?;
            let num = |k: &str| v.get(k).and_then(serde_json::Value::as_f64);
            Some(EvalPoint {
                step: num("step").unwrap_or(f64::NAN),
                minutes: num("train_seconds")? / 60.0,
                linear: num("linear_last_top1"),
                knn: num("knn_top1"),
            })
        })
        .collect()
}

/// The evaluations of run directory `dir`; an error when it has none.
pub fn read_eval(dir: &Path) -> CliResult<Vec<EvalPoint>> {
    let path = dir.join(EVAL_FILE);
    if !path.is_file() {
        return Err(CliError::Usage(format!(
            "{}: no {EVAL_FILE} (pretrain with `[eval] every = N` or --eval-every N, and --holdout)",
            dir.display()
        )));
    }
    let text = std::fs::read_to_string(&path).map_err(|e| CliError::io(&path, e))?;
    let points = parse_eval(&text);
    if points.is_empty() {
        return Err(CliError::Other(format!(
            "{}: no evaluation with `train_seconds`",
            path.display()
        )));
    }
    Ok(points)
}

/// `(minutes, value)` of the points that have `value`.
fn curve(points: &[EvalPoint], value: fn(&EvalPoint) -> Option<f64>) -> Vec<(f64, f64)> {
    points
        .iter()
        .filter_map(|p| Some((p.minutes, value(p)?)))
        .collect()
}

/// One accuracy of an evaluation, when it was measured.
type Accuracy = fn(&EvalPoint) -> Option<f64>;

/// The final probe table of a run (`jepa quickstart` writes it: one JSON line per encoder,
/// the pretrained one and `random-init`).
pub const PROBE_FILE: &str = "probe.jsonl";

/// Images per step of the run in `dir`, from its `config.toml` (`[train] batch_size`).
pub fn batch_size_of(dir: &Path) -> Option<f64> {
    let text = std::fs::read_to_string(dir.join("config.toml")).ok()?;
    let table = text.parse::<toml::Table>().ok()?;
    let b = table.get("train")?.get("batch_size")?.as_integer()?;
    (b > 0).then_some(b as f64)
}

/// Draws the run's linear and kNN accuracy against images seen (when the batch size is known)
/// and against training minutes into `out`, with the random-init accuracies of the run's
/// `probe.jsonl` as dashed levels (`None` when the run has no usable `eval.jsonl`).
pub fn probe_plot(dir: &Path, out: &Path) -> CliResult<Option<PathBuf>> {
    if !dir.join(EVAL_FILE).is_file() {
        return Ok(None);
    }
    let Ok(points) = read_eval(dir) else {
        return Ok(None);
    };
    let levels = baselines_from_probe_json(&dir.join(PROBE_FILE)).unwrap_or_default();
    let series = |x: fn(&EvalPoint, f64) -> f64, batch: f64| -> Vec<draw::Series> {
        let value: [(&str, Accuracy); 2] =
            [("linear (last layer)", |p| p.linear), ("kNN", |p| p.knn)];
        value
            .into_iter()
            .map(|(n, v)| {
                let c = points.iter().filter_map(|p| Some((x(p, batch), v(p)?)));
                (n.to_string(), c.collect::<Vec<_>>())
            })
            .filter(|(_, c)| !c.is_empty())
            .collect()
    };
    let by_time = series(|p, _| p.minutes, 0.0);
    if by_time.is_empty() {
        return Ok(None);
    }
    let by_images = batch_size_of(dir).map(|b| series(|p, b| p.step * b, b));
    let title = "probe top-1 % (held-out images)";
    let mut panels = Vec::new();
    if let Some(s) = &by_images {
        panels.push(Chart {
            title,
            x_label: "images seen in pretraining",
            series: s,
            levels: &levels,
        });
    }
    panels.push(Chart {
        title,
        x_label: X_LABEL,
        series: &by_time,
        levels: &levels,
    });
    let path = out.join("probe.png");
    draw::charts(&path, &panels)?;
    Ok(Some(path))
}

/// `NAME=VALUE` of `--baseline`.
pub fn parse_baseline(s: &str) -> CliResult<(String, f64)> {
    let bad = || {
        CliError::Usage(format!(
            "--baseline `{s}`: expected NAME=VALUE with VALUE a finite percentage, e.g. \"random init linear=44.9\""
        ))
    };
    let (name, value) = s.rsplit_once('=').ok_or_else(bad)?;
    let value: f64 = value.trim().parse().map_err(|_| bad())?;
    if name.trim().is_empty() || !value.is_finite() {
        return Err(bad());
    }
    Ok((name.trim().to_string(), value))
}

/// The random-init row of `jepa probe --json --random-init` output: its linear (last layer)
/// and kNN top-1 as `random init linear` / `random init kNN` levels.
pub fn baselines_from_probe_json(path: &Path) -> CliResult<Vec<(String, f64)>> {
    let text = std::fs::read_to_string(path).map_err(|e| CliError::io(path, e))?;
    let row = text
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|v| {
            v.get("label")
                .and_then(serde_json::Value::as_str)
                .is_some_and(|l| l.replace(' ', "-").eq_ignore_ascii_case("random-init"))
        })
        .ok_or_else(|| {
            CliError::Usage(format!(
                "{}: no `random-init` row (write it with `jepa probe --json --random-init`)",
                path.display()
            ))
        })?;
    let num = |k: &str| row.get(k).and_then(serde_json::Value::as_f64);
    let levels: Vec<(String, f64)> = [
        ("random init linear", num("linear_last_top1")),
        ("random init kNN", num("knn_top1")),
    ]
    .into_iter()
    .filter_map(|(n, v)| Some((n.to_string(), v?)))
    .collect();
    if levels.is_empty() {
        return Err(CliError::Usage(format!(
            "{}: the random-init row has neither linear_last_top1 nor knn_top1",
            path.display()
        )));
    }
    Ok(levels)
}

/// The legend name of a run: its directory's name.
fn run_name(dir: &Path) -> String {
    dir.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| dir.display().to_string())
}

/// One line per run of linear top-1 (top panel) and kNN top-1 (bottom panel) against training
/// minutes, written to `out`; a level goes on the kNN panel when its name mentions kNN. A panel
/// no run has values for is left out.
pub fn compare(dirs: &[PathBuf], out: &Path, levels: &[(String, f64)]) -> CliResult<()> {
    super::require_png(out, "comparison")?;
    let mut runs = Vec::with_capacity(dirs.len());
    for d in dirs {
        runs.push((run_name(d), read_eval(d)?));
    }
    let lines = |value: fn(&EvalPoint) -> Option<f64>| -> Vec<(String, Vec<(f64, f64)>)> {
        runs.iter()
            .map(|(name, pts)| (name.clone(), curve(pts, value)))
            .filter(|(_, c)| !c.is_empty())
            .collect()
    };
    let (linear, knn) = (lines(|p| p.linear), lines(|p| p.knn));
    let is_knn = |n: &str| n.to_ascii_lowercase().contains("knn");
    let (knn_levels, linear_levels): (Vec<_>, Vec<_>) =
        levels.iter().cloned().partition(|(n, _)| is_knn(n));
    let mut panels = Vec::new();
    for (title, series, lv) in [
        (LINEAR_TITLE, &linear, &linear_levels),
        (KNN_TITLE, &knn, &knn_levels),
    ] {
        if series.is_empty() {
            if !lv.is_empty() {
                eprintln!("jepa: warning: no run has {title}; its baselines are not drawn");
            }
            continue;
        }
        panels.push(Chart {
            title,
            x_label: X_LABEL,
            series,
            levels: lv,
        });
    }
    if panels.is_empty() {
        return Err(CliError::Other(
            "no run has linear or kNN accuracies in its eval.jsonl".into(),
        ));
    }
    if let Some(parent) = out.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|e| CliError::io(parent, e))?;
    }
    draw::charts(out, &panels)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(step: u64, secs: f64, linear: &str, knn: f64) -> String {
        format!(
            "{{\"label\":\"ijepa step {step}\",\"linear_last_top1\":{linear},\"knn_top1\":{knn},\"step\":{step},\"train_seconds\":{secs}}}\n"
        )
    }

    #[test]
    fn points_need_train_seconds_and_keep_missing_linear_as_none() {
        let text = line(2, 120.0, "45.5", 40.0)
            + &line(4, 240.0, "null", 42.0)
            + "{\"label\":\"old\",\"knn_top1\":1.0}\n{\"step\":";
        let p = parse_eval(&text);
        assert_eq!(p.len(), 2);
        assert_eq!(
            (p[0].minutes, p[0].linear, p[0].knn),
            (2.0, Some(45.5), Some(40.0))
        );
        assert_eq!((p[1].step, p[1].linear), (4.0, None));
    }

    #[test]
    fn baselines_parse_and_bad_ones_say_why() {
        assert_eq!(
            parse_baseline("random init linear=44.9").unwrap(),
            ("random init linear".into(), 44.9)
        );
        for bad in ["44.9", "=3", "x=abc", "x=inf"] {
            let e = parse_baseline(bad).unwrap_err().to_string();
            assert!(e.contains("NAME=VALUE"), "{bad}: {e}");
        }
        let dir = tempfile::tempdir().unwrap();
        let json = dir.path().join("probe.json");
        std::fs::write(
            &json,
            "{\"label\":\"checkpoint.safetensors\",\"linear_last_top1\":60.0,\"knn_top1\":55.0}\n\
             {\"label\":\"random-init\",\"linear_last_top1\":44.9,\"knn_top1\":35.5}\n",
        )
        .unwrap();
        let levels = baselines_from_probe_json(&json).unwrap();
        assert_eq!(
            levels,
            [
                ("random init linear".to_string(), 44.9),
                ("random init kNN".to_string(), 35.5)
            ]
        );
        std::fs::write(&json, "{\"label\":\"checkpoint\",\"knn_top1\":1.0}\n").unwrap();
        let e = baselines_from_probe_json(&json).unwrap_err().to_string();
        assert!(e.contains("no `random-init` row"), "{e}");
    }

    #[test]
    fn compare_draws_two_panels_and_refuses_a_run_without_evaluations() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("ijepa"), dir.path().join("cjepa"));
        for (d, base) in [(&a, 40.0), (&b, 50.0)] {
            std::fs::create_dir_all(d).unwrap();
            let text = line(10, 60.0, &format!("{base}"), base - 5.0)
                + &line(20, 150.0, &format!("{}", base + 5.0), base);
            std::fs::write(d.join(EVAL_FILE), text).unwrap();
        }
        let out = dir.path().join("cmp.png");
        let levels = [("random init linear".to_string(), 30.0)];
        compare(&[a.clone(), b.clone()], &out, &levels).unwrap();
        let img = image::open(&out).unwrap();
        assert_eq!(
            (img.width(), img.height()),
            (800, 960),
            "two stacked panels"
        );
        let empty = dir.path().join("empty");
        std::fs::create_dir_all(&empty).unwrap();
        let e = compare(&[a, empty], &out, &[]).unwrap_err().to_string();
        assert!(e.contains("no eval.jsonl") && !e.contains('\n'), "{e}");
    }
}
