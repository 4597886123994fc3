//! Criterion benches of the CUDA kernels through their launch wrappers, timed with CUDA events
//! (each repetition after an L2 flush, cuda.md §9), at the shapes the models use. After each case
//! one line gives the median time, GB/s or TFLOP/s and the fraction of the device's roofline.
//!
//!   cargo bench -p jepa-benches --bench cuda_kernels
//!
//! Without a usable GPU it prints `skipped: cuda_kernels: <probe reason>` and exits 0; with
//! `REQUIRE_GPU=1` the same reason is an error (exit 1), as in the GPU tests.

mod cases_nn;
mod cases_train;

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use criterion::{Criterion, Throughput};
use jepa_benches::gpu::{device_attrs, median_secs, EventTimer};
use jepa_benches::roofline::{peaks, report_line, Peaks, Work};
use jepa_kernels::cuda::{probe, CudaError, CudaRuntime};

/// Runs the cases and collects the ones that failed, so one broken kernel does not hide the rest.
pub struct Runner {
    c: Criterion,
    rt: Arc<CudaRuntime>,
    timer: EventTimer,
    peaks: Peaks,
    failures: Vec<String>,
}

impl Runner {
    pub fn rt(&self) -> Arc<CudaRuntime> {
        self.rt.clone()
    }

    pub fn fail(&mut self, case: &str, e: CudaError) {
        eprintln!("error: cuda {case}: {e}");
        self.failures.push(case.to_string());
    }

    /// Benchmarks `op` as `group/name`. `work` is one call's compulsory DRAM traffic and FLOPs;
    /// criterion's throughput is the FLOPs for compute cases and the bytes otherwise.
    pub fn case(
        &mut self,
        group: &str,
        name: &str,
        work: Work,
        mut op: impl FnMut() -> Result<(), CudaError>,
    ) {
        let id = format!("{group}/{name}");
        // One checked call first: a failing launch is reported instead of being timed.
        if let Err(e) = op().and_then(|()| self.rt.synchronize()) {
            self.fail(&id, e);
            return;
        }
        self.timer.take_samples();
        let mut err = None;
        {
            let timer = &mut self.timer;
            let mut g = self.c.benchmark_group(group);
            g.throughput(if work.flops > 0 {
                Throughput::Elements(work.flops)
            } else {
                Throughput::Bytes(work.bytes)
            });
            g.bench_function(name, |b| {
                b.iter_custom(|iters| match timer.time(iters, &mut op) {
                    Ok(d) => d,
                    Err(e) => {
                        err.get_or_insert(e);
                        // criterion needs a duration; the case is reported as failed below.
                        Duration::from_nanos(1)
                    }
                })
            });
            g.finish();
        }
        if let Some(e) = err {
            self.fail(&id, e);
            return;
        }
        // Empty when criterion's filter skipped the case.
        if let Some(secs) = median_secs(&mut self.timer.take_samples()) {
            println!("{}", report_line(&id, work, secs, &self.peaks));
        }
    }
}

fn describe(p: &Peaks) -> String {
    let f = |v: Option<(f64, jepa_benches::roofline::Source)>, scale: f64, unit: &str| match v {
        Some((v, s)) => format!("{:.0} {unit} ({s:?})", v / scale),
        None => format!("? {unit}"),
    };
    format!(
        "DRAM {}, FP32 {}, bf16 tensor {}",
        f(p.mem_bytes_per_s, 1e9, "GB/s"),
        f(p.fp32_flops, 1e12, "TFLOP/s"),
        f(p.bf16_tensor_flops, 1e12, "TFLOP/s")
    )
}

type Group = fn(&mut Runner) -> Result<(), CudaError>;

fn main() -> ExitCode {
    let rt = match probe() {
        Ok(rt) => rt,
        Err(reason) => {
            if std::env::var_os("REQUIRE_GPU").is_some_and(|v| v == "1") {
                eprintln!("error: cuda_kernels: REQUIRE_GPU=1 but no usable GPU: {reason}");
                return ExitCode::FAILURE;
            }
            println!("skipped: cuda_kernels: {reason}");
            return ExitCode::SUCCESS;
        }
    };
    let attrs = device_attrs(&rt);
    let peaks = peaks(&attrs);
    println!(
        "cuda_kernels: {rt:?}, {} SMs, L2 {} MiB; peaks: {}",
        attrs.sm_count,
        attrs.l2_bytes >> 20,
        describe(&peaks)
    );
    let l2 = usize::try_from(attrs.l2_bytes).unwrap_or(0);
    let timer = match EventTimer::new(rt.clone(), l2) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("error: cuda_kernels: timer setup: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut r = Runner {
        c: Criterion::default().configure_from_args(),
        rt,
        timer,
        peaks,
        failures: Vec::new(),
    };
    let groups: [(&str, Group); 9] = [
        ("attention", cases_nn::attention),
        ("layernorm", cases_nn::layernorm),
        ("gelu", cases_nn::gelu),
        ("softmax", cases_nn::softmax),
        ("gather", cases_train::gather),
        ("vicreg", cases_train::vicreg),
        ("smooth_l1", cases_train::smooth_l1),
        ("optim", cases_train::optim),
        ("gemm", cases_train::gemm),
    ];
    for (name, group) in groups {
        // Setup (allocation, upload) errors land here; launch errors inside `case`.
        if let Err(e) = group(&mut r) {
            r.fail(name, e);
        }
    }
    r.c.final_summary();
    if r.failures.is_empty() {
        ExitCode::SUCCESS
    } else {
        eprintln!(
            "error: cuda_kernels: {} case(s) failed: {}",
            r.failures.len(),
            r.failures.join(", ")
        );
        ExitCode::FAILURE
    }
}
