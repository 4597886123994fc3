//! Image transforms to normalised CHW `f32` (methods.md §1.9 for training, §7 for evaluation).

use super::color;
use super::resize::{crop_resize, CropBox};
use super::{DataError, ImageU8};
use crate::rng::Rng;

/// Per-channel normalisation `(x / 255 − mean) / std`.
#[derive(Clone, Debug, PartialEq)]
pub struct Normalize {
    pub mean: Vec<f32>,
    pub std: Vec<f32>,
}

impl Normalize {
    /// ImageNet statistics (the official I-JEPA transform).
    pub fn imagenet() -> Self {
        Self {
            mean: vec![0.485, 0.456, 0.406],
            std: vec![0.229, 0.224, 0.225],
        }
    }

    /// ImageNet statistics collapsed to one channel (their mean), for 1-channel output.
    pub fn imagenet_grey() -> Self {
        Self {
            mean: vec![0.449],
            std: vec![0.226],
        }
    }

    /// No normalisation beyond scaling to `[0, 1]`.
    pub fn unit(channels: usize) -> Self {
        Self {
            mean: vec![0.0; channels],
            std: vec![1.0; channels],
        }
    }
}

/// Training augmentation: RandomResizedCrop (torchvision's sampling, PIL-style bilinear),
/// optional horizontal flip, optional VICReg-style colour jitter and random grayscale,
/// normalisation.
#[derive(Clone, Debug, PartialEq)]
pub struct TrainTransform {
    /// Output side (square output).
    pub size: usize,
    /// Crop area as a fraction of the image, `(0.3, 1.0)` in I-JEPA.
    pub scale: (f64, f64),
    /// Crop aspect ratio (width / height), sampled log-uniformly.
    pub ratio: (f64, f64),
    /// Flip left-right with probability 1/2 (off in official I-JEPA).
    pub hflip: bool,
    /// Output channels: 3 (grey input replicated) or 1 (RGB input reduced to luma).
    pub channels: usize,
    pub normalize: Normalize,
    /// Colour-jitter strength `s` in `[0, 1]` (0: off). With probability 0.8, torchvision
    /// `ColorJitter(0.4·s, 0.4·s, 0.2·s, 0.1·s)` in a random order (VICReg uses `s = 1`).
    pub color_jitter: f64,
    /// Probability in `[0, 1]` of replacing the image by its luma on all channels (VICReg: 0.2).
    pub grayscale: f64,
}

impl TrainTransform {
    /// The official I-JEPA training transform at `size` pixels.
    pub fn ijepa(size: usize) -> Self {
        Self {
            size,
            scale: (0.3, 1.0),
            ratio: (3.0 / 4.0, 4.0 / 3.0),
            hflip: false,
            channels: 3,
            normalize: Normalize::imagenet(),
            color_jitter: 0.0,
            grayscale: 0.0,
        }
    }

    /// torchvision `RandomResizedCrop.get_params`: ten tries at a random area and log-uniform
    /// aspect ratio, then a centre crop clamped to the ratio range. Python's `round` is
    /// half-to-even, hence `round_ties_even`.
    fn sample_crop(&self, h: usize, w: usize, rng: &mut Rng) -> CropBox {
        let area = (h * w) as f64;
        let (lr0, lr1) = (self.ratio.0.ln(), self.ratio.1.ln());
        for _ in 0..10 {
            let target = area * rng.uniform(self.scale.0, self.scale.1);
            let aspect = rng.uniform(lr0, lr1).exp();
            let cw = (target * aspect).sqrt().round_ties_even();
            let ch = (target / aspect).sqrt().round_ties_even();
            if cw >= 1.0 && ch >= 1.0 && cw <= w as f64 && ch <= h as f64 {
                let (cw, ch) = (cw as usize, ch as usize);
                let top = rng.index(h - ch + 1);
                let left = rng.index(w - cw + 1);
                return CropBox {
                    top,
                    left,
                    height: ch,
                    width: cw,
                };
            }
        }
        let in_ratio = w as f64 / h as f64;
        let (ch, cw) = if in_ratio < self.ratio.0 {
            ((w as f64 / self.ratio.0).round_ties_even() as usize, w)
        } else if in_ratio > self.ratio.1 {
            (h, (h as f64 * self.ratio.1).round_ties_even() as usize)
        } else {
            (h, w)
        };
        let (ch, cw) = (ch.clamp(1, h), cw.clamp(1, w));
        CropBox {
            top: (h - ch) / 2,
            left: (w - cw) / 2,
            height: ch,
            width: cw,
        }
    }
}

