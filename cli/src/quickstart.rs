//! `jepa quickstart`: the README's main job. A short pretrain on a built-in default dataset,
//! then linear-probe and kNN accuracy of the pretrained target encoder beside the same
//! architecture untrained. Default data: the CIFAR-10 training archive of the shared datasets
//! (a validation split held out of it, never seen in pretraining), else Debian's Fashion-MNIST
//! (its test split). Sized (preset `quickstart`) for a few minutes on 2 cores; `--preset NAME`
//! runs another preset at full size with RESULTS.md's protocol (the one-hour contest recipe).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use jepa_models::data::{stratified_split, Dataset, Subset, FASHION_MNIST_DEBIAN_DIR};
use jepa_models::eval::ProbeReport;
use jepa_models::train::{TrainOutcome, CHECKPOINT_FILE};

use crate::args::QuickstartArgs;
use crate::config::{preset_or_err, RunConfig};
use crate::datasets::{self, Source, Split};
use crate::error::{CliError, CliResult};
use crate::plot::eval::PROBE_FILE;
use crate::probe::{
    eval_config, open_labelled, open_with_holdout, probe_encoder, table, LabelledSet, HOLDOUT_SEED,
    RANDOM_INIT_SEED,
};
use crate::{atomic, encoder, pretrain, runtime, train_config};

/// Images the encoder is pretrained on (a stratified subset: a few epochs of the preset's
/// steps, and cheap to hold in memory).
pub const PRETRAIN_IMAGES: usize = 10_000;
/// Labelled images the probes are fitted on (taken from the pretraining subset).
pub const PROBE_TRAIN_IMAGES: usize = 4_000;
/// Held-out images the probes are scored on.
pub const VALIDATION_IMAGES: usize = 1_000;
const SPLIT_SEED: u64 = 0;

const CIFAR_ARCHIVE: &str = "datasets/cifar10-train-jpeg.tar.gz";

/// Where the shared CIFAR-10 archive may be: `$JEPA_SHARED_DIR`, `../shared` of the working
/// directory (the repository root), `../shared` of the source tree.
fn cifar_candidates() -> Vec<PathBuf> {
    let mut v = Vec::new();
    if let Some(d) = std::env::var_os("JEPA_SHARED_DIR") {
        v.push(PathBuf::from(d).join(CIFAR_ARCHIVE));
    }
    v.push(Path::new("..").join("shared").join(CIFAR_ARCHIVE));
    v.push(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../shared")
            .join(CIFAR_ARCHIVE),
    );
    v
}

/// The default dataset, or a one-line error saying how to get one.
pub fn default_data() -> CliResult<PathBuf> {
    if let Some(p) = cifar_candidates().into_iter().find(|p| p.is_file()) {
        return Ok(p);
    }
    let fm = Path::new(FASHION_MNIST_DEBIAN_DIR);
    if fm.join("train-images-idx3-ubyte.gz").is_file() {
        return Ok(fm.to_path_buf());
    }
    Err(CliError::Usage(format!(
        "no default dataset: neither ../shared/{CIFAR_ARCHIVE} nor {FASHION_MNIST_DEBIAN_DIR} \
         exists; install Fashion-MNIST with `apt-get install dataset-fashion-mnist` or pass --data PATH"
    )))
}

/// At most `n` of `indices` (by label, stratified), or all of them.
fn stratified_subset(ds: &Source, indices: Vec<usize>, n: usize) -> CliResult<Vec<usize>> {
    if indices.len() <= n {
        return Ok(indices);
    }
    let labels = indices
        .iter()
        .map(|&i| ds.label(i))
        .collect::<Result<Vec<_>, _>>()?;
    let (keep, _) = stratified_split(&labels, indices.len() - n, SPLIT_SEED)?;
    Ok(keep.into_iter().map(|k| indices[k]).collect())
}

fn subset(src: &Arc<Source>, idx: Vec<usize>) -> CliResult<Arc<Subset<Arc<Source>>>> {
    Ok(Arc::new(Subset::new(src.clone(), idx)?))
}

/// The three sets: pretraining, probe-train (within pretraining), validation.
pub struct Splits {
    pub pretrain: Arc<Subset<Arc<Source>>>,
    pub probe_train: LabelledSet,
    pub validation: LabelledSet,
}

