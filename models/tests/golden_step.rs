//! Golden parity of one I-JEPA / C-JEPA / EC-IJEPA training step against the PyTorch
//! reference: losses, intermediate features, every parameter gradient, and the state after one
//! AdamW step + EMA.

mod golden_common;

use golden_common::{assert_close, assert_close_with, load_jepa, open, open_all, vit_config, Case};
use jepa_engine::{Gradients, RowIndex};
use jepa_models::jepa::{
    Batch, CondKeep, Conditioning, Jepa, JepaConfig, LossOutput, Method, StepHyper,
};

/// The step model of `case` (method from its `vicreg` / `cond` metadata) with the golden weights.
fn build(enc: &Case, pred: &Case, case: &Case) -> Jepa {
    let ecfg = vit_config(enc, "");
    let mut cfg = JepaConfig::new(Method::IJepa, ecfg, 1, 1);
    if case.meta_bool("vicreg").unwrap_or(false) {
        cfg.method = Method::CJepa;
        cfg.cjepa.var_coeff = case.meta_f64("var_coeff").expect("var_coeff") as f32;
        cfg.cjepa.cov_coeff = case.meta_f64("cov_coeff").expect("cov_coeff") as f32;
        let pool = case.meta_str("vicreg_pool").unwrap_or("mean");
        assert_eq!(
            pool, "mean",
            "only block-mean pooling is the C-JEPA default"
        );
    }
    if case.meta_bool("cond").unwrap_or(false) {
        cfg.method = Method::EcIJepa;
        cfg.ec.conditioning = Conditioning::BlockMean;
        cfg.ec.dropout = 0.0;
    }
    if let Some(e) = case.meta_f64("target_ln_eps") {
        cfg.target_ln_eps = e as f32;
    }
    if let Some(l) = case.meta_str("loss") {
        assert!(l.starts_with("smooth_l1 beta=1"), "loss {l}");
    }
    load_jepa(cfg, enc, pred)
}

fn masks(case: &Case, kind: &str) -> Vec<RowIndex> {
    let v: Vec<RowIndex> = (0..)
        .map_while(|i| case.get(&format!("{kind}.{i}")))
        .map(|t| RowIndex::from_tensor(t).unwrap())
        .collect();
    assert!(!v.is_empty(), "{}: no {kind}.0", case.name);
    v
}

fn keep_of(jepa: &Jepa) -> CondKeep {
    if jepa.config().method == Method::EcIJepa {
        CondKeep::All
    } else {
        CondKeep::Off
    }
}

fn forward(jepa: &Jepa, case: &Case) -> LossOutput {
    let (me, mp) = (masks(case, "masks_enc"), masks(case, "masks_pred"));
    if let Some(n) = case.meta_usize("npred") {
        assert_eq!(mp.len(), n, "npred");
    }
    let batch = Batch {
        imgs: case.t("imgs"),
        masks_enc: &me,
        masks_pred: &mp,
    };
    jepa.forward_loss(batch, &keep_of(jepa)).unwrap()
}

fn check_forward(out: &LossOutput, case: &Case) {
    let err = case.meta_f64("f32err_loss");
    assert_close("loss", &out.loss.reshape([1]).unwrap(), case.t("loss"), err);
    let reg = jepa_engine::Tensor::from_vec(vec![out.regression], [1], jepa_engine::Device::Cpu);
    assert_close("smooth_l1", &reg.unwrap(), case.t("smooth_l1"), err);
    assert_close("target_h", &out.target, case.t("target_h"), None);
    assert_close("z_ctx", &out.z_ctx, case.t("z_ctx"), None);
    assert_close("z_pred", &out.z_pred, case.t("z_pred"), None);
    for (key, got) in [("var_loss", out.var), ("cov_loss", out.cov)] {
        if let Some(want) = case.get(key) {
            let got = got.unwrap_or_else(|| panic!("{key} expected but not computed"));
            let got = jepa_engine::Tensor::from_vec(vec![got], [1], jepa_engine::Device::Cpu);
            assert_close(key, &got.unwrap(), want, None);
        }
    }
}

/// Every gradient in `golden` ('encoder.' / 'predictor.' + name) matches, and every
/// trainable parameter has one.
fn check_grads(jepa: &Jepa, grads: &Gradients, golden: &Case) {
    let mut checked = 0;
    for (prefix, store) in [
        ("encoder.", jepa.encoder().store()),
        ("predictor.", jepa.predictor().store()),
    ] {
        for p in store.params() {
            let key = format!("{prefix}{}", p.name());
            let Some(var) = p.var() else {
                assert!(
                    golden.get(&key).is_none(),
                    "{key}: fixed here, trained in golden"
                );
                continue;
            };
            let want = golden
                .get(&key)
                .unwrap_or_else(|| panic!("{key}: no golden gradient"));
            let got = var
                .grad(grads)
                .unwrap_or_else(|| panic!("{key}: no gradient"));
            assert_close(&key, got, want, None);
            checked += 1;
        }
    }
    assert_eq!(
        checked,
        golden.tensors.len(),
        "golden holds gradients we did not check"
    );
}

