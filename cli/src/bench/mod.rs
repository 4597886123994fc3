//! `jepa bench`: kernel and model microbenchmarks as a table (or `--json` records) of median
//! time, GFLOP/s, GB/s or images/s and percent of the measured FMA peak.

pub mod copy_peak;
pub mod kernels;
pub mod models;
pub mod peak;
pub mod record;
pub mod rss;

use crate::args::BenchArgs;
use crate::error::{CliError, CliResult};
use crate::runtime::{compute_device, configure_precision, configure_threads};
use jepa_engine::Device;
use jepa_kernels::cpu::gemm::MatmulPrecision;
use jepa_kernels::cpu::simd::SimdPath;
use record::{time_ms, Budget, Record, Work};

/// All benchmark names, kernels first.
pub fn all_names() -> Vec<String> {
    let mut v = vec!["fma_peak".to_string()];
    v.extend(kernels::names());
    v.extend(models::runners().into_iter().map(|(n, _)| n));
    v
}

pub fn run(args: &BenchArgs) -> CliResult<()> {
    let threads = configure_threads(args.threads)?;
    let device = compute_device(args.device.as_deref())?;
    // The level products really run at: records of a CPU without AMX say `highest`.
    let precision = configure_precision(args.matmul_precision.as_deref())?;
    // Timed from a pool worker, as training runs: from `main` every parallel call would also
    // pay a hand-off to the pool and back (jepa_engine::on_pool), which PyTorch's OpenMP
    // calls, made from a thread of their own team, do not.
    jepa_engine::on_pool(|| run_cases(args, threads, &device, precision))
}

fn run_cases(
    args: &BenchArgs,
    threads: usize,
    device: &Device,
    precision: MatmulPrecision,
) -> CliResult<()> {
    let filter = args.filter.clone().unwrap_or_default();
    let keep = |name: &str| name.contains(&filter);
    let budget = Budget::new(args.quick);
    let builders: Vec<_> = kernels::builders()
        .into_iter()
        .filter(|(n, _)| keep(n))
        .collect();
    let runners: Vec<_> = models::runners()
        .into_iter()
        .filter(|(n, _)| keep(n))
        .collect();
    let want_peak = keep("fma_peak");
    if builders.is_empty() && runners.is_empty() && !want_peak {
        return Err(CliError::Usage(format!(
            "no benchmark name contains `{filter}` (names: {})",
            all_names().join(", ")
        )));
    }
    let log = |msg: String| {
        if !args.json {
            eprintln!("{msg}");
        }
    };
    if cfg!(debug_assertions) {
        log("warning: debug build; timings are not representative (build with --release)".into());
    }
    // The peak is always measured: every GFLOP/s figure is reported against it.
    let peak = peak::measure(threads, if args.quick { 50.0 } else { 200.0 }, 3);
    log(format!(
        "FMA peak ({}): {:.1} GFLOP/s on {} thread(s); device {device}; matmul precision {precision}; SIMD path {}",
        peak.isa, peak.gflops, threads, SimdPath::best()
    ));
    let mut records = Vec::new();
    if want_peak {
        let mut r = Record::new("fma_peak", 0.0, Work::default(), threads, 0.0);
        r.gflops = Some(peak.gflops);
        r.percent_of_peak = Some(100.0);
        records.push(r);
    }
    for (name, build) in builders {
        log(format!("running {name} ..."));
        let mut case = build();
        rss::reset_peak();
        let ms = time_ms(budget, &mut case.run);
        let mut r = Record::new(&case.name, ms, case.work, threads, peak.gflops);
        r.peak_rss_mib = rss::peak_mib();
        if let Some(bytes) = case.work.bytes {
            // After the RSS reading: the copy's buffers are not the kernel's.
            r = r.with_copy_ceiling(copy_peak::copy_gbps(bytes, budget));
        }
        records.push(r);
    }
    for (name, run) in runners {
        log(format!("running {name} ..."));
        rss::reset_peak();
        records.push(run(args.quick, threads, peak.gflops)?);
    }
    for r in &mut records {
        r.matmul_precision = precision.name().into();
    }
    if args.json {
        let text = serde_json::to_string_pretty(&records)
            .map_err(|e| CliError::Other(format!("cannot encode results: {e}")))?;
        println!("{text}");
    } else {
        print!("{}", record::table(&records));
    }
    Ok(())
}
