//! Evaluation during training: `eval.jsonl` lines carry the step and the training time, and
//! the time the trainer reports (metrics, outcome, checkpoint) leaves evaluation out, also
//! across a resume.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration as Wait, Instant};

use jepa_models::checkpoint::Checkpoint;
use jepa_models::eval::{
    EvalConfig, ExtractConfig, KnnConfig, ProbeConfig, ProbeReport, ProbeResult,
};
use jepa_models::jepa::{Jepa, Method};
use jepa_models::train::{
    open_dataset, read_meta, DataSource, Duration, EvalHook, ProbeHook, Progress, Split,
    StepRecord, StopReason, TrainConfig, TrainError, Trainer,
};
use jepa_models::vit::VitConfig;

/// A one-block ViT on 16 synthetic 32 px images, batches of 4.
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
    cfg.threads = 2;
    cfg.workers = 1;
    cfg.log_every = 1;
    cfg.checkpoint_every = 0;
    cfg.eval_every = 2;
    cfg
}

const SLEEP: Wait = Wait::from_millis(400);

/// An evaluation that only takes time.
struct Slow;

impl EvalHook for Slow {
    fn evaluate(&mut self, _jepa: &Jepa, step: u64) -> Result<ProbeReport, TrainError> {
        std::thread::sleep(SLEEP);
        let r = ProbeResult {
            top1: 50.0,
            train_top1: 60.0,
            lr: 1e-3,
            weight_decay: 0.0,
            trials: Vec::new(),
        };
        Ok(ProbeReport {
            label: format!("slow step {step}"),
            train_samples: 1,
            test_samples: 1,
            dim: 1,
            linear_last: r,
            linear_last4: None,
            knn_k: 1,
            knn_temperature: 0.07,
            knn_top1: 40.0,
            rankme: 1.0,
            feature_std: 1.0,
        })
    }
}

#[derive(Default)]
struct Steps {
    records: Vec<StepRecord>,
    stop_after: Option<(u64, Arc<AtomicBool>)>,
}

impl Progress for Steps {
    fn on_step(&mut self, r: &StepRecord) {
        self.records.push(r.clone());
        if let Some((at, flag)) = &self.stop_after {
            if r.step == *at {
                flag.store(true, Ordering::SeqCst);
            }
        }
    }
}

/// The lines of `eval.jsonl`.
fn eval_lines(dir: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(dir.join("eval.jsonl")).unwrap();
    text.lines().map(str::to_string).collect()
}

/// The raw value of `key` in a flat one-line JSON object (numbers, `null`; strings quoted).
fn field<'a>(line: &'a str, key: &str) -> &'a str {
    let pat = format!("\"{key}\":");
    let at = line
        .find(&pat)
        .unwrap_or_else(|| panic!("no {key} in {line}"))
        + pat.len();
    let rest = &line[at..];
    let end = if let Some(text) = rest.strip_prefix('"') {
        text.find('"').map_or(rest.len(), |i| i + 2)
    } else {
        rest.find([',', '}']).unwrap_or(rest.len())
    };
    &rest[..end]
}

fn num(line: &str, key: &str) -> f64 {
    field(line, key).parse().unwrap()
}

#[test]
fn eval_lines_carry_step_and_training_time_without_the_evaluation() {
    let dir = tempfile::tempdir().unwrap();
    let mut t = Trainer::new(tiny(dir.path(), 4)).unwrap();
    t.set_eval_hook(Box::new(Slow));
    let wall = Instant::now();
    let out = t.run(&mut Steps::default()).unwrap();
    let wall = wall.elapsed().as_secs_f64();
    assert_eq!(out.reason, StopReason::Completed);
    let lines = eval_lines(dir.path());
    let steps: Vec<f64> = lines.iter().map(|l| num(l, "step")).collect();
    assert_eq!(
        steps,
        [2.0, 4.0],
        "every 2 steps; the end (4) is not evaluated twice"
    );
    let secs: Vec<f64> = lines.iter().map(|l| num(l, "train_seconds")).collect();
    assert!(0.0 < secs[0] && secs[0] < secs[1], "{secs:?}");
    assert!(num(&lines[0], "eval_seconds") >= 0.39);
    assert_eq!(field(&lines[0], "label"), "\"slow step 2\"");
    // Two 0.4 s evaluations ran inside the wall time but not inside the training time.
    assert!(
        out.elapsed_seconds + 0.75 <= wall,
        "{} vs {wall}",
        out.elapsed_seconds
    );
    assert!(secs[1] <= out.elapsed_seconds && out.elapsed_seconds - secs[1] < 0.3);
    let ck = Checkpoint::load(&t.checkpoint_path()).unwrap();
    assert_eq!(read_meta(&ck).unwrap().elapsed_seconds, out.elapsed_seconds);
}

#[test]
fn resume_continues_the_training_time() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = tiny(dir.path(), 4);
    let mut t = Trainer::new(cfg.clone()).unwrap();
    t.set_eval_hook(Box::new(Slow));
    let mut first = Steps {
        stop_after: Some((3, t.stop_flag())),
        ..Steps::default()
    };
    let out = t.run(&mut first).unwrap();
    assert_eq!((out.reason, out.steps_done), (StopReason::Interrupted, 3));
    let stopped_at = out.elapsed_seconds;
    assert!(stopped_at >= first.records[2].elapsed_seconds);

    let mut t = Trainer::resume(cfg, &dir.path().join("checkpoint.safetensors")).unwrap();
    t.set_eval_hook(Box::new(Slow));
    let mut second = Steps::default();
    let out = t.run(&mut second).unwrap();
    assert_eq!(out.reason, StopReason::Completed);
    let step4 = &second.records[0];
    assert_eq!(step4.step, 4);
    // The resumed count starts where the first session stopped, not at 0 and not at the wall
    // time the first session spent (which held a 0.4 s evaluation).
    assert!(
        step4.elapsed_seconds >= stopped_at,
        "{step4:?} vs {stopped_at}"
    );
    let lines = eval_lines(dir.path());
    let last = &lines[lines.len() - 1];
    assert_eq!(num(last, "step"), 4.0);
    assert!(num(last, "train_seconds") >= stopped_at);
}

#[test]
fn zero_probe_epochs_skip_the_linear_probe() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = tiny(dir.path(), 2);
    let mut t = Trainer::new(cfg.clone()).unwrap();
    t.set_eval_hook(Box::new(ProbeHook {
        train: open_dataset(&cfg.data, Split::Train).unwrap(),
        test: open_dataset(&cfg.data, Split::Test).unwrap(),
        extract: ExtractConfig {
            batch_size: 8,
            last4: false,
            ..ExtractConfig::plain(32)
        },
        eval: EvalConfig {
            probe: ProbeConfig {
                epochs: 0,
                ..ProbeConfig::default()
            },
            knn: KnnConfig {
                k: 3,
                ..KnnConfig::default()
            },
        },
        label: "knn".into(),
    }));
    t.run(&mut Steps::default()).unwrap();
    let lines = eval_lines(dir.path());
    assert_eq!(lines.len(), 1);
    let l = &lines[0];
    assert_eq!(field(l, "linear_last_top1"), "null", "{l}");
    assert!(num(l, "knn_top1") > 50.0, "{l}");
    assert!(num(l, "rankme") >= 1.0, "{l}");
    assert_eq!(num(l, "step"), 2.0);
}
