//! One line chart as a PNG: plotters draws grid, frame and lines into an RGB buffer (bitmap
//! backend only), our font8x8 text layer adds title, tick labels and legend, and the `image`
//! crate encodes the PNG, written atomically.

use std::path::Path;

use image::codecs::png::PngEncoder;
use image::{ExtendedColorType, ImageEncoder};
use plotters::prelude::*;

use super::text::{text_width, Canvas};
use crate::atomic::write_bytes;
use crate::error::{CliError, CliResult};

const W: u32 = 800;
const H: u32 = 480;
const LEFT: u32 = 90;
const RIGHT: u32 = 24;
const TOP: u32 = 44;
const BOTTOM: u32 = 44;
const PALETTE: [[u8; 3]; 5] = [
    [31, 119, 180],
    [214, 39, 40],
    [44, 160, 44],
    [148, 103, 189],
    [255, 127, 14],
];
const INK: [u8; 3] = [20, 20, 20];

/// "Nice" tick positions (1, 2, 5 × 10^k spacing) covering `[lo, hi]`, about `target` of them.
pub fn ticks(lo: f64, hi: f64, target: usize) -> (Vec<f64>, f64) {
    let span = (hi - lo).abs().max(f64::MIN_POSITIVE);
    let raw = span / target.max(1) as f64;
    let mag = 10f64.powf(raw.log10().floor());
    // The finest 1-2-5 spacing giving at most `target + 2` intervals: more labels than a strict
    // ceiling on `target` would give, never crowded.
    let step = [0.5, 1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| span / s <= (target + 2) as f64)
        .unwrap_or(10.0 * mag);
    let first = (lo / step).ceil() as i64;
    let last = (hi / step).floor() as i64;
    let v = (first..=last).map(|i| i as f64 * step).collect();
    (v, step)
}

/// Tick label: plain decimals at the precision the spacing needs, scientific when tiny or huge.
pub fn tick_label(v: f64, step: f64) -> String {
    if v == 0.0 {
        return "0".into();
    }
    let a = v.abs();
    if !(1e-2..1e5).contains(&a) {
        return format!("{v:.1e}");
    }
    let decimals = (-step.log10().floor()).max(0.0) as usize;
    format!("{v:.decimals$}")
}

/// Finite min/max of every series, padded by 5 % (or ±1 / ±5 % of the value when flat).
fn bounds(series: &[(String, Vec<(f64, f64)>)]) -> Option<((f64, f64), (f64, f64))> {
    let pts = || series.iter().flat_map(|(_, v)| v.iter());
    let fold = |f: fn(&(f64, f64)) -> f64| {
        pts()
            .map(f)
            .filter(|x| x.is_finite())
            .fold(None, |acc: Option<(f64, f64)>, x| {
                Some(acc.map_or((x, x), |(a, b)| (a.min(x), b.max(x))))
            })
    };
    let (x0, x1) = fold(|p| p.0)?;
    let (y0, y1) = fold(|p| p.1)?;
    let pad = |lo: f64, hi: f64| {
        if hi > lo {
            let d = 0.05 * (hi - lo);
            (lo - d, hi + d)
        } else {
            let d = if lo == 0.0 { 1.0 } else { 0.05 * lo.abs() };
            (lo - d, hi + d)
        }
    };
    let xs = if x1 > x0 { (x0, x1) } else { pad(x0, x1) };
    Some((xs, pad(y0, y1)))
}

fn draw_err<E: std::fmt::Debug>(path: &Path) -> impl Fn(E) -> CliError + '_ {
    move |e| CliError::Other(format!("{}: drawing failed: {e:?}", path.display()))
}

