//! Seeded random tensors (SplitMix64 + Box–Muller): reproducible across platforms and thread
//! counts, which a test oracle or an initialisation recipe needs more than speed.

use crate::storage::CpuStorage;
use crate::{Device, Result, Shape, Tensor};

/// SplitMix64: tiny, full-period, good enough for initialisation and tests.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in [0, 1) with 53 random bits.
    fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }
}

impl Tensor {
    /// Uniform samples in `[lo, hi)`, f32 on `device`.
    pub fn rand_uniform(
        shape: impl Into<Shape>,
        lo: f32,
        hi: f32,
        seed: u64,
        device: Device,
    ) -> Result<Tensor> {
        device.ensure_available("rand_uniform")?;
        let shape = shape.into();
        let mut rng = SplitMix64(seed);
        let v = (0..shape.elem_count())
            .map(|_| lo + (hi - lo) * rng.next_f64() as f32)
            .collect();
        // Drawn on the host on every device, so a seed gives the same values everywhere.
        Tensor::from_host(CpuStorage::F32(v), shape, device, "rand_uniform")
    }

    /// Normal samples with `mean` and `std`, f32 on `device`.
    pub fn randn(
        shape: impl Into<Shape>,
        mean: f32,
        std: f32,
        seed: u64,
        device: Device,
    ) -> Result<Tensor> {
        device.ensure_available("randn")?;
        let shape = shape.into();
        let mut rng = SplitMix64(seed);
        let n = shape.elem_count();
        let mut v = Vec::with_capacity(n + 1);
        while v.len() < n {
            // 1 - u keeps the log argument in (0, 1].
            let (u1, u2) = (1.0 - rng.next_f64(), rng.next_f64());
            let r = (-2.0 * u1.ln()).sqrt();
            let t = std::f64::consts::TAU * u2;
            v.push(mean + std * (r * t.cos()) as f32);
            v.push(mean + std * (r * t.sin()) as f32);
        }
        v.truncate(n);
        Tensor::from_host(CpuStorage::F32(v), shape, device, "randn")
    }
}
