//! Checks of a resolved [`RunConfig`] that need no data, and its translation into the mask
//! generator's and the model's option types.

use jepa_models::jepa::{CJepaVariant, Conditioning, RegressionLoss};
use jepa_models::masks::{FixedOptions, MaskConfig, MaskMode};

use super::resolve::MODEL_SIZES;
use super::{MaskModeName, RunConfig};
use crate::error::{CliError, CliResult};

/// The mask generator configuration of a run.
pub fn mask_config(c: &RunConfig) -> MaskConfig {
    let grid = c.model.image_size / c.model.patch_size.max(1);
    let m = &c.mask;
    MaskConfig {
        enc_scale: (m.enc_scale[0], m.enc_scale[1]),
        pred_scale: (m.pred_scale[0], m.pred_scale[1]),
        aspect_ratio: (m.aspect_ratio[0], m.aspect_ratio[1]),
        nenc: m.nenc,
        npred: m.npred,
        min_keep: m.min_keep,
        allow_overlap: m.allow_overlap,
        mode: match m.mode {
            MaskModeName::Parity => MaskMode::Parity,
            MaskModeName::Fixed => MaskMode::Fixed(FixedOptions::default()),
        },
        ..MaskConfig::official(grid, grid)
    }
}

/// The EC-IJEPA conditioning named `s`.
pub fn conditioning(s: &str) -> Option<Conditioning> {
    match s.to_ascii_lowercase().replace('_', "-").as_str() {
        "block-mean" => Some(Conditioning::BlockMean),
        "per-position" => Some(Conditioning::PerPosition),
        "additive" => Some(Conditioning::Additive),
        "none" => Some(Conditioning::None),
        _ => None,
    }
}

/// Checks everything that can be checked without reading data.
pub fn validate(c: &RunConfig) -> CliResult<()> {
    let bad = |m: String| Err(CliError::Config(m));
    if (c.train.epochs == 0) == (c.train.steps == 0) {
        return bad(format!(
            "set exactly one of epochs ({}) and steps ({})",
            c.train.epochs, c.train.steps
        ));
    }
    if c.train.batch_size == 0 || c.data.workers == 0 {
        return bad("batch_size and data.workers must be >= 1".into());
    }
    if !MODEL_SIZES.contains(&c.model.size.to_ascii_lowercase().as_str()) {
        return bad(format!(
            "unknown model size `{}` (expected tiny, small, base, large, huge or giant)",
            c.model.size
        ));
    }
    let m = &c.model;
    if m.patch_size == 0 || m.image_size == 0 || !m.image_size.is_multiple_of(m.patch_size) {
        return bad(format!(
            "image_size {} must be a positive multiple of patch_size {}",
            m.image_size, m.patch_size
        ));
    }
    if m.pred_dim == 0 || m.pred_depth == 0 {
        return bad("model.pred_dim and model.pred_depth must be >= 1".into());
    }
    let o = &c.optim;
    let rates = [
        ("lr", o.lr),
        ("start_lr", o.start_lr),
        ("final_lr", o.final_lr),
    ];
    if let Some((k, v)) = rates.iter().find(|(_, v)| !(v.is_finite() && *v >= 0.0)) {
        return bad(format!("optim.{k} = {v} must be finite and >= 0"));
    }
    if !(o.warmup_epochs.is_finite() && o.warmup_epochs >= 0.0) {
        return bad(format!(
            "optim.warmup_epochs = {} must be >= 0",
            o.warmup_epochs
        ));
    }
    let unit = [("ema_start", o.ema_start), ("ema_end", o.ema_end)];
    if let Some((k, v)) = unit.iter().find(|(_, v)| !(0.0..=1.0).contains(v)) {
        return bad(format!("optim.{k} = {v} must lie in [0, 1]"));
    }
    if !(0.0 < c.data.crop_scale_min && c.data.crop_scale_min <= 1.0) {
        return bad(format!(
            "data.crop_scale_min = {} must lie in (0, 1]",
            c.data.crop_scale_min
        ));
    }
    if conditioning(&c.ecijepa.conditioning).is_none() {
        return bad(format!(
            "ecijepa.conditioning = `{}` (expected block-mean, per-position, additive or none)",
            c.ecijepa.conditioning
        ));
    }
    if !(0.0..1.0).contains(&c.ecijepa.dropout) {
        return bad(format!(
            "ecijepa.dropout = {} must lie in [0, 1)",
            c.ecijepa.dropout
        ));
    }
    let unit_range = [
        ("data.color_jitter", c.data.color_jitter),
        ("data.grayscale", c.data.grayscale),
    ];
    if let Some((k, v)) = unit_range.iter().find(|(_, v)| !(0.0..=1.0).contains(v)) {
        return bad(format!("{k} = {v} must lie in [0, 1]"));
    }
    if regression_loss(&c.train.loss).is_none() {
        return bad(format!(
            "train.loss = `{}` (expected smooth-l1 or mse)",
            c.train.loss
        ));
    }
    if cjepa_variant(&c.cjepa.variant).is_none() {
        return bad(format!(
            "cjepa.variant = `{}` (expected predictions, two-views or predictions-and-context)",
            c.cjepa.variant
        ));
    }
    let weights = [
        ("beta", c.cjepa.beta),
        ("var_weight", c.cjepa.var_weight),
        ("cov_weight", c.cjepa.cov_weight),
        ("inv_weight", c.cjepa.inv_weight),
    ];
    if let Some((k, v)) = weights.iter().find(|(_, v)| !(v.is_finite() && *v >= 0.0)) {
        return bad(format!("cjepa.{k} = {v} must be finite and >= 0"));
    }
    if c.eval.every > 0 && c.data.holdout == 0 {
        return bad(format!(
            "eval.every = {} needs held-out images to score on: set data.holdout (--holdout N)",
            c.eval.every
        ));
    }
    mask_config(c).validate()?;
    crate::runtime::parse_device(&c.device)?;
    c.matmul_precision
        .parse::<jepa_kernels::cpu::gemm::MatmulPrecision>()
        .map_err(CliError::Usage)?;
    Ok(())
}

