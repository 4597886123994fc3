//! Transforms: shapes, normalisation values and statistics, crops, flips, channel conversion.

use jepa_models::data::{EvalTransform, ImageU8, Normalize, TrainTransform, Transform};
use jepa_models::rng::Rng;

fn noise(h: usize, w: usize, c: usize, seed: u64) -> ImageU8 {
    let mut r = Rng::new(seed);
    ImageU8::new(
        h,
        w,
        c,
        (0..h * w * c).map(|_| r.below(256) as u8).collect(),
    )
    .unwrap()
}

fn channel_mean(v: &[f32], plane: usize, ch: usize) -> f64 {
    v[ch * plane..(ch + 1) * plane]
        .iter()
        .map(|&x| f64::from(x))
        .sum::<f64>()
        / plane as f64
}

#[test]
fn eval_at_native_size_is_exact_normalisation() {
    let img = noise(32, 32, 3, 1);
    let t = Transform::Eval(EvalTransform::plain(32));
    let out = t.apply(&img, &mut Rng::new(0)).unwrap();
    assert_eq!(out.len(), 3 * 32 * 32);
    let n = Normalize::imagenet();
    for (y, x, c) in [(0, 0, 0), (5, 17, 1), (31, 31, 2)] {
        let want = (f32::from(img.data[(y * 32 + x) * 3 + c]) / 255.0 - n.mean[c]) / n.std[c];
        let got = out[c * 1024 + y * 32 + x];
        assert!((got - want).abs() < 1e-4, "({y},{x},{c}): {got} vs {want}");
    }
}

#[test]
fn normalised_noise_has_the_expected_statistics() {
    // Uniform bytes have mean 127.5 and std ≈ 73.9; after normalisation channel c has mean
    // (0.5 - mean_c) / std_c and std (73.9 / 255) / std_c.
    let img = noise(64, 64, 3, 2);
    let out = Transform::Eval(EvalTransform::plain(64))
        .apply(&img, &mut Rng::new(0))
        .unwrap();
    let n = Normalize::imagenet();
    for c in 0..3 {
        let m = channel_mean(&out, 4096, c);
        let var = out[c * 4096..(c + 1) * 4096]
            .iter()
            .map(|&x| (f64::from(x) - m).powi(2))
            .sum::<f64>()
            / 4096.0;
        let want_m = (0.5 - f64::from(n.mean[c])) / f64::from(n.std[c]);
        let want_s = 73.9 / 255.0 / f64::from(n.std[c]);
        assert!(
            (m - want_m).abs() < 0.05,
            "channel {c} mean {m} vs {want_m}"
        );
        assert!(
            (var.sqrt() - want_s).abs() < 0.05,
            "channel {c} std {} vs {want_s}",
            var.sqrt()
        );
    }
}

#[test]
fn train_crop_has_fixed_output_shape_and_varies_with_rng() {
    let img = noise(40, 56, 3, 3);
    let t = Transform::Train(TrainTransform::ijepa(32));
    assert_eq!(t.output_shape(), [3, 32, 32]);
    let a = t.apply(&img, &mut Rng::new(1)).unwrap();
    let b = t.apply(&img, &mut Rng::new(1)).unwrap();
    let c = t.apply(&img, &mut Rng::new(2)).unwrap();
    assert_eq!(a.len(), 3 * 32 * 32);
    assert_eq!(a, b, "same rng, same crop");
    assert_ne!(a, c, "different rng, different crop");
    assert!(a.iter().all(|v| v.is_finite() && v.abs() < 3.0));
}

#[test]
fn full_crop_without_resize_is_identity_and_flip_mirrors() {
    let img = noise(16, 16, 3, 4);
    let mut t = TrainTransform::ijepa(16);
    (t.scale, t.ratio) = ((1.0, 1.0), (1.0, 1.0));
    let plain = Transform::Eval(EvalTransform::plain(16))
        .apply(&img, &mut Rng::new(0))
        .unwrap();
    let crop = Transform::Train(t.clone())
        .apply(&img, &mut Rng::new(0))
        .unwrap();
    assert!(crop.iter().zip(&plain).all(|(a, b)| (a - b).abs() < 1e-4));
    t.hflip = true;
    let tf = Transform::Train(t);
    let (mut flipped, mut kept) = (0, 0);
    for seed in 0..40 {
        let out = tf.apply(&img, &mut Rng::new(seed)).unwrap();
        if (out[0] - plain[0]).abs() < 1e-4 && (out[15] - plain[15]).abs() < 1e-4 {
            kept += 1;
        } else {
            assert!((out[0] - plain[15]).abs() < 1e-4 && (out[15] - plain[0]).abs() < 1e-4);
            flipped += 1;
        }
    }
    assert!(flipped > 5 && kept > 5, "flipped {flipped}, kept {kept}");
}

#[test]
fn grey_replicates_to_rgb_or_stays_single_channel() {
    let img = noise(28, 28, 1, 5);
    let mut e = EvalTransform::plain(28);
    e.normalize = Normalize::unit(3);
    let out = Transform::Eval(e.clone())
        .apply(&img, &mut Rng::new(0))
        .unwrap();
    assert_eq!(out.len(), 3 * 784);
    assert_eq!(out[..784], out[784..1568]);
    assert!((out[100] - f32::from(img.data[100]) / 255.0).abs() < 1e-6);
    e.channels = 1;
    e.normalize = Normalize::imagenet_grey();
    let one = Transform::Eval(e).apply(&img, &mut Rng::new(0)).unwrap();
    assert_eq!(one.len(), 784);
    // RGB → grey uses luma weights: a pure-red image becomes 0.299 of its intensity.
    let red = ImageU8::new(2, 2, 3, [255, 0, 0].repeat(4)).unwrap();
    let mut g = EvalTransform::plain(2);
    (g.channels, g.normalize) = (1, Normalize::unit(1));
    let out = Transform::Eval(g).apply(&red, &mut Rng::new(0)).unwrap();
    assert!(out.iter().all(|&v| (v - 0.299).abs() < 1e-5), "{out:?}");
}

#[test]
fn eval_resizes_shorter_side_then_centre_crops() {
    // Left half black, right half white, 20x40: after resize to 10x20 and a 10x10 centre crop,
    // columns 0-4 are dark and 5-9 bright.
    let data: Vec<u8> = (0..20 * 40)
        .map(|i| if i % 40 < 20 { 0 } else { 255 })
        .collect();
    let img = ImageU8::new(20, 40, 1, data).unwrap();
    let e = EvalTransform {
        resize: 10,
        crop: 10,
        channels: 1,
        normalize: Normalize::unit(1),
    };
    let out = Transform::Eval(e).apply(&img, &mut Rng::new(0)).unwrap();
    assert_eq!(out.len(), 100);
    assert!(out[3] < 0.05 && out[6] > 0.95, "{:?}", &out[..10]);
}

#[test]
fn invalid_settings_and_images_are_errors() {
    let img = noise(8, 8, 3, 6);
    let mut t = TrainTransform::ijepa(8);
    t.scale = (0.5, 0.2);
    assert!(Transform::Train(t).apply(&img, &mut Rng::new(0)).is_err());
    let mut e = EvalTransform::plain(8);
    e.normalize = Normalize::unit(1);
    assert!(Transform::Eval(e).apply(&img, &mut Rng::new(0)).is_err());
    let broken = ImageU8 {
        height: 8,
        width: 8,
        channels: 3,
        data: vec![0; 10],
    };
    let ok = Transform::Eval(EvalTransform::plain(8));
    assert!(ok.apply(&broken, &mut Rng::new(0)).is_err());
}
