//! A grid picture of square tiles with column titles: the input images, heat maps overlaid on
//! them and PCA colour maps, upsampled to the tile size. Written as a PNG atomically.

use std::path::Path;

use image::codecs::png::PngEncoder;
use image::{ExtendedColorType, ImageEncoder};

use crate::atomic::write_bytes;
use crate::error::{CliError, CliResult};
use crate::plot::text::{line_height, text_width, Canvas, SMALL};

const INK: [u8; 3] = [20, 20, 20];
const GAP: u32 = 6;

/// An RGB8 picture being composed.
pub struct Picture {
    pub width: u32,
    pub height: u32,
    pub buf: Vec<u8>,
    tile: u32,
    header: u32,
}

/// A square RGB8 image of side `side` (row-major, 3 bytes a pixel).
#[derive(Clone, Debug, PartialEq)]
pub struct Rgb {
    pub side: usize,
    pub data: Vec<u8>,
}

impl Picture {
    /// A white grid of `rows × cols` tiles of `tile` px under `captions` (each wrapped to the
    /// picture's width) and a line of column titles.
    pub fn new(rows: usize, cols: usize, tile: u32, captions: &[String]) -> Picture {
        let width = cols as u32 * (tile + GAP) + GAP;
        let lines: Vec<String> = captions
            .iter()
            .flat_map(|c| wrap(c, i64::from(width - 2 * GAP)))
            .collect();
        let lh = line_height(SMALL) as u32 + 2;
        let header = lh * (lines.len() as u32 + 1) + GAP;
        let height = header + rows as u32 * (tile + GAP);
        let mut pic = Picture {
            width,
            height,
            buf: vec![255; (width * height * 3) as usize],
            tile,
            header,
        };
        for (i, line) in lines.iter().enumerate() {
            let y = i64::from(lh) * i as i64 + 2;
            pic.canvas().text(i64::from(GAP), y, line, SMALL, INK);
        }
        pic
    }

    fn canvas(&mut self) -> Canvas<'_> {
        Canvas {
            buf: &mut self.buf,
            width: self.width,
            height: self.height,
        }
    }

    /// A column title on the last header line, centred over column `col` (shrunk to fit).
    pub fn column_title(&mut self, col: usize, text: &str) {
        let x0 = i64::from(GAP + col as u32 * (self.tile + GAP));
        let mut size = SMALL;
        while text_width(text, size) > i64::from(self.tile) && size > 9.0 {
            size -= 1.0;
        }
        let x = x0 + (i64::from(self.tile) - text_width(text, size)).max(0) / 2;
        let y = i64::from(self.header) - line_height(SMALL) - 2;
        self.canvas().text(x, y, text, size, INK);
    }

    /// Pastes `f(u, v)` (u, v in `[0, 1)` across the tile) into tile `(row, col)`.
    fn fill(&mut self, row: usize, col: usize, f: impl Fn(f32, f32) -> [u8; 3]) {
        let t = self.tile;
        let x0 = GAP + col as u32 * (t + GAP);
        let y0 = self.header + row as u32 * (t + GAP);
        for y in 0..t {
            for x in 0..t {
                let (u, v) = ((x as f32 + 0.5) / t as f32, (y as f32 + 0.5) / t as f32);
                let i = (((y0 + y) * self.width + x0 + x) * 3) as usize;
                self.buf[i..i + 3].copy_from_slice(&f(u, v));
            }
        }
    }

    /// The image, bilinearly upsampled.
    pub fn image(&mut self, row: usize, col: usize, img: &Rgb) {
        self.fill(row, col, |u, v| sample_rgb(img, u, v));
    }

    /// A `[grid × grid]` map in `[0, 1]`, bilinearly upsampled, coloured and blended at
    /// `alpha` over the image.
    pub fn heat_over(&mut self, row: usize, col: usize, img: &Rgb, map: &[f32], alpha: f32) {
        let grid = (map.len() as f64).sqrt() as usize;
        self.fill(row, col, |u, v| {
            let base = sample_rgb(img, u, v);
            let heat = colormap(bilinear(map, grid, u, v));
            let mut out = [0u8; 3];
            for c in 0..3 {
                out[c] = (f32::from(base[c]) * (1.0 - alpha) + f32::from(heat[c]) * alpha) as u8;
            }
            out
        });
    }

    /// One colour per patch of a `[grid × grid]` map (nearest: the patches stay visible).
    pub fn patches(&mut self, row: usize, col: usize, rgb: &[[f32; 3]]) {
        let grid = (rgb.len() as f64).sqrt() as usize;
        self.fill(row, col, |u, v| {
            let (i, j) = ((v * grid as f32) as usize, (u * grid as f32) as usize);
            let p = rgb[i.min(grid - 1) * grid + j.min(grid - 1)];
            p.map(|c| (c.clamp(0.0, 1.0) * 255.0).round() as u8)
        });
    }

    /// Encodes the picture and writes it to `path` atomically.
    pub fn save(&self, path: &Path) -> CliResult<()> {
        let mut png = Vec::new();
        PngEncoder::new(&mut png)
            .write_image(&self.buf, self.width, self.height, ExtendedColorType::Rgb8)
            .map_err(|e| {
                CliError::Other(format!("{}: PNG encoding failed: {e}", path.display()))
            })?;
        write_bytes(path, &png)
    }
}

