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

use super::{DataError, Dataset, Transform};
use crate::masks::{MaskBatch, MaskGenerator};
use crate::rng::Rng;

const ORDER_STREAM: u64 = 0x6f72_6472; // "ordr"
const AUGMENT_STREAM: u64 = 0x6175_676d; // "augm"

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
        }
    }
}

/// One batch: `images` is `[B, C, H, W]` row-major.
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
        let mut images = vec![0.0f32; indices.len() * per];
        let (seed, ds, tf) = (self.cfg.seed, &self.dataset, &self.transform);
        let labels = self.pool.install(|| {
            images
                .par_chunks_mut(per)
                .zip(indices.par_iter())
                .map(|(dst, &i)| {
                    let img = ds.image(i)?;
                    let mut rng = Rng::from_seeds(&[seed, AUGMENT_STREAM, epoch as u64, i as u64]);
                    let out = tf.apply(&img, &mut rng)?;
                    if out.len() != dst.len() {
                        return Err(DataError::InvalidConfig(format!(
                            "sample {i}: transform gave {} values, expected {}",
                            out.len(),
                            dst.len()
                        )));
                    }
                    dst.copy_from_slice(&out);
                    ds.label(i)
                })
                .collect::<Result<Vec<usize>, DataError>>()
        })?;
        let step = (epoch * self.per_epoch + b) as u64;
        let masks = match &self.masks {
            Some((gen, run_seed)) => Some(gen.generate(indices.len(), *run_seed, step)?),
            None => None,
        };
        Ok(Batch {
            epoch,
            batch_in_epoch: b,
            step,
            shape: [indices.len(), c, h, w],
            images,
            labels,
            indices,
            masks,
        })
    }
}
