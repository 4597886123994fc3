//! DINO-style feature maps: the first three principal components of patch features as RGB.
//! The PCA is fitted on all patches of the batch together (as DINOv2's figures do), so one
//! colour means one direction in feature space across every image of the picture.

use super::eigen::symmetric_eigen;
use super::{EvalError, FeatureMatrix};

/// Colours of every patch (`rgb[row][c]` in `[0, 1]`) and what the components explain.
#[derive(Clone, Debug, PartialEq)]
pub struct PcaColours {
    pub rgb: Vec<[f32; 3]>,
    /// Fraction of the total variance along each of the three components.
    pub explained: [f64; 3],
}

/// Fits the PCA on the rows of `x` (one patch per row) and maps each row's first three
/// component scores to R, G, B, each min–max scaled over all rows. With fewer than three
/// non-zero components the missing channels are 0.
pub fn pca_rgb(x: &FeatureMatrix) -> Result<PcaColours, EvalError> {
    let (n, d) = (x.rows(), x.dim());
    if n < 2 {
        return Err(EvalError::InvalidInput(format!(
            "a PCA of patch features needs >= 2 patches, got {n}"
        )));
    }
    x.check_finite("patch features")?;
    let mut mean = vec![0.0f64; d];
    for r in 0..n {
        for (m, &v) in mean.iter_mut().zip(x.row(r)) {
            *m += f64::from(v);
        }
    }
    mean.iter_mut().for_each(|m| *m /= n as f64);
    // D × D covariance (D is the encoder width: a few hundred), upper triangle only.
    let mut cov = vec![0.0f64; d * d];
    let mut centred = vec![0.0f64; d];
    for r in 0..n {
        for ((c, &v), m) in centred.iter_mut().zip(x.row(r)).zip(&mean) {
            *c = f64::from(v) - m;
        }
        for i in 0..d {
            let ci = centred[i];
            let row = &mut cov[i * d..(i + 1) * d];
            for j in i..d {
                row[j] += ci * centred[j];
            }
        }
    }
    cov.iter_mut().for_each(|c| *c /= (n - 1) as f64);
    let eig = symmetric_eigen(&cov, d)?;
    let total: f64 = eig.values.iter().map(|v| v.max(0.0)).sum();
    let k = d.min(3);
    let mut scores = vec![[0.0f64; 3]; n];
    for (r, s) in scores.iter_mut().enumerate() {
        for (c, slot) in s.iter_mut().enumerate().take(k) {
            *slot = (0..d)
                .map(|i| (f64::from(x.row(r)[i]) - mean[i]) * eig.vectors[i * d + c])
                .sum();
        }
    }
    let mut rgb = vec![[0.0f32; 3]; n];
    let mut explained = [0.0; 3];
    for c in 0..k {
        let (lo, hi) = scores
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), s| {
                (a.min(s[c]), b.max(s[c]))
            });
        if hi > lo {
            for (px, s) in rgb.iter_mut().zip(&scores) {
                px[c] = ((s[c] - lo) / (hi - lo)) as f32;
            }
        }
        explained[c] = if total > 0.0 {
            eig.values[c].max(0.0) / total
        } else {
            0.0
        };
    }
    Ok(PcaColours { rgb, explained })
}

/// Subtracts from each patch position's features their mean over the `images` images of
/// `features` (`[images, positions, dim]`, row-major). What is left is what differs between
/// images at a position; the part every image shares there (with a fixed sin-cos position
/// embedding, often the largest principal components) is gone.
pub fn remove_position_mean(features: &mut [f32], images: usize, positions: usize, dim: usize) {
    if images == 0 || features.len() != images * positions * dim {
        return;
    }
    let row = positions * dim;
    let mut mean = vec![0.0f64; row];
    for img in features.chunks(row) {
        for (m, &v) in mean.iter_mut().zip(img) {
            *m += f64::from(v);
        }
    }
    for img in features.chunks_mut(row) {
        for (v, m) in img.iter_mut().zip(&mean) {
            *v -= (m / images as f64) as f32;
        }
    }
}

