//! GELU speed against the spread of its inputs: the AVX-512 kernel evaluates each side of the
//! erf split (|x| < 1.77 or not) only for vectors that have a lane there, and the forward needs
//! no exponential below it. fc1 pre-activations of a freshly initialised ViT have std ≈ 0.3;
//! trained ones spread out, so std 1 and 3 are timed as well.
//!
//!     RAYON_NUM_THREADS=2 cargo run --release -p jepa-kernels --example gelu_spread
//!
//! Both SIMD paths where the CPU has them (AVX-512, then the portable `wide` one).
//! 4096×768 elements (a ViT-Tiny MLP over 64 images of 64 tokens), median of 7 runs of 200 calls.

use jepa_kernels::cpu::denormals::flush_denormals_on_this_thread;
use jepa_kernels::cpu::gelu::{gelu_fwd_bwd_with, gelu_fwd_with};
use jepa_kernels::cpu::simd::SimdPath;
use std::time::Instant;

const N: usize = 4096 * 768;

fn main() {
    // As the `jepa` binary does: `d ← d·gelu'(x)` repeated would otherwise pass through
    // denormals on its way to zero.
    rayon::broadcast(|_| flush_denormals_on_this_thread());
    rayon::scope(|_| table());
}

/// Deterministic approximately normal values: the sum of four uniforms, scaled.
fn normal(n: usize, std: f32) -> Vec<f32> {
    let mut s = 0x9E37_79B9_7F4A_7C15u64;
    let mut u = || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        (s >> 40) as f32 / (1u64 << 24) as f32 - 0.5
    };
    // Var of one uniform on [-0.5, 0.5) is 1/12: four of them sum to variance 1/3.
    (0..n)
        .map(|_| (u() + u() + u() + u()) * std * 3f32.sqrt())
        .collect()
}

fn median_us(mut f: impl FnMut()) -> f64 {
    for _ in 0..20 {
        f();
    }
    let mut t: Vec<f64> = (0..7)
        .map(|_| {
            let t0 = Instant::now();
            for _ in 0..200 {
                f();
            }
            t0.elapsed().as_secs_f64() * 1e6 / 200.0
        })
        .collect();
    t.sort_by(f64::total_cmp);
    t[3]
}

fn table() {
    println!("threads {}", rayon::current_num_threads());
    println!("| path | input std | gelu_fwd µs | gelu_fwd_bwd µs |");
    println!("|---|---|---|---|");
    for path in SimdPath::supported().into_iter().rev() {
        for std in [0.3f32, 1.0, 3.0] {
            let x = normal(N, std);
            let (mut g, mut d) = (vec![0f32; N], vec![1f32; N]);
            let fwd = median_us(|| gelu_fwd_with(path, &x, &mut g));
            let fb = median_us(|| gelu_fwd_bwd_with(path, &x, &mut g, &mut d));
            println!("| {path:?} | {std} | {fwd:.0} | {fb:.0} |");
        }
    }
}
