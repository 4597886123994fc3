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

/// Values with a per-row offset, so a one-pass Σx² variance would show its cancellation.
fn data(rows: usize, dim: usize) -> impl Strategy<Value = Vec<f32>> {
    prop::collection::vec(-2f32..2f32, rows * dim).prop_flat_map(move |v| {
        prop::collection::vec(-20f32..20f32, rows).prop_map(move |off| {
            v.iter()
                .enumerate()
                .map(|(i, &x)| x + off[i / dim.max(1)])
                .collect::<Vec<f32>>()
        })
    })
}

fn close(got: &[f32], want: &[f32], tol: f32, what: &str) -> Result<(), TestCaseError> {
    prop_assert_eq!(got.len(), want.len());
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        prop_assert!(
            (g - w).abs() <= tol * (1.0 + w.abs()),
            "{} [{}]: {} vs {}",
            what,
            i,
            g,
            w
        );
    }
    Ok(())
}

struct Params {
    w: Vec<f32>,
    b: Vec<f32>,
    use_w: bool,
    use_b: bool,
}

impl Params {
    fn new(dim: usize, use_w: bool, use_b: bool) -> Self {
        let w = (0..dim).map(|j| 0.5 + (j % 7) as f32 * 0.25).collect();
        let b = (0..dim).map(|j| (j % 5) as f32 * 0.3 - 0.6).collect();
        Params { w, b, use_w, use_b }
    }
    fn w(&self) -> Option<&[f32]> {
        self.use_w.then_some(self.w.as_slice())
    }
    fn b(&self) -> Option<&[f32]> {
        self.use_b.then_some(self.b.as_slice())
    }
}

/// Fast forward and backward on every supported path against the references.
fn check_all_paths(
    rows: usize,
    dim: usize,
    x: &[f32],
    dout: &[f32],
    p: &Params,
    grads: (bool, bool),
) -> Result<(), TestCaseError> {
    let eps = 1e-5;
    let n = rows * dim;
    let (mut out_r, mut mean_r, mut rstd_r) = (vec![0.0; n], vec![0.0; rows], vec![0.0; rows]);
    layernorm_fwd_ref(
        rows,
        dim,
        eps,
        x,
        p.w(),
        p.b(),
        &mut out_r,
        &mut mean_r,
        &mut rstd_r,
    );
    let (mut dx_r, mut dw_r, mut db_r) = (vec![0.0; n], vec![0.0; dim], vec![0.0; dim]);
    layernorm_bwd_ref(
        rows,
        dim,
        x,
        p.w(),
        &mean_r,
        &rstd_r,
        dout,
        &mut dx_r,
        Some(&mut dw_r),
        Some(&mut db_r),
    );
    for path in SimdPath::supported() {
        let (mut out, mut mean, mut rstd) = (
            vec![f32::NAN; n],
            vec![f32::NAN; rows],
            vec![f32::NAN; rows],
        );
        layernorm_fwd_with(
            path,
            rows,
            dim,
            eps,
            x,
            p.w(),
            p.b(),
            &mut out,
            &mut mean,
            &mut rstd,
        );
        close(&out, &out_r, 2e-5, &format!("{path:?} out"))?;
        close(&mean, &mean_r, 1e-6, &format!("{path:?} mean"))?;
        close(&rstd, &rstd_r, 2e-5, &format!("{path:?} rstd"))?;

        let (mut dx, mut dw, mut db) =
            (vec![f32::NAN; n], vec![f32::NAN; dim], vec![f32::NAN; dim]);
        let dwo = grads.0.then_some(dw.as_mut_slice());
        let dbo = grads.1.then_some(db.as_mut_slice());
        layernorm_bwd_with(
            path,
            rows,
            dim,
            x,
            p.w(),
            &mean_r,
            &rstd_r,
            dout,
            &mut dx,
            dwo,
            dbo,
        );
        close(&dx, &dx_r, 1e-4, &format!("{path:?} dx"))?;
        // Partial sums over rows: the error grows with the row count.
        let tol = 1e-5 * (1.0 + rows as f32).sqrt();
        if grads.0 {
            close(&dw, &dw_r, tol, &format!("{path:?} dweight"))?;
        }
        if grads.1 {
            close(&db, &db_r, tol, &format!("{path:?} dbias"))?;
        }
    }
    Ok(())
}

