//! End to end through the built binary on a tiny CIFAR-format dataset and a one-block model:
//! pretrain (metrics, checkpoint, plots), resume, refusal to overwrite, Ctrl-C (checkpoint and
//! exit 130), NaN/Inf (last good checkpoint kept, non-zero exit), then embed and probe the
//! checkpoint, and `inspect` / `plot` on the run.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const CONFIG: &str = "preset = \"quickstart\"\n\
[model]\ndepth = 1\npred_depth = 1\n\
[train]\nbatch_size = 8\nlog_every = 1\nrankme_every = 2\ncheckpoint_every = 2\n\
[data]\nworkers = 1\n";

fn jepa() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_jepa"));
    c.env("RAYON_NUM_THREADS", "2");
    c
}

fn run(args: &[&str]) -> Output {
    jepa().args(args).output().expect("run jepa")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// CIFAR-10 binary batches (all five plus the test batch) of 3 colour-coded classes.
fn cifar_dir(root: &Path) -> PathBuf {
    let dir = root.join("cifar");
    std::fs::create_dir_all(&dir).unwrap();
    let mut all = Vec::new();
    for i in 0..48u32 {
        let label = (i % 3) as u8;
        all.push(label);
        for p in 0..3072u32 {
            let base = [40u32, 140, 230][((p / 1024 + u32::from(label)) % 3) as usize];
            all.push(((base + (p * 7 + i * 13) % 25) % 256) as u8);
        }
    }
    for i in 1..=5 {
        std::fs::write(dir.join(format!("data_batch_{i}.bin")), &all).unwrap();
    }
    std::fs::write(dir.join("test_batch.bin"), &all[..3073 * 24]).unwrap();
    dir
}

fn metrics_steps(run: &Path) -> Vec<u64> {
    std::fs::read_to_string(run.join("metrics.jsonl"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|v| v["step"].as_u64())
        .collect()
}

#[test]
fn pretrain_resume_interrupt_nan_then_embed_and_probe() {
    let t = tempfile::tempdir().unwrap();
    let data = cifar_dir(t.path());
    let cfg = t.path().join("tiny.toml");
    std::fs::write(&cfg, CONFIG).unwrap();
    let (d, c) = (data.display().to_string(), cfg.display().to_string());
    let out = t.path().join("run");
    let o = &out.display().to_string();

    let r = run(&[
        "pretrain",
        "--config",
        &c,
        "--data",
        &d,
        "--out",
        o,
        "--steps",
        "4",
        "--no-progress",
    ]);
    assert!(r.status.success(), "{}", stderr(&r));
    assert_eq!(metrics_steps(&out), vec![1, 2, 3, 4]);
    for f in [
        "checkpoint.safetensors",
        "config.toml",
        "metrics.csv",
        "plots/loss.png",
        "plots/lr.png",
        "plots/ema.png",
        "plots/rankme.png",
    ] {
        assert!(out.join(f).is_file(), "{f} missing");
    }

    let again = run(&[
        "pretrain", "--config", &c, "--data", &d, "--out", o, "--steps", "4",
    ]);
    assert_eq!(again.status.code(), Some(2));
    assert!(
        stderr(&again).contains("already holds a run"),
        "{}",
        stderr(&again)
    );

    let r = run(&[
        "pretrain",
        "--out",
        o,
        "--resume",
        "--steps",
        "6",
        "--no-progress",
    ]);
    assert!(r.status.success(), "{}", stderr(&r));
    assert!(stderr(&r).contains("resuming at step 4"), "{}", stderr(&r));
    assert_eq!(metrics_steps(&out), vec![1, 2, 3, 4, 5, 6]);

    // Ctrl-C: wait for the first logged step (the handler is installed by then), interrupt.
    let long = t.path().join("long");
    let child = jepa()
        .args([
            "pretrain",
            "--config",
            &c,
            "--data",
            &d,
            "--out",
            &long.display().to_string(),
        ])
        .args([
            "--steps",
            "100000",
            "--checkpoint-every",
            "0",
            "--no-progress",
        ])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while metrics_steps(&long).is_empty() && start.elapsed() < Duration::from_secs(120) {
        std::thread::sleep(Duration::from_millis(100));
    }
    let sent = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    let r = child.wait_with_output().unwrap();
    let err = stderr(&r);
    assert_eq!(r.status.code(), Some(130), "{err}");
    assert!(
        err.lines().last().unwrap().contains("interrupted at step"),
        "{err}"
    );
    assert!(long.join("checkpoint.safetensors").is_file());

    // NaN: a huge learning rate; the step-1 checkpoint survives, the exit is non-zero.
    let nan = t.path().join("nan");
    let r = run(&[
        "pretrain",
        "--config",
        &c,
        "--data",
        &d,
        "--out",
        &nan.display().to_string(),
        "--steps",
        "20",
        "--lr",
        "1e30",
        "--start-lr",
        "1e30",
        "--checkpoint-every",
        "1",
        "--no-progress",
    ]);
    let err = stderr(&r);
    assert_eq!(r.status.code(), Some(1), "{err}");
    let last = err.lines().last().unwrap();
    assert!(
        last.contains("non-finite") && last.contains("checkpoint.safetensors"),
        "{err}"
    );
    assert!(run(&[
        "inspect",
        &nan.join("checkpoint.safetensors").display().to_string()
    ])
    .status
    .success());

    // The trained checkpoint embeds and probes.
    let ck = out.join("checkpoint.safetensors").display().to_string();
    let r = run(&["inspect", &ck]);
    let text = String::from_utf8_lossy(&r.stdout);
    assert!(
        text.contains("target_encoder.pos_embed") && text.contains("step: 6"),
        "{text}"
    );
    let imgs = t.path().join("imgs");
    std::fs::create_dir(&imgs).unwrap();
    for i in 0..3u32 {
        image::RgbImage::from_fn(20 + i, 17, |x, y| {
            image::Rgb([(x * 9) as u8, (y * 11) as u8, 50])
        })
        .save(imgs.join(format!("{i}.png")))
        .unwrap();
    }
    let emb = t.path().join("emb.npy");
    let r = run(&[
        "embed",
        "--checkpoint",
        &ck,
        "--images",
        &imgs.display().to_string(),
        "--out",
        &emb.display().to_string(),
        "--no-progress",
    ]);
    assert!(r.status.success(), "{}", stderr(&r));
    let (shape, values) = jepa_cli::npy::parse_npy_f32(&std::fs::read(&emb).unwrap()).unwrap();
    assert_eq!(shape, vec![3, 192]);
    assert!(values.iter().all(|v| v.is_finite()));
    let r = run(&[
        "probe",
        "--checkpoint",
        &ck,
        "--train",
        &d,
        "--test",
        &d,
        "--random-init",
        "--no-progress",
    ]);
    let table = String::from_utf8_lossy(&r.stdout);
    assert!(r.status.success(), "{}", stderr(&r));
    assert!(
        table.contains("random-init") && table.contains("kNN"),
        "{table}"
    );
    let r = run(&[
        "probe",
        "--checkpoint",
        &ck,
        "--train",
        &d,
        "--holdout",
        "30",
        "--json",
    ]);
    assert!(r.status.success(), "{}", stderr(&r));
    let line = String::from_utf8_lossy(&r.stdout);
    let report: serde_json::Value = serde_json::from_str(line.trim()).unwrap();
    assert_eq!(report["test_samples"], 30, "{line}");
    assert!(run(&["plot", o]).status.success());
}

#[test]
fn holdout_is_never_pretrained_on_and_levers_reach_the_trainer() {
    let t = tempfile::tempdir().unwrap();
    let data = cifar_dir(t.path());
    let cfg = t.path().join("b.toml");
    let text = format!(
        "{CONFIG}[cjepa]\nvariant = \"predictions-and-context\"\nbeta = 0.1\n\
         var_weight = 25.0\ncov_weight = 1.0\ninv_weight = 25.0\n"
    );
    std::fs::write(&cfg, text.replace("[train]\n", "[train]\nloss = \"mse\"\n")).unwrap();
    let (d, c) = (data.display().to_string(), cfg.display().to_string());
    let out = t.path().join("run");
    let o = &out.display().to_string();
    let args = |holdout: &'static str| {
        vec![
            "pretrain",
            "--config",
            &c,
            "--data",
            &d,
            "--out",
            o,
            "--steps",
            "2",
            "--method",
            "cjepa",
            "--holdout",
            holdout,
            "--matmul-precision",
            "high",
            "--no-progress",
        ]
    };
    // The five training batches hold 5 × 48 = 240 images.
    let r = run(&args("240"));
    assert_eq!(r.status.code(), Some(2), "{}", stderr(&r));
    assert!(stderr(&r).contains("--holdout 240"), "{}", stderr(&r));
    assert!(!out.join("checkpoint.safetensors").exists());

    let r = run(&args("40"));
    assert!(r.status.success(), "{}", stderr(&r));
    assert!(
        stderr(&r).contains("200 images, 40 held out"),
        "{}",
        stderr(&r)
    );
    // CIFAR binaries have no file names: the list names rows, 40 distinct ones.
    let held = std::fs::read_to_string(out.join("holdout.txt")).unwrap();
    let rows: std::collections::BTreeSet<usize> =
        held.lines().map(|l| l.parse().unwrap()).collect();
    assert_eq!(rows.len(), 40, "{held}");
    assert!(rows.iter().all(|&r| r < 240), "{held}");
    let metrics = std::fs::read_to_string(out.join("metrics.jsonl")).unwrap();
    let last: serde_json::Value = serde_json::from_str(metrics.lines().last().unwrap()).unwrap();
    // Variant B logs its VICReg terms; the plain I-JEPA step would leave them empty.
    assert!(last["var"].as_f64().is_some_and(f64::is_finite), "{last}");
    let saved = std::fs::read_to_string(out.join("config.toml")).unwrap();
    assert!(
        saved.contains("holdout = 40")
            && saved.contains("loss = \"mse\"")
            && saved.contains("matmul_precision = \"high\""),
        "{saved}"
    );
}

/// `jepa quickstart --preset NAME` runs a full-size preset with RESULTS.md's protocol: the
/// preset's training configuration with the command's flags carried into it, then both probe
/// rows on the data's own test split.
fn quickstart_full(data: &Path, out: &Path) -> (String, String, bool) {
    let r = run(&[
        "quickstart",
        "--preset",
        "cifar-cjepa-b-hour",
        "--data",
        &data.display().to_string(),
        "--out",
        &out.display().to_string(),
        "--steps",
        "1",
        "--threads",
        "2",
        "--matmul-precision",
        "high",
        "--no-progress",
    ]);
    let so = String::from_utf8_lossy(&r.stdout).into_owned();
    (so, stderr(&r), r.status.success())
}

#[test]
fn quickstart_runs_a_full_size_preset_beside_random_init() {
    let t = tempfile::tempdir().unwrap();
    let out = t.path().join("qs");
    let (so, se, ok) = quickstart_full(&cifar_dir(t.path()), &out);
    assert!(ok, "{se}");
    for needle in [
        "cjepa 1 steps",
        "random-init",
        "probe: 240 training / 24 held-out images",
    ] {
        assert!(so.contains(needle), "{needle} not in\n{so}");
    }
    let cfg = std::fs::read_to_string(out.join("config.toml")).unwrap();
    for line in [
        "preset = \"cifar-cjepa-b-hour\"",
        "matmul_precision = \"high\"",
        "threads = 2",
        "steps = 1\n",
    ] {
        assert!(cfg.contains(line), "{line} not in\n{cfg}");
    }
    assert!(out.join("checkpoint.safetensors").is_file());
}

/// Without a test split the full-size quickstart holds images out of the training data:
/// 10,000 of a large archive, a fifth of a small folder (here 40 of 200).
#[test]
fn quickstart_preset_holds_out_part_of_an_image_folder() {
    let t = tempfile::tempdir().unwrap();
    let data = t.path().join("folder");
    for i in 0..200u32 {
        let class = data.join(["dark", "light"][(i % 2) as usize]);
        std::fs::create_dir_all(&class).unwrap();
        let v = (i % 2 * 160 + i % 50) as u8;
        image::RgbImage::from_fn(32, 32, |x, y| image::Rgb([v, (x * 8) as u8, (y * 8) as u8]))
            .save(class.join(format!("{i}.png")))
            .unwrap();
    }
    let out = t.path().join("qs");
    let (so, se, ok) = quickstart_full(&data, &out);
    assert!(ok, "{se}");
    assert!(
        so.contains("probe: 160 training / 40 held-out images"),
        "{so}"
    );
    let held = std::fs::read_to_string(out.join("holdout.txt")).unwrap();
    assert_eq!(held.lines().count(), 40);
}
