//! Sets `cfg(no_chromium)` when no Chromium is on PATH, so the report's browser test is marked
//! ignored ("skipped" in the test summary) instead of passing without having run. Installing
//! Chromium changes /usr/bin, which re-runs this script.

use std::path::Path;

fn main() {
    println!("cargo::rustc-check-cfg=cfg(no_chromium)");
    println!("cargo:rerun-if-env-changed=PATH");
    println!("cargo:rerun-if-changed=/usr/bin");
    let found = std::env::var_os("PATH").is_some_and(|path| {
        std::env::split_paths(&path).any(|d| {
            ["chromium", "chromium-browser"]
                .iter()
                .any(|n| Path::new(&d).join(n).is_file())
        })
    });
    if !found {
        println!("cargo:rustc-cfg=no_chromium");
    }
}
