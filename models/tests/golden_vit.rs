//! Golden parity of the ViT encoder against the PyTorch reference (`vit_weights` +
//! `vit_case`): full forward, masked forward, the embedded tokens and every block's output.

mod golden_common;

use golden_common::{assert_close, open_all, vit_config};
use jepa_engine::RowIndex;
use jepa_models::vit::{EncoderInputs, VisionTransformer};

#[test]
fn golden_vit_forward_matches_reference() {
    let Some(cases) = open_all(&["vit_weights", "vit_case"]) else {
        return;
    };
    let (w, c) = (&cases[0], &cases[1]);
    let cfg = vit_config(w, "");
    // One implementation, run both ways: frozen (nothing recorded, inference) and trainable
    // (every op recorded on the tape, as the context encoder trains).
    let load = |trainable| {
        let v = VisionTransformer::new(cfg.clone(), vec![], 7, trainable).unwrap();
        v.load_map(&w.tensors, "", "vit_weights").unwrap();
        v
    };
    let (vit, vit_t) = (load(false), load(true));

    let x = c.t("x");
    let mask = RowIndex::from_tensor(c.t("mask")).unwrap();
    let inputs = EncoderInputs {
        keep_blocks: true,
        ..Default::default()
    };
    for (path, full) in [
        ("frozen", vit.forward_with(x, inputs).unwrap()),
        ("trainable", vit_t.forward_with(x, inputs).unwrap()),
    ] {
        assert_close(
            &format!("{path} out"),
            &full.out,
            c.t("out"),
            c.meta_f64("f32err_out"),
        );
        let t0 = full.tokens0.expect("tokens0 with keep_blocks");
        assert_close(
            &format!("{path} dbg.tokens0"),
            &t0,
            c.t("dbg.tokens0"),
            None,
        );
        assert_eq!(full.blocks.len(), cfg.depth);
        let mut checked = 0;
        for (i, b) in full.blocks.iter().enumerate() {
            if let Some(want) = c.get(&format!("dbg.block{i}")) {
                assert_close(&format!("{path} dbg.block{i}"), b, want, None);
                checked += 1;
            }
        }
        assert!(checked > 0, "vit_case holds no dbg.block<i> tensor");
    }
    let masked = EncoderInputs {
        masks: Some(std::slice::from_ref(&mask)),
        ..Default::default()
    };
    let err = c.meta_f64("f32err_out_masked");
    for (path, out) in [
        ("frozen", vit.forward_with(x, masked).unwrap().out),
        ("trainable", vit_t.forward_with(x, masked).unwrap().out),
        (
            "forward_masked",
            vit.forward_masked(x, std::slice::from_ref(&mask)).unwrap(),
        ),
    ] {
        assert_close(&format!("{path} out_masked"), &out, c.t("out_masked"), err);
    }
}