/// Splits `path`: its test split is the validation set when the format has one (CIFAR binary,
/// idx), otherwise a stratified hold-out of the training images.
pub fn make_splits(path: &Path) -> CliResult<Splits> {
    let (train, desc) = datasets::open(path, Split::Train)?;
    let names = train.class_names();
    let classes = train.num_classes();
    let train = Arc::new(train);
    let all: Vec<usize> = (0..train.len()).collect();
    let (rest, validation) = if matches!(desc.kind, "cifar" | "idx") {
        let (test, _) = datasets::open(path, Split::Test)?;
        let test = Arc::new(test);
        let val = stratified_subset(&test, (0..test.len()).collect(), VALIDATION_IMAGES)?;
        (
            all,
            LabelledSet {
                data: subset(&test, val)?,
                classes,
                names: None,
            },
        )
    } else {
        let labels = train.labels()?;
        let hold = VALIDATION_IMAGES.min(train.len() / 5).max(1);
        let (rest, val) = stratified_split(&labels, hold, SPLIT_SEED)?;
        (
            rest,
            LabelledSet {
                data: subset(&train, val)?,
                classes,
                names: names.clone(),
            },
        )
    };
    let pre = stratified_subset(&train, rest, PRETRAIN_IMAGES)?;
    let probe = stratified_subset(&train, pre.clone(), PROBE_TRAIN_IMAGES)?;
    Ok(Splits {
        pretrain: subset(&train, pre)?,
        probe_train: LabelledSet {
            data: subset(&train, probe)?,
            classes,
            names,
        },
        validation,
    })
}

/// Probe-training images and held-out images of a full-size run (`--preset` other than
/// `quickstart`): the protocol of RESULTS.md §3 (`jepa pretrain --holdout 10000`, then
/// `jepa probe --holdout 10000 --max-train 10000`).
pub const FULL_PROBE_TRAIN_IMAGES: usize = 10_000;
pub const FULL_HOLDOUT_IMAGES: usize = 10_000;

pub fn run(args: &QuickstartArgs) -> CliResult<()> {
    runtime::configure_threads(args.compute.threads)?;
    runtime::configure_precision(args.compute.matmul_precision.as_deref())?;
    runtime::compute_device(args.compute.device.as_deref())?;
    jepa_engine::on_pool(|| quickstart_on_pool(args))
}

/// [`run`] after the set-up, on a worker of the compute pool (see `jepa_engine::on_pool`);
/// pretraining itself runs on the trainer's own pool.
fn quickstart_on_pool(args: &QuickstartArgs) -> CliResult<()> {
    let data = match &args.data {
        Some(p) => p.clone(),
        None => default_data()?,
    };
    let mut cfg = preset_or_err(&args.preset)?;
    if let Some(s) = args.steps {
        (cfg.train.steps, cfg.train.epochs) = (s, 0);
    }
    cfg.data.path = Some(data.clone());
    cfg.output.dir = Some(args.out.clone());
    if args.preset != "quickstart" {
        return run_full(args, cfg, &data);
    }
    crate::config::validate(&cfg)?;
    eprintln!("jepa: quickstart on {}", data.display());
    let splits = make_splits(&data)?;
    eprintln!(
        "jepa: pretraining on {} images, probing on {} + {} held-out images",
        splits.pretrain.len(),
        splits.probe_train.data.len(),
        splits.validation.data.len()
    );
    let dir = args.out.clone();
    let tc = train_config::train_config(&cfg, train_config::data_source(&data)?, &dir)?;
    let resume = resume_point(&dir);
    let outcome = pretrain::train_on(
        &cfg,
        tc,
        splits.pretrain.clone(),
        &dir,
        resume.as_deref(),
        !args.no_progress,
    )?;
    report(
        &cfg,
        outcome,
        &dir,
        &data,
        &splits.probe_train,
        &splits.validation,
    )
}

