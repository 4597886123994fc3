//! Separable bilinear resampling with PIL's antialiasing (triangle filter widened by the
//! downscale factor), the behaviour torchvision's `Resize`/`RandomResizedCrop` have on PIL images.
//! For upscaling it is ordinary half-pixel-centred bilinear with edge clamping.

use super::ImageU8;

/// Filter taps of one output sample: weights for source samples `first .. first + w.len()`.
struct Tap {
    first: usize,
    weights: Vec<f32>,
}

fn triangle(x: f64) -> f64 {
    (1.0 - x.abs()).max(0.0)
}

/// Taps resampling `in_len` samples to `out_len` (both >= 1).
fn taps(in_len: usize, out_len: usize) -> Vec<Tap> {
    let scale = in_len as f64 / out_len as f64;
    let filter_scale = scale.max(1.0);
    let support = filter_scale; // bilinear support is 1, widened when shrinking
    (0..out_len)
        .map(|i| {
            let center = (i as f64 + 0.5) * scale;
            let lo = ((center - support + 0.5).floor().max(0.0)) as usize;
            let hi = ((center + support + 0.5).floor() as usize)
                .min(in_len)
                .max(lo + 1);
            let raw: Vec<f64> = (lo..hi)
                .map(|x| triangle((x as f64 - center + 0.5) / filter_scale))
                .collect();
            let sum: f64 = raw.iter().sum();
            let weights = if sum > 0.0 {
                raw.iter().map(|w| (w / sum) as f32).collect()
            } else {
                // Cannot happen for hi > lo around the centre; fall back to nearest sample.
                let mut w = vec![0.0; raw.len()];
                w[0] = 1.0;
                w
            };
            Tap { first: lo, weights }
        })
        .collect()
}

/// A crop rectangle in pixels: `top`, `left`, `height`, `width` (all inside the image).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CropBox {
    pub top: usize,
    pub left: usize,
    pub height: usize,
    pub width: usize,
}

/// Crops `img` to `crop` and resamples it to `out_h × out_w`, returning planar CHW `f32` in
/// `[0, 255]` with `img.channels` planes. The caller guarantees a non-empty crop inside the image
/// and non-zero output sizes.
pub fn crop_resize(img: &ImageU8, crop: CropBox, out_h: usize, out_w: usize) -> Vec<f32> {
    let c = img.channels;
    let hx = taps(crop.width, out_w);
    let vy = taps(crop.height, out_h);
    let mut out = vec![0.0f32; c * out_h * out_w];
    // Horizontal pass over the crop rows into `tmp[ch][y][ox]`, then vertical into `out`.
    let mut tmp = vec![0.0f32; c * crop.height * out_w];
    for y in 0..crop.height {
        let row = &img.data[((crop.top + y) * img.width + crop.left) * c..];
        for (ox, tap) in hx.iter().enumerate() {
            for ch in 0..c {
                let mut acc = 0.0f32;
                for (k, &w) in tap.weights.iter().enumerate() {
                    acc += w * f32::from(row[(tap.first + k) * c + ch]);
                }
                tmp[(ch * crop.height + y) * out_w + ox] = acc;
            }
        }
    }
    for ch in 0..c {
        let plane = &tmp[ch * crop.height * out_w..(ch + 1) * crop.height * out_w];
        for (oy, tap) in vy.iter().enumerate() {
            let dst = &mut out[(ch * out_h + oy) * out_w..(ch * out_h + oy + 1) * out_w];
            for (k, &w) in tap.weights.iter().enumerate() {
                let src = &plane[(tap.first + k) * out_w..(tap.first + k + 1) * out_w];
                for (d, &s) in dst.iter_mut().zip(src) {
                    *d += w * s;
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn taps_are_normalised_and_identity_at_scale_one() {
        for (i, o) in [(32, 32), (7, 32), (224, 32), (5, 3), (1, 4)] {
            for t in taps(i, o) {
                let s: f32 = t.weights.iter().sum();
                assert!((s - 1.0).abs() < 1e-5, "{i}->{o}: sum {s}");
                assert!(t.first + t.weights.len() <= i);
            }
        }
        for (k, t) in taps(9, 9).iter().enumerate() {
            let one = t
                .weights
                .iter()
                .position(|&w| (w - 1.0).abs() < 1e-6)
                .unwrap();
            assert_eq!(t.first + one, k);
        }
    }

    #[test]
    fn constant_image_stays_constant_and_downscale_averages() {
        let img = ImageU8::new(6, 4, 3, vec![77; 72]).unwrap();
        let full = CropBox {
            top: 0,
            left: 0,
            height: 6,
            width: 4,
        };
        let out = crop_resize(&img, full, 13, 5);
        assert!(out.iter().all(|&v| (v - 77.0).abs() < 1e-3));
        // A 2x downscale of a vertical stripe pattern blends neighbouring columns.
        let stripes: Vec<u8> = (0..16).map(|i| if i % 2 == 0 { 0 } else { 200 }).collect();
        let img = ImageU8::new(4, 4, 1, stripes).unwrap();
        let out = crop_resize(
            &img,
            CropBox {
                top: 0,
                left: 0,
                height: 4,
                width: 4,
            },
            2,
            2,
        );
        assert!(out.iter().all(|&v| (v - 100.0).abs() < 30.0), "{out:?}");
    }
}
