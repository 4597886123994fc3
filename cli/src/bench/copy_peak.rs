//! The bandwidth ceiling of a memory-bound benchmark: a parallel copy that moves the same number
//! of bytes, half read and half written, split over the compute pool the way the kernels split
//! their rows. Where the data sits (L2, L3, DRAM) depends on the size, so the ceiling is measured
//! per benchmark at its own size rather than once for the machine; a kernel's GB/s as a percent
//! of it says how far it is from only moving its bytes (LayerNorm 4096×192: 6.3 MB per call).

use super::record::{time_ms, Budget};
use rayon::prelude::*;

/// GB/s of copying `bytes / 2` bytes of f32 into a second buffer, on the current pool.
pub fn copy_gbps(bytes: f64, budget: Budget) -> f64 {
    let n = ((bytes / 8.0) as usize).max(16);
    let src: Vec<f32> = (0..n).map(|i| i as f32).collect();
    let mut dst = vec![0f32; n];
    // A few chunks per thread, as the row kernels split (`rows_per_task`).
    let chunk = n.div_ceil(4 * rayon::current_num_threads()).max(4096);
    let ms = time_ms(budget, || {
        dst.par_chunks_mut(chunk)
            .zip(src.par_chunks(chunk))
            .for_each(|(d, s)| d.copy_from_slice(s));
    });
    std::hint::black_box(&dst);
    (2 * n * 4) as f64 / (ms / 1e3) / 1e9
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_bandwidth_is_positive_and_plausible() {
        let g = copy_gbps(8.0 * 1024.0 * 1024.0, Budget::new(true));
        // Anything from a slow CI runner's DRAM to a fast core's L2.
        assert!((0.5..5000.0).contains(&g), "{g} GB/s");
    }
}
