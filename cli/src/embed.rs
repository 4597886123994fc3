//! `jepa embed`: images (files or directories, any size) → resize + centre crop to the model's
//! input → encoder → average-pooled `[N, D]` or per-patch `[N, P, D]` features, written to
//! `.npy` or `.safetensors` under a temporary name and renamed when complete.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use jepa_engine::{no_grad, Device, Tensor};
use jepa_models::data::{decode_image, EvalTransform, Normalize, Transform};
use jepa_models::rng::Rng;
use jepa_models::vit::{VisionTransformer, VitConfig};
use rayon::prelude::*;

use crate::args::EmbedArgs;
use crate::error::{CliError, CliResult};
use crate::{atomic, encoder, npy, progress, runtime};

/// Output container, chosen by the file extension.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutFormat {
    Npy,
    Safetensors,
}

impl OutFormat {
    pub fn from_path(path: &Path) -> CliResult<Self> {
        match path
            .extension()
            .map(|e| e.to_string_lossy().to_ascii_lowercase())
        {
            Some(e) if e == "npy" => Ok(Self::Npy),
            Some(e) if e == "safetensors" => Ok(Self::Safetensors),
            _ => Err(CliError::Usage(format!(
                "{}: output must end in .npy or .safetensors",
                path.display()
            ))),
        }
    }
}

/// Fails early (before any work) when the output's directory does not exist.
pub fn check_output_dir(path: &Path) -> CliResult<()> {
    match path.parent() {
        Some(d) if !d.as_os_str().is_empty() && !d.is_dir() => Err(CliError::Usage(format!(
            "{}: directory {} does not exist",
            path.display(),
            d.display()
        ))),
        _ => Ok(()),
    }
}

fn is_image_name(p: &Path) -> bool {
    p.extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
        .is_some_and(|e| matches!(e.as_str(), "jpg" | "jpeg" | "png"))
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> CliResult<()> {
    let rd = std::fs::read_dir(dir).map_err(|e| CliError::io(dir, e))?;
    let mut entries: Vec<PathBuf> = rd
        .map(|e| e.map(|e| e.path()).map_err(|e| CliError::io(dir, e)))
        .collect::<CliResult<_>>()?;
    entries.sort();
    for p in entries {
        let hidden = p
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with('.'));
        if hidden {
            continue;
        }
        if p.is_dir() {
            walk(&p, out)?;
        } else if is_image_name(&p) {
            out.push(p);
        }
    }
    Ok(())
}

/// Image files named directly, plus every .jpg/.jpeg/.png under the named directories (sorted,
/// hidden entries skipped). A path that does not exist or a directory without images is an error.
pub fn collect_images(paths: &[PathBuf]) -> CliResult<Vec<PathBuf>> {
    let mut files = Vec::new();
    for p in paths {
        let meta = std::fs::metadata(p).map_err(|e| CliError::io(p, e))?;
        if meta.is_dir() {
            let before = files.len();
            walk(p, &mut files)?;
            if files.len() == before {
                return Err(CliError::Data(jepa_models::data::DataError::Empty {
                    origin: format!("{} (no .jpg/.jpeg/.png files)", p.display()),
                }));
            }
        } else {
            files.push(p.clone());
        }
    }
    Ok(files)
}

/// The evaluation transform for an encoder: shorter side to the input size, centre crop.
pub fn eval_transform(cfg: &VitConfig) -> Transform {
    let normalize = if cfg.in_chans == 1 {
        Normalize::imagenet_grey()
    } else {
        Normalize::imagenet()
    };
    Transform::Eval(EvalTransform {
        resize: cfg.img_size,
        crop: cfg.img_size,
        channels: cfg.in_chans,
        normalize,
    })
}

/// Decodes and transforms `files` in parallel into one `[B, C, S, S]` tensor.
fn load_batch(files: &[PathBuf], transform: &Transform, cfg: &VitConfig) -> CliResult<Tensor> {
    let per = cfg.in_chans * cfg.img_size * cfg.img_size;
    let parts: Vec<Vec<f32>> = files
        .par_iter()
        .map(|p| {
            let bytes = std::fs::read(p).map_err(|e| CliError::io(p, e))?;
            let at = |e: jepa_models::data::DataError| {
                CliError::Other(format!(
                    "{}: {}",
                    p.display(),
                    e.to_string().trim_start_matches("<bytes>: ")
                ))
            };
            let img = decode_image(&bytes).map_err(at)?;
            transform.apply(&img, &mut Rng::new(0)).map_err(at)
        })
        .collect::<CliResult<_>>()?;
    let mut data = Vec::with_capacity(files.len() * per);
    parts.iter().for_each(|p| data.extend_from_slice(p));
    let shape = [files.len(), cfg.in_chans, cfg.img_size, cfg.img_size];
    Ok(Tensor::from_vec(data, shape, Device::Cpu)?)
}

