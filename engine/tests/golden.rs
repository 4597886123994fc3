//! Golden tests: PyTorch-computed cases (see shared/golden/README.md) replayed through the
//! Tensor API and autograd. Every `*.safetensors` in `$JEPA_GOLDEN_DIR` (default: `shared/golden`
//! beside the repository root) whose name starts with a family prefix below is run; shapes and
//! parameters come from the files, so other folders with different shapes work too. A family
//! with no file fails its test rather than passing vacuously.
//!
//! Tolerance per stored tensor: 10× the file's `f32err_<name>` metadata (the error of a plain
//! f32 computation against the f64 golden value) when present, else 1e-5 of the tensor's max
//! magnitude; never below 1e-6 of that magnitude (one f32 rounding of the largest entry).

use jepa_engine::io::SafetensorsFile;
use jepa_engine::{attention_with_lse, Gradients, Tensor};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Once;

fn golden_dir() -> PathBuf {
    match std::env::var_os("JEPA_GOLDEN_DIR") {
        Some(d) => PathBuf::from(d),
        // CARGO_MANIFEST_DIR is engine/, so its parent is the repository root.
        None => PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/golden")),
    }
}

/// The golden files whose name starts with `prefix`, sorted; fails when there is none.
fn cases(prefix: &str) -> Vec<SafetensorsFile> {
    let dir = golden_dir();
    let entries =
        std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("golden dir {}: {e}", dir.display()));
    let mut paths: Vec<PathBuf> = entries
        .map(|e| e.expect("readable dir entry").path())
        .filter(|p| {
            let name = p
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            name.starts_with(prefix) && name.ends_with(".safetensors")
        })
        .collect();
    paths.sort();
    assert!(
        !paths.is_empty(),
        "no `{prefix}*.safetensors` golden case in {}",
        dir.display()
    );
    let files: Vec<SafetensorsFile> = paths
        .iter()
        .map(|p| SafetensorsFile::open(p).expect("valid golden file"))
        .collect();
    print_metadata_keys_once(&files[0]);
    files
}

fn print_metadata_keys_once(f: &SafetensorsFile) {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let mut keys: Vec<&String> = f.metadata().map(|m| m.keys().collect()).unwrap_or_default();
        keys.sort();
        println!("golden metadata keys of {}: {keys:?}", f.path().display());
    });
}

fn meta(f: &SafetensorsFile) -> HashMap<String, String> {
    f.metadata().cloned().unwrap_or_default()
}

fn meta_f32(f: &SafetensorsFile, key: &str) -> Option<f32> {
    meta(f).get(key).map(|v| {
        v.parse().unwrap_or_else(|_| {
            panic!(
                "{}: metadata {key}={v:?} is not a number",
                f.path().display()
            )
        })
    })
}

fn load(f: &SafetensorsFile, name: &str) -> Tensor {
    f.tensor(name).unwrap_or_else(|e| panic!("{e}"))
}

/// Compares `got` with the stored tensor `name` (values only: a stored `[1]` scalar matches a
/// rank-0 result). `err_keys` are the metadata keys that may hold this tensor's f32 error.
fn compare(f: &SafetensorsFile, name: &str, got: &Tensor, err_keys: &[&str]) {
    let want = load(f, name).to_vec_f32().expect("f32 golden tensor");
    let got = got.to_vec_f32().expect("f32 result");
    let ctx = format!("{} `{name}`", f.path().display());
    assert_eq!(got.len(), want.len(), "{ctx}: element count");
    let max = want.iter().fold(0f64, |m, v| m.max(v.abs() as f64));
    let f32err = err_keys
        .iter()
        .find_map(|k| meta_f32(f, &format!("f32err_{k}")));
    let tol = match f32err {
        Some(e) => 10.0 * e as f64,
        None => 1e-5 * max,
    }
    .max(1e-6 * max)
    .max(f64::MIN_POSITIVE);
    let (worst, at) = got
        .iter()
        .zip(&want)
        .enumerate()
        .map(|(i, (&g, &w))| ((g as f64 - w as f64).abs(), i))
        .fold((0.0, 0), |a, b| if b.0 > a.0 { b } else { a });
    assert!(
        worst.is_finite() && worst <= tol,
        "{ctx}: max error {worst:.3e} at {at} (got {}, want {}) > tol {tol:.3e}",
        got[at],
        want[at]
    );
}

/// Runs backward from `out` with the stored `dout` and returns the gradient store.
fn backward_with_dout(f: &SafetensorsFile, out: &Tensor) -> Gradients {
    let mut grads = Gradients::new();
    out.backward_with(&load(f, "dout"), &mut grads)
        .expect("backward");
    grads
}

fn grad<'g>(grads: &'g Gradients, t: &Tensor, what: &str) -> &'g Tensor {
    grads
        .get(t)
        .unwrap_or_else(|| panic!("no gradient for {what}"))
}

