//! A batch loader that decodes and transforms in parallel ahead of the training step.
//!
//! A background thread assembles batches on its own rayon pool (so decoding does not compete
//! with the engine's global pool for workers it expects to own) and hands them over a bounded
//! channel. Every random draw is a pure function of `(seed, epoch, sample)`, so the batches are
//! identical whatever the thread count and a resumed run replays them from `(epoch, batch)`.

use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::Arc;
use std::thread::JoinHandle;

use rayon::prelude::*;

use super::{DataError, Dataset, ImageU8, Transform};
use crate::masks::{MaskBatch, MaskGenerator};
use crate::rng::Rng;

const ORDER_STREAM: u64 = 0x6f72_6472; // "ordr"
const AUGMENT_STREAM: u64 = 0x6175_676d; // "augm"
/// Tag of the second view's streams: appended to the augmentation seeds, and the masks of view 2
/// come from `(run_seed, step, VIEW2_STREAM)` instead of the generator's own stream.
const VIEW2_STREAM: u64 = 0x76_6965_7732; // "view2"

/// Loader settings.
#[derive(Clone, Debug, PartialEq)]
pub struct LoaderConfig {
    pub batch_size: usize,
    /// Reshuffle the sample order every epoch.
    pub shuffle: bool,
    /// Drop the last incomplete batch of an epoch (the official setting).
    pub drop_last: bool,
    pub seed: u64,
    /// Decoding threads.
    pub workers: usize,
    /// Batches prepared ahead of the consumer (channel bound).
    pub prefetch: usize,
    /// Epoch and batch within it to start at (resume).
    pub start_epoch: usize,
    pub start_batch: usize,
    /// Stop before this epoch index; `None` runs until the loader is dropped.
    pub end_epoch: Option<usize>,
    /// Augmented views per image: 1, or 2 for two-view methods (C-JEPA variant A).
    pub views: usize,
}

impl LoaderConfig {
    /// Shuffled, `drop_last`, 2 workers, 2 batches ahead, one epoch from the start.
    pub fn new(batch_size: usize, seed: u64) -> Self {
        Self {
            batch_size,
            shuffle: true,
            drop_last: true,
            seed,
            workers: 2,
            prefetch: 2,
            start_epoch: 0,
            start_batch: 0,
            end_epoch: Some(1),
            views: 1,
        }
    }
}

/// One batch: `images` is `[B, C, H, W]` row-major. With two views, `images2` / `masks2` hold
/// the second augmentation of the same samples and its own masks; view 1 is exactly what a
/// one-view loader gives.
#[derive(Clone, Debug, PartialEq)]
pub struct Batch {
    pub epoch: usize,
    pub batch_in_epoch: usize,
    /// Global step, `epoch · batches_per_epoch + batch_in_epoch`: the mask generator's step.
    pub step: u64,
    pub shape: [usize; 4],
    pub images: Vec<f32>,
    pub labels: Vec<usize>,
    /// Dataset indices of the samples.
    pub indices: Vec<usize>,
    /// Masks for this step, when the loader was given a generator.
    pub masks: Option<MaskBatch>,
    /// The second view `[B, C, H, W]` (`views == 2` only).
    pub images2: Option<Vec<f32>>,
    /// Independent masks of the second view (`views == 2` and a generator only).
    pub masks2: Option<MaskBatch>,
}

/// Iterator over batches; ends after `end_epoch` or at the first error (yielded once).
pub struct Loader {
    rx: Option<Receiver<Result<Batch, DataError>>>,
    worker: Option<JoinHandle<()>>,
    batches_per_epoch: usize,
    failed: bool,
}

/// Batches per epoch for `len` samples.
pub fn batches_per_epoch(len: usize, batch_size: usize, drop_last: bool) -> usize {
    if batch_size == 0 {
        0
    } else if drop_last {
        len / batch_size
    } else {
        len.div_ceil(batch_size)
    }
}

struct Producer<D> {
    dataset: Arc<D>,
    transform: Transform,
    cfg: LoaderConfig,
    masks: Option<(MaskGenerator, u64)>,
    pool: rayon::ThreadPool,
    per_epoch: usize,
}

impl Loader {
    /// Starts the background thread. `masks` = `(generator, run_seed)` attaches the masks of each
    /// batch's step.
    pub fn new<D: Dataset + 'static>(
        dataset: Arc<D>,
        transform: Transform,
        cfg: LoaderConfig,
        masks: Option<(MaskGenerator, u64)>,
    ) -> Result<Self, DataError> {
        transform.validate()?;
        let bad = |m: String| Err(DataError::InvalidConfig(m));
        if cfg.batch_size == 0 || cfg.workers == 0 || cfg.prefetch == 0 {
            return bad(format!(
                "loader needs batch_size, workers, prefetch >= 1: {cfg:?}"
            ));
        }
        if !matches!(cfg.views, 1 | 2) {
            return bad(format!("views {}, expected 1 or 2", cfg.views));
        }
        let per_epoch = batches_per_epoch(dataset.len(), cfg.batch_size, cfg.drop_last);
        if per_epoch == 0 {
            return bad(format!(
                "{} samples make no batch of {} (drop_last {})",
                dataset.len(),
                cfg.batch_size,
                cfg.drop_last
            ));
        }
        if cfg.start_batch >= per_epoch {
            return bad(format!(
                "start_batch {} >= {per_epoch} batches per epoch",
                cfg.start_batch
            ));
        }
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(cfg.workers)
            .thread_name(|i| format!("jepa-decode-{i}"))
            .build()
            .map_err(|e| DataError::InvalidConfig(format!("decode pool: {e}")))?;
        let (tx, rx) = sync_channel(cfg.prefetch);
        let producer = Producer {
            dataset,
            transform,
            cfg,
            masks,
            pool,
            per_epoch,
        };
        let worker = std::thread::Builder::new()
            .name("jepa-loader".into())
            .spawn(move || producer.run(&tx))
            .map_err(|e| DataError::InvalidConfig(format!("cannot start loader thread: {e}")))?;
        Ok(Self {
            rx: Some(rx),
            worker: Some(worker),
            batches_per_epoch: per_epoch,
            failed: false,
        })
    }

    pub fn batches_per_epoch(&self) -> usize {
        self.batches_per_epoch
    }
}

