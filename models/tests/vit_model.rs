//! ViT encoder / predictor: official sizes and names, seeded init, safetensors round trip and
//! load errors, agreement of the engine and tape-free paths, mask semantics, typed errors.

use jepa_engine::{no_grad, Device, RowIndex, Tensor};
use jepa_models::rng::Rng;
use jepa_models::vit::{
    encoder_specs, pos_embed, predictor_specs, EncoderInputs, ModelError, PredictorConfig,
    VisionTransformer, VisionTransformerPredictor, VitConfig, VitSize,
};

fn small() -> VitConfig {
    VitConfig::custom(32, 2, 2, 16, 4)
}

fn imgs(b: usize, seed: u64) -> Tensor {
    Tensor::randn([b, 3, 16, 16], 0.0, 1.0, seed, Device::Cpu).unwrap()
}

fn masks(b: usize, n: usize, k: usize, seed: u64) -> RowIndex {
    let mut rng = Rng::new(seed);
    let idx = (0..b).flat_map(|_| rng.sorted_subset(n, k)).collect();
    RowIndex::new(b, k, idx).unwrap()
}

fn close(a: &Tensor, b: &Tensor, tol: f32, what: &str) {
    assert_eq!(a.dims(), b.dims(), "{what}");
    let (a, b) = (a.to_vec_f32().unwrap(), b.to_vec_f32().unwrap());
    let worst = a
        .iter()
        .zip(&b)
        .map(|(x, y)| (x - y).abs())
        .fold(0f32, f32::max);
    assert!(worst <= tol, "{what}: max diff {worst}");
}

#[test]
fn official_sizes_and_parameter_names() {
    let want = [
        (VitSize::Tiny, 192, 12, 3),
        (VitSize::Base, 768, 12, 12),
        (VitSize::Huge, 1280, 32, 16),
    ];
    for (size, d, depth, heads) in want {
        let c = VitConfig::sized(size, 224, 14);
        assert_eq!(
            (c.dim, c.depth, c.heads, c.mlp_hidden),
            (d, depth, heads, 4 * d)
        );
    }
    assert_eq!(VitConfig::sized(VitSize::Giant, 224, 14).mlp_hidden, 6144);
    assert_eq!(VitSize::parse("vit_small"), Some(VitSize::Small));
    // ViT-Tiny/16 at 224: per block 12·D² + 13·D, plus patch embed, norm and the fixed table.
    let c = VitConfig::sized(VitSize::Tiny, 224, 16);
    let specs = encoder_specs(&c);
    assert_eq!(specs.len(), 3 + 12 * 12 + 2);
    let numel: usize = specs
        .iter()
        .map(|s| s.shape.iter().product::<usize>())
        .sum();
    let d = 192;
    assert_eq!(
        numel,
        196 * d + d * 768 + d + 12 * (12 * d * d + 13 * d) + 2 * d
    );
    assert_eq!(specs[0].name, "pos_embed");
    assert!(!specs[0].trainable);
    assert_eq!(specs[1].shape, vec![d, 3, 16, 16]);
    assert!(specs
        .iter()
        .any(|s| s.name == "blocks.11.attn.qkv.weight" && s.shape == [3 * d, d]));
    let p = predictor_specs(&PredictorConfig::for_encoder(&c, 384, 12));
    let names: Vec<&str> = p.iter().map(|s| s.name.as_str()).collect();
    for n in [
        "mask_token",
        "predictor_pos_embed",
        "predictor_embed.weight",
        "predictor_norm.bias",
    ] {
        assert!(names.contains(&n), "{n}");
    }
    assert!(names.contains(&"predictor_blocks.11.mlp.fc2.weight"));
    assert_eq!(p.last().unwrap().name, "predictor_proj.bias");
    assert_eq!(p.last().unwrap().shape, vec![d]);
}

