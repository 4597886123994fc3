//! Jacobi eigen-solver against known spectra, and the collapse metrics (RankMe, feature std).

use jepa_models::eval::{
    feature_std, gram_f64, rankme, symmetric_eigen, symmetric_eigenvalues, EvalError, FeatureMatrix,
};
use jepa_models::rng::Rng;

fn gaussian(rng: &mut Rng) -> f64 {
    // Box–Muller; 1 − u keeps the log argument in (0, 1].
    let (u, v) = (1.0 - rng.next_f64(), rng.next_f64());
    (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
}

fn random_symmetric(n: usize, seed: u64) -> Vec<f64> {
    let mut rng = Rng::new(seed);
    let mut a = vec![0.0; n * n];
    for i in 0..n {
        for j in i..n {
            let v = gaussian(&mut rng);
            a[i * n + j] = v;
            a[j * n + i] = v;
        }
    }
    a
}

fn assert_close(got: f64, want: f64, tol: f64, what: &str) {
    assert!(
        (got - want).abs() <= tol * want.abs().max(1.0),
        "{what}: got {got}, want {want}"
    );
}

#[test]
fn small_known_spectra() {
    let e = symmetric_eigen(&[2.0, 1.0, 1.0, 2.0], 2).unwrap();
    assert_close(e.values[0], 3.0, 1e-14, "λ0");
    assert_close(e.values[1], 1.0, 1e-14, "λ1");
    // Eigenvector of 3 is ±(1, 1)/√2: column 0 of the row-major matrix.
    assert_close(e.vectors[0].abs(), 0.5f64.sqrt(), 1e-14, "v0");
    assert_close(e.vectors[0] * e.vectors[2], 0.5, 1e-14, "v0 direction");
    // Diagonal input comes back sorted descending, exactly.
    let d = symmetric_eigenvalues(&[1.0, 0.0, 0.0, 0.0, -4.0, 0.0, 0.0, 0.0, 7.5], 3).unwrap();
    assert_eq!(d, vec![7.5, 1.0, -4.0]);
    assert_eq!(symmetric_eigenvalues(&[5.0], 1).unwrap(), vec![5.0]);
    assert!(symmetric_eigenvalues(&[], 0).unwrap().is_empty());
    // Only the upper triangle is read.
    let lower_junk = symmetric_eigenvalues(&[2.0, 1.0, 99.0, 2.0], 2).unwrap();
    assert_close(lower_junk[0], 3.0, 1e-14, "upper triangle only");
}

#[test]
fn second_difference_matrix_matches_closed_form() {
    // tridiag(-1, 2, -1) of size n has eigenvalues 2 − 2cos(kπ/(n+1)), k = 1..n.
    let n = 40;
    let mut a = vec![0.0; n * n];
    for i in 0..n {
        a[i * n + i] = 2.0;
        if i + 1 < n {
            a[i * n + i + 1] = -1.0;
            a[(i + 1) * n + i] = -1.0;
        }
    }
    let got = symmetric_eigenvalues(&a, n).unwrap();
    let mut want: Vec<f64> = (1..=n)
        .map(|k| 2.0 - 2.0 * (k as f64 * std::f64::consts::PI / (n as f64 + 1.0)).cos())
        .collect();
    want.sort_by(|a, b| b.total_cmp(a));
    for (g, w) in got.iter().zip(&want) {
        assert_close(*g, *w, 1e-12, "second difference");
    }
}

#[test]
fn random_matrix_is_reconstructed_by_orthonormal_vectors() {
    let n = 37;
    let a = random_symmetric(n, 3);
    let e = symmetric_eigen(&a, n).unwrap();
    assert!(e.values.windows(2).all(|w| w[0] >= w[1]));
    for i in 0..n {
        for j in 0..n {
            let vtv: f64 = (0..n)
                .map(|r| e.vectors[r * n + i] * e.vectors[r * n + j])
                .sum();
            let recon: f64 = (0..n)
                .map(|k| e.vectors[i * n + k] * e.values[k] * e.vectors[j * n + k])
                .sum();
            assert!((vtv - f64::from(u8::from(i == j))).abs() < 1e-12, "VᵀV");
            assert!((recon - a[i * n + j]).abs() < 1e-11, "VΛVᵀ at ({i}, {j})");
        }
    }
    // Trace is preserved.
    let trace: f64 = (0..n).map(|i| a[i * n + i]).sum();
    assert_close(e.values.iter().sum(), trace, 1e-12, "trace");
}

#[test]
fn low_rank_gram_has_tiny_tail() {
    // G = BᵀB for B of rank 3: three positive eigenvalues, the rest zero to rounding.
    let (r, n) = (3, 24);
    let mut rng = Rng::new(11);
    let b: Vec<f64> = (0..r * n).map(|_| gaussian(&mut rng)).collect();
    let mut g = vec![0.0; n * n];
    for i in 0..n {
        for j in 0..n {
            g[i * n + j] = (0..r).map(|k| b[k * n + i] * b[k * n + j]).sum();
        }
    }
    let v = symmetric_eigenvalues(&g, n).unwrap();
    assert!(v[2] > 1.0, "third eigenvalue {}", v[2]);
    assert!(v[3..].iter().all(|x| x.abs() < 1e-12 * v[0]), "{v:?}");
}

#[test]
fn eigen_rejects_bad_input() {
    assert!(matches!(
        symmetric_eigenvalues(&[1.0, 2.0, 3.0], 2),
        Err(EvalError::InvalidInput(_))
    ));
    assert!(matches!(
        symmetric_eigenvalues(&[1.0, f64::NAN, 0.0, 1.0], 2),
        Err(EvalError::NonFinite(_))
    ));
}

/// `n` rows of `d`-dim Gaussian features whose first `r` coordinates are active, scaled by `s`.
fn subspace_features(n: usize, d: usize, r: usize, s: f64, seed: u64) -> FeatureMatrix {
    let mut rng = Rng::new(seed);
    let data = (0..n * d)
        .map(|i| {
            if i % d < r {
                (s * gaussian(&mut rng)) as f32
            } else {
                0.0
            }
        })
        .collect();
    FeatureMatrix::new(n, d, data).unwrap()
}

#[test]
fn rankme_tracks_rank() {
    let iso = rankme(&subspace_features(4000, 32, 32, 1.0, 1)).unwrap();
    assert!((30.0..=32.0).contains(&iso), "isotropic RankMe {iso}");
    let low = rankme(&subspace_features(4000, 32, 5, 1.0, 2)).unwrap();
    assert!((4.7..=5.0).contains(&low), "rank-5 RankMe {low}");
    // A rotated rank-5 matrix (generic factors) is still at most 5.
    let mut rng = Rng::new(4);
    let (n, d, r) = (300, 20, 5);
    let a: Vec<f64> = (0..n * r).map(|_| gaussian(&mut rng)).collect();
    let b: Vec<f64> = (0..r * d).map(|_| gaussian(&mut rng)).collect();
    let x: Vec<f32> = (0..n * d)
        .map(|i| {
            (0..r)
                .map(|k| a[(i / d) * r + k] * b[k * d + i % d])
                .sum::<f64>() as f32
        })
        .collect();
    let rot = rankme(&FeatureMatrix::new(n, d, x).unwrap()).unwrap();
    assert!((3.0..5.01).contains(&rot), "generic rank-5 RankMe {rot}");
    // Collapse: every row the same vector.
    let same = FeatureMatrix::new(
        50,
        8,
        [1.0f32, -2.0, 0.5, 3.0, 0.0, 1.0, 1.0, 2.0].repeat(50),
    );
    let one = rankme(&same.unwrap()).unwrap();
    assert!((1.0..1.01).contains(&one), "collapsed RankMe {one}");
    assert_eq!(
        rankme(&FeatureMatrix::new(3, 2, vec![0.0; 6]).unwrap()).unwrap(),
        1.0
    );
}

#[test]
fn rankme_is_transpose_invariant() {
    // N < D uses XXᵀ, N ≥ D uses XᵀX: the two paths must agree on X and Xᵀ.
    let (n, d) = (13, 29);
    let mut rng = Rng::new(8);
    let x: Vec<f32> = (0..n * d).map(|_| gaussian(&mut rng) as f32).collect();
    let xt: Vec<f32> = (0..d * n).map(|i| x[(i % n) * d + i / n]).collect();
    let a = rankme(&FeatureMatrix::new(n, d, x).unwrap()).unwrap();
    let b = rankme(&FeatureMatrix::new(d, n, xt).unwrap()).unwrap();
    assert!((a - b).abs() < 1e-9, "{a} vs {b}");
    assert!(a > 0.8 * n as f64 && a <= n as f64);
}

#[test]
fn gram_matches_naive_sum_across_blocks() {
    // 1100 rows spans three accumulation blocks.
    let x = subspace_features(1100, 7, 7, 1.0, 5);
    let (g, m) = gram_f64(&x).unwrap();
    assert_eq!(m, 7);
    for i in 0..7 {
        for j in i..7 {
            let want: f64 = (0..1100)
                .map(|r| x.row(r)[i] as f64 * x.row(r)[j] as f64)
                .sum();
            assert!((g[i * 7 + j] - want).abs() < 1e-9 * want.abs().max(1.0));
        }
    }
}

#[test]
fn feature_std_measures_spread() {
    let s = feature_std(&subspace_features(20_000, 4, 4, 2.0, 6)).unwrap();
    assert!((s - 2.0).abs() < 0.05, "std {s}");
    // Half the dims constant: mean std halves.
    let h = feature_std(&subspace_features(20_000, 4, 2, 2.0, 6)).unwrap();
    assert!((h - 1.0).abs() < 0.05, "std {h}");
    let exact = FeatureMatrix::new(2, 1, vec![1.0, 3.0]).unwrap();
    assert!(
        (feature_std(&exact).unwrap() - 2f64.sqrt()).abs() < 1e-12,
        "unbiased"
    );
    assert!(feature_std(&FeatureMatrix::new(1, 3, vec![0.0; 3]).unwrap()).is_err());
    let nan = FeatureMatrix::new(2, 1, vec![1.0, f32::NAN]).unwrap();
    assert!(matches!(rankme(&nan), Err(EvalError::NonFinite(_))));
    assert!(matches!(feature_std(&nan), Err(EvalError::NonFinite(_))));
}