/// `text` broken at spaces into lines at most `width` px wide at the caption size (a word
/// longer than the width gets a line of its own).
pub fn wrap(text: &str, width: i64) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split(' ') {
        let candidate = if line.is_empty() {
            word.to_string()
        } else {
            format!("{line} {word}")
        };
        if text_width(&candidate, SMALL) > width && !line.is_empty() {
            lines.push(std::mem::replace(&mut line, word.to_string()));
        } else {
            line = candidate;
        }
    }
    lines.push(line);
    lines
}

/// Bilinear sample of a `[grid × grid]` scalar map at `(u, v)` in `[0, 1)`, pixel centres at
/// `(i + 0.5) / grid`, clamped at the border.
pub fn bilinear(map: &[f32], grid: usize, u: f32, v: f32) -> f32 {
    bilinear_by(grid, u, v, |i| map[i])
}

/// [`bilinear`] over any `[grid × grid]` grid read through `at(row · grid + col)`.
fn bilinear_by(grid: usize, u: f32, v: f32, at: impl Fn(usize) -> f32) -> f32 {
    let g = grid as f32;
    let (x, y) = (
        (u * g - 0.5).clamp(0.0, g - 1.0),
        (v * g - 0.5).clamp(0.0, g - 1.0),
    );
    let (x0, y0) = (x.floor() as usize, y.floor() as usize);
    let (x1, y1) = ((x0 + 1).min(grid - 1), (y0 + 1).min(grid - 1));
    let (fx, fy) = (x - x0 as f32, y - y0 as f32);
    let top = at(y0 * grid + x0) * (1.0 - fx) + at(y0 * grid + x1) * fx;
    let bottom = at(y1 * grid + x0) * (1.0 - fx) + at(y1 * grid + x1) * fx;
    top * (1.0 - fy) + bottom * fy
}

fn sample_rgb(img: &Rgb, u: f32, v: f32) -> [u8; 3] {
    std::array::from_fn(|c| {
        let px = |i: usize| f32::from(img.data[i * 3 + c]);
        bilinear_by(img.side, u, v, px).round() as u8
    })
}

