//! JEPA training steps: the optimizer groups / schedules / EMA, a loss that falls on a fixed
//! batch, and the EC-IJEPA conditioning parameters being trained. (Gradients of every method
//! against finite differences: `jepa_grad_fd.rs`.)

use jepa_engine::{Device, RowIndex, Tensor};
use jepa_models::jepa::{
    Batch, CJepaConfig, CondKeep, Conditioning, EvalPolicy, Jepa, JepaConfig, Method, StepHyper,
};
use jepa_models::rng::Rng;
use jepa_models::vit::{ModelError, VitConfig};

const B: usize = 4;

fn config(method: Method) -> JepaConfig {
    let mut c = JepaConfig::new(method, VitConfig::custom(32, 2, 2, 16, 4), 16, 1);
    c.seed = 5;
    c.ec.dropout = 0.0;
    c
}

struct Data {
    imgs: Tensor,
    enc: Vec<RowIndex>,
    pred: Vec<RowIndex>,
}

fn data(seed: u64, nenc: usize) -> Data {
    let mut rng = Rng::new(seed);
    let mut m = |k: usize| {
        RowIndex::new(
            B,
            k,
            (0..B).flat_map(|_| rng.sorted_subset(16, k)).collect(),
        )
        .unwrap()
    };
    Data {
        imgs: Tensor::randn([B, 3, 16, 16], 0.0, 1.0, seed, Device::Cpu).unwrap(),
        enc: (0..nenc).map(|_| m(8)).collect(),
        pred: (0..3).map(|_| m(3)).collect(),
    }
}

impl Data {
    fn batch(&self) -> Batch<'_> {
        Batch {
            imgs: &self.imgs,
            masks_enc: &self.enc,
            masks_pred: &self.pred,
        }
    }
}

fn hp() -> StepHyper {
    StepHyper {
        lr: 1e-3,
        wd: 0.04,
        momentum: 0.99,
    }
}

#[test]
fn step_applies_official_groups_and_ema() {
    let mut jepa = Jepa::new(config(Method::IJepa)).unwrap();
    let names: Vec<&str> = jepa
        .optimizer()
        .groups
        .iter()
        .map(|g| g.name.as_str())
        .collect();
    assert_eq!(
        names,
        [
            "encoder.decay",
            "predictor.decay",
            "encoder.no_decay",
            "predictor.no_decay"
        ]
    );
    let store = jepa.encoder().store();
    let member = |g: usize, name: &str| {
        let i = store
            .params()
            .iter()
            .position(|p| p.name() == name)
            .unwrap();
        jepa.optimizer().groups[g].params.contains(&i)
    };
    assert!(
        member(0, "patch_embed.proj.weight")
            && member(2, "norm.weight")
            && member(2, "blocks.0.attn.qkv.bias")
    );
    assert!(
        !member(0, "pos_embed") && !member(2, "pos_embed"),
        "the fixed table is never optimised"
    );
    let sched = jepa.scheduled();
    let o = jepa.config().optim;
    assert_eq!(
        (sched.lr, sched.wd, sched.momentum),
        (o.lr.at(1), o.wd.at(1), o.ema.at(0))
    );

    let d = data(2, 1);
    let (enc0, tgt0) = (
        flat(jepa.encoder().store()),
        flat(jepa.target_encoder().store()),
    );
    assert_eq!(enc0, tgt0, "the target starts as a copy");
    let stats = jepa.train_step_with(d.batch(), hp()).unwrap();
    assert_eq!((stats.step, jepa.steps_done()), (1, 1));
    let (enc1, tgt1) = (
        flat(jepa.encoder().store()),
        flat(jepa.target_encoder().store()),
    );
    assert_ne!(enc0, enc1);
    for ((t1, t0), e1) in tgt1.iter().zip(&tgt0).zip(&enc1) {
        let want = 0.99 * t0 + (1.0 - 0.99f32) * e1;
        assert!((t1 - want).abs() <= 1e-7 + 1e-6 * want.abs());
    }
    let (n, wd) = (jepa.optimizer().groups.len(), 0.3);
    jepa.optimizer_mut().set_weight_decay(wd);
    let g = &jepa.optimizer().groups;
    assert!((0..n).all(|i| g[i].weight_decay == if g[i].wd_exclude { 0.0 } else { wd }));
}

