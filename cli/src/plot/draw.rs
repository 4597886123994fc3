//! One line chart as a PNG: plotters draws grid, frame and lines into an RGB buffer (bitmap
//! backend only), our anti-aliased text layer adds title, tick labels and legend, and the
//! `image` crate encodes the PNG, written atomically. A panel whose values are all positive
//! and span more than [`LOG_SPAN`]× is drawn on a log axis.

use std::path::Path;

use image::codecs::png::PngEncoder;
use image::{ExtendedColorType, ImageEncoder};
use plotters::prelude::*;

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
/// max / min ratio above which a positive panel gets a log y axis.
pub const LOG_SPAN: f64 = 30.0;

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

/// Finite min/max of every series and reference level, padded by 5 % (or ±1 / ±5 % of the
/// value when flat).
fn bounds(chart: &Chart) -> Option<((f64, f64), (f64, f64))> {
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

/// Whether `chart` is drawn on a log y axis: every finite value positive, spanning decades.
pub fn log_y(chart: &Chart) -> bool {
    let ys = chart
        .series
        .iter()
        .flat_map(|(_, v)| v.iter().map(|p| p.1))
        .chain(chart.levels.iter().map(|l| l.1))
        .filter(|y| y.is_finite());
    let (mut lo, mut hi, mut any) = (f64::INFINITY, 0.0f64, false);
    for y in ys {
        if y <= 0.0 {
            return false;
        }
        (lo, hi, any) = (lo.min(y), hi.max(y), true);
    }
    any && hi / lo > LOG_SPAN
}

/// A value in axis coordinates: log10 on a log axis (non-positive values become NaN, skipped).
fn to_axis(y: f64, log: bool) -> f64 {
    match log {
        true if y > 0.0 => y.log10(),
        true => f64::NAN,
        false => y,
    }
}

/// Ticks of a log axis spanning `[lo, hi]` in log10 units: every decade, plus 2× and 5× when
/// the axis spans fewer than three decades. Returned in axis units.
fn log_ticks(lo: f64, hi: f64) -> Vec<f64> {
    let mults: &[f64] = if hi - lo < 3.0 {
        &[1.0, 2.0, 5.0]
    } else {
        &[1.0]
    };
    let mut v = Vec::new();
    for e in (lo.floor() as i64)..=(hi.ceil() as i64) {
        for m in mults {
            let t = (m * 10f64.powi(e as i32)).log10();
            if (lo..=hi).contains(&t) {
                v.push(t);
            }
        }
    }
    v
}

/// A named line: `(name, points)`.
pub type Series = (String, Vec<(f64, f64)>);

/// One panel: named series of `(x, y)` points and named horizontal reference levels (dashed).
pub struct Chart<'a> {
    pub title: &'a str,
    pub x_label: &'a str,
    pub series: &'a [(String, Vec<(f64, f64)>)],
    pub levels: &'a [(String, f64)],
}

/// Where the plotted part of a panel landed, for the text layer.
struct Placed {
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
    let n = u32::try_from(panels.len().max(1)).unwrap_or(1);
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
    let mut buf = vec![255u8; (W * H * n * 3) as usize];
    let err = draw_err(path);
    let mut placed = Vec::with_capacity(panels.len());
    {
        let root = BitMapBackend::with_buffer(&mut buf, (W, H * n)).into_drawing_area();
        for (i, (panel, range)) in panels.iter().zip(&ranges).enumerate() {
            let top = i64::from(H) * i as i64;
            let area = root.clone().shrink((0, H * i as u32), (W, H));
            placed.push(plot_panel(&area, panel, *range, top).map_err(&err)?);
        }
        root.present().map_err(draw_err(path))?;
    }
    let mut c = Canvas {
        buf: &mut buf,
        width: W,
        height: H * n,
    };
    for (panel, at) in panels.iter().zip(&placed) {
        label_panel(&mut c, panel, at);
    }
    let mut png = Vec::new();
    PngEncoder::new(&mut png)
        .write_image(&buf, W, H * n, ExtendedColorType::Rgb8)
        .map_err(|e| CliError::Other(format!("{}: PNG encoding failed: {e}", path.display())))?;
    write_bytes(path, &png)
}

type Area<'b> = DrawingArea<BitMapBackend<'b>, plotters::coord::Shift>;

/// Grid, lines, dashed levels and frame of one panel.
fn plot_panel(
    area: &Area,
    panel: &Chart,
    ((x0, x1), (y0, y1)): ((f64, f64), (f64, f64)),
    top: i64,
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
        (i64::from(W) - text_width(&title, LARGE)) / 2,
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
        let x = i64::from(LEFT) - 6 - text_width(&l, SMALL);
        c.text(x, py - 9, &l, SMALL, INK);
    }
    let x_label = panel.x_label;
    let xl_x = i64::from(LEFT) + (i64::from(W - LEFT - RIGHT) - text_width(x_label, SMALL)) / 2;
    c.text(xl_x, plot_bottom + 22, x_label, SMALL, INK);
    let names = panel.series.iter().map(|s| (s.0.as_str(), false));
    let names: Vec<(&str, bool)> = names
        .chain(panel.levels.iter().map(|l| (l.0.as_str(), true)))
        .collect();
    if names.len() > 1 || names.first().is_some_and(|s| s.0 != panel.title) {
        for (i, (name, dashed)) in names.iter().enumerate() {
            let color = PALETTE[i % PALETTE.len()];
            let y = at.top + i64::from(TOP) + 8 + 20 * i as i64;
            let x = i64::from(W - RIGHT) - 12 - text_width(name, SMALL) - 34;
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
        let ink = img
            .pixels()
            .filter(|p| p.0[0] < 100 && p.0[2] < 100)
            .count();
        assert!(ink > 100, "text pixels: {ink}");
    }

    #[test]
    fn positive_series_spanning_decades_get_a_log_axis_with_decade_ticks() {
        let chart =
            |pts: Vec<(f64, f64)>| (vec![("s".to_string(), pts)], Vec::<(String, f64)>::new());
        let (decades, none) = chart((0..40).map(|i| (i as f64, 10f64.powi(-(i / 10)))).collect());
        let c = Chart {
            title: "t",
            x_label: "x",
            series: &decades,
            levels: &none,
        };
        assert!(log_y(&c));
        let ((_, _), (y0, y1)) = bounds(&c).unwrap();
        assert!(y0 < -3.0 && y1 > 0.0, "log10 bounds {y0} {y1}");
        let t = log_ticks(-3.0, 0.0);
        assert_eq!(t.len(), 4, "one per decade over three decades: {t:?}");
        assert!(
            log_ticks(-1.0, 0.0).len() >= 3,
            "1-2-5 ticks inside one decade"
        );
        let (narrow, _) = chart(vec![(0.0, 2.0), (1.0, 3.0)]);
        let c = Chart {
            title: "t",
            x_label: "x",
            series: &narrow,
            levels: &none,
        };
        assert!(!log_y(&c));
        let (signed, _) = chart(vec![(0.0, -1.0), (1.0, 1000.0)]);
        let c = Chart {
            title: "t",
            x_label: "x",
            series: &signed,
            levels: &none,
        };
        assert!(!log_y(&c), "a non-positive value keeps the axis linear");
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log.png");
        line_chart(&path, "decades", "step", &decades).unwrap();
        assert!(image::open(&path).is_ok());
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
