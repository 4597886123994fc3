//! `jepa pretrain`: resolve the configuration, run the trainer with a progress bar, stop cleanly
//! on Ctrl-C (checkpoint, exit status 130), fail with one line on NaN/Inf (the last good
//! checkpoint is kept), and draw the plots at the end.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use indicatif::ProgressBar;
use jepa_models::data::{stratified_split, Dataset, Subset};
use jepa_models::eval::{EvalConfig, KnnConfig, ProbeConfig, ProbeReport};
use jepa_models::train::{
    ProbeHook, Progress, StepRecord, StopReason, TrainConfig, TrainOutcome, Trainer,
    CHECKPOINT_FILE,
};

use crate::args::PretrainArgs;
use crate::config::{resolve, saved_config, RunConfig};
use crate::datasets::{self, Split};
use crate::error::{CliError, CliResult};
use crate::{atomic, plot, probe, progress, runtime, train_config};

/// The progress bar (or one log line per `log_every` steps without a terminal / with
/// `--no-progress`).
pub struct BarProgress {
    bar: ProgressBar,
    lines: bool,
    log_every: u64,
    last_line: Option<Instant>,
}

impl BarProgress {
    pub fn new(show_bar: bool, log_every: u64) -> Self {
        Self {
            bar: progress::steps_bar(0, 0, show_bar),
            lines: !show_bar,
            log_every: log_every.max(1),
            last_line: None,
        }
    }
}

fn step_message(r: &StepRecord) -> String {
    let mut m = format!(
        "loss {:.4} | {:.0} img/s | lr {:.2e} | ema {:.4}",
        r.loss, r.images_per_sec, r.lr, r.ema_momentum
    );
    if let Some(rank) = r.rankme {
        m += &format!(" | RankMe {rank:.1}");
    }
    m
}

impl BarProgress {
    /// A line above the bar, or on stderr when there is no bar.
    fn say(&self, msg: String) {
        if self.lines {
            eprintln!("{msg}");
        } else {
            self.bar.println(msg);
        }
    }
}

impl Progress for BarProgress {
    fn on_start(&mut self, total: u64, start: u64) {
        self.bar.set_length(total);
        self.bar.set_position(start);
        self.bar.reset_eta();
        if start > 0 {
            self.say(format!("jepa: resuming at step {start} of {total}"));
        }
    }

    fn on_step(&mut self, r: &StepRecord) {
        self.bar.set_position(r.step);
        // The bar's message is cheap to update; the log line only every `log_every` steps and
        // at most every 2 s, so a fast run does not flood the log.
        self.bar.set_message(step_message(r));
        let due = r.step.is_multiple_of(self.log_every) || r.step == r.total_steps;
        let quiet = self
            .last_line
            .is_some_and(|t| t.elapsed().as_secs_f64() < 2.0);
        if self.lines && due && (!quiet || r.step == r.total_steps) {
            eprintln!(
                "jepa: step {}/{} {}",
                r.step,
                r.total_steps,
                step_message(r)
            );
            self.last_line = Some(Instant::now());
        }
    }

    fn on_checkpoint(&mut self, path: &Path, step: u64) {
        self.say(format!(
            "jepa: checkpoint at step {step}: {}",
            path.display()
        ));
    }

    fn on_eval(&mut self, r: &ProbeReport) {
        let linear = r.linear_last.top1;
        let linear = if linear.is_finite() {
            format!("linear {linear:.2}% | ")
        } else {
            String::new()
        };
        self.say(format!(
            "jepa: eval {}: {linear}kNN {:.2}% | RankMe {:.1} ({} train / {} held-out images)",
            r.label, r.knn_top1, r.rankme, r.train_samples, r.test_samples
        ));
    }
}

impl Drop for BarProgress {
    fn drop(&mut self) {
        self.bar.finish_and_clear();
    }
}

/// The run directory of a resolved configuration.
fn out_dir(cfg: &RunConfig) -> CliResult<PathBuf> {
    cfg.output.dir.clone().ok_or_else(|| {
        CliError::Usage("no run directory: pass --out DIR (or set output.dir)".into())
    })
}

