//! Device peaks and the roofline fraction the CUDA benches print. Pure arithmetic on plain
//! numbers (no CUDA), so it is unit-tested on any machine; `gpu.rs` fills [`DeviceAttrs`] from the
//! driver.

/// What the driver reports about a device; 0 means the attribute was unavailable.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct DeviceAttrs {
    pub name: String,
    /// Compute capability (major, minor).
    pub cc: (i32, i32),
    pub sm_count: i32,
    /// Peak SM clock in kHz (`CU_DEVICE_ATTRIBUTE_CLOCK_RATE`).
    pub clock_khz: i32,
    /// Peak memory clock in kHz (`CU_DEVICE_ATTRIBUTE_MEMORY_CLOCK_RATE`).
    pub mem_clock_khz: i32,
    pub bus_width_bits: i32,
    pub l2_bytes: i32,
}

/// Where a peak figure came from, printed beside it so a reader can judge it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// Computed from the driver's attributes.
    Attributes,
    /// The vendor datasheet entry matched by device name ([`datasheet`]).
    Datasheet,
}

/// Peak rates, each `None` when neither the attributes nor the datasheet table give it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Peaks {
    pub mem_bytes_per_s: Option<(f64, Source)>,
    /// Non-tensor FP32 FMA throughput (CUDA cores): the roof of the hand-written kernels, which
    /// use no `mma`, and of cuBLAS sgemm in FP32 mode (no TF32).
    pub fp32_flops: Option<(f64, Source)>,
    /// Dense bf16 tensor-core throughput with f32 accumulation: the roof of cuBLAS bf16 GEMM.
    pub bf16_tensor_flops: Option<(f64, Source)>,
}

/// DRAM bandwidth: two transfers per memory clock (DDR/HBM) across the bus. For an H100 SXM
/// (2619 MHz, 5120 bit) this gives 3.35 TB/s, the datasheet figure.
pub fn bandwidth_from_attrs(mem_clock_khz: i32, bus_width_bits: i32) -> Option<f64> {
    (mem_clock_khz > 0 && bus_width_bits > 0)
        .then(|| 2.0 * mem_clock_khz as f64 * 1e3 * bus_width_bits as f64 / 8.0)
}

/// FP32 FLOPs per clock per SM (2 per FMA lane), from the CUDA programming guide's throughput
/// table: 64 FP32 lanes on sm_70/75/80, 128 on sm_86 and later.
fn fp32_flops_per_clock_per_sm(cc: (i32, i32)) -> Option<f64> {
    match cc {
        (7, 0) | (7, 5) | (8, 0) => Some(128.0),
        (8, 6) | (8, 7) | (8, 9) | (9, 0) | (10, _) | (12, _) => Some(256.0),
        _ => None,
    }
}

/// Dense bf16 tensor FLOPs per clock per SM, derived from the A100 and H100 datasheets
/// (312 TFLOP/s = 108 SM × 1.41 GHz × 2048; 989 TFLOP/s = 132 SM × 1.83 GHz × 4096). Other
/// architectures differ between product lines (sm_89 GeForce vs. L40S), so they get none.
fn bf16_flops_per_clock_per_sm(cc: (i32, i32)) -> Option<f64> {
    match cc {
        (8, 0) => Some(2048.0),
        (9, 0) => Some(4096.0),
        _ => None,
    }
}

fn compute_from_attrs(a: &DeviceAttrs, per_sm: Option<f64>) -> Option<f64> {
    let per_sm = per_sm?;
    (a.sm_count > 0 && a.clock_khz > 0)
        .then_some(a.sm_count as f64 * a.clock_khz as f64 * 1e3 * per_sm)
}

/// Vendor datasheet figures: (memory bytes/s, FP32 FLOP/s, dense bf16 tensor FLOP/s).
/// Sources: NVIDIA H100 Tensor Core GPU datasheet (SXM5 80 GB: 3.35 TB/s, 67 / 989 TFLOP/s;
/// PCIe 80 GB: 2.0 TB/s, 51 / 756; NVL 94 GB: 3.9 TB/s, 60 / 835), NVIDIA H200 datasheet
/// (4.8 TB/s, 67 / 989), NVIDIA A100 datasheet (40 GB: 1.555 TB/s; 80 GB PCIe: 1.935 TB/s;
/// 80 GB SXM: 2.039 TB/s; 19.5 / 312 TFLOP/s). Dense figures: the datasheets' sparsity numbers
/// are twice these.
pub fn datasheet(name: &str) -> Option<(f64, f64, f64)> {
    let n = name.to_ascii_uppercase();
    let t = 1e12;
    if n.contains("H200") {
        Some((4.8 * t, 67.0 * t, 989.0 * t))
    } else if n.contains("H100") && n.contains("NVL") {
        Some((3.9 * t, 60.0 * t, 835.0 * t))
    } else if n.contains("H100") && n.contains("PCIE") {
        Some((2.0 * t, 51.0 * t, 756.0 * t))
    } else if n.contains("H100") {
        Some((3.35 * t, 67.0 * t, 989.0 * t))
    } else if n.contains("A100") {
        let bw = match (n.contains("80GB"), n.contains("PCIE")) {
            (true, true) => 1.935,
            (true, false) => 2.039,
            _ => 1.555,
        };
        Some((bw * t, 19.5 * t, 312.0 * t))
    } else {
        None
    }
}

