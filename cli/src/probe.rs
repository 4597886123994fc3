//! `jepa probe`: frozen-feature evaluation of a checkpoint (methods.md §7): linear probe on the
//! last layer and the last 4 layers, weighted kNN, RankMe, and optionally the same architecture
//! untrained (`--random-init`), side by side.

use std::path::Path;
use std::sync::Arc;

use jepa_models::data::{stratified_split, Dataset, EvalTransform, Normalize, Subset};
use jepa_models::eval::{
    evaluate, extract_features, EvalConfig, ExtractConfig, ExtractedFeatures, KnnConfig,
    ProbeReport, LAST_N,
};
use jepa_models::vit::VisionTransformer;

use crate::args::ProbeArgs;
use crate::datasets::{self, Source, Split};
use crate::error::{CliError, CliResult};
use crate::{encoder, runtime};

/// Seed of the random-init baseline (the same for every probe run, so baselines compare).
pub const RANDOM_INIT_SEED: u64 = 0;

/// A labelled set opened for probing, optionally subsampled.
pub struct LabelledSet {
    pub data: Arc<Subset<Arc<Source>>>,
    pub classes: usize,
    pub names: Option<Vec<String>>,
}

/// At most `max` of `indices` (stratified by label; 0 = all).
fn at_most(src: &Source, indices: Vec<usize>, max: usize, seed: u64) -> CliResult<Vec<usize>> {
    if max == 0 || max >= indices.len() {
        return Ok(indices);
    }
    let labels = indices
        .iter()
        .map(|&i| src.label(i))
        .collect::<Result<Vec<_>, _>>()?;
    let (keep, _) = stratified_split(&labels, indices.len() - max, seed)?;
    Ok(keep.into_iter().map(|k| indices[k]).collect())
}

fn labelled(src: &Arc<Source>, idx: Vec<usize>) -> CliResult<LabelledSet> {
    Ok(LabelledSet {
        data: Arc::new(Subset::new(src.clone(), idx)?),
        classes: src.num_classes(),
        names: src.class_names(),
    })
}

/// Opens `path` and keeps at most `max` samples (stratified, 0 = all).
pub fn open_labelled(path: &Path, split: Split, max: usize, seed: u64) -> CliResult<LabelledSet> {
    let src = Arc::new(datasets::open(path, split)?.0);
    let keep = at_most(&src, (0..src.len()).collect(), max, seed)?;
    labelled(&src, keep)
}

/// Seed of the hold-out split shared by `pretrain` and `probe`.
pub const HOLDOUT_SEED: u64 = 0;

/// `(rest, held)`: a stratified hold-out of `holdout` of `src`'s images. `jepa pretrain
/// --holdout N` and `jepa probe --holdout N` use the same seed, so the probe scores on images the
/// encoder never saw.
pub fn holdout_split(
    src: &Source,
    holdout: usize,
    path: &Path,
    seed: u64,
) -> CliResult<(Vec<usize>, Vec<usize>)> {
    let labels = src.labels()?;
    if holdout == 0 || holdout >= labels.len() {
        return Err(CliError::Usage(format!(
            "--holdout {holdout} must be between 1 and the {} images of {}",
            labels.len().saturating_sub(1),
            path.display()
        )));
    }
    Ok(stratified_split(&labels, holdout, seed)?)
}

/// Splits `path` into a training set and a stratified hold-out of `holdout` images, for data
/// without a test split (an ImageFolder archive such as the shared CIFAR-10 one).
pub fn open_with_holdout(
    path: &Path,
    holdout: usize,
    max_train: usize,
    max_test: usize,
    seed: u64,
) -> CliResult<(LabelledSet, LabelledSet)> {
    let src = Arc::new(datasets::open(path, Split::Train)?.0);
    let (rest, held) = holdout_split(&src, holdout, path, seed)?;
    let train = at_most(&src, rest, max_train, seed)?;
    let test = at_most(&src, held, max_test, seed)?;
    Ok((labelled(&src, train)?, labelled(&src, test)?))
}

/// Checks that train and test label the same classes the same way.
pub fn check_same_classes(
    train: &LabelledSet,
    test: &LabelledSet,
    test_path: &Path,
) -> CliResult<usize> {
    if let (Some(a), Some(b)) = (&train.names, &test.names) {
        if a != b {
            return Err(CliError::Usage(format!(
                "{}: classes {:?} differ from the training set's {:?}",
                test_path.display(),
                b,
                a
            )));
        }
    }
    Ok(train.classes.max(test.classes))
}

/// Extraction settings for an encoder: its input size, last-4 when it has 4 blocks.
pub fn extract_config(enc: &VisionTransformer, batch_size: usize) -> ExtractConfig {
    let cfg = enc.config();
    let normalize = if cfg.in_chans == 1 {
        Normalize::imagenet_grey()
    } else {
        Normalize::imagenet()
    };
    ExtractConfig {
        transform: EvalTransform {
            resize: cfg.img_size,
            crop: cfg.img_size,
            channels: cfg.in_chans,
            normalize,
        },
        batch_size,
        workers: rayon::current_num_threads().clamp(1, 4),
        last4: cfg.depth >= LAST_N,
    }
}

