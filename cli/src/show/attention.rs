//! `jepa show attention`: per image, the input and each encoder's last-layer attention map
//! overlaid on it (see `jepa_models::eval::attention_map` for which attention: the ViT has no
//! CLS token, so the map is the attention each patch receives, averaged over the queries).
//!
//! All maps of a picture share one colour scale, in units of the uniform share 1/N: a map of
//! an encoder that attends everywhere alike is flat, so contrast means structure and maps of
//! different encoders compare directly (a per-map min–max would blow up random init's noise
//! to the same contrast as a trained encoder's structure).

use std::path::Path;

use jepa_models::eval::{attention_entropy, last_layer_attention};
use jepa_models::vit::VisionTransformer;

use super::images::ShowImages;
use super::picture::Picture;
use crate::error::{CliError, CliResult};

/// How much of the image shows through a heat map.
const ALPHA: f32 = 0.6;

/// One encoder's numbers in the picture.
#[derive(Clone, Debug, PartialEq)]
pub struct AttentionSummary {
    pub label: String,
    /// Mean attention-row entropy over ln N (1: uniform attention).
    pub entropy: f64,
    /// Largest received attention of any patch, in multiples of the uniform 1/N.
    pub peak: f64,
}

/// Draws the attention of `encoders` (label, encoder) for `images` into `out` and returns
/// each encoder's summary. With `per_head`, each mean map is followed by one map per head.
pub fn draw_attention(
    encoders: &[(String, &VisionTransformer)],
    images: &ShowImages,
    per_head: bool,
    tile: u32,
    out: &Path,
) -> CliResult<Vec<AttentionSummary>> {
    let b = images.display.len();
    // maps[e][image][column] in multiples of the uniform share.
    let mut maps: Vec<Vec<Vec<Vec<f32>>>> = Vec::new();
    let mut titles = Vec::new();
    let mut summaries = Vec::new();
    for (label, enc) in encoders {
        let a = last_layer_attention(enc, &images.batch)
            .map_err(|e| CliError::Other(format!("{label}: {e}")))?;
        let n = a.tokens as f32;
        let heads: Vec<Option<usize>> = std::iter::once(None)
            .chain((0..a.heads).filter(|_| per_head).map(Some))
            .collect();
        for h in &heads {
            titles.push(match h {
                None => label.clone(),
                // Short enough for a tile: "target head 0".
                Some(h) => format!("{} head {h}", label.split(' ').next().unwrap_or(label)),
            });
        }
        let per_image: Vec<Vec<Vec<f32>>> = (0..b)
            .map(|i| {
                heads
                    .iter()
                    .map(|&h| a.received(i, h).iter().map(|v| v * n).collect())
                    .collect()
            })
            .collect();
        let peak = per_image
            .iter()
            .flat_map(|m| m[0].iter())
            .fold(0.0f32, |m, &v| m.max(v));
        summaries.push(AttentionSummary {
            label: label.clone(),
            entropy: attention_entropy(&a),
            peak: f64::from(peak),
        });
        maps.push(per_image);
    }
    let top = maps
        .iter()
        .flatten()
        .flatten()
        .flatten()
        .fold(1.0f32, |m, &v| m.max(v));
    let stats: Vec<String> = summaries
        .iter()
        .map(|s| format!("{} {:.3}", s.label, s.entropy))
        .collect();
    let captions = [
        format!(
            "Last-layer attention each patch receives (mean over queries{}). One colour scale for all maps: 0 (dark) to {top:.1}× the uniform share 1/N (bright).",
            if per_head { "" } else { " and heads" }
        ),
        format!(
            "Attention entropy / ln N (1 = uniform): {}.",
            stats.join(" · ")
        ),
    ];
    let mut pic = Picture::new(b, 1 + titles.len(), tile, &captions);
    pic.column_title(0, "input");
    for (c, t) in titles.iter().enumerate() {
        pic.column_title(c + 1, t);
    }
    for (i, img) in images.display.iter().enumerate() {
        pic.image(i, 0, img);
        let mut col = 1;
        for enc in &maps {
            for m in &enc[i] {
                let scaled: Vec<f32> = m.iter().map(|v| v / top).collect();
                pic.heat_over(i, col, img, &scaled, ALPHA);
                col += 1;
            }
        }
    }
    pic.save(out)?;
    Ok(summaries)
}
