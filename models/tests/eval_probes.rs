//! Linear probe and kNN on synthetic features: separable data is learned, random labels stay
//! at chance, kNN agrees with a brute-force reference, the report renders.

use jepa_models::eval::{
    evaluate, knn_classify, linear_probe, train_linear, EvalConfig, EvalError, ExtractedFeatures,
    FeatureMatrix, KnnConfig, ProbeConfig, Standardizer,
};
use jepa_models::rng::Rng;

fn gaussian(rng: &mut Rng) -> f64 {
    let (u, v) = (1.0 - rng.next_f64(), rng.next_f64());
    (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
}

/// Gaussian features (offset and scaled per dim, so standardisation matters) labelled by the
/// argmax of a fixed random linear map: linearly separable with margin noise only.
fn separable(n: usize, d: usize, classes: usize, seed: u64) -> (FeatureMatrix, Vec<usize>) {
    let mut map_rng = Rng::new(99);
    let w: Vec<f64> = (0..classes * d).map(|_| gaussian(&mut map_rng)).collect();
    let mut rng = Rng::new(seed);
    let mut data = Vec::with_capacity(n * d);
    let mut labels = Vec::with_capacity(n);
    for _ in 0..n {
        let z: Vec<f64> = (0..d).map(|_| gaussian(&mut rng)).collect();
        let scores: Vec<f64> = (0..classes)
            .map(|c| (0..d).map(|j| w[c * d + j] * z[j]).sum())
            .collect();
        let label = (0..classes).fold(0, |b, c| if scores[c] > scores[b] { c } else { b });
        labels.push(label);
        data.extend(
            z.iter()
                .enumerate()
                .map(|(j, v)| (5.0 + j as f64 + v * (1.0 + j as f64)) as f32),
        );
    }
    (FeatureMatrix::new(n, d, data).unwrap(), labels)
}

fn quick() -> ProbeConfig {
    ProbeConfig {
        epochs: 15,
        ..ProbeConfig::default()
    }
}

#[test]
fn probe_learns_separable_features() {
    let (x, y) = separable(2000, 16, 4, 1);
    let (xt, yt) = separable(1000, 16, 4, 2);
    let r = linear_probe(&x, &y, &xt, &yt, 4, &quick()).unwrap();
    assert!(r.top1 > 90.0, "test top-1 {}", r.top1);
    assert!(r.train_top1 > 90.0, "train top-1 {}", r.train_top1);
    let grid = quick().lrs.len() * quick().weight_decays.len();
    assert_eq!(r.trials.len(), grid, "one trial per lr x wd");
    let best = r.trials.iter().map(|t| t.holdout_top1).fold(0.0, f64::max);
    let chosen = r
        .trials
        .iter()
        .find(|t| t.lr == r.lr && t.weight_decay == r.weight_decay)
        .unwrap();
    assert_eq!(
        chosen.holdout_top1, best,
        "selected the best hold-out setting"
    );
    // Same inputs, same result (fixed seeds, deterministic kernels).
    assert_eq!(linear_probe(&x, &y, &xt, &yt, 4, &quick()).unwrap(), r);
}

#[test]
fn probe_on_random_labels_is_at_chance() {
    let (x, _) = separable(1500, 16, 4, 3);
    let (xt, _) = separable(2000, 16, 4, 4);
    let mut rng = Rng::new(5);
    let y: Vec<usize> = (0..1500).map(|_| rng.index(4)).collect();
    let yt: Vec<usize> = (0..2000).map(|_| rng.index(4)).collect();
    let cfg = ProbeConfig {
        lrs: vec![1e-2],
        weight_decays: vec![0.0],
        ..quick()
    };
    let r = linear_probe(&x, &y, &xt, &yt, 4, &cfg).unwrap();
    assert!(
        (19.0..31.0).contains(&r.top1),
        "random-label top-1 {}",
        r.top1
    );
    assert!(r.trials.is_empty(), "single grid point: no selection");
}

#[test]
fn training_reduces_loss_and_validates_input() {
    let (x, y) = separable(600, 8, 3, 6);
    let x = Standardizer::fit(&x).unwrap().apply(&x).unwrap();
    let one = ProbeConfig {
        epochs: 1,
        ..quick()
    };
    let short = train_linear(&x, &y, 3, 1e-2, 0.0, &one).unwrap();
    let long = train_linear(&x, &y, 3, 1e-2, 0.0, &quick()).unwrap();
    assert!(long.last_epoch_loss < short.last_epoch_loss);
    assert!(
        short.last_epoch_loss < 3f64.ln() + 0.01,
        "below the zero-weight loss"
    );
    assert!(matches!(
        train_linear(&x, &y[1..], 3, 1e-2, 0.0, &quick()),
        Err(EvalError::InvalidInput(_))
    ));
    assert!(
        train_linear(&x, &y, 2, 1e-2, 0.0, &quick()).is_err(),
        "label 2 >= 2 classes"
    );
    assert!(train_linear(&x, &y, 3, f64::NAN, 0.0, &quick()).is_err());
    let nan = FeatureMatrix::new(1, 8, vec![f32::NAN; 8]).unwrap();
    assert!(matches!(
        train_linear(&nan, &[0], 3, 1e-2, 0.0, &quick()),
        Err(EvalError::NonFinite(_))
    ));
    assert!(long
        .predict(&FeatureMatrix::new(1, 7, vec![0.0; 7]).unwrap())
        .is_err());
}

#[test]
fn standardizer_centres_and_scales() {
    let x = FeatureMatrix::new(4, 2, vec![1.0, 7.0, 3.0, 7.0, 5.0, 7.0, 7.0, 7.0]).unwrap();
    let s = Standardizer::fit(&x).unwrap();
    assert_eq!(s.mean, vec![4.0, 7.0]);
    assert_eq!(s.std[1], 1.0, "constant column keeps std 1");
    let z = s.apply(&x).unwrap();
    let col0: Vec<f32> = (0..4).map(|r| z.row(r)[0]).collect();
    let (m, v) = (
        col0.iter().sum::<f32>() / 4.0,
        col0.iter().map(|c| c * c).sum::<f32>() / 4.0,
    );
    assert!(
        m.abs() < 1e-6 && (v - 1.0).abs() < 1e-5,
        "mean {m}, var {v}"
    );
    assert!((0..4).all(|r| z.row(r)[1] == 0.0));
}

/// Brute-force weighted kNN in f64.
fn knn_reference(
    train: &FeatureMatrix,
    y: &[usize],
    test: &FeatureMatrix,
    c: usize,
    k: usize,
) -> Vec<usize> {
    let unit = |v: &[f32]| {
        let n = v.iter().map(|&a| a as f64 * a as f64).sum::<f64>().sqrt();
        v.iter().map(|&a| a as f64 / n).collect::<Vec<_>>()
    };
    (0..test.rows())
        .map(|q| {
            let tq = unit(test.row(q));
            let mut s: Vec<(f64, usize)> = (0..train.rows())
                .map(|i| {
                    (
                        unit(train.row(i)).iter().zip(&tq).map(|(a, b)| a * b).sum(),
                        i,
                    )
                })
                .collect();
            s.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
            let mut votes = vec![0.0; c];
            s[..k]
                .iter()
                .for_each(|&(sim, i)| votes[y[i]] += (sim / 0.07).exp());
            (0..c).fold(0, |b, j| if votes[j] > votes[b] { j } else { b })
        })
        .collect()
}

/// Points around `classes` random unit directions in `d` dims.
fn clusters(
    n: usize,
    d: usize,
    classes: usize,
    noise: f64,
    seed: u64,
) -> (FeatureMatrix, Vec<usize>) {
    let mut crng = Rng::new(7);
    let centres: Vec<f64> = (0..classes * d).map(|_| gaussian(&mut crng)).collect();
    let mut rng = Rng::new(seed);
    let labels: Vec<usize> = (0..n).map(|_| rng.index(classes)).collect();
    let data = labels
        .iter()
        .flat_map(|&l| {
            (0..d)
                .map(|j| (centres[l * d + j] + noise * gaussian(&mut rng)) as f32)
                .collect::<Vec<_>>()
        })
        .collect();
    (FeatureMatrix::new(n, d, data).unwrap(), labels)
}

#[test]
fn knn_separates_clusters_and_matches_brute_force() {
    let (x, y) = clusters(600, 16, 5, 0.3, 1);
    let (xt, yt) = clusters(300, 16, 5, 0.3, 2);
    // Blocks of 64 rows: several GEMM blocks plus a ragged last one.
    let cfg = KnnConfig {
        block_rows: 64,
        ..KnnConfig::default()
    };
    let r = knn_classify(&x, &y, &xt, &yt, 5, &cfg).unwrap();
    assert!(r.top1 > 97.0, "clustered kNN top-1 {}", r.top1);
    // Heavy noise: predictions must still equal the brute-force ones (ties aside, which
    // Gaussian data does not produce).
    let (x, y) = clusters(200, 8, 4, 2.0, 3);
    let (xt, yt) = clusters(90, 8, 4, 2.0, 4);
    let r = knn_classify(&x, &y, &xt, &yt, 4, &cfg).unwrap();
    assert_eq!(r.predictions, knn_reference(&x, &y, &xt, 4, 20));
    assert!(
        r.top1 < 90.0,
        "noisy clusters are not trivially separable: {}",
        r.top1
    );
    // k larger than the bank uses every training row.
    let big_k = KnnConfig {
        k: 1000,
        ..cfg.clone()
    };
    let r = knn_classify(&x, &y, &xt, &yt, 4, &big_k).unwrap();
    assert_eq!(r.predictions, knn_reference(&x, &y, &xt, 4, 200));
}

#[test]
fn knn_rejects_bad_input() {
    let (x, y) = clusters(20, 4, 2, 0.1, 1);
    let cfg = KnnConfig::default();
    let other = FeatureMatrix::new(1, 3, vec![1.0; 3]).unwrap();
    assert!(
        knn_classify(&x, &y, &other, &[0], 2, &cfg).is_err(),
        "dim mismatch"
    );
    assert!(
        knn_classify(&x, &y[1..], &x, &y, 2, &cfg).is_err(),
        "label count"
    );
    assert!(
        knn_classify(&x, &y, &x, &y, 1, &cfg).is_err(),
        "label >= classes"
    );
    let zero_k = KnnConfig { k: 0, ..cfg };
    assert!(knn_classify(&x, &y, &x, &y, 2, &zero_k).is_err());
}

#[test]
fn report_renders_table_and_json() {
    let (x, y) = clusters(400, 8, 3, 0.5, 1);
    let (xt, yt) = clusters(150, 8, 3, 0.5, 2);
    let last4 = |m: &FeatureMatrix| {
        let v: Vec<f32> = (0..m.rows()).flat_map(|r| m.row(r).repeat(4)).collect();
        FeatureMatrix::new(m.rows(), 32, v).unwrap()
    };
    let train = ExtractedFeatures {
        last4: Some(last4(&x)),
        last: x,
        labels: y,
    };
    let test = ExtractedFeatures {
        last4: Some(last4(&xt)),
        last: xt,
        labels: yt,
    };
    let cfg = EvalConfig {
        probe: ProbeConfig {
            epochs: 3,
            ..ProbeConfig::default()
        },
        ..EvalConfig::default()
    };
    let rep = evaluate("toy \"run\"", &train, &test, 3, &cfg).unwrap();
    assert!(rep.linear_last.top1 > 90.0 && rep.knn_top1 > 90.0, "{rep}");
    assert!(rep.linear_last4.as_ref().unwrap().top1 > 90.0);
    assert!(rep.rankme > 2.0 && rep.rankme <= 8.0, "{}", rep.rankme);
    let json = rep.to_json_line();
    assert!(json.starts_with("{\"label\":\"toy \\\"run\\\"\""), "{json}");
    assert!(
        json.contains("\"knn_k\":20") && json.contains("\"linear_last4_top1\":"),
        "{json}"
    );
    assert!(!json.contains('\n'));
    let table = rep.to_string();
    assert!(
        table.contains("linear, last 4 layers") && table.contains("RankMe"),
        "{table}"
    );
}
