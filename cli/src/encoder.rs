//! Loading a ViT encoder from a checkpoint whose architecture is not stored anywhere but in its
//! tensor shapes: jepa checkpoints, official I-JEPA checkpoints converted by
//! `tools/convert_ijepa_checkpoint.py`, or a bare encoder state dict. Only the tensors of the
//! chosen encoder are decoded from the memory-mapped file.

use std::collections::HashMap;
use std::path::Path;

use jepa_engine::io::SafetensorsFile;
use jepa_engine::Tensor;
use jepa_models::vit::{VisionTransformer, VitConfig, VitSize};

use crate::config::RunConfig;
use crate::error::{CliError, CliResult};

/// Which encoder of a JEPA checkpoint to use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Which {
    /// The EMA target encoder: the evaluation backbone (methods.md §7).
    Target,
    /// The context encoder.
    Context,
}

impl Which {
    pub fn parse(s: &str) -> CliResult<Self> {
        match s {
            "target" | "target_encoder" => Ok(Self::Target),
            "context" | "encoder" => Ok(Self::Context),
            _ => Err(CliError::Usage(format!(
                "unknown encoder `{s}` (expected target or context)"
            ))),
        }
    }

    fn prefix(self) -> &'static str {
        match self {
            Self::Target => "target_encoder.",
            Self::Context => "encoder.",
        }
    }
}

/// An encoder ready for inference and where it came from.
pub struct Loaded {
    pub encoder: VisionTransformer,
    /// Name prefix the weights were read under (`target_encoder.`, `encoder.` or none).
    pub prefix: String,
}

/// Heads of the official widths (tiny … giant); other widths need `--heads` or stored config.
fn heads_for_width(dim: usize) -> Option<usize> {
    [
        VitSize::Tiny,
        VitSize::Small,
        VitSize::Base,
        VitSize::Large,
        VitSize::Huge,
        VitSize::Giant,
    ]
    .into_iter()
    .map(VitSize::dims)
    .find(|d| d.0 == dim)
    .map(|d| d.2)
}

/// Heads of a `VitConfig { .. dim: D, .. heads: H, .. }` of width `dim` in Debug-printed text
/// (the trainer stores its configuration that way in checkpoint metadata).
fn heads_in_debug_text(text: &str, dim: usize) -> Option<usize> {
    let field = |body: &str, name: &str| -> Option<usize> {
        let rest = body.split(&format!("{name}: ")).nth(1)?;
        rest.split(|c: char| !c.is_ascii_digit())
            .next()?
            .parse()
            .ok()
    };
    text.split("VitConfig {").skip(1).find_map(|part| {
        let body = part.split('}').next()?;
        (field(body, "dim")? == dim)
            .then(|| field(body, "heads"))
            .flatten()
    })
}

fn shape_of(file: &SafetensorsFile, name: &str) -> CliResult<Vec<usize>> {
    file.shape(name).map_err(|_| {
        CliError::Other(format!(
            "{}: tensor `{name}` not found (not a ViT encoder checkpoint?)",
            file.path().display()
        ))
    })
}

/// Picks the prefix: the requested encoder's, or none for a bare encoder state dict.
fn choose_prefix(file: &SafetensorsFile, which: Which) -> CliResult<&'static str> {
    let names = file.names();
    let has = |p: &str| {
        names
            .iter()
            .any(|n| n == &format!("{p}patch_embed.proj.weight"))
    };
    if has(which.prefix()) {
        Ok(which.prefix())
    } else if has("") {
        Ok("")
    } else {
        let other = match which {
            Which::Target => "context (`--encoder context`)",
            Which::Context => "target (`--encoder target`)",
        };
        let hint = if has(Which::Target.prefix()) || has(Which::Context.prefix()) {
            format!("; it has a {other} encoder")
        } else {
            String::new()
        };
        Err(CliError::Other(format!(
            "{}: no `{}patch_embed.proj.weight`{hint}",
            file.path().display(),
            which.prefix()
        )))
    }
}

