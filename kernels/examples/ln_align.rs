//! What a 16-byte offset costs a memory-bound kernel: LayerNorm 4096×192 on buffers that start
//! on a 64-byte boundary, then 16 and 32 bytes past one (where glibc's `malloc` puts a large
//! block: `kernels/src/cpu/alloc.rs`).
//!
//!     RAYON_NUM_THREADS=2 cargo run --release -p jepa-kernels --example ln_align
//!
//! At an offset, every 64-byte vector a row kernel loads or stores spans two cache lines.

use jepa_kernels::cpu::layernorm::layernorm_fwd;
use std::time::Instant;

const ROWS: usize = 4096;
const DIM: usize = 192;
const WARM: usize = 2000;
const REPS: usize = 4000;

/// A cache line of floats: a `Vec` of these starts on a 64-byte boundary.
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
#[repr(C, align(64))]
struct Line([f32; 16]);

fn main() {
    // From a pool worker, so that the pool hand-off (examples/pool_handoff.rs) is not timed.
    rayon::scope(|_| offsets_table());
}

fn offsets_table() {
    let n = ROWS * DIM;
    let mut x_lines = vec![Line([0.0; 16]); n / 16 + 1];
    let mut out_lines = vec![Line([0.0; 16]); n / 16 + 1];
    let xs: &mut [f32] = bytemuck::cast_slice_mut(&mut x_lines);
    for (i, v) in xs.iter_mut().enumerate() {
        *v = ((i * 7919) % 1000) as f32 * 1e-3 - 0.5;
    }
    let xs: &[f32] = xs;
    let outs: &mut [f32] = bytemuck::cast_slice_mut(&mut out_lines);
    let (w, b) = (vec![1.1f32; DIM], vec![0.1f32; DIM]);
    let (mut mean, mut rstd) = (vec![0f32; ROWS], vec![0f32; ROWS]);
    for round in 0..2 {
        for floats in [0usize, 4, 8] {
            let x = &xs[floats..floats + n];
            let mut ts = Vec::with_capacity(REPS);
            for i in 0..WARM + REPS {
                let out = &mut outs[floats..floats + n];
                let t = Instant::now();
                layernorm_fwd(
                    ROWS,
                    DIM,
                    1e-6,
                    x,
                    Some(&w),
                    Some(&b),
                    out,
                    &mut mean,
                    &mut rstd,
                );
                if i >= WARM {
                    ts.push(t.elapsed().as_secs_f64() * 1e6);
                }
            }
            ts.sort_by(f64::total_cmp);
            println!(
                "round {round}, offset {:2} bytes: {:.1} µs median, {:.1} best",
                floats * 4,
                ts[ts.len() / 2],
                ts[0]
            );
        }
    }
}
