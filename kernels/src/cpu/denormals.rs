//! Flush-to-zero / denormals-are-zero (MXCSR FTZ + DAZ) for the compute threads.
//!
//! A result below f32's smallest normal (1.2e-38) costs Intel cores a microcode assist of
//! ~100+ cycles per instruction unless FTZ/DAZ is set. Training produces such values as soon
//! as attention sharpens: probabilities of 1e-36 times values of 1e-3 are denormal. Measured
//! (`kernels/examples/attn_denormal.rs`, B64 H3 N64 D64, 2 threads): attention fwd+bwd went from
//! 2.9 ms to 170 ms once the scores spread over ~100, and a C-JEPA run slowed from 180 to
//! 110 images/s within 1000 steps. Flushing changes only results smaller than 1.2e-38 (to 0),
//! as AMX (which flushes bf16 denormals itself) and TensorFlow's CPU default do.
//!
//! [`FlushDenormals`] sets the bits for a scope and restores the caller's MXCSR after, so
//! kernels can use it without changing a host application's floating-point mode;
//! [`flush_denormals_on_this_thread`] is for threads the application dedicates to compute (the
//! `jepa` binary calls it on its pool's workers and main thread).

/// MXCSR flush-to-zero (bit 15) and denormals-are-zero (bit 6).
#[cfg(target_arch = "x86_64")]
const FTZ_DAZ: u32 = (1 << 15) | (1 << 6);

#[cfg(target_arch = "x86_64")]
fn read_mxcsr() -> u32 {
    let mut v = 0u32;
    // SAFETY: stmxcsr writes 4 bytes to a valid local.
    unsafe { std::arch::asm!("stmxcsr [{}]", in(reg) &mut v, options(nostack)) };
    v
}

#[cfg(target_arch = "x86_64")]
fn write_mxcsr(v: u32) {
    // SAFETY: ldmxcsr reads 4 bytes from a valid local; only mode bits of our choosing change
    // (callers pass a value read from MXCSR, possibly with FTZ/DAZ added).
    unsafe { std::arch::asm!("ldmxcsr [{}]", in(reg) &v, options(nostack, readonly)) };
}

/// Sets FTZ/DAZ until dropped, then restores the previous MXCSR (a no-op off x86-64).
pub struct FlushDenormals {
    #[cfg(target_arch = "x86_64")]
    saved: u32,
}

impl FlushDenormals {
    #[allow(clippy::new_without_default)]
    pub fn new() -> Self {
        #[cfg(target_arch = "x86_64")]
        {
            let saved = read_mxcsr();
            if saved & FTZ_DAZ != FTZ_DAZ {
                write_mxcsr(saved | FTZ_DAZ);
            }
            FlushDenormals { saved }
        }
        #[cfg(not(target_arch = "x86_64"))]
        FlushDenormals {}
    }
}

impl Drop for FlushDenormals {
    fn drop(&mut self) {
        #[cfg(target_arch = "x86_64")]
        if self.saved & FTZ_DAZ != FTZ_DAZ {
            write_mxcsr(self.saved);
        }
    }
}

/// Sets FTZ/DAZ on the calling thread for good.
pub fn flush_denormals_on_this_thread() {
    #[cfg(target_arch = "x86_64")]
    write_mxcsr(read_mxcsr() | FTZ_DAZ);
}

/// Whether FTZ/DAZ is in force on the calling thread.
pub fn denormals_flushed() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        read_mxcsr() & FTZ_DAZ == FTZ_DAZ
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::hint::black_box;

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn guard_flushes_inside_and_restores_after() {
        let tiny = black_box(1e-37f32);
        let before = denormals_flushed();
        assert!(!before, "test threads start with IEEE denormals");
        assert!(
            black_box(tiny * 0.01) > 0.0,
            "denormal result kept without the guard"
        );
        {
            let _g = FlushDenormals::new();
            assert!(denormals_flushed());
            assert_eq!(black_box(tiny * 0.01), 0.0, "FTZ flushes a denormal result");
            let denormal = black_box(f32::from_bits(1));
            assert_eq!(
                black_box(denormal * 2.0),
                0.0,
                "DAZ reads a denormal input as 0"
            );
        }
        assert_eq!(denormals_flushed(), before);
        assert!(black_box(tiny * 0.01) > 0.0);
    }
}
