//! Shared helpers of the golden parity tests: locating `$JEPA_GOLDEN_DIR`, reading cases and
//! their metadata, building configs from metadata, and tolerance-based comparison.
#![allow(dead_code)]

use jepa_engine::io::SafetensorsFile;
use jepa_engine::Tensor;
use jepa_models::jepa::{cond_specs, Jepa, JepaConfig};
use jepa_models::vit::{PredictorConfig, VisionTransformer, VisionTransformerPredictor, VitConfig};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Model-level cases; a folder holding none of them is a configuration error, not a pass.
const MODEL_CASES: &[&str] = &[
    "vit_weights",
    "vit_case",
    "step_encoder",
    "step_predictor",
    "step_case",
    "step_grads",
    "step_after",
    "step_cjepa_case",
    "step_ecijepa_case",
];

/// `$JEPA_GOLDEN_DIR`, else `<repo>/../shared/golden`.
pub fn golden_dir() -> PathBuf {
    match std::env::var_os("JEPA_GOLDEN_DIR") {
        Some(d) => PathBuf::from(d),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/golden"),
    }
}

/// One golden file: its tensors and metadata.
pub struct Case {
    pub name: String,
    pub tensors: HashMap<String, Tensor>,
    pub meta: HashMap<String, String>,
}

/// Opens `<dir>/<name>.safetensors`. `None` (with a note on stderr) when absent but some other
/// model case is present; panics when the folder holds no model case at all.
pub fn open(name: &str) -> Option<Case> {
    let dir = golden_dir();
    let path = dir.join(format!("{name}.safetensors"));
    if !path.exists() {
        let any = MODEL_CASES
            .iter()
            .any(|c| dir.join(format!("{c}.safetensors")).exists());
        assert!(
            any,
            "golden folder {} holds none of the model cases {MODEL_CASES:?}; set JEPA_GOLDEN_DIR",
            dir.display()
        );
        eprintln!(
            "golden case {name} absent from {}: not checked",
            dir.display()
        );
        return None;
    }
    Some(open_path(&path, name))
}

/// Reads the case at `path` (a file that must exist).
pub fn open_path(path: &Path, name: &str) -> Case {
    let file = SafetensorsFile::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let meta = file.metadata().cloned().unwrap_or_default();
    eprintln!("{name} metadata: {meta:?}");
    let tensors = file.load_all().unwrap_or_else(|e| panic!("{name}: {e}"));
    Case {
        name: name.into(),
        tensors,
        meta,
    }
}

/// Opens several cases; `None` if any is absent.
pub fn open_all(names: &[&str]) -> Option<Vec<Case>> {
    names.iter().map(|n| open(n)).collect()
}

impl Case {
    /// The tensors under `prefix` (prefix stripped), with the same metadata.
    pub fn sub(&self, prefix: &str) -> Case {
        let tensors = self
            .tensors
            .iter()
            .filter_map(|(k, t)| Some((k.strip_prefix(prefix)?.to_string(), t.clone())))
            .collect();
        Case {
            name: format!("{}[{prefix}]", self.name),
            tensors,
            meta: self.meta.clone(),
        }
    }

    pub fn t(&self, key: &str) -> &Tensor {
        self.tensors
            .get(key)
            .unwrap_or_else(|| panic!("{}: tensor `{key}` missing", self.name))
    }
    pub fn get(&self, key: &str) -> Option<&Tensor> {
        self.tensors.get(key)
    }
    pub fn meta_str(&self, key: &str) -> Option<&str> {
        self.meta.get(key).map(String::as_str)
    }
    pub fn meta_f64(&self, key: &str) -> Option<f64> {
        self.meta_str(key).map(|v| {
            v.trim()
                .parse()
                .unwrap_or_else(|_| panic!("{}: metadata {key}={v} is not a number", self.name))
        })
    }
    pub fn meta_usize(&self, key: &str) -> Option<usize> {
        self.meta_f64(key).map(|v| v as usize)
    }
    pub fn meta_bool(&self, key: &str) -> Option<bool> {
        self.meta_str(key)
            .map(|v| matches!(v.trim().to_ascii_lowercase().as_str(), "true" | "1"))
    }
    /// `(a, b)` from a metadata tuple such as `(0.9, 0.999)`.
    pub fn meta_pair(&self, key: &str) -> Option<(f64, f64)> {
        let v = self.meta_str(key)?;
        let nums: Vec<f64> = v
            .trim_matches(|c| c == '(' || c == ')' || c == '[' || c == ']')
            .split(',')
            .map(|s| s.trim().parse().expect("tuple of numbers"))
            .collect();
        Some((nums[0], nums[1]))
    }
    /// Keys with `prefix`, prefix stripped.
    pub fn keys_with(&self, prefix: &str) -> Vec<String> {
        let mut v: Vec<String> = self
            .tensors
            .keys()
            .filter_map(|k| k.strip_prefix(prefix).map(str::to_string))
            .collect();
        v.sort();
        v
    }
}