/// Peaks from the attributes where they suffice, else from the datasheet table.
pub fn peaks(a: &DeviceAttrs) -> Peaks {
    let sheet = datasheet(&a.name);
    let pick = |attr: Option<f64>, sheet: Option<f64>| match (attr, sheet) {
        (Some(v), _) => Some((v, Source::Attributes)),
        (None, Some(v)) => Some((v, Source::Datasheet)),
        (None, None) => None,
    };
    Peaks {
        mem_bytes_per_s: pick(
            bandwidth_from_attrs(a.mem_clock_khz, a.bus_width_bits),
            sheet.map(|s| s.0),
        ),
        fp32_flops: pick(
            compute_from_attrs(a, fp32_flops_per_clock_per_sm(a.cc)),
            sheet.map(|s| s.1),
        ),
        bf16_tensor_flops: pick(
            compute_from_attrs(a, bf16_flops_per_clock_per_sm(a.cc)),
            sheet.map(|s| s.2),
        ),
    }
}

/// Which compute roof bounds a kernel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ComputeRoof {
    Fp32,
    Bf16Tensor,
}

/// The compulsory work of one call: bytes that must cross DRAM and FLOPs that must be done.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Work {
    pub bytes: u64,
    pub flops: u64,
    pub roof: ComputeRoof,
}

impl Work {
    pub fn memory(bytes: u64) -> Self {
        Self {
            bytes,
            flops: 0,
            roof: ComputeRoof::Fp32,
        }
    }
    pub fn compute(flops: u64, bytes: u64, roof: ComputeRoof) -> Self {
        Self { bytes, flops, roof }
    }
}

/// The roofline verdict for one measured time.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Verdict {
    /// The lower bound on the time, max(bytes / bandwidth, flops / compute peak), over the
    /// measured time: 1.0 is at the roof.
    pub fraction: f64,
    /// True when the bandwidth term is the larger one.
    pub memory_bound: bool,
}

/// `None` when a peak the work needs is unknown, or the time is not positive.
pub fn verdict(work: Work, secs: f64, p: &Peaks) -> Option<Verdict> {
    if secs <= 0.0 || !secs.is_finite() {
        return None;
    }
    let t_mem = match (work.bytes, p.mem_bytes_per_s) {
        (0, _) => 0.0,
        (b, Some((bw, _))) => b as f64 / bw,
        (_, None) => return None,
    };
    let peak = match work.roof {
        ComputeRoof::Fp32 => p.fp32_flops,
        ComputeRoof::Bf16Tensor => p.bf16_tensor_flops,
    };
    let t_flop = match (work.flops, peak) {
        (0, _) => 0.0,
        (f, Some((pk, _))) => f as f64 / pk,
        (_, None) => return None,
    };
    Some(Verdict {
        fraction: t_mem.max(t_flop) / secs,
        memory_bound: t_mem >= t_flop,
    })
}

/// One report line: time, the natural rate (GB/s for memory-bound, TFLOP/s otherwise) and the
/// roofline fraction, or `n/a` with the reason when a peak is unknown.
pub fn report_line(case: &str, work: Work, secs: f64, p: &Peaks) -> String {
    let v = verdict(work, secs, p);
    let show_flops = work.flops > 0 && v.is_none_or(|v| !v.memory_bound);
    let rate = if show_flops {
        format!("{:.2} TFLOP/s", work.flops as f64 / secs / 1e12)
    } else {
        format!("{:.1} GB/s", work.bytes as f64 / secs / 1e9)
    };
    let roof = match v {
        Some(v) if v.memory_bound => format!("{:.0}% of the DRAM roof", 100.0 * v.fraction),
        Some(v) => format!("{:.0}% of the {:?} roof", 100.0 * v.fraction, work.roof),
        None => "roofline n/a (peak unknown for this device)".to_string(),
    };
    format!("cuda {case}: {:.2} us, {rate}, {roof}", secs * 1e6)
}

#[cfg(test)]
#[path = "roofline_tests.rs"]
mod tests;
