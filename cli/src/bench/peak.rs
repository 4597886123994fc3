//! The machine's f32 FMA ceiling, measured with our own register-resident FMA loop: AVX-512 when
//! the CPU has it, else AVX2+FMA (chosen at run time), else scalar `mul_add`. The loop keeps
//! enough independent accumulators (12) to cover FMA latency × ports on current x86 cores, so it
//! is throughput- not latency-bound; benchmarks report their GFLOP/s as a percentage of it.

use std::time::Instant;

use std::sync::Barrier;

/// Measured ceiling on `threads` threads.
#[derive(Clone, Debug, PartialEq)]
pub struct Peak {
    pub isa: &'static str,
    pub threads: usize,
    pub gflops: f64,
}

const ACCS: usize = 12;

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::ACCS;
    use std::arch::x86_64::*;

    /// `iters` rounds of 12 independent 16-lane FMAs: 384 FLOP per round.
    #[target_feature(enable = "avx512f")]
    pub unsafe fn fma_avx512(iters: u64, seed: f32) -> f32 {
        let a = _mm512_set1_ps(0.999_999);
        let b = _mm512_set1_ps(seed * 1e-7);
        let mut acc = [_mm512_set1_ps(seed); ACCS];
        for _ in 0..iters {
            for x in acc.iter_mut() {
                *x = _mm512_fmadd_ps(*x, a, b);
            }
        }
        let mut s = _mm512_setzero_ps();
        for x in acc {
            s = _mm512_add_ps(s, x);
        }
        _mm512_reduce_add_ps(s)
    }

    /// `iters` rounds of 12 independent 8-lane FMAs: 192 FLOP per round.
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn fma_avx2(iters: u64, seed: f32) -> f32 {
        let a = _mm256_set1_ps(0.999_999);
        let b = _mm256_set1_ps(seed * 1e-7);
        let mut acc = [_mm256_set1_ps(seed); ACCS];
        for _ in 0..iters {
            for x in acc.iter_mut() {
                *x = _mm256_fmadd_ps(*x, a, b);
            }
        }
        let mut s = _mm256_setzero_ps();
        for x in acc {
            s = _mm256_add_ps(s, x);
        }
        let mut lanes = [0f32; 8];
        _mm256_storeu_ps(lanes.as_mut_ptr(), s);
        lanes.iter().sum()
    }
}

/// Scalar fallback: 12 accumulators, 24 FLOP per round.
fn fma_scalar(iters: u64, seed: f32) -> f32 {
    let mut acc = [seed; ACCS];
    for _ in 0..iters {
        for x in acc.iter_mut() {
            *x = x.mul_add(0.999_999, seed * 1e-7);
        }
    }
    acc.iter().sum()
}

/// The best loop this CPU runs, with its FLOP per round. Under `JEPA_SIMD=avx2` (or baseline) on
/// an AVX-512 CPU it is the AVX2 loop: the ceiling of the AVX2 host being imitated.
fn best_loop() -> (&'static str, u64, fn(u64, f32) -> f32) {
    #[cfg(target_arch = "x86_64")]
    {
        let avx512 =
            jepa_kernels::cpu::simd::SimdPath::best() == jepa_kernels::cpu::simd::SimdPath::Avx512;
        if avx512 && is_x86_feature_detected!("avx512f") {
            // SAFETY: the feature was detected at run time just above.
            return ("avx512", (ACCS * 32) as u64, |n, s| unsafe {
                x86::fma_avx512(n, s)
            });
        }
        if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
            // SAFETY: as above.
            return ("avx2", (ACCS * 16) as u64, |n, s| unsafe {
                x86::fma_avx2(n, s)
            });
        }
    }
    ("scalar", (ACCS * 2) as u64, fma_scalar)
}

/// Runs the loop on `threads` OS threads at once for about `target_ms` and returns the best
/// GFLOP/s of `trials` runs. Plain scoped threads released by a barrier, not rayon tasks: the
/// ceiling must not depend on how a pool schedules two long tasks.
pub fn measure(threads: usize, target_ms: f64, trials: usize) -> Peak {
    let (isa, flop_per_iter, f) = best_loop();
    let threads = threads.max(1);
    // Calibrate the iteration count on one thread.
    let mut iters = 1u64 << 16;
    loop {
        let t = Instant::now();
        std::hint::black_box(f(std::hint::black_box(iters), 1.0));
        let ms = t.elapsed().as_secs_f64() * 1e3;
        if ms > target_ms / 8.0 || iters > 1 << 36 {
            iters = ((iters as f64) * target_ms / ms.max(1e-3)).max(1.0) as u64;
            break;
        }
        iters *= 4;
    }
    let mut best = 0f64;
    for _ in 0..trials.max(1) {
        let start = Barrier::new(threads + 1);
        let secs = std::thread::scope(|scope| {
            for i in 0..threads {
                let start = &start;
                scope.spawn(move || {
                    start.wait();
                    std::hint::black_box(f(std::hint::black_box(iters), 1.0 + i as f32))
                });
            }
            start.wait();
            let t = Instant::now();
            // Leaving the scope joins every thread, so the time covers the slowest one.
            t
        })
        .elapsed()
        .as_secs_f64();
        let gflops = (iters * flop_per_iter * threads as u64) as f64 / secs / 1e9;
        best = best.max(gflops);
    }
    Peak {
        isa,
        threads,
        gflops: best,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loops_agree_on_the_value_they_compute() {
        // Same recurrence in every ISA: the lane sums differ only by the lane count.
        let s = fma_scalar(100, 1.0) / ACCS as f32;
        #[cfg(target_arch = "x86_64")]
        {
            if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
                let v = unsafe { x86::fma_avx2(100, 1.0) } / (ACCS * 8) as f32;
                assert!((v - s).abs() < 1e-4, "{v} vs {s}");
            }
            if is_x86_feature_detected!("avx512f") {
                let v = unsafe { x86::fma_avx512(100, 1.0) } / (ACCS * 16) as f32;
                assert!((v - s).abs() < 1e-4, "{v} vs {s}");
            }
        }
    }

    #[test]
    fn measured_peak_is_positive_and_plausible() {
        let p = measure(1, 20.0, 2);
        assert!(p.gflops > 0.5 && p.gflops < 1e4, "{p:?}");
    }
}