/// Encoder config from a weights case: metadata where given, tensor shapes otherwise.
pub fn vit_config(w: &Case, prefix: &str) -> VitConfig {
    let pw = w
        .t(&format!("{prefix}patch_embed.proj.weight"))
        .dims()
        .to_vec();
    let (dim, chans, patch) = (pw[0], pw[1], pw[3]);
    let n = w.t(&format!("{prefix}pos_embed")).dims()[1];
    let grid = (n as f64).sqrt().round() as usize;
    let depth = (0..)
        .take_while(|i| w.get(&format!("{prefix}blocks.{i}.norm1.weight")).is_some())
        .count();
    let hidden = w.t(&format!("{prefix}blocks.0.mlp.fc1.weight")).dims()[0];
    let mut cfg = VitConfig::custom(
        dim,
        depth,
        w.meta_usize("heads").expect("heads"),
        grid * patch,
        patch,
    );
    cfg.in_chans = chans;
    cfg.mlp_hidden = hidden;
    cfg.qkv_bias = w.get(&format!("{prefix}blocks.0.attn.qkv.bias")).is_some();
    if let Some(eps) = w.meta_f64("ln_eps") {
        cfg.ln_eps = eps as f32;
    }
    if let Some(v) = w.meta_usize("dim") {
        assert_eq!(v, dim, "metadata dim vs patch_embed weight");
    }
    if let Some(v) = w.meta_usize("img") {
        assert_eq!(v, cfg.img_size, "metadata img vs pos_embed grid");
    }
    cfg
}

/// Predictor config from a predictor weights case (`pred_heads` metadata, shapes otherwise).
pub fn predictor_config(p: &Case, enc: &VitConfig) -> PredictorConfig {
    let dp = p.t("mask_token").dims()[2];
    let depth = (0..)
        .take_while(|i| {
            p.get(&format!("predictor_blocks.{i}.norm1.weight"))
                .is_some()
        })
        .count();
    let mut cfg = PredictorConfig::for_encoder(enc, dp, depth);
    cfg.heads = p.meta_usize("pred_heads").unwrap_or(enc.heads);
    cfg.mlp_hidden = p.t("predictor_blocks.0.mlp.fc1.weight").dims()[0];
    cfg.qkv_bias = p.get("predictor_blocks.0.attn.qkv.bias").is_some();
    cfg
}

/// Asserts `got ≈ want` elementwise: |diff| ≤ max(1e-4·max|want|, 10·f32err, 1e-6).
pub fn assert_close(what: &str, got: &Tensor, want: &Tensor, f32err: Option<f64>) {
    assert_close_with(what, got, want, f32err, |_| 0.0)
}

/// [`assert_close`] with an extra per-element allowance `slack(i)` added to the tolerance.
pub fn assert_close_with(
    what: &str,
    got: &Tensor,
    want: &Tensor,
    f32err: Option<f64>,
    slack: impl Fn(usize) -> f64,
) {
    assert_eq!(got.dims(), want.dims(), "{what}: shape");
    let (g, w) = (got.to_vec_f32().unwrap(), want.to_vec_f32().unwrap());
    let max = w.iter().fold(0f64, |m, &v| m.max((v as f64).abs()));
    let tol = (1e-4 * max).max(10.0 * f32err.unwrap_or(0.0)).max(1e-6);
    let (mut worst, mut at) = (0f64, 0);
    for (i, (&a, &b)) in g.iter().zip(&w).enumerate() {
        let d = (a as f64 - b as f64).abs() - slack(i);
        // NaN counts as the worst difference.
        if d.is_nan() || d > worst {
            worst = d;
            at = i;
        }
    }
    assert!(
        worst <= tol, // false for NaN
        "{what}: max |diff| - slack {worst:e} at {at} (got {}, want {}) > tol {tol:e} (max |want| \
         {max:e})",
        g[at],
        w[at]
    );
}

/// The JEPA of `cfg` with the encoder and predictor weights of `enc` / `pred` (official names);
/// `cfg.predictor` is replaced by the one `pred` describes.
pub fn load_jepa(mut cfg: JepaConfig, enc: &Case, pred: &Case) -> Jepa {
    cfg.predictor = predictor_config(pred, &cfg.encoder);
    let ecfg = cfg.encoder.clone();
    let encoder = VisionTransformer::new(
        ecfg.clone(),
        cond_specs(cfg.conditioning(), ecfg.dim),
        1,
        true,
    )
    .unwrap();
    encoder.load_map(&enc.tensors, "", &enc.name).unwrap();
    let predictor = VisionTransformerPredictor::new(cfg.predictor.clone(), 2).unwrap();
    predictor.load_map(&pred.tensors, "", &pred.name).unwrap();
    Jepa::from_parts(cfg, encoder, predictor).unwrap()
}
