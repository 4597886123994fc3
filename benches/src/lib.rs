//! Shared helpers for the criterion benches: deterministic inputs and the FLOP/byte counts the
//! benches report, so `jepa bench` and criterion agree on what a GFLOP/s means.

pub mod gpu;
pub mod roofline;

/// Deterministic pseudo-random values in [-1, 1) (a small LCG: benches must not depend on `rand`).
pub fn random_vec(len: usize, seed: u64) -> Vec<f32> {
    let mut s = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..len)
        .map(|_| {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((s >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
        })
        .collect()
}

/// FLOPs of one attention forward (q·kᵀ and p·v), as PyTorch's baseline counts them.
pub fn attention_fwd_flops(b: usize, h: usize, n: usize, d: usize) -> u64 {
    4 * (b * h * n * n * d) as u64
}

#[cfg(test)]
mod tests {
    #[test]
    fn random_vec_is_deterministic_and_bounded() {
        let a = super::random_vec(1000, 7);
        assert_eq!(a, super::random_vec(1000, 7));
        assert_ne!(a, super::random_vec(1000, 8));
        assert!(a.iter().all(|x| (-1.0..1.0).contains(x)));
    }
}
