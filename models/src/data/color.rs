//! VICReg-style colour augmentation on CHW `f32` planes in `[0, 1]` (methods.md §4.3):
//! torchvision's `RandomApply(ColorJitter, p = 0.8)` and `RandomGrayscale`, with the float
//! tensor semantics of `torchvision.transforms.functional` (every blend clamps to `[0, 1]`).
//!
//! Hue goes through an RGB → HSV → RGB round trip, the way torchvision's tensor `adjust_hue`
//! does it (not a YIQ rotation), so a hue factor means the same shift as in the reference code.

use crate::rng::Rng;

/// Probability that the jitter is applied at all (VICReg's `RandomApply(..., p = 0.8)`).
const JITTER_PROB: f64 = 0.8;

/// ITU-R 601 luma, the same weights as the channel conversion (PIL's "L" mode).
fn luma(r: f32, g: f32, b: f32) -> f32 {
    0.299 * r + 0.587 * g + 0.114 * b
}

/// One colour operation with its drawn factor.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum ColorOp {
    Brightness(f32),
    Contrast(f32),
    Saturation(f32),
    Hue(f32),
}

/// Draws the jitter of strength `s` exactly as torchvision's `ColorJitter.get_params` orders its
/// draws: the permutation of the four operations first, then the factors brightness, contrast,
/// saturation (uniform in `[1 − a, 1 + a]`) and hue (uniform in `[−a, a]`). Empty when the
/// jitter is skipped this time (probability 0.2) and, without any draw, when `s == 0`.
pub(crate) fn draw_jitter(s: f64, rng: &mut Rng) -> Vec<ColorOp> {
    if s <= 0.0 || !rng.bernoulli(JITTER_PROB) {
        return Vec::new();
    }
    let mut order = [0usize, 1, 2, 3];
    rng.shuffle(&mut order);
    let (b, c, sat, h) = (0.4 * s, 0.4 * s, 0.2 * s, 0.1 * s);
    let factors = [
        ColorOp::Brightness(rng.uniform(1.0 - b, 1.0 + b) as f32),
        ColorOp::Contrast(rng.uniform(1.0 - c, 1.0 + c) as f32),
        ColorOp::Saturation(rng.uniform(1.0 - sat, 1.0 + sat) as f32),
        ColorOp::Hue(rng.uniform(-h, h) as f32),
    ];
    order.iter().map(|&k| factors[k]).collect()
}

/// Applies `ops` in order to `channels` (1 or 3) planes of `hw` pixels each. Saturation and hue
/// leave a single channel unchanged, as torchvision's tensor functions do.
pub(crate) fn apply_ops(planes: &mut [f32], channels: usize, hw: usize, ops: &[ColorOp]) {
    for op in ops {
        match *op {
            ColorOp::Brightness(f) => blend_const(planes, f, 0.0),
            ColorOp::Contrast(f) => {
                let mean = grey_mean(planes, channels, hw);
                blend_const(planes, f, mean);
            }
            ColorOp::Saturation(f) if channels == 3 => saturate(planes, hw, f),
            ColorOp::Hue(f) if channels == 3 => shift_hue(planes, hw, f),
            ColorOp::Saturation(_) | ColorOp::Hue(_) => {}
        }
    }
}

/// Replaces three RGB planes by their luma, replicated (torchvision `Grayscale(3)`); a single
/// channel is already grey.
pub(crate) fn to_grayscale(planes: &mut [f32], channels: usize, hw: usize) {
    if channels != 3 {
        return;
    }
    let (r, rest) = planes.split_at_mut(hw);
    let (g, b) = rest.split_at_mut(hw);
    for i in 0..hw {
        let y = luma(r[i], g[i], b[i]);
        (r[i], g[i], b[i]) = (y, y, y);
    }
}

/// torchvision `_blend(img, other, f)` with a constant `other`: `clamp(f·x + (1 − f)·other)`.
fn blend_const(planes: &mut [f32], f: f32, other: f32) {
    let add = (1.0 - f) * other;
    for v in planes {
        *v = (f * *v + add).clamp(0.0, 1.0);
    }
}

