//! The slice-based probe trainer against the tape reference: same weights (up to summation
//! order), same predictions, same selected grid point and accuracies.

use jepa_models::eval::{
    linear_probe, linear_probe_ref, train_linear, train_linear_ref, EvalError, FeatureMatrix,
    LinearClassifier, ProbeConfig,
};
use jepa_models::rng::Rng;
use proptest::prelude::*;

/// Standard-normal-ish features (sum of uniforms) with labels from a random linear map plus
/// label noise, so fits neither separate perfectly nor stay at zero.
fn problem(n: usize, d: usize, classes: usize, seed: u64) -> (FeatureMatrix, Vec<usize>) {
    let mut rng = Rng::new(seed);
    let unit = |rng: &mut Rng| (0..4).map(|_| rng.next_f64()).sum::<f64>() - 2.0;
    let map: Vec<f64> = (0..classes * d).map(|_| unit(&mut rng)).collect();
    let mut data = Vec::with_capacity(n * d);
    let mut labels = Vec::with_capacity(n);
    for _ in 0..n {
        let z: Vec<f64> = (0..d).map(|_| unit(&mut rng)).collect();
        let score = |c: usize| (0..d).map(|j| map[c * d + j] * z[j]).sum::<f64>();
        let best = (0..classes).fold(0, |b, c| if score(c) > score(b) { c } else { b });
        labels.push(if rng.next_f64() < 0.2 {
            rng.index(classes)
        } else {
            best
        });
        data.extend(z.iter().map(|&v| v as f32));
    }
    (FeatureMatrix::new(n, d, data).unwrap(), labels)
}

/// Largest |a − b| relative to the reference's largest weight magnitude.
fn max_rel_diff(fast: &[f32], reference: &[f32]) -> f64 {
    let scale = reference.iter().fold(1e-3f32, |m, v| m.max(v.abs())) as f64;
    let diff = fast
        .iter()
        .zip(reference)
        .fold(0f32, |m, (a, b)| m.max((a - b).abs())) as f64;
    diff / scale
}

/// Rows whose two best reference logits are closer than `gap` (a prediction there may flip on
/// rounding alone).
fn near_ties(clf: &LinearClassifier, x: &FeatureMatrix, gap: f32) -> Vec<bool> {
    (0..x.rows())
        .map(|r| {
            let mut logits: Vec<f32> = (0..clf.classes)
                .map(|c| {
                    let w = &clf.weight[c * clf.dim..(c + 1) * clf.dim];
                    clf.bias[c] + w.iter().zip(x.row(r)).map(|(a, b)| a * b).sum::<f32>()
                })
                .collect();
            logits.sort_by(|a, b| b.total_cmp(a));
            logits.len() > 1 && logits[0] - logits[1] < gap
        })
        .collect()
}

