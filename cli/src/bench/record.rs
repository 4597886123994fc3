//! Benchmark records, the timing loop and the table / JSON renderers.

use std::time::Instant;

use serde::Serialize;

/// One benchmark result; `--json` prints an array of these.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Record {
    pub name: String,
    pub median_ms: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gflops: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gbps: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub images_per_s: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub peak_rss_mib: Option<f64>,
    /// GFLOP/s as a percentage of the measured FMA peak on the same thread count.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub percent_of_peak: Option<f64>,
    pub threads: usize,
    pub device: String,
    /// `highest`, `high` or `medium` (`--matmul-precision`).
    pub matmul_precision: String,
}

/// What one timed call does, for the derived rates.
#[derive(Clone, Copy, Debug, Default)]
pub struct Work {
    pub flops: Option<f64>,
    pub bytes: Option<f64>,
    pub images: Option<f64>,
}

/// How long to measure.
#[derive(Clone, Copy, Debug)]
pub struct Budget {
    pub warmup: usize,
    pub min_reps: usize,
    pub max_reps: usize,
    /// Stop adding repeats past this much measured time (after `min_reps`).
    pub max_secs: f64,
}

impl Budget {
    pub fn new(quick: bool) -> Self {
        if quick {
            Self {
                warmup: 1,
                min_reps: 3,
                max_reps: 5,
                max_secs: 1.0,
            }
        } else {
            Self {
                warmup: 3,
                min_reps: 10,
                max_reps: 50,
                max_secs: 5.0,
            }
        }
    }
}

/// Median of `xs` (0 for empty input).
pub fn median(xs: &mut [f64]) -> f64 {
    if xs.is_empty() {
        return 0.0;
    }
    xs.sort_by(f64::total_cmp);
    let n = xs.len();
    if n % 2 == 1 {
        xs[n / 2]
    } else {
        0.5 * (xs[n / 2 - 1] + xs[n / 2])
    }
}

/// Times `f` per `budget` and returns the median milliseconds.
pub fn time_ms<F: FnMut()>(budget: Budget, mut f: F) -> f64 {
    for _ in 0..budget.warmup {
        f();
    }
    let mut times = Vec::new();
    let start = Instant::now();
    while times.len() < budget.max_reps
        && (times.len() < budget.min_reps || start.elapsed().as_secs_f64() < budget.max_secs)
    {
        let t = Instant::now();
        f();
        times.push(t.elapsed().as_secs_f64() * 1e3);
    }
    median(&mut times)
}

impl Record {
    pub fn new(name: &str, ms: f64, work: Work, threads: usize, peak_gflops: f64) -> Self {
        let per_s = |x: Option<f64>| x.map(|v| v / (ms / 1e3));
        let gflops = per_s(work.flops).map(|v| v / 1e9);
        Self {
            name: name.into(),
            median_ms: ms,
            gflops,
            gbps: per_s(work.bytes).map(|v| v / 1e9),
            images_per_s: per_s(work.images),
            peak_rss_mib: None,
            percent_of_peak: gflops
                .filter(|_| peak_gflops > 0.0)
                .map(|g| 100.0 * g / peak_gflops),
            threads,
            device: "cpu".into(),
            matmul_precision: "highest".into(),
        }
    }
}

fn cell(v: Option<f64>, prec: usize) -> String {
    v.map(|x| format!("{x:.prec$}"))
        .unwrap_or_else(|| "-".into())
}

/// The human-readable table.
pub fn table(records: &[Record]) -> String {
    let w = records
        .iter()
        .map(|r| r.name.len())
        .max()
        .unwrap_or(4)
        .max(4);
    let mut s = format!(
        "{:w$}  {:>10}  {:>8}  {:>7}  {:>8}  {:>6}  {:>8}  {:>3}\n",
        "name", "median ms", "GFLOP/s", "GB/s", "img/s", "%peak", "RSS MiB", "thr"
    );
    for r in records {
        s += &format!(
            "{:w$}  {:>10.3}  {:>8}  {:>7}  {:>8}  {:>6}  {:>8}  {:>3}\n",
            r.name,
            r.median_ms,
            cell(r.gflops, 1),
            cell(r.gbps, 1),
            cell(r.images_per_s, 1),
            cell(r.percent_of_peak, 1),
            cell(r.peak_rss_mib, 0),
            r.threads
        );
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_odd_and_even_counts() {
        assert_eq!(median(&mut [3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&mut [4.0, 1.0, 2.0, 3.0]), 2.5);
        assert_eq!(median(&mut []), 0.0);
    }

    #[test]
    fn rates_follow_from_time_and_work() {
        let work = Work {
            flops: Some(2e9),
            bytes: Some(1e9),
            images: Some(64.0),
        };
        let r = Record::new("x", 500.0, work, 2, 8.0);
        assert_eq!(r.gflops, Some(4.0));
        assert_eq!(r.gbps, Some(2.0));
        assert_eq!(r.images_per_s, Some(128.0));
        assert_eq!(r.percent_of_peak, Some(50.0));
        let json = serde_json::to_value(&r).unwrap();
        assert!(json.get("peak_rss_mib").is_none());
        assert_eq!(json["threads"], 2);
    }
}
