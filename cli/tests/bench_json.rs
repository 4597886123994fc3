//! `jepa bench --json` end to end: the record of a memory-bound kernel carries its copy ceiling,
//! and its percent of peak is its GB/s over that ceiling; a GEMM keeps its FMA percentage.

use std::process::Command;

/// Records and stderr of `jepa bench --quick --json --threads 1 --filter FILTER EXTRA...`.
fn bench_json(filter: &str, extra: &[&str]) -> (Vec<serde_json::Value>, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_jepa"))
        .args([
            "bench",
            "--quick",
            "--json",
            "--threads",
            "1",
            "--filter",
            filter,
        ])
        .args(extra)
        .output()
        .expect("run jepa");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{stderr}");
    let recs = serde_json::from_slice(&out.stdout).expect("a JSON array");
    (recs, stderr)
}

#[test]
fn memory_bound_records_are_measured_against_a_copy_of_the_same_bytes() {
    let (recs, _) = bench_json("layernorm_fwd_4096x192", &[]);
    assert_eq!(recs.len(), 1, "{recs:?}");
    let r = &recs[0];
    assert_eq!(r["name"], "layernorm_fwd_4096x192");
    assert_eq!(r["threads"], 1);
    let (gbps, copy) = (
        r["gbps"].as_f64().unwrap(),
        r["copy_gbps"].as_f64().unwrap(),
    );
    assert!(gbps > 0.0 && copy > 0.0, "{r}");
    let pct = r["percent_of_peak"].as_f64().unwrap();
    assert!(
        (pct - 100.0 * gbps / copy).abs() < 1e-9 * pct.max(1.0),
        "{r}"
    );
    assert!(r.get("gflops").is_none(), "{r}");
}

#[test]
fn compute_bound_records_keep_the_fma_percentage() {
    let (recs, _) = bench_json("gemm_512", &[]);
    let r = &recs[0];
    assert!(r.get("copy_gbps").is_none(), "{r}");
    assert!(r["gflops"].as_f64().unwrap() > 0.0 && r["percent_of_peak"].as_f64().unwrap() > 0.0);
}

#[test]
fn records_name_the_precision_the_products_really_ran_at() {
    let (recs, stderr) = bench_json("gemm_512", &["--matmul-precision", "medium"]);
    if jepa_kernels::cpu::gemm::reduced_precision_available() {
        assert_eq!(recs[0]["matmul_precision"], "medium");
        assert!(!stderr.contains("AMX"), "{stderr}");
    } else {
        // No AMX here: the products ran in f32, and the run says so.
        assert_eq!(recs[0]["matmul_precision"], "highest");
        assert!(stderr.contains("needs AMX-BF16"), "{stderr}");
    }
}
