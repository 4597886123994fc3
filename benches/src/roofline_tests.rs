use super::*;

/// What an H100 SXM reports (values from `deviceQuery` on such a host).
fn h100_sxm() -> DeviceAttrs {
    DeviceAttrs {
        name: "NVIDIA H100 80GB HBM3".into(),
        cc: (9, 0),
        sm_count: 132,
        clock_khz: 1_980_000,
        mem_clock_khz: 2_619_000,
        bus_width_bits: 5120,
        l2_bytes: 50 << 20,
    }
}

fn close(a: f64, b: f64, rel: f64) -> bool {
    (a - b).abs() <= rel * b.abs()
}

#[test]
fn attributes_reproduce_the_datasheet_bandwidth() {
    let bw = bandwidth_from_attrs(2_619_000, 5120).unwrap();
    assert!(close(bw, 3.35e12, 0.01), "{bw}");
    // A100 40 GB: 1215 MHz, 5120 bit → 1.555 TB/s.
    let bw = bandwidth_from_attrs(1_215_000, 5120).unwrap();
    assert!(close(bw, 1.555e12, 0.01), "{bw}");
    assert_eq!(bandwidth_from_attrs(0, 5120), None);
    assert_eq!(bandwidth_from_attrs(1_215_000, 0), None);
}

#[test]
fn h100_peaks_come_from_attributes_and_match_the_datasheet_within_the_boost_margin() {
    let p = peaks(&h100_sxm());
    let (fp32, src) = p.fp32_flops.unwrap();
    assert_eq!(src, Source::Attributes);
    // 132 × 128 lanes × 2 × 1.98 GHz = 66.9 TFLOP/s.
    assert!(close(fp32, 67e12, 0.01), "{fp32}");
    let (bf16, _) = p.bf16_tensor_flops.unwrap();
    // The attribute is the max boost clock (1.98 GHz); the datasheet uses 1.83 GHz.
    assert!(close(bf16, 989e12, 0.1), "{bf16}");
    assert_eq!(p.mem_bytes_per_s.unwrap().1, Source::Attributes);
}

#[test]
fn missing_attributes_fall_back_to_the_datasheet_by_name() {
    let a = DeviceAttrs {
        name: "NVIDIA H100 PCIe".into(),
        cc: (9, 0),
        ..DeviceAttrs::default()
    };
    let p = peaks(&a);
    let check = |got: Option<(f64, Source)>, want: f64| {
        let (v, src) = got.unwrap();
        assert_eq!(src, Source::Datasheet);
        assert!(close(v, want, 1e-9), "{v} vs {want}");
    };
    check(p.mem_bytes_per_s, 2.0e12);
    check(p.fp32_flops, 51e12);
    check(p.bf16_tensor_flops, 756e12);
    let bw = |name: &str| datasheet(name).unwrap().0;
    assert!(close(bw("NVIDIA H200"), 4.8e12, 1e-9));
    assert!(close(bw("NVIDIA A100-SXM4-80GB"), 2.039e12, 1e-9));
    assert!(close(bw("NVIDIA A100-PCIE-40GB"), 1.555e12, 1e-9));
    assert!(close(datasheet("NVIDIA H100 NVL").unwrap().2, 835e12, 1e-9));
}

#[test]
fn unknown_device_without_attributes_has_no_peaks_and_no_verdict() {
    let p = peaks(&DeviceAttrs {
        name: "Some GPU".into(),
        cc: (7, 5),
        ..DeviceAttrs::default()
    });
    assert_eq!(p.mem_bytes_per_s, None);
    assert_eq!(p.fp32_flops, None);
    assert_eq!(verdict(Work::memory(1 << 20), 1e-3, &p), None);
    let line = report_line("x", Work::memory(1 << 20), 1e-3, &p);
    assert!(line.contains("n/a"), "{line}");
}

#[test]
fn turing_has_fp32_but_no_bf16_tensor_peak() {
    let p = peaks(&DeviceAttrs {
        name: "Tesla T4".into(),
        cc: (7, 5),
        sm_count: 40,
        clock_khz: 1_590_000,
        ..DeviceAttrs::default()
    });
    assert!(close(p.fp32_flops.unwrap().0, 8.1e12, 0.01));
    assert_eq!(p.bf16_tensor_flops, None);
    let gemm = Work::compute(1 << 30, 1 << 20, ComputeRoof::Bf16Tensor);
    assert_eq!(verdict(gemm, 1e-3, &p), None);
}

#[test]
fn verdict_takes_the_larger_of_the_memory_and_compute_bounds() {
    let p = Peaks {
        mem_bytes_per_s: Some((1e12, Source::Datasheet)),
        fp32_flops: Some((10e12, Source::Datasheet)),
        bf16_tensor_flops: Some((100e12, Source::Datasheet)),
    };
    // 1 GB at 1 TB/s = 1 ms; measured 2 ms → 50 %.
    let v = verdict(Work::memory(1_000_000_000), 2e-3, &p).unwrap();
    assert!(v.memory_bound && close(v.fraction, 0.5, 1e-9));
    // 10 GFLOP at 10 TFLOP/s = 1 ms beats 1 MB at 1 TB/s = 1 µs.
    let w = Work::compute(10_000_000_000, 1_000_000, ComputeRoof::Fp32);
    let v = verdict(w, 4e-3, &p).unwrap();
    assert!(!v.memory_bound && close(v.fraction, 0.25, 1e-9));
    // The same FLOPs on tensor cores bound at 0.1 ms.
    let w = Work::compute(10_000_000_000, 1_000_000, ComputeRoof::Bf16Tensor);
    assert!(close(verdict(w, 1e-3, &p).unwrap().fraction, 0.1, 1e-9));
    assert_eq!(verdict(w, 0.0, &p), None);
    assert_eq!(verdict(w, f64::NAN, &p), None);
}

#[test]
fn report_line_shows_the_natural_rate() {
    let p = peaks(&h100_sxm());
    let mem = report_line("gelu", Work::memory(2_000_000_000), 1e-3, &p);
    assert!(
        mem.contains("2000.0 GB/s") && mem.contains("DRAM roof"),
        "{mem}"
    );
    let w = Work::compute(2 * 4096u64.pow(3), 3 * 4096 * 4096 * 4, ComputeRoof::Fp32);
    let gemm = report_line("sgemm", w, 4e-3, &p);
    assert!(
        gemm.contains("TFLOP/s") && gemm.contains("Fp32 roof"),
        "{gemm}"
    );
}
