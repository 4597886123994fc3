//! Times f32 GEMM at each matmul precision (see `cpu::gemm::MatmulPrecision`) on the square
//! sizes of BENCHMARKS.md and the ViT-Tiny layer shapes, printing GFLOP/s:
//!     RAYON_NUM_THREADS=2 cargo run --release -p jepa-kernels --example gemm_precision
//! An argument keeps only the shapes whose label contains it. Without AMX, `high` and `medium` run the f32 path and time the same as `highest`.
use jepa_kernels::cpu::gemm::{gemm_at, reduced_precision_available, MatmulPrecision, Strides};
use std::time::Instant;

fn main() {
    // From a pool worker, as training runs (kernels/examples/pool_handoff.rs shows why).
    rayon::scope(|_| shapes_table());
}

fn shapes_table() {
    // (label, m, k, n, a transposed, b transposed)
    let shapes = [
        ("square 512", 512, 512, 512, false, false),
        ("square 1024", 1024, 1024, 1024, false, false),
        ("square 2048", 2048, 2048, 2048, false, false),
        ("vit qkv x·Wᵀ", 4096, 192, 576, false, true),
        ("vit fc1 x·Wᵀ", 4096, 192, 768, false, true),
        ("vit fc2 x·Wᵀ", 4096, 768, 192, false, true),
        ("vit fc2 dX = dY·W", 4096, 192, 768, false, false),
        ("vit fc1 dW = dYᵀ·X", 768, 4096, 192, true, false),
        ("pred dW 384x6400x96", 384, 6400, 96, true, false),
        ("pred dW 96x6400x384", 96, 6400, 384, true, false),
        ("pred fc2 6400x384x96", 6400, 384, 96, false, true),
    ];
    println!(
        "threads {}, AMX {}",
        rayon::current_num_threads(),
        reduced_precision_available()
    );
    let filter = std::env::args().nth(1).unwrap_or_default();
    for (label, m, k, n, ta, tb) in shapes {
        if !label.contains(&filter) {
            continue;
        }
        let sa = if ta {
            Strides::transposed(m, k)
        } else {
            Strides::row_major(m, k)
        };
        let sb = if tb {
            Strides::transposed(k, n)
        } else {
            Strides::row_major(k, n)
        };
        let a: Vec<f32> = (0..m * k).map(|i| (i % 7) as f32 * 0.1).collect();
        let b: Vec<f32> = (0..k * n).map(|i| (i % 5) as f32 * 0.1).collect();
        let mut c = vec![0f32; m * n];
        let flops = 2.0 * (m * k * n) as f64;
        let mut line = format!("{label:>20} {m}x{k}x{n}:");
        for p in MatmulPrecision::ALL {
            let mut run = || gemm_at(p, 1, m, k, n, &a, sa, &b, sb, &mut c, None, false);
            run();
            let reps = ((2e9 / flops) as usize).clamp(5, 200);
            let mut t: Vec<f64> = (0..reps)
                .map(|_| {
                    let s = Instant::now();
                    run();
                    s.elapsed().as_secs_f64()
                })
                .collect();
            t.sort_by(f64::total_cmp);
            let med = t[reps / 2];
            line += &format!("  {p} {:.3} ms {:.0} GFLOP/s", med * 1e3, flops / med / 1e9);
        }
        println!("{line}");
    }
}
