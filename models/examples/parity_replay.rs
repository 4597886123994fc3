//! The replay experiment of RESULTS.md §1 (issue 6 parity): the same batches through `jepa` and
//! through the PyTorch reference (`experiments/ref_replay.py`), from the same or from different
//! initial weights.
//!
//!     cargo run --release -p jepa-models --example parity_replay -- dump FILE [STEPS]
//!     cargo run --release -p jepa-models --example parity_replay -- replay FILE STEPS \
//!         (--seed N | --init ENCODER.safetensors PREDICTOR.safetensors)
//!
//! `dump` writes the first STEPS (default 250) batches of the parity run (seed 0: its 40,000
//! training images, crops and masks) as raw records: images f32 `[128, 3, 32, 32]`, then a u32
//! count and u32s `K_c, K_t, masks_enc [128·K_c], masks_pred 0..3 [128·K_t]`. `replay` trains
//! I-JEPA ViT-Tiny/4 with the parity schedules on them and prints the loss every 10 steps, from
//! `jepa`'s own init (`--seed`) or from weights with official names (e.g. the
//! `step_encoder` / `step_predictor` files of `experiments/make_step_case.py`).

use jepa_engine::io::SafetensorsFile;
use jepa_engine::{DType, Device, RowIndex, Tensor};
use jepa_models::data::{
    stratified_split, Dataset, ImageArchive, Loader, LoaderConfig, Subset, TrainTransform,
    Transform,
};
use jepa_models::jepa::{tiny_step_config, Batch, Jepa};
use jepa_models::masks::{MaskConfig, MaskGenerator};
use jepa_models::train::ScheduleConfig;
use jepa_models::vit::{VisionTransformer, VisionTransformerPredictor};
use std::io::{Read, Write};
use std::sync::Arc;

const B: usize = 128;
const ARCHIVE: &str = "../shared/datasets/cifar10-train-jpeg.tar.gz";
type Res<T> = Result<T, Box<dyn std::error::Error>>;

fn dump(path: &str, steps: usize) -> Res<()> {
    let ds = ImageArchive::open(std::path::Path::new(ARCHIVE))?;
    let (rest, _) = stratified_split(&ds.labels()?, 10_000, 0)?;
    let mut masks = MaskConfig::official(8, 8);
    masks.min_keep = 4;
    let loader = Loader::new(
        Arc::new(Subset::new(ds, rest)?),
        Transform::Train(TrainTransform::ijepa(32)),
        LoaderConfig::new(B, 0),
        Some((MaskGenerator::new(masks)?, 0)),
    )?;
    let mut f = std::io::BufWriter::new(std::fs::File::create(path)?);
    for batch in loader.take(steps) {
        let batch = batch?;
        let m = batch.masks.as_ref().ok_or("no masks")?;
        f.write_all(bytemuck::cast_slice(&batch.images))?;
        let mut rec = vec![m.enc[0].k() as u32, m.pred[0].k() as u32];
        for ib in m.enc.iter().take(1).chain(&m.pred) {
            rec.extend(ib.as_flat().iter().map(|&x| x as u32));
        }
        f.write_all(&(rec.len() as u32).to_le_bytes())?;
        f.write_all(bytemuck::cast_slice(&rec))?;
    }
    Ok(())
}

fn rows(v: &[u32], k: usize) -> Res<RowIndex> {
    let t = Tensor::from_vec(
        v.iter().map(|&x| x as f32).collect(),
        vec![B, k],
        Device::Cpu,
    )?;
    Ok(RowIndex::from_tensor(&t.to_dtype(DType::I64)?)?)
}

fn model(args: &[String]) -> Res<Jepa> {
    let mut cfg = tiny_step_config();
    // The parity run's schedules: 780 steps, 312 batches per epoch, 0.3 warm-up epochs.
    cfg.optim = ScheduleConfig {
        warmup_epochs: 0.3,
        ..ScheduleConfig::default()
    }
    .optim(780, 312);
    match args.first().map(String::as_str) {
        Some("--seed") => {
            cfg.seed = args.get(1).ok_or("--seed N")?.parse()?;
            Ok(Jepa::new(cfg)?)
        }
        Some("--init") => {
            let load = |i: usize| -> Res<_> {
                Ok(SafetensorsFile::open(args.get(i).ok_or("--init ENC PRED")?)?.load_all()?)
            };
            let enc = VisionTransformer::new(cfg.encoder.clone(), Vec::new(), 0, true)?;
            enc.load_map(&load(1)?, "", "encoder")?;
            let pred = VisionTransformerPredictor::new(cfg.predictor.clone(), 1)?;
            pred.load_map(&load(2)?, "", "predictor")?;
            Ok(Jepa::from_parts(cfg, enc, pred)?)
        }
        _ => Err("replay needs --seed N or --init ENC PRED".into()),
    }
}

fn replay(path: &str, steps: usize, init: &[String]) -> Res<()> {
    let mut jepa = model(init)?;
    let mut f = std::io::BufReader::new(std::fs::File::open(path)?);
    for step in 0..steps {
        let mut img = vec![0f32; B * 3 * 32 * 32];
        f.read_exact(bytemuck::cast_slice_mut(&mut img))?;
        let mut n = [0u8; 4];
        f.read_exact(&mut n)?;
        let mut rec = vec![0u32; u32::from_le_bytes(n) as usize];
        f.read_exact(bytemuck::cast_slice_mut(&mut rec))?;
        let (kc, kt) = (rec[0] as usize, rec[1] as usize);
        let me = vec![rows(&rec[2..2 + B * kc], kc)?];
        let off = 2 + B * kc;
        let mp = (0..4)
            .map(|j| rows(&rec[off + j * B * kt..off + (j + 1) * B * kt], kt))
            .collect::<Res<Vec<_>>>()?;
        let imgs = Tensor::from_vec(img, vec![B, 3, 32, 32], Device::Cpu)?;
        let batch = Batch {
            imgs: &imgs,
            masks_enc: &me,
            masks_pred: &mp,
        };
        let loss = jepa.train_step(batch)?.loss;
        if (step + 1) % 10 == 0 {
            println!("{} {loss:.4}", step + 1);
        }
    }
    Ok(())
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let steps = |i: usize| args.get(i).map_or(Ok(250), |s| s.parse::<usize>());
    let result = match (args.first().map(String::as_str), args.get(1)) {
        (Some("dump"), Some(path)) => steps(2).map_err(Into::into).and_then(|n| dump(path, n)),
        (Some("replay"), Some(path)) => steps(2)
            .map_err(Into::into)
            .and_then(|n| replay(path, n, &args[3.min(args.len())..])),
        _ => Err(
            "usage: parity_replay dump FILE [STEPS] | replay FILE STEPS --seed N|--init ENC PRED"
                .into(),
        ),
    };
    if let Err(e) = result {
        eprintln!("parity_replay: {e}");
        std::process::exit(1);
    }
}
