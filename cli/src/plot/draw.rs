//! One line chart as a PNG: plotters draws grid, frame and lines into an RGB buffer (bitmap
//! backend only), our anti-aliased text layer adds title, tick labels and legend, and the
//! `image` crate encodes the PNG, written atomically. A panel whose values are all positive
//! and span decades is drawn on a log axis (see [`super::axis`]).

use std::path::Path;

use image::codecs::png::PngEncoder;
use image::{ExtendedColorType, ImageEncoder};
use plotters::prelude::*;

use super::axis::{log_ticks, log_y, tick_label, ticks, to_axis};
use super::text::{text_width, Canvas, LARGE, SMALL};
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
/// Finite min/max of every series and reference level, padded by 5 % (or ±1 / ±5 % of the
/// value when flat).
pub(super) fn bounds(chart: &Chart) -> Option<((f64, f64), (f64, f64))> {
    let pts = || chart.series.iter().flat_map(|(_, v)| v.iter());
    let range = |it: &mut dyn Iterator<Item = f64>| {
        it.filter(|x| x.is_finite())
            .fold(None, |acc: Option<(f64, f64)>, x| {
                Some(acc.map_or((x, x), |(a, b)| (a.min(x), b.max(x))))
            })
    };
    let (x0, x1) = range(&mut pts().map(|p| p.0))?;
    let ys = || pts().map(|p| p.1).chain(chart.levels.iter().map(|l| l.1));
    let (y0, y1) = range(&mut ys().map(|y| to_axis(y, log_y(chart))))?;
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

/// A named line: `(name, points)`.
pub type Series = (String, Vec<(f64, f64)>);

/// One panel: named series of `(x, y)` points and named horizontal reference levels (dashed).
#[derive(Clone)]
pub struct Chart<'a> {
    pub title: &'a str,
    pub x_label: &'a str,
    pub series: &'a [(String, Vec<(f64, f64)>)],
    pub levels: &'a [(String, f64)],
}

/// Where the plotted part of a panel landed, for the text layer.
struct Placed {
    left: i64,
    top: i64,
    xticks: Vec<(f64, i64)>,
    yticks: Vec<(f64, i64)>,
    steps: (f64, f64),
    log: bool,
}

/// Draws `series` (name, points) against `x_label` and writes the PNG to `path`.
pub fn line_chart(
    path: &Path,
    title: &str,
    x_label: &str,
    series: &[(String, Vec<(f64, f64)>)],
) -> CliResult<()> {
    let chart = Chart {
        title,
        x_label,
        series,
        levels: &[],
    };
    charts(path, &[chart])
}

/// Draws `panels` one above the other (each `W × H`) and writes the PNG to `path`.
pub fn charts(path: &Path, panels: &[Chart]) -> CliResult<()> {
    charts_in_columns(path, panels, 1)
}

/// Draws `panels` row by row in `cols` columns (each `W × H`) and writes the PNG to `path`.
pub fn charts_in_columns(path: &Path, panels: &[Chart], cols: usize) -> CliResult<()> {
    let cols = cols.clamp(1, panels.len().max(1)) as u32;
    let n = u32::try_from(panels.len().max(1))
        .unwrap_or(1)
        .div_ceil(cols);
    let width = W * cols;
    let mut ranges = Vec::with_capacity(panels.len());
    for p in panels {
        ranges.push(bounds(p).ok_or_else(|| {
            CliError::Other(format!(
                "{}: no finite values to plot for {}",
                path.display(),
                p.title
            ))
        })?);
    }
    let mut buf = vec![255u8; (width * H * n * 3) as usize];
    let err = draw_err(path);
    let mut placed = Vec::with_capacity(panels.len());
    {
        let root = BitMapBackend::with_buffer(&mut buf, (width, H * n)).into_drawing_area();
        for (i, (panel, range)) in panels.iter().zip(&ranges).enumerate() {
            let (col, row) = (i as u32 % cols, i as u32 / cols);
            let area = root.clone().shrink((W * col, H * row), (W, H));
            let corner = (i64::from(W * col), i64::from(H * row));
            placed.push(plot_panel(&area, panel, *range, corner).map_err(&err)?);
        }
        root.present().map_err(draw_err(path))?;
    }
    let mut c = Canvas {
        buf: &mut buf,
        width,
        height: H * n,
    };
    for (panel, at) in panels.iter().zip(&placed) {
        label_panel(&mut c, panel, at);
    }
    let mut png = Vec::new();
    PngEncoder::new(&mut png)
        .write_image(&buf, width, H * n, ExtendedColorType::Rgb8)
        .map_err(|e| CliError::Other(format!("{}: PNG encoding failed: {e}", path.display())))?;
    write_bytes(path, &png)
}

type Area<'b> = DrawingArea<BitMapBackend<'b>, plotters::coord::Shift>;

