//! What a parallel kernel call costs when it is issued from outside rayon's pool.
//!
//!     RAYON_NUM_THREADS=2 cargo run --release -p jepa-kernels --example pool_handoff
//!
//! Times LayerNorm 4096×192 (`jepa bench`'s shape, a few hundred µs of work) called in a loop
//! from `main`, then the same loop moved onto a pool worker once. From `main`, every call is
//! injected into the pool and `main` sleeps until a worker wakes it; from a worker, the call
//! splits in place. The difference per call is the hand-off that `jepa_engine::on_pool` saves.

use jepa_kernels::cpu::layernorm::layernorm_fwd;
use std::time::Instant;

const ROWS: usize = 4096;
const DIM: usize = 192;
const REPS: usize = 4000;

struct Bufs {
    x: Vec<f32>,
    w: Vec<f32>,
    b: Vec<f32>,
    out: Vec<f32>,
    mean: Vec<f32>,
    rstd: Vec<f32>,
}

/// Median and best µs per call over `REPS` calls, after as many warm-up calls.
fn time_calls(bufs: &mut Bufs) -> (f64, f64) {
    let mut ts = Vec::with_capacity(REPS);
    for i in 0..2 * REPS {
        let t = Instant::now();
        let Bufs {
            x,
            w,
            b,
            out,
            mean,
            rstd,
        } = bufs;
        layernorm_fwd(ROWS, DIM, 1e-6, x, Some(w), Some(b), out, mean, rstd);
        if i >= REPS {
            ts.push(t.elapsed().as_secs_f64() * 1e6);
        }
    }
    ts.sort_by(f64::total_cmp);
    (ts[ts.len() / 2], ts[0])
}

fn main() {
    let x = (0..ROWS * DIM)
        .map(|i| ((i * 7919) % 1000) as f32 * 1e-3 - 0.5)
        .collect();
    let mut bufs = Bufs {
        x,
        w: vec![1.1; DIM],
        b: vec![0.1; DIM],
        out: vec![0.0; ROWS * DIM],
        mean: vec![0.0; ROWS],
        rstd: vec![0.0; ROWS],
    };
    let threads = rayon::current_num_threads();
    for round in 0..2 {
        let (med_main, best_main) = time_calls(&mut bufs);
        let (med_pool, best_pool) = rayon::scope(|_| time_calls(&mut bufs));
        println!(
            "round {round}, {threads} threads: from main {med_main:.1} µs median ({best_main:.1} best); \
             from a worker {med_pool:.1} µs ({best_pool:.1}); hand-off {:.1} µs per call",
            med_main - med_pool
        );
    }
}
