//! The packed entry points against the contiguous ones on permuted copies: bit for bit, on every
//! SIMD path, for random shapes (any n and d, one or several heads and items) and for a shape
//! large enough to run the items in parallel.

use super::*;
use crate::cpu::attention::{attention_bwd_with, attention_fwd_with};
use proptest::prelude::*;

/// `[b, h, n, d]` → `[b, n, part_stride…]`: element (i, hh, j, c) to `(i·n + j)·row + off + hh·d + c`.
fn scatter(s: AttnShape, x: &[f32], row: usize, off: usize, dst: &mut [f32]) {
    let (n, d, h) = (s.n, s.d, s.h);
    for i in 0..s.b {
        for hh in 0..h {
            for j in 0..n {
                for c in 0..d {
                    dst[(i * n + j) * row + off + hh * d + c] = x[((i * h + hh) * n + j) * d + c];
                }
            }
        }
    }
}

fn noise(len: usize, seed: u64) -> Vec<f32> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x % 20_000) as f32 / 5_000.0 - 2.0
        })
        .collect()
}

fn bits(v: &[f32]) -> Vec<u32> {
    v.iter().map(|f| f.to_bits()).collect()
}

fn check(s: AttnShape, seed: u64) -> Result<(), TestCaseError> {
    let len = s.b * s.h * s.n * s.d;
    let (hd, scale) = (s.h * s.d, 1.0 / (s.d.max(1) as f32).sqrt());
    let (q, k, v, dout) = (
        noise(len, seed),
        noise(len, seed + 1),
        noise(len, seed + 2),
        noise(len, seed + 3),
    );
    let mut qkv = vec![0f32; 3 * len];
    for (part, x) in [&q, &k, &v].into_iter().enumerate() {
        scatter(s, x, 3 * hd, part * hd, &mut qkv);
    }
    let mut dout_p = vec![0f32; len];
    scatter(s, &dout, hd, 0, &mut dout_p);
    for path in SimdPath::supported() {
        let (mut out, mut lse) = (vec![0f32; len], vec![0f32; s.b * s.h * s.n]);
        attention_fwd_with(path, s, scale, &q, &k, &v, &mut out, &mut lse);
        let (mut dq, mut dk, mut dv) = (vec![0f32; len], vec![0f32; len], vec![0f32; len]);
        let grads = (&mut dq, &mut dk, &mut dv);
        attention_bwd_with(
            path, s, scale, &q, &k, &v, &out, &lse, &dout, grads.0, grads.1, grads.2,
        );

        let (mut out_p, mut lse_p) = (vec![f32::NAN; len], vec![f32::NAN; s.b * s.h * s.n]);
        attention_fwd_packed(path, s, scale, &qkv, &mut out_p, &mut lse_p);
        let mut want = vec![0f32; len];
        scatter(s, &out, hd, 0, &mut want);
        prop_assert_eq!(bits(&out_p), bits(&want), "{:?} {:?} out", path, s);
        prop_assert_eq!(bits(&lse_p), bits(&lse), "{:?} {:?} lse", path, s);

        let mut dqkv = vec![f32::NAN; 3 * len];
        attention_bwd_packed(path, s, scale, &qkv, &out_p, &lse_p, &dout_p, &mut dqkv);
        let mut want = vec![0f32; 3 * len];
        for (part, g) in [&dq, &dk, &dv].into_iter().enumerate() {
            scatter(s, g, 3 * hd, part * hd, &mut want);
        }
        prop_assert_eq!(bits(&dqkv), bits(&want), "{:?} {:?} dqkv", path, s);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn packed_matches_contiguous_bit_for_bit(
        b in 1usize..4,
        h in 1usize..4,
        n in 1usize..80,
        d in prop_oneof![1usize..70, Just(32usize), Just(64usize)],
        seed in 0u64..1000,
    ) {
        check(AttnShape { b, h, n, d }, seed)?;
    }
}

#[test]
fn packed_matches_contiguous_on_parallel_items() {
    // b·h·n²·d well above PAR_MIN_FLOP: the items run as rayon tasks.
    check(
        AttnShape {
            b: 8,
            h: 3,
            n: 64,
            d: 64,
        },
        7,
    )
    .unwrap();
    check(
        AttnShape {
            b: 5,
            h: 2,
            n: 49,
            d: 32,
        },
        8,
    )
    .unwrap();
}

#[test]
fn empty_head_dim_gives_uniform_lse_and_zero_gradients() {
    let s = AttnShape {
        b: 2,
        h: 2,
        n: 3,
        d: 0,
    };
    let (mut out, mut lse) = (vec![], vec![0f32; 12]);
    attention_fwd_packed(SimdPath::best(), s, 1.0, &[], &mut out, &mut lse);
    assert!(lse.iter().all(|&l| l == (3f32).ln()));
    let mut dqkv: Vec<f32> = vec![];
    attention_bwd_packed(SimdPath::best(), s, 1.0, &[], &[], &lse, &[], &mut dqkv);
}