/// Evaluation transform: resize the shorter side to `resize`, then centre-crop `crop × crop`.
#[derive(Clone, Debug, PartialEq)]
pub struct EvalTransform {
    pub resize: usize,
    pub crop: usize,
    pub channels: usize,
    pub normalize: Normalize,
}

impl EvalTransform {
    /// Resize to `size` and keep it whole (for images already at the model's resolution).
    pub fn plain(size: usize) -> Self {
        Self {
            resize: size,
            crop: size,
            channels: 3,
            normalize: Normalize::imagenet(),
        }
    }
}

/// Either transform; the loader applies one to every sample.
#[derive(Clone, Debug, PartialEq)]
pub enum Transform {
    Train(TrainTransform),
    Eval(EvalTransform),
}

impl Transform {
    /// Output `[channels, height, width]`.
    pub fn output_shape(&self) -> [usize; 3] {
        match self {
            Self::Train(t) => [t.channels, t.size, t.size],
            Self::Eval(e) => [e.channels, e.crop, e.crop],
        }
    }

    /// Checks sizes, ranges and that the normalisation matches the channel count.
    pub fn validate(&self) -> Result<(), DataError> {
        let bad = |m: String| Err(DataError::InvalidConfig(m));
        let (channels, norm) = match self {
            Self::Train(t) => {
                let (s0, s1) = t.scale;
                let (r0, r1) = t.ratio;
                if t.size == 0 || !(0.0 < s0 && s0 <= s1 && s1 <= 1.0) {
                    return bad(format!("train size {} / scale ({s0}, {s1})", t.size));
                }
                if !(r0.is_finite() && r1.is_finite() && 0.0 < r0 && r0 <= r1) {
                    return bad(format!("train ratio ({r0}, {r1})"));
                }
                // `contains` is false for NaN, so this also rejects non-numbers.
                if !(0.0..=1.0).contains(&t.color_jitter) || !(0.0..=1.0).contains(&t.grayscale) {
                    return bad(format!(
                        "colour jitter strength {} / grayscale probability {} outside [0, 1]",
                        t.color_jitter, t.grayscale
                    ));
                }
                (t.channels, &t.normalize)
            }
            Self::Eval(e) => {
                if e.crop == 0 || e.resize < e.crop {
                    return bad(format!("eval resize {} / crop {}", e.resize, e.crop));
                }
                (e.channels, &e.normalize)
            }
        };
        if !matches!(channels, 1 | 3) {
            return bad(format!("output channels {channels}, expected 1 or 3"));
        }
        let std_ok = norm.std.iter().all(|s| s.is_finite() && *s != 0.0);
        if norm.mean.len() != channels || norm.std.len() != channels || !std_ok {
            return bad(format!("normalisation {norm:?} for {channels} channels"));
        }
        Ok(())
    }

    /// Transforms one image to normalised CHW `f32`. `rng` drives the random crop and flip, then
    /// the colour jitter and grayscale draws; a transform without colour augmentation makes
    /// exactly the crop and flip draws.
    pub fn apply(&self, img: &ImageU8, rng: &mut Rng) -> Result<Vec<f32>, DataError> {
        self.validate()?;
        img.check()?;
        let (planes, out_h, out_w, flip, channels, norm) = match self {
            Self::Train(t) => {
                let crop = t.sample_crop(img.height, img.width, rng);
                let flip = t.hflip && rng.bernoulli(0.5);
                let planes = crop_resize(img, crop, t.size, t.size);
                (planes, t.size, t.size, flip, t.channels, &t.normalize)
            }
            Self::Eval(e) => {
                let planes = resize_centre_crop(img, e.resize, e.crop);
                (planes, e.crop, e.crop, false, e.channels, &e.normalize)
            }
        };
        let hw = out_h * out_w;
        let mut planes = convert_channels(planes, img.channels, channels, hw);
        if flip {
            for row in planes.chunks_exact_mut(out_w) {
                row.reverse();
            }
        }
        // Scaling to [0, 1] and then normalising rounds exactly as the one-expression
        // `(x / 255 − mean) / std` did, so outputs without colour draws keep their bits.
        planes.iter_mut().for_each(|v| *v /= 255.0);
        if let Self::Train(t) = self {
            let ops = color::draw_jitter(t.color_jitter, rng);
            color::apply_ops(&mut planes, channels, hw, &ops);
            if t.grayscale > 0.0 && rng.bernoulli(t.grayscale) {
                color::to_grayscale(&mut planes, channels, hw);
            }
        }
        for (ch, plane) in planes.chunks_exact_mut(hw).enumerate() {
            let (m, s) = (norm.mean[ch], norm.std[ch]);
            plane.iter_mut().for_each(|v| *v = (*v - m) / s);
        }
        Ok(planes)
    }
}

