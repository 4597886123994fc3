//! The reference linear-probe trainer: the same algorithm as [`super::train_linear`], but
//! through the engine's tensors and tape autograd one batch at a time. Slow (per-step tensor
//! and tape overhead dominates the tiny `D × classes` arithmetic); kept to check the fast path.

use jepa_engine::{is_grad_enabled, DType, Device, Tensor, Var};
use jepa_kernels::cpu::adamw::adamw_step;

use super::probe::{check_train_args, cosine_lr, probe_adamw, probe_order_rng};
use super::{EvalError, FeatureMatrix, LinearClassifier, ProbeConfig};

/// [`super::train_linear`] computed with `Tensor::linear` + `cross_entropy` and `backward`.
/// Must run with gradients enabled.
pub fn train_linear_ref(
    x: &FeatureMatrix,
    labels: &[usize],
    classes: usize,
    lr: f64,
    weight_decay: f64,
    cfg: &ProbeConfig,
) -> Result<LinearClassifier, EvalError> {
    check_train_args(x, labels, classes, lr, weight_decay, cfg)?;
    if !is_grad_enabled() {
        return Err(EvalError::InvalidInput(
            "train_linear_ref called inside no_grad: it needs the autograd tape".into(),
        ));
    }
    let (n, d) = (x.rows(), x.dim());
    let w = Var::new(&Tensor::zeros([classes, d], DType::F32, Device::Cpu)?);
    let b = Var::new(&Tensor::zeros([classes], DType::F32, Device::Cpu)?);
    let mut moments = [
        (vec![0.0f32; classes * d], vec![0.0f32; classes * d]),
        (vec![0.0f32; classes], vec![0.0f32; classes]),
    ];
    let total = cfg.epochs * n.div_ceil(cfg.batch_size);
    let mut rng = probe_order_rng(cfg);
    let mut order: Vec<usize> = (0..n).collect();
    let (mut step, mut last_epoch_loss) = (0u64, 0.0);
    let (mut xb, mut yb) = (Vec::new(), Vec::new());
    for _ in 0..cfg.epochs {
        rng.shuffle(&mut order);
        let mut epoch_loss = 0.0;
        for chunk in order.chunks(cfg.batch_size) {
            xb.clear();
            yb.clear();
            for &i in chunk {
                xb.extend_from_slice(x.row(i));
                yb.push(labels[i]);
            }
            let xt = Tensor::from_slice(&xb, [chunk.len(), d], Device::Cpu)?;
            let loss = xt.linear(&w, Some(&b))?.cross_entropy(&yb)?;
            let value = loss.to_scalar_f32()?;
            if !value.is_finite() {
                return Err(EvalError::NonFinite(format!(
                    "probe loss at step {step} (lr {lr}, wd {weight_decay})"
                )));
            }
            epoch_loss += value as f64 * chunk.len() as f64;
            let grads = loss.backward()?;
            let opt = probe_adamw(cosine_lr(lr, step, total), weight_decay);
            step += 1;
            for (param, (m, v)) in [&w, &b].into_iter().zip(moments.iter_mut()) {
                let g = param
                    .grad(&grads)
                    .ok_or_else(|| {
                        EvalError::InvalidInput("probe parameter got no gradient".into())
                    })?
                    .to_vec_f32()?;
                param.update_f32(|p| adamw_step(opt, step, p, &g, m, v))?;
            }
        }
        last_epoch_loss = epoch_loss / n as f64;
    }
    Ok(LinearClassifier {
        classes,
        dim: d,
        weight: w.to_vec_f32()?,
        bias: b.to_vec_f32()?,
        last_epoch_loss,
    })
}
