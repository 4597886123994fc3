//! The trainer end to end on a tiny ViT: metrics and checkpoint files, stop + resume that is
//! bit-identical to an uninterrupted run, resume checks, the NaN guard, config validation.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use jepa_models::checkpoint::Checkpoint;
use jepa_models::eval::{EvalConfig, ExtractConfig, KnnConfig, ProbeConfig, ProbeReport};
use jepa_models::jepa::Method;
use jepa_models::train::{
    open_dataset, DataSource, Duration, ProbeHook, Progress, Split, StepRecord, StopReason,
    TrainConfig, TrainError, Trainer,
};
use jepa_models::vit::VitConfig;

/// ViT dim 32, depth 1, 2 heads on 32 px images with patch 4 (8×8 grid); predictor 16 / 1;
/// 16 synthetic images in batches of 4 (4 batches per epoch).
fn tiny(dir: &Path, steps: u64) -> TrainConfig {
    let enc = VitConfig::custom(32, 1, 2, 32, 4);
    let data = DataSource::Synthetic {
        samples: 16,
        classes: 4,
        size: 32,
        seed: 3,
    };
    let mut cfg = TrainConfig::with_encoder(Method::IJepa, enc, 16, 1, data, dir.to_path_buf());
    cfg.batch_size = 4;
    cfg.duration = Duration::Steps(steps);
    cfg.schedule.warmup_epochs = 1.0;
    cfg.threads = 2;
    cfg.workers = 1;
    cfg.log_every = 1;
    cfg.collapse_every = 2;
    cfg.checkpoint_every = 0;
    cfg.seed = 11;
    cfg
}

/// Records steps; optionally raises the stop flag after a given step.
#[derive(Default)]
struct Recorder {
    started: Option<(u64, u64)>,
    steps: Vec<StepRecord>,
    checkpoints: Vec<u64>,
    evals: Vec<ProbeReport>,
    stop_after: Option<(u64, Arc<AtomicBool>)>,
}

impl Progress for Recorder {
    fn on_start(&mut self, total: u64, start: u64) {
        self.started = Some((total, start));
    }
    fn on_step(&mut self, r: &StepRecord) {
        self.steps.push(r.clone());
        if let Some((at, flag)) = &self.stop_after {
            if r.step == *at {
                flag.store(true, Ordering::SeqCst);
            }
        }
    }
    fn on_checkpoint(&mut self, _path: &Path, step: u64) {
        self.checkpoints.push(step);
    }
    fn on_eval(&mut self, report: &ProbeReport) {
        self.evals.push(report.clone());
    }
}

#[test]
fn run_writes_metrics_and_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = tiny(dir.path(), 5);
    cfg.checkpoint_every = 2;
    let mut t = Trainer::new(cfg).unwrap();
    assert_eq!((t.batches_per_epoch(), t.total_steps()), (4, 5));
    let mut rec = Recorder::default();
    let out = t.run(&mut rec).unwrap();
    assert_eq!(out.reason, StopReason::Completed);
    assert_eq!(out.steps_done, 5);
    assert_eq!(rec.started, Some((5, 0)));
    assert_eq!(rec.checkpoints, vec![2, 4, 5], "every 2 steps plus the end");
    let steps: Vec<u64> = rec.steps.iter().map(|r| r.step).collect();
    assert_eq!(steps, vec![1, 2, 3, 4, 5]);
    assert_eq!(
        rec.steps[4].epoch, 1,
        "step 5 is the first batch of epoch 1"
    );
    assert!(rec.steps.iter().all(|r| r.loss.is_finite() && r.loss > 0.0));
    // The LR warms up over the first epoch (4 steps), the EMA momentum ramps up.
    assert!(rec.steps[1].lr > rec.steps[0].lr);
    assert!(rec.steps[4].ema_momentum > rec.steps[0].ema_momentum);
    // Collapse metrics on even steps only; RankMe of 4 pooled features is in [1, 4].
    for r in &rec.steps {
        assert_eq!(r.rankme.is_some(), r.step % 2 == 0, "step {}", r.step);
        if let (Some(rk), Some(sd)) = (r.rankme, r.feature_std) {
            assert!((1.0..=4.0).contains(&rk) && sd > 0.0, "{rk} {sd}");
        }
    }

    let jsonl = std::fs::read_to_string(dir.path().join("metrics.jsonl")).unwrap();
    let lines: Vec<&str> = jsonl.lines().collect();
    assert_eq!(lines.len(), 5);
    assert!(
        lines[0].starts_with("{\"step\":1,\"epoch\":0,\"loss\":"),
        "{}",
        lines[0]
    );
    assert!(lines[0].contains("\"rankme\":null") && lines[1].contains("\"rankme\":"));
    let csv = std::fs::read_to_string(dir.path().join("metrics.csv")).unwrap();
    let rows: Vec<&str> = csv.lines().collect();
    assert_eq!(rows.len(), 6, "header + 5 rows");
    let cols = rows[0].split(',').count();
    assert!(rows[0].starts_with("step,epoch,loss,regression,inv,var,cov,lr,wd,ema_momentum"));
    assert!(rows.iter().all(|r| r.split(',').count() == cols));

    let ck = Checkpoint::load(&t.checkpoint_path()).unwrap();
    assert_eq!(ck.u64("step").unwrap(), 5);
    assert_eq!(
        (ck.u64("epoch").unwrap(), ck.u64("batch_in_epoch").unwrap()),
        (1, 1)
    );
    let names: Vec<&str> = ck.names().collect();
    for want in [
        "encoder.patch_embed.proj.weight",
        "encoder.blocks.0.attn.qkv.weight",
        "encoder.norm.weight",
        "predictor.mask_token",
        "predictor.predictor_proj.weight",
        "target_encoder.blocks.0.mlp.fc2.bias",
        "opt.encoder.exp_avg",
        "opt.predictor.exp_avg_sq",
    ] {
        assert!(names.contains(&want), "missing {want} in {names:?}");
    }
    // The target encoder is an EMA, so it differs from the context encoder after training.
    let key = "blocks.0.attn.qkv.weight";
    let enc = &ck.tensor(&format!("encoder.{key}")).unwrap().data;
    let tgt = &ck.tensor(&format!("target_encoder.{key}")).unwrap().data;
    assert_ne!(enc, tgt);
}

