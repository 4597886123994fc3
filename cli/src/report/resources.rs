//! Throughput and memory of a run. The metrics log has the images per second of each logged
//! interval and the training time; the peak memory is not in it, so the trainer's caller
//! writes `RUN_DIR/resources.json` (peak resident set of the process, threads) when a run
//! ends.

use std::path::Path;

use super::html;
use crate::atomic::write_bytes;
use crate::plot::metrics::Metrics;

/// What the run's process used, next to its metrics.
pub const RESOURCES_FILE: &str = "resources.json";

/// Records the process's peak resident set and thread count in `dir`. A failure is only
/// reported: the run itself succeeded.
pub fn record(dir: &Path) {
    let peak = jepa_models::jepa::peak_rss_mib();
    let json = serde_json::json!({
        "peak_rss_mib": peak,
        "threads": rayon::current_num_threads(),
    });
    if let Err(e) = write_bytes(&dir.join(RESOURCES_FILE), format!("{json}\n").as_bytes()) {
        eprintln!("jepa: warning: {}", e.one_line());
    }
}

fn median(mut v: Vec<f64>) -> Option<f64> {
    v.retain(|x| x.is_finite() && *x > 0.0);
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    Some(v[v.len() / 2])
}

/// The "Run" section: steps, last loss, training time, throughput, peak memory.
pub fn summary(dir: &Path, m: &Metrics) -> String {
    let last = |k: &str| m.series.get(k).and_then(|s| s.last().copied());
    let mut rows: Vec<Vec<String>> = Vec::new();
    if let Some((step, loss)) = last("loss") {
        rows.push(vec!["steps logged (last)".into(), format!("{step:.0}")]);
        rows.push(vec!["loss at the last step".into(), format!("{loss:.4}")]);
    }
    if let Some((_, s)) = last("elapsed_seconds") {
        rows.push(vec![
            "training time (evaluation excluded)".into(),
            format!("{:.1} min", s / 60.0),
        ]);
    }
    let ips = m
        .series
        .get("images_per_sec")
        .map(|s| s.iter().map(|p| p.1).collect::<Vec<_>>())
        .and_then(median);
    rows.push(vec![
        "throughput (median over logged intervals)".into(),
        ips.map_or("not logged".into(), |v| format!("{v:.1} images/s")),
    ]);
    let res: Option<serde_json::Value> = std::fs::read_to_string(dir.join(RESOURCES_FILE))
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok());
    let field = |k: &str| res.as_ref().and_then(|r| r.get(k)?.as_f64());
    rows.push(vec![
        "peak memory (resident set of the training process)".into(),
        field("peak_rss_mib").map_or(format!("not recorded (no {RESOURCES_FILE})"), |v| {
            format!("{v:.0} MiB")
        }),
    ]);
    if let Some(t) = field("threads") {
        rows.push(vec!["compute threads".into(), format!("{t:.0}")]);
    }
    html::table("run", &["quantity", "value"], &rows)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plot::metrics::parse_jsonl;

    #[test]
    fn summary_reads_metrics_and_recorded_memory() {
        let dir = tempfile::tempdir().unwrap();
        let m = parse_jsonl(
            "{\"step\":1,\"loss\":2,\"images_per_sec\":100,\"elapsed_seconds\":60}\n\
             {\"step\":2,\"loss\":1.5,\"images_per_sec\":300,\"elapsed_seconds\":120}\n\
             {\"step\":3,\"loss\":1.25,\"images_per_sec\":200,\"elapsed_seconds\":180}\n",
        );
        let s = summary(dir.path(), &m);
        assert!(s.contains("200.0 images/s") && s.contains("3.0 min"), "{s}");
        assert!(s.contains("not recorded"), "{s}");
        record(dir.path());
        let s = summary(dir.path(), &m);
        assert!(s.contains(" MiB") && s.contains("compute threads"), "{s}");
    }
}
