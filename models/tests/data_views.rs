//! The loader's two-view mode (C-JEPA variant A): view 1 is the one-view batch unchanged, view 2
//! is another augmentation of the same samples with its own masks, all reproducible on resume.

use std::sync::Arc;

use jepa_models::data::{
    ArrayDataset, Batch, DataError, Loader, LoaderConfig, TrainTransform, Transform,
};
use jepa_models::masks::{MaskConfig, MaskGenerator};
use jepa_models::rng::Rng;

/// `n` random 12x12 RGB images (so that different crops give different pixels).
fn noisy(n: usize) -> Arc<ArrayDataset> {
    let mut r = Rng::new(1);
    let pixels = (0..n * 432).map(|_| r.below(256) as u8).collect();
    let labels = (0..n).map(|i| (i % 3) as u8).collect();
    Arc::new(ArrayDataset::new((12, 12, 3), pixels, labels, 3).unwrap())
}

fn run(views: usize, workers: usize, start: (usize, usize), jitter: f64) -> Vec<Batch> {
    let mut t = TrainTransform::ijepa(8);
    t.color_jitter = jitter;
    let mut cfg = LoaderConfig::new(4, 21);
    (cfg.views, cfg.workers, cfg.end_epoch) = (views, workers, Some(2));
    (cfg.start_epoch, cfg.start_batch) = start;
    let gen = MaskGenerator::new(MaskConfig::small_grid(8, 8)).unwrap();
    let loader = Loader::new(noisy(12), Transform::Train(t), cfg, Some((gen, 5))).unwrap();
    loader.map(|b| b.unwrap()).collect()
}

#[test]
fn one_view_batches_have_no_second_view() {
    assert_eq!(LoaderConfig::new(8, 0).views, 1);
    for b in run(1, 1, (0, 0), 0.0) {
        assert!(b.images2.is_none() && b.masks2.is_none());
    }
}

#[test]
fn view_one_is_the_one_view_batch_and_view_two_is_another_augmentation() {
    let gen = MaskGenerator::new(MaskConfig::small_grid(8, 8)).unwrap();
    for jitter in [0.0, 1.0] {
        let one = run(1, 1, (0, 0), jitter);
        let two = run(2, 1, (0, 0), jitter);
        assert_eq!(one.len(), 6);
        for (a, b) in one.iter().zip(&two) {
            assert_eq!(
                (&a.images, &a.masks, &a.indices),
                (&b.images, &b.masks, &b.indices)
            );
            let img2 = b.images2.as_ref().expect("second view");
            assert_eq!(img2.len(), b.images.len());
            assert_ne!(img2, &b.images, "step {}: a different crop", b.step);
            let (m1, m2) = (
                b.masks.as_ref().unwrap(),
                b.masks2.as_ref().expect("masks2"),
            );
            assert_eq!(m2.enc[0].rows(), 4);
            assert_ne!(m1, m2, "step {}: independent masks", b.step);
            assert_eq!(m1, &gen.generate(4, 5, b.step).unwrap());
        }
    }
}

#[test]
fn two_views_are_independent_of_workers_and_replay_on_resume() {
    let full = run(2, 1, (0, 0), 1.0);
    assert_eq!(
        full,
        run(2, 3, (0, 0), 1.0),
        "thread count must not change the data"
    );
    assert_eq!(
        run(2, 2, (1, 1), 1.0)[..],
        full[3 + 1..],
        "resume at epoch 1, batch 1"
    );
}

#[test]
fn unsupported_view_counts_are_config_errors() {
    for views in [0, 3] {
        let mut cfg = LoaderConfig::new(4, 0);
        cfg.views = views;
        let tf = Transform::Train(TrainTransform::ijepa(8));
        assert!(matches!(
            Loader::new(noisy(8), tf, cfg, None),
            Err(DataError::InvalidConfig(_))
        ));
    }
}