/// Mean of the image's grey version (all pixels, all channels folded through the luma).
fn grey_mean(planes: &[f32], channels: usize, hw: usize) -> f32 {
    if hw == 0 {
        return 0.0;
    }
    let sum: f64 = if channels == 3 {
        (0..hw)
            .map(|i| f64::from(luma(planes[i], planes[hw + i], planes[2 * hw + i])))
            .sum()
    } else {
        planes[..hw].iter().map(|&v| f64::from(v)).sum()
    };
    (sum / hw as f64) as f32
}

/// Blend every pixel with its own luma: `f = 0` is grey, `f = 1` the identity.
fn saturate(planes: &mut [f32], hw: usize, f: f32) {
    let (r, rest) = planes.split_at_mut(hw);
    let (g, b) = rest.split_at_mut(hw);
    for i in 0..hw {
        let add = (1.0 - f) * luma(r[i], g[i], b[i]);
        r[i] = (f * r[i] + add).clamp(0.0, 1.0);
        g[i] = (f * g[i] + add).clamp(0.0, 1.0);
        b[i] = (f * b[i] + add).clamp(0.0, 1.0);
    }
}

/// Rotates the hue by `shift` turns (in `[−0.5, 0.5]`) through HSV.
fn shift_hue(planes: &mut [f32], hw: usize, shift: f32) {
    let (r, rest) = planes.split_at_mut(hw);
    let (g, b) = rest.split_at_mut(hw);
    for i in 0..hw {
        let (h, s, v) = rgb_to_hsv(r[i], g[i], b[i]);
        let h = (h + shift).rem_euclid(1.0);
        (r[i], g[i], b[i]) = hsv_to_rgb(h, s, v);
    }
}

/// torchvision `_rgb2hsv`: hue in `[0, 1)`, grey pixels get hue 0 and saturation 0.
pub(crate) fn rgb_to_hsv(r: f32, g: f32, b: f32) -> (f32, f32, f32) {
    let maxc = r.max(g).max(b);
    let minc = r.min(g).min(b);
    let cr = maxc - minc;
    if cr == 0.0 {
        return (0.0, 0.0, maxc);
    }
    let s = if maxc > 0.0 { cr / maxc } else { 0.0 };
    let (rc, gc, bc) = ((maxc - r) / cr, (maxc - g) / cr, (maxc - b) / cr);
    let h = if maxc == r {
        bc - gc
    } else if maxc == g {
        2.0 + rc - bc
    } else {
        4.0 + gc - rc
    };
    ((h / 6.0 + 1.0).rem_euclid(1.0), s, maxc)
}

