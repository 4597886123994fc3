//! `loss.png`: the total loss and each logged term on its own panel, the terms multiplied by
//! the weights they carry in the loss (C-JEPA: `β·λ·inv`, `β·μ·var`, `β·ν·cov`), so each
//! panel reads in the loss's own units and the covariance term (≈ 10 unweighted) no longer
//! flattens the total. Weights come from the run's `config.toml`; without it the terms are
//! drawn unweighted and their titles say so.

use std::path::Path;

use super::draw::{Chart, Series};
use super::metrics::Metrics;

/// What multiplies each logged term in the loss, read from `RUN_DIR/config.toml`.
#[derive(Clone, Debug, PartialEq)]
pub struct TermWeights {
    pub inv: f64,
    pub var: f64,
    pub cov: f64,
    /// False when no config was found: the weights are 1 and the panels say "unweighted".
    pub known: bool,
}

impl TermWeights {
    const UNKNOWN: TermWeights = TermWeights {
        inv: 1.0,
        var: 1.0,
        cov: 1.0,
        known: false,
    };

    /// The weights of the run in `dir` (its `config.toml`, `[cjepa]` section: β times each
    /// term's own weight).
    pub fn of_run(dir: &Path) -> TermWeights {
        let Ok(text) = std::fs::read_to_string(dir.join("config.toml")) else {
            return Self::UNKNOWN;
        };
        let Ok(table) = text.parse::<toml::Table>() else {
            return Self::UNKNOWN;
        };
        let Some(c) = table.get("cjepa").and_then(toml::Value::as_table) else {
            return Self::UNKNOWN;
        };
        let num = |k: &str| {
            c.get(k)
                .and_then(|v| v.as_float().or_else(|| v.as_integer().map(|i| i as f64)))
        };
        let (Some(beta), Some(inv), Some(var), Some(cov)) = (
            num("beta"),
            num("inv_weight"),
            num("var_weight"),
            num("cov_weight"),
        ) else {
            return Self::UNKNOWN;
        };
        TermWeights {
            inv: beta * inv,
            var: beta * var,
            cov: beta * cov,
            known: true,
        }
    }
}

/// `(title, series)` of each loss panel: the total, the regression term, then the VICReg terms
/// the run logged (C-JEPA only), each scaled by its weight.
pub fn loss_panels(m: &Metrics, w: &TermWeights) -> Vec<(String, Vec<Series>)> {
    let mut panels = Vec::new();
    let mut push = |title: String, key: &str, scale: f64| {
        if let Some(pts) = m.series.get(key).filter(|p| !p.is_empty()) {
            let pts = pts.iter().map(|&(x, y)| (x, y * scale)).collect();
            panels.push((title.clone(), vec![(title, pts)]));
        }
    };
    push("total loss".into(), "loss", 1.0);
    push("regression (prediction) term".into(), "regression", 1.0);
    for (key, name, weight) in [
        ("inv", "invariance", w.inv),
        ("var", "variance", w.var),
        ("cov", "covariance", w.cov),
    ] {
        let title = if w.known {
            format!("{name} term × {weight} (as weighted in the loss)")
        } else {
            format!("{name} term (unweighted: no config.toml)")
        };
        push(title, key, weight);
    }
    panels
}

/// Borrowed [`Chart`]s of `panels` against the step.
pub fn charts(panels: &[(String, Vec<Series>)]) -> Vec<Chart<'_>> {
    panels
        .iter()
        .map(|(title, series)| Chart {
            title,
            x_label: "step",
            series,
            levels: &[],
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plot::metrics::parse_jsonl;

    #[test]
    fn terms_get_their_weights_from_the_config_and_absent_terms_no_panel() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("config.toml"),
            "method = \"cjepa\"\n[cjepa]\nvariant = \"x\"\nbeta = 0.1\nvar_weight = 25.0\ncov_weight = 1\ninv_weight = 25.0\n",
        )
        .unwrap();
        let w = TermWeights::of_run(dir.path());
        assert!(w.known && (w.var - 2.5).abs() < 1e-12 && (w.cov - 0.1).abs() < 1e-12);
        let m = parse_jsonl(
            "{\"step\":1,\"loss\":3,\"regression\":2,\"inv\":null,\"var\":0.4,\"cov\":10}\n",
        );
        let p = loss_panels(&m, &w);
        let titles: Vec<&str> = p.iter().map(|(t, _)| t.as_str()).collect();
        assert_eq!(titles.len(), 4, "{titles:?}");
        assert!(titles[3].starts_with("covariance term × 0.1"), "{titles:?}");
        assert!((p[3].1[0].1[0].1 - 1.0).abs() < 1e-12, "10 × 0.1");
        let bare = TermWeights::of_run(&dir.path().join("missing"));
        assert!(!bare.known);
        assert!(loss_panels(&m, &bare)[3].0.contains("unweighted"));
    }
}