/// Draws `series` (name, points) against `x_label` and writes the PNG to `path`.
pub fn line_chart(
    path: &Path,
    title: &str,
    x_label: &str,
    series: &[(String, Vec<(f64, f64)>)],
) -> CliResult<()> {
    let ((x0, x1), (y0, y1)) = bounds(series)
        .ok_or_else(|| CliError::Other(format!("{}: no finite values to plot", path.display())))?;
    let (xt, xstep) = ticks(x0, x1, 6);
    let (yt, ystep) = ticks(y0, y1, 6);
    let mut buf = vec![255u8; (W * H * 3) as usize];
    let err = draw_err(path);
    let (xpix, ypix) = {
        let root = BitMapBackend::with_buffer(&mut buf, (W, H)).into_drawing_area();
        let area = root.margin(TOP, BOTTOM, LEFT, RIGHT);
        let mut chart = ChartBuilder::on(&area)
            .build_cartesian_2d(x0..x1, y0..y1)
            .map_err(&err)?;
        let grid = RGBColor(225, 225, 225);
        for &x in &xt {
            chart
                .draw_series(std::iter::once(PathElement::new(
                    vec![(x, y0), (x, y1)],
                    grid,
                )))
                .map_err(&err)?;
        }
        for &y in &yt {
            chart
                .draw_series(std::iter::once(PathElement::new(
                    vec![(x0, y), (x1, y)],
                    grid,
                )))
                .map_err(&err)?;
        }
        for (i, (_, pts)) in series.iter().enumerate() {
            let [r, g, b] = PALETTE[i % PALETTE.len()];
            let finite = pts
                .iter()
                .copied()
                .filter(|p| p.0.is_finite() && p.1.is_finite());
            chart
                .draw_series(LineSeries::new(finite, RGBColor(r, g, b).stroke_width(2)))
                .map_err(&err)?;
        }
        let frame = vec![(x0, y0), (x1, y0), (x1, y1), (x0, y1), (x0, y0)];
        chart
            .draw_series(std::iter::once(PathElement::new(frame, BLACK)))
            .map_err(&err)?;
        let xpix: Vec<i64> = xt
            .iter()
            .map(|&x| i64::from(chart.backend_coord(&(x, y0)).0))
            .collect();
        let ypix: Vec<i64> = yt
            .iter()
            .map(|&y| i64::from(chart.backend_coord(&(x0, y)).1))
            .collect();
        root.present().map_err(&err)?;
        (xpix, ypix)
    };
    let mut c = Canvas {
        buf: &mut buf,
        width: W,
        height: H,
    };
    c.text((i64::from(W) - text_width(title, 2)) / 2, 10, title, 2, INK);
    let plot_bottom = i64::from(H - BOTTOM);
    for (x, px) in xt.iter().zip(&xpix) {
        let l = tick_label(*x, xstep);
        c.text(px - text_width(&l, 1) / 2, plot_bottom + 6, &l, 1, INK);
    }
    for (y, py) in yt.iter().zip(&ypix) {
        let l = tick_label(*y, ystep);
        c.text(i64::from(LEFT) - 6 - text_width(&l, 1), py - 4, &l, 1, INK);
    }
    let xl_x = i64::from(LEFT) + (i64::from(W - LEFT - RIGHT) - text_width(x_label, 1)) / 2;
    c.text(xl_x, plot_bottom + 24, x_label, 1, INK);
    if series.len() > 1 || series.first().is_some_and(|s| s.0 != title) {
        for (i, (name, _)) in series.iter().enumerate() {
            let color = PALETTE[i % PALETTE.len()];
            let y = i64::from(TOP) + 8 + 14 * i as i64;
            let x = i64::from(W - RIGHT) - 12 - text_width(name, 1) - 22;
            c.text(x, y, "--", 1, color);
            c.text(x + 22, y, name, 1, INK);
        }
    }
    let mut png = Vec::new();
    PngEncoder::new(&mut png)
        .write_image(&buf, W, H, ExtendedColorType::Rgb8)
        .map_err(|e| CliError::Other(format!("{}: PNG encoding failed: {e}", path.display())))?;
    write_bytes(path, &png)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_nice_and_inside_the_range() {
        let (t, step) = ticks(0.0, 1000.0, 5);
        assert_eq!(step, 200.0);
        assert_eq!(t, vec![0.0, 200.0, 400.0, 600.0, 800.0, 1000.0]);
        let (t, step) = ticks(0.13, 0.47, 6);
        assert_eq!(step, 0.05);
        assert!(t.iter().all(|v| (0.13..=0.47).contains(v)) && t.len() >= 6);
    }

    #[test]
    fn labels_pick_precision_or_scientific() {
        assert_eq!(tick_label(0.25, 0.05), "0.25");
        assert_eq!(tick_label(400.0, 200.0), "400");
        assert_eq!(tick_label(0.001, 0.0005), "1.0e-3");
        assert_eq!(tick_label(0.0, 1.0), "0");
    }

    #[test]
    fn writes_a_png_of_the_right_size_with_coloured_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("loss.png");
        let pts: Vec<(f64, f64)> = (0..50)
            .map(|i| (i as f64, 1.0 / (1.0 + i as f64)))
            .collect();
        line_chart(&path, "loss", "step", &[("loss".into(), pts)]).unwrap();
        let img = image::open(&path).unwrap().to_rgb8();
        assert_eq!(img.dimensions(), (W, H));
        let blue = img.pixels().filter(|p| p.0 == PALETTE[0]).count();
        assert!(blue > 200, "line pixels: {blue}");
        let ink = img.pixels().filter(|p| p.0 == INK).count();
        assert!(ink > 100, "text pixels: {ink}");
    }

    #[test]
    fn flat_and_single_point_series_still_draw() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("flat.png");
        line_chart(&path, "ema", "step", &[("ema".into(), vec![(5.0, 0.996)])]).unwrap();
        assert!(path.is_file());
        let none = line_chart(&path, "x", "step", &[("x".into(), vec![(0.0, f64::NAN)])]);
        assert!(none.is_err());
    }
}