/// torchvision `_hsv2rgb` (sector by sector, intermediate values clamped to `[0, 1]`).
pub(crate) fn hsv_to_rgb(h: f32, s: f32, v: f32) -> (f32, f32, f32) {
    let h6 = h * 6.0;
    let sector = h6.floor();
    let f = h6 - sector;
    let p = (v * (1.0 - s)).clamp(0.0, 1.0);
    let q = (v * (1.0 - s * f)).clamp(0.0, 1.0);
    let t = (v * (1.0 - s * (1.0 - f))).clamp(0.0, 1.0);
    match (sector as i64).rem_euclid(6) {
        0 => (v, t, p),
        1 => (q, v, p),
        2 => (p, v, t),
        3 => (p, q, v),
        4 => (t, p, v),
        _ => (v, p, q),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f32, b: f32) -> bool {
        (a - b).abs() < 1e-6
    }

    /// Two RGB pixels: (0.2, 0.4, 0.6) and (0.8, 0.5, 0.1).
    fn two_pixels() -> Vec<f32> {
        vec![0.2, 0.8, 0.4, 0.5, 0.6, 0.1]
    }

    #[test]
    fn brightness_scales_and_clamps() {
        let mut p = two_pixels();
        apply_ops(&mut p, 3, 2, &[ColorOp::Brightness(1.5)]);
        let want = [0.3, 1.0, 0.6, 0.75, 0.9, 0.15]; // 0.8 · 1.5 = 1.2 clamps to 1
        assert!(p.iter().zip(want).all(|(&a, b)| close(a, b)), "{p:?}");
    }

    #[test]
    fn contrast_blends_with_the_grey_mean() {
        // Lumas: 0.299·0.2 + 0.587·0.4 + 0.114·0.6 = 0.3630 and
        // 0.299·0.8 + 0.587·0.5 + 0.114·0.1 = 0.5441; mean 0.45355.
        let mut p = two_pixels();
        apply_ops(&mut p, 3, 2, &[ColorOp::Contrast(0.5)]);
        let m = 0.45355f32;
        let want: Vec<f32> = two_pixels().iter().map(|&x| 0.5 * x + 0.5 * m).collect();
        assert!(p.iter().zip(&want).all(|(&a, &b)| close(a, b)), "{p:?}");
    }

    #[test]
    fn saturation_blends_each_pixel_with_its_luma() {
        let mut p = two_pixels();
        apply_ops(&mut p, 3, 2, &[ColorOp::Saturation(0.0)]);
        for (i, y) in [0.3630f32, 0.5441].into_iter().enumerate() {
            assert!(
                close(p[i], y) && close(p[2 + i], y) && close(p[4 + i], y),
                "{p:?}"
            );
        }
        let mut q = two_pixels();
        apply_ops(&mut q, 3, 2, &[ColorOp::Saturation(2.0)]);
        // 2·0.2 − 0.3630 = 0.037; 2·0.8 − 0.5441 = 1.0559 clamps to 1.
        assert!(close(q[0], 0.037) && q[1] == 1.0, "{q:?}");
    }

    #[test]
    fn hsv_round_trip_and_hue_shift() {
        for (r, g, b) in [
            (0.2, 0.4, 0.6),
            (0.8, 0.5, 0.1),
            (0.3, 0.3, 0.3),
            (1.0, 0.0, 0.5),
        ] {
            let (h, s, v) = rgb_to_hsv(r, g, b);
            assert!((0.0..1.0).contains(&h) && (0.0..=1.0).contains(&s));
            let (r2, g2, b2) = hsv_to_rgb(h, s, v);
            assert!(
                (r - r2).abs() < 1e-5 && (g - g2).abs() < 1e-5 && (b - b2).abs() < 1e-5,
                "{:?}",
                (r, g, b, r2, g2, b2)
            );
        }
        // Pure red shifted by a third of a turn is pure green.
        let mut p = vec![1.0, 0.0, 0.0];
        apply_ops(&mut p, 3, 1, &[ColorOp::Hue(1.0 / 3.0)]);
        assert!(
            close(p[0], 0.0) && close(p[1], 1.0) && close(p[2], 0.0),
            "{p:?}"
        );
    }

    #[test]
    fn zero_strength_draws_nothing_and_single_channel_ignores_colour_ops() {
        let mut rng = Rng::new(3);
        let before = rng.state();
        assert!(draw_jitter(0.0, &mut rng).is_empty());
        assert_eq!(rng.state(), before);
        let mut p = vec![0.1, 0.7];
        apply_ops(&mut p, 1, 2, &[ColorOp::Saturation(0.0), ColorOp::Hue(0.3)]);
        assert_eq!(p, [0.1, 0.7]);
    }

    #[test]
    fn jitter_draws_follow_the_strength_and_probability() {
        let mut rng = Rng::new(9);
        let mut applied = 0;
        for _ in 0..1000 {
            let ops = draw_jitter(0.5, &mut rng);
            if ops.is_empty() {
                continue;
            }
            applied += 1;
            assert_eq!(ops.len(), 4);
            for op in ops {
                let ok = match op {
                    ColorOp::Brightness(f) | ColorOp::Contrast(f) => (0.8..=1.2).contains(&f),
                    ColorOp::Saturation(f) => (0.9..=1.1).contains(&f),
                    ColorOp::Hue(f) => (-0.05..=0.05).contains(&f),
                };
                assert!(ok, "{op:?}");
            }
        }
        assert!((740..860).contains(&applied), "applied {applied} of 1000");
    }
}
