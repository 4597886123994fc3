//! C-JEPA variant A (two augmented views) through the trainer: it runs and logs the VICReg
//! terms, stop + resume is bit-identical to an uninterrupted run, and the fingerprint covers the
//! variant and the augmentation.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use jepa_models::checkpoint::Checkpoint;
use jepa_models::jepa::{CJepaConfig, Method};
use jepa_models::train::{
    DataSource, Duration, Progress, StepRecord, StopReason, TrainConfig, TrainError, Trainer,
};
use jepa_models::vit::VitConfig;

/// ViT dim 32, depth 1, 2 heads, 32 px / patch 4; predictor 16 / 1; 16 synthetic images in
/// batches of 4; variant A with β 0.1 and VICReg colour augmentation.
fn tiny_two_views(dir: &Path, steps: u64) -> TrainConfig {
    let enc = VitConfig::custom(32, 1, 2, 32, 4);
    let data = DataSource::Synthetic {
        samples: 16,
        classes: 4,
        size: 32,
        seed: 3,
    };
    let mut cfg = TrainConfig::with_encoder(Method::CJepa, enc, 16, 1, data, dir.to_path_buf());
    cfg.jepa.cjepa = CJepaConfig::two_views(0.1);
    (cfg.transform.color_jitter, cfg.transform.grayscale) = (1.0, 0.2);
    cfg.batch_size = 4;
    cfg.duration = Duration::Steps(steps);
    cfg.schedule.warmup_epochs = 1.0;
    (cfg.threads, cfg.workers) = (2, 1);
    (cfg.log_every, cfg.collapse_every, cfg.checkpoint_every) = (1, 2, 0);
    cfg.seed = 11;
    cfg
}

/// Records steps and raises the stop flag after `stop_after`, if set.
#[derive(Default)]
struct Recorder {
    steps: Vec<StepRecord>,
    stop_after: Option<(u64, Arc<AtomicBool>)>,
}

impl Progress for Recorder {
    fn on_step(&mut self, r: &StepRecord) {
        self.steps.push(r.clone());
        if let Some((at, flag)) = &self.stop_after {
            if r.step == *at {
                flag.store(true, Ordering::SeqCst);
            }
        }
    }
}

fn assert_bit_identical(a: &Checkpoint, b: &Checkpoint) {
    let (na, nb): (Vec<&str>, Vec<&str>) = (a.names().collect(), b.names().collect());
    assert_eq!(na, nb);
    for n in na {
        let (x, y) = (&a.tensor(n).unwrap().data, &b.tensor(n).unwrap().data);
        let same = x.iter().zip(y).all(|(p, q)| p.to_bits() == q.to_bits());
        assert!(same && x.len() == y.len(), "tensor {n} differs");
    }
    for key in ["step", "epoch", "batch_in_epoch", "opt.encoder.steps"] {
        assert_eq!(a.meta(key).unwrap(), b.meta(key).unwrap(), "{key}");
    }
}

#[test]
fn two_view_run_logs_vicreg_terms_and_collapse_metrics() {
    let dir = tempfile::tempdir().unwrap();
    let mut t = Trainer::new(tiny_two_views(dir.path(), 3)).unwrap();
    let mut rec = Recorder::default();
    let out = t.run(&mut rec).unwrap();
    assert_eq!((out.reason, out.steps_done), (StopReason::Completed, 3));
    for r in &rec.steps {
        let (inv, var, cov) = (r.inv.unwrap(), r.var.unwrap(), r.cov.unwrap());
        // inv is the MSE between the two views' pooled features: positive when they differ.
        assert!(
            inv > 0.0 && (0.0..=1.0).contains(&var) && cov >= 0.0,
            "{r:?}"
        );
        assert!(r.loss.is_finite() && r.regression > 0.0);
        assert_eq!(r.rankme.is_some(), r.step % 2 == 0);
    }
}

