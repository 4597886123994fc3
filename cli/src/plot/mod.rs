//! `jepa plot RUN_DIR` (also called at the end of `pretrain`): PNG charts of the loss terms, the
//! learning rate, the EMA momentum, RankMe and feature std (collapse) from the run's metrics log,
//! and probe accuracy over training time from its `eval.jsonl`, in `RUN_DIR/plots/`.
//! `jepa plot --compare RUN_DIR... --out FILE.png` puts several runs' probe curves side by side.

pub mod axis;
pub mod draw;
pub mod eval;
pub mod loss;
pub mod metrics;
pub mod text;

use std::path::{Path, PathBuf};

use crate::args::PlotArgs;
use crate::error::{CliError, CliResult};
use metrics::Metrics;

/// `(file stem, title, series keys)`: a chart is drawn when any key is present.
const CHARTS: &[(&str, &str, &[&str])] = &[
    ("lr", "learning rate", &["lr", "learning_rate"]),
    ("ema", "EMA momentum", &["ema_momentum", "momentum", "ema"]),
    ("rankme", "RankMe", &["rankme"]),
];

/// Refuses an `--out` that is not named `*.png`: `what` is drawn as a PNG.
pub fn require_png(out: &Path, what: &str) -> CliResult<()> {
    if out
        .extension()
        .is_none_or(|e| !e.eq_ignore_ascii_case("png"))
    {
        return Err(CliError::Usage(format!(
            "--out {}: the {what} is a PNG (name it FILE.png)",
            out.display()
        )));
    }
    Ok(())
}

/// Draws every chart the metrics support into `dir/plots/` and returns the files written.
pub fn plot_run(dir: &Path) -> CliResult<Vec<PathBuf>> {
    let file = metrics::find_metrics_file(dir)?;
    let m = metrics::read_metrics(&file)?;
    let out = dir.join("plots");
    std::fs::create_dir_all(&out).map_err(|e| CliError::io(&out, e))?;
    let mut written = Vec::new();
    let panels = loss::loss_panels(&m, &loss::TermWeights::of_run(dir));
    if !panels.is_empty() {
        let p = out.join("loss.png");
        // Two columns once there are terms besides the total: the page stays short.
        let cols = if panels.len() > 2 { 2 } else { 1 };
        draw::charts_in_columns(&p, &loss::charts(&panels), cols)?;
        written.push(p);
    }
    for (stem, title, keys) in CHARTS {
        if let Some((name, pts)) = m.find(keys) {
            let p = out.join(format!("{stem}.png"));
            draw::line_chart(&p, title, "step", &[(name.to_string(), pts.to_vec())])?;
            written.push(p);
        }
    }
    written.extend(collapse_plot(&m, &out)?);
    written.extend(eval::probe_plot(dir, &out)?);
    if written.is_empty() {
        return Err(CliError::Other(format!(
            "{}: none of loss, lr, EMA momentum or RankMe is logged",
            file.display()
        )));
    }
    Ok(written)
}

/// RankMe and mean feature std of the target features over steps, one panel each (their
/// scales differ by orders of magnitude); `None` when neither is logged.
fn collapse_plot(m: &Metrics, out: &Path) -> CliResult<Option<PathBuf>> {
    let series: Vec<(&str, Vec<draw::Series>)> = [
        ("RankMe of the target features", "rankme"),
        ("mean feature std of the target features", "feature_std"),
    ]
    .into_iter()
    .filter_map(|(title, key)| {
        let pts = m.series.get(key).filter(|p| !p.is_empty())?;
        Some((title, vec![(key.to_string(), pts.clone())]))
    })
    .collect();
    if series.is_empty() {
        return Ok(None);
    }
    let panels: Vec<draw::Chart> = series
        .iter()
        .map(|(title, s)| draw::Chart {
            title,
            x_label: "step",
            series: s,
            levels: &[],
        })
        .collect();
    let p = out.join("collapse.png");
    draw::charts(&p, &panels)?;
    Ok(Some(p))
}

pub fn run(args: &PlotArgs) -> CliResult<()> {
    if args.compare {
        let out = args
            .out
            .as_deref()
            .ok_or_else(|| CliError::Usage("--compare needs --out FILE.png".into()))?;
        let mut levels = Vec::new();
        for b in &args.baseline {
            levels.push(eval::parse_baseline(b)?);
        }
        for j in &args.baseline_json {
            levels.extend(eval::baselines_from_probe_json(j)?);
        }
        eval::compare(&args.run_dirs, out, &levels)?;
        println!("{}", out.display());
        return Ok(());
    }
    let [dir] = args.run_dirs.as_slice() else {
        return Err(CliError::Usage(format!(
            "plot takes one RUN_DIR ({} given); compare runs with --compare --out FILE.png",
            args.run_dirs.len()
        )));
    };
    if args.out.is_some() {
        return Err(CliError::Usage(
            "--out is for --compare; a run's plots go to RUN_DIR/plots".into(),
        ));
    }
    for p in plot_run(dir)? {
        println!("{}", p.display());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_one_png_per_logged_quantity() {
        let dir = tempfile::tempdir().unwrap();
        let lines: String = (0..20)
            .map(|i| {
                let rank = if i % 5 == 0 { format!(",\"rankme\":{}", 10 + i) } else { String::new() };
                format!(
                    "{{\"step\":{i},\"loss\":{},\"regression\":{},\"var\":null,\"lr\":{},\"ema_momentum\":{}{rank}}}\n",
                    1.0 / (1.0 + i as f64),
                    0.9 / (1.0 + i as f64),
                    1e-4 * i as f64,
                    0.996 + 0.0001 * i as f64
                )
            })
            .collect();
        std::fs::write(dir.path().join("metrics.jsonl"), lines).unwrap();
        let files = plot_run(dir.path()).unwrap();
        let names: Vec<String> = files
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            names,
            [
                "loss.png",
                "lr.png",
                "ema.png",
                "rankme.png",
                "collapse.png"
            ]
        );
        assert!(files.iter().all(|p| image::open(p).is_ok()));
    }

    #[test]
    fn a_directory_without_metrics_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let e = plot_run(dir.path()).unwrap_err().to_string();
        assert!(e.contains("metrics.jsonl"), "{e}");
    }
}
