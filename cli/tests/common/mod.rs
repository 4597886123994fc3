//! What the end-to-end tests of the `jepa` binary share: running it, reading its stderr, and
//! the one-line-error check every misuse test makes.
#![allow(dead_code)]

use std::process::{Command, Output};

/// Runs the built `jepa` with `args` on a 2-thread pool.
pub fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_jepa"))
        .env("RAYON_NUM_THREADS", "2")
        .args(args)
        .output()
        .expect("run jepa")
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// One stderr line starting `jepa: ` that mentions every needle, and a failing exit status.
pub fn assert_one_line_error(o: &Output, needles: &[&str]) {
    let e = stderr(o);
    assert!(!o.status.success(), "{e}");
    assert_eq!(e.lines().count(), 1, "{e}");
    assert!(e.starts_with("jepa: ") && !e.contains("panicked"), "{e}");
    for n in needles {
        assert!(e.contains(n), "{e} lacks {n}");
    }
}

/// `ROOT/cifar` holding the five CIFAR-10 training batch files, each the same `rows` images
/// of label `i % 3`, with byte `p` (channel-major, 3 × 32 × 32) of image `i` = `pixel(i, p)`.
pub fn cifar_dir(
    root: &std::path::Path,
    rows: u32,
    pixel: impl Fn(u32, u32) -> u8,
) -> std::path::PathBuf {
    let dir = root.join("cifar");
    std::fs::create_dir_all(&dir).unwrap();
    let mut batch = Vec::new();
    for i in 0..rows {
        batch.push((i % 3) as u8);
        batch.extend((0..3072u32).map(|p| pixel(i, p)));
    }
    for i in 1..=5 {
        std::fs::write(dir.join(format!("data_batch_{i}.bin")), &batch).unwrap();
    }
    dir
}