#[test]
fn init_is_seeded_and_official() {
    let a = VisionTransformer::new(VitConfig::custom(64, 1, 2, 16, 4), vec![], 3, false).unwrap();
    let b = VisionTransformer::new(VitConfig::custom(64, 1, 2, 16, 4), vec![], 3, false).unwrap();
    let c = VisionTransformer::new(VitConfig::custom(64, 1, 2, 16, 4), vec![], 4, false).unwrap();
    let s = a.store();
    assert_eq!(
        s.flat().to_vec_f32().unwrap(),
        b.store().flat().to_vec_f32().unwrap()
    );
    assert_ne!(
        s.to_vec("blocks.0.mlp.fc1.weight").unwrap(),
        c.store().to_vec("blocks.0.mlp.fc1.weight").unwrap()
    );
    let w = s.to_vec("blocks.0.mlp.fc1.weight").unwrap();
    let mean = w.iter().sum::<f32>() / w.len() as f32;
    let std = (w.iter().map(|v| (v - mean).powi(2)).sum::<f32>() / w.len() as f32).sqrt();
    assert!(
        mean.abs() < 1e-3 && (std - 0.02).abs() < 1e-3,
        "mean {mean} std {std}"
    );
    assert!(s
        .to_vec("blocks.0.mlp.fc1.bias")
        .unwrap()
        .iter()
        .all(|&v| v == 0.0));
    assert!(s.to_vec("norm.weight").unwrap().iter().all(|&v| v == 1.0));
    let pe = s.to_vec("pos_embed").unwrap();
    assert!(pos_embed::max_abs_diff(&pe, 64, 4) < 1e-7);
    let p =
        VisionTransformerPredictor::new(PredictorConfig::for_encoder(&small(), 16, 1), 5).unwrap();
    let mt = p.store().to_vec("mask_token").unwrap();
    assert!(mt.iter().any(|&v| v != 0.0) && mt.iter().all(|v| v.abs() < 0.2));
    assert!(
        p.store().get("mask_token").unwrap().decayed(),
        "mask_token is decayed (3-D)"
    );
    assert!(s.get("patch_embed.proj.weight").unwrap().decayed());
    assert!(
        !s.get("norm.weight").unwrap().decayed()
            && !s.get("blocks.0.attn.qkv.bias").unwrap().decayed()
    );
}

#[test]
fn safetensors_round_trip_and_typed_load_errors() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("enc.safetensors");
    let a = VisionTransformer::new(small(), vec![], 1, true).unwrap();
    a.store().save_safetensors(&path, "encoder.", None).unwrap();
    let b = VisionTransformer::new(small(), vec![], 2, true).unwrap();
    b.load_safetensors(&path, "encoder.").unwrap();
    assert_eq!(
        a.store().flat().to_vec_f32().unwrap(),
        b.store().flat().to_vec_f32().unwrap()
    );
    let x = imgs(2, 9);
    close(
        &a.forward(&x).unwrap(),
        &b.forward(&x).unwrap(),
        0.0,
        "same weights, same output",
    );

    let mut map = jepa_engine::io::load(&path).unwrap();
    let orig = map.clone();
    map.remove("encoder.norm.bias");
    assert!(matches!(
        b.load_map(&map, "encoder.", "m"),
        Err(ModelError::MissingParam { .. })
    ));
    let mut map = orig.clone();
    map.insert(
        "encoder.norm.bias".into(),
        Tensor::zeros([31], jepa_engine::DType::F32, Device::Cpu).unwrap(),
    );
    assert!(matches!(
        b.load_map(&map, "encoder.", "m"),
        Err(ModelError::ParamShape { .. })
    ));
    let mut map = orig.clone();
    map.insert(
        "encoder.extra.weight".into(),
        Tensor::zeros([1], jepa_engine::DType::F32, Device::Cpu).unwrap(),
    );
    assert!(matches!(
        b.load_map(&map, "encoder.", "m"),
        Err(ModelError::UnknownParam { .. })
    ));
    let mut map = orig.clone();
    let pe = map["encoder.pos_embed"].affine(1.0, 0.01).unwrap();
    map.insert("encoder.pos_embed".into(), pe);
    assert!(matches!(
        b.load_map(&map, "encoder.", "m"),
        Err(ModelError::PosEmbedMismatch { .. })
    ));
    // DDP checkpoints carry a `module.` prefix.
    let ddp = orig
        .iter()
        .map(|(k, v)| (format!("module.{k}"), v.clone()))
        .collect();
    b.load_map(&ddp, "encoder.", "ddp").unwrap();
}

