//! Text for the plots, drawn straight into the RGB buffer from font8x8's public-domain 8×8
//! glyphs: no system fonts, no font-loading failures on headless machines.

use font8x8::{UnicodeFonts, BASIC_FONTS};

/// An RGB8 image buffer being drawn on.
pub struct Canvas<'a> {
    pub buf: &'a mut [u8],
    pub width: u32,
    pub height: u32,
}

/// Glyph cell width in pixels at scale 1 (8 px glyph, no extra spacing: the glyphs have their
/// own right margin).
pub const CELL: u32 = 8;

impl Canvas<'_> {
    fn put(&mut self, x: i64, y: i64, rgb: [u8; 3]) {
        if x < 0 || y < 0 || x >= i64::from(self.width) || y >= i64::from(self.height) {
            return;
        }
        let i = ((y as usize) * self.width as usize + x as usize) * 3;
        if let Some(px) = self.buf.get_mut(i..i + 3) {
            px.copy_from_slice(&rgb);
        }
    }

    /// Draws `text` with its top-left corner at `(x, y)`, each glyph pixel a `scale`² square.
    /// Characters without a glyph are drawn as `?`.
    pub fn text(&mut self, x: i64, y: i64, text: &str, scale: u32, rgb: [u8; 3]) {
        let s = i64::from(scale.max(1));
        for (i, ch) in text.chars().enumerate() {
            let glyph = BASIC_FONTS
                .get(ch)
                .or_else(|| BASIC_FONTS.get('?'))
                .unwrap_or([0; 8]);
            let gx = x + i as i64 * i64::from(CELL) * s;
            for (row, bits) in glyph.iter().enumerate() {
                for col in 0..8 {
                    // font8x8 stores the leftmost pixel in bit 0.
                    if bits & (1 << col) != 0 {
                        for dy in 0..s {
                            for dx in 0..s {
                                self.put(gx + col * s + dx, y + row as i64 * s + dy, rgb);
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Pixel width of `text` at `scale`.
pub fn text_width(text: &str, scale: u32) -> i64 {
    (text.chars().count() as u32 * CELL * scale.max(1)) as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lit(buf: &[u8]) -> usize {
        buf.chunks(3).filter(|p| p[0] == 0).count()
    }

    #[test]
    fn glyphs_are_drawn_inside_their_cell_and_clipped_at_the_border() {
        let (w, h) = (40u32, 12u32);
        let mut buf = vec![255u8; (w * h * 3) as usize];
        let mut c = Canvas {
            buf: &mut buf,
            width: w,
            height: h,
        };
        c.text(0, 0, "1", 1, [0, 0, 0]);
        let one = lit(&buf);
        assert!(one > 5, "a `1` has more than five pixels");
        let mut c = Canvas {
            buf: &mut buf,
            width: w,
            height: h,
        };
        c.text(36, 8, "8888", 2, [0, 0, 0]); // mostly off-canvas: must not panic
        assert!(lit(&buf) > one);
        assert_eq!(text_width("abc", 2), 48);
    }

    #[test]
    fn space_draws_nothing() {
        let mut buf = vec![255u8; 8 * 8 * 3];
        let mut c = Canvas {
            buf: &mut buf,
            width: 8,
            height: 8,
        };
        c.text(0, 0, " ", 1, [0, 0, 0]);
        assert_eq!(lit(&buf), 0);
    }
}
