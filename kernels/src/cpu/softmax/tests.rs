use super::*;
use proptest::prelude::*;

fn dim() -> impl Strategy<Value = usize> {
    prop_oneof![
        Just(1usize),
        Just(7),
        Just(16),
        Just(17),
        Just(63),
        Just(65),
        Just(193),
        2usize..100
    ]
}

fn close(got: &[f32], want: &[f32], what: &str) -> Result<(), TestCaseError> {
    prop_assert_eq!(got.len(), want.len());
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        let ok = (g - w).abs() <= 1e-6 + 1e-5 * w.abs() || (g.is_nan() && w.is_nan());
        prop_assert!(ok, "{} [{}]: {} vs {}", what, i, g, w);
    }
    Ok(())
}

fn check_paths(rows: usize, dim: usize, x: &[f32], dout: &[f32]) -> Result<(), TestCaseError> {
    let n = rows * dim;
    let (mut out_r, mut dx_r) = (vec![0.0; n], vec![0.0; n]);
    softmax_fwd_ref(rows, dim, x, &mut out_r);
    softmax_bwd_ref(rows, dim, &out_r, dout, &mut dx_r);
    for path in SimdPath::supported() {
        let (mut out, mut dx) = (vec![f32::NAN; n], vec![f32::NAN; n]);
        softmax_fwd_with(path, rows, dim, x, &mut out);
        close(&out, &out_r, &format!("{path:?} out"))?;
        softmax_bwd_with(path, rows, dim, &out_r, dout, &mut dx);
        close(&dx, &dx_r, &format!("{path:?} dx"))?;
    }
    Ok(())
}

