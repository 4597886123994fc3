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