/// Every tensor of two checkpoints, compared bit for bit.
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

/// Runs `cfg(steps)` straight through, then again stopped after half the steps and resumed from
/// the checkpoint, and requires the two final checkpoints to agree bit for bit.
fn check_stop_and_resume(cfg: impl Fn(&Path, u64) -> TrainConfig) {
    let k = 5; // crosses the epoch boundaries at steps 4 and 8
    let straight = tempfile::tempdir().unwrap();
    let mut t = Trainer::new(cfg(straight.path(), 2 * k)).unwrap();
    t.run(&mut Recorder::default()).unwrap();
    let want = Checkpoint::load(&t.checkpoint_path()).unwrap();

    let split = tempfile::tempdir().unwrap();
    let mut t = Trainer::new(cfg(split.path(), 2 * k)).unwrap();
    let mut rec = Recorder {
        stop_after: Some((k, t.stop_flag())),
        ..Recorder::default()
    };
    let out = t.run(&mut rec).unwrap();
    assert_eq!((out.reason, out.steps_done), (StopReason::Interrupted, k));
    assert_eq!(rec.checkpoints, vec![k], "checkpoint written on stop");
    let path = t.checkpoint_path();
    drop(t);

    let mut t = Trainer::resume(cfg(split.path(), 2 * k), &path).unwrap();
    let mut rec = Recorder::default();
    let out = t.run(&mut rec).unwrap();
    assert_eq!((out.reason, out.steps_done), (StopReason::Completed, 2 * k));
    assert_eq!(rec.started, Some((2 * k, k)));
    assert_eq!(rec.steps.first().map(|r| r.step), Some(k + 1));
    assert_bit_identical(&Checkpoint::load(&t.checkpoint_path()).unwrap(), &want);
    // The metrics files continue: one line per step of both halves.
    let jsonl = std::fs::read_to_string(split.path().join("metrics.jsonl")).unwrap();
    assert_eq!(jsonl.lines().count() as u64, 2 * k);
}

#[test]
fn stop_and_resume_is_bit_identical() {
    check_stop_and_resume(tiny);
}

/// Conditioning dropout draws from a random stream: a resumed run must draw what the
/// uninterrupted run drew (p = 0.5 makes both outcomes likely within the resumed half).
#[test]
fn ecijepa_with_conditioning_dropout_resumes_bit_identically() {
    check_stop_and_resume(|dir, steps| {
        let mut cfg = tiny(dir, steps);
        cfg.jepa.method = Method::EcIJepa;
        cfg.jepa.ec.dropout = 0.5;
        cfg
    });
}

