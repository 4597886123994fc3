//! Merging preset, config file and flags into one validated [`RunConfig`].

use std::path::Path;

use toml::{Table, Value};

use super::check::validate;
use super::{preset, MaskModeName, Method, RunConfig, PRESETS};
use crate::args::PretrainArgs;
use crate::error::{CliError, CliResult};

/// Keys that may be absent from a fully resolved configuration (so a preset's table lacks them).
const OPTIONAL_KEYS: &[&str] = &["preset", "data.path", "output.dir"];
/// Encoder sizes the ViT factory knows.
pub const MODEL_SIZES: &[&str] = &["tiny", "small", "base", "large", "huge", "giant"];

fn unknown_preset(name: &str) -> CliError {
    let names: Vec<&str> = PRESETS.iter().map(|p| p.0).collect();
    CliError::Config(format!(
        "unknown preset `{name}` (expected one of: {})",
        names.join(", ")
    ))
}

/// The preset called `name`, or a one-line error listing the known ones.
pub fn preset_or_err(name: &str) -> CliResult<RunConfig> {
    preset(name).ok_or_else(|| unknown_preset(name))
}

/// Line (1-based) of the first `key =` assignment in `text`, for error messages.
fn line_of(text: &str, key: &str) -> Option<usize> {
    text.lines()
        .position(|l| {
            l.trim_start()
                .strip_prefix(key)
                .is_some_and(|rest| rest.trim_start().starts_with('='))
        })
        .map(|i| i + 1)
}

/// Rejects keys of `file` that `known` does not have, naming the dotted key and its line.
fn check_keys(
    file: &Table,
    known: &Table,
    prefix: &str,
    text: &str,
    origin: &str,
) -> CliResult<()> {
    for (k, v) in file {
        let dotted = if prefix.is_empty() {
            k.clone()
        } else {
            format!("{prefix}.{k}")
        };
        match (v, known.get(k)) {
            (Value::Table(sub), Some(Value::Table(ksub))) => {
                check_keys(sub, ksub, &dotted, text, origin)?
            }
            (_, Some(_)) => {}
            (_, None) if OPTIONAL_KEYS.contains(&dotted.as_str()) => {}
            (_, None) => {
                let at = line_of(text, k)
                    .map(|l| format!(" (line {l})"))
                    .unwrap_or_default();
                return Err(CliError::Config(format!(
                    "{origin}: unknown key `{dotted}`{at}"
                )));
            }
        }
    }
    Ok(())
}

fn merge(base: &mut Table, over: Table) {
    for (k, v) in over {
        match (base.get_mut(&k), v) {
            (Some(Value::Table(b)), Value::Table(o)) => merge(b, o),
            (_, v) => {
                base.insert(k, v);
            }
        }
    }
}

/// Parses config text (`origin` names it in errors) on top of `base`, or on top of the preset the
/// text names. Unknown keys, wrong types and unknown presets are errors.
pub fn parse_config_text(
    text: &str,
    origin: &str,
    base: Option<RunConfig>,
) -> CliResult<RunConfig> {
    let file: Table = text.parse().map_err(|e: toml::de::Error| {
        let at = e
            .span()
            .map(|s| {
                format!(
                    " (line {})",
                    text[..s.start.min(text.len())].lines().count().max(1)
                )
            })
            .unwrap_or_default();
        CliError::Config(format!(
            "{origin}: invalid TOML: {}{at}",
            e.message().trim()
        ))
    })?;
    let base = match file.get("preset") {
        Some(Value::String(name)) => preset_or_err(name)?,
        Some(_) => {
            return Err(CliError::Config(format!(
                "{origin}: `preset` must be a string"
            )))
        }
        None => base.unwrap_or_else(|| preset("vit-tiny-cifar").unwrap_or_else(|| unreachable!())),
    };
    let mut merged = Table::try_from(&base)
        .map_err(|e| CliError::Other(format!("cannot serialise the base config: {e}")))?;
    check_keys(&file, &merged, "", text, origin)?;
    merge(&mut merged, file);
    // Deserialising from text (not from the table) gives errors a span, from which the key at
    // fault is recovered and located in the user's file.
    let merged_text = toml::to_string(&Value::Table(merged))
        .map_err(|e| CliError::Other(format!("cannot serialise the merged config: {e}")))?;
    toml::from_str::<RunConfig>(&merged_text).map_err(|e| {
        let msg = crate::error::one_line(e.message());
        match e.span().and_then(|sp| key_at(&merged_text, sp.start)) {
            Some(key) => {
                let leaf = key.rsplit('.').next().unwrap_or(&key);
                let at = line_of(text, leaf)
                    .map(|l| format!(" (line {l})"))
                    .unwrap_or_default();
                CliError::Config(format!("{origin}: `{key}`: {msg}{at}"))
            }
            None => CliError::Config(format!("{origin}: {msg}")),
        }
    })
}

/// The dotted key assigned on the line holding byte `offset` of serialised TOML text.
fn key_at(text: &str, offset: usize) -> Option<String> {
    let before = text.get(..offset)?;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let line = text[line_start..].lines().next()?;
    let key = line.split('=').next()?.trim().trim_matches('"');
    if key.is_empty() || key.starts_with('[') {
        return None;
    }
    let section = before[..line_start]
        .lines()
        .rev()
        .find_map(|l| l.trim().strip_prefix('[').and_then(|r| r.strip_suffix(']')));
    Some(match section {
        Some(sec) => format!("{sec}.{key}"),
        None => key.to_string(),
    })
}

