//! AdamW: fast vs reference over several steps, and the closed form of the first step.

use jepa_kernels::cpu::adamw::*;
use proptest::prelude::*;

fn rand_vec(seed: u64, len: usize, amp: f32) -> Vec<f32> {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            ((s >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0) * amp
        })
        .collect()
}

const CFG: AdamW = AdamW {
    lr: 1e-3,
    beta1: 0.9,
    beta2: 0.999,
    eps: 1e-8,
    weight_decay: 0.04,
};

fn check(len: usize, cfg: AdamW, steps: u64, seed: u64) {
    let mut p = rand_vec(seed, len, 1.0);
    let (mut m, mut v) = (vec![0.0; len], vec![0.0; len]);
    let (mut p_ref, mut m_ref, mut v_ref) = (p.clone(), m.clone(), v.clone());
    for t in 1..=steps {
        // Gradients at least 1e-3 in size so that eps does not dominate the comparison.
        let g: Vec<f32> = rand_vec(seed + t, len, 1.0)
            .iter()
            .map(|g| g + 1e-3_f32.copysign(*g))
            .collect();
        adamw_step(cfg, t, &mut p, &g, &mut m, &mut v);
        adamw_step_ref(cfg, t, &mut p_ref, &g, &mut m_ref, &mut v_ref);
    }
    for i in 0..len {
        assert!(
            (m[i] - m_ref[i]).abs() <= 1e-6 * (1.0 + m_ref[i].abs()),
            "m at {i}"
        );
        assert!(
            (v[i] - v_ref[i]).abs() <= 1e-6 * (1e-3 + v_ref[i].abs()),
            "v at {i}"
        );
        // The update is ≈ lr per step; compare at a fraction of it.
        assert!(
            (p[i] - p_ref[i]).abs() <= 1e-3 * cfg.lr * steps as f32 + 1e-6,
            "p at {i}: {} vs {}",
            p[i],
            p_ref[i]
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]
    #[test]
    fn fast_matches_reference(
        len in 0usize..100, steps in 1u64..6, wd in 0.0f32..0.5, seed in any::<u64>(),
    ) {
        check(len, AdamW { weight_decay: wd, ..CFG }, steps, seed);
    }
}

#[test]
fn parallel_path_matches_reference() {
    check(150_001, CFG, 3, 9);
}

#[test]
fn first_step_closed_form() {
    // With fresh state, m̂ = g and v̂ = g², so p₁ = p₀·(1 − lr·wd) − lr·g/(|g| + eps).
    let p0 = [0.5f32, -2.0, 1.0];
    let g = [0.25f32, -4.0, 0.0];
    for step_fn in [
        adamw_step as fn(AdamW, u64, &mut [f32], &[f32], &mut [f32], &mut [f32]),
        adamw_step_ref,
    ] {
        let (mut p, mut m, mut v) = (p0, [0.0; 3], [0.0; 3]);
        step_fn(CFG, 1, &mut p, &g, &mut m, &mut v);
        for i in 0..3 {
            let (p0, g) = (p0[i] as f64, g[i] as f64);
            let want = p0 * (1.0 - 1e-3 * 0.04) - 1e-3 * g / (g.abs() + 1e-8);
            assert!(
                (p[i] as f64 - want).abs() < 1e-7,
                "at {i}: {} vs {want}",
                p[i]
            );
            // 1 − β in f32 is off by up to 1.3e-5 relative (β2 = 0.999 is not exact in f32).
            assert!((m[i] as f64 - 0.1 * g).abs() <= 1e-5 * (0.1 * g).abs());
            assert!((v[i] as f64 - 0.001 * g * g).abs() <= 2e-5 * (0.001 * g * g));
        }
    }
}