/// Dark blue → red → yellow (a perceptually ordered ramp, like matplotlib's "inferno" in
/// spirit) for `t` in `[0, 1]`.
pub fn colormap(t: f32) -> [u8; 3] {
    const STOPS: [(f32, [f32; 3]); 5] = [
        (0.0, [0.0, 0.0, 0.15]),
        (0.3, [0.35, 0.05, 0.55]),
        (0.6, [0.85, 0.2, 0.25]),
        (0.85, [0.98, 0.6, 0.05]),
        (1.0, [1.0, 1.0, 0.6]),
    ];
    let t = if t.is_finite() {
        t.clamp(0.0, 1.0)
    } else {
        0.0
    };
    let k = STOPS
        .iter()
        .rposition(|s| s.0 <= t)
        .unwrap_or(0)
        .min(STOPS.len() - 2);
    let (a, b) = (STOPS[k], STOPS[k + 1]);
    let f = (t - a.0) / (b.0 - a.0);
    std::array::from_fn(|c| ((a.1[c] * (1.0 - f) + b.1[c] * f) * 255.0).round() as u8)
}

/// Scales `v` to `[0, 1]` by its own min and max (all zeros when flat).
pub fn min_max(v: &[f32]) -> Vec<f32> {
    let lo = v.iter().copied().fold(f32::INFINITY, f32::min);
    let hi = v.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    if hi > lo {
        v.iter().map(|x| (x - lo) / (hi - lo)).collect()
    } else {
        vec![0.0; v.len()]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bilinear_hits_the_centres_and_interpolates_between() {
        let map = [0.0, 1.0, 2.0, 3.0];
        assert_eq!(bilinear(&map, 2, 0.25, 0.25), 0.0);
        assert_eq!(bilinear(&map, 2, 0.75, 0.75), 3.0);
        assert!((bilinear(&map, 2, 0.5, 0.25) - 0.5).abs() < 1e-6);
        assert_eq!(bilinear(&map, 2, 0.0, 0.99), 2.0, "clamped at the border");
    }

    #[test]
    fn colormap_is_ordered_dark_to_bright() {
        let lum = |c: [u8; 3]| u32::from(c[0]) + u32::from(c[1]) + u32::from(c[2]);
        let l: Vec<u32> = (0..=10).map(|i| lum(colormap(i as f32 / 10.0))).collect();
        assert!(l.windows(2).all(|w| w[1] >= w[0]), "{l:?}");
        assert_eq!(colormap(f32::NAN), colormap(0.0));
        assert_eq!(min_max(&[2.0, 4.0, 3.0]), vec![0.0, 1.0, 0.5]);
        assert_eq!(min_max(&[1.0, 1.0]), vec![0.0, 0.0]);
    }

    #[test]
    fn captions_wrap_at_spaces_within_the_width() {
        assert_eq!(wrap("a b c", 1000), vec!["a b c"]);
        let lines = wrap("one two three four five six seven", 80);
        assert!(lines.len() > 2, "{lines:?}");
        assert!(
            lines.iter().all(|l| text_width(l, SMALL) <= 80),
            "{lines:?}"
        );
        assert_eq!(lines.join(" "), "one two three four five six seven");
    }

    #[test]
    fn a_grid_saves_as_a_png_of_its_size() {
        let dir = tempfile::tempdir().unwrap();
        let captions = ["a caption long enough to need three lines at this width".to_string()];
        let mut p = Picture::new(2, 3, 32, &captions);
        let one_line = Picture::new(2, 3, 32, &["short".to_string()]);
        assert!(p.height > one_line.height + 20, "wrapped: {} px", p.height);
        let img = Rgb {
            side: 2,
            data: vec![200; 12],
        };
        p.column_title(1, "a title far too long for a tile");
        p.image(0, 0, &img);
        p.heat_over(1, 1, &img, &[0.0, 1.0, 0.5, 0.2], 0.5);
        p.patches(1, 2, &[[1.0, 0.0, 0.0]; 4]);
        let out = dir.path().join("g.png");
        p.save(&out).unwrap();
        let png = image::open(&out).unwrap().to_rgb8();
        assert_eq!(png.dimensions(), (p.width, p.height));
        assert!(png.pixels().any(|px| px.0 == [255, 0, 0]), "a red patch");
    }
}