fn run_case(case_name: &str, grads_name: &str) {
    let Some(c) = open_all(&["step_encoder", "step_predictor", case_name]) else {
        return;
    };
    let jepa = build(&c[0], &c[1], &c[2]);
    let out = forward(&jepa, &c[2]);
    check_forward(&out, &c[2]);
    if let Some(g) = &open(grads_name) {
        let grads = out.loss.backward().unwrap();
        check_grads(&jepa, &grads, g);
    }
}

#[test]
fn golden_step_ijepa_forward_and_grads() {
    run_case("step_case", "step_grads");
}

#[test]
fn golden_step_cjepa_forward_and_grads() {
    run_case("step_cjepa_case", "step_cjepa_grads");
}

#[test]
fn golden_step_ecijepa_forward_and_grads() {
    run_case("step_ecijepa_case", "step_ecijepa_grads");
}

#[test]
fn golden_step_after_adamw_and_ema() {
    let Some(c) = open_all(&["step_encoder", "step_predictor", "step_case", "step_after"]) else {
        return;
    };
    check_after(&c);
}

/// One AdamW step + EMA from the step's gradients.
fn check_after(c: &[Case]) {
    let after = &c[3];
    let mut jepa = build(&c[0], &c[1], after);
    let grads = forward(&jepa, &c[2]).loss.backward().unwrap();
    let gflat = [
        jepa.encoder().store().flat_grads(&grads).unwrap(),
        jepa.predictor().store().flat_grads(&grads).unwrap(),
    ];
    let path = "step";
    let (b1, b2) = after.meta_pair("betas").unwrap_or((0.9, 0.999));
    let opt = jepa.optimizer_mut();
    opt.betas = (b1 as f32, b2 as f32);
    opt.eps = after.meta_f64("adam_eps").unwrap_or(1e-8) as f32;
    let hp = StepHyper {
        lr: after.meta_f64("lr").expect("lr"),
        wd: after.meta_f64("weight_decay").expect("weight_decay"),
        momentum: after.meta_f64("ema").expect("ema"),
    };
    let before: Vec<Vec<f32>> = [jepa.encoder().store(), jepa.predictor().store()]
        .iter()
        .map(|s| s.flat().to_vec_f32().unwrap())
        .collect();
    jepa.apply_gradients(&grads, hp).unwrap();
    // The update itself (after − before) is compared too: the weight-decay share
    // (lr·wd·w ≈ 4e-5·w) is far below a tolerance relative to the weights. Elements whose
    // gradient is within 100·eps of zero are left to the value check: there the first Adam
    // step lr·g/(|g| + eps) amplifies the f32 rounding of g by eps/|g|.
    let eps = jepa.optimizer().eps;
    for (i, (prefix, store)) in [
        ("encoder.", jepa.encoder().store()),
        ("predictor.", jepa.predictor().store()),
    ]
    .into_iter()
    .enumerate()
    {
        for p in store.params().iter().filter(|p| p.var().is_some()) {
            let key = format!("{prefix}{}", p.name());
            let g = &gflat[i][p.offset()..p.offset() + p.numel()];
            let old = &before[i][p.offset()..p.offset() + p.numel()];
            let delta = |v: Vec<f32>| -> Vec<f32> {
                v.iter()
                    .zip(old)
                    .zip(g)
                    .map(|((a, b), g)| if g.abs() > 100.0 * eps { a - b } else { 0.0 })
                    .collect()
            };
            let dims = p.shape().to_vec();
            let mk = |v: Vec<f32>| {
                jepa_engine::Tensor::from_vec(v, dims.clone(), jepa_engine::Device::Cpu).unwrap()
            };
            let got = mk(delta(p.value().to_vec_f32().unwrap()));
            let want = mk(delta(after.t(&key).to_vec_f32().unwrap()));
            assert_close(&format!("{path} update of {key}"), &got, &want, None);
        }
    }
    // Values: where |g| <= 100·eps the first Adam step is lr·g/(|g| + eps) of a gradient that
    // is rounding noise (e.g. the key bias, whose exact gradient is 0), so those elements may
    // move by up to lr (and the EMA copy by (1 − m)·lr) in either implementation.
    let m = hp.momentum;
    let mut checked = 0;
    for (i, (prefix, store)) in [
        ("encoder.", jepa.encoder().store()),
        ("predictor.", jepa.predictor().store()),
        ("target_encoder.", jepa.target_encoder().store()),
    ]
    .into_iter()
    .enumerate()
    {
        let grad_store = [jepa.encoder().store(), jepa.predictor().store()][i % 2];
        for p in store.params() {
            let key = format!("{prefix}{}", p.name());
            let Some(want) = after.get(&key) else {
                assert!(p.var().is_none() && i != 2, "{key} not in golden");
                continue;
            };
            let g = match grad_store.get(p.name()).filter(|q| q.var().is_some()) {
                Some(q) => &gflat[i % 2][q.offset()..q.offset() + q.numel()],
                None => &[][..],
            };
            let scale = if i == 2 { 1.0 - m } else { 1.0 };
            let slack = |e: usize| match g.get(e) {
                Some(v) if (v.abs() as f64) <= 100.0 * eps as f64 => scale * hp.lr,
                _ => 0.0,
            };
            assert_close_with(&format!("{path} {key}"), p.value(), want, None, slack);
            checked += 1;
        }
    }
    assert_eq!(
        checked,
        after.tensors.len(),
        "golden holds tensors we did not check"
    );
}
