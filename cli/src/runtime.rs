//! Process-level setup shared by the commands: the last-resort panic hook, the rayon pool, the
//! device check and the Ctrl-C flag.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

use jepa_engine::Device;
use jepa_kernels::cpu::denormals::flush_denormals_on_this_thread;
use jepa_kernels::cpu::gemm::{reduced_precision_available, set_matmul_precision, MatmulPrecision};

use crate::error::{CliError, CliResult};

/// Replaces the default panic message (several lines, maybe a backtrace) by one line. Panics
/// are bugs, not user errors, but even then the user sees a single readable line.
pub fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        let msg = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".into());
        let at = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        eprintln!(
            "jepa: internal error: {}{at} (please report this)",
            crate::error::one_line(&msg)
        );
    }));
}

/// Parses and applies `--matmul-precision` (`None` keeps the default, `highest`) and returns
/// the level products will really run at: without AMX-BF16, `high` and `medium` compute in f32
/// (as PyTorch does where it has no faster kernel), which is said once on stderr so that a
/// timing or a run is not mistaken for a reduced-precision one.
pub fn configure_precision(level: Option<&str>) -> CliResult<MatmulPrecision> {
    let p = match level {
        None => MatmulPrecision::Highest,
        Some(s) => s.parse().map_err(CliError::Usage)?,
    };
    set_matmul_precision(p);
    if p != MatmulPrecision::Highest && !reduced_precision_available() {
        eprintln!(
            "jepa: warning: matmul precision `{}` needs AMX-BF16, which this CPU (or its OS) does \
             not offer; products compute in f32, as at `highest`",
            p.name()
        );
        return Ok(MatmulPrecision::Highest);
    }
    Ok(p)
}

/// Sizes rayon's global pool, which the engine and kernels use. `None` keeps rayon's default
/// (all cores, or `RAYON_NUM_THREADS`). Building the global pool twice fails; a second call with
/// the size already in force is accepted so that library callers (tests) can call this freely.
pub fn configure_threads(threads: Option<usize>) -> CliResult<usize> {
    if threads == Some(0) {
        return Err(CliError::Usage("--threads must be >= 1".into()));
    }
    // Every compute thread flushes denormals (jepa_kernels::cpu::denormals explains the
    // 60x slowdown otherwise); the builder's default size is rayon's own (cores or
    // RAYON_NUM_THREADS).
    flush_denormals_on_this_thread();
    if pool_builder(threads).build_global().is_err() {
        if let Some(n) = threads.filter(|&n| n != rayon::current_num_threads()) {
            return Err(CliError::Other(format!(
                "cannot resize the thread pool to {n}: it already runs {} threads",
                rayon::current_num_threads()
            )));
        }
    }
    Ok(rayon::current_num_threads())
}

/// The compute pool: `threads` workers (default: rayon's), each flushing denormals.
fn pool_builder(threads: Option<usize>) -> rayon::ThreadPoolBuilder {
    let pool = rayon::ThreadPoolBuilder::new().start_handler(|_| flush_denormals_on_this_thread());
    match threads {
        Some(n) => pool.num_threads(n),
        None => pool,
    }
}

/// Parses `cpu`, `cuda` or `cuda:N`.
pub fn parse_device(text: &str) -> CliResult<Device> {
    let t = text.trim().to_ascii_lowercase();
    match t.as_str() {
        "cpu" => Ok(Device::Cpu),
        "cuda" | "gpu" => Ok(Device::Cuda(0)),
        _ => match t.strip_prefix("cuda:").map(str::parse::<usize>) {
            Some(Ok(n)) => Ok(Device::Cuda(n)),
            _ => Err(CliError::Usage(format!(
                "unknown device `{text}` (expected cpu, cuda or cuda:N)"
            ))),
        },
    }
}

/// Parses the device and checks that the engine can allocate on it, so that `--device cuda` on
/// a machine without CUDA fails before any data is read.
pub fn select_device(text: Option<&str>) -> CliResult<Device> {
    let device = parse_device(text.unwrap_or("cpu"))?;
    device.ensure_available("jepa").map_err(|e| match e {
        jepa_engine::Error::DeviceUnavailable { device, reason, .. } => CliError::Device(format!(
            "device {device} requested but unavailable: {reason}; use --device cpu"
        )),
        other => CliError::Engine(other),
    })?;
    Ok(device)
}

/// The device the models compute on: [`select_device`], then CPU only. The engine may have a
/// working CUDA backend, but the ViT, trainer and probes build their tensors on the CPU, so
/// accepting `--device cuda` would silently train on the CPU.
pub fn compute_device(text: Option<&str>) -> CliResult<Device> {
    let device = select_device(text)?;
    if matches!(device, Device::Cpu) {
        Ok(device)
    } else {
        Err(CliError::Device(format!(
            "device {device}: the models and benchmarks run on the CPU only in this build; use --device cpu"
        )))
    }
}

/// Makes Ctrl-C set `flag`: the running command stops at its next safe point (the trainer
/// finishes the step and writes a checkpoint). A second Ctrl-C exits at once. Only the first
/// call installs a handler (the process has one); later calls are ignored.
pub fn on_interrupt(flag: Arc<AtomicBool>) {
    static INSTALLED: OnceLock<()> = OnceLock::new();
    INSTALLED.get_or_init(|| {
        // If a handler cannot be installed, Ctrl-C keeps its default meaning.
        let _ = ctrlc::set_handler(move || {
            if flag.swap(true, Ordering::SeqCst) {
                eprintln!("jepa: interrupted twice, exiting without saving");
                std::process::exit(crate::error::EXIT_INTERRUPTED);
            }
            eprintln!("jepa: interrupt received, stopping after this step (Ctrl-C again to abort)");
        });
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn devices_parse_and_cuda_is_checked() {
        assert_eq!(parse_device("CPU").unwrap(), Device::Cpu);
        assert_eq!(parse_device("cuda").unwrap(), Device::Cuda(0));
        assert_eq!(parse_device("cuda:3").unwrap(), Device::Cuda(3));
        assert!(matches!(parse_device("tpu"), Err(CliError::Usage(_))));
        assert!(matches!(parse_device("cuda:x"), Err(CliError::Usage(_))));
        assert_eq!(select_device(None).unwrap(), Device::Cpu);
    }

    #[test]
    fn compute_threads_flush_denormals() {
        use jepa_kernels::cpu::denormals::denormals_flushed;
        let pool = pool_builder(Some(2)).build().unwrap();
        assert_eq!(pool.broadcast(|_| denormals_flushed()), vec![true, true]);
        configure_threads(None).unwrap();
        assert!(denormals_flushed(), "the calling thread flushes too");
    }

    #[test]
    fn zero_threads_is_a_usage_error() {
        assert!(matches!(
            configure_threads(Some(0)),
            Err(CliError::Usage(_))
        ));
    }
}
