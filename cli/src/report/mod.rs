//! `jepa report RUN_DIR` (also run at the end of `quickstart`): one self-contained
//! `RUN_DIR/report.html` with the run's throughput and memory, the probe table beside random
//! init, the training curves, and attention and feature maps of a fixed set of images (eight
//! spread evenly over the run's dataset), every image inlined. The PNGs it draws also stay in
//! `RUN_DIR/plots/`.

pub mod html;
pub mod resources;

use std::path::{Path, PathBuf};

use crate::args::ReportArgs;
use crate::atomic::write_bytes;
use crate::error::{CliError, CliResult};
use crate::plot::{self, eval::PROBE_FILE, metrics};
use crate::show::{self, images, RANDOM_LABEL};
use crate::{encoder, runtime};

/// The report's file name in the run directory.
pub const REPORT_FILE: &str = "report.html";
/// Images the maps are drawn for.
pub const MAP_IMAGES: usize = 8;
const TILE: u32 = 112;

/// The probe table section: one row per line of `probe.jsonl`.
fn probe_section(dir: &Path) -> String {
    let path = dir.join(PROBE_FILE);
    let Ok(text) = std::fs::read_to_string(&path) else {
        return format!(
            "<p class=\"note\">No {PROBE_FILE}: `jepa quickstart` writes it; for a pretrain run, \
             `jepa probe --checkpoint {} --random-init --json &gt; {}`.</p>",
            html::escape(&dir.join("checkpoint.safetensors").display().to_string()),
            html::escape(&path.display().to_string())
        );
    };
    let pct = |v: &serde_json::Value, k: &str| {
        v.get(k)
            .and_then(serde_json::Value::as_f64)
            .map_or("–".to_string(), |x| format!("{x:.2}%"))
    };
    let num = |v: &serde_json::Value, k: &str| {
        v.get(k)
            .and_then(serde_json::Value::as_f64)
            .map_or("–".to_string(), |x| format!("{x:.3}"))
    };
    let rows: Vec<Vec<String>> = text
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .map(|v| {
            vec![
                v.get("label")
                    .and_then(serde_json::Value::as_str)
                    .unwrap_or("?")
                    .to_string(),
                pct(&v, "linear_last_top1"),
                pct(&v, "linear_last4_top1"),
                pct(&v, "knn_top1"),
                num(&v, "rankme"),
                num(&v, "feature_std"),
            ]
        })
        .collect();
    let header = [
        "encoder",
        "linear top-1 (last layer)",
        "linear top-1 (last 4)",
        "kNN top-1",
        "RankMe",
        "feature std",
    ];
    html::table("probe", &header, &rows)
}

/// `<img>`s of the PNGs in `files`.
fn inline_pngs(files: &[PathBuf]) -> CliResult<String> {
    let mut s = String::new();
    for f in files {
        let png = std::fs::read(f).map_err(|e| CliError::io(f, e))?;
        let name = f.file_name().map(|n| n.to_string_lossy().into_owned());
        s += &html::png_img(&png, name.as_deref().unwrap_or("plot"));
        s += "\n";
    }
    Ok(s)
}

/// Where the maps' images come from: `--images`, else the run's dataset when still there.
fn map_images(dir: &Path, images: Option<&Path>) -> Option<PathBuf> {
    if let Some(p) = images {
        return Some(p.to_path_buf());
    }
    let text = std::fs::read_to_string(dir.join("config.toml")).ok()?;
    let table = text.parse::<toml::Table>().ok()?;
    let p = PathBuf::from(table.get("data")?.get("path")?.as_str()?);
    p.exists().then_some(p)
}

/// Draws `plots/attention.png` and `plots/features.png` (trained beside random init) and
/// returns their section; a run without a checkpoint or images gets a note instead.
fn maps_section(dir: &Path, images: Option<&Path>) -> CliResult<(String, String)> {
    let ckpt = dir.join(jepa_models::train::CHECKPOINT_FILE);
    let note = |m: String| format!("<p class=\"note\">{}</p>", html::escape(&m));
    if !ckpt.is_file() {
        let m = format!("No pictures: {} does not exist.", ckpt.display());
        return Ok((note(m.clone()), note(m)));
    }
    let Some(src) = map_images(dir, images) else {
        let m = "No pictures: the run's dataset is not there; pass --images PATH.".to_string();
        return Ok((note(m.clone()), note(m)));
    };
    let (target, context) = show::both_encoders(&ckpt, None)?;
    let random = encoder::random_like(target.config(), crate::probe::RANDOM_INIT_SEED)?;
    let shown = images::prepare(images::decode(&src, MAP_IMAGES, true)?, target.config())?;
    let out = dir.join("plots");
    std::fs::create_dir_all(&out).map_err(|e| CliError::io(&out, e))?;
    let mut encoders = vec![("target encoder".to_string(), &target)];
    if let Some(c) = &context {
        encoders.push(("context encoder".to_string(), c));
    }
    encoders.push((RANDOM_LABEL.to_string(), &random));
    let att = out.join("attention.png");
    show::draw_attention(&encoders, &shown, false, TILE, &att)?;
    let feat = out.join("features.png");
    let pair = [encoders[0].clone(), (RANDOM_LABEL.to_string(), &random)];
    show::draw_features(&pair, &shown, true, TILE, &feat)?;
    let from = format!(
        "<p>{} images spread evenly over {}.</p>\n",
        shown.names.len(),
        html::escape(&src.display().to_string())
    );
    Ok((
        from.clone() + &inline_pngs(&[att])?,
        from + &inline_pngs(&[feat])?,
    ))
}

/// Writes `RUN_DIR/report.html` and returns its path. `images` overrides the run's dataset as
/// the source of the maps' images.
pub fn write_report(dir: &Path, images: Option<&Path>) -> CliResult<PathBuf> {
    // A directory without metrics is not a run: refuse before drawing anything.
    let metrics_file = metrics::find_metrics_file(dir)?;
    let m = metrics::read_metrics(&metrics_file)?;
    let curves = plot::plot_run(dir)?;
    let (attention, features) = maps_section(dir, images)?;
    let config = std::fs::read_to_string(dir.join("config.toml"))
        .map(|t| format!("<pre>{}</pre>", html::escape(&t)))
        .unwrap_or_else(|_| "<p class=\"note\">No config.toml.</p>".into());
    let run = resources::summary(dir, &m);
    let sections = vec![
        ("Run".to_string(), run),
        (
            "Probe accuracy beside random init".to_string(),
            probe_section(dir),
        ),
        (
            "Training curves".to_string(),
            format!("<div class=\"curves\">\n{}</div>", inline_pngs(&curves)?),
        ),
        ("Attention maps".to_string(), attention),
        ("Feature maps (PCA of patch features)".to_string(), features),
        ("Configuration".to_string(), config),
    ];
    let name = dir
        .canonicalize()
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_else(|| dir.display().to_string());
    let page = html::page(&format!("jepa run {name}"), &sections);
    let path = dir.join(REPORT_FILE);
    write_bytes(&path, page.as_bytes())?;
    Ok(path)
}

pub fn run(args: &ReportArgs) -> CliResult<()> {
    runtime::configure_threads(args.compute.threads)?;
    runtime::configure_precision(args.compute.matmul_precision.as_deref())?;
    runtime::compute_device(args.compute.device.as_deref())?;
    let path = write_report(&args.run_dir, args.images.as_deref())?;
    println!("{}", path.display());
    Ok(())
}
