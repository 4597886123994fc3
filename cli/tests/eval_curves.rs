//! Probe accuracy over pretraining time through the built binary: `[eval]` / `--eval-every`
//! make `pretrain` write eval.jsonl (step, train_seconds), `plot` draws probe.png and
//! collapse.png, `plot --compare` draws the runs side by side with baseline levels, and the
//! misuses fail with one line.

mod common;

use std::path::{Path, PathBuf};

use common::{assert_one_line_error, run, stderr};

const CONFIG: &str = "preset = \"quickstart\"\n\
[model]\ndepth = 1\npred_depth = 1\n\
[train]\nbatch_size = 8\nlog_every = 1\nrankme_every = 2\ncheckpoint_every = 0\n\
[data]\nworkers = 1\n\
[eval]\nevery = 2\ntrain_images = 30\ntest_images = 15\n";

const PNG_SIGNATURE: [u8; 8] = [0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a];

/// The five CIFAR-10 training batches (here 5 × 30 images) of 3 classes told apart by which
/// colour channel is bright.
fn cifar_dir(root: &Path) -> PathBuf {
    common::cifar_dir(root, 30, |i, p| {
        let base = if p / 1024 == i % 3 { 200 } else { 50 };
        (base + (p * 5 + i * 11) % 30) as u8
    })
}

fn assert_png(path: &Path) {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert_eq!(bytes[..8], PNG_SIGNATURE, "{}", path.display());
}

fn eval_lines(run_dir: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(run_dir.join("eval.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn eval_curves_plots_and_comparison() {
    let t = tempfile::tempdir().unwrap();
    let data = cifar_dir(t.path());
    let cfg = t.path().join("c.toml");
    std::fs::write(&cfg, CONFIG).unwrap();
    let (d, c) = (data.display().to_string(), cfg.display().to_string());
    let pretrain = |out: &Path, extra: &[&str]| {
        let o = out.display().to_string();
        let mut args = vec!["pretrain", "--config", &c, "--data", &d, "--out", &o];
        args.extend(["--steps", "4", "--no-progress"]);
        args.extend(extra);
        run(&args)
    };

    // Without a hold-out there is nothing to score on: a config error before any training.
    let none = t.path().join("none");
    let r = pretrain(&none, &[]);
    assert_one_line_error(&r, &["eval.every = 2", "data.holdout"]);
    assert_eq!(r.status.code(), Some(2));
    assert!(!none.join("checkpoint.safetensors").exists());

    // Run A probes with the linear probe (config), run B with kNN only and every 2 steps from
    // the flag.
    let (a, b) = (t.path().join("ijepa-a"), t.path().join("ijepa-b"));
    let r = pretrain(&a, &["--holdout", "24"]);
    assert!(r.status.success(), "{}", stderr(&r));
    assert!(
        stderr(&r).contains("30 pretraining / 15 held-out images"),
        "{}",
        stderr(&r)
    );
    let cfg_b = t.path().join("b.toml");
    let text_b = CONFIG.replace("[eval]\nevery = 2\n", "[eval]\nlinear = false\n");
    std::fs::write(&cfg_b, text_b).unwrap();
    let (ob, cb) = (b.display().to_string(), cfg_b.display().to_string());
    let r = run(&[
        "pretrain",
        "--config",
        &cb,
        "--data",
        &d,
        "--out",
        &ob,
        "--steps",
        "4",
        "--holdout",
        "24",
        "--eval-every",
        "2",
        "--no-progress",
    ]);
    assert!(r.status.success(), "{}", stderr(&r));

    for (dir, linear) in [(&a, true), (&b, false)] {
        let lines = eval_lines(dir);
        let steps: Vec<u64> = lines.iter().map(|l| l["step"].as_u64().unwrap()).collect();
        assert_eq!(steps, [2, 4], "{}", dir.display());
        let secs: Vec<f64> = lines
            .iter()
            .map(|l| l["train_seconds"].as_f64().unwrap())
            .collect();
        assert!(0.0 < secs[0] && secs[0] < secs[1], "{secs:?}");
        for l in &lines {
            assert_eq!(
                (l["train_samples"].as_u64(), l["test_samples"].as_u64()),
                (Some(30), Some(15))
            );
            assert!(l["knn_top1"].as_f64().is_some(), "{l}");
            assert_eq!(l["linear_last_top1"].as_f64().is_some(), linear, "{l}");
        }
        assert_png(&dir.join("plots/probe.png"));
        assert_png(&dir.join("plots/collapse.png"));
    }
    // `plot` redraws them on its own.
    std::fs::remove_file(a.join("plots/probe.png")).unwrap();
    let r = run(&["plot", &a.display().to_string()]);
    assert!(r.status.success(), "{}", stderr(&r));
    let listed = String::from_utf8_lossy(&r.stdout);
    assert!(
        listed.contains("probe.png") && listed.contains("collapse.png"),
        "{listed}"
    );
    assert_png(&a.join("plots/probe.png"));

    // Baselines from a real `probe --json --random-init`.
    let probe_json = t.path().join("probe.json");
    let ck = a.join("checkpoint.safetensors").display().to_string();
    let r = run(&[
        "probe",
        "--checkpoint",
        &ck,
        "--train",
        &d,
        "--holdout",
        "24",
        "--max-train",
        "30",
        "--k",
        "5",
        "--random-init",
        "--json",
    ]);
    assert!(r.status.success(), "{}", stderr(&r));
    std::fs::write(&probe_json, &r.stdout).unwrap();

    let cmp = t.path().join("cmp/ab.png");
    let (sa, sb) = (a.display().to_string(), b.display().to_string());
    let (sc, sj) = (cmp.display().to_string(), probe_json.display().to_string());
    let r = run(&[
        "plot",
        "--compare",
        &sa,
        &sb,
        "--out",
        &sc,
        "--baseline",
        "chance linear=33.3",
        "--baseline",
        "chance kNN=33.3",
        "--baseline-json",
        &sj,
    ]);
    assert!(r.status.success(), "{}", stderr(&r));
    assert_png(&cmp);

    // A directory without evaluations, a malformed baseline, --compare without --out.
    let empty = t.path().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let se = empty.display().to_string();
    let r = run(&["plot", "--compare", &sa, &se, "--out", &sc]);
    assert_one_line_error(&r, &["empty", "no eval.jsonl"]);
    let r = run(&["plot", "--compare", &sa, "--out", &sc, "--baseline", "44.9"]);
    assert_one_line_error(&r, &["NAME=VALUE"]);
    let r = run(&["plot", "--compare", &sa, &sb]);
    assert!(
        !r.status.success() && stderr(&r).contains("--out"),
        "{}",
        stderr(&r)
    );
    let r = run(&["plot", &sa, &sb]);
    assert_one_line_error(&r, &["--compare"]);
}