/// Resolves a `pretrain` invocation. `saved` is the configuration stored in the run directory
/// when resuming; it replaces preset and file so a resumed run continues what was started.
pub fn resolve(args: &PretrainArgs, saved: Option<RunConfig>) -> CliResult<RunConfig> {
    let mut cfg = match (&args.preset, saved) {
        (_, Some(saved)) => saved,
        (Some(name), None) => preset_or_err(name)?,
        (None, None) => preset_or_err("vit-tiny-cifar")?,
    };
    if let Some(path) = &args.config {
        let text = std::fs::read_to_string(path).map_err(|e| CliError::io(path, e))?;
        let has_preset = text.lines().any(|l| l.trim_start().starts_with("preset"));
        let base = (!has_preset || args.preset.is_some()).then(|| cfg.clone());
        cfg = parse_config_text(&text, &path.display().to_string(), base)?;
        if let Some(name) = &args.preset {
            cfg.preset = Some(name.clone());
        }
    }
    apply_flags(&mut cfg, args)?;
    validate(&cfg)?;
    Ok(cfg)
}

fn apply_flags(c: &mut RunConfig, a: &PretrainArgs) -> CliResult<()> {
    macro_rules! set {
        ($flag:expr => $field:expr) => {
            if let Some(v) = &$flag {
                $field = v.clone();
            }
        };
    }
    if let Some(m) = &a.method {
        c.method = Method::parse(m).ok_or_else(|| {
            CliError::Usage(format!(
                "unknown method `{m}` (expected ijepa, cjepa or ecijepa)"
            ))
        })?;
    }
    if let Some(m) = &a.mask_mode {
        c.mask.mode = match m.to_ascii_lowercase().as_str() {
            "parity" => MaskModeName::Parity,
            "fixed" => MaskModeName::Fixed,
            _ => {
                return Err(CliError::Usage(format!(
                    "unknown mask mode `{m}` (expected parity or fixed)"
                )))
            }
        };
    }
    if let Some(s) = a.steps {
        (c.train.steps, c.train.epochs) = (s, 0);
    }
    if let Some(e) = a.epochs {
        (c.train.epochs, c.train.steps) = (e, 0);
    }
    if let Some(p) = &a.data {
        c.data.path = Some(p.clone());
    }
    if let Some(p) = &a.out {
        c.output.dir = Some(p.clone());
    }
    set!(a.model => c.model.size);
    set!(a.image_size => c.model.image_size);
    set!(a.patch_size => c.model.patch_size);
    set!(a.batch_size => c.train.batch_size);
    set!(a.lr => c.optim.lr);
    set!(a.start_lr => c.optim.start_lr);
    set!(a.final_lr => c.optim.final_lr);
    set!(a.warmup_epochs => c.optim.warmup_epochs);
    set!(a.weight_decay => c.optim.weight_decay);
    set!(a.final_weight_decay => c.optim.final_weight_decay);
    set!(a.ema_start => c.optim.ema_start);
    set!(a.ema_end => c.optim.ema_end);
    set!(a.checkpoint_every => c.train.checkpoint_every);
    set!(a.seed => c.seed);
    if let Some(h) = a.holdout {
        c.data.holdout = h;
    }
    set!(a.eval_every => c.eval.every);
    set!(a.compute.device => c.device);
    set!(a.compute.threads => c.threads);
    set!(a.compute.matmul_precision => c.matmul_precision);
    Ok(())
}

/// Reads the configuration a run directory was started with, if any.
pub fn saved_config(dir: &Path) -> CliResult<Option<RunConfig>> {
    let path = dir.join("config.toml");
    if !path.is_file() {
        return Ok(None);
    }
    let text = std::fs::read_to_string(&path).map_err(|e| CliError::io(&path, e))?;
    let origin = path.display().to_string();
    // Through the preset merge, so a run saved before a key existed still resumes (the new key
    // takes the preset's value, which is what the old code did).
    Ok(Some(parse_config_text(&text, &origin, None)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(text: &str) -> String {
        parse_config_text(text, "c.toml", None)
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn errors_name_the_file_the_dotted_key_and_its_line() {
        let e = err("seed = 1\n[train]\nsteps = \"many\"\n");
        assert!(
            e.starts_with("c.toml: `train.steps`:") && e.contains("(line 3)"),
            "{e}"
        );
        let e = err("[mask]\nmode = \"fixed\"\nnpredd = 2\n");
        assert!(e.contains("unknown key `mask.npredd` (line 3)"), "{e}");
        let e = err("seed = -1\n");
        assert!(e.contains("`seed`"), "{e}");
    }

    #[test]
    fn file_overrides_preset_and_keeps_other_keys() {
        let c = parse_config_text(
            "preset = \"quickstart\"\n[train]\nbatch_size = 7\n",
            "c",
            None,
        )
        .unwrap();
        assert_eq!(c.train.batch_size, 7);
        assert_eq!(c.train.steps, 300);
        assert_eq!(c.preset.as_deref(), Some("quickstart"));
        let d = parse_config_text("[model]\nsize = \"small\"\n", "c", None).unwrap();
        assert_eq!((d.model.size.as_str(), d.model.image_size), ("small", 32));
    }
}