#[test]
fn recorded_and_frozen_forwards_agree() {
    let vit = VisionTransformer::new(small(), vec![], 11, true).unwrap();
    // Larger weights than the 0.02 init, so every block changes the tokens visibly.
    vit.store()
        .with_flat_mut(|f| f.iter_mut().for_each(|v| *v *= 10.0))
        .unwrap();
    let frozen = vit.frozen_copy().unwrap();
    let x = imgs(3, 1);
    let m = [masks(3, 16, 7, 2), masks(3, 16, 7, 3)];
    let extra = Tensor::randn([6, 2, 32], 0.0, 1.0, 4, Device::Cpu).unwrap();
    let add = Tensor::randn([6, 1, 32], 0.0, 1.0, 5, Device::Cpu).unwrap();
    let cases = [
        EncoderInputs {
            keep_blocks: true,
            ..Default::default()
        },
        EncoderInputs {
            masks: Some(&m),
            keep_blocks: true,
            ..Default::default()
        },
        EncoderInputs {
            masks: Some(&m),
            extra_tokens: Some(&extra),
            additive: Some(&add),
            keep_blocks: true,
        },
    ];
    for (i, inp) in cases.into_iter().enumerate() {
        let e = vit.forward_with(&x, inp).unwrap();
        let f = frozen.forward_with(&x, inp).unwrap();
        close(&e.out, &f.out, 2e-5, &format!("case {i} out"));
        close(
            e.tokens0.as_ref().unwrap(),
            f.tokens0.as_ref().unwrap(),
            1e-5,
            "tokens0",
        );
        for (a, b) in e.blocks.iter().zip(&f.blocks) {
            close(a, b, 1e-4, &format!("case {i} block"));
        }
        assert!(e.out.tracks_grad() && !f.out.tracks_grad());
    }
    let _g = no_grad();
    assert!(
        !vit.forward(&x).unwrap().tracks_grad(),
        "no_grad records nothing"
    );
}

#[test]
fn masked_forward_is_a_token_subset_model() {
    let vit = VisionTransformer::new(small(), vec![], 7, false).unwrap();
    vit.store()
        .with_flat_mut(|f| f.iter_mut().for_each(|v| *v *= 10.0))
        .unwrap();
    let x = imgs(2, 3);
    let full = vit.forward(&x).unwrap().to_vec_f32().unwrap();
    let all = RowIndex::new(2, 16, (0..2).flat_map(|_| 0..16).collect()).unwrap();
    let same = vit
        .forward_masked(&x, &[all])
        .unwrap()
        .to_vec_f32()
        .unwrap();
    assert_eq!(full, same, "keeping every patch is the full forward");
    // Attention is permutation-equivariant and the pos embed is added before the gather, so a
    // reordered index list only reorders the outputs.
    let perm: Vec<usize> = (0..16).rev().collect();
    let rev = RowIndex::new(2, 16, [perm.clone(), perm].concat()).unwrap();
    let out = vit
        .forward_masked(&x, &[rev])
        .unwrap()
        .to_vec_f32()
        .unwrap();
    for (b, t) in (0..2).flat_map(|b| (0..16).map(move |t| (b, t))) {
        let (o, f) = (
            &out[(b * 16 + t) * 32..][..32],
            &full[(b * 16 + 15 - t) * 32..][..32],
        );
        assert!(
            o.iter().zip(f).all(|(a, c)| (a - c).abs() < 1e-4),
            "{o:?} vs {f:?}"
        );
    }
    // A subset is NOT the gather of the full output (fewer tokens attend).
    let sub = vit.forward_masked(&x, &[masks(2, 16, 5, 1)]).unwrap();
    assert_eq!(sub.dims(), &[2, 5, 32]);
}