/// The C-JEPA variant named `s` (methods.md §4.2–§4.4).
pub fn cjepa_variant(s: &str) -> Option<CJepaVariant> {
    match s.to_ascii_lowercase().replace('_', "-").as_str() {
        "predictions" => Some(CJepaVariant::PooledPredictions),
        "two-views" | "a" => Some(CJepaVariant::TwoViews),
        "predictions-and-context" | "b" => Some(CJepaVariant::PredictionsAndContext),
        _ => None,
    }
}

/// The prediction loss named `s`.
pub fn regression_loss(s: &str) -> Option<RegressionLoss> {
    match s.to_ascii_lowercase().replace('_', "-").as_str() {
        "smooth-l1" => Some(RegressionLoss::SmoothL1 { beta: 1.0 }),
        "mse" => Some(RegressionLoss::Mse),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{parse_config_text, preset};

    fn invalid(text: &str) -> String {
        let c = parse_config_text(text, "c.toml", None).unwrap();
        validate(&c).unwrap_err().to_string()
    }

    #[test]
    fn new_levers_parse_and_bad_values_name_their_key() {
        let c = parse_config_text(
            "[cjepa]\nvariant = \"two-views\"\nbeta = 0.04\n[train]\nloss = \"mse\"\n\
             [data]\ncolor_jitter = 0.5\ngrayscale = 0.2\nholdout = 100\n",
            "c.toml",
            None,
        )
        .unwrap();
        validate(&c).unwrap();
        assert_eq!(
            cjepa_variant(&c.cjepa.variant),
            Some(CJepaVariant::TwoViews)
        );
        assert_eq!(regression_loss(&c.train.loss), Some(RegressionLoss::Mse));
        assert_eq!((c.data.holdout, c.cjepa.beta), (100, 0.04));
        assert!(invalid("[train]\nloss = \"l3\"\n").contains("train.loss"));
        assert!(invalid("[cjepa]\nvariant = \"c\"\n").contains("cjepa.variant"));
        assert!(invalid("[cjepa]\nbeta = -1.0\n").contains("cjepa.beta"));
        assert!(invalid("[data]\ncolor_jitter = 1.5\n").contains("data.color_jitter"));
        assert!(invalid("[data]\ngrayscale = -0.1\n").contains("data.grayscale"));
    }

    #[test]
    fn eval_needs_a_holdout() {
        let e = invalid("[eval]\nevery = 50\n");
        assert!(
            e.contains("eval.every = 50") && e.contains("data.holdout"),
            "{e}"
        );
        assert!(!e.contains('\n'), "one line: {e}");
        let c = parse_config_text(
            "[eval]\nevery = 50\nlinear = false\ntest_images = 300\n[data]\nholdout = 500\n",
            "c.toml",
            None,
        )
        .unwrap();
        validate(&c).unwrap();
        assert_eq!(
            (
                c.eval.every,
                c.eval.train_images,
                c.eval.test_images,
                c.eval.linear
            ),
            (50, 5000, 300, false)
        );
        let e = parse_config_text("[eval]\nevry = 5\n", "c.toml", None).unwrap_err();
        assert!(e.to_string().contains("unknown key `eval.evry`"), "{e}");
    }

    #[test]
    fn defaults_keep_the_official_recipe() {
        let c = preset("vit-tiny-cifar").unwrap();
        assert_eq!(
            regression_loss(&c.train.loss),
            Some(RegressionLoss::SmoothL1 { beta: 1.0 })
        );
        assert_eq!(
            cjepa_variant(&c.cjepa.variant),
            Some(CJepaVariant::PooledPredictions)
        );
        assert_eq!(
            (c.data.color_jitter, c.data.grayscale, c.data.holdout),
            (0.0, 0.0, 0)
        );
        for (name, _) in crate::config::PRESETS {
            let e = &preset(name).unwrap().eval;
            assert_eq!(
                (e.every, e.train_images, e.test_images, e.linear),
                (0, 5000, 2000, true)
            );
        }
    }
}