/// Features of `files`: `[N, D]` pooled or `[N, P, D]` per patch, row-major.
pub fn embed_files(
    enc: &VisionTransformer,
    files: &[PathBuf],
    batch_size: usize,
    per_patch: bool,
    show_progress: bool,
) -> CliResult<(Vec<usize>, Vec<f32>)> {
    let cfg = enc.config().clone();
    let transform = eval_transform(&cfg);
    let pb = progress::bar(files.len() as u64, "img", show_progress);
    pb.set_message("embed");
    let _guard = no_grad();
    // Ctrl-C stops between batches; nothing is written (the output only ever appears whole).
    let stop = Arc::new(AtomicBool::new(false));
    runtime::on_interrupt(stop.clone());
    let mut out = Vec::new();
    for (i, chunk) in files.chunks(batch_size.max(1)).enumerate() {
        if stop.load(Ordering::SeqCst) {
            pb.finish_and_clear();
            return Err(CliError::Interrupted(format!(
                "interrupted after {} of {} images; nothing written",
                i * batch_size.max(1),
                files.len()
            )));
        }
        let x = load_batch(chunk, &transform, &cfg)?;
        let tokens = enc.forward(&x)?;
        let t = if per_patch {
            tokens
        } else {
            tokens.mean_dims(&[1], false)?
        };
        let values = t.to_vec_f32()?;
        if let Some(i) = values.iter().position(|v| !v.is_finite()) {
            let row = i / (values.len() / chunk.len()).max(1);
            return Err(CliError::NonFinite(format!(
                "{}: the encoder produced a non-finite feature",
                chunk[row.min(chunk.len() - 1)].display()
            )));
        }
        out.extend_from_slice(&values);
        pb.inc(chunk.len() as u64);
    }
    pb.finish_and_clear();
    let shape = if per_patch {
        vec![files.len(), cfg.num_patches(), cfg.dim]
    } else {
        vec![files.len(), cfg.dim]
    };
    Ok((shape, out))
}

fn write_output(
    args: &EmbedArgs,
    files: &[PathBuf],
    shape: &[usize],
    data: Vec<f32>,
    prefix: &str,
) -> CliResult<()> {
    let paths: Vec<String> = files.iter().map(|p| p.display().to_string()).collect();
    match OutFormat::from_path(&args.out)? {
        OutFormat::Npy => {
            npy::write_npy(&args.out, shape, &data)?;
            let list = args.out.with_extension("paths.txt");
            if let Err(e) = atomic::write_bytes(&list, (paths.join("\n") + "\n").as_bytes()) {
                let _ = std::fs::remove_file(&args.out);
                return Err(e);
            }
        }
        OutFormat::Safetensors => {
            let t = Tensor::from_vec(data, shape.to_vec(), Device::Cpu)?;
            let meta = HashMap::from([
                (
                    "paths".to_string(),
                    serde_json::to_string(&paths).unwrap_or_default(),
                ),
                (
                    "checkpoint".to_string(),
                    args.checkpoint.display().to_string(),
                ),
                (
                    "encoder".to_string(),
                    prefix.trim_end_matches('.').to_string(),
                ),
                (
                    "pooling".to_string(),
                    if args.per_patch { "none" } else { "mean" }.to_string(),
                ),
            ]);
            jepa_engine::io::save([("embeddings", &t)], Some(meta), &args.out)?;
        }
    }
    Ok(())
}

pub fn run(args: &EmbedArgs) -> CliResult<()> {
    OutFormat::from_path(&args.out)?;
    check_output_dir(&args.out)?;
    if args.batch_size == 0 {
        return Err(CliError::Usage("--batch-size must be >= 1".into()));
    }
    runtime::configure_threads(args.compute.threads)?;
    runtime::configure_precision(args.compute.matmul_precision.as_deref())?;
    runtime::compute_device(args.compute.device.as_deref())?;
    jepa_engine::on_pool(|| embed_on_pool(args))
}

/// [`run`] after the set-up, on a worker of the compute pool: one hand-off for the whole job
/// instead of one per parallel op (see `jepa_engine::on_pool`).
fn embed_on_pool(args: &EmbedArgs) -> CliResult<()> {
    let which = encoder::Which::parse(&args.encoder)?;
    let files = collect_images(&args.images)?;
    let loaded = encoder::load(&args.checkpoint, which, args.heads)?;
    let (shape, data) = embed_files(
        &loaded.encoder,
        &files,
        args.batch_size,
        args.per_patch,
        !args.no_progress,
    )?;
    write_output(args, &files, &shape, data, &loaded.prefix)?;
    eprintln!(
        "jepa: wrote {} ({}) from {} image(s)",
        args.out.display(),
        shape
            .iter()
            .map(usize::to_string)
            .collect::<Vec<_>>()
            .join(" x "),
        files.len()
    );
    Ok(())
}
