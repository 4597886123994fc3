//! Twelve training steps against the PyTorch reference (`../shared/perf/ref_ijepa.py`, float64),
//! from `tests/data/trajectory.safetensors` (written by `experiments/make_step_case.py --small
//! --batch 4 --trajectory 12`). The shared golden cases check one step from a fresh optimizer;
//! this checks what only shows over several: the per-parameter step count and the moments'
//! bias correction, the warm-up / cosine lr, the rising weight decay and EMA momentum written
//! into the right groups, and the target encoder drifting behind the online one. It runs through the
//! one training path (fused block ops on the tape).

mod golden_common;

use golden_common::{assert_close, load_jepa, open_path, vit_config, Case};
use jepa_engine::RowIndex;
use jepa_models::jepa::{Batch, Jepa, JepaConfig, Method, StepHyper};
use jepa_models::vit::ParamStore;

fn case() -> Case {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/trajectory.safetensors");
    open_path(&path, "trajectory")
}

fn build(c: &Case) -> Jepa {
    let (enc, pred) = (c.sub("init.encoder."), c.sub("init.predictor."));
    let cfg = JepaConfig::new(Method::IJepa, vit_config(&enc, ""), 1, 1);
    load_jepa(cfg, &enc, &pred)
}

fn rows(c: &Case, kind: &str, step: usize) -> Vec<RowIndex> {
    (0..)
        .map_while(|i| c.get(&format!("{kind}.{i}.{step}")))
        .map(|t| RowIndex::from_tensor(t).unwrap())
        .collect()
}

fn check_store(c: &Case, prefix: &str, store: &ParamStore, what: &str) {
    for p in store.params() {
        let want = c.t(&format!("after.{prefix}{}", p.name()));
        assert_close(
            &format!("{what}: {prefix}{}", p.name()),
            p.value(),
            want,
            None,
        );
    }
}

#[test]
fn twelve_steps_match_the_reference() {
    let c = case();
    let steps = c.meta_usize("steps").expect("steps");
    let mut jepa = build(&c);
    let losses = c.t("losses").to_vec_f32().unwrap();
    let hyper = c.t("hyper").to_vec_f32().unwrap();
    let what = "trajectory";
    for s in 0..steps {
        let (me, mp) = (rows(&c, "masks_enc", s), rows(&c, "masks_pred", s));
        assert!(!me.is_empty() && mp.len() == 4, "step {s}: masks");
        let b = Batch {
            imgs: c.t(&format!("imgs.{s}")),
            masks_enc: &me,
            masks_pred: &mp,
        };
        let h = &hyper[3 * s..3 * s + 3];
        let hp = StepHyper {
            lr: h[0] as f64,
            wd: h[1] as f64,
            momentum: h[2] as f64,
        };
        let loss = jepa.train_step_with(b, hp).unwrap().loss;
        let want = losses[s];
        assert!(
            (loss - want).abs() <= 1e-5 + 1e-4 * want.abs(),
            "{what} step {s}: loss {loss} vs reference {want}"
        );
    }
    check_store(&c, "encoder.", jepa.encoder().store(), what);
    check_store(&c, "predictor.", jepa.predictor().store(), what);
    check_store(&c, "target_encoder.", jepa.target_encoder().store(), what);
}