fn case(rows: usize) -> impl Strategy<Value = (usize, usize, Vec<f32>, Vec<f32>)> {
    dim().prop_flat_map(move |dim| {
        (
            Just(rows),
            Just(dim),
            data(rows, dim),
            prop::collection::vec(-1f32..1f32, rows * dim),
        )
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn layernorm_fast_matches_ref(
        (rows, dim, x, dout) in (1usize..12).prop_flat_map(case),
        use_w: bool, use_b: bool, gw: bool, gb: bool,
    ) {
        check_all_paths(rows, dim, &x, &dout, &Params::new(dim, use_w, use_b), (gw, gb))?;
    }
}

#[test]
fn layernorm_parallel_chunks_match_ref() {
    // Enough rows that the driver splits them into several chunks (the last one partial).
    for (rows, dim) in [(1001, 65), (300, 193), (4099, 7)] {
        let x: Vec<f32> = (0..rows * dim)
            .map(|i| ((i * 37 % 101) as f32 - 50.0) * 0.07 + 3.0)
            .collect();
        let dout: Vec<f32> = (0..rows * dim)
            .map(|i| ((i * 13 % 29) as f32 - 14.0) * 0.05)
            .collect();
        for (uw, ub) in [(true, true), (false, false), (true, false)] {
            let r = check_all_paths(
                rows,
                dim,
                &x,
                &dout,
                &Params::new(dim, uw, ub),
                (true, true),
            );
            r.unwrap_or_else(|e| panic!("rows {rows} dim {dim} w {uw} b {ub}: {e}"));
        }
    }
}

#[test]
fn layernorm_empty_shapes_do_not_panic() {
    for path in SimdPath::supported() {
        let (mut m, mut r) = (vec![9.0; 3], vec![9.0; 3]);
        layernorm_fwd_with(path, 3, 0, 1e-6, &[], None, None, &mut [], &mut m, &mut r);
        let (mut mr, mut rr) = (vec![0.0; 3], vec![0.0; 3]);
        layernorm_fwd_ref(3, 0, 1e-6, &[], None, None, &mut [], &mut mr, &mut rr);
        assert_eq!(
            (m, r),
            (mr, rr),
            "empty rows: same statistics as the reference"
        );
        layernorm_fwd_with(path, 0, 5, 1e-6, &[], None, None, &mut [], &mut [], &mut []);
        let mut dw = vec![7.0; 5];
        layernorm_bwd_with(
            path,
            0,
            5,
            &[],
            None,
            &[],
            &[],
            &[],
            &mut [],
            Some(&mut dw),
            None,
        );
        assert_eq!(
            dw,
            vec![0.0; 5],
            "an empty batch has zero parameter gradients"
        );
    }
}

/// f64 forward used as the finite-difference oracle: returns Σ out·dout.
fn loss64(
    rows: usize,
    dim: usize,
    x: &[f64],
    w: Option<&[f64]>,
    b: Option<&[f64]>,
    dout: &[f64],
) -> f64 {
    let eps = 1e-5;
    let mut l = 0.0;
    for r in 0..rows {
        let xr = &x[r * dim..(r + 1) * dim];
        let mu = xr.iter().sum::<f64>() / dim as f64;
        let var = xr.iter().map(|v| (v - mu).powi(2)).sum::<f64>() / dim as f64;
        for j in 0..dim {
            let y = (xr[j] - mu) / (var + eps).sqrt() * w.map_or(1.0, |w| w[j])
                + b.map_or(0.0, |b| b[j]);
            l += y * dout[r * dim + j];
        }
    }
    l
}

#[test]
fn layernorm_bwd_ref_matches_finite_differences() {
    let (rows, dim) = (3, 11);
    let x: Vec<f32> = (0..rows * dim)
        .map(|i| ((i * 7 % 13) as f32 - 6.0) * 0.3)
        .collect();
    let dout: Vec<f32> = (0..rows * dim)
        .map(|i| ((i * 5 % 11) as f32 - 5.0) * 0.2)
        .collect();
    for affine in [false, true] {
        let p = Params::new(dim, affine, affine);
        let n = rows * dim;
        let (mut out, mut mean, mut rstd) = (vec![0.0; n], vec![0.0; rows], vec![0.0; rows]);
        layernorm_fwd_ref(
            rows,
            dim,
            1e-5,
            &x,
            p.w(),
            p.b(),
            &mut out,
            &mut mean,
            &mut rstd,
        );
        let (mut dx, mut dw, mut db) = (vec![0.0; n], vec![0.0; dim], vec![0.0; dim]);
        layernorm_bwd_ref(
            rows,
            dim,
            &x,
            p.w(),
            &mean,
            &rstd,
            &dout,
            &mut dx,
            Some(&mut dw),
            Some(&mut db),
        );

        let f64s = |v: &[f32]| v.iter().map(|&a| a as f64).collect::<Vec<f64>>();
        let (x64, w64, b64, d64) = (f64s(&x), f64s(&p.w), f64s(&p.b), f64s(&dout));
        let (wo, bo) = (
            affine.then_some(w64.as_slice()),
            affine.then_some(b64.as_slice()),
        );
        let h = 1e-6;
        let numeric = |v: &[f64], i: usize, f: &dyn Fn(&[f64]) -> f64| {
            let (mut up, mut dn) = (v.to_vec(), v.to_vec());
            up[i] += h;
            dn[i] -= h;
            (f(&up) - f(&dn)) / (2.0 * h)
        };
        for (i, &got) in dx.iter().enumerate() {
            let want = numeric(&x64, i, &|xv| loss64(rows, dim, xv, wo, bo, &d64));
            assert!(
                (got as f64 - want).abs() <= 1e-4 * (1.0 + want.abs()),
                "affine {affine} dx[{i}]: {} vs {want}",
                got
            );
        }
        if affine {
            for j in 0..dim {
                let want = numeric(&w64, j, &|wv| loss64(rows, dim, &x64, Some(wv), bo, &d64));
                assert!(
                    (dw[j] as f64 - want).abs() <= 1e-4 * (1.0 + want.abs()),
                    "dw[{j}]: {} vs {want}",
                    dw[j]
                );
                let want = numeric(&b64, j, &|bv| loss64(rows, dim, &x64, wo, Some(bv), &d64));
                assert!(
                    (db[j] as f64 - want).abs() <= 1e-4 * (1.0 + want.abs()),
                    "db[{j}]: {} vs {want}",
                    db[j]
                );
            }
        }
    }
}