#[test]
fn golden_attention() {
    for f in cases("attention_") {
        let [q, k, v] = ["q", "k", "v"].map(|n| load(&f, n).requires_grad());
        // scale from the metadata when stored, else the documented 1/sqrt(D)
        let (out, lse) = attention_with_lse(&q, &k, &v, meta_f32(&f, "scale")).expect("attention");
        compare(&f, "out", &out, &["out"]);
        compare(&f, "lse", &lse, &["lse"]);
        let grads = backward_with_dout(&f, &out);
        for (t, n) in [(&q, "dq"), (&k, "dk"), (&v, "dv")] {
            compare(&f, n, grad(&grads, t, n), &[n]);
        }
    }
}

#[test]
fn golden_layernorm() {
    for f in cases("layernorm_") {
        let name = f
            .path()
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let names = f.names();
        let has = |n: &str| names.iter().any(|m| m == n);
        // eps: metadata first, else the documented value for each file name
        let eps = meta_f32(&f, "eps").unwrap_or(if name.starts_with("layernorm_affine") {
            1e-6
        } else {
            1e-5
        });
        let x = load(&f, "x").requires_grad();
        let w = has("weight").then(|| load(&f, "weight").requires_grad());
        let b = has("bias").then(|| load(&f, "bias").requires_grad());
        let (out, mean, rstd) = x
            .layer_norm_stats(w.as_ref(), b.as_ref(), eps)
            .expect("layer_norm");
        compare(&f, "out", &out, &["out"]);
        for (t, n) in [(&mean, "mean"), (&rstd, "rstd")] {
            if has(n) {
                compare(&f, n, t, &[n]);
            }
        }
        let grads = backward_with_dout(&f, &out);
        compare(&f, "dx", grad(&grads, &x, "x"), &["dx"]);
        for (p, n) in [(&w, "dweight"), (&b, "dbias")] {
            if let Some(p) = p {
                compare(&f, n, grad(&grads, p, n), &[n]);
            }
        }
    }
}

#[test]
fn golden_gelu() {
    for f in cases("gelu") {
        if let Some(form) = meta(&f).get("form") {
            assert_eq!(
                form,
                "erf",
                "{}: only the erf form is implemented",
                f.path().display()
            );
        }
        let x = load(&f, "x").requires_grad();
        let out = x.gelu().expect("gelu");
        compare(&f, "out", &out, &["out"]);
        let grads = backward_with_dout(&f, &out);
        compare(&f, "dx", grad(&grads, &x, "x"), &["dx"]);
    }
}

#[test]
fn golden_gather() {
    for f in cases("gather_") {
        let x = load(&f, "x").requires_grad();
        let out = x.gather_rows(&load(&f, "index")).expect("gather_rows");
        compare(&f, "out", &out, &["out"]);
        let grads = backward_with_dout(&f, &out);
        compare(&f, "dx", grad(&grads, &x, "x"), &["dx"]);
    }
}

#[test]
fn golden_vicreg() {
    for f in cases("vicreg") {
        if let Some(gamma) = meta_f32(&f, "gamma") {
            assert_eq!(
                gamma,
                1.0,
                "{}: the variance hinge is fixed at 1",
                f.path().display()
            );
        }
        let eps = meta_f32(&f, "eps").unwrap_or(1e-4);
        let e = load(&f, "E").requires_grad();
        let (var, cov) = e.vicreg(eps).expect("vicreg");
        compare(&f, "var_loss", &var, &["var"]);
        compare(&f, "cov_loss", &cov, &["cov"]);
        // Each loss's gradient separately (upstream 1), as stored.
        for (loss, n) in [(&var, "dE_var"), (&cov, "dE_cov")] {
            let grads = loss.backward().expect("backward");
            compare(&f, n, grad(&grads, &e, n), &[n]);
        }
    }
}

#[test]
fn golden_smooth_l1() {
    for f in cases("smooth_l1") {
        let beta = meta_f32(&f, "beta").unwrap_or(1.0);
        if let Some(r) = meta(&f).get("reduction") {
            assert_eq!(
                r,
                "mean",
                "{}: only mean reduction is implemented",
                f.path().display()
            );
        }
        let (z, h) = (load(&f, "z").requires_grad(), load(&f, "h").requires_grad());
        let loss = z.smooth_l1_loss(&h, beta).expect("smooth_l1");
        compare(&f, "loss", &loss, &["loss"]);
        let grads = loss.backward().expect("backward");
        compare(&f, "dz", grad(&grads, &z, "z"), &["dz"]);
        // dh = −dz, so it carries dz's error
        compare(&f, "dh", grad(&grads, &h, "h"), &["dh", "dz"]);
    }
}