/// Reads the encoder configuration from the tensor shapes under `prefix`.
pub fn infer_config(
    file: &SafetensorsFile,
    prefix: &str,
    heads: Option<usize>,
) -> CliResult<VitConfig> {
    let origin = file.path().display().to_string();
    let bad = |m: String| CliError::Other(format!("{origin}: {m}"));
    let pw = shape_of(file, &format!("{prefix}patch_embed.proj.weight"))?;
    let [dim, in_chans, p, p2] = pw[..] else {
        return Err(bad(format!(
            "`{prefix}patch_embed.proj.weight` has shape {pw:?}, expected [D, C, p, p]"
        )));
    };
    let pos = shape_of(file, &format!("{prefix}pos_embed"))?;
    let n = match pos[..] {
        [1, n, d] if d == dim => n,
        _ => {
            return Err(bad(format!(
                "`{prefix}pos_embed` has shape {pos:?}, expected [1, N, {dim}]"
            )))
        }
    };
    let grid = (n as f64).sqrt().round() as usize;
    if p != p2 || grid * grid != n {
        return Err(bad(format!(
            "non-square patches ({p}x{p2}) or grid ({n} tokens)"
        )));
    }
    let names = file.names();
    let depth = (0..)
        .take_while(|i| {
            names
                .iter()
                .any(|s| s == &format!("{prefix}blocks.{i}.norm1.weight"))
        })
        .count();
    let fc1 = shape_of(file, &format!("{prefix}blocks.0.mlp.fc1.weight"))?;
    let qkv_bias = names
        .iter()
        .any(|s| s == &format!("{prefix}blocks.0.attn.qkv.bias"));
    let meta = file.metadata();
    let stored = meta
        .and_then(|m| m.get(jepa_models::checkpoint::META_CONFIG))
        .and_then(|t| toml::from_str::<RunConfig>(t).ok())
        .and_then(|c| VitSize::parse(&c.model.size))
        .map(|s| s.dims())
        .filter(|d| d.0 == dim)
        .map(|d| d.2)
        .or_else(|| meta.and_then(|m| m.values().find_map(|t| heads_in_debug_text(t, dim))));
    let heads = heads
        .or(stored)
        .or_else(|| heads_for_width(dim))
        .ok_or_else(|| {
            bad(format!(
                "cannot tell the number of attention heads for width {dim}; pass --heads"
            ))
        })?;
    let cfg = VitConfig {
        img_size: grid * p,
        patch_size: p,
        in_chans,
        dim,
        depth,
        heads,
        mlp_hidden: fc1.first().copied().unwrap_or(0),
        qkv_bias,
        ln_eps: 1e-6,
    };
    cfg.validate().map_err(|e| bad(e.to_string()))?;
    Ok(cfg)
}

/// Loads the `which` encoder of the checkpoint at `path` (or a bare encoder state dict).
pub fn load(path: &Path, which: Which, heads: Option<usize>) -> CliResult<Loaded> {
    let file = SafetensorsFile::open(path)?;
    let prefix = choose_prefix(&file, which)?;
    let cfg = infer_config(&file, prefix, heads)?;
    let encoder = VisionTransformer::new(cfg, Vec::new(), 0, false)
        .map_err(|e| CliError::Other(format!("{}: {e}", path.display())))?;
    let mut map: HashMap<String, Tensor> = HashMap::new();
    for name in file.names().into_iter().filter(|n| n.starts_with(prefix)) {
        // A bare state dict shares the empty prefix with everything: take only encoder names.
        if prefix.is_empty() && (name.starts_with("predictor") || name.contains("encoder.")) {
            continue;
        }
        let t = file.tensor(&name)?;
        map.insert(name, t);
    }
    encoder
        .load_map(&map, prefix, &path.display().to_string())
        .map_err(|e| CliError::Other(format!("{}: {e}", path.display())))?;
    Ok(Loaded {
        encoder,
        prefix: prefix.to_string(),
    })
}

/// A randomly initialised encoder of the same architecture (the random-init baseline).
pub fn random_like(cfg: &VitConfig, seed: u64) -> CliResult<VisionTransformer> {
    VisionTransformer::new(cfg.clone(), Vec::new(), seed, false)
        .map_err(|e| CliError::Other(format!("random-init encoder: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn official_widths_have_their_heads() {
        assert_eq!(heads_for_width(192), Some(3));
        assert_eq!(heads_for_width(1280), Some(16));
        assert_eq!(heads_for_width(100), None);
    }

    #[test]
    fn heads_are_read_from_a_debug_printed_config() {
        let t = "method=IJepa;encoder=VitConfig { img_size: 32, dim: 64, depth: 2, heads: 4, \
                 mlp_hidden: 256 };predictor=PredictorConfig { dim: 32, heads: 4 }";
        assert_eq!(heads_in_debug_text(t, 64), Some(4));
        assert_eq!(heads_in_debug_text(t, 32), None);
        assert_eq!(heads_in_debug_text("no config", 64), None);
    }

    #[test]
    fn which_parses_both_spellings() {
        assert_eq!(Which::parse("target").unwrap(), Which::Target);
        assert_eq!(Which::parse("encoder").unwrap(), Which::Context);
        assert!(Which::parse("predictor").is_err());
    }
}