/// Grid, lines, dashed levels and frame of one panel.
fn plot_panel(
    area: &Area,
    panel: &Chart,
    ((x0, x1), (y0, y1)): ((f64, f64), (f64, f64)),
    (left, top): (i64, i64),
) -> Result<Placed, Box<dyn std::error::Error>> {
    let log = log_y(panel);
    let (xt, xstep) = ticks(x0, x1, 6);
    let (yt, ystep) = if log {
        (log_ticks(y0, y1), f64::NAN)
    } else {
        ticks(y0, y1, 6)
    };
    let inner = area.margin(TOP, BOTTOM, LEFT, RIGHT);
    let mut chart = ChartBuilder::on(&inner).build_cartesian_2d(x0..x1, y0..y1)?;
    let grid = RGBColor(225, 225, 225);
    let line = |a: (f64, f64), b: (f64, f64), style: ShapeStyle| {
        std::iter::once(PathElement::new(vec![a, b], style))
    };
    for &x in &xt {
        chart.draw_series(line((x, y0), (x, y1), grid.into()))?;
    }
    for &y in &yt {
        chart.draw_series(line((x0, y), (x1, y), grid.into()))?;
    }
    for (i, (_, pts)) in panel.series.iter().enumerate() {
        let finite = pts
            .iter()
            .map(|&(x, y)| (x, to_axis(y, log)))
            .filter(|p| p.0.is_finite() && p.1.is_finite());
        chart.draw_series(LineSeries::new(finite, colour(i).stroke_width(2)))?;
    }
    // Dashes of 1/80 of the width, in the colours after the series'.
    for (j, (_, y)) in panel.levels.iter().enumerate() {
        let y = &to_axis(*y, log);
        let style = colour(panel.series.len() + j).stroke_width(2);
        let dx = (x1 - x0) / 80.0;
        for k in (0..80).step_by(2) {
            let a = x0 + dx * k as f64;
            chart.draw_series(line((a, *y), (a + dx, *y), style))?;
        }
    }
    let frame = vec![(x0, y0), (x1, y0), (x1, y1), (x0, y1), (x0, y0)];
    chart.draw_series(std::iter::once(PathElement::new(frame, BLACK)))?;
    let px = |x: f64| i64::from(chart.backend_coord(&(x, y0)).0);
    let py = |y: f64| i64::from(chart.backend_coord(&(x0, y)).1);
    Ok(Placed {
        left,
        top,
        xticks: xt.iter().map(|&x| (x, px(x))).collect(),
        yticks: yt.iter().map(|&y| (y, py(y))).collect(),
        steps: (xstep, ystep),
        log,
    })
}

fn colour(i: usize) -> RGBColor {
    let [r, g, b] = PALETTE[i % PALETTE.len()];
    RGBColor(r, g, b)
}

/// Title, tick labels, axis label and legend of one panel.
fn label_panel(c: &mut Canvas, panel: &Chart, at: &Placed) {
    let title = panel.title;
    let title = if at.log {
        format!("{title} (log scale)")
    } else {
        title.to_string()
    };
    c.text(
        at.left + (i64::from(W) - text_width(&title, LARGE)) / 2,
        at.top + 10,
        &title,
        LARGE,
        INK,
    );
    let plot_bottom = at.top + i64::from(H - BOTTOM);
    for &(x, px) in &at.xticks {
        let l = tick_label(x, at.steps.0);
        c.text(
            px - text_width(&l, SMALL) / 2,
            plot_bottom + 4,
            &l,
            SMALL,
            INK,
        );
    }
    for &(y, py) in &at.yticks {
        let l = if at.log {
            let v = 10f64.powf(y);
            tick_label(v, 10f64.powf(y.floor()))
        } else {
            tick_label(y, at.steps.1)
        };
        let x = at.left + i64::from(LEFT) - 6 - text_width(&l, SMALL);
        c.text(x, py - 9, &l, SMALL, INK);
    }
    let x_label = panel.x_label;
    let xl_x =
        at.left + i64::from(LEFT) + (i64::from(W - LEFT - RIGHT) - text_width(x_label, SMALL)) / 2;
    c.text(xl_x, plot_bottom + 22, x_label, SMALL, INK);
    let names = panel.series.iter().map(|s| (s.0.as_str(), false));
    let names: Vec<(&str, bool)> = names
        .chain(panel.levels.iter().map(|l| (l.0.as_str(), true)))
        .collect();
    if names.len() > 1 || names.first().is_some_and(|s| s.0 != panel.title) {
        for (i, (name, dashed)) in names.iter().enumerate() {
            let color = PALETTE[i % PALETTE.len()];
            let y = at.top + i64::from(TOP) + 8 + 20 * i as i64;
            let x = at.left + i64::from(W - RIGHT) - 12 - text_width(name, SMALL) - 34;
            legend_mark(c, x, y + 9, color, *dashed);
            c.text(x + 34, y, name, SMALL, INK);
        }
    }
}

/// A short solid (or dashed) line of the series colour before a legend entry.
fn legend_mark(c: &mut Canvas, x: i64, y: i64, rgb: [u8; 3], dashed: bool) {
    for dx in 0..26 {
        if dashed && (dx / 5) % 2 == 1 {
            continue;
        }
        for dy in 0..2 {
            c.blend(x + dx, y + dy, rgb, 1.0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let ink = img
            .pixels()
            .filter(|p| p.0[0] < 100 && p.0[2] < 100)
            .count();
        assert!(ink > 100, "text pixels: {ink}");
    }

    #[test]
    fn panels_in_two_columns_fill_rows_left_to_right() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("grid.png");
        let s: Vec<Series> = vec![("a".into(), vec![(0.0, 1.0), (1.0, 2.0)])];
        let panel = Chart {
            title: "t",
            x_label: "step",
            series: &s,
            levels: &[],
        };
        let three = [panel.clone(), panel.clone(), panel];
        charts_in_columns(&path, &three, 2).unwrap();
        let img = image::open(&path).unwrap().to_rgb8();
        assert_eq!(img.dimensions(), (2 * W, 2 * H));
        // The empty fourth cell stays blank; the third panel's line is drawn.
        let blue_in = |x0: u32, y0: u32| {
            (x0..x0 + W)
                .flat_map(|x| (y0..y0 + H).map(move |y| (x, y)))
                .filter(|&(x, y)| img.get_pixel(x, y).0 == PALETTE[0])
                .count()
        };
        assert_eq!(blue_in(W, H), 0);
        assert!(blue_in(0, H) > 100 && blue_in(W, 0) > 100);
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
