//! `scripts/target_bounds.py` on the committed evening run (BENCHMARKS.md): each target's share
//! of the ceiling follows from the records, and the table quoted in BENCHMARKS.md is what the
//! script prints for those files.

use std::path::Path;
use std::process::Command;

#[test]
fn target_bounds_reproduces_the_benchmarks_table() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut args = vec![root.join("scripts/target_bounds.py")];
    for r in 1..=3 {
        for side in ["jepa", "torch"] {
            args.push(root.join(format!("bench-results/2026-12-06-evening-{side}-r{r}.json")));
        }
    }
    let out = Command::new("python3")
        .args(&args)
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let benchmarks = std::fs::read_to_string(root.join("BENCHMARKS.md")).unwrap();
    let rows: Vec<&str> = text.lines().filter(|l| l.starts_with("| ")).collect();
    assert_eq!(rows.len(), 6, "{text}");
    for row in rows {
        assert!(
            benchmarks.contains(row),
            "BENCHMARKS.md lacks the row\n{row}"
        );
    }
    // The forward target is above the FMA ceiling; the step's is not.
    assert!(text.contains("| vit_tiny_forward_b64 | 1.85x |") && text.contains("| 113 % |"));
    assert!(text.contains("| 70 % |"), "{text}");
}
