//! Benchmark records, the timing loop and the table / JSON renderers.

use std::time::Instant;

use jepa_kernels::cpu::simd::SimdPath;
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
    /// GFLOP/s as a percentage of the measured FMA peak on the same thread count; for a
    /// memory-bound kernel (GB/s and no FLOP count), GB/s as a percentage of `copy_gbps`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub percent_of_peak: Option<f64>,
    /// A parallel copy moving the same bytes, same threads, same moment (`copy_peak.rs`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub copy_gbps: Option<f64>,
    pub threads: usize,
    pub device: String,
    /// `highest`, `high` or `medium` (`--matmul-precision`).
    pub matmul_precision: String,
    /// The SIMD path jepa's kernels ran (`baseline`, `avx2`, `avx512`; `JEPA_SIMD` forces it).
    pub simd_path: String,
}

/// What one timed call does, for the derived rates.
#[derive(Clone, Copy, Debug, Default)]
pub struct Work {
    pub flops: Option<f64>,
    pub bytes: Option<f64>,
    pub images: Option<f64>,
}

/// How long to measure. A sample repeats the call until it spans `sample_secs`, as
/// `bench_torch.py` does (its samples are ≥ 20 ms), so that a sub-millisecond kernel is timed
/// over as many calls as PyTorch's is and not over 50 single calls that start cold.
#[derive(Clone, Copy, Debug)]
pub struct Budget {
    pub warmup: usize,
    pub min_reps: usize,
    pub max_reps: usize,
    /// Stop adding samples past this much measured time (after `min_reps`).
    pub max_secs: f64,
    /// Shortest sample: calls per sample = this over one call's time (at least 1).
    pub sample_secs: f64,
}

impl Budget {
    pub fn new(quick: bool) -> Self {
        if quick {
            Self {
                warmup: 1,
                min_reps: 3,
                max_reps: 5,
                max_secs: 1.0,
                sample_secs: 0.005,
            }
        } else {
            Self {
                warmup: 3,
                min_reps: 10,
                max_reps: 30,
                max_secs: 3.0,
                sample_secs: 0.02,
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

/// Times `f` per `budget` and returns the median over samples of the milliseconds per call.
pub fn time_ms<F: FnMut()>(budget: Budget, mut f: F) -> f64 {
    for _ in 0..budget.warmup {
        f();
    }
    let t = Instant::now();
    f();
    let inner = calls_per_sample(budget.sample_secs, t.elapsed().as_secs_f64());
    let mut times = Vec::new();
    let start = Instant::now();
    while times.len() < budget.max_reps
        && (times.len() < budget.min_reps || start.elapsed().as_secs_f64() < budget.max_secs)
    {
        let t = Instant::now();
        for _ in 0..inner {
            f();
        }
        times.push(t.elapsed().as_secs_f64() * 1e3 / inner as f64);
    }
    median(&mut times)
}

/// Calls that make a sample of at least `sample_secs` when one call takes `one_secs`.
pub fn calls_per_sample(sample_secs: f64, one_secs: f64) -> usize {
    ((sample_secs / one_secs.max(1e-7)).ceil() as usize).clamp(1, 1 << 20)
}

impl Record {
    /// Which ceiling `percent_of_peak` is of: the FMA loop for FLOP-counted work, the same-size
    /// copy for memory-bound kernels.
    pub fn peak_kind(&self) -> &'static str {
        match (self.percent_of_peak, self.gflops) {
            (None, _) => "-",
            (Some(_), Some(_)) => "fma",
            (Some(_), None) => "copy",
        }
    }

    /// Sets the copy ceiling of a memory-bound record and, when it has no GFLOP/s, its percent.
    pub fn with_copy_ceiling(mut self, copy_gbps: f64) -> Self {
        if let (Some(g), true) = (self.gbps, copy_gbps > 0.0) {
            self.copy_gbps = Some(copy_gbps);
            if self.gflops.is_none() {
                self.percent_of_peak = Some(100.0 * g / copy_gbps);
            }
        }
        self
    }

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
            copy_gbps: None,
            threads,
            device: "cpu".into(),
            matmul_precision: "highest".into(),
            simd_path: SimdPath::best().name().into(),
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
        "{:w$}  {:>10}  {:>8}  {:>7}  {:>8}  {:>6}  {:4}  {:>8}  {:>3}\n",
        "name", "median ms", "GFLOP/s", "GB/s", "img/s", "%peak", "of", "RSS MiB", "thr"
    );
    for r in records {
        s += &format!(
            "{:w$}  {:>10.3}  {:>8}  {:>7}  {:>8}  {:>6}  {:4}  {:>8}  {:>3}\n",
            r.name,
            r.median_ms,
            cell(r.gflops, 1),
            cell(r.gbps, 1),
            cell(r.images_per_s, 1),
            cell(r.percent_of_peak, 1),
            r.peak_kind(),
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
    fn samples_span_the_sample_time() {
        assert_eq!(calls_per_sample(0.02, 0.05), 1);
        assert!((100..=101).contains(&calls_per_sample(0.02, 0.0002)));
        assert_eq!(calls_per_sample(0.02, 0.0003), 67);
        assert_eq!(
            calls_per_sample(0.02, 0.0),
            200_000,
            "a zero reading counts as 0.1 µs"
        );
        assert_eq!(calls_per_sample(1e3, 1e-7), 1 << 20, "capped");
    }

    #[test]
    fn time_ms_reports_milliseconds_per_call() {
        let budget = Budget::new(true);
        let mut calls = 0usize;
        let ms = time_ms(budget, || {
            calls += 1;
            std::thread::sleep(std::time::Duration::from_millis(2));
        });
        // 2 ms sleeps, 5 ms samples: several calls per sample, each reported as ≈ 2 ms.
        assert!(calls >= 1 + 1 + 3 * 3, "{calls} calls");
        assert!((2.0..4.0).contains(&ms), "{ms} ms per call");
    }

    #[test]
    fn memory_bound_records_report_percent_of_the_copy_ceiling() {
        let bytes = Work {
            bytes: Some(4e9),
            ..Work::default()
        };
        let r = Record::new("ln", 100.0, bytes, 2, 500.0).with_copy_ceiling(80.0);
        assert_eq!(r.peak_kind(), "copy");
        assert!(table(std::slice::from_ref(&r)).contains("50.0  copy"));
        assert_eq!(r.gbps, Some(40.0));
        assert_eq!(r.copy_gbps, Some(80.0));
        assert_eq!(r.percent_of_peak, Some(50.0));
        // A record with FLOPs keeps its FMA percentage; one without bytes gets no ceiling.
        let both = Work {
            flops: Some(1e9),
            bytes: Some(1e9),
            images: None,
        };
        let r = Record::new("attn", 1000.0, both, 2, 4.0).with_copy_ceiling(10.0);
        assert_eq!(r.percent_of_peak, Some(25.0));
        assert_eq!(r.peak_kind(), "fma");
        let r = Record::new("gemm", 1000.0, Work::default(), 2, 4.0).with_copy_ceiling(10.0);
        assert_eq!((r.copy_gbps, r.percent_of_peak), (None, None));
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
