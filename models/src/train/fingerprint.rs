//! The resume fingerprint: the settings a resumed run must share with its checkpoint for the
//! trajectory to be the one it would have been (architecture, method, loss, batch, seed,
//! training augmentation), stored in the checkpoint as versioned `key=value` lines.
//!
//! Every key is written by name, so adding a config field later does not change the others; a
//! key that an older checkpoint lacks is accepted when this run holds that key's default
//! ([`DEFAULTS`]), so old checkpoints keep resuming. Checkpoints written before this format
//! stored `{:?}` Debug output; [`Fingerprint::accepts`] still compares those against the same
//! text rebuilt from this run ([`legacy`]), which is the only use of Debug output left.

use super::TrainConfig;
use std::collections::BTreeMap;

/// First line of a fingerprint in this format.
const HEADER: &str = "jepa-fingerprint v2";

/// Values a key takes when a checkpoint predates it (none yet: every v2 key exists since v2).
const DEFAULTS: &[(&str, &str)] = &[];

/// The named settings of one run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fingerprint(BTreeMap<String, String>);

impl Fingerprint {
    /// The fingerprint of `cfg`.
    pub fn of(cfg: &TrainConfig) -> Fingerprint {
        let (j, t) = (&cfg.jepa, &cfg.transform);
        let (e, p, c) = (&j.encoder, &j.predictor, &j.cjepa);
        let mut m = BTreeMap::new();
        let mut put = |k: &str, v: String| {
            m.insert(k.to_string(), v);
        };
        put("method", format!("{:?}", j.method));
        for (k, v) in [
            ("img_size", e.img_size),
            ("patch_size", e.patch_size),
            ("in_chans", e.in_chans),
            ("dim", e.dim),
            ("depth", e.depth),
            ("heads", e.heads),
            ("mlp_hidden", e.mlp_hidden),
        ] {
            put(&format!("encoder.{k}"), v.to_string());
        }
        put("encoder.qkv_bias", e.qkv_bias.to_string());
        put("encoder.ln_eps", e.ln_eps.to_string());
        for (k, v) in [
            ("dim", p.dim),
            ("depth", p.depth),
            ("heads", p.heads),
            ("mlp_hidden", p.mlp_hidden),
        ] {
            put(&format!("predictor.{k}"), v.to_string());
        }
        put("predictor.qkv_bias", p.qkv_bias.to_string());
        put("predictor.ln_eps", p.ln_eps.to_string());
        put("loss", format!("{:?}", j.loss));
        put("cjepa.variant", format!("{:?}", c.variant));
        for (k, v) in [
            ("beta", c.beta),
            ("inv_coeff", c.inv_coeff),
            ("var_coeff", c.var_coeff),
            ("cov_coeff", c.cov_coeff),
            ("eps", c.eps),
        ] {
            put(&format!("cjepa.{k}"), v.to_string());
        }
        put("ec.conditioning", format!("{:?}", j.ec.conditioning));
        put("ec.dropout", j.ec.dropout.to_string());
        put("ec.eval_policy", format!("{:?}", j.ec.eval_policy));
        put("batch", cfg.batch_size.to_string());
        put("seed", cfg.seed.to_string());
        put("transform.size", t.size.to_string());
        put("transform.scale", format!("{},{}", t.scale.0, t.scale.1));
        put("transform.ratio", format!("{},{}", t.ratio.0, t.ratio.1));
        put("transform.hflip", t.hflip.to_string());
        put("transform.channels", t.channels.to_string());
        put("transform.normalize", format!("{:?}", t.normalize));
        put("transform.color_jitter", t.color_jitter.to_string());
        put("transform.grayscale", t.grayscale.to_string());
        Fingerprint(m)
    }

    /// Parses the stored text; None for text in another format (e.g. the legacy one).
    pub fn parse(s: &str) -> Option<Fingerprint> {
        let mut lines = s.lines();
        if lines.next()? != HEADER {
            return None;
        }
        let mut m = BTreeMap::new();
        for line in lines {
            let (k, v) = line.split_once('=')?;
            m.insert(k.to_string(), v.to_string());
        }
        Some(Fingerprint(m))
    }