fn assert_same_fit(fast: &LinearClassifier, reference: &LinearClassifier, x: &FeatureMatrix) {
    let dw = max_rel_diff(&fast.weight, &reference.weight);
    let db = max_rel_diff(&fast.bias, &reference.bias);
    assert!(
        dw < 1e-4 && db < 1e-4,
        "weight diff {dw:e}, bias diff {db:e}"
    );
    let dl = (fast.last_epoch_loss - reference.last_epoch_loss).abs();
    assert!(
        dl < 1e-5 * reference.last_epoch_loss.max(1.0),
        "loss diff {dl:e}"
    );
    let (pf, pr) = (fast.predict(x).unwrap(), reference.predict(x).unwrap());
    let ties = near_ties(reference, x, 1e-3);
    for (r, ((a, b), tie)) in pf.iter().zip(&pr).zip(&ties).enumerate() {
        assert!(a == b || *tie, "row {r}: fast predicts {a}, reference {b}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// Awkward sizes: 2..11 classes, dims 1..70, sample counts off the batch grid and batches
    /// larger than the data.
    #[test]
    fn fast_fit_matches_tape_fit(
        classes in 2usize..12,
        d in 1usize..71,
        n in 1usize..300,
        batch in 1usize..400,
        epochs in 1usize..4,
        lr_i in 0usize..3,
        wd in prop::sample::select(vec![0.0, 1e-4, 0.05]),
        seed in 0u64..1000,
    ) {
        let (x, y) = problem(n, d, classes, seed);
        let cfg = ProbeConfig { epochs, batch_size: batch, seed, ..ProbeConfig::default() };
        let lr = cfg.lrs[lr_i];
        let fast = train_linear(&x, &y, classes, lr, wd, &cfg).unwrap();
        let reference = train_linear_ref(&x, &y, classes, lr, wd, &cfg).unwrap();
        assert_same_fit(&fast, &reference, &x);
    }
}

#[test]
fn fast_probe_selects_like_the_tape_probe() {
    for (n, d, classes, batch, seed) in [
        (700, 13, 3, 64, 1),
        (450, 40, 10, 256, 2),
        (333, 5, 7, 500, 3),
    ] {
        let (x, y) = problem(n, d, classes, seed);
        let (xt, yt) = problem(200, d, classes, seed + 100);
        let cfg = ProbeConfig {
            epochs: 4,
            batch_size: batch,
            seed,
            ..ProbeConfig::default()
        };
        let fast = linear_probe(&x, &y, &xt, &yt, classes, &cfg).unwrap();
        let reference = linear_probe_ref(&x, &y, &xt, &yt, classes, &cfg).unwrap();
        assert_eq!(
            fast, reference,
            "n {n}, d {d}, {classes} classes, batch {batch}"
        );
        assert_eq!(fast.trials.len(), cfg.lrs.len() * cfg.weight_decays.len());
    }
}

/// Features, labels, classes, lr, weight decay, settings.
type BadCall<'a> = (
    &'a FeatureMatrix,
    &'a [usize],
    usize,
    f64,
    f64,
    &'a ProbeConfig,
);

#[test]
fn fast_trainer_validates_like_the_reference() {
    let (x, y) = problem(50, 4, 3, 9);
    let cfg = ProbeConfig::default();
    let zero_batch = ProbeConfig {
        batch_size: 0,
        ..cfg.clone()
    };
    let nan = FeatureMatrix::new(1, 4, vec![f32::NAN; 4]).unwrap();
    let bad: [BadCall; 5] = [
        (&x, &y[1..], 3, 1e-3, 0.0, &cfg),
        (&x, &y, 2, 1e-3, 0.0, &cfg),
        (&x, &y, 3, 0.0, 0.0, &cfg),
        (&x, &y, 3, 1e-3, -1.0, &cfg),
        (&x, &y, 3, 1e-3, 0.0, &zero_batch),
    ];
    for (i, (x, y, c, lr, wd, cfg)) in bad.into_iter().enumerate() {
        assert!(
            matches!(
                train_linear(x, y, c, lr, wd, cfg),
                Err(EvalError::InvalidInput(_))
            ),
            "case {i}"
        );
    }
    assert!(matches!(
        train_linear(&nan, &[0], 3, 1e-3, 0.0, &cfg),
        Err(EvalError::NonFinite(_))
    ));
    // Finite features, but an lr that drives the logits past f32: both trainers stop with a
    // typed error instead of returning NaN weights.
    let huge = FeatureMatrix::new(2, 1, vec![1e19, -1e19]).unwrap();
    let hot = ProbeConfig { epochs: 5, ..cfg };
    let fast = train_linear(&huge, &[0, 1], 2, 1e20, 0.0, &hot);
    let reference = train_linear_ref(&huge, &[0, 1], 2, 1e20, 0.0, &hot);
    assert!(matches!(fast, Err(EvalError::NonFinite(_))), "{fast:?}");
    assert!(
        matches!(reference, Err(EvalError::NonFinite(_))),
        "{reference:?}"
    );
}