/// Resolves the configuration and checks the run directory against `--resume`.
pub fn prepare(args: &PretrainArgs) -> CliResult<(RunConfig, PathBuf, Option<PathBuf>)> {
    let early_out = args.out.clone();
    let saved = match (&early_out, args.resume) {
        (Some(dir), true) => saved_config(dir)?,
        _ => None,
    };
    let cfg = resolve(args, saved)?;
    let dir = out_dir(&cfg)?;
    let ckpt = dir.join(CHECKPOINT_FILE);
    let resume_from = if args.resume {
        if !ckpt.is_file() {
            return Err(CliError::Usage(format!(
                "{}: no checkpoint to resume from",
                ckpt.display()
            )));
        }
        Some(ckpt)
    } else {
        if ckpt.exists() {
            return Err(CliError::Usage(format!(
                "{} already holds a run; pass --resume to continue it or choose another --out",
                dir.display()
            )));
        }
        None
    };
    if cfg.data.path.is_none() {
        return Err(CliError::Usage(
            "no training data: pass --data PATH (or set data.path)".into(),
        ));
    }
    Ok((cfg, dir, resume_from))
}

/// Runs a resolved configuration; returns the outcome (an interrupt is `Ok` with
/// `StopReason::Interrupted`).
pub fn train(
    cfg: &RunConfig,
    dir: &Path,
    resume: Option<&Path>,
    show_bar: bool,
) -> CliResult<TrainOutcome> {
    let threads = (cfg.threads > 0).then_some(cfg.threads);
    runtime::configure_threads(threads)?;
    runtime::configure_precision(Some(&cfg.matmul_precision))?;
    runtime::compute_device(Some(&cfg.device))?;
    let data = cfg
        .data
        .path
        .as_deref()
        .ok_or_else(|| CliError::Usage("no training data: pass --data PATH".into()))?;
    let source = train_config::data_source(data)?;
    let tc = train_config::train_config(cfg, source, dir)?;
    // The CLI opens the data itself: same format recognition as `probe`, and a CIFAR or idx
    // directory holding only one split still trains.
    let (dataset, described) = datasets::open(data, Split::Train)?;
    if cfg.data.holdout == 0 {
        eprintln!("jepa: training data {described}: {} images", dataset.len());
        return train_on(cfg, tc, Arc::new(dataset), dir, resume, show_bar);
    }
    let (rest, held) = probe::holdout_split(&dataset, cfg.data.holdout, data, probe::HOLDOUT_SEED)?;
    eprintln!(
        "jepa: training data {described}: {} images, {} held out (`jepa probe --holdout {}`)",
        rest.len(),
        cfg.data.holdout,
        cfg.data.holdout
    );
    write_holdout_list(&dataset, &held, dir)?;
    let src: Arc<dyn Dataset> = Arc::new(dataset);
    let eval = if cfg.eval.every > 0 {
        let train = at_most(&src, &rest, cfg.eval.train_images)?;
        let test = at_most(&src, &held, cfg.eval.test_images)?;
        eprintln!(
            "jepa: probing every {} steps: {} pretraining / {} held-out images",
            cfg.eval.every,
            train.len(),
            test.len()
        );
        Some(EvalSets {
            train: Arc::new(Subset::new(src.clone(), train)?),
            test: Arc::new(Subset::new(src.clone(), test)?),
        })
    } else {
        None
    };
    let subset = Subset::new(src, rest)?;
    train_with(cfg, tc, Arc::new(subset), eval, dir, resume, show_bar)
}

/// The labelled images the evaluation hook probes with.
pub struct EvalSets {
    /// The probe's training set (pretraining images).
    pub train: Arc<dyn Dataset>,
    /// Its test set (held-out images).
    pub test: Arc<dyn Dataset>,
}

/// A stratified subset of at most `max` of `indices` (0: all), with the hold-out's seed.
/// `RUN/holdout.txt`: the held-out samples, one name per line, so a run made with other tools
/// (the PyTorch reference of issue 6) can exclude exactly the images `jepa probe --holdout`
/// scores on.
fn write_holdout_list(src: &datasets::Source, held: &[usize], dir: &Path) -> CliResult<()> {
    std::fs::create_dir_all(dir).map_err(|e| CliError::io(dir, e))?;
    let mut text = String::with_capacity(held.len() * 32);
    for &i in held {
        text.push_str(&src.sample_name(i));
        text.push('\n');
    }
    atomic::write_bytes(&dir.join("holdout.txt"), text.as_bytes())
}

