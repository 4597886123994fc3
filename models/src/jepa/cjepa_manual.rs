//! C-JEPA pooled VICReg terms for the manual backward: the same maths as `cjepa::single_view`
//! (§4.2, §4.4) on plain buffers, with the gradient spread back over the pooled tokens.

use super::config::CJepaConfig;
use crate::vit::{ModelError, ModelResult};
use jepa_kernels::cpu::vicreg::vicreg;

/// Weighted total and unweighted parts of the terms.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Terms {
    pub total: f32,
    pub inv: Option<f32>,
    pub var: f32,
    pub cov: f32,
}

impl Terms {
    /// Sum of two term sets (predictions and context of variant B).
    pub(crate) fn plus(self, o: Terms) -> Terms {
        Terms {
            total: self.total + o.total,
            inv: self.inv,
            var: self.var + o.var,
            cov: self.cov + o.cov,
        }
    }
}

/// Terms on `E = mean over k of y: [rows, k, d]`; `target` (same shape) enables the invariance
/// term. Adds `d total / d y` into `dy`.
pub(crate) fn pooled(
    cfg: &CJepaConfig,
    y: &[f32],
    rows: usize,
    k: usize,
    d: usize,
    target: Option<&[f32]>,
    dy: &mut [f32],
) -> ModelResult<Terms> {
    if rows < 2 {
        return Err(ModelError::Input(format!(
            "VICReg needs at least 2 pooled rows, got {rows}"
        )));
    }
    let pool = |v: &[f32]| -> Vec<f32> {
        let mut e = vec![0f32; rows * d];
        for (er, vr) in e.chunks_mut(d).zip(v.chunks(k * d)) {
            for tok in vr.chunks(d) {
                er.iter_mut().zip(tok).for_each(|(a, &x)| *a += x);
            }
            er.iter_mut().for_each(|a| *a /= k as f32);
        }
        e
    };
    let e = pool(y);
    let (mut dvar, mut dcov) = (vec![0f32; rows * d], vec![0f32; rows * d]);
    let l = vicreg(rows, d, &e, cfg.eps, Some(&mut dvar), Some(&mut dcov));
    let (beta, mu, nu, lam) = (cfg.beta, cfg.var_coeff, cfg.cov_coeff, cfg.inv_coeff);
    let mut de: Vec<f32> = dvar
        .iter()
        .zip(&dcov)
        .map(|(&v, &c)| beta * (mu * v + nu * c))
        .collect();
    let mut total = mu * l.var_loss + nu * l.cov_loss;
    let inv = match target {
        Some(t) if lam > 0.0 => {
            let tp = pool(t);
            let n = (rows * d) as f32;
            let mut s = 0f64;
            for ((g, &a), &b) in de.iter_mut().zip(&e).zip(&tp) {
                let diff = a - b;
                s += (diff as f64) * (diff as f64);
                *g += beta * lam * 2.0 * diff / n;
            }
            let inv = (s / n as f64) as f32;
            total += lam * inv;
            Some(inv)
        }
        _ => None,
    };
    for (gr, dr) in dy.chunks_mut(k * d).zip(de.chunks(d)) {
        for tok in gr.chunks_mut(d) {
            tok.iter_mut()
                .zip(dr)
                .for_each(|(g, &v)| *g += v / k as f32);
        }
    }
    Ok(Terms {
        total: beta * total,
        inv,
        var: l.var_loss,
        cov: l.cov_loss,
    })
}
