//! Every method and variant's gradient, through the one training path (fused block ops on the
//! tape), against central finite differences of the loss: I-JEPA (smooth-L1, MSE, two context
//! masks), C-JEPA §4.2 pooled, variant A (two views) and variant B, and EC-IJEPA with block-mean,
//! per-position and additive conditioning (additive with per-sample conditioning dropout).
//!
//! The loss is computed in f32, so the step is large (h = 2⁻⁶) against its rounding noise and
//! the tolerance is relative to the largest gradient of the model; a sign error, a missing
//! term or a gradient sent to the wrong parameter is off by far more than that.

use jepa_engine::{Device, RowIndex, Tensor};
use jepa_models::jepa::{
    Batch, CJepaConfig, CondKeep, Conditioning, Jepa, JepaConfig, Method, RegressionLoss,
};
use jepa_models::rng::Rng;
use jepa_models::vit::{ParamStore, VitConfig};

const B: usize = 3;
const H: f32 = 1.0 / 64.0;

fn config(method: Method) -> JepaConfig {
    let mut c = JepaConfig::new(method, VitConfig::custom(16, 2, 2, 16, 4), 8, 1);
    c.seed = 9;
    c.ec.dropout = 0.0;
    c.loss = RegressionLoss::Mse;
    c
}

fn masks(rng: &mut Rng, n: usize, k: usize) -> Vec<RowIndex> {
    (0..n)
        .map(|_| {
            let idx = (0..B).flat_map(|_| rng.sorted_subset(16, k)).collect();
            RowIndex::new(B, k, idx).unwrap()
        })
        .collect()
}

/// Trainable parameters moved off their init (zero-init layers would hide gradients) by a
/// deterministic pattern of about ±0.3.
fn perturb(store: &ParamStore, seed: u64) {
    let mut rng = Rng::new(seed);
    let ranges: Vec<_> = store
        .params()
        .iter()
        .filter(|p| p.var().is_some())
        .map(|p| p.offset()..p.offset() + p.numel())
        .collect();
    store
        .with_flat_mut(|f| {
            for r in ranges {
                f[r].iter_mut()
                    .for_each(|v| *v += rng.uniform(-0.3, 0.3) as f32);
            }
        })
        .unwrap();
}

fn check(cfg: JepaConfig, nenc: usize, keep: CondKeep) {
    let what = format!(
        "{:?} {:?} {:?} nenc {nenc}",
        cfg.method, cfg.cjepa.variant, cfg.ec.conditioning
    );
    let two = cfg.two_views();
    let jepa = Jepa::new(cfg).unwrap();
    perturb(jepa.encoder().store(), 1);
    perturb(jepa.predictor().store(), 2);
    let mut rng = Rng::new(3);
    let imgs = |s| Tensor::randn([B, 3, 16, 16], 0.0, 1.0, s, Device::Cpu).unwrap();
    let (x1, x2) = (imgs(4), imgs(5));
    let (e1, p1) = (masks(&mut rng, nenc, 6), masks(&mut rng, 2, 3));
    let (e2, p2) = (masks(&mut rng, nenc, 6), masks(&mut rng, 2, 3));
    let loss = || {
        let a = Batch {
            imgs: &x1,
            masks_enc: &e1,
            masks_pred: &p1,
        };
        let b = Batch {
            imgs: &x2,
            masks_enc: &e2,
            masks_pred: &p2,
        };
        match two {
            true => jepa.forward_loss_two_views(a, b, &keep).unwrap().loss,
            false => jepa.forward_loss(a, &keep).unwrap().loss,
        }
    };
    let grads = loss().backward().unwrap();
    let stores = [jepa.encoder().store(), jepa.predictor().store()];
    let mut analytic = Vec::new();
    for s in stores {
        for p in s.params().iter().filter(|p| p.var().is_some()) {
            let g = p
                .var()
                .unwrap()
                .grad(&grads)
                .map(|g| g.to_vec_f32().unwrap());
            analytic.push((s, p, g.unwrap_or_else(|| vec![0.0; p.numel()])));
        }
    }
    let gmax = analytic
        .iter()
        .flat_map(|(_, _, g)| g.iter())
        .fold(0f32, |m, v| m.max(v.abs()));
    assert!(gmax > 1e-3, "{what}: gradients vanish ({gmax})");
    let value = |s: &ParamStore, i: usize, v: f32| {
        s.with_flat_mut(|f| f[i] = v).unwrap();
        loss().to_scalar_f32().unwrap() as f64
    };
    let mut checked = 0;
    for (s, p, g) in &analytic {
        // Two entries of every parameter tensor (deterministic picks).
        for pick in [0, p.numel() / 2 + 1] {
            let j = pick.min(p.numel() - 1);
            let i = p.offset() + j;
            let x0 = s.flat().to_vec_f32().unwrap()[i];
            let num = (value(s, i, x0 + H) - value(s, i, x0 - H)) / (2.0 * H as f64);
            s.with_flat_mut(|f| f[i] = x0).unwrap();
            let err = (num - g[j] as f64).abs();
            let tol = 0.03 * (g[j] as f64).abs() + 4e-3 * gmax as f64;
            assert!(
                err <= tol,
                "{what}: {}[{j}] analytic {} vs numeric {num} (tol {tol:.2e})",
                p.name(),
                g[j]
            );
            checked += 1;
        }
    }
    assert!(checked > 20, "{what}: checked {checked} entries");
}

#[test]
fn ijepa_gradients_match_finite_differences() {
    check(config(Method::IJepa), 1, CondKeep::Off);
    let mut l1 = config(Method::IJepa);
    l1.loss = RegressionLoss::SmoothL1 { beta: 1.0 };
    check(l1, 2, CondKeep::Off);
}

#[test]
fn cjepa_gradients_match_finite_differences() {
    check(config(Method::CJepa), 1, CondKeep::Off);
    let mut b = config(Method::CJepa);
    b.cjepa = CJepaConfig::predictions_and_context(0.1);
    b.cjepa.inv_coeff = 0.5;
    check(b, 1, CondKeep::Off);
    let mut a = config(Method::CJepa);
    a.cjepa = CJepaConfig::two_views(0.1);
    check(a, 1, CondKeep::Off);
}

#[test]
fn ec_ijepa_gradients_match_finite_differences() {
    for mode in [
        Conditioning::BlockMean,
        Conditioning::PerPosition,
        Conditioning::Additive,
    ] {
        let mut c = config(Method::EcIJepa);
        c.ec.conditioning = mode;
        check(c, 1, CondKeep::All);
    }
    let mut c = config(Method::EcIJepa);
    c.ec.conditioning = Conditioning::Additive;
    check(c, 1, CondKeep::PerSample(vec![true, false, true]));
}