#[test]
fn resume_rejects_a_different_run() {
    let dir = tempfile::tempdir().unwrap();
    let mut t = Trainer::new(tiny(dir.path(), 2)).unwrap();
    t.run(&mut Recorder::default()).unwrap();
    let path = t.checkpoint_path();
    let mut other = tiny(dir.path(), 2);
    other.seed = 12;
    assert!(matches!(
        Trainer::resume(other, &path),
        Err(TrainError::Resume(_))
    ));
    let mut wider = tiny(dir.path(), 2);
    wider.jepa.predictor.depth = 2;
    assert!(matches!(
        Trainer::resume(wider, &path),
        Err(TrainError::Resume(_))
    ));
    // Already finished: resuming runs no step and reports completion.
    let mut t = Trainer::resume(tiny(dir.path(), 2), &path).unwrap();
    let out = t.run(&mut Recorder::default()).unwrap();
    assert_eq!((out.reason, out.steps_done), (StopReason::Completed, 2));
}

#[test]
fn nan_guard_stops_and_keeps_the_last_good_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = tiny(dir.path(), 6);
    // An absurd constant learning rate blows the weights up within a couple of steps.
    cfg.schedule.start_lr = 1e30;
    cfg.schedule.ref_lr = 1e30;
    cfg.schedule.final_lr = 1e30;
    cfg.schedule.warmup_epochs = 0.0;
    cfg.checkpoint_every = 1;
    let mut t = Trainer::new(cfg).unwrap();
    let err = t.run(&mut Recorder::default()).unwrap_err();
    let TrainError::NonFinite {
        step,
        last_checkpoint,
        ..
    } = &err
    else {
        panic!("expected NonFinite, got {err}");
    };
    // Step 1 moves every weight by about ±lr: huge but finite, so it is checkpointed; the
    // forward of a later step overflows.
    assert!((2..=6).contains(step), "step {step}");
    assert!(err.to_string().contains("non-finite"), "{err}");
    let path = last_checkpoint
        .as_ref()
        .expect("a checkpoint before the failure");
    let ck = Checkpoint::load(path).unwrap();
    assert_eq!(
        ck.u64("step").unwrap(),
        step - 1,
        "nothing written after the failure"
    );
    for n in ck.names() {
        assert!(
            ck.tensor(n).unwrap().data.iter().all(|v| v.is_finite()),
            "{n}"
        );
    }
}

#[test]
fn eval_hook_reports_at_the_end() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = tiny(dir.path(), 2);
    let mut t = Trainer::new(cfg.clone()).unwrap();
    t.set_eval_hook(Box::new(ProbeHook {
        train: open_dataset(&cfg.data, Split::Train).unwrap(),
        test: open_dataset(&cfg.data, Split::Test).unwrap(),
        extract: ExtractConfig {
            batch_size: 6,
            last4: false,
            ..ExtractConfig::plain(32)
        },
        eval: EvalConfig {
            probe: ProbeConfig {
                epochs: 20,
                ..ProbeConfig::default()
            },
            knn: KnnConfig {
                k: 3,
                ..KnnConfig::default()
            },
        },
        label: "tiny".into(),
    }));
    let mut rec = Recorder::default();
    t.run(&mut rec).unwrap();
    assert_eq!(rec.evals.len(), 1);
    let r = &rec.evals[0];
    assert_eq!((r.train_samples, r.test_samples, r.dim), (16, 16, 32));
    assert!(r.linear_last4.is_none());
    // Synthetic classes differ in colour: even a barely trained encoder separates them.
    assert!(r.linear_last.top1 > 50.0 && r.knn_top1 > 50.0, "{r}");
    let lines = std::fs::read_to_string(dir.path().join("eval.jsonl")).unwrap();
    assert_eq!(lines.lines().count(), 1);
    assert!(lines.starts_with("{\"label\":\"tiny step 2\""), "{lines}");
}

#[test]
fn config_mismatches_are_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = tiny(dir.path(), 1);
    cfg.masks.height = 4;
    assert!(matches!(Trainer::new(cfg), Err(TrainError::Config(_))));
    let mut cfg = tiny(dir.path(), 1);
    cfg.transform.size = 16;
    assert!(matches!(Trainer::new(cfg), Err(TrainError::Config(_))));
    let mut cfg = tiny(dir.path(), 1);
    cfg.batch_size = 17;
    assert!(
        matches!(Trainer::new(cfg), Err(TrainError::Config(_))),
        "no full batch"
    );
    let mut cfg = tiny(dir.path(), 1);
    cfg.duration = Duration::Steps(0);
    assert!(Trainer::new(cfg).is_err());
    let mut cfg = tiny(dir.path(), 1);
    cfg.schedule.ref_lr = f64::NAN;
    assert!(Trainer::new(cfg).is_err());
}
