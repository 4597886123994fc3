//! patchify / unpatchify: fast vs reference, round trip, and the adjoint identity.

use jepa_kernels::cpu::patchify::*;
use proptest::prelude::*;

fn rand_vec(seed: u64, len: usize) -> Vec<f32> {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            (s >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0
        })
        .collect()
}

fn check(b: usize, c: usize, gh: usize, gw: usize, p: usize, seed: u64) {
    let (h, w) = (gh * p, gw * p);
    let len = b * c * h * w;
    let img = rand_vec(seed, len);
    let (mut out, mut out_ref) = (vec![f32::NAN; len], vec![f32::NAN; len]);
    patchify(b, c, h, w, p, &img, &mut out);
    patchify_ref(b, c, h, w, p, &img, &mut out_ref);
    assert_eq!(out, out_ref);
    let (mut back, mut back_ref) = (vec![f32::NAN; len], vec![f32::NAN; len]);
    unpatchify(b, c, h, w, p, &out, &mut back);
    unpatchify_ref(b, c, h, w, p, &out, &mut back_ref);
    assert_eq!(back, back_ref);
    assert_eq!(back, img, "unpatchify inverts patchify");
    // ⟨patchify(x), y⟩ = ⟨x, unpatchify(y)⟩
    let y = rand_vec(seed + 1, len);
    let mut uy = vec![0.0; len];
    unpatchify(b, c, h, w, p, &y, &mut uy);
    let lhs: f64 = out.iter().zip(&y).map(|(&a, &b)| a as f64 * b as f64).sum();
    let rhs: f64 = img
        .iter()
        .zip(&uy)
        .map(|(&a, &b)| a as f64 * b as f64)
        .sum();
    assert!(
        (lhs - rhs).abs() <= 1e-9 * (1.0 + lhs.abs()),
        "{lhs} vs {rhs}"
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]
    #[test]
    fn fast_matches_reference(
        b in 1usize..3, c in 1usize..4, gh in 1usize..5, gw in 1usize..5, p in 1usize..6,
        seed in any::<u64>(),
    ) {
        check(b, c, gh, gw, p, seed);
    }
}

#[test]
fn parallel_path_matches_reference() {
    check(4, 3, 8, 8, 4, 1); // 32×32 CIFAR images, patch 4
    check(2, 3, 7, 5, 14, 2);
}

#[test]
fn patch_layout_is_channel_row_col() {
    // One 2×4 image with 2 channels, p = 2: patch 1 (right half) is (c0 rows, then c1 rows).
    let img: Vec<f32> = (0..16).map(|i| i as f32).collect();
    let mut out = vec![0.0; 16];
    patchify(1, 2, 2, 4, 2, &img, &mut out);
    assert_eq!(&out[..8], &[0.0, 1.0, 4.0, 5.0, 8.0, 9.0, 12.0, 13.0]);
    assert_eq!(&out[8..], &[2.0, 3.0, 6.0, 7.0, 10.0, 11.0, 14.0, 15.0]);
}
