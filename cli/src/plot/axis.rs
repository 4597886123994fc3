//! Axis ticks and labels of the line charts: "nice" 1-2-5 ticks on a linear axis, decade
//! ticks on a log axis, and which panels get a log axis (all values positive, spanning more
//! than [`LOG_SPAN`]×).

use super::draw::Chart;

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
pub(super) fn to_axis(y: f64, log: bool) -> f64 {
    match log {
        true if y > 0.0 => y.log10(),
        true => f64::NAN,
        false => y,
    }
}

/// Ticks of a log axis spanning `[lo, hi]` in log10 units: every decade, plus 2× and 5× when
/// the axis spans fewer than three decades. Returned in axis units.
pub(super) fn log_ticks(lo: f64, hi: f64) -> Vec<f64> {
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

#[cfg(test)]
mod tests {
    use super::super::draw::{bounds, line_chart};
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
}
