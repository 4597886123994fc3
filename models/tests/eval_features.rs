//! Feature extraction from a ViT: pooled last layer, last-4 concatenation, order and batching.

use std::sync::Arc;

use jepa_engine::{Device, Tensor};
use jepa_models::data::{Dataset, EvalTransform, Transform};
use jepa_models::eval::{extract_features, EvalError, ExtractConfig, FeatureEncoder};
use jepa_models::rng::Rng;
use jepa_models::train::{synthetic, Split};
use jepa_models::vit::{VisionTransformer, VitConfig};

fn encoder(depth: usize) -> VisionTransformer {
    VisionTransformer::new(VitConfig::custom(16, depth, 2, 16, 4), Vec::new(), 5, false).unwrap()
}

#[test]
fn pooled_features_match_a_direct_forward() {
    let enc = encoder(4);
    let ds = synthetic(11, 3, 20, 1, Split::Train).unwrap();
    let cfg = ExtractConfig {
        transform: EvalTransform {
            resize: 16,
            ..EvalTransform::plain(16)
        },
        batch_size: 4, // 11 = 4 + 4 + 3: a ragged last batch
        workers: 1,
        last4: true,
    };
    let f = extract_features(&enc, Arc::new(ds.clone()), &cfg).unwrap();
    assert_eq!(
        f.labels,
        (0..11).map(|i| i % 3).collect::<Vec<_>>(),
        "dataset order"
    );
    assert_eq!((f.last.rows(), f.last.dim()), (11, 16));
    let last4 = f.last4.as_ref().unwrap();
    assert_eq!((last4.rows(), last4.dim()), (11, 64));

    // The same images through `forward` (all tokens, final norm), mean-pooled by hand.
    let tf = Transform::Eval(cfg.transform.clone());
    let imgs: Vec<f32> = (0..11)
        .flat_map(|i| tf.apply(&ds.image(i).unwrap(), &mut Rng::new(0)).unwrap())
        .collect();
    let x = Tensor::from_vec(imgs, [11, 3, 16, 16], Device::Cpu).unwrap();
    let out = enc.forward(&x).unwrap().to_vec_f32().unwrap(); // [11, 16 tokens, 16]
    for r in 0..11 {
        for d in 0..16 {
            let want: f32 = (0..16).map(|t| out[(r * 16 + t) * 16 + d]).sum::<f32>() / 16.0;
            let got = f.last.row(r)[d];
            assert!(
                (got - want).abs() < 1e-4,
                "row {r} dim {d}: {got} vs {want}"
            );
            // The last block of the last-4 concatenation is the last-layer feature.
            assert!((last4.row(r)[48 + d] - got).abs() < 1e-4);
        }
        // Earlier blocks are different features.
        assert_ne!(&last4.row(r)[..16], f.last.row(r));
    }
}

#[test]
fn block_outputs_are_bounded_by_depth() {
    let enc = encoder(2);
    let x = Tensor::zeros([1, 3, 16, 16], jepa_engine::DType::F32, Device::Cpu).unwrap();
    assert_eq!(enc.normed_block_outputs(&x, 2).unwrap().len(), 2);
    assert!(matches!(
        enc.normed_block_outputs(&x, 4),
        Err(EvalError::InvalidInput(_))
    ));
    assert!(enc.normed_block_outputs(&x, 0).is_err());
    // last-4 extraction from a 2-block encoder is an error, not a panic.
    let ds = synthetic(4, 2, 16, 0, Split::Test).unwrap();
    let cfg = ExtractConfig {
        workers: 1,
        ..ExtractConfig::plain(16)
    };
    assert!(extract_features(&enc, Arc::new(ds), &cfg).is_err());
}
