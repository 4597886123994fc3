//! Rung 1 of the CUDA verification ladder (cuda.md §6): every kernel file compiles with NVRTC to
//! CUBIN for sm_80 and sm_90 with the production source and options, with no warning, no spill,
//! registers and shared memory within budget, and resources equal to the checked-in table
//! `kernels/ptxas_budget.tsv` (`UPDATE_GOLDEN=1` rewrites it, so every change shows in review).
//!
//! Skips (printing why) only when NVRTC cannot be loaded and `REQUIRE_NVRTC` is unset.

use std::collections::BTreeMap;
use std::path::PathBuf;

use jepa_kernels::cuda::compile::{compile_cubin, nvrtc_present, nvrtc_version, report_options};
use jepa_kernels::cuda::ptxas::{parse_ptxas_report, KernelResources};
use jepa_kernels::cuda::registry::{KERNEL_FILES, STATIC_SMEM_BUDGET};

const ARCHS: [(i32, i32); 2] = [(8, 0), (9, 0)];

fn golden_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("ptxas_budget.tsv")
}

/// True when the test should run; panics when NVRTC is required but absent.
fn nvrtc_or_skip(test: &str) -> bool {
    if nvrtc_present() {
        return true;
    }
    if std::env::var_os("REQUIRE_NVRTC").is_some_and(|v| v == "1") {
        panic!(
            "{test}: REQUIRE_NVRTC=1 but libnvrtc cannot be loaded (source scripts/cuda-env.sh)"
        );
    }
    println!("skipped: {test}: libnvrtc not found and REQUIRE_NVRTC is unset");
    false
}

fn row(r: &KernelResources) -> String {
    format!(
        "{}\t{}\t{}\t{}\t{}\t{}",
        r.arch, r.name, r.registers, r.barriers, r.smem, r.stack
    )
}

#[test]
fn nvrtc_registry_lists_every_cu_file() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("cuda");
    let mut on_disk: Vec<String> = std::fs::read_dir(&dir)
        .expect("kernels/cuda exists")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter_map(|n| n.strip_suffix(".cu").map(str::to_string))
        .collect();
    on_disk.sort();
    let mut registered: Vec<String> = KERNEL_FILES.iter().map(|f| f.name.to_string()).collect();
    registered.sort();
    assert_eq!(
        on_disk, registered,
        "kernels/cuda/*.cu and registry::KERNEL_FILES differ"
    );
    let mut seen = std::collections::HashSet::new();
    for f in KERNEL_FILES {
        for e in f.entries {
            assert!(seen.insert(*e), "entry point {e} registered twice");
            assert!(
                f.source.contains(e) || f.source.contains("_ENTRY("),
                "{e} not found in {}.cu",
                f.name
            );
        }
    }
}

#[test]
fn nvrtc_compiles_every_kernel_within_budget() {
    if !nvrtc_or_skip("nvrtc_compiles_every_kernel_within_budget") {
        return;
    }
    println!("NVRTC {:?}", nvrtc_version());
    let jobs: Vec<_> = KERNEL_FILES
        .iter()
        .flat_map(|f| ARCHS.iter().map(move |a| (f, *a)))
        .collect();
    let results: Vec<_> = std::thread::scope(|s| {
        let handles: Vec<_> = jobs
            .iter()
            .map(|&(f, arch)| s.spawn(move || (f, arch, compile_cubin(f, arch, &report_options()))))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("compile thread"))
            .collect()
    });

    let mut failures = Vec::new();
    let mut table = BTreeMap::new();
    for (file, arch, result) in results {
        let sm = format!("sm_{}{}", arch.0, arch.1);
        let compiled = match result {
            Ok(c) => c,
            Err(e) => {
                failures.push(format!("{} {sm}: {e}", file.name));
                continue;
            }
        };
        assert!(
            !compiled.cubin.is_empty(),
            "{} {sm}: empty CUBIN",
            file.name
        );
        for line in compiled
            .log
            .lines()
            .filter(|l| l.to_ascii_lowercase().contains("warning"))
        {
            failures.push(format!("{} {sm}: {line}", file.name));
        }
        let report = parse_ptxas_report(&compiled.log);
        for entry in file.entries {
            if !report.iter().any(|r| r.name == *entry) {
                failures.push(format!(
                    "{} {sm}: entry {entry} missing from the ptxas report",
                    file.name
                ));
            }
        }
        for r in report {
            if !file.entries.contains(&r.name.as_str()) {
                failures.push(format!("{} {sm}: unregistered entry {}", file.name, r.name));
            }
            if r.spill_stores > 0 || r.spill_loads > 0 || r.stack > 0 {
                failures.push(format!(
                    "{} {sm}: {} spills/stack {:?}",
                    file.name, r.name, r
                ));
            }
            if r.registers > file.register_budget() {
                failures.push(format!(
                    "{} {sm}: {} uses {} registers > budget {}",
                    file.name,
                    r.name,
                    r.registers,
                    file.register_budget()
                ));
            }
            if r.smem > STATIC_SMEM_BUDGET {
                failures.push(format!(
                    "{} {sm}: {} uses {} B static smem > {}",
                    file.name, r.name, r.smem, STATIC_SMEM_BUDGET
                ));
            }
            table.insert((r.arch.clone(), r.name.clone()), row(&r));
        }
    }
    assert!(
        failures.is_empty(),
        "rung 1 failures:\n{}",
        failures.join("\n")
    );

    let mut text = String::from(
        "# arch\tkernel\tregisters\tbarriers\tsmem_bytes\tstack_bytes (UPDATE_GOLDEN=1 rewrites)\n",
    );
    for line in table.values() {
        text.push_str(line);
        text.push('\n');
    }
    let path = golden_path();
    if std::env::var_os("UPDATE_GOLDEN").is_some_and(|v| v == "1") {
        std::fs::write(&path, &text).expect("write golden table");
        println!("rewrote {}", path.display());
        return;
    }
    let golden = std::fs::read_to_string(&path).unwrap_or_default();
    if golden != text {
        let old: std::collections::HashSet<&str> = golden.lines().collect();
        let new: std::collections::HashSet<&str> = text.lines().collect();
        let mut diff: Vec<String> = old.difference(&new).map(|l| format!("- {l}")).collect();
        diff.extend(new.difference(&old).map(|l| format!("+ {l}")));
        diff.sort();
        panic!(
            "ptxas resources differ from {} (rerun with UPDATE_GOLDEN=1 to accept):\n{}",
            path.display(),
            diff.join("\n")
        );
    }
}