    /// `Ok` when a checkpoint whose fingerprint text is `stored` may be resumed by the run of
    /// `cfg`; otherwise the first setting that differs.
    pub fn accepts(cfg: &TrainConfig, stored: &str) -> Result<(), String> {
        let this = Fingerprint::of(cfg);
        let Some(old) = Fingerprint::parse(stored) else {
            return match stored == legacy(cfg) || legacy_without_transform(stored, cfg) {
                true => Ok(()),
                false => Err("a different configuration (pre-v2 fingerprint)".into()),
            };
        };
        for (k, v) in &this.0 {
            let theirs = old.0.get(k).map(String::as_str).or_else(|| default(k));
            if theirs != Some(v.as_str()) {
                let was = theirs.unwrap_or("absent");
                return Err(format!("{k} is {v}, the checkpoint has {was}"));
            }
        }
        match old.0.keys().find(|k| !this.0.contains_key(*k)) {
            Some(k) => Err(format!(
                "the checkpoint sets `{k}`, unknown to this version"
            )),
            None => Ok(()),
        }
    }
}

impl std::fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{HEADER}")?;
        for (k, v) in &self.0 {
            write!(f, "\n{k}={v}")?;
        }
        Ok(())
    }
}

fn default(key: &str) -> Option<&'static str> {
    DEFAULTS.iter().find(|(k, _)| *k == key).map(|(_, v)| *v)
}

/// The pre-v2 fingerprint text of `cfg` (Debug output of the settings).
fn legacy(cfg: &TrainConfig) -> String {
    format!("{};transform={:?}", legacy_v1(cfg), cfg.transform)
}

/// Checkpoints from before the transform joined the fingerprint: accepted when this run has no
/// colour augmentation, the only kind those runs could have had.
fn legacy_without_transform(stored: &str, cfg: &TrainConfig) -> bool {
    let t = &cfg.transform;
    !stored.contains(";transform=")
        && t.color_jitter == 0.0
        && t.grayscale == 0.0
        && stored == legacy_v1(cfg)
}

fn legacy_v1(cfg: &TrainConfig) -> String {
    let j = &cfg.jepa;
    format!(
        "method={:?};encoder={:?};predictor={:?};loss={:?};cjepa={:?};ec={:?};batch={};seed={}",
        j.method, j.encoder, j.predictor, j.loss, j.cjepa, j.ec, cfg.batch_size, cfg.seed
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jepa::Method;
    use crate::train::DataSource;

    fn cfg() -> TrainConfig {
        let data = DataSource::Synthetic {
            samples: 8,
            classes: 2,
            size: 32,
            seed: 1,
        };
        TrainConfig::small(Method::IJepa, data, "x".into())
    }

    #[test]
    fn round_trips_and_names_the_first_difference() {
        let a = cfg();
        let fp = Fingerprint::of(&a);
        let text = fp.to_string();
        assert_eq!(Fingerprint::parse(&text), Some(fp.clone()));
        assert!(Fingerprint::accepts(&a, &text).is_ok());
        let mut b = cfg();
        b.batch_size += 1;
        let e = Fingerprint::accepts(&b, &text).unwrap_err();
        assert!(e.contains("batch"), "{e}");
        // A key the stored text lacks and that has no default is a difference.
        let trimmed: String = text
            .lines()
            .filter(|l| !l.starts_with("seed="))
            .collect::<Vec<_>>()
            .join("\n");
        assert!(Fingerprint::accepts(&a, &trimmed)
            .unwrap_err()
            .contains("seed"));
        // Settings outside the fingerprint (threads, output directory) never matter.
        let mut c = cfg();
        c.threads = 7;
        assert!(Fingerprint::accepts(&c, &text).is_ok());
    }

    #[test]
    fn legacy_debug_fingerprints_still_resume() {
        let a = cfg();
        assert!(Fingerprint::accepts(&a, &legacy(&a)).is_ok());
        assert!(
            Fingerprint::accepts(&a, &legacy_v1(&a)).is_ok(),
            "pre-transform form"
        );
        assert!(Fingerprint::accepts(&a, "method=CJepa;other").is_err());
    }
}