fn at_most(src: &Arc<dyn Dataset>, indices: &[usize], max: usize) -> CliResult<Vec<usize>> {
    if max == 0 || max >= indices.len() {
        return Ok(indices.to_vec());
    }
    let labels = indices
        .iter()
        .map(|&i| src.label(i))
        .collect::<Result<Vec<_>, _>>()?;
    let (keep, _) = stratified_split(&labels, indices.len() - max, probe::HOLDOUT_SEED)?;
    Ok(keep.into_iter().map(|k| indices[k]).collect())
}

/// The hook probing the target encoder on `sets` (`eval.linear = false`: kNN and RankMe only).
fn probe_hook(cfg: &RunConfig, trainer: &Trainer, sets: EvalSets) -> ProbeHook {
    let mut extract = probe::extract_config(trainer.jepa().target_encoder(), 128);
    // The curves plot the last layer only; last-4 would double the probe's cost.
    extract.last4 = false;
    let epochs = if cfg.eval.linear {
        ProbeConfig::default().epochs
    } else {
        0
    };
    ProbeHook {
        train: sets.train,
        test: sets.test,
        extract,
        eval: EvalConfig {
            probe: ProbeConfig {
                epochs,
                ..ProbeConfig::default()
            },
            knn: KnnConfig::default(),
        },
        label: cfg.method.name().into(),
    }
}

/// Runs the trainer on an opened dataset (quickstart passes a subset), without evaluation.
pub fn train_on(
    cfg: &RunConfig,
    tc: TrainConfig,
    dataset: Arc<dyn Dataset>,
    dir: &Path,
    resume: Option<&Path>,
    show_bar: bool,
) -> CliResult<TrainOutcome> {
    train_with(cfg, tc, dataset, None, dir, resume, show_bar)
}

/// [`train_on`] with the evaluation hook probing on `eval` every `eval.every` steps.
pub fn train_with(
    cfg: &RunConfig,
    tc: TrainConfig,
    dataset: Arc<dyn Dataset>,
    eval: Option<EvalSets>,
    dir: &Path,
    resume: Option<&Path>,
    show_bar: bool,
) -> CliResult<TrainOutcome> {
    std::fs::create_dir_all(dir).map_err(|e| CliError::io(dir, e))?;
    atomic::write_bytes(&dir.join("config.toml"), cfg.to_toml().as_bytes())?;
    let mut trainer = Trainer::with_dataset(tc, dataset)?;
    if let Some(ck) = resume {
        trainer.load_checkpoint(ck)?;
    }
    if let Some(sets) = eval {
        let hook = probe_hook(cfg, &trainer, sets);
        trainer.set_eval_hook(Box::new(hook));
    }
    runtime::on_interrupt(trainer.stop_flag());
    // Without a terminal (logs, CI) a bar would draw nothing: log lines instead.
    let show_bar = show_bar && std::io::stderr().is_terminal();
    let mut bar = BarProgress::new(show_bar, cfg.train.log_every);
    let outcome = trainer.run(&mut bar)?;
    drop(bar);
    crate::report::resources::record(dir);
    Ok(outcome)
}

/// Draws the plots of `dir`, reporting (not failing on) a plotting problem: the run itself
/// succeeded and its checkpoint is what matters.
pub fn draw_plots(dir: &Path) {
    match plot::plot_run(dir) {
        Ok(_) => eprintln!("jepa: plots in {}", dir.join("plots").display()),
        Err(e) => eprintln!("jepa: warning: no plots: {}", e.one_line()),
    }
}

pub fn run(args: &PretrainArgs) -> CliResult<()> {
    let (cfg, dir, resume) = prepare(args)?;
    let outcome = train(&cfg, &dir, resume.as_deref(), !args.no_progress)?;
    if cfg.output.plots {
        draw_plots(&dir);
    }
    let ckpt = outcome
        .checkpoint
        .as_ref()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|| "none".into());
    match outcome.reason {
        StopReason::Completed => {
            eprintln!(
                "jepa: done: {} steps in {:.0} s, last loss {}, checkpoint {ckpt}",
                outcome.steps_done,
                outcome.elapsed_seconds,
                outcome.last_loss.map_or("-".into(), |l| format!("{l:.4}"))
            );
            Ok(())
        }
        StopReason::Interrupted => Err(CliError::Interrupted(format!(
            "interrupted at step {}; checkpoint {ckpt}; continue with `jepa pretrain --out {} --resume`",
            outcome.steps_done,
            dir.display()
        ))),
    }
}