/// Logits with a per-row spread from gentle to extreme (terms that underflow to 0).
fn case(rows: usize) -> impl Strategy<Value = (usize, usize, Vec<f32>, Vec<f32>)> {
    dim().prop_flat_map(move |dim| {
        let n = rows * dim;
        (
            Just(rows),
            Just(dim),
            (
                prop::collection::vec(-1f32..1f32, n),
                prop_oneof![Just(1f32), Just(30.0), Just(500.0)],
            )
                .prop_map(|(v, s)| v.into_iter().map(|a| a * s).collect()),
            prop::collection::vec(-1f32..1f32, n),
        )
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn softmax_fast_matches_ref((rows, dim, x, dout) in (1usize..10).prop_flat_map(case)) {
        check_paths(rows, dim, &x, &dout)?;
    }
}

#[test]
fn softmax_parallel_chunks_match_ref() {
    for (rows, dim) in [(1001, 65), (300, 193), (5000, 7)] {
        let x: Vec<f32> = (0..rows * dim)
            .map(|i| ((i * 37 % 101) as f32 - 50.0) * 0.11)
            .collect();
        let dout: Vec<f32> = (0..rows * dim)
            .map(|i| ((i * 13 % 29) as f32 - 14.0) * 0.05)
            .collect();
        check_paths(rows, dim, &x, &dout).unwrap_or_else(|e| panic!("rows {rows} dim {dim}: {e}"));
    }
}

#[test]
fn softmax_special_rows() {
    let ninf = f32::NEG_INFINITY;
    // Row 0: masked entries give exact zeros; row 1: all masked gives NaN (as PyTorch);
    // row 2: one huge logit takes all the mass.
    let x = [
        0.0, ninf, 1.0, ninf, ninf, ninf, ninf, ninf, 1e30, 0.0, -1e30, 5.0,
    ];
    for path in SimdPath::supported() {
        let mut out = [9f32; 12];
        softmax_fwd_with(path, 3, 4, &x, &mut out);
        let e = 1.0 / (1.0 + std::f32::consts::E);
        let want0 = [e, 0.0, 1.0 - e, 0.0];
        for j in 0..4 {
            assert!(
                (out[j] - want0[j]).abs() < 1e-6,
                "{path:?} row 0: {:?}",
                &out[..4]
            );
        }
        assert!(
            out[4..8].iter().all(|v| v.is_nan()),
            "{path:?} row 1: {:?}",
            &out[4..8]
        );
        assert_eq!(&out[8..], &[1.0, 0.0, 0.0, 0.0], "{path:?} row 2");
        // Empty shapes are no-ops.
        softmax_fwd_with(path, 0, 4, &[], &mut []);
        softmax_bwd_with(path, 3, 0, &[], &[], &mut []);
    }
}

#[test]
fn softmax_bwd_ref_matches_finite_differences() {
    let (rows, dim) = (3, 9);
    let x: Vec<f64> = (0..rows * dim)
        .map(|i| ((i * 7 % 13) as f64 - 6.0) * 0.4)
        .collect();
    let dout: Vec<f64> = (0..rows * dim)
        .map(|i| ((i * 5 % 11) as f64 - 5.0) * 0.2)
        .collect();
    // Σ softmax(x)·dout in f64.
    let loss = |x: &[f64]| -> f64 {
        let mut l = 0.0;
        for r in 0..rows {
            let xr = &x[r * dim..(r + 1) * dim];
            let m = xr.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
            let s: f64 = xr.iter().map(|v| (v - m).exp()).sum();
            l += xr
                .iter()
                .zip(&dout[r * dim..])
                .map(|(v, g)| (v - m).exp() / s * g)
                .sum::<f64>();
        }
        l
    };
    let x32: Vec<f32> = x.iter().map(|&v| v as f32).collect();
    let d32: Vec<f32> = dout.iter().map(|&v| v as f32).collect();
    let (mut out, mut dx) = (vec![0.0; rows * dim], vec![0.0; rows * dim]);
    softmax_fwd_ref(rows, dim, &x32, &mut out);
    softmax_bwd_ref(rows, dim, &out, &d32, &mut dx);
    let h = 1e-6;
    for i in 0..rows * dim {
        let (mut up, mut dn) = (x.clone(), x.clone());
        up[i] += h;
        dn[i] -= h;
        let want = (loss(&up) - loss(&dn)) / (2.0 * h);
        assert!(
            (dx[i] as f64 - want).abs() <= 1e-6 * (1.0 + want.abs()),
            "dx[{i}]: {} vs {want}",
            dx[i]
        );
    }
}

/// Rows of 8..=64 (a multiple of 8) run the in-register kernel: every width, awkward logits.
#[test]
fn softmax_register_rows_match_ref() {
    for k in 1..=8 {
        let (rows, dim) = (37, 8 * k);
        for s in [1f32, 30.0, 500.0] {
            let x: Vec<f32> = (0..rows * dim)
                .map(|i| ((i * 37 % 101) as f32 - 50.0) * 0.02 * s)
                .collect();
            let dout: Vec<f32> = (0..rows * dim)
                .map(|i| ((i * 13 % 29) as f32 - 14.0) * 0.05)
                .collect();
            check_paths(rows, dim, &x, &dout)
                .unwrap_or_else(|e| panic!("dim {dim} spread {s}: {e}"));
        }
    }
}

/// `softmax_special_rows` at width 8 (padded with −∞), where the in-register kernel runs; a NaN
/// anywhere in a row makes the whole row NaN.
#[test]
fn softmax_special_register_rows() {
    let ninf = f32::NEG_INFINITY;
    let rows = [
        [0.0, ninf, 1.0, ninf],
        [ninf; 4],
        [1e30, 0.0, -1e30, 5.0],
        [0.0, 1.0, f32::NAN, 2.0],
    ];
    let x: Vec<f32> = rows
        .iter()
        .flat_map(|r| r.iter().copied().chain([ninf; 4]))
        .collect();
    for path in SimdPath::supported() {
        let mut out = [9f32; 32];
        softmax_fwd_with(path, 4, 8, &x, &mut out);
        let e = 1.0 / (1.0 + std::f32::consts::E);
        let want0 = [e, 0.0, 1.0 - e, 0.0, 0.0, 0.0, 0.0, 0.0];
        for j in 0..8 {
            assert!(
                (out[j] - want0[j]).abs() < 1e-6,
                "{path:?} row 0: {:?}",
                &out[..8]
            );
        }
        assert!(
            out[8..16].iter().all(|v| v.is_nan()),
            "{path:?} row 1: {:?}",
            &out[8..16]
        );
        assert_eq!(
            &out[16..24],
            &[1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0],
            "{path:?} row 2"
        );
        assert!(
            out[24..].iter().all(|v| v.is_nan()),
            "{path:?} row 3: {:?}",
            &out[24..]
        );
    }
}
