//! ema_update: fast vs reference, and the momentum end points.

use jepa_kernels::cpu::ema::*;
use proptest::prelude::*;

fn rand_vec(seed: u64, len: usize) -> Vec<f32> {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            (s >> 40) as f32 / (1u64 << 24) as f32 * 4.0 - 2.0
        })
        .collect()
}

fn check(len: usize, m: f32, seed: u64) {
    let online = rand_vec(seed, len);
    let mut t = rand_vec(seed + 1, len);
    let mut t_ref = t.clone();
    ema_update(m, &mut t, &online);
    ema_update_ref(m, &mut t_ref, &online);
    for (i, (a, r)) in t.iter().zip(&t_ref).enumerate() {
        assert!(
            (a - r).abs() <= 1e-6 * (1.0 + r.abs()),
            "len {len} m {m} at {i}: {a} vs {r}"
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]
    #[test]
    fn fast_matches_reference(len in 0usize..300, m in 0.0f32..1.0, seed in any::<u64>()) {
        check(len, m, seed);
    }
}

#[test]
fn parallel_path_matches_reference() {
    check(200_003, 0.996, 5);
}

#[test]
fn momentum_end_points() {
    let online = rand_vec(1, 37);
    let orig = rand_vec(2, 37);
    let mut t = orig.clone();
    ema_update(1.0, &mut t, &online);
    assert_eq!(t, orig, "m = 1 keeps the target");
    ema_update(0.0, &mut t, &online);
    assert_eq!(t, online, "m = 0 copies the online weights");
}