/// torchvision `Resize(resize)` then `CenterCrop(crop)`: the shorter side becomes `resize`, the
/// longer one `⌊resize · long / short⌋`, and the central `crop × crop` is kept.
fn resize_centre_crop(img: &ImageU8, resize: usize, crop: usize) -> Vec<f32> {
    let (h, w) = (img.height, img.width);
    let (rh, rw) = if h <= w {
        (resize, (w * resize / h).max(resize))
    } else {
        ((h * resize / w).max(resize), resize)
    };
    let full = CropBox {
        top: 0,
        left: 0,
        height: h,
        width: w,
    };
    let resized = crop_resize(img, full, rh, rw);
    // torchvision CenterCrop: offsets round((size - crop) / 2).
    let top = ((rh - crop) as f64 / 2.0).round_ties_even() as usize;
    let left = ((rw - crop) as f64 / 2.0).round_ties_even() as usize;
    let mut out = Vec::with_capacity(img.channels * crop * crop);
    for plane in resized.chunks_exact(rh * rw) {
        for y in top..top + crop {
            out.extend_from_slice(&plane[y * rw + left..y * rw + left + crop]);
        }
    }
    out
}

/// Grey → RGB by replication, RGB → grey by ITU-R 601 luma (PIL's "L" conversion).
fn convert_channels(planes: Vec<f32>, from: usize, to: usize, hw: usize) -> Vec<f32> {
    match (from, to) {
        (1, 3) => planes.repeat(3),
        (3, 1) => (0..hw)
            .map(|i| 0.299 * planes[i] + 0.587 * planes[hw + i] + 0.114 * planes[2 * hw + i])
            .collect(),
        _ => planes,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_resized_crop_respects_bounds_scale_and_ratio() {
        let t = TrainTransform::ijepa(32);
        let mut rng = Rng::new(5);
        let (h, w) = (60, 80);
        let mut areas = Vec::new();
        for _ in 0..2000 {
            let c = t.sample_crop(h, w, &mut rng);
            assert!(c.height >= 1 && c.width >= 1);
            assert!(c.top + c.height <= h && c.left + c.width <= w, "{c:?}");
            let frac = (c.height * c.width) as f64 / (h * w) as f64;
            let ratio = c.width as f64 / c.height as f64;
            // Rounding the sides to integers moves area and ratio slightly off the ranges.
            assert!((0.28..=1.0).contains(&frac), "area fraction {frac}");
            assert!((0.72..=1.37).contains(&ratio), "ratio {ratio}");
            areas.push(frac);
        }
        let mean = areas.iter().sum::<f64>() / areas.len() as f64;
        assert!((0.55..0.7).contains(&mean), "mean area fraction {mean}");
    }

    #[test]
    fn impossible_ratio_falls_back_to_a_centre_crop() {
        let mut t = TrainTransform::ijepa(8);
        t.ratio = (4.0, 5.0); // a 10x10 image cannot hold a 4:1 crop of >= 30% area
        let c = t.sample_crop(10, 10, &mut Rng::new(0));
        assert_eq!(
            c,
            CropBox {
                top: 4,
                left: 0,
                height: 2,
                width: 10
            }
        );
    }

    #[test]
    fn without_colour_augmentation_only_the_crop_is_drawn() {
        // The pre-colour transform: crop, resize, `(x / 255 − mean) / std` in one expression.
        let img = ImageU8::new(
            20,
            24,
            3,
            (0..20 * 24 * 3).map(|i| (i * 7 % 256) as u8).collect(),
        )
        .unwrap();
        let t = TrainTransform::ijepa(8);
        for seed in 0..8 {
            let mut plain = Rng::new(seed);
            let crop = t.sample_crop(20, 24, &mut plain);
            let mut want = crop_resize(&img, crop, 8, 8);
            for (ch, plane) in want.chunks_exact_mut(64).enumerate() {
                let (m, s) = (t.normalize.mean[ch], t.normalize.std[ch]);
                plane.iter_mut().for_each(|v| *v = (*v / 255.0 - m) / s);
            }
            let mut rng = Rng::new(seed);
            let got = Transform::Train(t.clone()).apply(&img, &mut rng).unwrap();
            let same = got
                .iter()
                .zip(&want)
                .all(|(a, b)| a.to_bits() == b.to_bits());
            assert!(same && got.len() == want.len(), "seed {seed}");
            assert_eq!(rng.state(), plain.state(), "no draw beyond the crop");
        }
    }
}
