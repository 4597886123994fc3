//! Text for the pictures: glyphs of a TTF compiled into the binary (Ubuntu Light, from egui's
//! `epaint_default_fonts`), rasterised by ab_glyph with anti-aliasing and blended into the RGB
//! buffer. No system fonts, so nothing fails on a headless machine without any installed.

use std::sync::OnceLock;

use ab_glyph::{point, Font, FontRef, PxScale, ScaleFont};

/// An RGB8 image buffer being drawn on.
pub struct Canvas<'a> {
    pub buf: &'a mut [u8],
    pub width: u32,
    pub height: u32,
}

/// Text sizes (pixel height of the em square) used by every picture.
pub const SMALL: f32 = 15.0;
pub const LARGE: f32 = 22.0;

fn font() -> &'static FontRef<'static> {
    static FONT: OnceLock<FontRef<'static>> = OnceLock::new();
    FONT.get_or_init(|| {
        // The bytes are a fixed, valid TTF shipped in the crate: failing to parse them is a
        // build defect, caught by every test that draws text.
        FontRef::try_from_slice(epaint_default_fonts::UBUNTU_LIGHT)
            .expect("the embedded Ubuntu Light TTF parses")
    })
}

impl Canvas<'_> {
    /// Blends `rgb` over pixel `(x, y)` with opacity `a` in `[0, 1]`; outside pixels are skipped.
    pub fn blend(&mut self, x: i64, y: i64, rgb: [u8; 3], a: f32) {
        if x < 0 || y < 0 || x >= i64::from(self.width) || y >= i64::from(self.height) {
            return;
        }
        let i = ((y as usize) * self.width as usize + x as usize) * 3;
        let a = a.clamp(0.0, 1.0);
        if let Some(px) = self.buf.get_mut(i..i + 3) {
            for (p, c) in px.iter_mut().zip(rgb) {
                *p = (f32::from(*p) * (1.0 - a) + f32::from(c) * a).round() as u8;
            }
        }
    }

    /// Draws `text` at `size` px with its top-left corner at `(x, y)`. Characters the font
    /// lacks are drawn as its missing-glyph box.
    pub fn text(&mut self, x: i64, y: i64, text: &str, size: f32, rgb: [u8; 3]) {
        let f = font();
        let scaled = f.as_scaled(PxScale::from(size));
        let baseline = y as f32 + scaled.ascent();
        let mut pen = x as f32;
        let mut prev = None;
        for ch in text.chars() {
            let id = scaled.glyph_id(ch);
            if let Some(p) = prev {
                pen += scaled.kern(p, id);
            }
            let glyph = id.with_scale_and_position(size, point(pen, baseline));
            pen += scaled.h_advance(id);
            prev = Some(id);
            if let Some(outline) = f.outline_glyph(glyph) {
                let b = outline.px_bounds();
                outline.draw(|gx, gy, c| {
                    let px = b.min.x as i64 + i64::from(gx);
                    let py = b.min.y as i64 + i64::from(gy);
                    self.blend(px, py, rgb, c);
                });
            }
        }
    }
}

/// Pixel width of `text` at `size` px.
pub fn text_width(text: &str, size: f32) -> i64 {
    let scaled = font().as_scaled(PxScale::from(size));
    let mut w = 0.0;
    let mut prev = None;
    for ch in text.chars() {
        let id = scaled.glyph_id(ch);
        if let Some(p) = prev {
            w += scaled.kern(p, id);
        }
        w += scaled.h_advance(id);
        prev = Some(id);
    }
    w.ceil() as i64
}

/// Pixel height of a line at `size` px (ascent to descent).
pub fn line_height(size: f32) -> i64 {
    let scaled = font().as_scaled(PxScale::from(size));
    (scaled.ascent() - scaled.descent()).ceil() as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inked(buf: &[u8]) -> (usize, usize) {
        let dark = buf.chunks(3).filter(|p| p[0] < 128).count();
        let grey = buf.chunks(3).filter(|p| p[0] > 0 && p[0] < 255).count();
        (dark, grey)
    }

    #[test]
    fn text_is_anti_aliased_and_clipped_at_the_border() {
        let (w, h) = (120u32, 30u32);
        let mut buf = vec![255u8; (w * h * 3) as usize];
        let mut c = Canvas {
            buf: &mut buf,
            width: w,
            height: h,
        };
        c.text(2, 2, "loss 1.5", SMALL, [0, 0, 0]);
        let (dark, grey) = inked(&buf);
        assert!(dark > 20, "dark pixels: {dark}");
        // Anti-aliasing: edge pixels between paper and ink.
        assert!(grey > dark / 4, "grey {grey}, dark {dark}");
        let mut c = Canvas {
            buf: &mut buf,
            width: w,
            height: h,
        };
        c.text(100, 20, "8888", LARGE, [0, 0, 0]); // mostly off-canvas: must not panic
        assert!(inked(&buf).0 > dark);
    }

    #[test]
    fn widths_grow_with_text_and_size_and_space_draws_nothing() {
        assert!(text_width("abc", SMALL) > text_width("ab", SMALL));
        assert!(text_width("abc", LARGE) > text_width("abc", SMALL));
        assert!(line_height(LARGE) > line_height(SMALL));
        let mut buf = vec![255u8; 20 * 20 * 3];
        let mut c = Canvas {
            buf: &mut buf,
            width: 20,
            height: 20,
        };
        c.text(0, 0, " ", SMALL, [0, 0, 0]);
        assert!(buf.iter().all(|&v| v == 255));
    }
}
