//! The linear-probe trainer on plain slices: the algorithm of [`super::train_linear_ref`]
//! (same shuffling stream, zero init, cross-entropy gradient, AdamW with decay on weight and
//! bias, per-step cosine schedule) with every buffer allocated once before the loop.
//!
//! The model is only `classes × D`, so the tape path spends much of each step building
//! tensors, graph nodes and gradient maps. Here a batch is gathered into a reused buffer and
//! the two products go through the same kernels GEMM with the same strides as the engine's
//! `linear` and its backward, so the result matches the tape path bit for bit in practice.

use jepa_kernels::cpu::adamw::adamw_step;
use jepa_kernels::cpu::gemm::{gemm, Strides};

use super::probe::{check_train_args, cosine_lr, probe_adamw, probe_order_rng};
use super::{EvalError, FeatureMatrix, LinearClassifier, ProbeConfig};

/// Trains a linear classifier on (already standardised) `x` from zero weights: AdamW with
/// β (0.9, 0.999), ε 1e-8, per-step cosine decay of `lr` to 0 over `cfg.epochs` epochs of
/// shuffled batches of `cfg.batch_size` (the last batch of an epoch may be smaller).
pub fn train_linear(
    x: &FeatureMatrix,
    labels: &[usize],
    classes: usize,
    lr: f64,
    weight_decay: f64,
    cfg: &ProbeConfig,
) -> Result<LinearClassifier, EvalError> {
    check_train_args(x, labels, classes, lr, weight_decay, cfg)?;
    let (n, d) = (x.rows(), x.dim());
    let mut model = Buffers::new(classes, d);
    let total = cfg.epochs * n.div_ceil(cfg.batch_size);
    let mut rng = probe_order_rng(cfg);
    let mut order: Vec<usize> = (0..n).collect();
    let (mut step, mut last_epoch_loss) = (0u64, 0.0);
    for _ in 0..cfg.epochs {
        rng.shuffle(&mut order);
        let mut epoch_loss = 0.0;
        for chunk in order.chunks(cfg.batch_size) {
            let loss = model.gradient(x, labels, chunk);
            if !loss.is_finite() {
                return Err(EvalError::NonFinite(format!(
                    "probe loss at step {step} (lr {lr}, wd {weight_decay})"
                )));
            }
            epoch_loss += loss;
            let opt = probe_adamw(cosine_lr(lr, step, total), weight_decay);
            step += 1;
            let m = &mut model;
            adamw_step(opt, step, &mut m.w, &m.gw, &mut m.mw, &mut m.vw);
            adamw_step(opt, step, &mut m.b, &m.gb, &mut m.mb, &mut m.vb);
        }
        last_epoch_loss = epoch_loss / n as f64;
    }
    Ok(LinearClassifier {
        classes,
        dim: d,
        weight: model.w,
        bias: model.b,
        last_epoch_loss,
    })
}

/// Parameters, their gradients and AdamW moments, plus one batch's rows and logits (grown to
/// the batch size on the first batch, then reused).
struct Buffers {
    dim: usize,
    w: Vec<f32>,
    b: Vec<f32>,
    gw: Vec<f32>,
    gb: Vec<f32>,
    /// The bias gradient is summed over the batch in f64 (as the engine does).
    gb64: Vec<f64>,
    mw: Vec<f32>,
    vw: Vec<f32>,
    mb: Vec<f32>,
    vb: Vec<f32>,
    /// One batch's logits `[B, classes]`, overwritten by their gradients.
    logits: Vec<f32>,
    /// One batch's gathered feature rows `[B, D]`.
    xb: Vec<f32>,
}

impl Buffers {
    fn new(classes: usize, dim: usize) -> Self {
        let zeros = |len: usize| vec![0.0f32; len];
        Self {
            dim,
            w: zeros(classes * dim),
            b: zeros(classes),
            gw: zeros(classes * dim),
            gb: zeros(classes),
            gb64: vec![0.0; classes],
            mw: zeros(classes * dim),
            vw: zeros(classes * dim),
            mb: zeros(classes),
            vb: zeros(classes),
            logits: Vec::new(),
            xb: Vec::new(),
        }
    }

    /// Fills `gw`, `gb` with the gradient of the mean cross-entropy over `rows` and returns the
    /// summed (not mean) loss.
    ///
    /// The log-softmax, the per-logit gradient and the f64 bias sum round exactly as the
    /// engine's `log_softmax` / `cross_entropy` / `linear` backward do. That matters beyond
    /// tidiness: where a gradient is exactly zero in exact arithmetic (the bias at step 1 when a
    /// batch holds every class equally often), Adam scales whatever rounding noise is left up
    /// to a sizeable step, so both paths must leave the same noise.
    fn gradient(&mut self, x: &FeatureMatrix, labels: &[usize], rows: &[usize]) -> f64 {
        let (b, d, c) = (rows.len(), self.dim, self.b.len());
        self.xb.clear();
        for &i in rows {
            self.xb.extend_from_slice(x.row(i));
        }
        self.logits.clear();
        self.logits.resize(b * c, 0.0);
        // The engine's `linear`: x·Wᵀ with Wᵀ read through strides, bias as GEMM epilogue.
        let wt = Strides {
            batch: 0,
            row: 1,
            col: d,
        };
        let sx = Strides::row_major(b, d);
        gemm(
            1,
            b,
            d,
            c,
            &self.xb,
            sx,
            &self.w,
            wt,
            &mut self.logits,
            Some(&self.b),
            false,
        );
        self.gb64.fill(0.0);
        let upstream = -1.0 / b as f32;
        let mut loss = 0.0;
        for (row, &i) in self.logits.chunks_exact_mut(c).zip(rows) {
            let max = row.iter().fold(f32::NEG_INFINITY, |a, &l| a.max(l));
            let sum: f64 = row.iter().map(|&l| ((l - max) as f64).exp()).sum();
            let lse = max as f64 + sum.ln();
            let label = labels[i];
            loss -= (row[label] as f64 - lse) as f32 as f64;
            for (k, (l, gbk)) in row.iter_mut().zip(&mut self.gb64).enumerate() {
                let log_p = (*l as f64 - lse) as f32;
                let onehot = if k == label { upstream as f64 } else { 0.0 };
                // The logit is not needed again: its gradient takes its place.
                *l = (onehot - (log_p as f64).exp() * upstream as f64) as f32;
                *gbk += *l as f64;
            }
        }
        for (gb, &g64) in self.gb.iter_mut().zip(&self.gb64) {
            *gb = g64 as f32;
        }
        // dW = Gᵀ·X with Gᵀ read through strides, as the engine's `linear` backward.
        let gt = Strides {
            batch: 0,
            row: 1,
            col: c,
        };
        gemm(
            1,
            c,
            b,
            d,
            &self.logits,
            gt,
            &self.xb,
            sx,
            &mut self.gw,
            None,
            false,
        );
        loss
    }
}