fn flat(s: &jepa_models::vit::ParamStore) -> Vec<f32> {
    s.flat().to_vec_f32().unwrap()
}

#[test]
fn loss_falls_on_a_fixed_batch() {
    let mut jepa = Jepa::new(config(Method::IJepa)).unwrap();
    let d = data(3, 1);
    let first = jepa.train_step_with(d.batch(), hp()).unwrap().loss;
    let mut last = first;
    for _ in 0..15 {
        last = jepa.train_step_with(d.batch(), hp()).unwrap().loss;
    }
    assert!(last < 0.9 * first, "{first} -> {last}");
}

#[test]
fn conditioning_variants_train_their_parameters() {
    for mode in [Conditioning::PerPosition, Conditioning::Additive] {
        let mut cfg = config(Method::EcIJepa);
        cfg.ec.conditioning = mode;
        let mut jepa = Jepa::new(cfg).unwrap();
        let cond: Vec<_> = jepa
            .encoder()
            .store()
            .params()
            .iter()
            .filter(|p| p.name().starts_with("cond_"))
            .map(|p| p.name().to_string())
            .collect();
        assert!(!cond.is_empty(), "{mode:?} adds encoder parameters");
        let before: Vec<Vec<f32>> = cond
            .iter()
            .map(|n| jepa.encoder().store().to_vec(n).unwrap())
            .collect();
        let d = data(4, 1);
        let s = jepa.train_step_with(d.batch(), hp()).unwrap();
        assert!(s.conditioned && s.loss.is_finite());
        let moved = cond
            .iter()
            .zip(&before)
            .any(|(n, b)| &jepa.encoder().store().to_vec(n).unwrap() != b);
        assert!(moved, "{mode:?}: conditioning parameters are trained");
        assert_eq!(
            jepa.target_encoder().store().len(),
            jepa.encoder().store().len(),
            "EMA copies them"
        );
    }
    let mut cfg = config(Method::EcIJepa);
    cfg.ec.conditioning = Conditioning::Additive;
    let jepa = Jepa::new(cfg).unwrap();
    let d = data(5, 1);
    let keep = CondKeep::PerSample(vec![true, false, true, false]);
    jepa.forward_loss(d.batch(), &keep).unwrap();
    let block_mean = Jepa::new(config(Method::EcIJepa)).unwrap();
    let err = block_mean.forward_loss(d.batch(), &keep);
    assert!(
        matches!(err, Err(ModelError::Config(_))),
        "token modes drop per batch only"
    );
    let a = block_mean
        .target_features(&d.imgs, EvalPolicy::Unconditioned)
        .unwrap();
    let b = block_mean
        .target_features(&d.imgs, EvalPolicy::AllPositions)
        .unwrap();
    assert_eq!(a.dims(), &[B, 16, 32]);
    assert_eq!(a.dims(), b.dims());
    assert_ne!(
        a.to_vec_f32().unwrap(),
        b.to_vec_f32().unwrap(),
        "policy (b) conditions"
    );
}

#[test]
fn cjepa_two_views_needs_its_own_step() {
    let mut cfg = config(Method::CJepa);
    cfg.cjepa = CJepaConfig::two_views(0.04);
    let mut jepa = Jepa::new(cfg).unwrap();
    let (a, b) = (data(6, 1), data(7, 1));
    assert!(matches!(
        jepa.train_step(a.batch()),
        Err(ModelError::Config(_))
    ));
    let s = jepa.train_step_two_views(a.batch(), b.batch()).unwrap();
    assert!(s.var.is_some() && s.cov.is_some() && s.inv.is_some() && s.loss.is_finite());
    assert_eq!(jepa.steps_done(), 1);
}