/// Extracts train and test features with `enc` and runs every probe.
pub fn probe_encoder(
    label: &str,
    enc: &VisionTransformer,
    train: &LabelledSet,
    test: &LabelledSet,
    classes: usize,
    cfg: &EvalConfig,
    log: &dyn Fn(String),
) -> CliResult<ProbeReport> {
    let xc = extract_config(enc, 128);
    log(format!(
        "{label}: features of {} training images",
        train.data.len()
    ));
    let tr: ExtractedFeatures = extract_features(enc, train.data.clone(), &xc)?;
    log(format!(
        "{label}: features of {} test images",
        test.data.len()
    ));
    let te = extract_features(enc, test.data.clone(), &xc)?;
    log(format!("{label}: linear probe and kNN"));
    Ok(evaluate(label, &tr, &te, classes, cfg)?)
}

/// The probe settings of `jepa probe`: methods.md §7 with the given k and, when given, the
/// learning-rate and weight-decay grids.
pub fn eval_config(k: usize, lrs: &[f64], weight_decays: &[f64]) -> CliResult<EvalConfig> {
    if k == 0 {
        return Err(CliError::Usage("--k must be >= 1".into()));
    }
    if let Some(bad) = lrs.iter().find(|v| !(v.is_finite() && **v > 0.0)) {
        return Err(CliError::Usage(format!(
            "--lrs: {bad} is not a positive learning rate"
        )));
    }
    if let Some(bad) = weight_decays
        .iter()
        .find(|v| !(v.is_finite() && **v >= 0.0))
    {
        return Err(CliError::Usage(format!(
            "--weight-decays: {bad} is not a weight decay >= 0"
        )));
    }
    let mut cfg = EvalConfig {
        knn: KnnConfig {
            k,
            ..KnnConfig::default()
        },
        ..EvalConfig::default()
    };
    if !lrs.is_empty() {
        cfg.probe.lrs = lrs.to_vec();
    }
    if !weight_decays.is_empty() {
        cfg.probe.weight_decays = weight_decays.to_vec();
    }
    Ok(cfg)
}

/// The comparison table of several reports (one row each).
pub fn table(reports: &[ProbeReport]) -> String {
    let w = reports
        .iter()
        .map(|r| r.label.len())
        .max()
        .unwrap_or(5)
        .max(5);
    let mut s = format!(
        "{:w$}  {:>12}  {:>12}  {:>8}  {:>7}\n",
        "model", "linear last", "linear last4", "kNN", "RankMe"
    );
    for r in reports {
        let l4 = r
            .linear_last4
            .as_ref()
            .map(|x| format!("{:.2}%", x.top1))
            .unwrap_or_else(|| "-".into());
        s += &format!(
            "{:w$}  {:>11.2}%  {:>12}  {:>7.2}%  {:>7.2}\n",
            r.label, r.linear_last.top1, l4, r.knn_top1, r.rankme
        );
    }
    s
}

pub fn run(args: &ProbeArgs) -> CliResult<()> {
    runtime::configure_threads(args.compute.threads)?;
    runtime::configure_precision(args.compute.matmul_precision.as_deref())?;
    runtime::compute_device(args.compute.device.as_deref())?;
    jepa_engine::on_pool(|| probe_on_pool(args))
}

/// [`run`] after the set-up, on a worker of the compute pool (see `jepa_engine::on_pool`).
fn probe_on_pool(args: &ProbeArgs) -> CliResult<()> {
    let cfg = eval_config(args.k, &args.lrs, &args.weight_decays)?;
    let which = encoder::Which::parse(&args.encoder)?;
    let loaded = encoder::load(&args.checkpoint, which, args.heads)?;
    let (train, test) = match &args.test {
        Some(test_path) => {
            let train = open_labelled(&args.train, Split::Train, args.max_train, 0)?;
            let test = open_labelled(test_path, Split::Test, args.max_test, 0)?;
            check_same_classes(&train, &test, test_path)?;
            (train, test)
        }
        None => open_with_holdout(
            &args.train,
            args.holdout,
            args.max_train,
            args.max_test,
            HOLDOUT_SEED,
        )?,
    };
    let classes = train.classes.max(test.classes);
    let quiet = args.json || args.no_progress;
    let log = |m: String| {
        if !quiet {
            eprintln!("jepa: {m}");
        }
    };
    let name = args
        .checkpoint
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "checkpoint".into());
    let mut reports = vec![probe_encoder(
        &name,
        &loaded.encoder,
        &train,
        &test,
        classes,
        &cfg,
        &log,
    )?];
    if args.random_init {
        let random = encoder::random_like(loaded.encoder.config(), RANDOM_INIT_SEED)?;
        reports.push(probe_encoder(
            "random-init",
            &random,
            &train,
            &test,
            classes,
            &cfg,
            &log,
        )?);
    }
    if args.json {
        for r in &reports {
            println!("{}", r.to_json_line());
        }
    } else {
        for r in &reports {
            println!("{r}\n");
        }
        print!("{}", table(&reports));
    }
    Ok(())
}
