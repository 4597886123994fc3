//! `jepa show features`: per image, the input and the first three principal components of each
//! encoder's patch features (after the final norm) as RGB. Each encoder gets its own PCA,
//! fitted on all patches of all the images together (DINOv2's figures), so within a column one
//! colour is one direction in that encoder's feature space across every image.

use std::path::Path;

use jepa_engine::no_grad;
use jepa_models::eval::{image_share, pca_rgb, remove_position_mean, FeatureMatrix};
use jepa_models::vit::VisionTransformer;

use super::images::ShowImages;
use super::picture::Picture;
use crate::error::{CliError, CliResult};

/// One encoder's numbers in the picture.
#[derive(Clone, Debug, PartialEq)]
pub struct FeatureSummary {
    pub label: String,
    /// Fraction of the patch-feature variance along the three components drawn.
    pub explained: [f64; 3],
    /// Share of the patch-feature variance (as fed to the PCA) that lies between images
    /// (`jepa_models::eval::image_share`).
    pub image_share: f64,
}

/// Draws the PCA maps of `encoders` (label, encoder) for `images` into `out`. With `centred`,
/// each patch position's mean over the images is removed before the PCA.
pub fn draw_features(
    encoders: &[(String, &VisionTransformer)],
    images: &ShowImages,
    centred: bool,
    tile: u32,
    out: &Path,
) -> CliResult<Vec<FeatureSummary>> {
    let b = images.display.len();
    let mut colours = Vec::new();
    let mut summaries = Vec::new();
    for (label, enc) in encoders {
        let tokens = {
            let _guard = no_grad();
            enc.forward(&images.batch)
                .map_err(|e| CliError::Other(format!("{label}: {e}")))?
        };
        let (n, d) = (tokens.dims()[1], tokens.dims()[2]);
        let mut values = tokens.to_vec_f32()?;
        if centred {
            remove_position_mean(&mut values, b, n, d);
        }
        let share = image_share(&values, b, n, d);
        let x = FeatureMatrix::new(b * n, d, values)
            .map_err(|e| CliError::Other(format!("{label}: {e}")))?;
        let p = pca_rgb(&x).map_err(|e| CliError::Other(format!("{label}: {e}")))?;
        summaries.push(FeatureSummary {
            label: label.clone(),
            explained: p.explained,
            image_share: share,
        });
        colours.push((n, p.rgb));
    }
    let stats: Vec<String> = summaries
        .iter()
        .map(|s| {
            let pct = s.explained.map(|e| format!("{:.0}", 100.0 * e));
            format!("{} {}/{}/{}%", s.label, pct[0], pct[1], pct[2])
        })
        .collect();
    let captions = [
        format!(
            "Patch features: principal components 1–3 as R, G, B (PCA fitted per encoder on the patches of all {b} images{}).",
            if centred { ", each position's mean over the images removed first" } else { "" }
        ),
        format!("Variance explained by PC 1/2/3: {}.", stats.join(" · ")),
        format!(
            "Share of the patch-feature variance between images (1 = one feature per image): {}.",
            summaries
                .iter()
                .map(|s| format!("{} {:.2}", s.label, s.image_share))
                .collect::<Vec<_>>()
                .join(" · ")
        ),
    ];
    let mut pic = Picture::new(b, 1 + encoders.len(), tile, &captions);
    pic.column_title(0, "input");
    for (c, (label, _)) in encoders.iter().enumerate() {
        pic.column_title(c + 1, label);
    }
    for (i, img) in images.display.iter().enumerate() {
        pic.image(i, 0, img);
        for (c, (n, rgb)) in colours.iter().enumerate() {
            pic.patches(i, c + 1, &rgb[i * n..(i + 1) * n]);
        }
    }
    pic.save(out)?;
    Ok(summaries)
}