/// The share of the patch-feature variance that lies between images: the variance of each
/// image's mean patch feature (weighted by its patches) over the total variance of all patches
/// (`features`: `[images, patches, dim]`). 1 when every patch of an image has that image's
/// feature, 0 when all images have the same mean patch. In a PCA map, a high share shows as one
/// colour per image, different between images.
pub fn image_share(features: &[f32], images: usize, patches: usize, dim: usize) -> f64 {
    if images == 0 || patches == 0 || features.len() != images * patches * dim {
        return 0.0;
    }
    let rows = images * patches;
    let mut mean = vec![0.0f64; dim];
    for r in features.chunks(dim) {
        for (m, &v) in mean.iter_mut().zip(r) {
            *m += f64::from(v) / rows as f64;
        }
    }
    let (mut total, mut between) = (0.0f64, 0.0f64);
    for img in features.chunks(patches * dim) {
        let mut img_mean = vec![0.0f64; dim];
        for r in img.chunks(dim) {
            for ((im, &v), m) in img_mean.iter_mut().zip(r).zip(&mean) {
                let c = f64::from(v) - m;
                total += c * c;
                *im += c / patches as f64;
            }
        }
        between += patches as f64 * img_mean.iter().map(|v| v * v).sum::<f64>();
    }
    if total > 0.0 {
        between / total
    } else {
        0.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_dominant_direction_becomes_red_and_explains_most_variance() {
        // 40 rows in 4-D: a large spread along axis 2, a small one along axis 0.
        let rows: Vec<f32> = (0..40)
            .flat_map(|i| {
                let t = i as f32 / 39.0;
                [0.1 * ((i % 3) as f32), 0.0, 10.0 * t, 0.0]
            })
            .collect();
        let x = FeatureMatrix::new(40, 4, rows).unwrap();
        let p = pca_rgb(&x).unwrap();
        assert!(p.explained[0] > 0.99, "{:?}", p.explained);
        let reds: Vec<f32> = p.rgb.iter().map(|c| c[0]).collect();
        // Monotone in t (either sign of the eigenvector), spanning [0, 1].
        let up = reds.windows(2).all(|w| w[1] >= w[0]);
        let down = reds.windows(2).all(|w| w[1] <= w[0]);
        assert!(up || down, "{reds:?}");
        assert!(reds.iter().all(|r| (0.0..=1.0).contains(r)));
        assert!(reds.contains(&0.0) && reds.contains(&1.0));
        assert!(p.explained.iter().sum::<f64>() <= 1.0 + 1e-9);
    }

    #[test]
    fn removing_the_position_mean_leaves_only_what_differs_between_images() {
        // 2 images × 2 positions × 1 dim: position 0 holds 10 and 12, position 1 holds 3, 3.
        let mut f = vec![10.0, 3.0, 12.0, 3.0];
        remove_position_mean(&mut f, 2, 2, 1);
        assert_eq!(f, vec![-1.0, 0.0, 1.0, 0.0]);
    }

    #[test]
    fn image_share_is_one_for_constant_images_and_zero_for_equal_means() {
        // 2 images × 2 patches × 1 dim.
        assert!((image_share(&[1.0, 1.0, 3.0, 3.0], 2, 2, 1) - 1.0).abs() < 1e-12);
        assert!(image_share(&[1.0, 3.0, 3.0, 1.0], 2, 2, 1).abs() < 1e-12);
        // Means 1.5 and 2.5 around 2: between 2·(0.25 + 0.25) = 1 of a total of 2.
        let s = image_share(&[1.0, 2.0, 2.0, 3.0], 2, 2, 1);
        assert!((s - 0.5).abs() < 1e-12, "{s}");
    }

    #[test]
    fn too_few_rows_and_non_finite_features_are_errors() {
        let one = FeatureMatrix::new(1, 2, vec![1.0, 2.0]).unwrap();
        assert!(pca_rgb(&one).is_err());
        let nan = FeatureMatrix::new(2, 2, vec![1.0, f32::NAN, 0.0, 1.0]).unwrap();
        assert!(pca_rgb(&nan)
            .unwrap_err()
            .to_string()
            .contains("non-finite"));
    }
}