/// A preset at full size: `jepa pretrain --preset P --holdout 10000` (data with its own test
/// split trains on all of its training split), then the probes of RESULTS.md §3.
fn run_full(args: &QuickstartArgs, mut cfg: RunConfig, data: &Path) -> CliResult<()> {
    // `pretrain::train` configures the pool and the precision from the config: carry the flags.
    cfg.threads = args.compute.threads.unwrap_or(0);
    if let Some(level) = &args.compute.matmul_precision {
        cfg.matmul_precision = level.clone();
    }
    let has_test = matches!(datasets::kind_of(data)?, "cifar" | "idx");
    if !has_test && cfg.data.holdout == 0 {
        // A small ImageFolder keeps a fifth for validation, as the short quickstart does.
        let images = datasets::open(data, Split::Train)?.0.len();
        cfg.data.holdout = FULL_HOLDOUT_IMAGES.min(images / 5).max(1);
    }
    crate::config::validate(&cfg)?;
    eprintln!(
        "jepa: quickstart --preset {} on {}",
        args.preset,
        data.display()
    );
    let dir = args.out.clone();
    let resume = resume_point(&dir);
    let outcome = pretrain::train(&cfg, &dir, resume.as_deref(), !args.no_progress)?;
    // The probes run at the command's precision (default f32), as `jepa probe` does: the
    // preset's bf16 products are a training setting, and random-init features (std ≈ 0.1,
    // RankMe ≈ 3) move their kNN score by about a point under bf16.
    runtime::configure_precision(args.compute.matmul_precision.as_deref())?;
    let (train, test) = if has_test {
        let train = open_labelled(data, Split::Train, FULL_PROBE_TRAIN_IMAGES, 0)?;
        (train, open_labelled(data, Split::Test, 0, 0)?)
    } else {
        open_with_holdout(
            data,
            cfg.data.holdout,
            FULL_PROBE_TRAIN_IMAGES,
            0,
            HOLDOUT_SEED,
        )?
    };
    report(&cfg, outcome, &dir, data, &train, &test)
}

/// The run's checkpoint when one is there: quickstart continues an interrupted run.
fn resume_point(dir: &Path) -> Option<PathBuf> {
    let ckpt = dir.join(CHECKPOINT_FILE);
    ckpt.is_file().then(|| {
        eprintln!(
            "jepa: continuing the run in {} (delete it to start over)",
            dir.display()
        );
        ckpt
    })
}

/// Probes the pretrained target encoder and the same architecture at random init on the same
/// sets, and prints the table.
fn report(
    cfg: &RunConfig,
    outcome: TrainOutcome,
    dir: &Path,
    data: &Path,
    tr: &LabelledSet,
    va: &LabelledSet,
) -> CliResult<()> {
    if outcome.reason == jepa_models::train::StopReason::Interrupted {
        return Err(CliError::Interrupted(format!(
            "interrupted at step {}; run the same `jepa quickstart` again to continue",
            outcome.steps_done
        )));
    }
    pretrain::draw_plots(dir);
    let ckpt = dir.join(CHECKPOINT_FILE);
    let loaded = encoder::load(&ckpt, encoder::Which::Target, None)?;
    let random = encoder::random_like(loaded.encoder.config(), RANDOM_INIT_SEED)?;
    let log = |m: String| eprintln!("jepa: {m}");
    let classes = tr.classes.max(va.classes);
    let label = format!("{} {} steps", cfg.method.name(), outcome.steps_done);
    let probe_cfg = eval_config(20, &[], &[])?;
    let reports: Vec<ProbeReport> = vec![
        probe_encoder(&label, &loaded.encoder, tr, va, classes, &probe_cfg, &log)?,
        probe_encoder("random-init", &random, tr, va, classes, &probe_cfg, &log)?,
    ];
    println!(
        "\nquickstart: {} on {} (probe: {} training / {} held-out images)",
        label,
        data.display(),
        tr.data.len(),
        va.data.len()
    );
    print!("{}", table(&reports));
    println!("chance: {:.2}%", 100.0 / classes.max(1) as f64);
    let lines: String = reports.iter().map(|r| r.to_json_line() + "\n").collect();
    atomic::write_bytes(&dir.join(PROBE_FILE), lines.as_bytes())?;
    let page = crate::report::write_report(dir, None)?;
    println!("report: {}", page.display());
    println!(
        "run directory: {} (metrics, checkpoint, plots); next: jepa probe --checkpoint {} --train DIR --test DIR --random-init",
        dir.display(),
        ckpt.display()
    );
    Ok(())
}
