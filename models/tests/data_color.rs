//! VICReg-style colour augmentation of the training transform: grayscale, range, determinism,
//! that it is off by default and that bad strengths are typed errors.

use jepa_models::data::{DataError, ImageU8, Normalize, TrainTransform, Transform};
use jepa_models::rng::Rng;

fn noise(h: usize, w: usize, c: usize, seed: u64) -> ImageU8 {
    let mut r = Rng::new(seed);
    let data = (0..h * w * c).map(|_| r.below(256) as u8).collect();
    ImageU8::new(h, w, c, data).unwrap()
}

/// A 16 px training transform with `[0, 1]` output (no mean / std) and the given colour settings.
fn unit(color_jitter: f64, grayscale: f64) -> Transform {
    let mut t = TrainTransform::ijepa(16);
    t.normalize = Normalize::unit(3);
    (t.color_jitter, t.grayscale) = (color_jitter, grayscale);
    Transform::Train(t)
}

#[test]
fn ijepa_transform_has_no_colour_augmentation() {
    let t = TrainTransform::ijepa(32);
    assert_eq!((t.color_jitter, t.grayscale), (0.0, 0.0));
}

#[test]
fn grayscale_one_makes_the_channels_equal() {
    let img = noise(24, 20, 3, 1);
    for seed in 0..4 {
        for jitter in [0.0, 1.0] {
            let out = unit(jitter, 1.0).apply(&img, &mut Rng::new(seed)).unwrap();
            let (r, rest) = out.split_at(256);
            let (g, b) = rest.split_at(256);
            assert!(r == g && g == b, "seed {seed}, jitter {jitter}");
            assert!(
                r.iter().any(|&v| v != r[0]),
                "still an image, not a constant"
            );
        }
    }
}

#[test]
fn jittered_outputs_stay_in_range_and_change_the_colours() {
    let plain = unit(0.0, 0.0);
    let jittered = unit(1.0, 0.2);
    let mut changed = 0;
    for seed in 0..40 {
        let img = noise(20, 20, 3, seed);
        let a = jittered.apply(&img, &mut Rng::new(seed)).unwrap();
        assert!(a.iter().all(|v| (0.0..=1.0).contains(v)), "seed {seed}");
        // Colour draws come after the crop, so the crop is the same and only colours differ.
        let b = plain.apply(&img, &mut Rng::new(seed)).unwrap();
        changed += usize::from(a != b);
    }
    // Jitter applies with probability 0.8 and grayscale with 0.2: unchanged ≈ 0.2 · 0.8 of runs.
    assert!((24..=40).contains(&changed), "{changed} of 40 changed");
}

#[test]
fn grey_output_with_jitter_stays_in_range() {
    let mut t = TrainTransform::ijepa(16);
    (t.channels, t.normalize, t.color_jitter, t.grayscale) = (1, Normalize::unit(1), 1.0, 0.5);
    let img = noise(16, 16, 3, 4);
    for seed in 0..10 {
        let out = Transform::Train(t.clone())
            .apply(&img, &mut Rng::new(seed))
            .unwrap();
        assert_eq!(out.len(), 256);
        assert!(out.iter().all(|v| (0.0..=1.0).contains(v)));
    }
}

#[test]
fn colour_augmentation_is_deterministic_for_a_seed() {
    let img = noise(20, 28, 3, 2);
    let t = unit(0.7, 0.3);
    let a = t.apply(&img, &mut Rng::new(5)).unwrap();
    assert_eq!(a, t.apply(&img, &mut Rng::new(5)).unwrap());
    let others = (6..12).filter(|&s| t.apply(&img, &mut Rng::new(s)).unwrap() != a);
    assert_eq!(others.count(), 6, "other seeds give other outputs");
}

#[test]
fn out_of_range_strengths_are_config_errors() {
    let img = noise(8, 8, 3, 0);
    for (s, p) in [
        (1.5, 0.0),
        (-0.1, 0.0),
        (f64::NAN, 0.0),
        (0.0, 2.0),
        (0.0, f64::NAN),
    ] {
        let t = unit(s, p);
        assert!(
            matches!(t.validate(), Err(DataError::InvalidConfig(_))),
            "{s} {p}"
        );
        assert!(matches!(
            t.apply(&img, &mut Rng::new(0)),
            Err(DataError::InvalidConfig(_))
        ));
    }
    assert!(unit(1.0, 1.0).validate().is_ok());
}