#[test]
fn two_view_stop_and_resume_is_bit_identical() {
    let k = 5; // crosses the epoch boundaries at steps 4 and 8
    let straight = tempfile::tempdir().unwrap();
    let mut t = Trainer::new(tiny_two_views(straight.path(), 2 * k)).unwrap();
    t.run(&mut Recorder::default()).unwrap();
    let want = Checkpoint::load(&t.checkpoint_path()).unwrap();

    let split = tempfile::tempdir().unwrap();
    let mut t = Trainer::new(tiny_two_views(split.path(), 2 * k)).unwrap();
    let mut rec = Recorder {
        stop_after: Some((k, t.stop_flag())),
        ..Recorder::default()
    };
    let out = t.run(&mut rec).unwrap();
    assert_eq!((out.reason, out.steps_done), (StopReason::Interrupted, k));
    let path = t.checkpoint_path();
    drop(t);

    let mut t = Trainer::resume(tiny_two_views(split.path(), 2 * k), &path).unwrap();
    let out = t.run(&mut Recorder::default()).unwrap();
    assert_eq!((out.reason, out.steps_done), (StopReason::Completed, 2 * k));
    assert_bit_identical(&Checkpoint::load(&t.checkpoint_path()).unwrap(), &want);
}

#[test]
fn fingerprint_covers_variant_and_augmentation() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = tiny_two_views(dir.path(), 1);
    let mut t = Trainer::new(cfg.clone()).unwrap();
    t.run(&mut Recorder::default()).unwrap();
    let path = t.checkpoint_path();
    let mut single = cfg.clone();
    single.jepa.cjepa = CJepaConfig::predictions_and_context(0.1);
    let mut plain_colours = cfg.clone();
    plain_colours.transform.color_jitter = 0.5;
    for other in [single, plain_colours] {
        assert!(matches!(
            Trainer::resume(other, &path),
            Err(TrainError::Resume(_))
        ));
    }
    assert!(Trainer::resume(cfg, &path).is_ok());
}

#[test]
fn checkpoints_from_before_the_transform_fingerprint_still_resume() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = tiny_two_views(dir.path(), 2);
    cfg.jepa = TrainConfig::with_encoder(
        Method::IJepa,
        cfg.jepa.encoder.clone(),
        16,
        1,
        cfg.data.clone(),
        dir.path().to_path_buf(),
    )
    .jepa;
    (cfg.transform.color_jitter, cfg.transform.grayscale) = (0.0, 0.0);
    cfg.duration = Duration::Steps(1);
    let mut t = Trainer::new(cfg.clone()).unwrap();
    t.run(&mut Recorder::default()).unwrap();
    // Rewrite the metadata as the oldest trainer wrote it: Debug output, no `;transform=` part.
    let j = &cfg.jepa;
    let legacy = format!(
        "method={:?};encoder={:?};predictor={:?};loss={:?};cjepa={:?};ec={:?};batch={};seed={}",
        j.method, j.encoder, j.predictor, j.loss, j.cjepa, j.ec, cfg.batch_size, cfg.seed
    );
    assert_ne!(legacy, cfg.fingerprint().to_string());
    let mut ck = Checkpoint::load(&t.checkpoint_path()).unwrap();
    ck.set_meta("fingerprint", legacy);
    let old = dir.path().join("old.safetensors");
    ck.save(&old).unwrap();
    cfg.duration = Duration::Steps(2);
    let mut t = Trainer::resume(cfg.clone(), &old).unwrap();
    assert_eq!(t.run(&mut Recorder::default()).unwrap().steps_done, 2);
    // With colour augmentation on, the old run cannot have been the same run.
    cfg.transform.color_jitter = 1.0;
    assert!(matches!(
        Trainer::resume(cfg, &old),
        Err(TrainError::Resume(_))
    ));
}

#[test]
fn bad_augmentation_strengths_fail_validation() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = tiny_two_views(dir.path(), 1);
    cfg.transform.grayscale = 1.5;
    assert!(matches!(Trainer::new(cfg), Err(TrainError::Data(_))));
}

#[test]
fn step_bench_times_variant_a_on_two_views() {
    let mut cfg = jepa_models::jepa::JepaConfig::new(
        Method::CJepa,
        VitConfig::custom(32, 1, 2, 32, 4),
        16,
        1,
    );
    cfg.cjepa = CJepaConfig::two_views(0.04);
    let r = jepa_models::jepa::bench_ijepa_step(&cfg, 4, 0, 2).unwrap();
    assert_eq!(
        (r.label.as_str(), r.batch, r.times_ms.len()),
        ("CJepa two-view step", 4, 2)
    );
    assert!(r.median_ms > 0.0);
}
