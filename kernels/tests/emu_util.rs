//! Helpers shared by the emulation tests (included with `#[path]`; as its own test target it
//! holds no tests).
#![allow(dead_code)]

use jepa_kernels::cuda::emu::{self, EmuArgs};

/// Deterministic data in [-scale, scale): the tests must fail the same way on every run.
pub fn data(len: usize, seed: u64, scale: f32) -> Vec<f32> {
    let mut s = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..len)
        .map(|_| {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((s >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0) * scale
        })
        .collect()
}

pub fn to_bf16(x: &[f32]) -> Vec<u16> {
    x.iter()
        .map(|v| half::bf16::from_f32(*v).to_bits())
        .collect()
}

pub fn from_bf16(x: &[u16]) -> Vec<f32> {
    x.iter()
        .map(|v| half::bf16::from_bits(*v).to_f32())
        .collect()
}

/// Values as a bf16 kernel sees them (rounded), so the reference gets the same inputs.
pub fn round_bf16(x: &[f32]) -> Vec<f32> {
    from_bf16(&to_bf16(x))
}

/// Runs a kernel in fiber mode and fails the test with the emulator's report on error.
pub fn run(name: &str, grid: (u32, u32, u32), block: (u32, u32, u32), args: &mut EmuArgs) {
    emu::set_fibers(true);
    // SAFETY: every test passes buffers sized for the shapes it launches with.
    if let Err(e) = unsafe { emu::launch(name, grid, block, args) } {
        panic!("emulated launch of {name} failed: {e}");
    }
}

/// Runs a kernel expecting the emulator to reject it; returns the report.
pub fn run_err(
    name: &str,
    grid: (u32, u32, u32),
    block: (u32, u32, u32),
    args: &mut EmuArgs,
) -> String {
    emu::set_fibers(true);
    // SAFETY: as in `run`.
    match unsafe { emu::launch(name, grid, block, args) } {
        Ok(()) => panic!("emulated launch of {name} succeeded but an error was expected"),
        Err(e) => e,
    }
}

/// `|got − want| ≤ atol + rtol·|want|` elementwise (non-finite references skipped); prints the
/// first few pairs and up to 10 mismatches, then fails.
pub fn assert_close(what: &str, got: &[f32], want: &[f32], atol: f32, rtol: f32) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    let mut bad = Vec::new();
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        if !w.is_finite() {
            continue;
        }
        let close = (g - w).abs() <= atol + rtol * w.abs(); // false for a NaN result
        if !close {
            bad.push(format!("  [{i}] got {g:e} want {w:e}"));
        }
    }
    if !bad.is_empty() {
        let head: Vec<String> = got
            .iter()
            .zip(want)
            .take(4)
            .map(|(g, w)| format!("({g:e}, {w:e})"))
            .collect();
        panic!(
            "{what}: {} of {} values differ (atol {atol:e}, rtol {rtol:e}); first pairs {}\n{}",
            bad.len(),
            got.len(),
            head.join(" "),
            bad.iter().take(10).cloned().collect::<Vec<_>>().join("\n")
        );
    }
}

pub const F32_TOL: (f32, f32) = (1e-5, 1e-4);
pub const BF16_TOL: (f32, f32) = (1e-2, 8e-3);

/// Grid for grid-stride kernels in tests: few, small blocks so the stride loop runs more than once.
pub fn stride_grid(n: usize) -> ((u32, u32, u32), (u32, u32, u32)) {
    let blocks = n.div_ceil(64).clamp(1, 3) as u32;
    ((blocks, 1, 1), (64, 1, 1))
}

/// One warp per row, 4 rows per block, as in production.
pub fn row_grid(rows: usize) -> ((u32, u32, u32), (u32, u32, u32)) {
    ((rows.div_ceil(4).max(1) as u32, 1, 1), (128, 1, 1))
}