#[test]
fn predictor_target_blocks_are_independent_and_block_major() {
    let cfg = PredictorConfig::for_encoder(&small(), 16, 2);
    let pred = VisionTransformerPredictor::new(cfg, 3).unwrap();
    pred.store()
        .with_flat_mut(|f| f.iter_mut().for_each(|v| *v *= 10.0))
        .unwrap();
    let z = Tensor::randn([3, 6, 32], 0.0, 1.0, 1, Device::Cpu).unwrap();
    let me = [masks(3, 16, 6, 1)];
    let (a, b) = (masks(3, 16, 4, 2), masks(3, 16, 4, 3));
    let both = pred.forward(&z, &me, &[a.clone(), b.clone()]).unwrap();
    assert_eq!(both.dims(), &[6, 4, 32]);
    let ra = pred.forward(&z, &me, &[a]).unwrap().to_vec_f32().unwrap();
    let rb = pred.forward(&z, &me, &[b]).unwrap().to_vec_f32().unwrap();
    let both = both.to_vec_f32().unwrap();
    let n = ra.len();
    assert!(
        both[..n].iter().zip(&ra).all(|(x, y)| (x - y).abs() < 1e-5),
        "rows 0..B: block 0"
    );
    assert!(
        both[n..].iter().zip(&rb).all(|(x, y)| (x - y).abs() < 1e-5),
        "rows B..2B: block 1"
    );
}

#[test]
fn bad_inputs_are_typed_errors() {
    let vit = VisionTransformer::new(small(), vec![], 1, false).unwrap();
    let bad = Tensor::zeros([2, 3, 15, 16], jepa_engine::DType::F32, Device::Cpu).unwrap();
    assert!(matches!(vit.forward(&bad), Err(ModelError::Input(_))));
    let x = imgs(2, 1);
    let out_of_range = RowIndex::new(2, 1, vec![3, 16]).unwrap();
    assert!(matches!(
        vit.forward_masked(&x, &[out_of_range]),
        Err(ModelError::Mask(_))
    ));
    assert!(matches!(
        vit.forward_masked(&x, &[masks(3, 16, 4, 1)]),
        Err(ModelError::Mask(_))
    ));
    assert!(matches!(
        vit.forward_masked(&x, &[]),
        Err(ModelError::Mask(_))
    ));
    let uneven = [masks(2, 16, 4, 1), masks(2, 16, 5, 2)];
    assert!(matches!(
        vit.forward_masked(&x, &uneven),
        Err(ModelError::Mask(_))
    ));
    for bad in [
        VitConfig::custom(32, 1, 3, 16, 4),
        VitConfig::custom(32, 1, 2, 18, 4),
        VitConfig::custom(30, 1, 3, 16, 4),
    ] {
        assert!(matches!(
            VisionTransformer::new(bad, vec![], 0, false),
            Err(ModelError::Config(_))
        ));
    }
    let pred =
        VisionTransformerPredictor::new(PredictorConfig::for_encoder(&small(), 16, 1), 1).unwrap();
    let z = Tensor::zeros([2, 5, 32], jepa_engine::DType::F32, Device::Cpu).unwrap();
    let (me, mp) = ([masks(2, 16, 4, 1)], [masks(2, 16, 3, 2)]);
    assert!(
        matches!(pred.forward(&z, &me, &mp), Err(ModelError::Input(_))),
        "K_c mismatch"
    );
}
