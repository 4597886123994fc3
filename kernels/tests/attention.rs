//! Fused attention: fast paths vs the f64 reference on awkward shapes, and the reference
//! backward vs f64 finite differences of the forward (dq, dk, dv).

use jepa_kernels::cpu::attention::*;
use jepa_kernels::cpu::simd::SimdPath;
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

/// Every fast path this CPU can run (the AVX-512 one only where the CPU has it).
fn paths() -> Vec<SimdPath> {
    let all = SimdPath::supported();
    if !all.contains(&SimdPath::Avx512) {
        eprintln!("AVX-512 path not testable on this CPU");
    }
    all
}

fn assert_close(name: &str, got: &[f32], want: &[f32], rel: f32) {
    assert_eq!(got.len(), want.len());
    // Relative to the tensor's largest entry, with a floor: with n = 1, dq and dk are exactly 0 in
    // exact arithmetic and rounding residue of ~1e-8 is all there is.
    let scale = want.iter().fold(0f32, |m, x| m.max(x.abs())).max(0.1);
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!(
            (g - w).abs() <= rel * scale,
            "{name}[{i}]: {g} vs {w} (max |ref| {scale})"
        );
    }
}

fn check(s: AttnShape, amp: f32, seed: u64) {
    let len = s.b * s.h * s.n * s.d;
    let rows = s.b * s.h * s.n;
    let scale = 1.0 / (s.d.max(1) as f32).sqrt();
    let q = rand_vec(seed, len, amp);
    let k = rand_vec(seed + 1, len, amp);
    let v = rand_vec(seed + 2, len, 1.0);
    let dout = rand_vec(seed + 3, len, 1.0);
    let (mut out_ref, mut lse_ref) = (vec![0.0; len], vec![0.0; rows]);
    attention_fwd_ref(s, scale, &q, &k, &v, &mut out_ref, &mut lse_ref);
    let mut g_ref = [vec![0.0; len], vec![0.0; len], vec![0.0; len]];
    let [dq_r, dk_r, dv_r] = &mut g_ref;
    attention_bwd_ref(
        s, scale, &q, &k, &v, &out_ref, &lse_ref, &dout, dq_r, dk_r, dv_r,
    );
    for path in paths() {
        let tag = |t: &str| format!("{path:?} {s:?} {t}");
        let (mut out, mut lse) = (vec![f32::NAN; len], vec![f32::NAN; rows]);
        attention_fwd_with(path, s, scale, &q, &k, &v, &mut out, &mut lse);
        assert_close(&tag("out"), &out, &out_ref, 2e-5);
        assert_close(&tag("lse"), &lse, &lse_ref, 2e-6);
        // Garbage in the outputs must be overwritten, not accumulated into.
        let mut g = [
            vec![f32::NAN; len],
            vec![f32::NAN; len],
            vec![f32::NAN; len],
        ];
        let [dq, dk, dv] = &mut g;
        attention_bwd_with(
            path, s, scale, &q, &k, &v, &out_ref, &lse_ref, &dout, dq, dk, dv,
        );
        for (name, got, want) in [
            ("dq", &g[0], &g_ref[0]),
            ("dk", &g[1], &g_ref[1]),
            ("dv", &g[2], &g_ref[2]),
        ] {
            assert_close(&tag(name), got, want, 5e-5);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]
    #[test]
    fn fast_matches_reference(
        b in 1usize..3, h in 1usize..3, n in 1usize..40, di in 0usize..9, seed in any::<u64>(),
    ) {
        let d = [1, 3, 8, 16, 17, 32, 50, 64, 128][di];
        check(AttnShape { b, h, n, d }, 1.0, seed);
    }
}

#[test]
fn single_token_and_single_dim() {
    check(
        AttnShape {
            b: 1,
            h: 1,
            n: 1,
            d: 1,
        },
        1.0,
        1,
    );
    check(
        AttnShape {
            b: 2,
            h: 1,
            n: 1,
            d: 64,
        },
        1.0,
        2,
    );
    check(
        AttnShape {
            b: 1,
            h: 1,
            n: 7,
            d: 1,
        },
        1.0,
        3,
    );
}

#[test]
fn several_query_blocks_and_parallel_heads() {
    // n above the 64-row block size (unequal blocks), head dims 32 / 64 / 128, enough heads for
    // the rayon path.
    check(
        AttnShape {
            b: 2,
            h: 3,
            n: 196,
            d: 64,
        },
        1.0,
        4,
    );
    check(
        AttnShape {
            b: 1,
            h: 4,
            n: 129,
            d: 32,
        },
        1.0,
        5,
    );
    check(
        AttnShape {
            b: 3,
            h: 2,
            n: 65,
            d: 128,
        },
        1.0,
        6,
    );
    check(
        AttnShape {
            b: 8,
            h: 3,
            n: 64,
            d: 64,
        },
        1.0,
        7,
    );
}

#[test]
fn peaked_softmax_is_stable() {
    // Scores up to ~±50 after scaling: exp would overflow without the max subtraction.
    check(
        AttnShape {
            b: 1,
            h: 2,
            n: 33,
            d: 16,
        },
        7.0,
        8,
    );
}

/// Σ dout ⊙ attention(q, k, v) in f64, one head `[n, d]`.
fn objective(n: usize, d: usize, scale: f64, q: &[f64], k: &[f64], v: &[f64], dout: &[f64]) -> f64 {
    let mut total = 0.0;
    for i in 0..n {
        let s: Vec<f64> = (0..n)
            .map(|j| scale * (0..d).map(|c| q[i * d + c] * k[j * d + c]).sum::<f64>())
            .collect();
        let m = s.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let z: f64 = s.iter().map(|x| (x - m).exp()).sum();
        for c in 0..d {
            let o: f64 = (0..n).map(|j| (s[j] - m).exp() / z * v[j * d + c]).sum();
            total += dout[i * d + c] * o;
        }
    }
    total
}

#[test]
fn reference_backward_matches_finite_differences() {
    let s = AttnShape {
        b: 1,
        h: 2,
        n: 5,
        d: 3,
    };
    let (n, d, len) = (s.n, s.d, s.b * s.h * s.n * s.d);
    let scale = 0.7f32;
    let q = rand_vec(11, len, 1.5);
    let k = rand_vec(12, len, 1.5);
    let v = rand_vec(13, len, 1.0);
    let dout = rand_vec(14, len, 1.0);
    let (mut out, mut lse) = (vec![0.0; len], vec![0.0; s.b * s.h * n]);
    attention_fwd_ref(s, scale, &q, &k, &v, &mut out, &mut lse);
    let (mut dq, mut dk, mut dv) = (vec![0.0; len], vec![0.0; len], vec![0.0; len]);
    attention_bwd_ref(
        s, scale, &q, &k, &v, &out, &lse, &dout, &mut dq, &mut dk, &mut dv,
    );
    let f64s = |x: &[f32]| x.iter().map(|&x| x as f64).collect::<Vec<f64>>();
    let (q, k, v, dout) = (f64s(&q), f64s(&k), f64s(&v), f64s(&dout));
    let eps = 1e-6;
    for head in 0..s.b * s.h {
        let r = head * n * d..(head + 1) * n * d;
        let f = |q: &[f64], k: &[f64], v: &[f64]| {
            objective(
                n,
                d,
                scale as f64,
                &q[r.clone()],
                &k[r.clone()],
                &v[r.clone()],
                &dout[r.clone()],
            )
        };
        for idx in r.clone() {
            let bump = |x: &[f64], h: f64| {
                let mut y = x.to_vec();
                y[idx] += h;
                y
            };
            let fd_q = (f(&bump(&q, eps), &k, &v) - f(&bump(&q, -eps), &k, &v)) / (2.0 * eps);
            let fd_k = (f(&q, &bump(&k, eps), &v) - f(&q, &bump(&k, -eps), &v)) / (2.0 * eps);
            let fd_v = (f(&q, &k, &bump(&v, eps)) - f(&q, &k, &bump(&v, -eps))) / (2.0 * eps);
            for (name, got, fd) in [
                ("dq", dq[idx], fd_q),
                ("dk", dk[idx], fd_k),
                ("dv", dv[idx], fd_v),
            ] {
                assert!(
                    (got as f64 - fd).abs() < 1e-5 + 1e-4 * fd.abs(),
                    "{name}[{idx}]: {got} vs {fd}"
                );
            }
        }
    }
}

#[test]
fn uniform_attention_averages_values() {
    // q = 0 gives equal scores: out is the mean of v's rows, lse = ln n.
    let s = AttnShape {
        b: 1,
        h: 1,
        n: 4,
        d: 2,
    };
    let (q, k) = (vec![0.0; 8], rand_vec(1, 8, 1.0));
    let v = vec![1.0, 10.0, 2.0, 20.0, 3.0, 30.0, 6.0, 60.0];
    for path in paths() {
        let (mut out, mut lse) = (vec![0.0; 8], vec![0.0; 4]);
        attention_fwd_with(path, s, 0.5, &q, &k, &v, &mut out, &mut lse);
        for i in 0..4 {
            assert!(
                (out[2 * i] - 3.0).abs() < 1e-5 && (out[2 * i + 1] - 30.0).abs() < 1e-4,
                "{path:?} {out:?}"
            );
            assert!((lse[i] - 4f32.ln()).abs() < 1e-6);
        }
    }
}