impl Iterator for Loader {
    type Item = Result<Batch, DataError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        let item = self.rx.as_ref()?.recv().ok()?;
        self.failed = item.is_err();
        Some(item)
    }
}

impl Drop for Loader {
    fn drop(&mut self) {
        // Closing the channel makes the producer's next send fail, which ends its loop; it
        // finishes at most the batch in progress.
        self.rx.take();
        if let Some(w) = self.worker.take() {
            let _ = w.join();
        }
    }
}

impl<D: Dataset> Producer<D> {
    fn run(self, tx: &SyncSender<Result<Batch, DataError>>) {
        let mut epoch = self.cfg.start_epoch;
        let mut first = self.cfg.start_batch;
        while self.cfg.end_epoch.is_none_or(|end| epoch < end) {
            let order = self.epoch_order(epoch);
            for b in first..self.per_epoch {
                let end = ((b + 1) * self.cfg.batch_size).min(order.len());
                let indices = order[b * self.cfg.batch_size..end].to_vec();
                let result = self.build(epoch, b, indices);
                let stop = result.is_err();
                if tx.send(result).is_err() || stop {
                    return;
                }
            }
            first = 0;
            epoch += 1;
        }
    }

    fn epoch_order(&self, epoch: usize) -> Vec<usize> {
        let mut order: Vec<usize> = (0..self.dataset.len()).collect();
        if self.cfg.shuffle {
            Rng::from_seeds(&[self.cfg.seed, ORDER_STREAM, epoch as u64]).shuffle(&mut order);
        }
        order
    }

    fn build(&self, epoch: usize, b: usize, indices: Vec<usize>) -> Result<Batch, DataError> {
        let [c, h, w] = self.transform.output_shape();
        let per = c * h * w;
        let n = indices.len();
        let mut images = vec![0.0f32; n * per];
        let mut images2 = (self.cfg.views == 2).then(|| vec![0.0f32; n * per]);
        // One optional destination per sample, so both views share one parallel pass (and one
        // decode of each image).
        let mut dst2: Vec<Option<&mut [f32]>> = match images2.as_mut() {
            Some(v) => v.chunks_mut(per).map(Some).collect(),
            None => (0..n).map(|_| None).collect(),
        };
        let (seed, ds, tf) = (self.cfg.seed, &self.dataset, &self.transform);
        let labels = self.pool.install(|| {
            images
                .par_chunks_mut(per)
                .zip(dst2.par_iter_mut())
                .zip(indices.par_iter())
                .map(|((dst, dst2), &i)| {
                    let img = ds.image(i)?;
                    let stream = [seed, AUGMENT_STREAM, epoch as u64, i as u64, VIEW2_STREAM];
                    transform_into(tf, &img, &mut Rng::from_seeds(&stream[..4]), dst, i)?;
                    if let Some(dst2) = dst2 {
                        transform_into(tf, &img, &mut Rng::from_seeds(&stream), dst2, i)?;
                    }
                    ds.label(i)
                })
                .collect::<Result<Vec<usize>, DataError>>()
        })?;
        drop(dst2);
        let step = (epoch * self.per_epoch + b) as u64;
        let (masks, masks2) = match &self.masks {
            Some((gen, run_seed)) => {
                let m1 = gen.generate(n, *run_seed, step)?;
                let m2 = if self.cfg.views == 2 {
                    let mut rng = Rng::from_seeds(&[*run_seed, step, VIEW2_STREAM]);
                    Some(gen.generate_with(n, &mut rng)?)
                } else {
                    None
                };
                (Some(m1), m2)
            }
            None => (None, None),
        };
        Ok(Batch {
            epoch,
            batch_in_epoch: b,
            step,
            shape: [n, c, h, w],
            images,
            labels,
            indices,
            masks,
            images2,
            masks2,
        })
    }
}

/// Transforms sample `i` into its slot of the batch.
fn transform_into(
    tf: &Transform,
    img: &ImageU8,
    rng: &mut Rng,
    dst: &mut [f32],
    i: usize,
) -> Result<(), DataError> {
    let out = tf.apply(img, rng)?;
    if out.len() != dst.len() {
        return Err(DataError::InvalidConfig(format!(
            "sample {i}: transform gave {} values, expected {}",
            out.len(),
            dst.len()
        )));
    }
    dst.copy_from_slice(&out);
    Ok(())
}
